"""Activation-function calibration and the noise-to-temperature map.
"""

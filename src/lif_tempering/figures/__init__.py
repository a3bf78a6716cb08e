"""Figures of each stage (seaborn).
"""

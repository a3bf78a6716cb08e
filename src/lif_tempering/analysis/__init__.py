"""Mixing measures and their statistics, phase-resolved diagnostics and the headline table.
"""

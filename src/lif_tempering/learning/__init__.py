"""Data sets, RBM training and evaluation, and the reference class distribution of trained RBMs.
"""

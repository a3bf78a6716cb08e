"""Neuron model and simulation: parameter sets, high-conductance-state theory, the Brian2 model with
exact Poisson background, compiled standalone runs, populations and the single-neuron study.
"""

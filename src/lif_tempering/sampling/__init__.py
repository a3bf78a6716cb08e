"""Boltzmann machines and their LIF networks: exact distributions and Gibbs sampling, translation to
LIF parameters, synapses (renewing and Tsodyks-Markram) and their event delivery, the sampling network and
the small-machine validation study.
"""

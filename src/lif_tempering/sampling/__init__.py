"""Boltzmann machines and their LIF networks: exact distributions and Gibbs sampling, translation to
LIF parameters, synapses (renewing and Tsodyks-Markram), the sampling network and the small-machine
validation study.
"""

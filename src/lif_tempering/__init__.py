"""Simulated tempering in spiking neural networks of LIF neurons.

The science of the study as small functions, grouped by stage:

- :mod:`lif_tempering.neuron`: parameter sets, high-conductance-state theory, the Brian2
  model with exact Poisson background, compiled standalone runs, the single-neuron study;
- :mod:`lif_tempering.calibration`: activation functions and the noise-to-temperature map;
- :mod:`lif_tempering.sampling`: Boltzmann machines, their translation to LIF networks,
  synapses (renewing, Tsodyks-Markram), the sampling network and its validation;
- :mod:`lif_tempering.learning`: data sets, RBM training and the model's reference
  class distribution;
- :mod:`lif_tempering.tempering`: schedules and free and tempered sampling runs;
- :mod:`lif_tempering.analysis`: mixing measures, their statistics, phase diagnostics,
  the headline table;
- :mod:`lif_tempering.figures`: the figures of each stage;

and, shared by all, :mod:`lif_tempering.config` (configuration and its schema),
:mod:`lif_tempering.io` (self-describing NetCDF) and :mod:`lif_tempering.runtime`
(job logs, thread caps).
"""

__version__ = "0.1.0"

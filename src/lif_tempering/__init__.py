"""Simulated tempering in spiking neural networks of LIF neurons.

The science of the study as small functions: neuron parameters and HCS theory
(:mod:`.parameters`, :mod:`.theory`), the Brian2 model and simulations
(:mod:`.model`, :mod:`.standalone`, :mod:`.population`), activation-function
calibration and the noise-to-temperature map (:mod:`.calibration`,
:mod:`.temperature`), configuration (:mod:`.config`), NetCDF I/O (:mod:`.io`)
and figures (:mod:`.figures`).
"""

__version__ = "0.1.0"

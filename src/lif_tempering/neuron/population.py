"""Simulations of populations of independent LIF neurons (no synapses).

Used by the membrane study (free membrane and membrane with reset) and by the
activation-function calibration (spike counts over a range of E_l).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from brian2 import StateMonitor, ms, mV

from lif_tempering.neuron.model import NO_SPIKING_THRESHOLD_MV, make_lif_group, per_neuron_values
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.standalone import StandaloneProject


@dataclass(frozen=True)
class PopulationResult:
    """Outcome of one population run.

    ``spike_count`` per neuron, counted from ``burn_in_ms`` to the end;
    ``p_on`` = spike_count * tau_ref / counting time; ``v_mV`` (recorded
    neuron, time) and ``t_ms`` the recorded membrane potential after burn-in
    (empty when nothing was recorded).
    """

    spike_count: np.ndarray
    p_on: np.ndarray
    v_mV: np.ndarray
    t_ms: np.ndarray


class PopulationSimulator:
    """A compiled population of ``n_neurons`` that can be rerun with new values.

    ``n_recorded`` neurons (the first ones) have their membrane potential
    recorded every ``record_every_ms``.
    """

    def __init__(self, n_neurons: int, duration_ms: float, dt_ms: float, cache_dir: str | os.PathLike,
                 n_recorded: int = 0, record_every_ms: float | None = None, report_period_s: float = 10.0,
                 threads: int = 1):
        if n_recorded and not record_every_ms:
            raise ValueError("record_every_ms is needed when neurons are recorded")
        self.n_neurons = n_neurons
        self.duration_ms = duration_ms
        self.dt_ms = dt_ms
        structure = {
            "kind": "population",
            "n_neurons": n_neurons,
            "n_recorded": n_recorded,
            "record_every_ms": record_every_ms,
        }

        def build(dt):
            group = make_lif_group(n_neurons, name="population")
            objects = [group]
            handles = {"group": group}
            if n_recorded:
                monitor = StateMonitor(group, "v", record=range(n_recorded), dt=record_every_ms * ms,
                                       name="membrane_monitor")
                objects.append(monitor)
                handles["monitor"] = monitor
            return objects, handles

        self.project = StandaloneProject(structure, build, duration_ms, dt_ms, cache_dir, report_period_s, threads)

    def run(self, p: NeuronParameters, seed: int, burn_in_ms: float, E_l_mV=None, rate_exc_hz=None,
            rate_inh_hz=None, spiking=True) -> PopulationResult:
        """Simulate with per-neuron values (arrays or scalars) and return counts and traces.

        ``spiking`` (bool or per-neuron bool array) False disables the threshold:
        that neuron's membrane is free.
        """
        if not 0 <= burn_in_ms < self.duration_ms:
            raise ValueError(f"burn_in_ms must lie in [0, {self.duration_ms}), got {burn_in_ms}")
        spiking = np.broadcast_to(np.asarray(spiking, bool), (self.n_neurons,))
        V_th = np.where(spiking, p.V_th_mV, NO_SPIKING_THRESHOLD_MV)
        values = per_neuron_values(p, self.n_neurons, E_l_mV, rate_exc_hz, rate_inh_hz, V_th,
                                   count_start_ms=burn_in_ms, dt_ms=self.dt_ms)
        group = self.project.handles["group"]
        self.project.run({getattr(group, name): value for name, value in values.items()}, seed)
        counts = np.asarray(group.spike_count[:], dtype=np.int64)
        p_on = counts * p.tau_ref_ms / (self.duration_ms - burn_in_ms)
        if "monitor" in self.project.handles:
            monitor = self.project.handles["monitor"]
            t_ms = np.asarray(monitor.t / ms)
            keep = t_ms >= burn_in_ms
            v_mV = np.asarray(monitor.v / mV)[:, keep]
            t_ms = t_ms[keep]
        else:
            v_mV, t_ms = np.empty((0, 0)), np.empty(0)
        return PopulationResult(counts, p_on, v_mV, t_ms)

    def close(self) -> None:
        """Remove the run's results folder."""
        self.project.close()

"""Simulations of populations of independent LIF neurons (no synapses).

Used by the membrane study (free membrane and membrane with reset) and by the
activation-function calibration (spike counts over a range of E_l).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lif_tempering.neuron.model import NO_SPIKING_THRESHOLD_MV, VARIABLE_UNITS, make_lif_group, per_neuron_si_values
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.standalone import CompiledBinary, StandaloneProject, project_directory

#: Brian2 name of the population's neuron group (its variables are the binary's inputs).
GROUP = "population"


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
        self.n_recorded = n_recorded
        structure = {
            "kind": "population",
            "n_neurons": n_neurons,
            "n_recorded": n_recorded,
            "record_every_ms": record_every_ms,
        }
        directory = project_directory(structure, duration_ms, dt_ms, cache_dir, threads)
        self.binary = CompiledBinary.load(directory) or self._build(structure, record_every_ms, cache_dir,
                                                                    report_period_s, threads)

    def _build(self, structure: dict, record_every_ms, cache_dir, report_period_s: float,
               threads: int) -> CompiledBinary:
        """Generate and compile the population with Brian2; the binary with its inputs and outputs."""
        from brian2 import StateMonitor, ms

        def build(dt):
            group = make_lif_group(self.n_neurons, name=GROUP)
            objects = [group]
            handles = {"group": group}
            if self.n_recorded:
                monitor = StateMonitor(group, "v", record=range(self.n_recorded), dt=record_every_ms * ms,
                                       name="membrane_monitor")
                objects.append(monitor)
                handles["monitor"] = monitor
            return objects, handles

        project = StandaloneProject(structure, build, self.duration_ms, self.dt_ms, cache_dir, report_period_s,
                                    threads)
        group = project.handles["group"]
        outputs = {"spike_count": group.variables["spike_count"]}
        if "monitor" in project.handles:
            monitor = project.handles["monitor"]
            outputs.update(t_s=monitor.variables["t"], v_V=monitor.variables["v"])
        binary = CompiledBinary.from_project(project, [getattr(group, name) for name in VARIABLE_UNITS], outputs)
        project.close()
        return binary

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
        values = per_neuron_si_values(p, self.n_neurons, E_l_mV, rate_exc_hz, rate_inh_hz, V_th,
                                      count_start_ms=burn_in_ms, dt_ms=self.dt_ms)
        outputs = self.binary.run({f"{GROUP}.{name}": value for name, value in values.items()}, seed)
        counts = outputs["spike_count"].astype(np.int64)
        p_on = counts * p.tau_ref_ms / (self.duration_ms - burn_in_ms)
        if self.n_recorded:
            t_ms = outputs["t_s"] / 1e-3
            keep = t_ms >= burn_in_ms
            v_mV = (outputs["v_V"].T / 1e-3)[:, keep]
            t_ms = t_ms[keep]
        else:
            v_mV, t_ms = np.empty((0, 0)), np.empty(0)
        return PopulationResult(counts, p_on, v_mV, t_ms)

    @property
    def directory(self):
        """The project's cache folder."""
        return self.binary.directory

    @property
    def last_run_time_s(self) -> float:
        """Seconds the compiled binary spent in its network loop in the last run."""
        return self.binary.last_run_time_s

    def close(self) -> None:
        """Remove the run's results folder."""
        self.binary.close()

"""LIF sampling networks in Brian2 cpp_standalone, and the spikes-to-states readout.

A network is compiled once per *structure* (number of neurons, which ordered pairs
(pre, post) are connected, synapse type, duration, dt) with
:class:`~lif_tempering.neuron.standalone.StandaloneProject`; every run passes its
*values* (leak potentials, synaptic weights and receptors, background rates,
seed) to the compiled binary. Networks of the same structure therefore share
one binary, e.g. every 5-unit BM with full connectivity.

Synapse types (docs/translation.md), each synapse with a weight ``weight`` and a
receptor flag ``receptor_exc`` (1: adds to ``g_exc``, 0: adds to ``g_inh``):

- ``renewing`` (default): Tsodyks-Markram short-term plasticity (:mod:`lif_tempering.neuron.stp`,
  :class:`~lif_tempering.neuron.stp.STPParameters` ``U``, ``tau_rec_ms``, ``tau_fac_ms``),
  by default ``U = 1``, ``tau_rec`` = ``tau_syn``, ``tau_fac = 0``: a spike train
  renews the conductance to ``weight`` instead of piling up PSPs. With parameters
  shared by all synapses, the resource ``x`` and utilisation ``u`` of a synapse
  depend only on the spike train of its presynaptic neuron, so the presynaptic
  neuron keeps them (``resource``, ``utilization``, with the time
  ``t_previous_spike`` of its last spike; parameters ``stp_U``, ``tau_rec``,
  ``tau_fac``, set per run): on each spike they are updated as NEST's
  ``tsodyks2_synapse`` updates its own (:data:`~lif_tempering.neuron.model.TSODYKS_MARKRAM_ON_SPIKE`),
  and every synapse of the neuron adds ``weight * release`` (``release = u x``)
  to its target conductance. Two ``exp`` per spike instead of per synaptic
  event; the same numbers as per-synapse states.
- ``exponential``: each spike adds ``weight``.

:func:`make_synapses` states these models as Brian2 synaptic pathways (``on_pre``), for
any source and target; a network delivers the same increments in the same order with
its event store (:mod:`lif_tempering.sampling.event_delivery`: one C++ function per step,
an event one read-modify-write of one conductance), tested against the pathway on the
conductance traces (to one unit in the last place) and the spike trains (exactly).

Like the background's, every synaptic increment is scaled by the target's
``syn_weight_scale`` (:mod:`lif_tempering.neuron.model`): the conductance held over each step after a spike
is the step average of ``weight * exp(-s / tau_syn)``, so a PSP's conductance integral
is ``weight * tau_syn``, the one the translation's weight factor assumes
(:func:`~lif_tempering.neuron.theory.rectangle_psp_integral`), not 0.5 % more.

Readout (docs/translation.md): neuron k is in state z_k = 1 while refractory,
i.e. for t in [t_s, t_s + tau_ref) after each spike t_s. The spikes are recorded
with a SpikeMonitor and turned into states on a sample grid by a cumulative sum
of +1 at each spike and -1 at spike + tau_ref, all in integer time steps.

Background rates are per-neuron constants, or (``scheduled_rates=True``) follow
excitatory and inhibitory rate schedules over the whole run, one value per time
step, shared by all neurons and passed per run (see :mod:`lif_tempering.neuron.model`): the same
binary then serves every schedule of that duration, e.g. the noise oscillations
of simulated tempering (:mod:`lif_tempering.tempering.runs`).

Many independent small networks run in one NeuronGroup with block-diagonal
connectivity (:func:`block_diagonal_connectivity`); :class:`BoltzmannSampler`
does this for a list of same-sized Boltzmann machines (or RBMs, visible units
first) and returns samples (time, network, unit).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from scipy import sparse

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.io import canonical_json, write_dataset
from lif_tempering.neuron.model import (
    VARIABLE_UNITS,
    budget_growth,
    make_lif_group,
    make_rate_schedules,
    per_neuron_si_values,
)
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.standalone import CompiledBinary, StandaloneProject, project_directory
from lif_tempering.neuron.stp import RENEWING, STPParameters
from lif_tempering.sampling.event_delivery import event_store_values, make_event_store
from lif_tempering.sampling.translation import PLAIN, TranslationCorrections, bm_to_lif, stp_weight_factor

if TYPE_CHECKING:  # Brian2 is imported only to build a network (runs of a built binary do without it)
    from brian2 import Synapses

SYNAPSE_TYPES = ("renewing", "exponential")
#: A unit started in state 1 (:meth:`BoltzmannSampler.sample`) starts this far above threshold (mV): it spikes in
#: the first time step and is refractory, z = 1, for the first tau_ref.
START_ABOVE_THRESHOLD_MV = 2.0

#: Brian2 names of a network's neuron group and synapses (the binary's command-line variables start with them).
GROUP, SYNAPSES = "network", "synapses"

#: Brian2 synapse model and on_pre code per synapse type (renewing: ``release`` of the presynaptic neuron).
SYNAPSE_CODE = {
    "renewing": {
        "model": """
            weight : siemens
            receptor_exc : 1
        """,
        "on_pre": """
            g_exc_post += syn_weight_scale_post * weight * release_pre * receptor_exc
            g_inh_post += syn_weight_scale_post * weight * release_pre * (1 - receptor_exc)
        """,
    },
    "exponential": {
        "model": """
            weight : siemens
            receptor_exc : 1
        """,
        "on_pre": """
            g_exc_post += syn_weight_scale_post * weight * receptor_exc
            g_inh_post += syn_weight_scale_post * weight * (1 - receptor_exc)
        """,
    },
}

def make_synapses(source, target, synapse: str = "renewing", name: str = "synapses") -> Synapses:
    """Unconnected Brian2 synapses of type ``synapse`` from ``source`` to ``target`` (LIF group).

    The synapse models as Brian2 pathways, for any source and target: the reference that a
    network's event store (:mod:`lif_tempering.sampling.event_delivery`) reproduces (the tests
    compare their conductance traces and spikes).

    Renewing (Tsodyks-Markram) synapses read the source's ``release``: the source must run
    :data:`~lif_tempering.neuron.model.TSODYKS_MARKRAM_ON_SPIKE` on each spike before the
    synapses (an LIF group of :func:`~lif_tempering.neuron.model.make_lif_group` does,
    with its per-neuron ``stp_U``, ``tau_rec``, ``tau_fac``).
    """
    from brian2 import Synapses

    if synapse not in SYNAPSE_CODE:
        raise ValueError(f"unknown synapse type {synapse!r}; allowed: {', '.join(SYNAPSE_TYPES)}")
    code = SYNAPSE_CODE[synapse]
    return Synapses(source, target, model=code["model"], on_pre=code["on_pre"], name=name)


# --------------------------------------------------------------------------- connectivity

def full_connectivity(n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (pre, post) with pre != post."""
    pre, post = np.nonzero(~np.eye(n_units, dtype=bool))
    return pre.astype(np.int64), post.astype(np.int64)


def bipartite_connectivity(n_visible: int, n_hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """Visible <-> hidden pairs in both directions; visible units are 0..n_visible-1."""
    mask = np.zeros((n_visible + n_hidden,) * 2, dtype=bool)
    mask[:n_visible, n_visible:] = True
    mask[n_visible:, :n_visible] = True
    pre, post = np.nonzero(mask)
    return pre.astype(np.int64), post.astype(np.int64)


def connectivity_from_weights(W) -> tuple[np.ndarray, np.ndarray]:
    """Ordered pairs (pre, post), pre != post, where ``W[pre, post]`` is non-zero."""
    mask = np.asarray(W) != 0
    np.fill_diagonal(mask, False)
    pre, post = np.nonzero(mask)
    return pre.astype(np.int64), post.astype(np.int64)


def block_diagonal_connectivity(pre, post, block_size: int, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_blocks`` independent copies of a (pre, post) pattern over ``block_size`` units."""
    pre = np.asarray(pre, dtype=np.int64)
    post = np.asarray(post, dtype=np.int64)
    if pre.size and max(pre.max(), post.max()) >= block_size:
        raise ValueError("a connection index exceeds the block size")
    offsets = np.repeat(np.arange(n_blocks, dtype=np.int64) * block_size, pre.size)
    return np.tile(pre, n_blocks) + offsets, np.tile(post, n_blocks) + offsets


# --------------------------------------------------------------------------- readout

def spikes_to_states(spike_steps, spike_units, n_units: int, ref_steps: int, sample_steps) -> np.ndarray:
    """Binary states (time, unit) int8 on a grid, all times in integer simulation steps.

    Unit k has z = 1 at grid step s if it spiked at some step s_0 with
    ``s_0 <= s < s_0 + ref_steps`` (refractory), else 0; ``sample_steps`` must be
    increasing. Spikes before the grid still count; the spikes need not be sorted.
    Each spike sets its grid points to 1 directly (a window spans about
    ``ref_steps`` / grid spacing points, so a few passes over the spikes; overlapping
    windows set a point twice, harmlessly).
    """
    spike_steps = np.asarray(spike_steps, dtype=np.int64)
    spike_units = np.asarray(spike_units, dtype=np.int64)
    sample_steps = np.asarray(sample_steps, dtype=np.int64)
    if spike_steps.shape != spike_units.shape:
        raise ValueError("spike_steps and spike_units differ in shape")
    if np.any(np.diff(sample_steps) <= 0):
        raise ValueError("sample_steps must be strictly increasing")
    if spike_units.size and (spike_units.min() < 0 or spike_units.max() >= n_units):
        raise ValueError("a spike's unit index lies outside 0..n_units-1")
    # grid points first .. stop - 1 lie in a spike's window
    first = np.searchsorted(sample_steps, spike_steps, side="left")
    stop = np.searchsorted(sample_steps, spike_steps + int(ref_steps), side="left")
    on_grid = stop > first
    flat_index = first[on_grid] * n_units + spike_units[on_grid]
    remaining = stop[on_grid] - first[on_grid]
    states = np.zeros((sample_steps.size, n_units), dtype=np.int8)
    flat_states = states.reshape(-1)
    while flat_index.size:
        flat_states[flat_index] = 1
        more = remaining > 1
        flat_index, remaining = flat_index[more] + n_units, remaining[more] - 1
    return states


def _weights_on_pairs(w_uS, index, n_neurons: int) -> tuple[np.ndarray, int, bool]:
    """Weights of a [pre, post] matrix (dense, or scipy sparse) at the flat pair indices ``pre * n + post``,
    with the matrix's number of non-zero weights and whether any is negative."""
    if sparse.issparse(w_uS):
        csr = sparse.csr_array(w_uS, dtype=np.float64, copy=True)  # sorted and pruned in place below
        csr.sum_duplicates()  # canonical: rows in order, columns sorted within a row, so the flat indices ascend
        csr.eliminate_zeros()
        if csr.nnz == 0:
            return np.zeros(index.shape), 0, False
        rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
        keys = rows * n_neurons + csr.indices
        at = np.minimum(np.searchsorted(keys, index), keys.size - 1)
        return np.where(keys[at] == index, csr.data[at], 0.0), int(csr.nnz), bool(np.any(csr.data < 0))
    w = np.broadcast_to(np.asarray(w_uS, dtype=np.float64), (n_neurons, n_neurons))
    return w.ravel()[index], int(np.count_nonzero(w)), bool(np.any(w < 0))


def synapse_values(pre, post, n_neurons: int, w_exc_uS, w_inh_uS) -> tuple[np.ndarray, np.ndarray]:
    """Per-synapse (weight in uS, receptor_exc flag) from [pre, post] weight matrices (dense or scipy sparse).

    Synapse k connects ``pre[k]`` to ``post[k]`` (distinct pairs). Raises if a non-zero weight falls
    on an unconnected pair or a pair has both an excitatory and an inhibitory
    weight; a zero weight gets the excitatory flag.
    """
    index = np.asarray(pre, dtype=np.int64) * n_neurons + np.asarray(post, dtype=np.int64)
    exc, n_exc, negative_exc = _weights_on_pairs(w_exc_uS, index, n_neurons)
    inh, n_inh, negative_inh = _weights_on_pairs(w_inh_uS, index, n_neurons)
    if negative_exc or negative_inh:
        raise ValueError("weights must be non-negative (the receptor gives the sign)")
    # The pairs are distinct, so every non-zero weight lies on a connected pair exactly when
    # the connected pairs hold as many non-zero weights as the matrices.
    if np.count_nonzero(exc) + np.count_nonzero(inh) != n_exc + n_inh:
        raise ValueError("a non-zero weight falls on a pair that the network does not connect")
    if np.any((exc > 0) & (inh > 0)):
        raise ValueError("a pair has both an excitatory and an inhibitory weight")
    return exc + inh, (inh == 0).astype(np.float64)


def _steps(value_ms: float, dt_ms: float, what: str) -> int:
    steps = int(round(value_ms / dt_ms))
    if abs(steps * dt_ms - value_ms) > 1e-9 * max(1.0, abs(value_ms)):
        raise ValueError(f"{what} = {value_ms} ms is not a multiple of dt = {dt_ms} ms")
    return steps


# --------------------------------------------------------------------------- network

@dataclass(frozen=True)
class SamplingResult:
    """Outcome of one network run.

    ``samples`` int8 (time, unit): z on the sample grid ``times_ms``;
    ``spike_times_ms`` and ``spike_units`` every recorded spike; ``params`` the
    run's scalar settings (seed, synapse type, durations, rates).
    """

    samples: np.ndarray
    times_ms: np.ndarray
    spike_times_ms: np.ndarray
    spike_units: np.ndarray
    params: dict = field(default_factory=dict)


class LIFSamplingNetwork:
    """A compiled LIF network with fixed connectivity, rerun with new values.

    ``pre``, ``post``: connected ordered pairs (synapse k goes from neuron
    ``pre[k]`` to neuron ``post[k]``). ``synapse``: ``renewing`` or ``exponential``;
    ``stp``: the Tsodyks-Markram parameters of the renewing synapse (default
    :data:`~lif_tempering.neuron.stp.RENEWING`; values of each run, not of the compiled
    structure, so one binary serves every setting). The sample grid (applied in
    numpy after the run, so not part of the compiled structure) is
    ``burn_in_ms + k * sample_dt_ms`` below ``duration_ms``; both must be
    multiples of ``dt_ms``. ``scheduled_rates``: the background rates follow
    per-run schedules (one value per time step, :meth:`run`) instead of
    per-neuron constants.

    A network whose binary is in the cache with a manifest that fits the current
    code runs it without Brian2 (:class:`~lif_tempering.neuron.standalone.CompiledBinary`);
    otherwise creating it builds the project with Brian2, which resets Brian2's
    device (one project per process at a time, as for every :class:`StandaloneProject`).
    """

    def __init__(self, n_neurons: int, pre, post, duration_ms: float, cache_dir: str | os.PathLike,
                 synapse: str = "renewing", dt_ms: float = 0.1, sample_dt_ms: float = 1.0,
                 burn_in_ms: float = 0.0, stp: STPParameters | None = None, report_period_s: float = 10.0,
                 scheduled_rates: bool = False, threads: int = 1):
        pre = np.asarray(pre, dtype=np.int64).ravel()
        post = np.asarray(post, dtype=np.int64).ravel()
        if pre.shape != post.shape:
            raise ValueError("pre and post differ in length")
        if pre.size and (min(pre.min(), post.min()) < 0 or max(pre.max(), post.max()) >= n_neurons):
            raise ValueError("a connection index lies outside 0..n_neurons-1")
        if np.any(pre == post):
            raise ValueError("self-connections are not allowed (W has a zero diagonal)")
        order = np.lexsort((post, pre))  # the event store holds each neuron's synapses together
        pre, post = pre[order], post[order]
        if np.any((pre[1:] == pre[:-1]) & (post[1:] == post[:-1])):  # sorted: duplicates are neighbours
            raise ValueError("duplicate connections")
        if synapse not in SYNAPSE_TYPES:
            raise ValueError(f"unknown synapse type {synapse!r}; allowed: {', '.join(SYNAPSE_TYPES)}")
        if not 0 <= burn_in_ms < duration_ms:
            raise ValueError(f"burn_in_ms must lie in [0, {duration_ms}), got {burn_in_ms}")
        if stp is not None and stp != RENEWING and synapse != "renewing":
            raise ValueError(f"short-term plasticity parameters need renewing synapses, got {synapse!r}")
        self.n_neurons = int(n_neurons)
        self.pre, self.post = pre, post
        self.synapse = synapse
        self.duration_ms = float(duration_ms)
        self.dt_ms = float(dt_ms)
        self.sample_dt_ms = float(sample_dt_ms)
        self.burn_in_ms = float(burn_in_ms)
        self.stp = RENEWING if stp is None else stp
        self.scheduled_rates = bool(scheduled_rates)
        self._sample_steps = _steps(sample_dt_ms, dt_ms, "sample_dt_ms")
        self._burn_in_steps = _steps(burn_in_ms, dt_ms, "burn_in_ms")
        self._duration_steps = _steps(duration_ms, dt_ms, "duration_ms")
        if self._sample_steps < 1:
            raise ValueError("sample_dt_ms must be at least dt_ms")
        pairs = np.stack([pre, post]).astype("<i8").tobytes()
        structure = {
            "kind": "lif_sampling_network",
            "n_neurons": self.n_neurons,
            "n_synapses": int(pre.size),
            "connectivity_sha256": hashlib.sha256(pairs).hexdigest(),
            "synapse": synapse if pre.size else None,
        }
        if self.scheduled_rates:  # added only when set, so existing binaries keep their hash
            structure["scheduled_rates"] = True

        self._value_names = [name for name in VARIABLE_UNITS
                             if not (self.scheduled_rates and name in ("growth_exc", "growth_inh"))]
        directory = project_directory(structure, duration_ms, dt_ms, cache_dir, threads)
        self.binary = CompiledBinary.load(directory) or self._build(structure, cache_dir, report_period_s, threads)

    def _build(self, structure: dict, cache_dir, report_period_s: float, threads: int) -> CompiledBinary:
        """Generate and compile the network with Brian2; the binary with its inputs and outputs."""
        from brian2 import SpikeMonitor

        def build(dt):
            schedules = make_rate_schedules(self._duration_steps, dt, name=GROUP) if self.scheduled_rates else None
            group = make_lif_group(self.n_neurons, name=GROUP, rate_schedules=schedules)
            monitor = SpikeMonitor(group, record=True, name="spike_monitor")
            objects = [group, monitor]
            handles = {"group": group, "monitor": monitor, "inputs": [getattr(group, n) for n in self._value_names]}
            if schedules is not None:
                handles["inputs"] += list(schedules)
            if self.pre.size:
                store = make_event_store(group, self.pre, self.post, self.synapse, name=SYNAPSES)
                objects.append(store)
                handles["inputs"] += [store.synapse_target, store.synapse_weight]
            return objects, handles

        project = StandaloneProject(structure, build, self.duration_ms, self.dt_ms, cache_dir, report_period_s, threads)
        monitor = project.handles["monitor"]
        binary = CompiledBinary.from_project(project, project.handles["inputs"],
                                             {"spike_times_s": monitor.variables["t"],
                                              "spike_units": monitor.variables["i"]})
        project.close()
        return binary

    @property
    def sample_times_ms(self) -> np.ndarray:
        """The sample grid (ms)."""
        return self._grid_steps() * self.dt_ms

    def _grid_steps(self) -> np.ndarray:
        return np.arange(self._burn_in_steps, self._duration_steps, self._sample_steps, dtype=np.int64)

    @property
    def last_run_time_s(self) -> float:
        """Seconds the compiled binary spent in its network loop in the last run."""
        return self.binary.last_run_time_s

    @property
    def n_steps(self) -> int:
        """Number of simulation time steps (the length of a rate schedule)."""
        return self._duration_steps

    def run(self, p: NeuronParameters, E_l_mV, w_exc_uS, w_inh_uS, seed: int, rate_exc_hz=None,
            rate_inh_hz=None, rate_exc_schedule_hz=None, rate_inh_schedule_hz=None,
            v_start_mV=None) -> SamplingResult:
        """Simulate with leak potentials (n,), [pre, post] weight matrices (uS) and rates (Hz).

        Constant rates (scalars or per neuron) default to those of ``p``. A network
        with ``scheduled_rates`` needs ``rate_exc_schedule_hz`` and
        ``rate_inh_schedule_hz`` instead: (:attr:`n_steps`,) arrays, entry ``k``
        the rate in the step starting at ``k * dt_ms``. ``v_start_mV`` (n,): the
        membrane potentials at ``t = 0`` (default: the leak potentials). Returns the
        states on the sample grid and the spikes.
        """
        n = self.n_neurons
        values = per_neuron_si_values(p, n, E_l_mV=E_l_mV, rate_exc_hz=rate_exc_hz, rate_inh_hz=rate_inh_hz,
                                      dt_ms=self.dt_ms, stp=self.stp)
        if v_start_mV is not None:
            values["v"] = np.broadcast_to(np.asarray(v_start_mV, dtype=np.float64), (n,)) * 1e-3
        if self.scheduled_rates:
            schedules = self._schedule_values(rate_exc_hz, rate_inh_hz, rate_exc_schedule_hz, rate_inh_schedule_hz)
        elif rate_exc_schedule_hz is not None or rate_inh_schedule_hz is not None:
            raise ValueError("rate schedules need a network built with scheduled_rates=True")
        inputs = {f"{GROUP}.{name}": values[name] for name in self._value_names}
        if self.scheduled_rates:
            for receptor, rates in zip(("exc", "inh"), schedules):
                inputs[f"{GROUP}_growth_{receptor}_schedule.values"] = budget_growth(rates, self.dt_ms)
        weight_uS, receptor_exc = synapse_values(self.pre, self.post, n, w_exc_uS, w_inh_uS)
        if self.pre.size:
            store = event_store_values(self.pre, self.post, n, weight_uS * 1e-6, receptor_exc, values["syn_weight_scale"])
            inputs.update({f"{SYNAPSES}.{name}": value for name, value in store.items()})
        outputs = self.binary.run(inputs, seed)
        spike_times = outputs["spike_times_s"] / 1e-3
        spike_units = outputs["spike_units"].astype(np.int64)
        spike_steps = np.rint(spike_times / self.dt_ms).astype(np.int64)
        ref_steps = _steps(p.tau_ref_ms, self.dt_ms, "tau_ref_ms")
        samples = spikes_to_states(spike_steps, spike_units, n, ref_steps, self._grid_steps())
        params = {
            "seed": int(seed), "synapse": self.synapse,
            "duration_ms": self.duration_ms, "dt_ms": self.dt_ms, "sample_dt_ms": self.sample_dt_ms,
            "burn_in_ms": self.burn_in_ms, "n_neurons": n, "n_synapses": int(self.pre.size),
        }
        if self.synapse == "renewing":
            params.update(self.stp.attrs(p.tau_syn_ms))
        if self.scheduled_rates:
            params.update(scheduled_rates=True,
                          rate_exc_hz_range=[float(schedules[0].min()), float(schedules[0].max())],
                          rate_inh_hz_range=[float(schedules[1].min()), float(schedules[1].max())])
        else:
            rates = [np.broadcast_to(np.asarray(default if rate is None else rate, float), (n,))
                     for rate, default in ((rate_exc_hz, p.rate_exc_hz), (rate_inh_hz, p.rate_inh_hz))]
            params.update(rate_exc_hz=_scalar_or_list(rates[0]), rate_inh_hz=_scalar_or_list(rates[1]))
        return SamplingResult(samples, self.sample_times_ms, spike_times, spike_units, params)

    def _schedule_values(self, rate_exc_hz, rate_inh_hz, rate_exc_schedule_hz, rate_inh_schedule_hz):
        if rate_exc_hz is not None or rate_inh_hz is not None:
            raise ValueError("a network with scheduled_rates takes rate schedules, not constant rates")
        if rate_exc_schedule_hz is None or rate_inh_schedule_hz is None:
            raise ValueError("a network with scheduled_rates needs rate_exc_schedule_hz and rate_inh_schedule_hz")
        schedules = tuple(np.asarray(r, dtype=np.float64) for r in (rate_exc_schedule_hz, rate_inh_schedule_hz))
        for rates in schedules:
            if rates.shape != (self.n_steps,):
                raise ValueError(f"a rate schedule needs one value per time step, shape ({self.n_steps},), "
                                 f"got {rates.shape}")
            if not np.all(np.isfinite(rates)) or np.any(rates < 0):
                raise ValueError("rates must be finite and non-negative")
        return schedules

    def close(self) -> None:
        """Remove the run's results folder (the compiled binary stays in the cache)."""
        self.binary.close()


def _scalar_or_list(values):
    values = np.asarray(values, dtype=np.float64)
    return float(values[0]) if np.all(values == values[0]) else values.tolist()


# --------------------------------------------------------------------------- Boltzmann machines

class BoltzmannSampler:
    """LIF sampling of ``n_networks`` same-sized Boltzmann machines in one NeuronGroup.

    ``pattern``: ``full`` (every ordered pair of a machine's units connected: one
    binary serves any BM of that size) or ``bipartite`` (RBMs, the first
    ``n_visible`` units visible, the rest hidden). Networks are independent
    (block-diagonal connectivity, own background noise per neuron). Other
    arguments as for :class:`LIFSamplingNetwork`; translated weights are multiplied by
    :func:`~lif_tempering.sampling.translation.stp_weight_factor` of ``stp`` (1 for the renewing synapse).
    """

    def __init__(self, n_units: int, duration_ms: float, cache_dir: str | os.PathLike, n_networks: int = 1,
                 pattern: str = "full", n_visible: int | None = None, synapse: str = "renewing",
                 dt_ms: float = 0.1, sample_dt_ms: float = 1.0, burn_in_ms: float = 0.0,
                 stp: STPParameters | None = None, report_period_s: float = 10.0, scheduled_rates: bool = False,
                 threads: int = 1):
        if pattern == "full":
            pre, post = full_connectivity(n_units)
        elif pattern == "bipartite":
            if n_visible is None or not 0 < n_visible < n_units:
                raise ValueError("pattern 'bipartite' needs 0 < n_visible < n_units")
            pre, post = bipartite_connectivity(n_visible, n_units - n_visible)
        else:
            raise ValueError(f"unknown pattern {pattern!r}; allowed: full, bipartite")
        self.n_units, self.n_networks, self.pattern, self.n_visible = n_units, n_networks, pattern, n_visible
        pre, post = block_diagonal_connectivity(pre, post, n_units, n_networks)
        self.network = LIFSamplingNetwork(n_units * n_networks, pre, post, duration_ms, cache_dir, synapse,
                                          dt_ms, sample_dt_ms, burn_in_ms, stp, report_period_s,
                                          scheduled_rates, threads)

    def sample(self, bms, p: NeuronParameters, calibration: ActivationPoint, seed: int,
               coupling_scale: float = 1.0, rate_exc_schedule_hz=None, rate_inh_schedule_hz=None,
               corrections: TranslationCorrections | list[TranslationCorrections] = PLAIN,
               initial_states=None) -> SamplingResult:
        """Sample each machine of ``bms`` (a sequence of ``(W, b)``, or one ``(W, b)`` for all).

        Returns a :class:`SamplingResult` whose ``samples`` are int8 (time,
        network, unit). Leak potentials and weights are translated with
        ``calibration`` and ``corrections`` (:class:`~lif_tempering.sampling.translation.TranslationCorrections`,
        one for all machines or one per machine; default the plain translation);
        the run's rates are the calibration's, or, for a sampler
        built with ``scheduled_rates``, the given schedules (one value per time
        step, see :meth:`LIFSamplingNetwork.run`): the same network under other noise.
        ``initial_states`` (n_networks, n_units) 0/1: the state each network starts in (units in state 1
        start :data:`START_ABOVE_THRESHOLD_MV` above threshold and spike in the first step, the others at
        their leak potential, the default for all), e.g. the last state of a previous run, which the
        run then continues (persistent chains; membrane and synaptic variables start afresh).
        ``params["n_clipped_units"]``: saturated units whose bias :func:`bm_to_lif` clipped.
        """
        bms = _as_bm_list(bms, self.n_networks)
        if isinstance(corrections, TranslationCorrections):
            corrections = [corrections] * self.n_networks
        if len(corrections) != self.n_networks:
            raise ValueError(f"expected one correction per network ({self.n_networks}), got {len(corrections)}")
        translated = []
        for (W, b), correction in zip(bms, corrections):
            if np.shape(b) != (self.n_units,):
                raise ValueError(f"each machine needs {self.n_units} units, got b of shape {np.shape(b)}")
            translated.append(bm_to_lif(W, b, p, calibration, coupling_scale,
                                        n_visible=self.n_visible if self.pattern == "bipartite" else None,
                                        corrections=correction))
        E_l = np.concatenate([v.E_l_mV for v in translated])
        stp_factor = stp_weight_factor(self.network.stp, p) if self.network.synapse == "renewing" else 1.0
        # one block per copy, sparse: the dense matrix of 20 copies of a 64 + 200 network is 220 MB
        w_exc = sparse.block_diag([v.w_exc_uS for v in translated], format="csr") * stp_factor
        w_inh = sparse.block_diag([v.w_inh_uS for v in translated], format="csr") * stp_factor
        v_start = None
        if initial_states is not None:
            on = np.asarray(initial_states).reshape(-1)
            if on.shape != E_l.shape or not np.all((on == 0) | (on == 1)):
                raise ValueError(f"initial_states must be 0/1 of shape ({self.n_networks}, {self.n_units})")
            v_start = np.where(on == 1, p.V_th_mV + START_ABOVE_THRESHOLD_MV, E_l)
        if self.network.scheduled_rates:
            result = self.network.run(p, E_l, w_exc, w_inh, seed, rate_exc_schedule_hz=rate_exc_schedule_hz,
                                      rate_inh_schedule_hz=rate_inh_schedule_hz, v_start_mV=v_start)
        else:
            result = self.network.run(p, E_l, w_exc, w_inh, seed, calibration.rate_exc_hz, calibration.rate_inh_hz,
                                      rate_exc_schedule_hz, rate_inh_schedule_hz, v_start_mV=v_start)
        samples = result.samples.reshape(result.samples.shape[0], self.n_networks, self.n_units)
        params = dict(result.params, n_units=self.n_units, n_networks=self.n_networks, pattern=self.pattern,
                      n_visible=self.n_visible, coupling_scale=float(coupling_scale),
                      u0_mV=float(calibration.u0_mV), alpha_mV=float(calibration.alpha_mV),
                      n_clipped_units=sum(v.n_clipped_units for v in translated), stp_weight_factor=stp_factor)
        if not all(c.is_plain for c in corrections):  # only then, so that plain runs keep their attributes
            params["corrected_translation"] = True
        return SamplingResult(samples, result.times_ms, result.spike_times_ms, result.spike_units, params)

    @property
    def last_run_time_s(self) -> float:
        """Seconds the compiled binary spent in its network loop in the last run."""
        return self.network.last_run_time_s

    def close(self) -> None:
        self.network.close()


def _ndim(value) -> int:
    """Number of dimensions of an array-like; -1 for a ragged one such as a (W, b) pair."""
    try:
        return np.ndim(value)
    except ValueError:
        return -1


def _as_bm_list(bms, n_networks: int) -> list:
    """``bms`` as one (W, b) per network: a single (W, b) is repeated (two machines are not one)."""
    if len(bms) == 2 and _ndim(bms[1]) == 1 and _ndim(bms[0]) == 2:
        bms = [bms] * n_networks
    bms = list(bms)
    if len(bms) != n_networks:
        raise ValueError(f"expected {n_networks} machines, got {len(bms)}")
    return bms


# --------------------------------------------------------------------------- datasets

def samples_dataset(samples, times_ms, attrs: dict | None = None) -> xr.Dataset:
    """Samples as a Dataset: int8 ``z`` (time, unit) or (time, network, unit).

    Coordinate ``time_ms`` (units ms) along ``time``. ``attrs`` (the run's
    parameters) become attributes: numbers and strings as they are, other values
    as JSON text.
    """
    samples = np.asarray(samples)
    dims = {2: ("time", "unit"), 3: ("time", "network", "unit")}.get(samples.ndim)
    if dims is None:
        raise ValueError(f"samples must be 2-D (time, unit) or 3-D (time, network, unit), got {samples.ndim}-D")
    times_ms = np.asarray(times_ms, dtype=np.float64)
    if times_ms.shape != (samples.shape[0],):
        raise ValueError("times_ms must have one entry per sample")
    ds = xr.Dataset(
        {"z": (dims, samples.astype(np.int8),
               {"units": "1", "long_name": "neuron state (1 while refractory after a spike)"})},
        coords={"time_ms": ("time", times_ms, {"units": "ms", "long_name": "sample time"}),
                "unit": ("unit", np.arange(samples.shape[-1]), {"units": "1", "long_name": "unit index within a network"})},
    )
    for key, value in (attrs or {}).items():
        if isinstance(value, (bool, np.bool_)):
            ds.attrs[key] = int(value)
        elif isinstance(value, (int, float, str, np.integer, np.floating)):
            ds.attrs[key] = value
        else:
            ds.attrs[key] = canonical_json(value)
    return ds


def write_samples(path: str | os.PathLike, result: SamplingResult, params: dict | None = None,
                  config: dict | None = None, extra_attrs: dict | None = None):
    """Write ``result``'s samples with :func:`lif_tempering.io.write_dataset`.

    The run's ``params`` (merged over ``result.params``) become attributes and the
    provenance ``params_json``; returns the written path.
    """
    merged = dict(result.params, **(params or {}))
    ds = samples_dataset(result.samples, result.times_ms, dict(merged, **(extra_attrs or {})))
    return write_dataset(ds, path, params=merged, config=config)

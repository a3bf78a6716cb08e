"""Simulated tempering by background noise: schedules, tempered LIF runs of RBMs, Gibbs baselines.

A *temperature schedule* gives the target temperature ``T(t)`` of the network at
every instant and the phase of the oscillation whose ``T = 1`` instants (phase 0)
are the ground-state readout instants (docs/tempering.md):

- ``free``: ``T = 1`` throughout; it carries the frequency of the tempered run it
  is compared with, so that both are read at the same instants;
- ``tempered``, shape ``sinusoid``: ``T(t) = 1 + (T_max - 1) (1 - cos 2 pi f t) / 2``
  between 1 and ``T_max`` (:func:`lif_tempering.tempering.schedules.sinusoidal_temperature`);
- ``tempered``, shape ``dwell``: ``T = 1`` for a fraction ``dwell_fraction`` of each
  period around phase 0 and one raised-cosine excursion to ``T_max`` in the rest
  (:func:`lif_tempering.tempering.schedules.dwell_temperature`).

Other shapes (a square wave, a recorded oscillation) fit the same
:class:`TemperatureSchedule`: any function of time in ms giving ``T >= 1``.

A :class:`TemperatureMap` (one noise scheme's temperature map of the workflow,
``results/calibration/temperature_map_{scheme}.nc``) turns ``T(t)`` into excitatory and
inhibitory background rates (:func:`rate_schedule_hz`): ``compensated`` (u0
kept at its ``T = 1`` value, the default) or ``balanced``. The LIF network is
translated once, at ``T = 1`` (leak potentials and weights from the ``T = 1``
activation function); only the noise changes with time: the same network,
hotter noise. Higher rates also raise ``g_tot`` and so shrink the effective
couplings slightly less than the biases (``T_weight`` < ``T_bias`` in the map).

Every run, LIF or Gibbs, is returned as the same :func:`run_dataset`: int8
states ``z`` (time, unit; visible units first) with per-sample ``time_ms``,
``temperature`` and ``phase`` and the run's identity and wall time as
attributes. Gibbs baselines count one block-Gibbs sweep as ``tau_ref`` of network
time and follow ``beta(t) = 1 / T(t)`` (:func:`sample_gibbs`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from lif_tempering.calibration.temperature import SCHEMES, ActivationPoint
from lif_tempering.io import finite_values
from lif_tempering.learning.rbm import sample_rbm_gibbs
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.stp import RENEWING, STPParameters
from lif_tempering.sampling.boltzmann import rbm_as_bm
from lif_tempering.sampling.translation import PLAIN, TranslationCorrections, per_layer
from lif_tempering.tempering.schedules import (
    constant_temperature,
    dwell_temperature,
    interpolate_rates,
    schedule_phase,
    sinusoidal_temperature,
)

SCHEDULE_NAMES = ("free", "tempered")
#: Shapes of the tempered schedule (config ``tempering.schedule.shape``).
SHAPES = ("sinusoid", "dwell")


# --------------------------------------------------------------------------- schedules

@dataclass(frozen=True)
class TemperatureSchedule:
    """Target temperature over time and the phase of the readout oscillation.

    ``temperature_of_t`` maps times in ms (array) to ``T >= 1`` (dimensionless, same
    shape). ``frequency_hz`` and ``phase0`` (rad) define the readout oscillation:
    ground-state instants are its phase-0 instants. ``params`` is a JSON-able
    description stored with every run (shape, t_max, frequency_hz, phase0).
    """

    name: str
    temperature_of_t: Callable[[np.ndarray], np.ndarray]
    frequency_hz: float
    phase0: float = 0.0
    params: dict = field(default_factory=dict)

    def temperature(self, t_ms) -> np.ndarray:
        """``T`` at the times ``t_ms`` (ms); float array of the same shape."""
        return np.asarray(self.temperature_of_t(np.asarray(t_ms, dtype=np.float64)), dtype=np.float64)

    def phase(self, t_ms) -> np.ndarray:
        """Phase of the readout oscillation at ``t_ms`` (ms), rad in [0, 2 pi)."""
        return schedule_phase(t_ms, self.frequency_hz, self.phase0)


def sinusoidal_schedule(t_max: float, frequency_hz: float, phase0: float = 0.0) -> TemperatureSchedule:
    """The ``tempered`` schedule: ``T`` oscillates between 1 (phase 0) and ``t_max`` (phase pi) at ``frequency_hz``."""
    if t_max < 1.0:
        raise ValueError(f"t_max must be >= 1, got {t_max}")
    if frequency_hz <= 0:
        raise ValueError(f"frequency_hz must be > 0, got {frequency_hz}")
    return TemperatureSchedule(
        "tempered", lambda t_ms: sinusoidal_temperature(t_ms, t_max, frequency_hz, phase0), float(frequency_hz),
        float(phase0), {"shape": "sinusoidal", "t_max": float(t_max), "frequency_hz": float(frequency_hz),
                        "phase0": float(phase0)})


def dwell_schedule(t_max: float, frequency_hz: float, dwell_fraction: float, phase0: float = 0.0
                   ) -> TemperatureSchedule:
    """The ``tempered`` schedule of shape ``dwell``: ``T = 1`` for ``dwell_fraction`` of each period, then to ``t_max``."""
    if t_max < 1.0:
        raise ValueError(f"t_max must be >= 1, got {t_max}")
    if frequency_hz <= 0:
        raise ValueError(f"frequency_hz must be > 0, got {frequency_hz}")
    if not 0.0 <= dwell_fraction < 1.0:
        raise ValueError(f"dwell_fraction must be in [0, 1), got {dwell_fraction}")
    return TemperatureSchedule(
        "tempered", lambda t_ms: dwell_temperature(t_ms, t_max, frequency_hz, dwell_fraction, phase0),
        float(frequency_hz), float(phase0),
        {"shape": "dwell", "t_max": float(t_max), "frequency_hz": float(frequency_hz), "phase0": float(phase0),
         "dwell_fraction": float(dwell_fraction)})


def constant_schedule(frequency_hz: float, phase0: float = 0.0) -> TemperatureSchedule:
    """The ``free`` schedule: ``T = 1`` throughout, read out at the phases of a ``frequency_hz`` oscillation."""
    if frequency_hz <= 0:
        raise ValueError(f"frequency_hz must be > 0, got {frequency_hz}")
    return TemperatureSchedule(
        "free", lambda t_ms: constant_temperature(t_ms, 1.0), float(frequency_hz), float(phase0),
        {"shape": "constant", "t_max": 1.0, "frequency_hz": float(frequency_hz), "phase0": float(phase0)})


def make_schedule(schedule: str, t_max: float, frequency_hz: float, phase0: float = 0.0, shape: str = "sinusoid",
                  dwell_fraction: float = 0.0) -> TemperatureSchedule:
    """``free`` (:func:`constant_schedule`) or ``tempered`` of ``shape`` sinusoid or dwell, by name."""
    if schedule == "free":
        return constant_schedule(frequency_hz, phase0)
    if schedule != "tempered":
        raise ValueError(f"unknown schedule {schedule!r}; allowed: {', '.join(SCHEDULE_NAMES)}")
    if shape == "sinusoid":
        return sinusoidal_schedule(t_max, frequency_hz, phase0)
    if shape == "dwell":
        return dwell_schedule(t_max, frequency_hz, dwell_fraction, phase0)
    raise ValueError(f"unknown schedule shape {shape!r}; allowed: {', '.join(SHAPES)}")


# --------------------------------------------------------------------------- temperature map

@dataclass(frozen=True)
class TemperatureMap:
    """One noise scheme of the temperature map: rates (Hz) and activation functions per target ``T``.

    Arrays of shape (k,), ``temperature`` strictly increasing and starting at 1;
    ``u0_mV``, ``alpha_mV`` the simulated activation function at those rates;
    ``T_bias``, ``T_weight`` the realised temperatures of biases and couplings.
    """

    scheme: str
    temperature: np.ndarray
    rate_exc_hz: np.ndarray
    rate_inh_hz: np.ndarray
    u0_mV: np.ndarray
    alpha_mV: np.ndarray
    T_bias: np.ndarray
    T_weight: np.ndarray

    def __post_init__(self):
        if self.temperature.ndim != 1 or self.temperature.size < 2 or np.any(np.diff(self.temperature) <= 0):
            raise ValueError("map temperatures must be 1-D, strictly increasing, with at least two entries")
        if not np.isclose(self.temperature[0], 1.0):
            raise ValueError(f"the map must start at T = 1, got {self.temperature[0]}")

    @property
    def reference(self) -> ActivationPoint:
        """The ``T = 1`` calibration: rates and activation function the network is translated with."""
        return ActivationPoint(float(self.rate_exc_hz[0]), float(self.rate_inh_hz[0]), float(self.u0_mV[0]),
                               float(self.alpha_mV[0]))

    def rates(self, temperature) -> tuple[np.ndarray, np.ndarray]:
        """(excitatory, inhibitory) rates in Hz realising ``temperature`` (PCHIP, no extrapolation)."""
        return interpolate_rates(temperature, self.temperature, self.rate_exc_hz, self.rate_inh_hz)


def temperature_map(ds: xr.Dataset, scheme: str = "compensated") -> TemperatureMap:
    """The ``scheme`` row of a temperature-map dataset (dims scheme x temperature; one scheme per workflow file).

    Non-finite rates or activation parameters are refused, naming the file, the variable
    and the temperature (:func:`lif_tempering.io.finite_values`).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")
    if scheme not in ds["scheme"].values:
        raise ValueError(f"the temperature map holds scheme(s) {', '.join(map(str, ds['scheme'].values))}, "
                         f"not {scheme!r}")
    row = ds.sel(scheme=scheme)
    values = {name: finite_values(row, name) for name in ("rate_exc_hz", "rate_inh_hz", "u0_mV", "alpha_mV")}
    values.update({name: np.asarray(row[name].values, dtype=np.float64) for name in ("T_bias", "T_weight")})
    return TemperatureMap(scheme, np.asarray(ds["temperature"].values, dtype=np.float64), **values)


def rate_schedule_hz(schedule: TemperatureSchedule, tmap: TemperatureMap, n_steps: int,
                     dt_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Background rates (Hz) per simulation step: (excitatory, inhibitory), each (n_steps,).

    Entry ``k`` is the map's rate at ``T`` in the middle of step ``k``,
    ``t = (k + 1/2) dt_ms`` (midpoint rule: the expected count per step then
    matches the integral of the continuous rate to second order in ``dt``).
    """
    t_mid_ms = (np.arange(int(n_steps)) + 0.5) * dt_ms
    return tmap.rates(schedule.temperature(t_mid_ms))


# --------------------------------------------------------------------------- runs

def run_dataset(z, time_ms, schedule: TemperatureSchedule, n_visible: int, attrs: dict) -> xr.Dataset:
    """One sampling run: int8 states ``z`` (time, unit) with per-sample time, temperature and phase.

    Units ``0 .. n_visible - 1`` are visible, the rest hidden. ``attrs`` (the run's
    identity: sampler, seed, durations, wall_time_s, ...) are stored with the
    schedule's description (``schedule``, ``t_max``, ``frequency_hz``, ``phase0``).
    """
    z = np.asarray(z, dtype=np.int8)
    time_ms = np.asarray(time_ms, dtype=np.float64)
    if z.ndim != 2 or time_ms.shape != (z.shape[0],):
        raise ValueError("z must be (time, unit) with one time per sample")
    return xr.Dataset(
        {"z": (("time", "unit"), z, {"units": "1", "long_name": "unit state (visible units first)"}),
         "temperature": ("time", schedule.temperature(time_ms),
                         {"units": "1", "long_name": "target temperature T of the schedule at the sample time"}),
         "phase": ("time", schedule.phase(time_ms),
                   {"units": "rad", "long_name": "phase of the readout oscillation (0: T = 1 instant)"})},
        coords={"time_ms": ("time", time_ms, {"units": "ms", "long_name": "sample time"}),
                "unit": ("unit", np.arange(z.shape[1]), {"units": "1", "long_name": "unit index"})},
        attrs={"schedule": schedule.name, **{k: v for k, v in schedule.params.items() if k != "shape"},
               "schedule_shape": schedule.params.get("shape", schedule.name), "n_visible": int(n_visible),
               **attrs},
    )


def rbm_arrays(rbm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W, b_v, b_h)`` as float arrays from a tuple or a dict with those keys
    (:func:`lif_tempering.learning.rbm.train_rbm`)."""
    if isinstance(rbm, dict):
        rbm = (rbm["W"], rbm["b_v"], rbm["b_h"])
    W, b_v, b_h = (np.asarray(x, dtype=np.float64) for x in rbm)
    if W.shape != (b_v.size, b_h.size):
        raise ValueError(f"W must have shape ({b_v.size}, {b_h.size}), got {W.shape}")
    return W, b_v, b_h


class LIFTemperingSampler:
    """LIF sampling of an RBM (``n_visible`` x ``n_hidden``) under any temperature schedule.

    Compiles one cpp_standalone binary with scheduled background rates for the
    given duration; every :meth:`sample` passes an RBM, a schedule and a seed.
    The network is translated at ``T = 1`` with ``tmap.reference`` and
    ``coupling_scale`` (docs/translation.md); the background follows
    :func:`rate_schedule_hz`. Samples are read every ``sample_dt_ms`` from
    ``burn_in_ms`` on. Each distinct rate schedule leaves two float64 files of
    ``duration_ms / dt_ms`` values in the project's ``static_arrays`` folder
    (Brian2 keeps them; seeds of one schedule share them). ``stp``: Tsodyks-Markram
    parameters of the synapses (default the renewing synapse, sampler ``lif``; any
    other setting is the sampler ``lif_stp``); the binary does not depend on them.
    """

    def __init__(self, n_visible: int, n_hidden: int, duration_ms: float, cache_dir: str | os.PathLike,
                 p: NeuronParameters, tmap: TemperatureMap, synapse: str = "renewing", dt_ms: float = 0.1,
                 sample_dt_ms: float = 1.0, burn_in_ms: float = 0.0, coupling_scale: float = 1.0,
                 report_period_s: float = 60.0, stp: STPParameters | None = None, threads: int = 1):
        self.n_visible, self.n_hidden = int(n_visible), int(n_hidden)
        self.p, self.tmap, self.coupling_scale, self.dt_ms = p, tmap, float(coupling_scale), float(dt_ms)
        self.stp = RENEWING if stp is None else stp
        self.name = "lif" if self.stp == RENEWING else "lif_stp"

        from lif_tempering.sampling.network import BoltzmannSampler  # Brian2 only for LIF jobs: the others start ~1 s faster

        self.sampler = BoltzmannSampler(n_visible + n_hidden, duration_ms, cache_dir, pattern="bipartite",
                                        n_visible=n_visible, synapse=synapse, dt_ms=dt_ms, sample_dt_ms=sample_dt_ms,
                                        burn_in_ms=burn_in_ms, stp=self.stp, report_period_s=report_period_s,
                                        scheduled_rates=True, threads=threads)

    def sample(self, rbm, schedule: TemperatureSchedule, seed: int, attrs: dict | None = None,
               corrections: TranslationCorrections = PLAIN) -> xr.Dataset:
        """Run the network for ``rbm`` (``(W, b_v, b_h)`` or a dict with those keys) under ``schedule``.

        Returns :func:`run_dataset` with ``sampler`` ``lif`` or ``lif_stp``; ``wall_time_s`` is the
        time of the simulation run and readout (not compilation). ``attrs`` are
        added to the dataset's attributes (e.g. the training seed). ``corrections``: the
        translation's corrections per unit (:class:`~lif_tempering.sampling.translation.TranslationCorrections`,
        scales constant within each layer; default the plain translation); other than plain, their
        values per layer (visible, hidden) are the attributes ``translation_bias_scale``,
        ``translation_bias_shift`` (mean over the layer's units), ``translation_bias_shift_sd``,
        ``translation_coupling_scale``, ``translation_coupling_offset``.
        """
        W, b_v, b_h = rbm_arrays(rbm)
        if W.shape != (self.n_visible, self.n_hidden):
            raise ValueError(f"the sampler was built for {self.n_visible} x {self.n_hidden}, got W {W.shape}")
        network = self.sampler.network
        rate_exc, rate_inh = rate_schedule_hz(schedule, self.tmap, network.n_steps, self.dt_ms)
        start = time.perf_counter()
        layers = (self.n_visible, self.n_hidden)
        corrected = {} if corrections.is_plain else {
            f"translation_{name}": values for name, values in per_layer(corrections, layers).items()}
        result = self.sampler.sample(rbm_as_bm(W, b_v, b_h), self.p, self.tmap.reference, seed, self.coupling_scale,
                                     rate_exc_schedule_hz=rate_exc, rate_inh_schedule_hz=rate_inh,
                                     corrections=corrections)
        wall_time_s = time.perf_counter() - start
        params = result.params
        run_attrs = {
            "sampler": self.name, "seed": int(seed), "wall_time_s": float(wall_time_s),
            "duration_ms": params["duration_ms"], "burn_in_ms": params["burn_in_ms"],
            "sample_dt_ms": params["sample_dt_ms"], "dt_ms": params["dt_ms"], "synapse": params["synapse"],
            "coupling_scale": self.coupling_scale, "noise_scheme": self.tmap.scheme,
            "u0_mV": params["u0_mV"], "alpha_mV": params["alpha_mV"], "n_clipped_units": params["n_clipped_units"],
            "rate_exc_hz_min": float(rate_exc.min()), "rate_exc_hz_max": float(rate_exc.max()),
            "rate_inh_hz_min": float(rate_inh.min()), "rate_inh_hz_max": float(rate_inh.max()),
            **({key: params[key] for key in (*self.stp.attrs(self.p.tau_syn_ms), "stp_weight_factor")}
               if params["synapse"] == "renewing" else {}),
            **corrected,
            **(attrs or {}),
        }
        return run_dataset(result.samples[:, 0, :], result.times_ms, schedule, self.n_visible, run_attrs)

    def close(self) -> None:
        """Remove the last run's results folder (the binary stays in the cache)."""
        self.sampler.close()


def sample_gibbs(rbm, schedule: TemperatureSchedule, duration_ms: float, seed: int, sweep_ms: float,
                 burn_in_ms: float = 0.0, attrs: dict | None = None) -> xr.Dataset:
    """Block-Gibbs baseline with the same budget: one sweep per ``sweep_ms`` (``tau_ref``) of network time.

    Sweep ``k`` (``h ~ p(h | v)``, then ``v ~ p(v | h)``) runs at
    ``beta = 1 / T(t_k)``, ``t_k = k * sweep_ms``, and its state is the sample at
    ``t_k``; samples before ``burn_in_ms`` are dropped. One chain from a uniformly
    random state. Returns :func:`run_dataset` with ``sampler = "gibbs"``;
    ``wall_time_s`` is the time of the sweeps.
    """
    W, b_v, b_h = rbm_arrays(rbm)
    n_sweeps = int(round(duration_ms / sweep_ms))
    if n_sweeps < 1 or abs(n_sweeps * sweep_ms - duration_ms) > 1e-9 * duration_ms:
        raise ValueError(f"duration_ms = {duration_ms} must be a positive multiple of sweep_ms = {sweep_ms}")
    time_ms = np.arange(n_sweeps) * float(sweep_ms)
    beta = 1.0 / schedule.temperature(time_ms)
    start = time.perf_counter()
    v, h = sample_rbm_gibbs(W, b_v, b_h, n_sweeps, 1, seed, beta=beta)
    wall_time_s = time.perf_counter() - start
    keep = time_ms >= burn_in_ms
    z = np.concatenate([v[keep, 0], h[keep, 0]], axis=1)
    run_attrs = {"sampler": "gibbs", "seed": int(seed), "wall_time_s": float(wall_time_s),
                 "duration_ms": float(duration_ms), "burn_in_ms": float(burn_in_ms),
                 "sample_dt_ms": float(sweep_ms), **(attrs or {})}
    return run_dataset(z, time_ms[keep], schedule, W.shape[0], run_attrs)

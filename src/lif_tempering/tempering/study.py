"""The tempering study's sampling jobs: runs of trained RBMs under free and tempered schedules.

Each function is one unit of work of the workflow (docs/tempering.md):
:func:`lif_run` and :func:`gibbs_run` make one sampling run of one trained RBM
(:func:`lif_tempering.learning.study.train_rbm_dataset`) under one schedule and seed,
a :func:`lif_tempering.tempering.runs.run_dataset`. Their mixing analysis is
:mod:`lif_tempering.analysis.study`.

Schedules are named by *labels* (:func:`schedule_label`): ``free``,
``tempered_f{frequency}_T{t_max}`` (sinusoid) or
``tempered_dwell{dwell_fraction}_f{frequency}_T{t_max}``. A free run (``T = 1``
throughout) does not depend on the oscillation, so one free run serves every
condition: it is read at the condition's frequency in the condition's windows
(:func:`readout_half_width`, the readout delay), exactly as the tempered runs of
the condition.

Seeds. A run's ``seed`` attribute is its index among the sampling runs of one
trained RBM (0, 1, ...; free and tempered runs of the same index form a pair);
``rng_seed`` is the seed the sampler was actually given.
"""

from __future__ import annotations

import os

import xarray as xr

from lif_tempering.learning.study import rbm_parameters
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.stp import STPParameters
from lif_tempering.sampling.network_calibration import network_corrections
from lif_tempering.tempering.runs import LIFTemperingSampler, TemperatureMap, TemperatureSchedule, sample_gibbs
from lif_tempering.tempering.schedules import dwell_half_width, ground_state_half_width

# --------------------------------------------------------------------------- schedule labels

def _shape_prefix(shape: str, dwell_fraction: float) -> str:
    if shape == "sinusoid":
        return ""
    if shape == "dwell":
        return f"dwell{float(dwell_fraction):.4g}_"
    raise ValueError(f"unknown schedule shape {shape!r}; allowed: sinusoid, dwell")


def schedule_label(schedule: str, frequency_hz: float | None = None, t_max: float | None = None,
                   shape: str = "sinusoid", dwell_fraction: float = 0.0) -> str:
    """``free``, ``tempered_f{frequency_hz}_T{t_max}`` or ``tempered_dwell{d}_f..._T...`` for file names.

    Numbers with 4 significant digits; the sinusoid's labels carry no shape.
    """
    if schedule == "free":
        return "free"
    if schedule == "tempered":
        return f"tempered_{_shape_prefix(shape, dwell_fraction)}f{float(frequency_hz):.4g}_T{float(t_max):.4g}"
    raise ValueError(f"unknown schedule {schedule!r}; allowed: free, tempered")


def condition_label(frequency_hz: float, t_max: float, shape: str = "sinusoid", dwell_fraction: float = 0.0) -> str:
    """``f{frequency_hz}_T{t_max}`` or ``dwell{d}_f..._T...``: a readout condition for file names."""
    return f"{_shape_prefix(shape, dwell_fraction)}f{float(frequency_hz):.4g}_T{float(t_max):.4g}"


def readout_half_width(t_max: float, tolerance: float, shape: str = "sinusoid", dwell_fraction: float = 0.0) -> float:
    """Phase half-width (rad) of the windows where the tempered schedule of ``shape`` has ``T <= 1 + tolerance``."""
    half_width = ground_state_half_width(t_max, tolerance)
    if shape == "sinusoid":
        return half_width
    if shape == "dwell":
        return dwell_half_width(half_width, dwell_fraction)
    raise ValueError(f"unknown schedule shape {shape!r}; allowed: sinusoid, dwell")


def run_shape(run: xr.Dataset) -> tuple[str, float]:
    """``(shape, dwell_fraction)`` of a tempered run (``sinusoid``, 0 for runs recorded as sinusoidal)."""
    if run.attrs.get("schedule_shape") == "dwell":
        return "dwell", float(run.attrs["dwell_fraction"])
    return "sinusoid", 0.0


# --------------------------------------------------------------------------- sampling runs

def _run_attrs(rbm: xr.Dataset, training_seed: int, seed: int, rng_seed: int) -> dict:
    return {"dataset": rbm.attrs["dataset"], "training_seed": int(training_seed), "seed": int(seed),
            "rng_seed": int(rng_seed)}


def lif_run(rbm: xr.Dataset, tmap: TemperatureMap, p: NeuronParameters, schedule: TemperatureSchedule,
            settings: dict, dt_ms: float, training_seed: int, seed: int, rng_seed: int,
            cache_dir: str | os.PathLike, stp: STPParameters | None = None, threads: int = 1,
            network: str = "translated") -> xr.Dataset:
    """One LIF run of a trained RBM under ``schedule`` (:class:`~lif_tempering.tempering.runs.LIFTemperingSampler`).

    ``rbm``: the trained RBM's file (the plain translation) or a network file of it
    (``network``: ``calibrated`` or ``in_the_loop``; its machine, translated with its
    corrections, :func:`~lif_tempering.sampling.network_calibration.network_corrections`), recorded as the
    attribute ``network``.
    ``settings``: duration_ms, burn_in_ms, sample_dt_ms, coupling_scale (the
    ``tempering`` config); ``tmap`` the noise scheme's temperature map; ``p`` the
    neuron parameters; ``stp``: the synapses' short-term plasticity (``None``: renewing,
    sampler ``lif``; else sampler ``lif_stp``). Runs of equal duration and RBM size
    share one binary in ``cache_dir``; ``threads`` does not change the result.
    """
    W, b_v, b_h = rbm_parameters(rbm)
    sampler = LIFTemperingSampler(W.shape[0], W.shape[1], settings["duration_ms"], cache_dir, p, tmap,
                                  dt_ms=dt_ms, sample_dt_ms=settings["sample_dt_ms"],
                                  burn_in_ms=settings["burn_in_ms"], coupling_scale=settings["coupling_scale"],
                                  report_period_s=30.0, stp=stp, threads=threads)
    try:
        return sampler.sample((W, b_v, b_h), schedule, rng_seed,
                              attrs={**_run_attrs(rbm, training_seed, seed, rng_seed), "network": network},
                              corrections=network_corrections(rbm))
    finally:
        sampler.close()


def gibbs_run(rbm: xr.Dataset, schedule: TemperatureSchedule, settings: dict, sweep_ms: float,
              training_seed: int, seed: int, rng_seed: int) -> xr.Dataset:
    """One block-Gibbs run of a trained RBM, one sweep per ``sweep_ms`` (``tau_ref``), ``beta(t) = 1 / T(t)``."""
    return sample_gibbs(rbm_parameters(rbm), schedule, settings["duration_ms"], rng_seed, sweep_ms,
                        settings["burn_in_ms"], attrs=_run_attrs(rbm, training_seed, seed, rng_seed))



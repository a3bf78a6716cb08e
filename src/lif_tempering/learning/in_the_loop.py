"""Training in the loop: fine-tuning a machine's parameters with its own LIF network's samples (docs/in_the_loop.md).

The network is ``translate(theta; corrections)``: the calibrated translation
(:mod:`lif_tempering.sampling.network_calibration`) of parameters ``theta`` that are learned.
Each update is a step of stochastic gradient ascent on the log-likelihood of the
target in which the network's own samples give the model's moments (the negative
phase) and the target gives the data's (the positive phase):

- an RBM ``theta = (W, b_v, b_h)`` on images: :func:`rbm_data_moments`, the exact
  ``<v>``, ``<p(h | v)>`` and ``<v p(h | v)^T>`` of the images under ``theta``;
- a small Boltzmann machine ``theta = (W, b)`` with a known target distribution:
  :func:`bm_target_moments`, its exact ``<z>`` and ``<z z^T>`` by enumeration;

and :func:`rbm_sample_moments` / :func:`bm_sample_moments` the same moments of the
network's states. :func:`loop_update` is the update with momentum and projection onto
the representable bounds; a fixed point is a ``theta`` whose network reproduces the
target's moments, whatever the translation's remaining errors.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import xarray as xr
from scipy.special import expit

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.theory import representable_bias_range
from lif_tempering.sampling.boltzmann import exact_distribution, state_counts, states_from_indices
from lif_tempering.sampling.divergence import kl_target_to_histogram
from lif_tempering.sampling.network_calibration import (
    GAIN_NAMES,
    group_corrections,
    group_inputs,
    machine_dataset,
    measured_gains,
    round_seed,
    small_bm_sampler,
)
from lif_tempering.sampling.translation import TranslationCorrections


class Moments(NamedTuple):
    """Sufficient statistics of a machine, one array per parameter in the parameters' order:
    an RBM's ``(<v h^T>, <v>, <h>)`` or a Boltzmann machine's ``(<z z^T>, <z>)`` (off-diagonal ``<z z^T>``)."""

    arrays: tuple


def rbm_data_moments(images, W, b_h, batch_size: int = 4096) -> Moments:
    """``(<v p(h | v)^T>, <v>, <p(h | v)>)`` over ``images`` (N, n_v), exact hidden conditionals of ``(W, b_h)``."""
    images = np.asarray(images, dtype=np.float64)
    vh = np.zeros((images.shape[1], np.shape(b_h)[0]))
    h_sum = np.zeros(np.shape(b_h)[0])
    for start in range(0, len(images), batch_size):
        v = images[start:start + batch_size]
        p_h = expit(v @ W + b_h)
        vh += v.T @ p_h
        h_sum += p_h.sum(axis=0)
    return Moments((vh / len(images), images.mean(axis=0), h_sum / len(images)))


def rbm_sample_moments(z, n_visible: int) -> Moments:
    """``(<v h^T>, <v>, <h>)`` of states ``z`` (sample, unit; visible units first)."""
    z = np.asarray(z, dtype=np.float64)
    v, h = z[:, :n_visible], z[:, n_visible:]
    return Moments((v.T @ h / len(z), v.mean(axis=0), h.mean(axis=0)))


def bm_target_moments(W, b) -> Moments:
    """``(<z z^T>, <z>)`` of the Boltzmann machine ``(W, b)`` by enumeration (diagonal of ``<z z^T>`` zero)."""
    b = np.asarray(b, dtype=np.float64)
    return bm_distribution_moments(exact_distribution(W, b), b.size)


def bm_distribution_moments(p, n_units: int) -> Moments:
    """``(<z z^T>, <z>)`` of a distribution ``p`` over the ``2^n_units`` joint states (diagonal of ``<z z^T>`` zero)."""
    z = states_from_indices(np.arange(2 ** n_units), n_units).astype(np.float64)
    p = np.asarray(p, dtype=np.float64)
    zz = (z * p[:, None]).T @ z
    np.fill_diagonal(zz, 0.0)
    return Moments((zz, p @ z))


def bm_sample_moments(z) -> Moments:
    """``(<z z^T>, <z>)`` of states ``z`` (sample, unit) (diagonal of ``<z z^T>`` zero)."""
    z = np.asarray(z, dtype=np.float64)
    zz = z.T @ z / len(z)
    np.fill_diagonal(zz, 0.0)
    return Moments((zz, z.mean(axis=0)))


def loop_update(params: tuple, velocity: tuple, positive: Moments, negative: Moments, learning_rate: float,
                momentum: float, bounds: tuple) -> tuple[tuple, tuple]:
    """One update: ``velocity <- momentum velocity + learning_rate (positive - negative)``, ``params <- params +
    velocity``, then each parameter clipped into its ``bounds`` entry ``(low, high)`` (scalars or arrays
    broadcastable to the parameter). Returns new ``(params, velocity)``; the inputs are not changed.
    """
    if not (len(params) == len(velocity) == len(positive.arrays) == len(negative.arrays) == len(bounds)):
        raise ValueError("params, velocity, both moments and bounds need one entry per parameter")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    new_params, new_velocity = [], []
    for param, speed, pos, neg, (low, high) in zip(params, velocity, positive.arrays, negative.arrays, bounds):
        speed = momentum * np.asarray(speed) + learning_rate * (np.asarray(pos) - np.asarray(neg))
        new_params.append(np.clip(np.asarray(param) + speed, low, high))
        new_velocity.append(speed)
    return tuple(new_params), tuple(new_velocity)


def learning_rates(start: float, end: float, n_updates: int) -> np.ndarray:
    """Per-update learning rates decaying geometrically from ``start`` (first update) to ``end`` (last)."""
    if not (start > 0 and end > 0 and n_updates >= 1):
        raise ValueError(f"need positive learning rates and n_updates >= 1, got {start}, {end}, {n_updates}")
    return start * (end / start) ** (np.arange(n_updates) / max(n_updates - 1, 1))


class LoopRecord(NamedTuple):
    """The loop's course: ``params`` after the last update and one dict of scalar measures per update
    (what ``monitor`` returned for the update's samples, with the learning rate)."""

    params: tuple
    updates: list


def train_in_the_loop(sample: Callable[[tuple, int], np.ndarray], params: tuple,
                      positive_of: Callable[[tuple], Moments], negative_of: Callable[[np.ndarray], Moments],
                      bounds: tuple, rates, momentum: float,
                      monitor: Callable[[np.ndarray, tuple], dict] | None = None, log=print) -> LoopRecord:
    """``len(rates)`` updates of :func:`loop_update` with the samples of the network of the current parameters.

    ``sample(params, update)`` returns the network's states (sample, unit) for ``params``;
    ``positive_of(params)`` the target's moments (they may depend on the parameters, as an
    RBM's exact hidden conditionals do), ``negative_of(states)`` the samples'. ``monitor(states,
    params)`` gives scalar measures of each update's samples (before the update), logged and
    returned per update.
    """
    velocity = tuple(np.zeros_like(np.asarray(param, dtype=np.float64)) for param in params)
    params = tuple(np.array(param, dtype=np.float64) for param in params)
    updates = []
    for index, rate in enumerate(np.asarray(rates, dtype=np.float64)):
        start = time.perf_counter()
        states = np.asarray(sample(params, index))
        measures = dict(monitor(states, params) if monitor is not None else {})
        params, velocity = loop_update(params, velocity, positive_of(params), negative_of(states), float(rate),
                                       momentum, bounds)
        measures.update(learning_rate=float(rate), n_samples=int(states.shape[0]),
                        update_wall_time_s=time.perf_counter() - start)
        updates.append(measures)
        log(f"update {index}: " + ", ".join(f"{key} {value:.4g}" for key, value in measures.items()))
    return LoopRecord(params, updates)


def representable_bounds(corrections: TranslationCorrections, n_units: int, p: NeuronParameters,
                         calibration: ActivationPoint, max_weight_factor_gain: float) -> tuple[tuple, tuple]:
    """Bounds ``((W_low, W_high), (b_low, b_high))`` of a full machine's parameters under ``corrections``.

    A unit's realised bias ``s b + t`` stays inside the biases its neuron represents with weight
    factors at most ``max_weight_factor_gain`` times their zero-bias values
    (:func:`~lif_tempering.neuron.theory.representable_bias_range` at the calibration's noise),
    and the realised weight onto unit ``j``, ``k_j W_ij``, at most the smaller bias bound in size
    (a weight acts on its target like a bias change of its size, as for
    :func:`lif_tempering.learning.study.rbm_parameter_bounds`) in both directions, so that the bounds
    keep ``W`` symmetric. Arrays (n, n) and (n,).
    """
    low, high = representable_bias_range(p, calibration.u0_mV, calibration.alpha_mV, calibration.rate_exc_hz,
                                         calibration.rate_inh_hz, max_weight_factor_gain=max_weight_factor_gain)
    scale, shift, coupling = corrections.per_unit(n_units)
    weight_max = min(-low, high) / np.maximum(coupling[:, None], coupling[None, :])
    return (-weight_max, weight_max), ((low - shift) / scale, (high - shift) / scale)


def _gain_measures(inputs) -> dict:
    gains = measured_gains(inputs)
    return {f"{name}_{group}": float(gains[k, i]) for k, group in enumerate(range(len(inputs)))
            for i, name in enumerate(GAIN_NAMES[:3])}


def train_small_bm_in_the_loop(W, b, calibrated: xr.Dataset, p: NeuronParameters, calibration: ActivationPoint,
                               settings: dict, dt_ms: float, seed: int, cache_dir: str | os.PathLike,
                               max_weight_factor_gain: float = 2.0, threads: int = 1, log=print) -> xr.Dataset:
    """Fine-tune the calibrated LIF network of a small machine ``(W, b)`` toward the machine's own distribution.

    ``calibrated``: its :func:`~lif_tempering.sampling.network_calibration.calibrate_small_bm` dataset
    (the corrections are kept); ``settings``: n_updates, learning_rate_start, learning_rate_end,
    momentum, n_copies, duration_ms, burn_in_ms, sample_dt_ms. Positive phase: the exact
    moments of ``(W, b)``; negative phase: ``n_copies`` free runs of the network of the current
    parameters (``theta``, started at ``(W, b)``). Returns the network file: ``theta`` as ``W``,
    ``b`` with the corrections, the target as ``target_W``, ``target_b``, and per update the
    divergence of the samples from the target and their conditional gains against ``theta``.
    """
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    corrections = group_corrections(calibrated)
    per_unit = corrections.per_unit((b.size,))
    sampler = small_bm_sampler(b.size, settings, dt_ms, cache_dir, threads)
    target = exact_distribution(W, b)

    def sample(params, index):
        return sampler.sample(params, p, calibration, round_seed(seed, index),
                              corrections=per_unit).samples.reshape(-1, b.size)

    def monitor(states, params):
        return {"dkl": float(kl_target_to_histogram(target, state_counts(states))),
                "mean_activity": float(states.mean()),
                **_gain_measures(group_inputs(states, *params, (b.size,)))}

    rates = learning_rates(settings["learning_rate_start"], settings["learning_rate_end"], settings["n_updates"])
    start = time.perf_counter()
    try:
        record = train_in_the_loop(sample, (W, b), lambda params: bm_target_moments(W, b), bm_sample_moments,
                                   representable_bounds(per_unit, b.size, p, calibration, max_weight_factor_gain),
                                   rates, settings["momentum"], monitor, log)
    finally:
        sampler.close()
    theta_W, theta_b = record.params
    ds = machine_dataset(theta_W, theta_b, corrections,
                         "LIF network of a small Boltzmann machine trained in the loop toward the machine's distribution")
    ds = ds.assign(target_W=(("unit", "partner_unit"), W, {"units": "1", "long_name": "weights of the target machine"}),
                   target_b=("unit", b, {"units": "1", "long_name": "biases of the target machine"}))
    return xr.merge([ds, updates_dataset(record.updates, UPDATE_MEASURES_SMALL_BM)], combine_attrs="override").assign_attrs(
        **settings, seed=int(seed), dt_ms=float(dt_ms), max_weight_factor_gain=float(max_weight_factor_gain),
        u0_mV=float(calibration.u0_mV), alpha_mV=float(calibration.alpha_mV), final_dkl=record.updates[-1]["dkl"],
        wall_time_s=float(time.perf_counter() - start))


#: Per-update measures of a small machine's loop: units and long names.
UPDATE_MEASURES_SMALL_BM = {
    "dkl": ("nat", "D_KL(target || histogram of the update's samples), Jeffreys-smoothed"),
    "mean_activity": ("1", "mean state of the update's samples"),
    "bias_gain_0": ("1", "bias gain a of the update's samples against the parameters they were drawn with"),
    "coupling_gain_0": ("1", "coupling gain g of the update's samples against the parameters they were drawn with"),
    "offset_0": ("1", "offset c of the update's samples against the parameters they were drawn with"),
    "learning_rate": ("1", "learning rate of the update"),
    "n_samples": ("1", "negative-phase samples of the update (all copies)"),
    "update_wall_time_s": ("s", "wall-clock time of the update (network run, measures and step)"),
}


def updates_dataset(updates: list, measures: dict) -> xr.Dataset:
    """The per-update measures of :func:`train_in_the_loop` as variables along ``update``."""
    data = {name: ("update", np.array([u[name] for u in updates]), {"units": units, "long_name": long_name})
            for name, (units, long_name) in measures.items()}
    return xr.Dataset(data, coords={"update": ("update", np.arange(len(updates)),
                                               {"units": "1", "long_name": "in-the-loop update"})})

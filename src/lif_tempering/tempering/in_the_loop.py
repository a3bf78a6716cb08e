"""Training a trained RBM's calibrated LIF network in the loop (docs/in_the_loop.md): the job of one RBM.

The update rule and the loop are :mod:`lif_tempering.learning.in_the_loop`; this module
supplies the RBM's negative phase, which may be tempered: ``n_copies`` copies of the
network ``translate(theta; corrections)`` run in one simulation, under the free schedule
(``T = 1``) or, every ``tempered_every``-th update, under a tempered one (noise
following a temperature schedule through the temperature map, :mod:`lif_tempering.tempering.runs`),
and only the samples with ``T <= 1 + tolerance`` enter the update. With ``persistent`` the
copies are persistent chains: each run starts where the copy's previous run ended (its last
state at ``T <= 1 + tolerance``, :meth:`~lif_tempering.sampling.network.BoltzmannSampler.sample`'s
``initial_states``), the first from training images. The positive phase (the loop's ``target``)
is either the data, the exact ``p(h | v; theta)`` of ``n_images`` training images per update
(all of them where there are fewer), drawn anew each update, or the trained RBM itself: its
own moments from its converged parallel-tempering reference (:func:`reference_moments`), fixed,
so that the network learns to sample the RBM it was translated from.
"""

from __future__ import annotations

import os
import time

import numpy as np
import xarray as xr
from scipy.special import expit

from lif_tempering.io import settings_attrs
from lif_tempering.learning.classifier import classify, visible_readout
from lif_tempering.learning.in_the_loop import (
    Moments,
    learning_rates,
    rbm_data_moments,
    rbm_sample_moments,
    train_in_the_loop,
    updates_dataset,
)
from lif_tempering.learning.reference import MOMENT_VARIABLES
from lif_tempering.learning.study import rbm_classifier, rbm_parameters
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.theory import representable_bias_range
from lif_tempering.sampling.boltzmann import rbm_as_bm
from lif_tempering.sampling.conditionals import layer_inputs
from lif_tempering.sampling.divergence import kl_target_to_histogram
from lif_tempering.sampling.network_calibration import (
    GAIN_NAMES,
    RBM_GROUPS,
    group_corrections,
    measured_gains,
    network_dataset,
    rbm_network_sampler,
    round_seed,
)
from lif_tempering.tempering.runs import TemperatureMap, make_schedule, rate_schedule_hz

#: Second entry of the seed of the positive phase's image draws (the runs' seeds are [seed, update], update < this).
IMAGE_STREAM = 1 << 31
#: Every how many samples the conditional gains of an update are fitted (samples a few ms apart are alike).
GAIN_THINNING = 4

#: What an RBM's network can be trained in the loop toward (``in_the_loop.rbm.target``).
LOOP_TARGETS = ("data", "model")

#: Per-update measures of an RBM's loop: units and long names.
UPDATE_MEASURES_RBM = {
    "class_kl": ("nat", "D_KL(target's class distribution || class histogram of the update's samples at T = 1), "
                        "mean-field readout, Jeffreys-smoothed; the target's: the data class prior (target data) or "
                        "the RBM's reference (target model)"),
    "visible_activity": ("1", "mean visible state of the update's samples at T = 1"),
    "hidden_activity": ("1", "mean hidden state of the update's samples at T = 1"),
    "confidence": ("1", "mean classifier confidence of the update's samples at T = 1 (mean-field readout)"),
    **{f"{name}_{layer}": ("1", f"{name.replace('_', ' ')} of the {layer} layer of the update's samples against the "
                                f"parameters they were drawn with")
       for layer in RBM_GROUPS for name in GAIN_NAMES[:3]},
    "tempered": ("1", "1 if the update's negative phase ran under the tempered schedule, 0 if free"),
    "learning_rate": ("1", "learning rate of the update"),
    "n_samples": ("1", "negative-phase samples of the update (all copies, T <= 1 + tolerance)"),
    "update_wall_time_s": ("s", "wall-clock time of the update (network run, measures and step)"),
}


def rbm_bounds(corrections, n_visible: int, n_hidden: int, p: NeuronParameters, tmap: TemperatureMap,
               training_bounds: dict, max_weight_factor_gain: float) -> tuple:
    """Bounds of ``(W, b_v, b_h)``: the RBM's training bounds (:func:`~lif_tempering.learning.study.rbm_parameter_bounds`,
    ``None`` entries open) intersected with the realised biases ``s b + t`` inside the representable range with
    weight factors at most ``max_weight_factor_gain`` times their zero-bias values, and ``k W`` at most its smaller
    end in size (:func:`lif_tempering.learning.in_the_loop.representable_bounds` for a full machine)."""
    reference = tmap.reference
    low, high = representable_bias_range(p, reference.u0_mV, reference.alpha_mV, reference.rate_exc_hz,
                                         reference.rate_inh_hz, max_weight_factor_gain=max_weight_factor_gain)
    scale, shift, coupling = corrections.per_unit(n_visible + n_hidden)
    bias_low = np.maximum((low - shift) / scale, -np.inf if training_bounds["bias_min"] is None
                          else training_bounds["bias_min"])
    bias_high = np.minimum((high - shift) / scale, np.inf if training_bounds["bias_max"] is None
                           else training_bounds["bias_max"])
    weight_max = min(-low, high) / np.maximum(coupling[:n_visible, None], coupling[None, n_visible:])
    if training_bounds["weight_abs_max"] is not None:
        weight_max = np.minimum(weight_max, training_bounds["weight_abs_max"])
    return ((-weight_max, weight_max), (bias_low[:n_visible], bias_high[:n_visible]),
            (bias_low[n_visible:], bias_high[n_visible:]))


def reference_moments(reference: xr.Dataset) -> Moments:
    """The trained RBM's own ``(<v h^T>, <v>, <h>)`` from its ``reference.nc``
    (:func:`lif_tempering.learning.reference.reference_dataset`)."""
    missing = [name for name, _, _ in MOMENT_VARIABLES if name not in reference]
    if missing:
        raise ValueError(f"the reference file has no {', '.join(missing)} (written before the RBM's moments were "
                         "recorded): delete it and rerun the workflow")
    return Moments(tuple(np.asarray(reference[name].values, dtype=np.float64) for name, _, _ in MOMENT_VARIABLES))


def _rbm_monitor(classifier, prior: np.ndarray, n_visible: int):
    """Per-update measures of the samples (:data:`UPDATE_MEASURES_RBM`) against the parameters they were drawn with."""
    def monitor(states, params):
        W, b_v, b_h = params
        labels, confidence = classify(classifier, visible_readout(states, n_visible, W, b_v))
        inputs = layer_inputs(states[::GAIN_THINNING], W, b_v, b_h)
        gains = measured_gains([inputs[name] for name in RBM_GROUPS])
        return {"class_kl": float(kl_target_to_histogram(prior, np.bincount(labels, minlength=prior.size))),
                "visible_activity": float(states[:, :n_visible].mean()),
                "hidden_activity": float(states[:, n_visible:].mean()),
                "confidence": float(confidence.mean()),
                **{f"{name}_{layer}": float(gains[k, i]) for k, layer in enumerate(RBM_GROUPS)
                   for i, name in enumerate(GAIN_NAMES[:3])}}
    return monitor


def train_rbm_in_the_loop(calibrated: xr.Dataset, images: np.ndarray, tmap: TemperatureMap, p: NeuronParameters,
                          settings: dict, training_bounds: dict, dt_ms: float, seed: int,
                          cache_dir: str | os.PathLike, max_weight_factor_gain: float = 2.0, threads: int = 1,
                          reference: xr.Dataset | None = None, log=print) -> xr.Dataset:
    """Fine-tune the calibrated network of a trained RBM (``network_calibrated.nc``) toward ``settings["target"]``.

    ``target`` ``data``: the training ``images``; ``model``: the RBM's ``reference.nc``
    (``reference``, its moments and class distribution; the images only start the chains).
    ``settings`` (the ``in_the_loop`` config): target, n_updates, learning_rate_start,
    learning_rate_end, momentum, n_images, n_copies, duration_ms, burn_in_ms, sample_dt_ms,
    tempered_every and tempered (the tempered schedule: shape, frequency_hz, t_max,
    dwell_fraction, tolerance), persistent (each copy starts each run in the last state with
    ``T <= 1 + tolerance`` of its previous run, the first from a random training image with
    its hidden states drawn from ``p(h | v)``; else every run starts afresh). Returns the
    ``network_in_the_loop.nc`` dataset: ``theta`` as ``W``, ``b_visible``, ``b_hidden`` with the
    calibration's corrections and the RBM file's classifier, the per-update measures
    (:data:`UPDATE_MEASURES_RBM`), the settings as attributes.
    """
    _check_target(settings["target"], reference)
    W, b_v, b_h = rbm_parameters(calibrated)
    n_visible, n_hidden = W.shape
    corrections = group_corrections(calibrated)
    per_unit = corrections.per_unit((n_visible, n_hidden))
    sampler = rbm_network_sampler(n_visible, n_hidden, settings, dt_ms, cache_dir, threads, scheduled_rates=True)
    network = sampler.network
    tempered = settings["tempered"]
    schedules = [make_schedule("free", 1.0, 1.0)]
    if settings["tempered_every"]:
        schedules.append(make_schedule("tempered", tempered["t_max"], tempered["frequency_hz"],
                                       shape=tempered["shape"], dwell_fraction=tempered["dwell_fraction"]))
    rates = [rate_schedule_hz(schedule, tmap, network.n_steps, dt_ms) for schedule in schedules]
    kept = [schedule.temperature(network.sample_times_ms) <= 1.0 + tempered["tolerance"] for schedule in schedules]
    if not all(mask.any() for mask in kept):
        raise ValueError(f"the tempered run of {settings['duration_ms']} ms has no sample after burn-in with T <= 1 + "
                         f"{tempered['tolerance']}: lengthen in_the_loop.rbm.duration_ms or raise the tolerance")
    images = np.asarray(images, dtype=np.float64)
    image_rng = np.random.default_rng([int(seed), IMAGE_STREAM])
    history = []
    chains = {"states": _data_states(images, W, b_h, settings["n_copies"], image_rng) if settings["persistent"]
              else None}

    def schedule_index(index):
        every = settings["tempered_every"]
        return int(bool(every) and index % every == every - 1)

    def sample(params, index):
        which = schedule_index(index)
        history.append(which)
        result = sampler.sample(rbm_as_bm(*params), p, tmap.reference, round_seed(seed, index),
                                rate_exc_schedule_hz=rates[which][0], rate_inh_schedule_hz=rates[which][1],
                                corrections=per_unit, initial_states=chains["states"])
        samples = result.samples[kept[which]]
        if settings["persistent"]:
            chains["states"] = samples[-1]
        return samples.reshape(-1, n_visible + n_hidden)

    positive_of, target_classes = _positive_phase(settings, images, image_rng, calibrated, reference)
    monitor = _rbm_monitor(rbm_classifier(calibrated), target_classes, n_visible)
    bounds = rbm_bounds(per_unit, n_visible, n_hidden, p, tmap, training_bounds, max_weight_factor_gain)
    rates_per_update = learning_rates(settings["learning_rate_start"], settings["learning_rate_end"],
                                      settings["n_updates"])
    start = time.perf_counter()
    try:
        record = train_in_the_loop(sample, (W, b_v, b_h), positive_of, lambda z: rbm_sample_moments(z, n_visible),
                                   bounds, rates_per_update, settings["momentum"], monitor, log)
    finally:
        sampler.close()
    for update, which in zip(record.updates, history):
        update["tempered"] = which
    ds = xr.merge([network_dataset(calibrated, *record.params, corrections,
                                   "LIF network of a trained RBM, calibrated and trained in the loop toward "
                                   + ("the data" if settings["target"] == "data" else "the RBM's own moments")),
                   updates_dataset(record.updates, UPDATE_MEASURES_RBM)], combine_attrs="override")
    return ds.assign_attrs(**settings_attrs(settings), seed=int(seed), dt_ms=float(dt_ms),
                           max_weight_factor_gain=float(max_weight_factor_gain), noise_scheme=tmap.scheme,
                           u0_mV=float(tmap.reference.u0_mV), alpha_mV=float(tmap.reference.alpha_mV),
                           data_visible_activity=float(images.mean()), wall_time_s=float(time.perf_counter() - start))


def _check_target(target: str, reference: xr.Dataset | None) -> None:
    """Refuse an unknown loop target, or the target ``model`` without the RBM's reference."""
    if target not in LOOP_TARGETS:
        raise ValueError(f"unknown in_the_loop target {target!r}; allowed: {', '.join(LOOP_TARGETS)}")
    if target == "model" and reference is None:
        raise ValueError("in_the_loop target model needs the RBM's reference file")


def _positive_phase(settings: dict, images: np.ndarray, image_rng: np.random.Generator, calibrated: xr.Dataset,
                    reference: xr.Dataset | None) -> tuple:
    """``(positive_of, target_classes)`` of the loop's target: ``positive_of(params)`` the target's moments (the
    reference's, fixed, or ``n_images`` training images' under ``params``), ``target_classes`` the class
    distribution the per-update ``class_kl`` is measured against (the reference's or the data's class prior)."""
    if settings["target"] == "model":
        moments = reference_moments(reference)
        return (lambda params: moments), np.asarray(reference["class_probability"].values)

    def positive_of(params):
        n_images = min(settings["n_images"], len(images))
        chosen = images if n_images == len(images) else images[image_rng.choice(len(images), n_images, replace=False)]
        return rbm_data_moments(chosen, params[0], params[2])
    return positive_of, np.asarray(calibrated["train_class_frequency"].values)


def _data_states(images: np.ndarray, W, b_h, n_chains: int, rng: np.random.Generator) -> np.ndarray:
    """Start states (n_chains, n_v + n_h) of persistent chains: random training images with hidden states
    drawn from ``p(h | v)``."""
    v = images[rng.choice(len(images), n_chains, replace=len(images) < n_chains)]
    h = rng.random((n_chains, np.shape(b_h)[0])) < expit(v @ W + b_h)
    return np.concatenate([v, h], axis=1).astype(np.int8)

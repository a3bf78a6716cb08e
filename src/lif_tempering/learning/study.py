"""The generative model of the study: RBM training on binary digits, evaluation, LIF sampling.

:func:`classifier_dataset` fits the data set's classifier (multinomial logistic
regression on the binarised training images) that later labels samples; it
depends on the data alone, so one fit serves every RBM of the data set.
:func:`train_rbm_dataset` trains one RBM (one data set, one training seed) and
evaluates it: annealed importance sampling of log Z and the average
log-likelihood of the test images, the classifier stored beside the model, and
a few abstract block-Gibbs samples for figures. :func:`lif_rbm_samples` maps a
trained RBM onto a LIF network (visible units first) and samples it at T = 1.
Log-probabilities are in nats; weights and biases in units of k_B T.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from scipy.special import expit

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.io import finite_values
from lif_tempering.learning.classifier import SoftmaxClassifier, classification_accuracy, train_classifier
from lif_tempering.learning.datasets import DATASETS, IDX_DATASETS, BinaryImages, load_digits_binary, load_idx_binary
from lif_tempering.learning.rbm import (
    MONITOR_IMAGES,
    ais_log_partition,
    average_log_likelihood,
    base_rate_visible_bias,
    sample_rbm_gibbs,
    train_rbm,
)
from lif_tempering.learning.reference import beta_ladder
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.theory import hcs_activation_estimate, representable_bias_range
from lif_tempering.sampling.boltzmann import rbm_as_bm

if TYPE_CHECKING:
    from lif_tempering.sampling.network import SamplingResult

#: Keys of :func:`layer_activity`.
LAYER_ACTIVITY = ("mean_visible", "mean_hidden", "mean_visible_given_hidden", "mean_hidden_given_visible")


def _var(dims, values, units, long_name):
    return (dims, np.asarray(values), {"units": units, "long_name": long_name})


def load_images(dataset: str, settings: dict, data_dir: str | os.PathLike, split_seed: int) -> BinaryImages:
    """The binarised images of ``dataset`` (``digits``, ``mnist`` or ``fashion_mnist``).

    ``settings``: the data set's config, ``threshold`` and ``test_fraction`` (digits,
    split drawn with ``split_seed``) or ``threshold`` and ``downsample`` (MNIST and
    Fashion-MNIST, read and checksum-verified from ``data_dir``, official split).
    """
    if dataset == "digits":
        return load_digits_binary(settings["threshold"], settings["test_fraction"], split_seed)
    if dataset in IDX_DATASETS:
        return load_idx_binary(data_dir, dataset, settings["threshold"], settings["downsample"])
    raise ValueError(f"unknown dataset {dataset!r}; allowed: {', '.join(DATASETS)}")


def job_images(dataset: str, settings: dict, data_files, split_seed: int) -> BinaryImages:
    """:func:`load_images` for a workflow job: ``data_files`` are the job's data inputs.

    The IDX files (and their checksums) of MNIST or Fashion-MNIST lie in one folder,
    which is read; the embedded digits have none (empty ``data_files``).
    """
    data_dir = Path(data_files[0]).parent if len(data_files) else None
    return load_images(dataset, settings, data_dir, split_seed)


def rbm_parameter_bounds(settings: dict, p: NeuronParameters) -> dict:
    """The training bounds of the ``rbm`` config, resolved for the neuron parameters ``p``.

    ``settings["parameter_bounds"]``: ``"auto"``, ``"none"`` or explicit
    ``{bias_min, bias_max, weight_abs_max}``. ``auto`` derives them from HCS theory at
    the reference noise of ``p`` (:func:`~lif_tempering.neuron.theory.hcs_activation_estimate`
    stands in for the simulated calibration, so that training does not wait for it):
    the biases of :func:`~lif_tempering.neuron.theory.representable_bias_range` with
    ``settings["max_weight_factor_gain"]``, and ``weight_abs_max`` = the smaller of
    ``-bias_min`` and ``bias_max``, because a weight acts on its target like a bias
    change of the same size while the presynaptic neuron is refractory (the PSP is
    matched to a rectangle of height ``alpha W`` over ``tau_ref``). The margin
    (default gain 2: the membrane keeps half its driving force) covers the few-percent
    difference between the theory estimate and the calibration the translation uses.

    Returns ``{bias_min, bias_max, weight_abs_max}`` (``None`` each for ``none``) and
    ``representable_bias_min`` / ``representable_bias_max``, the hard range (weight
    factors positive and finite) of the same theory estimate, against which a trained
    RBM is checked.
    """
    u0_mV, alpha_mV = hcs_activation_estimate(p)
    hard_min, hard_max = representable_bias_range(p, u0_mV, alpha_mV)
    choice = settings["parameter_bounds"]
    if choice == "none":
        bounds = dict(bias_min=None, bias_max=None, weight_abs_max=None)
    elif choice == "auto":
        bias_min, bias_max = representable_bias_range(p, u0_mV, alpha_mV,
                                                      max_weight_factor_gain=settings["max_weight_factor_gain"])
        bounds = dict(bias_min=bias_min, bias_max=bias_max, weight_abs_max=min(-bias_min, bias_max))
    else:
        bounds = {key: float(choice[key]) for key in ("bias_min", "bias_max", "weight_abs_max")}
        if not bounds["bias_min"] < 0 < bounds["bias_max"]:
            raise ValueError(f"rbm.parameter_bounds: need bias_min < 0 < bias_max, got {choice}")
    return dict(bounds, representable_bias_min=hard_min, representable_bias_max=hard_max)


def _outside_range(b_v, b_h, bounds: dict | None) -> int:
    """Number of biases outside the representable range of ``bounds`` (0 without one)."""
    if not bounds:
        return 0
    b = np.concatenate([b_v, b_h])
    return int(np.sum((b <= bounds["representable_bias_min"]) | (b >= bounds["representable_bias_max"])))


def classifier_dataset(data: BinaryImages, regularisation_c: float, dataset: str) -> xr.Dataset:
    """The digit classifier of a data set, fitted on its binarised training images, as a dataset.

    Multinomial logistic regression (:func:`~lif_tempering.learning.classifier.train_classifier`,
    inverse regularisation strength ``regularisation_c``): ``classifier_coef`` (digit,
    visible), ``classifier_intercept`` (digit), accuracies on the training and test
    images as attributes.
    """
    classifier = train_classifier(data.train_images, data.train_labels, regularisation_c=regularisation_c)
    n_visible = data.train_images.shape[1]
    return xr.Dataset(
        {"classifier_coef": _var(("digit", "visible"), classifier.coef_, "1",
                                 "logistic-regression weight of each pixel for each class"),
         "classifier_intercept": _var("digit", classifier.intercept_, "1",
                                      "logistic-regression intercept of each class")},
        coords={"digit": ("digit", classifier.classes_, {"units": "1", "long_name": "class label (digit)"}),
                "visible": ("visible", np.arange(n_visible), {"units": "1", "long_name": "visible unit (pixel) index"})},
        attrs={"title": "Digit classifier: multinomial logistic regression on the binarised training images",
               "classifier_test_accuracy": classification_accuracy(classifier, data.test_images, data.test_labels),
               "classifier_train_accuracy": classification_accuracy(classifier, data.train_images, data.train_labels),
               "regularisation_c": float(regularisation_c), "dataset": dataset,
               "n_train_images": int(len(data.train_images)), "n_test_images": int(len(data.test_images))},
    )


def train_rbm_dataset(data: BinaryImages, settings: dict, seed: int, dataset: str, training_seed: int,
                      classifier: xr.Dataset, log=print) -> xr.Dataset:
    """Train and evaluate one RBM on ``data``; the result as a dataset (see module docstring).

    ``settings``: the ``rbm`` config (n_hidden, epochs, batch_size, method,
    gibbs_steps_per_update, n_persistent_chains, pt_ladder (with method pt_pcd), learning_rate_start,
    learning_rate_end, momentum, weight_decay, init_scale, ais,
    gibbs_samples) and optionally ``bounds`` (:func:`rbm_parameter_bounds`; absent:
    unbounded). ``seed`` seeds training, AIS and the Gibbs samples (separate
    streams); ``dataset`` and ``training_seed`` (the index of the RBM) are recorded
    as attributes; ``classifier`` (:func:`classifier_dataset` of ``data``) is stored with
    the model. ``log`` receives one progress line per epoch and a summary.
    """
    train_seed, ais_seed, sample_seed = np.random.SeedSequence(int(seed)).spawn(3)
    if classifier.sizes["visible"] != data.train_images.shape[1]:
        raise ValueError(f"the classifier has {classifier.sizes['visible']} visible units, the images "
                         f"{data.train_images.shape[1]} pixels: it was fitted on another data set")
    trained = _train(data.train_images, settings, np.random.default_rng(train_seed), log)
    bounds = settings.get("bounds")
    n_outside = _outside_range(trained["b_v"], trained["b_h"], bounds)
    if n_outside:
        log(f"WARNING: {n_outside} biases lie outside the range a LIF neuron can represent "
            f"({bounds['representable_bias_min']:.2f}, {bounds['representable_bias_max']:.2f}); the LIF jobs will "
            "stop unless the units are saturated. Train with rbm.parameter_bounds: auto.")
    evaluation = _evaluate(data, trained, settings["ais"], np.random.default_rng(ais_seed), log)
    log(f"classifier accuracy: train {classifier.attrs['classifier_train_accuracy']:.4f}, "
        f"test {classifier.attrs['classifier_test_accuracy']:.4f}")
    gibbs = settings["gibbs_samples"]
    every = gibbs["steps_between_snapshots"]
    visible, _ = sample_rbm_gibbs(trained["W"], trained["b_v"], trained["b_h"], gibbs["n_snapshots"] * every,
                                  gibbs["n_chains"], seed=np.random.default_rng(sample_seed))
    model = _rbm_model_dataset(data, trained, classifier, visible[every - 1::every], every)
    model.attrs.update(
        evaluation, dataset=dataset, training_seed=int(training_seed), seed=int(seed),
        classifier_test_accuracy=float(classifier.attrs["classifier_test_accuracy"]),
        classifier_train_accuracy=float(classifier.attrs["classifier_train_accuracy"]),
        **_bounds_attrs(bounds, trained["W"], trained["b_v"], trained["b_h"]),
        n_biases_outside_representable_range=n_outside,
        **({"pt_swap_acceptance": [float(x) for x in trained["swap_acceptance"]]}
           if "swap_acceptance" in trained else {}))
    return model


def _train(images, settings: dict, rng: np.random.Generator, log) -> dict:
    """:func:`~lif_tempering.learning.rbm.train_rbm` of ``images`` with the ``rbm`` config ``settings``."""
    bounds = settings.get("bounds")
    bias_range = None if not bounds or bounds["bias_min"] is None else (bounds["bias_min"], bounds["bias_max"])
    return train_rbm(
        images, settings["n_hidden"], settings["epochs"], batch_size=settings["batch_size"],
        learning_rate=(settings["learning_rate_start"], settings["learning_rate_end"]),
        momentum=settings["momentum"], weight_decay=settings["weight_decay"], method=settings["method"],
        k=settings["gibbs_steps_per_update"], seed=rng, n_persistent_chains=settings["n_persistent_chains"],
        pt_betas=(beta_ladder(settings["pt_ladder"]["beta_min"], settings["pt_ladder"]["n_betas"])
                  if settings["method"] == "pt_pcd" else None),
        init_scale=settings["init_scale"], bias_range=bias_range,
        weight_abs_max=bounds["weight_abs_max"] if bounds else None, log=log)


def _evaluate(data: BinaryImages, trained: dict, ais: dict, rng: np.random.Generator, log) -> dict:
    """AIS estimate of log Z (base model: the training images' base rates) and the average log-likelihoods."""
    W, b_v, b_h = trained["W"], trained["b_v"], trained["b_h"]
    log_z, log_z_stderr = ais_log_partition(W, b_v, b_h, ais["n_betas"], ais["n_runs"], seed=rng,
                                            base_b_v=base_rate_visible_bias(data.train_images))
    test_ll = average_log_likelihood(data.test_images, W, b_v, b_h, log_z)
    train_ll = average_log_likelihood(data.train_images, W, b_v, b_h, log_z)
    log(f"AIS: log Z = {log_z:.3f} +- {log_z_stderr:.3f}; average log-likelihood: train {train_ll:.3f}, "
        f"test {test_ll:.3f} nats per image")
    return {"ais_log_z": log_z, "ais_log_z_stderr": log_z_stderr, "test_log_likelihood": test_ll,
            "train_log_likelihood": train_ll, "log_likelihood_units": "nats per image (AIS estimate of log Z)"}


def _rbm_model_dataset(data: BinaryImages, trained: dict, classifier: xr.Dataset, snapshots, every: int) -> xr.Dataset:
    """The trained model, its training curves, classifier and Gibbs snapshots as a dataset (attributes added by
    :func:`train_rbm_dataset`)."""
    W, b_v, b_h = trained["W"], trained["b_v"], trained["b_h"]
    train = data.train_images
    digits = classifier["digit"].values
    height, width = data.image_shape
    n_visible, n_hidden = W.shape
    n_snapshots, n_chains = snapshots.shape[:2]
    monitored = "all" if len(train) <= MONITOR_IMAGES else f"a fixed random subset of {MONITOR_IMAGES}"
    epochs = np.arange(1, len(trained["learning_rate"]) + 1)
    return xr.Dataset(
        {
            "W": _var(("visible", "hidden"), W, "1", "visible-hidden coupling (units of k_B T)"),
            "b_visible": _var("visible", b_v, "1", "visible bias (units of k_B T)"),
            "b_hidden": _var("hidden", b_h, "1", "hidden bias (units of k_B T)"),
            "learning_rate": _var("epoch", trained["learning_rate"], "1", "learning rate of the epoch"),
            "reconstruction_error": _var("epoch", trained["reconstruction_error"], "1",
                                         "mean squared error per pixel of the mean-field reconstruction"
                                         f" of {monitored} training images"),
            "pseudo_log_likelihood": _var("epoch", trained["pseudo_log_likelihood"], "nat",
                                          f"stochastic pseudo-log-likelihood per image of {monitored} training images"),
            "classifier_coef": classifier["classifier_coef"].variable,
            "classifier_intercept": classifier["classifier_intercept"].variable,
            "train_class_frequency": _var("digit", np.bincount(data.train_labels, minlength=digits.size) / len(train),
                                          "1", "fraction of the training images in each class"),
            "gibbs_visible": _var(("gibbs_snapshot", "gibbs_chain", "visible"), snapshots.astype(np.int8), "1",
                                  "visible states of block-Gibbs chains at T = 1 (abstract domain)"),
        },
        coords={
            "visible": ("visible", np.arange(n_visible), {"units": "1", "long_name": "visible unit (pixel) index"}),
            "hidden": ("hidden", np.arange(n_hidden), {"units": "1", "long_name": "hidden unit index"}),
            "pixel_row": ("visible", np.arange(n_visible) // width, {"units": "1", "long_name": "pixel row"}),
            "pixel_column": ("visible", np.arange(n_visible) % width, {"units": "1", "long_name": "pixel column"}),
            "epoch": ("epoch", epochs, {"units": "1", "long_name": "training epoch"}),
            "digit": ("digit", digits, {"units": "1", "long_name": "class label (digit)"}),
            "gibbs_snapshot": ("gibbs_snapshot", every * np.arange(1, n_snapshots + 1),
                               {"units": "1", "long_name": "block-Gibbs steps since the random start"}),
            "gibbs_chain": ("gibbs_chain", np.arange(n_chains),
                            {"units": "1", "long_name": "independent Gibbs chain"}),
        },
        attrs={
            "title": "Restricted Boltzmann machine trained on binarised digit images",
            "image_height": int(height),
            "image_width": int(width),
            "n_train_images": int(len(train)),
            "n_test_images": int(len(data.test_images)),
        },
    )


def _bounds_attrs(bounds: dict | None, W, b_v, b_h) -> dict:
    """NetCDF attributes of the training bounds ("none" where off) and how many parameters sit at them."""
    bounds = bounds or {}
    attrs = {key: "none" if bounds.get(key) is None else float(bounds[key])
             for key in ("bias_min", "bias_max", "weight_abs_max", "representable_bias_min", "representable_bias_max")}
    b = np.concatenate([b_v, b_h])
    attrs["n_biases_at_bound"] = (0 if bounds.get("bias_min") is None
                                  else int(np.sum((b == bounds["bias_min"]) | (b == bounds["bias_max"]))))
    attrs["n_weights_at_bound"] = (0 if bounds.get("weight_abs_max") is None
                                   else int(np.sum(np.abs(W) == bounds["weight_abs_max"])))
    return attrs


def rbm_parameters(rbm: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W, b_v, b_h)`` of an RBM dataset written by :func:`train_rbm_dataset`.

    A non-finite weight or bias is refused, naming the file, the variable and the units
    (:func:`lif_tempering.io.finite_values`).
    """
    return tuple(finite_values(rbm, name) for name in ("W", "b_visible", "b_hidden"))


def rbm_classifier(rbm: xr.Dataset) -> SoftmaxClassifier:
    """The classifier stored with an RBM dataset (label images with :func:`lif_tempering.learning.classifier.classify`)."""
    return SoftmaxClassifier(rbm["classifier_coef"].values, rbm["classifier_intercept"].values)


def lif_rbm_samples(rbm: xr.Dataset, p: NeuronParameters, calibration: ActivationPoint, settings: dict,
                    coupling_scale: float, dt_ms: float, seed: int, cache_dir: str | os.PathLike,
                    threads: int = 1) -> SamplingResult:
    """Sample the RBM with a LIF network (renewing synapses) at the calibration's noise, T = 1.

    Units are ordered visible first, then hidden. ``settings``: duration_ms,
    burn_in_ms, sample_dt_ms and stp (Tsodyks-Markram parameters of the synapses,
    :func:`~lif_tempering.neuron.stp.stp_from_config`; absent: renewing). Returns samples int8 (time, unit); its ``params``
    add the RBM's layout (n_visible, n_hidden, image size, data set, training
    seed) and the :func:`layer_activity` of the samples.
    """
    from lif_tempering.neuron.stp import stp_from_config
    from lif_tempering.sampling.network import (  # Brian2 only for LIF jobs: the others start faster
        BoltzmannSampler,
        SamplingResult,
    )

    W, b_v, b_h = rbm_parameters(rbm)
    n_visible, n_hidden = W.shape
    sampler = BoltzmannSampler(n_visible + n_hidden, settings["duration_ms"], cache_dir, n_networks=1,
                               pattern="bipartite", n_visible=n_visible, synapse="renewing", dt_ms=dt_ms,
                               sample_dt_ms=settings["sample_dt_ms"], burn_in_ms=settings["burn_in_ms"],
                               stp=stp_from_config(settings.get("stp")), report_period_s=30.0, threads=threads)
    result = sampler.sample([rbm_as_bm(W, b_v, b_h)], p, calibration, seed, coupling_scale)
    sampler.close()
    samples = result.samples[:, 0]
    params = dict(result.params, title="LIF network samples of a trained RBM at T = 1 (visible units first)",
                  n_visible=n_visible, n_hidden=n_hidden,
                  **{key: rbm.attrs[key] for key in ("dataset", "training_seed", "image_height", "image_width")},
                  **layer_activity(rbm, samples))
    return SamplingResult(samples, result.times_ms, result.spike_times_ms, result.spike_units, params)


def layer_activity(rbm: xr.Dataset, samples) -> dict[str, float]:
    """Mean activity of each layer in ``samples`` (time, unit; visible first) and what the RBM predicts from it.

    ``mean_hidden_given_visible`` is the average of ``p(h_j = 1 | v)`` over the sampled
    visible states, ``mean_visible_given_hidden`` likewise: a sampler of the RBM
    has ``mean_hidden == mean_hidden_given_visible`` and
    ``mean_visible == mean_visible_given_hidden`` (up to sampling noise).
    """
    W, b_v, b_h = rbm_parameters(rbm)
    z = np.asarray(samples, dtype=np.float64)
    v, h = z[:, :W.shape[0]], z[:, W.shape[0]:]
    return {
        "mean_visible": float(v.mean()),
        "mean_hidden": float(h.mean()),
        "mean_visible_given_hidden": float(expit(h @ W.T + b_v).mean()),
        "mean_hidden_given_visible": float(expit(v @ W + b_h).mean()),
    }

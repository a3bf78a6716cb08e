"""The generative model of the study: RBM training on binary digits, evaluation, LIF sampling.

:func:`train_rbm_dataset` trains one RBM (one data set, one training seed) and
evaluates it: annealed importance sampling of log Z and the average
log-likelihood of the test images, a classifier (multinomial logistic
regression on the binarised training images) that later labels samples, and a
few abstract block-Gibbs samples for figures. :func:`lif_rbm_samples` maps a
trained RBM onto a LIF network (visible units first) and samples it at T = 1.
Log-probabilities are in nats; weights and biases in units of k_B T.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from scipy.special import expit

from .boltzmann import rbm_as_bm
from .datasets import DATASETS, IDX_DATASETS, BinaryImages, load_digits_binary, load_idx_binary
from .mixing import SoftmaxClassifier
from .parameters import NeuronParameters
from .rbm import (
    ais_log_partition,
    average_log_likelihood,
    base_rate_visible_bias,
    classification_accuracy,
    sample_rbm_gibbs,
    train_classifier,
    train_rbm,
)
from .temperature import ActivationPoint

if TYPE_CHECKING:
    from .network import SamplingResult

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


def train_rbm_dataset(data: BinaryImages, settings: dict, seed: int, dataset: str, training_seed: int,
                      log=print) -> xr.Dataset:
    """Train and evaluate one RBM on ``data``; the result as a dataset (see module docstring).

    ``settings``: the ``rbm`` config (n_hidden, epochs, batch_size, method,
    gibbs_steps_per_update, n_persistent_chains, learning_rate_start,
    learning_rate_end, momentum, weight_decay, init_scale, ais, classifier_c,
    gibbs_samples). ``seed`` seeds training, AIS and the Gibbs samples (separate
    streams); ``dataset`` and ``training_seed`` (the index of the RBM) are recorded
    as attributes. ``log`` receives one progress line per epoch and a summary.
    """
    train_seed, ais_seed, sample_seed = np.random.SeedSequence(int(seed)).spawn(3)
    train, test = data.train_images, data.test_images
    trained = train_rbm(
        train, settings["n_hidden"], settings["epochs"], batch_size=settings["batch_size"],
        learning_rate=(settings["learning_rate_start"], settings["learning_rate_end"]),
        momentum=settings["momentum"], weight_decay=settings["weight_decay"], method=settings["method"],
        k=settings["gibbs_steps_per_update"], seed=np.random.default_rng(train_seed),
        n_persistent_chains=settings["n_persistent_chains"], init_scale=settings["init_scale"], log=log)
    W, b_v, b_h = trained["W"], trained["b_v"], trained["b_h"]
    ais = settings["ais"]
    log_z, log_z_stderr = ais_log_partition(W, b_v, b_h, ais["n_betas"], ais["n_runs"],
                                            seed=np.random.default_rng(ais_seed),
                                            base_b_v=base_rate_visible_bias(train))
    test_ll = average_log_likelihood(test, W, b_v, b_h, log_z)
    train_ll = average_log_likelihood(train, W, b_v, b_h, log_z)
    log(f"AIS: log Z = {log_z:.3f} +- {log_z_stderr:.3f}; average log-likelihood: train {train_ll:.3f}, "
        f"test {test_ll:.3f} nats per image")
    classifier = train_classifier(train, data.train_labels, regularisation_c=settings["classifier_c"])
    test_accuracy = classification_accuracy(classifier, test, data.test_labels)
    train_accuracy = classification_accuracy(classifier, train, data.train_labels)
    log(f"classifier accuracy: train {train_accuracy:.4f}, test {test_accuracy:.4f}")
    n_classes = len(classifier.classes_)
    gibbs = settings["gibbs_samples"]
    every = gibbs["steps_between_snapshots"]
    visible, _ = sample_rbm_gibbs(W, b_v, b_h, gibbs["n_snapshots"] * every, gibbs["n_chains"],
                                  seed=np.random.default_rng(sample_seed))
    snapshots = visible[every - 1::every]
    height, width = data.image_shape
    n_visible, n_hidden = W.shape
    epochs = np.arange(1, settings["epochs"] + 1)
    return xr.Dataset(
        {
            "W": _var(("visible", "hidden"), W, "1", "visible-hidden coupling (units of k_B T)"),
            "b_visible": _var("visible", b_v, "1", "visible bias (units of k_B T)"),
            "b_hidden": _var("hidden", b_h, "1", "hidden bias (units of k_B T)"),
            "learning_rate": _var("epoch", trained["learning_rate"], "1", "learning rate of the epoch"),
            "reconstruction_error": _var("epoch", trained["reconstruction_error"], "1",
                                         "mean squared error per pixel of the mean-field reconstruction"
                                         " of the training images"),
            "pseudo_log_likelihood": _var("epoch", trained["pseudo_log_likelihood"], "nat",
                                          "stochastic pseudo-log-likelihood per training image"),
            "classifier_coef": _var(("digit", "visible"), classifier.coef_, "1",
                                    "logistic-regression weight of each pixel for each class"),
            "classifier_intercept": _var("digit", classifier.intercept_, "1",
                                         "logistic-regression intercept of each class"),
            "train_class_frequency": _var("digit", np.bincount(data.train_labels, minlength=n_classes) / len(train),
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
            "digit": ("digit", classifier.classes_, {"units": "1", "long_name": "class label (digit)"}),
            "gibbs_snapshot": ("gibbs_snapshot", every * np.arange(1, gibbs["n_snapshots"] + 1),
                               {"units": "1", "long_name": "block-Gibbs steps since the random start"}),
            "gibbs_chain": ("gibbs_chain", np.arange(gibbs["n_chains"]),
                            {"units": "1", "long_name": "independent Gibbs chain"}),
        },
        attrs={
            "title": "Restricted Boltzmann machine trained on binarised digit images",
            "ais_log_z": log_z,
            "ais_log_z_stderr": log_z_stderr,
            "test_log_likelihood": test_ll,
            "train_log_likelihood": train_ll,
            "log_likelihood_units": "nats per image (AIS estimate of log Z)",
            "classifier_test_accuracy": test_accuracy,
            "classifier_train_accuracy": train_accuracy,
            "image_height": int(height),
            "image_width": int(width),
            "n_train_images": int(len(train)),
            "n_test_images": int(len(test)),
            "dataset": dataset,
            "training_seed": int(training_seed),
            "seed": int(seed),
        },
    )


def rbm_parameters(rbm: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W, b_v, b_h)`` of an RBM dataset written by :func:`train_rbm_dataset`."""
    return rbm["W"].values, rbm["b_visible"].values, rbm["b_hidden"].values


def rbm_classifier(rbm: xr.Dataset) -> SoftmaxClassifier:
    """The classifier stored with an RBM dataset (label images with :func:`lif_tempering.mixing.classify`)."""
    return SoftmaxClassifier(rbm["classifier_coef"].values, rbm["classifier_intercept"].values)


def lif_rbm_samples(rbm: xr.Dataset, p: NeuronParameters, calibration: ActivationPoint, settings: dict,
                    coupling_scale: float, dt_ms: float, seed: int, cache_dir: str | os.PathLike) -> SamplingResult:
    """Sample the RBM with a LIF network (renewing synapses) at the calibration's noise, T = 1.

    Units are ordered visible first, then hidden. ``settings``: duration_ms,
    burn_in_ms, sample_dt_ms. Returns samples int8 (time, unit); its ``params``
    add the RBM's layout (n_visible, n_hidden, image size, data set, training
    seed) and the :func:`layer_activity` of the samples.
    """
    from .network import BoltzmannSampler, SamplingResult  # Brian2 only for LIF jobs: the others start faster

    W, b_v, b_h = rbm_parameters(rbm)
    n_visible, n_hidden = W.shape
    sampler = BoltzmannSampler(n_visible + n_hidden, settings["duration_ms"], cache_dir, n_networks=1,
                               pattern="bipartite", n_visible=n_visible, synapse="renewing", dt_ms=dt_ms,
                               sample_dt_ms=settings["sample_dt_ms"], burn_in_ms=settings["burn_in_ms"],
                               report_period_s=30.0)
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

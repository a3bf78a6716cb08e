"""Tests of the validation study, coupling calibration and RBM study functions (no simulation)."""

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.utils import update_config

from lif_tempering.config import ConfigError, validate_config
from lif_tempering.learning.classifier import classify, train_classifier
from lif_tempering.learning.datasets import BinaryImages
from lif_tempering.learning.rbm import sample_rbm_gibbs
from lif_tempering.learning.study import (
    classifier_dataset,
    job_images,
    layer_activity,
    load_images,
    rbm_classifier,
    rbm_parameters,
    train_rbm_dataset,
)
from lif_tempering.neuron.stp import STPParameters
from lif_tempering.sampling.boltzmann import exact_distribution, random_bm
from lif_tempering.sampling.divergence import kl_target_to_histogram
from lif_tempering.sampling.study import (
    SAMPLERS,
    combine_samplers,
    dkl_over_time,
    gibbs_validation,
    lif_validation,
    pooled_coupling_gain,
    sampling_times_ms,
    validation_machines,
    validation_times_ms,
)

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = {"copies_per_machine": 20, "duration_ms": 2100.0, "burn_in_ms": 100.0, "sample_dt_ms": 1.0,
            "first_dkl_time_ms": 2000.0, "n_dkl_times": 4, "effective_bm_l2": 1e-3}
TAU_REF_MS = 10.0


def load_config(name):
    with open(ROOT / "config" / name) as handle:
        return yaml.safe_load(handle)


# ---------------------------------------------------------------- validation study

def test_sampling_times_are_log_spaced_multiples_of_the_quantum():
    times = sampling_times_ms(1000.0, 1e6, 13, quantum_ms=100.0)
    assert times[0] == 1000.0 and times[-1] == 1e6 and len(times) == 13
    np.testing.assert_allclose(times % 100.0, 0.0)
    np.testing.assert_allclose(np.diff(np.log10(times)), 0.25, atol=0.03)  # 1778 ms -> 1700 ms
    # rounding down to the quantum merges close times, and never gives zero
    assert list(sampling_times_ms(10.0, 250.0, 5, quantum_ms=100.0)) == [100.0, 200.0]
    with pytest.raises(ValueError):
        sampling_times_ms(2.0, 1.0, 3, quantum_ms=1.0)


def test_validation_times_suit_gibbs_and_lif():
    times = validation_times_ms(SETTINGS, TAU_REF_MS)
    quantum = SETTINGS["copies_per_machine"] * TAU_REF_MS
    np.testing.assert_allclose(times % quantum, 0.0)
    assert times[-1] == SETTINGS["copies_per_machine"] * (SETTINGS["duration_ms"] - SETTINGS["burn_in_ms"])


def test_dkl_over_time_pools_the_first_samples_of_every_chain():
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 4, size=(50, 3))
    p_target = np.array([0.1, 0.2, 0.3, 0.4])
    dkl = dkl_over_time(indices, p_target, [5, 50])
    assert dkl[0] == pytest.approx(kl_target_to_histogram(p_target, np.bincount(indices[:5].ravel(), minlength=4)))
    assert dkl[1] == pytest.approx(kl_target_to_histogram(p_target, np.bincount(indices.ravel(), minlength=4)))


def test_gibbs_validation_converges_and_has_unit_coupling_gain():
    seeds = [3, 4]
    machines = validation_machines(3, seeds, 1.0)
    ds = gibbs_validation(machines, SETTINGS, TAU_REF_MS, seed=1)
    assert ds["dkl"].dims == ("bm", "time_ms") and ds["p_sampled"].dims == ("bm", "state")
    assert ds.attrs["sampler"] == "gibbs" and list(ds["state_label"].values[:2]) == ["000", "001"]
    np.testing.assert_allclose(ds["p_sampled"].sum("state"), 1.0)
    # 20 chains x 200 sweeps per machine: D_KL ~ 7 / (2 x 4000) plus autocorrelation
    assert np.all(ds["dkl"][:, -1] < 0.01)
    assert np.all(ds["dkl"][:, -1] < ds["dkl"][:, 0])
    np.testing.assert_allclose(ds["coupling_gain"], 1.0, atol=0.15)
    for name in list(ds.data_vars) + list(ds.coords):
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name
    again = gibbs_validation(machines, SETTINGS, TAU_REF_MS, seed=1)
    np.testing.assert_array_equal(ds["dkl"], again["dkl"])


def test_pooled_coupling_gain_is_the_least_squares_slope():
    machines = validation_machines(4, [0, 1], 1.0)
    effective = [1.3 * W + np.diag(np.full(4, 9.0)) for W, _ in machines]  # the diagonal is ignored
    assert pooled_coupling_gain([W for W, _ in machines], effective) == pytest.approx(1.3)
    W0, W1 = machines[0][0], machines[1][0]
    slope = (np.sum(W0 * 1.0 * W0) + np.sum(W1 * 2.0 * W1)) / (np.sum(W0**2) + np.sum(W1**2))
    assert pooled_coupling_gain([W0, W1], [W0, 2.0 * W1]) == pytest.approx(slope)


def test_combine_samplers_stacks_along_sampler_with_the_machines():
    seeds = [5, 6]
    machines = validation_machines(3, seeds, 1.0)
    gibbs = gibbs_validation(machines, SETTINGS, TAU_REF_MS, seed=2)
    other = gibbs.assign_attrs(sampler="lif", u0_mV=-50.6, alpha_mV=0.8, seed=9)
    ds = combine_samplers([gibbs, other], machines, seeds)
    assert ds["dkl"].dims == ("bm", "sampler", "time_ms")
    assert list(ds["sampler"].values) == ["gibbs", "lif"] and set(SAMPLERS) >= {"gibbs", "lif"}
    assert list(ds["sampling_seed"].values) == [2, 9]
    np.testing.assert_allclose(ds["p_target"].sel(bm=1), exact_distribution(*machines[1]))
    np.testing.assert_allclose(ds["W"].sel(bm=0), machines[0][0])
    assert ds.attrs["n_units"] == 3 and ds.attrs["lif_alpha_mV"] == 0.8 and "sampler" not in ds.attrs
    for name in list(ds.data_vars) + list(ds.coords):
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name


# ---------------------------------------------------------------- RBM study

RBM_SETTINGS = {
    "n_hidden": 6, "epochs": 3, "batch_size": 20, "method": "pcd", "gibbs_steps_per_update": 1,
    "n_persistent_chains": 20, "learning_rate_start": 0.05, "learning_rate_end": 0.01, "momentum": 0.5,
    "weight_decay": 1e-4, "init_scale": 0.01, "ais": {"n_betas": 200, "n_runs": 10},
    "gibbs_samples": {"n_chains": 2, "n_snapshots": 3, "steps_between_snapshots": 4},
}


def prototype_images(n_images, seed):
    """2x4-pixel images of 3 classes: a prototype per class with 5 % of pixels flipped."""
    rng = np.random.default_rng(seed)
    prototypes = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0, 1, 0]])
    labels = rng.integers(0, 3, n_images)
    images = np.where(rng.random((n_images, 8)) < 0.05, 1 - prototypes[labels], prototypes[labels])
    return images.astype(np.int8), labels


@pytest.fixture(scope="module")
def small_rbm():
    train, train_labels = prototype_images(200, 0)
    test, test_labels = prototype_images(50, 1)
    data = BinaryImages(train, train_labels, test, test_labels, (2, 4))
    lines = []
    classifier = classifier_dataset(data, 1.0, "toy")
    return data, train_rbm_dataset(data, RBM_SETTINGS, seed=4, dataset="toy", training_seed=0, classifier=classifier,
                                   log=lines.append), lines


def test_rbm_dataset_layout(small_rbm):
    _, ds, lines = small_rbm
    assert ds["W"].dims == ("visible", "hidden") and ds["W"].shape == (8, 6)
    assert ds["b_visible"].dims == ("visible",) and ds["b_hidden"].dims == ("hidden",)
    for name in ("learning_rate", "reconstruction_error", "pseudo_log_likelihood"):
        assert ds[name].dims == ("epoch",) and ds.sizes["epoch"] == 3
    assert ds["gibbs_visible"].dims == ("gibbs_snapshot", "gibbs_chain", "visible")
    assert ds["gibbs_visible"].dtype == np.int8 and list(ds["gibbs_snapshot"].values) == [4, 8, 12]
    np.testing.assert_array_equal(ds["pixel_row"].values, [0, 0, 0, 0, 1, 1, 1, 1])
    for key in ("ais_log_z", "test_log_likelihood", "classifier_test_accuracy"):
        assert np.isfinite(ds.attrs[key])
    assert ds.attrs["test_log_likelihood"] < 0 and ds.attrs["dataset"] == "toy"
    assert sum(line.startswith("epoch") for line in lines) == 3 and any("AIS" in line for line in lines)
    for name in list(ds.data_vars) + list(ds.coords):
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name


def test_stored_classifier_labels_like_the_fitted_one(small_rbm):
    data, ds, _ = small_rbm
    classifier = train_classifier(data.train_images, data.train_labels)
    labels, _ = classify(rbm_classifier(ds), data.test_images)
    np.testing.assert_array_equal(labels, classifier.predict(data.test_images))
    np.testing.assert_allclose(ds["train_class_frequency"], np.bincount(data.train_labels) / 200)
    assert ds.attrs["classifier_test_accuracy"] > 0.9  # 5 % pixel noise on 3 distinct prototypes


def test_classifier_dataset_is_self_describing_and_must_match_the_images(small_rbm):
    data, ds, _ = small_rbm
    classifier = classifier_dataset(data, 1.0, "toy")
    np.testing.assert_array_equal(classifier["classifier_coef"], ds["classifier_coef"])
    assert classifier.attrs["classifier_test_accuracy"] == ds.attrs["classifier_test_accuracy"]
    for name in list(classifier.data_vars) + list(classifier.coords):
        assert "units" in classifier[name].attrs and "long_name" in classifier[name].attrs, name
    wider = BinaryImages(np.hstack([data.train_images, data.train_images]), data.train_labels,
                         np.hstack([data.test_images, data.test_images]), data.test_labels, (4, 4))
    with pytest.raises(ValueError, match="16 pixels: it was fitted on another data set"):
        train_rbm_dataset(wider, RBM_SETTINGS, seed=4, dataset="toy", training_seed=0, classifier=classifier)


def test_layer_activity_is_consistent_for_rbm_samples(small_rbm):
    _, ds, _ = small_rbm
    W, b_v, b_h = rbm_parameters(ds)
    v, h = sample_rbm_gibbs(W, b_v, b_h, 2000, 20, seed=3)
    # at stationarity each step's (v_t, h_t) is a draw from p(v, h): both conditionals hold
    activity = layer_activity(ds, np.concatenate([v, h], axis=-1).reshape(-1, 14))
    assert activity["mean_visible"] == pytest.approx(activity["mean_visible_given_hidden"], abs=0.01)
    assert activity["mean_hidden"] == pytest.approx(activity["mean_hidden_given_visible"], abs=0.01)


def test_load_images_selects_the_data_set():
    data = load_images("digits", {"threshold": 8, "test_fraction": 0.2}, None, split_seed=3)
    assert data.image_shape == (8, 8) and data.train_images.shape == (1437, 64)
    with pytest.raises(ValueError, match="allowed: digits, mnist, fashion_mnist"):
        load_images("fashion", {}, None, 0)


def test_job_images_reads_the_folder_of_the_job_inputs():
    settings = {"threshold": 8, "test_fraction": 0.2}
    embedded = job_images("digits", settings, [], split_seed=3)
    np.testing.assert_array_equal(embedded.test_images, load_images("digits", settings, None, 3).test_images)
    with pytest.raises(FileNotFoundError):
        job_images("mnist", {"threshold": 127, "downsample": 1}, ["/nonexistent/train-images-idx3-ubyte.gz"], 0)


# ---------------------------------------------------------------- configuration

def test_mnist_config_merges_and_is_valid():
    config = load_config("config.yaml")
    update_config(config, load_config("mnist.yaml"))  # Snakemake's merge of --configfile
    validate_config(config)
    assert config["dataset"] == "mnist" and config["rbm"]["batch_size"] == 50


def test_boltzmann_cross_field_rules():
    config = load_config("config.yaml")
    bad = copy.deepcopy(config)
    bad["lif_sampling"]["burn_in_ms"] = bad["lif_sampling"]["duration_ms"]
    bad["validation"]["first_dkl_time_ms"] = 1e12
    with pytest.raises(ConfigError) as error:
        validate_config(bad)
    assert "lif_sampling.burn_in_ms" in str(error.value) and "validation.first_dkl_time_ms" in str(error.value)
    bad = copy.deepcopy(config)
    bad["dataset"] = "cifar"
    with pytest.raises(ConfigError, match="dataset: 'cifar' is not allowed; allowed: digits, mnist, fashion_mnist"):
        validate_config(bad)


def test_validation_machines_are_the_seeded_random_machines():
    machines = validation_machines(5, [11, 12], 0.5)
    W, b = random_bm(5, 12, 0.5)
    np.testing.assert_array_equal(machines[1][0], W)
    np.testing.assert_array_equal(machines[1][1], b)


@pytest.mark.parametrize("sampler, stp", [("lif_stp", None), ("lif_uncorrected", STPParameters(U=0.5))])
def test_stp_parameters_go_with_the_lif_stp_sampler_only(sampler, stp):
    with pytest.raises(ValueError, match="lif_stp"):
        lif_validation([], None, None, SETTINGS, sampler, 1.0, 0.1, 0, "unused", stp=stp)

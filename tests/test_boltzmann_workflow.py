"""The Boltzmann-machine part of the workflow end to end on config/test.yaml (Snakemake Python API)."""

import filecmp
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from workflow_helpers import assert_described, copy_study, load_test_config, run_workflow

from lif_tempering.io import ENGINE, read_dataset
from lif_tempering.learning.datasets import IDX_FILES

pytestmark = pytest.mark.slow

SAMPLERS = ["gibbs", "lif", "lif_uncorrected", "lif_exponential", "lif_calibrated", "lif_in_the_loop"]
RBM_JOBS = ["train_rbm", "rbm_first_training_seed", "sample_rbm_lif", "rbm_figures", "boltzmann_study"]


@pytest.fixture(scope="module")
def study(finished_test_study, tmp_path_factory):
    """A copy of the session's finished test study (its default target includes boltzmann_study)."""
    return copy_study(finished_test_study, tmp_path_factory.mktemp("boltzmann") / "study")


def test_small_bm_layout(study):
    ds = read_dataset(study / "results/validation/small_bm.nc")
    assert list(ds["sampler"].values) == SAMPLERS
    assert ds["dkl"].dims == ("bm", "sampler", "time_ms") and ds.sizes["bm"] == 2
    assert ds["p_target"].dims == ("bm", "state") and ds.sizes["state"] == 32
    assert ds["p_sampled"].dims == ("bm", "sampler", "state")
    assert ds["W"].dims == ("bm", "unit", "partner_unit")
    assert ds["time_ms"].attrs["units"] == "ms" and ds["dkl"].attrs["units"] == "nat"
    np.testing.assert_allclose(ds["p_target"].sum("state"), 1.0)
    np.testing.assert_allclose(ds["p_sampled"].sum("state"), 1.0)
    assert_described(ds)
    assert ds.attrs["config_hash"] and ds.attrs["git_commit"]


def test_small_bm_science(study):
    ds = read_dataset(study / "results/validation/small_bm.nc")
    coupling = read_dataset(study / "results/validation/coupling.nc")
    dkl = ds["dkl"]
    # 4 chains x 500 sweeps per machine: Gibbs is close (D_KL ~ 31 / (2 x 2000) plus correlation)
    assert np.all(dkl.sel(sampler="gibbs")[:, -1] < 0.05)
    # every sampler's estimate improves with sampling time, for every machine
    assert np.all(dkl[:, :, -1] < dkl[:, :, 0])
    # exponential synapses overcouple more than renewing ones (~1.7 vs ~1.3 measured)
    gain = ds["coupling_gain"].median("bm")
    assert float(gain.sel(sampler="lif_exponential")) > float(gain.sel(sampler="lif_uncorrected")) + 0.2
    # the corrected sampler runs with the calibration's factor and realises about unit gain
    assert float(ds["coupling_scale"].sel(sampler="lif")) == pytest.approx(float(coupling.coupling_correction))
    assert float(coupling.coupling_correction) * float(coupling.coupling_gain) == pytest.approx(1.0)
    assert 1.0 < float(coupling.coupling_gain) < 1.8
    assert abs(float(gain.sel(sampler="lif")) - 1) < abs(float(gain.sel(sampler="lif_uncorrected")) - 1)
    assert_described(coupling)
    # the calibration machines differ from the validation machines
    assert set(coupling["bm_seed"].values).isdisjoint(ds["bm_seed"].values)


def test_rbm_outputs(study):
    rbm = read_dataset(study / "results/rbm/digits/rbm.nc")
    assert filecmp.cmp(study / "results/rbm/digits/rbm.nc", study / "results/rbm/digits/seed0/rbm.nc", shallow=False)
    assert rbm["W"].dims == ("visible", "hidden") and rbm["W"].shape == (64, 16)
    assert rbm["b_visible"].dims == ("visible",) and rbm["b_hidden"].dims == ("hidden",)
    assert rbm["reconstruction_error"].dims == ("epoch",) and rbm.sizes["epoch"] == 4
    assert rbm.attrs["classifier_test_accuracy"] >= 0.85  # logistic regression on binarised 8x8 digits
    assert np.isfinite(rbm.attrs["ais_log_z"]) and rbm.attrs["test_log_likelihood"] < 0
    assert_described(rbm)
    log = (study / "results/logs/rbm/digits/seed0/train.log").read_text()
    assert log.count("epoch ") >= 4 and "classifier accuracy" in log
    with xr.open_dataset(study / "results/rbm/digits/seed0/lif_samples.nc", engine=ENGINE) as samples:
        assert samples["z"].dims == ("time", "unit") and samples["z"].dtype == np.int8
        assert samples["z"].encoding.get("zlib") or samples["z"].encoding.get("compression") == "zlib"
        assert samples.sizes["unit"] == 80 and samples.attrs["n_visible"] == 64
        assert samples["time_ms"].attrs["units"] == "ms" and samples["z"].attrs["long_name"]
        assert samples.attrs["coupling_scale"] != 1.0  # test.yaml applies the correction
        assert 0 < samples.attrs["mean_visible"] < 1
    for name in ("filters", "gibbs_samples", "lif_samples", "training_curves"):
        assert (study / f"results/figures/rbm/digits/seed0/{name}.png").stat().st_size > 10_000
    for name in ("joint_distributions", "dkl_vs_time"):
        assert (study / f"results/figures/validation/{name}.png").stat().st_size > 10_000


def test_network_files_read_like_rbm_files(study):
    """The calibrated and the trained network of the RBM, and of a validation machine: readable by the RBM
    readers, corrections per layer, rounds and updates, all described."""
    from lif_tempering.learning.study import rbm_classifier, rbm_parameters

    rbm = read_dataset(study / "results/rbm/digits/seed0/rbm.nc")
    calibrated = read_dataset(study / "results/rbm/digits/seed0/network_calibrated.nc")
    trained = read_dataset(study / "results/rbm/digits/seed0/network_in_the_loop.nc")
    for network in (calibrated, trained):
        assert_described(network)
        assert list(network["layer"].values) == ["visible", "hidden"]
        assert rbm_parameters(network)[0].shape == (64, 16) and rbm_classifier(network).coef.shape == (10, 64)
        np.testing.assert_array_equal(network["bias_scale"], calibrated["bias_scale"])
    np.testing.assert_array_equal(calibrated["W"], rbm["W"])  # the calibrated network realises the RBM itself
    assert calibrated.sizes["round"] == 2 and trained.sizes["update"] == 2
    assert calibrated.sizes["marginal_round"] == 2 and calibrated["marginal_round_bias_gain"].dims == (
        "marginal_round", "layer")
    assert "marginal round 1:" in (study / "results/logs/rbm/digits/seed0/network_calibrated.log").read_text()
    assert not np.array_equal(trained["W"], rbm["W"])
    assert trained.attrs["target"] == "model" and "the RBM's own moments" in trained.attrs["title"]
    assert "update 1:" in (study / "results/logs/rbm/digits/seed0/network_in_the_loop.log").read_text()
    assert (study / "results/figures/rbm/digits/seed0/network_training.png").stat().st_size > 10_000
    machine = read_dataset(study / "results/validation/networks/in_the_loop/bm1.nc")
    assert_described(machine)
    assert machine["dkl"].dims == ("update",) and machine.attrs["bm"] == 1
    small_bm = read_dataset(study / "results/validation/small_bm.nc")
    np.testing.assert_array_equal(machine["target_W"], small_bm["W"].sel(bm=1))


def test_changing_the_loop_reruns_only_the_loop_jobs(study):
    config = load_test_config()
    config["in_the_loop"]["rbm"]["n_updates"] = 3
    assert run_workflow(study, config, ["networks_study"], dryrun=True) == [
        "network_figures", "networks_study", "train_in_the_loop"]


def test_the_loop_toward_the_data_reads_no_reference_and_learns_other_parameters(study, tmp_path):
    """target data: the loop runs without the RBM's reference and ends elsewhere than the loop toward the RBM's own
    moments (same seeds, same negative-phase noise: only the positive phase differs). Without marginal rounds the
    calibration reads no reference either; its layer corrections, where the loop starts, are the same."""
    data_study = copy_study(study, tmp_path / "study")
    (data_study / "results/rbm/digits/seed0/reference.nc").unlink()
    config = load_test_config()
    config["in_the_loop"]["rbm"]["target"] = "data"
    config["network_calibration"]["rbm"]["marginal_rounds"].update(n_rounds=0, averaged_rounds=1)
    assert run_workflow(data_study, config, ["networks_study"]) == ["calibrate_network", "network_figures",
                                                                   "networks_study", "train_in_the_loop"]
    for name in ("bias_scale", "bias_shift", "coupling_scale"):
        np.testing.assert_array_equal(read_dataset(data_study / "results/rbm/digits/seed0/network_calibrated.nc")[name],
                                      read_dataset(study / "results/rbm/digits/seed0/network_calibrated.nc")[name])
    toward_data = read_dataset(data_study / "results/rbm/digits/seed0/network_in_the_loop.nc")
    toward_model = read_dataset(study / "results/rbm/digits/seed0/network_in_the_loop.nc")
    assert toward_data.attrs["target"] == "data" and "the data" in toward_data.attrs["title"]
    assert not np.allclose(toward_data["W"], toward_model["W"])


def test_nothing_to_do_after_a_finished_run(study):
    assert run_workflow(study, load_test_config(), ["boltzmann_study"], dryrun=True) == []


def test_changing_training_reruns_only_the_rbm_jobs(study):
    config = load_test_config()
    config["rbm"]["epochs"] = 5
    assert run_workflow(study, config, ["boltzmann_study"], dryrun=True) == sorted(RBM_JOBS)


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_mnist(directory: Path) -> None:
    """Tiny MNIST-like IDX files (40 train, 10 test images with stroke-like digits), gzipped, with SHA256SUMS."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 40), ("test", 10)):
        labels = np.arange(n) % 4
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for k, label in enumerate(labels):  # one bar per class, position 6 * label
            images[k, 4:24, 6 * label + 2:6 * label + 6] = 255
        images[rng.random(images.shape) < 0.02] = 255
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    directory.mkdir()
    sums = []
    for key, name in IDX_FILES.items():
        raw = idx_bytes(arrays[key])
        (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        sums.append(f"{hashlib.sha256(raw).hexdigest()}  {name}\n")
    (directory / "SHA256SUMS").write_text("".join(sums))


def test_mnist_from_the_configured_folder_and_checksum_failure(study, tmp_path):
    mnist_dir = tmp_path / "mnist"
    fake_mnist(mnist_dir)
    config = load_test_config()
    config["data_dir"] = f"{tmp_path}/{{dataset}}"
    target = "results/rbm/mnist/seed0/rbm.nc"
    run_workflow(study, config, [target])
    rbm = read_dataset(study / target)
    assert rbm["W"].shape == (196, 16) and rbm.attrs["image_width"] == 14 and rbm.attrs["n_train_images"] == 40
    # A corrupted file: a clear error naming it (in the log of the data set's first job, the classifier),
    # and neither classifier nor RBM written.
    (study / target).unlink()
    name = IDX_FILES["test_labels"]
    (mnist_dir / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(np.array([3, 2, 1], dtype=np.uint8))))
    with pytest.raises(Exception):
        run_workflow(study, config, [target])
    assert not (study / target).exists() and not (study / "results/rbm/mnist/classifier.nc").exists()
    log = (study / "results/logs/rbm/mnist/classifier.log").read_text()
    assert "ChecksumError" in log and f"{name}.gz: SHA-256 of the uncompressed IDX bytes" in log

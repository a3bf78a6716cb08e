"""The parameter scan chooses the schedule on trained RBMs of its own; the study's trained RBMs report it.

Dry runs of config/test.yaml and of the default study (which jobs each trained RBM gets), and the tiny
finished study (slow: what the files say).
"""

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import ROOT, copy_study, load_test_config, scheduled_jobs

from lif_tempering.io import read_dataset

#: Rules of the study's trained RBMs only (training seeds 0 .. rbm.n_training_seeds - 1); the reference also of the
#: scan's where the scan's default network needs it: trained in the loop toward its RBM, or calibrated with marginal
#: rounds (the RBM's own mean visible states).
STUDY_RULES = ("mixing_group", "phase_group", "reference_distribution", "sample_rbm_lif", "rbm_figures")
#: Rules of the scan's trained RBMs only (parameter_scan.first_training_seed onwards).
SCAN_RULES = ("scan_group", "stp_scan_group", "stp_scan_run", "data_statistics")


def training_seeds_by_rule(workdir, config):
    """{rule: set of training seeds of its jobs} of a dry run of ``config`` in an empty ``workdir``."""
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    seeds = {}
    for rule, wildcards in scheduled_jobs(workdir, configfile, dryrun=True):
        if "training_seed" in dict(wildcards):
            seeds.setdefault(rule, set()).add(int(dict(wildcards)["training_seed"]))
    return seeds


def study_and_scan_seeds(config):
    scan = config["parameter_scan"]
    return (set(range(config["rbm"]["n_training_seeds"])),
            set(range(scan["first_training_seed"], scan["first_training_seed"] + scan["n_training_seeds"])))


@pytest.mark.parametrize("name, scan_reference", [("test", True), ("test without marginal rounds", False),
                                                   ("default", True)])
def test_the_scans_jobs_use_only_its_trained_rbms_and_the_studys_only_the_studys(name, scan_reference, tmp_path):
    """test.yaml's scan runs calibrated networks (with marginal rounds: the reference; without: none), the default's
    networks trained in the loop toward their RBMs (the reference)."""
    config = load_test_config() if name.startswith("test") else yaml.safe_load(
        (ROOT / "config" / "config.yaml").read_text())
    if name == "test without marginal rounds":
        config["network_calibration"]["rbm"]["marginal_rounds"].update(n_rounds=0, averaged_rounds=1)
    study, scan = study_and_scan_seeds(config)
    assert study and scan and not study & scan
    seeds = training_seeds_by_rule(tmp_path, config)
    expected = dict.fromkeys(STUDY_RULES, study)
    if scan_reference:
        expected["reference_distribution"] = study | scan
    for rule, training_seeds in expected.items():
        assert seeds[rule] == training_seeds, rule
    for rule in SCAN_RULES:
        assert seeds[rule] == scan, rule
    assert seeds["train_rbm"] == study | scan and seeds["tempering_run"] == study | scan


def test_the_scans_runs_are_its_own_seeds_of_its_own_rbms(tmp_path):
    """Tiny config: every tempered run at a scan-only grid point is of the scan's RBM, seeds 0 .. n_seeds - 1."""
    config = load_test_config()
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    jobs = [dict(w) for rule, w in scheduled_jobs(tmp_path, configfile, dryrun=True)
            if rule in ("tempering_run", "network_run")]
    # the scan runs the default network (tempering.default_network: calibrated)
    scan_only = {(w["training_seed"], w["seed"]) for w in jobs if w["schedule"] == "tempered_f5_T1.3"
                 and w.get("network") == config["tempering"]["default_network"]}
    assert scan_only == {("1", str(seed)) for seed in range(config["parameter_scan"]["n_seeds"])}
    study_runs = {(w["training_seed"], w["seed"]) for w in jobs if w["sampler"] == "gibbs"}
    assert study_runs == {("0", str(seed)) for seed in range(config["tempering"]["n_seeds"])}


@pytest.fixture(scope="module")
def study(finished_test_study, tmp_path_factory):
    """A copy of the session's finished test study."""
    return copy_study(finished_test_study, tmp_path_factory.mktemp("scan_seeds") / "study")


@pytest.mark.slow
def test_the_files_name_disjoint_trained_rbms(study):
    summary = read_dataset(study / "results/mixing/summary.nc")
    scan = read_dataset(study / "results/mixing/parameter_scan.nc")
    assert list(summary["training_seed"].values) == [0] and list(scan["training_seed"].values) == [1]
    np.testing.assert_array_equal(np.atleast_1d(scan.attrs["scan_training_seeds"]), [1])
    np.testing.assert_array_equal(np.atleast_1d(scan.attrs["study_training_seeds"]), [0])
    assert scan.attrs["training_seeds_disjoint"] == 1
    for group in ("scan/f10_T1.5", "stp_scan/free_lif", "stp_scan/U0.1_taurec10"):
        ds = read_dataset(study / f"results/mixing/digits/{group}/training_seed1.nc")
        assert list(ds["training_seed"].values) == [1], group
        # measured against the test images of the scan's RBM, without its class distribution
        assert np.all(np.isfinite(ds["ground_visible_activity_ratio"])) and np.all(np.isnan(ds["class_kl_reference"]))
        assert "reference_class_probability" not in ds, group
    # the scan's calibrated network takes its marginal rounds' targets from its RBM's reference
    assert (study / "results/rbm/digits/seed1/reference.nc").exists()
    statistics = read_dataset(study / "results/rbm/digits/seed1/data_statistics.nc")
    assert 0.0 < statistics.attrs["data_mean_visible"] < 1.0 and statistics.attrs["params_json"]
    headline = pd.read_csv(study / "results/headline/headline.csv").set_index("quantity")["value"]
    assert headline["trained RBMs of the scan (training seeds)"] == "1"
    assert headline["trained RBMs of the study (training seeds)"] == "0"
    assert headline["trained RBMs in both the scan and the study (training seeds)"] == "none"
    verdict = headline["study's runs: ground-state confidence ratio (point estimate) >= 0.9"]
    ratio = float(summary["ground_confidence_ratio"].sel(sampler="lif", network="translated"))
    assert verdict.startswith("met: " if ratio >= 0.9 else "missed: ")

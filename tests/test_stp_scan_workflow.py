"""The STP scan in the workflow: the jobs of the default study (dry runs) and a tiny real scan on config/test.yaml (slow)."""

import itertools

import numpy as np
import pytest
import yaml
from workflow_helpers import ROOT, assert_described, copy_study, load_test_config, run_workflow, scheduled_jobs

from lif_tempering.analysis.stp_scan import stp_point_label
from lif_tempering.io import read_dataset

TARGETS = ["stp_study"]
#: The training seed of the parameter scan's one trained RBM in config/test.yaml (the STP scan runs on it).
SCAN_RBM = load_test_config()["parameter_scan"]["first_training_seed"]
#: The rules of the scan that run again when its grid changes (no tempering run, no other analysis).
SCAN_RULES = ["stp_scan", "stp_scan_figure", "stp_scan_group", "stp_scan_run", "stp_study"]


def default_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def dry_run(workdir, config, targets=TARGETS):
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return [(rule, dict(wildcards)) for rule, wildcards in scheduled_jobs(workdir, configfile, targets, dryrun=True)]


def stp_runs(jobs):
    return {(w["stp_point"], w["training_seed"], w["seed"]) for rule, w in jobs if rule == "stp_scan_run"}


def test_the_default_study_runs_every_grid_point_on_the_scans_rbms_and_seeds(tmp_path):
    """One stp_scan_run per (grid point, training seed, seed) of the parameter scan; the default target makes it."""
    config = default_config()
    jobs = dry_run(tmp_path, config, targets=None)
    points = [stp_point_label(U, tau) for U in config["stp_scan"]["U_values"]
              for tau in config["stp_scan"]["tau_rec_ms_values"]]
    assert {"U0.01_taurec280", "U1_taurec10"} <= set(points)
    # the (training seed, seed) pairs of the parameter scan: those of its tempered runs (of the default network) at a
    # point off the study's
    scan_pairs = {(w["training_seed"], w["seed"]) for rule, w in jobs
                  if rule == "network_run" and w["network"] == config["tempering"]["default_network"]
                  and w["schedule"] == "tempered_f5_T2"}
    assert len(scan_pairs) == config["parameter_scan"]["n_training_seeds"] * config["parameter_scan"]["n_seeds"]
    runs = stp_runs(jobs)
    assert runs == {(point, k, s) for point, (k, s) in itertools.product(points, scan_pairs)}
    assert sum(rule == "stp_scan_run" for rule, _ in jobs) == len(runs) == len(points) * len(scan_pairs)
    groups = {(w["stp_group"], w["training_seed"]) for rule, w in jobs if rule == "stp_scan_group"}
    assert groups == {(group, k) for group in ["free_lif", *points] for k, _ in scan_pairs}
    assert {"stp_scan", "stp_scan_figure"} <= {rule for rule, _ in jobs}


def test_a_new_U_value_adds_only_its_runs(tmp_path):
    config = default_config()
    before = stp_runs(dry_run(tmp_path, config))
    config["stp_scan"]["U_values"] = [0.01, 0.3, 1.0]
    after = stp_runs(dry_run(tmp_path, config))
    assert before < after and {point for point, _, _ in after - before} == {"U0.3_taurec10", "U0.3_taurec280"}


@pytest.fixture(scope="module")
def study(finished_test_study, tmp_path_factory):
    """A copy of the session's finished test study (its default target includes the STP scan)."""
    return copy_study(finished_test_study, tmp_path_factory.mktemp("stp_scan") / "study")


@pytest.mark.slow
def test_scan_layout_and_values(study):
    ds = read_dataset(study / "results/mixing/stp_scan.nc")
    assert_described(ds)
    np.testing.assert_array_equal(ds["U"], [0.1, 1.0])
    np.testing.assert_array_equal(ds["tau_rec_ms"], [10.0])
    assert ds["U"].attrs["units"] == "1" and ds["tau_rec_ms"].attrs["units"] == "ms"
    for name in ("switch_rate_hz", "ground_confidence", "ground_visible_activity_ratio", "ground_free_energy_gap",
                 "switch_ratio_vs_free_lif", "ground_confidence_ratio_vs_free_lif", "ground_activity_ratio_vs_free_lif"):
        for suffix in ("", "_ci_low", "_ci_high"):
            assert ds[f"{name}{suffix}"].dims == ("U", "tau_rec_ms"), name
        assert len(ds[name].attrs["long_name"]) > 20, name
    for name in ("ground_confidence", "ground_visible_activity_ratio", "ground_free_energy_gap",
                 "ground_confidence_ratio_vs_free_lif", "ground_activity_ratio_vs_free_lif"):
        assert np.all(np.isfinite(ds[name])) and np.all(ds[f"{name}_ci_low"] <= ds[f"{name}_ci_high"]), name
    rate = ds["switch_rate_hz"]  # one label per ground-state window: at most one switch per 10 Hz period
    assert np.all(np.isfinite(rate)) and np.all((rate >= 0) & (rate <= 10.0))
    assert np.all(ds["n_runs"] == 3) and int(ds["free_lif_n_runs"]) == 3  # 1 trained RBM x the scan's 3 seeds
    np.testing.assert_allclose(ds["stp_weight_factor"].sel(tau_rec_ms=10.0), [10.0, 1.0])
    assert ds.attrs["bootstrap_method"].startswith("two-stage cluster bootstrap") and ds.attrs["dataset"] == "digits"
    assert ds.attrs["readout_frequency_hz"] == 10.0 and ds.attrs["readout_t_max"] == 1.5
    assert ds.attrs["stp_tau_fac_ms"] == 0.0 and ds.attrs["stp_weight_scaling"] == "rested"
    assert ds.attrs["params_json"] and ds.attrs["config_hash"]
    assert (study / "results/figures/tempering/stp_scan.png").stat().st_size > 10_000


def scan_seeds(study):
    """The sampling seeds of the scan (those of the parameter scan), from the runs of a grid point."""
    folder = study / f"results/sampling/digits/stp_scan/U1_taurec10/training_seed{SCAN_RBM}"
    return sorted(int(path.stem.removeprefix("seed")) for path in folder.glob("seed*.nc"))


@pytest.mark.slow
def test_runs_carry_their_synapses_and_the_noise_of_their_free_lif_run(study):
    seed = scan_seeds(study)[-1]
    runs = {U: read_dataset(study / f"results/sampling/digits/stp_scan/U{U}_taurec10/training_seed{SCAN_RBM}/seed{seed}.nc")
            for U in ("0.1", "1")}
    for U, run in runs.items():
        assert run.attrs["sampler"] == "lif_stp" and run.attrs["schedule"] == "free" and run.attrs["seed"] == seed
        assert run.attrs["stp_U"] == float(U) and run.attrs["stp_tau_rec_ms"] == 10.0
    assert runs["0.1"].attrs["stp_weight_factor"] == pytest.approx(10.0)
    # each run has its free lif run's noise; with U = 1 and tau_rec = tau_syn it is that run, bit for bit
    free_lif = read_dataset(study / f"results/sampling/digits/lif/free/training_seed{SCAN_RBM}/seed{seed}.nc")
    assert runs["0.1"].attrs["rng_seed"] == runs["1"].attrs["rng_seed"] == free_lif.attrs["rng_seed"]
    np.testing.assert_array_equal(runs["1"]["z"].values, free_lif["z"].values)
    assert not np.array_equal(runs["0.1"]["z"].values, free_lif["z"].values)
    renewing = read_dataset(study / "results/mixing/stp_scan.nc").sel(U=1.0, tau_rec_ms=10.0)
    for name in ("switch_rate_hz", "ground_confidence", "ground_visible_activity_ratio"):
        assert float(renewing[name]) == float(renewing[f"free_lif_{name}"]), name
    assert float(renewing["ground_confidence_ratio_vs_free_lif"]) == 1.0


@pytest.mark.slow
def test_nothing_to_do_after_a_finished_scan(study):
    assert run_workflow(study, load_test_config(), TARGETS, dryrun=True) == []


@pytest.mark.slow
def test_a_new_U_value_runs_only_its_point(study):
    config = load_test_config()
    config["stp_scan"]["U_values"] = [0.1, 0.5, 1.0]
    jobs = dry_run(study, config)
    assert sorted({rule for rule, _ in jobs}) == SCAN_RULES
    assert stp_runs(jobs) == {("U0.5_taurec10", str(SCAN_RBM), str(seed)) for seed in scan_seeds(study)}
    assert len(scan_seeds(study)) == load_test_config()["parameter_scan"]["n_seeds"]
    assert [w["stp_group"] for rule, w in jobs if rule == "stp_scan_group"] == ["U0.5_taurec10"]


@pytest.mark.slow
def test_dropping_a_U_value_reruns_only_the_summary(study):
    config = load_test_config()
    config["stp_scan"]["U_values"] = [1.0]
    assert sorted({rule for rule, _ in dry_run(study, config)}) == ["stp_scan", "stp_scan_figure", "stp_study"]

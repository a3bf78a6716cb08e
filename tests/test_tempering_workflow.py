"""The tempering part of the workflow end to end on config/test.yaml (Snakemake Python API)."""


import numpy as np
import pytest
import xarray as xr
import yaml
from workflow_helpers import (
    assert_described,
    copy_study,
    load_test_config,
    run_workflow,
    scheduled_jobs,
    write_config,
)

from lif_tempering.io import ENGINE, read_dataset

pytestmark = pytest.mark.slow

RUN_DIMS = ("network", "sampler", "schedule", "training_seed", "seed")
RUN_METRICS = {"switch_rate_hz": "Hz", "coverage_time_s": "s", "ground_confidence": "1", "class_kl_final": "nat",
               "class_kl_reference_final_floor": "nat"}
#: Per trained RBM: the seeds as chains of one sampler.
CHAIN_METRICS = {"r_hat_label": "1", "ess_bulk_label": "1", "ess_bulk_label_per_s": "Hz", "r_hat_free_energy": "1",
                 "ess_bulk_free_energy_per_s": "Hz", "pooled_class_kl_reference": "nat",
                 "pooled_class_kl_reference_floor": "nat", "pooled_class_kl_prior_excess": "nat"}
CONDITIONAL_METRICS = ("conditional_bias_gain", "conditional_coupling_gain", "conditional_offset",
                       "conditional_calibration_error", "conditional_calibration_error_floor")
#: The scan runs the study's default network (tempering.default_network; calibrated in the test configuration).
SCAN_JOBS = ["network_run", "parameter_scan", "parameter_scan_figure", "scan_group", "tempering_study"]


def present(ds, name):
    """The values of a per-run variable of the runs that exist (a corrected network has lif runs only)."""
    exists = ds["duration_s"].notnull().transpose(*RUN_DIMS).values
    return ds[name].transpose(*RUN_DIMS).values[exists]


@pytest.fixture(scope="module")
def study(finished_test_study, tmp_path_factory):
    """A copy of the session's finished test study (its default target includes tempering_study)."""
    return copy_study(finished_test_study, tmp_path_factory.mktemp("tempering") / "study")


def test_summary_layout_and_units(study):
    ds = read_dataset(study / "results/mixing/summary.nc")
    assert sorted(ds["network"].values) == ["calibrated", "in_the_loop", "translated"]
    assert list(ds["sampler"].values) == ["lif", "gibbs"]
    assert list(ds["schedule"].values) == ["free", "tempered"]
    assert list(ds["seed"].values) == [0, 1] and list(ds["training_seed"].values) == [0]
    for name, units in RUN_METRICS.items():
        assert ds[name].dims == RUN_DIMS, name
        assert ds[name].attrs["units"] == units, name
        assert ds[f"{name}_mean"].dims == ("network", "sampler", "schedule") and ds[f"{name}_ci_low"].attrs["units"] == units
    for name, units in CHAIN_METRICS.items():
        assert ds[name].dims == RUN_DIMS[:-1] and ds[name].attrs["units"] == units, name
        assert ds[f"{name}_mean"].dims == ("network", "sampler", "schedule"), name
    for name in ("switch_ratio", "switch_ratio_ci_low", "switch_ratio_ci_high", "ground_confidence_ratio",
                 "switch_ratio_glm", "switch_ratio_glm_ci_low", "switch_ratio_glm_ci_high", "zero_free_switch_fraction",
                 "ess_ratio"):
        assert ds[name].dims == ("network", "sampler") and ds[name].attrs["units"] == "1", name
    assert ds["switch_ratio_ci_low"].attrs["confidence"] == 0.95
    assert ds["n_switches"].dims == RUN_DIMS and ds["n_switches"].attrs["units"] == "1"
    assert ds["ess_bulk_label_censored"].dims == RUN_DIMS[:-1]
    assert ds["ess_bulk_label_censored_fraction"].dims == ("network", "sampler", "schedule")
    chains = ds["duration_s"].notnull().any("seed").transpose(*RUN_DIMS[:-1]).values  # the corrected networks: lif only
    ess = ds["ess_bulk_label"].transpose(*RUN_DIMS[:-1]).values
    assert np.all(ess[chains] > 0) and np.all(np.isnan(ess[~chains]))  # censored chains enter at one draw per seed
    assert ds["window_label"].dims == (*RUN_DIMS, "window") and ds.sizes["window"] >= 19
    assert ds["class_kl_floor"].dims == (*RUN_DIMS, "kl_time_s")
    for name in CONDITIONAL_METRICS:
        assert ds[name].dims == (*RUN_DIMS, "layer"), name
        assert ds[f"{name}_mean"].dims == ("network", "sampler", "schedule", "layer"), name
    assert ds["conditional_fraction_on_pooled"].dims == ("network", "sampler", "schedule", "layer", "field_bin")
    assert ds["field_bin"].attrs["units"] == "1" and "field" in ds["field_bin"].attrs["long_name"]
    assert ds["switch_ratio_by_training_seed"].dims == ("network", "sampler", "training_seed")
    assert ds.attrs["bootstrap_method"].startswith("two-stage cluster bootstrap")
    assert_described(ds)
    assert ds.attrs["readout_frequency_hz"] == 10.0 and ds.attrs["readout_t_max"] == 1.5
    assert ds.attrs["config_hash"] and ds.attrs["params_json"]


def test_summary_sanity(study):
    ds = read_dataset(study / "results/mixing/summary.nc")
    # lif in three networks and gibbs in the translated one, free and tempered, 1 trained RBM x 2 seeds
    exists = ds["duration_s"].notnull()
    assert int(exists.sum()) == 4 * 2 * 2 and not bool(exists.sel(network="in_the_loop", sampler="gibbs").any())
    rate = present(ds, "switch_rate_hz")
    # one majority label per ground-state window: at most one switch per period
    assert np.all((rate >= 0) & (rate <= 10.0))
    confidence = present(ds, "ground_confidence")
    assert np.all((confidence > 0.1) & (confidence <= 1.0))
    assert np.all(present(ds, "n_windows") >= 19)  # 2 s after burn-in at 10 Hz
    np.testing.assert_allclose(present(ds, "duration_s"), 2.0)
    coverage = present(ds, "coverage_time_s")
    assert np.all(np.isinf(coverage) | ((coverage >= 0) & (coverage <= 2.0)))
    ratio = ds["switch_ratio"].values
    mean = ds["switch_rate_hz_mean"]
    np.testing.assert_allclose(ratio, (mean.sel(schedule="tempered") / mean.sel(schedule="free")).values)
    # the runs have equal durations: the GEE's estimate is the ratio of the pooled rates; one trained RBM gives it
    # no cluster-robust interval
    np.testing.assert_allclose(ds["switch_ratio_glm"].values, ratio, rtol=1e-6)
    low, high = ds["switch_ratio_glm_ci_low"].values, ds["switch_ratio_glm_ci_high"].values
    assert not np.any(np.isfinite(low) & np.isfinite(high))
    # Gibbs samples the trained RBM itself: its free runs follow their conditionals (a loose bound: 200 sweeps of
    # a barely trained RBM, whose hidden biases hardly vary and leave the hidden bias gain undetermined;
    # tests/test_tempering_study.py holds the gains to their intervals)
    gibbs = ds["conditional_coupling_gain"].sel(network="translated", sampler="gibbs", schedule="free")
    assert np.all(np.abs(gibbs - 1.0) < 0.5)
    # every resample's ratio is sum_k w_k t_k / sum_k w_k f_k over the paired runs k with the same weights w_k >= 0
    # on both sides, so it lies between the smallest and the largest paired ratio t_k / f_k (the mediant
    # inequality), and so do the percentile bounds; the estimate (all w_k = 1) too. A percentile interval need
    # not contain the estimate.
    translated = ds.sel(network="translated")
    rates = translated["switch_rate_hz"].transpose("sampler", "schedule", "training_seed", "seed").values
    ratio = translated["switch_ratio"].values
    low, high = translated["switch_ratio_ci_low"].values, translated["switch_ratio_ci_high"].values
    for i in range(rates.shape[0]):
        tempered, free = rates[i, 1].ravel(), rates[i, 0].ravel()
        both = np.isfinite(tempered) & np.isfinite(free) & ((tempered > 0) | (free > 0))  # 0 / 0: no ratio
        if not both.any():  # no run of the sampler ever switched: no ratio at all
            assert np.isnan(ratio[i]) and np.isnan(low[i]) and np.isnan(high[i])
            continue
        with np.errstate(divide="ignore"):
            paired = tempered[both] / free[both]
        slack = 1e-12 * np.abs(paired).max(initial=0, where=np.isfinite(paired))
        # resamples of 0 / 0 pairs only count as 0 in the low tail and as inf in the high tail
        assert paired.min() - slack <= ratio[i] <= paired.max() + slack, (i, ratio[i], paired)
        assert low[i] == 0 or paired.min() - slack <= low[i] <= paired.max() + slack, (i, low[i], paired)
        assert high[i] == np.inf or paired.min() - slack <= high[i] <= paired.max() + slack, (i, high[i], paired)
        assert low[i] <= high[i]


def test_reference_and_quality_measures(study):
    """Every trained RBM has a converged reference; the summary measures runs against it and against the data."""
    reference = read_dataset(study / "results/rbm/digits/seed0/reference.nc")
    assert_described(reference)
    assert reference.attrs["converged"] == 1 and reference.attrs["max_r_hat"] <= reference.attrs["r_hat_max"]
    np.testing.assert_allclose(reference["class_probability"].sum(), 1.0)
    assert reference.attrs["reference_prior_kl"] >= 0.0 and 0.0 < reference.attrs["data_mean_visible"] < 1.0
    ds = read_dataset(study / "results/mixing/summary.nc")
    for name, units in (("ground_free_energy_gap", "nat"), ("ground_visible_activity_ratio", "1"),
                        ("class_kl_reference_final", "nat")):
        assert ds[name].attrs["units"] == units and np.all(np.isfinite(present(ds, name))), name
        assert ds[f"{name}_ci_low"].dims == ("network", "sampler", "schedule"), name
    assert np.all(present(ds, "ground_visible_activity_ratio") > 0.0)
    np.testing.assert_allclose(ds["ground_activity_fidelity"], 1 - np.abs(ds["ground_visible_activity_ratio"] - 1))
    for name in ("ground_activity_ratio", "ground_fidelity_ratio"):
        assert ds[name].dims == ("network", "sampler")
        assert ds[f"{name}_by_training_seed"].dims == ("network", "sampler", "training_seed")
    assert ds["class_kl_reference_mean"].dims == ("network", "sampler", "schedule", "kl_time_s")
    assert ds["class_kl_reference_floor_mean"].dims == ("network", "sampler", "schedule", "kl_time_s")
    np.testing.assert_array_equal(ds["reference_class_probability"].sel(training_seed=0),
                                  reference["class_probability"])


def test_parameter_scan(study):
    ds = read_dataset(study / "results/mixing/parameter_scan.nc")
    assert ds["switch_rate_hz"].dims == ("shape", "frequency_hz", "t_max")
    assert list(ds["shape"].values) == ["sinusoid"] and ds.attrs["readout_delay"] == 0.0
    ds = ds.sel(shape="sinusoid")
    np.testing.assert_array_equal(ds["frequency_hz"], [5.0, 10.0])
    np.testing.assert_array_equal(ds["t_max"], [1.3, 1.5])
    assert ds["frequency_hz"].attrs["units"] == "Hz" and ds["t_max"].attrs["units"] == "1"
    assert ds["switch_rate_hz"].attrs["units"] == "Hz" and ds["ground_confidence"].attrs["units"] == "1"
    assert np.all(ds["switch_rate_hz"] <= ds["frequency_hz"]) and np.all(ds["free_switch_rate_hz"] <= ds["frequency_hz"])
    assert np.all((ds["ground_confidence"] > 0.1) & (ds["ground_confidence"] <= 1.0))
    assert np.all(ds["n_runs"] == 3)  # 1 trained RBM x 3 seeds
    assert ds.attrs["bootstrap_method"].startswith("two-stage cluster bootstrap")
    assert ds.attrs["bootstrap_distinct_resamples"] == 10 and ds.attrs["bootstrap_resamples"] == 200
    for name in ("switch_ratio", "switch_ratio_ci_low", "switch_ratio_ci_high", "ground_confidence_ratio",
                 "ground_activity_ratio", "switch_ratio_by_training_seed"):
        assert name in ds, name
    assert_described(ds)
    # the scan runs the default network on its own trained RBM (training seed 1) with seeds 0, 1, 2; the study's
    # RBM 0 reports the choice
    summary = read_dataset(study / "results/mixing/summary.nc")
    group = read_dataset(study / "results/mixing/digits/scan/f10_T1.5/training_seed1.nc")
    assert ds.attrs["network"] == "calibrated" and list(group["network"].values) == ["calibrated"]
    assert list(group["seed"].values) == [0, 1, 2] and list(summary["seed"].values) == [0, 1]
    assert list(group["training_seed"].values) == [1] and list(summary["training_seed"].values) == [0]
    np.testing.assert_allclose(float(ds["switch_rate_hz"].sel(frequency_hz=10.0, t_max=1.5)),
                               float(group["switch_rate_hz"].sel(schedule="tempered").mean()))
    # the choice: an eligible point with the highest lower interval end, and whether the study uses it
    chosen = read_dataset(study / "results/mixing/parameter_scan.nc")
    eligible = chosen["eligible"].values.astype(bool)
    assert chosen.attrs["selection_min_quality_ratio"] == 0.9
    assert chosen.attrs["configured_frequency_hz"] == 10.0 and chosen.attrs["configured_t_max"] == 1.5
    if eligible.any():
        best = chosen["switch_ratio_ci_low"].where(chosen["eligible"] == 1).max()
        point = chosen.sel(shape=chosen.attrs["chosen_shape"], frequency_hz=chosen.attrs["chosen_frequency_hz"],
                           t_max=chosen.attrs["chosen_t_max"])
        assert int(point["eligible"]) == 1 and float(point["switch_ratio_ci_low"]) == float(best)
    else:
        assert chosen.attrs["chosen_shape"] == ""


def test_runs_are_shared_and_self_describing(study):
    lif, calibrated = study / "results/sampling/digits/lif", study / "results/sampling/digits/networks/calibrated/lif"
    # one free run per seed serves every condition; the main condition is a grid point of the scan, which runs the
    # default (calibrated) network; the translated network runs the main condition and the STP scan's free runs
    assert sorted(p.name for p in calibrated.iterdir()) == ["free", "tempered_f10_T1.3", "tempered_f10_T1.5",
                                                             "tempered_f5_T1.3", "tempered_f5_T1.5"]
    assert sorted(p.name for p in lif.iterdir()) == ["free", "tempered_f10_T1.5"]
    # the scan's grid points are run on the scan's trained RBM only, the free runs on both (seeds of each)
    assert sorted(p.name for p in (calibrated / "tempered_f5_T1.3").iterdir()) == ["training_seed1"]
    assert sorted(p.name for p in (calibrated / "tempered_f5_T1.3/training_seed1").iterdir()) == [
        f"seed{k}.nc" for k in range(3)]
    for runs in (lif, calibrated):
        assert sorted(p.name for p in (runs / "free/training_seed0").iterdir()) == [f"seed{k}.nc" for k in range(2)]
        assert sorted(p.name for p in (runs / "free/training_seed1").iterdir()) == [f"seed{k}.nc" for k in range(3)]
    assert sorted(p.name for p in (lif / "tempered_f10_T1.5").iterdir()) == ["training_seed0"]
    with xr.open_dataset(lif / "tempered_f10_T1.5/training_seed0/seed1.nc", engine=ENGINE) as run:
        assert run["z"].dims == ("time", "unit") and run["z"].dtype == np.int8
        assert run["z"].encoding.get("zlib") or run["z"].encoding.get("compression") == "zlib"
        assert run.sizes["time"] == 2000 and run.sizes["unit"] == 80 and run.attrs["n_visible"] == 64
        temperature, phase = run["temperature"].values, run["phase"].values
        assert temperature.min() >= 1.0 and temperature.max() == pytest.approx(1.5, abs=1e-3)
        assert phase.min() >= 0 and phase.max() < 2 * np.pi and run["phase"].attrs["units"] == "rad"
        assert run.attrs["sampler"] == "lif" and run.attrs["seed"] == 1 and run.attrs["training_seed"] == 0
        assert run.attrs["noise_scheme"] == "compensated" and run.attrs["rate_exc_hz_max"] > run.attrs["rate_exc_hz_min"]
        assert_described(run)
    with xr.open_dataset(study / "results/sampling/digits/gibbs/free/training_seed0/seed0.nc", engine=ENGINE) as run:
        assert run.sizes["time"] == 200 and np.all(run["temperature"].values == 1.0)  # one sweep per tau_ref
    assert_described(read_dataset(study / "results/mixing/digits/gibbs/training_seed0.nc"))
    assert_described(read_dataset(study / "results/mixing/digits/scan/f5_T1.3/training_seed1.nc"))
    for name in ("digit_strip", "class_timelines", "mixing_metrics", "parameter_scan", "phase_diagnostics",
                 "conditional_calibration"):
        assert (study / f"results/figures/tempering/{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("network, schedules", [
    # the default network: the scan's schedules too
    ("calibrated", ["free", "tempered_f10_T1.3", "tempered_f10_T1.5", "tempered_f5_T1.3", "tempered_f5_T1.5"]),
    ("in_the_loop", ["free", "tempered_f10_T1.5"]),
])
def test_corrected_networks_run_with_their_corrections_and_the_translated_runs_seeds(study, network, schedules):
    """Only the lif sampler runs a corrected network, from its network file, with the seeds of the translated runs;
    the summary holds its runs beside the translated network's and no Gibbs runs for it."""
    runs = study / f"results/sampling/digits/networks/{network}"
    assert sorted(p.name for p in runs.iterdir()) == ["lif"]
    assert sorted(p.name for p in (runs / "lif").iterdir()) == schedules
    file = read_dataset(study / f"results/rbm/digits/seed0/network_{network}.nc")
    for schedule in ("free", "tempered_f10_T1.5"):
        corrected = read_dataset(runs / f"lif/{schedule}/training_seed0/seed1.nc")
        plain = read_dataset(study / f"results/sampling/digits/lif/{schedule}/training_seed0/seed1.nc")
        assert corrected.attrs["network"] == network and plain.attrs["network"] == "translated"
        assert corrected.attrs["rng_seed"] == plain.attrs["rng_seed"]
        for name, variable in (("bias_scale", "translation_bias_scale"), ("coupling_scale", "translation_coupling_scale")):
            np.testing.assert_allclose(corrected.attrs[variable], file[name].values)
        unit_shifts = [file[f"unit_bias_shift_{layer}"].values if f"unit_bias_shift_{layer}" in file else np.zeros(1)
                       for layer in ("visible", "hidden")]
        np.testing.assert_allclose(corrected.attrs["translation_bias_shift"],
                                   file["bias_shift"].values + [shift.mean() for shift in unit_shifts])
        np.testing.assert_allclose(corrected.attrs["translation_bias_shift_sd"], [shift.std() for shift in unit_shifts],
                                   atol=1e-12)
        np.testing.assert_allclose(corrected.attrs["translation_coupling_offset"],
                                   file["coupling_offset"].values if "coupling_offset" in file else [0.0, 0.0])
        assert not np.array_equal(corrected["z"].values, plain["z"].values)
        assert_described(corrected)
    ds = read_dataset(study / "results/mixing/summary.nc").sel(network=network)
    assert np.all(np.isfinite(ds["switch_rate_hz"].sel(sampler="lif").values))
    assert np.all(np.isnan(ds["switch_rate_hz"].sel(sampler="gibbs").values))
    assert np.isfinite(float(ds["conditional_coupling_gain_mean"].sel(sampler="lif", schedule="free", layer="hidden")))


def test_phase_diagnostics(study):
    """Phase profiles of the 10 Hz, T_max 1.5 runs: T follows the sinusoid; relaxation times are within a period."""
    ds = read_dataset(study / "results/mixing/phase_diagnostics.nc")
    assert ds["confidence"].dims == ("sampler", "schedule", "training_seed", "seed", "phase")
    assert list(ds["sampler"].values) == ["lif", "gibbs"] and ds.sizes["phase"] == 8
    assert_described(ds)
    run = ds.sel(sampler="lif", schedule="tempered", training_seed=0, seed=0)
    # per bin, the mean of 1 + 0.25 (1 - cos phi) over 12.5 equally spaced phases: within 0.02 of the bin average
    phase_edges = np.linspace(0.0, 2 * np.pi, 9)
    bin_average = 1.25 - 0.25 * (np.sin(phase_edges[1:]) - np.sin(phase_edges[:-1])) / (np.pi / 4)
    np.testing.assert_allclose(run["temperature"], bin_average, atol=0.02)
    np.testing.assert_array_equal(ds["temperature"].sel(schedule="free"), 1.0)
    assert int(run["n_samples"].sum()) == 2000 and float(run["n_peaks"]) == 19  # 19 peaks with a whole period after
    relaxation = ds["relaxation_time_ms"]
    assert np.all((relaxation >= 0) & (relaxation <= 100.0))  # at most one period of 10 Hz
    assert 0.0 < ds.attrs["data_mean_visible"] < 1.0 and ds.attrs["activity_tolerance"] == 0.2
    for name in ("visible_activity", "hidden_activity", "confidence", "label_change_probability"):
        values = ds[name].values
        assert np.all((values >= 0) & (values <= 1)), name


def test_nothing_to_do_after_a_finished_run(study):
    assert run_workflow(study, load_test_config(), ["tempering_study"], dryrun=True) == []


def test_changing_the_scan_reruns_only_the_scan(study):
    config = load_test_config()
    config["parameter_scan"]["frequencies_hz"] = [5.0, 10.0, 20.0]
    assert sorted(set(run_workflow(study, config, ["tempering_study"], dryrun=True))) == SCAN_JOBS


@pytest.mark.parametrize("key, value", [("ground_state_tolerance", 0.1), ("readout_delay", 0.5)])
def test_changing_the_readout_reruns_the_analysis_but_no_run(study, key, value):
    config = load_test_config()
    config["tempering"][key] = value
    assert sorted(set(run_workflow(study, config, ["tempering_study"], dryrun=True))) == [
        "conditional_calibration_figure", "mixing_group", "mixing_summary", "network_mixing_group", "parameter_scan",
        "parameter_scan_figure", "scan_group", "tempering_figures", "tempering_study"]


def test_a_dwell_shape_in_the_scan_adds_tempered_runs_only(study):
    """The free runs serve the dwell conditions too: only the dwell's tempered runs and the scan are new."""
    config = load_test_config()
    config["parameter_scan"]["shapes"] = ["sinusoid", "dwell"]
    jobs = run_workflow(study, config, ["tempering_study"], dryrun=True)
    assert sorted(set(jobs)) == SCAN_JOBS
    assert jobs.count("network_run") == 4 * 3 and jobs.count("scan_group") == 4  # 2 x 2 points x 3 seeds


@pytest.mark.parametrize("network, new_jobs", [
    ("translated", ["tempering_run"]),
    ("in_the_loop", ["calibrate_network", "network_data_statistics", "network_run", "train_in_the_loop"]),
])
def test_the_default_network_is_the_one_the_scan_runs(study, network, new_jobs):
    """Another default network reruns the scan on that network's runs of the scan's RBM (training in the loop where it
    is the in-the-loop network, toward the RBM's own moments, from the scan RBM's reference, which test.yaml's scan
    already has for its calibrated network's marginal rounds, and the calibration it starts from, now without the
    unit and marginal rounds that only a sampled calibrated network needs), the scan's analysis and the headline;
    nothing of the study's own runs."""
    config = load_test_config()
    config["tempering"]["default_network"] = network
    jobs = scheduled_jobs(study, write_config(study, config), ["tempering_study"], dryrun=True)
    assert sorted({rule for rule, _ in jobs}) == sorted(["parameter_scan", "parameter_scan_figure", "scan_group",
                                                         "tempering_study", *new_jobs])
    assert {dict(wildcards)["training_seed"] for rule, wildcards in jobs if rule in new_jobs} == {"1"}
    assert all(dict(wildcards).get("network", network) == network for _, wildcards in jobs)


def test_changing_the_reference_reruns_it_and_the_networks_and_analysis_that_read_it(study):
    """The reference gives the calibration its marginal targets and the loop toward the RBM's own moments its positive
    phase: changing it reruns both networks of every RBM that has it (the scan's calibrated network too, which
    test.yaml's scan runs), their runs, the scan and the analysis; no run of the translated network or of Gibbs."""
    config = load_test_config()
    config["reference"]["n_sweeps"] = 500
    jobs = scheduled_jobs(study, write_config(study, config), ["tempering_study"], dryrun=True)
    assert sorted({rule for rule, _ in jobs}) == [
        "calibrate_network", "conditional_calibration_figure", "mixing_group", "mixing_summary",
        "network_data_statistics", "network_mixing_group", "network_run", "parameter_scan", "parameter_scan_figure",
        "reference_distribution", "scan_group", "tempering_figures", "tempering_study", "train_in_the_loop"]
    runs = [dict(wildcards) for rule, wildcards in jobs if rule == "network_run"]
    assert {run["network"] for run in runs} == {"calibrated", "in_the_loop"}
    assert {dict(wildcards)["training_seed"] for rule, wildcards in jobs if rule == "calibrate_network"} == {"0", "1"}


def test_a_lif_run_reads_only_its_schemes_temperature_map(tmp_path):
    """The compensated runs of the test config need the compensated map and points only (dry run, nothing made)."""
    configfile = tmp_path / "test.yaml"
    configfile.write_text(yaml.safe_dump(load_test_config()))
    jobs = scheduled_jobs(tmp_path, configfile, ["results/sampling/digits/lif/tempered_f10_T1.5/training_seed0/seed0.nc"],
                          dryrun=True)
    assert ("temperature_map", (("scheme", "compensated"),)) in jobs
    assert {dict(wildcards)["scheme"] for _, wildcards in jobs if "scheme" in dict(wildcards)} == {"compensated"}


def test_dropping_the_balanced_scheme_reruns_no_run(study):
    config = load_test_config()
    config["temperature_map"]["schemes"] = ["compensated"]
    assert run_workflow(study, config, ["tempering_study"], dryrun=True) == []

"""Job-level functions of the tempering study on constructed runs (no simulation)."""

import numpy as np
import pytest
import xarray as xr

from lif_tempering.analysis.metrics import count_label_switches
from lif_tempering.analysis.study import (
    choose_schedule,
    mixing_group,
    mixing_summary,
    parameter_scan,
    read_at,
    window_labels,
    with_study_training_seeds,
)
from lif_tempering.learning.reference import model_reference
from lif_tempering.sampling.network_calibration import GroupCorrections, corrections_dataset, network_corrections
from lif_tempering.tempering.runs import make_schedule, run_dataset
from lif_tempering.tempering.study import condition_label, gibbs_run, schedule_label

N_VISIBLE, N_HIDDEN = 4, 2
DURATION_MS, BURN_IN_MS, DT_MS = 10_000.0, 0.0, 5.0
#: class 0: v = (1, 0, ., .), class 1: v = (0, 1, ., .)
STATES = {0: [1, 0, 0, 0, 0, 0], 1: [0, 1, 0, 0, 0, 0]}


def fake_rbm() -> xr.Dataset:
    """An RBM dataset with the variables the tempering study reads (two classes, told apart by pixels 0 and 1)."""
    rng = np.random.default_rng(0)
    return xr.Dataset(
        {"W": (("visible", "hidden"), 0.1 * rng.standard_normal((N_VISIBLE, N_HIDDEN))),
         "b_visible": ("visible", np.zeros(N_VISIBLE)), "b_hidden": ("hidden", np.zeros(N_HIDDEN)),
         "classifier_coef": (("digit", "visible"), np.array([[4.0, -4.0, 0, 0], [-4.0, 4.0, 0, 0]])),
         "classifier_intercept": ("digit", np.zeros(2)),
         "train_class_frequency": ("digit", np.array([0.5, 0.5]))},
        attrs={"dataset": "digits"})


def constructed_run(schedule: str, labels_of_t, frequency_hz: float = 2.0, t_max: float = 2.0, seed: int = 0):
    """A run whose visible state shows class ``labels_of_t(t_ms)`` at every sample."""
    time_ms = np.arange(BURN_IN_MS, DURATION_MS, DT_MS)
    z = np.array([STATES[label] for label in labels_of_t(time_ms)])
    attrs = {"sampler": "gibbs", "seed": seed, "training_seed": 0, "duration_ms": DURATION_MS,
             "burn_in_ms": BURN_IN_MS, "wall_time_s": 1.0}
    return run_dataset(z, time_ms, make_schedule(schedule, t_max, frequency_hz), N_VISIBLE, attrs)


def alternating_every_ms(period_ms):
    """Class 0 and 1 alternating every ``period_ms``, switching 250 ms before multiples of it (away from windows)."""
    return lambda t_ms: (np.floor((t_ms + 250.0) / period_ms) % 2).astype(int)


def test_labels_of_schedules_and_conditions():
    assert schedule_label("free") == "free"
    assert schedule_label("tempered", 0.5, 2.0) == "tempered_f0.5_T2"
    assert schedule_label("tempered", 20.0, 1.25) == "tempered_f20_T1.25"
    assert condition_label(2.0, 3.0) == "f2_T3"
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule_label("square", 2.0, 2.0)


def test_a_free_run_is_read_at_any_frequency_a_tempered_one_only_at_its_own():
    free = constructed_run("free", alternating_every_ms(1000.0))
    at_5 = read_at(free, 5.0)
    assert at_5.attrs["frequency_hz"] == 5.0 and free.attrs["frequency_hz"] == 2.0
    np.testing.assert_allclose(at_5["phase"].values, 2 * np.pi * ((5.0 * at_5["time_ms"].values / 1000.0) % 1.0),
                               atol=1e-9)
    np.testing.assert_array_equal(at_5["z"].values, free["z"].values)
    tempered = constructed_run("tempered", alternating_every_ms(1000.0))
    assert read_at(tempered, 2.0) is tempered
    with pytest.raises(ValueError, match="cannot be read at 5.0 Hz"):
        read_at(tempered, 5.0)


def test_mixing_group_counts_window_switches_at_the_condition_frequency():
    """A chain that changes class every 1 s: at most one switch per second, whatever the readout frequency."""
    rbm = fake_rbm()
    runs = [constructed_run("free", alternating_every_ms(1000.0)),
            constructed_run("tempered", alternating_every_ms(500.0), frequency_hz=2.0)]
    group = mixing_group(runs, rbm, 2.0, 2.0, 0.1, "visible")
    assert group.sizes == {"network": 1, "sampler": 1, "schedule": 2, "training_seed": 1, "seed": 1, "kl_time_s": 20,
                           "class": 2, "window": 21}
    rate = group["switch_rate_hz"].squeeze()
    # 21 windows every 0.5 s: the free label changes every second window, the tempered one at every window
    assert int(group["n_windows"].max()) == 21
    assert float(rate.sel(schedule="free")) == pytest.approx(1.0)
    assert float(rate.sel(schedule="tempered")) == pytest.approx(2.0)
    assert group.attrs["readout_frequency_hz"] == 2.0 and group.attrs["readout_t_max"] == 2.0
    # the free run read at 5 Hz: one switch per second still (the chain's own rate)
    fast = mixing_group(runs[:1], rbm, 5.0, 2.0, 0.1, "visible")
    assert float(fast["switch_rate_hz"].squeeze()) == pytest.approx(1.0)
    assert int(fast["n_windows"].squeeze()) == 51
    labels = window_labels(runs[0], rbm, 2.0, 2.0, 0.1, "visible")
    assert count_label_switches(labels["majority"]) / 10.0 == pytest.approx(float(rate.sel(schedule="free")))
    assert labels["ground"].sum() < labels["ground"].size and labels["window_time_s"].size == 21
    with pytest.raises(ValueError, match="t_max 2.0 in a group of t_max 3.0"):
        mixing_group(runs, rbm, 2.0, 3.0, 0.1, "visible")


def test_dwell_condition_with_readout_delay_reads_free_and_tempered_runs_in_the_same_windows():
    """Dwell 0.5 at 2 Hz, delay 0.5: read exactly the samples with T <= 1.1 in the second half of each window."""
    rbm = fake_rbm()
    time_ms = np.arange(BURN_IN_MS, DURATION_MS, DT_MS)
    dwell = make_schedule("tempered", 2.0, 2.0, shape="dwell", dwell_fraction=0.5)
    attrs = {"sampler": "gibbs", "seed": 0, "training_seed": 0, "duration_ms": DURATION_MS, "burn_in_ms": BURN_IN_MS,
             "wall_time_s": 1.0}
    z = np.array([STATES[label] for label in alternating_every_ms(500.0)(time_ms)])
    runs = [run_dataset(z, time_ms, dwell, N_VISIBLE, attrs),
            constructed_run("free", alternating_every_ms(1000.0), frequency_hz=7.0)]
    assert runs[0].attrs["schedule_shape"] == "dwell" and runs[0].attrs["dwell_fraction"] == 0.5
    group = mixing_group(runs, rbm, 2.0, 2.0, 0.1, "visible", "dwell", 0.5, readout_delay=0.5)
    assert group.attrs["readout_shape"] == "dwell" and group.attrs["readout_delay"] == 0.5
    # 20 windows (the one at 10 s lies before its T = 1 instant: skipped): 9 and 19 switches in 10 s
    assert int(group["n_windows"].max()) == 20
    np.testing.assert_allclose(group["switch_rate_hz"].squeeze().sel(schedule=["free", "tempered"]), [0.9, 1.9])
    expected = (dwell.temperature(time_ms) <= 1.1) & (np.mod(time_ms, 500.0) <= 250.0)
    assert 0.3 < expected.mean() < 0.5
    for run in runs:
        labels = window_labels(run, rbm, 2.0, 2.0, 0.1, "visible", "dwell", 0.5, readout_delay=0.5)
        np.testing.assert_array_equal(labels["ground"], expected)
    with pytest.raises(ValueError, match="shape"):
        mixing_group([constructed_run("tempered", alternating_every_ms(500.0))], rbm, 2.0, 2.0, 0.1, "visible",
                     "dwell", 0.5)


def test_summary_and_scan_of_constructed_groups():
    rbm = fake_rbm()

    def group(frequency_hz, t_max, tempered_period_ms):
        runs = [run for seed in range(3) for run in (
            constructed_run("free", alternating_every_ms(4000.0 + 500 * seed), seed=seed),
            constructed_run("tempered", alternating_every_ms(tempered_period_ms), frequency_hz, t_max, seed))]
        return mixing_group(runs, rbm, frequency_hz, t_max, 0.1, "visible")

    summaries = [mixing_summary([group(f, t, 1000.0 / f)], 1, 500, 0.95) for f, t in ((5.0, 3.0), (2.0, 2.0), (2.0, 3.0),
                                                                                     (5.0, 2.0))]
    assert list(summaries[0]["schedule"].values) == ["free", "tempered"]
    scan = parameter_scan(summaries, [5.0, 2.0], [3.0, 2.0], sampler="gibbs")
    assert scan["switch_rate_hz"].dims == ("shape", "frequency_hz", "t_max")
    assert list(scan["shape"].values) == ["sinusoid"] and "dwell_fraction" not in scan.attrs
    scan = scan.sel(shape="sinusoid")
    np.testing.assert_array_equal(scan["frequency_hz"], [2.0, 5.0])
    np.testing.assert_array_equal(scan["t_max"], [2.0, 3.0])
    # the tempered chain changes class once per period: its rate is the frequency, free runs read the same chains
    np.testing.assert_allclose(scan["switch_rate_hz"].values, [[2.0, 2.0], [5.0, 5.0]])
    assert np.all(scan["free_switch_rate_hz"] < 0.3)
    assert np.all(scan["switch_ratio"] > 5) and np.all(scan["switch_ratio_ci_low"] <= scan["switch_ratio"])
    np.testing.assert_allclose(scan["ground_confidence_ratio"], 1.0)
    assert np.all(scan["n_runs"] == 3)
    assert scan["switch_ratio_by_training_seed"].dims == ("frequency_hz", "t_max", "training_seed")
    np.testing.assert_allclose(scan["switch_ratio_by_training_seed"].sel(training_seed=0), scan["switch_ratio"])
    assert scan.attrs["bootstrap_method"].startswith("two-stage cluster bootstrap")
    assert scan.attrs["bootstrap_distinct_resamples"] == 10  # one trained RBM, 3 seeds: C(5, 3)
    for name in list(scan.data_vars) + list(scan.coords):
        assert scan[name].attrs["units"] and scan[name].attrs["long_name"], name


def _scan_grid(switch_ratio_ci_low, confidence_ratio, fidelity_ratio, quality_half_width=0.0):
    """A scan of one shape over frequencies [1, 2] x t_max [1.5, 2] with the given tables (2 x 2).

    The quality ratios' lower interval ends lie ``quality_half_width`` (a scalar or a 2 x 2 table) below them.
    """
    dims = ("shape", "frequency_hz", "t_max")
    tables = {"switch_ratio_ci_low": switch_ratio_ci_low, "switch_ratio": np.asarray(switch_ratio_ci_low) + 1.0,
              "ground_confidence_ratio": confidence_ratio, "ground_fidelity_ratio": fidelity_ratio,
              "ground_confidence_ratio_ci_low": np.asarray(confidence_ratio) - quality_half_width,
              "ground_fidelity_ratio_ci_low": np.asarray(fidelity_ratio) - quality_half_width}
    return xr.Dataset({name: (dims, np.asarray(table, dtype=float)[None]) for name, table in tables.items()},
                      coords={"shape": ["sinusoid"], "frequency_hz": [1.0, 2.0], "t_max": [1.5, 2.0]})


def test_choose_schedule_keeps_quality_and_maximises_the_interval_low_end():
    configured = {"shape": "sinusoid", "frequency_hz": 1.0, "t_max": 2.0}
    # (2 Hz, 2) has the best interval but loses activity fidelity; (1 Hz, 2) loses confidence
    scan = _scan_grid([[1.2, 1.9], [1.6, 2.5]], [[0.99, 0.94], [0.97, 0.96]], [[1.0, 0.99], [0.96, 0.90]])
    chosen = choose_schedule(scan, 0.95, configured)
    np.testing.assert_array_equal(chosen["eligible"].values[0], [[1, 0], [1, 0]])
    assert (chosen.attrs["chosen_shape"], chosen.attrs["chosen_frequency_hz"], chosen.attrs["chosen_t_max"]) == (
        "sinusoid", 2.0, 1.5)
    assert chosen.attrs["configured_is_chosen"] == 0 and chosen.attrs["selection_min_quality_ratio"] == 0.95
    assert chosen["eligible"].attrs["units"] == "1" and "0.95" in chosen["eligible"].attrs["long_name"]
    # a lower bar admits (2 Hz, 2); the configured schedule is then not it either
    assert choose_schedule(scan, 0.9, configured).attrs["chosen_t_max"] == 2.0
    assert choose_schedule(scan, 0.9, {**configured, "frequency_hz": 2.0}).attrs["configured_is_chosen"] == 1
    # a missing interval (nan) is never chosen; no eligible point leaves the choice empty
    nan_best = _scan_grid([[1.2, 1.9], [np.nan, 2.5]], [[0.99, 0.94], [0.97, 0.96]], [[1.0, 0.99], [0.96, 0.90]])
    assert choose_schedule(nan_best, 0.95, configured).attrs["chosen_frequency_hz"] == 1.0
    none = choose_schedule(scan, 1.0, configured)
    assert none.attrs["chosen_shape"] == "" and np.isnan(none.attrs["chosen_t_max"])
    assert none.attrs["configured_is_chosen"] == 0 and int(none["eligible"].sum()) == 0


def test_choose_schedule_can_hold_the_quality_intervals_to_the_bar():
    """With ``ci_low`` a point whose quality interval reaches below the bar is not eligible, however good its mean."""
    configured = {"shape": "sinusoid", "frequency_hz": 1.0, "t_max": 1.5}
    # every point's mean quality clears 0.95; (2 Hz, 2) has the best switch interval but the widest quality interval
    scan = _scan_grid([[1.2, 1.9], [1.6, 2.5]], [[0.99, 0.98], [0.97, 0.99]], [[1.0, 0.99], [0.99, 1.0]],
                      quality_half_width=np.array([[0.02, 0.01], [0.10, 0.08]]))
    assert choose_schedule(scan, 0.95, configured).attrs["chosen_frequency_hz"] == 2.0
    careful = choose_schedule(scan, 0.95, configured, quality_statistic="ci_low")
    np.testing.assert_array_equal(careful["eligible"].values[0], [[1, 1], [0, 0]])
    assert (careful.attrs["chosen_frequency_hz"], careful.attrs["chosen_t_max"]) == (1.0, 2.0)
    assert careful.attrs["selection_quality_statistic"] == "ci_low"
    assert "ground_confidence_ratio_ci_low" in careful.attrs["selection_rule"]
    with pytest.raises(ValueError, match="quality_statistic"):
        choose_schedule(scan, 0.95, configured, quality_statistic="median")


def test_the_scan_states_whether_its_trained_rbms_are_the_studys():
    scan = xr.Dataset(coords={"training_seed": [5, 6, 7]})
    marked = with_study_training_seeds(scan, range(5))
    assert marked.attrs["training_seeds_disjoint"] == 1
    np.testing.assert_array_equal(marked.attrs["scan_training_seeds"], [5, 6, 7])
    np.testing.assert_array_equal(marked.attrs["study_training_seeds"], [0, 1, 2, 3, 4])
    assert with_study_training_seeds(scan, range(6)).attrs["training_seeds_disjoint"] == 0


def test_gibbs_run_records_its_identity():
    rbm = fake_rbm()
    settings = {"duration_ms": 2000.0, "burn_in_ms": 100.0}
    run = gibbs_run(rbm, make_schedule("tempered", 2.0, 2.0), settings, 10.0, training_seed=1, seed=3, rng_seed=99)
    assert run.attrs["seed"] == 3 and run.attrs["training_seed"] == 1 and run.attrs["rng_seed"] == 99
    assert run.attrs["dataset"] == "digits" and run.sizes["time"] == 190
    again = gibbs_run(rbm, make_schedule("tempered", 2.0, 2.0), settings, 10.0, training_seed=1, seed=3, rng_seed=99)
    np.testing.assert_array_equal(run["z"].values, again["z"].values)


def test_mixing_group_measures_runs_against_the_rbm_reference_and_the_data():
    """Class D_KL to the RBM's own class distribution and the ground-state quality measures, computed exactly."""
    from lif_tempering.learning.rbm import visible_free_energy
    from lif_tempering.learning.reference import model_reference, reference_dataset
    from lif_tempering.learning.study import rbm_classifier, rbm_parameters

    rbm = fake_rbm()
    W, b_v, b_h = rbm_parameters(rbm)
    images = np.array([[1, 0, 1, 0], [0, 1, 1, 0]], dtype=np.int8)  # mean pixel activity 0.5
    settings = {"n_chains": 4, "n_betas": 2, "beta_min": 0.5, "hot_end": "uniform", "n_sweeps": 40, "burn_in_sweeps": 10,
                "adaptation_rounds": 0, "class_bias": False, "class_bias_floor": 0.0, "r_hat_max": 1.5}
    reference = reference_dataset(W, b_v, b_h, rbm_classifier(rbm), rbm["train_class_frequency"].values, images,
                                  np.array([0, 1]), settings, "visible", seed=0)
    run = constructed_run("free", alternating_every_ms(1000.0))
    group = mixing_group([run], rbm, 2.0, 2.0, 0.1, "visible", reference=reference).squeeze()
    ground = window_labels(run, rbm, 2.0, 2.0, 0.1, "visible")["ground"]
    visible = run["z"].values[ground, :N_VISIBLE]
    assert float(group.ground_visible_activity_ratio) == pytest.approx(0.25 / 0.5)  # one pixel of four on
    assert float(group.ground_activity_fidelity) == pytest.approx(0.5)  # half as bright as the data
    assert float(group.ground_free_energy_gap) == pytest.approx(
        visible_free_energy(visible, W, b_v, b_h).mean() - visible_free_energy(images, W, b_v, b_h).mean())
    n_windows = int(group.n_windows)
    histogram = (group.class_fraction.values * n_windows + 0.5) / (n_windows + 1.0)
    target = model_reference(reference).class_probability
    # the direction of every class D_KL: the target against the smoothed histogram
    assert float(group.class_kl_reference_final) == pytest.approx(np.sum(target * np.log(target / histogram)))
    assert float(group.class_kl_reference[-1]) == float(group.class_kl_reference_final)
    np.testing.assert_array_equal(group.reference_class_probability.values, reference.class_probability.values)
    assert float(group.reference_prior_kl) == reference.attrs["reference_prior_kl"]
    assert float(group.reference_confidence) == reference.attrs["reference_confidence"]
    runs = [run, constructed_run("tempered", alternating_every_ms(500.0))]
    groups = [mixing_group([r.assign_attrs(sampler=sampler) for r in runs], rbm, 2.0, 2.0, 0.1, "visible",
                           reference=reference) for sampler in ("lif", "gibbs")]
    summary = mixing_summary(groups, seed=0, n_resamples=100, confidence=0.9)
    assert summary["reference_class_probability"].dims == ("training_seed", "class")
    for name in ("ground_free_energy_gap_mean", "ground_visible_activity_ratio_ci_low", "class_kl_reference_final_mean",
                 "ground_activity_ratio", "class_kl_reference_final_floor_mean", "pooled_class_kl_reference_excess_mean"):
        assert np.all(np.isfinite(summary[name].values)), name
    assert "class_kl_reference_ratio" not in summary  # bias and speed apart: the excess over the floor instead
    assert summary["class_kl_reference_mean"].dims == ("network", "sampler", "schedule", "kl_time_s")
    for name in ("training_seed", "reference_class_probability", "reference_prior_kl", "reference_max_r_hat",
                 "reference_confidence", "data_class_prior", "class_kl_reference", "ground_free_energy_gap"):
        assert {"units", "long_name"} <= set(summary[name].attrs), name


def calibration_rbm(scale: float = 1.0) -> xr.Dataset:
    """fake_rbm with O(1) weights and biases (a fit of bias and coupling gains needs both to vary), times ``scale``."""
    rng = np.random.default_rng(5)
    rbm = fake_rbm()
    rbm["W"] = (("visible", "hidden"), scale * rng.normal(0.0, 1.0, (N_VISIBLE, N_HIDDEN)))
    rbm["b_visible"] = ("visible", scale * rng.normal(0.0, 1.0, N_VISIBLE))
    rbm["b_hidden"] = ("hidden", scale * rng.normal(0.0, 1.0, N_HIDDEN))
    return rbm


def gibbs_calibration_summary(sampled: xr.Dataset, analysed: xr.Dataset) -> xr.Dataset:
    """Free and tempered (T_max 2 at 2 Hz) block-Gibbs runs of ``sampled``, 2 training seeds x 3 seeds of 20 s,
    one sweep per 2 ms, summarised with the conditional calibration against ``analysed``."""
    settings = {"duration_ms": 20_000.0, "burn_in_ms": 200.0}
    groups = []
    for training_seed in (0, 1):
        runs = [gibbs_run(sampled, make_schedule(schedule, 2.0, 2.0), settings, 2.0, training_seed, seed,
                          rng_seed=100 * training_seed + 10 * seed + (schedule == "tempered"))
                for seed in range(3) for schedule in ("free", "tempered")]
        groups.append(mixing_group(runs, analysed, 2.0, 2.0, 0.1, "visible", conditional_stride=1))
    return mixing_summary(groups, seed=3, n_resamples=1000, confidence=0.95).sel(network="translated",
                                                                                 sampler="gibbs")


def test_conditional_calibration_of_gibbs_runs_is_on_the_diagonal():
    """Block Gibbs samples the RBM itself: per layer the free runs' gains' intervals (over 6 runs of ~9900 sweeps,
    RBMs then seeds resampled) hold 1, and are narrow enough to tell a sampler 1.3x too cold (all its gains near
    1.3). The tempered runs are read at 1 <= T <= 1.1, so their gains lie between 1 / 1.1 and 1 (the interval may
    reach 0.02 beyond). The free runs' calibration error is within 3x its floor for independent samples (sweeps of
    this RBM are nearly independent), the cold sampler's above twice its floor (about 8x for free runs)."""
    rbm = calibration_rbm()
    exact = gibbs_calibration_summary(rbm, rbm)
    cold = gibbs_calibration_summary(calibration_rbm(1.3), rbm)
    for gain in ("conditional_bias_gain", "conditional_coupling_gain"):
        low, high = (exact[f"{gain}_ci_{end}"].sel(schedule="free").values for end in ("low", "high"))
        assert np.all((low <= 1.0) & (1.0 <= high)), gain
        assert np.all(high - low < 0.2), gain
        tempered = exact[f"{gain}_mean"].sel(schedule="tempered").values
        assert np.all((1 / 1.1 - 0.02 <= tempered) & (tempered <= 1.02)), gain
        assert np.all(cold[f"{gain}_ci_low"].values > 1.15), gain
    free = exact.sel(schedule="free")
    np.testing.assert_array_less(free["conditional_calibration_error_mean"],
                                 3 * free["conditional_calibration_error_floor_mean"])
    assert np.all(cold["conditional_calibration_error_mean"] > 2 * cold["conditional_calibration_error_floor_mean"])
    assert exact["conditional_fraction_on_pooled"].dims == ("schedule", "layer", "field_bin")
    assert exact["conditional_bias_gain_mean"].attrs["units"] == "1"


def test_a_network_file_gives_its_corrections_per_unit_and_an_rbm_file_the_plain_translation():
    """calibrate_network's file: one (s, t, k) per layer, repeated over the layer's units; rbm.nc: s = 1, t = 0, k = 1."""
    rbm = fake_rbm()
    assert network_corrections(rbm).is_plain
    layers = GroupCorrections(np.array([0.8, 0.7]), np.array([-0.1, -0.4]), np.array([0.79, 0.81]))
    network = xr.merge([rbm, corrections_dataset(layers, ("visible", "hidden"))])
    corrections = network_corrections(network)
    expected = np.repeat([[0.8, 0.7], [-0.1, -0.4], [0.79, 0.81]], [N_VISIBLE, N_HIDDEN], axis=1)
    np.testing.assert_array_equal([corrections.bias_scale, corrections.bias_shift, corrections.coupling_scale],
                                  expected)


def test_ground_state_quality_of_a_network_is_measured_against_the_test_images_under_its_own_machine():
    """The reference's class distribution stays; its data statistics are replaced by the network machine's."""
    reference = xr.Dataset({"class_probability": ("class", np.array([0.25, 0.75]))},
                           attrs={"n_samples": 1000, "data_free_energy": -10.0, "data_mean_visible": 0.3})
    statistics = xr.Dataset(attrs={"data_free_energy": -12.5, "data_mean_visible": 0.3})
    own, network = model_reference(reference), model_reference(reference, statistics)
    assert own.data_free_energy == -10.0 and network.data_free_energy == -12.5
    np.testing.assert_array_equal(own.class_probability, network.class_probability)

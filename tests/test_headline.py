"""The headline table of the report's first page, and the report captions."""

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from docutils.core import publish_parts
from jinja2 import Environment, StrictUndefined
from snakemake.utils import update_config
from workflow_helpers import ROOT

from lif_tempering.analysis.headline import (
    MIXING_ROWS,
    OPTIONAL_MIXING_ROWS,
    SETTINGS,
    format_value,
    front_page_html,
    front_page_table,
    headline_html,
    headline_table,
)
from lif_tempering.analysis.mixing import (
    CHAIN_RATIOS,
    CHAIN_SUMMARY_METRICS,
    RATIOS,
    RATIOS_VS_FREE_LIF,
    SUMMARY_METRICS,
)
from lif_tempering.io import read_dataset, write_dataset

SAMPLERS = ["lif", "gibbs"]
RUN_SETTINGS = {"dataset": "digits", "tempering.samplers": SAMPLERS, "tempering.scheme": "compensated",
            "tempering.t_max": 1.5, "tempering.frequency_hz": 10.0, "tempering.schedule.shape": "dwell",
            "tempering.readout_delay": 0.5, "tempering.ground_state_tolerance": 0.05, "tempering.duration_ms": 2100}


def _per_schedule(values, units, long_name):
    return (("sampler", "schedule"), np.asarray(values, dtype=float), {"units": units, "long_name": long_name})


def _per_sampler(values, units, long_name):
    return (("sampler",), np.asarray(values, dtype=float), {"units": units, "long_name": long_name})


@pytest.fixture()
def summary(tmp_path):
    """A summary.nc with the variable names of mixing.summarize: 2 samplers, 3 trained RBMs x 4 seeds."""
    data = {"switch_rate_hz_mean": _per_schedule([[0.5, 1.25], [2.0, 3.0]], "Hz", "switch rate: mean"),
            "switch_rate_hz_ci_low": _per_schedule([[0.4, 1.0], [1.5, 2.5]], "Hz", "switch rate: low"),
            "switch_rate_hz_ci_high": _per_schedule([[0.6, 1.5], [2.5, 3.5]], "Hz", "switch rate: high"),
            "switch_ratio": _per_sampler([2.5, 1.5], "1", "ratio"),
            "switch_ratio_ci_low": _per_sampler([1.8, 1.1], "1", "ratio: low"),
            "switch_ratio_ci_high": _per_sampler([3.2, 1.9], "1", "ratio: high"),
            "ground_confidence_ratio": _per_sampler([0.96, 1.0], "1", "ratio"),
            "ground_confidence_ratio_ci_low": _per_sampler([0.939, 0.97], "1", "ratio: low"),
            "ground_confidence_ratio_ci_high": _per_sampler([0.985, 1.03], "1", "ratio: high"),
            "ground_activity_ratio": _per_sampler([0.96, 1.01], "1", "ratio"),
            "ground_fidelity_ratio": _per_sampler([1.04, 0.99], "1", "ratio"),
            "ground_fidelity_ratio_ci_low": _per_sampler([1.01, 0.95], "1", "ratio: low"),
            "ground_fidelity_ratio_ci_high": _per_sampler([1.07, 1.03], "1", "ratio: high"),
            "coverage_censored_fraction": _per_schedule([[0.25, 0.0], [0.0, 0.0]], "1", "censored"),
            "switch_ratio_vs_free_lif": _per_schedule([[1.0, 2.5], [4.0, 6.0]], "1", "ratio to free lif"),
            "switch_ratio_vs_free_lif_ci_low": _per_schedule([[1.0, 1.8], [3.0, 4.5]], "1", "low"),
            "switch_ratio_vs_free_lif_ci_high": _per_schedule([[1.0, 3.2], [5.0, 7.5]], "1", "high")}
    for name, value in (("ground_confidence", 0.8), ("coverage_time_s", 1.7)):
        for end, shift in (("mean", 0.0), ("ci_low", -0.1), ("ci_high", 0.1)):
            units = "s" if name == "coverage_time_s" else "1"
            data[f"{name}_{end}"] = _per_schedule(np.full((2, 2), value + shift), units, f"{name}: {end}")
    ds = xr.Dataset(data, coords={"sampler": SAMPLERS, "schedule": ["free", "tempered"], "training_seed": [0, 1, 2],
                                  "seed": [0, 1, 2, 3]},
                    attrs={"dataset": "digits", "readout_t_max": 1.5, "readout_frequency_hz": 10.0,
                           "readout_shape": "dwell", "readout_delay": 0.5, "ground_state_tolerance": 0.05})
    path = tmp_path / "summary.nc"
    write_dataset(ds, path)
    return read_dataset(path)


@pytest.fixture()
def calibration():
    """T = 1 calibration, a membrane sweep of 3 noise rates and a 2-scheme x 3-temperature map."""
    reference = xr.Dataset({"rate_exc_hz": 3000.0, "rate_inh_hz": 3000.0, "alpha_mV": 1.25, "alpha_stderr_mV": 0.02,
                            "alpha_theory_mV": 1.3, "u0_mV": -52.5, "u0_stderr_mV": 0.01, "max_abs_residual": 0.03})
    membrane = xr.Dataset({"std_sim_mV": ("noise", [1.0, 2.1, 2.7]), "std_theory_mV": ("noise", [1.0, 2.0, 3.0]),
                           "mean_sim_mV": ("noise", [-55.0, -55.3, -54.9]),
                           "mean_theory_mV": ("noise", [-55.0, -55.0, -55.0])},
                          coords={"noise": ["a", "b", "c"]})
    shape = ("scheme", "temperature")
    tmap = xr.Dataset({"T_bias": (shape, [[1.0, 1.5, 2.1], [1.0, 1.44, 1.98]]),
                       "tolerances_met": (shape, np.array([[1, 1, 0], [1, 1, 1]], dtype=np.int8)),
                       "u0_shift_alphas": (shape, [[0.0, 0.5, -1.2], [0.0, -0.02, 0.01]]),
                       "rate_exc_hz": (shape, [[3000.0, 5000.0, 8000.0], [3000.0, 4000.0, 6000.0]]),
                       "rate_inh_hz": (shape, [[3000.0, 5000.0, 8000.0], [3000.0, 4500.0, 7000.0]])},
                      coords={"scheme": ["balanced", "compensated"], "temperature": [1.0, 1.5, 2.0]})
    return reference, membrane, tmap


def _value(table, quantity, column=""):
    rows = table[(table["quantity"] == quantity) & (table["column"] == column)]
    assert len(rows) == 1, (quantity, column)
    return rows.iloc[0]


def test_mixing_rows_are_variables_of_the_summary():
    """Every row names a summarised metric, a ratio or one of the summary's own variables."""
    known = {*SUMMARY_METRICS, *CHAIN_SUMMARY_METRICS, *RATIOS, *CHAIN_RATIOS, *RATIOS_VS_FREE_LIF, "switch_ratio_glm",
             "switch_ratio_vs_free_lif_glm", "zero_free_switch_fraction", "coverage_censored_fraction",
             "ess_bulk_label_censored_fraction"}
    unknown = [name for _, name, _ in MIXING_ROWS + OPTIONAL_MIXING_ROWS if name not in known]
    assert not unknown


def test_headline_table_holds_the_summary_numbers(summary, calibration):
    table = headline_table(summary, *calibration, RUN_SETTINGS)
    row = _value(table, "switch rate, tempered", "lif")
    assert (row["value"], row["ci_low"], row["ci_high"], row["unit"]) == (1.25, 1.0, 1.5, "Hz")
    row = _value(table, "switch rate, free", "gibbs")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (2.0, 1.5, 2.5)
    row = _value(table, "switch ratio, tempered / free", "lif")
    assert (row["value"], row["ci_low"], row["ci_high"], row["unit"]) == (2.5, 1.8, 3.2, "1")
    assert _value(table, "ground-state confidence ratio, tempered / free", "gibbs")["value"] == 1.0
    assert _value(table, "ground-state confidence ratio, tempered / free", "lif")["value"] == 0.96
    row = _value(table, "coverage time of all classes, tempered", "lif")
    assert (row["value"], row["unit"]) == (1.7, "s")
    assert row["ci_low"] == pytest.approx(1.6) and row["ci_high"] == pytest.approx(1.8)
    assert _value(table, "runs that never visited every class, free", "lif")["value"] == 0.25
    row = _value(table, "switch rate / the free renewing LIF network's, tempered", "gibbs")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (6.0, 4.5, 7.5)
    assert not (table["quantity"] == "ground-state confidence / the free renewing LIF network's, free").any()
    assert _value(table, "runs per sampler and schedule (trained RBMs x seeds)")["value"] == "3 x 4"
    assert _value(table, "tempering.samplers")["value"] == "lif, gibbs"
    assert _value(table, "tempering.duration_ms")["unit"] == "ms"


def test_class_divergences_to_the_reference_and_to_the_data_prior_stand_beside_their_floors(summary, calibration):
    """Both targets of the class D_KL get a row per schedule, with the floor and the excess, from their own
    variables (a swapped stem would show the reference's numbers as the prior's)."""
    for stem, base in (("pooled_class_kl_reference", 0.3), ("pooled_class_kl_prior", 0.9)):
        for suffix, shift in (("", 0.0), ("_floor", -0.2), ("_excess", -0.1)):
            for end, step in (("mean", 0.0), ("ci_low", -0.01), ("ci_high", 0.01)):
                values = base + shift + step + np.array([[0.0, 0.05], [0.01, 0.06]])
                summary[f"{stem}{suffix}_{end}"] = _per_schedule(values, "nat", f"{stem}{suffix}: {end}")
    table = headline_table(summary, *calibration, RUN_SETTINGS)
    prior = "class D_KL of all seeds' window labels to the data's class prior"
    row = _value(table, f"{prior}, tempered", "lif")
    assert (row["value"], row["unit"]) == (pytest.approx(0.95), "nat")
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(0.94), pytest.approx(0.96))
    assert _value(table, f"{prior}: floor of a sampler drawing it exactly at the same ESS, free",
                  "gibbs")["value"] == pytest.approx(0.71)
    assert _value(table, f"{prior}: excess over the floor, free", "lif")["value"] == pytest.approx(0.8)
    assert _value(table, "class D_KL of all seeds' window labels to the RBM's reference, free",
                  "lif")["value"] == pytest.approx(0.3)
    front = front_page_table(table)
    assert (front["quantity"] == f"{prior}, free").sum() == len(SAMPLERS)


def test_unbounded_intervals_read_as_a_bound_with_their_reason(summary, calibration):
    """A bootstrap ratio whose upper bound is inf (some resamples hold free runs without a switch) reads
    'v [> low]' with the fraction of such resamples; a model ratio whose free runs never switch reads '∞' with the
    reason; the numbers stay inf in the table (and the CSV)."""
    summary = summary.assign(
        switch_ratio_ci_high=summary["switch_ratio_ci_high"].copy(data=[np.inf, 1.9]),
        zero_free_switch_fraction=(("sampler",), [0.037, 0.0], {"units": "1", "long_name": "resamples"}),
        switch_ratio_glm=(("sampler",), [6.5, np.inf], {"units": "1", "long_name": "glm"}),
        switch_ratio_glm_ci_low=(("sampler",), [2.5, np.nan], {"units": "1", "long_name": "glm"}),
        switch_ratio_glm_ci_high=(("sampler",), [17.0, np.inf], {"units": "1", "long_name": "glm"}))
    table = headline_table(summary, *calibration, RUN_SETTINGS)
    row = _value(table, "switch ratio, tempered / free", "lif")
    assert row["ci_high"] == np.inf
    assert format_value(row) == "2.5 [> 1.8] (upper bound ∞: 3.7% of the resamples hold free runs without a switch)"
    assert format_value(_value(table, "switch ratio, tempered / free", "gibbs")) == "1.5 [1.1, 1.9]"
    glm = _value(table, "switch ratio, tempered / free (Poisson GEE over trained RBMs)", "gibbs")
    assert format_value(glm) == "∞ (no free run switched)"
    assert format_value(_value(table, "switch ratio, tempered / free (Poisson GEE over trained RBMs)", "lif")) == (
        "6.5 [2.5, 17]")
    assert _value(table, "bootstrap resamples whose free runs never switch", "lif")["value"] == 0.037


def test_columns_are_networks_x_samplers(summary, calibration):
    """Runs of a corrected LIF network beside the plain translation: a column per network and sampler with runs
    (block Gibbs samples the trained RBM itself: no column at the corrected network)."""
    two = xr.concat([summary, summary.assign_coords()], dim=pd.Index(["translated", "calibrated"], name="network"))
    two["switch_rate_hz_mean"] = two["switch_rate_hz_mean"].where(
        ~((two["network"] == "calibrated") & (two["sampler"] == "gibbs")))
    two["switch_ratio"] = two["switch_ratio"].where(two["network"] == "translated",
                                                    xr.DataArray([3.5, np.nan], coords={"sampler": SAMPLERS}))
    table = headline_table(two, *calibration, RUN_SETTINGS)
    rows = table[table["quantity"] == "switch ratio, tempered / free"]
    assert list(rows["column"]) == ["lif", "gibbs", "lif (calibrated)"]
    assert list(rows["value"]) == [2.5, 1.5, 3.5]


def scan_with_choice(configured_frequency_hz, quality_statistic="point", training_seeds=(5, 6, 7)):
    """A 1 x 2 x 1 scan of ``training_seeds`` whose 2 Hz point is chosen (the 5 Hz point loses activity fidelity)."""
    from lif_tempering.analysis.study import choose_schedule

    dims = ("shape", "frequency_hz", "t_max")
    values = {"switch_ratio": [2.4, 3.1], "switch_ratio_ci_low": [1.7, 2.2], "switch_ratio_ci_high": [3.0, 4.0],
              "ground_confidence_ratio": [0.97, 0.96], "ground_activity_ratio": [0.98, 0.9],
              "ground_fidelity_ratio": [0.98, 0.9], "n_runs": [6, 6]}
    for name in ("ground_confidence_ratio", "ground_activity_ratio", "ground_fidelity_ratio"):
        values[f"{name}_ci_low"] = [v - 0.02 for v in values[name]]
        values[f"{name}_ci_high"] = [v + 0.02 for v in values[name]]
    scan = xr.Dataset({name: (dims, np.asarray(v, dtype=float).reshape(1, 2, 1)) for name, v in values.items()},
                      coords={"shape": ["sinusoid"], "frequency_hz": [2.0, 5.0], "t_max": [1.5],
                              "training_seed": list(training_seeds)}, attrs={"sampler": "lif"})
    return choose_schedule(scan, 0.95, {"shape": "sinusoid", "frequency_hz": configured_frequency_hz, "t_max": 1.5},
                           quality_statistic)


def test_headline_names_the_schedule_the_scan_chose(summary, calibration):
    table = headline_table(summary, *calibration, RUN_SETTINGS, scan=scan_with_choice(2.0))
    assert _value(table, "chosen schedule")["value"] == "sinusoid, 2 Hz, T_max 1.5"
    assert _value(table, "the configured schedule")["value"] == "sinusoid, 2 Hz, T_max 1.5 (the chosen one)"
    row = _value(table, "switch ratio, tempered / free (scan runs)")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (2.4, 1.7, 3.0)
    assert _value(table, "scan runs at the chosen point (trained RBMs x seeds)")["value"] == 6
    other = headline_table(summary, *calibration, RUN_SETTINGS, scan=scan_with_choice(5.0))
    assert "NOT the chosen one" in _value(other, "the configured schedule")["value"]
    assert "chosen schedule" in set(front_page_table(table)["quantity"])
    assert _value(table, "ground-state visible activity ratio, tempered / free", "lif")["value"] == 0.96


#: The switch-ratio aim of the confirmation (parameter_scan.confirmation) in the headline's settings.
AIM = {"parameter_scan.confirmation.min_switch_ratio": 2.0, "parameter_scan.confirmation.min_switch_ratio_ci_low": 1.5}
CONFIDENCE_ROW = "study's runs: ground-state confidence ratio ({}) >= 0.95"
FIDELITY_ROW = "study's runs: ground-state activity fidelity ratio ({}) >= 0.95"
SWITCH_ROW = "study's runs: switch ratio >= 2 with interval low end >= 1.5"


def test_the_studys_runs_are_held_to_the_statistic_the_scan_chose_with(summary, calibration):
    """The study's LIF confidence ratio 0.96 [0.939, 0.985] clears 0.95 by its point estimate, not by its interval's
    low end: met where the scan chose by point estimates, missed where it chose by interval low ends."""
    by_ci_low = headline_table(summary, *calibration, {**RUN_SETTINGS, **AIM}, scan=scan_with_choice(2.0, "ci_low"))
    assert _value(by_ci_low, CONFIDENCE_ROW.format("interval low end"))["value"] == "missed: 0.96 [0.939, 0.985]"
    assert _value(by_ci_low, FIDELITY_ROW.format("interval low end"))["value"] == "met: 1.04 [1.01, 1.07]"
    assert _value(by_ci_low, SWITCH_ROW)["value"] == "met: 2.5 [1.8, 3.2]"
    assert _value(by_ci_low, "study's runs: every part of the bar")["value"] == (
        "missed: ground-state confidence ratio (interval low end)")
    by_point = headline_table(summary, *calibration, {**RUN_SETTINGS, **AIM}, scan=scan_with_choice(2.0, "point"))
    assert _value(by_point, CONFIDENCE_ROW.format("point estimate"))["value"] == "met: 0.96 [0.939, 0.985]"
    assert _value(by_point, FIDELITY_ROW.format("point estimate"))["value"].startswith("met: ")
    assert _value(by_point, "study's runs: every part of the bar")["value"] == "met"
    assert not (by_point["quantity"] == CONFIDENCE_ROW.format("interval low end")).any()
    assert {CONFIDENCE_ROW.format("interval low end"), "study's runs: every part of the bar"} <= set(
        front_page_table(by_ci_low)["quantity"])


def test_the_studys_runs_of_the_network_the_scan_ran_confirm_its_choice(summary, calibration):
    """A scan of the calibrated network is confirmed on the calibrated network's runs, not the translated one's."""
    two = xr.concat([summary, summary.copy(deep=True)], dim=pd.Index(["translated", "calibrated"], name="network"))
    two["switch_ratio"] = two["switch_ratio"].where(two["network"] == "translated", 1.6)
    scan = scan_with_choice(2.0)
    by_network = {}
    for network in ("translated", "calibrated"):
        scan.attrs["network"] = network
        by_network[network] = headline_table(two, *calibration, {**RUN_SETTINGS, **AIM}, scan=scan)
    assert _value(by_network["translated"], SWITCH_ROW)["value"] == "met: 2.5 [1.8, 3.2]"
    assert _value(by_network["calibrated"], SWITCH_ROW)["value"] == "missed: 1.6 [1.8, 3.2]"
    row = "network the scan ran and the study's runs confirm (tempering.default_network)"
    assert [_value(by_network[network], row)["value"] for network in by_network] == ["translated", "calibrated"]


def test_the_switch_ratio_aim_needs_the_ratio_and_its_interval(summary, calibration):
    """The study's LIF switch ratio 2.5 [1.8, 3.2]: missed when the interval must start at 1.9 or the ratio reach 3."""
    for aim in ({"parameter_scan.confirmation.min_switch_ratio_ci_low": 1.9},
                {"parameter_scan.confirmation.min_switch_ratio": 3.0}):
        table = headline_table(summary, *calibration, {**RUN_SETTINGS, **AIM, **aim}, scan=scan_with_choice(2.0))
        row = table[table["quantity"].str.startswith("study's runs: switch ratio")].iloc[0]
        assert row["value"] == "missed: 2.5 [1.8, 3.2]", aim
        assert _value(table, "study's runs: every part of the bar")["value"] == "missed: switch ratio"
    without_aim = headline_table(summary, *calibration, RUN_SETTINGS, scan=scan_with_choice(2.0))
    assert not without_aim["quantity"].str.startswith("study's runs: switch ratio").any()


def test_the_headline_names_the_trained_rbms_of_the_scan_and_of_the_study(summary, calibration):
    table = headline_table(summary, *calibration, RUN_SETTINGS, scan=scan_with_choice(2.0))
    assert _value(table, "trained RBMs of the scan (training seeds)")["value"] == "5, 6, 7"
    assert _value(table, "trained RBMs of the study (training seeds)")["value"] == "0, 1, 2"
    assert _value(table, "trained RBMs in both the scan and the study (training seeds)")["value"] == "none"
    shared = headline_table(summary, *calibration, RUN_SETTINGS, scan=scan_with_choice(2.0, training_seeds=(2, 3)))
    assert _value(shared, "trained RBMs in both the scan and the study (training seeds)")["value"] == "2"


def test_headline_summarises_the_trained_rbms(summary, calibration):
    rbms = [xr.Dataset(attrs={"test_log_likelihood": ll, "ais_log_z_stderr": se, "classifier_test_accuracy": acc})
            for ll, se, acc in ((-90.0, 0.2, 0.9), (-86.0, 0.4, 0.94))]
    references = [xr.Dataset(attrs={"reference_prior_kl": kl, "max_r_hat": r, "converged": int(r <= 1.02),
                                    "reference_confidence": confidence})
                  for kl, r, confidence in ((0.05, 1.01, 0.84), (0.25, 1.03, 0.9))]
    table = headline_table(summary, *calibration, RUN_SETTINGS, rbms=rbms, references=references)
    row = _value(table, "test log-likelihood per image (AIS; mean of 2 RBMs [min, max])")
    assert (row["value"], row["ci_low"], row["ci_high"], row["unit"]) == (-88.0, -90.0, -86.0, "nat")
    assert _value(table, "largest AIS standard error of log Z")["value"] == 0.4
    row = _value(table, "reference class distribution: D_KL to the data's class prior (mean [min, max])")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (pytest.approx(0.15), 0.05, 0.25)
    row = _value(table, "reference samples' classifier confidence, the ground-state confidence of an exact sampler "
                        "(mean [min, max])")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (pytest.approx(0.87), 0.84, 0.9)
    assert _value(table, "largest rank-normalised split-R-hat of the reference class distributions")["value"] == 1.03
    assert _value(table, "reference class distributions converged (R-hat <= reference.r_hat_max)")["value"] == (
        "1 of 2")
    assert "Trained RBMs" not in set(headline_table(summary, *calibration, RUN_SETTINGS)["section"])


def test_headline_table_holds_the_calibration_numbers(summary, calibration):
    table = headline_table(summary, *calibration, RUN_SETTINGS)
    row = _value(table, "activation width alpha")
    assert (row["value"], row["stderr"], row["unit"]) == (1.25, 0.02, "mV")
    row = _value(table, "free-membrane std, simulation / theory (range over 3 noise rates)")
    assert (row["value"], row["ci_low"], row["ci_high"]) == pytest.approx((1.0, 0.9, 1.05))
    assert _value(table, "free-membrane mean, simulation - theory (largest of 3 noise rates)")["value"] \
        == pytest.approx(-0.3)
    # The map's compensated row: all 3 points met the tolerances; |1.44 / 1.5 - 1| = 0.04 is the largest error.
    assert _value(table, "map points meeting the tolerances (of 3)", "compensated")["value"] == 3
    assert _value(table, "largest |T_bias / T - 1|", "compensated")["value"] == pytest.approx(0.04)
    assert _value(table, "largest |u0 - u0(T = 1)| / alpha(T = 1)", "compensated")["value"] == pytest.approx(0.02)
    assert _value(table, "background rate at T = 2, inh", "compensated")["value"] == 7000.0
    balanced = headline_table(summary, *calibration, {**RUN_SETTINGS, "tempering.scheme": "balanced"})
    assert _value(balanced, "map points meeting the tolerances (of 3)", "balanced")["value"] == 2
    one_scheme = calibration[2].sel(scheme="compensated", drop=True)
    single = headline_table(summary, *calibration[:2], one_scheme, RUN_SETTINGS)
    pd.testing.assert_frame_equal(single, headline_table(summary, *calibration, RUN_SETTINGS))


def test_settings_that_disagree_with_the_summary_are_refused(summary, calibration):
    with pytest.raises(ValueError, match="tempering.t_max"):
        headline_table(summary, *calibration, {**RUN_SETTINGS, "tempering.t_max": 2.0})
    with pytest.raises(ValueError, match="dataset"):
        headline_table(summary, *calibration, {**RUN_SETTINGS, "dataset": "mnist"})
    with pytest.raises(ValueError, match="tempering.schedule.shape"):
        headline_table(summary, *calibration, {**RUN_SETTINGS, "tempering.schedule.shape": "sinusoid"})
    with pytest.raises(ValueError, match="tempering.readout_delay"):
        headline_table(summary, *calibration, {**RUN_SETTINGS, "tempering.readout_delay": 0.0})


def test_html_and_csv_show_the_numbers(summary, calibration, tmp_path):
    table = headline_table(summary, *calibration, RUN_SETTINGS)
    html = headline_html(table, note="means over runs")
    assert "<td style=\"border-bottom: 1px solid #ccc; padding: 2px 8px; text-align: right\">2.5 [1.8, 3.2]</td>" \
        in html
    assert "1.25 ± 0.02" in html and "means over runs" in html
    assert html.count("<table") == table["section"].nunique()
    assert format_value({"value": np.inf, "stderr": np.nan, "ci_low": np.nan, "ci_high": np.nan, "unit": "s"}) == "∞"
    table.to_csv(tmp_path / "headline.csv", index=False)
    back = pd.read_csv(tmp_path / "headline.csv")
    ratio = back[(back["quantity"] == "switch ratio, tempered / free") & (back["column"] == "gibbs")].iloc[0]
    assert (float(ratio["value"]), ratio["ci_low"], ratio["ci_high"]) == (1.5, 1.1, 1.9)


def test_front_page_shows_the_key_rows_and_names_the_run(summary, calibration):
    table = headline_table(summary, *calibration, RUN_SETTINGS)
    front = front_page_table(table)
    assert SETTINGS not in set(front["section"])
    assert list(front["quantity"][:6]) == ["switch rate, free"] * 2 + ["switch rate, tempered"] * 2 \
        + ["switch ratio, tempered / free"] * 2
    assert set(front["quantity"]) < set(table["quantity"]) and len(front) < len(table) / 2
    html = front_page_html(table, RUN_SETTINGS)
    assert "dataset = digits" in html and "tempering.t_max = 1.5" in html and "3 x 4 runs" in html
    assert "tempering.schedule.shape = dwell" in html and "tempering.readout_delay = 0.5" in html
    assert "2.5 [1.8, 3.2]" in html and "tempering.ground_state_tolerance" not in html


# --------------------------------------------------------------------------- captions

CAPTION = re.compile(r'caption="\.\./report/([\w.]+\.rst)"')
CONFIG_REFERENCE = re.compile(r"snakemake\.(config|params|wildcards)\b|\bc\[")


def report_captions():
    """The caption files named by report() in the rules."""
    names = {name for rules in (ROOT / "workflow" / "rules").glob("*.smk") for name in CAPTION.findall(rules.read_text())}
    return sorted(ROOT / "workflow" / "report" / name for name in names)


def study_configs():
    """config.yaml alone and with each other configuration file merged on top (as --configfile does)."""
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    configs = {"config.yaml": base}
    for path in sorted((ROOT / "config").glob("*.yaml")):
        if path.name != "config.yaml":
            merged = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
            update_config(merged, yaml.safe_load(path.read_text()))
            configs[path.name] = merged
    return configs


def test_every_figure_caption_names_config_values():
    captions = report_captions()
    assert len(captions) >= 14
    for caption in captions:
        assert CONFIG_REFERENCE.search(caption.read_text()), f"{caption.name} names no config value"


@pytest.mark.parametrize("name", sorted(study_configs()))
def test_captions_render_with_every_study_config(name):
    class Snakemake:
        config = study_configs()[name]
        wildcards = {"dataset": config["dataset"], "training_seed": "0"}

    env = Environment(trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)  # as Snakemake's report
    for caption in [*report_captions(), ROOT / "workflow" / "report" / "workflow.rst"]:
        text = env.from_string(caption.read_text()).render(snakemake=Snakemake, files=[], categories={})
        html = publish_parts(text, writer="html", settings_overrides={"halt_level": 2})["body"]
        assert "{{" not in html and "{%" not in html

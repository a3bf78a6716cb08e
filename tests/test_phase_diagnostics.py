"""Phase-resolved diagnostics on constructed runs: binning, label changes, peaks and relaxation times exact."""

import numpy as np
import pytest
import xarray as xr

from lif_tempering.analysis.phase_diagnostics import (
    binned_mean,
    combine_phase_profiles,
    diagnostics_attrs,
    group_profiles,
    label_changes,
    peak_times_ms,
    phase_bin_index,
    phase_diagnostics,
    relaxation_times_ms,
    stack_group_profiles,
    unstack_group_profiles,
)
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.tempering.runs import make_schedule, run_dataset

FREQ_HZ, DURATION_MS, DT_MS = 2.0, 10_000.0, 5.0
#: a confident class-0 state (visible activity 1/4, hidden 0) and a "hot" state the classifier cannot tell (all on)
CLASS0, HOT = [1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]


def test_phase_bins_and_binned_means():
    phase = np.array([0.0, 0.1, np.pi - 1e-12, np.pi, 2 * np.pi - 1e-12])
    np.testing.assert_array_equal(phase_bin_index(phase, 4), [0, 0, 1, 2, 3])
    mean, counts = binned_mean([1.0, 3.0, np.nan, 5.0, 7.0], phase_bin_index(phase, 4), 4)
    np.testing.assert_array_equal(counts, [2, 0, 1, 1])
    np.testing.assert_array_equal(mean, [2.0, np.nan, 5.0, 7.0])
    with pytest.raises(ValueError, match="2 pi"):
        phase_bin_index([2 * np.pi], 4)


def test_label_changes_and_peaks():
    np.testing.assert_array_equal(label_changes([3, 3, 1, 1, 3]), [np.nan, 0, 1, 0, 1])
    np.testing.assert_allclose(peak_times_ms(2.0, 0.0, 0.0, 1800.0), [250.0, 750.0, 1250.0, 1750.0])
    np.testing.assert_allclose(peak_times_ms(2.0, np.pi / 2, 200.0, 1200.0), [625.0, 1125.0])


def test_relaxation_times_with_censoring():
    """Peaks at 250, 750, 1250 ms (1750 lacks a whole period); recovered at 300 and 1000 ms only."""
    time_ms = np.arange(2000.0)
    is_recovered = np.isin(time_ms, [100.0, 300.0, 1000.0])
    delays, censored = relaxation_times_ms(time_ms, is_recovered, [250.0, 750.0, 1250.0, 1750.0], 500.0)
    np.testing.assert_array_equal(delays, [50.0, 250.0, 500.0])
    np.testing.assert_array_equal(censored, [False, False, True])


def fake_rbm() -> xr.Dataset:
    return xr.Dataset(
        {"W": (("visible", "hidden"), np.zeros((4, 2))), "b_visible": ("visible", np.zeros(4)),
         "b_hidden": ("hidden", np.zeros(2)),
         "classifier_coef": (("digit", "visible"), np.array([[4.0, -4.0, 0, 0], [-4.0, 4.0, 0, 0]])),
         "classifier_intercept": ("digit", np.zeros(2)), "train_class_frequency": ("digit", np.array([0.5, 0.5]))},
        attrs={"dataset": "digits"})


def constructed(schedule, hot_of_phase, seed=0):
    time_ms = np.arange(0.0, DURATION_MS, DT_MS)
    phase = 2 * np.pi * ((FREQ_HZ * time_ms / 1000.0) % 1.0)
    z = np.where(hot_of_phase(phase)[:, None], HOT, CLASS0)
    attrs = {"sampler": "gibbs", "seed": seed, "training_seed": 0, "duration_ms": DURATION_MS, "burn_in_ms": 0.0,
             "wall_time_s": 1.0}
    return run_dataset(z, time_ms, schedule, 4, attrs)


def test_phase_profiles_and_relaxation_of_constructed_runs():
    """Tempered: hot from phase pi - 0.5 to pi + 1 (79.6 ms after the peak): recovered 80 ms after every peak."""
    tempered_schedule = make_schedule("tempered", 2.0, FREQ_HZ)
    tempered = constructed(tempered_schedule, lambda phase: (phase >= np.pi - 0.5) & (phase <= np.pi + 1.0))
    free = constructed(make_schedule("free", 1.0, 7.0), lambda phase: np.zeros(phase.shape, bool))
    ds = phase_diagnostics([free, tempered], {0: fake_rbm()}, FREQ_HZ, 8, "visible", 0.25, 0.2)
    run = ds.sel(sampler="gibbs", training_seed=0, seed=0)
    hot_bin = run.sel(schedule="tempered", phase=np.pi * 9 / 8)  # [pi, 5 pi / 4): hot throughout
    assert float(hot_bin["visible_activity"]) == 1.0 and float(hot_bin["hidden_activity"]) == 1.0
    assert float(hot_bin["confidence"]) == pytest.approx(0.5)
    cold = run.sel(schedule="tempered", phase=np.pi / 8)
    assert float(cold["visible_activity"]) == 0.25 and float(cold["label_change_probability"]) == 0.0
    np.testing.assert_array_equal(run.sel(schedule="free")["visible_activity"], 0.25)
    np.testing.assert_array_equal(run.sel(schedule="free")["temperature"], 1.0)
    # the temperature profile: the schedule's mean over the samples of each bin
    time_ms = tempered["time_ms"].values
    bins = np.floor(8 * ((FREQ_HZ * time_ms / 1000.0) % 1.0)).astype(int)
    expected = [tempered_schedule.temperature(time_ms[bins == b]).mean() for b in range(8)]
    np.testing.assert_allclose(run.sel(schedule="tempered")["temperature"], expected, rtol=1e-12)
    assert int(run.sel(schedule="tempered")["n_samples"].sum()) == time_ms.size
    assert float(run.sel(schedule="tempered")["relaxation_time_ms"]) == 80.0
    assert float(run.sel(schedule="tempered")["n_peaks"]) == 19  # peaks 250 .. 9250 ms
    assert float(run.sel(schedule="tempered")["relaxation_censored_fraction"]) == 0.0
    assert float(run.sel(schedule="free")["relaxation_time_ms"]) == 0.0
    assert float(ds["relaxation_time_ms_mean"].sel(sampler="gibbs", schedule="tempered")) == 80.0
    for name in ds.data_vars:
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"], name
    lif = [run.assign_attrs(sampler="lif") for run in (free, tempered)]
    both = phase_diagnostics(lif + [free, tempered], {0: fake_rbm()}, FREQ_HZ, 8, "visible", 0.25, 0.2)
    assert list(both["sampler"].values) == ["lif", "gibbs"]  # the order of the runs, as in the summary


def test_group_profiles_survive_a_file_per_group(tmp_path):
    """Profiles stacked per group, written and read back, combine to the same dataset as the profiles themselves."""
    def hot(phase):
        return (phase >= np.pi - 0.5) & (phase <= np.pi + 1.0)

    runs = [constructed(make_schedule("tempered", 2.0, FREQ_HZ), hot, seed=seed) for seed in (0, 1)]
    runs += [constructed(make_schedule("free", 1.0, 7.0), lambda phase: phase > 6.0, seed=seed) for seed in (0, 1)]
    attrs = diagnostics_attrs(FREQ_HZ, 8, "visible", 0.25, 0.2)
    group = group_profiles(runs, fake_rbm(), FREQ_HZ, 8, "visible", 0.25, 0.2)
    stacked = stack_group_profiles(group, attrs)
    assert stacked.sizes["run"] == 4 and stacked["run"].attrs["units"] == "1"
    back = read_dataset(write_dataset(stacked, tmp_path / "group.nc"))
    assert back.attrs["n_phase_bins"] == 8
    xr.testing.assert_identical(combine_phase_profiles(unstack_group_profiles(back), attrs),
                                combine_phase_profiles(group, attrs))

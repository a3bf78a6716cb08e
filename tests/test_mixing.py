"""Tests of the mixing analysis on constructed runs: windows, switches, coverage, tau_int, summary, intervals."""

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from lif_tempering.analysis.mixing import (
    METRICS,
    RATIOS,
    RATIOS_VS_FREE_LIF,
    SUMMARY_METRICS,
    censored_tau_int,
    class_prior,
    combine_runs,
    run_mixing,
    summarize,
)
from lif_tempering.learning.classifier import SoftmaxClassifier, classify, visible_readout
from lif_tempering.tempering.runs import make_schedule, run_dataset
from lif_tempering.tempering.schedules import ground_state_half_width, ground_state_window_ids, window_centres_s

N_CLASSES = 3
FREQUENCY_HZ, T_MAX, TOLERANCE = 2.0, 2.0, 0.1
HALF_WIDTH = ground_state_half_width(T_MAX, TOLERANCE)
PRIOR = np.full(N_CLASSES, 1.0 / N_CLASSES)
#: An RBM with one visible unit per class (the free energy differs between the one-hot states).
RBM = (np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), np.array([0.0, 0.3, -0.2]), np.zeros(2))


class OneHotClassifier:
    """Classifies a visible state by its active unit with probability 0.8 (0.1 for each other class)."""

    classes_ = np.arange(N_CLASSES)

    def predict_proba(self, images):
        return 0.1 + 0.7 * np.asarray(images)


def constructed_run(window_labels, schedule="tempered", sample_dt_ms=10.0, seed=0, training_seed=0,
                    sampler="lif", flicker=True, wall_time_s=2.0, burn_in_ms=0.0):
    """A run whose ground-state windows carry ``window_labels`` (one per window, window n at t = n / f).

    Inside a window every sample has the window's label except one flicker sample
    (the next class) right after the window centre; outside windows the label cycles
    through all classes at every sample (hot-phase states are not read).
    """
    duration_ms = len(window_labels) * 1000.0 / FREQUENCY_HZ
    time_ms = np.arange(0.0, duration_ms, sample_dt_ms)
    ids = ground_state_window_ids(time_ms, FREQUENCY_HZ, HALF_WIDTH)
    labels = np.arange(time_ms.size) % N_CLASSES
    inside = ids >= 0
    labels[inside] = np.asarray(window_labels)[ids[inside] % len(window_labels)]
    window_ids_in_run = ids < len(window_labels)
    labels[inside & ~window_ids_in_run] = np.asarray(window_labels)[-1]  # the partial window at the end
    if flicker:
        centre_steps = np.flatnonzero(inside & (np.abs(time_ms * FREQUENCY_HZ / 1000.0 - ids) < 1e-9)) + 1
        centre_steps = centre_steps[centre_steps < time_ms.size]
        labels[centre_steps] = (labels[centre_steps] + 1) % N_CLASSES
    keep = time_ms >= burn_in_ms
    z = np.zeros((time_ms.size, N_CLASSES + 2), dtype=np.int8)
    z[np.arange(time_ms.size), labels] = 1
    attrs = {"sampler": sampler, "seed": seed, "training_seed": training_seed, "wall_time_s": wall_time_s,
             "duration_ms": duration_ms, "burn_in_ms": burn_in_ms, "sample_dt_ms": sample_dt_ms}
    return run_dataset(z[keep], time_ms[keep], make_schedule(schedule, T_MAX, FREQUENCY_HZ), N_CLASSES, attrs)


def analyse(run, **kwargs):
    return run_mixing(run, RBM, OneHotClassifier(), PRIOR, HALF_WIDTH, readout="visible", **kwargs)


# ---------------------------------------------------------------- readout

def test_readouts_and_classification():
    W, b_v, _ = RBM
    z = np.array([[1, 0, 0, 1, 0], [0, 0, 1, 1, 1]], dtype=np.int8)
    np.testing.assert_array_equal(visible_readout(z, 3, W, b_v, "visible"), z[:, :3])
    np.testing.assert_allclose(visible_readout(z, 3, W, b_v, "mean_field"), expit(z[:, 3:] @ W.T + b_v))
    labels, confidence = classify(OneHotClassifier(), z[:, :3])
    np.testing.assert_array_equal(labels, [0, 2])
    np.testing.assert_allclose(confidence, 0.8)
    np.testing.assert_allclose(class_prior([0, 1, 1, 2], 3), [0.25, 0.5, 0.25])
    with pytest.raises(ValueError, match="readout"):
        visible_readout(z, 3, W, b_v, "pixels")


def test_softmax_classifier_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    images = rng.integers(0, 2, size=(300, 6)).astype(float)
    labels = (images[:, :3].sum(axis=1) + images[:, 3]).astype(int) % 4
    fitted = LogisticRegression(max_iter=2000).fit(images, labels)
    stored = SoftmaxClassifier(fitted.coef_, fitted.intercept_)
    np.testing.assert_allclose(stored.predict_proba(images), fitted.predict_proba(images), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(classify(stored, images)[0], fitted.predict(images))


def test_ground_state_windows_have_the_tolerated_temperature():
    schedule = make_schedule("tempered", T_MAX, FREQUENCY_HZ)
    edge_ms = HALF_WIDTH / (2 * np.pi * FREQUENCY_HZ) * 1000.0
    assert schedule.temperature(edge_ms) == pytest.approx(1 + TOLERANCE)
    np.testing.assert_allclose(window_centres_s([0, 1, 4], FREQUENCY_HZ), [0.0, 0.5, 2.0])
    with pytest.raises(ValueError):
        ground_state_half_width(T_MAX, 1.5)


# ---------------------------------------------------------------- one run

WINDOW_LABELS = [0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]  # 20 windows, 10 s, 5 switches


def test_switches_coverage_and_confidence_of_a_constructed_run():
    result = analyse(constructed_run(WINDOW_LABELS))
    duration_s = len(WINDOW_LABELS) / FREQUENCY_HZ
    assert float(result.switch_rate_hz) == pytest.approx(5 / duration_s)  # flicker inside windows is ignored
    assert float(result.sample_switch_rate_hz) > 2 * len(WINDOW_LABELS) / duration_s  # ... but not by this one
    assert float(result.coverage_time_s) == pytest.approx(8 / FREQUENCY_HZ)  # class 2 first at window 8
    assert float(result.ground_confidence) == pytest.approx(0.8)
    assert int(result.n_windows) == len(WINDOW_LABELS) + 1  # plus the partial window at the end
    assert float(result.duration_s) == duration_s
    # D_KL of the window histogram falls to its final value as classes are visited
    kl = result.class_kl.values
    assert kl.shape == (len(WINDOW_LABELS),) and kl[-1] < kl[0]
    np.testing.assert_allclose(result.class_fraction.sum(), 1.0)
    for name, (units, _) in METRICS.items():
        assert result[name].attrs["units"] == units
    assert result.schedule.item() == "tempered" and result.sampler.item() == "lif" and result.t_max.item() == T_MAX


def test_free_and_tempered_runs_are_read_at_the_same_instants():
    tempered = analyse(constructed_run(WINDOW_LABELS, schedule="tempered"))
    free = analyse(constructed_run(WINDOW_LABELS, schedule="free"))
    for name in ("switch_rate_hz", "coverage_time_s", "ground_confidence", "n_windows"):
        assert float(free[name]) == float(tempered[name])
    assert free.t_max.item() == 1.0


def test_a_stuck_chain_never_switches_and_is_censored():
    """No measurable tau_int: censored at the run length (n_windows periods), one effective sample."""
    result = analyse(constructed_run([1] * 12, flicker=True))
    assert float(result.switch_rate_hz) == 0.0
    assert np.isinf(float(result.coverage_time_s))
    run_length_s = int(result.n_windows) / FREQUENCY_HZ
    assert bool(result.tau_int_censored)
    assert float(result.tau_int_label) == pytest.approx(run_length_s)
    assert float(result.ess_per_s) == pytest.approx(1.0 / float(result.duration_s))
    switching = analyse(constructed_run(WINDOW_LABELS))
    assert not bool(switching.tau_int_censored) and float(switching.tau_int_label) < run_length_s


def test_censored_tau_int():
    assert censored_tau_int(3.5, 40) == (3.5, False)
    assert censored_tau_int(np.nan, 40) == (40.0, True)
    assert censored_tau_int(55.0, 40) == (40.0, True)  # not resolved by the run


def test_burn_in_is_excluded_from_rates_and_times():
    result = analyse(constructed_run(WINDOW_LABELS, burn_in_ms=1000.0))
    assert float(result.duration_s) == len(WINDOW_LABELS) / FREQUENCY_HZ - 1.0
    assert float(result.switch_rate_hz) == pytest.approx(4 / float(result.duration_s))  # the 0 -> 1 at 1 s is gone
    assert float(result.coverage_time_s) == pytest.approx(8 / FREQUENCY_HZ - 1.0)


def test_tau_int_and_ess_of_a_markov_label_chain():
    """Window labels from a symmetric two-class Markov chain that stays with probability q.

    Its indicator has rho(k) = lambda^k with lambda = 2 q - 1, so tau_int = (1 + lambda) / (1 - lambda)
    windows; the one-hot free energy is a function of the label and has the same tau_int.
    """
    q, n_windows = 0.8, 4000
    rng = np.random.default_rng(4)
    labels = np.empty(n_windows, dtype=int)
    labels[0] = 0
    stay = rng.random(n_windows) < q
    for k in range(1, n_windows):
        labels[k] = labels[k - 1] if stay[k] else 1 - labels[k - 1]
    result = analyse(constructed_run(labels, sample_dt_ms=50.0, flicker=False, wall_time_s=4.0))
    lam = 2 * q - 1
    tau_windows = (1 + lam) / (1 - lam)
    window_factor = 5 * tau_windows
    tolerance = 4 * np.sqrt(2 * (2 * window_factor + 1) / n_windows)
    assert float(result.tau_int_label) * FREQUENCY_HZ == pytest.approx(tau_windows, rel=tolerance)
    assert float(result.tau_int_free_energy_s) * FREQUENCY_HZ == pytest.approx(tau_windows, rel=tolerance)
    ess = int(result.n_windows) / (float(result.tau_int_label) * FREQUENCY_HZ)
    assert float(result.ess_per_s) == pytest.approx(ess / float(result.duration_s))
    assert float(result.ess_per_wall_s) == pytest.approx(ess / 4.0)


# ---------------------------------------------------------------- across runs

def switching_labels(n_windows, n_switches, rng):
    """Window labels of three classes with exactly ``n_switches`` changes at random windows."""
    labels = np.zeros(n_windows, dtype=int)
    for k in np.sort(rng.choice(np.arange(1, n_windows), n_switches, replace=False)):
        labels[k:] = (labels[k - 1] + rng.integers(1, N_CLASSES)) % N_CLASSES
    return labels


@pytest.fixture(scope="module")
def combined():
    """Runs of both samplers and schedules, two training seeds x three seeds; tempered runs switch 3x more."""
    rng = np.random.default_rng(0)
    switches = {"free": 4, "tempered": 12}
    runs = [analyse(constructed_run(switching_labels(40, switches[schedule], rng), schedule=schedule, seed=seed,
                                    training_seed=training_seed, sampler=sampler))
            for sampler in ("lif", "gibbs") for schedule in ("free", "tempered")
            for training_seed in (0, 1) for seed in (10, 11, 12)]
    return combine_runs(runs)


def test_combined_runs_have_the_summary_dimensions(combined):
    assert dict(combined["switch_rate_hz"].sizes) == {"sampler": 2, "schedule": 2, "training_seed": 2, "seed": 3}
    assert set(combined["sampler"].values) == {"lif", "gibbs"}
    assert combined["t_max"].sel(schedule="free").values.max() == 1.0
    assert combined["class_kl"].dims == ("sampler", "schedule", "training_seed", "seed", "kl_time_s")
    np.testing.assert_allclose(combined["switch_rate_hz"].sel(schedule="tempered"), 12 / 20.0)


def test_summary_units_ratios_and_intervals(combined):
    summary = summarize(combined, seed=1, n_resamples=2000)
    for metric in SUMMARY_METRICS:
        for suffix in ("mean", "ci_low", "ci_high"):
            var = summary[f"{metric}_{suffix}"]
            assert var.dims == ("sampler", "schedule") and var.attrs["units"] == METRICS[metric][0]
    for name in RATIOS:
        assert summary[name].dims == ("sampler",) and summary[name].attrs["units"] == "1"
    np.testing.assert_allclose(summary["switch_ratio"], 3.0)  # every run switches exactly as constructed
    assert np.all(summary["switch_ratio_ci_low"] <= 3.0) and np.all(summary["switch_ratio_ci_high"] >= 3.0)
    assert summary["switch_ratio_by_training_seed"].dims == ("sampler", "training_seed")
    assert summary["coverage_censored_fraction"].dims == ("sampler", "schedule")
    assert summary["class_kl_mean"].dims == ("sampler", "schedule", "kl_time_s")
    again = summarize(combined, seed=1, n_resamples=2000)
    xr.testing.assert_identical(summary, again)  # deterministic given the seed
    assert "two-stage cluster bootstrap" in summary.attrs["bootstrap_method"]
    assert summary.attrs["bootstrap_distinct_resamples"] == 156  # 2 training seeds x 3 seeds
    for name in RATIOS:
        by_rbm = summary[f"{name}_by_training_seed"]
        assert by_rbm.dims == ("sampler", "training_seed") and by_rbm.attrs["units"] == "1"
    np.testing.assert_allclose(summary["switch_ratio_by_training_seed"], 3.0)


def test_ratios_against_the_free_lif_runs_in_the_two_by_two_design():
    """lif, lif_stp and gibbs, free and tempered, with switch counts n: every ratio to free lif is exactly n / 4.

    Every run switches exactly as constructed, so every bootstrap resample has the same ratio and the
    interval collapses onto it; the free lif runs against themselves give 1.
    """
    rng = np.random.default_rng(4)
    switches = {("lif", "free"): 4, ("lif", "tempered"): 12, ("lif_stp", "free"): 6, ("lif_stp", "tempered"): 18,
                ("gibbs", "free"): 8, ("gibbs", "tempered"): 2}
    runs = [analyse(constructed_run(switching_labels(40, n, rng), schedule=schedule, seed=seed,
                                    training_seed=training_seed, sampler=sampler))
            for (sampler, schedule), n in switches.items() for training_seed in (0, 1) for seed in (10, 11)]
    summary = summarize(combine_runs(runs), seed=5, n_resamples=500)
    for name in RATIOS_VS_FREE_LIF:
        assert summary[name].dims == ("sampler", "schedule") and summary[name].attrs["units"] == "1"
        assert "free lif runs" in summary[name].attrs["long_name"]
    for (sampler, schedule), n in switches.items():
        cell = summary.sel(sampler=sampler, schedule=schedule)
        for suffix in ("", "_ci_low", "_ci_high"):
            assert float(cell[f"switch_ratio_vs_free_lif{suffix}"]) == pytest.approx(n / 4)
    np.testing.assert_allclose(summary["switch_ratio"].sel(sampler=["lif", "lif_stp", "gibbs"]), [3.0, 3.0, 0.25])


def test_the_ratio_against_free_lif_pairs_training_seeds_and_seeds():
    """Paired over (training seed, seed): a pair missing on either side is left out of both means."""
    stp = np.array([[2.0, 4.0, np.nan], [6.0, 8.0, 10.0], [1.0, 1.0, 1.0], [3.0, 3.0, 3.0]])
    lif = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [np.nan, 1.0, 1.0], [1.0, 1.0, 1.0]])
    rates = np.stack([np.stack([lif, 2 * lif]), np.stack([stp, stp])])
    ds = synthetic_runs({"free": lif, "tempered": 2 * lif}, 20.0)
    ds = xr.concat([ds, ds.assign_coords(sampler=["lif_stp"])], dim="sampler")
    ds["switch_rate_hz"] = (("sampler", "schedule", "training_seed", "seed"), rates, {"units": "Hz"})
    summary = summarize(ds, seed=1, n_resamples=1000)
    both = np.isfinite(stp) & np.isfinite(lif)
    expected = stp[both].mean() / lif[both].mean()
    ratio = summary["switch_ratio_vs_free_lif"].sel(sampler="lif_stp", schedule="free")
    assert float(ratio) == pytest.approx(expected, rel=1e-12)
    assert float(summary["switch_ratio_vs_free_lif"].sel(sampler="lif", schedule="tempered")) == pytest.approx(2.0)
    low, high = (float(summary[f"switch_ratio_vs_free_lif_ci_{end}"].sel(sampler="lif_stp", schedule="free"))
                 for end in ("low", "high"))
    assert low < expected < high


def test_no_ratio_against_free_lif_without_lif_runs(combined):
    summary = summarize(combined.sel(sampler=["gibbs"]), seed=1, n_resamples=200)
    assert not any(name in summary for name in RATIOS_VS_FREE_LIF)


def test_a_stuck_chain_stays_in_the_summary_as_censored():
    """One free lif run of six never switches: its tau_int enters the mean at the run length."""
    rng = np.random.default_rng(2)
    runs = [analyse(constructed_run([2] * 40 if (schedule, training_seed, seed) == ("free", 1, 11)
                                    else switching_labels(40, 8, rng), schedule=schedule, seed=seed,
                                    training_seed=training_seed))
            for schedule in ("free", "tempered") for training_seed in (0, 1) for seed in (10, 11, 12)]
    combined = combine_runs(runs)
    summary = summarize(combined, seed=3, n_resamples=500)
    free = summary.sel(sampler="lif", schedule="free")
    stuck = combined.sel(sampler="lif", schedule="free", training_seed=1, seed=11)
    assert bool(stuck.tau_int_censored)
    assert float(stuck.tau_int_label) == pytest.approx(float(stuck.n_windows) / FREQUENCY_HZ)
    tau = combined["tau_int_label"].sel(sampler="lif", schedule="free")
    assert np.all(np.isfinite(tau))
    assert float(free.tau_int_label_mean) == pytest.approx(float(tau.mean()))
    assert "censored values enter at the run length" in summary["tau_int_label_mean"].attrs["long_name"]
    assert float(free.tau_int_censored_fraction) == pytest.approx(1 / 6)
    assert float(summary["tau_int_censored_fraction"].sel(sampler="lif", schedule="tempered")) == 0.0
    ess = combined["ess_per_s"].sel(sampler="lif", schedule="free")
    assert float(free.ess_per_s_mean) == pytest.approx(float(ess.mean()))
    assert float(free.coverage_censored_fraction) >= 1 / 6


def test_summary_ratio_interval_covers_a_known_ratio():
    """Switch rates Poisson with a 3x higher tempered rate, shared per-RBM variation (paired cells).

    Each training seed's RBM scales both schedules' rates by a common factor; 95 %
    percentile intervals from 4 x 3 cells should cover the true ratio about 9 times
    in 10 or more (the percentile bootstrap under-covers slightly at few cells).
    """
    rng = np.random.default_rng(7)
    duration_s, free_rate, ratio, n_replicates = 20.0, 1.5, 3.0, 150
    covered = 0
    for _ in range(n_replicates):
        scale = rng.lognormal(0.0, 0.5, size=(4, 1))
        rates = {"free": free_rate * scale, "tempered": ratio * free_rate * scale}
        counts = {s: rng.poisson(r * duration_s * np.ones((4, 3))) / duration_s for s, r in rates.items()}
        ds = synthetic_runs(counts, duration_s)
        summary = summarize(ds, seed=int(rng.integers(1 << 30)), n_resamples=1000)
        interval = summary[["switch_ratio_ci_low", "switch_ratio_ci_high"]].sel(sampler="lif")
        covered += float(interval.switch_ratio_ci_low) <= ratio <= float(interval.switch_ratio_ci_high)
    assert 0.85 <= covered / n_replicates <= 1.0


def synthetic_runs(switch_rates: dict, duration_s: float) -> xr.Dataset:
    """A combined-runs dataset (one sampler) with the given switch rates (training_seed, seed) per schedule."""
    shape = (1, 2, 4, 3)
    rates = np.stack([switch_rates["free"], switch_rates["tempered"]])[None]
    data = {name: (("sampler", "schedule", "training_seed", "seed"), np.ones(shape), {"units": units})
            for name, (units, _) in METRICS.items()}
    data["switch_rate_hz"] = (("sampler", "schedule", "training_seed", "seed"), rates, {"units": "Hz"})
    data["duration_s"] = (("sampler", "schedule", "training_seed", "seed"), np.full(shape, duration_s), {})
    data["class_kl"] = (("sampler", "schedule", "training_seed", "seed", "kl_time_s"), np.zeros(shape + (2,)), {})
    data["class_kl_reference"] = data["class_kl"]
    return xr.Dataset(data, coords={"sampler": ["lif"], "schedule": ["free", "tempered"], "training_seed": range(4),
                                    "seed": range(3), "kl_time_s": [1.0, 2.0]})

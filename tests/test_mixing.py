"""Tests of the mixing analysis on constructed runs: windows, switches, coverage, class D_KL with its floor, the
multi-chain diagnostics of a trained RBM's seeds, the summary's intervals and ratios, the conditional calibration."""

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from lif_tempering.analysis.chains import CHAIN_METRICS, chain_variables, kl_floor_variables
from lif_tempering.analysis.mixing import (
    CHAIN_SUMMARY_METRICS,
    CONDITIONAL_METRICS,
    METRICS,
    RATIOS,
    RATIOS_VS_FREE_LIF,
    SUMMARY_METRICS,
    class_prior,
    combine_runs,
    run_mixing,
    summarize,
)
from lif_tempering.learning.classifier import SoftmaxClassifier, classify, visible_readout
from lif_tempering.sampling.divergence import kl_target_to_histogram
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
    assert int(result.n_switches) == 5
    assert float(result.sample_switch_rate_hz) > 2 * len(WINDOW_LABELS) / duration_s  # ... but not by this one
    assert float(result.coverage_time_s) == pytest.approx(8 / FREQUENCY_HZ)  # class 2 first at window 8
    assert float(result.ground_confidence) == pytest.approx(0.8)
    assert int(result.n_windows) == len(WINDOW_LABELS) + 1  # plus the partial window at the end
    assert float(result.duration_s) == duration_s
    # the window sequences the chain diagnostics read: the labels as constructed, one free energy per label
    np.testing.assert_array_equal(result.window_label.values, WINDOW_LABELS + WINDOW_LABELS[-1:])
    W, b_v, b_h = RBM
    energies = -b_v - np.log1p(np.exp(W + b_h)).sum(axis=1)  # F(v) of the one-hot visible states
    steady = analyse(constructed_run(WINDOW_LABELS, flicker=False))  # every sample of a window in its class
    np.testing.assert_allclose(steady.window_free_energy.values, energies[steady.window_label.values.astype(int)])
    # D_KL of the window histogram falls to its final value as classes are visited
    kl = result.class_kl.values
    assert kl.shape == (len(WINDOW_LABELS),) and kl[-1] < kl[0]
    np.testing.assert_allclose(result.class_fraction.sum(), 1.0)
    for name, (units, _) in METRICS.items():
        if name in result:
            assert result[name].attrs["units"] == units
    assert result.schedule.item() == "tempered" and result.sampler.item() == "lif" and result.t_max.item() == T_MAX
    assert result.network.item() == "translated"


def test_class_kl_is_the_target_against_the_smoothed_histogram():
    """D_KL(target || Jeffreys-smoothed window histogram), not the reverse: for a histogram missing a class of the
    target the two directions differ by far."""
    labels = [0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1]  # class 2 never visited
    result = analyse(constructed_run(labels, flicker=False))
    counts = np.bincount(result.window_label.values.astype(int), minlength=N_CLASSES)
    assert float(result.class_kl_final) == pytest.approx(kl_target_to_histogram(PRIOR, counts), rel=1e-12)
    q = (counts + 0.5) / (counts.sum() + 1.5)
    assert abs(float(result.class_kl_final) - np.sum(q * np.log(q / PRIOR))) > 0.1
    assert float(result.class_kl[-1]) == pytest.approx(float(result.class_kl_final))


def test_free_and_tempered_runs_are_read_at_the_same_instants():
    tempered = analyse(constructed_run(WINDOW_LABELS, schedule="tempered"))
    free = analyse(constructed_run(WINDOW_LABELS, schedule="free"))
    for name in ("switch_rate_hz", "coverage_time_s", "ground_confidence", "n_windows"):
        assert float(free[name]) == float(tempered[name])
    assert free.t_max.item() == 1.0


def test_a_stuck_chain_never_switches_nor_completes_its_coverage():
    result = analyse(constructed_run([1] * 12, flicker=True))
    assert float(result.switch_rate_hz) == 0.0 and int(result.n_switches) == 0
    assert np.isinf(float(result.coverage_time_s))
    np.testing.assert_array_equal(result.window_label.values, 1.0)


def test_burn_in_is_excluded_from_rates_and_times():
    result = analyse(constructed_run(WINDOW_LABELS, burn_in_ms=1000.0))
    assert float(result.duration_s) == len(WINDOW_LABELS) / FREQUENCY_HZ - 1.0
    assert float(result.switch_rate_hz) == pytest.approx(4 / float(result.duration_s))  # the 0 -> 1 at 1 s is gone
    assert float(result.coverage_time_s) == pytest.approx(8 / FREQUENCY_HZ - 1.0)


def test_a_network_attribute_names_the_run_network():
    run = constructed_run(WINDOW_LABELS)
    run.attrs["network"] = "calibrated"
    assert analyse(run).network.item() == "calibrated"


# ---------------------------------------------------------------- across runs

def switching_labels(n_windows, n_switches, rng):
    """Window labels of three classes with exactly ``n_switches`` changes at random windows."""
    labels = np.zeros(n_windows, dtype=int)
    for k in np.sort(rng.choice(np.arange(1, n_windows), n_switches, replace=False)):
        labels[k:] = (labels[k - 1] + rng.integers(1, N_CLASSES)) % N_CLASSES
    return labels


def with_chains(runs, reference=None):
    """``runs`` with the per-RBM chain diagnostics and class D_KL floors, as mixing_group adds them."""
    chains = chain_variables(runs, N_CLASSES)
    return runs.assign(chains).assign(kl_floor_variables(runs, chains, PRIOR, reference))


@pytest.fixture(scope="module")
def combined():
    """Runs of both samplers and schedules, two training seeds x three seeds; tempered runs switch 3x more."""
    rng = np.random.default_rng(0)
    switches = {"free": 4, "tempered": 12}
    runs = [analyse(constructed_run(switching_labels(40, switches[schedule], rng), schedule=schedule, seed=seed,
                                    training_seed=training_seed, sampler=sampler))
            for sampler in ("lif", "gibbs") for schedule in ("free", "tempered")
            for training_seed in (0, 1) for seed in (10, 11, 12)]
    return with_chains(combine_runs(runs))


def test_combined_runs_have_the_summary_dimensions(combined):
    assert dict(combined["switch_rate_hz"].sizes) == {"network": 1, "sampler": 2, "schedule": 2, "training_seed": 2,
                                                      "seed": 3}
    assert set(combined["sampler"].values) == {"lif", "gibbs"} and list(combined["network"].values) == ["translated"]
    assert combined["t_max"].sel(schedule="free").values.max() == 1.0
    assert combined["class_kl"].dims == ("network", "sampler", "schedule", "training_seed", "seed", "kl_time_s")
    assert combined["window_label"].dims[-1] == "window" and combined.sizes["window"] == 41
    assert combined["r_hat_label"].dims == ("network", "sampler", "schedule", "training_seed")
    np.testing.assert_allclose(combined["switch_rate_hz"].sel(schedule="tempered"), 12 / 20.0)
    for name, (units, _) in CHAIN_METRICS.items():
        assert combined[name].attrs["units"] == units, name


def test_summary_units_ratios_and_intervals(combined):
    summary = summarize(combined, seed=1, n_resamples=2000)
    for metric in (*SUMMARY_METRICS, *CHAIN_SUMMARY_METRICS):
        if metric in CONDITIONAL_METRICS:
            continue
        for suffix in ("mean", "ci_low", "ci_high"):
            var = summary[f"{metric}_{suffix}"]
            assert var.dims == ("network", "sampler", "schedule"), metric
            assert var.attrs["units"] == combined[metric].attrs["units"] and var.attrs["long_name"], metric
    for name in (*RATIOS, "ess_ratio", "switch_ratio_glm", "zero_free_switch_fraction"):
        assert summary[name].dims == ("network", "sampler") and summary[name].attrs["units"] == "1", name
    np.testing.assert_allclose(summary["switch_ratio"], 3.0)  # every run switches exactly as constructed
    np.testing.assert_allclose(summary["switch_ratio_glm"], 3.0)  # the pooled rates' ratio
    assert np.all(summary["switch_ratio_ci_low"] <= 3.0) and np.all(summary["switch_ratio_ci_high"] >= 3.0)
    np.testing.assert_array_equal(summary["zero_free_switch_fraction"], 0.0)
    assert summary["switch_ratio_by_training_seed"].dims == ("network", "sampler", "training_seed")
    assert summary["coverage_censored_fraction"].dims == ("network", "sampler", "schedule")
    assert summary["class_kl_mean"].dims == ("network", "sampler", "schedule", "kl_time_s")
    assert summary["class_kl_floor_mean"].dims == ("network", "sampler", "schedule", "kl_time_s")
    again = summarize(combined, seed=1, n_resamples=2000)
    xr.testing.assert_identical(summary, again)  # deterministic given the seed
    assert "two-stage cluster bootstrap" in summary.attrs["bootstrap_method"]
    assert summary.attrs["bootstrap_distinct_resamples"] == 156  # 2 training seeds x 3 seeds
    for name in RATIOS:
        by_rbm = summary[f"{name}_by_training_seed"]
        assert by_rbm.dims == ("network", "sampler", "training_seed") and by_rbm.attrs["units"] == "1"
    np.testing.assert_allclose(summary["switch_ratio_by_training_seed"], 3.0)


def test_an_interval_depends_only_on_its_own_cells_runs(combined):
    """Dropping, reordering or changing the lif runs leaves every gibbs interval as it was; another seed moves them."""
    rates = combined["switch_rate_hz"]
    noisy = combined.assign(switch_rate_hz=rates.copy(data=np.random.default_rng(8).gamma(2.0, 0.2, rates.shape)))
    names = ["switch_rate_hz_ci_low", "switch_rate_hz_ci_high", "switch_ratio_ci_low", "switch_ratio_ci_high",
             "switch_ratio_by_training_seed_ci_low", "switch_ratio_by_training_seed_ci_high"]
    gibbs = summarize(noisy, seed=1, n_resamples=500)[names].sel(sampler="gibbs")
    changed = noisy.assign(switch_rate_hz=xr.where(noisy["sampler"] == "lif", 2.0 * noisy["switch_rate_hz"],
                                                   noisy["switch_rate_hz"], keep_attrs=True))
    for runs in (noisy.sel(sampler=["gibbs"]), noisy.sel(sampler=["gibbs", "lif"]), changed):
        xr.testing.assert_identical(summarize(runs, seed=1, n_resamples=500)[names].sel(sampler="gibbs"), gibbs)
    other = summarize(noisy, seed=2, n_resamples=500)[names].sel(sampler="gibbs")
    assert not np.array_equal(other["switch_rate_hz_ci_high"], gibbs["switch_rate_hz_ci_high"])


def test_two_statistics_of_the_same_runs_get_the_same_interval(combined):
    """The lif tempered / free switch ratio is both ``switch_ratio`` and the tempered cell of the ratio to free lif."""
    rates = combined["switch_rate_hz"]
    noisy = combined.assign(switch_rate_hz=rates.copy(data=np.random.default_rng(9).gamma(2.0, 0.2, rates.shape)))
    summary = summarize(noisy, seed=3, n_resamples=500).sel(network="translated", sampler="lif")
    for end in ("ci_low", "ci_high"):
        assert float(summary[f"switch_ratio_{end}"]) == float(
            summary[f"switch_ratio_vs_free_lif_{end}"].sel(schedule="tempered"))
    assert float(summary["switch_ratio_ci_low"]) < float(summary["switch_ratio"]) < float(
        summary["switch_ratio_ci_high"])


def test_ratios_against_the_free_lif_runs_in_the_two_by_two_design():
    """lif, lif_stp and gibbs, free and tempered, with switch counts n: every ratio to free lif is exactly n / 4.

    Every run switches exactly as constructed, so every bootstrap resample has the same ratio and the
    interval collapses onto it; the free lif runs against themselves give 1; the GEE gives the same ratios.
    """
    rng = np.random.default_rng(4)
    switches = {("lif", "free"): 4, ("lif", "tempered"): 12, ("lif_stp", "free"): 6, ("lif_stp", "tempered"): 18,
                ("gibbs", "free"): 8, ("gibbs", "tempered"): 2}
    runs = [analyse(constructed_run(switching_labels(40, n, rng), schedule=schedule, seed=seed,
                                    training_seed=training_seed, sampler=sampler))
            for (sampler, schedule), n in switches.items() for training_seed in (0, 1) for seed in (10, 11)]
    summary = summarize(combine_runs(runs), seed=5, n_resamples=500).sel(network="translated")
    for name in RATIOS_VS_FREE_LIF:
        assert summary[name].dims == ("sampler", "schedule") and summary[name].attrs["units"] == "1"
        assert "free lif runs" in summary[name].attrs["long_name"]
    for (sampler, schedule), n in switches.items():
        cell = summary.sel(sampler=sampler, schedule=schedule)
        for suffix in ("", "_ci_low", "_ci_high"):
            assert float(cell[f"switch_ratio_vs_free_lif{suffix}"]) == pytest.approx(n / 4)
        assert float(cell["switch_ratio_vs_free_lif_glm"]) == pytest.approx(n / 4, rel=1e-6)
    np.testing.assert_allclose(summary["switch_ratio"].sel(sampler=["lif", "lif_stp", "gibbs"]), [3.0, 3.0, 0.25])


def test_free_lif_runs_over_themselves_have_the_ratio_one_without_spread():
    """Free lif runs that mostly never switch: their ratio to themselves is 1 with the interval [1, 1] (not the
    [0, inf] that counting 0 / 0 resamples in both tails would give), while the fraction of resamples without a free
    switch is still reported; the tempered runs over them keep their interval."""
    free = np.zeros((4, 3))
    free[0, 0] = 0.1
    ds = synthetic_runs({"free": free, "tempered": free + 0.2}, 20.0)
    summary = summarize(ds, seed=4, n_resamples=2000).sel(network="translated", sampler="lif")
    control = summary.sel(schedule="free")
    for suffix in ("", "_ci_low", "_ci_high"):
        assert float(control[f"switch_ratio_vs_free_lif{suffix}"]) == 1.0
    assert float(control["zero_free_lif_switch_fraction"]) > 0.1
    tempered = summary.sel(schedule="tempered")
    assert float(tempered["switch_ratio_vs_free_lif_ci_high"]) == np.inf
    assert float(tempered["switch_ratio_vs_free_lif_ci_high"]) == float(summary["switch_ratio_ci_high"])


def test_the_ratio_against_free_lif_pairs_training_seeds_and_seeds():
    """Paired over (training seed, seed): a pair missing on either side is left out of both means."""
    stp = np.array([[2.0, 4.0, np.nan], [6.0, 8.0, 10.0], [1.0, 1.0, 1.0], [3.0, 3.0, 3.0]])
    lif = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [np.nan, 1.0, 1.0], [1.0, 1.0, 1.0]])
    rates = np.stack([np.stack([lif, 2 * lif]), np.stack([stp, stp])])[None]
    ds = synthetic_runs({"free": lif, "tempered": 2 * lif}, 20.0)
    ds = xr.concat([ds, ds.assign_coords(sampler=["lif_stp"])], dim="sampler")
    ds["switch_rate_hz"] = (("network", "sampler", "schedule", "training_seed", "seed"), rates,
                            {"units": "Hz", "long_name": "switch rate"})
    summary = summarize(ds, seed=1, n_resamples=1000).sel(network="translated")
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
        ds = synthetic_runs(counts, duration_s, metrics=("coverage_time_s",))
        summary = summarize(ds, seed=int(rng.integers(1 << 30)), n_resamples=1000)
        interval = summary[["switch_ratio_ci_low", "switch_ratio_ci_high"]].sel(network="translated", sampler="lif")
        covered += float(interval.switch_ratio_ci_low) <= ratio <= float(interval.switch_ratio_ci_high)
    assert 0.85 <= covered / n_replicates <= 1.0


def test_one_rbm_whose_free_runs_never_switch_gives_a_finite_model_ratio():
    """3 trained RBMs x 5 seeds, Poisson switch counts with a tempered/free rate ratio of 3, RBM 0's free runs
    without any switch (its free rate is 40x lower): the GEE ratio is finite and its interval covers 3; the
    bootstrap's upper bound is inf, because 1 / 27 of its resamples hold only RBM 0 (binomial standard error
    0.0013 at 20000 resamples; allow 4), which the summary reports."""
    rng = np.random.default_rng(11)
    duration_s = 40.0
    scale = np.array([[0.025], [1.0], [1.4]])
    free = rng.poisson(0.5 * duration_s * scale * np.ones((3, 5)))
    free[0] = 0
    tempered = rng.poisson(3 * 0.5 * duration_s * scale * np.ones((3, 5)))
    ds = synthetic_runs({"free": free / duration_s, "tempered": tempered / duration_s}, duration_s, n_training_seeds=3,
                        n_seeds=5)
    summary = summarize(ds, seed=2, n_resamples=20_000).sel(network="translated", sampler="lif")
    glm = [float(summary[f"switch_ratio_glm{suffix}"]) for suffix in ("", "_ci_low", "_ci_high")]
    assert np.all(np.isfinite(glm)) and glm[1] <= 3.0 <= glm[2]
    assert glm[0] == pytest.approx(tempered.sum() / free.sum(), rel=1e-6)
    assert float(summary["switch_ratio_ci_high"]) == np.inf and np.isfinite(float(summary["switch_ratio"]))
    assert float(summary["zero_free_switch_fraction"]) == pytest.approx(1 / 27, abs=4 * np.sqrt(26 / 27**2 / 20_000))


def window_runs(labels: dict, duration_s: float = 40.0, reference=PRIOR) -> xr.Dataset:
    """A combined-runs dataset of one network and sampler (lif) from window labels, schedule -> (training seed,
    seed, window); the window free energy is the label, the class D_KL at the end are against the prior and the
    ``reference``, the other per-run metrics are placeholders."""
    schedules = list(labels)
    label = np.stack([np.asarray(labels[s], dtype=float) for s in schedules])[None, None]
    n_windows = label.shape[-1]
    dims = ("network", "sampler", "schedule", "training_seed", "seed")
    shape = label.shape[:-1]
    switches = np.count_nonzero(np.diff(label, axis=-1), axis=-1).astype(float)
    counts = np.stack([(label == k).sum(axis=-1) for k in range(N_CLASSES)], axis=-1)
    final = kl_target_to_histogram(PRIOR, counts)
    final_reference = kl_target_to_histogram(reference, counts)
    window_times = np.broadcast_to((np.arange(n_windows) + 0.5) * duration_s / n_windows, label.shape)
    data = {name: (dims, np.ones(shape), {"units": units, "long_name": name}) for name, (units, _) in METRICS.items()}
    data.update({
        "window_label": (dims + ("window",), label, {"units": "1", "long_name": "label"}),
        "window_free_energy": (dims + ("window",), label, {"units": "nat", "long_name": "free energy"}),
        "window_time_s": (dims + ("window",), window_times, {"units": "s", "long_name": "time"}),
        "n_switches": (dims, switches, {"units": "1", "long_name": "switches"}),
        "switch_rate_hz": (dims, switches / duration_s, {"units": "Hz", "long_name": "switch rate"}),
        "duration_s": (dims, np.full(shape, duration_s), {"units": "s", "long_name": "duration"}),
        "class_kl_final": (dims, final, {"units": "nat", "long_name": "kl"}),
        "class_kl_reference_final": (dims, final_reference, {"units": "nat", "long_name": "kl"}),
        "class_kl": (dims + ("kl_time_s",), final[..., None], {"units": "nat", "long_name": "kl"}),
        "class_kl_reference": (dims + ("kl_time_s",), final_reference[..., None], {"units": "nat", "long_name": "kl"}),
    })
    coords = {"network": ["translated"], "sampler": ["lif"], "schedule": schedules,
              "training_seed": np.arange(shape[3]), "seed": np.arange(shape[4]), "window": np.arange(n_windows),
              "kl_time_s": [duration_s]}
    return xr.Dataset(data, coords=coords)


def two_state_chains(n_rbms, n_chains, n_windows, stay, rng):
    """Window labels of a symmetric two-class Markov chain that keeps its class with probability ``stay``, started
    stationary: the indicators' autocorrelation is (2 stay - 1)^t, tau_int = (1 + r) / (1 - r), r = 2 stay - 1."""
    flips = rng.random((n_rbms, n_chains, n_windows)) >= stay
    flips[..., 0] = rng.random((n_rbms, n_chains)) < 0.5
    return np.cumsum(flips, axis=-1) % 2


def test_summary_ess_of_two_state_markov_chains_is_the_draws_over_tau():
    """2 trained RBMs x 8 seeds x 2000 windows, stay 0.8 (tau_int = 4 windows): ess_bulk_label = 16000 / 4 per RBM.
    The estimator's relative error is ~sqrt(2 (2 M + 1) / N) ~ 7 % per RBM (window M ~ 5 tau), 5 % for the mean of
    two; allow 15 %. Per simulated second: over all chains' time together."""
    rng = np.random.default_rng(12)
    stay, n_chains, n_windows = 0.8, 8, 2000
    r = 2 * stay - 1
    tau = (1 + r) / (1 - r)
    runs = with_chains(window_runs({"free": two_state_chains(2, n_chains, n_windows, stay, rng)}, duration_s=1000.0))
    summary = summarize(runs, seed=3, n_resamples=1000).sel(network="translated", sampler="lif", schedule="free")
    assert float(summary["ess_bulk_label_mean"]) == pytest.approx(n_chains * n_windows / tau, rel=0.15)
    assert float(summary["ess_bulk_label_per_s_mean"]) == pytest.approx(
        float(summary["ess_bulk_label_mean"]) / (n_chains * 1000.0), rel=1e-9)
    assert float(summary["ess_bulk_free_energy_per_s_mean"]) == pytest.approx(
        float(summary["ess_bulk_label_per_s_mean"]), rel=1e-9)  # the free energy is the label here
    assert float(summary["r_hat_label_mean"]) < 1.01


def test_nearly_stuck_chains_have_few_effective_windows_and_chains_in_different_classes_disagree():
    """Through the summary, per trained RBM of 5 seeds x 80 windows: chains that change class once (at a random
    window) are worth far fewer than 80 windows all together; chains stuck in different classes (a few shared
    excursions, so that every chain varies) have R-hat far above 1.1; independent draws of the 3 classes have
    bulk ESS near the 400 draws and R-hat near 1."""
    rng = np.random.default_rng(13)
    once = np.zeros((2, 5, 80), dtype=int)
    for index in np.ndindex(2, 5):
        once[index][rng.integers(5, 75):] = rng.integers(1, N_CLASSES)
    stuck = np.broadcast_to(np.array([0, 0, 1, 2, 2])[:, None], (2, 5, 80)).copy()
    stuck[..., ::17] = 1
    independent = rng.integers(0, N_CLASSES, size=(2, 5, 80))
    results = {}
    for name, labels in (("once", once), ("stuck", stuck), ("independent", independent)):
        summary = summarize(with_chains(window_runs({"free": labels})), seed=4, n_resamples=500)
        results[name] = summary.sel(network="translated", sampler="lif", schedule="free")
    assert float(results["once"]["ess_bulk_label_mean"]) < 20
    assert float(results["stuck"]["r_hat_label_mean"]) > 1.1
    assert float(results["independent"]["r_hat_label_mean"]) < 1.05
    assert float(results["independent"]["ess_bulk_label_mean"]) > 250


def test_chains_that_never_move_are_censored_in_the_summary():
    """One RBM's five seeds all stay in class 1: no R-hat (left out of the mean), ESS one per seed, flagged."""
    rng = np.random.default_rng(14)
    labels = rng.integers(0, N_CLASSES, size=(3, 5, 60))
    labels[1] = 1
    runs = with_chains(window_runs({"free": labels}))
    cell = runs.sel(network="translated", sampler="lif", schedule="free")
    assert float(cell["ess_bulk_label_censored"].sel(training_seed=1)) == 1.0
    assert np.isnan(float(cell["r_hat_label"].sel(training_seed=1)))
    assert float(cell["ess_bulk_label"].sel(training_seed=1)) == 5.0
    summary = summarize(runs, seed=5, n_resamples=500).sel(network="translated", sampler="lif", schedule="free")
    assert float(summary["ess_bulk_label_censored_fraction"]) == pytest.approx(1 / 3)
    assert float(summary["r_hat_label_mean"]) == pytest.approx(float(cell["r_hat_label"].sel(training_seed=[0, 2])
                                                                     .mean()))
    assert float(summary["ess_bulk_label_mean"]) == pytest.approx(float(cell["ess_bulk_label"].mean()))
    assert "censored" in summary["ess_bulk_label_mean"].attrs["long_name"]


def test_histograms_drawn_from_the_reference_score_within_their_floor():
    """40 trained RBMs x 4 seeds x 60 windows of labels drawn from the reference, independently or held for 10
    windows at a time (24 independent blocks per RBM): the pooled D_KL to the reference exceeds the floor's 95th
    percentile in ~5 % of the RBMs (at most 6 of 40, a false failure in < 2 %); a floor at the 240 windows instead
    of the ESS would leave the slow chains far above it. For independent labels the D_KL averages the floor (its
    relative spread ~ sqrt(2 / (K - 1)) = 1 per RBM, 0.16 for the mean of 40; allow 0.5), per RBM and per run.
    Labels drawn from another distribution lie above the 95th percentile in (nearly) every RBM."""
    rng = np.random.default_rng(15)
    reference = np.array([0.6, 0.3, 0.1])
    for block in (1, 10):
        sampled = np.repeat(rng.choice(N_CLASSES, p=reference, size=(40, 4, 60 // block)), block, axis=-1)
        cell = with_chains(window_runs({"free": sampled}, reference=reference), reference).sel(
            network="translated", sampler="lif", schedule="free")
        kl, floor = cell["pooled_class_kl_reference"].values, cell["pooled_class_kl_reference_floor"].values
        assert np.sum(kl > cell["pooled_class_kl_reference_floor_q95"].values) <= 6, block
        np.testing.assert_allclose(cell["pooled_class_kl_reference_excess"], kl - floor)
        if block == 1:
            assert kl.mean() == pytest.approx(floor.mean(), rel=0.5)
            per_run_kl = cell["class_kl_reference_final"].values
            assert per_run_kl.mean() == pytest.approx(cell["class_kl_reference_final_floor"].values.mean(), rel=0.3)
    biased = with_chains(window_runs({"free": rng.choice(N_CLASSES, p=[0.3, 0.3, 0.4], size=(40, 4, 60))},
                                     reference=reference), reference)
    biased = biased.sel(network="translated", sampler="lif", schedule="free")
    assert np.mean(biased["pooled_class_kl_reference"] > biased["pooled_class_kl_reference_floor_q95"]) > 0.9


def synthetic_runs(switch_rates: dict, duration_s: float, n_training_seeds: int = 4, n_seeds: int = 3,
                   metrics=tuple(METRICS)) -> xr.Dataset:
    """A combined-runs dataset (one network and sampler) with the given switch rates (training_seed, seed) per
    schedule and the switch counts they imply; the other ``metrics`` are placeholders."""
    dims = ("network", "sampler", "schedule", "training_seed", "seed")
    shape = (1, 1, 2, n_training_seeds, n_seeds)
    rates = np.stack([switch_rates["free"], switch_rates["tempered"]])[None, None]
    data = {name: (dims, np.ones(shape), {"units": METRICS[name][0], "long_name": name}) for name in metrics}
    data["switch_rate_hz"] = (dims, rates, {"units": "Hz", "long_name": "switch rate"})
    data["n_switches"] = (dims, np.round(rates * duration_s), {"units": "1", "long_name": "switches"})
    data["duration_s"] = (dims, np.full(shape, duration_s), {"units": "s", "long_name": "duration"})
    data["class_kl"] = (dims + ("kl_time_s",), np.zeros(shape + (2,)), {"units": "nat", "long_name": "kl"})
    data["class_kl_reference"] = data["class_kl"]
    return xr.Dataset(data, coords={"network": ["translated"], "sampler": ["lif"], "schedule": ["free", "tempered"],
                                    "training_seed": range(n_training_seeds), "seed": range(n_seeds),
                                    "kl_time_s": [1.0, 2.0]})

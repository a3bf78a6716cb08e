"""Tests of the mixing measures.

Tolerances of the autocorrelation-time tests use Sokal's standard error of tau_int,
``sigma / tau ~= sqrt(2 (2 M + 1) / n)`` with window ``M ~= c tau`` (checked against
the spread over 30 replicate AR(1) series while writing these tests), and allow
4 sigma.
"""

import itertools
from math import comb

import numpy as np
import pytest
from scipy import stats
from scipy.signal import lfilter

from lif_tempering.analysis.metrics import (
    autocorrelation,
    bootstrap_ci,
    class_histogram_kl,
    cluster_bootstrap_ci,
    cluster_ratio_bootstrap_ci,
    count_label_switches,
    coverage_time,
    effective_sample_size,
    integrated_autocorrelation_time,
    majority_labels_per_window,
    one_hot,
    ratio_bootstrap_ci,
    switch_rate_hz,
    two_stage_bootstrap_means,
)
from lif_tempering.config import count_two_stage_resamples


def ar1_series(phi, n, rng):
    """Stationary AR(1) series x_t = phi x_{t-1} + e_t, e_t ~ N(0, 1); tau_int = (1 + phi) / (1 - phi)."""
    x0 = rng.normal(0.0, 1.0 / np.sqrt(1.0 - phi**2))
    return lfilter([1.0], [1.0, -phi], rng.standard_normal(n), zi=[phi * x0])[0]


def sticky_label_chain(stay, n_classes, n, rng):
    """Markov chain that keeps its label with probability ``stay`` and otherwise redraws it
    uniformly (possibly the same). Transition matrix stay * I + (1 - stay) * 1 pi^T, so every
    function of the label has autocorrelation stay**t and tau_int = (1 + stay) / (1 - stay)."""
    draws = rng.integers(0, n_classes, size=n)
    redraw = rng.uniform(size=n) >= stay
    redraw[0] = True
    return draws[np.maximum.accumulate(np.where(redraw, np.arange(n), 0))]


def sokal_tolerance(tau, n, c=5.0, n_sigma=4.0):
    return n_sigma * np.sqrt(2.0 * (2.0 * c * tau + 1.0) / n)


# --- switches, majority labels, coverage -------------------------------------------


def test_count_label_switches_on_constructed_sequences():
    assert count_label_switches([]) == 0
    assert count_label_switches([3]) == 0
    assert count_label_switches([2, 2, 2, 2]) == 0
    assert count_label_switches([0, 0, 1, 1, 0, 2, 2]) == 3
    assert count_label_switches([0, 1, 0, 1, 0]) == 4
    assert count_label_switches(np.repeat([4, 1, 1, 7, 4], [5, 3, 2, 10, 1])) == 3


def test_switch_rate_divides_by_duration():
    assert switch_rate_hz([0, 1, 1, 2, 0], duration_s=2.0) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        switch_rate_hz([0, 1], duration_s=0.0)


def test_majority_labels_per_window():
    labels = np.array([5, 5, 3, 9, 1, 1, 2, 4, 4, 4, 0])
    window_ids = np.array([0, 0, 0, -1, 2, 2, 2, 3, 3, -1, -1])
    windows, majority = majority_labels_per_window(labels, window_ids)
    np.testing.assert_array_equal(windows, [0, 2, 3])
    np.testing.assert_array_equal(majority, [5, 1, 4])


def test_majority_ties_keep_the_previous_label_else_take_the_smallest():
    #           window 0: 7 | window 1: tie 2/7 -> 7 | window 2: tie 3/5 -> 3 | window 3: tie 5/3 -> 3
    labels = np.array([7, 7, 2, 7, 5, 3, 5, 3])
    window_ids = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    _, majority = majority_labels_per_window(labels, window_ids)
    np.testing.assert_array_equal(majority, [7, 7, 3, 3])
    # order of the samples within a window does not matter
    _, shuffled = majority_labels_per_window(labels[[1, 0, 3, 2, 5, 4, 7, 6]], window_ids)
    np.testing.assert_array_equal(shuffled, majority)


def test_majority_labels_without_windows():
    windows, majority = majority_labels_per_window([1, 2, 3], [-1, -1, -1])
    assert windows.size == 0 and majority.size == 0


def test_coverage_time_on_a_constructed_sequence():
    labels = [0, 0, 2, 0, 1, 1, 3, 2]
    times_s = np.arange(8) * 0.5
    assert coverage_time(labels, times_s, n_classes=4) == pytest.approx(3.0)  # class 3 arrives at 3.0 s
    assert coverage_time(labels[:6], times_s[:6], n_classes=3) == pytest.approx(2.0)  # class 1 at 2.0 s
    assert coverage_time(labels, times_s, n_classes=5) == np.inf
    with pytest.raises(ValueError):
        coverage_time(labels, times_s, n_classes=3)  # label 3 outside [0, 3)
    with pytest.raises(ValueError):
        coverage_time(labels, times_s[::-1], n_classes=4)


# --- class-histogram KL ------------------------------------------------------------


def test_kl_exact_values():
    prior = np.array([0.5, 0.25, 0.25])
    labels, times_s = np.zeros(10, dtype=int), np.arange(10.0)
    # a chain stuck in class 0, plain histogram: D_KL = ln(1 / 0.5)
    kl = class_histogram_kl(labels, times_s, prior, [-1.0, 0.0, 9.0], pseudo_count=0.0)
    assert np.isnan(kl[0])
    np.testing.assert_allclose(kl[1:], np.log(2.0), rtol=1e-12)
    # before the first sample the Jeffreys-smoothed histogram is uniform
    uniform_kl = np.sum(np.log((1 / 3) / prior)) / 3
    assert class_histogram_kl(labels, times_s, prior, [-1.0])[0] == pytest.approx(uniform_kl)
    # one sample in class 1 with pseudo-count 1/2: q = (0.5, 1.5, 0.5) / 2.5
    q = np.array([0.5, 1.5, 0.5]) / 2.5
    kl_one = class_histogram_kl([1], [0.0], prior, [0.0])[0]
    assert kl_one == pytest.approx(np.sum(q * np.log(q / prior)))


def test_kl_falls_to_zero_for_samples_from_the_prior():
    """For n independent draws 2 n D_KL ~ chi2(K - 1): mean K - 1, variance 2 (K - 1)."""
    rng = np.random.default_rng(3)
    prior = np.array([0.3, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])
    n_classes, n, n_runs = prior.size, 10_000, 50
    eval_times_s = np.array([9.0, 99.0, 999.0, n - 1.0])
    scaled = np.array(
        [
            2 * n * class_histogram_kl(rng.choice(n_classes, size=n, p=prior), np.arange(n), prior, [n - 1.0])[0]
            for _ in range(n_runs)
        ]
    )
    # mean of 50 chi2(9) values: standard error sqrt(2 * 9 / 50) = 0.6, allow 4 of them
    assert scaled.mean() == pytest.approx(n_classes - 1, abs=4 * np.sqrt(2 * (n_classes - 1) / n_runs))
    kl = class_histogram_kl(rng.choice(n_classes, size=n, p=prior), np.arange(n), prior, eval_times_s)
    assert kl[-1] < stats.chi2.ppf(0.999, n_classes - 1) / (2 * n)  # ~3e-4 nats
    assert kl[-1] < kl[0] / 100


def test_kl_rejects_a_bad_prior():
    with pytest.raises(ValueError):
        class_histogram_kl([0], [0.0], [0.5, 0.6], [0.0])
    with pytest.raises(ValueError):
        class_histogram_kl([0], [0.0], [1.0, 0.0], [0.0])


# --- autocorrelation and tau_int ---------------------------------------------------


def test_autocorrelation_matches_the_direct_sum():
    rng = np.random.default_rng(0)
    x = ar1_series(0.7, 257, rng)
    centred = x - x.mean()
    direct = np.correlate(centred, centred, mode="full")[x.size - 1 :]
    np.testing.assert_allclose(autocorrelation(x), direct / direct[0], atol=1e-12)
    both = autocorrelation(np.column_stack([x, 2.0 * x + 1.0]))
    np.testing.assert_allclose(both[:, 0], both[:, 1], atol=1e-12)
    assert np.all(np.isnan(autocorrelation(np.full(10, 3.0))))


def sokal_window_reference(x, c):
    """The documented rule written out plainly: smallest M with M >= c * tau_hat(M)."""
    centred = x - x.mean()
    acov = np.correlate(centred, centred, mode="full")[x.size - 1 :]
    rho = acov / acov[0]
    tau_hat = 1.0
    for lag in range(1, x.size):
        tau_hat += 2.0 * rho[lag]
        if lag >= c * tau_hat:
            return tau_hat
    return tau_hat


@pytest.mark.parametrize("c", [1.5, 5.0, 10.0])
def test_tau_int_follows_the_automatic_window_rule(c):
    rng = np.random.default_rng(12)
    series = np.column_stack([ar1_series(phi, 3000, rng) for phi in (0.0, 0.6, 0.95)])
    expected = [sokal_window_reference(column, c) for column in series.T]
    np.testing.assert_allclose(integrated_autocorrelation_time(series, c=c, combine=None), expected, rtol=1e-10)
    assert integrated_autocorrelation_time(series[:, 2], c=c) == pytest.approx(expected[2], rel=1e-10)


def test_tau_int_of_ar1_matches_theory():
    rng = np.random.default_rng(1)
    phi, n = 0.9, 1_000_000
    tau_true = (1 + phi) / (1 - phi)  # 19
    tau = integrated_autocorrelation_time(ar1_series(phi, n, rng))
    assert tau == pytest.approx(tau_true, rel=sokal_tolerance(tau_true, n))  # ~8 %


def test_tau_int_of_white_noise_is_one():
    rng = np.random.default_rng(2)
    n = 100_000
    tau = integrated_autocorrelation_time(rng.standard_normal(n))
    assert tau == pytest.approx(1.0, rel=sokal_tolerance(1.0, n))  # ~6 %
    assert effective_sample_size(rng.standard_normal(n)) == pytest.approx(n, rel=sokal_tolerance(1.0, n))


def test_effective_sample_size_of_ar1():
    rng = np.random.default_rng(4)
    phi, n = 0.5, 200_000
    tau_true = (1 + phi) / (1 - phi)
    ess = effective_sample_size(ar1_series(phi, n, rng))
    assert ess == pytest.approx(n / tau_true, rel=sokal_tolerance(tau_true, n))  # ~7 %


def test_tau_int_of_one_hot_labels():
    rng = np.random.default_rng(5)
    stay, n_classes, n = 0.8, 4, 500_000
    tau_true = (1 + stay) / (1 - stay)  # 9
    indicators = one_hot(sticky_label_chain(stay, n_classes, n, rng), n_classes + 1)  # class 4 never visited
    per_class = integrated_autocorrelation_time(indicators, combine=None)
    assert per_class.shape == (n_classes + 1,) and np.isnan(per_class[-1])
    tolerance = sokal_tolerance(tau_true, n)  # ~8 %
    np.testing.assert_allclose(per_class[:-1], tau_true, rtol=tolerance)
    assert integrated_autocorrelation_time(indicators, combine="max") == pytest.approx(np.max(per_class[:-1]))
    assert integrated_autocorrelation_time(indicators, combine="mean") == pytest.approx(np.mean(per_class[:-1]))
    assert effective_sample_size(indicators) == pytest.approx(n / np.max(per_class[:-1]))


def test_tau_int_of_a_stuck_chain_is_undefined():
    assert np.isnan(integrated_autocorrelation_time(one_hot(np.full(100, 2), 3)))
    assert np.isnan(integrated_autocorrelation_time(np.ones(100)))
    with pytest.raises(ValueError):
        integrated_autocorrelation_time(np.ones((100, 2)), combine="median")


# --- bootstrap ---------------------------------------------------------------------


def binomial_band(p, n_experiments, n_sigma=3.0):
    half = n_sigma * np.sqrt(p * (1 - p) / n_experiments)
    return p - half, p + half


def test_bootstrap_ci_covers_the_mean_at_the_nominal_rate():
    """200 experiments of 50 normal values: coverage within 3 binomial sigma of 95 %
    ([0.904, 0.996]; the percentile interval's own under-coverage at n = 50 is ~0.5 %)."""
    rng = np.random.default_rng(6)
    n_experiments, true_mean = 200, 2.0
    hits = 0
    for _ in range(n_experiments):
        ci = bootstrap_ci(rng.normal(true_mean, 1.0, 50), n_resamples=2000, seed=rng)
        hits += ci.low <= true_mean <= ci.high
    low, high = binomial_band(0.95, n_experiments)
    assert low <= hits / n_experiments <= high


def test_bootstrap_ci_width_matches_the_normal_approximation():
    """For n = 400 the percentile interval is mean +- 1.96 s / sqrt(n); with 20000
    resamples the quantiles are known to ~2 % of that half-width, allow 5 %."""
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 3.0, 400)
    ci = bootstrap_ci(x, n_resamples=20_000, seed=8)
    assert ci.estimate == pytest.approx(x.mean())
    half_width = stats.norm.ppf(0.975) * x.std() / np.sqrt(x.size)
    assert ci.low == pytest.approx(x.mean() - half_width, abs=0.05 * half_width)
    assert ci.high == pytest.approx(x.mean() + half_width, abs=0.05 * half_width)
    assert bootstrap_ci(x, seed=8) == bootstrap_ci(x, seed=8)
    median_ci = bootstrap_ci(x, statistic=np.median, n_resamples=2000, seed=8)
    assert median_ci.estimate == pytest.approx(np.median(x)) and median_ci.low < median_ci.high


def test_ratio_bootstrap_ci_covers_the_true_ratio():
    """200 experiments of 30 seeds per arm, true ratio 3: coverage within 3 binomial sigma of 95 %."""
    rng = np.random.default_rng(9)
    n_experiments, hits = 200, 0
    for _ in range(n_experiments):
        ci = ratio_bootstrap_ci(rng.normal(3.0, 1.0, 30), rng.normal(1.0, 0.2, 30), n_resamples=2000, seed=rng)
        hits += ci.low <= 3.0 <= ci.high
    low, high = binomial_band(0.95, n_experiments)
    assert low <= hits / n_experiments <= high


def test_paired_ratio_bootstrap_removes_shared_variation():
    """When each seed's numerator and denominator share a large factor (e.g. the trained
    network), paired resampling gives a much narrower interval around the same estimate."""
    rng = np.random.default_rng(10)
    shared = rng.lognormal(0.0, 0.8, 12)
    free = shared * rng.normal(1.0, 0.05, 12)
    tempered = 3.0 * shared * rng.normal(1.0, 0.05, 12)
    paired = ratio_bootstrap_ci(tempered, free, seed=11, paired=True)
    unpaired = ratio_bootstrap_ci(tempered, free, seed=11)
    assert paired.estimate == unpaired.estimate == pytest.approx(tempered.mean() / free.mean())
    assert paired.low < 3.0 < paired.high
    assert (paired.high - paired.low) < 0.25 * (unpaired.high - unpaired.low)
    with pytest.raises(ValueError):
        ratio_bootstrap_ci(tempered, free[:5], seed=0, paired=True)


# ---------------------------------------------------------------- two-stage (cluster) bootstrap

def exact_two_stage_variance(values):
    """Bootstrap variance of the two-stage resampled mean of complete (R, S) data: var(m_r) / R + mean(s_r^2) / (R S)."""
    n_clusters, n_units = values.shape
    return np.var(values.mean(axis=1)) / n_clusters + np.mean(np.var(values, axis=1)) / (n_clusters * n_units)


def test_two_stage_bootstrap_variance_is_the_exact_one():
    """20000 resamples: the variance of the resampled means has relative standard error
    sqrt(2 / 20000) = 1 % (nearly normal means); allow 5 %. Both regimes: clusters alike and clusters apart."""
    rng = np.random.default_rng(12)
    for between_sd in (0.0, 3.0):
        values = rng.normal(0.0, between_sd, (4, 1)) + rng.normal(0.0, 1.0, (4, 5))
        means = two_stage_bootstrap_means(values, n_resamples=20_000, seed=13)[0]
        assert means.var() == pytest.approx(exact_two_stage_variance(values), rel=0.05)
        assert means.mean() == pytest.approx(values.mean(), abs=5 * np.sqrt(means.var() / means.size))


def test_cluster_bootstrap_widens_the_interval_when_rbms_differ():
    """5 clusters x 4 units, between-cluster sd 3, within sd 0.3: the flat bootstrap sees
    ~sqrt(9 / 20) = 0.67 of spread per mean, the cluster bootstrap ~sqrt(9 / 5) = 1.3; over
    200 data sets the cluster interval is at least 1.5 x wider each time and covers the population
    mean far more often: ~80 % (the percentile interval under-covers with 5 clusters) against ~55 %
    for the flat one (binomial sigma ~3.5 % at 200 data sets; bounds 75 % and 65 %)."""
    rng = np.random.default_rng(14)
    n_experiments, hits_cluster, hits_flat = 200, 0, 0
    for _ in range(n_experiments):
        values = rng.normal(0.0, 3.0, (5, 1)) + rng.normal(0.0, 0.3, (5, 4))
        cluster = cluster_bootstrap_ci(values, n_resamples=1000, seed=rng)
        flat = bootstrap_ci(values.ravel(), n_resamples=1000, seed=rng)
        assert cluster.estimate == pytest.approx(flat.estimate)
        assert cluster.high - cluster.low > 1.5 * (flat.high - flat.low)
        hits_cluster += cluster.low <= 0.0 <= cluster.high
        hits_flat += flat.low <= 0.0 <= flat.high
    assert hits_cluster / n_experiments >= 0.75 and hits_flat / n_experiments <= 0.65


def test_cluster_bootstrap_matches_the_flat_one_without_clusters():
    """One cluster (one trained RBM) or one unit per cluster: the two-stage bootstrap is the flat one.
    30 values, 20000 resamples: the 2.5 % / 97.5 % quantiles are known to ~2 % of the half-width, allow 6 %.
    Without between-cluster variance but with several of both, the width follows the exact variance:
    sqrt(((R - 1) / R + (S - 1) / S) / (1 - 1 / (R S))) of the flat width (within-cluster variance counted
    twice); the mean ratio over 200 data sets has a standard error of ~1 %, allow 3 %."""
    rng = np.random.default_rng(15)
    x = rng.normal(0.0, 2.0, 30)
    flat = bootstrap_ci(x, n_resamples=20_000, seed=16)
    half_width = (flat.high - flat.low) / 2
    for shape in ((1, 30), (30, 1)):
        cluster = cluster_bootstrap_ci(x.reshape(shape), n_resamples=20_000, seed=17)
        assert cluster.low == pytest.approx(flat.low, abs=0.06 * half_width)
        assert cluster.high == pytest.approx(flat.high, abs=0.06 * half_width)
    n_clusters, n_units = 6, 5
    widths = []
    for _ in range(200):
        values = rng.normal(0.0, 1.0, (n_clusters, n_units))
        cluster = cluster_bootstrap_ci(values, n_resamples=2000, seed=rng)
        flat = bootstrap_ci(values.ravel(), n_resamples=2000, seed=rng)
        widths.append((cluster.high - cluster.low) / (flat.high - flat.low))
    expected = np.sqrt(((n_clusters - 1) / n_clusters + (n_units - 1) / n_units) / (1 - 1 / (n_clusters * n_units)))
    assert np.mean(widths) == pytest.approx(expected, rel=0.03)


def test_cluster_ratio_bootstrap_keeps_pairs_together():
    """Tempered = 3 x free in every (training seed, seed) pair, with large differences between RBMs
    and seeds: every resample's ratio over the same pairs is exactly 3; unpaired resampling would scatter."""
    rng = np.random.default_rng(18)
    free = rng.lognormal(0.0, 1.0, (4, 1)) * rng.lognormal(0.0, 0.3, (4, 3))
    ci = cluster_ratio_bootstrap_ci(3.0 * free, free, n_resamples=2000, seed=19)
    assert ci.estimate == pytest.approx(3.0) and ci.low == pytest.approx(3.0) and ci.high == pytest.approx(3.0)
    with pytest.raises(ValueError):
        cluster_ratio_bootstrap_ci(free, free[:, :2], seed=0)


def test_cluster_bootstrap_leaves_out_missing_units_and_pairs():
    """A missing unit is never drawn (its cluster resamples its own present units); an empty cluster is
    never drawn; a pair with one side missing is left out of both sides."""
    values = np.array([[1.0, 2.0, np.nan], [np.nan, np.nan, np.nan], [10.0, 20.0, 30.0]])
    means = two_stage_bootstrap_means(values, n_resamples=5000, seed=20)[0]
    assert np.all(np.isfinite(means)) and means.min() >= 1.0 and means.max() <= 30.0
    assert cluster_bootstrap_ci(values, seed=21).estimate == pytest.approx(np.nanmean(values))
    numerator = np.array([[2.0, 4.0, 100.0]])
    denominator = np.array([[1.0, 2.0, np.nan]])
    ci = cluster_ratio_bootstrap_ci(numerator, denominator, n_resamples=2000, seed=22)
    assert ci.estimate == pytest.approx(2.0) and ci.low == pytest.approx(2.0) and ci.high == pytest.approx(2.0)


@pytest.mark.parametrize("n_clusters, n_units", [(1, 1), (1, 4), (2, 2), (2, 3), (3, 1), (3, 2)])
def test_distinct_two_stage_resamples_match_enumeration(n_clusters, n_units):
    """Every way to draw clusters, then units within each drawn cluster; distinct multisets of (cluster, unit)."""
    distinct = set()
    units = list(itertools.product(range(n_units), repeat=n_units))
    for clusters in itertools.product(range(n_clusters), repeat=n_clusters):
        for draws in itertools.product(units, repeat=n_clusters):
            distinct.add(tuple(sorted((c, u) for c, drawn in zip(clusters, draws) for u in drawn)))
    assert count_two_stage_resamples(n_clusters, n_units) == len(distinct)


def test_distinct_two_stage_resamples_of_one_stage():
    """One cluster: multisets of n from n, C(2 n - 1, n); one unit per cluster: the same for the clusters."""
    for n in range(1, 8):
        assert count_two_stage_resamples(1, n) == count_two_stage_resamples(n, 1) == comb(2 * n - 1, n)
    with pytest.raises(ValueError):
        count_two_stage_resamples(0, 3)


def test_resampled_ratios_without_a_value_are_left_out_and_unbounded_ones_stay_infinite():
    """Pairs (tempered, free) = (0, 0) and (1, 0.5): a resample of the first pair twice is 0 / 0 and has no
    ratio, every other resample gives 2. Pairs (1, 0) and (1, 1): resamples give inf, 2 or 1."""
    ci = cluster_ratio_bootstrap_ci([[0.0, 1.0]], [[0.0, 0.5]], n_resamples=2000, seed=23)
    assert ci == (2.0, 2.0, 2.0)
    ci = cluster_ratio_bootstrap_ci([[1.0, 1.0]], [[0.0, 1.0]], n_resamples=2000, seed=24)
    assert ci.estimate == 2.0 and ci.low == 1.0 and ci.high == np.inf

"""Mixing measures for sampling chains: mode switches, coverage, running class histograms,
bootstrap confidence intervals and the model-based rate ratio of switch counts.

Labels are the classifier's class of each sample: integers in ``[0, n_classes)``,
ordered in time. Read free and tempered runs the same way (the same readout instants
or one majority label per ground-state window, see :mod:`lif_tempering.tempering.schedules`):
label changes between consecutive samples read at every step are dominated by
classifier flicker near class boundaries, not by mixing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

SeedLike = int | np.random.Generator


def count_label_switches(labels: ArrayLike) -> int:
    """Number of changes between consecutive labels, ``#{i : labels[i] != labels[i-1]}``.

    Parameters
    ----------
    labels : array_like, shape (n,)
        Class labels in time order.

    Returns
    -------
    int, in [0, n - 1] (0 for n < 2)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError("labels must be 1-D")
    return int(np.count_nonzero(labels[1:] != labels[:-1]))


def switch_rate_hz(labels: ArrayLike, duration_s: float) -> float:
    """Mode switches per simulated second: :func:`count_label_switches` / ``duration_s``.

    ``duration_s`` is the simulated time the labels were read from (the whole run, not
    only the time spent near ``T = 1``), so free and tempered runs of equal length are
    compared per simulated second.

    Parameters
    ----------
    labels : array_like, shape (n,)
        Class labels in time order.
    duration_s : float
        Simulated duration in s, > 0.

    Returns
    -------
    float, Hz
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    return count_label_switches(labels) / duration_s


def majority_labels_per_window(labels: ArrayLike, window_ids: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """One majority label per ground-state window.

    Samples with a negative window id (outside every window) are ignored. Ties are
    resolved deterministically: if the previous window's majority label is among the
    tied labels it is kept (a tie is no evidence of a mode switch, so ties never add
    switches); otherwise the smallest tied label wins.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class labels of the samples.
    window_ids : array_like of int, shape (n,)
        Window index of each sample, -1 outside windows
        (see :func:`lif_tempering.tempering.schedules.ground_state_window_ids`).

    Returns
    -------
    windows : ndarray of int, shape (n_windows,)
        The distinct non-negative window ids, ascending.
    majority : ndarray of int, shape (n_windows,)
        The majority label of each window.
    """
    labels = np.asarray(labels)
    window_ids = np.asarray(window_ids)
    if labels.ndim != 1 or labels.shape != window_ids.shape:
        raise ValueError("labels and window_ids must be 1-D of equal length")
    inside = window_ids >= 0
    windows, inverse = np.unique(window_ids[inside], return_inverse=True)
    labels = labels[inside]
    order = np.argsort(inverse, kind="stable")
    groups = np.split(labels[order], np.flatnonzero(np.diff(inverse[order])) + 1) if labels.size else []
    majority = np.empty(windows.size, dtype=labels.dtype)
    for i, group in enumerate(groups):
        values, counts = np.unique(group, return_counts=True)
        tied = values[counts == counts.max()]
        majority[i] = majority[i - 1] if i > 0 and majority[i - 1] in tied else tied[0]
    return windows, majority


def coverage_time(labels: ArrayLike, times_s: ArrayLike, n_classes: int) -> float:
    """Time at which every class ``0 .. n_classes - 1`` has been visited at least once.

    Returns the time stamp of the sample that completes the set, measured on the same
    clock as ``times_s`` (subtract the start of sampling beforehand). If some class is
    never visited the coverage time is only known to exceed the run: ``np.inf`` is
    returned, so that it sorts and compares correctly; report the fraction of such
    censored runs rather than averaging over them.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class labels in time order, in ``[0, n_classes)``.
    times_s : array_like, shape (n,)
        Sample times in s, non-decreasing.
    n_classes : int
        Number of classes.

    Returns
    -------
    float, s (``inf`` if not all classes were visited)
    """
    labels, times_s = _labels_and_times(labels, times_s, n_classes)
    present, first_index = np.unique(labels, return_index=True)
    if present.size < n_classes:
        return np.inf
    return float(times_s[first_index.max()])


def running_class_counts(labels: ArrayLike, times_s: ArrayLike, n_classes: int, eval_times_s: ArrayLike) -> np.ndarray:
    """Class counts of the labels read up to each evaluation time: ``out[m, k] = #{i : times_s[i] <= t_m, labels[i] = k}``.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class labels in time order, in ``[0, n_classes)``.
    times_s : array_like, shape (n,)
        Label times in s, non-decreasing.
    n_classes : int
    eval_times_s : array_like, shape (m,)
        Times in s.

    Returns
    -------
    ndarray of int, shape (m, n_classes)
    """
    labels, times_s = _labels_and_times(labels, times_s, n_classes)
    n_seen = np.searchsorted(times_s, np.asarray(eval_times_s, dtype=float), side="right")
    return np.stack([np.searchsorted(np.flatnonzero(labels == k), n_seen) for k in range(n_classes)], axis=-1)


class ConfidenceInterval(NamedTuple):
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float


def bootstrap_ci(
    values: ArrayLike,
    statistic: Callable[..., np.ndarray] = np.mean,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    *,
    seed: SeedLike,
) -> ConfidenceInterval:
    """Percentile bootstrap confidence interval of ``statistic(values)``.

    Draws ``n_resamples`` resamples of ``values`` with replacement (e.g. one value per
    independent seed) and returns the ``(1 -/+ confidence) / 2`` quantiles of the
    resampled statistic. The percentile interval under-covers somewhat for very few
    values (a handful of seeds); it is exact only asymptotically.

    Parameters
    ----------
    values : array_like, shape (n,)
        Independent observations.
    statistic : callable
        Reducer called as ``statistic(array, axis=-1)`` (numpy style, e.g. ``np.mean``,
        ``np.median``).
    n_resamples : int
        Number of bootstrap resamples.
    confidence : float
        Confidence level in (0, 1).
    seed : int or numpy.random.Generator
        Seed of the resampling.

    Returns
    -------
    ConfidenceInterval(estimate=statistic(values), low, high)
    """
    values = np.asarray(values, dtype=float)
    _check_bootstrap_args(values, n_resamples, confidence)
    rng = np.random.default_rng(seed)
    index = rng.integers(0, values.size, size=(n_resamples, values.size))
    resampled = statistic(values[index], axis=-1)
    return _percentile_interval(float(statistic(values, axis=-1)), resampled, confidence)


class RatioInterval(NamedTuple):
    """A ratio of means with its bootstrap interval and the fraction of resamples whose denominator mean is 0."""

    estimate: float
    low: float
    high: float
    zero_denominator_fraction: float


def ratio_bootstrap_ci(
    numerator_values: ArrayLike,
    denominator_values: ArrayLike,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    *,
    seed: SeedLike,
    paired: bool = False,
) -> RatioInterval:
    """Percentile bootstrap interval of a ratio of means, e.g. tempered / free switch rate.

    The estimate is ``mean(numerator_values) / mean(denominator_values)``. Seeds are
    resampled with replacement: independently in the two groups (``paired=False``), or
    with the same indices in both (``paired=True``, equal lengths), which is right when
    entry ``i`` of both groups shares something that varies between seeds, such as the
    trained network. Resamples whose denominator mean is zero count as they are
    (``x / 0 = inf``, ``0 / 0`` in both tails): see :func:`ratio_interval`.

    Parameters
    ----------
    numerator_values : array_like, shape (n,)
    denominator_values : array_like, shape (m,)
        One value per independent seed.
    n_resamples : int
        Number of bootstrap resamples.
    confidence : float
        Confidence level in (0, 1).
    seed : int or numpy.random.Generator
        Seed of the resampling.
    paired : bool
        Resample numerator and denominator seeds together.

    Returns
    -------
    RatioInterval(estimate, low, high, zero_denominator_fraction), dimensionless
    """
    numerator = np.asarray(numerator_values, dtype=float)
    denominator = np.asarray(denominator_values, dtype=float)
    _check_bootstrap_args(numerator, n_resamples, confidence)
    _check_bootstrap_args(denominator, n_resamples, confidence)
    if paired and numerator.shape != denominator.shape:
        raise ValueError("paired resampling needs equally many numerator and denominator values")
    rng = np.random.default_rng(seed)
    index_num = rng.integers(0, numerator.size, size=(n_resamples, numerator.size))
    index_den = index_num if paired else rng.integers(0, denominator.size, size=(n_resamples, denominator.size))
    return ratio_interval(numerator, denominator, numerator[index_num].mean(axis=-1),
                          denominator[index_den].mean(axis=-1), confidence)


def two_stage_bootstrap_means(*arrays: ArrayLike, n_resamples: int = 10_000, seed: SeedLike) -> np.ndarray:
    """Means of two-stage (cluster) bootstrap resamples of ``arrays``, all resampled with the same indices.

    Each array has shape (n_clusters, n_units), e.g. training seeds (trained RBMs) x
    sampling seeds; ``nan`` (only ``nan``) marks a missing unit, and a unit missing in
    any array is left out of all (pairs stay paired); an infinite value is a value and
    makes every resample that draws it infinite. A resample draws ``n_clusters``
    clusters with replacement among the clusters that have units, then, within each
    drawn cluster, as many units as it has, with replacement among its own. Its
    statistic is the mean over all drawn units (for equal cluster sizes, the mean of
    the cluster means).

    Returns
    -------
    ndarray, shape (len(arrays), n_resamples)
    """
    values = np.stack([np.asarray(a, dtype=float) for a in arrays])
    if values.ndim != 3 or values.shape[1] == 0 or values.shape[2] == 0:
        raise ValueError("every array must be 2-D (n_clusters, n_units), non-empty and of equal shape")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    present = np.all(~np.isnan(values), axis=0)
    values, present = values[:, present.any(axis=1)], present[present.any(axis=1)]
    if present.size == 0:
        raise ValueError("no unit has a value in every array")
    n_clusters, n_units = present.shape
    n_present = present.sum(axis=1)
    # within each cluster, its present units first (stable order), then the missing ones
    order = np.argsort(~present, axis=1, kind="stable")
    rng = np.random.default_rng(seed)
    clusters = rng.integers(0, n_clusters, size=(n_resamples, n_clusters))
    drawn_size = n_present[clusters][..., None]
    slot = (rng.random((n_resamples, n_clusters, n_units)) * drawn_size).astype(np.int64)
    units = order[clusters[..., None], slot]
    weight = np.arange(n_units) < drawn_size
    drawn = values[:, clusters[..., None], units]
    return np.sum(np.where(weight, drawn, 0.0), axis=(2, 3)) / weight.sum(axis=(1, 2))


def cluster_bootstrap_ci(
    values: ArrayLike, n_resamples: int = 10_000, confidence: float = 0.95, *, seed: SeedLike
) -> ConfidenceInterval:
    """Two-stage (cluster) percentile bootstrap interval of the mean of ``values`` (n_clusters, n_units).

    Clusters (e.g. trained RBMs) are resampled with replacement, then units (sampling
    seeds) within each drawn cluster (:func:`two_stage_bootstrap_means`); ``nan`` marks
    a missing unit. The estimate is the mean over the present units; an infinite value
    enters estimate and resamples alike.

    For complete data (R clusters of S units, cluster means ``m_r``, within-cluster
    variances ``s_r^2`` with divisor S) the bootstrap variance of the mean is exactly
    ``var_r(m_r) / R + mean_r(s_r^2) / (R S)`` (variances with divisor R). Unlike
    :func:`bootstrap_ci` on the pooled units it contains the variance between
    clusters; without any, it is about ``((R - 1) / R + (S - 1) / S) sigma^2 / (R S)``
    against the flat ``(1 - 1 / (R S)) sigma^2 / (R S)``: resampling at both stages
    counts the within-cluster variance twice, a conservative interval (Davison and
    Hinkley 1997, *Bootstrap Methods and their Application*, section 3.8). With one
    cluster it is :func:`bootstrap_ci` of its units, with one unit per cluster that
    of the clusters.

    Returns
    -------
    ConfidenceInterval(estimate, low, high)
    """
    values = np.asarray(values, dtype=float)
    _check_bootstrap_args(values.ravel(), n_resamples, confidence)
    resampled = two_stage_bootstrap_means(values, n_resamples=n_resamples, seed=seed)[0]
    return _percentile_interval(float(np.nanmean(values)), resampled, confidence)


def cluster_ratio_bootstrap_ci(
    numerator_values: ArrayLike,
    denominator_values: ArrayLike,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    *,
    seed: SeedLike,
) -> RatioInterval:
    """Two-stage percentile bootstrap interval of a paired ratio of means, e.g. tempered / free switch rate.

    ``numerator_values`` and ``denominator_values`` (n_clusters, n_units) are paired
    entry by entry (same trained RBM and sampling seed); a pair with a ``nan`` on
    either side is left out. Clusters, then units within each drawn cluster, are
    resampled with the same indices on both sides (:func:`two_stage_bootstrap_means`),
    and each resample gives the ratio of its means over the same pairs; resamples whose
    denominator mean is zero count as they are (:func:`ratio_interval`).

    Returns
    -------
    RatioInterval(estimate, low, high, zero_denominator_fraction), dimensionless
    """
    numerator = np.asarray(numerator_values, dtype=float)
    denominator = np.asarray(denominator_values, dtype=float)
    if numerator.shape != denominator.shape:
        raise ValueError("paired resampling needs numerator and denominator values of equal shape")
    _check_bootstrap_args(numerator.ravel(), n_resamples, confidence)
    means = two_stage_bootstrap_means(numerator, denominator, n_resamples=n_resamples, seed=seed)
    both = ~np.isnan(numerator) & ~np.isnan(denominator)
    return ratio_interval(numerator[both], denominator[both], means[0], means[1], confidence)


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, numerator_means: np.ndarray,
                   denominator_means: np.ndarray, confidence: float) -> RatioInterval:
    """Estimate ``mean(numerator) / mean(denominator)`` and the percentile interval of resampled means' ratios.

    Every resample counts, so that the interval is not conditional on a non-zero
    denominator: ``x / 0`` is ``+inf`` (``-inf`` for ``x < 0``), and a resample without a
    ratio (``0 / 0``) counts in both tails, as the smallest possible ratio for the low
    end (0 when no value is negative, else ``-inf``) and as ``+inf`` for the high end,
    a conservative interval. The estimate follows the same arithmetic (``inf`` when the
    denominator's mean is 0, ``nan`` for ``0 / 0``). ``zero_denominator_fraction``: the
    fraction of resamples whose denominator mean is 0 (e.g. free runs without a switch).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = float(np.mean(numerator) / np.mean(denominator)) if numerator.size else np.nan
        ratios = numerator_means / denominator_means
    lowest = -np.inf if (np.any(numerator < 0) or np.any(denominator < 0)) else 0.0
    alpha = 1.0 - confidence
    undefined = np.isnan(ratios)
    low = np.percentile(np.where(undefined, lowest, ratios), 100 * alpha / 2, method="inverted_cdf")
    high = np.percentile(np.where(undefined, np.inf, ratios), 100 * (1 - alpha / 2), method="inverted_cdf")
    return RatioInterval(estimate, float(low), float(high), float(np.mean(denominator_means == 0)))


def poisson_rate_ratio(counts: ArrayLike, exposure_s: ArrayLike, treated: ArrayLike, clusters: ArrayLike,
                       confidence: float = 0.95) -> ConfidenceInterval:
    """Rate ratio of treated to untreated Poisson counts by a GEE with cluster-robust, bias-reduced intervals.

    The model is ``log E[counts] = b0 + b1 treated + log(exposure_s)`` (Poisson family, log
    link, exposure as offset), fitted as a generalised estimating equation (Liang and Zeger
    1986; statsmodels' ``GEE``) with ``clusters`` (e.g. trained RBMs) as the groups and an
    independence working correlation: the estimate ``exp(b1)`` is the ratio of the pooled
    rates, ``(sum treated counts / exposure) / (sum untreated counts / exposure)``, finite as
    long as some untreated entry has a count. The interval is
    ``exp(b1 +- t_{G - 1} se)`` with the Mancl-DeRouen (2001) bias-reduced sandwich standard
    error and a t quantile with ``G - 1`` degrees of freedom for ``G`` clusters (few clusters:
    the plain sandwich is biased low and its normal interval too narrow; Cameron and Miller
    2015). Entries with a ``nan`` count or exposure are left out.

    Limits: without any untreated count the estimate is ``inf`` with interval ``(nan, inf)``;
    without any treated count ``0`` with ``(0, nan)``; with neither, or with fewer than two
    clusters (no cluster-robust variance), the interval is ``nan``.

    Returns
    -------
    ConfidenceInterval(estimate, low, high), dimensionless
    """
    counts, exposure = np.asarray(counts, dtype=float).ravel(), np.asarray(exposure_s, dtype=float).ravel()
    treated, clusters = np.asarray(treated, dtype=bool).ravel(), np.asarray(clusters).ravel()
    keep = ~np.isnan(counts) & ~np.isnan(exposure)
    counts, exposure, treated, clusters = counts[keep], exposure[keep], treated[keep], clusters[keep]
    if np.any(counts < 0) or np.any(exposure <= 0):
        raise ValueError("counts must be >= 0 and exposures > 0")
    if treated.all() or not treated.any():
        return ConfidenceInterval(np.nan, np.nan, np.nan)
    treated_total, untreated_total = counts[treated].sum(), counts[~treated].sum()
    if treated_total == 0 or untreated_total == 0:
        return {(True, True): ConfidenceInterval(np.nan, np.nan, np.nan),
                (False, True): ConfidenceInterval(np.inf, np.nan, np.inf),
                (True, False): ConfidenceInterval(0.0, 0.0, np.nan)}[(treated_total == 0, untreated_total == 0)]
    pooled = float(treated_total / exposure[treated].sum() / (untreated_total / exposure[~treated].sum()))
    n_clusters = np.unique(clusters).size
    if n_clusters < 2:
        return ConfidenceInterval(pooled, np.nan, np.nan)
    return _gee_interval(counts, exposure, treated, clusters, n_clusters, confidence)


def _gee_interval(counts, exposure, treated, clusters, n_clusters, confidence) -> ConfidenceInterval:
    """:func:`poisson_rate_ratio`'s fit. statsmodels is imported here: its import takes seconds, which every
    user of this module would pay otherwise."""
    from scipy import stats
    from statsmodels.genmod import cov_struct, families
    from statsmodels.genmod.generalized_estimating_equations import GEE

    design = np.column_stack([np.ones(counts.size), treated.astype(float)])
    model = GEE(counts, design, groups=clusters, family=families.Poisson(), offset=np.log(exposure),
                cov_struct=cov_struct.Independence())
    with warnings.catch_warnings():  # a degenerate fit (e.g. clusters alike) leaves a nan standard error
        warnings.simplefilter("ignore")
        fit = model.fit(cov_type="bias_reduced")
        log_ratio, se = float(fit.params[1]), float(fit.bse[1])
    half = stats.t.ppf(0.5 + confidence / 2, n_clusters - 1) * se
    return ConfidenceInterval(float(np.exp(log_ratio)), float(np.exp(log_ratio - half)), float(np.exp(log_ratio + half)))


def _labels_and_times(labels: ArrayLike, times_s: ArrayLike, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Validated integer labels in ``[0, n_classes)`` and non-decreasing times of equal length."""
    labels = np.asarray(labels)
    times_s = np.asarray(times_s, dtype=float)
    if labels.ndim != 1 or labels.shape != times_s.shape:
        raise ValueError("labels and times_s must be 1-D of equal length")
    if labels.size and (np.any(labels < 0) or np.any(labels >= n_classes)):
        raise ValueError(f"labels must lie in [0, {n_classes})")
    if np.any(np.diff(times_s) < 0):
        raise ValueError("times_s must be non-decreasing")
    return labels, times_s


def _check_bootstrap_args(values: np.ndarray, n_resamples: int, confidence: float) -> None:
    if values.ndim != 1 or values.size == 0:
        raise ValueError("values must be 1-D and non-empty")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _percentile_interval(estimate: float, resampled: np.ndarray, confidence: float) -> ConfidenceInterval:
    """Percentile interval from order statistics of ``resampled`` (no interpolation, so ``inf`` stays ``inf``).

    A resample without a value (``nan``: infinite values of both signs drawn together) counts in both
    tails, as ``-inf`` for the low end and ``+inf`` for the high end.
    """
    alpha = 1.0 - confidence
    undefined = np.isnan(resampled)
    low = np.percentile(np.where(undefined, -np.inf, resampled), 100 * alpha / 2, method="inverted_cdf")
    high = np.percentile(np.where(undefined, np.inf, resampled), 100 * (1 - alpha / 2), method="inverted_cdf")
    return ConfidenceInterval(estimate, float(low), float(high))

"""Mixing measures for sampling chains: mode switches, coverage, class-histogram
convergence, integrated autocorrelation time and bootstrap confidence intervals.

Labels are the classifier's class of each sample: integers in ``[0, n_classes)``,
ordered in time. Read free and tempered runs the same way (the same readout instants
or one majority label per ground-state window, see :mod:`lif_tempering.tempering.schedules`):
label changes between consecutive samples read at every step are dominated by
classifier flicker near class boundaries, not by mixing.
"""

from __future__ import annotations

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


def class_histogram_kl(
    labels: ArrayLike,
    times_s: ArrayLike,
    prior: ArrayLike,
    eval_times_s: ArrayLike,
    pseudo_count: float = 0.5,
) -> np.ndarray:
    """Kullback-Leibler divergence of the running class histogram to the class prior.

    At each evaluation time ``t`` the samples with ``times_s <= t`` give counts ``n_k``
    (``N`` in total); the histogram is smoothed with ``pseudo_count`` (``a``) per class,
    ``q_k = (n_k + a) / (N + K a)``, and

        D_KL(q || prior) = sum_k q_k ln(q_k / prior_k)    (nats).

    The default ``a = 1/2`` is the Jeffreys (Krichevsky-Trofimov) estimator; it makes
    ``q`` uniform before the first sample, and its effect vanishes as ``1/N``. With
    ``a = 0`` (the plain histogram) the value before the first sample is ``nan``.
    For ``N`` independent draws from the prior, ``2 N D_KL`` is approximately
    chi-squared with ``K - 1`` degrees of freedom, so it falls like ``(K - 1) / (2 N)``;
    correlated samples fall more slowly, which is what this measures.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class labels in time order, in ``[0, K)``.
    times_s : array_like, shape (n,)
        Sample times in s, non-decreasing.
    prior : array_like, shape (K,)
        Class prior (e.g. the training data's class frequencies), positive, summing to 1.
    eval_times_s : array_like, shape (m,)
        Times in s at which to evaluate the divergence.
    pseudo_count : float
        Pseudo-count ``a >= 0`` added to every class.

    Returns
    -------
    ndarray, shape (m,), nats
    """
    prior = np.asarray(prior, dtype=float)
    if prior.ndim != 1 or np.any(prior <= 0) or not np.isclose(prior.sum(), 1.0):
        raise ValueError("prior must be 1-D, positive and sum to 1")
    if pseudo_count < 0:
        raise ValueError(f"pseudo_count must be >= 0, got {pseudo_count}")
    n_classes = prior.size
    labels, times_s = _labels_and_times(labels, times_s, n_classes)
    n_seen = np.searchsorted(times_s, np.asarray(eval_times_s, dtype=float), side="right")
    counts = np.stack(
        [np.searchsorted(np.flatnonzero(labels == k), n_seen) for k in range(n_classes)], axis=-1
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        q = (counts + pseudo_count) / (n_seen[:, None] + n_classes * pseudo_count)
        terms = np.where(q > 0, q * np.log(q / prior), 0.0)
    return np.where(n_seen + pseudo_count > 0, terms.sum(axis=-1), np.nan)


def one_hot(labels: ArrayLike, n_classes: int) -> np.ndarray:
    """Indicator time series of the classes: ``out[i, k] = 1.0 if labels[i] == k``.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class labels in ``[0, n_classes)``.
    n_classes : int

    Returns
    -------
    ndarray of float, shape (n, n_classes)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or np.any(labels < 0) or np.any(labels >= n_classes):
        raise ValueError(f"labels must be 1-D integers in [0, {n_classes})")
    return (labels[:, None] == np.arange(n_classes)).astype(float)


def autocorrelation(x: ArrayLike) -> np.ndarray:
    """Normalised autocorrelation function along axis 0, computed by FFT.

    ``rho(t) = C(t) / C(0)`` with the biased (1/n) estimate
    ``C(t) = (1/n) sum_{i < n - t} (x_i - xbar)(x_{i+t} - xbar)``, as in emcee; the FFT is
    zero-padded to avoid circular wrap-around. Columns of a 2-D input are treated as
    independent series. A constant series has no defined autocorrelation: ``nan``.

    Parameters
    ----------
    x : array_like, shape (n,) or (n, d)
        Time series (samples along axis 0).

    Returns
    -------
    ndarray, shape of ``x``; ``rho(0) = 1``
    """
    x = np.asarray(x, dtype=float)
    if x.ndim not in (1, 2) or x.shape[0] < 2:
        raise ValueError("x must be 1-D or 2-D with at least two samples along axis 0")
    n = x.shape[0]
    n_fft = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x - x.mean(axis=0), n=n_fft, axis=0)
    acov = np.fft.irfft(spectrum * spectrum.conj(), n=n_fft, axis=0)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return acov / np.where(acov[0] > 0, acov[0], np.nan)


def integrated_autocorrelation_time(
    x: ArrayLike, c: float = 5.0, combine: str | None = "max"
) -> float | np.ndarray:
    """Integrated autocorrelation time ``tau_int = 1 + 2 sum_{t>=1} rho(t)`` in samples.

    The sum is truncated at Sokal's automatic window, the smallest ``M`` with
    ``M >= c * tau_hat(M)`` where ``tau_hat(M) = 1 + 2 sum_{1 <= t <= M} rho(t)``
    (the estimator of emcee's ``integrated_time``; the last lag if no such ``M``).
    The estimate is reliable for series longer than about ``50 tau_int``; its relative
    standard error is about ``sqrt(2 (2 M + 1) / n)``.

    For a 2-D input (e.g. the one-hot label series from :func:`one_hot`) each column
    gets its own ``tau_int``. Constant columns (classes never or always visited) carry
    no information on the dynamics and are ignored. ``combine`` reduces the columns:
    ``"max"`` (default: the slowest component, the conservative choice for an
    effective sample size), ``"mean"``, or ``None`` (return one value per column,
    ``nan`` for constant columns).

    Parameters
    ----------
    x : array_like, shape (n,) or (n, d)
        Time series sampled at equal steps.
    c : float
        Window factor (emcee's default 5).
    combine : {"max", "mean", None}
        Reduction over the columns of a 2-D input.

    Returns
    -------
    float in samples (``nan`` if every series is constant), or ndarray of shape (d,)
    if ``combine`` is None and ``x`` is 2-D.
    """
    if combine not in ("max", "mean", None):
        raise ValueError(f"combine must be 'max', 'mean' or None, got {combine!r}")
    rho = autocorrelation(x)
    tau_hat = 2.0 * np.cumsum(rho, axis=0) - 1.0
    lags = np.arange(rho.shape[0]).reshape((-1,) + (1,) * (rho.ndim - 1))
    beyond = lags >= c * tau_hat
    window = np.where(beyond.any(axis=0), beyond.argmax(axis=0), rho.shape[0] - 1)
    tau = np.take_along_axis(tau_hat, np.expand_dims(window, 0), axis=0)[0]
    if rho.ndim == 1:
        return float(tau)
    if combine is None:
        return tau
    valid = tau[np.isfinite(tau)]
    if valid.size == 0:
        return np.nan
    return float(valid.max() if combine == "max" else valid.mean())


def effective_sample_size(x: ArrayLike, c: float = 5.0, combine: str = "max") -> float:
    """Effective number of independent samples, ``n / tau_int``.

    Divide by the simulated (or wall-clock) duration for ESS per second.

    Parameters
    ----------
    x : array_like, shape (n,) or (n, d)
        Time series; see :func:`integrated_autocorrelation_time` for ``c`` and ``combine``.

    Returns
    -------
    float, dimensionless (``nan`` if every series is constant)
    """
    if combine is None:
        raise ValueError("effective_sample_size needs a scalar tau_int: combine 'max' or 'mean'")
    return np.shape(x)[0] / integrated_autocorrelation_time(x, c=c, combine=combine)


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


def ratio_bootstrap_ci(
    numerator_values: ArrayLike,
    denominator_values: ArrayLike,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    *,
    seed: SeedLike,
    paired: bool = False,
) -> ConfidenceInterval:
    """Percentile bootstrap interval of a ratio of means, e.g. tempered / free switch rate.

    The estimate is ``mean(numerator_values) / mean(denominator_values)``. Seeds are
    resampled with replacement: independently in the two groups (``paired=False``), or
    with the same indices in both (``paired=True``, equal lengths), which is right when
    entry ``i`` of both groups shares something that varies between seeds, such as the
    trained network. A resample whose denominator mean is zero has an infinite ratio;
    when such resamples reach the upper tail quantile the bound is ``inf``: the data do
    not bound the ratio. A resample with both means zero has no ratio and is left out.

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
    ConfidenceInterval(estimate, low, high), dimensionless
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
    with np.errstate(divide="ignore", invalid="ignore"):
        resampled = numerator[index_num].mean(axis=-1) / denominator[index_den].mean(axis=-1)
        estimate = float(numerator.mean() / denominator.mean())
    return _percentile_interval(estimate, resampled, confidence)


def two_stage_bootstrap_means(*arrays: ArrayLike, n_resamples: int = 10_000, seed: SeedLike) -> np.ndarray:
    """Means of two-stage (cluster) bootstrap resamples of ``arrays``, all resampled with the same indices.

    Each array has shape (n_clusters, n_units), e.g. training seeds (trained RBMs) x
    sampling seeds; ``nan`` marks a missing unit, and a unit missing in any array is
    left out of all (pairs stay paired). A resample draws ``n_clusters`` clusters with
    replacement among the clusters that have units, then, within each drawn cluster,
    as many units as it has, with replacement among its own. Its statistic is the
    mean over all drawn units (for equal cluster sizes, the mean of the cluster means).

    Returns
    -------
    ndarray, shape (len(arrays), n_resamples)
    """
    values = np.stack([np.asarray(a, dtype=float) for a in arrays])
    if values.ndim != 3 or values.shape[1] == 0 or values.shape[2] == 0:
        raise ValueError("every array must be 2-D (n_clusters, n_units), non-empty and of equal shape")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    present = np.all(np.isfinite(values), axis=0)
    values, present = values[:, present.any(axis=1)], present[present.any(axis=1)]
    if present.size == 0:
        raise ValueError("no unit has a finite value in every array")
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
    a missing unit. The estimate is the mean over the present units.

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
) -> ConfidenceInterval:
    """Two-stage percentile bootstrap interval of a paired ratio of means, e.g. tempered / free switch rate.

    ``numerator_values`` and ``denominator_values`` (n_clusters, n_units) are paired
    entry by entry (same trained RBM and sampling seed); a pair with a ``nan`` on
    either side is left out. Clusters, then units within each drawn cluster, are
    resampled with the same indices on both sides (:func:`two_stage_bootstrap_means`),
    and each resample gives the ratio of its means over the same pairs. A resample
    whose denominator mean is zero has an infinite ratio; when such resamples reach
    the upper tail quantile the bound is ``inf``: the data do not bound the ratio. A
    resample with both means zero (no switch in either) has no ratio and is left out.

    Returns
    -------
    ConfidenceInterval(estimate, low, high), dimensionless
    """
    numerator = np.asarray(numerator_values, dtype=float)
    denominator = np.asarray(denominator_values, dtype=float)
    if numerator.shape != denominator.shape:
        raise ValueError("paired resampling needs numerator and denominator values of equal shape")
    _check_bootstrap_args(numerator.ravel(), n_resamples, confidence)
    means = two_stage_bootstrap_means(numerator, denominator, n_resamples=n_resamples, seed=seed)
    both = np.isfinite(numerator) & np.isfinite(denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        resampled = means[0] / means[1]
        estimate = float(numerator[both].mean() / denominator[both].mean())
    return _percentile_interval(estimate, resampled, confidence)


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

    Resamples without a value (``nan``: a ratio 0 / 0) are left out; ``nan`` bounds if none has one.
    """
    defined = resampled[~np.isnan(resampled)]
    if defined.size == 0:
        return ConfidenceInterval(estimate, np.nan, np.nan)
    alpha = 1.0 - confidence
    low, high = np.percentile(defined, [100 * alpha / 2, 100 * (1 - alpha / 2)], method="inverted_cdf")
    return ConfidenceInterval(estimate, float(low), float(high))

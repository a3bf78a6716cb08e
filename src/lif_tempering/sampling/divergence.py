"""Kullback-Leibler divergences of sampled histograms, and the floor a perfect sampler scores (docs/mixing.md).

One function per direction and smoothing, all in nats:

- :func:`kl_divergence`: ``D_KL(p || q)`` of two given distributions, no smoothing
  (terms with ``p_k = 0`` are 0; ``inf`` where ``q_k = 0 < p_k``);
- :func:`smoothed_histogram`: ``(n_k + a) / (N + K a)`` of counts ``n_k``, with the
  pseudo-count ``a`` per class (``a = 1/2``: Jeffreys, Krichevsky-Trofimov);
- :func:`kl_target_to_histogram`: ``D_KL(p_target || smoothed_histogram(counts))``,
  the divergence of a sampled histogram from the distribution the sampler should draw
  (the direction of the small-machine validation and of every class D_KL of the study);
- :func:`kl_floor`: what :func:`kl_target_to_histogram` scores for a sampler that draws
  exactly ``p_target``, with a given effective number of independent samples among the
  histogram's samples. A histogram of finitely many samples never scores 0; its
  divergence minus this floor is the part that bias (or a missed mode) explains.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

#: Jeffreys (Krichevsky-Trofimov) pseudo-count per class.
JEFFREYS = 0.5


def _distribution(p: ArrayLike, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"{name} must be a 1-D distribution: finite, non-negative, summing to 1")
    return p


def kl_divergence(p: ArrayLike, q: ArrayLike) -> float:
    """``D_KL(p || q) = sum_k p_k ln(p_k / q_k)`` (nats) of two distributions of equal length, no smoothing."""
    p, q = _distribution(p, "p"), _distribution(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q differ in shape: {p.shape} vs {q.shape}")
    support = p > 0
    with np.errstate(divide="ignore"):
        return float(np.sum(p[support] * (np.log(p[support]) - np.log(q[support]))))


def smoothed_histogram(counts: ArrayLike, pseudo_count: float = JEFFREYS) -> np.ndarray:
    """``(n_k + a) / (N + K a)`` of counts ``n_k`` (any trailing axis of length K; ``a >= 0``).

    With ``a = 0`` it is the plain histogram (``nan`` for no counts).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if pseudo_count < 0:
        raise ValueError(f"pseudo_count must be >= 0, got {pseudo_count}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("counts must be finite and non-negative")
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts + pseudo_count) / (counts.sum(axis=-1, keepdims=True) + counts.shape[-1] * pseudo_count)


def kl_target_to_histogram(p_target: ArrayLike, counts: ArrayLike, pseudo_count: float = JEFFREYS) -> np.ndarray:
    """``D_KL(p_target || smoothed_histogram(counts, pseudo_count))`` in nats.

    ``counts`` (..., K): one histogram per leading index (e.g. running histograms over
    time); returns the divergence per histogram (a float for a 1-D ``counts``). Classes
    never sampled cost ``p_k ln(p_k (N + K a) / a)``; ``inf`` with ``a = 0``.
    """
    p = _distribution(p_target, "p_target")
    q = smoothed_histogram(counts, pseudo_count)
    if q.shape[-1] != p.size:
        raise ValueError(f"counts have {q.shape[-1]} classes, p_target {p.size}")
    support = p > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = p[support] * (np.log(p[support]) - np.log(q[..., support]))
    result = terms.sum(axis=-1)
    return float(result) if np.ndim(result) == 0 else result


class Floor(NamedTuple):
    """Divergence of a perfect sampler's histogram: mean and 95th percentile over simulated histograms (nats)."""

    mean: float
    q95: float


def kl_floor(p_target: ArrayLike, n_samples: float, n_effective: float, pseudo_count: float = JEFFREYS,
             n_draws: int = 4000, seed: int = 0) -> Floor:
    """The :func:`kl_target_to_histogram` a sampler drawing exactly ``p_target`` would score.

    The histogram holds ``n_samples`` samples of which ``n_effective`` are effectively
    independent (e.g. an ESS): a perfect sampler's histogram is simulated as
    ``m = max(1, round(n_effective))`` independent draws from ``p_target``, each counted
    ``n_samples / m`` times, so that the smoothing acts on ``n_samples`` counts as in the
    measured histogram. ``n_draws`` such histograms (seeded by ``seed``) give the mean
    and the 95th percentile of their divergence. ``nan`` if ``n_effective`` is not finite
    and positive.
    """
    p = _distribution(p_target, "p_target")
    if not (np.isfinite(n_effective) and n_effective > 0 and n_samples > 0):
        return Floor(np.nan, np.nan)
    m = max(1, int(round(min(float(n_effective), float(n_samples)))))
    counts = np.random.default_rng(seed).multinomial(m, p, size=n_draws) * (float(n_samples) / m)
    divergences = kl_target_to_histogram(p, counts, pseudo_count)
    return Floor(float(np.mean(divergences)), float(np.quantile(divergences, 0.95)))

"""The one D_KL module: values of each direction and smoothing, and the floor of a perfect sampler."""

import numpy as np
import pytest

from lif_tempering.sampling.divergence import (
    JEFFREYS,
    kl_divergence,
    kl_floor,
    kl_target_to_histogram,
    smoothed_histogram,
)


def test_kl_divergence_values_and_zero_handling():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert kl_divergence(p, q) == pytest.approx(0.5 * np.log(2) + 0.5 * np.log(2 / 3))
    assert kl_divergence(p, p) == 0.0
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert kl_divergence(p, [1.0, 0.0]) == np.inf
    with pytest.raises(ValueError, match="distribution"):
        kl_divergence([0.5, np.nan], p)


def test_smoothed_histogram_is_the_jeffreys_estimate():
    np.testing.assert_allclose(smoothed_histogram([9, 0]), [9.5 / 10, 0.5 / 10])
    np.testing.assert_allclose(smoothed_histogram([[1, 3], [0, 0]], 0.0)[0], [0.25, 0.75])
    assert np.all(np.isnan(smoothed_histogram([0, 0], 0.0)))


def test_target_to_histogram_direction_and_smoothing():
    p = np.array([0.2, 0.3, 0.5])
    counts = np.array([10, 0, 30])
    q = (counts + JEFFREYS) / (counts.sum() + 3 * JEFFREYS)
    assert kl_target_to_histogram(p, counts) == pytest.approx(np.sum(p * np.log(p / q)))
    assert kl_target_to_histogram(p, counts, 0.0) == np.inf
    running = np.array([[1, 0, 1], [10, 0, 30]])
    np.testing.assert_allclose(kl_target_to_histogram(p, running)[1], kl_target_to_histogram(p, counts))


@pytest.mark.parametrize("n_samples", [80, 5000])
def test_histograms_drawn_from_the_target_score_within_the_floor(n_samples):
    """Independent draws: the floor's mean is the mean divergence of such histograms (to its Monte Carlo
    error), about (K - 1) / (2 N) for large N, and 95 % of them stay below its 95th percentile."""
    p = np.array([0.68, 0.21, 0.05, 0.03, 0.02, 0.01])
    floor = kl_floor(p, n_samples, n_samples, n_draws=4000, seed=1)
    rng = np.random.default_rng(7)
    scores = kl_target_to_histogram(p, rng.multinomial(n_samples, p, size=2000))
    assert scores.mean() == pytest.approx(floor.mean, rel=0.08)
    assert np.mean(scores <= floor.q95) == pytest.approx(0.95, abs=0.015)
    if n_samples == 5000:
        assert floor.mean == pytest.approx((p.size - 1) / (2 * n_samples), rel=0.1)


def test_a_chain_of_repeated_draws_scores_the_floor_of_its_effective_sample_size():
    """A chain that holds each of 20 independent draws for 20 samples (400 samples, exactly 20 effective) scores
    the floor of n_samples 400, n_effective 20: the mean to its Monte Carlo error (a few %), and about 95 % below
    the 95th percentile (the divergences of 20 draws take few values: 0.02 allowed). The floor is about 0.18 nat
    here; with the counts of 20 draws, unscaled, about 0.07, in the opposite direction about 0.11."""
    p = np.array([0.68, 0.21, 0.05, 0.03, 0.02, 0.01])
    rng = np.random.default_rng(8)
    chains = np.repeat(rng.choice(p.size, size=(2000, 20), p=p), 20, axis=1)
    scores = kl_target_to_histogram(p, np.stack([np.bincount(chain, minlength=p.size) for chain in chains]))
    floor = kl_floor(p, 400, 20, n_draws=4000, seed=1)
    assert scores.mean() == pytest.approx(floor.mean, rel=0.08)
    assert np.mean(scores <= floor.q95) == pytest.approx(0.95, abs=0.02)


def test_floor_grows_as_the_effective_sample_size_shrinks():
    """80 windows of which 8 are effectively independent (a slow chain) score far more than 80 independent ones;
    a biased histogram (the target's modes swapped) lies far above either floor."""
    p = np.array([0.7, 0.2, 0.1])
    slow, fast = kl_floor(p, 80, 8, seed=2), kl_floor(p, 80, 80, seed=2)
    assert slow.mean > 5 * fast.mean
    assert kl_target_to_histogram(p, [8, 56, 16]) > slow.q95
    assert np.isnan(kl_floor(p, 80, np.nan).mean)

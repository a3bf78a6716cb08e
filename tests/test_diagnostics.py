"""Multi-chain diagnostics (ArviZ's rank-normalised split-R-hat and bulk ESS) on chains with known behaviour."""

import numpy as np
import pytest

from lif_tempering.sampling.diagnostics import bulk_ess, chain_diagnostics, indicator_diagnostics, rank_r_hat


def two_state_chains(n_chains, n_draws, stay, seed):
    """Symmetric two-state Markov chains that keep their state with probability ``stay``, started stationary.

    The indicator's autocorrelation is (2 stay - 1)^t, so tau_int = (1 + r) / (1 - r) with r = 2 stay - 1.
    """
    rng = np.random.default_rng(seed)
    flips = rng.random((n_chains, n_draws)) >= stay
    flips[:, 0] = rng.random(n_chains) < 0.5
    return (np.cumsum(flips, axis=1) % 2).astype(float)


@pytest.mark.parametrize("stay", [0.5, 0.8, 0.95])
def test_ess_of_a_two_state_chain_matches_its_integrated_autocorrelation_time(stay):
    """ESS = N / tau_int for N = 8 x 2000 draws; the estimator's relative error is about sqrt(2 (2 M + 1) / N)
    with a window M of a few tau: under 10 % for tau <= 39 here. Averaged over 5 independent sets."""
    r = 2 * stay - 1
    tau = (1 + r) / (1 - r)
    n_chains, n_draws = 8, 2000
    ess = np.mean([bulk_ess(two_state_chains(n_chains, n_draws, stay, seed)) for seed in range(5)])
    assert ess == pytest.approx(n_chains * n_draws / tau, rel=0.1)
    assert rank_r_hat(two_state_chains(n_chains, n_draws, stay, 9)) < 1.01


@pytest.mark.parametrize("window", [10, 40, 70])
def test_one_switch_in_80_windows_is_worth_far_fewer_than_80_draws(window):
    """A chain that changes class once (at ``window``) is nearly stuck: far fewer than its 80 draws."""
    labels = np.zeros((1, 80), dtype=int)
    labels[0, window:] = 1
    assert indicator_diagnostics(labels, 10).ess_bulk < 8
    independent = np.random.default_rng(4).integers(0, 10, size=(1, 80))
    assert indicator_diagnostics(independent, 10).ess_bulk > 40


def test_chains_stuck_in_different_classes_have_r_hat_far_above_one():
    labels = np.repeat(np.array([0, 0, 3, 3, 7])[:, None], 80, axis=1)
    labels[:, ::17] = 5  # a few shared excursions, so every chain varies
    diagnostics = indicator_diagnostics(labels, 10)
    assert diagnostics.r_hat > 1.1
    mixing = np.random.default_rng(3).integers(0, 10, size=(5, 80))
    assert indicator_diagnostics(mixing, 10).r_hat < 1.1


def test_chains_that_never_move_are_censored_not_dropped():
    diagnostics = chain_diagnostics(np.ones((5, 80)))
    assert diagnostics.censored and np.isnan(diagnostics.r_hat) and diagnostics.ess_bulk == 5
    assert np.isnan(bulk_ess(np.ones((3, 10)))) and np.isnan(rank_r_hat(np.ones((3, 10))))
    with pytest.raises(ValueError, match="at least 4 draws"):
        chain_diagnostics(np.ones((3, 2)))


def test_chains_that_differ_only_in_their_spread_have_r_hat_above_one():
    """Rank normalisation with folding (Vehtari et al. 2021) sees chains with equal means but one three times as
    wide (4 x 1000 independent normal draws): R-hat about 1.15, while the plain split-R-hat of the values stays
    within its sampling noise of 1 (about 1e-3 here). Equal spreads give R-hat below 1.01."""
    rng = np.random.default_rng(0)
    draws = rng.standard_normal((4, 1000))
    assert rank_r_hat(draws) < 1.01
    draws[3] *= 3.0
    assert rank_r_hat(draws) > 1.05

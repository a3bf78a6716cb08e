"""Tests of exact Boltzmann-machine distributions, Gibbs sampling and effective-BM fits."""

import itertools

import numpy as np
import pytest
from scipy.stats import chi2

from lif_tempering.sampling.boltzmann import (
    EffectiveBMFitError,
    all_states,
    coupling_gain,
    empirical_distribution,
    energy,
    exact_distribution,
    fit_effective_bm,
    gibbs_sample,
    random_bm,
    rbm_as_bm,
    state_index,
    states_from_indices,
)
from lif_tempering.sampling.divergence import kl_divergence

# Chi-square acceptance at significance 0.001: a correct sampler fails a test with
# probability 0.001 (here never, the seeds are fixed), a wrong one fails it reliably.
SIGNIFICANCE = 1e-3


def chi_square_statistic(samples, p_exact):
    """Pearson's statistic of the state histogram of independent ``samples`` against ``p_exact``."""
    counts = np.bincount(state_index(samples), minlength=p_exact.size)
    expected = counts.sum() * p_exact
    return np.sum((counts - expected) ** 2 / expected)


def test_state_order_has_unit_zero_as_most_significant_bit():
    states = all_states(3)
    assert states.dtype == np.int8 and states.shape == (8, 3)
    np.testing.assert_array_equal(states[1], [0, 0, 1])
    np.testing.assert_array_equal(states[4], [1, 0, 0])
    np.testing.assert_array_equal(state_index(all_states(6)), np.arange(64))
    indices = np.array([[0, 5], [17, 31]])
    np.testing.assert_array_equal(state_index(states_from_indices(indices, 5)), indices)


def test_energy_is_pairwise_sum():
    W, b = random_bm(5, seed=3)
    z = all_states(5)
    by_loop = [-(sum(W[i, j] * s[i] * s[j] for i in range(5) for j in range(i + 1, 5)) + b @ s) for s in z]
    np.testing.assert_allclose(energy(z, W, b), by_loop, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("beta", [1.0, 0.4])
def test_exact_distribution_matches_brute_force(beta):
    W, b = random_bm(4, seed=7)
    weights = []
    for state in itertools.product((0, 1), repeat=4):  # unit 0 varies slowest: same order
        z = np.array(state)
        weights.append(np.exp(beta * (0.5 * z @ W @ z + b @ z)))
    np.testing.assert_allclose(exact_distribution(W, b, beta), np.array(weights) / sum(weights), rtol=1e-12)


def test_exact_distribution_survives_huge_weights():
    W, b = random_bm(6, seed=1, scale=500.0)
    p = exact_distribution(W, b)
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0)
    assert p.argmax() == np.argmin(energy(all_states(6), W, b))


def test_bm_must_be_symmetric_with_zero_diagonal():
    W, b = random_bm(3, seed=0)
    W[0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        exact_distribution(W, b)


def test_empirical_distribution_pools_leading_axes():
    samples = np.array([[[0, 0], [1, 1]], [[1, 1], [0, 1]]], dtype=np.int8)
    np.testing.assert_allclose(empirical_distribution(samples), [0.25, 0.25, 0.0, 0.5])


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_gibbs_chains_reach_the_exact_distribution(beta):
    # 20,000 independent chains, 30 sweeps each: for a 3-unit BM with O(1) weights the
    # distance to stationarity shrinks by a large factor per sweep, so the last sweep is
    # 20,000 independent draws from p up to a negligible bias. Pearson's statistic is
    # then chi-square with 2**3 - 1 = 7 degrees of freedom, and 2 N D_KL(p || p_hat) too.
    W, b = random_bm(3, seed=11)
    n_chains = 20_000
    samples = gibbs_sample(W, b, n_sweeps=30, n_chains=n_chains, seed=5, beta=beta)[-1]
    p_exact = exact_distribution(W, b, beta)
    bound = chi2.ppf(1 - SIGNIFICANCE, df=7)
    assert chi_square_statistic(samples, p_exact) < bound
    assert kl_divergence(p_exact, empirical_distribution(samples)) < bound / (2 * n_chains)
    # The same test rejects samples of the wrong temperature: it has power.
    assert chi_square_statistic(samples, exact_distribution(W, b, 2.0 * beta)) > bound


def test_gibbs_follows_a_beta_schedule():
    # Hot sweeps then cold ones: the final state follows the cold distribution.
    W, b = random_bm(3, seed=2)
    betas = np.concatenate([np.full(10, 0.2), np.full(20, 1.0)])
    samples = gibbs_sample(W, b, n_sweeps=30, n_chains=20_000, seed=8, beta=betas)
    bound = chi2.ppf(1 - SIGNIFICANCE, df=7)
    assert chi_square_statistic(samples[9], exact_distribution(W, b, 0.2)) < bound
    assert chi_square_statistic(samples[-1], exact_distribution(W, b, 1.0)) < bound


def test_gibbs_same_seed_same_samples():
    W, b = random_bm(4, seed=0)
    first = gibbs_sample(W, b, n_sweeps=50, n_chains=7, seed=42)
    assert first.dtype == np.int8 and first.shape == (50, 7, 4)
    np.testing.assert_array_equal(first, gibbs_sample(W, b, n_sweeps=50, n_chains=7, seed=42))
    assert not np.array_equal(first, gibbs_sample(W, b, n_sweeps=50, n_chains=7, seed=43))
    generator_run = gibbs_sample(W, b, n_sweeps=50, n_chains=7, seed=np.random.default_rng(42))
    np.testing.assert_array_equal(first, generator_run)


def test_gibbs_starts_from_z0():
    # Two units coupled by +50 with biases -25: a unit turns on (field +25) exactly when
    # the other is on, so the first sweep keeps the all-on or all-off start (flip
    # probability sigmoid(-25) ~ 1e-11).
    W = np.array([[0.0, 50.0], [50.0, 0.0]])
    b = np.array([-25.0, -25.0])
    ones = gibbs_sample(W, b, 1, 3, seed=0, z0=np.ones((3, 2)))
    zeros = gibbs_sample(W, b, 1, 3, seed=0, z0=np.zeros((3, 2)))
    np.testing.assert_array_equal(ones[0], np.ones((3, 2)))
    np.testing.assert_array_equal(zeros[0], np.zeros((3, 2)))


def test_random_bm_statistics():
    W, b = random_bm(200, seed=4, scale=0.5)
    assert np.array_equal(W, W.T) and np.all(np.diag(W) == 0)
    # Off-diagonal W_ij = (A_ij + A_ji)/2 has variance scale^2/2; 19,900 independent
    # entries estimate it to ~1 % (relative standard error sqrt(2/19900)); b has 200.
    upper = W[np.triu_indices(200, k=1)]
    assert upper.var() == pytest.approx(0.125, rel=0.05)
    assert b.var() == pytest.approx(0.25, rel=0.35)
    W_again, b_again = random_bm(200, seed=4, scale=0.5)
    assert np.array_equal(W, W_again) and np.array_equal(b, b_again)


def test_rbm_as_bm_has_the_rbm_energy():
    rng = np.random.default_rng(0)
    W_vh, b_v, b_h = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=3)
    W, b = rbm_as_bm(W_vh, b_v, b_h)
    assert W.shape == (7, 7) and np.array_equal(W, W.T)
    assert not W[:4, :4].any() and not W[4:, 4:].any()
    z = all_states(7)
    v, h = z[:, :4], z[:, 4:]
    rbm_energy = -(np.einsum("si,ij,sj->s", v, W_vh, h) + v @ b_v + h @ b_h)
    np.testing.assert_allclose(energy(z, W, b), rbm_energy, atol=1e-12)


def test_fit_effective_bm_recovers_parameters_and_gain():
    W, b = random_bm(5, seed=9)
    W_fit, b_fit = fit_effective_bm(exact_distribution(W, b), 5)
    np.testing.assert_allclose(W_fit, W, atol=1e-4)
    np.testing.assert_allclose(b_fit, b, atol=1e-4)
    assert coupling_gain(W, W_fit) == pytest.approx(1.0, abs=1e-4)
    # A sampler whose couplings act 1.42 times too strong (LIF with renewing synapses).
    W_strong_fit, b_strong_fit = fit_effective_bm(exact_distribution(1.42 * W, b), 5)
    assert coupling_gain(W, W_strong_fit) == pytest.approx(1.42, abs=1e-4)
    np.testing.assert_allclose(b_strong_fit, b, atol=1e-4)


def test_fit_effective_bm_of_an_rbm_keeps_layers_uncoupled():
    rng = np.random.default_rng(1)
    W, b = rbm_as_bm(rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=2))
    W_fit, _ = fit_effective_bm(exact_distribution(W, b), 5)
    np.testing.assert_allclose(W_fit, W, atol=1e-4)


def test_fit_effective_bm_from_samples():
    # 200,000 independent draws: fitted couplings and biases scatter with standard errors
    # of ~0.01-0.02 (measured over 20 seeds) and the gain, pooling 10 couplings, with
    # ~0.006. The bounds (0.03 for the gain, 0.1 per bias) are 5 standard errors, while
    # a 1.42-fold coupling error would still be caught.
    W, b = random_bm(5, seed=9)
    p = exact_distribution(W, b)
    draws = np.random.default_rng(3).choice(p.size, size=200_000, p=p)
    p_sampled = np.bincount(draws, minlength=p.size) / draws.size
    W_fit, b_fit = fit_effective_bm(p_sampled, 5)
    assert coupling_gain(W, W_fit) == pytest.approx(1.0, abs=0.03)
    np.testing.assert_allclose(b_fit, b, atol=0.1)


def test_fit_effective_bm_raises_when_the_optimiser_fails():
    W, b = random_bm(5, seed=9)
    # One L-BFGS iteration cannot reach the optimum: the fit raises with the optimiser's message.
    with pytest.raises(EffectiveBMFitError, match="ITERATIONS REACHED LIMIT"):
        fit_effective_bm(exact_distribution(W, b), 5, maxiter=1)
    p = exact_distribution(W, b)
    p[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fit_effective_bm(p, 5)


def test_coupling_gain_is_least_squares_slope_over_off_diagonal():
    W = np.array([[0.0, 1.0, -2.0], [1.0, 0.0, 0.5], [-2.0, 0.5, 0.0]])
    assert coupling_gain(W, 0.8 * W + np.diag([9.0, 9.0, 9.0])) == pytest.approx(0.8)
    noise = np.array([[0.0, 0.1, 0.0], [0.1, 0.0, -0.1], [0.0, -0.1, 0.0]])
    # off-diagonal pairs (x, y): (1, 1.1), (-2, -2), (0.5, 0.4), each twice
    assert coupling_gain(W, W + noise) == pytest.approx(10.6 / 10.5)

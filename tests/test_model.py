"""The background's survival budget (numpy version of the C++ function) and its helpers."""

import numpy as np
import pytest

from lif_tempering.neuron.model import (
    UNDRAWN_BUDGET,
    background_key,
    background_uniform,
    budget_growth,
    poisson_budget_step,
)


def budget_counts(rates_hz, n_neurons: int, dt_ms: float = 0.1, seed: int = 0) -> np.ndarray:
    """Events per (step, neuron) of excitatory budgets stepped through the per-step rates ``rates_hz``."""
    key = background_key(seed)
    budget = np.full(n_neurons, UNDRAWN_BUDGET)
    counts = np.empty((len(rates_hz), n_neurons))
    for k, growth in enumerate(budget_growth(rates_hz, dt_ms)):
        counts[k], budget = poisson_budget_step(budget, growth, k, 2 * np.arange(n_neurons), key)
        assert np.all((budget > 0) & (budget < 1))
    return counts


def test_counts_per_step_are_poisson():
    """Mean, variance and P(>= 2) of the per-step counts at 3 kHz (lambda = 0.3), 200,000 draws.

    Standard errors: mean sqrt(lambda / n) = 0.0012, variance ~sqrt((lambda + 2 lambda^2) / n)
    = 0.0015; five of them still separate a Bernoulli draw (variance 0.21).
    """
    lam = 0.3
    counts = budget_counts(np.full(1000, 3000.0), 200).ravel()
    n = counts.size
    assert abs(counts.mean() - lam) < 5 * np.sqrt(lam / n)
    assert abs(counts.var() - lam) < 5 * np.sqrt((lam + 2 * lam**2) / n)
    p2 = 1 - np.exp(-lam) * (1 + lam)
    assert abs(np.mean(counts >= 2) - p2) < 5 * np.sqrt(p2 / n)


def test_counts_follow_a_changing_rate_and_steps_are_independent():
    """Rates alternating 0 and 20 kHz step by step: counts match each step's rate, no carry-over."""
    rates = np.tile([0.0, 20000.0], 500)
    counts = budget_counts(rates, 200, seed=1)
    assert not counts[rates == 0].any()
    high = counts[rates > 0].ravel()
    assert abs(high.mean() - 2.0) < 5 * np.sqrt(2.0 / high.size)
    assert abs(high.var() - 2.0) < 5 * np.sqrt((2.0 + 2 * 2.0**2) / high.size)
    # consecutive high steps of a neuron are uncorrelated (a memoryless process)
    per_neuron = counts[rates > 0]
    r = np.corrcoef(per_neuron[:-1].ravel(), per_neuron[1:].ravel())[0, 1]
    assert abs(r) < 5 / np.sqrt(per_neuron[:-1].size)


def test_budget_growth():
    np.testing.assert_allclose(budget_growth([0.0, 3000.0], 0.1), [1.0, np.exp(0.3)])
    with pytest.raises(ValueError, match=">= 0 Hz"):
        budget_growth(-1.0, 0.1)


def test_background_uniforms_depend_only_on_their_counter():
    """Same (seed, step, stream, draw), same number, whatever else is drawn; other seeds or counters differ."""
    key = background_key(7)
    steps, streams = np.meshgrid(np.arange(50), np.arange(40), indexing="ij")
    table = background_uniform(key, steps, streams, 1)
    np.testing.assert_array_equal(background_uniform(key, steps[::-1], streams[::-1], 1), table[::-1])
    assert np.unique(table).size == table.size
    assert np.all((table > 0) & (table <= 1))
    assert not np.any(background_uniform(background_key(8), steps, streams, 1) == table)
    assert not np.any(background_uniform(key, steps, streams, 2) == table)


def test_background_uniforms_are_uniform_and_uncorrelated():
    """100,000 numbers of neighbouring counters: mean 1/2 and variance 1/12 within 5 standard errors,
    lag-1 correlation along steps and along streams within 5 / sqrt(n)."""
    key = background_key(0)
    steps, streams = np.meshgrid(np.arange(1000), np.arange(100), indexing="ij")
    u = background_uniform(key, steps, streams, 1)
    n = u.size
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    for a, b in ((u[:-1], u[1:]), (u[:, :-1], u[:, 1:])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 5 / np.sqrt(a.size)

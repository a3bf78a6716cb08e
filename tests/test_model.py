"""The background's survival budget (numpy version of the C++ function) and its helpers."""

import numpy as np
import pytest

from lif_tempering.neuron.model import BUDGET_PACKING, UNDRAWN_BUDGET, _poisson_budget_numpy, budget_growth


def budget_counts(rates_hz, n_neurons: int, dt_ms: float = 0.1, seed: int = 0) -> np.ndarray:
    """Events per (step, neuron) of budgets stepped through the per-step rates ``rates_hz``."""
    np.random.seed(seed)
    budget = np.full(n_neurons, UNDRAWN_BUDGET)
    counts = np.empty((len(rates_hz), n_neurons))
    for k, growth in enumerate(budget_growth(rates_hz, dt_ms)):
        packed = _poisson_budget_numpy(budget, growth, np.arange(n_neurons))
        counts[k] = np.floor(packed / BUDGET_PACKING)
        budget = packed - BUDGET_PACKING * counts[k]
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

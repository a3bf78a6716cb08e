"""In-network conditional calibration against exact block-Gibbs samples of a small RBM."""

import numpy as np
import pytest

from lif_tempering.learning.rbm import sample_rbm_gibbs
from lif_tempering.sampling.conditionals import (
    LAYERS,
    calibration_error,
    calibration_error_floor,
    conditional_curve,
    conditional_gains,
    layer_inputs,
)

N_VISIBLE, N_HIDDEN = 12, 8
EDGES = np.linspace(-8.0, 8.0, 33)
#: Standard errors a fitted gain may miss its true value by (a false failure in < 1e-4 per comparison).
N_STD_ERRORS = 4.0


def small_rbm(seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.0, (N_VISIBLE, N_HIDDEN)), rng.normal(0, 1.0, N_VISIBLE), rng.normal(0, 1.0, N_HIDDEN)


def independent_samples(W, b_v, b_h, beta=1.0, n_chains=20_000, n_sweeps=60, seed=1):
    """The last joint state (v, h) of many independent block-Gibbs chains: independent draws of p_beta(v, h).

    60 sweeps of a 12 x 8 RBM with O(1) parameters leave a negligible distance to stationarity."""
    v, h = sample_rbm_gibbs(W, b_v, b_h, n_sweeps, n_chains, seed=seed, beta=beta)
    return np.concatenate([v[-1], h[-1]], axis=1)


@pytest.fixture(scope="module")
def rbm():
    return small_rbm()


@pytest.mark.parametrize("layer", LAYERS)
def test_exact_samples_sit_on_the_diagonal(rbm, layer):
    W, b_v, b_h = rbm
    inputs = layer_inputs(independent_samples(W, b_v, b_h), W, b_v, b_h)[layer]
    gains = conditional_gains(inputs)
    assert abs(gains.bias_gain - 1.0) < N_STD_ERRORS * gains.bias_gain_stderr
    assert abs(gains.coupling_gain - 1.0) < N_STD_ERRORS * gains.coupling_gain_stderr
    assert abs(gains.offset) < N_STD_ERRORS * gains.offset_stderr
    assert gains.coupling_gain_stderr < 0.02  # the test has power: 240,000 / 160,000 entries
    curve = conditional_curve(inputs, EDGES)
    floor = calibration_error_floor(curve)
    assert calibration_error(curve) < 2.0 * floor  # the error of a perfect sampler is about its floor
    assert curve.counts.sum() == inputs.states.size


@pytest.mark.parametrize("layer", LAYERS)
def test_a_sampler_with_shifted_activation_is_detected_with_its_offset(rbm, layer):
    """Gibbs on biases offset by 0.7 samples logit P = b + 0.7 + W z: offset 0.7, gains 1."""
    W, b_v, b_h = rbm
    shift = 0.7
    samples = independent_samples(W, b_v + shift, b_h + shift, seed=2)
    inputs = layer_inputs(samples, W, b_v, b_h)[layer]
    gains = conditional_gains(inputs)
    assert abs(gains.offset - shift) < N_STD_ERRORS * gains.offset_stderr
    assert abs(gains.bias_gain - 1.0) < N_STD_ERRORS * gains.bias_gain_stderr
    curve = conditional_curve(inputs, EDGES)
    assert calibration_error(curve) > 10 * calibration_error_floor(curve)


def test_standard_errors_and_floor_are_those_of_repeated_independent_data_sets(rbm):
    """60 data sets of 4000 independent draws: the spread of the fitted (bias gain, coupling gain, offset) over the
    sets is the reported standard error (ratio 1; each of the 6 ratios has a relative error of ~9 %, their mean
    ~4 %: 0.15 allowed), and the calibration error of exact samples averages its floor (120 ratios of spread ~0.2:
    the mean within 0.1 of 1)."""
    W, b_v, b_h = rbm
    fits, error_ratios = {layer: [] for layer in LAYERS}, []
    for seed in range(100, 160):
        for layer, inputs in layer_inputs(independent_samples(W, b_v, b_h, n_chains=4000, seed=seed), W, b_v,
                                          b_h).items():
            fits[layer].append(conditional_gains(inputs))
            curve = conditional_curve(inputs, EDGES)
            error_ratios.append(calibration_error(curve) / calibration_error_floor(curve))
    spread_ratios = [np.std(np.array(fits[layer])[:, :3], axis=0, ddof=1) / np.mean(np.array(fits[layer])[:, 3:], axis=0)
                     for layer in LAYERS]
    assert np.mean(spread_ratios) == pytest.approx(1.0, abs=0.15), spread_ratios
    assert np.mean(error_ratios) == pytest.approx(1.0, abs=0.1)


def test_a_colder_sampler_has_both_gains_at_its_inverse_temperature(rbm):
    W, b_v, b_h = rbm
    inputs = layer_inputs(independent_samples(W, b_v, b_h, beta=1.2, seed=4), W, b_v, b_h)["hidden"]
    gains = conditional_gains(inputs)
    assert abs(gains.bias_gain - 1.2) < N_STD_ERRORS * gains.bias_gain_stderr
    assert abs(gains.coupling_gain - 1.2) < N_STD_ERRORS * gains.coupling_gain_stderr


def test_degenerate_design_is_refused():
    W = np.ones((2, 2))
    inputs = layer_inputs(np.zeros((50, 4)), W, np.zeros(2), np.zeros(2))["visible"]
    with pytest.raises(ValueError, match="degenerate|converge"):
        conditional_gains(inputs)

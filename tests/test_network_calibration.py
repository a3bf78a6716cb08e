"""Network-level calibration: the corrections' algebra, the iteration on a sampler with known gains, a LIF check."""

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.neuron.parameters import PARAMETER_SETS
from lif_tempering.neuron.theory import hcs_activation_estimate
from lif_tempering.sampling.boltzmann import all_states, exact_distribution, gibbs_sample, random_bm
from lif_tempering.sampling.conditionals import LayerInputs
from lif_tempering.sampling.network_calibration import (
    RBM_GROUPS,
    GroupCorrections,
    UnitCalibration,
    activity_slopes,
    averaged_corrections,
    calibrate,
    calibrate_small_bm,
    calibration_step,
    corrections_dataset,
    group_inputs,
    identified_gains,
    marginal_dataset,
    marginal_rounds,
    measured_gains,
    network_corrections,
    unit_offsets,
    unit_shift_dataset,
    unit_shift_rounds,
)

P = PARAMETER_SETS["sbs_tutorial"]


def test_an_undamped_step_corrects_a_network_whose_response_does_not_depend_on_the_corrections():
    """Response logit = A (s b + t) + G k W z + C: the measured a = A s, g = G k, c = A t + C; one full step
    gives s = 1 / A, k = 1 / G, t = -C / A, i.e. a = g = 1, c = 0 (mutation: t - c / a instead of t - c s / a)."""
    A, G, C = np.array([1.3, 0.8]), np.array([1.2, 1.4]), np.array([0.5, -0.3])
    start = GroupCorrections(np.array([0.9, 1.1]), np.array([0.2, -0.1]), np.array([0.7, 1.0]))
    gains = np.stack([A * start.bias_scale, G * start.coupling_scale, A * start.bias_shift + C], axis=1)
    step = calibration_step(start, gains, damping=1.0)
    np.testing.assert_allclose(step.bias_scale, 1 / A)
    np.testing.assert_allclose(step.coupling_scale, 1 / G)
    np.testing.assert_allclose(step.bias_shift, -C / A)
    half = calibration_step(start, gains, damping=0.5)
    np.testing.assert_allclose(half.bias_scale, start.bias_scale * (A * start.bias_scale) ** -0.5)
    with pytest.raises(ValueError, match="damping"):
        calibration_step(start, gains, damping=0.0)


def test_per_unit_corrections_repeat_each_group_value():
    corrections = GroupCorrections(np.array([0.8, 0.7]), np.array([0.1, -0.5]), np.array([0.9, 0.85])).per_unit((2, 3))
    np.testing.assert_array_equal(corrections.bias_scale, [0.8, 0.8, 0.7, 0.7, 0.7])
    np.testing.assert_allclose(corrections.realised_biases(np.ones(5)), [0.9, 0.9, 0.2, 0.2, 0.2])


def gibbs_stand_in(W, b, beta, offset, n_sweeps=4000, n_chains=20):
    """A 'network' with known gains: Gibbs sampling of (beta k W, beta (s b + t) + offset) for one group of units,
    so that a = beta s, g = beta k, c = beta t + offset."""
    def sample(corrections: GroupCorrections, index: int) -> np.ndarray:
        s, t, k = (float(x[0]) for x in corrections)
        z = gibbs_sample(beta * k * W, beta * (s * b + t) + offset, n_sweeps, n_chains, seed=100 + index)
        return z[200:].reshape(-1, b.size)
    return sample


def test_calibration_brings_a_colder_sampler_with_an_offset_to_unit_gains():
    """Gibbs at beta = 1.25 with offset 0.4 (a = g = 1.25, c = 0.4 uncorrected): 6 damped rounds reach the fixed
    point s = k = 1 / beta, t = -offset / beta, and the final run measures gains within 0.03 of 1 and an offset
    within 0.05 of 0 (76,000 correlated samples of 5 units: standard errors ~0.01 in a, g and ~0.015 in c,
    the damped iteration's remaining error ~0.7^6 = 12 % of the first one, i.e. < 0.03)."""
    W, b = random_bm(5, seed=3)
    beta, offset = 1.25, 0.4
    history = calibrate(gibbs_stand_in(W, b, beta, offset), lambda z: group_inputs(z, W, b, (5,)), (5,),
                        n_rounds=6, damping=0.7, log=lambda line: None)
    first, last = history.gains[0, 0], history.gains[-1, 0]
    assert first[0] == pytest.approx(beta, abs=0.04) and first[2] == pytest.approx(offset, abs=0.06)
    assert abs(last[0] - 1) < 0.03 and abs(last[1] - 1) < 0.03 and abs(last[2]) < 0.05
    assert history.final.bias_scale[0] == pytest.approx(1 / beta, abs=0.03)
    assert history.final.coupling_scale[0] == pytest.approx(1 / beta, abs=0.03)
    assert history.final.bias_shift[0] == pytest.approx(-offset / beta, abs=0.05)
    assert history.gains.shape == (7, 1, 6) and history.mean_activity.shape == (7, 1)


def test_averaged_corrections_are_the_geometric_mean_of_the_scales_and_the_mean_of_the_shifts():
    iterates = [GroupCorrections(np.array([0.5, 1.0]), np.array([-0.2, 0.0]), np.array([2.0, 1.0])),
                GroupCorrections(np.array([2.0, 1.0]), np.array([0.4, 1.0]), np.array([0.5, 4.0]))]
    mean = averaged_corrections(iterates)
    np.testing.assert_allclose(mean.bias_scale, [1.0, 1.0])
    np.testing.assert_allclose(mean.bias_shift, [0.1, 0.5])
    np.testing.assert_allclose(mean.coupling_scale, [1.0, 2.0])


def test_averaging_the_last_steps_halves_the_noise_of_the_final_corrections():
    """Gibbs at beta = 1.25 with offset 0.4, 8 rounds of a short noisy run each (4 chains x 300 sweeps): the final
    corrections averaged over the last 4 steps scatter less over 8 repetitions than the last step alone (the steps'
    errors are nearly independent: the spread of the mean about half the single step's; asserted: below 0.8 of it,
    for s, t and k together), and both centre on the fixed point s = k = 1 / beta, t = -offset / beta
    (mutation: averaged_rounds ignored -> equal spreads)."""
    W, b = random_bm(5, seed=3)
    beta, offset = 1.25, 0.4
    fixed_point = np.array([1 / beta, -offset / beta, 1 / beta])

    def final(averaged_rounds, repetition):
        stand_in = gibbs_stand_in(W, b, beta, offset, n_sweeps=500, n_chains=4)
        history = calibrate(lambda c, index: stand_in(c, 1000 * repetition + index),
                            lambda z: group_inputs(z, W, b, (5,)), (5,), n_rounds=8, damping=0.7,
                            averaged_rounds=averaged_rounds, log=lambda line: None)
        return np.array([history.final.bias_scale[0], history.final.bias_shift[0], history.final.coupling_scale[0]])

    last = np.array([final(1, r) for r in range(8)])
    averaged = np.array([final(4, r) for r in range(8)])
    np.testing.assert_allclose(averaged.mean(axis=0), fixed_point, atol=0.06)
    spread = lambda finals: np.sqrt(np.mean(np.square(finals - finals.mean(axis=0))))  # noqa: E731
    assert spread(averaged) < 0.8 * spread(last)
    with pytest.raises(ValueError, match="averaged_rounds"):
        calibrate(gibbs_stand_in(W, b, beta, offset), lambda z: group_inputs(z, W, b, (5,)), (5,), n_rounds=2,
                  damping=0.7, averaged_rounds=3, log=lambda line: None)


def test_a_group_with_nearly_equal_biases_is_corrected_through_the_shift_alone():
    """Biases within 0.02 of -0.5 (a barely trained layer): bias gain and offset are not separable (standard error
    of a far above 0.1). Gibbs at beta = 1.25 with offset 0.4 realises the field beta (s b + t) + 0.4; the
    calibration keeps s = 1, brings the field to b at the mean bias through the shift alone ((beta - 1) b + beta t
    + offset = 0 at b = -0.5: t = -0.22) and k to 1 / beta, instead of failing on a bias gain of the wrong sign
    (mutation: no fallback -> ValueError or an s far from 1)."""
    W, _ = random_bm(5, seed=3)
    b = -0.5 + 0.02 * np.linspace(-1, 1, 5)
    beta, offset = 1.25, 0.4
    history = calibrate(gibbs_stand_in(W, b, beta, offset), lambda z: group_inputs(z, W, b, (5,)), (5,),
                        n_rounds=6, damping=0.7, log=lambda line: None)
    assert history.gains[0, 0, 3] > 0.1  # the bias gain's standard error: not identified
    assert history.final.bias_scale[0] == 1.0
    assert history.final.coupling_scale[0] == pytest.approx(1 / beta, abs=0.03)
    expected_shift = -((beta - 1) * b.mean() + offset) / beta  # (beta - 1) b + beta t + offset = 0 at the mean bias
    assert history.final.bias_shift[0] == pytest.approx(expected_shift, abs=0.05)
    folded = identified_gains(np.array([[3.0, 1.1, -1.2, 1.5, 0.01, 1.0], [1.2, 1.1, 0.3, 0.01, 0.01, 0.01]]),
                              [-0.5, -0.5])
    np.testing.assert_allclose(folded, [[1.0, 1.1, -1.2 + 2.0 * -0.5], [1.2, 1.1, 0.3]])


def test_group_inputs_split_the_field_of_a_full_machine():
    W, b = random_bm(4, seed=1)
    z = np.array([[1, 0, 1, 1], [0, 1, 1, 0]])
    inputs = group_inputs(z, W, b, (1, 3))
    np.testing.assert_allclose(inputs[1].coupling, (z @ W)[:, 1:], rtol=1e-6)
    np.testing.assert_array_equal(inputs[0].states, z[:, :1])
    gains = measured_gains(group_inputs(gibbs_sample(W, b, 3000, 10, seed=2).reshape(-1, 4), W, b, (4,)))
    np.testing.assert_allclose(gains[0, :2], 1.0, atol=0.05)  # exact Gibbs: a = g = 1 (30,000 samples)


@pytest.mark.slow
def test_lif_calibration_corrects_the_theory_estimate_of_the_activation(brian_cache):
    """A 5-unit LIF network translated with the HCS theory estimate of (u0, alpha) (u0 0.6 mV = 0.75 alpha above
    the simulated one, so units fire too often: offset c ~ +1) and couplings ~1.3x too strong: two damped
    rounds bring offset and coupling gain much closer to 0 and 1 (20 networks x 3 s: standard errors ~0.03)."""
    u0_mV, alpha_mV = hcs_activation_estimate(P)
    calibration = ActivationPoint(P.rate_exc_hz, P.rate_inh_hz, u0_mV, alpha_mV)
    W, b = random_bm(5, seed=4)
    settings = dict(n_rounds=2, damping=0.8, averaged_rounds=1, unit_rounds=1, coupling_offsets=True, n_copies=20,
                    duration_ms=3200.0, burn_in_ms=200.0, sample_dt_ms=2.0)
    ds = calibrate_small_bm(W, b, P, calibration, settings, 0.1, 5, brian_cache, log=lambda line: None)
    first, last = ds.isel(round=0, layer=0), ds.isel(round=-1, layer=0)
    assert float(first.offset) > 0.5 and float(first.coupling_gain) > 1.15
    assert abs(float(last.offset)) < 0.5 * abs(float(first.offset))
    assert abs(float(last.coupling_gain) - 1) < 0.5 * abs(float(first.coupling_gain) - 1)
    assert float(ds.coupling_scale[0]) < 0.95 and float(ds.bias_shift[0]) < -0.3
    assert ds.attrs["n_rounds"] == 2 and ds["W"].attrs["units"] == "1"
    assert ds.unit_bias_shift.shape == (5,) and ds.unit_round_offset.shape == (2, 1)
    assert ds.unit_round_activity_slope.shape == (2, 1) and ds.coupling_offset.shape == (1,)


def test_a_step_stays_in_its_trust_region_and_skips_groups_without_gains():
    """A wild bias gain (a = 20, e.g. a fit on a layer that hardly varies) changes s by at most a factor 2 and t by at
    most 2; a group whose fit failed (nan) keeps its corrections (mutations: no clipping, nan propagated)."""
    start = GroupCorrections.plain(2)
    gains = np.array([[20.0, 1.0, 60.0], [np.nan, np.nan, np.nan]])  # c s / a = 3
    step = calibration_step(start, gains, damping=1.0)
    assert step.bias_scale[0] == pytest.approx(0.5) and step.bias_shift[0] == pytest.approx(-2.0)
    np.testing.assert_array_equal([step.bias_scale[1], step.bias_shift[1], step.coupling_scale[1]], [1.0, 0.0, 1.0])


def test_unit_offsets_vanish_for_exact_gibbs_samples_and_find_a_shifted_units_offset():
    """Gibbs samples of (W, b + delta) read against (W, b): each unit's offset is delta (exactly its conditional's
    shift), 0 where delta is 0; a unit that is never on gets 0 (76,000 correlated samples of 5 units: standard
    errors ~0.02, tolerance 0.07)."""
    W, b = random_bm(5, seed=3)
    delta = np.array([0.5, 0.0, -0.4, 0.0, 0.0])
    z = gibbs_sample(W, b + delta, 4000, 20, seed=7)[200:].reshape(-1, 5)
    np.testing.assert_allclose(unit_offsets(group_inputs(z, W, b, (5,))), delta, atol=0.07)
    b_off = b.copy()
    b_off[1] = -40.0
    z = gibbs_sample(W, b_off, 400, 20, seed=8)[50:].reshape(-1, 5)
    assert unit_offsets(group_inputs(z, W, b_off, (5,)))[1] == 0.0


def test_unit_offsets_solve_the_mean_response_of_saturated_fields():
    """Fields of +12 and -12 (alternate samples) and mean states 0.3 and 0.8: the offsets are the roots of
    mean sigmoid(u + c) = mean state, -12 + logit(0.6) = -11.59 and 12 + logit(0.6) = 12.41, far from 0, where the
    mean response is flat (plain Newton steps from 0 overshoot by 10^4 and cycle): solved to 1e-6."""
    field = np.tile([[12.0, 12.0], [-12.0, -12.0]], (1000, 1))
    states = np.column_stack([np.arange(2000) < 600, np.arange(2000) < 1600]).astype(float)
    c = unit_offsets([LayerInputs(states, np.zeros(2), field)])
    np.testing.assert_allclose(c, [-12.0 + np.log(1.5), 12.0 + np.log(1.5)], atol=1e-4)
    np.testing.assert_allclose(expit(field + c).mean(axis=0), [0.3, 0.8], atol=1e-6)


def test_one_undamped_unit_round_removes_per_unit_bias_errors_through_the_bias_scale():
    """A stand-in network whose units respond to their realised shift d with 1 / s (s the layer's bias scale, as
    after the layer calibration) and carry bias errors e: one undamped round sets d = -s e, after which the offsets
    vanish within sampling error (mutation: a step without s leaves e (1 - 1 / s) = -0.125 on the first unit)."""
    W, b = random_bm(5, seed=3)
    errors = np.array([0.5, 0.0, -0.4, 0.3, 0.0])
    scale = np.full(5, 0.8)

    def sample(shifts, coupling_offset, index):
        return gibbs_sample(W, b + errors + shifts / scale, 4000, 20, seed=20 + index)[200:].reshape(-1, 5)

    result = unit_shift_rounds(sample, lambda z: group_inputs(z, W, b, (5,)), (5,), scale, n_rounds=1,
                               damping=1.0, log=lambda line: None)
    np.testing.assert_allclose(result.shifts, -scale * errors, atol=0.06)
    assert result.mean_abs_offset.shape == (2, 1) and result.activity_slope is None
    assert result.mean_abs_offset[0, 0] > 0.2 and result.mean_abs_offset[1, 0] < 0.04
    np.testing.assert_array_equal(result.coupling_offset, [0.0])


def test_marginal_rounds_bring_a_biased_sampler_to_its_models_marginals_on_unit_conditionals():
    """A stand-in network with bias gain 1.25 and per-unit bias errors e, Gibbs on (W, 1.25 (r - t0) / s0 + e)
    for realised biases r: the marginal rounds must bring the four targeted units to the exact marginals of (W, b)
    while the layer steps bring the bias gain to 1, i.e. realised biases r = t0 + s0 (b - e) / 1.25, stored as the
    change against the start, s0 (b - e) / 1.25 - s0 b (mutations: the fold without the bias-scale change misses by
    (1 - 1 / 1.25) s0 |b|, up to 0.31 here; a step with the wrong sign diverges). The fifth unit has no target and
    no error: its change comes from the layer steps alone. 12 rounds of 20 chains x 3000 sweeps, the mean of the last 3: the
    logits of the marginals carry about 0.02 of noise, tolerance 0.08."""
    W, b = random_bm(5, seed=3)
    errors = np.array([0.5, -0.4, 0.3, -0.2, 0.0])
    s0, t0, response = 0.8, 0.1, 1.25
    start = GroupCorrections(np.array([s0]), np.array([t0]), np.array([1.0]))
    p = exact_distribution(W, b)
    targets = p @ all_states(5)
    targets[4] = np.nan

    def sample(corrections, index):
        realised = corrections.bias_scale * b + corrections.bias_shift
        return gibbs_sample(W, response * (realised - t0) / s0 + errors, 3000, 20, seed=40 + index)[100:].reshape(-1, 5)

    result = marginal_rounds(sample, lambda z: group_inputs(z, W, b, (5,)), (5,), start,
                             UnitCalibration(np.zeros(5), np.zeros(1), None, None), b, targets,
                             {"n_rounds": 12, "damping": 0.5, "averaged_rounds": 3}, layer_damping=0.7,
                             log=lambda line: None)
    expected = s0 * (b - errors) / response - s0 * b
    np.testing.assert_allclose(result.shifts, expected, atol=0.08)
    assert result.marginal_error[0] > 0.05 and result.marginal_error[-1] < 0.015
    assert result.gains.shape == (12, 1, 6) and abs(result.gains[-1, 0, 0] - 1.0) < 0.05
    ds = marginal_dataset(result, ("all",))
    assert ds["marginal_round_error"].dims == ("marginal_round",) and ds["marginal_round_bias_gain"].shape == (12, 1)
    assert len(marginal_dataset(None, ("all",)).data_vars) == 0


def _partner_counts(z, W):
    return [group.coupling for group in group_inputs(z, W != 0, np.zeros(W.shape[0]), (W.shape[0],))]


def test_activity_slopes_vanish_for_exact_gibbs_samples_and_find_a_slope_per_active_partner():
    """Gibbs samples of (W + e, b) (e on every coupled pair) read against (W, b): the field has an extra e per
    active partner, which the slope finds (e = -0.15; 76,000 correlated samples of 5 units whose partner counts
    have a standard deviation of 0.7: spread over seeds ~0.01, tolerance 0.04); exact samples give 0 within the
    same tolerance."""
    W, b = random_bm(5, seed=3)
    coupled = W != 0
    for e in (0.0, -0.15):
        z = gibbs_sample(W + e * coupled, b, 4000, 20, seed=9)[200:].reshape(-1, 5)
        inputs = group_inputs(z, W, b, (5,))
        slope = activity_slopes(inputs, _partner_counts(z, W), unit_offsets(inputs))
        assert slope.shape == (1,)
        assert slope[0] == pytest.approx(e, abs=0.04)


def test_one_undamped_round_with_coupling_offsets_removes_a_slope_and_keeps_the_mean_field():
    """A stand-in network with bias errors and an extra field e = -0.08 per active partner, responding to its shift
    d with 1 / s and to a coupling offset o with o per active partner: one undamped round sets o = -e and
    d = -s (c - e mean n), after which offsets and slope vanish within sampling error (mutation: without the
    mean-field term the offsets stay near |e| mean n ~ 0.16)."""
    W, b = random_bm(5, seed=3)
    coupled = W != 0
    errors, e, scale = np.array([0.3, 0.0, -0.3, 0.2, 0.0]), -0.08, np.full(5, 0.8)

    def sample(shifts, coupling_offset, index):
        return gibbs_sample(W + (e + coupling_offset[0]) * coupled, b + errors + shifts / scale, 4000, 20,
                            seed=30 + index)[200:].reshape(-1, 5)

    result = unit_shift_rounds(sample, lambda z: group_inputs(z, W, b, (5,)), (5,), scale, n_rounds=1, damping=1.0,
                               counts_of=lambda z: _partner_counts(z, W), log=lambda line: None)
    assert result.coupling_offset[0] == pytest.approx(-e, abs=0.04)
    assert result.activity_slope.shape == (2, 1)
    assert result.activity_slope[0, 0] == pytest.approx(e, abs=0.04) and abs(result.activity_slope[1, 0]) < 0.04
    assert result.mean_abs_offset[1, 0] < 0.06


def test_a_network_files_unit_shifts_add_to_its_layer_corrections():
    layers = GroupCorrections(np.array([0.8, 0.7]), np.array([0.1, -0.5]), np.array([0.9, 0.85]))
    shifts = np.array([0.2, 0.0, 0.0, -0.1, 0.0])
    network = xr.merge([corrections_dataset(layers, RBM_GROUPS),
                        unit_shift_dataset(UnitCalibration(shifts, np.array([0.02, -0.05]), None, None),
                                           {"visible": 2, "hidden": 3}, RBM_GROUPS)])
    corrections = network_corrections(network)
    np.testing.assert_allclose(corrections.realised_biases(np.ones(5)), [1.1, 0.9, 0.2, 0.1, 0.2])
    np.testing.assert_array_equal(corrections.coupling_scale, [0.9, 0.9, 0.85, 0.85, 0.85])
    np.testing.assert_array_equal(corrections.coupling_offset, [0.02, 0.02, -0.05, -0.05, -0.05])
    assert network.unit_bias_shift_visible.attrs["units"] == "1"

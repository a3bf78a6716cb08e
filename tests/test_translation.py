"""Tests of the Boltzmann machine <-> LIF translation (docs/translation.md)."""

import re

import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, StateMonitor, defaultclock, ms, mV, start_scope, uS

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.learning.rbm import train_rbm
from lif_tempering.learning.study import rbm_parameter_bounds
from lif_tempering.neuron.model import make_lif_group, per_neuron_values
from lif_tempering.neuron.parameters import PARAMETER_SETS
from lif_tempering.neuron.theory import (
    free_membrane_moments,
    hcs_activation_estimate,
    rectangle_psp_integral,
    representable_bias_range,
    weight_factor_uS,
)
from lif_tempering.sampling.boltzmann import random_bm, rbm_as_bm
from lif_tempering.sampling.network import BoltzmannSampler, make_synapses
from lif_tempering.sampling.translation import (
    CLIP_WEIGHT_FACTOR_GAIN,
    SATURATION_INPUT,
    LIFNetworkValues,
    TranslationCorrections,
    bias_to_leak,
    bm_to_lif,
    layer_corrections,
    leak_to_bias,
    lif_to_bm,
    per_layer,
    representable_biases,
    weight_factors,
)

P = PARAMETER_SETS["sbs_tutorial"]
#: Nominal calibration of the sbs tutorial set at 3 kHz balanced noise (docs/calibration.md);
#: the translation is pure algebra, so measured values are not needed here.
CAL = ActivationPoint(rate_exc_hz=3000.0, rate_inh_hz=3000.0, u0_mV=-50.62, alpha_mV=0.795)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("coupling_scale", [1.0, 0.77])
def test_round_trip_recovers_the_boltzmann_machine(seed, coupling_scale):
    W, b = random_bm(6, seed, scale=1.5)
    values = bm_to_lif(W, b, P, CAL, coupling_scale)
    W_back, b_back = lif_to_bm(values, P, CAL, coupling_scale)
    np.testing.assert_allclose(W_back, W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b_back, b, rtol=0, atol=1e-10)


def test_bias_weights_and_receptors_follow_the_definition():
    W, b = random_bm(5, seed=3)
    values = bm_to_lif(W, b, P, CAL)
    np.testing.assert_allclose(values.E_l_mV, CAL.u0_mV + CAL.alpha_mV * b, rtol=0, atol=1e-12)
    assert values.rate_exc_hz == CAL.rate_exc_hz and values.rate_inh_hz == CAL.rate_inh_hz
    # each pair uses exactly one receptor, chosen by the sign of W; nothing on the diagonal
    assert np.all(values.w_exc_uS >= 0) and np.all(values.w_inh_uS >= 0)
    np.testing.assert_array_equal(values.w_exc_uS > 0, W > 0)
    np.testing.assert_array_equal(values.w_inh_uS > 0, W < 0)
    # [pre, post]: column j is scaled by the factor of the target neuron j at its own E_l
    for j in range(5):
        f_exc = weight_factor_uS(P, CAL.alpha_mV, values.E_l_mV[j], CAL.rate_exc_hz, CAL.rate_inh_hz, True)
        f_inh = weight_factor_uS(P, CAL.alpha_mV, values.E_l_mV[j], CAL.rate_exc_hz, CAL.rate_inh_hz, False)
        expected = np.where(W[:, j] > 0, W[:, j] * f_exc, -W[:, j] * f_inh)
        np.testing.assert_allclose(values.w_exc_uS[:, j] + values.w_inh_uS[:, j], expected, rtol=1e-12)
    # targets with different biases receive different conductances: the bio matrix is asymmetric
    w_signed = values.w_exc_uS - values.w_inh_uS
    assert not np.allclose(w_signed, w_signed.T, rtol=1e-3)


def test_coupling_scale_multiplies_weights_but_not_biases():
    W, b = random_bm(4, seed=4)
    plain, scaled = bm_to_lif(W, b, P, CAL), bm_to_lif(W, b, P, CAL, coupling_scale=0.8)
    np.testing.assert_allclose(scaled.w_exc_uS, 0.8 * plain.w_exc_uS, rtol=1e-14)
    np.testing.assert_allclose(scaled.w_inh_uS, 0.8 * plain.w_inh_uS, rtol=1e-14)
    np.testing.assert_array_equal(scaled.E_l_mV, plain.E_l_mV)


def test_invalid_machines_are_rejected():
    W, b = random_bm(3, seed=5)
    W_asym = W.copy()
    W_asym[0, 1] += 0.1
    with pytest.raises(ValueError, match="symmetric"):
        bm_to_lif(W_asym, b, P, CAL)
    with pytest.raises(ValueError, match="shape"):
        bm_to_lif(W, b[:2], P, CAL)
    with pytest.raises(ValueError, match="coupling_scale"):
        bm_to_lif(W, b, P, CAL, coupling_scale=0.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_bias_is_refused_naming_the_unit(bad):
    """NaN fails both range comparisons: it must be refused by name, not become a silent dead neuron."""
    W, b = rbm_as_bm(np.full((3, 2), 0.5), np.zeros(3), np.array([0.3, bad]))
    with pytest.raises(ValueError, match=rf"1 of 5 biases are not finite: hidden unit 1 \(network unit 4\): bias {bad}"):
        bm_to_lif(W, b, P, CAL, n_visible=3)
    with pytest.raises(ValueError, match=rf"^1 of 5 units .* hidden unit 1 \(network unit 4\): bias {bad}"):
        representable_biases(W, b, P, CAL, n_visible=3)


def test_non_finite_weight_is_refused_naming_both_units():
    """A NaN weight is named with its two units, not reported as an asymmetric matrix."""
    W_rbm = np.full((3, 2), 0.5)
    W_rbm[2, 0] = np.nan
    W, b = rbm_as_bm(W_rbm, np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="2 of 25 weights are not finite: visible unit 2 \\(network unit 2\\) to "
                                         "hidden unit 0 \\(network unit 3\\): weight nan") as error:
        bm_to_lif(W, b, P, CAL, n_visible=3)
    assert "symmetric" not in str(error.value)


def test_weight_factors_grow_for_a_smaller_driving_force():
    # Raising E_l moves the mean membrane toward E_E: the excitatory driving force falls, so
    # more conductance is needed per unit weight, and the inhibitory factor falls.
    f_exc, f_inh = weight_factors(P, CAL, np.array([-52.0, -50.0, -48.0]))
    assert np.all(np.diff(f_exc) > 0) and np.all(np.diff(f_inh) < 0)


# ---------------------------------------------------------------- the weight factor, simulated

def simulated_psp_integral(E_l_mV, w_uS, excitatory, dt_ms):
    """Integral (mV ms) of V - V_rest over tau_ref after one input spike of weight ``w_uS``.

    The background is clamped at its mean conductances g_E, g_I (no noise). With constant
    conductances g_l (E_l - V) + g_E (E_E - V) + g_I (E_I - V) = g_tot (mu - V), so the LIF
    group of the model runs with leak conductance g_tot, leak potential mu (the HCS mean),
    no Poisson input and no threshold: the same dynamics as the clamped neuron.
    """
    start_scope()
    defaultclock.dt = dt_ms * ms
    m = free_membrane_moments(P, E_l_mV)
    target = make_lif_group(1, name="target")
    values = per_neuron_values(P, 1, E_l_mV=float(m.mean_mV), rate_exc_hz=0.0, rate_inh_hz=0.0, V_th_mV=1e6,
                               dt_ms=dt_ms)
    values["g_l"] = np.array([float(m.g_tot_uS)]) * uS
    for name, value in values.items():
        setattr(target, name, value)
    t_spike = 2.0
    source = SpikeGeneratorGroup(1, [0], [t_spike] * ms)
    synapse = make_synapses(source, target, "exponential")
    synapse.connect(i=0, j=0)
    synapse.weight = w_uS * uS
    synapse.receptor_exc = 1.0 if excitatory else 0.0
    monitor = StateMonitor(target, "v", record=0)
    Network(target, source, synapse, monitor).run((t_spike + P.tau_ref_ms + 3 * dt_ms) * ms, namespace={})
    t = np.asarray(monitor.t / ms)
    psp = np.asarray(monitor.v[0] / mV) - float(m.mean_mV)
    # A spike processed in step t_spike changes g at the end of that step: the PSP starts at
    # t_spike + dt (Brian2's one-step transmission), and lasts tau_ref from there.
    start = t_spike + dt_ms
    keep = (t >= start - 1e-9) & (t <= start + P.tau_ref_ms + 1e-9)
    assert np.isclose(t[keep][-1] - t[keep][0], P.tau_ref_ms)
    return float(np.trapezoid(psp[keep], t[keep]))


@pytest.mark.parametrize("excitatory", [True, False])
def test_linear_psp_integral_matches_theory(runtime_device, excitatory):
    E_l = CAL.u0_mV + 1.3 * CAL.alpha_mV
    w = 1e-5  # uS: a 0.01 mV PSP, so the driving force stays constant (linear regime)
    theory = w * float(rectangle_psp_integral(P, E_l, excitatory=excitatory))
    sign = 1.0 if excitatory else -1.0
    error_coarse = sign * simulated_psp_integral(E_l, w, excitatory, 0.1) / theory - 1
    error_fine = sign * simulated_psp_integral(E_l, w, excitatory, 0.01) / theory - 1
    # The conductance held over a step is the exponential's step average (model.syn_weight_scale): the
    # conductance integral is exact and only the membrane's discretisation remains (measured -0.010 % at
    # dt = 0.1 ms, -0.0025 % at 0.01 ms). Full-weight increments would overestimate g by dt / (2 tau_syn),
    # +0.5 % at dt = 0.1 ms (measured +0.48 %).
    assert abs(error_coarse) < 0.001
    assert abs(error_fine) < 0.001


@pytest.mark.parametrize("W_ij", [1.0, -1.0])
def test_translated_weight_gives_the_rectangle_of_height_alpha_W(runtime_device, W_ij):
    # Two units, target (unit 1) at bias 1.3. The translated conductance must make the mean
    # PSP over tau_ref equal to the membrane shift of a bias change W: alpha * W * g_l / g_tot
    # (E_l moves the mean membrane potential by only g_l / g_tot of its own change).
    W = np.array([[0.0, W_ij], [W_ij, 0.0]])
    values = bm_to_lif(W, np.array([0.0, 1.3]), P, CAL)
    w = values.w_exc_uS[0, 1] + values.w_inh_uS[0, 1]
    E_l = values.E_l_mV[1]
    m = free_membrane_moments(P, E_l)
    integral = simulated_psp_integral(E_l, w, W_ij > 0, 0.1)
    height = integral / P.tau_ref_ms * float(m.g_tot_uS) / P.g_l_uS  # in E_l units (mV)
    # Tolerance 2 %: the conductance-based nonlinearity, the ~0.8 mV PSP lowers the ~50 mV
    # driving force (-1.2 % measured with full-weight increments, which added +0.5 %).
    assert height == pytest.approx(CAL.alpha_mV * W_ij, rel=0.02)


def test_lif_network_values_round_trip_type():
    values = bm_to_lif(np.zeros((2, 2)), np.zeros(2), P, CAL)
    assert isinstance(values, LIFNetworkValues) and values.n_units == 2
    assert not values.w_exc_uS.any() and not values.w_inh_uS.any()


# --------------------------------------------------------------------------- representable range

@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
@pytest.mark.parametrize("gain", [1.5, 2.0, 5.0])
def test_bias_range_edges_are_where_the_weight_factors_grow_by_the_gain(name, gain):
    p = PARAMETER_SETS[name]
    u0, alpha = hcs_activation_estimate(p)
    b_min, b_max = representable_bias_range(p, u0, alpha, max_weight_factor_gain=gain)
    assert b_min < 0 < b_max

    def factor(b, excitatory):
        return float(weight_factor_uS(p, alpha, u0 + alpha * b, excitatory=excitatory))

    # independent check through the weight factor itself: the excitatory factor reaches gain x its
    # zero-bias value at b_max, the inhibitory one at b_min; the other receptor's factor shrinks there
    assert factor(b_max, True) / factor(0.0, True) == pytest.approx(gain, rel=1e-9)
    assert factor(b_min, False) / factor(0.0, False) == pytest.approx(gain, rel=1e-9)
    assert factor(b_max, False) < factor(0.0, False) and factor(b_min, True) < factor(0.0, True)


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_hard_bias_range_puts_the_mean_membrane_potential_on_the_reversal_potentials(name):
    p = PARAMETER_SETS[name]
    u0, alpha = hcs_activation_estimate(p)
    b_min, b_max = representable_bias_range(p, u0, alpha)
    assert float(free_membrane_moments(p, u0 + alpha * b_min).mean_mV) == pytest.approx(p.E_inh_mV, abs=1e-9)
    assert float(free_membrane_moments(p, u0 + alpha * b_max).mean_mV) == pytest.approx(p.E_exc_mV, abs=1e-9)
    # just inside, the factors are positive; just outside, weight_factors refuses
    inside = u0 + alpha * np.array([b_min, b_max]) * (1 - 1e-6)
    assert all(np.all(f > 0) for f in weight_factors(p, ActivationPoint(p.rate_exc_hz, p.rate_inh_hz, u0, alpha), inside))
    with pytest.raises(ValueError, match="outside \\(E_I, E_E\\)"):
        weight_factors(p, ActivationPoint(p.rate_exc_hz, p.rate_inh_hz, u0, alpha), [u0 + alpha * b_max * 1.001])


def test_theory_estimate_of_the_activation_is_close_to_the_calibration():
    u0, alpha = hcs_activation_estimate(P)
    # calibrated -50.62 mV, 0.795 mV (CAL): the auto training bounds may rest on the estimate
    assert u0 == pytest.approx(CAL.u0_mV, abs=0.25 * CAL.alpha_mV + 0.5)
    assert alpha == pytest.approx(CAL.alpha_mV, rel=0.06)


def test_unrepresentable_bias_is_refused_naming_unit_value_range_and_config_key():
    W_rbm = np.full((3, 2), -10.0)  # hidden unit 1: bias 84, its input falls to 54; clipped it would reach 11 < 20
    W, b = rbm_as_bm(W_rbm, np.zeros(3), np.array([0.3, 84.0]))
    low, high = representable_bias_range(P, CAL.u0_mV, CAL.alpha_mV)
    assert high < 84.0
    with pytest.raises(ValueError) as error:
        bm_to_lif(W, b, P, CAL, n_visible=3)
    message = str(error.value)
    for fragment in ("hidden unit 1 (network unit 4)", "bias 84.000", f"({low:.3f}, {high:.3f})",
                     "rbm.parameter_bounds", "total input between 54.00 and 84.00"):
        assert fragment in message
    assert "visible unit" not in message and "hidden unit 0" not in message


def test_saturated_unit_is_clipped_with_a_warning():
    W_rbm = np.full((3, 2), 0.5)  # the hidden unit with bias 90 stays >= 20 for every visible state
    W, b = rbm_as_bm(W_rbm, np.zeros(3), np.array([0.3, 90.0]))
    with pytest.warns(RuntimeWarning, match="1 saturated units .* hidden unit 1"):
        values = bm_to_lif(W, b, P, CAL, n_visible=3)
    clip_high = representable_bias_range(P, CAL.u0_mV, CAL.alpha_mV, max_weight_factor_gain=CLIP_WEIGHT_FACTOR_GAIN)[1]
    assert values.n_clipped_units == 1
    np.testing.assert_allclose(leak_to_bias(values.E_l_mV, CAL), [0, 0, 0, 0.3, clip_high], atol=1e-12)
    assert clip_high + W_rbm[:, 1].clip(None, 0).sum() >= SATURATION_INPUT
    assert bm_to_lif(*random_bm(4, 0), P, CAL).n_clipped_units == 0


def garment_images(n_images, seed, side=14):
    """Fashion-like binary images: a bright garment (rectangle of random size) lit in every image's centre."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:side, :side]
    half_width, half_height = rng.integers(2, 7, n_images), rng.integers(4, 7, n_images)
    centre = (side - 1) / 2
    lit = ((np.abs(cols[None] - centre) < half_width[:, None, None])
           & (np.abs(rows[None] - centre) < half_height[:, None, None]))
    return lit.reshape(n_images, side * side).astype(np.float64)


def test_bounded_training_gives_a_lif_network_that_samples_where_unbounded_is_refused(brian_cache):
    """Fashion-like data drive unbounded training to biases outside the range (petrovici_thesis set).

    32 pixels are lit in every image; a fast constant learning rate (0.5, 30 epochs, seed 0)
    gives hidden biases beyond the set's representable (-20.1, 27.5) that are not saturated
    once clipped.
    """
    p = PARAMETER_SETS["petrovici_thesis"]
    u0, alpha = hcs_activation_estimate(p)
    calibration = ActivationPoint(p.rate_exc_hz, p.rate_inh_hz, u0, alpha)
    data = garment_images(1000, seed=0)
    settings = {"parameter_bounds": "auto", "max_weight_factor_gain": 2.0}
    bounds = rbm_parameter_bounds(settings, p)
    training = dict(n_hidden=32, epochs=30, learning_rate=0.5, seed=0)
    free = train_rbm(data, **training)
    with pytest.raises(ValueError, match="rbm.parameter_bounds") as error:
        bm_to_lif(*rbm_as_bm(free["W"], free["b_v"], free["b_h"]), p, calibration, n_visible=196)
    # the message names each refused unit with its value, and those values lie outside the hard range
    low, high = representable_bias_range(p, u0, alpha)
    named = re.findall(r"hidden unit (\d+) \(network unit (\d+)\): bias (-?[\d.]+)", str(error.value))
    assert named and f"{len(named)} of 228 units" in str(error.value)
    for unit, network_unit, bias in named:
        assert int(network_unit) == 196 + int(unit)
        assert float(bias) == pytest.approx(free["b_h"][int(unit)], abs=1e-3)
        assert not low < float(bias) < high

    bounded = train_rbm(data, **training, bias_range=(bounds["bias_min"], bounds["bias_max"]),
                        weight_abs_max=bounds["weight_abs_max"])
    W, b_v, b_h = bounded["W"], bounded["b_v"], bounded["b_h"]
    assert np.abs(W).max() <= bounds["weight_abs_max"]
    values = bm_to_lif(*rbm_as_bm(W, b_v, b_h), p, calibration, n_visible=196)
    assert values.n_clipped_units == 0

    sampler = BoltzmannSampler(196 + 32, 1100.0, brian_cache, pattern="bipartite", n_visible=196, burn_in_ms=100.0)
    result = sampler.sample(rbm_as_bm(W, b_v, b_h), p, calibration, seed=3)
    sampler.close()
    z = result.samples[:, 0].astype(np.float64)
    assert result.params["n_clipped_units"] == 0
    # the network samples: units change state, and the garment pixels lit in every image are on
    # far more often than the pixels dark in every image (1000 samples, correlated over ~tau_ref)
    always_lit, never_lit = data.min(axis=0) == 1, data.max(axis=0) == 0
    assert 0 < z.mean() < 1
    assert z[:, :196][:, always_lit].mean() > z[:, :196][:, never_lit].mean() + 0.5


@pytest.mark.parametrize("coupling_scale", [1.0, 0.77])
def test_plain_corrections_leave_the_translation_bit_identical(coupling_scale):
    """Corrections 1, 0, 1 given explicitly per unit give exactly the numbers of the plain translation (mutation:
    the weights as coupling_scale * (|W| f) * k instead of (coupling_scale |W|) (f k), which rounds differently)."""
    W, b = random_bm(6, seed=3)
    plain = bm_to_lif(W, b, P, CAL, coupling_scale)
    explicit = bm_to_lif(W, b, P, CAL, coupling_scale,
                         corrections=TranslationCorrections(np.ones(6), np.zeros(6), np.ones(6)))
    for name in ("E_l_mV", "w_exc_uS", "w_inh_uS"):
        assert np.array_equal(getattr(plain, name), getattr(explicit, name)), name
    assert TranslationCorrections().is_plain and not TranslationCorrections(bias_shift=0.1).is_plain


def test_coupling_offsets_add_to_the_coupled_weights_onto_each_unit_before_its_scale():
    """An RBM as a full machine (zero weights within each layer): offset o_j joins every non-zero weight onto unit j
    and is then scaled by k_j; the uncoupled pairs stay at zero weight; lif_to_bm inverts; per_layer reports o."""
    rng = np.random.default_rng(4)
    W, b = rbm_as_bm(rng.normal(0.0, 0.5, (2, 3)), rng.normal(0.0, 0.5, 2), rng.normal(0.0, 0.5, 3))
    offset, k = np.array([0.05, 0.05, -0.1, -0.1, -0.1]), np.array([0.9, 0.9, 0.8, 0.8, 0.8])
    corrections = TranslationCorrections(1.0, 0.0, k, offset)
    values = bm_to_lif(W, b, P, CAL, corrections=corrections)
    f_exc, f_inh = weight_factors(P, CAL, values.E_l_mV)
    expected = np.where(W != 0, W + offset[None, :], 0.0)
    np.testing.assert_allclose(values.w_exc_uS, np.clip(expected, 0, None) * (f_exc * k)[None, :])
    np.testing.assert_allclose(values.w_inh_uS, np.clip(-expected, 0, None) * (f_inh * k)[None, :])
    for within in (np.s_[:2, :2], np.s_[2:, 2:]):
        assert np.all(values.w_exc_uS[within] == 0) and np.all(values.w_inh_uS[within] == 0)
    W_back, b_back = lif_to_bm(values, P, CAL, corrections=corrections)
    np.testing.assert_allclose(W_back, W, atol=1e-12)
    np.testing.assert_allclose(b_back, b, atol=1e-12)
    assert per_layer(corrections, (2, 3))["coupling_offset"] == [0.05, -0.1]
    assert not corrections.is_plain and not TranslationCorrections(coupling_offset=0.1).is_plain


def test_corrections_set_the_realised_biases_and_scale_the_weights_onto_each_unit():
    """b_r = s b + t per unit, weights onto unit j times k_j at the weight factor of b_r; lif_to_bm inverts."""
    W, b = random_bm(4, seed=5)
    corrections = layer_corrections((1, 3), bias_scale=(0.8, 0.7), bias_shift=(0.1, -0.4), coupling_scale=(0.9, 0.75))
    values = bm_to_lif(W, b, P, CAL, corrections=corrections)
    realised = np.array([0.8, 0.7, 0.7, 0.7]) * b + np.array([0.1, -0.4, -0.4, -0.4])
    np.testing.assert_allclose(values.E_l_mV, bias_to_leak(realised, CAL))
    f_exc, f_inh = weight_factors(P, CAL, values.E_l_mV)
    k = np.array([0.9, 0.75, 0.75, 0.75])
    np.testing.assert_allclose(values.w_exc_uS, np.clip(W, 0, None) * (f_exc * k)[None, :])
    np.testing.assert_allclose(values.w_inh_uS, np.clip(-W, 0, None) * (f_inh * k)[None, :])
    W_back, b_back = lif_to_bm(values, P, CAL, corrections=corrections)
    np.testing.assert_allclose(W_back, W, atol=1e-12)
    np.testing.assert_allclose(b_back, b, atol=1e-12)
    assert per_layer(corrections, (1, 3)) == {"bias_scale": [0.8, 0.7], "bias_shift": [0.1, -0.4],
                                              "bias_shift_sd": [0.0, 0.0], "coupling_scale": [0.9, 0.75],
                                              "coupling_offset": [0.0, 0.0]}
    shifted = TranslationCorrections(corrections.bias_scale, corrections.bias_shift + np.array([0, 0.3, -0.3, 0]),
                                     corrections.coupling_scale)
    layers = per_layer(shifted, (1, 3))
    np.testing.assert_allclose(layers["bias_shift"], [0.1, -0.4])
    np.testing.assert_allclose(layers["bias_shift_sd"], [0.0, np.sqrt(0.06)])
    with pytest.raises(ValueError, match="varies within a layer"):
        per_layer(corrections, (2, 2))

"""Noise-to-temperature map: HCS model, rate solving and the simulation-confirmed search."""

import functools

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from lif_tempering.calibration.temperature import (
    ActivationPoint,
    HCSActivationModel,
    find_temperature_point,
    solve_rates,
    weight_temperature,
)
from lif_tempering.neuron.parameters import resolve_parameters

SBS = resolve_parameters("sbs_tutorial")
REFERENCE = ActivationPoint(3000.0, 3000.0, -50.62, 0.80)


@functools.lru_cache
def psp_square_integral(g_tot_uS: float, C_m_nF: float, tau_syn_ms: float) -> float:
    """Integral (mV^2 ms) of PSP(t)^2 for a unit weight and driving force, PSP solved numerically.

    C_m du/dt = -g_tot u + exp(-t / tau_syn), integrated over 30 tau_syn with u^2 alongside.
    """
    def rhs(t, state):
        return [(-g_tot_uS * state[0] + np.exp(-t / tau_syn_ms)) / C_m_nF, state[0] ** 2]

    solution = solve_ivp(rhs, (0.0, 30 * tau_syn_ms), [0.0, 0.0], method="DOP853", rtol=1e-12, atol=1e-20)
    return float(solution.y[1, -1])


def membrane_moments_by_quadrature(p, E_l_mV: float, rate_exc_hz: float, rate_inh_hz: float):
    """Mean, standard deviation (mV) and g_tot (uS) of the free membrane, the variance by integrating PSPs numerically.

    Campbell's theorem: Var = sum over receptors of nu * integral of PSP(t)^2, a PSP of weight w being
    w (E_rev - mu) times the unit PSP of :func:`psp_square_integral`.
    """
    g_exc = p.w_exc_uS * rate_exc_hz * 1e-3 * p.tau_syn_ms
    g_inh = p.w_inh_uS * rate_inh_hz * 1e-3 * p.tau_syn_ms
    g_tot = p.g_l_uS + g_exc + g_inh
    mu = (p.g_l_uS * E_l_mV + g_exc * p.E_exc_mV + g_inh * p.E_inh_mV) / g_tot
    unit = psp_square_integral(g_tot, p.C_m_nF, p.tau_syn_ms)
    variance = sum(rate * 1e-3 * (w * (E_rev - mu)) ** 2 * unit
                   for w, E_rev, rate in ((p.w_exc_uS, p.E_exc_mV, rate_exc_hz), (p.w_inh_uS, p.E_inh_mV, rate_inh_hz)))
    return mu, np.sqrt(variance), g_tot


def test_anchored_model_reproduces_reference_and_follows_hcs_theory():
    """The model's alpha = gain sigma_V g_tot / g_l, with u0 where mu = V_th + offset sigma_V, against quadrature."""
    model = HCSActivationModel.anchored(SBS, REFERENCE)
    u0, alpha = model.predict(3000.0, 3000.0)
    assert u0 == pytest.approx(REFERENCE.u0_mV, abs=1e-6)
    assert alpha == pytest.approx(REFERENCE.alpha_mV, rel=1e-9)
    mu_ref, sigma_ref, g_tot_ref = membrane_moments_by_quadrature(SBS, REFERENCE.u0_mV, 3000.0, 3000.0)
    offset_sigmas = (mu_ref - SBS.V_th_mV) / sigma_ref
    for rate_hz in (12000.0, 27000.0):
        def offset_miss(E_l_mV, rate_hz=rate_hz):
            mu, sigma, _ = membrane_moments_by_quadrature(SBS, E_l_mV, rate_hz, rate_hz)
            return mu - SBS.V_th_mV - offset_sigmas * sigma

        u0_expected = brentq(offset_miss, -60.0, -45.0, xtol=1e-10)
        _, sigma, g_tot = membrane_moments_by_quadrature(SBS, u0_expected, rate_hz, rate_hz)
        u0, alpha = model.predict(rate_hz, rate_hz)
        assert u0 == pytest.approx(u0_expected, abs=1e-6)
        assert alpha / REFERENCE.alpha_mV == pytest.approx(sigma * g_tot / (sigma_ref * g_tot_ref), rel=1e-6)


def test_anchored_model_predicts_widths_measured_with_nest():
    """alpha of the sbs tutorial set under balanced noise, fitted from NEST 3.10 (iaf_cond_exp) calibrations.

    NEST measured 0.80, 1.64 and 2.51 mV at 3, 12 and 27 kHz, each to ~1 % (standard error of the
    logistic fit, 0.007 mV at 3 kHz), so a predicted ratio alpha(nu) / alpha(3 kHz) carries ~1.4 %;
    the HCS model is an approximation (measured deviation -1 % and -2 %). Tolerance 4 %: a model without
    the E_l sensitivity g_tot / g_l predicts ratios of 1.20 and 1.08 instead of 2.05 and 3.14.
    """
    model = HCSActivationModel.anchored(SBS, ActivationPoint(3000.0, 3000.0, -50.62, 0.80))
    for rate_hz, alpha_nest_mV in ((12000.0, 1.64), (27000.0, 2.51)):
        assert model.predict(rate_hz, rate_hz)[1] == pytest.approx(alpha_nest_mV, rel=0.04)


@pytest.mark.parametrize("temperature", [1.5, 2.0, 3.0])
def test_solved_rates_meet_the_model_targets(temperature):
    model = HCSActivationModel.anchored(SBS, REFERENCE)
    target = temperature * REFERENCE.alpha_mV
    balanced = solve_rates(model, "balanced", REFERENCE, target, REFERENCE.u0_mV)
    assert balanced[0] == pytest.approx(balanced[1])
    assert model.predict(*balanced)[1] == pytest.approx(target, rel=1e-6)
    compensated = solve_rates(model, "compensated", REFERENCE, target, REFERENCE.u0_mV)
    u0, alpha = model.predict(*compensated)
    assert alpha == pytest.approx(target, rel=1e-6)
    assert u0 == pytest.approx(REFERENCE.u0_mV, abs=1e-6)
    # Balanced noise moves u0 down (more inhibition at E_l near V_th); compensation needs less inhibition.
    assert model.predict(*balanced)[0] < REFERENCE.u0_mV
    assert compensated[0] < compensated[1]


def test_search_converges_when_the_model_is_off():
    """A 'simulator' with 8 % wider activations and a u0 that drifts 1.5x faster than the model."""
    model = HCSActivationModel.anchored(SBS, REFERENCE)

    def truth(rate_exc_hz, rate_inh_hz):
        u0, alpha = model.predict(rate_exc_hz, rate_inh_hz)
        scale = np.log(rate_exc_hz / 3000.0) + 1
        return REFERENCE.u0_mV + 1.5 * (u0 - REFERENCE.u0_mV), alpha * (1 + 0.08 * (scale - 1))

    calls = []

    def calibrate_at(rate_exc_hz, rate_inh_hz, expected):
        calls.append(expected)
        u0, alpha = truth(rate_exc_hz, rate_inh_hz)
        return ActivationPoint(rate_exc_hz, rate_inh_hz, u0, alpha)

    history = find_temperature_point(calibrate_at, SBS, REFERENCE, "compensated", 2.5, 0.01, 0.01, 8,
                                     log=lambda line: None)
    final = history[-1]
    assert abs(final.alpha_mV / REFERENCE.alpha_mV / 2.5 - 1) <= 0.01
    assert abs(final.u0_mV - REFERENCE.u0_mV) <= 0.01 * REFERENCE.alpha_mV
    assert 1 < len(history) <= 5
    # The expected window of later iterations is close to what the 'simulator' then gives.
    assert abs(calls[-1][0] - final.u0_mV) < 0.2 * final.alpha_mV


def psp_height_per_alpha(p, point: ActivationPoint, excitatory: bool) -> float:
    """Mean PSP of a unit weight (1 uS) over tau_ref, in E_l units per alpha, by integrating the ODE numerically.

    At the operating point the background is held at its mean conductances g = w nu tau_syn; the
    PSP u = V - mu obeys C_m du/dt = -g_tot u + exp(-t / tau_syn) (E_rev - mu), its integral over
    tau_ref is integrated alongside, and E_l moves the membrane by only g_l / g_tot of its own change.
    """
    g_exc = p.w_exc_uS * point.rate_exc_hz * 1e-3 * p.tau_syn_ms
    g_inh = p.w_inh_uS * point.rate_inh_hz * 1e-3 * p.tau_syn_ms
    g_tot = p.g_l_uS + g_exc + g_inh
    mu = (p.g_l_uS * point.u0_mV + g_exc * p.E_exc_mV + g_inh * p.E_inh_mV) / g_tot
    driving_mV = p.E_exc_mV - mu if excitatory else mu - p.E_inh_mV

    def rhs(t, state):
        return [(-g_tot * state[0] + np.exp(-t / p.tau_syn_ms) * driving_mV) / p.C_m_nF, state[0]]

    solution = solve_ivp(rhs, (0.0, p.tau_ref_ms), [0.0, 0.0], method="DOP853", rtol=1e-12, atol=1e-14)
    integral_mV_ms = solution.y[1, -1]
    return integral_mV_ms / p.tau_ref_ms * (g_tot / p.g_l_uS) / point.alpha_mV


def test_weight_temperature_is_one_at_reference_and_grows_with_noise():
    assert weight_temperature(SBS, REFERENCE, REFERENCE) == pytest.approx(1.0)
    # T = 1 and T = 2 of a compensated map of the workflow (sbs tutorial set): T_weight ~1.95 against T_bias 1.994
    reference = ActivationPoint(3000.0, 3000.0, -50.629, 0.792)
    hot = ActivationPoint(11395.7, 11706.8, -50.630, 1.580)
    for excitatory in (True, False):
        expected = psp_height_per_alpha(SBS, reference, excitatory) / psp_height_per_alpha(SBS, hot, excitatory)
        # ODE tolerance 1e-12: the two agree to rounding unless the formula or its inputs differ
        assert weight_temperature(SBS, hot, reference, excitatory=excitatory) == pytest.approx(expected, rel=1e-8)
        assert 1.9 < expected < 2.0  # couplings cool a little less than the biases (T_bias 1.994)


def test_tolerance_misses_name_the_miss_and_the_config_key():
    from lif_tempering.calibration.temperature import tolerance_misses

    assert tolerance_misses("compensated", 2.0, 2.009, 0.019, 0.005, 0.02) == []
    (t_miss,) = tolerance_misses("compensated", 2.0, 2.024, 0.0, 0.005, 0.02)
    assert t_miss == "|T_bias/T - 1| = 0.012 exceeds temperature_map.temperature_tolerance = 0.005"
    (u0_miss,) = tolerance_misses("compensated", 2.0, 2.0, -0.03, 0.005, 0.02)
    assert u0_miss == "|u0 - u0(T = 1)| / alpha(T = 1) = 0.03 exceeds temperature_map.u0_tolerance_alphas = 0.02"
    # balanced noise lets u0 drift; a failed fit (NaN) never passes
    assert tolerance_misses("balanced", 2.0, 2.0, -0.5, 0.005, 0.02) == []
    assert len(tolerance_misses("balanced", 2.0, float("nan"), 0.0, 0.005, 0.02)) == 1


def test_a_search_that_runs_out_of_iterations_stops_the_map():
    """The 8 %-off 'simulator' misses T = 2.5 after one calibration: the map check names scheme, T and the miss."""
    from lif_tempering.calibration.temperature import TemperatureMapNotConverged, require_converged

    model = HCSActivationModel.anchored(SBS, REFERENCE)

    def calibrate_at(rate_exc_hz, rate_inh_hz, expected):
        u0, alpha = model.predict(rate_exc_hz, rate_inh_hz)
        return ActivationPoint(rate_exc_hz, rate_inh_hz, u0, alpha * (1 + 0.08 * np.log(rate_exc_hz / 3000.0)))

    (point,) = find_temperature_point(calibrate_at, SBS, REFERENCE, "compensated", 2.5, 0.01, 0.01, 1,
                                      log=lambda line: None)
    T_bias = point.alpha_mV / REFERENCE.alpha_mV
    miss = abs(T_bias / 2.5 - 1)
    assert miss > 0.01
    with pytest.raises(TemperatureMapNotConverged) as error:
        require_converged("compensated", [1.0, 2.5], [1.0, T_bias], [0.0, 0.0], [1, 1], 0.01, 0.01)
    message = str(error.value)
    assert message.startswith(f"temperature map, scheme compensated, T = 2.5: |T_bias/T - 1| = {miss:.3g} exceeds "
                              "temperature_map.temperature_tolerance = 0.01 after 1 iterations\n")
    assert "T = 1:" not in message and "temperature_map.max_iterations" in message
    # the same point with a tolerance it meets passes
    require_converged("compensated", [1.0, 2.5], [1.0, T_bias], [0.0, 0.0], [1, 1], 1.01 * miss, 0.01)

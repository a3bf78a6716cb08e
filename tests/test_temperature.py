"""Noise-to-temperature map: HCS model, rate solving and the simulation-confirmed search."""

import numpy as np
import pytest

from lif_tempering.parameters import resolve_parameters
from lif_tempering.temperature import (
    ActivationPoint,
    HCSActivationModel,
    find_temperature_point,
    solve_rates,
    weight_temperature,
)
from lif_tempering.theory import alpha_theory_mV

SBS = resolve_parameters("sbs_tutorial")
REFERENCE = ActivationPoint(3000.0, 3000.0, -50.62, 0.80)


def test_anchored_model_reproduces_reference_and_grows_like_sbs_estimate():
    model = HCSActivationModel.anchored(SBS, REFERENCE)
    u0, alpha = model.predict(3000.0, 3000.0)
    assert u0 == pytest.approx(REFERENCE.u0_mV, abs=1e-6)
    assert alpha == pytest.approx(REFERENCE.alpha_mV, rel=1e-9)
    # alpha scales like the sbs estimate sqrt(2 pi)/4 sigma_V g_tot/g_l.
    ratio = model.predict(12000.0, 12000.0)[1] / alpha
    theory_ratio = alpha_theory_mV(SBS, -51.3, 12000.0, 12000.0) / alpha_theory_mV(SBS, -50.62, 3000.0, 3000.0)
    assert ratio == pytest.approx(theory_ratio, rel=0.02)


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


def test_weight_temperature_is_one_at_reference_and_grows_with_noise():
    assert weight_temperature(SBS, REFERENCE, REFERENCE) == pytest.approx(1.0)
    hotter = ActivationPoint(12000.0, 12000.0, -50.62, 1.6)
    t_exc = weight_temperature(SBS, hotter, REFERENCE, excitatory=True)
    t_inh = weight_temperature(SBS, hotter, REFERENCE, excitatory=False)
    assert 1.5 < t_exc < 2.5 and 1.5 < t_inh < 2.5

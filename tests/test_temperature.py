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


def test_tolerance_misses_name_the_miss_and_the_config_key():
    from lif_tempering.temperature import tolerance_misses

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
    from lif_tempering.temperature import TemperatureMapNotConverged, require_converged

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

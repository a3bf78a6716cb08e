"""Logistic fit and window search recover known activation functions from synthetic data."""

import numpy as np
import pytest

from lif_tempering.calibration.activation import calibrate, fit_logistic, fit_window, inverse_logistic, logistic
from lif_tempering.neuron.parameters import resolve_parameters

SBS = resolve_parameters("sbs_tutorial")


def binomial_p_on(E_l, u0, alpha, n_samples, rng):
    return rng.binomial(n_samples, logistic(E_l, u0, alpha)) / n_samples


def test_fit_recovers_alpha_and_u0_with_honest_errors():
    """Over 200 synthetic calibrations, estimates scatter around the truth by their standard errors."""
    u0, alpha, n_samples = -50.62, 0.80, 2000
    E_l = np.linspace(*inverse_logistic([0.03, 0.97], u0, alpha), 80)
    rng = np.random.default_rng(1)
    fits = [fit_logistic(E_l, binomial_p_on(E_l, u0, alpha, n_samples, rng)) for _ in range(200)]
    u0_hat = np.array([f.u0_mV for f in fits])
    alpha_hat = np.array([f.alpha_mV for f in fits])
    u0_err = np.median([f.u0_stderr_mV for f in fits])
    alpha_err = np.median([f.alpha_stderr_mV for f in fits])
    # Unbiased: the mean over 200 fits is within 4 standard errors of the mean.
    assert abs(u0_hat.mean() - u0) < 4 * u0_err / np.sqrt(200)
    assert abs(alpha_hat.mean() - alpha) < 4 * alpha_err / np.sqrt(200)
    # The reported standard error matches the scatter (chi-square: 200 draws -> +-20 % at > 3 sigma).
    assert 0.8 < u0_hat.std() / u0_err < 1.25
    assert 0.8 < alpha_hat.std() / alpha_err < 1.25
    # Binomial noise of 2000 samples: residuals ~ sqrt(0.25 / 2000) = 0.011 at most points.
    assert max(f.max_abs_residual for f in fits) < 6 * np.sqrt(0.25 / n_samples)


def test_fit_uses_only_points_inside_the_range():
    E_l = np.linspace(-55, -46, 50)
    p_on = logistic(E_l, -50.6, 0.8)
    fit = fit_logistic(E_l, p_on, (0.05, 0.95))
    assert fit.used.sum() == np.sum((p_on > 0.05) & (p_on < 0.95))
    assert fit.u0_mV == pytest.approx(-50.6, abs=1e-8)
    assert fit.alpha_mV == pytest.approx(0.8, abs=1e-8)
    assert fit.max_abs_residual < 1e-8


def test_fit_refuses_a_window_without_transition():
    E_l = np.linspace(-60, -58, 20)
    with pytest.raises(ValueError, match="widen the E_l window"):
        fit_logistic(E_l, logistic(E_l, -50, 0.8))


def test_window_search_finds_a_shifted_transition():
    """The coarse scan widens until it holds the transition, then the fit window spans p 0.03..0.97."""
    true_u0, true_alpha = -47.0, 0.4  # far from the HCS guess (-50 mV) in units of alpha
    rng = np.random.default_rng(2)
    calls = []

    def simulate(E_l, stage):
        calls.append((stage, E_l.min(), E_l.max()))
        return binomial_p_on(E_l, true_u0, true_alpha, 5000, rng)

    coarse, fine = calibrate(simulate, SBS, 40, 60, coarse_half_width_alphas=2.0)
    assert calls[-1][0] == "fit" and sum(stage == "coarse" for stage, *_ in calls) >= 2
    low, high = fit_window(coarse["fit"], 0.03, 0.97)
    assert fine["E_l_mV"][0] == pytest.approx(low) and fine["E_l_mV"][-1] == pytest.approx(high)
    assert abs(fine["fit"].u0_mV - true_u0) < 5 * fine["fit"].u0_stderr_mV
    assert abs(fine["fit"].alpha_mV - true_alpha) < 5 * fine["fit"].alpha_stderr_mV


def test_expected_window_skips_the_coarse_scan_and_falls_back_when_wrong():
    rng = np.random.default_rng(3)
    stages = []

    def simulate(E_l, stage):
        stages.append(stage)
        return binomial_p_on(E_l, -50.6, 0.8, 5000, rng)

    coarse, fine = calibrate(simulate, SBS, 40, 60, 8.0, expected=(-50.5, 0.85))
    assert coarse is None and stages == ["fit"]
    stages.clear()
    coarse, fine = calibrate(simulate, SBS, 40, 60, 8.0, expected=(-45.0, 0.2))
    assert coarse is not None and stages == ["fit", "coarse", "fit"]
    assert abs(fine["fit"].u0_mV + 50.6) < 5 * fine["fit"].u0_stderr_mV

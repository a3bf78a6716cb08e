"""Activation-function calibration: logistic fit of p_on against E_l.

p_on(E_l) = 1 / (1 + exp(-(E_l - u0) / alpha)), docs/calibration.md. The fit
uses the points with p_low < p_on < p_high (unweighted least squares).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit
from scipy.special import expit

from lif_tempering.neuron.theory import alpha_theory_mV, mean_conductances


def logistic(E_l_mV, u0_mV, alpha_mV):
    """Activation function: probability of the refractory (z = 1) state."""
    return expit((np.asarray(E_l_mV, float) - u0_mV) / alpha_mV)


def inverse_logistic(p_on, u0_mV, alpha_mV):
    """E_l (mV) at which the activation function takes the value ``p_on``."""
    p_on = np.asarray(p_on, float)
    return u0_mV + alpha_mV * np.log(p_on / (1.0 - p_on))


@dataclass(frozen=True)
class LogisticFit:
    """Fitted u0 and alpha (mV), their standard errors, and residuals p_on - fit."""

    u0_mV: float
    alpha_mV: float
    u0_stderr_mV: float
    alpha_stderr_mV: float
    residual: np.ndarray
    used: np.ndarray

    @property
    def max_abs_residual(self) -> float:
        """Largest |residual| over the points used in the fit."""
        return float(np.max(np.abs(self.residual[self.used])))


def fit_logistic(E_l_mV, p_on, p_range=(0.05, 0.95)) -> LogisticFit:
    """Unweighted least-squares logistic fit of ``p_on`` over ``E_l_mV``.

    Points with p_range[0] < p_on < p_range[1] are used. The fit is unweighted,
    as in the reference implementation (sbs): the LIF activation function is not
    exactly logistic, and binomial weights would let the tails, where the shapes
    differ most, pull alpha down by ~1-2 %. Standard errors are
    heteroscedasticity-consistent (HC1 sandwich estimator): the spread of p_on
    is largest near p = 1/2, which an unweighted covariance would ignore.
    """
    E_l_mV = np.asarray(E_l_mV, float)
    p_on = np.asarray(p_on, float)
    used = (p_on > p_range[0]) & (p_on < p_range[1])
    if used.sum() < 4:
        raise ValueError(
            f"only {used.sum()} points with {p_range[0]} < p_on < {p_range[1]}: widen the E_l window"
        )
    x, y = E_l_mV[used], p_on[used]
    slope, intercept = np.polyfit(x, np.log(y / (1 - y)), 1)
    (u0, alpha), _ = curve_fit(logistic, x, y, p0=(-intercept / slope, 1.0 / slope), maxfev=10000)
    stderr = _sandwich_stderr(x, y - logistic(x, u0, alpha), u0, alpha)
    residual = p_on - logistic(E_l_mV, u0, alpha)
    return LogisticFit(float(u0), float(alpha), float(stderr[0]), float(stderr[1]), residual, used)


def _sandwich_stderr(E_l_mV, residual, u0_mV, alpha_mV) -> np.ndarray:
    """HC1 standard errors of (u0, alpha) for a least-squares logistic fit."""
    p = logistic(E_l_mV, u0_mV, alpha_mV)
    slope = p * (1 - p) / alpha_mV
    jacobian = np.column_stack([-slope, -slope * (E_l_mV - u0_mV) / alpha_mV])
    bread = np.linalg.inv(jacobian.T @ jacobian)
    meat = (jacobian * residual[:, None] ** 2).T @ jacobian
    n = E_l_mV.size
    return np.sqrt(np.diag(bread @ meat @ bread) * n / (n - 2))


def fit_window(fit: LogisticFit, p_low: float, p_high: float) -> tuple[float, float]:
    """E_l range (mV) over which the fitted activation goes from ``p_low`` to ``p_high``."""
    low, high = inverse_logistic([p_low, p_high], fit.u0_mV, fit.alpha_mV)
    return float(low), float(high)


def threshold_guess_mV(p) -> float:
    """E_l (mV) at which the HCS mean membrane potential equals V_th.

    A starting point for the coarse scan: the true u0 lies within a few alpha.
    """
    g_exc, g_inh = mean_conductances(p)
    g_tot = p.g_l_uS + g_exc + g_inh
    return float((p.V_th_mV * g_tot - g_exc * p.E_exc_mV - g_inh * p.E_inh_mV) / p.g_l_uS)


def _spans(p_on, used_p_range) -> bool:
    return bool(np.min(p_on) < used_p_range[0] and np.max(p_on) > used_p_range[1])


def calibrate(simulate_p_on, p, coarse_points: int, fit_points: int, coarse_half_width_alphas: float,
              fit_p_range=(0.03, 0.97), used_p_range=(0.05, 0.95), max_widenings: int = 3, expected=None):
    """Coarse window search, then the fit window; returns (coarse, fine) results.

    ``simulate_p_on(E_l_mV, stage)`` returns p_on for an array of E_l, ``stage``
    is ``"coarse"`` or ``"fit"``. The coarse scan spans ``coarse_half_width_alphas``
    theoretical widths around :func:`threshold_guess_mV`, doubled until it holds
    the transition. The fit window spans the E_l values where the coarse fit
    predicts ``fit_p_range``. Each result is a dict with ``E_l_mV``, ``p_on`` and
    ``fit`` (:class:`LogisticFit`).

    With ``expected = (u0_mV, alpha_mV)`` (a prediction, e.g. during the
    temperature-map search) the fit window is placed from it directly and the
    coarse result is None; if the simulated p_on then fails to span
    ``used_p_range``, the coarse search runs after all.
    """
    if expected is not None:
        E_l = np.linspace(*inverse_logistic(fit_p_range, *expected), fit_points)
        p_on = simulate_p_on(E_l, "fit")
        if _spans(p_on, used_p_range):
            return None, {"E_l_mV": E_l, "p_on": p_on, "fit": fit_logistic(E_l, p_on, used_p_range)}
    centre = threshold_guess_mV(p)
    half_width = coarse_half_width_alphas * float(alpha_theory_mV(p, E_l_mV=centre))
    for _ in range(max_widenings + 1):
        E_l = np.linspace(centre - half_width, centre + half_width, coarse_points)
        p_on = simulate_p_on(E_l, "coarse")
        if _spans(p_on, used_p_range):
            break
        half_width *= 2.0
    else:
        raise RuntimeError(
            f"no activation transition within E_l = {centre:.2f} +- {half_width / 2:.2f} mV "
            f"(p_on {p_on.min():.3f}..{p_on.max():.3f}): check the neuron parameters"
        )
    coarse = {"E_l_mV": E_l, "p_on": p_on, "fit": fit_logistic(E_l, p_on, used_p_range)}
    low, high = fit_window(coarse["fit"], *fit_p_range)
    E_l = np.linspace(low, high, fit_points)
    p_on = simulate_p_on(E_l, "fit")
    fine = {"E_l_mV": E_l, "p_on": p_on, "fit": fit_logistic(E_l, p_on, used_p_range)}
    return coarse, fine

"""Noise as temperature: background rates that realise a target temperature.

T(nu) = alpha(nu) / alpha(nu_ref) (docs/temperature.md). Two schemes:

- ``balanced``: excitatory and inhibitory rates scaled together (their ratio
  kept from the reference); u0 may drift.
- ``compensated``: excitatory and inhibitory rates chosen separately so that u0
  stays at its reference value.

Rates are found by a model-guided search: an HCS model anchored at the
simulated reference calibration predicts (u0, alpha) for any rates; after each
simulated calibration the model's remaining errors are added to the targets and
the rates solved again, until the simulation meets the tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, root

from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.theory import free_membrane_moments, rectangle_psp_integral

SCHEMES = ("balanced", "compensated")


@dataclass(frozen=True)
class ActivationPoint:
    """Activation function (u0, alpha in mV) measured at background rates (Hz)."""

    rate_exc_hz: float
    rate_inh_hz: float
    u0_mV: float
    alpha_mV: float


@dataclass(frozen=True)
class HCSActivationModel:
    """Predicts u0 and alpha from HCS theory, anchored at a reference calibration.

    alpha = gain * sigma_V * g_tot / g_l and u0 such that the mean membrane
    potential at E_l = u0 lies ``offset_sigmas`` standard deviations from V_th;
    ``gain`` and ``offset_sigmas`` are read off the reference.
    """

    params: NeuronParameters
    gain: float
    offset_sigmas: float

    @classmethod
    def anchored(cls, p: NeuronParameters, reference: ActivationPoint) -> "HCSActivationModel":
        m = free_membrane_moments(p, reference.u0_mV, reference.rate_exc_hz, reference.rate_inh_hz)
        gain = reference.alpha_mV / float(m.std_mV * m.g_tot_uS / p.g_l_uS)
        offset = float((m.mean_mV - p.V_th_mV) / m.std_mV)
        return cls(p, gain, offset)

    def predict(self, rate_exc_hz: float, rate_inh_hz: float, iterations: int = 30) -> tuple[float, float]:
        """(u0_mV, alpha_mV) predicted at the given rates."""
        p = self.params
        u0 = p.V_th_mV
        for _ in range(iterations):
            m = free_membrane_moments(p, u0, rate_exc_hz, rate_inh_hz)
            target_mean = p.V_th_mV + self.offset_sigmas * float(m.std_mV)
            u0 = float((target_mean * m.g_tot_uS - m.g_exc_uS * p.E_exc_mV - m.g_inh_uS * p.E_inh_mV) / p.g_l_uS)
        m = free_membrane_moments(p, u0, rate_exc_hz, rate_inh_hz)
        return u0, float(self.gain * m.std_mV * m.g_tot_uS / p.g_l_uS)


def solve_rates(model: HCSActivationModel, scheme: str, reference: ActivationPoint,
                alpha_target_mV: float, u0_target_mV: float, start: tuple[float, float] | None = None):
    """Rates (Hz) at which ``model`` predicts the targets.

    ``balanced`` matches only alpha along nu_E / nu_I = const; ``compensated``
    matches alpha and u0.
    """
    ratio = reference.rate_inh_hz / reference.rate_exc_hz
    if scheme == "balanced":
        def alpha_error(log_scale):
            scale = np.exp(log_scale)
            return model.predict(reference.rate_exc_hz * scale, reference.rate_inh_hz * scale)[1] - alpha_target_mV

        log_scale = brentq(alpha_error, np.log(1e-3), np.log(1e4), xtol=1e-10)
        return reference.rate_exc_hz * np.exp(log_scale), reference.rate_inh_hz * np.exp(log_scale)
    if scheme == "compensated":
        def errors(log_rates):
            u0, alpha = model.predict(*np.exp(log_rates))
            return [(u0 - u0_target_mV) / reference.alpha_mV, np.log(alpha / alpha_target_mV)]

        if start is None:
            scale = solve_rates(model, "balanced", reference, alpha_target_mV, u0_target_mV)[0] / reference.rate_exc_hz
            start = (reference.rate_exc_hz * scale, reference.rate_exc_hz * scale * ratio)
        solution = root(errors, np.log(start), method="hybr", options={"xtol": 1e-12})
        if not solution.success or np.max(np.abs(solution.fun)) > 1e-6:
            raise RuntimeError(f"no compensating rates for alpha = {alpha_target_mV:.4f} mV: {solution.message}")
        return tuple(float(r) for r in np.exp(solution.x))
    raise ValueError(f"unknown scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")


def tolerance_misses(scheme: str, temperature: float, T_bias: float, u0_shift_alphas: float,
                     temperature_tolerance: float, u0_tolerance_alphas: float) -> list[str]:
    """How a map point misses its tolerances (empty when it meets them), naming the config keys.

    ``T_bias = alpha / alpha(T = 1)`` must lie within ``temperature_tolerance`` of
    ``temperature`` (relative); ``compensated`` also needs
    ``|u0 - u0(T = 1)| / alpha(T = 1) = |u0_shift_alphas| <= u0_tolerance_alphas``.
    """
    misses = []
    t_miss = abs(T_bias / temperature - 1.0)
    if not t_miss <= temperature_tolerance:
        misses.append(f"|T_bias/T - 1| = {t_miss:.3g} exceeds temperature_map.temperature_tolerance = "
                      f"{temperature_tolerance:g}")
    if scheme == "compensated" and not abs(u0_shift_alphas) <= u0_tolerance_alphas:
        misses.append(f"|u0 - u0(T = 1)| / alpha(T = 1) = {abs(u0_shift_alphas):.3g} exceeds "
                      f"temperature_map.u0_tolerance_alphas = {u0_tolerance_alphas:g}")
    return misses


def converged(point: ActivationPoint, reference: ActivationPoint, scheme: str, temperature: float,
              temperature_tolerance: float, u0_tolerance_alphas: float) -> bool:
    """Whether a simulated point realises ``temperature`` (and, compensated, keeps u0)."""
    return not tolerance_misses(scheme, temperature, point.alpha_mV / reference.alpha_mV,
                                (point.u0_mV - reference.u0_mV) / reference.alpha_mV, temperature_tolerance,
                                u0_tolerance_alphas)


class TemperatureMapNotConverged(RuntimeError):
    """A temperature-map point missed its tolerances: the map must not be used."""


def require_converged(scheme: str, temperatures, T_bias, u0_shift_alphas, n_iterations,
                      temperature_tolerance: float, u0_tolerance_alphas: float) -> None:
    """Raise :class:`TemperatureMapNotConverged` naming every point of ``scheme`` that misses its tolerances.

    Arrays over the map's target temperatures: realised ``T_bias``, ``u0_shift_alphas``
    and the number of simulated calibrations each search made.
    """
    problems = []
    for temperature, t_bias, shift, iterations in zip(temperatures, T_bias, u0_shift_alphas, n_iterations):
        misses = tolerance_misses(scheme, float(temperature), float(t_bias), float(shift), temperature_tolerance,
                                  u0_tolerance_alphas)
        if misses:
            problems.append(f"temperature map, scheme {scheme}, T = {float(temperature):g}: {'; '.join(misses)} "
                            f"after {int(iterations)} iterations")
    if problems:
        raise TemperatureMapNotConverged(
            "\n".join(problems) + "\nraise temperature_map.max_iterations or loosen "
            "temperature_map.temperature_tolerance / temperature_map.u0_tolerance_alphas")


def find_temperature_point(calibrate_at, p: NeuronParameters, reference: ActivationPoint, scheme: str,
                           temperature: float, temperature_tolerance: float, u0_tolerance_alphas: float,
                           max_iterations: int, log=print):
    """Search rates for ``temperature``; every candidate is confirmed by ``calibrate_at``.

    ``calibrate_at(rate_exc_hz, rate_inh_hz, expected)`` runs a simulated
    calibration and returns an :class:`ActivationPoint`; ``expected`` is the
    corrected model's (u0_mV, alpha_mV) at those rates, to place the fit window. Returns the list of simulated points;
    the last one is the result. Stops after ``max_iterations`` calibrations even
    when the tolerances are not met (the caller records whether they were).
    """
    model = HCSActivationModel.anchored(p, reference)
    alpha_target = temperature * reference.alpha_mV
    alpha_correction, u0_correction = 1.0, 0.0
    history, start = [], None
    for iteration in range(1, max_iterations + 1):
        rates = solve_rates(model, scheme, reference, alpha_target / alpha_correction,
                            reference.u0_mV - u0_correction, start)
        predicted_u0, predicted_alpha = model.predict(*rates)
        point = calibrate_at(*rates, (predicted_u0 + u0_correction, predicted_alpha * alpha_correction))
        history.append(point)
        alpha_correction = point.alpha_mV / predicted_alpha
        u0_correction = point.u0_mV - predicted_u0
        start = rates
        log(
            f"{scheme} T={temperature:g} iteration {iteration}: rate_exc={rates[0]:.1f} Hz "
            f"rate_inh={rates[1]:.1f} Hz u0={point.u0_mV:.4f} mV alpha={point.alpha_mV:.4f} mV "
            f"T_bias={point.alpha_mV / reference.alpha_mV:.4f}"
        )
        if converged(point, reference, scheme, temperature, temperature_tolerance, u0_tolerance_alphas):
            break
    return history


def weight_temperature(p: NeuronParameters, point: ActivationPoint, reference: ActivationPoint,
                       excitatory: bool = True) -> float:
    """T_weight: how much a fixed synaptic weight's effective coupling shrinks.

    A weight translated at the reference (w = W f_ref) acts at another noise
    configuration as W f_ref / f; T_weight = f / f_ref, with the weight factor f
    of docs/translation.md evaluated at E_l = u0 (bias zero). Equal to T_bias
    when the PSP integral does not change with the noise.
    """
    def psp_integral_per_alpha(q: ActivationPoint):
        integral = rectangle_psp_integral(p, q.u0_mV, q.rate_exc_hz, q.rate_inh_hz, excitatory)
        m = free_membrane_moments(p, q.u0_mV, q.rate_exc_hz, q.rate_inh_hz)
        return float(integral * (m.g_tot_uS / p.g_l_uS) / q.alpha_mV)

    return psp_integral_per_alpha(reference) / psp_integral_per_alpha(point)

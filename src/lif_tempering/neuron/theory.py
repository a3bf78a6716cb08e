"""High-conductance-state (HCS) theory of the free membrane potential.

Formulas of docs/model.md and docs/translation.md (Petrovici et al. 2016). Units: nF, ms, mV, uS, Hz; a rate
times a time in ms is converted with a factor 1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lif_tempering.neuron.parameters import NeuronParameters

#: alpha ~= ALPHA_PER_SIGMA * sigma_V (in E_l units: times g_tot / g_l), as used by sbs.
ALPHA_PER_SIGMA = np.sqrt(2.0 * np.pi) / 4.0


@dataclass(frozen=True)
class MembraneMoments:
    """Mean and standard deviation of the free membrane potential, and conductances."""

    mean_mV: np.ndarray
    std_mV: np.ndarray
    g_exc_uS: np.ndarray
    g_inh_uS: np.ndarray
    g_tot_uS: np.ndarray
    tau_eff_ms: np.ndarray


def mean_conductances(p: NeuronParameters, rate_exc_hz=None, rate_inh_hz=None):
    """Mean background conductances (g_E, g_I) = w nu tau_syn in uS."""
    rate_exc_hz = p.rate_exc_hz if rate_exc_hz is None else rate_exc_hz
    rate_inh_hz = p.rate_inh_hz if rate_inh_hz is None else rate_inh_hz
    g_exc = p.w_exc_uS * np.asarray(rate_exc_hz, float) * 1e-3 * p.tau_syn_ms
    g_inh = p.w_inh_uS * np.asarray(rate_inh_hz, float) * 1e-3 * p.tau_syn_ms
    return g_exc, g_inh


def _psp_shape_integral(tau_syn_ms, tau_eff_ms):
    """Integral of (exp(-t/tau_syn) - exp(-t/tau_eff))^2 over t >= 0, in ms."""
    return tau_syn_ms / 2 + tau_eff_ms / 2 - 2 * tau_eff_ms * tau_syn_ms / (tau_eff_ms + tau_syn_ms)


def free_membrane_moments(p: NeuronParameters, E_l_mV=None, rate_exc_hz=None, rate_inh_hz=None) -> MembraneMoments:
    """HCS mean and standard deviation (mV) of the free membrane potential.

    ``E_l_mV``, ``rate_exc_hz`` and ``rate_inh_hz`` default to the values in ``p``
    and broadcast against each other.
    """
    E_l = np.asarray(p.E_l_mV if E_l_mV is None else E_l_mV, float)
    g_exc, g_inh = mean_conductances(p, rate_exc_hz, rate_inh_hz)
    rate_exc = np.asarray(p.rate_exc_hz if rate_exc_hz is None else rate_exc_hz, float)
    rate_inh = np.asarray(p.rate_inh_hz if rate_inh_hz is None else rate_inh_hz, float)
    g_l = p.g_l_uS
    g_tot = g_l + g_exc + g_inh
    tau_eff = p.C_m_nF / g_tot
    mean = (g_l * E_l + g_exc * p.E_exc_mV + g_inh * p.E_inh_mV) / g_tot
    tau_g = 1.0 / (1.0 / p.tau_syn_ms - 1.0 / tau_eff)
    shape = _psp_shape_integral(p.tau_syn_ms, tau_eff)
    variance = 0.0
    for w, E_rev, rate in ((p.w_exc_uS, p.E_exc_mV, rate_exc), (p.w_inh_uS, p.E_inh_mV, rate_inh)):
        psp_mV = w * (E_rev - mean) * tau_g / (tau_eff * g_tot)
        variance = variance + rate * 1e-3 * psp_mV**2 * shape
    return MembraneMoments(mean, np.sqrt(variance), g_exc, g_inh, g_tot, tau_eff)


def alpha_theory_mV(p: NeuronParameters, E_l_mV=None, rate_exc_hz=None, rate_inh_hz=None):
    """sbs sanity estimate of the activation width in E_l units (mV).

    sqrt(2 pi)/4 sigma_V, divided by the E_l sensitivity g_l / g_tot of the mean
    membrane potential.
    """
    m = free_membrane_moments(p, E_l_mV, rate_exc_hz, rate_inh_hz)
    return ALPHA_PER_SIGMA * m.std_mV * m.g_tot_uS / p.g_l_uS


def rectangle_psp_integral(p: NeuronParameters, E_l_mV, rate_exc_hz=None, rate_inh_hz=None, excitatory=True):
    """Integral over [0, tau_ref] of the PSP of a unit weight (1 uS), in mV ms.

    The conductance-based PSP at the HCS mean potential of a neuron with leak
    potential ``E_l_mV`` (docs/translation.md), for the excitatory or the
    inhibitory receptor (sign removed: the inhibitory integral is positive).
    """
    m = free_membrane_moments(p, E_l_mV, rate_exc_hz, rate_inh_hz)
    driving_mV = (p.E_exc_mV - m.mean_mV) if excitatory else (m.mean_mV - p.E_inh_mV)
    g_tot, C_m, tau_syn, tau_ref = m.g_tot_uS, p.C_m_nF, p.tau_syn_ms, p.tau_ref_ms
    bracket = -(C_m / g_tot) * (np.exp(-tau_ref * g_tot / C_m) - 1.0) + tau_syn * (np.exp(-tau_ref / tau_syn) - 1.0)
    return driving_mV / (C_m - g_tot * tau_syn) * bracket * tau_syn


def weight_factor_uS(p: NeuronParameters, alpha_mV, E_l_mV, rate_exc_hz=None, rate_inh_hz=None, excitatory=True):
    """Conductance (uS) per unit Boltzmann weight, f of docs/translation.md.

    Chosen so that the PSP integral over tau_ref, seen through the E_l
    sensitivity g_l / g_tot, equals a rectangle of height ``alpha_mV`` x tau_ref.
    """
    m = free_membrane_moments(p, E_l_mV, rate_exc_hz, rate_inh_hz)
    integral = rectangle_psp_integral(p, E_l_mV, rate_exc_hz, rate_inh_hz, excitatory)
    return alpha_mV * (p.g_l_uS / m.g_tot_uS) * p.tau_ref_ms / integral


def hcs_activation_estimate(p: NeuronParameters, rate_exc_hz=None, rate_inh_hz=None) -> tuple[float, float]:
    """Theory estimate ``(u0_mV, alpha_mV)`` of the activation function, without a simulated calibration.

    ``u0``: the leak potential at which the HCS mean free membrane potential equals
    ``V_th``; ``alpha``: :func:`alpha_theory_mV` there. For the sbs tutorial set at
    3 kHz this gives (-50.0, 0.83) mV against the calibrated (-50.62, 0.80) mV.
    """
    g_exc, g_inh = mean_conductances(p, rate_exc_hz, rate_inh_hz)
    g_tot = p.g_l_uS + g_exc + g_inh
    u0 = float((p.V_th_mV * g_tot - g_exc * p.E_exc_mV - g_inh * p.E_inh_mV) / p.g_l_uS)
    return u0, float(alpha_theory_mV(p, u0, rate_exc_hz, rate_inh_hz))


def representable_bias_range(p: NeuronParameters, u0_mV: float, alpha_mV: float, rate_exc_hz=None,
                             rate_inh_hz=None, max_weight_factor_gain: float = np.inf) -> tuple[float, float]:
    """Biases ``(b_min, b_max)`` a LIF neuron can represent with leak potential ``E_l = u0 + alpha b``.

    The mean free membrane potential ``mu(b) = mu(0) + (g_l / g_tot) alpha b`` must stay
    inside ``(E_I, E_E)``: the weight factor :func:`weight_factor_uS` of a target is
    proportional to ``1 / (E_E - mu)`` (excitatory) and ``1 / (mu - E_I)`` (inhibitory),
    and ``g_tot`` does not depend on ``E_l``. With ``max_weight_factor_gain`` = G both
    factors stay at most G times their value at ``b = 0``, i.e. the membrane keeps at
    least 1 / G of its driving force toward either reversal potential; ``G = inf``
    (default) gives the open interval where the factors are positive and finite.
    """
    if not max_weight_factor_gain > 1:
        raise ValueError(f"max_weight_factor_gain must exceed 1, got {max_weight_factor_gain}")
    m = free_membrane_moments(p, u0_mV, rate_exc_hz, rate_inh_hz)
    mu0, slope = float(m.mean_mV), float(p.g_l_uS / m.g_tot_uS * alpha_mV)
    if not p.E_inh_mV < mu0 < p.E_exc_mV:
        raise ValueError(f"the mean membrane potential at E_l = u0 ({mu0:.3f} mV) lies outside (E_I, E_E) = "
                         f"({p.E_inh_mV:g}, {p.E_exc_mV:g}) mV: no bias is representable")
    usable = 1.0 - 1.0 / max_weight_factor_gain
    return -(mu0 - p.E_inh_mV) * usable / slope, (p.E_exc_mV - mu0) * usable / slope

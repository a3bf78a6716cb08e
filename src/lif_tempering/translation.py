"""Translation between Boltzmann machines and LIF network parameters (docs/translation.md).

Boltzmann convention: ``p(z) ~ exp(1/2 z^T W z + b^T z)`` with ``W`` symmetric and
zero on the diagonal (see :mod:`.boltzmann`).

A *calibration* is an :class:`~lif_tempering.temperature.ActivationPoint`: the
logistic activation function (``u0_mV``, ``alpha_mV``) measured at the background
rates (``rate_exc_hz``, ``rate_inh_hz``) the network will run with.

- bias: ``E_l,k = u0 + alpha * b_k`` (mV), one leak potential per neuron;
- weight: ``w[i, j] = coupling_scale * |W_ij| * f_j`` (uS), where ``f_j`` is
  :func:`~lif_tempering.theory.weight_factor_uS` of the *target* neuron ``j`` at its
  bias-shifted ``E_l,j`` and the calibration's rates, for the excitatory receptor
  if ``W_ij > 0`` and the inhibitory one if ``W_ij < 0``.

**Weight matrices are indexed [pre, post]** (row = presynaptic neuron ``i``,
column = postsynaptic/target neuron ``j``, as Brian2's ``i``/``j``) and returned
as two non-negative matrices, ``w_exc_uS`` and ``w_inh_uS``; at most one of them
is non-zero for any pair. Because ``f`` depends on the target's ``E_l`` the
biological matrices are in general asymmetric even though ``W`` is symmetric.

``coupling_scale`` is the global coupling correction of docs/translation.md
(LIF couplings act stronger than targeted; a factor of ~0.75-0.8 compensates
most of it); 1.0 is the plain translation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .parameters import NeuronParameters
from .temperature import ActivationPoint
from .theory import weight_factor_uS


@dataclass(frozen=True)
class LIFNetworkValues:
    """LIF values realising a Boltzmann machine.

    ``E_l_mV`` (n,) leak potential per neuron; ``w_exc_uS`` and ``w_inh_uS`` (n, n)
    non-negative conductance jumps indexed [pre, post]; ``rate_exc_hz`` and
    ``rate_inh_hz`` the background rates the translation assumed.
    """

    E_l_mV: np.ndarray
    w_exc_uS: np.ndarray
    w_inh_uS: np.ndarray
    rate_exc_hz: float
    rate_inh_hz: float

    @property
    def n_units(self) -> int:
        return int(self.E_l_mV.shape[0])


def _check_weights(W, b) -> tuple[np.ndarray, np.ndarray]:
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if b.ndim != 1 or W.shape != (b.size, b.size):
        raise ValueError(f"W must have shape ({b.size}, {b.size}) to match b, got {W.shape}")
    if not np.allclose(W, W.T, rtol=1e-12, atol=1e-12) or np.any(np.diag(W) != 0):
        raise ValueError("W must be symmetric with zero diagonal")
    return W, b


def bias_to_leak(b, calibration: ActivationPoint) -> np.ndarray:
    """Leak potentials ``E_l = u0 + alpha * b`` (mV)."""
    return calibration.u0_mV + calibration.alpha_mV * np.asarray(b, dtype=np.float64)


def leak_to_bias(E_l_mV, calibration: ActivationPoint) -> np.ndarray:
    """Biases ``b = (E_l - u0) / alpha``, the inverse of :func:`bias_to_leak`."""
    return (np.asarray(E_l_mV, dtype=np.float64) - calibration.u0_mV) / calibration.alpha_mV


def weight_factors(p: NeuronParameters, calibration: ActivationPoint, E_l_mV) -> tuple[np.ndarray, np.ndarray]:
    """Conductance per unit Boltzmann weight (uS) of each target neuron, (f_exc, f_inh).

    Computed with :func:`~lif_tempering.theory.weight_factor_uS` at the target's leak
    potential ``E_l_mV`` (n,) and the calibration's alpha and background rates.
    """
    E_l = np.asarray(E_l_mV, dtype=np.float64)
    kwargs = dict(alpha_mV=calibration.alpha_mV, E_l_mV=E_l, rate_exc_hz=calibration.rate_exc_hz,
                  rate_inh_hz=calibration.rate_inh_hz)
    f_exc = np.asarray(weight_factor_uS(p, excitatory=True, **kwargs), dtype=np.float64)
    f_inh = np.asarray(weight_factor_uS(p, excitatory=False, **kwargs), dtype=np.float64)
    if np.any(f_exc <= 0) or np.any(f_inh <= 0):
        raise ValueError("non-positive weight factor: a target's mean membrane potential lies outside (E_I, E_E)")
    return np.broadcast_to(f_exc, E_l.shape).copy(), np.broadcast_to(f_inh, E_l.shape).copy()


def bm_to_lif(W, b, p: NeuronParameters, calibration: ActivationPoint,
              coupling_scale: float = 1.0) -> LIFNetworkValues:
    """LIF values (leak potentials, [pre, post] exc/inh weights) of the Boltzmann machine (W, b)."""
    W, b = _check_weights(W, b)
    if not coupling_scale > 0:
        raise ValueError(f"coupling_scale must be positive, got {coupling_scale}")
    E_l = bias_to_leak(b, calibration)
    f_exc, f_inh = weight_factors(p, calibration, E_l)
    w_exc = coupling_scale * np.clip(W, 0.0, None) * f_exc[None, :]
    w_inh = coupling_scale * np.clip(-W, 0.0, None) * f_inh[None, :]
    return LIFNetworkValues(E_l, w_exc, w_inh, float(calibration.rate_exc_hz), float(calibration.rate_inh_hz))


def lif_to_bm(values: LIFNetworkValues, p: NeuronParameters, calibration: ActivationPoint,
              coupling_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The Boltzmann machine ``(W, b)`` that :func:`bm_to_lif` maps onto ``values``.

    ``W[i, j] = (w_exc[i, j] / f_exc_j - w_inh[i, j] / f_inh_j) / coupling_scale``; it
    is symmetric only if ``values`` came from a symmetric machine (not enforced).
    """
    if not coupling_scale > 0:
        raise ValueError(f"coupling_scale must be positive, got {coupling_scale}")
    E_l = np.asarray(values.E_l_mV, dtype=np.float64)
    f_exc, f_inh = weight_factors(p, calibration, E_l)
    W = (np.asarray(values.w_exc_uS) / f_exc[None, :] - np.asarray(values.w_inh_uS) / f_inh[None, :])
    return W / coupling_scale, leak_to_bias(E_l, calibration)

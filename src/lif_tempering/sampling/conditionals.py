"""In-network conditional calibration: does each unit follow its conditional given the others? (docs/translation.md)

A sampler of the Boltzmann distribution of an RBM draws, at stationarity, joint states
whose every unit obeys its exact conditional given the other layer,
``P(z_k = 1 | rest) = sigmoid(u_k)`` with the unit's field ``u_k = b_k + sum_j W_kj z_j``
(visible units: ``b_v + W h``; hidden units: ``b_h + W^T v``). Block Gibbs does so
exactly; a LIF network does so only as far as its translation is right. Read at every
sample, the states give two reference-free measures per layer that work for networks of
any size:

- :func:`conditional_gains`: the logistic regression of the states on the bias and the
  coupling parts of the field separately, ``logit P(z_k = 1) = a b_k + g (W z)_k + c``
  (bias gain ``a``, coupling gain ``g``, offset ``c``; a correct sampler has ``a = g = 1``,
  ``c = 0``; ``a = g > 1`` is a sampler that is too cold), fitted by Newton's method;
- :func:`conditional_curve`: the fraction of samples with ``z_k = 1`` in bins of the
  field against the mean of ``sigmoid(u_k)`` in the bin, and
  :func:`calibration_error`, their mean absolute difference weighted by the counts,
  beside the value a sampler that follows its conditionals exactly would score with
  independent samples (:func:`calibration_error_floor`; autocorrelated samples raise it).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit

LAYERS = ("visible", "hidden")
#: Entries per chunk of the regression's sums (bounds the temporary memory).
_CHUNK_ENTRIES = 1 << 21


class LayerInputs(NamedTuple):
    """One layer's states (sample, unit) as 0/1 float32, biases (unit,) and coupling inputs (sample, unit)."""

    states: np.ndarray
    bias: np.ndarray
    coupling: np.ndarray


def layer_inputs(z: ArrayLike, W: ArrayLike, b_v: ArrayLike, b_h: ArrayLike) -> dict[str, LayerInputs]:
    """:class:`LayerInputs` of both layers of samples ``z`` (sample, unit; visible units first) of the RBM
    ``(W, b_v, b_h)``, ``W`` (n_v, n_h): visible coupling ``h W^T``, hidden coupling ``v W``."""
    W = np.asarray(W, dtype=np.float32)
    z = np.asarray(z, dtype=np.float32)
    n_visible = W.shape[0]
    if z.ndim != 2 or z.shape[1] != n_visible + W.shape[1]:
        raise ValueError(f"z must be (sample, {n_visible + W.shape[1]}), got {z.shape}")
    v, h = z[:, :n_visible], z[:, n_visible:]
    return {"visible": LayerInputs(v, np.asarray(b_v, dtype=np.float32), h @ W.T),
            "hidden": LayerInputs(h, np.asarray(b_h, dtype=np.float32), v @ W)}


class ConditionalGains(NamedTuple):
    """Logistic fit ``logit P(z = 1) = a b + g (W z) + c`` of one layer (dimensionless), with the standard
    errors the fit's curvature gives for independent samples (autocorrelated samples have larger ones)."""

    bias_gain: float
    coupling_gain: float
    offset: float
    bias_gain_stderr: float
    coupling_gain_stderr: float
    offset_stderr: float


def _sums(inputs: LayerInputs, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the log-likelihood at ``theta = (a, g, c)``, summed in chunks of samples.

    The bias column is constant over samples, so its terms are sums over samples per unit, weighted by the bias.
    """
    gradient, hessian = np.zeros(3), np.zeros((3, 3))
    n_units = inputs.states.shape[1]
    step = max(1, _CHUNK_ENTRIES // max(n_units, 1))
    bias = inputs.bias.astype(np.float64)
    for start in range(0, inputs.states.shape[0], step):
        coupling = np.asarray(inputs.coupling[start:start + step], dtype=np.float64)
        p = expit(np.add(theta[0] * bias[None, :], theta[1] * coupling) + theta[2])
        residual = np.subtract(inputs.states[start:start + step], p, dtype=np.float64)
        weight = np.multiply(p, 1.0 - p, out=p)
        weighted_coupling = coupling * weight
        residual_per_unit, weight_per_unit = residual.sum(axis=0), weight.sum(axis=0)
        weighted_coupling_per_unit = weighted_coupling.sum(axis=0)
        gradient += (bias @ residual_per_unit, np.vdot(coupling, residual), residual_per_unit.sum())
        hessian += [[np.square(bias) @ weight_per_unit, bias @ weighted_coupling_per_unit, bias @ weight_per_unit],
                    [0.0, np.vdot(weighted_coupling, coupling), weighted_coupling_per_unit.sum()],
                    [0.0, 0.0, weight_per_unit.sum()]]
    hessian = np.triu(hessian) + np.triu(hessian, 1).T
    return gradient, hessian


def conditional_gains(inputs: LayerInputs, max_iterations: int = 30, tolerance: float = 1e-8) -> ConditionalGains:
    """Maximum-likelihood :class:`ConditionalGains` of one layer by Newton's method (from ``a = g = 1, c = 0``).

    A layer whose biases or couplings do not vary (e.g. all biases equal) cannot separate ``a``
    from ``c`` (or ``g``): the fit then fails with a ValueError, as it does when it does not converge.
    """
    theta = np.array([1.0, 1.0, 0.0])
    for _ in range(max_iterations):
        gradient, hessian = _sums(inputs, theta)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            raise ValueError("the conditional fit is degenerate: biases, couplings and offset are not separable") \
                from None
        theta += step
        if np.max(np.abs(step)) < tolerance:
            stderr = np.sqrt(np.diag(np.linalg.inv(_sums(inputs, theta)[1])))
            return ConditionalGains(*map(float, theta), *map(float, stderr))
    raise ValueError(f"the conditional fit did not converge in {max_iterations} Newton steps (last step {step})")


class ConditionalCurve(NamedTuple):
    """States against their conditionals in bins of the field ``u``: per bin the number of (sample, unit)
    entries, the fraction with ``z = 1``, the mean ``sigmoid(u)`` and the summed ``sigmoid(u) (1 - sigmoid(u))``."""

    counts: np.ndarray
    fraction_on: np.ndarray
    expected_on: np.ndarray
    variance_sum: np.ndarray


def conditional_curve(inputs: LayerInputs, field_edges: ArrayLike) -> ConditionalCurve:
    """:class:`ConditionalCurve` of one layer in the bins ``field_edges`` (ascending; fields outside the first or
    last edge count in the first or last bin). Empty bins have ``nan`` fractions."""
    edges = np.asarray(field_edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("field_edges must be 1-D, ascending, with at least two edges")
    n_bins = edges.size - 1
    sums = np.zeros((4, n_bins))
    n_units = inputs.states.shape[1]
    step = max(1, _CHUNK_ENTRIES // max(n_units, 1))
    for start in range(0, inputs.states.shape[0], step):
        field = (inputs.coupling[start:start + step] + inputs.bias[None, :]).astype(np.float64).ravel()
        index = np.clip(np.searchsorted(edges, field, side="right") - 1, 0, n_bins - 1)
        p = expit(field)
        for row, weights in enumerate((None, inputs.states[start:start + step].ravel(), p, p * (1.0 - p))):
            sums[row] += np.bincount(index, weights=weights, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ConditionalCurve(sums[0], sums[1] / sums[0], sums[2] / sums[0], sums[3])


def calibration_error(curve: ConditionalCurve) -> float:
    """``sum_bins n_b |fraction_on_b - expected_on_b| / sum_b n_b`` (1): 0 for a sampler on the diagonal."""
    filled = curve.counts > 0
    return float(np.sum(curve.counts[filled] * np.abs(curve.fraction_on[filled] - curve.expected_on[filled]))
                 / np.sum(curve.counts[filled]))


def calibration_error_floor(curve: ConditionalCurve) -> float:
    """Expected :func:`calibration_error` of a sampler that follows its conditionals exactly, with independent
    samples: each bin's fraction then misses its expectation by a normal error of variance
    ``sum p (1 - p) / n_b^2``, whose mean absolute value is ``sqrt(2 variance / pi)``."""
    filled = curve.counts > 0
    deviation = np.sqrt(2.0 * curve.variance_sum[filled] / np.pi) / curve.counts[filled]
    return float(np.sum(curve.counts[filled] * deviation) / np.sum(curve.counts[filled]))

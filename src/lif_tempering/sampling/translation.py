"""Translation between Boltzmann machines and LIF network parameters (docs/translation.md).

Boltzmann convention: ``p(z) ~ exp(1/2 z^T W z + b^T z)`` with ``W`` symmetric and
zero on the diagonal (see :mod:`lif_tempering.sampling.boltzmann`).

A *calibration* is an :class:`~lif_tempering.calibration.temperature.ActivationPoint`: the
logistic activation function (``u0_mV``, ``alpha_mV``) measured at the background
rates (``rate_exc_hz``, ``rate_inh_hz``) the network will run with.

- bias: ``E_l,k = u0 + alpha * b_k`` (mV), one leak potential per neuron;
- weight: ``w[i, j] = coupling_scale * |W_ij| * f_j`` (uS), where ``f_j`` is
  :func:`~lif_tempering.neuron.theory.weight_factor_uS` of the *target* neuron ``j`` at its
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

**Corrections** (:class:`TranslationCorrections`, docs/translation.md#network-level-calibration):
per unit, the network realises the bias ``b_r = bias_scale * b + bias_shift`` instead
of ``b`` (leak potential ``u0 + alpha b_r``, weight factors at that leak potential)
and multiplies the weights onto the unit by ``coupling_scale``. The default (1, 0, 1)
is the plain translation, number for number.

**Representable range.** ``f`` is positive and finite only while the target's mean
membrane potential at its ``E_l`` lies inside ``(E_I, E_E)``, which bounds the biases
(:func:`~lif_tempering.neuron.theory.representable_bias_range`). :func:`bm_to_lif` refuses
a machine with a non-finite weight or bias (NaN, inf), naming the units, and one with a
bias outside that range, naming the units, unless the unit is saturated (its total input
keeps one sign beyond ``SATURATION_INPUT`` for every state of the others, so its state is
constant anyway): then its bias is clipped into the range with a warning and counted in
``n_clipped_units``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.stp import STPParameters, reference_release
from lif_tempering.neuron.theory import representable_bias_range, weight_factor_uS

#: Total input (units of k_B T) beyond which a unit counts as saturated: it leaves its
#: constant state with probability below exp(-20) ~ 2e-9 per update.
SATURATION_INPUT = 20.0
#: A saturated unit's bias is clipped to the range where both weight factors stay
#: within this factor of their zero-bias values (the membrane keeps half its driving force).
CLIP_WEIGHT_FACTOR_GAIN = 2.0
#: The config key that bounds the biases of trained RBMs.
BOUNDS_CONFIG_KEY = "rbm.parameter_bounds"
#: Units listed by name in the error message at most.
_MAX_LISTED_UNITS = 10


@dataclass(frozen=True)
class TranslationCorrections:
    """Per-unit corrections of the translation (dimensionless; scalars or arrays of one value per unit).

    The network of a machine ``(W, b)`` realises the biases ``b_r = bias_scale * b + bias_shift``
    and the weights onto unit ``k`` times ``coupling_scale[k]``, each non-zero weight onto unit ``k`` first
    plus ``coupling_offset[k]`` (units of k_B T). The default is the plain translation.
    """

    bias_scale: np.ndarray | float = 1.0
    bias_shift: np.ndarray | float = 0.0
    coupling_scale: np.ndarray | float = 1.0
    coupling_offset: np.ndarray | float = 0.0

    def per_unit(self, n_units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(bias_scale, bias_shift, coupling_scale)`` as float64 arrays of ``n_units`` values."""
        values = []
        for name in ("bias_scale", "bias_shift", "coupling_scale"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.ndim > 1 or (value.ndim == 1 and value.size != n_units):
                raise ValueError(f"{name} must be a scalar or have {n_units} values, got shape {value.shape}")
            values.append(np.broadcast_to(value, (n_units,)).copy())
        if not np.all(values[0] > 0) or not np.all(values[2] > 0):
            raise ValueError("bias_scale and coupling_scale must be positive")
        return values[0], values[1], values[2]

    def coupling_offsets(self, n_units: int) -> np.ndarray:
        """``coupling_offset`` as a float64 array of ``n_units`` values."""
        value = np.asarray(self.coupling_offset, dtype=np.float64)
        if value.ndim > 1 or (value.ndim == 1 and value.size != n_units):
            raise ValueError(f"coupling_offset must be a scalar or have {n_units} values, got shape {value.shape}")
        return np.broadcast_to(value, (n_units,)).copy()

    def offset_weights(self, W) -> np.ndarray:
        """The machine's weights ``W`` [pre, post] with ``coupling_offset[post]`` added to every non-zero weight
        (the pairs the machine couples): the weights the coupling scales act on."""
        W = np.asarray(W, dtype=np.float64)
        offsets = self.coupling_offsets(W.shape[1])
        return W + np.where(W != 0.0, offsets[None, :], 0.0) if np.any(offsets != 0.0) else W

    def realised_biases(self, b) -> np.ndarray:
        """The biases ``bias_scale * b + bias_shift`` the network is given for the machine's ``b``."""
        b = np.asarray(b, dtype=np.float64)
        scale, shift, _ = self.per_unit(b.size)
        return scale * b + shift

    @property
    def is_plain(self) -> bool:
        """Whether these are the plain translation's values (scales 1, shift and coupling offset 0) for every unit."""
        return bool(np.all(np.asarray(self.bias_scale) == 1.0) and np.all(np.asarray(self.bias_shift) == 0.0)
                    and np.all(np.asarray(self.coupling_scale) == 1.0)
                    and np.all(np.asarray(self.coupling_offset) == 0.0))


#: The plain translation.
PLAIN = TranslationCorrections()


def layer_corrections(n_per_layer, bias_scale, bias_shift, coupling_scale) -> TranslationCorrections:
    """Per-unit :class:`TranslationCorrections` from one value per layer (e.g. visible, hidden of an RBM).

    ``n_per_layer``: units of each layer, in the order of the network's units; the three
    sequences give each layer's value.
    """
    counts = np.asarray(n_per_layer, dtype=np.int64)
    values = [np.repeat(np.asarray(v, dtype=np.float64), counts) for v in (bias_scale, bias_shift, coupling_scale)]
    if any(v.size != counts.sum() for v in values):
        raise ValueError(f"need one value per layer ({counts.size} layers) for each correction")
    return TranslationCorrections(*values)


def per_layer(corrections: TranslationCorrections, n_per_layer) -> dict[str, list[float]]:
    """Each correction per layer (layers of ``n_per_layer`` units, in order), e.g. for attributes: the scales' and
    the coupling offset's values, the bias shift's mean over the layer's units and its standard deviation
    ``bias_shift_sd`` (0 but after a per-unit calibration).

    Raises if a scale or the coupling offset varies within a layer (then it has no value per layer).
    """
    counts = np.asarray(n_per_layer, dtype=np.int64)
    n_units = int(counts.sum())
    values = dict(zip(("bias_scale", "bias_shift", "coupling_scale"), corrections.per_unit(n_units)))
    values["coupling_offset"] = corrections.coupling_offsets(n_units)
    out = {}
    for name, value in values.items():
        layers = np.split(value, np.cumsum(counts)[:-1])
        if name != "bias_shift" and any(np.any(layer != layer[0]) for layer in layers):
            raise ValueError(f"{name} varies within a layer")
        constant = [bool(np.all(layer == layer[0])) for layer in layers]
        out[name] = [float(layer[0]) if same else float(layer.mean()) for layer, same in zip(layers, constant)]
        if name == "bias_shift":
            out["bias_shift_sd"] = [0.0 if same else float(layer.std()) for layer, same in zip(layers, constant)]
    return out


@dataclass(frozen=True)
class LIFNetworkValues:
    """LIF values realising a Boltzmann machine.

    ``E_l_mV`` (n,) leak potential per neuron; ``w_exc_uS`` and ``w_inh_uS`` (n, n)
    non-negative conductance jumps indexed [pre, post]; ``rate_exc_hz`` and
    ``rate_inh_hz`` the background rates the translation assumed; ``n_clipped_units``
    the saturated units whose bias was clipped into the representable range.
    """

    E_l_mV: np.ndarray
    w_exc_uS: np.ndarray
    w_inh_uS: np.ndarray
    rate_exc_hz: float
    rate_inh_hz: float
    n_clipped_units: int = 0

    @property
    def n_units(self) -> int:
        return int(self.E_l_mV.shape[0])


def _check_weights(W, b, n_visible: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` as float64 arrays after checking shapes, finiteness, symmetry and the zero diagonal.

    A non-finite bias or weight (NaN, inf) raises a ValueError naming the units
    (visible/hidden index if ``n_visible`` is given) and the values.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if b.ndim != 1 or W.shape != (b.size, b.size):
        raise ValueError(f"W must have shape ({b.size}, {b.size}) to match b, got {W.shape}")
    bad_biases = np.flatnonzero(~np.isfinite(b))
    if bad_biases.size:
        raise ValueError(f"{bad_biases.size} of {b.size} biases are not finite: " + "; ".join(
            f"{_unit_name(k, n_visible)}: bias {b[k]}" for k in bad_biases[:_MAX_LISTED_UNITS]))
    bad_weights = np.argwhere(~np.isfinite(W))
    if bad_weights.size:
        raise ValueError(f"{len(bad_weights)} of {W.size} weights are not finite: " + "; ".join(
            f"{_unit_name(i, n_visible)} to {_unit_name(j, n_visible)}: weight {W[i, j]}"
            for i, j in bad_weights[:_MAX_LISTED_UNITS]))
    symmetric = np.array_equal(W, W.T) or np.all(np.abs(W - W.T) <= 1e-12 + 1e-12 * np.abs(W.T))  # np.allclose's test
    if not symmetric or np.any(np.diag(W) != 0):
        raise ValueError("W must be symmetric with zero diagonal")
    return W, b


def bias_to_leak(b, calibration: ActivationPoint) -> np.ndarray:
    """Leak potentials ``E_l = u0 + alpha * b`` (mV)."""
    return calibration.u0_mV + calibration.alpha_mV * np.asarray(b, dtype=np.float64)


def leak_to_bias(E_l_mV, calibration: ActivationPoint) -> np.ndarray:
    """Biases ``b = (E_l - u0) / alpha``, the inverse of :func:`bias_to_leak`."""
    return (np.asarray(E_l_mV, dtype=np.float64) - calibration.u0_mV) / calibration.alpha_mV


def _unit_name(k: int, n_visible: int | None) -> str:
    if n_visible is None:
        return f"unit {k}"
    layer = f"visible unit {k}" if k < n_visible else f"hidden unit {k - n_visible}"
    return f"{layer} (network unit {k})"


def representable_biases(W, b, p: NeuronParameters, calibration: ActivationPoint,
                         n_visible: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The biases the LIF network uses for the machine ``(W, b)``, and the indices of clipped units.

    Biases inside the representable range of ``p`` and ``calibration`` are kept. A bias
    outside it is clipped to the edge of the range with weight-factor gain
    ``CLIP_WEIGHT_FACTOR_GAIN`` if the unit stays saturated there (total input
    ``b_k + sum_j W_jk z_j`` at least ``SATURATION_INPUT`` for every state, or at most
    its negative); otherwise a ValueError names the units (visible/hidden index if
    ``n_visible`` is given, visible units first), their biases, the range and the
    config key to change.
    """
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    rates = dict(rate_exc_hz=calibration.rate_exc_hz, rate_inh_hz=calibration.rate_inh_hz)
    low, high = representable_bias_range(p, calibration.u0_mV, calibration.alpha_mV, **rates)
    outside = ~((low < b) & (b < high))  # NaN counts as outside
    if not outside.any():
        return b, np.flatnonzero(outside)
    clip_low, clip_high = representable_bias_range(p, calibration.u0_mV, calibration.alpha_mV, **rates,
                                                   max_weight_factor_gain=CLIP_WEIGHT_FACTOR_GAIN)
    clipped = np.clip(b, clip_low, clip_high)
    min_input = clipped + np.clip(W, None, 0.0).sum(axis=0)
    max_input = clipped + np.clip(W, 0.0, None).sum(axis=0)
    saturated = np.isfinite(b) & ((min_input >= SATURATION_INPUT) | (max_input <= -SATURATION_INPUT))
    refused = np.flatnonzero(outside & ~saturated)
    if refused.size:
        listed = "; ".join(
            f"{_unit_name(k, n_visible)}: bias {b[k]:.3f}, total input between {b[k] + min_input[k] - clipped[k]:.2f} "
            f"and {b[k] + max_input[k] - clipped[k]:.2f}" for k in refused[:_MAX_LISTED_UNITS])
        more = f"; and {refused.size - _MAX_LISTED_UNITS} more" if refused.size > _MAX_LISTED_UNITS else ""
        raise ValueError(
            f"{refused.size} of {b.size} units have a bias no LIF neuron can represent: {listed}{more}. "
            f"The representable biases are ({low:.3f}, {high:.3f}) for these neuron parameters and this calibration "
            f"(u0 = {calibration.u0_mV:.4f} mV, alpha = {calibration.alpha_mV:.4f} mV); outside, the mean membrane "
            f"potential at E_l = u0 + alpha b leaves (E_I, E_E) = ({p.E_inh_mV:g}, {p.E_exc_mV:g}) mV and the weight "
            f"factor is no longer positive and finite (units that are not saturated, |total input| < "
            f"{SATURATION_INPUT:g} for some state, cannot be clipped). Retrain the RBM with {BOUNDS_CONFIG_KEY}: auto "
            f"(bounds derived from the neuron parameters) or an explicit {BOUNDS_CONFIG_KEY} "
            "{bias_min, bias_max, weight_abs_max} inside this range.")
    return np.where(outside, clipped, b), np.flatnonzero(outside)


def weight_factors(p: NeuronParameters, calibration: ActivationPoint, E_l_mV) -> tuple[np.ndarray, np.ndarray]:
    """Conductance per unit Boltzmann weight (uS) of each target neuron, (f_exc, f_inh).

    Computed with :func:`~lif_tempering.neuron.theory.weight_factor_uS` at the target's leak
    potential ``E_l_mV`` (n,) and the calibration's alpha and background rates.
    """
    E_l = np.asarray(E_l_mV, dtype=np.float64)
    kwargs = dict(alpha_mV=calibration.alpha_mV, E_l_mV=E_l, rate_exc_hz=calibration.rate_exc_hz,
                  rate_inh_hz=calibration.rate_inh_hz)
    f_exc = np.asarray(weight_factor_uS(p, excitatory=True, **kwargs), dtype=np.float64)
    f_inh = np.asarray(weight_factor_uS(p, excitatory=False, **kwargs), dtype=np.float64)
    bad = np.flatnonzero(np.broadcast_to((f_exc <= 0) | (f_inh <= 0), E_l.shape))
    if bad.size:
        raise ValueError(f"non-positive weight factor for units {bad[:_MAX_LISTED_UNITS].tolist()} "
                         f"(E_l = {E_l[bad[:_MAX_LISTED_UNITS]].round(3).tolist()} mV): their mean membrane potential "
                         f"lies outside (E_I, E_E) = ({p.E_inh_mV:g}, {p.E_exc_mV:g}) mV")
    return np.broadcast_to(f_exc, E_l.shape).copy(), np.broadcast_to(f_inh, E_l.shape).copy()


def bm_to_lif(W, b, p: NeuronParameters, calibration: ActivationPoint, coupling_scale: float = 1.0,
              n_visible: int | None = None, corrections: TranslationCorrections = PLAIN) -> LIFNetworkValues:
    """LIF values (leak potentials, [pre, post] exc/inh weights) of the Boltzmann machine (W, b).

    Non-finite weights or biases are refused, naming the units. ``corrections``
    (:class:`TranslationCorrections`) give the biases the network realises and per-target
    factors on the weights (on top of the global ``coupling_scale``). The realised biases are
    checked by :func:`representable_biases` (``n_visible``: name units as visible/hidden in
    its messages); clipped saturated units are warned about.
    """
    W, b = _check_weights(W, b, n_visible)
    if not coupling_scale > 0:
        raise ValueError(f"coupling_scale must be positive, got {coupling_scale}")
    _, _, unit_coupling_scale = corrections.per_unit(b.size)
    W = corrections.offset_weights(W)
    # the network's inputs: realised biases, couplings onto each unit times its factor (1, 0, 1: W and b exactly)
    b, clipped = representable_biases(W * unit_coupling_scale[None, :], corrections.realised_biases(b), p,
                                      calibration, n_visible)
    if clipped.size:
        warnings.warn(f"{clipped.size} saturated units with biases outside the representable range clipped into it: "
                      + ", ".join(_unit_name(k, n_visible) for k in clipped[:_MAX_LISTED_UNITS]),
                      RuntimeWarning, stacklevel=2)
    E_l = bias_to_leak(b, calibration)
    f_exc, f_inh = weight_factors(p, calibration, E_l)
    w_exc = coupling_scale * np.clip(W, 0.0, None) * (f_exc * unit_coupling_scale)[None, :]
    w_inh = coupling_scale * np.clip(-W, 0.0, None) * (f_inh * unit_coupling_scale)[None, :]
    return LIFNetworkValues(E_l, w_exc, w_inh, float(calibration.rate_exc_hz), float(calibration.rate_inh_hz),
                            int(clipped.size))


def lif_to_bm(values: LIFNetworkValues, p: NeuronParameters, calibration: ActivationPoint,
              coupling_scale: float = 1.0,
              corrections: TranslationCorrections = PLAIN) -> tuple[np.ndarray, np.ndarray]:
    """The Boltzmann machine ``(W, b)`` that :func:`bm_to_lif` maps onto ``values`` (with the same ``corrections``).

    ``W[i, j] = (w_exc[i, j] / f_exc_j - w_inh[i, j] / f_inh_j) / (coupling_scale c_j) - o_j`` on connected pairs,
    with ``c_j`` and ``o_j`` the corrections' coupling scale and offset of unit ``j``,
    ``b = (b_r - bias_shift) / bias_scale`` of the realised
    biases ``b_r = (E_l - u0) / alpha``; ``W`` is symmetric only if ``values`` came from a symmetric
    machine (not enforced).
    """
    if not coupling_scale > 0:
        raise ValueError(f"coupling_scale must be positive, got {coupling_scale}")
    E_l = np.asarray(values.E_l_mV, dtype=np.float64)
    bias_scale, bias_shift, unit_coupling_scale = corrections.per_unit(E_l.size)
    f_exc, f_inh = weight_factors(p, calibration, E_l)
    W = (np.asarray(values.w_exc_uS) / f_exc[None, :] - np.asarray(values.w_inh_uS) / f_inh[None, :])
    W = W / (coupling_scale * unit_coupling_scale[None, :])
    connected = (np.asarray(values.w_exc_uS) != 0) | (np.asarray(values.w_inh_uS) != 0)
    W = W - np.where(connected, corrections.coupling_offsets(E_l.size)[None, :], 0.0)
    return W, (leak_to_bias(E_l, calibration) - bias_shift) / bias_scale


def stp_weight_factor(stp: STPParameters, p: NeuronParameters) -> float:
    """Factor (1) on translated weights for Tsodyks-Markram synapses: 1 / the reference release.

    A synapse steps its target's conductance by ``weight * u x``; dividing the translated
    weight by :func:`~lif_tempering.neuron.stp.reference_release` (``U`` for ``rested``, the
    steady-state release at ``1 / (2 tau_ref)`` for ``steady_state``) makes the release
    of reference give the translated PSP. 1 for the renewing synapse (``U = 1``, rested).
    """
    return 1.0 / reference_release(stp, p.tau_syn_ms, p.tau_ref_ms)

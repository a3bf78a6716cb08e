"""Network-level calibration: translation corrections that make a LIF network follow its machine's conditionals.

A translated LIF network samples its Boltzmann machine only roughly: measured in the
network (:mod:`lif_tempering.sampling.conditionals`), each unit's states follow
``logit P(z_k = 1) = a b_k + g (W z)_k + c`` with bias gain ``a``, coupling gain ``g``
and offset ``c`` per group of units (the layers of an RBM, all units of a small
machine) instead of ``a = g = 1``, ``c = 0``; trained RBMs give ``a``, ``g`` of 1.1-1.4
(a network that is too cold). The calibration (docs/translation.md#network-level-calibration)
chooses the :class:`~lif_tempering.sampling.translation.TranslationCorrections` per group,
realised biases ``b_r = s b + t`` and a factor ``k`` on the weights onto the group, from
short free runs of the network itself. If the network's response is
``logit = A b_r + G k (W z) + C`` (``A``, ``G``, ``C`` properties of the neurons in the
network), the measured gains are ``a = A s``, ``g = G k``, ``c = A t + C``, and the
corrections that make them 1, 1, 0 are ``s / a``, ``t - c s / a``, ``k / g``;
:func:`calibration_step` moves a fraction ``damping`` of the way there (in the logarithm
for the scales), because ``A``, ``G`` and ``C`` themselves change with the corrections and
the measured gains are noisy (an undamped step oscillates). The corrections of one group
stay an affine map of its biases and one weight factor, three numbers per group.

:func:`calibrate` iterates with any sampler (a callable from corrections to samples:
the LIF network in :func:`calibrate_rbm_network` and :func:`calibrate_small_bm`, Gibbs
sampling at another temperature in the tests) and measures the final corrections in
one more run.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import xarray as xr
from scipy.special import expit, logit

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.io import settings_attrs
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.sampling.boltzmann import rbm_as_bm
from lif_tempering.sampling.conditionals import LayerInputs, conditional_gains, layer_inputs
from lif_tempering.sampling.translation import PLAIN, TranslationCorrections, layer_corrections

#: The groups of an RBM's units (visible units first) and of a small machine's.
RBM_GROUPS = ("visible", "hidden")
SINGLE_GROUP = ("all",)
#: Trust region of one step: a scale changes by at most this factor, a shift by at most this much (units of k_B T),
#: so that a badly determined fit (few samples, a layer that hardly varies) cannot throw the network far off.
STEP_LIMIT = 2.0
#: Names of the fitted quantities per group and round: gains, offset and their standard errors.
GAIN_NAMES = ("bias_gain", "coupling_gain", "offset", "bias_gain_stderr", "coupling_gain_stderr", "offset_stderr")
#: A bias gain with a larger standard error is not identified: the group's biases hardly vary, so the bias column and
#: the offset are nearly collinear (trained digits and MNIST RBMs: at most 0.007; the barely trained RBMs of the test
#: configuration, hidden biases within 0.07 of each other: above 1). The calibration aims at gains within a few per cent.
MAX_BIAS_GAIN_STDERR = 0.1
#: Units whose mean state lies within this of 0 or 1 get no per-unit offset (too few changes of state to fit one).
MIN_UNIT_ACTIVITY = 0.01
#: A unit's bias shift changes by at most this much per round (units of k_B T).
UNIT_STEP_LIMIT = 1.0
#: Largest per-unit offset :func:`unit_offsets` reports (units of k_B T).
OFFSET_BOUND = 20.0
#: A group's coupling offset changes by at most this much per round (units of k_B T per weight).
COUPLING_OFFSET_STEP_LIMIT = 0.1
#: Target and measured marginals are clipped to [this, 1 - this] before their logits are compared.
MARGINAL_CLIP = 1e-3


class GroupCorrections(NamedTuple):
    """Corrections per group: ``bias_scale`` ``s``, ``bias_shift`` ``t`` and ``coupling_scale`` ``k``, each (G,)."""

    bias_scale: np.ndarray
    bias_shift: np.ndarray
    coupling_scale: np.ndarray

    @classmethod
    def plain(cls, n_groups: int) -> GroupCorrections:
        """The plain translation: 1, 0, 1 for every group."""
        return cls(np.ones(n_groups), np.zeros(n_groups), np.ones(n_groups))

    def per_unit(self, n_per_group) -> TranslationCorrections:
        """The :class:`~lif_tempering.sampling.translation.TranslationCorrections` of units in groups of
        ``n_per_group`` (in order)."""
        return layer_corrections(n_per_group, self.bias_scale, self.bias_shift, self.coupling_scale)


def group_inputs(z, W, b, n_per_group) -> list[LayerInputs]:
    """:class:`~lif_tempering.sampling.conditionals.LayerInputs` of each group of consecutive units.

    ``z`` (sample, unit) states of a Boltzmann machine ``(W, b)`` (``W`` symmetric, zero diagonal);
    a group's coupling inputs are the columns of ``z W`` of its units.
    """
    z = np.asarray(z, dtype=np.float32)
    coupling = z @ np.asarray(W, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    edges = np.concatenate([[0], np.cumsum(n_per_group)])
    if edges[-1] != z.shape[1]:
        raise ValueError(f"the groups hold {edges[-1]} units, the samples {z.shape[1]}")
    return [LayerInputs(z[:, lo:hi], b[lo:hi], coupling[:, lo:hi]) for lo, hi in zip(edges[:-1], edges[1:])]


def measured_gains(inputs: list[LayerInputs]) -> np.ndarray:
    """The :func:`~lif_tempering.sampling.conditionals.conditional_gains` of each group, (G, 6) in the order of
    :data:`GAIN_NAMES`; ``nan`` for a group whose fit fails (biases or couplings that do not vary, too few
    samples), with a warning."""
    rows = []
    for index, group in enumerate(inputs):
        try:
            rows.append(tuple(conditional_gains(group)))
        except ValueError as error:
            warnings.warn(f"group {index}: no conditional gains ({error})", RuntimeWarning, stacklevel=2)
            rows.append((np.nan,) * len(GAIN_NAMES))
    return np.array(rows)


def calibration_step(corrections: GroupCorrections, gains: np.ndarray, damping: float) -> GroupCorrections:
    """The next corrections from the measured ``gains`` (G, >= 3: bias gain ``a``, coupling gain ``g``, offset ``c``).

    ``s <- s a^-damping``, ``t <- t - damping c s / a``, ``k <- k g^-damping``: with ``damping = 1`` the
    corrections under which a network whose response does not depend on them would show
    ``a = g = 1``, ``c = 0`` (module docstring). A group without gains (``nan``, :func:`measured_gains`)
    keeps its corrections; no scale changes by more than a factor :data:`STEP_LIMIT` and no shift
    by more than :data:`STEP_LIMIT` per step.
    """
    if not 0 < damping <= 1:
        raise ValueError(f"damping must lie in (0, 1], got {damping}")
    gains = np.asarray(gains, dtype=np.float64)
    measured = np.all(np.isfinite(gains[:, :3]), axis=1)
    a, g, c = (np.where(measured, gains[:, i], (1.0, 1.0, 0.0)[i]) for i in range(3))
    if np.any(a <= 0) or np.any(g <= 0):
        raise ValueError(f"the measured gains must be positive to be corrected, got bias gains {a}, coupling gains {g}")
    s, t, k = corrections
    limit = np.log(STEP_LIMIT)
    return GroupCorrections(s * np.exp(np.clip(-damping * np.log(a), -limit, limit)),
                            t - np.clip(damping * c * s / a, -STEP_LIMIT, STEP_LIMIT),
                            k * np.exp(np.clip(-damping * np.log(g), -limit, limit)))


def unidentified_bias_gains(gains: np.ndarray) -> np.ndarray:
    """Per group of measured ``gains`` (G, 6, :data:`GAIN_NAMES`): whether the bias gain's standard error exceeds
    :data:`MAX_BIAS_GAIN_STDERR` (a failed fit, ``nan``, is not flagged)."""
    return np.asarray(gains, dtype=np.float64)[:, 3] > MAX_BIAS_GAIN_STDERR


def identified_gains(gains: np.ndarray, mean_bias) -> np.ndarray:
    """``(a, g, c)`` per group (G, 3) for :func:`calibration_step` from measured ``gains`` (G, 6,
    :data:`GAIN_NAMES`): where the bias gain is not identified (:func:`unidentified_bias_gains`), ``a = 1`` and the
    offset takes the bias part at the group's ``mean_bias``, ``c + (a - 1) mean_bias``: the field the fit
    determines, corrected through the shift alone."""
    gains = np.asarray(gains, dtype=np.float64)
    a, g, c = gains[:, 0].copy(), gains[:, 1], gains[:, 2].copy()
    unidentified = unidentified_bias_gains(gains)
    c[unidentified] += (a[unidentified] - 1.0) * np.asarray(mean_bias, dtype=np.float64)[unidentified]
    a[unidentified] = 1.0
    return np.column_stack([a, g, c])


class CalibrationHistory(NamedTuple):
    """Rounds of :func:`calibrate`: the corrections of each run (R, G) and the gains measured in it (R, G, 6)."""

    bias_scale: np.ndarray
    bias_shift: np.ndarray
    coupling_scale: np.ndarray
    gains: np.ndarray
    mean_activity: np.ndarray

    @property
    def final(self) -> GroupCorrections:
        """The corrections of the last round (the calibrated network)."""
        return GroupCorrections(self.bias_scale[-1], self.bias_shift[-1], self.coupling_scale[-1])


def averaged_corrections(iterates: list[GroupCorrections]) -> GroupCorrections:
    """The mean of ``iterates`` (scales in the logarithm, shifts as they are): Polyak-Ruppert averaging of the
    calibration's last steps, whose noise (each from one round's finite samples) the mean reduces."""
    return GroupCorrections(np.exp(np.mean([np.log(c.bias_scale) for c in iterates], axis=0)),
                            np.mean([c.bias_shift for c in iterates], axis=0),
                            np.exp(np.mean([np.log(c.coupling_scale) for c in iterates], axis=0)))


def calibrate(sample: Callable[[GroupCorrections, int], np.ndarray],
              inputs_of: Callable[[np.ndarray], list[LayerInputs]], n_per_group, n_rounds: int, damping: float,
              start: GroupCorrections | None = None, averaged_rounds: int = 1, log=print) -> CalibrationHistory:
    """Iterate :func:`calibration_step` on the gains of ``sample``'s states, ``n_rounds`` steps and one final run.

    ``sample(corrections, round)`` returns states (sample, unit) of the network under
    ``corrections`` (:class:`GroupCorrections`, groups of ``n_per_group`` consecutive units);
    ``inputs_of(states)`` their :class:`~lif_tempering.sampling.conditionals.LayerInputs` per group
    for the machine the network is meant to sample (:func:`group_inputs`, or
    :func:`~lif_tempering.sampling.conditionals.layer_inputs` of an RBM). The final corrections are the
    :func:`averaged_corrections` of the last ``averaged_rounds`` steps' results (1: the last step's), and the
    last of the ``n_rounds + 1`` runs measures them. ``log`` gets one line per round.
    """
    if not 1 <= averaged_rounds <= max(n_rounds, 1):
        raise ValueError(f"averaged_rounds must lie in 1 .. n_rounds ({n_rounds}), got {averaged_rounds}")
    corrections = start if start is not None else GroupCorrections.plain(len(n_per_group))
    rounds, iterates = [], []
    for index in range(n_rounds + 1):
        z = np.asarray(sample(corrections, index))
        inputs = inputs_of(z)
        gains = measured_gains(inputs)
        activity = [float(part.mean()) for part in np.split(z, np.cumsum(n_per_group)[:-1], axis=1)]
        rounds.append((corrections, gains, activity))
        log(f"round {index}: " + "; ".join(
            f"group {k}: s {corrections.bias_scale[k]:.4f} t {corrections.bias_shift[k]:+.4f} "
            f"k {corrections.coupling_scale[k]:.4f} -> a {gains[k, 0]:.3f} g {gains[k, 1]:.3f} c {gains[k, 2]:+.3f} "
            f"activity {activity[k]:.4f}" for k in range(len(n_per_group))))
        if index < n_rounds:
            unidentified = np.flatnonzero(unidentified_bias_gains(gains))
            if unidentified.size:
                log(f"round {index}: bias gain not identified in groups {unidentified.tolist()}: "
                    "corrected through the shift alone")
            corrections = calibration_step(corrections, identified_gains(gains, [float(group.bias.mean())
                                                                                  for group in inputs]), damping)
            iterates.append(corrections)
            if index == n_rounds - 1:
                corrections = averaged_corrections(iterates[-averaged_rounds:])
    return CalibrationHistory(*(np.array([r[0][i] for r in rounds]) for i in range(3)),
                              np.array([r[1] for r in rounds]), np.array([r[2] for r in rounds]))


def _identified(states: np.ndarray) -> np.ndarray:
    """Per unit whether its mean state lies more than :data:`MIN_UNIT_ACTIVITY` from 0 and 1."""
    mean_state = states.mean(axis=0).astype(np.float64)
    return (mean_state > MIN_UNIT_ACTIVITY) & (mean_state < 1.0 - MIN_UNIT_ACTIVITY)


def unit_offsets(inputs: list[LayerInputs]) -> np.ndarray:
    """Per unit (all groups, in order) the offset ``c`` (units of k_B T) for which the mean of
    ``sigmoid(u + c)`` over the samples equals the unit's mean state, ``u`` its field (bias plus coupling
    input) at each sample: 0 for a correct sampler up to sampling noise. Units whose mean state lies within
    :data:`MIN_UNIT_ACTIVITY` of 0 or 1 get 0 (not identified). Solved by Newton's method inside a bracket
    that every step narrows (bisection where a Newton step would leave it), so that saturated fields, whose
    mean response is nearly flat far from the root, cannot make the iteration oscillate."""
    field = np.concatenate([group.bias[None, :] + group.coupling for group in inputs], axis=1).astype(np.float64)
    mean_state = np.concatenate([group.states.mean(axis=0) for group in inputs]).astype(np.float64)
    identified = np.concatenate([_identified(group.states) for group in inputs])
    low, high = np.full(field.shape[1], -OFFSET_BOUND), np.full(field.shape[1], OFFSET_BOUND)
    c = np.zeros(field.shape[1])
    for _ in range(200):
        q = expit(field + c)
        excess = q.mean(axis=0) - mean_state
        high, low = np.where(excess > 0.0, c, high), np.where(excess > 0.0, low, c)
        newton = c - excess / np.maximum((q * (1.0 - q)).mean(axis=0), 1e-300)
        inside = (newton >= low) & (newton <= high)
        c_next = np.where(identified, np.where(inside, newton, 0.5 * (low + high)), 0.0)
        if np.max(np.abs(c_next - c), initial=0.0) < 1e-9:
            break
        c = c_next
    return c_next


def activity_slopes(inputs: list[LayerInputs], counts: list[np.ndarray], offsets) -> np.ndarray:
    """Per group the slope ``e`` (units of k_B T per active partner) of
    ``logit P(z_k = 1) = u_k + c_k + e (n_k - mean n_k)`` fitted over the group's identified units (as in
    :func:`unit_offsets`), ``u_k`` the unit's field, ``c_k`` its ``offsets`` (all groups, in order) and ``n_k`` the
    number of active units the machine couples to it at each sample (``counts``, per group (sample, unit)): 0 for a
    correct sampler up to sampling noise; a conductance-based network, whose inputs load the membrane, need not
    give 0. A group whose counts do not vary gets 0."""
    slopes = []
    for group, count, c in zip(inputs, counts, np.split(np.asarray(offsets, dtype=np.float64),
                                                        np.cumsum([g.states.shape[1] for g in inputs])[:-1])):
        keep = _identified(group.states)
        states = group.states[:, keep].astype(np.float64)
        base = (group.bias[None, keep] + group.coupling[:, keep] + c[None, keep]).astype(np.float64)
        centred = count[:, keep].astype(np.float64) - count[:, keep].mean(axis=0)
        e = 0.0
        for _ in range(50):  # Newton's method on the concave log-likelihood in e
            q = expit(base + e * centred)
            information = float(np.sum(q * (1.0 - q) * centred**2))
            if information <= 0.0:
                break
            step = float(np.sum((states - q) * centred)) / information
            e += step
            if abs(step) < 1e-9:
                break
        slopes.append(e)
    return np.array(slopes)


class UnitCalibration(NamedTuple):
    """Result of :func:`unit_shift_rounds`: per-unit bias ``shifts`` (units of k_B T), per-group ``coupling_offset``
    (units of k_B T per weight; zeros without activity steps), and per run (R + 1, G) the mean absolute
    :func:`unit_offsets` (None without unit rounds) and the :func:`activity_slopes` (None without activity steps)."""

    shifts: np.ndarray
    coupling_offset: np.ndarray
    mean_abs_offset: np.ndarray | None
    activity_slope: np.ndarray | None


def unit_shift_rounds(sample: Callable[[np.ndarray, np.ndarray, int], np.ndarray],
                      inputs_of: Callable[[np.ndarray], list[LayerInputs]], n_per_group, bias_scale, n_rounds: int,
                      damping: float, counts_of: Callable[[np.ndarray], list[np.ndarray]] | None = None,
                      log=print) -> UnitCalibration:
    """Per-unit bias shifts ``d`` (units of k_B T, added to the realised biases) that remove each unit's
    :func:`unit_offsets`: ``n_rounds`` damped steps ``d <- d - damping s c`` (``s`` the unit's ``bias_scale``, whose
    inverse is the unit's response to its realised bias once the layer gains are 1; each step at most
    :data:`UNIT_STEP_LIMIT`). With ``counts_of`` (states -> per group the active partners of each unit,
    (sample, unit)) each step also moves every group's coupling offset ``o <- o - damping e`` against its
    :func:`activity_slopes` (at most :data:`COUPLING_OFFSET_STEP_LIMIT`) and keeps the mean field:
    ``d <- d - damping s (c - e mean n)``. ``sample(d, o, round)`` returns the states (sample, unit) under shifts
    ``d`` and per-group coupling offsets ``o``."""
    shifts, coupling_offset = np.zeros(int(np.sum(n_per_group))), np.zeros(len(n_per_group))
    bounds = np.cumsum(n_per_group)[:-1]
    mean_abs, slopes = [], []
    for index in range(n_rounds + 1):
        z = np.asarray(sample(shifts, coupling_offset, index))
        inputs = inputs_of(z)
        offsets = unit_offsets(inputs)
        mean_abs.append([float(np.abs(part[part != 0.0]).mean()) if np.any(part != 0.0) else 0.0
                         for part in np.split(offsets, bounds)])
        line = f"unit round {index}: mean |offset| per group " + ", ".join(f"{m:.3f}" for m in mean_abs[-1])
        step_offsets = offsets
        if counts_of is not None:
            counts = counts_of(z)
            slopes.append(activity_slopes(inputs, counts, offsets))
            line += "; activity slope per group " + ", ".join(f"{e:+.4f}" for e in slopes[-1])
            mean_count = np.concatenate([count.mean(axis=0, dtype=np.float64) for count in counts])
            identified = np.concatenate([_identified(group.states) for group in inputs])
            step_offsets = np.where(identified, offsets - np.repeat(slopes[-1], n_per_group) * mean_count, 0.0)
        log(line)
        if index < n_rounds:
            shifts = shifts - np.clip(damping * np.asarray(bias_scale) * step_offsets, -UNIT_STEP_LIMIT,
                                      UNIT_STEP_LIMIT)
            if counts_of is not None:
                coupling_offset = coupling_offset - np.clip(damping * slopes[-1], -COUPLING_OFFSET_STEP_LIMIT,
                                                            COUPLING_OFFSET_STEP_LIMIT)
    return UnitCalibration(shifts, coupling_offset, np.array(mean_abs), np.array(slopes) if slopes else None)


class MarginalCalibration(NamedTuple):
    """Result of :func:`marginal_rounds`: per-unit bias ``shifts`` (units of k_B T, added to the realised biases of the
    layer corrections the rounds started from), and per run the RMS difference between the targeted units' mean states
    and their targets (``marginal_error``, (R,)) and the groups' gains ((R, G, 6), :data:`GAIN_NAMES`)."""

    shifts: np.ndarray
    marginal_error: np.ndarray
    gains: np.ndarray


def marginal_rounds(sample: Callable[[TranslationCorrections, int], np.ndarray],
                    inputs_of: Callable[[np.ndarray], list[LayerInputs]], n_per_group, corrections: GroupCorrections,
                    units: UnitCalibration, biases, targets, settings: dict, layer_damping: float,
                    log=print) -> MarginalCalibration:
    """Per-unit bias shifts that bring the mean states of the units with a target marginal (``targets``, mean state
    per unit; ``nan``: none, the unit keeps its shift of ``units``) to their targets, the layers kept on their
    conditionals (docs/in_the_loop.md, "Marginal rounds"). ``settings``: n_rounds, damping, averaged_rounds.

    Per run (``sample(corrections, round)``): targeted units ``d <- d + damping s (logit target - logit mean z)``
    (``s`` the layer's bias scale, each step at most :data:`UNIT_STEP_LIMIT`), and every group's bias scale and shift
    a :func:`calibration_step` (``layer_damping``) against its measured bias gain and offset (:func:`identified_gains`),
    its coupling scale kept.
    The final shifts are the mean over the last ``averaged_rounds`` steps of each unit's realised bias change against
    ``corrections``, ``(s' - s) b + (t' - t) + d``, so that the layer corrections themselves stay those of the layer
    calibration. ``biases``: the machine's bias per unit.
    """
    n_units = int(np.sum(n_per_group))
    biases, targets = np.asarray(biases, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    targeted = np.isfinite(targets)
    target_logit = logit(np.clip(targets[targeted], MARGINAL_CLIP, 1.0 - MARGINAL_CLIP))
    scale0, shift0, _ = corrections.per_unit(n_per_group).per_unit(n_units)
    offsets = np.repeat(units.coupling_offset, n_per_group)
    layer, shifts = corrections, np.array(units.shifts, dtype=np.float64)
    changes, errors, gains = [], [], []
    for index in range(settings["n_rounds"]):
        scale, shift, coupling = layer.per_unit(n_per_group).per_unit(n_units)
        z = np.asarray(sample(TranslationCorrections(scale, shift + shifts, coupling, offsets), index))
        mean = z.mean(axis=0, dtype=np.float64)[targeted]
        inputs = inputs_of(z)
        gains.append(measured_gains(inputs))
        errors.append(float(np.sqrt(np.mean(np.square(mean - targets[targeted])))))
        log(f"marginal round {index}: RMS marginal error {errors[-1]:.4f}; bias gain, offset per group "
            + ", ".join(f"{row[0]:.3f} {row[2]:+.3f}" for row in gains[-1]))
        step = target_logit - logit(np.clip(mean, MARGINAL_CLIP, 1.0 - MARGINAL_CLIP))
        shifts[targeted] += np.clip(settings["damping"] * scale[targeted] * step, -UNIT_STEP_LIMIT, UNIT_STEP_LIMIT)
        bias_and_offset = identified_gains(gains[-1], [float(group.bias.mean()) for group in inputs])
        bias_and_offset[:, 1] = 1.0  # the coupling scale stays the layer calibration's
        layer = calibration_step(layer, bias_and_offset, layer_damping)
        scale, shift, _ = layer.per_unit(n_per_group).per_unit(n_units)
        changes.append((scale - scale0) * biases + (shift - shift0) + shifts)
    return MarginalCalibration(np.mean(changes[-settings["averaged_rounds"]:], axis=0), np.array(errors),
                               np.array(gains))


# --------------------------------------------------------------------------- jobs

#: Variables and attributes of an RBM file that a network file keeps (readers of rbm.nc work on both).
RBM_VARIABLES = ("W", "b_visible", "b_hidden", "classifier_coef", "classifier_intercept", "train_class_frequency")
RBM_ATTRS = ("dataset", "training_seed", "image_height", "image_width", "n_train_images", "n_test_images",
             "classifier_test_accuracy")


def _var(dims, values, units, long_name):
    return (dims, np.asarray(values), {"units": units, "long_name": long_name})


def round_seed(seed: int, index: int) -> int:
    """The network seed of run ``index`` of a job seeded by ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def corrections_dataset(corrections: GroupCorrections, groups) -> xr.Dataset:
    """``bias_scale``, ``bias_shift``, ``coupling_scale`` per group (dimension ``layer``, named by ``groups``)."""
    return xr.Dataset(
        {"bias_scale": _var("layer", corrections.bias_scale, "1",
                            "factor s of the realised biases b_r = s b + t of the layer's units"),
         "bias_shift": _var("layer", corrections.bias_shift, "1",
                            "shift t of the realised biases b_r = s b + t of the layer's units (units of k_B T)"),
         "coupling_scale": _var("layer", corrections.coupling_scale, "1",
                                "factor on the translated weights onto the layer's units")},
        coords={"layer": ("layer", list(groups), {"units": "1", "long_name": "group of units (layer)"})})


def group_corrections(network: xr.Dataset) -> GroupCorrections:
    """The :class:`GroupCorrections` of a network file (:func:`corrections_dataset` variables)."""
    return GroupCorrections(*(np.asarray(network[name].values, dtype=np.float64)
                              for name in ("bias_scale", "bias_shift", "coupling_scale")))


def history_dataset(history: CalibrationHistory, groups) -> xr.Dataset:
    """The rounds of :func:`calibrate` (dimensions ``round``, ``layer``): corrections, gains and activity."""
    dims = ("round", "layer")
    data = {f"round_{name}": _var(dims, getattr(history, name), units, f"{what} of the round's run")
            for name, units, what in (("bias_scale", "1", "bias scale s"),
                                      ("bias_shift", "1", "bias shift t (units of k_B T)"),
                                      ("coupling_scale", "1", "coupling scale k"))}
    meanings = {"bias_gain": "bias gain a", "coupling_gain": "coupling gain g", "offset": "offset c"}
    for index, name in enumerate(GAIN_NAMES):
        base = name.removesuffix("_stderr")
        what = meanings[base] + (" standard error (independent samples)" if name.endswith("_stderr") else "")
        data[name] = _var(dims, history.gains[:, :, index], "1",
                          f"{what} of logit P(z = 1) = a b + g (W z) + c fitted to the round's states")
    data["mean_activity"] = _var(dims, history.mean_activity, "1", "mean state of the layer's units in the round's run")
    coords = {"round": ("round", np.arange(history.gains.shape[0]),
                        {"units": "1", "long_name": "calibration round (the last one measures the final corrections)"}),
              "layer": ("layer", list(groups), {"units": "1", "long_name": "group of units (layer)"})}
    return xr.Dataset(data, coords=coords)


def network_dataset(rbm: xr.Dataset, W, b_v, b_h, corrections: GroupCorrections, title: str) -> xr.Dataset:
    """An RBM file's variables (:data:`RBM_VARIABLES`, with ``W``, ``b_visible``, ``b_hidden`` replaced by the
    machine the network realises) and coordinates with the network's corrections per layer."""
    ds = rbm[list(RBM_VARIABLES)]
    ds = ds.drop_vars([c for c in ds.coords if c not in ("visible", "hidden", "digit", "pixel_row", "pixel_column")])
    ds = ds.assign(W=(("visible", "hidden"), np.asarray(W, dtype=np.float64), rbm["W"].attrs),
                   b_visible=("visible", np.asarray(b_v, dtype=np.float64), rbm["b_visible"].attrs),
                   b_hidden=("hidden", np.asarray(b_h, dtype=np.float64), rbm["b_hidden"].attrs))
    ds = xr.merge([ds, corrections_dataset(corrections, RBM_GROUPS)])
    ds.attrs = {"title": title, **{key: rbm.attrs[key] for key in RBM_ATTRS if key in rbm.attrs}}
    return ds


def unit_calibration(sample, inputs_of, counts_of, corrections: GroupCorrections, n_per_group, settings: dict,
                     log=print) -> UnitCalibration:
    """:func:`unit_shift_rounds` (``settings["unit_rounds"]``, with ``settings["damping"]``; coupling offsets against
    the :func:`activity_slopes` of ``counts_of`` where ``settings["coupling_offsets"]``) on top of the layer
    ``corrections``, ``sample`` (:func:`persistent_runs`) continuing its chains in rounds numbered after the layer
    calibration's. Without unit rounds: zero shifts and offsets, no rounds."""
    n_units = int(np.sum(n_per_group))
    if settings["unit_rounds"] == 0:
        return UnitCalibration(np.zeros(n_units), np.zeros(len(n_per_group)), None, None)
    scale, shift, coupling = corrections.per_unit(n_per_group).per_unit(n_units)
    first = settings["n_rounds"] + 1

    def shifted(shifts, coupling_offset, index):
        return sample(TranslationCorrections(scale, shift + shifts, coupling, np.repeat(coupling_offset, n_per_group)),
                      first + index)

    return unit_shift_rounds(shifted, inputs_of, n_per_group, scale, settings["unit_rounds"], settings["damping"],
                             counts_of if settings["coupling_offsets"] else None, log)


def visible_marginal_calibration(sample, inputs_of, corrections: GroupCorrections, units: UnitCalibration,
                                 biases: tuple, target_visible, settings: dict, log=print) -> MarginalCalibration | None:
    """:func:`marginal_rounds` of an RBM's visible units toward ``target_visible`` (``settings["marginal_rounds"]``,
    layer steps with ``settings["damping"]``), ``sample`` (:func:`persistent_runs`) continuing its chains in rounds
    numbered after the layer and unit rounds'; ``biases``: ``(b_v, b_h)``. None without marginal rounds."""
    rounds = settings["marginal_rounds"]
    if rounds["n_rounds"] == 0:
        return None
    if target_visible is None:
        raise ValueError("marginal rounds need the RBM's mean visible states (its reference's model_moment_visible)")
    b_v, b_h = (np.asarray(b, dtype=np.float64) for b in biases)
    n_per_group = (b_v.size, b_h.size)
    first = settings["n_rounds"] + 1 + (settings["unit_rounds"] + 1 if settings["unit_rounds"] else 0)
    targets = np.concatenate([np.asarray(target_visible, dtype=np.float64), np.full(b_h.size, np.nan)])
    return marginal_rounds(lambda corrections, index: sample(corrections, first + index), inputs_of, n_per_group,
                           corrections, units, np.concatenate([b_v, b_h]), targets, rounds, settings["damping"], log)


def marginal_dataset(calibration: MarginalCalibration | None, groups) -> xr.Dataset:
    """The marginal rounds' measures (dimension ``marginal_round``): ``marginal_round_error`` and the groups'
    ``marginal_round_bias_gain`` and ``marginal_round_offset``; empty without marginal rounds."""
    if calibration is None:
        return xr.Dataset()
    dims = ("marginal_round", "layer")
    return xr.Dataset(
        {"marginal_round_error": _var("marginal_round", calibration.marginal_error, "1", "RMS difference between "
                                      "the targeted units' mean states in the round's run and their target marginals"),
         "marginal_round_bias_gain": _var(dims, calibration.gains[:, :, 0], "1", "bias gain a of logit P(z = 1) = "
                                          "a b + g (W z) + c fitted to the marginal round's states"),
         "marginal_round_offset": _var(dims, calibration.gains[:, :, 2], "1", "offset c of logit P(z = 1) = "
                                       "a b + g (W z) + c fitted to the marginal round's states")},
        coords={"marginal_round": ("marginal_round", np.arange(calibration.marginal_error.size),
                                   {"units": "1", "long_name": "marginal round (each run followed by a step)"}),
                "layer": ("layer", list(groups), {"units": "1", "long_name": "group of units (layer)"})})


def unit_shift_dataset(calibration: UnitCalibration, unit_dims: dict[str, int], groups) -> xr.Dataset:
    """The per-unit bias shifts as ``unit_bias_shift`` (one dimension of ``unit_dims``, name -> number of units, per
    group, e.g. ``visible``, ``hidden``: ``unit_bias_shift_visible``, ...; a single group: ``unit_bias_shift``), the
    ``coupling_offset`` per group (dimension ``layer``) and, after unit rounds, the mean absolute :func:`unit_offsets`
    per group of each unit round (``unit_round_offset``) and, with coupling offsets, the
    :func:`activity_slopes` (``unit_round_activity_slope``)."""
    parts = np.split(np.asarray(calibration.shifts, dtype=np.float64), np.cumsum(list(unit_dims.values()))[:-1])
    data = {("unit_bias_shift" if len(unit_dims) == 1 else f"unit_bias_shift_{dim}"):
            _var(dim, part, "1", "per-unit shift added to the realised bias of the layer calibration (units of k_B T)")
            for dim, part in zip(unit_dims, parts)}
    data["coupling_offset"] = _var("layer", calibration.coupling_offset, "1", "offset added to every non-zero "
                                   "weight onto the layer's units before the coupling scale (units of k_B T)")
    coords = {"layer": ("layer", list(groups), {"units": "1", "long_name": "group of units (layer)"})}
    if calibration.mean_abs_offset is not None:
        rounds = ("unit_round", "layer")
        data["unit_round_offset"] = _var(rounds, calibration.mean_abs_offset, "1", "mean absolute per-unit offset c "
                                         "of logit P(z = 1) = u + c over the identified units in the unit round's run")
        if calibration.activity_slope is not None:
            data["unit_round_activity_slope"] = _var(
                rounds, calibration.activity_slope, "1", "slope e of logit P(z = 1) = u + c + e (n - mean n) per "
                "active partner unit n in the unit round's run (units of k_B T)")
        coords["unit_round"] = ("unit_round", np.arange(calibration.mean_abs_offset.shape[0]), {
            "units": "1", "long_name": "per-unit calibration round (the last one measures the final shifts)"})
    return xr.Dataset(data, coords=coords)


def persistent_runs(sampler, machine, p: NeuronParameters, calibration: ActivationPoint, seed: int, n_per_group):
    """``sample(corrections, round)`` of :func:`calibrate` for a sampler's copies of ``machine``: each round's copies
    start in their last state of the previous round (persistent chains, so that later rounds measure the
    networks' settled states, not their start from rest), the first round from rest; states (sample, unit)."""
    chains = {"states": None}

    def sample(corrections: GroupCorrections | TranslationCorrections, index: int) -> np.ndarray:
        per_unit = corrections.per_unit(n_per_group) if isinstance(corrections, GroupCorrections) else corrections
        result = sampler.sample(machine, p, calibration, round_seed(seed, index), corrections=per_unit,
                                initial_states=chains["states"])
        chains["states"] = result.samples[-1]
        return result.samples.reshape(-1, sum(n_per_group))

    return sample


def rbm_network_sampler(n_visible: int, n_hidden: int, settings: dict, dt_ms: float, cache_dir, threads: int = 1,
                        scheduled_rates: bool = False):
    """A :class:`~lif_tempering.sampling.network.BoltzmannSampler` of ``settings["n_copies"]`` copies of an RBM's
    network (``settings``: n_copies, duration_ms, burn_in_ms, sample_dt_ms)."""
    from lif_tempering.sampling.network import BoltzmannSampler  # Brian2 only for LIF jobs

    return BoltzmannSampler(n_visible + n_hidden, settings["duration_ms"], cache_dir, n_networks=settings["n_copies"],
                            pattern="bipartite", n_visible=n_visible, dt_ms=dt_ms,
                            sample_dt_ms=settings["sample_dt_ms"], burn_in_ms=settings["burn_in_ms"],
                            report_period_s=600.0, scheduled_rates=scheduled_rates, threads=threads)


def calibrate_rbm_network(rbm: xr.Dataset, p: NeuronParameters, calibration: ActivationPoint, settings: dict,
                          dt_ms: float, seed: int, cache_dir: str | os.PathLike, threads: int = 1,
                          target_visible=None, log=print) -> xr.Dataset:
    """Calibrate the LIF network of a trained RBM (an ``rbm.nc`` dataset): the ``network_calibrated.nc`` dataset.

    Free runs of ``settings["n_copies"]`` copies of the network at the noise of
    ``calibration``, persistent from round to round (:func:`persistent_runs`; ``settings``:
    n_rounds, damping, n_copies, duration_ms, burn_in_ms, sample_dt_ms), per round the
    gains of both layers (:func:`calibrate`), then the per-unit rounds (:func:`unit_calibration`) and, with
    ``settings["marginal_rounds"]``, the visible units' marginal rounds toward ``target_visible`` (the RBM's own mean
    visible states, from its reference; :func:`visible_marginal_calibration`). The result has
    the RBM's variables (:func:`network_dataset`; the network realises the RBM itself),
    the corrections per layer and the rounds (:func:`history_dataset`); the settings,
    the calibration and the final gains as attributes.
    """
    W, b_v, b_h = (rbm[name].values for name in ("W", "b_visible", "b_hidden"))
    n_per_group = W.shape
    sampler = rbm_network_sampler(*n_per_group, settings, dt_ms, cache_dir, threads)
    machine = rbm_as_bm(W, b_v, b_h)

    sample = persistent_runs(sampler, machine, p, calibration, seed, n_per_group)

    def inputs_of(z):
        inputs = layer_inputs(z, W, b_v, b_h)
        return [inputs[name] for name in RBM_GROUPS]

    def counts_of(z):
        inputs = layer_inputs(z, W != 0, np.zeros_like(b_v), np.zeros_like(b_h))
        return [inputs[name].coupling for name in RBM_GROUPS]

    start = time.perf_counter()
    try:
        history = calibrate(sample, inputs_of, n_per_group, settings["n_rounds"], settings["damping"],
                            averaged_rounds=settings["averaged_rounds"], log=log)
        units = unit_calibration(sample, inputs_of, counts_of, history.final, n_per_group, settings, log)
        marginal = visible_marginal_calibration(sample, inputs_of, history.final, units, (b_v, b_h), target_visible,
                                                settings, log)
    finally:
        sampler.close()
    if marginal is not None:
        units = units._replace(shifts=marginal.shifts)
    ds = xr.merge([network_dataset(rbm, W, b_v, b_h, history.final, "LIF network of a trained RBM, calibrated so "
                                   "that both layers follow the RBM's conditionals"),
                   history_dataset(history, RBM_GROUPS),
                   unit_shift_dataset(units, dict(zip(RBM_GROUPS, n_per_group)), RBM_GROUPS),
                   marginal_dataset(marginal, RBM_GROUPS)],
                  combine_attrs="override")
    final = history.gains[-1]
    return ds.assign_attrs(
        **settings_attrs(settings), seed=int(seed), dt_ms=float(dt_ms),
        u0_mV=float(calibration.u0_mV), alpha_mV=float(calibration.alpha_mV),
        rate_exc_hz=float(calibration.rate_exc_hz), rate_inh_hz=float(calibration.rate_inh_hz),
        **{f"final_{name}_{group}": float(final[k, i]) for k, group in enumerate(RBM_GROUPS)
           for i, name in enumerate(GAIN_NAMES[:3])},
        wall_time_s=float(time.perf_counter() - start))


def machine_dataset(W, b, corrections: GroupCorrections, title: str) -> xr.Dataset:
    """A small machine ``(W, b)`` the network realises (dimensions ``unit``, ``partner_unit``) with its corrections
    (one group, ``layer`` = ``all``)."""
    n_units = len(b)
    ds = xr.Dataset(
        {"W": _var(("unit", "partner_unit"), W, "1", "Boltzmann weight between unit and partner unit (units of k_B T)"),
         "b": _var("unit", b, "1", "Boltzmann bias (units of k_B T)")},
        coords={"unit": ("unit", np.arange(n_units), {"units": "1", "long_name": "unit index"}),
                "partner_unit": ("partner_unit", np.arange(n_units), {"units": "1", "long_name": "unit index"})})
    return xr.merge([ds, corrections_dataset(corrections, SINGLE_GROUP)]).assign_attrs(title=title)


def small_bm_sampler(n_units: int, settings: dict, dt_ms: float, cache_dir, threads: int = 1):
    """A :class:`~lif_tempering.sampling.network.BoltzmannSampler` of ``settings["n_copies"]`` copies of a small
    machine's network with full connectivity (``settings``: n_copies, duration_ms, burn_in_ms, sample_dt_ms)."""
    from lif_tempering.sampling.network import BoltzmannSampler  # Brian2 only for LIF jobs

    return BoltzmannSampler(n_units, settings["duration_ms"], cache_dir, n_networks=settings["n_copies"],
                            pattern="full", dt_ms=dt_ms, sample_dt_ms=settings["sample_dt_ms"],
                            burn_in_ms=settings["burn_in_ms"], report_period_s=600.0, threads=threads)


def calibrate_small_bm(W, b, p: NeuronParameters, calibration: ActivationPoint, settings: dict, dt_ms: float,
                       seed: int, cache_dir: str | os.PathLike, threads: int = 1, log=print) -> xr.Dataset:
    """Calibrate the LIF network of a small Boltzmann machine ``(W, b)`` with one group of units (:func:`calibrate`).

    ``settings`` as for :func:`calibrate_rbm_network`; the result holds the machine
    (:func:`machine_dataset`), its corrections and the rounds.
    """
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n_per_group = (b.size,)
    sampler = small_bm_sampler(b.size, settings, dt_ms, cache_dir, threads)

    sample = persistent_runs(sampler, (W, b), p, calibration, seed, n_per_group)

    def inputs_of(z):
        return group_inputs(z, W, b, n_per_group)

    def counts_of(z):
        return [group.coupling for group in group_inputs(z, W != 0, np.zeros_like(b), n_per_group)]

    start = time.perf_counter()
    try:
        history = calibrate(sample, inputs_of, n_per_group, settings["n_rounds"], settings["damping"],
                            averaged_rounds=settings["averaged_rounds"], log=log)
        units = unit_calibration(sample, inputs_of, counts_of, history.final, n_per_group, settings, log)
    finally:
        sampler.close()
    ds = xr.merge([machine_dataset(W, b, history.final, "LIF network of a small Boltzmann machine, calibrated so that "
                                   "its units follow the machine's conditionals"),
                   history_dataset(history, SINGLE_GROUP),
                   unit_shift_dataset(units, {"unit": b.size}, SINGLE_GROUP)], combine_attrs="override")
    final = history.gains[-1, 0]
    return ds.assign_attrs(
        **settings_attrs(settings), seed=int(seed), dt_ms=float(dt_ms), u0_mV=float(calibration.u0_mV),
        alpha_mV=float(calibration.alpha_mV), rate_exc_hz=float(calibration.rate_exc_hz),
        rate_inh_hz=float(calibration.rate_inh_hz),
        **{f"final_{name}": float(final[i]) for i, name in enumerate(GAIN_NAMES[:3])},
        wall_time_s=float(time.perf_counter() - start))


def with_unit_shifts(corrections: TranslationCorrections, network: xr.Dataset, layers) -> TranslationCorrections:
    """``corrections`` with a network file's per-unit bias shifts (``unit_bias_shift_{layer}`` of each of ``layers``
    in order, or ``unit_bias_shift``) and coupling offsets (``coupling_offset`` per layer) where it has them."""
    names = [f"unit_bias_shift_{layer}" for layer in layers] if len(layers) > 1 else ["unit_bias_shift"]
    scale, bias_shift, coupling = corrections.per_unit(sum(network.sizes[layer] for layer in layers))
    if all(name in network for name in names):
        bias_shift = bias_shift + np.concatenate([np.asarray(network[name].values, dtype=np.float64) for name in names])
    offset = (np.repeat(np.asarray(network["coupling_offset"].values, dtype=np.float64),
                        [network.sizes[layer] for layer in layers]) if "coupling_offset" in network else 0.0)
    return TranslationCorrections(scale, bias_shift, coupling, offset)


def network_corrections(network: xr.Dataset) -> TranslationCorrections:
    """The per-unit translation corrections of an RBM's network file (``bias_scale``, ``bias_shift``,
    ``coupling_scale`` per layer, :func:`network_dataset`, plus the ``unit_bias_shift_*`` and ``coupling_offset`` of
    a per-unit calibration); a trained RBM's file has none (plain)."""
    if "bias_scale" not in network:
        return PLAIN
    corrections = group_corrections(network).per_unit((network.sizes["visible"], network.sizes["hidden"]))
    return with_unit_shifts(corrections, network, RBM_GROUPS)


def machine_network(network: xr.Dataset):
    """``(W, b, corrections)`` of a small machine's network file (:func:`machine_dataset`): the parameters its
    network is translated from and their per-unit :class:`~lif_tempering.sampling.translation.TranslationCorrections`."""
    W, b = np.asarray(network["W"].values, dtype=np.float64), np.asarray(network["b"].values, dtype=np.float64)
    return W, b, with_unit_shifts(group_corrections(network).per_unit((b.size,)), network, ("unit",))

"""The model's own class distribution: parallel tempering of a trained RBM (docs/mixing.md).

A trained RBM need not reproduce the data's class prior (a one-mode-heavy RBM
samples mostly one digit), so a class histogram that converges to the prior is
the wrong target for a sampler of the RBM. The reference is the class
distribution of long abstract chains whose convergence is checked:

- :func:`parallel_tempering`: ``n_chains`` independent ladders of ``B`` rungs, rung
  ``i`` sampling ``p_i(v, h) ~ exp(-beta_i E(v, h) + (1 - beta_i) b_base^T v + psi_i[c])``
  with ``E(v, h) = -v^T W h - b_v^T v - b_h^T h``, ``beta_0 = 1 > ... > beta_{B-1} = beta_min``,
  the hot end's visible biases ``b_base`` (the data's independent-pixel model, or 0:
  uniform noise) and a class bias ``psi_i`` of the sample's class ``c`` (``psi_0 = 0``).
  Rung 0 is the RBM. A step is a block-Gibbs sweep at every rung (the block the
  class depends on drawn from its conditional and accepted with ``exp(psi_i[c'] - psi_i[c])``),
  then swaps of neighbouring rungs' states (even pairs on even steps, odd on odd:
  the non-reversible scheme of Syed et al. 2022) accepted with ``min(1, p_i(s_j) p_j(s_i)
  / (p_i(s_i) p_j(s_j)))`` (Swendsen and Wang 1986; Geyer 1991; Desjardins et al. 2010).
- Adaptation during the burn-in, in rounds of doubling length (then frozen, so the
  kept steps are a fixed Markov chain with the RBM as rung 0's stationary law):
  :func:`equal_rejection_ladder` moves the inner rungs so that neighbouring swaps are
  rejected equally often; :func:`flattened_class_bias` moves ``psi_i`` so that every
  rung's class composition approaches rung 0's (mixed with a uniform floor), so that
  a class that dominates the RBM but is rare at lower ``beta`` (a low-energy, low-entropy
  mode) is carried through the ladder instead of waiting to be found at ``beta = 1``
  (an umbrella bias on the class, Torrie and Valleau 1977).
- :func:`reference_dataset`: the workflow's ``reference.nc`` per trained RBM: class
  distribution and its standard error, the data's class prior, ``D_KL(reference || prior)``,
  the convergence check (ArviZ's rank-normalised split-R-hat and bulk ESS of the class
  indicators over the ladders, :mod:`lif_tempering.sampling.diagnostics`), the final
  ladder, swap acceptance, round trips, and the data statistics the ground-state
  quality measures compare with.
- :func:`data_statistics_dataset`: those data statistics alone (no parallel
  tempering), the workflow's ``data_statistics.nc`` of the parameter scan's RBMs,
  whose analysis does not use the class distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import xarray as xr
from scipy.special import softmax

from lif_tempering.learning.classifier import READOUTS
from lif_tempering.learning.rbm import base_rate_visible_bias, logistic, softplus, visible_free_energy
from lif_tempering.sampling.diagnostics import bulk_ess, rank_r_hat
from lif_tempering.sampling.divergence import JEFFREYS, kl_divergence, smoothed_histogram

#: The hot end of the ladder: the data's independent-pixel model, or uniform noise (``b_base = 0``).
HOT_ENDS = ("base_rate", "uniform")
#: Largest change of a class bias per adaptation round (nats): one round's noisy composition cannot run away.
MAX_BIAS_STEP = 2.0
#: Smallest rejection rate the ladder adaptation counts (a pair that never rejects still spans some beta).
MIN_REJECTION = 1e-3
#: Every how many steps the rung-0 states enter the RBM's moments (states a few sweeps apart are alike).
MOMENT_STRIDE = 10


@dataclass(frozen=True)
class ModelReference:
    """What a run is compared with besides the data's class prior (:mod:`lif_tempering.learning.reference`).

    ``class_probability`` (K,): the RBM's own class distribution, positive (smoothed),
    summing to 1, or None where it was not measured (:func:`data_statistics_dataset`);
    ``data_free_energy``: mean visible free energy ``F(v)`` of the test
    images (nats); ``data_mean_visible``: their mean pixel activity.
    """

    class_probability: np.ndarray | None
    data_free_energy: float
    data_mean_visible: float


class ReferenceNotConverged(RuntimeError):
    """The ladders of a :func:`reference_dataset` disagree on the class distribution (R-hat too high)."""

    def __init__(self, reference: xr.Dataset):
        r_hat, attrs = reference["class_r_hat"], reference.attrs
        worst = int(np.nanargmax(r_hat.values)) if np.isfinite(r_hat.values).any() else -1
        super().__init__(
            f"the reference chains did not converge: rank-normalised split-R-hat {attrs['max_r_hat']:.4f} of class "
            f"{worst} exceeds reference.r_hat_max = {attrs['r_hat_max']}; raise reference.n_sweeps (now "
            f"{attrs['n_sweeps']}) and reference.burn_in_sweeps (now {attrs['burn_in_sweeps']}), or "
            f"reference.n_betas (now {attrs['n_betas']}) if the lowest swap acceptance "
            f"({float(reference['swap_acceptance'].min()):.3f}) is small, or lower reference.beta_min "
            f"(now {attrs['beta_min']}) if the ladders made few round trips (fewest "
            f"{int(reference['round_trips'].min())})")


def beta_ladder(beta_min: float, n_betas: int) -> np.ndarray:
    """``n_betas`` inverse temperatures from 1 down to ``beta_min``, geometrically spaced (descending)."""
    if not 0 < beta_min <= 1 or n_betas < 1 or (n_betas == 1 and beta_min != 1):
        raise ValueError(f"need 0 < beta_min <= 1 and n_betas >= 1 (1 only with beta_min 1), "
                         f"got beta_min {beta_min}, n_betas {n_betas}")
    return np.geomspace(1.0, beta_min, n_betas)


@dataclass(frozen=True)
class TemperingPath:
    """The RBM, the hot end and the class readout of a ladder, in float32.

    ``W`` (n_v, n_h), ``b_v``, ``b_h``; ``base_b_v`` (n_v,) the hot end's visible biases;
    ``coef`` (K, D) and ``intercept`` (K,) the classifier's linear scores (its label is their
    argmax); ``readout``: the classifier sees ``p(v = 1 | h)`` at ``beta = 1`` (``mean_field``)
    or ``v`` (``visible``).
    """

    W: np.ndarray
    b_v: np.ndarray
    b_h: np.ndarray
    base_b_v: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    readout: str

    @classmethod
    def of(cls, W, b_v, b_h, classifier, readout: str = "mean_field", base_b_v=None) -> TemperingPath:
        """From float64 parameters and a classifier with ``coef`` and ``intercept`` (a ``SoftmaxClassifier``)."""
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; allowed: {', '.join(READOUTS)}")
        f32 = np.float32
        W = np.asarray(W)
        base_b_v = np.zeros(W.shape[0]) if base_b_v is None else base_b_v
        return cls(np.ascontiguousarray(W, dtype=f32), np.asarray(b_v, dtype=f32), np.asarray(b_h, dtype=f32),
                   np.asarray(base_b_v, dtype=f32), np.ascontiguousarray(np.asarray(classifier.coef).T, dtype=f32),
                   np.asarray(classifier.intercept, dtype=f32), readout)

    def free_energy(self, visible) -> np.ndarray:
        """Visible free energy ``F(v)`` (:func:`~lif_tempering.learning.rbm.visible_free_energy`) of the rows of
        ``visible``, in float32 (its rounding, ~1e-5 nats, is far below the spread of ``F`` over samples)."""
        hidden_input = visible @ self.W
        hidden_input += self.b_h
        return -(visible @ self.b_v) - softplus(hidden_input).sum(axis=1)

    def scores(self, visible, visible_input) -> np.ndarray:
        """The classifier's linear scores (R, K) of states with ``visible`` (R, n_v) and
        ``visible_input = h W^T + b_v`` (R, n_v), in float32."""
        image = visible if self.readout == "visible" else logistic(visible_input.copy())
        scores = image @ self.coef
        scores += self.intercept
        return scores

    def labels(self, visible, visible_input) -> np.ndarray:
        """Class labels (the largest :meth:`scores`) of the states."""
        return np.argmax(self.scores(visible, visible_input), axis=1)

    def confidence(self, visible, visible_input) -> np.ndarray:
        """The classifier's max-probability (softmax of :meth:`scores`, float64) of the states: the mixing
        analysis's ``ground_confidence`` per sample (:func:`~lif_tempering.learning.classifier.classify`)."""
        return softmax(self.scores(visible, visible_input).astype(np.float64), axis=1).max(axis=1)


@dataclass
class Ladders:
    """States of ``n_chains`` ladders of ``B`` rungs, row ``rung * n_chains + chain``, float32 0/1.

    ``visible_input = hidden W^T + b_v``; ``labels`` the states' classes; ``replica`` which
    state (by starting row) a row holds, ``last_end`` per state the end of the ladder it
    visited last (+1 the cold end, -1 the hot end, 0 none yet), ``round_trips`` per ladder.
    """

    visible: np.ndarray
    hidden: np.ndarray
    visible_input: np.ndarray
    labels: np.ndarray
    replica: np.ndarray
    last_end: np.ndarray
    round_trips: np.ndarray

    @classmethod
    def start(cls, path: TemperingPath, v0, n_rungs: int, rng: np.random.Generator) -> Ladders:
        """Every rung of ladder ``c`` starts from ``v0[c]`` with ``h ~ p(h | v0[c])`` at ``beta = 1``."""
        v0 = np.asarray(v0, dtype=np.float32)
        visible = np.ascontiguousarray(np.broadcast_to(v0, (n_rungs,) + v0.shape).reshape(-1, v0.shape[1]))
        probability = logistic(np.add(visible @ path.W, path.b_h))
        hidden = np.less(rng.random(probability.shape, dtype=np.float32), probability).astype(np.float32)
        visible_input = np.add(hidden @ path.W.T, path.b_v)
        n_rows = visible.shape[0]
        return cls(visible, hidden, visible_input, path.labels(visible, visible_input), np.arange(n_rows),
                   np.zeros(n_rows, dtype=np.int8), np.zeros(v0.shape[0]))


class LadderRun(NamedTuple):
    """What :func:`run_ladders` counted: swaps ``accepted``, ``attempted`` per pair (B - 1,); the
    ``composition`` (B, K) class counts per rung; the rung-0 ``labels`` (n_steps, n_chains),
    ``mean_visible``, ``free_energy`` F(v) and classifier ``confidence`` (n_steps, n_chains) of the rung-0 states;
    ``moments``: the RBM's ``(<v p(h | v)^T>, <v>, <p(h | v)>)`` over the rung-0 states of every
    :data:`MOMENT_STRIDE`-th step (Rao-Blackwellised: exact hidden conditionals)."""

    accepted: np.ndarray
    attempted: np.ndarray
    composition: np.ndarray
    labels: np.ndarray
    mean_visible: np.ndarray
    free_energy: np.ndarray
    confidence: np.ndarray
    moments: tuple


def _accepted(proposal_labels, current_labels, bias_rows, rng: np.random.Generator) -> np.ndarray:
    """Accept the proposed rows with probability ``min(1, exp(psi[c'] - psi[c]))``; returns the accepted mask."""
    log_ratio = (np.take_along_axis(bias_rows, proposal_labels[:, None], axis=1)
                 - np.take_along_axis(bias_rows, current_labels[:, None], axis=1))[:, 0]
    return np.log(rng.random(log_ratio.size)) < log_ratio


def gibbs_sweep(path: TemperingPath, ladders: Ladders, beta_rows, bias_rows, rng: np.random.Generator) -> None:
    """One block-Gibbs sweep of every row in place: ``h`` then ``v`` at the row's inverse temperature.

    ``beta_rows`` (R, 1) float32; ``bias_rows`` (R, K) the class bias of each row's rung. The
    block the class depends on (``h`` for ``mean_field``, ``v`` for ``visible``) is drawn from its
    conditional and accepted with ``min(1, exp(psi[c'] - psi[c]))`` (Metropolis-Hastings with
    the conditional as proposal); without bias (all zeros) every proposal is accepted.
    """
    biased = bool(np.any(bias_rows))
    hidden_input = ladders.visible @ path.W
    hidden_input += path.b_h
    hidden_input *= beta_rows
    hidden = np.less(rng.random(hidden_input.shape, dtype=np.float32), logistic(hidden_input, out=hidden_input),
                     out=hidden_input)
    visible_input = hidden @ path.W.T
    visible_input += path.b_v
    if biased and path.readout == "mean_field":
        labels = path.labels(ladders.visible, visible_input)
        keep = _accepted(labels, ladders.labels, bias_rows, rng)
        ladders.hidden[keep], ladders.visible_input[keep], ladders.labels[keep] = \
            hidden[keep], visible_input[keep], labels[keep]
    else:
        ladders.hidden, ladders.visible_input = hidden, visible_input
    drive = ladders.visible_input * beta_rows
    drive += (1.0 - beta_rows) * path.base_b_v
    visible = np.less(rng.random(drive.shape, dtype=np.float32), logistic(drive, out=drive), out=drive)
    if path.readout == "visible":
        labels = path.labels(visible, ladders.visible_input)
        keep = _accepted(labels, ladders.labels, bias_rows, rng) if biased \
            else np.ones(labels.size, dtype=bool)
        ladders.visible[keep], ladders.labels[keep] = visible[keep], labels[keep]
    else:
        ladders.visible = visible
        if not biased:
            ladders.labels = path.labels(visible, ladders.visible_input)


def swap_rungs(path: TemperingPath, ladders: Ladders, betas, bias, parity: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Swap moves between rungs ``i`` and ``i + 1`` for ``i = parity, parity + 2, ...`` in every ladder, in place.

    ``log p_i(v, h) = -beta_i E(v, h) + (1 - beta_i) b_base^T v + psi_i[c]`` (+ const); a swap of
    the states ``s_i``, ``s_j`` of rungs ``i``, ``j = i + 1`` is accepted with probability
    ``min(1, exp(log p_i(s_j) + log p_j(s_i) - log p_i(s_i) - log p_j(s_j)))``.
    Returns the accepted and attempted swaps per pair (B - 1,).
    """
    n_rungs = betas.size
    n_chains = ladders.visible.shape[0] // n_rungs
    accepted, attempted = np.zeros(n_rungs - 1), np.zeros(n_rungs - 1)
    low = np.arange(parity, n_rungs - 1, 2)
    if low.size == 0:
        return accepted, attempted
    shape = (n_rungs, n_chains)
    energy = -(np.einsum("ij,ij->i", ladders.visible, ladders.visible_input, dtype=np.float64)
               + ladders.hidden @ path.b_h.astype(np.float64)).reshape(shape)
    base = (ladders.visible @ path.base_b_v.astype(np.float64)).reshape(shape)
    labels = ladders.labels.reshape(shape)
    beta_i, beta_j = betas[low][:, None], betas[low + 1][:, None]
    bias_i, bias_j = bias[low], bias[low + 1]

    def psi(rung_bias, rung_labels):
        return np.take_along_axis(rung_bias, rung_labels, axis=1)

    log_ratio = ((beta_i - beta_j) * (energy[low] - energy[low + 1])
                 + (beta_i - beta_j) * (base[low] - base[low + 1])
                 + psi(bias_i, labels[low + 1]) + psi(bias_j, labels[low])
                 - psi(bias_i, labels[low]) - psi(bias_j, labels[low + 1]))
    swap = np.log(rng.random(log_ratio.shape)) < log_ratio
    accepted[low] += swap.sum(axis=1)
    attempted[low] += n_chains
    pairs, chains = np.nonzero(swap)
    rows = low[pairs] * n_chains + chains
    partners = rows + n_chains
    for name in ("visible", "hidden", "visible_input", "labels", "replica"):
        array = getattr(ladders, name)
        array[rows], array[partners] = array[partners], array[rows].copy()
    return accepted, attempted


def _count_round_trips(ladders: Ladders, n_chains: int) -> None:
    """A state at the cold end (rung 0) that last visited the hot end completes a round trip."""
    cold, hot = ladders.replica[:n_chains], ladders.replica[-n_chains:]
    ladders.round_trips += ladders.last_end[cold] == -1
    ladders.last_end[cold] = 1
    ladders.last_end[hot] = -1


def run_ladders(path: TemperingPath, ladders: Ladders, betas, bias, n_steps: int, first_step: int,
                rng: np.random.Generator) -> LadderRun:
    """``n_steps`` steps (sweep, swaps of parity ``step % 2``, round-trip count) with a fixed ladder.

    ``betas`` (B,) descending from 1; ``bias`` (B, K) class biases, row 0 zero; steps are
    numbered from ``first_step``. Returns the :class:`LadderRun` of these steps.
    """
    n_rungs, n_classes = bias.shape
    n_chains = ladders.visible.shape[0] // n_rungs
    beta_rows = np.repeat(betas.astype(np.float32), n_chains)[:, None]
    bias_rows = np.repeat(bias, n_chains, axis=0)
    rung_offsets = np.repeat(np.arange(n_rungs) * n_classes, n_chains)
    accepted, attempted = np.zeros(n_rungs - 1), np.zeros(n_rungs - 1)
    composition = np.zeros(n_rungs * n_classes)
    labels = np.empty((n_steps, n_chains), dtype=np.int64)
    mean_visible, free_energy, confidence = (np.empty((n_steps, n_chains)) for _ in range(3))
    sums = [np.zeros(path.W.shape), np.zeros(path.W.shape[0]), np.zeros(path.W.shape[1])]
    n_moment_samples = 0
    for step in range(n_steps):
        gibbs_sweep(path, ladders, beta_rows, bias_rows, rng)
        swaps = swap_rungs(path, ladders, betas, bias, (first_step + step) % 2, rng)
        accepted += swaps[0]
        attempted += swaps[1]
        _count_round_trips(ladders, n_chains)
        composition += np.bincount(rung_offsets + ladders.labels, minlength=composition.size)
        cold = ladders.visible[:n_chains]
        labels[step], mean_visible[step] = ladders.labels[:n_chains], cold.mean(axis=1)
        free_energy[step] = path.free_energy(cold)
        confidence[step] = path.confidence(cold, ladders.visible_input[:n_chains])
        if (first_step + step) % MOMENT_STRIDE == 0:
            _add_moments(sums, path, cold)
            n_moment_samples += n_chains
    moments = tuple(total / max(n_moment_samples, 1) for total in sums)
    return LadderRun(accepted, attempted, composition.reshape(n_rungs, n_classes), labels, mean_visible, free_energy,
                     confidence, moments)


def _add_moments(sums: list, path: TemperingPath, visible) -> None:
    """Add ``sum v p(h | v)^T``, ``sum v`` and ``sum p(h | v)`` of the states ``visible`` to ``sums`` in place."""
    hidden = logistic(np.add(visible @ path.W, path.b_h)).astype(np.float64)
    visible = visible.astype(np.float64)
    sums[0] += visible.T @ hidden
    sums[1] += visible.sum(axis=0)
    sums[2] += hidden.sum(axis=0)


def equal_rejection_ladder(betas, rejection) -> np.ndarray:
    """Inner rungs moved so that every neighbouring pair is rejected equally often (Syed et al. 2022, section 5.3).

    The cumulative rejection ``Lambda(beta)`` (piecewise linear through the rungs, each pair's
    rejection at least :data:`MIN_REJECTION`) is split into equal parts; the ends stay.
    """
    betas = np.asarray(betas, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(np.maximum(rejection, MIN_REJECTION))])
    moved = np.interp(np.linspace(0.0, cumulative[-1], betas.size), cumulative, betas)
    moved[0], moved[-1] = betas[0], betas[-1]
    return moved


def flattened_class_bias(bias, composition, floor: float) -> np.ndarray:
    """Class biases moved toward a common class composition on every rung (row 0 stays 0).

    Target: ``(1 - floor)`` times rung 0's composition plus ``floor`` spread evenly over
    the classes; compositions smoothed by a Jeffreys half count. Each rung's bias moves by
    ``log(target / composition)``, clipped to :data:`MAX_BIAS_STEP`, centred per rung.
    """
    n_classes = composition.shape[1]
    smoothed = (composition + JEFFREYS) / (composition + JEFFREYS).sum(axis=1, keepdims=True)
    target = (1.0 - floor) * smoothed[0] + floor / n_classes
    moved = bias + np.clip(np.log(target) - np.log(smoothed), -MAX_BIAS_STEP, MAX_BIAS_STEP)
    moved -= moved.mean(axis=1, keepdims=True)
    moved[0] = 0.0
    return moved


def adaptation_rounds(burn_in: int, n_rounds: int) -> list[int]:
    """Lengths of ``n_rounds`` adaptation rounds doubling in length, summing to ``burn_in`` steps."""
    if n_rounds == 0:
        return []
    ends = np.round(burn_in * (2.0 ** np.arange(1, n_rounds + 1) - 1) / (2.0 ** n_rounds - 1)).astype(int)
    lengths = np.diff(np.concatenate([[0], ends]))
    if np.any(lengths < 1):
        raise ValueError(f"{n_rounds} adaptation rounds need at least {2 ** n_rounds - 1} burn-in steps, got {burn_in}")
    return lengths.tolist()


def linear_ladder(beta_min: float, n_betas: int) -> np.ndarray:
    """``n_betas`` inverse temperatures from 1 down to ``beta_min`` (>= 0), evenly spaced (where adaptation starts)."""
    plain_gibbs = n_betas == 1 and beta_min == 1
    if not plain_gibbs and not (0 <= beta_min < 1 and n_betas >= 2):
        raise ValueError(f"need 0 <= beta_min < 1 and n_betas >= 2, or beta_min 1 with n_betas 1 (plain Gibbs), "
                         f"got beta_min {beta_min}, n_betas {n_betas}")
    return np.linspace(1.0, beta_min, n_betas)


class TemperingResult(NamedTuple):
    """A :func:`parallel_tempering` run: the rung-0 ``labels``, ``mean_visible``, ``free_energy`` and ``confidence``
    (n_kept, n_chains) of the kept steps; the frozen ladder ``betas`` (B,) and ``class_bias`` (B, K);
    over the kept steps the ``swap_acceptance`` per pair (B - 1,), the ``round_trips`` per ladder
    (n_chains,), the class ``composition`` (B, K) counts per rung and the RBM's ``moments``
    (:class:`LadderRun`)."""

    labels: np.ndarray
    mean_visible: np.ndarray
    free_energy: np.ndarray
    confidence: np.ndarray
    betas: np.ndarray
    class_bias: np.ndarray
    swap_acceptance: np.ndarray
    round_trips: np.ndarray
    composition: np.ndarray
    moments: tuple


def parallel_tempering(path: TemperingPath, v0, betas, n_steps: int, burn_in: int, seed, n_rounds: int = 0,
                       class_bias: bool = False, class_floor: float = 0.2) -> TemperingResult:
    """Parallel tempering of ``len(v0)`` ladders (module docstring); ladder ``c`` starts from ``v0[c]`` on every rung.

    ``betas`` (B,): the starting ladder, descending from 1. The first ``burn_in`` of the
    ``n_steps`` steps are dropped; with ``n_rounds`` > 0 they are ``n_rounds`` adaptation
    rounds of doubling length (:func:`adaptation_rounds`), after each of which the inner rungs
    move to equal rejection (:func:`equal_rejection_ladder`) and, with ``class_bias``, the class
    biases toward a common composition with uniform share ``class_floor``
    (:func:`flattened_class_bias`). The kept steps run with the frozen ladder. ``seed``: int or Generator.
    """
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or betas[0] != 1.0 or np.any(np.diff(betas) > 0) or np.any(betas < 0):
        raise ValueError(f"betas must be a 1-D ladder descending from 1 to >= 0, got {betas}")
    if not 0 <= burn_in < n_steps:
        raise ValueError(f"need 0 <= burn_in < n_steps, got burn_in {burn_in}, n_steps {n_steps}")
    rng = np.random.default_rng(seed)
    bias = np.zeros((betas.size, path.coef.shape[1]))
    ladders = Ladders.start(path, v0, betas.size, rng)
    step = 0
    for length in adaptation_rounds(burn_in, n_rounds) if betas.size > 1 else [burn_in]:
        run = run_ladders(path, ladders, betas, bias, length, step, rng)
        step += length
        if betas.size > 1 and n_rounds:
            betas = equal_rejection_ladder(betas, 1.0 - run.accepted / run.attempted)
            if class_bias:
                bias = flattened_class_bias(bias, run.composition, class_floor)
    ladders.round_trips[:] = 0
    kept = run_ladders(path, ladders, betas, bias, n_steps - burn_in, step, rng)
    with np.errstate(invalid="ignore"):
        acceptance = kept.accepted / kept.attempted
    return TemperingResult(kept.labels, kept.mean_visible, kept.free_energy, kept.confidence, betas, bias, acceptance,
                           ladders.round_trips.copy(), kept.composition, kept.moments)


def class_distribution(labels, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class frequencies of ``labels`` (n_samples, n_chains) and their standard errors from independent chains.

    The standard error is the spread of the per-chain frequencies over the chains
    divided by ``sqrt(n_chains)``: it needs no model of the autocorrelation.
    """
    indicators = np.asarray(labels)[..., None] == np.arange(n_classes)
    per_chain = indicators.mean(axis=0)
    return per_chain.mean(axis=0), per_chain.std(axis=0, ddof=1) / np.sqrt(per_chain.shape[0])


def class_convergence(labels, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank-normalised split-R-hat and bulk ESS (ArviZ, Vehtari et al. 2021) of each class indicator of
    ``labels`` (n_samples, n_chains) over the chains.

    A class whose indicator never changes in any chain (never or always visited by every
    chain) carries no information on mixing: its R-hat is 1 (the chains agree) and its ESS
    ``nan``. Chains constant within but differing between give ``inf``. Returns (K,), (K,).
    """
    indicators = (np.asarray(labels).T[..., None] == np.arange(n_classes)).astype(np.float64)
    r_hat = rank_r_hat(indicators)
    return np.where(np.isnan(r_hat), 1.0, r_hat), bulk_ess(indicators)


def model_reference(reference: xr.Dataset, statistics: xr.Dataset | None = None) -> ModelReference:
    """The :class:`ModelReference` of a :func:`reference_dataset` (its class distribution smoothed,
    :func:`~lif_tempering.sampling.divergence.smoothed_histogram`, Jeffreys, positive) or of a
    :func:`data_statistics_dataset` (no class distribution), with the test images' statistics: those of
    ``statistics`` (a :func:`data_statistics_dataset` under another machine, e.g. a network trained in the
    loop) where given, else the reference's own."""
    attrs = reference.attrs
    probability = (smoothed_histogram(reference["class_probability"].values * attrs["n_samples"], JEFFREYS)
                   if "class_probability" in reference else None)
    data = (statistics if statistics is not None else reference).attrs
    return ModelReference(probability, float(data["data_free_energy"]), float(data["data_mean_visible"]))


def data_statistics(W, b_v, b_h, test_images) -> dict:
    """What the ground-state quality measures compare with: the test images' mean pixel activity
    ``data_mean_visible`` and mean visible free energy ``data_free_energy`` under the RBM (nats), with their units."""
    test_images = np.asarray(test_images, dtype=np.float64)
    return {"data_mean_visible": float(test_images.mean()),
            "data_free_energy": float(visible_free_energy(test_images, *(np.asarray(a, dtype=np.float64)
                                                                         for a in (W, b_v, b_h))).mean()),
            "mean_visible_units": "1 (fraction of pixels on)",
            "free_energy_units": "nat (visible free energy F(v) at T = 1, mean over samples or test images)"}


def data_statistics_dataset(W, b_v, b_h, test_images) -> xr.Dataset:
    """The :func:`data_statistics` of one RBM as attributes of an otherwise empty dataset: the target of the quality
    measures where no class distribution is needed (the parameter scan's RBMs; :func:`model_reference` reads it)."""
    return xr.Dataset(attrs={"title": "Test images' statistics under a trained RBM (no class distribution)",
                             "n_test_images": int(len(test_images)), **data_statistics(W, b_v, b_h, test_images)})


def class_start_states(images, labels, n_chains: int, n_classes: int) -> np.ndarray:
    """Start states (n_chains, n_v): ladder ``c`` starts from the first image of class ``c mod n_classes``
    not used yet (cycling through the images of each class)."""
    images, labels = np.asarray(images), np.asarray(labels)
    by_class = [np.flatnonzero(labels == k) for k in range(n_classes)]
    if any(index.size == 0 for index in by_class):
        raise ValueError("every class needs at least one start image")
    return np.stack([images[by_class[c % n_classes][(c // n_classes) % by_class[c % n_classes].size]]
                     for c in range(n_chains)]).astype(np.float64)


def _var(dims, values, units, long_name):
    return dims, np.asarray(values), {"units": units, "long_name": long_name}


#: The RBM's moments in a reference file: name, dimensions, what is averaged.
MOMENT_VARIABLES = (("model_moment_visible_hidden", ("visible", "hidden"), "<v p(h | v)^T>"),
                    ("model_moment_visible", ("visible",), "<v>"),
                    ("model_moment_hidden", ("hidden",), "<p(h | v)>"))


def _reference_variables(result: TemperingResult, probability, std_error, prior, r_hat, ess) -> dict:
    per_ladder = (result.labels[..., None] == np.arange(prior.size)).mean(axis=0)
    composition = result.composition / result.composition.sum(axis=1, keepdims=True)
    return {
        "class_probability": _var("class", probability, "1", "fraction of the reference samples (beta = 1) with "
                                                           "each label"),
        "class_probability_std_error": _var("class", std_error, "1", "standard error of class_probability from the "
                                                                     "spread over independent ladders"),
        "data_class_prior": _var("class", prior, "1", "fraction of the training images in each class"),
        "class_r_hat": _var("class", r_hat, "1", "rank-normalised split-R-hat of the class indicator over the ladders "
                                                 "(1 where no ladder ever changed it)"),
        "class_ess_bulk": _var("class", ess, "1", "bulk effective sample size of the class indicator over all ladders "
                                                  "(nan where no ladder ever changed it)"),
        "ladder_class_probability": _var(("ladder", "class"), per_ladder, "1", "fraction of each ladder's samples "
                                                                               "with each label"),
        "round_trips": _var("ladder", result.round_trips, "1", "states that went from the cold end to the hot end "
                                                               "and back, per ladder, over the kept steps"),
        "swap_acceptance": _var("beta_pair", result.swap_acceptance, "1", "acceptance rate of swaps between rungs i "
                                                                          "and i+1 over the kept steps"),
        "beta": _var("beta_index", result.betas, "1", "inverse temperature of the rung (frozen after the burn-in)"),
        "class_bias": _var(("beta_index", "class"), result.class_bias, "nat", "class bias psi of the rung's "
                                                                              "distribution (0 at beta = 1)"),
        "rung_class_composition": _var(("beta_index", "class"), composition, "1", "fraction of each rung's states "
                                                                                  "with each label (kept steps)"),
        **{name: _var(dims, moment, "1", f"{long_name} over the beta = 1 samples of every {MOMENT_STRIDE}-th kept "
                                          "step: the RBM's own moment (hidden units by their exact conditional)")
           for (name, dims, long_name), moment in zip(MOMENT_VARIABLES, result.moments)},
    }


def reference_dataset(W, b_v, b_h, classifier, prior, test_images, test_labels, settings: dict, readout: str,
                      seed: int, train_images=None) -> xr.Dataset:
    """The reference class distribution of one RBM (module docstring) as a self-describing dataset.

    ``classifier``: a :class:`~lif_tempering.learning.classifier.SoftmaxClassifier` (``coef``,
    ``intercept``), seeing ``readout`` (``mean_field`` or ``visible``, as in the mixing analysis);
    ``prior`` (K,) the training images' class frequencies; ``test_images`` (N, n_v) binary and
    ``test_labels`` (N,) give the start states (ladders start in every class,
    :func:`class_start_states`) and the data statistics; ``train_images`` the hot end's
    independent-pixel model (``hot_end: base_rate``). ``settings``: n_chains, n_betas, beta_min,
    n_sweeps, burn_in_sweeps, adaptation_rounds, class_bias, class_bias_floor, hot_end, r_hat_max.
    """
    W, b_v, b_h = (np.asarray(a, dtype=np.float64) for a in (W, b_v, b_h))
    prior = np.asarray(prior, dtype=np.float64)
    if settings["hot_end"] not in HOT_ENDS:
        raise ValueError(f"unknown hot_end {settings['hot_end']!r}; allowed: {', '.join(HOT_ENDS)}")
    if settings["hot_end"] == "base_rate" and train_images is None:
        raise ValueError("hot_end base_rate needs the training images")
    base_b_v = base_rate_visible_bias(train_images) if settings["hot_end"] == "base_rate" else None
    path = TemperingPath.of(W, b_v, b_h, classifier, readout, base_b_v)
    v0 = class_start_states(test_images, test_labels, settings["n_chains"], prior.size)
    result = parallel_tempering(path, v0, linear_ladder(settings["beta_min"], settings["n_betas"]),
                                settings["n_sweeps"], settings["burn_in_sweeps"], seed, settings["adaptation_rounds"],
                                settings["class_bias"], settings["class_bias_floor"])
    probability, std_error = class_distribution(result.labels, prior.size)
    r_hat, ess = class_convergence(result.labels, prior.size)
    max_r_hat = float(np.max(r_hat))
    min_ess = float(np.nanmin(ess)) if np.isfinite(ess).any() else float(settings["n_chains"])
    axis = {"units": "1"}
    return xr.Dataset(
        _reference_variables(result, probability, std_error, prior, r_hat, ess),
        coords={"class": ("class", np.arange(prior.size), {**axis, "long_name": "class label"}),
                "ladder": ("ladder", np.arange(v0.shape[0]), {**axis, "long_name": "independent ladder"}),
                "beta_index": ("beta_index", np.arange(result.betas.size), {**axis, "long_name": "rung of the ladder"}),
                "beta_pair": ("beta_pair", np.arange(result.betas.size - 1),
                              {**axis, "long_name": "neighbouring rungs i and i+1"}),
                "visible": ("visible", np.arange(W.shape[0]), {**axis, "long_name": "visible unit"}),
                "hidden": ("hidden", np.arange(W.shape[1]), {**axis, "long_name": "hidden unit"})},
        attrs={
            "title": "Reference class distribution of a trained RBM: parallel tempering",
            "reference_prior_kl": kl_divergence(probability, prior),
            "reference_prior_kl_units": "nat",
            "reference_prior_kl_definition": "D_KL(reference || data class prior)",
            "max_r_hat": max_r_hat,
            "r_hat_method": "ArviZ rank-normalised split-R-hat of the class indicators (Vehtari et al. 2021)",
            "min_ess_bulk": min_ess,
            "r_hat_max": float(settings["r_hat_max"]),
            "converged": int(max_r_hat <= settings["r_hat_max"]),
            "n_samples": int(result.labels.size),
            **{key: int(settings[key]) for key in ("n_chains", "n_sweeps", "burn_in_sweeps", "adaptation_rounds",
                                                   "class_bias")},
            "class_bias_floor": float(settings["class_bias_floor"]),
            "hot_end": settings["hot_end"],
            "n_betas": int(result.betas.size),
            "beta_min": float(result.betas[-1]),
            "readout": readout,
            "seed": int(seed),
            "start_states": "test images, ladder c from class c mod n_classes",
            "reference_mean_visible": float(result.mean_visible.mean()),
            "reference_free_energy": float(result.free_energy.mean()),
            "reference_confidence": float(result.confidence.mean()),
            "reference_confidence_definition": "mean classifier max-probability of the beta = 1 samples (readout as "
                                               "the mixing analysis's ground_confidence): what an exact sampler of "
                                               "the RBM scores",
            **data_statistics(W, b_v, b_h, test_images),
        },
    )

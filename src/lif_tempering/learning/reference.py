"""The model's own class distribution: parallel tempering of a trained RBM (docs/mixing.md).

A trained RBM need not reproduce the data's class prior (a one-mode-heavy RBM
samples mostly one digit), so a class histogram that converges to the prior is
the wrong target for a sampler of the RBM. The reference is the class
distribution of long abstract chains known to mix:

- :func:`parallel_tempering`: ``n_chains`` independent ladders of inverse
  temperatures ``betas`` (``betas[0] = 1``, :func:`beta_ladder`), one block-Gibbs
  sweep at every ``beta`` per step, then swap moves of the joint states ``(v, h)``
  between neighbouring ``beta`` (even pairs on even steps, odd pairs on odd ones),
  accepted with probability ``min(1, exp((beta_i - beta_j) (E_i - E_j)))`` of their
  energies ``E(v, h) = -v^T W h - b_v^T v - b_h^T h``; the
  ``beta = 1`` states are kept after ``burn_in`` steps (Swendsen and Wang 1986;
  Geyer 1991; Desjardins et al. 2010 for RBMs);
- :func:`split_r_hat`: the convergence check, split-R-hat (Gelman and Rubin
  1992; Vehtari et al. 2021) of the class indicators over the ladders, each
  halved in time: ladders started in different classes (from test images of
  each class) must agree on the class distribution, and each ladder's first half
  with its second;
- :func:`reference_dataset`: the workflow's ``reference.nc`` per trained RBM:
  class distribution and its standard error, the data's class prior,
  ``D_KL(reference || prior)``, R-hat, swap acceptance, the sampler settings, and
  the data statistics the ground-state quality measures compare with (mean
  visible free energy and pixel activity of the test images);
- :func:`data_statistics_dataset`: those data statistics alone (no parallel
  tempering), the workflow's ``data_statistics.nc`` of the parameter scan's RBMs,
  whose analysis does not use the class distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.special import expit

from lif_tempering.learning.classifier import classify, visible_readout
from lif_tempering.learning.rbm import swap_neighbouring_betas, visible_free_energy
from lif_tempering.sampling.divergence import JEFFREYS, kl_divergence, smoothed_histogram


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
    """The ladders of a :func:`reference_dataset` disagree on the class distribution (split-R-hat too high)."""

    def __init__(self, reference: xr.Dataset):
        r_hat, attrs = reference["class_r_hat"], reference.attrs
        super().__init__(
            f"the reference chains did not converge: split-R-hat {float(r_hat.max()):.4f} of class "
            f"{int(np.argmax(r_hat.values))} exceeds reference.r_hat_max = {attrs['r_hat_max']}; raise reference.n_sweeps "
            f"(now {attrs['n_sweeps']}), or reference.n_betas (now {attrs['n_betas']}) if the lowest swap acceptance "
            f"({float(reference['swap_acceptance'].min()):.3f}) is small, or lower reference.beta_min "
            f"(now {attrs['beta_min']})")


def beta_ladder(beta_min: float, n_betas: int) -> np.ndarray:
    """``n_betas`` inverse temperatures from 1 down to ``beta_min``, geometrically spaced (descending)."""
    if not 0 < beta_min <= 1 or n_betas < 1 or (n_betas == 1 and beta_min != 1):
        raise ValueError(f"need 0 < beta_min <= 1 and n_betas >= 1 (1 only with beta_min 1), "
                         f"got beta_min {beta_min}, n_betas {n_betas}")
    return np.geomspace(1.0, beta_min, n_betas)


def parallel_tempering(W, b_v, b_h, betas, n_chains: int, n_steps: int, burn_in: int, seed, v0=None,
                       observe=None) -> tuple[np.ndarray, np.ndarray]:
    """Parallel tempering of an RBM (see the module docstring), vectorised over ladders and ``betas``.

    ``betas`` (B,) with ``betas[0] = 1``; ``n_chains`` independent ladders; ``v0``
    (n_chains, n_v) start states of each ladder at every ``beta`` (default uniformly
    random); ``seed`` int or Generator. A step is ``h ~ p_beta(h | v)`` and
    ``v ~ p_beta(v | h)`` at every ``beta`` (each kept ``beta = 1`` pair ``(v, h)`` is a
    joint sample), then the swap moves. ``observe(v, h)`` maps the
    (n_chains, n_v) and (n_chains, n_h) float 0/1 states at ``beta = 1`` to an
    array with leading axis n_chains (default: ``v`` as int8).

    Returns ``(observed, swap_acceptance)``: ``observe``'s outputs of the steps after
    ``burn_in``, stacked to (n_steps - burn_in, n_chains, ...), and the acceptance
    rate of swaps between ``betas[i]`` and ``betas[i + 1]``, shape (B - 1,).
    """
    W = np.asarray(W, dtype=np.float64)
    b_v, b_h = np.asarray(b_v, dtype=np.float64), np.asarray(b_h, dtype=np.float64)
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or betas[0] != 1.0 or np.any(betas <= 0):
        raise ValueError(f"betas must be a positive 1-D ladder starting at 1, got {betas}")
    if not 0 <= burn_in < n_steps:
        raise ValueError(f"need 0 <= burn_in < n_steps, got burn_in {burn_in}, n_steps {n_steps}")
    if observe is None:
        def observe(v, h):
            return v.astype(np.int8)
    rng = np.random.default_rng(seed)
    n_visible, n_hidden = W.shape
    shape = (betas.size, n_chains)
    if v0 is None:
        v = rng.integers(0, 2, size=shape + (n_visible,)).astype(np.float64)
    else:
        v = np.broadcast_to(np.asarray(v0, dtype=np.float64).reshape(n_chains, n_visible), shape + (n_visible,)).copy()
    column = betas[:, None, None]
    accepted, attempted = np.zeros(betas.size - 1), np.zeros(betas.size - 1)
    observed = []
    for step in range(n_steps):
        h = (rng.random(shape + (n_hidden,)) < expit(column * (v @ W + b_h))).astype(np.float64)
        visible_input = h @ W.T + b_v
        v = (rng.random(shape + (n_visible,)) < expit(column * visible_input)).astype(np.float64)
        if step >= burn_in:
            observed.append(observe(v[0], h[0]))
        swaps = swap_neighbouring_betas(v, h, visible_input, b_h, betas, step % 2, rng)
        accepted += swaps[0]
        attempted += swaps[1]
    with np.errstate(invalid="ignore"):
        return np.stack(observed), accepted / attempted


def split_r_hat(indicators) -> np.ndarray:
    """Split-R-hat of each column of ``indicators`` (n_samples, n_chains, K), e.g. one-hot class labels.

    Every chain is split into its first and second half (2 n_chains chains of
    ``n = n_samples // 2``); with ``W`` the mean within-chain variance and ``B / n``
    the variance of the chain means, ``R = sqrt(((n - 1) / n W + B / n) / W)``
    (Gelman and Rubin 1992, split as in Vehtari et al. 2021). A column constant
    over all chains gives 1; one constant within chains but differing between them
    (stuck chains) gives ``inf``. Returns (K,).
    """
    x = np.asarray(indicators, dtype=np.float64)
    n = x.shape[0] // 2
    if n < 2:
        raise ValueError(f"need at least 4 samples per chain, got {x.shape[0]}")
    halves = np.concatenate([x[:n], x[x.shape[0] - n:]], axis=1)
    within = halves.var(axis=0, ddof=1).mean(axis=0)
    between_over_n = halves.mean(axis=0).var(axis=0, ddof=1)
    variance = (n - 1) / n * within + between_over_n
    with np.errstate(divide="ignore", invalid="ignore"):
        r_hat = np.sqrt(variance / within)
    return np.where(variance == 0, 1.0, np.where(within == 0, np.inf, r_hat))


def class_distribution(labels, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class frequencies of ``labels`` (n_samples, n_chains) and their standard errors from independent chains.

    The standard error is the spread of the per-chain frequencies over the chains
    divided by ``sqrt(n_chains)``: it needs no model of the autocorrelation.
    """
    indicators = np.asarray(labels)[..., None] == np.arange(n_classes)
    per_chain = indicators.mean(axis=0)
    return per_chain.mean(axis=0), per_chain.std(axis=0, ddof=1) / np.sqrt(per_chain.shape[0])


def model_reference(reference: xr.Dataset) -> ModelReference:
    """The :class:`ModelReference` of a :func:`reference_dataset` (its class distribution smoothed,
    :func:`~lif_tempering.sampling.divergence.smoothed_histogram`, Jeffreys, positive) or of a
    :func:`data_statistics_dataset` (no class distribution), with the test images' statistics."""
    attrs = reference.attrs
    probability = (smoothed_histogram(reference["class_probability"].values * attrs["n_samples"], JEFFREYS)
                   if "class_probability" in reference else None)
    return ModelReference(probability, float(attrs["data_free_energy"]), float(attrs["data_mean_visible"]))


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


def reference_dataset(W, b_v, b_h, classifier, prior, test_images, test_labels, settings: dict, readout: str,
                      seed: int) -> xr.Dataset:
    """The reference class distribution of one RBM (module docstring) as a self-describing dataset.

    ``classifier`` labels images (:func:`lif_tempering.learning.classifier.classify`), seen through
    ``readout`` (:func:`lif_tempering.learning.classifier.visible_readout`, as in the mixing
    analysis); ``prior`` (K,) the training images' class frequencies; ``test_images``
    (N, n_v) binary and ``test_labels`` (N,) give the start states (ladders start
    in every class, :func:`class_start_states`) and the data statistics.
    ``settings``: n_chains, n_betas, beta_min, n_sweeps, burn_in_sweeps, r_hat_max.
    """
    W, b_v, b_h = (np.asarray(a, dtype=np.float64) for a in (W, b_v, b_h))
    prior = np.asarray(prior, dtype=np.float64)
    n_classes, n_visible = prior.size, W.shape[0]
    betas = beta_ladder(settings["beta_min"], settings["n_betas"])

    def observe(v, h):
        labels, _ = classify(classifier, visible_readout(np.concatenate([v, h], axis=1), n_visible, W, b_v, readout))
        return np.stack([labels, v.mean(axis=1), visible_free_energy(v, W, b_v, b_h)], axis=1)

    v0 = class_start_states(test_images, test_labels, settings["n_chains"], n_classes)
    observed, acceptance = parallel_tempering(W, b_v, b_h, betas, settings["n_chains"], settings["n_sweeps"],
                                              settings["burn_in_sweeps"], seed, v0=v0, observe=observe)
    labels = observed[..., 0].astype(np.int64)
    probability, std_error = class_distribution(labels, n_classes)
    r_hat = split_r_hat(labels[..., None] == np.arange(n_classes))
    max_r_hat = float(np.max(r_hat))

    def var(dims, values, units, long_name):
        return dims, np.asarray(values), {"units": units, "long_name": long_name}

    return xr.Dataset(
        {
            "class_probability": var("class", probability, "1", "fraction of the reference samples (beta = 1) "
                                                                 "with each label"),
            "class_probability_std_error": var("class", std_error, "1", "standard error of class_probability from "
                                                                        "the spread over independent ladders"),
            "data_class_prior": var("class", prior, "1", "fraction of the training images in each class"),
            "class_r_hat": var("class", r_hat, "1", "split-R-hat of the class indicator over the ladders"),
            "swap_acceptance": var("beta_pair", acceptance, "1", "acceptance rate of swaps between betas i and i+1"),
            "beta": var("beta_index", betas, "1", "inverse temperature of the ladder (beta = 1 / T)"),
        },
        coords={"class": ("class", np.arange(n_classes), {"units": "1", "long_name": "class label"}),
                "beta_index": ("beta_index", np.arange(betas.size), {"units": "1", "long_name": "rung of the ladder"}),
                "beta_pair": ("beta_pair", np.arange(betas.size - 1),
                              {"units": "1", "long_name": "neighbouring rungs i and i+1"})},
        attrs={
            "title": "Reference class distribution of a trained RBM: parallel tempering",
            "reference_prior_kl": kl_divergence(probability, prior),
            "reference_prior_kl_units": "nat",
            "reference_prior_kl_definition": "D_KL(reference || data class prior)",
            "max_r_hat": max_r_hat,
            "r_hat_max": float(settings["r_hat_max"]),
            "converged": int(max_r_hat <= settings["r_hat_max"]),
            "n_samples": int(labels.size),
            "n_chains": int(settings["n_chains"]),
            "n_sweeps": int(settings["n_sweeps"]),
            "burn_in_sweeps": int(settings["burn_in_sweeps"]),
            "n_betas": int(betas.size),
            "beta_min": float(betas[-1]),
            "readout": readout,
            "seed": int(seed),
            "start_states": "test images, ladder c from class c mod n_classes",
            "reference_mean_visible": float(observed[..., 1].mean()),
            "reference_free_energy": float(observed[..., 2].mean()),
            **data_statistics(W, b_v, b_h, test_images),
        },
    )

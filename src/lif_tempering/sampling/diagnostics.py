"""Multi-chain convergence diagnostics: rank-normalised split-R-hat and effective sample sizes (docs/mixing.md).

Several independent chains of one sampler on one model (e.g. the sampling seeds of one
trained RBM, or the ladders of a parallel-tempering reference) are compared as MCMC
practitioners do (Vehtari, Gelman, Simpson, Carpenter and Buerkner 2021, Bayesian
Analysis 16:667): the rank-normalised split-R-hat (``> 1.01``: the chains disagree,
e.g. they sit in different modes) and the bulk effective sample size (the number of
independent draws the chains are worth for the mean). The estimators are ArviZ's
(:func:`arviz.rhat` with ``method="rank"``, :func:`arviz.ess` with ``method="bulk"``).

A variable that never changes in any chain has neither: the chains show no variation,
so nothing about their mixing can be measured. :func:`indicator_diagnostics` reports
such a set of chains as *censored* (``r_hat`` undefined, the ESS entered at one draw per
chain) instead of dropping it.
"""

from __future__ import annotations

import logging
import warnings
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

#: R-hat below which chains count as converged (Vehtari et al. 2021).
R_HAT_CONVERGED = 1.01


def _arviz():
    """ArviZ, imported on first use: it brings matplotlib (half a second), which the sampling jobs that import
    this module's stage never need."""
    with warnings.catch_warnings():  # ArviZ announces its coming refactor at import
        warnings.simplefilter("ignore", FutureWarning)
        import arviz
    return arviz


def _draws(draws: ArrayLike) -> np.ndarray:
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim < 2 or draws.shape[0] < 1 or draws.shape[1] < 4:
        raise ValueError(f"draws must be (chain, draw, ...) with at least 4 draws per chain, got {draws.shape}")
    if not np.all(np.isfinite(draws)):
        raise ValueError("draws must be finite")
    return draws.reshape(draws.shape[0], draws.shape[1], -1)


def _per_variable(draws: np.ndarray, estimator, **kwargs) -> np.ndarray:
    flat = _draws(draws)
    out = np.full(flat.shape[2], np.nan)
    logger = logging.getLogger("arviz")
    level = logger.level
    logger.setLevel(logging.ERROR)  # ArviZ logs a warning for a single chain (its R-hat: nan), not an error
    try:
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            for k in range(flat.shape[2]):
                if np.ptp(flat[:, :, k]) > 0:
                    out[k] = float(estimator(flat[:, :, k], **kwargs))
    finally:
        logger.setLevel(level)
    return out.reshape(np.shape(draws)[2:])


def rank_r_hat(draws: ArrayLike) -> np.ndarray:
    """Rank-normalised split-R-hat of each variable of ``draws`` (chain, draw, ...); ``nan`` where constant, and
    for a single chain (ArviZ compares chains; it needs two).

    Chains constant within but differing between give ``inf`` (or a huge value).
    """
    return _per_variable(draws, _arviz().rhat, method="rank")


def bulk_ess(draws: ArrayLike) -> np.ndarray:
    """Bulk effective sample size of each variable of ``draws`` (chain, draw, ...), over all chains; ``nan``
    where constant. Never negative; may exceed the number of draws for anticorrelated chains."""
    return _per_variable(draws, _arviz().ess, method="bulk")


class ChainDiagnostics(NamedTuple):
    """Diagnostics of a set of chains: the worst R-hat and the smallest bulk ESS over the variables that vary.

    ``censored``: no variable varies in any chain; ``r_hat`` is then ``nan`` and ``ess_bulk``
    the number of chains (one draw per chain: what chains that never move can be worth at most
    if they started independently).
    """

    r_hat: float
    ess_bulk: float
    censored: bool


def chain_diagnostics(draws: ArrayLike) -> ChainDiagnostics:
    """:class:`ChainDiagnostics` of ``draws`` (chain, draw, ...): max R-hat and min bulk ESS over the varying variables."""
    draws = _draws(draws)
    r_hat, ess = rank_r_hat(draws), bulk_ess(draws)
    varying = np.isfinite(ess)
    if not varying.any():
        return ChainDiagnostics(np.nan, float(draws.shape[0]), True)
    return ChainDiagnostics(float(np.max(np.where(varying, r_hat, -np.inf))), float(np.min(ess[varying])), False)


def indicator_diagnostics(labels: ArrayLike, n_classes: int) -> ChainDiagnostics:
    """:func:`chain_diagnostics` of the class indicators (one-hot) of integer ``labels`` (chain, draw).

    Classes never visited, or visited throughout by every chain, carry no information and are left out.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or np.any(labels < 0) or np.any(labels >= n_classes):
        raise ValueError(f"labels must be (chain, draw) integers in [0, {n_classes})")
    return chain_diagnostics((labels[..., None] == np.arange(n_classes)).astype(np.float64))

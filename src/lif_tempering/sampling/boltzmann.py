"""Boltzmann machines in the abstract domain: exact distributions, Gibbs sampling, fits.

Convention (used throughout the project)::

    p(z) = exp(1/2 z^T W z + b^T z) / Z,    z in {0, 1}^n,

with ``W`` symmetric and zero on the diagonal, so ``1/2 z^T W z = sum_{i<j} W_ij z_i z_j``.
The energy is ``E(z) = -(1/2 z^T W z + b^T z)`` and an inverse temperature ``beta``
gives ``p_beta(z) ~ exp(-beta E(z))``.

States are numbered as binary numbers with **unit 0 as the most significant bit**:
state index ``k`` has ``z_i = (k >> (n - 1 - i)) & 1``. For ``n = 3``, index 1 is
``(0, 0, 1)`` and index 4 is ``(1, 0, 0)``. :func:`all_states`, :func:`state_index`,
:func:`states_from_indices`, :func:`exact_distribution` and
:func:`empirical_distribution` all use this order.

All quantities are dimensionless (weights and biases in units of k_B T at T = 1).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logsumexp

MAX_EXACT_UNITS = 16  # distributions over 2**n states
MAX_ENUMERATED_UNITS = 24  # all_states: 2**24 x 24 int8 = 400 MB


def energy(z, W, b) -> np.ndarray:
    """Energy ``E(z) = -(1/2 z^T W z + b^T z)`` of each row of ``z``.

    ``z``: (..., n) binary states; ``W``: (n, n) symmetric, zero diagonal; ``b``: (n,).
    Returns an array of shape ``z.shape[:-1]`` (float64).
    """
    z = np.asarray(z, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return -(0.5 * np.einsum("...i,ij,...j->...", z, W, z) + z @ b)


def states_from_indices(indices, n: int) -> np.ndarray:
    """Binary states (..., n) int8 of the given state indices (unit 0 = most significant bit)."""
    indices = np.asarray(indices, dtype=np.int64)
    shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
    return ((indices[..., None] >> shifts) & 1).astype(np.int8)


def all_states(n: int) -> np.ndarray:
    """All ``2**n`` binary states as a (2**n, n) int8 array, row ``k`` is state index ``k``.

    Unit 0 is the most significant bit: row 1 is ``(0, ..., 0, 1)``.
    """
    if not 0 < n <= MAX_ENUMERATED_UNITS:
        raise ValueError(f"all_states: n must be in 1..{MAX_ENUMERATED_UNITS}, got {n}")
    return states_from_indices(np.arange(2**n), n)


def state_index(z) -> np.ndarray:
    """State index (int64, shape ``z.shape[:-1]``) of binary states ``z`` (..., n).

    Inverse of :func:`states_from_indices`; unit 0 is the most significant bit.
    """
    z = np.asarray(z)
    n = z.shape[-1]
    if n > 62:
        raise ValueError(f"state_index: at most 62 units fit an int64 index, got {n}")
    weights = np.left_shift(np.int64(1), np.arange(n - 1, -1, -1, dtype=np.int64))
    return (z.astype(np.int64) * weights).sum(axis=-1)


def _check_bm(W, b) -> tuple[np.ndarray, np.ndarray]:
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = b.shape[0]
    if W.shape != (n, n):
        raise ValueError(f"W must have shape ({n}, {n}) to match b, got {W.shape}")
    if not np.allclose(W, W.T) or np.any(np.diag(W) != 0):
        raise ValueError("W must be symmetric with zero diagonal")
    return W, b


def exact_distribution(W, b, beta: float = 1.0) -> np.ndarray:
    """Exact ``p_beta(z) ~ exp(-beta E(z))`` over all ``2**n`` states (n <= 16).

    Returns a (2**n,) float64 array in state-index order, normalised with a
    log-sum-exp so that large weights do not overflow.
    """
    W, b = _check_bm(W, b)
    n = b.shape[0]
    if n > MAX_EXACT_UNITS:
        raise ValueError(f"exact_distribution enumerates 2**n states; n = {n} > {MAX_EXACT_UNITS}")
    log_weights = -beta * energy(all_states(n), W, b)
    return np.exp(log_weights - logsumexp(log_weights))


def state_counts(samples) -> np.ndarray:
    """Number of samples in each state of ``samples`` (..., n), all leading axes pooled.

    Returns a (2**n,) int64 array in state-index order.
    """
    samples = np.asarray(samples)
    n = samples.shape[-1]
    if n > MAX_EXACT_UNITS:
        raise ValueError(f"state_counts: n = {n} > {MAX_EXACT_UNITS}")
    return np.bincount(state_index(samples).ravel(), minlength=2**n)


def empirical_distribution(samples) -> np.ndarray:
    """Relative frequency of each state in ``samples`` (..., n), all leading axes pooled.

    Returns a (2**n,) float64 array in state-index order summing to 1.
    """
    counts = state_counts(samples)
    return counts / counts.sum()


def gibbs_sample(W, b, n_sweeps: int, n_chains: int, seed, beta=1.0, z0=None) -> np.ndarray:
    """Gibbs sampling of a Boltzmann machine, vectorised over independent chains.

    One sweep updates units 0, 1, ..., n-1 in turn, each from
    ``p(z_i = 1 | z_rest) = sigmoid(beta * (W_i . z + b_i))``.

    ``beta``: scalar or (n_sweeps,) array of inverse temperatures, one per sweep.
    ``z0``: (n_chains, n) initial states; default uniformly random from ``seed``.
    ``seed``: int or :class:`numpy.random.Generator`.
    Returns the state after every sweep, int8 array (n_sweeps, n_chains, n).
    """
    W, b = _check_bm(W, b)
    n = b.shape[0]
    rng = np.random.default_rng(seed)
    betas = np.broadcast_to(np.asarray(beta, dtype=np.float64), (n_sweeps,))
    if z0 is None:
        z = rng.integers(0, 2, size=(n_chains, n)).astype(np.float64)
    else:
        z = np.array(z0, dtype=np.float64).reshape(n_chains, n)
    samples = np.empty((n_sweeps, n_chains, n), dtype=np.int8)
    for sweep, beta_now in enumerate(betas):
        uniforms = rng.random((n_chains, n))
        for i in range(n):
            field = z @ W[:, i] + b[i]
            z[:, i] = uniforms[:, i] < expit(beta_now * field)
        samples[sweep] = z
    return samples


def random_bm(n_units: int, seed, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Random BM as in the sbs reference check: ``W = (A + A^T)/2``, ``A_ij ~ N(0, scale^2)``,
    zero diagonal, ``b_i ~ N(0, scale^2)``.

    Returns ``(W, b)`` with shapes (n_units, n_units) and (n_units,).
    """
    rng = np.random.default_rng(seed)
    A = rng.normal(0.0, scale, size=(n_units, n_units))
    W = (A + A.T) / 2
    np.fill_diagonal(W, 0.0)
    b = rng.normal(0.0, scale, size=n_units)
    return W, b


def rbm_as_bm(W_vh, b_v, b_h) -> tuple[np.ndarray, np.ndarray]:
    """The RBM ``E(v, h) = -v^T W_vh h - b_v^T v - b_h^T h`` as a full Boltzmann machine.

    ``W_vh``: (n_v, n_h). Units are ordered visible first, then hidden. Returns the
    symmetric (n_v + n_h, n_v + n_h) weight matrix (zero within each layer) and the
    (n_v + n_h,) bias vector.
    """
    W_vh = np.asarray(W_vh, dtype=np.float64)
    n_v, n_h = W_vh.shape
    W = np.zeros((n_v + n_h, n_v + n_h))
    W[:n_v, n_v:] = W_vh
    W[n_v:, :n_v] = W_vh.T
    b = np.concatenate([np.asarray(b_v, dtype=np.float64), np.asarray(b_h, dtype=np.float64)])
    return W, b


class EffectiveBMFitError(RuntimeError):
    """The optimiser of :func:`fit_effective_bm` did not converge; the message is the optimiser's."""


def fit_effective_bm(p_sampled, n: int, l2: float = 0.0, gtol: float = 1e-9, maxiter: int = 10000,
                     accept_gradient: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood Boltzmann machine ``(W_eff, b_eff)`` for a distribution over states.

    Minimises the cross-entropy ``-sum_s p_sampled(s) log p_{W,b}(s)`` (plus
    ``l2/2 * sum_{i<j} W_ij^2``) by L-BFGS with the exact gradient
    ``<z_i z_j>_model - <z_i z_j>_sampled`` and ``<z_i>_model - <z_i>_sampled``, both
    from enumeration of all 2**n states (n <= 16). The problem is convex; if
    ``p_sampled`` is exactly a BM distribution the fit returns its parameters. States
    never sampled push parameters to infinity: use ``l2 > 0`` or a smoothed histogram
    when some states have probability 0.

    ``p_sampled``: (2**n,) probabilities in state-index order.
    Returns ``W_eff`` (n, n), symmetric with zero diagonal, and ``b_eff`` (n,).
    Raises :class:`EffectiveBMFitError` (with the optimiser's message) when L-BFGS
    did not converge, so that no caller stores the parameters of an unfinished fit.
    A stop that L-BFGS reports as abnormal (its line search finds no decrease at
    rounding level, seen near gtol = 1e-9) still counts as converged when every
    gradient component, a difference of model and sampled moments, is at most
    ``accept_gradient``: far below the sampling error of any histogram.
    """
    p_sampled = np.asarray(p_sampled, dtype=np.float64)
    if p_sampled.shape != (2**n,):
        raise ValueError(f"p_sampled must have shape ({2**n},) for n = {n}, got {p_sampled.shape}")
    if n > MAX_EXACT_UNITS:
        raise ValueError(f"fit_effective_bm enumerates 2**n states; n = {n} > {MAX_EXACT_UNITS}")
    if not np.all(np.isfinite(p_sampled)) or np.any(p_sampled < 0) or not p_sampled.sum() > 0:
        raise ValueError("p_sampled must be finite, non-negative and not all zero")
    p_sampled = p_sampled / p_sampled.sum()
    states = all_states(n).astype(np.float64)
    upper_i, upper_j = np.triu_indices(n, k=1)
    features = np.hstack([states[:, upper_i] * states[:, upper_j], states])
    n_pairs = upper_i.size
    sampled_moments = p_sampled @ features
    penalty = np.concatenate([np.full(n_pairs, l2), np.zeros(n)])

    def objective(theta):
        logits = features @ theta
        log_z = logsumexp(logits)
        p_model = np.exp(logits - log_z)
        value = log_z - p_sampled @ logits + 0.5 * np.sum(penalty * theta**2)
        gradient = p_model @ features - sampled_moments + penalty * theta
        return value, gradient

    result = minimize(objective, np.zeros(n_pairs + n), jac=True, method="L-BFGS-B",
                      options={"gtol": gtol, "ftol": 1e-15, "maxiter": maxiter})
    largest_gradient = float(np.max(np.abs(result.jac)))
    if not (result.success or largest_gradient <= accept_gradient):
        raise EffectiveBMFitError(f"effective Boltzmann machine fit (n = {n}, l2 = {l2}) failed after {result.nit} "
                                  f"iterations: {result.message} (largest gradient {largest_gradient:.3g} "
                                  f"> {accept_gradient:g})")
    W_eff = np.zeros((n, n))
    W_eff[upper_i, upper_j] = result.x[:n_pairs]
    W_eff += W_eff.T
    return W_eff, result.x[n_pairs:].copy()


def coupling_gain(W_target, W_eff) -> float:
    """Least-squares slope ``g`` through the origin of ``W_eff ~ g * W_target``.

    Uses the off-diagonal entries: ``g = sum W_target W_eff / sum W_target^2``. Entries
    where ``W_target = 0`` (e.g. within an RBM layer) do not influence ``g``.
    A gain above 1 means the sampler acts as if couplings were stronger than targeted.
    """
    W_target = np.asarray(W_target, dtype=np.float64)
    W_eff = np.asarray(W_eff, dtype=np.float64)
    off_diagonal = ~np.eye(W_target.shape[0], dtype=bool)
    x, y = W_target[off_diagonal], W_eff[off_diagonal]
    return float(np.sum(x * y) / np.sum(x * x))

"""Restricted Boltzmann machines in the abstract domain: training, sampling, log Z, readout.

Convention: binary visible ``v`` (n_v,) and hidden ``h`` (n_h,) units with energy
``E(v, h) = -v^T W h - b_v^T v - b_h^T h``, ``W`` of shape (n_v, n_h), and
``p(v, h) = exp(-E(v, h)) / Z``. :func:`lif_tempering.sampling.boltzmann.rbm_as_bm` gives the
same model in the full Boltzmann machine convention. Log-probabilities and free
energies are in nats; all arrays float64 unless said otherwise. An inverse
temperature ``beta`` scales the whole energy, ``p_beta ~ exp(-beta E)``.

Training (:func:`train_rbm`) runs in float32 by default: the parameters, states, uniform
random numbers and matrix products (about 2x faster than float64, with the same gradient
statistics to float32 rounding); the results are returned as float64. The same seed, dtype,
BLAS library and thread count give the same model bit for bit; a different BLAS or thread
count changes the rounding of the products, after which the sampled states, and so the
model, eventually differ: equal in distribution, not number for number. The products run in
numpy's BLAS and the in-place updates in scipy's (:mod:`scipy.linalg.blas`), which may be a
second library: cap the threads of both (:func:`lif_tempering.runtime.limit_threads`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import blas
from scipy.special import expit, logsumexp

from lif_tempering.sampling.boltzmann import states_from_indices

MAX_ENUMERATED_LAYER = 24
_ENUMERATION_CHUNK = 1 << 12
#: Training images on which :func:`train_rbm` measures its per-epoch curves (a fixed random subset).
MONITOR_IMAGES = 10_000


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` elementwise in ``x``'s float type, as ``max(x, 0) + log1p(exp(-|x|))`` (no overflow;
    an eighth of the time of ``np.logaddexp(0, x)``, benchmarks/softplus_and_weights.py, which the per-epoch
    curves and AIS spend most of theirs in)."""
    x = np.asarray(x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def hidden_probability(v, W, b_h, beta: float = 1.0) -> np.ndarray:
    """``p_beta(h_j = 1 | v) = sigmoid(beta (v W + b_h))_j``; (..., n_v) -> (..., n_h)."""
    return expit(beta * (np.asarray(v, dtype=np.float64) @ W + b_h))


def visible_probability(h, W, b_v, beta: float = 1.0) -> np.ndarray:
    """``p_beta(v_i = 1 | h) = sigmoid(beta (W h + b_v))_i``; (..., n_h) -> (..., n_v)."""
    return expit(beta * (np.asarray(h, dtype=np.float64) @ W.T + b_v))


def visible_free_energy(v, W, b_v, b_h) -> np.ndarray:
    """Free energy ``F(v) = -b_v^T v - sum_j softplus(b_h + v W)_j`` of each row of ``v``.

    ``p(v) = exp(-F(v)) / Z``. ``v``: (..., n_v); returns (...,) in nats.
    """
    v = np.asarray(v, dtype=np.float64)
    return -(v @ b_v) - softplus(v @ W + b_h).sum(axis=-1)


def base_rate_visible_bias(data, pseudo_count: float = 1.0) -> np.ndarray:
    """Visible biases of the independent-pixel ("base-rate") model of ``data`` (N, n_v).

    ``b_i = log(m_i / (1 - m_i))`` with the smoothed mean
    ``m_i = (sum_n v_ni + pseudo_count) / (N + 2 pseudo_count)``, finite even for
    pixels that are always 0 or 1. Used to initialise training and as AIS base model.
    """
    data = np.asarray(data, dtype=np.float64)
    mean = (data.sum(axis=0) + pseudo_count) / (len(data) + 2 * pseudo_count)
    return np.log(mean) - np.log1p(-mean)


def logistic(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))`` as ``(1 + tanh(x / 2)) / 2``, in ``x``'s dtype.

    numpy's vectorised ``tanh`` makes this several times faster than ``scipy.special.expit``;
    the two agree to one unit in the last place of 1 (1.2e-7 in float32, 2.2e-16 in float64).
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def _bernoulli_from_input(total_input, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Binary states with ``p = sigmoid(beta * total_input)``, computed in place in ``total_input``'s dtype.

    One uniform number per unit, drawn in the same dtype (float64 draws are the
    stream of ``rng.random(shape)``); returns ``total_input`` overwritten with 0/1.
    """
    if beta != 1.0:
        total_input *= beta
    probability = logistic(total_input, out=total_input)
    return np.less(rng.random(probability.shape, dtype=probability.dtype), probability, out=probability)


def _gibbs_step(v, W, b_v, b_h, rng: np.random.Generator, beta: float = 1.0):
    """One block-Gibbs step ``h ~ p_beta(h | v)``, then ``v' ~ p_beta(v | h)``; 0/1 arrays in ``W``'s float dtype."""
    h = _bernoulli_from_input(np.add(v @ W, b_h, dtype=W.dtype), rng, beta)
    v_next = _bernoulli_from_input(np.add(h @ W.T, b_v, dtype=W.dtype), rng, beta)
    return v_next, h


def _tempered_gibbs_step(v, W, b_v, b_h, betas_column, rng: np.random.Generator):
    """One block-Gibbs step at every inverse temperature of a ladder, in ``W``'s float dtype.

    ``v`` (B, C, n_v) states of C chains at each of B inverse temperatures ``betas_column``
    (B, 1, 1). Returns ``(v', h, visible_input)`` with ``h ~ p_beta(h | v)``,
    ``v' ~ p_beta(v' | h)`` and ``visible_input = h W^T + b_v`` (for the swap energies).
    """
    hidden_input = np.add(v @ W, b_h, dtype=W.dtype)
    hidden_input *= betas_column
    h = np.less(rng.random(hidden_input.shape, dtype=W.dtype), logistic(hidden_input, out=hidden_input),
                out=hidden_input)
    visible_input = np.add(h @ W.T, b_v, dtype=W.dtype)
    scaled = visible_input * betas_column
    v_next = np.less(rng.random(scaled.shape, dtype=W.dtype), logistic(scaled, out=scaled), out=scaled)
    return v_next, h, visible_input


def swap_neighbouring_betas(v, h, visible_input, b_h, betas, parity: int,
                            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Parallel tempering's swap moves between ``betas[i]`` and ``betas[i + 1]``, ``i = parity, parity + 2, ...``.

    ``v`` (B, C, n_v), ``h`` (B, C, n_h) joint states of C ladders, ``visible_input`` their
    ``h W^T + b_v``: energies ``E = -v . visible_input - h . b_h``. A swap is accepted with
    probability ``min(1, exp((beta_i - beta_j) (E_i - E_j)))`` and exchanges the visible
    states in place (the next step draws ``h`` from ``v``). Returns the accepted and
    attempted swaps per pair of neighbours, shape (B - 1,).
    """
    n_betas, n_chains = v.shape[:2]
    accepted, attempted = np.zeros(n_betas - 1), np.zeros(n_betas - 1)
    low = np.arange(parity, n_betas - 1, 2)
    if low.size:
        energy = -(v[low] * visible_input[low]).sum(axis=-1) - h[low] @ b_h
        energy_high = -(v[low + 1] * visible_input[low + 1]).sum(axis=-1) - h[low + 1] @ b_h
        log_ratio = (betas[low] - betas[low + 1])[:, None] * (energy - energy_high)
        swap = np.log(rng.random(log_ratio.shape)) < log_ratio
        accepted[low] += swap.sum(axis=1)
        attempted[low] += n_chains
        pairs, chains = np.nonzero(swap)
        i, j = low[pairs], low[pairs] + 1
        v[i, chains], v[j, chains] = v[j, chains], v[i, chains]
    return accepted, attempted


def _learning_rates(learning_rate, epochs: int) -> np.ndarray:
    """Per-epoch rates: constant, or geometric from ``start`` (first epoch) to ``end`` (last)."""
    if np.isscalar(learning_rate):
        return np.full(epochs, float(learning_rate))
    start, end = learning_rate
    return start * (end / start) ** (np.arange(epochs) / max(epochs - 1, 1))


def _monitoring_curves(v, W, b_v, b_h, rng: np.random.Generator) -> tuple[float, float]:
    """Reconstruction error and stochastic pseudo-log-likelihood of the images ``v`` (N, n_v).

    Reconstruction error: mean squared error per pixel of the mean-field
    reconstruction ``p(v | p(h | v))``. Pseudo-log-likelihood: ``n_v log p(v_i | v_-i)``
    with one random unit ``i`` per image, an unbiased estimate of
    ``sum_i log p(v_i | v_-i)`` (nats per image), averaged over ``v``;
    ``log p(v_i | v_-i) = -softplus(F(v) - F(v with i flipped))``, the free-energy gap
    computed from the hidden input ``v W + b_h`` shifted by the flipped unit's row of ``W``.
    Computed in ``W``'s dtype.
    """
    hidden_input = np.add(v @ W, b_h, dtype=W.dtype)
    reconstruction = logistic(np.add(logistic(hidden_input) @ W.T, b_v, dtype=W.dtype))
    reconstruction -= v
    reconstruction_error = float(np.mean(np.square(reconstruction, out=reconstruction), dtype=np.float64))
    flipped_unit = rng.integers(0, v.shape[1], size=len(v))
    change = 1 - 2 * v[np.arange(len(v)), flipped_unit]  # +1: 0 -> 1, -1: 1 -> 0
    flipped_input = hidden_input + change[:, None] * W[flipped_unit]
    free_energy_gap = (-change * b_v[flipped_unit]
                       - softplus(flipped_input).sum(axis=1, dtype=np.float64)
                       + softplus(hidden_input).sum(axis=1, dtype=np.float64))
    return reconstruction_error, float(v.shape[1] * np.mean(-softplus(-free_energy_gap)))


def _inward(bound: float, dtype: np.dtype, toward: float) -> np.floating:
    """``bound`` in ``dtype``, rounded toward ``toward`` where ``dtype`` cannot hold it exactly."""
    value = dtype.type(bound)
    return np.nextafter(value, dtype.type(toward)) if abs(float(value) - toward) > abs(bound - toward) else value


def _projection(bias_range, weight_abs_max,
                dtype=np.float64) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """In-place clipping of ``(W, b_v, b_h)`` to the bounds (``None``: that bound is off).

    The bounds are rounded inward to ``dtype``, so that clipped parameters keep them exactly.
    """
    if bias_range is not None and not bias_range[0] < 0 < bias_range[1]:
        raise ValueError(f"bias_range must contain 0, got {bias_range}")
    if weight_abs_max is not None and not weight_abs_max > 0:
        raise ValueError(f"weight_abs_max must be positive, got {weight_abs_max}")
    dtype = np.dtype(dtype)
    if bias_range is not None:
        bias_min, bias_max = (_inward(bound, dtype, 0.0) for bound in bias_range)
    if weight_abs_max is not None:
        weight_max = _inward(weight_abs_max, dtype, 0.0)

    def project(W, b_v, b_h):
        if bias_range is not None:
            np.clip(b_v, bias_min, bias_max, out=b_v)
            np.clip(b_h, bias_min, bias_max, out=b_h)
        if weight_abs_max is not None:
            np.clip(W, -weight_max, weight_max, out=W)

    return project


class TrainingDivergedError(FloatingPointError):
    """RBM training produced non-finite parameters (learning rate too high, unbounded weights)."""


def _check_finite_parameters(epoch: int, W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray) -> None:
    """Raise :class:`TrainingDivergedError` naming ``epoch`` (0-based) and the first non-finite parameter."""
    for name, values in (("W", W), ("b_v", b_v), ("b_h", b_h)):
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            where = ("visible unit {}, hidden unit {}" if values.ndim == 2
                     else ("visible unit {}" if name == "b_v" else "hidden unit {}")).format(*bad[0])
            raise TrainingDivergedError(
                f"RBM training diverged in epoch {epoch + 1}: {len(bad)} non-finite values in {name}, first "
                f"{name}[{', '.join(map(str, bad[0]))}] = {values[tuple(bad[0])]} ({where}). Lower the learning "
                "rate or bound the parameters (rbm.learning_rate_start, rbm.parameter_bounds).")


def _monitoring_images(data: np.ndarray, n_images: int | None, rng: np.random.Generator) -> np.ndarray:
    """A fixed random subset of ``n_images`` rows of ``data`` (in their order), or all rows."""
    if n_images is None or n_images >= len(data):
        return data
    return data[np.sort(rng.choice(len(data), size=n_images, replace=False))]


def _checked_training_inputs(data, method: str, pt_betas, dtype) -> tuple[np.ndarray, np.ndarray | None, np.dtype]:
    """``data`` as a C-ordered 0/1 array of ``dtype``, the checked ladder of ``pt_pcd`` and the dtype."""
    if method not in ("pcd", "cd", "pt_pcd"):
        raise ValueError(f"method must be 'pcd', 'cd' or 'pt_pcd', got {method!r}")
    if method == "pt_pcd":
        pt_betas = np.asarray(pt_betas, dtype=np.float64)
        if pt_betas.ndim != 1 or pt_betas.size < 2 or pt_betas[0] != 1.0 or np.any(np.diff(pt_betas) >= 0) \
                or pt_betas[-1] <= 0:
            raise ValueError(f"pt_pcd needs pt_betas descending from 1 to above 0 (at least 2), got {pt_betas}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    data = np.asarray(data)
    if not np.isin(data, (0, 1)).all():
        raise ValueError("train_rbm needs binary data (values 0 and 1)")
    return np.ascontiguousarray(data, dtype=dtype), pt_betas, dtype


class _ModelChains:
    """The negative phase of training: ``k`` block-Gibbs steps from the minibatch (``cd``), of persistent
    chains (``pcd``, started from random training images), or of persistent ladders of parallel tempering
    (``pt_pcd``: a step at every beta, then swaps of neighbours; the ``beta = 1`` chains are the sample)."""

    def __init__(self, method: str, k: int, data: np.ndarray, n_chains: int, pt_betas, rng: np.random.Generator):
        self.method, self.k, self.rng, self.betas = method, k, rng, pt_betas
        if method in ("pcd", "pt_pcd"):
            self.v = data[rng.integers(0, len(data), size=n_chains)]
        if method == "pt_pcd":
            self.betas_column = pt_betas.astype(data.dtype)[:, None, None]
            self.v = np.broadcast_to(self.v, (pt_betas.size,) + self.v.shape).copy()
            self.accepted, self.attempted, self.steps = np.zeros(pt_betas.size - 1), np.zeros(pt_betas.size - 1), 0

    def sample(self, v_data: np.ndarray, W, b_v, b_h) -> np.ndarray:
        """The model sample that goes with the minibatch ``v_data`` (advances the persistent states)."""
        if self.method == "pt_pcd":
            for _ in range(self.k):
                self.v, h, visible_input = _tempered_gibbs_step(self.v, W, b_v, b_h, self.betas_column, self.rng)
                accepted, attempted = swap_neighbouring_betas(self.v, h, visible_input, b_h, self.betas,
                                                              self.steps % 2, self.rng)
                self.accepted += accepted
                self.attempted += attempted
                self.steps += 1
            return self.v[0]
        v_model = self.v if self.method == "pcd" else v_data
        for _ in range(self.k):
            v_model, _ = _gibbs_step(v_model, W, b_v, b_h, self.rng)
        if self.method == "pcd":
            self.v = v_model
        return v_model

    @property
    def swap_acceptance(self) -> np.ndarray:
        """Accepted / attempted swaps per pair of neighbouring betas so far (``pt_pcd``)."""
        with np.errstate(invalid="ignore"):
            return self.accepted / self.attempted


class _MomentumUpdate:
    """Gradient ascent with momentum and L2 weight decay on ``W``, in place on the arrays it was made with:
    ``velocity = momentum velocity + rate (<v h>_data - <v h>_model - weight_decay W)``, ``W += velocity``
    (biases alike, without decay), with ``p(h | v)`` for ``h``."""

    def __init__(self, W: np.ndarray, b_v: np.ndarray, b_h: np.ndarray):
        self.W, self.b_v, self.b_h = W, b_v, b_h
        self.velocity_W, self.velocity_b_v, self.velocity_b_h = np.zeros_like(W), np.zeros_like(b_v), np.zeros_like(b_h)
        self.W_flat, self.velocity_W_flat = W.ravel(order="F"), self.velocity_W.ravel(order="F")  # views
        self.gemm, self.axpy = blas.get_blas_funcs(("gemm", "axpy"), dtype=W.dtype)

    def __call__(self, v_data: np.ndarray, v_model: np.ndarray, rate: float, momentum: float,
                 weight_decay: float) -> None:
        # data and model phase in one product each: rows scaled by +rate/n_data and -rate/n_model,
        # so that states^T hidden = rate (<v h>_data - <v h>_model)
        states = np.concatenate((v_data, v_model))
        hidden = logistic(np.add(states @ self.W, self.b_h, dtype=self.W.dtype))
        hidden[:len(v_data)] *= rate / len(v_data)
        hidden[len(v_data):] *= -rate / len(v_model)
        self.gemm(1.0, states.T, hidden.T, beta=momentum, c=self.velocity_W, trans_b=True, overwrite_c=True)
        self.axpy(self.W_flat, self.velocity_W_flat, a=-rate * weight_decay)
        self.axpy(self.velocity_W_flat, self.W_flat, a=1.0)
        self.velocity_b_v *= momentum
        self.velocity_b_v += rate * (v_data.mean(axis=0) - v_model.mean(axis=0))
        self.velocity_b_h *= momentum
        self.velocity_b_h += hidden.sum(axis=0)
        self.b_v += self.velocity_b_v
        self.b_h += self.velocity_b_h


def train_rbm(data, n_hidden: int, epochs: int, batch_size: int = 50, learning_rate=(0.05, 0.005),
              momentum: float = 0.9, weight_decay: float = 1e-4, method: str = "pcd", k: int = 1,
              seed=0, n_persistent_chains: int | None = None, pt_betas=None, init_scale: float = 0.01,
              bias_range: tuple[float, float] | None = None, weight_abs_max: float | None = None,
              dtype=np.float32, monitor_images: int | None = MONITOR_IMAGES,
              log: Callable[[str], None] | None = None) -> dict:
    """Train an RBM on binary ``data`` (N, n_v) by stochastic gradient ascent on the log-likelihood.

    Negative phase: ``method="cd"`` runs ``k`` Gibbs steps from the minibatch (CD-k);
    ``method="pcd"`` runs ``k`` steps of ``n_persistent_chains`` persistent chains
    (default ``batch_size``, started from random training images); ``method="pt_pcd"``
    (parallel-tempering PCD, Desjardins et al. 2010) keeps such chains at every inverse
    temperature of the ladder ``pt_betas`` (descending from 1), each of its ``k`` steps a
    block-Gibbs step at every beta followed by swaps of neighbouring betas
    (:func:`swap_neighbouring_betas`, even pairs on even steps), and takes the
    ``beta = 1`` chains as the model sample. Each epoch visits
    the data once in a random order in minibatches of ``batch_size``. Updates use
    momentum (``velocity = momentum * velocity + rate * gradient``) and L2 weight
    decay on ``W`` only. ``learning_rate`` is a constant or ``(start, end)``, decayed
    geometrically over the epochs. Initialisation: ``W ~ N(0, init_scale^2)``,
    ``b_v`` = :func:`base_rate_visible_bias`, ``b_h = 0``. ``seed``: int or Generator.
    ``log``: called with one progress line per epoch.

    ``dtype``: float type of training (float32 by default; see the module docstring on reproducibility).

    ``bias_range`` ``(b_min, b_max)`` and ``weight_abs_max``: projected gradient ascent,
    every bias is clipped into the range and every weight into
    ``[-weight_abs_max, weight_abs_max]`` at initialisation and after each update, so
    that the RBM stays inside what a LIF network can represent
    (:func:`lif_tempering.learning.study.rbm_parameter_bounds`); ``None``: unbounded.

    Returns a dict with ``W`` (n_v, n_hidden), ``b_v``, ``b_h``, with ``pt_pcd`` the
    ``swap_acceptance`` of each pair of neighbouring betas over the training, and per-epoch curves
    (arrays of length ``epochs``), measured after the epoch on ``monitor_images``
    training images, a fixed random subset drawn once (``None`` or at least N: all):
    ``learning_rate``; ``reconstruction_error``, the mean squared error per pixel of the
    mean-field reconstruction ``p(v | p(h | v))``; ``pseudo_log_likelihood``, a
    stochastic estimate of ``sum_i log p(v_i | v_-i)`` per image in nats (one random
    unit per image). Subset and units come from a random stream separate from training's.

    Training that diverges stops after the epoch in which a parameter became non-finite
    (NaN or inf) with :class:`TrainingDivergedError`, naming the epoch, the parameter and its value.
    """
    data, pt_betas, dtype = _checked_training_inputs(data, method, pt_betas, dtype)
    n_images, n_visible = data.shape
    train_rng, monitor_rng = np.random.default_rng(seed).spawn(2)
    # W Fortran-ordered: BLAS updates it and its velocity in place (gemm with beta, axpy)
    W = np.asfortranarray(train_rng.normal(0.0, init_scale, size=(n_visible, n_hidden)), dtype=dtype)
    b_v = base_rate_visible_bias(data).astype(dtype)
    b_h = np.zeros(n_hidden, dtype=dtype)
    project = _projection(bias_range, weight_abs_max, dtype)
    project(W, b_v, b_h)
    update = _MomentumUpdate(W, b_v, b_h)
    chains = _ModelChains(method, k, data, n_persistent_chains or batch_size, pt_betas, train_rng)
    monitor = _monitoring_images(data, monitor_images, monitor_rng)
    rates = _learning_rates(learning_rate, epochs)
    curves = {name: np.empty(epochs) for name in ("reconstruction_error", "pseudo_log_likelihood")}
    for epoch, rate in enumerate(rates):
        order = train_rng.permutation(n_images)
        for start in range(0, n_images, batch_size):
            v_data = data[order[start:start + batch_size]]
            update(v_data, chains.sample(v_data, W, b_v, b_h), rate, momentum, weight_decay)
            project(W, b_v, b_h)
        _check_finite_parameters(epoch, W, b_v, b_h)
        curves["reconstruction_error"][epoch], curves["pseudo_log_likelihood"][epoch] = _monitoring_curves(
            monitor, W, b_v, b_h, monitor_rng)
        if log is not None:
            swaps = f", lowest swap acceptance {np.min(chains.swap_acceptance):.3f}" if method == "pt_pcd" else ""
            log(f"epoch {epoch + 1}/{epochs}: learning rate {rate:.4g}, "
                f"reconstruction error {curves['reconstruction_error'][epoch]:.4f}, "
                f"pseudo-log-likelihood {curves['pseudo_log_likelihood'][epoch]:.2f} nats{swaps}")
    result = {"W": np.ascontiguousarray(W, dtype=np.float64), "b_v": b_v.astype(np.float64),
              "b_h": b_h.astype(np.float64), "learning_rate": rates, **curves}
    if method == "pt_pcd":
        result["swap_acceptance"] = chains.swap_acceptance
    return result


def sample_rbm_gibbs(W, b_v, b_h, n_steps: int, n_chains: int, seed, beta=1.0,
                     v0=None) -> tuple[np.ndarray, np.ndarray]:
    """Block-Gibbs chains of an RBM, vectorised over ``n_chains`` independent chains.

    Step ``t`` draws ``h_t ~ p_beta_t(h | v_{t-1})`` then ``v_t ~ p_beta_t(v | h_t)``.
    ``beta``: scalar or (n_steps,) inverse temperatures, one per step.
    ``v0``: (n_chains, n_v) initial visible states, default uniformly random.
    ``seed``: int or Generator.
    Returns ``(v, h)``: int8 arrays (n_steps, n_chains, n_v) and (n_steps, n_chains, n_h).
    """
    W = np.asarray(W, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n_visible, n_hidden = W.shape
    betas = np.broadcast_to(np.asarray(beta, dtype=np.float64), (n_steps,))
    if v0 is None:
        v = rng.integers(0, 2, size=(n_chains, n_visible)).astype(np.float64)
    else:
        v = np.array(v0, dtype=np.float64).reshape(n_chains, n_visible)
    visible = np.empty((n_steps, n_chains, n_visible), dtype=np.int8)
    hidden = np.empty((n_steps, n_chains, n_hidden), dtype=np.int8)
    for step, beta_now in enumerate(betas):
        v, h = _gibbs_step(v, W, b_v, b_h, rng, beta_now)
        visible[step], hidden[step] = v, h
    return visible, hidden


def ais_log_partition(W, b_v, b_h, n_betas: int = 10000, n_runs: int = 100, seed=0,
                      base_b_v=None) -> tuple[float, float]:
    """Annealed importance sampling estimate of ``log Z`` (Salakhutdinov & Murray 2008).

    Anneals from a base model with visible biases ``base_b_v`` and no couplings
    (default ``base_b_v = 0``; pass :func:`base_rate_visible_bias` of the training
    data, as in the paper) to the RBM through the unnormalised marginals
    ``log p*_beta(v) = (1 - beta) base_b_v^T v + beta b_v^T v + sum_j softplus(beta (v W + b_h)_j)``
    at ``n_betas`` equally spaced ``beta`` from 0 to 1, with one block-Gibbs transition
    at each intermediate ``beta``; ``log Z_0 = sum_i softplus(base_b_v_i) + n_h log 2``.
    ``n_runs`` independent runs in parallel; ``seed``: int or Generator.

    Returns ``(log_z, std_error)``: ``log Z_0 + log mean(w)`` over the importance
    weights ``w`` and its delta-method standard error ``std(w) / (sqrt(n_runs) mean(w))``.
    Since ``log`` is concave the estimate is biased low, by about ``std_error**2 / 2``.
    """
    W = np.asarray(W, dtype=np.float64)
    b_v = np.asarray(b_v, dtype=np.float64)
    b_h = np.asarray(b_h, dtype=np.float64)
    n_visible, n_hidden = W.shape
    base_b_v = np.zeros(n_visible) if base_b_v is None else np.asarray(base_b_v, dtype=np.float64)
    rng = np.random.default_rng(seed)
    betas = np.linspace(0.0, 1.0, n_betas)
    v = (rng.random((n_runs, n_visible)) < expit(base_b_v)).astype(np.float64)
    log_w = np.zeros(n_runs)
    for previous_beta, beta in zip(betas[:-1], betas[1:]):
        hidden_input = v @ W + b_h
        log_w += ((beta - previous_beta) * (v @ (b_v - base_b_v))
                  + softplus(beta * hidden_input).sum(axis=1)
                  - softplus(previous_beta * hidden_input).sum(axis=1))
        if beta < 1.0:
            h = (rng.random((n_runs, n_hidden)) < expit(beta * hidden_input)).astype(np.float64)
            visible_input = (1.0 - beta) * base_b_v + beta * (h @ W.T + b_v)
            v = (rng.random((n_runs, n_visible)) < expit(visible_input)).astype(np.float64)
    log_z_base = softplus(base_b_v).sum() + n_hidden * np.log(2.0)
    relative_w = np.exp(log_w - log_w.max())
    std_error = relative_w.std(ddof=1) / (np.sqrt(n_runs) * relative_w.mean())
    return float(log_z_base + logsumexp(log_w) - np.log(n_runs)), float(std_error)


def exact_log_partition(W, b_v, b_h) -> float:
    """Exact ``log Z`` by enumerating the smaller layer (at most 24 units) in chunks.

    The other layer is summed analytically: e.g. for hidden enumeration
    ``Z = sum_h exp(b_h^T h) prod_i (1 + exp(b_v + W h)_i)``.
    """
    W = np.asarray(W, dtype=np.float64)
    b_v = np.asarray(b_v, dtype=np.float64)
    b_h = np.asarray(b_h, dtype=np.float64)
    if W.shape[1] > W.shape[0]:  # enumerate visible: transpose roles, Z is symmetric in them
        W, b_v, b_h = W.T, b_h, b_v
    n_enumerated = W.shape[1]
    if n_enumerated > MAX_ENUMERATED_LAYER:
        raise ValueError(f"exact_log_partition: smaller layer has {n_enumerated} > "
                         f"{MAX_ENUMERATED_LAYER} units")
    chunk_log_z = []
    for first in range(0, 2**n_enumerated, _ENUMERATION_CHUNK):
        indices = np.arange(first, min(first + _ENUMERATION_CHUNK, 2**n_enumerated))
        h = states_from_indices(indices, n_enumerated).astype(np.float64)
        chunk_log_z.append(logsumexp(h @ b_h + softplus(h @ W.T + b_v).sum(axis=1)))
    return float(logsumexp(chunk_log_z))


def average_log_likelihood(data, W, b_v, b_h, log_z: float) -> float:
    """Mean ``log p(v) = -F(v) - log Z`` over the rows of ``data`` (N, n_v), nats per image."""
    return float(np.mean(-visible_free_energy(data, W, b_v, b_h)) - log_z)

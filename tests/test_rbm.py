"""Tests of RBM training, sampling, partition functions and the label readout."""

import numpy as np
import pytest
from scipy.special import expit, logsumexp
from scipy.stats import chi2

from lif_tempering.learning.classifier import classification_accuracy, train_classifier
from lif_tempering.learning.datasets import load_digits_binary
from lif_tempering.learning.rbm import (
    TrainingDivergedError,
    _check_finite_parameters,
    _gibbs_step,
    _monitoring_curves,
    _tempered_gibbs_step,
    ais_log_partition,
    average_log_likelihood,
    base_rate_visible_bias,
    exact_log_partition,
    sample_rbm_gibbs,
    softplus,
    swap_neighbouring_betas,
    train_rbm,
    visible_free_energy,
)
from lif_tempering.sampling.boltzmann import all_states, energy, exact_distribution, rbm_as_bm, state_index


def random_rbm(n_visible, n_hidden, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, scale, (n_visible, n_hidden)), rng.normal(0, scale, n_visible),
            rng.normal(0, scale, n_hidden))


def brute_force_log_z(W, b_v, b_h):
    """log Z by enumerating all joint states of the equivalent full Boltzmann machine."""
    W_full, b_full = rbm_as_bm(W, b_v, b_h)
    return logsumexp(-energy(all_states(len(b_full)), W_full, b_full))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_is_log_one_plus_exp_to_rounding_in_its_float_type(dtype):
    x = np.concatenate([np.linspace(-120.0, 120.0, 4801), [-1e4, 1e4, 0.0]]).astype(dtype)
    exact = np.logaddexp(0.0, x.astype(np.longdouble))
    with np.errstate(over="raise", invalid="raise"):  # exp(-|x|) may underflow to zero, never overflow
        value = softplus(x)
    assert value.dtype == dtype
    np.testing.assert_allclose(value, exact.astype(np.float64), rtol=4 * np.finfo(dtype).eps,
                               atol=np.finfo(dtype).tiny)  # below the smallest normal number: zero
    assert softplus(dtype(1e4)) == dtype(1e4)


def noisy_prototypes(n_images, seed):
    """Binary 10-pixel images: one of 4 prototypes, each pixel flipped with probability 0.05."""
    rng = np.random.default_rng(seed)
    prototypes = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1, 0, 0],
                           [1, 0, 1, 0, 1, 0, 1, 0, 1, 0], [0, 0, 1, 1, 0, 0, 1, 1, 1, 1]])
    images = prototypes[rng.integers(0, 4, n_images)]
    return np.where(rng.random(images.shape) < 0.05, 1 - images, images).astype(np.int8)


def test_free_energy_marginalises_the_hidden_layer():
    W, b_v, b_h = random_rbm(4, 3, seed=0)
    v = all_states(4)
    h = all_states(3)
    joint = np.einsum("vi,ij,hj->vh", v, W, h) + (v @ b_v)[:, None] + (h @ b_h)[None, :]
    np.testing.assert_allclose(visible_free_energy(v, W, b_v, b_h), -logsumexp(joint, axis=1), rtol=1e-12)


@pytest.mark.parametrize("shape", [(7, 4), (4, 7)])
def test_exact_log_partition_matches_full_enumeration(shape):
    W, b_v, b_h = random_rbm(*shape, seed=1)
    assert exact_log_partition(W, b_v, b_h) == pytest.approx(brute_force_log_z(W, b_v, b_h), abs=1e-10)


def test_exact_log_partition_over_several_chunks():
    # 13 enumerated units = 2 chunks of 4096 states plus the remainder.
    W, b_v, b_h = random_rbm(13, 15, seed=2, scale=0.3)
    by_free_energy = logsumexp(-visible_free_energy(all_states(13), W, b_v, b_h))
    assert exact_log_partition(W, b_v, b_h) == pytest.approx(by_free_energy, abs=1e-9)


def test_ais_matches_exact_log_partition():
    # 10 visible, 6 hidden, weights and biases ~ N(0, 1). With 1000 intermediate
    # distributions and 200 runs the importance weights are nearly equal: the estimated
    # standard error is ~0.005 (asserted < 0.02), so a deviation of 0.1 would be > 5
    # standard errors; the log-of-mean bias (~se^2/2) is negligible. A wrong base log Z
    # (e.g. forgetting the hidden units' n_h log 2 = 4.2) or a wrong weight update is
    # caught by far.
    W, b_v, b_h = random_rbm(10, 6, seed=3)
    exact = exact_log_partition(W, b_v, b_h)
    log_z, std_error = ais_log_partition(W, b_v, b_h, n_betas=1000, n_runs=200, seed=4)
    assert std_error < 0.02
    assert log_z == pytest.approx(exact, abs=0.1)
    data = noisy_prototypes(200, seed=5)
    based = ais_log_partition(W, b_v, b_h, n_betas=1000, n_runs=200, seed=4,
                              base_b_v=base_rate_visible_bias(data))
    assert based[0] == pytest.approx(exact, abs=0.1)
    assert ais_log_partition(W, b_v, b_h, n_betas=200, n_runs=20, seed=9) == \
        ais_log_partition(W, b_v, b_h, n_betas=200, n_runs=20, seed=9)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_rbm_gibbs_reaches_the_joint_distribution(beta):
    # 20,000 independent chains after 30 block-Gibbs steps: the joint (v, h) histogram
    # over 2**5 states is a multinomial sample of p_beta, Pearson's statistic is
    # chi-square with 31 degrees of freedom (bound at significance 0.001).
    W, b_v, b_h = random_rbm(3, 2, seed=6)
    visible, hidden = sample_rbm_gibbs(W, b_v, b_h, n_steps=30, n_chains=20_000, seed=7, beta=beta)
    assert visible.dtype == np.int8 and visible.shape == (30, 20_000, 3) and hidden.shape == (30, 20_000, 2)
    joint = np.concatenate([visible[-1], hidden[-1]], axis=1)
    counts = np.bincount(state_index(joint), minlength=32)
    bound = chi2.ppf(1 - 1e-3, df=31)
    expected = 20_000 * exact_distribution(*rbm_as_bm(W, b_v, b_h), beta=beta)
    assert np.sum((counts - expected) ** 2 / expected) < bound
    wrong = 20_000 * exact_distribution(*rbm_as_bm(W, b_v, b_h), beta=2 * beta)
    assert np.sum((counts - wrong) ** 2 / wrong) > bound


def test_rbm_gibbs_same_seed_same_samples():
    W, b_v, b_h = random_rbm(5, 4, seed=8)
    first = sample_rbm_gibbs(W, b_v, b_h, 20, 3, seed=1, beta=np.linspace(1, 0.5, 20))
    second = sample_rbm_gibbs(W, b_v, b_h, 20, 3, seed=1, beta=np.linspace(1, 0.5, 20))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], sample_rbm_gibbs(W, b_v, b_h, 20, 3, seed=2)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gibbs_step_gives_the_exact_gradient_statistics_in_either_dtype(dtype):
    # The block-Gibbs transition of training (uniform numbers, products and sigmoid in
    # float32 or float64) samples the RBM: 20,000 independent chains after 30 steps give
    # the statistics of the log-likelihood gradient, <v_i h_j>, <v_i> and <h_j>, within
    # 4 binomial standard errors (at most 4 * 0.5 / sqrt(20000) = 0.014) of exact enumeration.
    W, b_v, b_h = random_rbm(5, 3, seed=11, scale=0.8)
    W_full, b_full = rbm_as_bm(W, b_v, b_h)
    p = exact_distribution(W_full, b_full)
    z = all_states(8).astype(np.float64)
    exact = np.concatenate([np.einsum("s,si,sj->ij", p, z[:, :5], z[:, 5:]).ravel(), p @ z])
    rng = np.random.default_rng(12)
    n_chains = 20_000
    v = rng.integers(0, 2, size=(n_chains, 5)).astype(dtype)
    for _ in range(30):
        v, h = _gibbs_step(v, W.astype(dtype), b_v.astype(dtype), b_h.astype(dtype), rng)
    assert v.dtype == h.dtype == dtype
    samples = np.concatenate([(v[:, :, None] * h[:, None, :]).reshape(n_chains, -1), v, h], axis=1)
    sampled = samples.mean(axis=0, dtype=np.float64)
    std_error = np.sqrt(exact * (1 - exact) / n_chains)
    assert np.all(np.abs(sampled - exact) < 4 * std_error)


def test_monitoring_curves_are_the_free_energy_and_mean_field_formulas():
    # pseudo-log-likelihood term log p(v_i | v_-i) = log sigmoid(F(v with i flipped) - F(v)), exact
    # (same random units); float32 within 1e-5 relative, a hundred float32 roundings (3e-8 here)
    W, b_v, b_h = random_rbm(6, 4, seed=3)
    v = (np.random.default_rng(4).random((50, 6)) < 0.5).astype(np.float64)
    reconstruction_error, pseudo_log_likelihood = _monitoring_curves(v, W, b_v, b_h, np.random.default_rng(5))
    unit = np.random.default_rng(5).integers(0, 6, size=50)
    flipped = v.copy()
    flipped[np.arange(50), unit] = 1 - flipped[np.arange(50), unit]
    gap = visible_free_energy(flipped, W, b_v, b_h) - visible_free_energy(v, W, b_v, b_h)
    assert pseudo_log_likelihood == pytest.approx(6 * np.mean(np.log(expit(gap))), rel=1e-12)
    mean_field = expit(expit(v @ W + b_h) @ W.T + b_v)
    assert reconstruction_error == pytest.approx(np.mean((v - mean_field) ** 2), rel=1e-12)
    single = _monitoring_curves(*(x.astype(np.float32) for x in (v, W, b_v, b_h)), np.random.default_rng(5))
    np.testing.assert_allclose(single, (reconstruction_error, pseudo_log_likelihood), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["pcd", "cd", "pt_pcd"])
def test_training_increases_the_exact_likelihood(method, dtype):
    # Four prototypes with 5 % pixel noise: the independent-pixel model (the training
    # start, W = 0) scores -6.4 nats per image, the generating distribution ~-3.4.
    # Training must gain at least 1 nat, and cannot exceed the empirical distribution's
    # own log-likelihood (minus its entropy), an exact upper bound.
    data = noisy_prototypes(300, seed=0)
    W0, b_h0 = np.zeros((10, 6)), np.zeros(6)
    b_v0 = base_rate_visible_bias(data)
    before = average_log_likelihood(data, W0, b_v0, b_h0, exact_log_partition(W0, b_v0, b_h0))
    ladder = {"pt_betas": np.geomspace(1.0, 0.3, 4)} if method == "pt_pcd" else {}
    trained = train_rbm(data, 6, epochs=100, batch_size=20, learning_rate=(0.1, 0.01), method=method, seed=1,
                        dtype=dtype, **ladder)
    W, b_v, b_h = trained["W"], trained["b_v"], trained["b_h"]
    after = average_log_likelihood(data, W, b_v, b_h, exact_log_partition(W, b_v, b_h))
    frequencies = np.bincount(state_index(data)) / len(data)
    frequencies = frequencies[frequencies > 0]
    assert before + 1.0 < after <= np.sum(frequencies * np.log(frequencies)) + 1e-9
    assert trained["reconstruction_error"][-1] < trained["reconstruction_error"][0]
    assert trained["pseudo_log_likelihood"][-1] > trained["pseudo_log_likelihood"][0]


def bimodal_rbm():
    """One hidden unit switching 8 visible units between all off (h = 0) and all on (h = 1).

    Both modes have energy 0; from the all-off side the hidden unit turns on only once four
    visible units are on together (each on with probability 0.018 while h = 0): a block-Gibbs
    chain crosses about once in 10^5 steps.
    """
    return np.full((8, 1), 8.0), np.full(8, -4.0), np.array([-32.0])


def tempered_chains(W, b_v, b_h, betas, n_chains, n_steps, seed):
    """The training's parallel-tempering chains, all started at v = 0; (beta = 1 states, swap acceptance)."""
    rng = np.random.default_rng(seed)
    v = np.zeros((len(betas), n_chains, W.shape[0]))
    column = np.asarray(betas)[:, None, None]
    accepted = attempted = 0
    for step in range(n_steps):
        v, h, visible_input = _tempered_gibbs_step(v, W, b_v, b_h, column, rng)
        a, n = swap_neighbouring_betas(v, h, visible_input, b_h, np.asarray(betas), step % 2, rng)
        accepted, attempted = accepted + a, attempted + n
    return v[0], accepted / attempted


def test_tempered_chains_cross_between_modes_that_gibbs_chains_cannot():
    """400 chains started in the all-off mode, 600 steps. The exact mass of the all-on side (more than half
    the units on) is ~1/2; tempered chains reach it within 4 binomial standard errors (0.025), Gibbs chains
    (a one-rung ladder) do not leave the all-off side."""
    W, b_v, b_h = bimodal_rbm()
    states = all_states(8).astype(float)
    p = np.exp(-visible_free_energy(states, W, b_v, b_h))
    exact_on = p[states.sum(axis=1) > 4].sum() / p.sum()
    tempered, acceptance = tempered_chains(W, b_v, b_h, np.geomspace(1.0, 0.05, 12), 400, 600, seed=0)
    assert abs(np.mean(tempered.sum(axis=1) > 4) - exact_on) < 4 * np.sqrt(exact_on * (1 - exact_on) / 400)
    assert np.all((acceptance > 0.1) & (acceptance <= 1))
    gibbs, _ = tempered_chains(W, b_v, b_h, np.ones(2), 400, 600, seed=0)
    assert np.mean(gibbs.sum(axis=1) > 4) < 0.02


def test_swaps_between_equal_inverse_temperatures_always_happen():
    """With equal betas the acceptance exp(0) is 1: every attempted pair exchanges its visible states."""
    rng = np.random.default_rng(2)
    W, b_v, b_h = random_rbm(5, 3, seed=4)
    v = (rng.random((4, 6, 5)) < 0.5).astype(float)
    h = (rng.random((4, 6, 3)) < 0.5).astype(float)
    before = v.copy()
    accepted, attempted = swap_neighbouring_betas(v, h, h @ W.T + b_v, b_h, np.ones(4), 0, rng)
    np.testing.assert_array_equal(accepted, [6, 0, 6])
    np.testing.assert_array_equal(attempted, [6, 0, 6])
    np.testing.assert_array_equal(v, before[[1, 0, 3, 2]])


def test_swap_acceptance_follows_the_metropolis_ratio_of_known_energies():
    """Three rungs (beta 1, 0.5, 0.2) of 40,000 ladders, each rung in one joint state of known energy
    E = -(v W h + b_v v + b_h h): -3.9, -0.5 and -2.4. A swap of betas i < j is accepted with probability
    min(1, exp((beta_i - beta_j) (E_i - E_j))): exp(-1.7) = 0.183 for rungs 0, 1 (even step) and 1 for rungs
    1, 2 (odd step, exp(0.57) > 1); the inverted sign would give 1 and exp(-0.57) = 0.57. The accepted fraction
    lies within 4 binomial standard errors (0.008) of the exact value, and exactly the accepted ladders
    exchange their visible states."""
    W, b_v, b_h = np.array([[1.0], [2.0]]), np.array([0.5, -0.3]), np.array([0.7])
    betas = np.array([1.0, 0.5, 0.2])
    v_rungs, h_rungs = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]), np.array([[1.0], [0.0], [1.0]])
    energies = -(np.einsum("ri,ij,rj->r", v_rungs, W, h_rungs) + v_rungs @ b_v + h_rungs @ b_h)
    np.testing.assert_allclose(energies, [-3.9, -0.5, -2.4])
    n_chains = 40_000
    rng = np.random.default_rng(11)
    for parity, (i, j) in ((0, (0, 1)), (1, (1, 2))):
        v = np.repeat(v_rungs[:, None, :], n_chains, axis=1)
        h = np.repeat(h_rungs[:, None, :], n_chains, axis=1)
        accepted, attempted = swap_neighbouring_betas(v, h, h @ W.T + b_v, b_h, betas, parity, rng)
        exact = min(1.0, np.exp((betas[i] - betas[j]) * (energies[i] - energies[j])))
        assert attempted[i] == n_chains and attempted.sum() == n_chains and accepted.sum() == accepted[i]
        fraction = accepted[i] / n_chains
        assert abs(fraction - exact) <= 4 * np.sqrt(exact * (1 - exact) / n_chains) + 1e-12, (parity, fraction, exact)
        swapped = np.all(v[i] == v_rungs[j], axis=1)
        assert swapped.sum() == accepted[i]
        np.testing.assert_array_equal(v[j][swapped], np.broadcast_to(v_rungs[i], (swapped.sum(), 2)))
        np.testing.assert_array_equal(v[i][~swapped], np.broadcast_to(v_rungs[i], ((~swapped).sum(), 2)))
        untouched = 3 - i - j
        np.testing.assert_array_equal(v[untouched], np.broadcast_to(v_rungs[untouched], (n_chains, 2)))


def test_diverging_training_stops_naming_the_epoch_and_the_value():
    """A learning rate of 1e30 overflows the first updates: training must stop after that epoch with the
    non-finite parameter, not return (and the workflow write) a NaN model."""
    data = noisy_prototypes(100, seed=1)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError) as error:
        train_rbm(data, 4, epochs=3, batch_size=10, learning_rate=1e30, seed=0)
    message = str(error.value)
    assert message.startswith("RBM training diverged in epoch 1: ") and "W[0, 0] = nan (visible unit 0, hidden unit 0)" \
        in message, message
    assert "rbm.learning_rate_start" in message
    finite = train_rbm(data, 4, epochs=3, batch_size=10, learning_rate=0.1, seed=0)
    assert all(np.all(np.isfinite(finite[key])) for key in ("W", "b_v", "b_h"))
    # the weights overflow first in training; a non-finite bias alone is refused as well
    W, b_v, b_h = np.zeros((3, 4)), np.zeros(3), np.array([0.0, 0.0, np.nan, -np.inf])
    with pytest.raises(TrainingDivergedError, match=r"epoch 2: 2 non-finite values in b_h, first b_h\[2\] = nan "
                                                    r"\(hidden unit 2\)"):
        _check_finite_parameters(1, W, b_v, b_h)
    with pytest.raises(TrainingDivergedError, match=r"in b_v, first b_v\[1\] = inf \(visible unit 1\)"):
        _check_finite_parameters(1, W, np.array([0.0, np.inf, 0.0]), np.zeros(4))


def test_training_is_reproducible_and_logs_each_epoch():
    data = noisy_prototypes(100, seed=1)
    lines = []
    first = train_rbm(data, 5, epochs=4, batch_size=10, learning_rate=(0.1, 0.001), seed=3, log=lines.append)
    second = train_rbm(data, 5, epochs=4, batch_size=10, learning_rate=(0.1, 0.001), seed=3)
    assert len(lines) == 4 and lines[-1].startswith("epoch 4/4")
    for key in ("W", "b_v", "b_h", "reconstruction_error", "pseudo_log_likelihood"):
        np.testing.assert_array_equal(first[key], second[key])
    np.testing.assert_allclose(first["learning_rate"], np.geomspace(0.1, 0.001, 4))
    other = train_rbm(data, 5, epochs=4, batch_size=10, seed=4)
    assert not np.array_equal(first["W"], other["W"])
    with pytest.raises(ValueError, match="binary"):
        train_rbm(data * 2, 5, epochs=1)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        train_rbm(data, 5, epochs=1, dtype=np.float16)
    tempered = train_rbm(data, 5, epochs=2, batch_size=10, method="pt_pcd", pt_betas=[1.0, 0.6, 0.3], seed=3,
                         log=lines.append)
    assert tempered["swap_acceptance"].shape == (2,) and np.all((tempered["swap_acceptance"] > 0)
                                                                  & (tempered["swap_acceptance"] <= 1))
    assert "lowest swap acceptance" in lines[-1]
    for bad in ([1.0], [0.5, 0.3], [1.0, 0.3, 0.6], [1.0, 0.0]):
        with pytest.raises(ValueError, match="pt_betas"):
            train_rbm(data, 5, epochs=1, method="pt_pcd", pt_betas=bad)


def test_classifier_on_binary_digits():
    # 360 test images: a binomial standard error of ~0.014 at accuracy ~0.93.
    data = load_digits_binary(threshold=8, test_fraction=0.2, seed=0)
    classifier = train_classifier(data.train_images, data.train_labels, seed=0)
    assert classification_accuracy(classifier, data.test_images, data.test_labels) >= 0.90


def test_bounded_training_projects_onto_the_bounds():
    data = load_digits_binary(8, 0.2, 0).train_images[:300]
    settings = dict(n_hidden=12, epochs=3, batch_size=50, learning_rate=0.2, seed=5)
    free = train_rbm(data, **settings)
    bounded = train_rbm(data, **settings, bias_range=(-1.0, 0.5), weight_abs_max=0.2)
    for name in ("b_v", "b_h"):
        assert bounded[name].min() >= -1.0 and bounded[name].max() <= 0.5
    assert np.abs(bounded["W"]).max() <= 0.2
    # the free RBM leaves these bounds, so the projection is active: parameters sit on the bounds
    assert free["b_v"].min() < -1.0 and np.abs(free["W"]).max() > 0.2
    # (float32 training: 0.2 is clipped to the largest float32 below it, within one float32 rounding)
    assert np.sum(bounded["b_v"] == -1.0) > 0 and np.sum(np.abs(bounded["W"]) >= 0.2 * (1 - 2.0**-23)) > 0
    # bounds wider than every parameter are inactive: the same training, number for number
    wide = train_rbm(data, **settings, bias_range=(-100.0, 100.0), weight_abs_max=100.0)
    for name in ("W", "b_v", "b_h"):
        np.testing.assert_array_equal(wide[name], free[name])
    with pytest.raises(ValueError, match="bias_range must contain 0"):
        train_rbm(data, **settings, bias_range=(0.5, 1.0))

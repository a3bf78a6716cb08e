"""The reference sampler (parallel tempering of an RBM) against exact enumeration of small RBMs."""

import numpy as np
import pytest
from scipy.special import expit, logsumexp, softmax

from lif_tempering.learning.classifier import SoftmaxClassifier
from lif_tempering.learning.rbm import visible_free_energy
from lif_tempering.learning.reference import (
    Ladders,
    TemperingPath,
    adaptation_rounds,
    beta_ladder,
    class_convergence,
    class_distribution,
    class_start_states,
    data_statistics_dataset,
    equal_rejection_ladder,
    flattened_class_bias,
    linear_ladder,
    model_reference,
    parallel_tempering,
    reference_dataset,
    run_ladders,
)
from lif_tempering.sampling.boltzmann import all_states
from lif_tempering.sampling.divergence import kl_divergence

N_VISIBLE, N_HIDDEN = 10, 6
#: Visible units 0-4 form pattern A, 5-9 pattern B.
PATTERN = np.where(np.arange(N_VISIBLE) < 5, 1.0, -1.0)
#: Class 0: more of pattern A than B on; class 1: otherwise (a deterministic labelling of an image).
LABEL_MAP = np.stack([PATTERN, -PATTERN])
#: A classifier whose labels are those of LABEL_MAP (its scores are 50 x the pattern overlaps).
CLASSIFIER = SoftmaxClassifier(50.0 * LABEL_MAP, np.zeros(2))
#: Hot-end visible biases that favour pattern B: the hot end differs from the RBM and is not symmetric.
BASE_B_V = np.where(PATTERN > 0, -1.5, 0.5)
#: Standard errors a class frequency may miss the exact value by: 4 gives a false failure in < 1e-3 of runs
#: per class (t distribution with n_chains - 1 = 39 degrees of freedom).
N_STD_ERRORS = 4.0


def bimodal_rbm(coupling=2.0, seed=5):
    """Hidden units 0-2 switch pattern A on and B off, 3-5 the reverse: two modes that block Gibbs at coupling 2."""
    rng = np.random.default_rng(seed)
    W = coupling * np.outer(PATTERN, np.r_[np.ones(3), -np.ones(3)]) + rng.normal(0.0, 0.3, (N_VISIBLE, N_HIDDEN))
    return W, np.zeros(N_VISIBLE), np.full(N_HIDDEN, -2.5 * coupling)


def labels_of(images):
    return np.argmax(np.asarray(images) @ LABEL_MAP.T, axis=-1)


def exact_rung_class_distribution(W, b_v, b_h, beta=1.0, base_b_v=None, bias=(0.0, 0.0), readout="mean_field"):
    """Class distribution of ``p(v, h) ~ exp(-beta E + (1 - beta) base_b_v . v + bias[c])`` by enumeration.

    ``mean_field``: classes of ``p(v = 1 | h)`` at beta = 1, summed over the 2^6 hidden states with ``v``
    summed analytically; ``visible``: classes of ``v``, summed over the 2^10 visible states, ``h`` analytic.
    """
    base_b_v = np.zeros(N_VISIBLE) if base_b_v is None else base_b_v
    if readout == "mean_field":
        h = all_states(N_HIDDEN).astype(np.float64)
        labels = labels_of(expit(h @ W.T + b_v))
        log_p = beta * h @ b_h + np.logaddexp(0.0, beta * (h @ W.T + b_v) + (1 - beta) * base_b_v).sum(axis=1)
    else:
        v = all_states(N_VISIBLE).astype(np.float64)
        labels = labels_of(v)
        log_p = (1 - beta) * v @ base_b_v + beta * v @ b_v + np.logaddexp(0.0, beta * (v @ W + b_h)).sum(axis=1)
    log_p = log_p + np.asarray(bias)[labels]
    return np.bincount(labels, weights=np.exp(log_p - logsumexp(log_p)), minlength=2)


def mode_starts(n_chains):
    """Half the ladders start in pattern A, half in pattern B."""
    return np.stack([PATTERN > 0 if c % 2 else PATTERN < 0 for c in range(n_chains)]).astype(np.float64)


@pytest.mark.parametrize("readout", ["mean_field", "visible"])
def test_adapted_ladder_recovers_the_exact_class_distribution(readout):
    """Ladder and class biases adapted in the burn-in, then frozen: rung 0 samples the RBM exactly."""
    W, b_v, b_h = bimodal_rbm()
    exact = exact_rung_class_distribution(W, b_v, b_h, readout=readout)
    assert 0.2 < exact.min()  # both modes carry weight: a stuck sampler would miss
    path = TemperingPath.of(W, b_v, b_h, CLASSIFIER, readout, BASE_B_V)
    result = parallel_tempering(path, mode_starts(40), linear_ladder(0.0, 8), 6000, 1000, seed=1, n_rounds=5,
                                class_bias=True, class_floor=0.2)
    assert np.any(np.abs(result.class_bias) > 0.1)  # the biases moved: the check covers them
    assert not np.allclose(result.betas, linear_ladder(0.0, 8))  # so did the rungs
    estimate, std_error = class_distribution(result.labels, 2)
    assert np.all(std_error < 0.01)  # the check has power
    np.testing.assert_array_less(np.abs(estimate - exact), N_STD_ERRORS * std_error)
    r_hat, ess = class_convergence(result.labels, 2)
    assert r_hat.max() < 1.01 and ess.min() > 3000
    assert np.all(result.swap_acceptance > 0.2) and result.round_trips.min() > 100


@pytest.mark.parametrize("readout", ["mean_field", "visible"])
def test_every_rung_samples_its_biased_tempered_distribution(readout):
    """A fixed ladder with strong class biases and a hot end toward pattern B: each rung's class composition is that
    of exp(-beta_i E + (1 - beta_i) b_base . v + psi_i[c]), by enumeration. 40 ladders x 3000 steps: the composition of
    a rung has a standard error below 0.01 (autocorrelated); 0.03 is 3 of them and more."""
    W, b_v, b_h = bimodal_rbm()
    path = TemperingPath.of(W, b_v, b_h, CLASSIFIER, readout, BASE_B_V)
    betas = np.array([1.0, 0.7, 0.4, 0.15, 0.0])
    bias = np.array([[0.0, 0.0], [1.5, -1.5], [-1.0, 1.0], [2.0, -2.0], [0.5, -0.5]])
    rng = np.random.default_rng(4)
    ladders = Ladders.start(path, mode_starts(40), betas.size, rng)
    run_ladders(path, ladders, betas, bias, 300, 0, rng)
    run = run_ladders(path, ladders, betas, bias, 3000, 300, rng)
    composition = run.composition / run.composition.sum(axis=1, keepdims=True)
    for rung, beta in enumerate(betas):
        exact = exact_rung_class_distribution(W, b_v, b_h, beta, BASE_B_V, bias[rung], readout)
        np.testing.assert_allclose(composition[rung], exact, atol=0.03, err_msg=f"rung {rung}")


def test_the_cold_rungs_confidence_is_the_exact_expected_confidence_of_the_rbm():
    """A soft classifier (scores 0.15 x the pattern overlaps: confidences 0.5-0.82, 0.816 in the modes): the mean
    max-probability of the mean-field readout over the rung-0 samples of 40 ladders x 3000 steps equals its
    expectation under the RBM, sum over the 2^6 hidden states of p(h) x confidence(p(v | h)), within 0.002 (the
    confidence's standard deviation under the RBM is 0.006, so the mean of 120,000 correlated samples is good to
    1e-4; mutation: the first class's probability instead of the largest -> about 0.5, the modes being equally
    likely)."""
    W, b_v, b_h = bimodal_rbm()
    soft = SoftmaxClassifier(0.15 * LABEL_MAP, np.zeros(2))
    hidden = all_states(N_HIDDEN).astype(np.float64)
    log_p_h = hidden @ b_h + np.logaddexp(0.0, hidden @ W.T + b_v).sum(axis=1)
    exact = softmax(log_p_h) @ soft.predict_proba(expit(hidden @ W.T + b_v)).max(axis=1)
    result = parallel_tempering(TemperingPath.of(W, b_v, b_h, soft, "mean_field", BASE_B_V), mode_starts(40),
                                linear_ladder(0.0, 6), 3300, 300, seed=3)
    assert 0.8 < exact < 0.82
    assert result.confidence.shape == result.labels.shape
    assert float(result.confidence.mean()) == pytest.approx(exact, abs=0.002)


def exact_rbm_moments(W, b_v, b_h):
    """``(<v p(h | v)^T>, <v>, <p(h | v)>)`` of the RBM by enumeration of its 2^10 visible states."""
    v = all_states(N_VISIBLE).astype(np.float64)
    p_v = softmax(-visible_free_energy(v, W, b_v, b_h))
    p_h = expit(v @ W + b_h)
    return (v * p_v[:, None]).T @ p_h, p_v @ v, p_v @ p_h


def test_the_cold_rungs_moments_are_the_exact_moments_of_the_rbm():
    """The moments the reference records for training in the loop toward the RBM: 40 ladders x 3000 kept steps,
    every 10th (12,000 states; entries of v p(h | v) lie in [0, 1], so a standard error below 0.005 even at a
    quarter of that many independent states): within 0.02 of enumeration. The check has power: the product of
    the exact means misses the exact <v h^T> by more than 0.1 (the modes correlate v and h), and the hot rungs'
    states (mutation: the last rung's rows instead of rung 0's) by more than 0.1."""
    W, b_v, b_h = bimodal_rbm()
    exact = exact_rbm_moments(W, b_v, b_h)
    result = parallel_tempering(TemperingPath.of(W, b_v, b_h, CLASSIFIER, "mean_field", BASE_B_V), mode_starts(40),
                                linear_ladder(0.0, 6), 3300, 300, seed=7)
    assert [np.shape(moment) for moment in result.moments] == [(N_VISIBLE, N_HIDDEN), (N_VISIBLE,), (N_HIDDEN,)]
    for estimate, value in zip(result.moments, exact):
        np.testing.assert_allclose(estimate, value, atol=0.02)
    assert np.abs(np.outer(exact[1], exact[2]) - exact[0]).max() > 0.1


def test_reference_dataset_recovers_the_exact_mean_field_class_distribution():
    W, b_v, b_h = bimodal_rbm()
    exact = exact_rung_class_distribution(W, b_v, b_h)
    prior = np.array([0.5, 0.5])
    images = np.stack([PATTERN > 0, PATTERN < 0]).astype(np.int8)
    train_images = np.repeat(images, [1, 3], axis=0)
    settings = {"n_chains": 40, "n_betas": 8, "beta_min": 0.0, "n_sweeps": 6000, "burn_in_sweeps": 1000,
                "adaptation_rounds": 5, "class_bias": True, "class_bias_floor": 0.2, "hot_end": "base_rate",
                "r_hat_max": 1.01}
    ref = reference_dataset(W, b_v, b_h, CLASSIFIER, prior, images, np.array([0, 1]), settings, "mean_field", seed=2,
                            train_images=train_images)
    np.testing.assert_array_less(np.abs(ref["class_probability"].values - exact),
                                 N_STD_ERRORS * ref["class_probability_std_error"].values)
    assert ref.attrs["converged"] == 1 and ref.attrs["max_r_hat"] <= 1.01 and ref.attrs["min_ess_bulk"] > 3000
    assert ref.attrs["reference_prior_kl"] == pytest.approx(kl_divergence(ref["class_probability"].values, prior))
    assert ref.attrs["n_samples"] == 40 * 5000
    assert ref.attrs["data_mean_visible"] == 0.5
    assert ref.attrs["data_free_energy"] == pytest.approx(visible_free_energy(images, W, b_v, b_h).mean())
    p_v = softmax(-visible_free_energy(all_states(N_VISIBLE).astype(np.float64), W, b_v, b_h))
    exact_mean_visible = p_v @ all_states(N_VISIBLE).mean(axis=1)
    assert ref.attrs["reference_mean_visible"] == pytest.approx(exact_mean_visible, abs=0.02)
    assert 0.5 < ref.attrs["reference_confidence"] <= 1.0
    assert ref["beta"].values[0] == 1.0 and ref["beta"].values[-1] == 0.0 and ref.sizes["beta_pair"] == 7
    for name, value in zip(("model_moment_visible_hidden", "model_moment_visible", "model_moment_hidden"),
                           exact_rbm_moments(W, b_v, b_h)):
        np.testing.assert_allclose(ref[name].values, value, atol=0.02, err_msg=name)
    for name in ref.variables:
        assert {"units", "long_name"} <= set(ref[name].attrs), name
    with pytest.raises(ValueError, match="training images"):
        reference_dataset(W, b_v, b_h, CLASSIFIER, prior, images, np.array([0, 1]), settings, "mean_field", seed=2)


def test_data_statistics_are_the_test_images_without_a_class_distribution():
    """The parameter scan's target: the test images' mean pixel and mean F(v) under the RBM, no parallel tempering."""
    W, b_v, b_h = bimodal_rbm()
    images = np.stack([PATTERN > 0, PATTERN > 0, PATTERN < 0, np.zeros(N_VISIBLE)]).astype(np.int8)
    statistics = data_statistics_dataset(W, b_v, b_h, images)
    assert statistics.attrs["data_mean_visible"] == pytest.approx(15 / 40)  # three images of 5 pixels on, one empty
    exact = np.mean([visible_free_energy(image[None].astype(np.float64), W, b_v, b_h)[0] for image in images])
    assert statistics.attrs["data_free_energy"] == pytest.approx(exact, rel=1e-12)
    assert statistics.attrs["n_test_images"] == 4 and not statistics.data_vars
    target = model_reference(statistics)
    assert target.class_probability is None and target.data_mean_visible == pytest.approx(15 / 40)
    assert target.data_free_energy == statistics.attrs["data_free_energy"]


@pytest.mark.parametrize("betas", [[1.0], [1.0, 0.95, 0.9]], ids=["plain_gibbs", "ladder_too_short"])
def test_convergence_check_flags_ladders_that_cannot_leave_their_start_modes(betas):
    """Plain Gibbs chains, or a ladder that never gets hot enough to cross the barrier, stay in the modes they
    start in: ArviZ's R-hat is far above 1.01 and the estimate is biased toward the starts."""
    W, b_v, b_h = bimodal_rbm()
    path = TemperingPath.of(W, b_v, b_h, CLASSIFIER)
    stuck = parallel_tempering(path, mode_starts(40), betas, 2000, 200, seed=1)
    assert class_convergence(stuck.labels, 2)[0].max() > 1.1
    estimate, _ = class_distribution(stuck.labels, 2)
    assert abs(estimate[0] - exact_rung_class_distribution(W, b_v, b_h)[0]) > 0.1


def test_swaps_between_equal_betas_are_always_accepted():
    W, b_v, b_h = bimodal_rbm()
    result = parallel_tempering(TemperingPath.of(W, b_v, b_h, CLASSIFIER), mode_starts(5), [1.0, 1.0, 1.0], 20, 0, 3)
    np.testing.assert_array_equal(result.swap_acceptance, 1.0)


def test_class_convergence_of_known_cases():
    rng = np.random.default_rng(0)
    one_class = np.zeros((100, 4), dtype=int)
    r_hat, ess = class_convergence(one_class, 2)
    np.testing.assert_array_equal(r_hat, 1.0) and np.testing.assert_array_equal(np.isnan(ess), True)
    stuck = np.broadcast_to(np.array([0, 1, 0, 1]), (100, 4))
    assert class_convergence(stuck, 2)[0].min() > 10
    independent = (rng.random((4000, 20)) < 0.3).astype(int)
    r_hat, ess = class_convergence(independent, 2)
    assert r_hat.max() < 1.005 and ess.min() == pytest.approx(80_000, rel=0.1)


def test_equal_rejection_ladder_moves_rungs_toward_the_rejecting_pair():
    betas = np.linspace(1.0, 0.0, 5)
    np.testing.assert_allclose(equal_rejection_ladder(betas, np.full(4, 0.3)), betas)
    moved = equal_rejection_ladder(betas, [0.9, 0.1, 0.1, 0.1])
    assert moved[0] == 1.0 and moved[-1] == 0.0 and np.all(np.diff(moved) < 0)
    # Lambda = 1.2 in four parts of 0.3: the first pair (rejection 0.9 over 0.25) gets the first three rungs
    np.testing.assert_allclose(moved, [1.0, 1.0 - 0.25 / 3, 1.0 - 0.5 / 3, 0.75, 0.0])


def test_flattened_class_bias_moves_each_rung_toward_rung_zero():
    composition = np.array([[80.0, 20.0], [20.0, 80.0], [50.0, 50.0]])
    bias = flattened_class_bias(np.zeros((3, 2)), composition, floor=0.0)
    np.testing.assert_array_equal(bias[0], 0.0)
    target = 80.5 / 101.0
    assert bias[1, 0] - bias[1, 1] == pytest.approx(min(2 * np.log(target / (1 - target)), 2 * 2.0))
    assert bias[2, 0] - bias[2, 1] == pytest.approx(np.log(target / (1 - target)))
    assert flattened_class_bias(np.zeros((3, 2)), composition, floor=1.0)[2] == pytest.approx([0.0, 0.0])


def test_adaptation_rounds_double_and_fill_the_burn_in():
    assert adaptation_rounds(700, 3) == [100, 200, 400]
    assert sum(adaptation_rounds(1000, 5)) == 1000 and adaptation_rounds(1000, 0) == []
    with pytest.raises(ValueError, match="burn-in"):
        adaptation_rounds(5, 4)


def test_ladders_and_start_states():
    np.testing.assert_allclose(beta_ladder(0.25, 3), [1.0, 0.5, 0.25])
    np.testing.assert_allclose(linear_ladder(0.0, 3), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(linear_ladder(1.0, 1), [1.0])
    for beta_min, n_betas in ((0.0, 1), (1.0, 3), (-0.1, 3)):
        with pytest.raises(ValueError, match="beta_min"):
            linear_ladder(beta_min, n_betas)
    with pytest.raises(ValueError, match="beta_min"):
        beta_ladder(0.0, 3)
    starts = class_start_states(np.arange(8)[:, None] * np.ones((1, 3)), np.array([0, 1, 0, 1, 0, 1, 0, 1]), 5, 2)
    np.testing.assert_array_equal(starts[:, 0], [0, 1, 2, 3, 4])

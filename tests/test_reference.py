"""The reference sampler (parallel tempering of an RBM) against exact enumeration of small RBMs."""

import numpy as np
import pytest
from scipy.special import expit, logsumexp, softmax

from lif_tempering.learning.classifier import SoftmaxClassifier
from lif_tempering.learning.rbm import visible_free_energy
from lif_tempering.learning.reference import (
    beta_ladder,
    class_distribution,
    class_start_states,
    data_statistics_dataset,
    model_reference,
    parallel_tempering,
    reference_dataset,
    split_r_hat,
)
from lif_tempering.sampling.boltzmann import all_states
from lif_tempering.sampling.divergence import kl_divergence

N_VISIBLE, N_HIDDEN = 10, 6
#: Visible units 0-4 form pattern A, 5-9 pattern B.
PATTERN = np.where(np.arange(N_VISIBLE) < 5, 1.0, -1.0)
#: Class 0: more of pattern A than B on; class 1: otherwise (a deterministic labelling of v).
LABEL_MAP = np.stack([PATTERN, -PATTERN])
#: Standard errors a class frequency may miss the exact value by: 4 gives a false failure in < 1e-3 of runs
#: per class (t distribution with n_chains - 1 = 39 degrees of freedom).
N_STD_ERRORS = 4.0


def bimodal_rbm(coupling=2.0, seed=5):
    """Hidden units 0-2 switch pattern A on and B off, 3-5 the reverse: two modes that block Gibbs at coupling 2."""
    rng = np.random.default_rng(seed)
    W = coupling * np.outer(PATTERN, np.r_[np.ones(3), -np.ones(3)]) + rng.normal(0.0, 0.3, (N_VISIBLE, N_HIDDEN))
    return W, np.zeros(N_VISIBLE), np.full(N_HIDDEN, -2.5 * coupling)


def labels_of(v):
    return np.argmax(np.asarray(v) @ LABEL_MAP.T, axis=-1)


def exact_visible_class_distribution(W, b_v, b_h):
    """Class distribution of the visible states, summed over all 2^10 states with p(v) ~ exp(-F(v))."""
    v = all_states(N_VISIBLE).astype(np.float64)
    return np.bincount(labels_of(v), weights=softmax(-visible_free_energy(v, W, b_v, b_h)), minlength=2)


def exact_mean_field_class_distribution(W, b_v, b_h):
    """Class distribution of p(v = 1 | h) labels, summed over all 2^6 hidden states with their marginal p(h)."""
    h = all_states(N_HIDDEN).astype(np.float64)
    log_p = h @ b_h + np.logaddexp(0.0, h @ W.T + b_v).sum(axis=1)
    return np.bincount(labels_of(expit(h @ W.T + b_v)), weights=np.exp(log_p - logsumexp(log_p)), minlength=2)


def mode_starts(n_chains):
    """Half the ladders start in pattern A, half in pattern B."""
    return np.stack([PATTERN > 0 if c % 2 else PATTERN < 0 for c in range(n_chains)]).astype(np.float64)


def test_parallel_tempering_recovers_the_exact_class_distribution():
    W, b_v, b_h = bimodal_rbm()
    exact = exact_visible_class_distribution(W, b_v, b_h)
    assert 0.2 < exact.min()  # both modes carry weight: a stuck sampler would miss
    labels, acceptance = parallel_tempering(W, b_v, b_h, beta_ladder(0.15, 8), 40, 2000, 200, seed=1,
                                            v0=mode_starts(40), observe=lambda v, h: labels_of(v))
    estimate, std_error = class_distribution(labels, 2)
    assert np.all(std_error < 0.01)  # the check has power
    np.testing.assert_array_less(np.abs(estimate - exact), N_STD_ERRORS * std_error)
    assert np.all(acceptance > 0.3)
    assert split_r_hat(labels[..., None] == np.arange(2)).max() < 1.02


def test_reference_dataset_recovers_the_exact_mean_field_class_distribution():
    W, b_v, b_h = bimodal_rbm()
    exact = exact_mean_field_class_distribution(W, b_v, b_h)
    prior = np.array([0.5, 0.5])
    images = np.stack([PATTERN > 0, PATTERN < 0]).astype(np.int8)
    settings = {"n_chains": 40, "n_betas": 8, "beta_min": 0.15, "n_sweeps": 2000, "burn_in_sweeps": 200,
                "r_hat_max": 1.05}
    classifier = SoftmaxClassifier(50.0 * LABEL_MAP, np.zeros(2))  # labels as labels_of
    ref = reference_dataset(W, b_v, b_h, classifier, prior, images, np.array([0, 1]), settings, "mean_field", seed=2)
    np.testing.assert_array_less(np.abs(ref["class_probability"].values - exact),
                                 N_STD_ERRORS * ref["class_probability_std_error"].values)
    assert ref.attrs["converged"] == 1 and ref.attrs["max_r_hat"] < 1.05
    assert ref.attrs["reference_prior_kl"] == pytest.approx(kl_divergence(ref["class_probability"].values, prior))
    assert ref.attrs["n_samples"] == 40 * 1800
    assert ref.attrs["data_mean_visible"] == 0.5
    assert ref.attrs["data_free_energy"] == pytest.approx(visible_free_energy(images, W, b_v, b_h).mean())
    p_v = softmax(-visible_free_energy(all_states(N_VISIBLE).astype(np.float64), W, b_v, b_h))
    exact_mean_visible = p_v @ all_states(N_VISIBLE).mean(axis=1)
    assert ref.attrs["reference_mean_visible"] == pytest.approx(exact_mean_visible, abs=0.02)


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


def test_convergence_check_flags_gibbs_chains_stuck_in_their_start_modes():
    W, b_v, b_h = bimodal_rbm()
    stuck, acceptance = parallel_tempering(W, b_v, b_h, [1.0], 40, 2000, 200, seed=1, v0=mode_starts(40),
                                           observe=lambda v, h: labels_of(v))
    assert acceptance.size == 0
    assert split_r_hat(stuck[..., None] == np.arange(2)).max() > 2.0
    estimate, _ = class_distribution(stuck, 2)
    assert abs(estimate[0] - exact_visible_class_distribution(W, b_v, b_h)[0]) > 0.1  # biased by the starts


def test_swaps_between_equal_betas_are_always_accepted():
    W, b_v, b_h = bimodal_rbm()
    _, acceptance = parallel_tempering(W, b_v, b_h, [1.0, 1.0, 1.0], 5, 20, 0, seed=3)
    np.testing.assert_array_equal(acceptance, 1.0)


def test_split_r_hat_of_known_cases():
    rng = np.random.default_rng(0)
    constant = np.ones((100, 4, 1))
    assert split_r_hat(constant)[0] == 1.0
    stuck = np.broadcast_to(np.array([0.0, 1.0, 0.0, 1.0])[None, :, None], (100, 4, 1))
    assert split_r_hat(stuck)[0] == np.inf
    independent = rng.random((4000, 20, 1)) < 0.3
    # E[R^2] - 1 ~ 1/n for independent draws; n = 2000 per split chain
    assert split_r_hat(independent)[0] == pytest.approx(1.0, abs=0.005)


def test_ladder_and_start_states():
    betas = beta_ladder(0.25, 3)
    np.testing.assert_allclose(betas, [1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="beta_min"):
        beta_ladder(0.0, 3)
    starts = class_start_states(np.arange(8)[:, None] * np.ones((1, 3)), np.array([0, 1, 0, 1, 0, 1, 0, 1]), 5, 2)
    np.testing.assert_array_equal(starts[:, 0], [0, 1, 2, 3, 4])

"""Training in the loop: the update rule against a hand computation, the moments, a short LIF loop on a small machine."""

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.learning.in_the_loop import (
    Moments,
    bm_distribution_moments,
    bm_sample_moments,
    bm_target_moments,
    learning_rates,
    loop_update,
    rbm_data_moments,
    rbm_sample_moments,
    representable_bounds,
    train_in_the_loop,
)
from lif_tempering.neuron.parameters import PARAMETER_SETS
from lif_tempering.neuron.theory import hcs_activation_estimate
from lif_tempering.sampling.boltzmann import exact_distribution, random_bm, states_from_indices
from lif_tempering.sampling.translation import TranslationCorrections
from lif_tempering.tempering.in_the_loop import reference_moments, train_rbm_in_the_loop

P = PARAMETER_SETS["sbs_tutorial"]


def test_one_update_equals_the_hand_computed_one():
    """A 2 x 1 RBM, two images and three network samples, momentum 0.5 on a given velocity, one bias at its bound
    (mutations: negative - positive, momentum on the gradient, no clipping, the sampled h in the positive phase)."""
    W, b_v, b_h = np.array([[0.5], [-1.0]]), np.array([0.2, -0.3]), np.array([0.1])
    images = np.array([[1, 0], [1, 1]])
    states = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 1]])  # (v1, v2, h)
    p1, p2 = expit(0.5 + 0.1), expit(0.5 - 1.0 + 0.1)  # p(h = 1 | image)
    vh_data = np.array([[(p1 + p2) / 2], [p2 / 2]])
    vh_samples = np.array([[2 / 3], [1 / 3]])
    rate, momentum = 0.1, 0.5
    velocity = (np.full((2, 1), 0.2), np.array([0.0, -0.1]), np.array([0.05]))
    expected_velocity = (momentum * velocity[0] + rate * (vh_data - vh_samples),
                         momentum * velocity[1] + rate * (np.array([1.0, 0.5]) - np.array([2 / 3, 1 / 3])),
                         momentum * velocity[2] + rate * (np.array([(p1 + p2) / 2]) - np.array([2 / 3])))
    bounds = ((-10, 10), (-10, 10), (-10, 0.1))  # b_h would leave its upper bound 0.1
    params, new_velocity = loop_update((W, b_v, b_h), velocity, rbm_data_moments(images, W, b_h),
                                       rbm_sample_moments(states, 2), rate, momentum, bounds)
    for got, want in zip(new_velocity, expected_velocity):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(params[0], W + expected_velocity[0], rtol=1e-12)
    np.testing.assert_allclose(params[1], b_v + expected_velocity[1], rtol=1e-12)
    assert b_h + expected_velocity[2] > 0.1 and params[2][0] == 0.1
    np.testing.assert_array_equal(W, [[0.5], [-1.0]])  # inputs untouched


def test_moments_of_a_machine_by_enumeration_and_by_samples_agree():
    W, b = random_bm(4, seed=2)
    exact = bm_target_moments(W, b)
    states = states_from_indices(np.arange(16), 4)
    counts = np.rint(exact_distribution(W, b) * 1e6).astype(int)
    sampled = bm_sample_moments(np.repeat(states, counts, axis=0))
    for got, want in zip(sampled.arrays, exact.arrays):
        np.testing.assert_allclose(got, want, atol=2e-6)
    assert np.all(np.diag(exact.arrays[0]) == 0)
    uniform = bm_distribution_moments(np.full(16, 1 / 16), 4)
    np.testing.assert_allclose(uniform.arrays[1], 0.5)
    np.testing.assert_allclose(uniform.arrays[0][0, 1], 0.25)


def test_the_loop_with_exact_samples_stays_and_with_a_biased_sampler_compensates():
    """A 'network' that samples the machine exactly leaves the parameters where the target's moments are matched
    (zero gradient); one whose biases act 0.5 too low is driven to parameters 0.5 higher (the loop learns the
    correction). Exact distributions stand for the samples (no noise); 2000 updates of rate 1, momentum 0.5."""
    W, b = random_bm(3, seed=5)
    target = bm_target_moments(W, b)

    def exact_network(offset):  # the 'samples' are the exact distribution of the biased network
        return lambda params, index: exact_distribution(params[0], params[1] - offset)

    bounds = ((-10, 10), (-10, 10))
    for offset in (0.0, 0.5):
        record = train_in_the_loop(exact_network(offset), (W, b), lambda params: target,
                                   lambda p: bm_distribution_moments(p, 3), bounds, np.full(2000, 1.0), 0.5,
                                   log=lambda line: None)
        np.testing.assert_allclose(record.params[1], b + offset, atol=1e-3)
        np.testing.assert_allclose(record.params[0], W, atol=1e-3)
        assert len(record.updates) == 2000 and record.updates[0]["learning_rate"] == 1.0


def test_learning_rates_decay_geometrically():
    np.testing.assert_allclose(learning_rates(0.4, 0.1, 3), [0.4, 0.2, 0.1])
    with pytest.raises(ValueError):
        learning_rates(0.0, 0.1, 3)


def test_representable_bounds_follow_the_corrections():
    u0, alpha = hcs_activation_estimate(P)
    calibration = ActivationPoint(P.rate_exc_hz, P.rate_inh_hz, u0, alpha)
    plain = representable_bounds(TranslationCorrections(), 3, P, calibration, 2.0)
    corrected = representable_bounds(TranslationCorrections(0.5, 1.0, np.array([1.0, 2.0, 1.0])), 3, P,
                                     calibration, 2.0)
    np.testing.assert_allclose(corrected[1][1], (plain[1][1] - 1.0) / 0.5)  # s b + t <= high
    assert corrected[0][1][0, 1] == corrected[0][1][1, 0] == pytest.approx(plain[0][1][0, 1] / 2)
    np.testing.assert_allclose(corrected[0][1], corrected[0][1].T)


def test_moments_type_holds_arrays_in_parameter_order():
    moments = rbm_sample_moments(np.array([[1, 1, 0], [0, 1, 1]]), 1)
    assert isinstance(moments, Moments) and moments.arrays[0].shape == (1, 2)
    np.testing.assert_allclose(moments.arrays[2], [1.0, 0.5])


def test_the_rbms_own_moments_are_read_from_its_reference_and_old_files_refused():
    """Target ``model``: the positive phase is the reference's recorded moments, in parameter order (W, b_v, b_h);
    a reference written before they were recorded, or none at all, is refused before any simulation."""
    vh, v, h = np.arange(6.0).reshape(3, 2) / 10, np.array([0.1, 0.2, 0.3]), np.array([0.4, 0.5])
    reference = xr.Dataset({"model_moment_visible_hidden": (("visible", "hidden"), vh),
                            "model_moment_visible": ("visible", v), "model_moment_hidden": ("hidden", h)})
    moments = reference_moments(reference)
    assert isinstance(moments, Moments)
    for got, want in zip(moments.arrays, (vh, v, h)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="model_moment_hidden.*rerun"):
        reference_moments(reference.drop_vars("model_moment_hidden"))
    settings = {"target": "model"}
    with pytest.raises(ValueError, match="needs the RBM's reference"):
        train_rbm_in_the_loop(None, None, None, P, settings, {}, 0.1, 0, "unused")
    with pytest.raises(ValueError, match="allowed: data, model"):
        train_rbm_in_the_loop(None, None, None, P, {"target": "images"}, {}, 0.1, 0, "unused")


@pytest.mark.slow
def test_the_loop_lowers_the_divergence_of_a_small_lif_network(brian_cache):
    """A 5-unit LIF network translated with the HCS theory estimate of the activation (units fire too often,
    couplings act too strong; no calibration): 8 updates with 20 networks x 2 s each bring D_KL(target ||
    samples) of an update's samples to less than half its first value. Each update holds 38,000 correlated
    samples, a few thousand effective: the histogram's own D_KL floor is ~(32 - 1) / (2 x 3000) ~ 0.005,
    well below the starting divergence (~0.05-0.1) and its half."""
    from lif_tempering.learning.in_the_loop import train_small_bm_in_the_loop
    from lif_tempering.sampling.network_calibration import GroupCorrections, machine_dataset

    u0_mV, alpha_mV = hcs_activation_estimate(P)
    calibration = ActivationPoint(P.rate_exc_hz, P.rate_inh_hz, u0_mV, alpha_mV)
    W, b = random_bm(5, seed=4)
    plain = machine_dataset(W, b, GroupCorrections.plain(1), "plain translation")
    settings = dict(n_updates=8, learning_rate_start=1.0, learning_rate_end=0.5, momentum=0.5, n_copies=20,
                    duration_ms=2100.0, burn_in_ms=200.0, sample_dt_ms=1.0)
    ds = train_small_bm_in_the_loop(W, b, plain, P, calibration, settings, 0.1, 3, brian_cache, log=lambda line: None)
    dkl = ds["dkl"].values
    assert dkl[0] > 0.03
    assert dkl[-2:].mean() < 0.5 * dkl[0]
    np.testing.assert_array_equal(ds["target_W"].values, W)
    assert ds.sizes["update"] == 8 and ds["dkl"].attrs["units"] == "nat"


@pytest.mark.slow
def test_networks_start_in_the_given_states(brian_cache):
    """Persistent chains: units given state 1 spike in the first step and read z = 1 for the whole first tau_ref;
    an all-zero start is the default start, spike for spike (mutations: v_start ignored, or started below
    threshold)."""
    from lif_tempering.sampling.network import BoltzmannSampler

    u0_mV, alpha_mV = hcs_activation_estimate(P)
    calibration = ActivationPoint(P.rate_exc_hz, P.rate_inh_hz, u0_mV, alpha_mV)
    sampler = BoltzmannSampler(5, 2100.0, brian_cache, n_networks=20, pattern="full", sample_dt_ms=1.0)
    W, b = random_bm(5, seed=6)
    start = (np.random.default_rng(1).random((20, 5)) < 0.5).astype(int)
    started = sampler.sample((W, b), P, calibration, seed=4, initial_states=start).samples
    first = int(round(P.tau_ref_ms))  # samples at 0, 1, ..., tau_ref - 1 ms
    assert np.all(started[:first][:, start == 1] == 1)
    default = sampler.sample((W, b), P, calibration, seed=4).samples
    zeros = sampler.sample((W, b), P, calibration, seed=4, initial_states=np.zeros((20, 5), int)).samples
    np.testing.assert_array_equal(default, zeros)
    assert not np.array_equal(started, default)

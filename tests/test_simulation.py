"""Brian2 simulations against theory: Poisson input, HCS membrane statistics, determinism."""

import numpy as np
import pytest
from brian2 import StateMonitor, ms, uS

from lif_tempering.model import NO_SPIKING_THRESHOLD_MV, make_lif_group, per_neuron_values
from lif_tempering.parameters import resolve_parameters
from lif_tempering.population import PopulationSimulator
from lif_tempering.single_neuron import membrane_dataset
from lif_tempering.standalone import StandaloneProject

pytestmark = pytest.mark.slow

SBS = resolve_parameters("sbs_tutorial")


def test_background_input_has_poisson_counts_per_step(brian_cache):
    """Counts per time step have variance = mean (a Bernoulli draw would give mean (1 - mean)).

    With tau_syn effectively infinite, g_exc / w_exc is the cumulative input
    count, so its increments are the per-step counts.
    """
    n_neurons, duration_ms, dt_ms, rate_hz = 4, 2000.0, 0.1, 3000.0

    def build(dt):
        group = make_lif_group(n_neurons, name="poisson_probe")
        monitor = StateMonitor(group, "g_exc", record=True, name="g_probe")
        return [group, monitor], {"group": group, "monitor": monitor}

    project = StandaloneProject({"kind": "poisson_probe", "n": n_neurons}, build, duration_ms, dt_ms, brian_cache)
    p = SBS.with_values(tau_syn_ms=1e12, rate_exc_hz=rate_hz, V_th_mV=NO_SPIKING_THRESHOLD_MV)
    group = project.handles["group"]
    project.run({getattr(group, k): v for k, v in per_neuron_values(p, n_neurons, dt_ms=dt_ms).items()}, seed=11)
    g = project.handles["monitor"].g_exc / uS
    counts = np.rint(np.diff(g, axis=1) / p.w_exc_uS).ravel()
    project.close()
    expected_mean = rate_hz * dt_ms * 1e-3
    n = counts.size
    # Poisson: var(mean) = lambda / n; var(sample variance) ~ (lambda + 2 lambda^2) / n.
    assert abs(counts.mean() - expected_mean) < 5 * np.sqrt(expected_mean / n)
    assert abs(counts.var() - expected_mean) < 5 * np.sqrt((expected_mean + 2 * expected_mean**2) / n)
    bernoulli_variance = expected_mean * (1 - expected_mean)
    assert counts.var() - bernoulli_variance > 10 * np.sqrt((expected_mean + 2 * expected_mean**2) / n)
    two_or_more = np.mean(counts >= 2)
    poisson_two_or_more = 1 - np.exp(-expected_mean) * (1 + expected_mean)
    assert abs(two_or_more - poisson_two_or_more) < 5 * np.sqrt(poisson_two_or_more / n)


def test_background_conductance_matches_campbell(brian_cache):
    """Mean w nu tau_syn and variance w^2 nu tau_syn / 2 of the background conductance (Campbell's theorem).

    The conductance is recorded at the start of a step, the value with which the membrane
    integrates it. Adding each event at full weight and decaying it once per step would give a
    mean dt / (tau_syn (1 - exp(-dt / tau_syn))) - 1 = +0.50 % and a variance
    2 dt / (tau_syn (1 - exp(-2 dt / tau_syn))) - 1 = +1.0 % too high at dt 0.1 ms, tau_syn 10 ms.
    1000 neurons x 2 receptors x 10 s at 20 kHz: per (neuron, receptor) the mean is known to
    1 / sqrt(nu T) = 0.22 %, the variance to sqrt(2 tau_syn / T) ~ 4.5 %, so over the 2000 independent
    series the standard errors are ~0.005 % and ~0.1 % (computed below from their spread); 4 standard
    errors (~0.02 % and ~0.4 %) resolve the old biases with room to spare.
    """
    n_neurons, duration_ms, burn_in_ms, record_ms, dt_ms, rate_hz = 1000, 10200.0, 200.0, 5.0, 0.1, 20000.0

    def build(dt):
        group = make_lif_group(n_neurons, name="conductance_probe")
        monitor = StateMonitor(group, ["g_exc", "g_inh"], record=True, dt=record_ms * ms, when="start",
                               name="conductance_monitor")
        return [group, monitor], {"group": group, "monitor": monitor}

    project = StandaloneProject({"kind": "conductance_probe", "n": n_neurons}, build, duration_ms, dt_ms, brian_cache)
    p = SBS.with_values(rate_exc_hz=rate_hz, rate_inh_hz=rate_hz, V_th_mV=NO_SPIKING_THRESHOLD_MV)
    group, monitor = project.handles["group"], project.handles["monitor"]
    project.run({getattr(group, k): v for k, v in per_neuron_values(p, n_neurons, dt_ms=dt_ms).items()}, seed=5)
    keep = np.asarray(monitor.t / ms) >= burn_in_ms  # 20 tau_syn after the start at g = 0
    series = [np.asarray(monitor.g_exc / uS)[:, keep] / p.w_exc_uS, np.asarray(monitor.g_inh / uS)[:, keep] / p.w_inh_uS]
    project.close()
    g = np.concatenate(series)  # conductance / weight, (series, time)
    expected_mean = rate_hz * 1e-3 * p.tau_syn_ms
    expected_variance = rate_hz * 1e-3 * p.tau_syn_ms / 2
    means = g.mean(axis=1)
    # About the grand mean: a series' own mean would take its variance, 2 tau_syn / T = 0.2 % of the total.
    variances = ((g - means.mean()) ** 2).mean(axis=1)
    se_mean = means.std(ddof=1) / np.sqrt(means.size) / expected_mean
    se_variance = variances.std(ddof=1) / np.sqrt(variances.size) / expected_variance
    assert 4 * se_mean < 0.002 and 4 * se_variance < 0.005  # the test resolves the biases it is meant to catch
    assert abs(means.mean() / expected_mean - 1) < 4 * se_mean
    assert abs(variances.mean() / expected_variance - 1) < 4 * se_variance


@pytest.mark.parametrize("rate_hz", [3000.0, 20000.0])
def test_free_membrane_matches_hcs_theory(brian_cache, rate_hz):
    """Mean and standard deviation of the free membrane against Campbell's theorem.

    20 neurons x 2 s give ~4000 independent samples (correlation time ~ tau_syn):
    the standard deviation is known to ~1.1 %, the mean to ~0.02 sigma, so 5 %
    and 0.1 sigma are > 4 standard errors while still catching a wrong formula
    (a Bernoulli input, for instance, lowers sigma by ~15 %).
    """
    settings = {"n_neurons": 20, "duration_ms": 2100.0, "burn_in_ms": 100.0, "record_every_ms": 0.5,
                "histogram_bins": 40, "histogram_half_width_sigmas": 5}
    ds = membrane_dataset(SBS, rate_hz, rate_hz, settings, 0.1, 3, brian_cache)
    assert abs(float(ds.std_sim_mV / ds.std_theory_mV) - 1) < 0.05
    assert abs(float(ds.mean_sim_mV - ds.mean_theory_mV)) < 0.1 * float(ds.std_theory_mV)
    # The histogram is a density and matches the Gaussian of the theory.
    width = float(ds.bin_center_mV[1] - ds.bin_center_mV[0])
    assert abs(float(ds.density_free.sum()) * width - 1) < 0.01
    assert float(np.abs(ds.density_free - ds.density_theory).max()) < 0.1 * float(ds.density_theory.max())
    # With reset, the neuron spends the refractory fraction of time at V_reset.
    assert 0.5 < float(ds.p_on_reset) < 1.0


def test_same_seed_same_numbers_and_binary_reuse(brian_cache):
    E_l = np.linspace(-52, -49, 30)
    sim = PopulationSimulator(30, 1000.0, 0.1, brian_cache)
    first = sim.run(SBS, 5, 100.0, E_l_mV=E_l).spike_count
    again = sim.run(SBS, 5, 100.0, E_l_mV=E_l).spike_count
    other = sim.run(SBS, 6, 100.0, E_l_mV=E_l).spike_count
    sim.close()
    rebuilt = PopulationSimulator(30, 1000.0, 0.1, brian_cache)
    assert rebuilt.project.directory == sim.project.directory
    from_cache = rebuilt.run(SBS, 5, 100.0, E_l_mV=E_l).spike_count
    rebuilt.close()
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, from_cache)
    assert not np.array_equal(first, other)
    # p_on rises with E_l: compare the outer thirds.
    assert first[:10].sum() < first[-10:].sum()

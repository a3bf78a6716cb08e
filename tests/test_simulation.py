"""Brian2 simulations against theory: Poisson input, HCS membrane statistics, determinism."""

import numpy as np
import pytest
from brian2 import StateMonitor, uS

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

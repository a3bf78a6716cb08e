"""Tests of the tempering layer: schedules, time-varying Poisson background, tempered LIF and Gibbs runs.

Two cpp_standalone binaries are compiled into the session's build cache: a probe
population with scheduled background rates, and a small RBM network.
"""

import numpy as np
import pytest
import xarray as xr
from brian2 import StateMonitor, ms, uS
from scipy import stats

from lif_tempering.neuron.model import (
    NO_SPIKING_THRESHOLD_MV,
    make_lif_group,
    make_rate_schedules,
    per_neuron_values,
    schedule_run_values,
)
from lif_tempering.neuron.parameters import resolve_parameters
from lif_tempering.neuron.standalone import StandaloneProject
from lif_tempering.tempering.runs import (
    LIFTemperingSampler,
    TemperatureMap,
    constant_schedule,
    make_schedule,
    rate_schedule_hz,
    sample_gibbs,
    sinusoidal_schedule,
    temperature_map,
)
from lif_tempering.tempering.schedules import expected_poisson_counts

P = resolve_parameters("sbs_tutorial")
DT_MS = 0.1

#: A compensated temperature map like the workflow's (sbs tutorial set; rates in Hz, alpha/u0 in mV).
TMAP = TemperatureMap(
    scheme="compensated",
    temperature=np.array([1.0, 1.5, 2.0, 2.5]),
    rate_exc_hz=np.array([3000.0, 6545.9, 11395.7, 17701.4]),
    rate_inh_hz=np.array([3000.0, 6692.1, 11706.8, 18193.5]),
    u0_mV=np.array([-50.629, -50.637, -50.630, -50.631]),
    alpha_mV=np.array([0.792, 1.192, 1.580, 1.978]),
    T_bias=np.array([1.0, 1.504, 1.994, 2.496]),
    T_weight=np.array([1.0, 1.487, 1.953, 2.428]),
)


# ---------------------------------------------------------------- schedules and rates

def test_free_schedule_runs_at_the_t1_rates_and_tempered_reaches_t_max():
    n_steps, frequency_hz = 20_000, 2.0  # 2 s, four periods
    free = rate_schedule_hz(constant_schedule(frequency_hz), TMAP, n_steps, DT_MS)
    np.testing.assert_array_equal(free[0], 3000.0)
    np.testing.assert_array_equal(free[1], 3000.0)
    exc, inh = rate_schedule_hz(sinusoidal_schedule(2.0, frequency_hz), TMAP, n_steps, DT_MS)
    t_mid_ms = (np.arange(n_steps) + 0.5) * DT_MS
    at_phase_0 = np.argmin(np.abs(t_mid_ms - 500.0))
    at_phase_pi = np.argmin(np.abs(t_mid_ms - 250.0))
    assert exc[at_phase_0] == pytest.approx(3000.0, rel=1e-5) and inh[at_phase_0] == pytest.approx(3000.0, rel=1e-5)
    assert exc[at_phase_pi] == pytest.approx(11395.7, rel=1e-5) and inh[at_phase_pi] == pytest.approx(11706.8, rel=1e-5)
    assert exc.min() >= 3000.0 - 1e-6 and exc.max() <= 11395.7 + 1e-6


def test_schedules_by_name_and_their_phase():
    tempered = make_schedule("tempered", 2.0, 4.0)
    free = make_schedule("free", 2.0, 4.0)
    t_ms = np.array([0.0, 62.5, 125.0, 250.0])
    np.testing.assert_allclose(tempered.temperature(t_ms), [1.0, 1.5, 2.0, 1.0], atol=1e-12)
    np.testing.assert_array_equal(free.temperature(t_ms), 1.0)
    np.testing.assert_allclose(free.phase(t_ms), tempered.phase(t_ms))  # read at the same instants
    np.testing.assert_allclose(tempered.phase(t_ms), [0.0, np.pi / 2, np.pi, 0.0], atol=1e-12)
    assert (tempered.name, free.name) == ("tempered", "free")
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("square", 2.0, 4.0)
    with pytest.raises(ValueError, match="t_max"):
        sinusoidal_schedule(0.5, 2.0)


def test_temperature_map_reads_one_scheme_of_the_workflow_dataset():
    ds = xr.Dataset(
        {name: (("scheme", "temperature"), np.stack([getattr(TMAP, name) * 1.1, getattr(TMAP, name)]))
         for name in ("rate_exc_hz", "rate_inh_hz", "u0_mV", "alpha_mV", "T_bias", "T_weight")},
        coords={"scheme": ["balanced", "compensated"], "temperature": TMAP.temperature},
    )
    tmap = temperature_map(ds)
    assert tmap.scheme == "compensated"
    np.testing.assert_array_equal(tmap.rate_inh_hz, TMAP.rate_inh_hz)
    assert tmap.reference.u0_mV == TMAP.u0_mV[0] and tmap.reference.rate_exc_hz == 3000.0
    np.testing.assert_array_equal(temperature_map(ds, "balanced").rate_exc_hz, TMAP.rate_exc_hz * 1.1)
    with pytest.raises(ValueError, match="outside the map range"):
        tmap.rates(3.0)
    # the workflow writes one file per scheme: reading the other scheme's file is an error, not a silent swap
    with pytest.raises(ValueError, match="holds scheme\\(s\\) balanced, not 'compensated'"):
        temperature_map(ds.sel(scheme=["balanced"]), "compensated")
    # a non-finite rate of the map is refused with its variable and temperature, not sent to the simulation
    broken = ds.copy(deep=True)
    broken["rate_inh_hz"][1, 2] = np.nan
    with pytest.raises(ValueError, match=rf"rate_inh_hz\[temperature={TMAP.temperature[2]}\] = nan"):
        temperature_map(broken)


# ---------------------------------------------------------------- realised background rate

def test_realised_background_follows_the_sinusoidal_schedule(brian_cache):
    """Background event counts per phase bin against the schedule's integrated rate.

    With tau_syn effectively infinite, g / w is the cumulative number of background
    events of a neuron. It is recorded at the end of every ``bin_ms``; a record at
    t holds the draws of all steps up to t, i.e. events in [0, t + dt). Counts of
    each neuron and bin are Poisson with the integrated rate (docs/model.md: exact
    Poisson), so sum (n - Lambda)^2 / Lambda over all cells is chi-square with one
    degree of freedom per cell (this tests the variance too), and the counts pooled
    per phase bin follow the sinusoid.
    """
    n_neurons, duration_ms, bin_ms, frequency_hz = 10, 2000.0, 12.5, 2.0
    n_steps = int(round(duration_ms / DT_MS))

    def build(dt):
        schedules = make_rate_schedules(n_steps, dt, name="probe")
        group = make_lif_group(n_neurons, name="probe", rate_schedules=schedules)
        monitor = StateMonitor(group, ["g_exc", "g_inh"], record=True, dt=bin_ms * ms, when="end", name="probe_g")
        return [group, monitor], {"group": group, "monitor": monitor, "schedules": schedules}

    project = StandaloneProject({"kind": "scheduled_poisson_probe", "n": n_neurons, "steps": n_steps}, build,
                                duration_ms, DT_MS, brian_cache)
    schedule = sinusoidal_schedule(2.0, frequency_hz)
    rates = rate_schedule_hz(schedule, TMAP, n_steps, DT_MS)
    p = P.with_values(tau_syn_ms=1e12, V_th_mV=NO_SPIKING_THRESHOLD_MV)
    handles = project.handles
    values = per_neuron_values(p, n_neurons, dt_ms=DT_MS)
    del values["growth_exc"], values["growth_inh"]
    run_args = {getattr(handles["group"], k): v for k, v in values.items()}
    run_args.update(schedule_run_values(handles["schedules"], rates[0], rates[1], DT_MS))
    project.run(run_args, seed=3)
    monitor = handles["monitor"]
    record_ms = np.asarray(monitor.t / ms)
    edges_ms = record_ms + DT_MS
    for receptor, w_uS, rate_column in (("g_exc", p.w_exc_uS, 0), ("g_inh", p.w_inh_uS, 1)):
        cumulative = np.rint(np.asarray(getattr(monitor, receptor) / uS) / w_uS)
        counts = np.diff(cumulative, axis=1)  # (neuron, bin)

        def rate_hz(t_ms, column=rate_column):
            return np.asarray(TMAP.rates(schedule.temperature(t_ms))[column])

        expected = expected_poisson_counts(rate_hz, edges_ms)
        # every neuron and bin: Poisson mean and variance
        chi2_cells = float(np.sum((counts - expected) ** 2 / expected))
        assert stats.chi2.sf(chi2_cells, counts.size) > 1e-3, receptor
        assert stats.chi2.cdf(chi2_cells, counts.size) > 1e-3, receptor  # not under-dispersed either
        # pooled over neurons and periods per phase bin: the sinusoid
        n_phase_bins = int(round(1000.0 / frequency_hz / bin_ms))
        phase_bin = np.arange(expected.size) % n_phase_bins
        observed = np.bincount(phase_bin, weights=counts.sum(axis=0), minlength=n_phase_bins)
        predicted = n_neurons * np.bincount(phase_bin, weights=expected, minlength=n_phase_bins)
        chi2_phase = float(np.sum((observed - predicted) ** 2 / predicted))
        assert stats.chi2.sf(chi2_phase, n_phase_bins) > 1e-3, receptor
        assert predicted.max() / predicted.min() > 3  # the modulation is deep: the test has power
        # a schedule a quarter period off is rejected
        shifted = np.roll(predicted, n_phase_bins // 4)
        assert stats.chi2.sf(float(np.sum((observed - shifted) ** 2 / shifted)), n_phase_bins) < 1e-10
    project.close()


# ---------------------------------------------------------------- LIF and Gibbs runs of a small RBM

N_VISIBLE, N_HIDDEN = 4, 3
B_V = np.array([2.5, -2.5, 2.5, -2.5])
B_H = np.array([1.0, -1.0, 0.0])
W_RBM = 0.1 * np.array([[1.0, -1.0, 0.5], [-0.5, 1.0, -1.0], [0.5, 0.5, -0.5], [-1.0, 0.5, 1.0]])
RBM = (W_RBM, B_V, B_H)
DURATION_MS, BURN_IN_MS = 20_000.0, 200.0


@pytest.fixture(scope="module")
def lif_runs(brian_cache):
    sampler = LIFTemperingSampler(N_VISIBLE, N_HIDDEN, DURATION_MS, brian_cache, P, TMAP, burn_in_ms=BURN_IN_MS,
                                  sample_dt_ms=1.0)
    runs = {
        "free": sampler.sample(RBM, make_schedule("free", 2.0, 2.0), seed=5),
        "tempered": sampler.sample(RBM, make_schedule("tempered", 2.0, 2.0), seed=5, attrs={"training_seed": 7}),
        "tempered_again": sampler.sample(RBM, make_schedule("tempered", 2.0, 2.0), seed=5),
    }
    sampler.close()
    return runs


def _visible_bias_strength(run, mask):
    """Mean |p(z = 1) - 1/2| of the visible units over the samples in ``mask``."""
    return float(np.abs(run.z.values[mask, :N_VISIBLE].mean(axis=0) - 0.5).mean())


@pytest.mark.slow
def test_lif_run_layout_and_per_sample_schedule(lif_runs):
    run = lif_runs["tempered"]
    n_samples = int((DURATION_MS - BURN_IN_MS) / 1.0)
    assert run.z.shape == (n_samples, N_VISIBLE + N_HIDDEN) and run.z.dtype == np.int8
    t = run.time_ms.values
    assert t[0] == BURN_IN_MS and np.all(np.diff(t) == 1.0)
    schedule = sinusoidal_schedule(2.0, 2.0)
    np.testing.assert_allclose(run.temperature.values, schedule.temperature(t))
    np.testing.assert_allclose(run.phase.values, schedule.phase(t))
    assert run.attrs["sampler"] == "lif" and run.attrs["schedule"] == "tempered" and run.attrs["training_seed"] == 7
    assert run.attrs["t_max"] == 2.0 and run.attrs["frequency_hz"] == 2.0 and run.attrs["n_visible"] == N_VISIBLE
    assert run.attrs["rate_exc_hz_max"] == pytest.approx(11395.7, rel=1e-4)
    np.testing.assert_array_equal(lif_runs["free"].temperature.values, 1.0)
    np.testing.assert_array_equal(run.z.values, lif_runs["tempered_again"].z.values)  # deterministic given the seed


@pytest.mark.slow
def test_hot_noise_flattens_the_sampled_distribution(lif_runs):
    """At T ~ 2 the biased units' marginals move toward 1/2; without tempering they do not.

    For the biases +-2.5 the T = 1 marginal is ~0.92 (|p - 1/2| ~ 0.42) and at
    T = 2 ~0.78 (0.28); 4 units x ~5000 samples near each phase give a standard
    error of ~0.01 even with tau_ref-long correlations.
    """
    tempered, free = lif_runs["tempered"], lif_runs["free"]
    hot = tempered.temperature.values > 1.9
    cold = tempered.phase.values < 0.2 * np.pi
    cold |= tempered.phase.values > 1.8 * np.pi
    assert _visible_bias_strength(tempered, cold) - _visible_bias_strength(tempered, hot) > 0.08
    # the free run, split at the same instants, shows no difference
    assert abs(_visible_bias_strength(free, cold) - _visible_bias_strength(free, hot)) < 0.04


def test_gibbs_baseline_follows_beta_of_t():
    schedule = make_schedule("tempered", 3.0, 2.0)
    run = sample_gibbs(RBM, schedule, 4000.0, seed=1, sweep_ms=10.0, burn_in_ms=100.0)
    assert run.z.shape == (390, N_VISIBLE + N_HIDDEN) and run.time_ms.values[0] == 100.0
    np.testing.assert_allclose(run.temperature.values, schedule.temperature(run.time_ms.values))
    assert run.attrs["sampler"] == "gibbs" and run.attrs["sample_dt_ms"] == 10.0
    again = sample_gibbs(RBM, schedule, 4000.0, seed=1, sweep_ms=10.0, burn_in_ms=100.0)
    np.testing.assert_array_equal(run.z.values, again.z.values)
    long_run = sample_gibbs(RBM, schedule, 200_000.0, seed=2, sweep_ms=10.0)
    hot = long_run.temperature.values > 2.8
    cold = long_run.temperature.values < 1.2
    assert _visible_bias_strength(long_run, cold) - _visible_bias_strength(long_run, hot) > 0.1
    with pytest.raises(ValueError, match="multiple of sweep_ms"):
        sample_gibbs(RBM, schedule, 4005.0, seed=1, sweep_ms=10.0)

"""Tests of the Tsodyks-Markram synapses: release sequences, steady state, weight scaling, the renewing default.

The release sequences of known spike trains are compared with an independent numpy
recursion in the form of Markram et al. (1998): between spikes u decays to 0 with
tau_fac and x recovers to 1 with tau_rec; at a spike u first gains U (1 - u), then
u x is released. A rested synapse has u = 0, x = 1 before its first spike.
"""

import copy
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from brian2 import Network, NeuronGroup, StateMonitor, TimedArray, defaultclock, ms, start_scope, uS

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.config import ConfigError, validate_config
from lif_tempering.io import read_dataset
from lif_tempering.neuron.model import TSODYKS_MARKRAM_ON_SPIKE, TSODYKS_MARKRAM_STATE, run_reset_before_synapses
from lif_tempering.neuron.parameters import PARAMETER_SETS
from lif_tempering.neuron.standalone import StandaloneProject
from lif_tempering.neuron.stp import (
    RENEWING,
    STPParameters,
    reference_release,
    steady_state_release,
    stp_from_config,
)
from lif_tempering.sampling.network import BoltzmannSampler, make_synapses, write_samples
from lif_tempering.sampling.translation import stp_weight_factor

P = PARAMETER_SETS["sbs_tutorial"]
DT_MS = 0.1
#: Spikes (ms, multiples of dt): one at t = 0, one a step later, bursts, long pauses.
SPIKES_MS = [0.0, 0.1, 3.0, 8.0, 8.5, 20.0, 21.5, 50.0, 51.0, 52.0, 53.0, 120.0, 400.0]
PROBE_MS = 420.0
#: (U, tau_rec_ms, tau_fac_ms): renewing, depressing (U 0.5, tau_rec 100 ms; U 0.01, tau_rec
#: 280 ms as for mixing in Leng et al. 2018), facilitating (tau_fac > 0).
SETTINGS = [(1.0, 10.0, 0.0), (0.5, 100.0, 0.0), (0.01, 280.0, 0.0), (0.1, 50.0, 200.0), (0.3, 20.0, 5.0)]


def tso_releases(spike_times_ms, U, tau_rec_ms, tau_fac_ms):
    """Release u x at each spike of a rested synapse (Markram et al. 1998 form)."""
    u, x, last, releases = 0.0, 1.0, None, []
    for t in spike_times_ms:
        if last is not None:
            u = u * np.exp(-(t - last) / tau_fac_ms) if tau_fac_ms > 0 else 0.0
            x = 1.0 - (1.0 - x) * np.exp(-(t - last) / tau_rec_ms)
        u = u + U * (1.0 - u)
        releases.append(u * x)
        x -= u * x
        last = t
    return np.array(releases)


def probe_objects():
    """One spike source per setting with Tsodyks-Markram state, each driving a non-decaying g_exc."""
    n = len(SETTINGS)
    pattern = np.zeros(int(round(PROBE_MS / DT_MS)))
    pattern[np.rint(np.array(SPIKES_MS) / DT_MS).astype(int)] = 1.0
    source = NeuronGroup(n, TSODYKS_MARKRAM_STATE, threshold="spike_pattern(t) > 0.5", reset=TSODYKS_MARKRAM_ON_SPIKE,
                         namespace={"spike_pattern": TimedArray(pattern, dt=DT_MS * ms)}, name="stp_source")
    run_reset_before_synapses(source)
    target = NeuronGroup(n, "g_exc : siemens\ng_inh : siemens\nsyn_weight_scale : 1", name="stp_target")
    synapses = make_synapses(source, target, "renewing", name="stp_synapses")
    synapses.connect(j="i")
    monitor = StateMonitor(target, "g_exc", record=True, name="stp_monitor")
    return [source, target, synapses, monitor], {"source": source, "target": target, "synapses": synapses,
                                                 "monitor": monitor}


def probe_values(handles) -> dict:
    """Per-run values: the settings, rested state, weight 1 uS, no step scaling."""
    U, tau_rec, tau_fac = (np.array(column, dtype=float) for column in zip(*SETTINGS))
    source, target, synapses = handles["source"], handles["target"], handles["synapses"]
    n = len(SETTINGS)
    return {source.stp_U: U, source.tau_rec: tau_rec * ms, source.tau_fac: tau_fac * ms, source.resource: np.ones(n),
            target.syn_weight_scale: np.ones(n), synapses.weight: np.ones(n) * uS, synapses.receptor_exc: np.ones(n)}


def measured_releases(monitor) -> np.ndarray:
    """(setting, spike) conductance steps in units of the weight: a spike's step shows at the next step."""
    g = np.asarray(monitor.g_exc / uS)
    steps = np.rint(np.array(SPIKES_MS) / DT_MS).astype(int)
    return g[:, steps + 1] - g[:, steps]


def expected_releases() -> np.ndarray:
    return np.array([tso_releases(SPIKES_MS, *setting) for setting in SETTINGS])


def runtime_releases() -> np.ndarray:
    """(setting, spike) releases of the package's synapses, simulated on the runtime device."""
    start_scope()
    defaultclock.dt = DT_MS * ms
    objects, handles = probe_objects()
    for variable, value in probe_values(handles).items():
        variable[:] = value
    Network(*objects).run(PROBE_MS * ms, namespace={})
    return measured_releases(handles["monitor"])


def test_release_sequence_runtime(runtime_device):
    np.testing.assert_allclose(runtime_releases(), expected_releases(), rtol=1e-9, atol=1e-15)


@pytest.mark.slow
def test_release_sequence_standalone(brian_cache):
    """The compiled C++ code gives the same sequences; one binary serves every setting (values per run)."""
    project = StandaloneProject({"kind": "stp_probe", "n": len(SETTINGS)}, lambda dt: probe_objects(), PROBE_MS,
                                DT_MS, brian_cache)
    project.run(probe_values(project.handles), seed=1)
    releases = measured_releases(project.handles["monitor"])
    project.close()
    expected = expected_releases()
    np.testing.assert_allclose(releases, expected, rtol=1e-9, atol=1e-15)
    # the renewing synapse releases all of its recovered resource; facilitation raises later releases above U
    np.testing.assert_allclose(expected[0], 1 - np.exp(-np.diff(SPIKES_MS, prepend=-np.inf) / 10.0), rtol=1e-12)
    assert expected[3, 1] > SETTINGS[3][0] and expected[2, 1] < SETTINGS[2][0]


def test_steady_state_release_is_the_fixed_point_of_a_regular_train():
    for U, tau_rec, tau_fac in SETTINGS:
        for rate_hz in (5.0, 50.0, 200.0):
            train = np.arange(4000) * 1000.0 / rate_hz
            np.testing.assert_allclose(steady_state_release(U, tau_rec, tau_fac, rate_hz),
                                       tso_releases(train, U, tau_rec, tau_fac)[-1], rtol=1e-12)


def test_reference_release_and_weight_factor():
    assert stp_weight_factor(RENEWING, P) == 1.0  # the renewing synapse keeps its weights exactly
    assert reference_release(STPParameters(U=0.01, tau_rec_ms=280.0), P.tau_syn_ms, P.tau_ref_ms) == 0.01
    depressing = STPParameters(U=0.5, tau_rec_ms=100.0, weight_scaling="steady_state")
    interval_ms = 2 * P.tau_ref_ms  # p(z = 1) = 1/2
    a = np.exp(-interval_ms / 100.0)
    np.testing.assert_allclose(reference_release(depressing, P.tau_syn_ms, P.tau_ref_ms),
                               0.5 * (1 - a) / (1 - 0.5 * a), rtol=1e-12)
    renewing_steady = STPParameters(weight_scaling="steady_state")  # tau_rec = tau_syn: x = 1 - exp(-2)
    np.testing.assert_allclose(stp_weight_factor(renewing_steady, P), 1 / (1 - np.exp(-interval_ms / P.tau_syn_ms)),
                               rtol=1e-12)


def test_parameters_are_checked():
    for bad, message in (({"U": 0.0}, "U"), ({"U": 1.5}, "U"), ({"tau_rec_ms": 0.0}, "tau_rec_ms"),
                         ({"tau_fac_ms": -1.0}, "tau_fac_ms"), ({"weight_scaling": "peak"}, "rested")):
        with pytest.raises(ValueError, match=message):
            STPParameters(**bad)
    assert stp_from_config(None) == RENEWING
    section = {"U": 1, "tau_rec_ms": None, "tau_fac_ms": 0, "weight_scaling": "rested"}
    assert stp_from_config(section) == RENEWING
    assert RENEWING.attrs(P.tau_syn_ms) == {"stp_U": 1.0, "stp_tau_rec_ms": P.tau_syn_ms, "stp_tau_fac_ms": 0.0,
                                            "stp_weight_scaling": "rested"}


def test_config_section_defaults_to_renewing_and_is_validated():
    with open(Path(__file__).resolve().parents[1] / "config" / "config.yaml") as handle:
        config = yaml.safe_load(handle)
    assert stp_from_config(config["lif_sampling"]["stp"]) == RENEWING
    for key, bad, allowed in (("U", 0.0, "> 0 and <= 1"), ("tau_rec_ms", 0.0, "> 0"), ("tau_fac_ms", -1.0, ">= 0"),
                              ("weight_scaling", "peak", "rested, steady_state")):
        broken = copy.deepcopy(config)
        broken["lif_sampling"]["stp"][key] = bad
        with pytest.raises(ConfigError, match=f"lif_sampling.stp.{key}: .*allowed: {allowed}"):
            validate_config(broken)


def test_plasticity_needs_renewing_synapses(brian_cache):
    with pytest.raises(ValueError, match="renewing"):
        BoltzmannSampler(3, 100.0, brian_cache, synapse="exponential", stp=STPParameters(U=0.5))


#: Spikes (steps, units) of the network of :func:`tiny_network_runs` with the renewing synapse, recorded
#: with the counter-based background (same seed, same binary flags): any change of the renewing synapse's
#: numbers, by the Tsodyks-Markram generalisation or later, shows here. (The renewing synapse before that
#: generalisation gave the same spikes as after it under the earlier background stream.)
RENEWING_SPIKE_STEPS = [36, 58, 187, 301, 358, 367, 458, 468, 558, 566, 745, 805, 905, 1004, 1005, 1078, 1105, 1310,
                        1316, 1357, 1410, 1445, 1457, 1481, 1510, 1557, 1581, 1610, 1664, 1681, 1810, 1819, 1937, 1949,
                        2112, 2119, 2150, 2381, 2385, 2547, 2553, 2647, 2647, 2735, 2747, 2747, 2771, 2835, 2847, 2872,
                        2874, 2935, 2987]
RENEWING_SPIKE_UNITS = [1, 0, 4, 5, 1, 2, 1, 0, 1, 2, 2, 1, 1, 4, 1, 2, 1, 4, 2, 1, 4, 2, 1, 3, 4, 1, 3, 4, 1, 3, 3,
                        1, 1, 2, 4, 1, 5, 5, 4, 1, 2, 1, 3, 4, 1, 3, 2, 4, 3, 1, 2, 4, 3]


@pytest.fixture(scope="module")
def tiny_network_runs(brian_cache):
    """Two copies of a 3-unit BM, 300 ms, seed 3, with the default, explicit renewing and depressing synapses."""
    activation = ActivationPoint(P.rate_exc_hz, P.rate_inh_hz, -52.0, 1.2)
    W = np.array([[0.0, 1.5, -1.0], [1.5, 0.0, 0.8], [-1.0, 0.8, 0.0]])
    b = np.array([-0.5, 0.3, 0.2])
    runs = {}
    for name, stp in (("default", None), ("explicit", STPParameters(U=1.0, tau_rec_ms=P.tau_syn_ms, tau_fac_ms=0.0)),
                      ("depressing", STPParameters(U=0.5, tau_rec_ms=100.0))):
        sampler = BoltzmannSampler(3, 300.0, brian_cache, n_networks=2, synapse="renewing", stp=stp)
        runs[name] = sampler.sample((W, b), P, activation, seed=3)
        sampler.close()
        del sampler
    return runs


#: Tsodyks-Markram settings of the sampling network's own delivery check: the renewing default, the study's
#: and config/mnist.yaml's depressing settings, a facilitating one.
STORE_SETTINGS = [RENEWING, STPParameters(U=0.01, tau_rec_ms=280.0), STPParameters(U=0.1, tau_rec_ms=100.0),
                  STPParameters(U=0.1, tau_rec_ms=50.0, tau_fac_ms=200.0)]
STORE_PROBE_MS = 4000.0


def store_probe_objects(n_pairs: int):
    """The sampling network's neurons and event store (renewing synapses): source k drives target n_pairs + k."""
    from brian2 import SpikeMonitor

    from lif_tempering.neuron.model import make_lif_group
    from lif_tempering.sampling.event_delivery import make_event_store

    group = make_lif_group(2 * n_pairs, name="stp_store_probe")
    store = make_event_store(group, np.arange(n_pairs), n_pairs + np.arange(n_pairs), "renewing",
                             name="stp_store_probe_synapses")
    spikes = SpikeMonitor(group, record=True, name="stp_store_probe_spikes")
    traces = StateMonitor(group, "g_exc", record=list(range(n_pairs, 2 * n_pairs)), name="stp_store_probe_traces")
    return [group, store, spikes, traces], {"group": group, "store": store, "spikes": spikes, "traces": traces}


@pytest.mark.slow
def test_sampling_network_releases_follow_the_recursion_of_its_own_spike_trains(brian_cache):
    """The sampling network's event store, independently of any recorded output: for every spike train its
    neurons produce, each conductance step of the target is weight x the release that the Tsodyks-Markram
    recursion (tso_releases, written here) gives for that train, to 1e-9. Sources 0-3 fire irregularly in
    their Poisson background (E_l = -50.6 mV, about u0), sources 4-7 regularly without background (E_l
    -40 mV: a spike each refractory period, ~99 Hz), where the last release is the analytic steady state
    u* x* of a regular train (steady_state_release). Targets have no background and never spike."""
    from brian2 import siemens

    from lif_tempering.neuron.model import per_neuron_values
    from lif_tempering.sampling.event_delivery import event_store_values

    settings = STORE_SETTINGS + STORE_SETTINGS
    n = len(settings)
    w_uS = 0.002
    silent = np.zeros(n)
    values = per_neuron_values(P, 2 * n, E_l_mV=np.r_[np.full(n // 2, -50.6), np.full(n // 2, -40.0), silent - 60],
                               rate_exc_hz=np.r_[np.full(n // 2, P.rate_exc_hz), silent[n // 2:], silent],
                               rate_inh_hz=np.r_[np.full(n // 2, P.rate_inh_hz), silent[n // 2:], silent],
                               V_th_mV=np.r_[np.full(n, P.V_th_mV), silent + 1e6], dt_ms=DT_MS)
    values["stp_U"] = np.tile([stp.U for stp in settings], 2)
    values["tau_rec"] = np.tile([stp.tau_rec_or(P.tau_syn_ms) for stp in settings], 2) * ms
    values["tau_fac"] = np.tile([stp.tau_fac_ms for stp in settings], 2) * ms
    project = StandaloneProject({"kind": "stp_store_probe", "n": n}, lambda dt: store_probe_objects(n),
                                STORE_PROBE_MS, DT_MS, brian_cache)
    group, synapses = project.handles["group"], project.handles["store"]
    run_args = {getattr(group, name): value for name, value in values.items()}
    scale = np.asarray(values["syn_weight_scale"])
    store = event_store_values(np.arange(n), n + np.arange(n), 2 * n, np.full(n, w_uS * 1e-6), np.ones(n), scale)
    run_args[synapses.synapse_target] = store["synapse_target"]
    run_args[synapses.synapse_weight] = store["synapse_weight"] * siemens
    project.run(run_args, seed=5)
    spikes, traces = project.handles["spikes"], project.handles["traces"]
    spike_steps, spike_units = np.rint(np.asarray(spikes.t / ms) / DT_MS).astype(int), np.asarray(spikes.i[:])
    g = np.asarray(traces.g_exc / uS)
    project.close()
    # g at the start of step s + 1 is g at the start of step s decayed, plus the events delivered in step s
    increments = g[:, 1:] - g[:, :-1] * np.asarray(values["syn_decay"])[n:, None]
    for k, stp in enumerate(settings):
        steps = spike_steps[spike_units == k]
        assert steps.size > (100 if k < n // 2 else 390), (k, steps.size)
        expected = tso_releases(steps * DT_MS, stp.U, stp.tau_rec_or(P.tau_syn_ms), stp.tau_fac_ms)
        np.testing.assert_allclose(increments[k, steps] / (w_uS * scale[n + k]), expected, rtol=1e-9, err_msg=str(k))
        others = np.setdiff1d(np.arange(increments.shape[1]), steps)
        assert np.all(np.abs(increments[k, others]) <= 1e-12 * w_uS)
        if k >= n // 2:  # a regular train: one interval, and the releases at its fixed point
            interval_ms = np.unique(np.diff(steps))
            assert interval_ms.size == 1, interval_ms
            fixed_point = steady_state_release(stp.U, stp.tau_rec_or(P.tau_syn_ms), stp.tau_fac_ms,
                                               1000.0 / (interval_ms[0] * DT_MS))
            # the distance to the fixed point shrinks by (1 - U) exp(-interval / tau_rec) <= 0.965 per spike:
            # below 1e-7 after the ~390 spikes of 4 s
            np.testing.assert_allclose(increments[k, steps[-1]] / (w_uS * scale[n + k]), fixed_point, rtol=1e-7)
            assert stp == RENEWING or abs(expected[0] - fixed_point) > 0.05 * fixed_point  # far from it at first


@pytest.mark.slow
def test_renewing_default_keeps_its_spikes_bit_for_bit(tiny_network_runs):
    for name in ("default", "explicit"):
        result = tiny_network_runs[name]
        np.testing.assert_array_equal(np.rint(result.spike_times_ms / DT_MS).astype(int), RENEWING_SPIKE_STEPS)
        np.testing.assert_array_equal(result.spike_units, RENEWING_SPIKE_UNITS)
        assert result.params["stp_U"] == 1.0 and result.params["stp_weight_factor"] == 1.0


@pytest.mark.slow
def test_plasticity_parameters_act_per_run_and_are_recorded(tiny_network_runs, tmp_path):
    result = tiny_network_runs["depressing"]
    assert not np.array_equal(result.spike_times_ms, tiny_network_runs["default"].spike_times_ms)
    ds = read_dataset(write_samples(tmp_path / "samples.nc", result))
    assert ds.attrs["stp_U"] == 0.5 and ds.attrs["stp_tau_rec_ms"] == 100.0 and ds.attrs["stp_tau_fac_ms"] == 0.0
    assert ds.attrs["stp_weight_scaling"] == "rested" and ds.attrs["stp_weight_factor"] == 2.0


@pytest.fixture
def nest():
    """NEST (``nest-simulator``, installed with the test extra). Missing, it skips the test, except on CI
    (``CI=true``), where it fails it."""
    try:
        import nest
    except ImportError as error:
        message = f"NEST is not installed ({error}): pip install -e '.[test]'"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return nest


def test_nest_tsodyks2_synapse_gives_the_same_releases(nest, runtime_device):
    """NEST's tsodyks2_synapse, started rested (u = U, x = 1), sends the same releases as the numpy
    recursion and as the package's synapses (releases depend on the intervals only)."""
    times_ms = [t + 1.0 for t in SPIKES_MS]  # a spike generator cannot emit at t = 0
    package_releases = runtime_releases()
    for setting, (U, tau_rec, tau_fac) in enumerate(SETTINGS):
        nest.ResetKernel()
        nest.resolution = DT_MS
        generator = nest.Create("spike_generator", params={"spike_times": times_ms})
        relay, target = nest.Create("parrot_neuron"), nest.Create("parrot_neuron")
        recorder = nest.Create("weight_recorder")
        nest.CopyModel("tsodyks2_synapse", "stp_probe", {"weight_recorder": recorder, "U": U, "u": U, "x": 1.0,
                                                         "tau_rec": tau_rec, "tau_fac": tau_fac})
        nest.Connect(generator, relay)
        nest.Connect(relay, target, syn_spec={"synapse_model": "stp_probe", "weight": 1.0, "delay": DT_MS})
        nest.Simulate(PROBE_MS + 10.0)
        nest_releases = recorder.get("events")["weights"]
        np.testing.assert_allclose(nest_releases, tso_releases(times_ms, U, tau_rec, tau_fac), rtol=1e-12)
        np.testing.assert_allclose(package_releases[setting], nest_releases, rtol=1e-9, atol=1e-15,
                                   err_msg=f"package vs NEST, setting {setting}")

#!/usr/bin/env python
"""Side-by-side benchmark: lif-tempering (Brian2 cpp_standalone) against NEST 3.10.

Every task is simulated by both simulators with the same physics (docs/model.md,
docs/calibration.md, docs/translation.md): conductance-based LIF neurons of the sbs tutorial set, exact
Poisson background (3 kHz excitatory and inhibitory, 1 nS), dt = 0.1 ms, and
for the networks "renewing" synapses (Tsodyks-Markram with U = 1, tau_rec =
tau_syn) carrying the weights of :func:`lif_tempering.sampling.translation.bm_to_lif`.

Ours: the package's own path (PopulationSimulator for the calibration,
BoltzmannSampler / LIFSamplingNetwork for the networks). The project is compiled
once into a fresh cache folder (``compile_s``), then in every round set up again
from the cache (``rebuild_s``: for the calibration Brian2's code generation without a
compiler run, for the networks the cached binary's manifest only) and run
(``ours_s_per_s``: wall time of ``run``/``sample``, i.e. writing the values,
running the compiled binary, reading the spikes back and the readout, per
simulated second). ``ours_core_s_per_s`` is the binary's own network-loop time. Ours
runs on 1 thread (``ours_*``, the study's default) and on 2 threads
(``ours2_*``; ``ours2_speedup_vs_ours1``), both with the same seed in a round:
``ours2_identical_to_ours1`` records whether the two gave the same spikes (they must:
the background's random numbers are counter-based, synaptic events keep their order).

NEST: ``iaf_cond_exp`` neurons, one ``poisson_generator`` per receptor connected to
all neurons (NEST draws an independent Poisson train per target, exact Poisson
counts per step), ``tsodyks2_synapse`` with U = u = 1, tau_rec = tau_syn, tau_fac = 0
(the update rule of our renewing synapse; ``--synapse exponential`` compares plain
exponential synapses against ``static_synapse`` instead), delay = dt. Task ``stp``: the
bm100 network with short-term plasticity, U = 0.2, tau_rec = 100 ms, tau_fac = 50 ms
(depression and facilitation) in both, ``tsodyks2_synapse`` starting rested (u = U,
x = 1: NEST sends its first spike with the initial u x, so it releases U, as ours;
its release sequences equal ours to rounding), translated weights divided by U
(:func:`lif_tempering.sampling.translation.stp_weight_factor`, weight scaling ``rested``).
Every run starts with ``nest.ResetKernel()``; the kernel is built
(``nest_setup_s``: Create, Connect, Prepare) and then run (``nest*_s_per_s``:
``nest.Run`` plus reading the spike recorder, per simulated second), with 1 and
with 2 threads.

Ours, NEST 1 thread and NEST 2 threads run alternately (the order rotates every
round) in one process; the tables report medians over the rounds.

Agreement: ``calibration`` fits the logistic activation function to the p_on of
both simulators (pooled over rounds) and requires alpha within 3 %; the networks
require the mean state z (fraction of time refractory, after burn-in) within 0.02.

Usage::

    python benchmarks/compare_nest.py --quick
    python benchmarks/compare_nest.py --json results/performance/compare_nest.json
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner at import

import numpy as np  # noqa: E402

from lif_tempering.calibration.activation import fit_logistic  # noqa: E402
from lif_tempering.calibration.temperature import ActivationPoint  # noqa: E402
from lif_tempering.neuron.parameters import PARAMETER_SETS, NeuronParameters  # noqa: E402
from lif_tempering.neuron.population import PopulationSimulator  # noqa: E402
from lif_tempering.neuron.standalone import COMPILE_ARGS  # noqa: E402
from lif_tempering.neuron.stp import STPParameters  # noqa: E402
from lif_tempering.runtime import job_log  # noqa: E402
from lif_tempering.sampling.boltzmann import random_bm, rbm_as_bm  # noqa: E402
from lif_tempering.sampling.network import (  # noqa: E402
    BoltzmannSampler,
    bipartite_connectivity,
    full_connectivity,
    spikes_to_states,
    synapse_values,
)
from lif_tempering.sampling.translation import bm_to_lif, stp_weight_factor  # noqa: E402

PARAMS: NeuronParameters = PARAMETER_SETS["sbs_tutorial"]
#: Activation function of the sbs tutorial set at 3 kHz / 3 kHz (docs/calibration.md);
#: used to translate every Boltzmann machine (the same values for both simulators).
CALIBRATION = ActivationPoint(rate_exc_hz=3000.0, rate_inh_hz=3000.0, u0_mV=-50.624, alpha_mV=0.795)
DT_MS = 0.1
SAMPLE_DT_MS = 1.0
#: Calibration E_l grid: u0 +- this many alphas (p_on from ~0.03 to ~0.97).
CALIBRATION_HALF_WIDTH_ALPHAS = 3.5
#: Random BM: W = (A + A^T)/2 with A ~ N(0, BM_SCALE^2); with 100 units the local field
#: has a standard deviation of ~1.5 (no frozen states, mean z near 1/2).
BM_SCALE = 0.3
#: Random RBM: W ~ N(0, 2 RBM_FIELD_STD^2 / (n_v + n_h)), biases ~ N(0, RBM_BIAS_STD^2).
RBM_FIELD_STD = 2.0
RBM_BIAS_STD = 0.5

#: Short-term plasticity of the ``stp`` task: depression and facilitation, weights scaled to the rested release.
STP_BENCH = STPParameters(U=0.2, tau_rec_ms=100.0, tau_fac_ms=50.0, weight_scaling="rested")

ALPHA_TOLERANCE = 0.03
MEAN_Z_TOLERANCE = 0.02


@dataclass(frozen=True)
class Task:
    """One benchmark task; ``kind`` is ``calibration`` or ``network``."""

    name: str
    kind: str
    n_neurons: int
    duration_ms: float
    burn_in_ms: float
    pattern: str | None = None  # full | bipartite
    n_visible: int | None = None
    stp: STPParameters | None = None  # Tsodyks-Markram parameters (renewing synapses); None: the renewing default

    @property
    def duration_s(self) -> float:
        return self.duration_ms / 1000.0


def tasks_for(quick: bool) -> list[Task]:
    """The five benchmark tasks (benchmarks/README.md); ``quick`` shortens the simulated durations."""
    if quick:
        return [
            Task("calibration", "calibration", 200, 5_000.0, 200.0),
            Task("bm100", "network", 100, 2_000.0, 100.0, "full"),
            Task("rbm", "network", 264, 2_000.0, 100.0, "bipartite", 64),
            Task("rbm_mnist", "network", 1284, 500.0, 100.0, "bipartite", 784),
            Task("stp", "network", 100, 2_000.0, 100.0, "full", stp=STP_BENCH),
        ]
    return [
        Task("calibration", "calibration", 200, 10_000.0, 500.0),
        Task("bm100", "network", 100, 10_000.0, 100.0, "full"),
        Task("rbm", "network", 264, 10_000.0, 100.0, "bipartite", 64),
        Task("rbm_mnist", "network", 1284, 2_000.0, 100.0, "bipartite", 784),
        Task("stp", "network", 100, 10_000.0, 100.0, "full", stp=STP_BENCH),
    ]


# --------------------------------------------------------------------------- inputs

def random_rbm(n_visible: int, n_hidden: int, seed: int, field_std: float = RBM_FIELD_STD,
               bias_std: float = RBM_BIAS_STD) -> tuple[np.ndarray, np.ndarray]:
    """A random RBM as a full BM ``(W, b)`` (visible units first).

    Weights ~ N(0, 2 field_std^2 / (n_v + n_h)): a unit's summed input from the other
    layer (half of it active) has a standard deviation below ``field_std``.
    """
    rng = np.random.default_rng(seed)
    w_std = field_std * np.sqrt(2.0 / (n_visible + n_hidden))
    W_vh = rng.normal(0.0, w_std, size=(n_visible, n_hidden))
    return rbm_as_bm(W_vh, rng.normal(0.0, bias_std, n_visible), rng.normal(0.0, bias_std, n_hidden))


def task_bm(task: Task, seed: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """The Boltzmann machine a network task samples from."""
    if task.pattern == "full":
        return random_bm(task.n_neurons, seed, scale=BM_SCALE)
    return random_rbm(task.n_visible, task.n_neurons - task.n_visible, seed)


def task_connectivity(task: Task) -> tuple[np.ndarray, np.ndarray]:
    if task.pattern == "full":
        return full_connectivity(task.n_neurons)
    return bipartite_connectivity(task.n_visible, task.n_neurons - task.n_visible)


def calibration_leaks(task: Task) -> np.ndarray:
    half = CALIBRATION_HALF_WIDTH_ALPHAS * CALIBRATION.alpha_mV
    return np.linspace(CALIBRATION.u0_mV - half, CALIBRATION.u0_mV + half, task.n_neurons)


def grid_steps(task: Task) -> np.ndarray:
    return np.arange(int(round(task.burn_in_ms / DT_MS)), int(round(task.duration_ms / DT_MS)),
                     int(round(SAMPLE_DT_MS / DT_MS)), dtype=np.int64)


# --------------------------------------------------------------------------- helpers

def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its waited-for children (the Brian2 binary)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def median(values) -> float:
    values = [v for v in values if np.isfinite(v)]
    return float(statistics.median(values)) if values else float("nan")


def version_of(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict:
    """CPU model, cores, memory, load and versions."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = float("nan")
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 2**20
    try:
        gcc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        gcc = "unknown"
    return {
        "cpu_model": cpu,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "gcc": gcc,
        "compile_args": " ".join(COMPILE_ARGS),
        "versions": {name: version_of(name) for name in
                     ("lif-tempering", "brian2", "numpy", "nest-simulator", "scipy")},
        "load_average": list(os.getloadavg()),
        "thread_environment": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OMP_PROC_BIND")
                               if k in os.environ},
    }


def print_machine(info: dict) -> None:
    v = info["versions"]
    print(f"machine: {info['cpu_model']}, {info['logical_cpus']} logical CPUs "
          f"({info['usable_cpus']} usable), {info['memory_gib']} GiB; {info['platform']}")
    print(f"versions: python {info['python']}, lif-tempering {v['lif-tempering']}, brian2 {v['brian2']}, "
          f"numpy {v['numpy']}, NEST {v['nest-simulator']}, gcc {info['gcc']} ({info['compile_args']})")
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in info["load_average"]))


# --------------------------------------------------------------------------- ours (Brian2)

class Ours:
    """The package's simulation path for one task: compile once, rebuild from cache, run."""

    def __init__(self, task: Task, cache_dir: Path, log_path: Path, synapse: str = "renewing", threads: int = 1):
        self.task, self.cache_dir, self.log_path, self.synapse = task, cache_dir, log_path, synapse
        self.threads = threads
        self.sim = None
        self.compile_s = self._build()

    def _build(self) -> float:
        self.close()
        t = self.task
        start = time.perf_counter()
        with job_log(self.log_path):
            if t.kind == "calibration":
                self.sim = PopulationSimulator(t.n_neurons, t.duration_ms, DT_MS, self.cache_dir,
                                               report_period_s=1e6, threads=self.threads)
            else:
                self.sim = BoltzmannSampler(t.n_neurons, t.duration_ms, self.cache_dir, pattern=t.pattern,
                                            n_visible=t.n_visible, synapse=self.synapse, dt_ms=DT_MS,
                                            sample_dt_ms=SAMPLE_DT_MS, burn_in_ms=t.burn_in_ms, stp=t.stp,
                                            report_period_s=1e6, threads=self.threads)
        return time.perf_counter() - start

    def rebuild(self) -> float:
        """Set the project up again from the cache (same structure: no compiler run); seconds."""
        return self._build()

    def run(self, seed: int) -> dict:
        """Run the compiled binary once; wall and core seconds and the observable."""
        t = self.task
        start, cpu_start = time.perf_counter(), cpu_seconds()
        with job_log(self.log_path):
            if t.kind == "calibration":
                res = self.sim.run(PARAMS, seed, t.burn_in_ms, E_l_mV=calibration_leaks(t))
                observable = {"p_on": res.p_on}
            else:
                res = self.sim.sample(task_bm(t), PARAMS, CALIBRATION, seed)
                observable = {"z_mean_per_unit": res.samples[:, 0, :].mean(axis=0, dtype=np.float64),
                              "n_spikes": int(res.spike_units.size)}
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        return {"wall_s": wall, "cpu_s": cpu, "core_s": float(self.sim.last_run_time_s), **observable}

    def close(self) -> None:
        if self.sim is not None:
            self.sim.close()
        self.sim = None
        gc.collect()


# --------------------------------------------------------------------------- NEST

def import_nest():
    try:
        import nest
    except ImportError as err:
        raise SystemExit("NEST is not installed: pip install -e .[bench]  (nest-simulator==3.10.0)") from err
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:
        nest.set_verbosity("M_ERROR")
    return nest


def nest_neuron_params(p: NeuronParameters, E_l_mV: np.ndarray) -> dict:
    """iaf_cond_exp parameters (pF, nS, ms, mV) of ``p``, one E_L per neuron."""
    E_l = [float(x) for x in E_l_mV]
    return {
        "C_m": p.C_m_nF * 1e3, "g_L": p.g_l_uS * 1e3, "E_L": E_l, "V_m": E_l,
        "V_th": p.V_th_mV, "V_reset": p.V_reset_mV, "t_ref": p.tau_ref_ms,
        "tau_syn_ex": p.tau_syn_ms, "tau_syn_in": p.tau_syn_ms, "E_ex": p.E_exc_mV, "E_in": p.E_inh_mV,
        "I_e": 0.0,
    }


def nest_run(nest, task: Task, threads: int, seed: int, synapse: str = "renewing") -> dict:
    """Build and simulate the task in NEST; setup and run seconds and the observable."""
    p = PARAMS
    t = task
    start = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": DT_MS, "local_num_threads": int(threads), "rng_seed": int(seed),
                          "print_time": False})
    if t.kind == "calibration":
        E_l = calibration_leaks(t)
    else:
        values = bm_to_lif(*task_bm(t), p, CALIBRATION)
        E_l = values.E_l_mV
        stp_factor = stp_weight_factor(t.stp, p) if t.stp is not None else 1.0
    nodes = nest.Create("iaf_cond_exp", t.n_neurons, params=nest_neuron_params(p, E_l))
    noise_exc = nest.Create("poisson_generator", params={"rate": float(CALIBRATION.rate_exc_hz)})
    noise_inh = nest.Create("poisson_generator", params={"rate": float(CALIBRATION.rate_inh_hz)})
    nest.Connect(noise_exc, nodes, "all_to_all", {"weight": p.w_exc_uS * 1e3, "delay": DT_MS})
    nest.Connect(noise_inh, nodes, "all_to_all", {"weight": -p.w_inh_uS * 1e3, "delay": DT_MS})
    if t.kind == "network":
        pre, post = task_connectivity(t)
        weight_uS, receptor_exc = synapse_values(pre, post, t.n_neurons, values.w_exc_uS, values.w_inh_uS)
        keep = weight_uS > 0
        weight_nS = np.where(receptor_exc[keep] > 0, 1.0, -1.0) * weight_uS[keep] * stp_factor * 1e3
        first = nodes.tolist()[0]
        if t.stp is not None:
            model = "bench_stp"
            nest.CopyModel("tsodyks2_synapse", model, {"U": t.stp.U, "u": t.stp.U, "x": 1.0,
                                                       "tau_rec": t.stp.tau_rec_or(p.tau_syn_ms),
                                                       "tau_fac": t.stp.tau_fac_ms})
        elif synapse == "renewing":
            model = "bench_renewing"
            nest.CopyModel("tsodyks2_synapse", model, {"U": 1.0, "u": 1.0, "x": 1.0, "tau_rec": p.tau_syn_ms,
                                                       "tau_fac": 0.0})
        else:
            model = "static_synapse"
        nest.Connect(pre[keep] + first, post[keep] + first, "one_to_one",
                     {"synapse_model": model, "weight": weight_nS, "delay": np.full(weight_nS.size, DT_MS)})
    recorder = nest.Create("spike_recorder")
    nest.Connect(nodes, recorder)
    nest.Prepare()
    setup = time.perf_counter() - start

    start, cpu_start = time.perf_counter(), cpu_seconds()
    nest.Run(t.duration_ms)
    events = recorder.get("events")
    units = np.asarray(events["senders"], dtype=np.int64) - nodes.tolist()[0]
    times = np.asarray(events["times"], dtype=np.float64)
    if t.kind == "calibration":
        counts = np.bincount(units[times >= t.burn_in_ms], minlength=t.n_neurons)
        observable = {"p_on": counts * p.tau_ref_ms / (t.duration_ms - t.burn_in_ms)}
    else:
        # NEST stamps a spike at the end of the step in which it happened, Brian2 at its start
        steps = np.rint(times / DT_MS).astype(np.int64) - 1
        ref_steps = int(round(p.tau_ref_ms / DT_MS))
        samples = spikes_to_states(steps, units, t.n_neurons, ref_steps, grid_steps(t))
        observable = {"z_mean_per_unit": samples.mean(axis=0, dtype=np.float64), "n_spikes": int(units.size)}
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    nest.Cleanup()
    return {"setup_s": setup, "wall_s": wall, "cpu_s": cpu, **observable}


# --------------------------------------------------------------------------- agreement

def calibration_agreement(ours_p_on: list, nest_p_on: list, task: Task) -> dict:
    E_l = calibration_leaks(task)
    fit_ours = fit_logistic(E_l, np.mean(ours_p_on, axis=0))
    fit_nest = fit_logistic(E_l, np.mean(nest_p_on, axis=0))
    rel = fit_ours.alpha_mV / fit_nest.alpha_mV - 1.0
    return {
        "agree": bool(abs(rel) <= ALPHA_TOLERANCE),
        "agreement": f"alpha {fit_ours.alpha_mV:.3f} vs {fit_nest.alpha_mV:.3f} mV ({100 * rel:+.1f} %)",
        "alpha_ours_mV": fit_ours.alpha_mV, "alpha_ours_stderr_mV": fit_ours.alpha_stderr_mV,
        "alpha_nest_mV": fit_nest.alpha_mV, "alpha_nest_stderr_mV": fit_nest.alpha_stderr_mV,
        "alpha_relative_difference": rel,
        "u0_ours_mV": fit_ours.u0_mV, "u0_nest_mV": fit_nest.u0_mV,
    }


def network_agreement(ours_z: list, nest_z: list, task: Task) -> dict:
    z_ours = np.mean(ours_z, axis=0)
    z_nest = np.mean(nest_z, axis=0)
    diff = float(z_ours.mean() - z_nest.mean())
    out = {
        "agree": bool(abs(diff) <= MEAN_Z_TOLERANCE),
        "agreement": f"mean z {z_ours.mean():.3f} vs {z_nest.mean():.3f} ({diff:+.3f})",
        "mean_z_ours": float(z_ours.mean()), "mean_z_nest": float(z_nest.mean()), "mean_z_difference": diff,
        "unit_z_rms_difference": float(np.sqrt(np.mean((z_ours - z_nest) ** 2))),
    }
    if task.n_visible:
        v = task.n_visible
        out.update(mean_z_visible_ours=float(z_ours[:v].mean()), mean_z_visible_nest=float(z_nest[:v].mean()),
                   mean_z_hidden_ours=float(z_ours[v:].mean()), mean_z_hidden_nest=float(z_nest[v:].mean()))
    return out


# --------------------------------------------------------------------------- driver

def benchmark_task(task: Task, nest, repeats: int, cache_dir: Path, log_path: Path, nest_threads=(1, 2),
                   our_threads=(1, 2), synapse: str = "renewing", verbose: bool = True) -> dict:
    """Compile ours (per thread count), then ``repeats`` rounds of (ours, NEST) on 1 and 2 threads, rotating.

    Ours runs the same seed on every thread count in a round, so that their spikes can be compared.
    """
    say = print if verbose else (lambda *a, **k: None)
    if task.stp is not None:
        synapse = "renewing"  # the synapse type with short-term plasticity
    ours = {}
    for n in our_threads:
        for other in ours.values():
            other.close()
        ours[n] = Ours(task, cache_dir, log_path, synapse, threads=n)
        say(f"[{task.name}] compiled for {n} thread(s) in {ours[n].compile_s:.1f} s", flush=True)
    active = our_threads[-1]
    runners = [f"ours{n}" for n in our_threads] + [f"nest{n}" for n in nest_threads]
    records = {name: [] for name in runners}
    rebuilds = {n: [] for n in our_threads}
    for r in range(repeats):
        order = runners[r % len(runners):] + runners[:r % len(runners)]
        for name in order:
            threads = int(name[4:])
            if name.startswith("ours"):
                if threads != active or r > 0:
                    for other in ours.values():
                        other.close()
                    rebuilds[threads].append(ours[threads].rebuild())
                    active = threads
                rec = ours[threads].run(seed=1000 + r)
            else:
                rec = nest_run(nest, task, threads, seed=1 + 100 * threads + r, synapse=synapse)
            records[name].append(rec)
            say(f"[{task.name}] round {r + 1}/{repeats} {name:6s} {rec['wall_s'] / task.duration_s:8.4f} s/s",
                flush=True)
    for o in ours.values():
        o.close()
    records["ours"] = records.pop("ours1")

    sim_s = task.duration_s
    result = {"task": task.name, "n_neurons": task.n_neurons, "simulated_s": sim_s, "repeats": repeats,
              "synapse": synapse if task.kind == "network" else None,
              "ours_s_per_s": median(r["wall_s"] for r in records["ours"]) / sim_s,
              "ours_core_s_per_s": median(r["core_s"] for r in records["ours"]) / sim_s,
              "ours_cpu_s_per_s": median(r["cpu_s"] for r in records["ours"]) / sim_s,
              "ours_compile_s": ours[1].compile_s,
              "ours_rebuild_s": median(rebuilds[1])}
    for n in our_threads[1:]:
        rec = records[f"ours{n}"]
        result.update({f"ours{n}_s_per_s": median(x["wall_s"] for x in rec) / sim_s,
                       f"ours{n}_core_s_per_s": median(x["core_s"] for x in rec) / sim_s,
                       f"ours{n}_cpu_s_per_s": median(x["cpu_s"] for x in rec) / sim_s,
                       f"ours{n}_compile_s": ours[n].compile_s,
                       f"ours{n}_speedup_vs_ours1": result["ours_s_per_s"] / (median(x["wall_s"] for x in rec) / sim_s),
                       f"ours{n}_identical_to_ours1": all(_same_observable(a, b)
                                                            for a, b in zip(records["ours"], rec))})
    if task.kind == "network":
        pre, _ = task_connectivity(task)
        result["n_synapses"] = int(pre.size)
    if task.stp is not None:
        result.update(task.stp.attrs(PARAMS.tau_syn_ms), stp_weight_factor=stp_weight_factor(task.stp, PARAMS))
    for n in nest_threads:
        rec = records[f"nest{n}"]
        result[f"nest{n}_s_per_s"] = median(x["wall_s"] for x in rec) / sim_s
        result[f"nest{n}_cpu_s_per_s"] = median(x["cpu_s"] for x in rec) / sim_s
        result[f"nest{n}_setup_s"] = median(x["setup_s"] for x in rec)
        result[f"speedup_vs_nest{n}"] = result[f"nest{n}_s_per_s"] / result["ours_s_per_s"]
    nest_records = [x for n in nest_threads for x in records[f"nest{n}"]]
    if task.kind == "calibration":
        result.update(calibration_agreement([x["p_on"] for x in records["ours"]],
                                            [x["p_on"] for x in nest_records], task))
    else:
        result.update(network_agreement([x["z_mean_per_unit"] for x in records["ours"]],
                                        [x["z_mean_per_unit"] for x in nest_records], task))
        result["spikes_per_s_ours"] = median(x["n_spikes"] for x in records["ours"]) / sim_s
        result["spikes_per_s_nest"] = median(x["n_spikes"] for x in nest_records) / sim_s
    result["rounds"] = {name: [{k: v for k, v in rec.items() if k in ("wall_s", "cpu_s", "core_s", "setup_s")}
                               for rec in recs] for name, recs in records.items()}
    return result


def _same_observable(a: dict, b: dict) -> bool:
    """Two runs of ours with the same seed gave the same spikes (calibration: p_on; networks: states, counts)."""
    keys = [k for k in ("p_on", "z_mean_per_unit", "n_spikes") if k in a]
    return all(np.array_equal(a[k], b[k]) for k in keys)


def format_table(results: list[dict]) -> str:
    header = ["task", "neurons", "sim s", "ours s/s", "core s/s", "ours2 s/s", "x ours1", "same", "compile s",
              "rebuild s", "NEST1 s/s", "NEST2 s/s", "x NEST1", "x NEST2", "agree", "agreement"]
    rows = []
    for r in results:
        rows.append([r["task"], str(r["n_neurons"]), f"{r['simulated_s']:g}", f"{r['ours_s_per_s']:.4f}",
                     f"{r['ours_core_s_per_s']:.4f}", f"{r['ours2_s_per_s']:.4f}", f"{r['ours2_speedup_vs_ours1']:.2f}",
                     "yes" if r["ours2_identical_to_ours1"] else "NO",
                     f"{r['ours_compile_s']:.1f}", f"{r['ours_rebuild_s']:.2f}",
                     f"{r['nest1_s_per_s']:.4f}", f"{r['nest2_s_per_s']:.4f}", f"{r['speedup_vs_nest1']:.1f}",
                     f"{r['speedup_vs_nest2']:.1f}", "yes" if r["agree"] else "NO", r["agreement"]])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    return "\n".join([line, sep, *body])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter simulations (< 3 min on 2 quiet cores)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per task (default 5, quick 3)")
    parser.add_argument("--tasks", nargs="+", default=None, help="subset of calibration bm100 rbm rbm_mnist stp")
    parser.add_argument("--json", type=Path, default=None, help="write one object per task to this JSON file")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="Brian2 project cache (default: a fresh temporary folder, so compile_s is a cold "
                             "compile)")
    parser.add_argument("--synapse", choices=("renewing", "exponential"), default="renewing",
                        help="network synapses: renewing (NEST tsodyks2_synapse, U=1) or exponential "
                             "(NEST static_synapse)")
    args = parser.parse_args(argv)

    repeats = args.repeats or (3 if args.quick else 5)
    tasks = tasks_for(args.quick)
    if args.tasks:
        unknown = set(args.tasks) - {t.name for t in tasks}
        if unknown:
            parser.error(f"unknown task(s) {sorted(unknown)}")
        tasks = [t for t in tasks if t.name in args.tasks]

    nest = import_nest()
    info = machine_info()
    print_machine(info)
    print(f"mode: {'quick' if args.quick else 'full'}, {repeats} rounds per task, dt = {DT_MS} ms, "
          f"parameter set sbs_tutorial, {args.synapse} synapses "
          f"(NEST {'tsodyks2_synapse, U = 1' if args.synapse == 'renewing' else 'static_synapse'})", flush=True)

    with contextlib.ExitStack() as stack:
        if args.cache_dir is None:
            cache_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lif-bench-")))
        else:
            cache_dir = args.cache_dir.resolve()
            cache_dir.mkdir(parents=True, exist_ok=True)
        log_path = cache_dir / "brian2-output.log"
        results = []
        total_start = time.perf_counter()
        for task in tasks:
            try:
                results.append(benchmark_task(task, nest, repeats, cache_dir, log_path, synapse=args.synapse))
            except Exception:
                if log_path.exists():
                    print("--- tail of the Brian2 output log ---\n" + log_path.read_text()[-4000:], file=sys.stderr)
                raise
        total_s = time.perf_counter() - total_start

    info_end = machine_info()
    print()
    print(format_table(results))
    print(f"\nmedians of {repeats} rounds; s/s = wall seconds per simulated second; total {total_s:.0f} s; "
          "load average at the end: " + ", ".join(f"{x:.2f}" for x in info_end["load_average"]))
    failed = [r["task"] for r in results if not r["agree"]]
    if failed:
        print(f"DISAGREEMENT in: {', '.join(failed)}")
    if args.json:
        environment = dict(info, load_average_end=info_end["load_average"], mode="quick" if args.quick else "full",
                           total_s=total_s)
        payload = [dict(r, environment=environment) for r in results]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=float) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

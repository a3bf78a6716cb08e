#!/usr/bin/env python
"""Scaling of the cost of LIF sampling with network size and simulated duration.

Networks are RBM-shaped (n_visible = n_hidden = n / 2, all visible-hidden pairs
connected in both directions, renewing synapses, random weights as in
``compare_nest.py``) and simulated with the package's own path (BoltzmannSampler,
Brian2 cpp_standalone, sbs tutorial parameters, dt = 0.1 ms). Two scans:

- size: n = 50 ... 2000 neurons at a fixed simulated duration;
- duration: the default study's RBM (64 visible + 200 hidden) over several
  simulated durations (the duration is part of the compiled structure, so every
  duration is a compile of its own).

Each point is compiled once into a fresh cache (``compile_s``) and run
``--repeats`` times (``run_s``: wall time of ``sample``; ``core_s``: the binary's
own network loop). ``--nest`` adds NEST 3.10 (1 thread) to the size scan.

Results go to a NetCDF file (lif_tempering.io.write_dataset, with units) and a
log-log figure; the fitted power-law exponents (least squares of log time
against log size / log duration, on the medians) are printed and stored as
attributes.

Usage::

    python benchmarks/scaling.py --quick
    python benchmarks/scaling.py --out results/performance/scaling.nc --figure results/performance/scaling.png
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_nest import (  # noqa: E402
    CALIBRATION,
    DT_MS,
    PARAMS,
    SAMPLE_DT_MS,
    Task,
    import_nest,
    machine_info,
    median,
    nest_run,
    print_machine,
    random_rbm,
)

from lif_tempering.io import write_dataset  # noqa: E402
from lif_tempering.runtime import job_log  # noqa: E402
from lif_tempering.sampling.network import BoltzmannSampler  # noqa: E402

BURN_IN_MS = 100.0
DEFAULT_RBM = (64, 200)


def settings(quick: bool) -> dict:
    if quick:
        return {"sizes": [50, 200, 500, 1000, 2000], "size_duration_s": 0.5,
                "durations_s": [0.25, 0.5, 1.0, 2.0], "repeats": 2}
    return {"sizes": [50, 100, 200, 500, 1000, 2000], "size_duration_s": 2.0,
            "durations_s": [0.5, 1.0, 2.0, 5.0, 10.0, 20.0], "repeats": 3}


def measure_ours(n_visible: int, n_hidden: int, duration_s: float, repeats: int, cache_dir: Path,
                 log_path: Path) -> dict:
    """Cold compile, then ``repeats`` runs of one RBM-shaped network."""
    n = n_visible + n_hidden
    W, b = random_rbm(n_visible, n_hidden, seed=6)
    start = time.perf_counter()
    with job_log(log_path):
        sampler = BoltzmannSampler(n, duration_s * 1e3, cache_dir, pattern="bipartite", n_visible=n_visible,
                                   dt_ms=DT_MS, sample_dt_ms=SAMPLE_DT_MS, burn_in_ms=BURN_IN_MS,
                                   report_period_s=1e6)
    compile_s = time.perf_counter() - start
    run_s, core_s, spikes, mean_z = [], [], [], []
    for r in range(repeats):
        start = time.perf_counter()
        with job_log(log_path):
            res = sampler.sample((W, b), PARAMS, CALIBRATION, seed=1000 + r)
        run_s.append(time.perf_counter() - start)
        core_s.append(float(sampler.last_run_time_s))
        spikes.append(res.spike_units.size)
        mean_z.append(float(res.samples.mean()))
    sampler.close()
    del sampler
    return {"compile_s": compile_s, "run_s": run_s, "core_s": core_s, "spikes": spikes, "mean_z": mean_z,
            "n_synapses": 2 * n_visible * n_hidden}


def measure_nest(nest, n_visible: int, n_hidden: int, duration_s: float, repeats: int) -> dict:
    task = Task(f"rbm{n_visible + n_hidden}", "network", n_visible + n_hidden, duration_s * 1e3, BURN_IN_MS,
                "bipartite", n_visible)
    recs = [nest_run(nest, task, 1, seed=1 + r) for r in range(repeats)]
    return {"run_s": [x["wall_s"] for x in recs], "setup_s": [x["setup_s"] for x in recs]}


def power_law(x, y) -> float:
    """Exponent of a least-squares fit log y = k log x + c (NaN with fewer than 2 points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def build_dataset(sizes, size_duration_s, size_points, durations, duration_n, duration_points, nest_points,
                  repeats) -> xr.Dataset:
    def var(dims, values, units, long_name):
        return (dims, np.asarray(values, dtype=float), {"units": units, "long_name": long_name})

    data = {
        "size_run_s": var(("n_neurons", "repeat"), [p["run_s"] for p in size_points], "s",
                          "wall time of one run (values in, binary, spikes out, readout)"),
        "size_core_s": var(("n_neurons", "repeat"), [p["core_s"] for p in size_points], "s",
                           "network-loop time reported by the compiled binary"),
        "size_compile_s": var(("n_neurons",), [p["compile_s"] for p in size_points], "s",
                              "code generation and cold compilation"),
        "size_spikes": var(("n_neurons", "repeat"), [p["spikes"] for p in size_points], "1",
                           "number of spikes in the run"),
        "size_mean_z": var(("n_neurons", "repeat"), [p["mean_z"] for p in size_points], "1",
                           "mean state z after burn-in"),
        "n_synapses": var(("n_neurons",), [p["n_synapses"] for p in size_points], "1", "number of synapses"),
        "duration_run_s": var(("duration_s", "repeat"), [p["run_s"] for p in duration_points], "s",
                              "wall time of one run (values in, binary, spikes out, readout)"),
        "duration_core_s": var(("duration_s", "repeat"), [p["core_s"] for p in duration_points], "s",
                               "network-loop time reported by the compiled binary"),
        "duration_compile_s": var(("duration_s",), [p["compile_s"] for p in duration_points], "s",
                                  "code generation and cold compilation"),
    }
    if nest_points:
        data["size_nest_run_s"] = var(("n_neurons", "repeat"), [p["run_s"] for p in nest_points], "s",
                                      "NEST 3.10, 1 thread: nest.Run plus spike readout")
        data["size_nest_setup_s"] = var(("n_neurons", "repeat"), [p["setup_s"] for p in nest_points], "s",
                                        "NEST 3.10, 1 thread: ResetKernel, Create, Connect, Prepare")
    coords = {
        "n_neurons": ("n_neurons", np.asarray(sizes, dtype=np.int64),
                      {"units": "1", "long_name": "neurons (n_visible = n_hidden = n / 2)"}),
        "duration_s": ("duration_s", np.asarray(durations, dtype=float),
                       {"units": "s", "long_name": "simulated duration"}),
        "repeat": ("repeat", np.arange(repeats), {"units": "1", "long_name": "repeat"}),
    }
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(size_scan_duration_s=float(size_duration_s), duration_scan_n_visible=duration_n[0],
                    duration_scan_n_hidden=duration_n[1], dt_ms=DT_MS, parameter_set="sbs_tutorial",
                    synapse="renewing")
    return ds


def exponents(ds: xr.Dataset) -> dict:
    n = ds.n_neurons.values
    big = n >= 500
    med = {k: ds[k].median("repeat").values for k in ("size_run_s", "size_core_s")}
    out = {
        "run_vs_n": power_law(n, med["size_run_s"]),
        "run_vs_n_ge500": power_law(n[big], med["size_run_s"][big]),
        "core_vs_n": power_law(n, med["size_core_s"]),
        "core_vs_n_ge500": power_law(n[big], med["size_core_s"][big]),
        "compile_vs_n": power_law(n, ds.size_compile_s.values),
        "run_vs_duration": power_law(ds.duration_s.values, ds.duration_run_s.median("repeat").values),
        "core_vs_duration": power_law(ds.duration_s.values, ds.duration_core_s.median("repeat").values),
    }
    if "size_nest_run_s" in ds:
        nest_med = ds.size_nest_run_s.median("repeat").values
        out["nest_run_vs_n"] = power_law(n, nest_med)
        out["nest_run_vs_n_ge500"] = power_law(n[big], nest_med[big])
    return out


def plot(ds: xr.Dataset, fits: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    rows = []
    for var, label in (("size_run_s", "ours: run"), ("size_core_s", "ours: binary loop"),
                       ("size_nest_run_s", "NEST 1 thread: run")):
        if var in ds:
            for n, values in zip(ds.n_neurons.values, ds[var].values):
                rows += [{"panel": "size", "x": n, "seconds": v, "what": label} for v in values]
    for n, v in zip(ds.n_neurons.values, ds.size_compile_s.values):
        rows.append({"panel": "size", "x": n, "seconds": v, "what": "ours: compile (once)"})
    for var, label in (("duration_run_s", "ours: run"), ("duration_core_s", "ours: binary loop")):
        for d, values in zip(ds.duration_s.values, ds[var].values):
            rows += [{"panel": "duration", "x": d, "seconds": v, "what": label} for v in values]
    for d, v in zip(ds.duration_s.values, ds.duration_compile_s.values):
        rows.append({"panel": "duration", "x": d, "seconds": v, "what": "ours: compile (once)"})
    df = pd.DataFrame(rows)
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    for ax, panel, xlabel in ((axes[0], "size", "neurons n (RBM, n/2 + n/2)"),
                              (axes[1], "duration", "simulated duration (s)")):
        sns.lineplot(data=df[df.panel == panel], x="x", y="seconds", hue="what", style="what", markers=True,
                     dashes=False, estimator="median", errorbar=("pi", 100), ax=ax)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("wall time (s)")
    axes[0].set_title(f"size scan, {ds.attrs['size_scan_duration_s']:g} s simulated; "
                      f"run ~ n^{fits['run_vs_n']:.2f} (n>=500: n^{fits['run_vs_n_ge500']:.2f})")
    axes[1].set_title(f"duration scan, RBM {ds.attrs['duration_scan_n_visible']}+"
                      f"{ds.attrs['duration_scan_n_hidden']}; run ~ T^{fits['run_vs_duration']:.2f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer points, shorter simulations")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="network sizes (even numbers)")
    parser.add_argument("--size-duration", type=float, default=None, help="simulated seconds of the size scan")
    parser.add_argument("--durations", type=float, nargs="+", default=None, help="simulated seconds (duration scan)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--nest", action="store_true", help="add NEST 3.10 (1 thread) to the size scan")
    parser.add_argument("--out", type=Path, default=Path("results/performance/scaling.nc"))
    parser.add_argument("--figure", type=Path, default=Path("results/performance/scaling.png"))
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="Brian2 project cache (default: a fresh temporary folder: cold compiles)")
    args = parser.parse_args(argv)

    s = settings(args.quick)
    sizes = args.sizes or s["sizes"]
    if any(n % 2 or n < 2 for n in sizes):
        parser.error("sizes must be even and positive (n_visible = n_hidden = n / 2)")
    size_duration = args.size_duration or s["size_duration_s"]
    durations = args.durations or s["durations_s"]
    repeats = args.repeats or s["repeats"]
    nest = import_nest() if args.nest else None

    info = machine_info()
    print_machine(info)
    print(f"size scan: n = {sizes}, {size_duration:g} s simulated; duration scan: RBM {DEFAULT_RBM[0]}+"
          f"{DEFAULT_RBM[1]}, T = {durations} s; {repeats} repeats", flush=True)
    total_start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if args.cache_dir is None:
            cache_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lif-scaling-")))
        else:
            cache_dir = args.cache_dir.resolve()
            cache_dir.mkdir(parents=True, exist_ok=True)
        log_path = cache_dir / "brian2-output.log"
        size_points, nest_points, duration_points = [], [], []
        for n in sizes:
            point = measure_ours(n // 2, n // 2, size_duration, repeats, cache_dir, log_path)
            size_points.append(point)
            line = (f"n = {n:5d} ({point['n_synapses']:8d} synapses): compile {point['compile_s']:6.1f} s, "
                    f"run {median(point['run_s']):7.3f} s, binary {median(point['core_s']):7.3f} s, "
                    f"mean z {np.mean(point['mean_z']):.3f}")
            if nest is not None:
                nest_point = measure_nest(nest, n // 2, n // 2, size_duration, repeats)
                nest_points.append(nest_point)
                line += f"; NEST 1 thread run {median(nest_point['run_s']):7.3f} s"
            print(line, flush=True)
        for d in durations:
            point = measure_ours(*DEFAULT_RBM, d, repeats, cache_dir, log_path)
            duration_points.append(point)
            print(f"T = {d:6.2f} s: compile {point['compile_s']:6.1f} s, run {median(point['run_s']):7.3f} s, "
                  f"binary {median(point['core_s']):7.3f} s", flush=True)
    total_s = time.perf_counter() - total_start

    ds = build_dataset(sizes, size_duration, size_points, durations, DEFAULT_RBM, duration_points, nest_points,
                       repeats)
    fits = exponents(ds)
    info_end = machine_info()
    ds.attrs["power_law_exponents_json"] = json.dumps(fits)
    ds.attrs["machine_json"] = json.dumps(dict(info, load_average_end=info_end["load_average"]))
    params = {"sizes": sizes, "size_duration_s": size_duration, "durations_s": durations, "repeats": repeats,
              "nest": bool(args.nest), "quick": bool(args.quick)}
    write_dataset(ds, args.out, params=params)
    plot(ds, fits, args.figure)

    print("\nfitted power-law exponents (log-log least squares on the medians):")
    for key, value in fits.items():
        print(f"  {key:22s} {value:6.2f}")
    print(f"total {total_s:.0f} s; load average at the end: "
          + ", ".join(f"{x:.2f}" for x in info_end["load_average"]))
    print(f"wrote {args.out} and {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Projected cluster cost of a study configuration, from measured runs at reduced durations.

The study is run twice with every simulated duration (and the RBM epochs)
divided by a reduction factor (default 40 and 20) but at the full sizes of the
configuration (network sizes, numbers of neurons, training set), with one seed
per seed dimension and one point of the parameter grid, so that every rule runs
at least once. Snakemake's ``benchmark:`` file of every job gives its wall
time. The temperature map's tolerances are loosened to the largest allowed in
the reduced runs (their short calibrations are too noisy to meet the study's,
and the map's check would stop the run), so their map points may stop after
fewer iterations than the full study's: the ``temperature_point`` projection
is a lower estimate, by at most a factor ``max_iterations``.
Per rule (and sampler), the median wall time per job is fitted as
``fixed + per_unit / reduction`` over the two runs (fixed: start-up, analysis
that does not scale with the duration, and the compilation of each network
structure, which a reduced run pays in one of its few jobs while the full study
pays it once for many: an upper estimate) and extrapolated to the full duration
(reduction 1). The number of jobs and the threads of each rule come from a dry
run of the full configuration; core-hours = jobs x threads x projected wall
time. Rerunning on a finished ``--workdir`` only re-evaluates it.

Usage::

    python benchmarks/paper_cost.py                                   # config/paper.yaml
    python benchmarks/paper_cost.py --reductions 80 40 --cores 2 --out results/performance/paper_cost.nc

Run it on a quiet machine of the type whose cost is wanted; it prints a table per
rule and the total, and stores them as NetCDF (``lif_tempering.io.write_dataset``).
Rules whose work does not depend on the durations (figures, summaries) are
measured the same way; their fit is flat.
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

from lif_tempering.config import data_directory
from lif_tempering.io import write_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
SECONDS_PER_HOUR = 3600.0


def merged(base: dict, update: dict) -> dict:
    """``base`` updated recursively with ``update`` (Snakemake's rule for several config files)."""
    result = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def shorter(duration_ms: float, burn_in_ms: float, reduction: float, step_ms: float) -> float:
    """Burn-in plus the sampled part divided by ``reduction``, rounded to a multiple of ``step_ms``."""
    sampled = max(step_ms, round((duration_ms - burn_in_ms) / reduction / step_ms) * step_ms)
    return float(burn_in_ms + sampled)


def reduced_config(config: dict, reduction: float) -> dict:
    """``config`` with durations and epochs divided by ``reduction`` and one job per seed or grid dimension."""
    c = copy.deepcopy(config)
    step = 1000.0 / float(c["tempering"]["frequency_hz"])  # whole sine periods
    c["membrane"]["duration_ms"] = shorter(c["membrane"]["duration_ms"], c["membrane"]["burn_in_ms"], reduction, 10.0)
    for stage in ("coarse", "fit"):
        part = c["calibration"][stage]
        part["duration_ms"] = shorter(part["duration_ms"], part["burn_in_ms"], reduction, 10.0)
    v = c["validation"]
    v["duration_ms"] = shorter(v["duration_ms"], v["burn_in_ms"], reduction, 10.0)
    v["first_dkl_time_ms"] = min(v["first_dkl_time_ms"], v["duration_ms"] - v["burn_in_ms"])
    c["lif_sampling"]["duration_ms"] = shorter(c["lif_sampling"]["duration_ms"], c["lif_sampling"]["burn_in_ms"],
                                               reduction, 10.0)
    t = c["tempering"]
    t["duration_ms"] = shorter(t["duration_ms"], t["burn_in_ms"], reduction, step)
    t["n_seeds"] = 1
    c["rbm"]["epochs"] = max(1, int(round(c["rbm"]["epochs"] / reduction)))
    c["rbm"]["n_training_seeds"] = 1
    scan = c["parameter_scan"]
    scan["frequencies_hz"] = [t["frequency_hz"]]
    scan["t_max_values"] = [t["t_max"]]
    scan["n_training_seeds"], scan["n_seeds"] = 1, 1
    t["bootstrap"]["min_distinct_resamples"] = 1  # one run per grid point measures the cost, not the statistics
    r = c["reference"]
    n_sweeps = max(8, int(round(r["n_sweeps"] / reduction)))
    r["burn_in_sweeps"] = int(r["burn_in_sweeps"] * n_sweeps / r["n_sweeps"])
    r["n_sweeps"] = n_sweeps
    r["r_hat_max"] = 2.0  # the largest allowed: short reference chains measure the cost, not the convergence
    m = c["temperature_map"]  # the largest allowed: calibrations shortened 20-40x cannot meet the study's tolerances
    m["temperature_tolerance"], m["u0_tolerance_alphas"] = 0.5, 1.0
    return c


def workload(config: dict) -> dict:
    """Durations (ms) and epochs of ``config`` that a rule's cost scales with (for the record)."""
    return {"membrane_ms": config["membrane"]["duration_ms"],
            "calibration_fit_ms": config["calibration"]["fit"]["duration_ms"],
            "validation_ms": config["validation"]["duration_ms"],
            "lif_sampling_ms": config["lif_sampling"]["duration_ms"],
            "tempering_ms": config["tempering"]["duration_ms"],
            "rbm_epochs": config["rbm"]["epochs"]}


def snakemake(configfile: Path, workdir: Path, cores: int, dry_run: bool, data_dir: str) -> str:
    """Run Snakemake on the repository's workflow in ``workdir``; returns its output.

    A dry run lists every job of the DAG (``--forceall``), also when some are done,
    so that a finished work folder can be evaluated again.
    """
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", str(cores), "--configfile", str(configfile), "--config", f"data_dir={data_dir}"]
    if dry_run:
        command += ["-n", "--forceall"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"snakemake failed ({' '.join(command)}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout + done.stderr


def scheduled_jobs(dry_run_output: str) -> list[dict]:
    """Rule, benchmark file and threads of every job of a Snakemake dry run.

    Jobs of a rule with a ``sampler`` wildcard are told apart (``tempering_run[lif]``,
    ``tempering_run[gibbs]``): their costs differ by orders of magnitude.
    """
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", dry_run_output):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if not head:
            continue
        benchmark = re.search(r"^\s+benchmark: (\S+)", block, re.MULTILINE)
        threads = re.search(r"^\s+threads: (\d+)", block, re.MULTILINE)
        sampler = re.search(r"^\s+wildcards: .*\bsampler=(\w+)", block, re.MULTILINE)
        jobs.append({"rule": head.group(1) + (f"[{sampler.group(1)}]" if sampler else ""),
                     "benchmark": benchmark.group(1) if benchmark else None,
                     "threads": int(threads.group(1)) if threads else 1})
    return jobs


def measured_seconds(jobs: list[dict], workdir: Path) -> dict[str, list[float]]:
    """Wall seconds of every job with a benchmark file, by rule (as named by :func:`scheduled_jobs`)."""
    seconds: dict[str, list[float]] = {}
    for job in jobs:
        if job["benchmark"] is None:
            continue
        with open(workdir / job["benchmark"]) as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        seconds.setdefault(job["rule"], []).append(float(row["s"]))
    return seconds


def fit_fixed_and_scaling(reductions, mean_seconds) -> tuple[float, float]:
    """Least-squares ``seconds = fixed + per_unit / reduction``; both clipped at >= 0."""
    x = 1.0 / np.asarray(reductions, dtype=float)
    y = np.asarray(mean_seconds, dtype=float)
    if np.ptp(x) == 0:
        return float(y.mean()), 0.0
    per_unit, fixed = np.polyfit(x, y, 1)
    if fixed < 0:
        return 0.0, float(np.sum(x * y) / np.sum(x * x))
    if per_unit < 0:
        return float(y.mean()), 0.0
    return float(fixed), float(per_unit)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "config" / "paper.yaml"), help="study configuration")
    parser.add_argument("--reductions", type=float, nargs=2, default=[40.0, 20.0],
                        help="two duration reduction factors")
    parser.add_argument("--cores", type=int, default=2, help="cores for the reduced runs")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the data set's IDX files (default: the config's data_dir in the repository)")
    parser.add_argument("--workdir", default=None, help="keep the reduced runs here (default: a temporary folder)")
    parser.add_argument("--out", default=None, help="NetCDF file for the table")
    args = parser.parse_args(argv)

    full = merged(yaml.safe_load(DEFAULT_CONFIG.read_text()), yaml.safe_load(Path(args.config).read_text()))
    root = Path(args.workdir or tempfile.mkdtemp(prefix="paper_cost_")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    full_file = root / "full.yaml"
    full_file.write_text(yaml.safe_dump(full))
    data_dir = str(Path(args.data_dir).resolve() if args.data_dir else (REPO / data_directory(full)).resolve())
    full_jobs = scheduled_jobs(snakemake(full_file, root / "full", args.cores, True, data_dir))
    counts: dict[str, int] = {}
    threads: dict[str, int] = {}
    for job in full_jobs:
        counts[job["rule"]] = counts.get(job["rule"], 0) + 1
        threads[job["rule"]] = job["threads"]

    means: dict[str, list[float]] = {}
    for reduction in args.reductions:
        workdir = root / f"reduced_{reduction:g}"
        configfile = root / f"reduced_{reduction:g}.yaml"
        configfile.write_text(yaml.safe_dump(reduced_config(full, reduction)))
        jobs = scheduled_jobs(snakemake(configfile, workdir, args.cores, True, data_dir))
        print(f"reduction {reduction:g}: {len(jobs)} jobs", flush=True)
        snakemake(configfile, workdir, args.cores, False, data_dir)
        for rule, seconds in measured_seconds(jobs, workdir).items():
            means.setdefault(rule, []).append(float(np.median(seconds)))

    rules = sorted(r for r in counts if r in means and len(means[r]) == len(args.reductions))
    fixed, per_unit = zip(*(fit_fixed_and_scaling(args.reductions, means[r]) for r in rules))
    projected_s = np.asarray(fixed) + np.asarray(per_unit)
    n_jobs = np.array([counts[r] for r in rules])
    n_threads = np.array([threads[r] for r in rules])
    core_hours = n_jobs * n_threads * projected_s / SECONDS_PER_HOUR
    unmeasured = sorted(set(counts) - set(rules))
    ds = xr.Dataset(
        {
            "n_jobs": ("rule", n_jobs, {"units": "1", "long_name": "jobs of the rule in the full configuration"}),
            "threads": ("rule", n_threads, {"units": "1", "long_name": "threads (cores) per job"}),
            "measured_s": (("rule", "reduction"), np.array([means[r] for r in rules]),
                           {"units": "s", "long_name": "median wall time per job at the reduced durations"}),
            "fixed_s": ("rule", np.asarray(fixed), {"units": "s", "long_name": "fitted duration-independent part"}),
            "projected_s": ("rule", projected_s, {"units": "s", "long_name": "projected wall time per job"}),
            "core_hours": ("rule", core_hours, {"units": "h", "long_name": "projected core-hours of the rule"}),
        },
        coords={"rule": ("rule", list(rules), {"long_name": "Snakemake rule [sampler]"}),
                "reduction": ("reduction", np.asarray(args.reductions),
                              {"units": "1", "long_name": "duration and epoch reduction factor"})},
        attrs={"config_file": str(Path(args.config)), "total_core_hours": float(core_hours.sum()),
               "total_jobs": int(sum(counts.values())), "unmeasured_rules": ", ".join(unmeasured),
               "machine": f"{os.cpu_count()} cores", **{f"full_{k}": v for k, v in workload(full).items()}},
    )
    print(f"\n| rule | jobs | threads | measured s/job (x{args.reductions[0]:g}, x{args.reductions[1]:g}) "
          "| fixed s | projected s/job | core-hours |")
    print("|---|---|---|---|---|---|---|")
    for k, rule in enumerate(rules):
        m = means[rule]
        print(f"| {rule} | {n_jobs[k]} | {n_threads[k]} | {m[0]:.1f}, {m[1]:.1f} | {fixed[k]:.1f} "
              f"| {projected_s[k]:.0f} | {core_hours[k]:.2f} |")
    print(f"| total | {int(n_jobs.sum())} | | | | | {core_hours.sum():.1f} |")
    if unmeasured:
        print(f"not measured (no benchmark file): {', '.join(unmeasured)}")
    if args.out:
        write_dataset(ds, args.out, params={"config": full, "reductions": list(args.reductions)})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

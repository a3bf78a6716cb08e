"""benchmarks/paper_cost.py: the reduced configuration, the dry-run parser and the cost fit."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

from lif_tempering.config import load_schema, validate_config

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("paper_cost", REPO / "benchmarks" / "paper_cost.py")
paper_cost = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(paper_cost)


def paper_config() -> dict:
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return paper_cost.merged(default, yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))


@pytest.mark.parametrize("reduction", [20.0, 40.0])
def test_reduced_paper_config_is_valid_and_keeps_the_sizes(reduction):
    full = paper_config()
    reduced = paper_cost.reduced_config(full, reduction)
    validate_config(reduced, load_schema())
    for section in ("tempering", "lif_sampling", "validation"):
        sampled_full = full[section]["duration_ms"] - full[section]["burn_in_ms"]
        sampled = reduced[section]["duration_ms"] - reduced[section]["burn_in_ms"]
        assert sampled == pytest.approx(sampled_full / reduction, rel=0.1)
    assert reduced["rbm"]["epochs"] == round(full["rbm"]["epochs"] / reduction)
    assert reduced["rbm"]["n_hidden"] == full["rbm"]["n_hidden"]
    assert reduced["dataset"] == full["dataset"]
    assert reduced["tempering"]["n_seeds"] == 1 and reduced["parameter_scan"]["n_seeds"] == 1
    assert reduced["calibration"]["fit"]["n_points"] == full["calibration"]["fit"]["n_points"]
    assert reduced["reference"]["n_sweeps"] == pytest.approx(full["reference"]["n_sweeps"] / reduction, rel=0.1)
    assert reduced["reference"]["n_chains"] == full["reference"]["n_chains"]
    # the map's tolerances at the schema's maxima, its iterations as in the study
    assert reduced["temperature_map"]["temperature_tolerance"] == 0.5
    assert reduced["temperature_map"]["u0_tolerance_alphas"] == 1.0
    assert reduced["temperature_map"]["max_iterations"] == full["temperature_map"]["max_iterations"]
    # whole sine periods of the tempering schedule
    periods = (reduced["tempering"]["duration_ms"] - reduced["tempering"]["burn_in_ms"]) \
        * reduced["tempering"]["frequency_hz"] / 1000.0
    assert periods == pytest.approx(round(periods))


def test_fit_recovers_fixed_and_per_unit_cost():
    fixed, per_unit = 3.0, 400.0
    reductions = [40.0, 20.0]
    seconds = [fixed + per_unit / r for r in reductions]
    assert paper_cost.fit_fixed_and_scaling(reductions, seconds) == pytest.approx((fixed, per_unit))
    # a duration-independent rule measured with noise: no negative per-unit cost
    assert paper_cost.fit_fixed_and_scaling(reductions, [5.0, 4.9]) == pytest.approx((4.95, 0.0))


DRY_RUN = """
[Sat Nov 28 01:14:23 2026]
rule calibrate_noise:
    output: results/calibration/exc3000_inh3000.nc
    log: results/logs/calibration/exc3000_inh3000.log
    jobid: 3
    benchmark: results/benchmarks/calibration/exc3000_inh3000.tsv
    wildcards: noise=exc3000_inh3000
    resources: tmpdir=/tmp, mem_mb=2000, runtime=30

[Sat Nov 28 01:14:23 2026]
rule train_rbm:
    output: results/rbm/mnist/seed5/rbm.nc
    jobid: 72
    benchmark: results/benchmarks/rbm/mnist/seed5/train.tsv
    threads: 2
    resources: tmpdir=/tmp, mem_mb=4000, runtime=895

[Sat Nov 28 01:14:23 2026]
rule tempering_run:
    output: results/sampling/mnist/lif/free/training_seed0/seed0.nc
    jobid: 80
    benchmark: results/benchmarks/sampling/mnist/lif/free/training_seed0/seed0.tsv
    wildcards: dataset=mnist, sampler=lif, schedule=free, training_seed=0, seed=0
    resources: tmpdir=/tmp, mem_mb=4000, runtime=60

[Sat Nov 28 01:14:23 2026]
localrule all:
    input: results/mixing/summary.nc
    jobid: 0
"""


def test_dry_run_parser_reads_rule_sampler_benchmark_and_threads():
    jobs = paper_cost.scheduled_jobs(DRY_RUN)
    assert jobs == [
        {"rule": "calibrate_noise", "benchmark": "results/benchmarks/calibration/exc3000_inh3000.tsv", "threads": 1},
        {"rule": "train_rbm", "benchmark": "results/benchmarks/rbm/mnist/seed5/train.tsv", "threads": 2},
        {"rule": "tempering_run[lif]", "benchmark": "results/benchmarks/sampling/mnist/lif/free/training_seed0/seed0.tsv",
         "threads": 1},
        {"rule": "all", "benchmark": None, "threads": 1},
    ]


def test_shorter_keeps_the_burn_in_and_a_step_multiple():
    assert paper_cost.shorter(201000.0, 1000.0, 20.0, 500.0) == 11000.0
    assert paper_cost.shorter(20000.0, 500.0, 1000.0, 10.0) == 520.0
    assert np.isclose(paper_cost.shorter(100500.0, 500.0, 40.0, 10.0) - 500.0, 2500.0)

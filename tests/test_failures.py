"""Interrupted and failing jobs: no complete-looking output, recovery, visible logs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lif_tempering.io import read_dataset

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def snakemake_command(workdir: Path, configfile: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(configfile), *extra]


def tiny_config(tmp_path: Path, **changes) -> Path:
    with open(ROOT / "config" / "test.yaml") as handle:
        config = yaml.safe_load(handle)
    config.update(changes)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_killed_run_leaves_no_partial_netcdf_and_rerun_incomplete_recovers(tmp_path):
    """SIGKILL the whole run while a simulation job is running, then recover."""
    configfile = tiny_config(tmp_path)
    workdir = tmp_path / "study"
    process = subprocess.Popen(snakemake_command(workdir, configfile, "--cores", "1"), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    calibration_logs = workdir / "results" / "logs" / "calibration"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if any("Starting simulation" in log.read_text() for log in calibration_logs.glob("*.log")):
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before a calibration job was seen running"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    for path in (workdir / "results").rglob("*.nc"):
        assert "params_json" in read_dataset(path).attrs, f"{path} looks complete but is not"
    running = [log.stem for log in calibration_logs.glob("*.log")]
    assert not any((workdir / "results" / "calibration" / "activation" / f"{noise}.nc").exists()
                   for noise in running if "u0 =" not in (calibration_logs / f"{noise}.log").read_text())

    # A SIGKILLed Snakemake cannot release its lock: unlock, then rerun the incomplete jobs.
    subprocess.run(snakemake_command(workdir, configfile, "--unlock"), check=True, capture_output=True)
    subprocess.run(snakemake_command(workdir, configfile, "--cores", "2", "--rerun-incomplete"), check=True,
                   capture_output=True)
    dry = subprocess.run(snakemake_command(workdir, configfile, "--dry-run"), check=True, capture_output=True,
                         text=True)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    for scheme in ("balanced", "compensated"):
        assert read_dataset(workdir / "results" / "calibration" / f"temperature_map_{scheme}.nc").sizes["scheme"] == 1


def test_failing_job_shows_its_log(tmp_path):
    """A job that cannot create its build folder fails, and Snakemake prints the job's log."""
    with open(ROOT / "config" / "config.yaml") as handle:
        simulation = yaml.safe_load(handle)["simulation"]
    simulation["build_cache_dir"] = "/proc/lif-tempering-unwritable"
    configfile = tiny_config(tmp_path, simulation=simulation)
    workdir = tmp_path / "study"
    result = subprocess.run(snakemake_command(workdir, configfile, "--cores", "1", "--show-failed-logs",
                                              "results/calibration/activation/exc3000_inh3000.nc"),
                            capture_output=True, text=True)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Error in rule calibrate_noise" in output
    assert "Traceback" in output and "/proc/lif-tempering-unwritable" in output
    assert not (workdir / "results" / "calibration" / "activation" / "exc3000_inh3000.nc").exists()

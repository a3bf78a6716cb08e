"""The SLURM profile runs the study on a real (local) SLURM cluster and reproduces the local results.

Start the cluster first: `bash profiles/slurm/local-cluster.sh start` (CI does).
Without a cluster the test is skipped, unless LIF_TEMPERING_REQUIRE_SLURM=1
(set by .ci/run), which turns the skip into a failure.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from workflow_helpers import copy_study

from lif_tempering.io import read_dataset

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def controller_answers(attempts: int = 10, pause_s: float = 3.0) -> tuple[bool, str]:
    """Whether `sinfo` reaches a controller (retried: a busy controller may time out once)."""
    message = ""
    for _ in range(attempts):
        result = subprocess.run(["sinfo", "-h"], capture_output=True, text=True)
        if result.returncode == 0:
            return True, result.stdout
        message = result.stderr.strip() or f"sinfo exited with {result.returncode}"
        time.sleep(pause_s)
    return False, message


@pytest.fixture(scope="module")
def slurm_cluster():
    problem = None
    answers, message = (False, "") if shutil.which("sinfo") is None else controller_answers()
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        problem = "SLURM client tools are not installed"
    elif not answers:
        problem = f"no SLURM controller answers ({message}); start one: bash profiles/slurm/local-cluster.sh start"
    else:
        try:
            import snakemake_executor_plugin_slurm  # noqa: F401
        except ImportError:
            problem = "snakemake-executor-plugin-slurm is not installed"
    if problem:
        if os.environ.get("LIF_TEMPERING_REQUIRE_SLURM") == "1":
            pytest.fail(problem)
        pytest.skip(problem)


def run(workdir: Path, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(ROOT / "config" / "test.yaml"), *extra],
        capture_output=True, text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


def test_slurm_profile_reproduces_local_results(slurm_cluster, finished_test_study, tmp_path, capsys):
    """The session's local run of config/test.yaml (2 cores) against the same study through the SLURM profile."""
    copy_study(finished_test_study, tmp_path / "local")
    slurm_output = run(tmp_path / "slurm", "--profile", str(ROOT / "profiles" / "slurm"))
    job_ids = re.findall(r"SLURM jobid (\d+)", slurm_output)
    with capsys.disabled():
        print(f"\nSLURM job ids of the test study: {', '.join(job_ids)}")
    local_files = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local" / "results").rglob("*.nc"))
    slurm_files = sorted(p.relative_to(tmp_path / "slurm") for p in (tmp_path / "slurm" / "results").rglob("*.nc"))
    assert local_files == slurm_files and local_files
    assert len(job_ids) >= len(local_files)
    for relative in local_files:
        local, slurm = read_dataset(tmp_path / "local" / relative), read_dataset(tmp_path / "slurm" / relative)
        assert local.attrs["params_json"] == slurm.attrs["params_json"], relative
        assert local.attrs["config_hash"] == slurm.attrs["config_hash"], relative
        assert set(local.data_vars) == set(slurm.data_vars), relative
        for name in local.data_vars:
            if "wall" in name:  # wall-clock times (and ESS per wall-clock second) measure the machine
                continue
            np.testing.assert_array_equal(local[name].values, slurm[name].values, err_msg=f"{relative}: {name}")

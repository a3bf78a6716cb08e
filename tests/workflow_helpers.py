"""Helpers for the tests that run the workflow through Snakemake's Python API."""

import hashlib
import shutil
from pathlib import Path

import yaml
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, ExecutionSettings, OutputSettings, ResourceSettings

ROOT = Path(__file__).resolve().parents[1]


def load_test_config():
    """config/test.yaml as a dict."""
    with open(ROOT / "config" / "test.yaml") as handle:
        return yaml.safe_load(handle)


def scheduled_jobs(workdir: Path, configfile: Path, targets=None, dryrun: bool = False):
    """Run (or dry-run) ``targets`` (default: the default target); return (rule, wildcards) per scheduled job."""
    with SnakemakeApi(OutputSettings(quiet={"progress", "rules"} if dryrun else None)) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=2),
            config_settings=ConfigSettings(configfiles=[configfile]),
            snakefile=ROOT / "Snakefile",
            workdir=workdir,
        )
        dag_api = workflow_api.dag(DAGSettings(targets=targets) if targets else DAGSettings())
        dag_api.execute_workflow(executor="dryrun" if dryrun else "local",
                                 execution_settings=ExecutionSettings(keep_going=False))
        dag = workflow_api._workflow.dag  # the DAG of the finished call (no public accessor)
        return sorted((job.rule.name, tuple(sorted(job.wildcards_dict.items())))
                      for job in dag.needrun_jobs(exclude_finished=False))


def copy_study(finished: Path, destination: Path) -> Path:
    """A copy of a finished study folder (results, Snakemake's metadata, Brian2 cache) with the files' times
    kept, so that Snakemake finds it as finished as the original."""
    shutil.copytree(finished, destination, symlinks=True)
    return destination


def write_config(workdir: Path, config: dict) -> Path:
    """``config`` as a YAML file in ``workdir``, named by its content."""
    configfile = workdir / f"config_{hashlib.sha256(yaml.safe_dump(config).encode()).hexdigest()[:8]}.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return configfile


def run_workflow(workdir: Path, config: dict, targets, dryrun: bool = False):
    """Run (or dry-run) ``targets`` with ``config`` over the defaults; return the scheduled rules."""
    return sorted(rule for rule, _ in scheduled_jobs(workdir, write_config(workdir, config), targets, dryrun))


def assert_described(ds):
    for name in list(ds.data_vars) + list(ds.coords):
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name

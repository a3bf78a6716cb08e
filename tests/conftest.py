"""Shared fixtures: one Brian2 build cache and one finished run of config/test.yaml per test session."""

import os

import pytest
import yaml
from brian2 import prefs, set_device, start_scope
from workflow_helpers import load_test_config, scheduled_jobs

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def brian_cache(tmp_path_factory):
    """Folder for compiled Brian2 projects, shared by the tests of one session."""
    return tmp_path_factory.mktemp("brian_cache")


@pytest.fixture(scope="session")
def finished_test_study(tmp_path_factory):
    """config/test.yaml (as ``test.yaml`` in the folder) run once to the default target.

    Read-only: tests that run or change anything work on a copy (:func:`workflow_helpers.copy_study`).
    """
    workdir = tmp_path_factory.mktemp("finished_test_study")
    configfile = workdir / "test.yaml"
    configfile.write_text(yaml.safe_dump(load_test_config()))
    scheduled_jobs(workdir, configfile)
    return workdir


@pytest.fixture
def runtime_device():
    """Brian2's runtime device with the numpy target (no compilation) for tiny simulations."""
    previous_target = prefs.codegen.target
    set_device("runtime")
    prefs.codegen.target = "numpy"
    start_scope()
    yield
    prefs.codegen.target = previous_target


def pytest_collection_modifyitems(config, items):
    """Run the SLURM comparison first: it is the longest test and uses the cluster .ci/run started."""
    items.sort(key=lambda item: 0 if item.path.name == "test_slurm.py" else 1)

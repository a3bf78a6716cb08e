"""Shared fixtures: one Brian2 build cache per test session."""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def brian_cache(tmp_path_factory):
    """Folder for compiled Brian2 projects, shared by the tests of one session."""
    return tmp_path_factory.mktemp("brian_cache")


def pytest_collection_modifyitems(config, items):
    """Run the SLURM comparison first: it is the longest test and uses the cluster .ci/run started."""
    items.sort(key=lambda item: 0 if item.path.name == "test_slurm.py" else 1)

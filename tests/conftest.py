"""Shared fixtures: one Brian2 build cache per test session."""

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def brian_cache(tmp_path_factory):
    """Folder for compiled Brian2 projects, shared by the tests of one session."""
    return tmp_path_factory.mktemp("brian_cache")

"""Tests of the job environment: thread limits."""

import os

import numpy as np
import pytest

from lif_tempering.runtime import THREAD_VARIABLES, limit_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def test_limit_threads_caps_the_blas_numpy_already_loaded(monkeypatch):
    # numpy (and its BLAS) is imported before the cap, as in the workflow scripts
    np.testing.assert_array_equal(np.ones((2, 2)) @ np.ones(2), [2.0, 2.0])
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    limiter = limit_threads(1)
    try:
        assert isinstance(limiter, threadpoolctl.threadpool_limits)
        pools = threadpoolctl.threadpool_info()
        assert pools and all(pool["num_threads"] == 1 for pool in pools)
        assert all(os.environ[name] == "1" for name in THREAD_VARIABLES)
    finally:
        limiter.restore_original_limits()

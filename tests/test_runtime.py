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
    # the pools start at 3 threads whatever OMP_NUM_THREADS the test session had: a cap that does not reach
    # the loaded BLAS leaves them there
    with threadpoolctl.threadpool_limits(3):
        pools = threadpoolctl.threadpool_info()
        assert pools and all(pool["num_threads"] == 3 for pool in pools)
        limiter = limit_threads(1)
        try:
            assert isinstance(limiter, threadpoolctl.threadpool_limits)
            threads = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()]
            assert threads == [1] * len(threads), threads
            assert all(os.environ[name] == "1" for name in THREAD_VARIABLES)
        finally:
            limiter.restore_original_limits()

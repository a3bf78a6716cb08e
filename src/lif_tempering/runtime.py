"""Job environment for workflow scripts: logging to a file and thread limits."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads(threads: int):
    """Cap BLAS/OpenMP threads at the rule's ``threads``; returns the threadpoolctl limiter (``None`` without it).

    The environment variables reach libraries loaded later and child processes; the
    BLAS that numpy has already loaded (workflow scripts import numpy first) is capped
    through threadpoolctl, a dependency of scikit-learn. Uncapped, BLAS starts one
    thread per core: its threads spin while they wait for each other, and on a busy
    2-core machine RBM training's small matrix products ran more than 10x slower
    with 2 threads than with 1.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = str(int(threads))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(int(threads))


@contextlib.contextmanager
def job_log(path: str | os.PathLike | None):
    """Send this process's stdout and stderr, and its children's, to ``path``.

    File descriptors 1 and 2 are redirected, so the progress lines that the
    compiled Brian2 binary prints end up in the log as well.
    """
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])

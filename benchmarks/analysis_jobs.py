#!/usr/bin/env python
"""What the study's many small analysis jobs pay besides their science: imports and the conditional fit.

Two measurements, printed (nothing asserted):

- **imports**: wall time of a fresh interpreter that imports the package module a job's
  script imports first (``lif_tempering.tempering.study`` for the sampling rules,
  ``lif_tempering.analysis.study`` for the mixing rules), median of ``--repeats``
  interpreters, minus an empty interpreter's; and whether ArviZ or matplotlib came with
  it (the sampling jobs need neither; ArviZ is imported on its first use).
- **conditional fit**: :func:`lif_tempering.sampling.conditionals.conditional_gains` of
  both layers on the samples a mixing group reads for the conditional calibration: the
  default study's digits RBM size (64 + 200 units), ``--runs`` runs of ``--samples``
  samples each (41-s runs read every 2 ms, every ``conditional_stride`` = 4th sample:
  10 runs x 5,000). The states are block-Gibbs samples of a random RBM of that size
  (the fit's cost does not depend on the model).

Usage::

    python benchmarks/analysis_jobs.py
    python benchmarks/analysis_jobs.py --repeats 9 --runs 10 --samples 5000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

from lif_tempering.learning.rbm import sample_rbm_gibbs
from lif_tempering.sampling.conditionals import conditional_gains, layer_inputs

MODULES = {"sampling jobs": "lif_tempering.tempering.study", "mixing jobs": "lif_tempering.analysis.study"}
PROBE = "import sys, {module}; print(int('arviz' in sys.modules), int('matplotlib' in sys.modules))"


def import_seconds(module: str | None, repeats: int) -> tuple[float, str]:
    """Median wall seconds of ``repeats`` fresh interpreters importing ``module`` (None: nothing) and what the
    last one reported loaded (``arviz matplotlib`` flags)."""
    code = PROBE.format(module=module) if module else "pass"
    times, flags = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        flags = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        times.append(time.perf_counter() - start)
    return statistics.median(times), flags.strip()


def gibbs_states(n_visible: int, n_hidden: int, n_samples: int, seed: int):
    """``(z, W, b_v, b_h)``: ``n_samples`` block-Gibbs states (visible first) of one chain of a random RBM."""
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 0.3, (n_visible, n_hidden))
    b_v, b_h = rng.normal(0.0, 1.0, n_visible), rng.normal(0.0, 1.0, n_hidden)
    v, h = sample_rbm_gibbs(W, b_v, b_h, n_samples, 1, rng)
    return np.concatenate([v[:, 0], h[:, 0]], axis=1).astype(np.float32), W, b_v, b_h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interpreters per import measurement")
    parser.add_argument("--runs", type=int, default=10, help="runs of one mixing group")
    parser.add_argument("--samples", type=int, default=5000, help="samples read per run")
    parser.add_argument("--n-visible", type=int, default=64)
    parser.add_argument("--n-hidden", type=int, default=200)
    args = parser.parse_args()

    empty, _ = import_seconds(None, args.repeats)
    print(f"empty interpreter: {empty:.2f} s (subtracted below)")
    for job, module in MODULES.items():
        seconds, flags = import_seconds(module, args.repeats)
        arviz, matplotlib = flags.split()
        print(f"{job}: import {module}: {seconds - empty:.2f} s; arviz loaded {arviz}, matplotlib loaded {matplotlib}")

    z, W, b_v, b_h = gibbs_states(args.n_visible, args.n_hidden, args.samples, seed=0)
    start = time.perf_counter()
    for _ in range(args.runs):
        for inputs in layer_inputs(z, W, b_v, b_h).values():
            conditional_gains(inputs)
    seconds = time.perf_counter() - start
    print(f"conditional fit of one mixing group ({args.runs} runs x {args.samples} samples, "
          f"{args.n_visible} + {args.n_hidden} units, both layers): {seconds:.2f} s")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Two costs the study's jobs pay many times, before and after their rewrite (printed, nothing asserted):

- **softplus** of a digits RBM's hidden inputs of its training images (1437 x 200, float32, the
  per-epoch curves' array): :func:`lif_tempering.learning.rbm.softplus` against ``np.logaddexp(0, x)``.
- **weights of a multi-copy network**: the per-synapse weights of 20 copies of a 64 + 200 network (an
  in-the-loop update) from sparse block-diagonal matrices, as :class:`~lif_tempering.sampling.network.BoltzmannSampler`
  builds them, against dense ``scipy.linalg.block_diag`` matrices.

Usage::

    python benchmarks/softplus_and_weights.py --repeats 20
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np
import scipy.linalg
import scipy.sparse

from lif_tempering.learning.rbm import softplus
from lif_tempering.sampling.network import bipartite_connectivity, block_diagonal_connectivity, synapse_values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 5.0, (1437, 200)).astype(np.float32)
    for name, call in (("softplus", lambda: softplus(x)), ("np.logaddexp(0, x)", lambda: np.logaddexp(0.0, x))):
        print(f"{name}: {1e3 * timeit.timeit(call, number=args.repeats) / args.repeats:.2f} ms per call")
    n_visible, n_hidden, n_copies = 64, 200, 20
    n = n_visible + n_hidden
    blocks = []
    for _ in range(n_copies):
        block = np.zeros((n, n))
        block[:n_visible, n_visible:] = np.abs(rng.normal(0.0, 0.003, (n_visible, n_hidden)))
        blocks.append(block + block.T)
    pre, post = block_diagonal_connectivity(*bipartite_connectivity(n_visible, n_hidden), n, n_copies)
    zeros = np.zeros((n, n))
    builds = {"sparse": lambda: synapse_values(pre, post, n * n_copies, scipy.sparse.block_diag(blocks, format="csr"),
                                               scipy.sparse.block_diag([zeros] * n_copies, format="csr")),
              "dense": lambda: synapse_values(pre, post, n * n_copies, scipy.linalg.block_diag(*blocks),
                                              scipy.linalg.block_diag(*[zeros] * n_copies))}
    for name, call in builds.items():
        seconds = timeit.timeit(call, number=max(args.repeats // 5, 1)) / max(args.repeats // 5, 1)
        print(f"synapse weights of {n_copies} copies, {name}: {1e3 * seconds:.0f} ms per run")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Epoch time of RBM training (:func:`lif_tempering.learning.rbm.train_rbm`) at the study's sizes.

Two shapes: 196 x 200 (MNIST downsampled to 14x14, the default study) and 784 x 500
(MNIST 28x28, ``config/paper.yaml``), each on 60,000 training images with the
default training settings (PCD-1, 50 persistent chains, minibatches of 50, the
per-epoch monitoring curves on a fixed subset of training images). An epoch is
one pass over the images plus its monitoring; its wall time is taken between the
per-epoch log lines (the first epoch from the call's start, so it includes the
setup). BLAS runs with ``--threads`` threads (threadpoolctl), like the workflow's
``train_rbm`` rule.

Images: the binarised MNIST training set from ``--data-dir`` (the folder with
the IDX files) if given, else random binary images with MNIST's pixel density
(0.13): the cost of an epoch does not depend on the pixel values.

Usage::

    python benchmarks/train_rbm.py --epochs 3
    python benchmarks/train_rbm.py --data-dir resources/mnist --json results/performance/train_rbm.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from lif_tempering.learning.datasets import load_idx_binary
from lif_tempering.learning.rbm import MONITOR_IMAGES, train_rbm

SHAPES = {"196x200": (2, 200), "784x500": (1, 500)}
N_IMAGES = 60_000
MNIST_PIXEL_DENSITY = 0.13


def training_images(data_dir: str | None, downsample: int, seed: int = 0) -> np.ndarray:
    """MNIST training images at ``downsample`` (from ``data_dir``), or random ones of the same size."""
    if data_dir is not None:
        return load_idx_binary(data_dir, "mnist", 127, downsample).train_images
    n_visible = (28 // downsample) ** 2
    return (np.random.default_rng(seed).random((N_IMAGES, n_visible)) < MNIST_PIXEL_DENSITY).astype(np.int8)


def epoch_times_s(images: np.ndarray, n_hidden: int, epochs: int, dtype: str) -> list[float]:
    """Wall seconds of each of ``epochs`` training epochs."""
    stamps = [time.perf_counter()]
    train_rbm(images, n_hidden, epochs, batch_size=50, n_persistent_chains=50, seed=0, dtype=dtype,
              log=lambda line: stamps.append(time.perf_counter()))
    return list(np.diff(stamps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per shape (default 3)")
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1, as the rule)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (default: random images)")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args()

    threadpool_limits(args.threads)
    blas = ", ".join(f"{Path(pool['filepath']).name} {pool['version']} ({pool['num_threads']} threads)"
                     for pool in threadpool_info())
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}, {blas}; dtype {args.dtype}, "
          f"images: {args.data_dir or 'random'}, curves on {MONITOR_IMAGES} images")
    results = []
    for shape in args.shapes:
        downsample, n_hidden = SHAPES[shape]
        images = training_images(args.data_dir, downsample)
        times = epoch_times_s(images, n_hidden, args.epochs, args.dtype)
        later = times[1:] or times
        print(f"{shape}: epoch s {', '.join(f'{t:.2f}' for t in times)}; median {np.median(later):.2f} s"
              f"{' (after the first)' if len(times) > 1 else ''}", flush=True)
        results.append({"shape": shape, "n_visible": images.shape[1], "n_hidden": n_hidden,
                        "n_images": len(images), "epoch_s": times, "median_epoch_s": float(np.median(later))})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "dtype": args.dtype, "blas": blas, "data_dir": args.data_dir,
                       "monitor_images": MONITOR_IMAGES, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()

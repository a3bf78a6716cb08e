#!/usr/bin/env python
"""What the thread team of compiled simulations (``neuron/lif_team.h``) costs and buys on this machine.

Compiles one C++ program against the package's team header (the binaries' flags,
``-march=native``) and runs it with 1 and with 2 threads. It prints

- ``round``: nanoseconds of one round with nothing to do (hand-over and completion;
  a simulation step has three);
- ``step``: microseconds of a synthetic step of independent work (16 private arrays of
  1280 doubles, each updated from the next; cache-line-aligned shares, no data shared
  between the threads), and each member's TSC cycles for its share relative to the
  whole step's cycles on one thread (0.5 would be perfect splitting).

No simulation is run; the numbers say how much a step of a few microseconds can gain
from 2 threads before any of the network's own costs. Not part of the tests.

Usage::

    python benchmarks/thread_team.py
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from lif_tempering.neuron import team
from lif_tempering.neuron.standalone import COMPILE_ARGS

_PROGRAM = r"""
#include "lif_team.h"
#include <chrono>
#include <cstdio>
#include <x86intrin.h>

const int32_t N = 1280, ARRAYS = 16, STEPS = 20000, ROUNDS = 1000000;
alignas(64) double values[ARRAYS][N];
struct alignas(64) Cycles { unsigned long long value; };
Cycles cycles[LIF_THREADS];

int main()
{
    auto nothing = [](int32_t, int32_t) {};
    lif_team::for_members(true, nothing);
    auto start = std::chrono::steady_clock::now();
    for (int32_t round = 0; round < ROUNDS; round++)
        lif_team::for_members(true, nothing);
    const double round_ns = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                            / ROUNDS * 1e9;
    for (int32_t a = 0; a < ARRAYS; a++)
        for (int32_t i = 0; i < N; i++)
            values[a][i] = 0.5 + a;
    auto share = [&](const int32_t member, const int32_t members) {
        const unsigned long long begin = __rdtsc();
        const int32_t first = N / 8 * member / members * 8, stop = N / 8 * (member + 1) / members * 8;
        for (int32_t a = 0; a + 1 < ARRAYS; a++)
            for (int32_t i = first; i < stop; i++)
                values[a][i] = values[a][i] * 0.999 + values[a + 1][i] * 0.001;
        cycles[member].value += __rdtsc() - begin;
    };
    start = std::chrono::steady_clock::now();
    for (int32_t step = 0; step < STEPS; step++)
        lif_team::for_members(true, share);
    const double step_us = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                           / STEPS * 1e6;
    std::printf("%.1f %.3f", round_ns, step_us);
    for (int32_t member = 0; member < LIF_THREADS; member++)
        std::printf(" %.1f", (double)cycles[member].value / STEPS);
    std::printf("\n");
    return 0;
}
"""


def run(threads: int, directory: Path) -> tuple[float, float, list[float]]:
    """(ns per empty round, us per synthetic step, each member's TSC cycles per step)."""
    source, binary = directory / "team.cpp", directory / f"team{threads}"
    source.write_text(_PROGRAM)
    subprocess.run(["g++", *COMPILE_ARGS, "-march=native", "-pthread", f"-D{team.THREADS_MACRO}={threads}",
                    f"-I{team.HEADER.parent}", str(source), "-o", str(binary)], check=True)
    round_ns, step_us, *cycles = (float(x) for x in
                                  subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout.split())
    return round_ns, step_us, cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per thread count (default 3)")
    args = parser.parse_args()
    if platform.machine() != "x86_64" or shutil.which("g++") is None:
        raise SystemExit("needs g++ on x86-64 (the program reads the TSC)")
    with tempfile.TemporaryDirectory() as folder:
        results = {threads: [run(threads, Path(folder)) for _ in range(args.repeats)] for threads in (1, 2)}
    one_thread_cycles = min(cycles[0] for _, _, cycles in results[1])
    print("threads | round ns | step us | share cycles / one-thread step cycles, per member")
    for threads, runs in results.items():
        for round_ns, step_us, cycles in runs:
            fractions = ", ".join(f"{c / one_thread_cycles:.2f}" for c in cycles)
            print(f"{threads} | {round_ns:.0f} | {step_us:.2f} | {fractions}")


if __name__ == "__main__":
    main()

"""Threads of a compiled simulation: one team for the whole run, the same numbers on any number of threads.

A build with ``threads`` > 1 (:class:`~lif_tempering.neuron.standalone.StandaloneProject`) is
compiled with ``-DLIF_THREADS=threads``; the package's per-step functions (membrane step,
background, synaptic delivery) hand each member of a team of that many threads a contiguous
share of the neurons. The team (``lif_team.h``, next to this module) is started at the first
step and lives until the binary exits: the calling thread is member 0, the others wait for
the next piece of work by spinning, so a hand-over costs a cache-line transfer instead of an
OpenMP parallel region (~1.2 microseconds on 2 cores, several per step, more than half of a
784 + 500 network's step). Brian2's own code objects (threshold, reset, spike monitor) run on
the calling thread.

Every share is a function of the neuron index alone (neurons are independent within a step,
the background's random numbers are counter-based, every conductance receives its synaptic
events in the single-threaded order), so a run gives the same numbers for every thread count.
"""

from __future__ import annotations

from pathlib import Path

#: The team's header, included at the top of every code object that uses it.
HEADER = Path(__file__).with_name("lif_team.h")

#: Preprocessor macro with the team's size.
THREADS_MACRO = "LIF_THREADS"


def compiler_kwds() -> dict:
    """Brian2 ``compiler_kwds`` of a C++ function implementation that uses the team."""
    return {"headers": [f'"{HEADER.name}"'], "include_dirs": [str(HEADER.parent)]}


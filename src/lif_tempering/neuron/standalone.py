"""Compile-once, run-many use of Brian2's cpp_standalone device.

A simulation's *structure* (group sizes, synapses, monitors, duration, dt) fixes
the generated C++ code; its *values* (every per-neuron parameter, the seed) are
passed to the compiled binary at run time. Projects live in a cache folder keyed
by a hash of the structure, so jobs with the same structure share one binary.
Building is serialised by a file lock; every run writes to its own results
folder, so parallel jobs never collide.

The random seed is read by the binary from the environment variable
``LIF_TEMPERING_SEED`` (code inserted into ``main``): one binary serves every
seed, and the same seed gives the same numbers.

A built project can also be run without Brian2 (:class:`CompiledBinary`): a
manifest written after the build names the binary's inputs (command-line
variable names, dtypes, sizes) and outputs (result files, dtypes), so a later
job writes its values to files, calls the binary and reads the results with
numpy. That skips importing Brian2 and regenerating the project's code (about
3.5 s of a 9 s job for an 8x8-digits network). The manifest holds a
fingerprint of the package's source and of the Brian2 and SymPy versions; any
change there sends the next job through Brian2's build again (which rewrites
the manifest), so a binary is never run from code that would generate
another one.

Brian2's generated network loop reads the process CPU clock (a system call,
~0.4 us) once per object and step when it reports progress, and once per step
otherwise; for networks of a few hundred neurons that is a third to half of the
run time. The generated ``network.cpp`` is therefore patched to look at the clock
once every :data:`REPORT_CHECK_STEPS` steps (progress reports stay, at the same
period) and once at the end of the run. Builds with threads read a wall clock
instead, because the process's CPU time counts every thread of the team.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from lif_tempering.io import canonical_json
from lif_tempering.neuron import team

SEED_VARIABLE = "LIF_TEMPERING_SEED"

#: Compiler flags without -march=native, so that one binary runs on every node of
#: a cluster and gives the same numbers there as on a laptop; without fused multiply-adds,
#: so that functions compiled for several instruction sets (the background step of
#: :mod:`lif_tempering.neuron.model`) give the same numbers in each.
COMPILE_ARGS = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-ffp-contract=off", "-std=c++11"]

#: Preamble of C++ functions compiled for baseline x86-64, x86-64-v3 (AVX2) and x86-64-v4
#: (AVX-512), of which the binary picks one when it is loaded (GCC's function multiversioning,
#: which needs GCC 11 for these names and glibc's indirect functions; elsewhere baseline only):
#: ``_LIF_VERSIONS`` says whether to define the three versions, ``_LIF_INLINE`` marks the
#: function body that each version inlines.
MULTIVERSION_CPP = """
#ifndef _LIF_VERSIONS
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__GLIBC__)
#define _LIF_VERSIONS 1
#define _LIF_INLINE inline __attribute__((always_inline))
#else
#define _LIF_VERSIONS 0
#define _LIF_INLINE inline
#endif
#endif
"""

_SEED_CODE = f"""
{{
    const char* seed_text = std::getenv("{SEED_VARIABLE}");
    if (seed_text == NULL) {{
        std::cerr << "environment variable {SEED_VARIABLE} is not set" << std::endl;
        std::exit(2);
    }}
    const unsigned long seed_value = std::strtoul(seed_text, NULL, 10);
    for (size_t _i = 0; _i < brian::_random_generators.size(); _i++)
        brian::_random_generators[_i].seed(seed_value + _i);
}}
"""


#: Time steps between two looks at the clock for progress reports.
REPORT_CHECK_STEPS = 1000

#: How Brian2's network loop (without OpenMP) reads the elapsed time: the process's CPU clock.
_CLOCK_READ = {"object": ("current = std::clock();\n"
                          "                const double elapsed = ((double)(current - start) / CLOCKS_PER_SEC);"),
               "end": ("current = std::clock();\n"
                       "        elapsed_realtime = (double)(current - start)/(1 * CLOCKS_PER_SEC);"),
               "declaration": "    std::clock_t start, current;\n"}


def _clock_replacements(read: dict) -> list[tuple[str, str]]:
    object_read = read["object"]
    step_read = object_read.replace("\n                ", "\n            ")
    per_object = f"""
            if (report_func)
            {{
                {object_read}
                if (elapsed > next_report_time)
                {{
                    report_func(elapsed, (clock->t[0]-t_start)/duration, t_start, duration);
                    next_report_time += report_period;
                }}
            }}
"""
    step_start = """!Network::_globally_stopped)
    {
        t = clock->t[0];
"""
    step_start_patched = f"""!Network::_globally_stopped)
    {{
        t = clock->t[0];
        if (report_func && ++steps_since_clock >= {REPORT_CHECK_STEPS})
        {{
            steps_since_clock = 0;
            {step_read}
            if (elapsed > next_report_time)
            {{
                report_func(elapsed, (clock->t[0]-t_start)/duration, t_start, duration);
                next_report_time += report_period;
            }}
        }}
"""
    step_end = f"""        {read["end"]}


    }}
"""
    step_end_patched = f"""    }}
    {read["end"].replace(chr(10) + "        ", chr(10) + "    ")}
"""
    return [(per_object, ""), (step_start, step_start_patched), (step_end, step_end_patched),
            (read["declaration"], read["declaration"] + "    long steps_since_clock = 0;\n")]


#: From the process CPU clock to a wall clock (for builds with threads, whose CPU time counts every thread).
_WALL_CLOCK = [("#include <ctime>\n", "#include <ctime>\n#include <chrono>\n"),
               ("std::clock_t start, current;", "std::chrono::steady_clock::time_point start, current;"),
               ("std::clock()", "std::chrono::steady_clock::now()"),
               ("((double)(current - start) / CLOCKS_PER_SEC)", "std::chrono::duration<double>(current - start).count()"),
               ("(double)(current - start)/(1 * CLOCKS_PER_SEC)", "std::chrono::duration<double>(current - start).count()")]


def patch_network_source(code: str, wall_clock: bool = False) -> str:
    """Brian2's ``network.cpp`` with the clock read every REPORT_CHECK_STEPS steps and at the end.

    ``wall_clock``: the run time (progress reports, ``last_run_info.txt``) in wall seconds instead of
    the process's CPU seconds.
    """
    replacements = [(old, new, 1) for old, new in _clock_replacements(_CLOCK_READ)]
    if wall_clock:  # after the CPU clock's patch, so that the patched reads switch clocks too
        replacements += [(old, new, None) for old, new in _WALL_CLOCK]
    for old, new, count in replacements:
        if code.count(old) == 0 or (count is not None and code.count(old) != count):
            raise RuntimeError(f"Brian2 {_brian2_version()}'s network.cpp differs from the one this patch "
                               f"was written for (Brian2 2.9): cannot find\n{old}")
        code = code.replace(old, new)
    return code


class _NetworkPatchingWriter:
    """Brian2's source writer, with :func:`patch_network_source` applied to ``network.cpp``."""

    def __init__(self, writer, wall_clock: bool):
        self._writer, self._wall_clock = writer, wall_clock

    def write(self, filename, contents):
        if filename == "network.*":  # a template with .cpp and .h parts
            self._writer.write("network.cpp", patch_network_source(contents.cpp_file, self._wall_clock))
            self._writer.write("network.h", contents.h_file)
        else:
            self._writer.write(filename, contents)

    def __getattr__(self, name):
        return getattr(self._writer, name)


@contextlib.contextmanager
def _patched_network_source(wall_clock: bool):
    from brian2 import get_device

    standalone = get_device()
    generate = standalone.generate_network_source
    standalone.generate_network_source = lambda writer, compiler: generate(_NetworkPatchingWriter(writer, wall_clock),
                                                                           compiler)
    try:
        yield
    finally:
        del standalone.generate_network_source


def _brian2_version() -> str:
    return importlib.metadata.version("brian2")


def structure_hash(structure: dict) -> str:
    """Hash of a structure description, the Brian2 version and the compiler flags."""
    key = {"structure": structure, "brian2": _brian2_version(), "compile_args": COMPILE_ARGS}
    return hashlib.sha256(canonical_json(key).encode()).hexdigest()[:20]


def project_directory(structure: dict, duration_ms: float, dt_ms: float, cache_dir: str | os.PathLike,
                      threads: int = 1) -> Path:
    """The cache folder of the project of ``structure`` run for ``duration_ms`` at ``dt_ms`` on ``threads``.

    Durations are hashed as floats, so that 41000 and 41000.0 name the same project.
    """
    full = dict(structure, duration_ms=float(duration_ms), dt_ms=float(dt_ms))
    if int(threads) > 1:  # added only when set, so single-threaded binaries keep their hash
        full["threads"] = int(threads)
    return Path(cache_dir).resolve() / f"project-{structure_hash(full)}"


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StandaloneProject:
    """A compiled Brian2 network that can be run repeatedly with new values.

    ``threads`` > 1 compiles the project for a team of that many threads
    (:mod:`lif_tempering.neuron.team`): the package's membrane step, background
    and synaptic delivery split each step's neurons between them, Brian2's code
    objects run on the calling thread, and the spikes are the same for every
    thread count (tested). The run time the binary reports is then wall time
    (single-threaded binaries report their CPU time).

    ``builder(dt_ms)`` creates the Brian2 objects and returns ``(objects,
    handles)``: the objects go into an explicit :class:`Network` (Brian2's magic
    ``run()`` would miss objects held only in containers), ``handles`` is any
    mapping the caller needs later (groups, monitors). Only one project can be
    active per process, because Brian2's device is global; creating a new one
    resets the device.
    """

    def __init__(self, structure: dict, builder: Callable, duration_ms: float, dt_ms: float,
                 cache_dir: str | os.PathLike, report_period_s: float = 10.0, threads: int = 1):
        import brian2
        from brian2 import Network, defaultclock, device, ms, prefs, set_device

        threads = int(threads)
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.directory = project_directory(structure, duration_ms, dt_ms, cache_dir, threads)
        # Reset the standalone device itself, also when another device (e.g. the
        # runtime device) was active in between.
        set_device("cpp_standalone", build_on_run=False, directory=str(self.directory))
        device.reinit()
        # Objects of an earlier project that are still alive would make Brian2
        # rename the new ones (name_1, ...), change the code and force a recompile.
        gc.collect()
        set_device("cpp_standalone", build_on_run=False, directory=str(self.directory))
        prefs.codegen.cpp.extra_compile_args_gcc = list(COMPILE_ARGS) + (["-pthread"] if threads > 1 else [])
        prefs.codegen.cpp.extra_link_args = ["-pthread"] if threads > 1 else []
        prefs.codegen.cpp.define_macros = [(team.THREADS_MACRO, str(threads))]
        prefs.devices.cpp_standalone.openmp_threads = 0
        defaultclock.dt = dt_ms * ms
        objects, self.handles = builder(dt_ms)
        self.network = Network(*objects)
        device.insert_code("main", _SEED_CODE)
        self.network.run(duration_ms * ms, report="text", report_period=report_period_s * brian2.second)
        with _locked(self.directory.with_suffix(".lock")), _patched_network_source(wall_clock=threads > 1):
            device.build(directory=str(self.directory), compile=True, run=False, clean=False)

    def run(self, values: dict, seed: int) -> None:
        """Run the binary with ``values`` ({VariableView: quantity}) and ``seed``.

        Results stay readable through the monitors in ``handles`` until the next
        run.
        """
        from brian2 import device

        results_name = f"results-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        previous = getattr(self, "_results_dir", None)
        device.run_environment_variables[SEED_VARIABLE] = str(int(seed))
        device.run(directory=str(self.directory), results_directory=results_name, run_args=values)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        self._results_dir = self.directory / results_name

    def close(self) -> None:
        """Remove this process's results folder (the compiled binary stays) and drop the objects."""
        previous = getattr(self, "_results_dir", None)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
            self._results_dir = None
        self.handles, self.network = {}, None


#: File of a built project that lets :class:`CompiledBinary` run it without Brian2.
MANIFEST_NAME = "run_manifest.json"

#: Environment of the binary besides the seed (Brian2's default ``run_environment_variables``).
RUN_ENVIRONMENT = {"LD_BIND_NOW": "1"}


def code_fingerprint() -> str:
    """Hash of the package's Python and C++ source and of the Brian2 and SymPy versions that generate the C++ code."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.h")]):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for name in ("brian2", "sympy"):
        digest.update(f"{name}={importlib.metadata.version(name)}\0".encode())
    return digest.hexdigest()[:20]


class CompiledBinary:
    """A built project's binary, run without Brian2 from the manifest its build wrote.

    ``inputs``: command-line variable name (``group.variable`` or ``timedarray.values``)
    -> dtype and size (``None`` for a dynamic array such as a synaptic variable);
    ``outputs``: result name -> file (in the results folder), dtype and, for a
    monitor's 2-D array, its number of columns (the array is returned as (time, column)).
    """

    def __init__(self, directory: str | os.PathLike, manifest: dict):
        self.directory = Path(directory)
        self.inputs, self.outputs = manifest["inputs"], manifest["outputs"]
        #: Seconds the binary spent in its network loop in the last run (as it reports it).
        self.last_run_time_s = float("nan")
        self._results_dir = None

    @classmethod
    def load(cls, directory: str | os.PathLike) -> CompiledBinary | None:
        """The binary of ``directory`` if its manifest exists and fits the current code, else ``None``."""
        directory = Path(directory)
        try:
            manifest = json.loads((directory / MANIFEST_NAME).read_text())
        except (OSError, ValueError):
            return None
        if manifest.get("fingerprint") != code_fingerprint() or not (directory / "main").is_file():
            return None
        return cls(directory, manifest)

    @classmethod
    def from_project(cls, project: StandaloneProject, inputs, outputs: Mapping) -> CompiledBinary:
        """Describe a built ``project``'s binary and write its manifest.

        ``inputs``: the VariableViews and TimedArrays every run sets; ``outputs``: result
        name -> Brian2 Variable whose values the binary writes at the end of the run.
        """
        from brian2 import TimedArray, device

        described_inputs = {}
        for key in inputs:
            if isinstance(key, TimedArray):
                described_inputs[f"{key.name}.values"] = {"dtype": key.values.dtype.name, "size": int(key.values.size)}
            else:
                size = None if key.variable.dynamic else int(key.variable.size)
                described_inputs[f"{key.group_name}.{key.name}"] = {"dtype": np.dtype(key.dtype).name, "size": size}
        described_outputs = {}
        for name, variable in outputs.items():
            described_outputs[name] = {"file": device.get_array_filename(variable), "dtype": np.dtype(variable.dtype).name}
            if getattr(variable, "ndim", 1) == 2:  # a monitor's (time, recorded) array, written row by row
                described_outputs[name]["columns"] = int(variable.size[1])
        manifest = {"fingerprint": code_fingerprint(), "inputs": described_inputs, "outputs": described_outputs}
        path = project.directory / MANIFEST_NAME
        temporary = path.with_name(f"{MANIFEST_NAME}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
        temporary.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(temporary, path)
        return cls(project.directory, manifest)

    def run(self, values: Mapping[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
        """Run with ``values`` (every input, in SI units) and ``seed``; returns the outputs as arrays.

        The binary's progress lines go to this process's stdout.
        """
        missing, unknown = set(self.inputs) - set(values), set(values) - set(self.inputs)
        if missing or unknown:
            raise ValueError(f"inputs of {self.directory.name}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        self.close()
        results_dir = self.directory / f"results-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        (results_dir / "inputs").mkdir(parents=True)
        self._results_dir = results_dir
        arguments = []
        for name, value in values.items():
            spec = self.inputs[name]
            array = np.ascontiguousarray(np.ravel(value), dtype=spec["dtype"])
            if spec["size"] is not None and array.size != spec["size"]:
                raise ValueError(f"{name} needs {spec['size']} values, got {array.size}")
            path = results_dir / "inputs" / f"{name}.dat"
            array.tofile(path)
            arguments.append(f"{name}={path}")
        environment = dict(os.environ, **RUN_ENVIRONMENT, **{SEED_VARIABLE: str(int(seed))})
        sys.stdout.flush()
        completed = subprocess.run(["./main", "--results_dir", f"{results_dir}/", *arguments], cwd=self.directory,
                                   env=environment)
        if completed.returncode != 0:
            raise RuntimeError(f"the binary of {self.directory} failed (exit status {completed.returncode})")
        with contextlib.suppress(OSError, ValueError, IndexError):
            self.last_run_time_s = float((results_dir / "last_run_info.txt").read_text().split()[0])
        outputs = {}
        for name, spec in self.outputs.items():
            result = np.fromfile(results_dir / spec["file"], dtype=spec["dtype"])
            outputs[name] = result.reshape(-1, spec["columns"]) if "columns" in spec else result
        return outputs

    def close(self) -> None:
        """Remove the last run's results folder (the binary stays)."""
        if self._results_dir is not None:
            shutil.rmtree(self._results_dir, ignore_errors=True)
            self._results_dir = None

"""Brian2 model of conductance-based LIF neurons with exact Poisson background.

Every neuron parameter is a per-neuron variable, so that a compiled
cpp_standalone binary can be rerun with new values (``run_args``) without
recompiling.

The background is an exact Poisson process per neuron and receptor, counted per
time step (at kHz rates a Bernoulli approximation, at most one event per step,
under-disperses the input: docs/model.md). It is drawn event by event: each
neuron and receptor keeps its survival budget ``budget_exc``, ``budget_inh`` in
(0, 1], i.e. exp(-E) for the remaining Exp(1) time (in units of expected events)
until its next event. A step with rate r multiplies the budget by the per-step
growth factor ``exp(r * dt)`` (``growth_exc``, ``growth_inh``); each time it reaches
1 an event is counted and the budget is multiplied by a fresh uniform number.
This is exact for rates that are constant within a step, also when they change
from step to step, and costs one cheap uniform number per step and receptor (the
one for a step's first event, drawn every step to avoid an unpredictable branch)
plus one per further event, instead of ~1.3 uniform numbers and an ``exp`` for
Brian2's per-step ``poisson()``.

The background of all neurons of a group is one C++ function called once per
time step (:func:`poisson_background_function`, in the ``run_regularly``
operation that first updates the membranes, :mod:`lif_tempering.neuron.membrane`),
whose loops over the neurons have no data-dependent branch except the rare
further events. GCC compiles it for
baseline x86-64, x86-64-v3 (AVX2, four neurons at a time) and x86-64-v4
(AVX-512, eight), and the binary picks the version when it is loaded (function
multiversioning, GCC 11 or later with glibc; elsewhere the baseline version
only); all do the same integer operations and single IEEE operations in the
same order, so the numbers do not depend on the machine. The x86-64-v4 version
lists the neurons with further events eight at a time (AVX-512 compress; the
others one at a time, without a branch), in the same ascending order.
Brian2's runtime device runs the numpy version (:func:`background_numpy`), which
gives the same numbers (tested).

Uniform numbers are counter-based (Salmon et al. 2011): number ``k`` of time step
``s`` of stream ``2 i + r`` (neuron ``i``, receptor ``r``) is SplitMix64's output
function (Steele et al. 2014) of ``key + counter * gamma``, with the counter packing
(s, 2 i + r, k) into 32 + 22 + 10 bits and the key mixed from the run's seed. A
number depends on nothing but the seed and its (step, neuron, receptor, draw): not
on the order in which neurons are updated nor on the thread that updates them,
so a run gives the same spikes on 1, 2 or N threads, and a neuron's background is
the same whatever the size of its group. The C++ function and its numpy version
(:func:`background_uniform`) give the same numbers. Limits of the packing:
:data:`MAX_BACKGROUND_NEURONS` neurons per group, 2^32 steps per run (119 h at
dt = 0.1 ms), and up to 1023 events per step and receptor (at dt = 0.1 ms, rates
far beyond a MHz); the stream of an earlier version (one xoshiro256+ generator walked
through the neurons in order) is gone, so runs of that version are not reproduced
number for number.

The synaptic conductances are not integrated as ODEs but updated in the same pass,
``g = g * syn_decay + syn_weight_scale * w * events`` with the per-neuron
``syn_decay = exp(-dt / tau_syn)`` and ``syn_weight_scale = tau_syn (1 - exp(-dt /
tau_syn)) / dt``, after the membrane update: the membrane integrates a step with the
conductance held at its value from the step's start (as exponential Euler does), and
the events of a step act from the next one. The scale makes that held value the
step average of the exponential synapse, w exp(-s / tau_syn) for s from the start
of the step after the event: one event's conductance integral is w tau_syn exactly
(dt sum_k syn_weight_scale w syn_decay**k), so the background's mean conductance
is Campbell's w nu tau_syn and its variance w^2 nu tau_syn / 2 up to a factor
2 tanh(dt / (2 tau_syn)) / (dt / tau_syn) = 1 - 8e-6 at dt = 0.1 ms, tau_syn = 10
ms (at full weight both would be too high, by dt / (2 tau_syn) = 0.5 % and
dt / tau_syn = 1 %). Recurrent synapses (:mod:`lif_tempering.sampling.network`) scale their events the
same way, so that a PSP's conductance integral is the w tau_syn of the translation's
weight factor (:func:`~lif_tempering.neuron.theory.rectangle_psp_integral`).

The background is either constant per neuron (growth factors of per-neuron rates,
the default) or follows a schedule in time shared by all neurons of
the group: two :class:`~brian2.input.timedarray.TimedArray` objects (per-step
growth factors, see :func:`make_rate_schedules` and :func:`schedule_run_values`)
whose values are passed at run time, so one compiled binary serves every schedule
of the same length. Value ``k`` is used in the step starting at ``t = k dt``: an
exact inhomogeneous Poisson process with the piecewise-constant rate.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from lif_tempering.neuron import membrane, team
from lif_tempering.neuron.membrane import (
    INITIAL_LAST_SPIKE_S,
    MEMBRANE_STATE,
    REFRACTORY_ON_SPIKE,
    lif_membrane_function,
)
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.standalone import MULTIVERSION_CPP, SEED_VARIABLE
from lif_tempering.neuron.stp import RENEWING, STPParameters

if TYPE_CHECKING:  # Brian2 is imported where a network is built, so that runs of a built binary start without it
    from brian2 import NeuronGroup, TimedArray

#: Presynaptic state of Tsodyks-Markram synapses (:mod:`lif_tempering.sampling.network`): ``resource``,
#: ``utilization``, ``release`` and ``t_previous_spike``; ``stp_U``, ``tau_rec``, ``tau_fac`` their parameters.
TSODYKS_MARKRAM_STATE = """
resource : 1
utilization : 1
release : 1
t_previous_spike : second
stp_U : 1
tau_rec : second
tau_fac : second
"""

#: The neuron model without its background rates (completed by CONSTANT_RATES, or by schedules).
LIF_EQUATIONS = MEMBRANE_STATE + """
g_exc : siemens
g_inh : siemens
syn_decay : 1
syn_weight_scale : 1
budget_exc : 1
budget_inh : 1
C_m : farad
g_l : siemens
E_l : volt
V_th : volt
V_reset : volt
tau_ref : second
tau_syn : second
E_exc : volt
E_inh : volt
w_exc : siemens
w_inh : siemens
t_count_start : second
spike_count : integer
integrating_neurons : 1 (shared)
background_events : 1 (shared)
""" + TSODYKS_MARKRAM_STATE

#: Per-neuron constant background: per-step budget growth factors exp(rate * dt) (settable per run).
CONSTANT_RATES = """
growth_exc : 1
growth_inh : 1
"""

#: Packing base of earlier versions' per-neuron background function, which returned
#: ``BUDGET_PACKING * events + remaining budget``; the budget keeps that sum's rounding.
BUDGET_PACKING = 4.0

#: The step of a group: the membrane (:func:`~lif_tempering.neuron.membrane.lif_membrane_function`),
#: then the background (:func:`poisson_background_function`), each one call for all neurons;
#: ``integrating_neurons`` holds the number of neurons that were not refractory,
#: ``background_events`` the step's number of background events.
MEMBRANE_STEP = "integrating_neurons = lif_membrane(t, dt)\n"
CONSTANT_RATES_STEP = MEMBRANE_STEP + "background_events = poisson_background(t_in_timesteps)"
SCHEDULED_RATES_STEP = MEMBRANE_STEP + ("background_events = poisson_background(t_in_timesteps, "
                                         "growth_exc_schedule(t), growth_inh_schedule(t))")

#: Header with the x86 intrinsics of the background's x86-64-v4 version (next to ``lif_team.h``).
INTRINSICS_HEADER = team.HEADER.with_name("lif_intrinsics.h")

#: Budget value meaning "not drawn yet": the step draws it first.
UNDRAWN_BUDGET = 0.0

#: Bits of the counter of a background uniform number: time step, stream (2 * neuron + receptor), draw in the step.
COUNTER_STEP_BITS, COUNTER_STREAM_BITS, COUNTER_DRAW_BITS = 32, 22, 10
#: Largest group a background serves (two streams per neuron).
MAX_BACKGROUND_NEURONS = 2 ** (COUNTER_STREAM_BITS - 1)
#: SplitMix64's increment (odd; 2^64 / golden ratio).
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1

_BACKGROUND_UNIFORM_CPP = """
static inline uint64_t _mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// The run's key: the seed from the environment (set by the package for every run), mixed.
static uint64_t _background_key_from_seed() {
    const char* text = std::getenv("%(seed_variable)s");
    const uint64_t seed = text == NULL ? 0 : std::strtoull(text, NULL, 10);
    return _mix64(seed + %(gamma)dULL);
}
static const uint64_t _background_key = _background_key_from_seed();

// Uniform number in (0, 1] for (time step, stream = 2 * neuron + receptor, draw of the step): a
// function of the counter alone, so neither the order nor the thread that asks changes it.
// The 53-bit integer m is converted to double exactly, either through int64_t (vectorises with
// AVX-512) or as two int32_t halves (vectorises with AVX2; every partial result is exact).
template <bool halves>
static _LIF_INLINE double _background_uniform(uint64_t step, uint64_t stream, uint64_t draw) {
    const uint64_t counter = (step << %(step_shift)d) | (stream << %(draw_bits)d) | (draw & %(draw_mask)dULL);
    const uint64_t m = (_mix64(_background_key + counter * %(gamma)dULL) >> 11) + 1;
    if (halves)
        return ((double)(int32_t)(m >> 26) * 67108864.0 + (double)(int32_t)(m & 67108863ULL))
               * (1.0 / 9007199254740992.0);
    return (double)(int64_t)m * (1.0 / 9007199254740992.0);
}

""" % {"seed_variable": SEED_VARIABLE, "gamma": GOLDEN_GAMMA,
       "step_shift": COUNTER_STREAM_BITS + COUNTER_DRAW_BITS, "draw_bits": COUNTER_DRAW_BITS,
       "draw_mask": 2 ** COUNTER_DRAW_BITS - 1}


#: The per-group background step (:func:`poisson_background_function`).
_BACKGROUND_STEP_CPP = """
// The neurons first .. stop - 1 whose budget reached 1, ascending, into `listed`; returns how
// many. Without a branch per neuron (it would be mispredicted often); the x86-64-v4 version
// compresses the indices of 8 neurons at a time (AVX-512), the others list one at a time.
template <bool compress> struct _DueNeurons_%(group)s
{
    static _LIF_INLINE int32_t list(const double* __restrict budget, const int32_t first, const int32_t stop,
                                    int32_t* __restrict listed)
    {
        int32_t n_listed = 0;
        for (int32_t i = first; i < stop; i++)
        {
            listed[n_listed] = i;
            n_listed += budget[i] >= 1.0;
        }
        return n_listed;
    }
};
#if _LIF_VERSIONS
template <> struct _DueNeurons_%(group)s<true>
{
    // Writes up to 7 entries past the last one it lists, within the stop - first of `listed`.
    // Called (not inlined) from the x86-64-v4 version only.
    __attribute__((target("arch=x86-64-v4")))
    static int32_t list(const double* __restrict budget, const int32_t first, const int32_t stop,
                        int32_t* __restrict listed)
    {
        int32_t n_listed = 0, i = first;
        __m256i index = _mm256_add_epi32(_mm256_set1_epi32(first), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (; i + 8 <= stop; i += 8)
        {
            const __mmask8 due = _mm512_cmp_pd_mask(_mm512_loadu_pd(budget + i), _mm512_set1_pd(1.0), _CMP_GE_OQ);
            _mm256_storeu_si256((__m256i*)(listed + n_listed), _mm256_maskz_compress_epi32(due, index));
            n_listed += __builtin_popcount(due);
            index = _mm256_add_epi32(index, _mm256_set1_epi32(8));
        }
        for (; i < stop; i++)
        {
            listed[n_listed] = i;
            n_listed += budget[i] >= 1.0;
        }
        return n_listed;
    }
};
#endif

// Survival budgets (0 < budget <= 1; 0 means undrawn, or lost to rounding) with growth
// factors exp(rate * dt) of one receptor of neurons first .. stop - 1 of group %(group)s, one
// step: events counted into `events`, conductances decayed and incremented (arrays indexed by
// neuron; `listed` has room for stop - first neurons). Returns the events.
// Every version does the same integer operations and single IEEE operations (no fused
// multiply-add: COMPILE_ARGS), so all give the same numbers.
template <bool halves, bool compress>
static _LIF_INLINE double _background_receptor_step_%(group)s(const int64_t step, const uint64_t receptor,
    const int32_t first, const int32_t stop, double* __restrict budget, const double* __restrict growth,
    const double growth_now, double* __restrict conductance, const double* __restrict weight,
    double* __restrict events, int32_t* __restrict listed)
{
    const double* __restrict decay = brian::_array_%(group)s_syn_decay;
    const double* __restrict scale = brian::_array_%(group)s_syn_weight_scale;
    int undrawn = 0;
    for (int32_t i = first; i < stop; i++)
        undrawn |= budget[i] <= 0;
    if (undrawn)
        for (int32_t i = first; i < stop; i++)
            if (budget[i] <= 0)
                budget[i] = _background_uniform<halves>(step, 2 * (uint64_t)i + receptor, 0);
    // Growth and first event without a branch, so that GCC vectorises the loop: a uniform
    // number is drawn for every neuron and used where the budget reached 1.
    int further = 0;
    for (int32_t i = first; i < stop; i++)
    {
        const double grown = budget[i] * %(growth)s;
        const double uniform = _background_uniform<halves>(step, 2 * (uint64_t)i + receptor, 1);
        const double first = grown >= 1.0;
        const double remaining = first > 0 ? grown * uniform : grown;
        events[i] = first;
        budget[i] = remaining;
        further |= remaining >= 1.0;
    }
    // Further events of the step (at 3 kHz and dt = 0.1 ms, in ~4 %% of the streams).
    if (further)
    {
        const int32_t n_listed = _DueNeurons_%(group)s<compress>::list(budget, first, stop, listed);
        for (int32_t k = 0; k < n_listed; k++)
        {
            const int32_t i = listed[k];
            do
            {
                events[i] += 1;
                budget[i] *= _background_uniform<halves>(step, 2 * (uint64_t)i + receptor, (uint64_t)events[i]);
            }
            while (budget[i] >= 1.0);
        }
    }
    // The budget is rounded as in the packed sum PACKING * events + budget that earlier
    // versions returned (the count recovered by truncation keeps -ffast-math from
    // simplifying the sum away), so that runs reproduce theirs number for number.
    double total = 0;
    for (int32_t i = first; i < stop; i++)
    {
        const double packed = %(packing)r * events[i] + budget[i];
        const double count = (double)(int32_t)(packed * (1.0 / %(packing)r));
        budget[i] = packed - %(packing)r * count;
        conductance[i] = (conductance[i] * decay[i]) + ((scale[i] * weight[i]) * count);
        total += count;
    }
    return total;
}

#define _BACKGROUND_RECEPTOR_ARGUMENTS const int64_t step, const uint64_t receptor, const int32_t first, \
    const int32_t stop, double* budget, const double* growth, const double growth_now, double* conductance, \
    const double* weight, double* events, int32_t* listed
#define _BACKGROUND_RECEPTOR_CALL(halves, compress) _background_receptor_step_%(group)s<halves, compress>(step, \
    receptor, first, stop, budget, growth, growth_now, conductance, weight, events, listed)
#if _LIF_VERSIONS
__attribute__((target("default")))
static double _background_receptor_%(group)s(_BACKGROUND_RECEPTOR_ARGUMENTS)
{ return _BACKGROUND_RECEPTOR_CALL(false, false); }
__attribute__((target("arch=x86-64-v3")))
static double _background_receptor_%(group)s(_BACKGROUND_RECEPTOR_ARGUMENTS)
{ return _BACKGROUND_RECEPTOR_CALL(true, false); }
__attribute__((target("arch=x86-64-v4")))
static double _background_receptor_%(group)s(_BACKGROUND_RECEPTOR_ARGUMENTS)
{ return _BACKGROUND_RECEPTOR_CALL(false, true); }
#else
static double _background_receptor_%(group)s(_BACKGROUND_RECEPTOR_ARGUMENTS)
{ return _BACKGROUND_RECEPTOR_CALL(false, false); }
#endif

// The background of every neuron of group %(group)s in one time step. In a build with threads
// each member of the team (lif_team.h) does both receptors of a contiguous share of the
// neurons (groups of at least %(min_threaded)d neurons; smaller ones on the calling thread).
double _poisson_background_%(group)s(%(arguments)s)
{
    const int32_t n = %(n_neurons)d;
    static std::vector<double> events(2 * n);
    static std::vector<int32_t> listed(2 * n);
    double* const budget[2] = {brian::_array_%(group)s_budget_exc, brian::_array_%(group)s_budget_inh};
    const double* const growth[2] = {%(growth_arrays)s};
    const double growth_now[2] = {%(growth_now)s};
    double* const conductance[2] = {brian::_array_%(group)s_g_exc, brian::_array_%(group)s_g_inh};
    const double* const weight[2] = {brian::_array_%(group)s_w_exc, brian::_array_%(group)s_w_inh};
    auto share = [&](const int32_t member, const int32_t members) {
        const int32_t first = lif_team::share_start(n, member, members);
        const int32_t stop = lif_team::share_start(n, member + 1, members);
        double events_of_share = 0;
        for (int receptor = 0; receptor < 2; receptor++)
            events_of_share += _background_receptor_%(group)s(step, receptor, first, stop, budget[receptor],
                growth[receptor], growth_now[receptor], conductance[receptor], weight[receptor],
                events.data() + receptor * n, listed.data() + receptor * n + first);
        return events_of_share;
    };
    return lif_team::sum_over_members(n >= %(min_threaded)d, share);
}
"""

def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 arrays."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def background_key(seed: int) -> np.uint64:
    """The key of a run's background random numbers for ``seed`` (as the binary derives it)."""
    return _mix64(np.array([(int(seed) + GOLDEN_GAMMA) & _MASK64], dtype=np.uint64))[0]


def background_uniform(key, step, stream, draw) -> np.ndarray:
    """The C++ ``_background_uniform``: uniform numbers in (0, 1] for (step, stream, draw) (arrays broadcast)."""
    step, stream, draw = (np.asarray(x, dtype=np.uint64) for x in (step, stream, draw))
    counter = ((step << np.uint64(COUNTER_STREAM_BITS + COUNTER_DRAW_BITS)) | (stream << np.uint64(COUNTER_DRAW_BITS))
               | (draw & np.uint64(2 ** COUNTER_DRAW_BITS - 1)))
    with np.errstate(over="ignore"):
        mixed = _mix64(np.uint64(key) + counter * np.uint64(GOLDEN_GAMMA))
    return ((mixed >> np.uint64(11)).astype(np.float64) + 1.0) * (1.0 / 9007199254740992.0)


def poisson_budget_step(budget, growth, step, stream, key) -> tuple[np.ndarray, np.ndarray]:
    """One step of survival budgets with growth factors exp(rate * dt): ``(events, remaining budget)``.

    The numpy twin of the C++ background step (same event counts): ``stream`` = 2 * neuron + receptor,
    ``key`` from :func:`background_key`; budgets <= 0 are drawn first. The binary keeps the remaining
    budget rounded to the precision of ``BUDGET_PACKING * events + budget`` (:func:`background_numpy`).
    """
    stream = np.asarray(stream, dtype=np.int64).ravel()
    n = stream.size
    step = np.broadcast_to(np.asarray(step, dtype=np.int64), (n,))
    budget = np.broadcast_to(np.asarray(budget, float), (n,)).copy()
    growth = np.broadcast_to(np.asarray(growth, float), (n,))
    undrawn = budget <= 0
    budget[undrawn] = background_uniform(key, step[undrawn], stream[undrawn], 0)
    budget *= growth
    uniform = background_uniform(key, step, stream, 1)
    events = (budget >= 1.0).astype(np.int64)
    budget = np.where(events > 0, budget * uniform, budget)
    due = budget >= 1.0
    while due.any():
        events[due] += 1
        budget[due] *= background_uniform(key, step[due], stream[due], events[due])
        due = budget >= 1.0
    return events, budget


def background_numpy(group, step, growth_now=None) -> float:
    """Brian2's runtime version of the background step of ``group`` (numpy, in place); its events.

    ``growth_now``: the (excitatory, inhibitory) growth factors of this step for a group with
    scheduled rates, else None. The key is that of the seed in the binary's environment variable.
    """
    key = background_key(int(os.environ.get(SEED_VARIABLE, "0")))
    n_neurons, step = len(group), int(np.ravel(step)[0])
    value = {name: group.variables[name].get_value() for name in ("syn_decay", "syn_weight_scale")}
    total = 0.0
    for receptor, kind in enumerate(("exc", "inh")):
        budget, conductance = group.variables[f"budget_{kind}"].get_value(), group.variables[f"g_{kind}"].get_value()
        growth = group.variables[f"growth_{kind}"].get_value() if growth_now is None else growth_now[receptor]
        events, remaining = poisson_budget_step(budget, growth, step, 2 * np.arange(n_neurons) + receptor, key)
        packed = BUDGET_PACKING * events + remaining
        budget[:] = packed - BUDGET_PACKING * events
        weight = group.variables[f"w_{kind}"].get_value()
        conductance[:] = conductance * value["syn_decay"] + value["syn_weight_scale"] * weight * events
        total += float(events.sum())
    return total


def poisson_background_function(group: NeuronGroup, scheduled: bool):
    """Brian2 function ``poisson_background(step)`` (``scheduled``: ``(step, growth_exc, growth_inh)``).

    One step of the background of every neuron of ``group``: survival budgets, event counts,
    conductance decay and increments (C++; numpy for Brian2's runtime device,
    :func:`background_numpy`). Returns the step's number of events.
    """
    from brian2 import Function

    def runtime_background(step, *growth_now):
        return background_numpy(group, step, [float(np.ravel(g)[0]) for g in growth_now] if scheduled else None)

    group_name, n_neurons = group.name, len(group)
    per_neuron = {"arguments": "int64_t step", "growth": "growth[i]", "growth_now": "0.0, 0.0",
                  "growth_arrays": f"brian::_array_{group_name}_growth_exc, brian::_array_{group_name}_growth_inh"}
    shared = {"arguments": "int64_t step, double growth_exc, double growth_inh", "growth": "growth_now",
              "growth_now": "growth_exc, growth_inh", "growth_arrays": "NULL, NULL"}
    code = MULTIVERSION_CPP + _BACKGROUND_UNIFORM_CPP + _BACKGROUND_STEP_CPP % {
        "group": group_name, "n_neurons": n_neurons, "packing": BUDGET_PACKING,
        "min_threaded": membrane.MIN_THREADED_NEURONS, **(shared if scheduled else per_neuron)}
    n_arguments = 3 if scheduled else 1
    function = Function(runtime_background, arg_units=[1] * n_arguments, return_unit=1,
                        arg_types=["integer"] + ["float"] * (n_arguments - 1), return_type="float",
                        stateless=False)
    kwds = team.compiler_kwds()
    kwds["headers"] = kwds["headers"] + [f'"{INTRINSICS_HEADER.name}"']
    function.implementations.add_implementation("cpp", code=code, name=f"_poisson_background_{group_name}",
                                                compiler_kwds=kwds)
    return function


#: Update of the presynaptic Tsodyks-Markram state (:data:`TSODYKS_MARKRAM_STATE`,
#: :mod:`lif_tempering.neuron.stp`) on each spike as NEST's ``tsodyks2_synapse``: the resource
#: recovers toward 1 with tau_rec since the previous spike, the utilisation decays with tau_fac
#: (to 0 at once for tau_fac = 0) and is incremented by U (1 - u), then ``release = u * resource``
#: leaves the resource.
TSODYKS_MARKRAM_ON_SPIKE = """
resource = 1 - (1 - resource) * exp(-(t - t_previous_spike) / tau_rec)
facilitation = int(tau_fac > 0 * ms) * exp(-(t - t_previous_spike) / (tau_fac + int(tau_fac <= 0 * ms) * ms))
utilization = stp_U + utilization * (1 - stp_U) * facilitation
release = utilization * resource
resource = resource - release
t_previous_spike = t
"""

#: Reset, run right after the threshold (before the synapses, which read ``release``).
RESET = """
v = V_reset
spike_count += int(t >= t_count_start)
""" + REFRACTORY_ON_SPIKE + TSODYKS_MARKRAM_ON_SPIKE

#: V_th used to switch spiking off: far above any reachable membrane potential (mV).
NO_SPIKING_THRESHOLD_MV = 1.0e6


def make_rate_schedules(n_steps: int, dt_ms: float, name: str = "lif") -> tuple[TimedArray, TimedArray]:
    """Excitatory and inhibitory background schedules (TimedArrays of per-step growth factors).

    ``n_steps`` values at spacing ``dt_ms`` (use the simulation dt, so that value ``k``
    belongs to step ``k``); beyond the last value the last one holds. They hold
    ones (no background) until set: pass the values of each run from
    :func:`schedule_run_values` in ``run_args``.
    """
    from brian2 import TimedArray, ms

    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    ones = np.ones(int(n_steps))
    return (TimedArray(ones, dt=dt_ms * ms, name=f"{name}_growth_exc_schedule"),
            TimedArray(ones, dt=dt_ms * ms, name=f"{name}_growth_inh_schedule"))


def budget_growth(rate_hz, dt_ms: float) -> np.ndarray:
    """Per-step growth factor exp(rate * dt) of the background's survival budget (rate in Hz)."""
    rate_hz = np.asarray(rate_hz, dtype=float)
    if np.any(rate_hz < 0):
        raise ValueError("background rates must be >= 0 Hz")
    return np.exp(rate_hz * dt_ms * 1e-3)


def schedule_run_values(rate_schedules: tuple[TimedArray, TimedArray], rate_exc_hz, rate_inh_hz,
                        dt_ms: float) -> dict:
    """``run_args`` entries setting the schedules to per-step rates (Hz, value ``k`` for step ``k``)."""
    return {rate_schedules[0]: budget_growth(rate_exc_hz, dt_ms),
            rate_schedules[1]: budget_growth(rate_inh_hz, dt_ms)}


def make_lif_group(n_neurons: int, name: str = "lif",
                   rate_schedules: tuple[TimedArray, TimedArray] | None = None) -> NeuronGroup:
    """A group of ``n_neurons`` LIF neurons with their own Poisson background.

    Without ``rate_schedules`` the background is constant per neuron (growth factors
    ``growth_exc``, ``growth_inh``); with the (excitatory, inhibitory) TimedArrays of
    :func:`make_rate_schedules` the growth factors of a step are the schedules' values
    at that step (every neuron draws its own events from the common rate).
    """
    from brian2 import NeuronGroup, second

    if not 1 <= n_neurons <= MAX_BACKGROUND_NEURONS:
        raise ValueError(f"n_neurons must lie in 1..{MAX_BACKGROUND_NEURONS}, got {n_neurons}")
    namespace = {}
    if rate_schedules is not None:
        namespace.update(growth_exc_schedule=rate_schedules[0], growth_inh_schedule=rate_schedules[1])
    group = NeuronGroup(
        n_neurons,
        LIF_EQUATIONS + (CONSTANT_RATES if rate_schedules is None else ""),
        threshold="v > V_th and integrating",
        reset=RESET,
        namespace=namespace,
        name=name,
    )
    group.lastspike = INITIAL_LAST_SPIKE_S * second
    group.integrating = True
    group.namespace["lif_membrane"] = lif_membrane_function(group)
    group.namespace["poisson_background"] = poisson_background_function(group, scheduled=rate_schedules is not None)
    group.run_regularly(CONSTANT_RATES_STEP if rate_schedules is None else SCHEDULED_RATES_STEP,
                        when="groups", order=1, name=f"{name}_step")
    run_reset_before_synapses(group)
    return group


def run_reset_before_synapses(group) -> None:
    """Schedule the group's spike reset right after its threshold, before the synapses.

    The reset sets ``release`` (:data:`TSODYKS_MARKRAM_ON_SPIKE`), which Tsodyks-Markram synapses
    read in the same step; moving the membrane reset before the synaptic events
    changes nothing else, because synapses act on conductances only.
    """
    resetter = group.resetter["spike"]
    resetter.when, resetter.order = "thresholds", 1


def synaptic_weight_scale(tau_syn_ms, dt_ms: float) -> np.ndarray:
    """Factor tau_syn (1 - exp(-dt / tau_syn)) / dt (1) on a conductance increment held for a step.

    The conductance the membrane sees in the k-th step after an event (k = 0, 1, ...) is
    then the step average of w exp(-s / tau_syn), s from the start of step 0.
    """
    x = dt_ms / np.asarray(tau_syn_ms, dtype=float)
    return -np.expm1(-x) / x


#: Brian2 base unit of each per-neuron variable of :func:`per_neuron_si_values` (``1``: dimensionless).
VARIABLE_UNITS = {
    "C_m": "farad", "g_l": "siemens", "E_l": "volt", "V_th": "volt", "V_reset": "volt", "tau_ref": "second",
    "tau_syn": "second", "syn_decay": "1", "syn_weight_scale": "1", "budget_exc": "1", "budget_inh": "1",
    "E_exc": "volt", "E_inh": "volt", "growth_exc": "1", "growth_inh": "1", "w_exc": "siemens", "w_inh": "siemens",
    "t_count_start": "second", "resource": "1", "utilization": "1", "release": "1", "t_previous_spike": "second",
    "stp_U": "1", "tau_rec": "second", "tau_fac": "second", "v": "volt",
}


def per_neuron_si_values(p: NeuronParameters, n_neurons: int, E_l_mV=None, rate_exc_hz=None,
                         rate_inh_hz=None, V_th_mV=None, count_start_ms: float = 0.0, *, dt_ms: float,
                         stp: STPParameters = RENEWING) -> dict:
    """Per-neuron values of every model variable as float64 arrays in SI units (:data:`VARIABLE_UNITS`).

    Arrays or scalars given for ``E_l_mV``, ``rate_exc_hz``, ``rate_inh_hz`` (Hz,
    stored as growth factors) and ``V_th_mV`` override the values of ``p``; the membrane starts at E_l, the
    conductances at zero, the background budgets undrawn, the presynaptic Tsodyks-Markram state
    (parameters ``stp``, default the renewing synapse) rested: resource 1, utilisation 0.
    """
    def full(value, default):
        value = default if value is None else value
        return np.broadcast_to(np.asarray(value, float), (n_neurons,)).copy()

    nano, micro, milli = 1e-9, 1e-6, 1e-3
    E_l = full(E_l_mV, p.E_l_mV)
    return {
        "C_m": full(None, p.C_m_nF) * nano,
        "g_l": full(None, p.g_l_uS) * micro,
        "E_l": E_l * milli,
        "V_th": full(V_th_mV, p.V_th_mV) * milli,
        "V_reset": full(None, p.V_reset_mV) * milli,
        "tau_ref": full(None, p.tau_ref_ms) * milli,
        "tau_syn": full(None, p.tau_syn_ms) * milli,
        "syn_decay": np.exp(-dt_ms / full(None, p.tau_syn_ms)),
        "syn_weight_scale": synaptic_weight_scale(full(None, p.tau_syn_ms), dt_ms),
        "budget_exc": full(UNDRAWN_BUDGET, None),
        "budget_inh": full(UNDRAWN_BUDGET, None),
        "E_exc": full(None, p.E_exc_mV) * milli,
        "E_inh": full(None, p.E_inh_mV) * milli,
        "growth_exc": budget_growth(full(rate_exc_hz, p.rate_exc_hz), dt_ms),
        "growth_inh": budget_growth(full(rate_inh_hz, p.rate_inh_hz), dt_ms),
        "w_exc": full(None, p.w_exc_uS) * micro,
        "w_inh": full(None, p.w_inh_uS) * micro,
        "t_count_start": full(None, count_start_ms) * milli,
        "resource": full(1.0, None),
        "utilization": full(0.0, None),
        "release": full(0.0, None),
        "t_previous_spike": full(0.0, None) * milli,
        "stp_U": full(stp.U, None),
        "tau_rec": full(stp.tau_rec_or(p.tau_syn_ms), None) * milli,
        "tau_fac": full(stp.tau_fac_ms, None) * milli,
        "v": E_l * milli,
    }


def per_neuron_values(p: NeuronParameters, n_neurons: int, E_l_mV=None, rate_exc_hz=None,
                      rate_inh_hz=None, V_th_mV=None, count_start_ms: float = 0.0, *, dt_ms: float,
                      stp: STPParameters = RENEWING) -> dict:
    """:func:`per_neuron_si_values` as Brian2 quantities (the same numbers, for a group's variables)."""
    import brian2

    values = per_neuron_si_values(p, n_neurons, E_l_mV, rate_exc_hz, rate_inh_hz, V_th_mV, count_start_ms,
                                  dt_ms=dt_ms, stp=stp)
    return {name: value if VARIABLE_UNITS[name] == "1" else value * getattr(brian2, VARIABLE_UNITS[name])
            for name, value in values.items()}

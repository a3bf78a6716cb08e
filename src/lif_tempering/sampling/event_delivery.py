"""Synaptic events of a sampling network, delivered by one C++ function per time step.

Brian2's synaptic pathway copies, in every step, the index of every synapse of every
spiking neuron into its spike queue and then, per event, reads the synapse's pre- and
postsynaptic index, its weight and receptor flag, the presynaptic ``release`` and the
target's ``syn_weight_scale``, and adds to both of the target's conductances (one of the
two increments is zero). In the 784 + 500 RBM that is ~40 million events per simulated
second, each with nine loads and two read-modify-writes.

The networks of :mod:`lif_tempering.sampling.network` deliver their events instead with
:func:`make_event_store`: a Brian2 ``Synapses`` object without a pathway, whose synapses
are sorted by presynaptic neuron and hold, per run,

- ``synapse_target``: the index of the conductance the synapse drives, the postsynaptic
  neuron ``j`` for the excitatory receptor and ``n_neurons + j`` for the inhibitory one;
- ``synapse_weight``: the weight times the target's ``syn_weight_scale`` (siemens),

with each presynaptic neuron's synapses ordered by target, so its excitatory synapses
precede its inhibitory ones (the store's slots of a neuron are filled in that order per
run, :func:`event_store_values`),

and a ``run_regularly`` operation in Brian2's ``synapses`` slot (after the threshold and
the reset, which sets ``release``) that calls ``deliver_spikes``: for each neuron that
spiked in this step, in index order, it adds ``synapse_weight * release`` (renewing
synapses; the weight alone for exponential ones) to one conductance per synapse, in one
loop over the neuron's excitatory block and one over its inhibitory block. An event is
then two loads and one read-modify-write, without a branch or a table lookup. A neuron with
at least :data:`DENSE_MIN_SYNAPSES` synapses that reach at least half of a contiguous range of
postsynaptic neurons (an RBM's layers, a fully connected network) keeps its weights instead as
one dense row over that range, excitatory weights positive and inhibitory ones negative (built
at the first step of a run), and delivers a spike in one vectorised pass over the row; the
conductances it has no synapse of a receptor to receive ``+ 0``, which leaves them as they are,
so both forms give the same numbers. The row streams half the bytes of the sparse blocks
(8 instead of 12 per synapse): the delivery is limited by reading the weights from memory.

In a build with threads (:mod:`lif_tempering.neuron.team`; networks of at least
:data:`~lif_tempering.neuron.membrane.MIN_THREADED_NEURONS` neurons) the postsynaptic
neurons are split into one contiguous range per thread, the thread's share of the membrane
step and the background; each thread goes through all spikes of the step and adds the
events to its range's conductances (each neuron's block, sorted by target, splits into
contiguous pieces, found once per run; a dense row into one piece per range). Every
conductance receives its increments in the single-threaded order, so the numbers do not
depend on the number of threads (tested).

The same increments as the pathway (:func:`~lif_tempering.sampling.network.make_synapses`)
in the same order (spiking neurons in index order, at most one synapse per pair; the zero
increment to the other conductance changes nothing), up to rounding: the store computes
``(scale * weight) * release`` with the first product taken in numpy, so its numbers do not
depend on the compiler; the pathway's compiled code may reorder the product under
``-ffast-math`` (GCC 12 computes ``(scale * release) * weight``), which moves about one
increment in a hundred by one unit in the last place. The tests compare the conductance
traces of every step to that precision, and the spike trains exactly. The delay is
Brian2's default: the events of a step's spikes act from the next step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lif_tempering.neuron import membrane, team
from lif_tempering.neuron.standalone import MULTIVERSION_CPP

if TYPE_CHECKING:
    from brian2 import NeuronGroup, Synapses

#: Brian2 model of the event store: per-synapse target conductance and scaled weight, and the
#: assignment target of the delivery call (Brian2 calls a function only within a statement),
#: which holds the number of events of the last step.
EVENT_STORE_MODEL = """
synapse_target : integer
synapse_weight : siemens
delivered_events : 1 (shared)
"""

#: Fewest synapses of a neuron whose weights are kept as dense rows (see ``_dense_rows`` below).
DENSE_MIN_SYNAPSES = 16

_DELIVERY_CPP = """
#include <algorithm>

// The store's synapses are sorted by presynaptic neuron and, within a neuron, by target, so
// each neuron's excitatory synapses (targets j < n_neurons) precede its inhibitory ones
// (n_neurons + j). The targets are split into `parts` ranges of postsynaptic neurons, one per
// member of the team (lif_team.h; one part without threads or for networks of fewer than
// %(min_threaded)d neurons): the member's share of the membrane step and the background, so
// that each conductance stays in the cache of one core. Synapses cut[c] .. cut[c + 1] - 1 of
// neuron i, with cut = &_cuts[i * (2 parts + 1)], are its excitatory ones to part c (c < parts)
// and its inhibitory ones to part c - parts (c >= parts). Set at the first call of a run (the
// targets are run values).
static std::vector<int32_t> _cuts_%(store)s;
static int32_t _parts_%(store)s = 0;
static std::vector<int32_t> _bound_%(store)s;
// Dense rows (one synapse per pair, as event_store_values ensures): a neuron whose synapses reach
// at least half of the postsynaptic neurons
// low .. low + width - 1 (RBM layers, fully connected networks) keeps its weights as one row of
// that width from _dense[_dense_offset[i]]: the weight of an excitatory synapse, minus that of
// an inhibitory one, zero where it has no synapse; _dense_offset[i] is -1 for the others (and
// for a neuron with a negative weight, which the sign could not tell apart). Half the bytes of
// two rows: the delivery streams them from memory.
static std::vector<double> _dense_%(store)s;
static std::vector<int64_t> _dense_offset_%(store)s;
static std::vector<int32_t> _dense_low_%(store)s, _dense_width_%(store)s;

static void _dense_rows_%(store)s(const int32_t n_neurons, const std::vector<int64_t>& first, const int32_t* target,
                                 const double* weight)
{
    _dense_offset_%(store)s.assign(n_neurons, -1);
    _dense_low_%(store)s.assign(n_neurons, 0);
    _dense_width_%(store)s.assign(n_neurons, 0);
    int64_t size_of_rows = 0;
    for (int pass = 0; pass < 2; pass++)  // sizes, then values
    {
        if (pass == 1)
            _dense_%(store)s.assign(size_of_rows, 0.0);
        int64_t offset = 0;
        for (int32_t i = 0; i < n_neurons; i++)
        {
            const int64_t size = first[i + 1] - first[i];
            if (size < %(dense_min_synapses)d)
                continue;
            int32_t low = n_neurons, high = -1;
            bool negative = false;
            for (int64_t k = first[i]; k < first[i + 1]; k++)
            {
                low = std::min(low, target[k] %% n_neurons);
                high = std::max(high, target[k] %% n_neurons);
                negative |= weight[k] < 0;
            }
            const int32_t width = high - low + 1;
            if (2 * size < width || negative)
                continue;
            if (pass == 1)
            {
                _dense_offset_%(store)s[i] = offset;
                _dense_low_%(store)s[i] = low;
                _dense_width_%(store)s[i] = width;
                for (int64_t k = first[i]; k < first[i + 1]; k++)
                    _dense_%(store)s[offset + target[k] %% n_neurons - low] = target[k] < n_neurons ? weight[k]
                                                                                            : -weight[k];
            }
            offset += width;
        }
        size_of_rows = offset;
    }
}

// g_exc[k] += w[k] * release where w[k] > 0, g_inh[k] += -w[k] * release where w[k] < 0, and
// + 0 elsewhere, for k < n, vectorised (the same single multiply and add per element as the
// sparse path, in every version: COMPILE_ARGS has no fused multiply-add).
static _LIF_INLINE void _add_row_%(store)s(double* __restrict g_exc, double* __restrict g_inh,
                                          const double* __restrict w, const int32_t n, const double release)
{
    for (int32_t k = 0; k < n; k++)
    {
        g_exc[k] += (w[k] > 0 ? w[k] : 0.0) * release;
        g_inh[k] += (w[k] < 0 ? -w[k] : 0.0) * release;
    }
}
#define _ADD_ROW_ARGUMENTS double* g_exc, double* g_inh, const double* w, const int32_t n, const double release
#if _LIF_VERSIONS
__attribute__((target("default")))
static void _add_row_versions_%(store)s(_ADD_ROW_ARGUMENTS) { _add_row_%(store)s(g_exc, g_inh, w, n, release); }
__attribute__((target("arch=x86-64-v3")))
static void _add_row_versions_%(store)s(_ADD_ROW_ARGUMENTS) { _add_row_%(store)s(g_exc, g_inh, w, n, release); }
__attribute__((target("arch=x86-64-v4")))
static void _add_row_versions_%(store)s(_ADD_ROW_ARGUMENTS) { _add_row_%(store)s(g_exc, g_inh, w, n, release); }
#else
static void _add_row_versions_%(store)s(_ADD_ROW_ARGUMENTS) { _add_row_%(store)s(g_exc, g_inh, w, n, release); }
#endif

static void _synapse_parts_%(store)s(const int32_t n_neurons)
{
    const std::vector<int32_t>& sources = brian::_dynamic_array_%(store)s__synaptic_pre;
    const int32_t* target = brian::_dynamic_array_%(store)s_synapse_target.data();
    const size_t n_synapses = sources.size();
    const int32_t parts = n_neurons >= %(min_threaded)d ? LIF_THREADS : 1;
    std::vector<int64_t> first(n_neurons + 1, 0);
    for (size_t k = 0; k < n_synapses; k++)
    {
        if (k > 0 && (sources[k] < sources[k - 1] || (sources[k] == sources[k - 1] && target[k] <= target[k - 1])))
        {
            std::cerr << "%(store)s: synapses are not sorted by presynaptic neuron and target" << std::endl;
            std::exit(3);
        }
        first[sources[k] + 1]++;
    }
    for (int32_t i = 0; i < n_neurons; i++)
        first[i + 1] += first[i];
    std::vector<int32_t>& bound = _bound_%(store)s;
    bound.assign(parts + 1, 0);
    for (int32_t part = 0; part <= parts; part++)
        bound[part] = lif_team::share_start(n_neurons, part, parts);
    std::vector<int32_t>& cuts = _cuts_%(store)s;
    cuts.assign((size_t)n_neurons * (2 * parts + 1), 0);
    for (int32_t i = 0; i < n_neurons; i++)
    {
        const int32_t* block = target + first[i];
        const int32_t size = (int32_t)(first[i + 1] - first[i]);
        for (int32_t c = 0; c <= 2 * parts; c++)
        {
            const int32_t value = c <= parts ? bound[c] : n_neurons + bound[c - parts];
            cuts[(size_t)i * (2 * parts + 1) + c] = (int32_t)first[i]
                + (int32_t)(std::lower_bound(block, block + size, value) - block);
        }
    }
    _dense_rows_%(store)s(n_neurons, first, target, brian::_dynamic_array_%(store)s_synapse_weight.data());
    _parts_%(store)s = parts;
}

// Adds each spiking neuron's events to one conductance per synapse: g_exc[j] for targets
// j < n_neurons, g_inh[j - n_neurons] for the others (a loop over each receptor's block, so no
// branch and no lookup per event; for a neuron with a dense row, a vectorised pass over it,
// which adds 0 to the conductances it has no synapse of the receptor to and so leaves them as
// they are: conductances are never -0). With threads, each member adds the events to its part's
// postsynaptic neurons, in the order of the spikes: every conductance receives its increments
// in the same order as on one thread. Returns the number of events. The time step is not used:
// it is an argument so that the call reads as a per-step operation.
double _deliver_spikes_%(store)s(int64_t step)
{
    const int32_t n_neurons = %(n_neurons)d;
    if (_parts_%(store)s == 0)
        _synapse_parts_%(store)s(n_neurons);
    const int32_t parts = _parts_%(store)s;
    const int32_t* __restrict cuts = _cuts_%(store)s.data();
    const int32_t* __restrict spikes = brian::_array_%(group)s__spikespace;
    const int32_t n_spikes = spikes[n_neurons];
    const int32_t* __restrict target = brian::_dynamic_array_%(store)s_synapse_target.data();
    const double* __restrict weight = brian::_dynamic_array_%(store)s_synapse_weight.data();
    double* __restrict g_exc = brian::_array_%(group)s_g_exc;
    double* __restrict g_inh = brian::_array_%(group)s_g_inh;
    const int32_t* bound = _bound_%(store)s.data();
    const double* dense = _dense_%(store)s.data();
    const int64_t* dense_offset = _dense_offset_%(store)s.data();
    const int32_t* dense_low = _dense_low_%(store)s.data();
    const int32_t* dense_width = _dense_width_%(store)s.data();
    auto share = [&](const int32_t part, const int32_t) {
        for (int32_t s = 0; s < n_spikes; s++)
        {
            const int32_t i = spikes[s];
            const double release = %(release)s;
            if (dense_offset[i] >= 0)
            {
                const int32_t low = dense_low[i], width = dense_width[i];
                const int32_t start = std::max(low, bound[part]), stop = std::min(low + width, bound[part + 1]);
                if (start < stop)
                    _add_row_versions_%(store)s(g_exc + start, g_inh + start, dense + dense_offset[i] + (start - low),
                                                stop - start, release);
                continue;
            }
            const int32_t* cut = cuts + (size_t)i * (2 * parts + 1);
            for (int32_t k = cut[part]; k < cut[part + 1]; k++)
                g_exc[target[k]] += weight[k] * release;
            for (int32_t k = cut[parts + part]; k < cut[parts + part + 1]; k++)
                g_inh[target[k] - n_neurons] += weight[k] * release;
        }
    };
    if (n_spikes > 0)
        lif_team::for_members(parts > 1, share);
    double events = 0;
    for (int32_t s = 0; s < n_spikes; s++)
    {
        const int32_t* cut = cuts + (size_t)spikes[s] * (2 * parts + 1);
        events += cut[2 * parts] - cut[0];
    }
    return events;
}
"""

#: The presynaptic factor of each synapse type's increment.
_RELEASE = {"renewing": "brian::_array_%(group)s_release[i]", "exponential": "1.0"}


def _runtime_delivery(step):
    raise NotImplementedError("the event store delivers spikes only in Brian2's cpp_standalone device")


def delivery_function(group_name: str, store_name: str, n_neurons: int, synapse: str):
    """Brian2 function ``deliver_spikes(step)`` of a store on a group (C++ only)."""
    from brian2 import Function

    code = MULTIVERSION_CPP + _DELIVERY_CPP % {"store": store_name, "group": group_name, "n_neurons": n_neurons,
                                               "dense_min_synapses": DENSE_MIN_SYNAPSES,
                                               "min_threaded": membrane.MIN_THREADED_NEURONS,
                                               "release": _RELEASE[synapse] % {"group": group_name}}
    function = Function(_runtime_delivery, arg_units=[1], return_unit=1, arg_types=["integer"],
                        return_type="float", stateless=False)
    function.implementations.add_implementation("cpp", code=code, name=f"_deliver_spikes_{store_name}",
                                                compiler_kwds=team.compiler_kwds())
    return function


def make_event_store(group: NeuronGroup, pre, post, synapse: str, name: str) -> Synapses:
    """The event store of ``group``'s recurrent synapses ``pre[k] -> post[k]`` (sorted by ``pre``).

    ``synapse`` is ``renewing`` (increments scaled by the source's ``release``) or
    ``exponential``. Set ``synapse_target`` and ``synapse_weight`` per run with
    :func:`event_store_values`.
    """
    from brian2 import Synapses

    pre = np.asarray(pre)
    if np.any(np.diff(pre) < 0):
        raise ValueError("the event store needs synapses sorted by presynaptic neuron")
    store = Synapses(group, group, model=EVENT_STORE_MODEL, name=name,
                     namespace={"deliver_spikes": delivery_function(group.name, name, len(group), synapse)})
    store.connect(i=pre, j=post)
    store.run_regularly("delivered_events = deliver_spikes(t_in_timesteps)", when="synapses",
                        name=f"{name}_delivery")
    return store


def event_store_values(pre, post, n_neurons: int, weight_S, receptor_exc, syn_weight_scale) -> dict:
    """Per-run ``synapse_target`` (int32) and ``synapse_weight`` (S) of an event store.

    ``pre``, ``post`` as the store was built (sorted by ``pre``), ``weight_S`` and ``receptor_exc`` per
    synapse (as :func:`~lif_tempering.sampling.network.synapse_values` gives them, weights in siemens),
    ``syn_weight_scale`` per neuron. Within each presynaptic neuron the values are ordered by target
    (excitatory first), as the delivery expects: which slot of a neuron's block holds which synapse
    does not matter, because each target receives at most one increment per spike.

    A pair of neurons with more than one synapse (e.g. an excitatory and an inhibitory one) is
    refused, naming the pair: a dense row holds one signed weight per target, so the delivery
    would keep only one of them.
    """
    pre, post = np.asarray(pre, dtype=np.int64), np.asarray(post, dtype=np.int64)
    pairs, counts = np.unique(pre * n_neurons + post, return_counts=True)
    if np.any(counts > 1):
        repeated = pairs[counts > 1]
        listed = ", ".join(f"{pair // n_neurons} -> {pair % n_neurons}" for pair in repeated[:5])
        raise ValueError(f"{repeated.size} pairs of neurons (pre -> post) have more than one synapse: {listed}. The "
                         "event store delivers one synapse per pair (its dense rows hold one signed weight per "
                         "target, so an excitatory and an inhibitory synapse of a pair would not both act): give "
                         "each pair one synapse, of one receptor")
    inhibitory = np.asarray(receptor_exc) == 0
    target = post + n_neurons * inhibitory
    if np.all((np.diff(pre) > 0) | (np.diff(post) > 0)):  # sorted by (pre, post): order each block by receptor
        order = np.lexsort((inhibitory, pre))
    else:
        order = np.lexsort((target, pre))
    target = target[order]
    weight = (np.asarray(syn_weight_scale, dtype=np.float64)[post] * np.asarray(weight_S, dtype=np.float64))[order]
    return {"synapse_target": target.astype(np.int32), "synapse_weight": weight}

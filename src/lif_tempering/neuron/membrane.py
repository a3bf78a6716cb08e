"""The membrane step of a group of conductance-based LIF neurons: one C++ function per time step.

Brian2 integrates ``dv/dt = (g_l (E_l - v) + g_exc (E_exc - v) + g_inh (E_inh - v)) / C_m``
(frozen while refractory) with exponential Euler: the conductances are held for the step,
so with the rate ``a = -(g_l + g_exc + g_inh) / C_m`` and the fixed point
``v_inf = -(g_l E_l + g_exc E_exc + g_inh E_inh) / (C_m a)``,
``v <- v_inf + (v - v_inf) exp(a dt)``. Its generated loop over the neurons calls ``exp``
and branches on the refractory state in the loop body, so GCC does not vectorise it.

:func:`lif_membrane_function` does the same step in three passes over the group, each without
a branch: the refractory state (Brian2's rule: ``integrating``, i.e. not refractory, when the
time steps since the last spike, ``int((t - lastspike + 1e-3 dt) / dt)``, reach those of
``tau_ref``), ``v_inf`` and ``a dt`` of every neuron; ``exp(a dt)`` of every neuron; and the
update of the neurons that integrate. They are compiled for baseline x86-64, x86-64-v3 and
x86-64-v4 like the background step (:mod:`lif_tempering.neuron.model`), with the expressions
Brian2 generates for the equation, so every version gives Brian2's numbers (tested against
Brian2's own state updater). Comparing the integer steps as ``x >= trunc(y)`` instead of
``int(x) >= int(y)`` is exact for ``x >= 0`` and needs no 64-bit integer conversion, which
AVX2 lacks.

The ``exp`` pass is the C library's ``exp`` bit for bit, in a loop that GCC vectorises
(:func:`exp_cpp`; about three times faster per value than glibc's scalar function): glibc
(2.28 on) computes ``exp(x) = 2**(k/128) exp(r)`` with ``x = k ln2 / 128 + r``, ``2**(k/128)``
from a table (:func:`exp_table`, here computed from its definition) and ``exp(r) - 1`` from a
polynomial (:data:`EXP_CONSTANTS`), with fused multiply-adds on CPUs with FMA and AVX2 and
without them elsewhere; the x86-64-v3 and v4 versions use them, the baseline version does not,
as glibc picks its own version on the same CPU (tested against the formula in exact rationals
and against the C library). Arguments outside ``2**-54 <= |x| < 512`` (no membrane's ``a dt``)
go to the C library's ``exp``; with other compilers or C libraries the pass calls it for
every neuron.

In a build with threads each member of the team (:mod:`lif_tempering.neuron.team`) updates a
contiguous share of the neurons (groups of at least :data:`MIN_THREADED_NEURONS`; for smaller
ones handing out the work costs more than it saves). Neurons are independent of each other, so
the numbers do not depend on the threads.

Brian2's runtime device runs the numpy version (:func:`membrane_numpy`).
"""

from __future__ import annotations

import decimal
from typing import TYPE_CHECKING

import numpy as np

from lif_tempering.neuron import team
from lif_tempering.neuron.standalone import MULTIVERSION_CPP

if TYPE_CHECKING:
    from brian2 import NeuronGroup

#: Smallest group whose per-step work is split between the threads of a build with threads.
MIN_THREADED_NEURONS = 512

#: Initial ``lastspike`` (s): long before the start, so no neuron starts refractory (Brian2's value).
INITIAL_LAST_SPIKE_S = -1.0e4

#: Statements of the spike reset that maintain the refractory state (the threshold reads ``integrating``).
REFRACTORY_ON_SPIKE = """
lastspike = t
integrating = False
"""

#: The group's membrane state: potential, time of the last spike and refractory flag.
MEMBRANE_STATE = """
v : volt
lastspike : second
integrating : boolean
"""

#: The constants of glibc's ``exp`` (version 2.28 on; the algorithm of Szabolcs Nagy's ARM
#: optimized-routines): ``N / ln 2`` for ``N = 128`` table entries, ``ln 2 / N`` split into a
#: high part with trailing zeros and the rest, the round-to-integer shift ``1.5 * 2**52`` and the
#: coefficients ``C2 .. C5`` of its polynomial for ``exp(r) - 1`` on ``|r| <= ln 2 / 256``.
EXP_CONSTANTS = {name: float.fromhex(value) for name, value in {
    "inv_ln2_n": "0x1.71547652b82fep7", "neg_ln2_hi_n": "-0x1.62e42fefa0000p-8",
    "neg_ln2_lo_n": "-0x1.cf79abc9e3b3ap-47", "shift": "0x1.8p52", "c2": "0x1.ffffffffffdbdp-2",
    "c3": "0x1.555555555543cp-3", "c4": "0x1.55555cf172b91p-5", "c5": "0x1.1111167a4d017p-7"}.items()}

#: Entries of :func:`exp_table`: ``2**(k / 128)`` for ``k = 0 .. 127``.
EXP_TABLE_SIZE = 128


def exp_table() -> np.ndarray:
    """glibc's ``exp`` table (uint64, 2 x 128): for ``k = 0 .. 127`` the bits of the relative
    rounding error ``tail_k`` of ``scale_k``, the double nearest ``2**(k / 128)``, and the bits of
    ``scale_k`` minus ``k << 45`` (the exponent that ``k`` adds back), computed with 60 digits."""
    context = decimal.Context(prec=60)
    entries = []
    for k in range(EXP_TABLE_SIZE):
        exact = context.power(decimal.Decimal(2), context.divide(decimal.Decimal(k), decimal.Decimal(EXP_TABLE_SIZE)))
        scale = float(exact)
        tail = float(context.divide(context.subtract(exact, decimal.Decimal(scale)), decimal.Decimal(scale)))
        scale_bits, tail_bits = np.array([scale, tail]).view(np.uint64)
        entries += [int(tail_bits), (int(scale_bits) - (k << 45)) % 2**64]
    return np.array(entries, dtype=np.uint64)


_EXP_CPP = """
#if _LIF_VERSIONS && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 28)
#define _LIF_OWN_EXP 1
#endif
#endif
#ifndef _LIF_OWN_EXP
#define _LIF_OWN_EXP 0
#endif

#if _LIF_OWN_EXP
// out[i] = exp(in[i]) bit for bit as glibc computes it (lif_tempering.neuron.membrane), in a loop
// that GCC vectorises: exp(x) = 2^(k/128) exp(r) with x = k ln2/128 + r, 2^(k/128) from the
// table, exp(r) - 1 from the polynomial. FUSED: with glibc's fused multiply-adds (its version for
// CPUs with FMA and AVX2), else with separate products and sums (its version for the others).
// Arguments outside [2^-54, 512) in magnitude (never a membrane's a dt) go to the C library's exp.
// Compiled without -ffast-math, which would fold (z + shift) - shift into z.
#pragma GCC push_options
#pragma GCC optimize ("no-fast-math", "fp-contract=off")
static const uint64_t _lif_exp_table_%(group)s[%(n_table)d] = {%(table)s};

template <bool FUSED>
static inline __attribute__((always_inline)) void _lif_exp_loop_%(group)s(const double* __restrict in,
    double* __restrict out, const int32_t n)
{
#define _LIF_MADD(a, b, c) (FUSED ? __builtin_fma((a), (b), (c)) : (a) * (b) + (c))
    uint64_t outside = 0;
    for (int32_t i = 0; i < n; i++)
    {
        const double x = in[i];
        uint64_t x_bits;
        __builtin_memcpy(&x_bits, &x, 8);
        outside |= (uint64_t)(((x_bits >> 52) & 0x7ff) - 0x3c9) >= 0x3f;
        double k = _LIF_MADD(x, %(inv_ln2_n)r, %(shift)r);
        uint64_t k_bits;
        __builtin_memcpy(&k_bits, &k, 8);
        k -= %(shift)r;
        const double r = _LIF_MADD(k, %(neg_ln2_lo_n)r, _LIF_MADD(k, %(neg_ln2_hi_n)r, x));
        const uint64_t entry = 2 * (k_bits %% %(n_entries)d);
        double tail, scale;
        const uint64_t scale_bits = _lif_exp_table_%(group)s[entry + 1] + (k_bits << 45);
        __builtin_memcpy(&tail, &_lif_exp_table_%(group)s[entry], 8);
        __builtin_memcpy(&scale, &scale_bits, 8);
        const double r2 = r * r;
        const double poly = _LIF_MADD(r2 * r2, _LIF_MADD(r, %(c5)r, %(c4)r),
                                      _LIF_MADD(_LIF_MADD(r, %(c3)r, %(c2)r), r2, r + tail));
        out[i] = _LIF_MADD(scale, poly, scale);
    }
#undef _LIF_MADD
    if (outside)
        for (int32_t i = 0; i < n; i++)
        {
            const double magnitude = std::fabs(in[i]);
            if (!(magnitude >= %(smallest)r && magnitude < %(largest)r))
                out[i] = exp(in[i]);
        }
}

static void _lif_exp_baseline_%(group)s(const double* in, double* out, const int32_t n)
{ _lif_exp_loop_%(group)s<false>(in, out, n); }
__attribute__((target("arch=x86-64-v3")))
static void _lif_exp_v3_%(group)s(const double* in, double* out, const int32_t n)
{ _lif_exp_loop_%(group)s<true>(in, out, n); }
__attribute__((target("arch=x86-64-v4")))
static void _lif_exp_v4_%(group)s(const double* in, double* out, const int32_t n)
{ _lif_exp_loop_%(group)s<true>(in, out, n); }
#pragma GCC pop_options
#else
static void _lif_exp_baseline_%(group)s(const double* in, double* out, const int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        out[i] = exp(in[i]);
}
#define _lif_exp_v3_%(group)s _lif_exp_baseline_%(group)s
#define _lif_exp_v4_%(group)s _lif_exp_baseline_%(group)s
#endif
"""


def exp_cpp(group_name: str) -> str:
    """C++ of ``_lif_exp_{baseline,v3,v4}_{group_name}(in, out, n)``: ``out = exp(in)`` as glibc computes it,
    for baseline x86-64 and x86-64-v3 and v4 (needs :data:`MULTIVERSION_CPP`; ``_LIF_OWN_EXP`` says whether
    it is the vectorised formula or the C library's ``exp``)."""
    table = ", ".join(f"{value}ULL" for value in exp_table())
    return _EXP_CPP % {"group": group_name, "n_table": 2 * EXP_TABLE_SIZE, "n_entries": EXP_TABLE_SIZE,
                       "table": table, "smallest": 2.0**-54, "largest": 512.0, **EXP_CONSTANTS}


_MEMBRANE_CPP = """
// Membrane step of neurons first .. stop - 1 of group %(group)s at time t (s) with step dt (s);
// returns the number of neurons that integrated (see lif_tempering.neuron.membrane). The arrays are
// parameters, so that GCC knows from `__restrict` that they do not overlap.
static _LIF_INLINE double _lif_membrane_step_%(group)s(const double t, const double dt,
    const int32_t first, const int32_t stop, const double* __restrict C_m, const double* __restrict E_exc,
    const double* __restrict E_inh,
    const double* __restrict E_l, const double* __restrict g_exc, const double* __restrict g_inh,
    const double* __restrict g_l, const double* __restrict lastspike, const double* __restrict tau_ref,
    char* __restrict integrating, double* __restrict v, double* __restrict v_inf, double* __restrict factor,
    double* __restrict growth, void (*const exp_array)(const double*, double*, int32_t))
{
    int32_t n_integrating = 0;
    for (int32_t i = first; i < stop; i++)
    {
        const double steps_since_spike = ((t - lastspike[i]) + 1e-3 * dt) / dt;
        const double refractory_steps = std::trunc((tau_ref[i] + 1e-3 * dt) / dt);
        integrating[i] = steps_since_spike >= refractory_steps;
        n_integrating += integrating[i];
        v_inf[i] = ((((E_exc[i] * g_exc[i]) / C_m[i]) + ((E_inh[i] * g_inh[i]) / C_m[i])) + ((E_l[i] * g_l[i]) / C_m[i]))
                   / (((-g_exc[i]) / C_m[i]) - ((g_inh[i] / C_m[i]) + (g_l[i] / C_m[i])));
        factor[i] = dt * (((-g_exc[i]) / C_m[i]) - ((g_inh[i] / C_m[i]) + (g_l[i] / C_m[i])));
    }
    exp_array(factor + first, growth + first, stop - first);
    for (int32_t i = first; i < stop; i++)
    {
        const double integrated = (-v_inf[i]) + ((v_inf[i] + v[i]) * growth[i]);
        v[i] = integrating[i] ? integrated : v[i];
    }
    return n_integrating;
}

#define _LIF_MEMBRANE_CALL_%(group)s(exp_array) _lif_membrane_step_%(group)s(t, dt, first, stop, \\
    brian::_array_%(group)s_C_m, brian::_array_%(group)s_E_exc, brian::_array_%(group)s_E_inh, \\
    brian::_array_%(group)s_E_l, brian::_array_%(group)s_g_exc, brian::_array_%(group)s_g_inh, \\
    brian::_array_%(group)s_g_l, brian::_array_%(group)s_lastspike, brian::_array_%(group)s_tau_ref, \\
    brian::_array_%(group)s_integrating, brian::_array_%(group)s_v, v_inf, factor, growth, exp_array)
#define _LIF_MEMBRANE_ARGUMENTS double t, double dt, int32_t first, int32_t stop, double* v_inf, double* factor, \\
    double* growth
#if _LIF_VERSIONS
__attribute__((target("default")))
static double _lif_membrane_versions_%(group)s(_LIF_MEMBRANE_ARGUMENTS)
{ return _LIF_MEMBRANE_CALL_%(group)s(_lif_exp_baseline_%(group)s); }
__attribute__((target("arch=x86-64-v3")))
static double _lif_membrane_versions_%(group)s(_LIF_MEMBRANE_ARGUMENTS)
{ return _LIF_MEMBRANE_CALL_%(group)s(_lif_exp_v3_%(group)s); }
__attribute__((target("arch=x86-64-v4")))
static double _lif_membrane_versions_%(group)s(_LIF_MEMBRANE_ARGUMENTS)
{ return _LIF_MEMBRANE_CALL_%(group)s(_lif_exp_v4_%(group)s); }
#else
static double _lif_membrane_versions_%(group)s(_LIF_MEMBRANE_ARGUMENTS)
{ return _LIF_MEMBRANE_CALL_%(group)s(_lif_exp_baseline_%(group)s); }
#endif

// In a build with threads each member of the team (lif_team.h) updates a contiguous share of
// the neurons (groups of at least %(min_threaded)d neurons; smaller ones on the calling thread).
double _lif_membrane_%(group)s(const double t, const double dt)
{
    const int32_t n = %(n_neurons)d;
    static std::vector<double> v_inf(n), factor(n), growth(n);
    auto share = [&](const int32_t member, const int32_t members) {
        return _lif_membrane_versions_%(group)s(t, dt, lif_team::share_start(n, member, members),
            lif_team::share_start(n, member + 1, members), v_inf.data(), factor.data(), growth.data());
    };
    return lif_team::sum_over_members(n >= %(min_threaded)d, share);
}
"""


def membrane_numpy(group, t_s: float, dt_s: float) -> float:
    """Brian2's runtime version of the membrane step of ``group`` (numpy, in place); neurons integrated."""
    value = {name: group.variables[name].get_value()
             for name in ("C_m", "E_exc", "E_inh", "E_l", "g_exc", "g_inh", "g_l", "lastspike", "tau_ref")}
    v, integrating = group.variables["v"].get_value(), group.variables["integrating"].get_value()
    steps_since_spike = np.trunc((t_s - value["lastspike"] + 1e-3 * dt_s) / dt_s)
    integrating[:] = steps_since_spike >= np.trunc((value["tau_ref"] + 1e-3 * dt_s) / dt_s)
    rate_per_s = -(value["g_exc"] + value["g_inh"] + value["g_l"]) / value["C_m"]
    v_inf = -(value["E_exc"] * value["g_exc"] + value["E_inh"] * value["g_inh"]
              + value["E_l"] * value["g_l"]) / value["C_m"] / rate_per_s
    v[:] = np.where(integrating, v_inf + (v - v_inf) * np.exp(rate_per_s * dt_s), v)
    return float(integrating.sum())


def lif_membrane_function(group: NeuronGroup):
    """Brian2 function ``lif_membrane(t, dt)``: one membrane step of every neuron of ``group``.

    C++ for the standalone device, :func:`membrane_numpy` for the runtime device; returns the
    number of neurons that integrated (1).
    """
    from brian2 import Function, second

    def runtime_membrane(t, dt):
        return membrane_numpy(group, float(np.ravel(t)[0]), float(np.ravel(dt)[0]))

    code = MULTIVERSION_CPP + exp_cpp(group.name) + _MEMBRANE_CPP % {"group": group.name, "n_neurons": len(group),
                                              "min_threaded": MIN_THREADED_NEURONS}
    function = Function(runtime_membrane, arg_units=[second, second], return_unit=1,
                        arg_types=["float", "float"], return_type="float", stateless=False)
    function.implementations.add_implementation("cpp", code=code, name=f"_lif_membrane_{group.name}",
                                                compiler_kwds=team.compiler_kwds())
    return function

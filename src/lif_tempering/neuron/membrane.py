"""The membrane step of a group of conductance-based LIF neurons: one C++ function per time step.

Brian2 integrates ``dv/dt = (g_l (E_l - v) + g_exc (E_exc - v) + g_inh (E_inh - v)) / C_m``
(frozen while refractory) with exponential Euler: the conductances are held for the step,
so with the rate ``a = -(g_l + g_exc + g_inh) / C_m`` and the fixed point
``v_inf = -(g_l E_l + g_exc E_exc + g_inh E_inh) / (C_m a)``,
``v <- v_inf + (v - v_inf) exp(a dt)``. Its generated loop over the neurons calls ``exp``
and branches on the refractory state in the loop body, so GCC does not vectorise it.

:func:`lif_membrane_function` does the same step in three passes over the group: the
refractory state (Brian2's rule: ``integrating``, i.e. not refractory, when the time steps since the last spike,
``int((t - lastspike + 1e-3 dt) / dt)``, reach those of ``tau_ref``), ``v_inf`` and ``a dt`` of
every neuron; ``exp(a dt)`` of the neurons that are not refractory (the C library's scalar
``exp``, as Brian2's code calls it); and their update. The first and last passes
have no branch and are compiled for baseline x86-64, x86-64-v3 and x86-64-v4 like the
background step (:mod:`lif_tempering.neuron.model`), with the expressions Brian2 generates
for the equation, so every version gives Brian2's numbers (tested against Brian2's own state
updater). Comparing the integer steps as ``x >= trunc(y)`` instead of
``int(x) >= int(y)`` is exact for ``x >= 0`` and needs no 64-bit integer conversion, which
AVX2 lacks.

In a build with OpenMP threads each thread updates a contiguous range of the neurons (groups
of at least :data:`MIN_THREADED_NEURONS`; for smaller ones a parallel region costs more than the
step). Neurons are independent of each other, so the numbers do not depend on the threads.

Brian2's runtime device runs the numpy version (:func:`membrane_numpy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lif_tempering.neuron.standalone import MULTIVERSION_CPP

if TYPE_CHECKING:
    from brian2 import NeuronGroup

#: Smallest group whose membrane step is split between OpenMP threads (in builds with threads).
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

_MEMBRANE_CPP = """
#ifdef _OPENMP
#include <omp.h>
#endif

// Membrane step of neurons first .. stop - 1 of group %(group)s at time t (s) with step dt (s);
// returns the number of neurons that integrated (see lif_tempering.neuron.membrane). The arrays are
// parameters, so that GCC knows from `__restrict` that they do not overlap.
static _LIF_INLINE double _lif_membrane_step_%(group)s(const double t, const double dt,
    const int32_t first, const int32_t stop, const double* __restrict C_m, const double* __restrict E_exc,
    const double* __restrict E_inh,
    const double* __restrict E_l, const double* __restrict g_exc, const double* __restrict g_inh,
    const double* __restrict g_l, const double* __restrict lastspike, const double* __restrict tau_ref,
    char* __restrict integrating, double* __restrict v, double* __restrict v_inf, double* __restrict factor,
    int32_t* __restrict listed)
{
    for (int32_t i = first; i < stop; i++)
    {
        const double steps_since_spike = ((t - lastspike[i]) + 1e-3 * dt) / dt;
        const double refractory_steps = std::trunc((tau_ref[i] + 1e-3 * dt) / dt);
        integrating[i] = steps_since_spike >= refractory_steps;
        v_inf[i] = ((((E_exc[i] * g_exc[i]) / C_m[i]) + ((E_inh[i] * g_inh[i]) / C_m[i])) + ((E_l[i] * g_l[i]) / C_m[i]))
                   / (((-g_exc[i]) / C_m[i]) - ((g_inh[i] / C_m[i]) + (g_l[i] / C_m[i])));
        factor[i] = dt * (((-g_exc[i]) / C_m[i]) - ((g_inh[i] / C_m[i]) + (g_l[i] / C_m[i])));
    }
    // exp(a dt) of the neurons that integrate, listed without a branch (about half of the
    // neurons of a sampling network are refractory at any time).
    int32_t n_integrating = 0;
    for (int32_t i = first; i < stop; i++)
    {
        listed[first + n_integrating] = i;
        n_integrating += integrating[i] != 0;
    }
    for (int32_t k = first; k < first + n_integrating; k++)
        factor[listed[k]] = exp(factor[listed[k]]);
    for (int32_t i = first; i < stop; i++)
    {
        const double integrated = (-v_inf[i]) + ((v_inf[i] + v[i]) * factor[i]);
        v[i] = integrating[i] ? integrated : v[i];
    }
    return n_integrating;
}

#define _LIF_MEMBRANE_CALL_%(group)s _lif_membrane_step_%(group)s(t, dt, first, stop, brian::_array_%(group)s_C_m, \\
    brian::_array_%(group)s_E_exc, brian::_array_%(group)s_E_inh, brian::_array_%(group)s_E_l, \\
    brian::_array_%(group)s_g_exc, brian::_array_%(group)s_g_inh, brian::_array_%(group)s_g_l, \\
    brian::_array_%(group)s_lastspike, brian::_array_%(group)s_tau_ref, brian::_array_%(group)s_integrating, \\
    brian::_array_%(group)s_v, v_inf, factor, listed)
#define _LIF_MEMBRANE_ARGUMENTS double t, double dt, int32_t first, int32_t stop, double* v_inf, double* factor, \\
    int32_t* listed
#if _LIF_VERSIONS
__attribute__((target("default")))
static double _lif_membrane_versions_%(group)s(_LIF_MEMBRANE_ARGUMENTS) { return _LIF_MEMBRANE_CALL_%(group)s; }
__attribute__((target("arch=x86-64-v3")))
static double _lif_membrane_versions_%(group)s(_LIF_MEMBRANE_ARGUMENTS) { return _LIF_MEMBRANE_CALL_%(group)s; }
__attribute__((target("arch=x86-64-v4")))
static double _lif_membrane_versions_%(group)s(_LIF_MEMBRANE_ARGUMENTS) { return _LIF_MEMBRANE_CALL_%(group)s; }
#else
static double _lif_membrane_versions_%(group)s(_LIF_MEMBRANE_ARGUMENTS) { return _LIF_MEMBRANE_CALL_%(group)s; }
#endif

// In a build with OpenMP threads each thread updates a contiguous range of neurons (networks of
// at least %(min_threaded)d neurons; for smaller ones a parallel region costs more than it saves).
double _lif_membrane_%(group)s(const double t, const double dt)
{
    const int32_t n = %(n_neurons)d;
    static std::vector<double> v_inf(n), factor(n);
    static std::vector<int32_t> listed(n);
    double integrating = 0;
    #pragma omp parallel if (n >= %(min_threaded)d) reduction(+: integrating)
    {
        int32_t thread = 0, threads = 1;
#ifdef _OPENMP
        thread = omp_get_thread_num();
        threads = omp_get_num_threads();
#endif
        const int32_t first = (int32_t)((int64_t)n * thread / threads);
        const int32_t stop = (int32_t)((int64_t)n * (thread + 1) / threads);
        integrating += _lif_membrane_versions_%(group)s(t, dt, first, stop, v_inf.data(), factor.data(), listed.data());
    }
    return integrating;
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

    code = MULTIVERSION_CPP + _MEMBRANE_CPP % {"group": group.name, "n_neurons": len(group),
                                              "min_threaded": MIN_THREADED_NEURONS}
    function = Function(runtime_membrane, arg_units=[second, second], return_unit=1,
                        arg_types=["float", "float"], return_type="float", stateless=False)
    function.implementations.add_implementation("cpp", code=code, name=f"_lif_membrane_{group.name}")
    return function

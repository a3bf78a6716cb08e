"""Brian2 model of conductance-based LIF neurons with exact Poisson background.

Every neuron parameter is a per-neuron variable, so that a compiled
cpp_standalone binary can be rerun with new values (``run_args``) without
recompiling. The background is drawn as Poisson counts per time step,
``g += w * poisson(rate * dt)``: at kHz rates a Bernoulli approximation (at most
one event per step) under-disperses the input (SCIENCE.md section 2).

The background rates are either per-neuron constants (``rate_exc``, ``rate_inh``,
the default) or follow a schedule in time shared by all neurons of the group:
two :class:`~brian2.input.timedarray.TimedArray` objects (Hz, one value per time
step, see :func:`make_rate_schedules`) whose values are passed at run time, so
one compiled binary serves every schedule of the same length. Value ``k`` is
used in the step starting at ``t = k dt``: each neuron then draws
``poisson(rate_k * dt)`` events, an exact inhomogeneous Poisson process with the
piecewise-constant rate.
"""

from __future__ import annotations

import numpy as np
from brian2 import Hz, NeuronGroup, TimedArray, ms, mV, nF, uS

from .parameters import NeuronParameters

#: The neuron model without its background rates (completed by CONSTANT_RATES or SCHEDULED_RATES).
LIF_EQUATIONS = """
dv/dt = (g_l * (E_l - v) + g_exc * (E_exc - v) + g_inh * (E_inh - v)) / C_m : volt (unless refractory)
dg_exc/dt = -g_exc / tau_syn : siemens
dg_inh/dt = -g_inh / tau_syn : siemens
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
"""

#: Per-neuron constant background rates (settable per run).
CONSTANT_RATES = """
rate_exc : Hz
rate_inh : Hz
"""

#: Background rates read from the group's rate schedules at the current time.
SCHEDULED_RATES = """
rate_exc = rate_exc_schedule(t) : Hz
rate_inh = rate_inh_schedule(t) : Hz
"""

POISSON_BACKGROUND = """
g_exc += w_exc * poisson(rate_exc * dt)
g_inh += w_inh * poisson(rate_inh * dt)
"""

RESET = """
v = V_reset
spike_count += int(t >= t_count_start)
"""

#: V_th used to switch spiking off: far above any reachable membrane potential (mV).
NO_SPIKING_THRESHOLD_MV = 1.0e6


def make_rate_schedules(n_steps: int, dt_ms: float, name: str = "lif") -> tuple[TimedArray, TimedArray]:
    """Excitatory and inhibitory background-rate schedules (TimedArrays in Hz, zero until set).

    ``n_steps`` values at spacing ``dt_ms`` (use the simulation dt, so that value ``k``
    is the rate of step ``k``); beyond the last value the last one holds. Pass the
    actual values per run, ``{schedule: rates_hz * Hz}`` in ``run_args``.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    zeros = np.zeros(int(n_steps)) * Hz
    return (TimedArray(zeros, dt=dt_ms * ms, name=f"{name}_rate_exc_schedule"),
            TimedArray(zeros, dt=dt_ms * ms, name=f"{name}_rate_inh_schedule"))


def make_lif_group(n_neurons: int, name: str = "lif",
                   rate_schedules: tuple[TimedArray, TimedArray] | None = None) -> NeuronGroup:
    """A group of ``n_neurons`` LIF neurons with their own Poisson background.

    Without ``rate_schedules`` the background rates are per-neuron constants
    ``rate_exc``, ``rate_inh``; with the (excitatory, inhibitory) TimedArrays of
    :func:`make_rate_schedules` they are subexpressions following those schedules
    (every neuron draws its own Poisson counts from the common rate).
    """
    if rate_schedules is None:
        equations, namespace = LIF_EQUATIONS + CONSTANT_RATES, None
    else:
        equations = LIF_EQUATIONS + SCHEDULED_RATES
        namespace = {"rate_exc_schedule": rate_schedules[0], "rate_inh_schedule": rate_schedules[1]}
    group = NeuronGroup(
        n_neurons,
        equations,
        threshold="v > V_th",
        reset=RESET,
        refractory="tau_ref",
        method="exponential_euler",
        namespace=namespace,
        name=name,
    )
    group.run_regularly(POISSON_BACKGROUND, when="start", name=f"{name}_background")
    return group


def per_neuron_values(p: NeuronParameters, n_neurons: int, E_l_mV=None, rate_exc_hz=None,
                      rate_inh_hz=None, V_th_mV=None, count_start_ms: float = 0.0) -> dict:
    """Per-neuron values of every model variable, as Brian2 quantities.

    Arrays or scalars given for ``E_l_mV``, ``rate_exc_hz``, ``rate_inh_hz`` and
    ``V_th_mV`` override the values of ``p``; the membrane starts at E_l.
    """
    def full(value, default):
        value = default if value is None else value
        return np.broadcast_to(np.asarray(value, float), (n_neurons,)).copy()

    E_l = full(E_l_mV, p.E_l_mV)
    return {
        "C_m": full(None, p.C_m_nF) * nF,
        "g_l": full(None, p.g_l_uS) * uS,
        "E_l": E_l * mV,
        "V_th": full(V_th_mV, p.V_th_mV) * mV,
        "V_reset": full(None, p.V_reset_mV) * mV,
        "tau_ref": full(None, p.tau_ref_ms) * ms,
        "tau_syn": full(None, p.tau_syn_ms) * ms,
        "E_exc": full(None, p.E_exc_mV) * mV,
        "E_inh": full(None, p.E_inh_mV) * mV,
        "rate_exc": full(rate_exc_hz, p.rate_exc_hz) * Hz,
        "rate_inh": full(rate_inh_hz, p.rate_inh_hz) * Hz,
        "w_exc": full(None, p.w_exc_uS) * uS,
        "w_inh": full(None, p.w_inh_uS) * uS,
        "t_count_start": full(None, count_start_ms) * ms,
        "v": E_l * mV,
    }

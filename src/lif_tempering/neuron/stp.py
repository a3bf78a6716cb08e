"""Short-term plasticity of the recurrent synapses: Tsodyks-Markram parameters (docs/translation.md).

The recurrent synapses of a LIF network follow the Tsodyks-Markram model (Tsodyks &
Markram 1997) in the event-driven form of NEST's ``tsodyks2_synapse``: a synapse has
a resource ``x`` (starts at 1) and a utilisation ``u`` (starts at 0). On a presynaptic
spike a time ``h`` after the previous one

- ``x <- 1 - (1 - x) exp(-h / tau_rec)`` (recovery toward 1),
- ``u <- U + u (1 - U) exp(-h / tau_fac)`` (facilitation; ``u = U`` for ``tau_fac = 0``),
- ``release = u x``, ``x <- x - release``,

and the conductance of the target steps by ``weight * release``. A rested synapse
(first spike, or long after the last) releases ``U``. The release sequences equal
those of NEST 3.10's ``tsodyks2_synapse`` started with ``u = U``, ``x = 1`` (NEST sends
its first spike with the initial ``u x``) to rounding.

``U = 1``, ``tau_rec = tau_syn``, ``tau_fac = 0`` is the *renewing* synapse of LIF
sampling (Petrovici et al. 2016): a spike renews the conductance to the weight
instead of piling up PSPs. It is the default.

Weight scaling (``weight_scaling``) keeps the meaning of a translated weight
(:func:`~lif_tempering.sampling.translation.stp_weight_factor`): the network's weights are the
translated ones divided by a reference release, that of a rested synapse (``rested``,
``U``: the first PSP after rest is the translated one) or the steady-state release of
a regular train at the rate of a unit with p(z = 1) = 1/2, ``1 / (2 tau_ref)``
(``steady_state``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEIGHT_SCALINGS = ("rested", "steady_state")


@dataclass(frozen=True)
class STPParameters:
    """Tsodyks-Markram parameters shared by all synapses of a network.

    ``U`` utilisation increment (1), ``tau_rec_ms`` recovery time constant of the
    resource (ms; ``None``: the neuron's ``tau_syn``), ``tau_fac_ms`` facilitation
    time constant (ms; 0: no facilitation), ``weight_scaling`` one of
    :data:`WEIGHT_SCALINGS`.
    """

    U: float = 1.0
    tau_rec_ms: float | None = None
    tau_fac_ms: float = 0.0
    weight_scaling: str = "rested"

    def __post_init__(self):
        if not 0 < self.U <= 1:
            raise ValueError(f"STP U must lie in (0, 1], got {self.U}")
        if self.tau_rec_ms is not None and not self.tau_rec_ms > 0:
            raise ValueError(f"STP tau_rec_ms must be > 0 (or None for tau_syn), got {self.tau_rec_ms}")
        if not self.tau_fac_ms >= 0:
            raise ValueError(f"STP tau_fac_ms must be >= 0, got {self.tau_fac_ms}")
        if self.weight_scaling not in WEIGHT_SCALINGS:
            raise ValueError(f"unknown STP weight_scaling {self.weight_scaling!r}; "
                             f"allowed: {', '.join(WEIGHT_SCALINGS)}")

    def tau_rec_or(self, tau_syn_ms: float) -> float:
        """The recovery time constant (ms), ``tau_syn_ms`` when it is not set."""
        return float(tau_syn_ms if self.tau_rec_ms is None else self.tau_rec_ms)

    def attrs(self, tau_syn_ms: float) -> dict:
        """The parameters as flat attributes (``stp_U``, ``stp_tau_rec_ms`` resolved, ...)."""
        return {"stp_U": float(self.U), "stp_tau_rec_ms": self.tau_rec_or(tau_syn_ms),
                "stp_tau_fac_ms": float(self.tau_fac_ms), "stp_weight_scaling": self.weight_scaling}


#: The renewing synapse (the default).
RENEWING = STPParameters()


def stp_from_config(section: dict | None) -> STPParameters:
    """:class:`STPParameters` of a config section (``lif_sampling.stp``); ``None`` gives the renewing synapse."""
    if section is None:
        return RENEWING
    return STPParameters(U=float(section["U"]),
                         tau_rec_ms=None if section["tau_rec_ms"] is None else float(section["tau_rec_ms"]),
                         tau_fac_ms=float(section["tau_fac_ms"]), weight_scaling=str(section["weight_scaling"]))


def steady_state_release(U: float, tau_rec_ms: float, tau_fac_ms: float, rate_hz: float) -> float:
    """Release ``u x`` per spike of a regular spike train at ``rate_hz`` in the steady state (1).

    Fixed point of the recursion with interval ``h = 1 / rate``: ``u = U / (1 - (1 - U)
    exp(-h / tau_fac))`` and ``x = (1 - a) / (1 - (1 - u) a)`` with ``a = exp(-h / tau_rec)``.
    """
    if not rate_hz > 0:
        raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
    interval_ms = 1000.0 / rate_hz
    decay_fac = np.exp(-interval_ms / tau_fac_ms) if tau_fac_ms > 0 else 0.0
    u = U / (1.0 - (1.0 - U) * decay_fac)
    decay_rec = np.exp(-interval_ms / tau_rec_ms)
    x = (1.0 - decay_rec) / (1.0 - (1.0 - u) * decay_rec)
    return float(u * x)


def reference_release(stp: STPParameters, tau_syn_ms: float, tau_ref_ms: float) -> float:
    """The release that gives a translated weight its PSP (1), per ``stp.weight_scaling``.

    ``rested``: ``U``; ``steady_state``: :func:`steady_state_release` at ``1 / (2 tau_ref)``,
    the rate of a unit with p(z = 1) = 1/2.
    """
    if stp.weight_scaling == "rested":
        return float(stp.U)
    return steady_state_release(stp.U, stp.tau_rec_or(tau_syn_ms), stp.tau_fac_ms, 1000.0 / (2.0 * tau_ref_ms))

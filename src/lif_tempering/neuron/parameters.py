"""Neuron and background-noise parameters of the conductance-based LIF model.

Units throughout: capacitance nF, time ms, potential mV, conductance uS, rate Hz.
With these units g_l = C_m / tau_m comes out in uS and currents in nA.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class NeuronParameters:
    """One LIF neuron with its Poisson background (docs/model.md)."""

    C_m_nF: float
    tau_m_ms: float
    E_l_mV: float
    V_th_mV: float
    V_reset_mV: float
    tau_ref_ms: float
    tau_syn_ms: float
    E_exc_mV: float
    E_inh_mV: float
    rate_exc_hz: float
    rate_inh_hz: float
    w_exc_uS: float
    w_inh_uS: float

    @property
    def g_l_uS(self) -> float:
        """Leak conductance C_m / tau_m in uS."""
        return self.C_m_nF / self.tau_m_ms

    def with_values(self, **values) -> "NeuronParameters":
        """A copy with some values replaced."""
        return replace(self, **values)

    def as_dict(self) -> dict[str, float]:
        """Plain dictionary of the values, keyed by field name."""
        return {k: float(v) for k, v in asdict(self).items()}


PARAMETER_NAMES = tuple(f.name for f in fields(NeuronParameters))

#: Named parameter sets (docs/model.md).
PARAMETER_SETS: dict[str, NeuronParameters] = {
    "sbs_tutorial": NeuronParameters(
        C_m_nF=0.2, tau_m_ms=1.0, E_l_mV=-50.0, V_th_mV=-50.0, V_reset_mV=-50.001,
        tau_ref_ms=10.0, tau_syn_ms=10.0, E_exc_mV=0.0, E_inh_mV=-100.0,
        rate_exc_hz=3000.0, rate_inh_hz=3000.0, w_exc_uS=0.001, w_inh_uS=0.001,
    ),
    "leng2018": NeuronParameters(
        C_m_nF=0.2, tau_m_ms=0.1, E_l_mV=-65.0, V_th_mV=-50.0, V_reset_mV=-50.01,
        tau_ref_ms=10.0, tau_syn_ms=10.0, E_exc_mV=0.0, E_inh_mV=-100.0,
        rate_exc_hz=400.0, rate_inh_hz=400.0, w_exc_uS=0.001, w_inh_uS=0.001,
    ),
    "petrovici_thesis": NeuronParameters(
        C_m_nF=0.1, tau_m_ms=20.0, E_l_mV=-65.0, V_th_mV=-52.0, V_reset_mV=-53.0,
        tau_ref_ms=10.0, tau_syn_ms=10.0, E_exc_mV=0.0, E_inh_mV=-90.0,
        rate_exc_hz=5000.0, rate_inh_hz=5000.0, w_exc_uS=0.0035, w_inh_uS=0.0055,
    ),
}


def resolve_parameters(parameter_set: str, overrides: dict | None = None) -> NeuronParameters:
    """The named parameter set with ``overrides`` (field name -> value) applied."""
    if parameter_set not in PARAMETER_SETS:
        raise KeyError(
            f"unknown parameter set {parameter_set!r}; allowed: {', '.join(sorted(PARAMETER_SETS))}"
        )
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(PARAMETER_NAMES))
    if unknown:
        raise KeyError(f"unknown neuron parameter(s) {unknown}; allowed: {', '.join(PARAMETER_NAMES)}")
    return PARAMETER_SETS[parameter_set].with_values(**{k: float(v) for k, v in overrides.items()})


def noise_label(rate_exc_hz: float, rate_inh_hz: float) -> str:
    """File-name label of a noise configuration, e.g. ``exc3000_inh3000``."""
    return f"exc{_rate_text(rate_exc_hz)}_inh{_rate_text(rate_inh_hz)}"


def _rate_text(rate_hz: float) -> str:
    return f"{rate_hz:g}".replace(".", "p").replace("+", "")

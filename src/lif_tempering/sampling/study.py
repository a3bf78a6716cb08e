"""Validation of LIF sampling on small Boltzmann machines, and the coupling calibration.

Each function runs one natural unit of work of the workflow (one sampler on all
validation machines, the coupling calibration) and returns a self-describing
:class:`xarray.Dataset`; :func:`combine_samplers` collects the samplers.

Sampling time. Every machine is sampled by ``copies`` independent chains (Gibbs
chains or LIF networks, all in one run), each for ``duration_ms`` of network time
of which the first ``burn_in_ms`` are discarded. The *sampling time* of a machine
is the network time after burn-in summed over its chains: a histogram at sampling
time ``t`` pools the first ``t / copies`` ms of every chain. One Gibbs sweep counts
as ``tau_ref`` of network time (docs/tempering.md); LIF states are read every
``sample_dt_ms``.

Effective couplings. Fitting a Boltzmann machine to a sampled distribution
(:func:`~lif_tempering.sampling.boltzmann.fit_effective_bm`) gives the couplings the
sampler realised; the least-squares slope of ``W_eff`` on ``W``
(:func:`~lif_tempering.sampling.boltzmann.coupling_gain`) is their gain. LIF couplings act
about 1.4x too strong with renewing synapses (docs/translation.md): the coupling
calibration measures this gain and the default LIF sampler divides the
translated weights by it.
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from lif_tempering.calibration.temperature import ActivationPoint
from lif_tempering.io import finite_values
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.stp import STPParameters
from lif_tempering.sampling.boltzmann import (
    EffectiveBMFitError,
    coupling_gain,
    empirical_distribution,
    exact_distribution,
    fit_effective_bm,
    gibbs_sample,
    random_bm,
    state_counts,
    state_index,
    states_from_indices,
)
from lif_tempering.sampling.divergence import kl_target_to_histogram
from lif_tempering.sampling.network import BoltzmannSampler
from lif_tempering.sampling.translation import PLAIN

#: Samplers of the validation study: Gibbs, and LIF variants as (synapse type, coupling correction applied).
LIF_VARIANTS = {
    "lif": ("renewing", True),
    "lif_uncorrected": ("renewing", False),
    "lif_exponential": ("exponential", False),
}
#: LIF samplers of calibrated networks, renewing synapses: the corrections of the network calibration
#: (:mod:`lif_tempering.sampling.network_calibration`), and those with the parameters trained in the loop
#: (:mod:`lif_tempering.learning.in_the_loop`), each a network file per machine.
NETWORK_SAMPLERS = ("lif_calibrated", "lif_in_the_loop")
SAMPLERS = ("gibbs", *LIF_VARIANTS, *NETWORK_SAMPLERS)
#: The opt-in sampler with short-term plasticity (config ``stp_sampler``): renewing synapses with the
#: ``stp_sampler`` Tsodyks-Markram parameters, no coupling correction (as the tempering study's LIF runs).
STP_SAMPLER = "lif_stp"
SAMPLER_DESCRIPTIONS = {
    "gibbs": "Gibbs sampling (one sweep = tau_ref of network time)",
    "lif": "LIF network, renewing synapses, coupling correction",
    "lif_uncorrected": "LIF network, renewing synapses, no coupling correction",
    "lif_exponential": "LIF network, plain exponential synapses, no coupling correction",
    STP_SAMPLER: "LIF network, synapses with short-term plasticity (stp_sampler), no coupling correction",
    "lif_calibrated": "LIF network, renewing synapses, network-level calibration of biases and couplings",
    "lif_in_the_loop": "LIF network, renewing synapses, calibrated and trained in the loop toward the machine",
}


def _var(dims, values, units, long_name):
    return (dims, np.asarray(values), {"units": units, "long_name": long_name})


def validation_machines(n_units: int, seeds, weight_scale: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random machines ``(W, b)`` of :func:`~lif_tempering.sampling.boltzmann.random_bm`, one per seed."""
    return [random_bm(n_units, int(seed), weight_scale) for seed in seeds]


def sampling_times_ms(first_ms: float, last_ms: float, n_times: int, quantum_ms: float) -> np.ndarray:
    """``n_times`` log-spaced sampling times from ``first_ms`` to ``last_ms``, multiples of ``quantum_ms``.

    Times are rounded down to a multiple of ``quantum_ms`` (at least one quantum);
    duplicates after rounding are dropped, so fewer times may come back.
    """
    if not 0 < first_ms <= last_ms:
        raise ValueError(f"need 0 < first_ms <= last_ms, got {first_ms}, {last_ms}")
    times = np.geomspace(first_ms, last_ms, n_times)
    quanta = np.maximum(np.floor(times / quantum_ms + 1e-9), 1.0)
    return np.unique(quanta) * quantum_ms


def dkl_over_time(state_indices, p_target, samples_per_chain) -> np.ndarray:
    """D_KL(p_target || p_sampled) of histograms of the first samples of every chain (Jeffreys-smoothed,
    :func:`~lif_tempering.sampling.divergence.kl_target_to_histogram`).

    ``state_indices``: (time, chain) state indices of one machine's chains;
    ``samples_per_chain``: increasing sample counts; entry ``k`` of the result
    pools the first ``samples_per_chain[k]`` samples of every chain (nats).
    """
    state_indices = np.asarray(state_indices)
    n_states = np.asarray(p_target).size
    return np.array([
        kl_target_to_histogram(p_target, np.bincount(state_indices[:n].ravel(), minlength=n_states))
        for n in np.asarray(samples_per_chain, dtype=np.int64)
    ])


def _fit_effective_bm(p_sampled, n_units: int, l2: float, what: str):
    """:func:`fit_effective_bm`, its failure naming the distribution (``what``) that could not be fitted."""
    try:
        return fit_effective_bm(p_sampled, n_units, l2=l2)
    except EffectiveBMFitError as error:
        raise EffectiveBMFitError(f"{what}: {error}") from error


def _sampler_dataset(bms, samples, step_ms: float, times_ms, sampler: str, l2: float,
                     coupling_scale: float) -> xr.Dataset:
    """D_KL over sampling time, final sampled distribution and coupling gain of each machine.

    ``samples``: int8 (time, machine, chain, unit), one sample every ``step_ms`` of a chain.
    """
    n_units = samples.shape[-1]
    copies = samples.shape[2]
    samples_per_chain = np.rint(np.asarray(times_ms) / (copies * step_ms)).astype(np.int64)
    if samples_per_chain[-1] > samples.shape[0]:
        raise ValueError(f"sampling time {times_ms[-1]} ms exceeds the {samples.shape[0]} samples per chain")
    dkl, p_sampled, gains = [], [], []
    for k, (W, b) in enumerate(bms):
        indices = state_index(samples[:, k])
        p_target = exact_distribution(W, b)
        dkl.append(dkl_over_time(indices, p_target, samples_per_chain))
        p_final = empirical_distribution(samples[:samples_per_chain[-1], k])
        p_sampled.append(p_final)
        gains.append(coupling_gain(W, _fit_effective_bm(p_final, n_units, l2, f"{sampler} samples of machine {k}")[0]))
    return xr.Dataset(
        {
            "dkl": _var(("bm", "time_ms"), dkl, "nat", "D_KL(p_target || p_sampled) after this sampling time"),
            "p_sampled": _var(("bm", "state"), p_sampled, "1",
                              "sampled joint distribution at the longest sampling time"),
            "coupling_gain": _var("bm", gains, "1",
                                  "effective coupling gain: least-squares slope of W_eff on W of the final histogram"),
            "coupling_scale": _var((), coupling_scale, "1",
                                   "factor on the translated LIF weights (NaN for Gibbs sampling)"),
        },
        coords=_coords(times_ms, len(bms), n_units),
        attrs={"sampler": sampler, "description": SAMPLER_DESCRIPTIONS[sampler]},
    )


def _coords(times_ms, n_bms: int, n_units: int) -> dict:
    labels = ["".join(map(str, z)) for z in states_from_indices(np.arange(2**n_units), n_units)]
    return {
        "bm": ("bm", np.arange(n_bms), {"units": "1", "long_name": "validation Boltzmann machine index"}),
        "time_ms": ("time_ms", np.asarray(times_ms, dtype=np.float64),
                    {"units": "ms", "long_name": "sampling time per machine, summed over its independent chains"}),
        "state": ("state", np.arange(2**n_units),
                  {"units": "1", "long_name": "joint state index (unit 0 = most significant bit)"}),
        "state_label": ("state", labels, {"units": "1", "long_name": "joint state z_0 z_1 ... as a bit string"}),
    }


def gibbs_validation(bms, settings: dict, tau_ref_ms: float, seed: int) -> xr.Dataset:
    """D_KL over time of Gibbs sampling of every machine (``copies`` chains per machine).

    ``settings``: copies_per_machine, duration_ms, burn_in_ms, first_dkl_time_ms,
    n_dkl_times, effective_bm_l2 (the validation config); a sweep lasts ``tau_ref_ms``.
    """
    copies = settings["copies_per_machine"]
    burn_in_sweeps = int(round(settings["burn_in_ms"] / tau_ref_ms))
    n_sweeps = int((settings["duration_ms"] - settings["burn_in_ms"]) // tau_ref_ms)
    times = validation_times_ms(settings, tau_ref_ms)
    rngs = np.random.default_rng(seed).spawn(len(bms))
    samples = np.stack([
        gibbs_sample(W, b, burn_in_sweeps + n_sweeps, copies, rng)[burn_in_sweeps:]
        for (W, b), rng in zip(bms, rngs)
    ], axis=1)
    ds = _sampler_dataset(bms, samples, tau_ref_ms, times, "gibbs", settings["effective_bm_l2"], np.nan)
    return ds.assign_attrs(seed=int(seed), sweep_ms=float(tau_ref_ms))


def validation_times_ms(settings: dict, tau_ref_ms: float) -> np.ndarray:
    """Sampling times (ms) of the D_KL curves: multiples of ``copies * tau_ref`` (Gibbs and LIF alike)."""
    copies = settings["copies_per_machine"]
    per_chain_ms = settings["duration_ms"] - settings["burn_in_ms"]
    return sampling_times_ms(settings["first_dkl_time_ms"], copies * per_chain_ms, settings["n_dkl_times"],
                             copies * tau_ref_ms)


def lif_samples(bms, p: NeuronParameters, calibration: ActivationPoint, settings: dict, synapse: str,
                coupling_scale: float, dt_ms: float, seed: int, cache_dir: str | os.PathLike,
                stp: STPParameters | None = None, threads: int = 1, corrections=None) -> np.ndarray:
    """LIF samples int8 (time, machine, copy, unit) of ``copies_per_machine`` networks per machine, one run.

    ``settings``: copies_per_machine, duration_ms, burn_in_ms, sample_dt_ms; ``stp``: short-term
    plasticity of renewing synapses (``None``: the renewing synapse); ``corrections``: one
    :class:`~lif_tempering.sampling.translation.TranslationCorrections` per machine (``None``: plain).
    """
    copies = settings["copies_per_machine"]
    n_units = np.shape(bms[0][1])[0]
    sampler = BoltzmannSampler(n_units, settings["duration_ms"], cache_dir, n_networks=len(bms) * copies,
                               synapse=synapse, dt_ms=dt_ms, sample_dt_ms=settings["sample_dt_ms"],
                               burn_in_ms=settings["burn_in_ms"], stp=stp, report_period_s=30.0, threads=threads)
    corrections = [PLAIN] * len(bms) if corrections is None else list(corrections)
    result = sampler.sample([bm for bm in bms for _ in range(copies)], p, calibration, seed, coupling_scale,
                            corrections=[c for c in corrections for _ in range(copies)])
    sampler.close()
    return result.samples.reshape(result.samples.shape[0], len(bms), copies, n_units)


def lif_validation(bms, p: NeuronParameters, calibration: ActivationPoint, settings: dict, sampler: str,
                   coupling_scale: float, dt_ms: float, seed: int, cache_dir: str | os.PathLike,
                   stp: STPParameters | None = None, threads: int = 1, networks=None) -> xr.Dataset:
    """D_KL over time of one LIF variant of :data:`LIF_VARIANTS`, :data:`NETWORK_SAMPLERS` or :data:`STP_SAMPLER`
    on every machine.

    ``coupling_scale`` multiplies the translated weights (the coupling correction,
    1 for the uncorrected variants). ``settings``: the validation config. ``stp``: the
    Tsodyks-Markram parameters of :data:`STP_SAMPLER` (required for it, not allowed otherwise);
    they are stored as attributes (``stp_U`` etc.). ``networks`` (required for :data:`NETWORK_SAMPLERS`, not
    allowed otherwise): one ``(W, b, corrections)`` per machine, the parameters the machine's network is
    translated from with its :class:`~lif_tempering.sampling.translation.TranslationCorrections`; the
    divergences are measured against ``bms``.
    """
    if (sampler == STP_SAMPLER) != (stp is not None):
        raise ValueError(f"STP parameters are given with the sampler {STP_SAMPLER} and only with it, got {sampler}")
    if (sampler in NETWORK_SAMPLERS) != (networks is not None):
        raise ValueError(f"networks are given with the samplers {', '.join(NETWORK_SAMPLERS)} and only with them, "
                         f"got {sampler}")
    synapse = "renewing" if sampler in (STP_SAMPLER, *NETWORK_SAMPLERS) else LIF_VARIANTS[sampler][0]
    translated = bms if networks is None else [(W, b) for W, b, _ in networks]
    corrections = None if networks is None else [c for _, _, c in networks]
    samples = lif_samples(translated, p, calibration, settings, synapse, coupling_scale, dt_ms, seed, cache_dir, stp,
                          threads, corrections)
    times = validation_times_ms(settings, p.tau_ref_ms)
    ds = _sampler_dataset(bms, samples, settings["sample_dt_ms"], times, sampler, settings["effective_bm_l2"],
                          coupling_scale)
    return ds.assign_attrs(seed=int(seed), synapse=synapse, u0_mV=float(calibration.u0_mV),
                           alpha_mV=float(calibration.alpha_mV), **(stp.attrs(p.tau_syn_ms) if stp else {}))


def machines_dataset(bms, seeds) -> xr.Dataset:
    """Weights ``W`` (bm, unit, partner_unit), biases ``b`` (bm, unit), exact ``p_target`` (bm, state)."""
    n_units = np.shape(bms[0][1])[0]
    return xr.Dataset(
        {
            "W": _var(("bm", "unit", "partner_unit"), [W for W, _ in bms], "1",
                      "Boltzmann weight between unit and partner unit (units of k_B T)"),
            "b": _var(("bm", "unit"), [b for _, b in bms], "1", "Boltzmann bias (units of k_B T)"),
            "p_target": _var(("bm", "state"), [exact_distribution(W, b) for W, b in bms], "1",
                             "exact joint distribution of the machine"),
            "bm_seed": _var("bm", np.asarray(seeds, dtype=np.int64), "1", "seed of the random machine"),
        },
        coords={
            "unit": ("unit", np.arange(n_units), {"units": "1", "long_name": "unit index"}),
            "partner_unit": ("partner_unit", np.arange(n_units), {"units": "1", "long_name": "unit index"}),
        },
    )


def combine_samplers(sampler_datasets: list[xr.Dataset], bms, seeds) -> xr.Dataset:
    """The validation study: per-sampler results along ``sampler`` with the machines' definition.

    With :data:`STP_SAMPLER` among the samplers its Tsodyks-Markram parameters become the attributes
    ``lif_stp_U``, ``lif_stp_tau_rec_ms``, ``lif_stp_tau_fac_ms`` and ``lif_stp_weight_scaling``.
    """
    names = [ds.attrs["sampler"] for ds in sampler_datasets]
    stripped = [ds.drop_attrs(deep=False) for ds in sampler_datasets]
    combined = xr.concat(stripped, dim="sampler", coords="different", compat="equals", join="exact")
    combined = combined.assign_coords(sampler=("sampler", names, {"units": "1", "long_name": "sampler"}))
    combined["sampler_description"] = _var("sampler", [SAMPLER_DESCRIPTIONS[n] for n in names], "1",
                                           "what the sampler is")
    combined["sampling_seed"] = _var("sampler", [d.attrs["seed"] for d in sampler_datasets], "1",
                                     "seed of the sampler's run")
    ds = xr.merge([combined, machines_dataset(bms, seeds)], combine_attrs="override").transpose("bm", "sampler", ...)
    ds.attrs = {
        "title": "LIF sampling of small Boltzmann machines against exact distributions",
        "lif_u0_mV": next(d.attrs["u0_mV"] for d in sampler_datasets if "u0_mV" in d.attrs),
        "lif_alpha_mV": next(d.attrs["alpha_mV"] for d in sampler_datasets if "alpha_mV" in d.attrs),
        "n_units": int(np.shape(bms[0][1])[0]),
        **{f"{STP_SAMPLER}_{key.removeprefix('stp_')}": value for d in sampler_datasets
           if d.attrs["sampler"] == STP_SAMPLER for key, value in d.attrs.items() if key.startswith("stp_")},
    }
    return ds


# --------------------------------------------------------------------------- coupling calibration

def pooled_coupling_gain(W_targets, W_effectives) -> float:
    """Least-squares slope through the origin of all machines' off-diagonal ``W_eff`` on ``W``."""
    numerator = denominator = 0.0
    for W, W_eff in zip(W_targets, W_effectives):
        off_diagonal = ~np.eye(len(W), dtype=bool)
        numerator += np.sum(W[off_diagonal] * W_eff[off_diagonal])
        denominator += np.sum(W[off_diagonal] ** 2)
    return float(numerator / denominator)


def coupling_calibration(bms, seeds, p: NeuronParameters, calibration: ActivationPoint, settings: dict,
                         dt_ms: float, seed: int, cache_dir: str | os.PathLike, threads: int = 1) -> xr.Dataset:
    """Gain W_eff / W of LIF sampling with renewing synapses, uncorrected, and its correction 1 / gain.

    Samples each machine of ``bms`` with the plain translation, fits an effective
    machine to each sampled distribution and pools the gains (least squares).
    ``settings``: the validation config (copies, durations, effective_bm_l2).
    """
    synapse, _ = LIF_VARIANTS["lif_uncorrected"]
    samples = lif_samples(bms, p, calibration, settings, synapse, 1.0, dt_ms, seed, cache_dir, threads=threads)
    n_units = samples.shape[-1]
    fits, gains, dkl = [], [], []
    for k, (W, b) in enumerate(bms):
        p_sampled = empirical_distribution(samples[:, k])
        W_eff, b_eff = _fit_effective_bm(p_sampled, n_units, settings["effective_bm_l2"],
                                         f"coupling calibration, machine {k}")
        fits.append((W_eff, b_eff))
        gains.append(coupling_gain(W, W_eff))
        dkl.append(kl_target_to_histogram(exact_distribution(W, b), state_counts(samples[:, k])))
    gain = pooled_coupling_gain([W for W, _ in bms], [W_eff for W_eff, _ in fits])
    machines = machines_dataset(bms, seeds).drop_vars("p_target").rename(bm="calibration_bm")
    machines["calibration_bm"] = ("calibration_bm", np.arange(len(bms)),
                                  {"units": "1", "long_name": "calibration Boltzmann machine index"})
    return machines.assign(
        W_effective=_var(("calibration_bm", "unit", "partner_unit"), [f[0] for f in fits], "1",
                         "weights of the machine fitted to the LIF samples"),
        b_effective=_var(("calibration_bm", "unit"), [f[1] for f in fits], "1",
                         "biases of the machine fitted to the LIF samples"),
        machine_coupling_gain=_var("calibration_bm", gains, "1", "least-squares slope of W_effective on W"),
        dkl_uncorrected=_var("calibration_bm", dkl, "nat", "D_KL(p_target || p_sampled) of the uncorrected LIF run"),
        coupling_gain=_var((), gain, "1", "W_eff / W of all machines pooled (least squares), renewing synapses"),
        coupling_gain_stderr=_var((), np.std(gains, ddof=1) / np.sqrt(len(gains)) if len(gains) > 1 else np.nan,
                                  "1", "standard error of the mean of the per-machine gains"),
        coupling_correction=_var((), 1.0 / gain, "1",
                                 "coupling_scale applied to translated weights by the default LIF sampler"),
    ).assign_attrs(title="Coupling calibration of LIF sampling (renewing synapses)", synapse=synapse,
                   seed=int(seed), u0_mV=float(calibration.u0_mV), alpha_mV=float(calibration.alpha_mV),
                   sampling_time_per_machine_ms=float(samples.shape[0] * samples.shape[2] * settings["sample_dt_ms"]))


def activation_point(calibration: xr.Dataset) -> ActivationPoint:
    """The :class:`ActivationPoint` of a calibration dataset (``results/calibration/activation/*.nc``).

    A non-finite value is refused, naming the file and the variable.
    """
    return ActivationPoint(*(float(finite_values(calibration, name))
                             for name in ("rate_exc_hz", "rate_inh_hz", "u0_mV", "alpha_mV")))


def coupling_correction(coupling: xr.Dataset) -> float:
    """The ``coupling_correction`` of a coupling calibration (``results/validation/coupling.nc``), refused if not finite."""
    return float(finite_values(coupling, "coupling_correction"))

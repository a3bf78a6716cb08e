"""Mixing analysis of free and tempered sampling runs (docs/mixing.md): per run, and the bootstrap summary.

Input: runs as written by :mod:`lif_tempering.tempering.runs` (:func:`~lif_tempering.tempering.runs.run_dataset`:
int8 states ``z`` (time, unit; visible units first) with ``time_ms``,
``temperature``, ``phase`` and attributes ``sampler``, ``schedule``, ``seed``,
``frequency_hz``, ``phase0``, ``t_max``, ``duration_ms``, ``burn_in_ms``,
``wall_time_s``, ``n_visible``; optionally ``training_seed`` and ``network``, the LIF
network that sampled: ``translated``, the plain translation of the trained RBM, when
absent).

**Readout.** Every sample's visible part is classified by a classifier trained on
the binarised images (:func:`lif_tempering.learning.classifier.train_classifier`), seeing
the visible state (``readout="visible"``) or, by default, ``p(v = 1 | h)`` of the
sample's hidden state at ``T = 1`` (``readout="mean_field"``). Free and tempered runs
are read in the same ground-state windows, the phases where the tempered schedule has
``T <= 1 + tolerance`` (a free run carries the tempered run's frequency); each window
gives one majority label (:func:`lif_tempering.analysis.metrics.majority_labels_per_window`):
label flicker within a window is classifier noise, not mixing.

Per run (:func:`run_mixing`, :data:`METRICS`): switch counts and rates, coverage
time, ground-state quality, the class histograms' D_KL against the data's class
prior and the RBM's own class distribution (D_KL(target || Jeffreys-smoothed
histogram), :mod:`lif_tempering.sampling.divergence`), and the sequences of window
labels and window free energies from which :mod:`lif_tempering.analysis.chains` computes
the multi-chain diagnostics of the seeds of one trained RBM; :func:`run_conditionals`
adds the in-network conditional calibration (:mod:`lif_tempering.sampling.conditionals`).

Across runs, :func:`combine_runs` stacks them on :data:`RUN_DIMS` and :func:`summarize`
adds means with two-stage (cluster) bootstrap intervals, trained RBMs then seeds within
each, the per-RBM diagnostics' means with bootstrap intervals over RBMs, and the
tempered/free ratios with intervals and a Poisson GEE rate ratio of the switch counts.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import xarray as xr

from lif_tempering.analysis.metrics import (
    cluster_bootstrap_ci,
    cluster_ratio_bootstrap_ci,
    count_label_switches,
    coverage_time,
    majority_labels_per_window,
    poisson_rate_ratio,
    running_class_counts,
    switch_rate_hz,
)
from lif_tempering.config import count_two_stage_resamples
from lif_tempering.learning.classifier import classify, visible_readout
from lif_tempering.learning.rbm import visible_free_energy
from lif_tempering.learning.reference import ModelReference
from lif_tempering.sampling.conditionals import (
    LAYERS,
    calibration_error,
    calibration_error_floor,
    conditional_curve,
    conditional_gains,
    layer_inputs,
)
from lif_tempering.sampling.divergence import kl_target_to_histogram
from lif_tempering.tempering.runs import rbm_arrays
from lif_tempering.tempering.schedules import MS_PER_S, ground_state_window_ids, window_centres_s

RUN_DIMS = ("network", "sampler", "schedule", "training_seed", "seed")
#: The network of a run without a ``network`` attribute: the plain translation of the trained RBM (block Gibbs
#: samples the trained RBM itself and is filed here too).
TRANSLATED_NETWORK = "translated"

#: Per-run scalar metrics: units and long names.
METRICS = {
    "switch_rate_hz": ("Hz", "changes of the ground-state window majority label per simulated second"),
    "n_switches": ("1", "changes of the ground-state window majority label in the run"),
    "sample_switch_rate_hz": ("Hz", "label changes between consecutive ground-state samples per simulated second"),
    "coverage_time_s": ("s", "sampling time until every class was the majority label of a window (inf: never)"),
    "ground_confidence": ("1", "mean classifier max-probability of the ground-state samples"),
    "ground_free_energy_gap": ("nat", "mean visible free energy F(v) of the ground-state samples minus that of the "
                                      "test images (> 0: less probable under the RBM than the data)"),
    "ground_visible_activity_ratio": ("1", "mean visible activity of the ground-state samples / the test images' "
                                           "mean pixel activity (< 1: fainter than the data)"),
    "ground_activity_fidelity": ("1", "1 - |ground_visible_activity_ratio - 1|: 1 where the ground-state samples are "
                                      "as bright as the test images, lower for fainter or brighter ones"),
    "class_kl_final": ("nat", "D_KL(data class prior || Jeffreys-smoothed window-label histogram) at the run's end"),
    "class_kl_reference_final": ("nat", "D_KL(reference class distribution || Jeffreys-smoothed window-label "
                                        "histogram) at the run's end"),
    "n_windows": ("1", "number of ground-state windows read"),
    "duration_s": ("s", "simulated sampling time after burn-in"),
    "wall_time_s": ("s", "wall-clock time of the sampling run"),
}
#: Long names of the class D_KL curves against sampling time.
CLASS_KL_CURVES = {
    "class_kl": "D_KL(data class prior || Jeffreys-smoothed histogram of the window labels so far)",
    "class_kl_reference": "D_KL(the RBM's reference class distribution || Jeffreys-smoothed histogram of the window "
                          "labels so far)",
}
#: Per-run conditional calibration (:func:`run_conditionals`) per layer: units and long names.
CONDITIONAL_METRICS = {
    "conditional_bias_gain": ("1", "bias gain a of the logistic fit logit P(z = 1) = a b + g (W z) + c of the "
                                   "layer's states (1: correct; nan: fit degenerate)"),
    "conditional_coupling_gain": ("1", "coupling gain g of the logistic fit logit P(z = 1) = a b + g (W z) + c"),
    "conditional_offset": ("1", "offset c of the logistic fit logit P(z = 1) = a b + g (W z) + c"),
    "conditional_calibration_error": ("1", "count-weighted mean |fraction on - mean sigmoid(u)| over the bins of "
                                           "the field u"),
    "conditional_calibration_error_floor": ("1", "conditional_calibration_error of a sampler following its "
                                                 "conditionals exactly with independent samples"),
}
#: Bin edges of the field ``u = b + W z`` (the logit of a unit's conditional) of the calibration curves.
FIELD_EDGES = np.linspace(-10.0, 10.0, 41)


# --------------------------------------------------------------------------- readout

def class_prior(labels, n_classes: int) -> np.ndarray:
    """Class frequencies of ``labels`` (e.g. the training set's), shape (n_classes,), summing to 1."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    if counts.size != n_classes or np.any(counts == 0):
        raise ValueError(f"every class 0 .. {n_classes - 1} must occur in labels, and no other")
    return counts / counts.sum()


def _window_means(values: np.ndarray, window_ids: np.ndarray, windows: np.ndarray) -> np.ndarray:
    inside = window_ids >= 0
    index = np.searchsorted(windows, window_ids[inside])
    sums = np.bincount(index, weights=values[inside], minlength=windows.size)
    return sums / np.bincount(index, minlength=windows.size)


class GroundStateReadout(NamedTuple):
    """The ground-state samples of a run, read: per sample its label, confidence, free energy (nat) and visible
    activity; per window its majority label, time (s after burn-in) and mean free energy."""

    labels: np.ndarray
    confidence: np.ndarray
    free_energy: np.ndarray
    visible_activity: float
    majority: np.ndarray
    window_times_s: np.ndarray
    window_free_energy: np.ndarray


def ground_state_readout(run: xr.Dataset, rbm, classifier, half_width_rad: float, readout: str,
                         readout_delay: float) -> GroundStateReadout:
    """:class:`GroundStateReadout` of ``run`` (only the ground-state samples are read: each sample's label and
    free energy depend on that sample alone)."""
    W, b_v, b_h = rbm_arrays(rbm)
    attrs = run.attrs
    n_visible, frequency_hz, phase0 = int(attrs["n_visible"]), float(attrs["frequency_hz"]), float(attrs["phase0"])
    window_ids = ground_state_window_ids(np.asarray(run["time_ms"].values, dtype=np.float64), frequency_hz,
                                         half_width_rad, phase0, readout_delay)
    ground = window_ids >= 0
    z_ground, window_ids = np.asarray(run["z"].values)[ground], window_ids[ground]
    labels, confidence = classify(classifier, visible_readout(z_ground, n_visible, W, b_v, readout))
    windows, majority = majority_labels_per_window(labels, window_ids)
    if windows.size < 2:
        raise ValueError(f"the run has {windows.size} ground-state window(s); need at least two")
    start_s = float(attrs["burn_in_ms"]) / MS_PER_S
    window_times_s = np.clip(window_centres_s(windows, frequency_hz, phase0) - start_s, 0.0, None)
    free_energy = visible_free_energy(z_ground[:, :n_visible], W, b_v, b_h)
    return GroundStateReadout(labels, confidence, free_energy, float(z_ground[:, :n_visible].mean()), majority,
                              window_times_s, _window_means(free_energy, window_ids, windows))


# --------------------------------------------------------------------------- one run

def _var(dims, values, units: str, long_name: str):
    return dims, values, {"units": units, "long_name": long_name}


def _scalar_metrics(read: GroundStateReadout, n_classes: int, duration_s: float, wall_time_s: float,
                    reference: ModelReference | None) -> dict:
    activity_ratio = read.visible_activity / reference.data_mean_visible if reference else np.nan
    values = {
        "switch_rate_hz": switch_rate_hz(read.majority, duration_s),
        "n_switches": count_label_switches(read.majority),
        "sample_switch_rate_hz": switch_rate_hz(read.labels, duration_s),
        "coverage_time_s": coverage_time(read.majority, read.window_times_s, n_classes),
        "ground_confidence": float(read.confidence.mean()),
        "ground_free_energy_gap": (float(read.free_energy.mean()) - reference.data_free_energy
                                   if reference else np.nan),
        "ground_visible_activity_ratio": activity_ratio,
        "ground_activity_fidelity": 1.0 - abs(activity_ratio - 1.0),
        "n_windows": read.majority.size,
        "duration_s": duration_s,
        "wall_time_s": wall_time_s,
    }
    return {name: _var((), value, *METRICS[name]) for name, value in values.items()}


def _class_kl_variables(read: GroundStateReadout, prior: np.ndarray, reference: ModelReference | None,
                        kl_times_s: np.ndarray) -> dict:
    """The class D_KL curves against sampling time and at the run's end, and the window-label histogram."""
    counts = running_class_counts(read.majority, read.window_times_s, prior.size, kl_times_s)
    final = np.bincount(read.majority, minlength=prior.size)
    targets = {"class_kl": prior, "class_kl_reference": reference.class_probability if reference else None}
    data = {}
    for name, target in targets.items():
        curve = kl_target_to_histogram(target, counts) if target is not None else np.full(kl_times_s.size, np.nan)
        data[name] = _var("kl_time_s", np.atleast_1d(curve), "nat", CLASS_KL_CURVES[name])
        end = kl_target_to_histogram(target, final) if target is not None else np.nan
        data[f"{name}_final"] = _var((), end, *METRICS[f"{name}_final"])
    data["class_fraction"] = _var("class", final / final.sum(), "1", "fraction of windows with each majority label")
    return data


def _window_variables(read: GroundStateReadout) -> dict:
    """The sequences the multi-chain diagnostics of a trained RBM's seeds are computed from."""
    return {
        "window_label": _var("window", read.majority.astype(np.float64), "1",
                             "majority class label of the ground-state window (nan: the run has no such window)"),
        "window_free_energy": _var("window", read.window_free_energy, "nat",
                                   "mean visible free energy F(v) of the ground-state window's samples"),
        "window_time_s": _var("window", read.window_times_s, "s",
                              "the window's T = 1 instant, sampling time after burn-in"),
    }


def _run_coords(attrs: dict, n_classes: int, kl_times_s: np.ndarray, n_windows: int) -> dict:
    return {
        "kl_time_s": ("kl_time_s", kl_times_s, {"units": "s", "long_name": "sampling time after burn-in"}),
        "class": ("class", np.arange(n_classes), {"units": "1", "long_name": "classifier class"}),
        "window": ("window", np.arange(n_windows), {"units": "1", "long_name": "ground-state window, in time order"}),
        "network": ((), str(attrs.get("network", TRANSLATED_NETWORK)),
                    {"units": "1", "long_name": "the LIF network that sampled (gibbs: the trained RBM, translated)"}),
        "sampler": ((), str(attrs["sampler"]), {"long_name": "sampler"}),
        "schedule": ((), str(attrs["schedule"]), {"long_name": "temperature schedule"}),
        "seed": ((), int(attrs["seed"]), {"long_name": "sampling seed"}),
        "training_seed": ((), int(attrs.get("training_seed", -1)), {"long_name": "RBM training seed"}),
        "frequency_hz": ((), float(attrs["frequency_hz"]),
                         {"units": "Hz", "long_name": "frequency of the readout oscillation"}),
        "t_max": ((), float(attrs["t_max"]), {"units": "1", "long_name": "highest temperature of the schedule"}),
    }


def run_mixing(run: xr.Dataset, rbm, classifier, prior, half_width_rad: float, readout: str = "mean_field",
               kl_times_s=None, readout_delay: float = 0.0, reference: ModelReference | None = None) -> xr.Dataset:
    """Mixing metrics of one run (see the module docstring): scalars, class D_KL curves and window sequences.

    ``rbm``: ``(W, b_v, b_h)`` or a dict with those keys (the ``T = 1`` model, for the
    mean-field readout and the free energy); ``prior`` (K,) the data's class
    frequencies; ``half_width_rad`` the ground-state windows' phase half-width;
    ``kl_times_s`` sampling times (s after burn-in) at which ``class_kl`` is evaluated
    (default every window period up to the run's end); ``readout_delay`` the fraction of
    each window skipped at its start (:func:`lif_tempering.tempering.schedules.ground_state_window_ids`).
    Scalar coordinates ``network``, ``sampler``, ``schedule``, ``seed``, ``training_seed``
    (-1 if the run has none), ``frequency_hz`` and ``t_max`` identify the run. ``reference``
    (:class:`ModelReference`) gives the RBM's own class distribution and the data's
    statistics for ``class_kl_reference`` and the ground-state quality measures (``nan``
    without one).
    """
    prior = np.asarray(prior, dtype=np.float64)
    attrs = run.attrs
    read = ground_state_readout(run, rbm, classifier, half_width_rad, readout, readout_delay)
    start_s = float(attrs["burn_in_ms"]) / MS_PER_S
    duration_s = float(attrs["duration_ms"]) / MS_PER_S - start_s
    if kl_times_s is None:
        period_s = 1.0 / float(attrs["frequency_hz"])
        kl_times_s = np.arange(1, int(np.floor(duration_s / period_s)) + 1) * period_s
    kl_times_s = np.asarray(kl_times_s, dtype=np.float64)
    data = {**_scalar_metrics(read, prior.size, duration_s, float(attrs["wall_time_s"]), reference),
            **_class_kl_variables(read, prior, reference, kl_times_s), **_window_variables(read)}
    return xr.Dataset(data, coords=_run_coords(attrs, prior.size, kl_times_s, read.majority.size), attrs={
        "readout": readout, "half_width_rad": float(half_width_rad), "readout_delay": float(readout_delay),
        "title": "Mixing metrics of one sampling run"})


def _layer_calibration(inputs) -> dict:
    """Gains (``nan`` where the fit is degenerate), curve, error and floor of one layer."""
    try:
        gains = conditional_gains(inputs)
        fitted = (gains.bias_gain, gains.coupling_gain, gains.offset)
    except ValueError:
        fitted = (np.nan, np.nan, np.nan)
    curve = conditional_curve(inputs, FIELD_EDGES)
    return {"conditional_bias_gain": fitted[0], "conditional_coupling_gain": fitted[1],
            "conditional_offset": fitted[2], "conditional_calibration_error": calibration_error(curve),
            "conditional_calibration_error_floor": calibration_error_floor(curve),
            "conditional_count": curve.counts, "conditional_fraction_on": curve.fraction_on,
            "conditional_expected_on": curve.expected_on}


def run_conditionals(run: xr.Dataset, rbm, tolerance: float, stride: int = 1) -> xr.Dataset:
    """In-network conditional calibration of ``run`` per layer (:mod:`lif_tempering.sampling.conditionals`).

    Every ``stride``-th sample with ``T <= 1 + tolerance`` is read (a free run: all of
    them, a tempered run: its ground states), against the conditionals of ``rbm``
    (``(W, b_v, b_h)``, as for :func:`run_mixing`): per layer (``visible``, ``hidden``) the
    gains and offset of the logistic fit, the binned curve on ``field_bin`` (bins
    :data:`FIELD_EDGES` of the field ``u``) and its calibration error beside its floor.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    W, b_v, b_h = rbm_arrays(rbm)
    cold = np.asarray(run["temperature"].values[::stride]) <= 1.0 + tolerance
    inputs = layer_inputs(np.asarray(run["z"].values[::stride])[cold], W, b_v, b_h)
    fits = [_layer_calibration(inputs[layer]) for layer in LAYERS]
    data = {name: _var("layer", [fit[name] for fit in fits], *CONDITIONAL_METRICS[name])
            for name in CONDITIONAL_METRICS}
    curves = {"conditional_count": ("1", "number of (sample, unit) entries with the field in the bin"),
              "conditional_fraction_on": ("1", "fraction of the bin's entries with z = 1 (nan: empty bin)"),
              "conditional_expected_on": ("1", "mean sigmoid(u) of the bin's entries: the fraction a correct "
                                               "sampler has on")}
    data.update({name: _var(("layer", "field_bin"), np.stack([fit[name] for fit in fits]), *curves[name])
                 for name in curves})
    data["conditional_n_samples"] = _var((), int(cold.sum()), "1", "samples read by the conditional calibration")
    centres = 0.5 * (FIELD_EDGES[1:] + FIELD_EDGES[:-1])
    coords = {"layer": ("layer", list(LAYERS), {"units": "1", "long_name": "layer of the RBM"}),
              "field_bin": ("field_bin", centres, {
                  "units": "1", "long_name": "centre of the bin of the field u = b + W z, the logit of the unit's "
                                             "conditional (the outermost bins also hold the fields beyond them)"})}
    return xr.Dataset(data, coords=coords, attrs={"conditional_stride": int(stride),
                                                  "conditional_tolerance": float(tolerance)})


# --------------------------------------------------------------------------- across runs

def combine_runs(runs: list[xr.Dataset], dims=RUN_DIMS) -> xr.Dataset:
    """Stack per-run datasets of :func:`run_mixing` along the scalar coordinates ``dims``.

    Missing combinations are filled with ``nan`` (runs with fewer windows too). For a
    parameter scan pass e.g. ``dims=("frequency_hz", "t_max", "seed")``. The other scalar
    coordinates (e.g. ``t_max``, 1 for free runs) become coordinates along ``dims``.
    """
    expanded = [_expand(run, tuple(dims)) for run in runs]
    combined = xr.combine_by_coords(expanded, combine_attrs="drop_conflicts", coords="different",
                                    compat="no_conflicts", join="outer")
    for dim in dims:
        combined[dim].attrs = dict(runs[0][dim].attrs)
    return combined


def _expand(run: xr.Dataset, dims: tuple) -> xr.Dataset:
    extra = [name for name, coord in run.coords.items() if coord.ndim == 0 and name not in dims]
    shape = (1,) * len(dims)
    return run.expand_dims(list(dims)).assign_coords(
        {name: (dims, np.reshape(run[name].values, shape), run[name].attrs) for name in extra})


# --------------------------------------------------------------------------- summary

#: Per-run metrics :func:`summarize` averages over runs with two-stage bootstrap intervals (those present).
SUMMARY_METRICS = ("switch_rate_hz", "sample_switch_rate_hz", "coverage_time_s", "ground_confidence",
                   "ground_free_energy_gap", "ground_visible_activity_ratio", "ground_activity_fidelity",
                   "class_kl_final", "class_kl_final_floor", "class_kl_final_excess", "class_kl_reference_final",
                   "class_kl_reference_final_floor", "class_kl_reference_final_excess", *CONDITIONAL_METRICS)
#: Per-RBM diagnostics (:mod:`lif_tempering.analysis.chains`) :func:`summarize` averages over trained RBMs, with
#: bootstrap intervals over RBMs (one value each).
CHAIN_SUMMARY_METRICS = ("r_hat_label", "ess_bulk_label", "ess_bulk_label_per_s", "ess_bulk_label_per_wall_s",
                         "r_hat_free_energy", "ess_bulk_free_energy_per_s", "pooled_class_kl_prior",
                         "pooled_class_kl_prior_floor", "pooled_class_kl_prior_excess", "pooled_class_kl_reference",
                         "pooled_class_kl_reference_floor", "pooled_class_kl_reference_excess")
#: Tempered/free ratios of means over runs: output name -> metric.
RATIOS = {"switch_ratio": "switch_rate_hz", "ground_confidence_ratio": "ground_confidence",
          "ground_activity_ratio": "ground_visible_activity_ratio",
          "ground_fidelity_ratio": "ground_activity_fidelity"}
#: Tempered/free ratios of means over trained RBMs of per-RBM diagnostics: output name -> metric.
CHAIN_RATIOS = {"ess_ratio": "ess_bulk_label_per_s"}
#: Ratios of every sampler and schedule against the free renewing LIF network (sampler ``lif``, schedule ``free``,
#: same network): output name -> metric.
RATIOS_VS_FREE_LIF = {"switch_ratio_vs_free_lif": "switch_rate_hz",
                      "ground_confidence_ratio_vs_free_lif": "ground_confidence",
                      "ground_activity_ratio_vs_free_lif": "ground_visible_activity_ratio",
                      "ground_fidelity_ratio_vs_free_lif": "ground_activity_fidelity"}
_RHAT_NOTE = "censored RBMs (no variation: nothing to compare) are left out; see {flag}_fraction"
_ESS_NOTE = "censored RBMs enter with one effective sample per seed (an upper bound)"
#: How :func:`summarize` states, in the mean's long_name, how censored values enter: metric -> note.
CENSORED_NOTES = {
    "coverage_time_s": "censored values (some class never visited) enter at the sampling duration (lower bound)",
    "r_hat_label": _RHAT_NOTE.format(flag="ess_bulk_label_censored"),
    "r_hat_free_energy": _RHAT_NOTE.format(flag="ess_bulk_free_energy_censored"),
    "ess_bulk_label": _ESS_NOTE, "ess_bulk_label_per_s": _ESS_NOTE, "ess_bulk_label_per_wall_s": _ESS_NOTE,
    "ess_bulk_free_energy_per_s": _ESS_NOTE,
}
#: The two stages of the bootstrap: clusters (trained RBMs) and units (seeds).
UNIT_DIMS = ("training_seed", "seed")
_ENDS = ("mean", "ci_low", "ci_high")


def _labels(cell: dict) -> tuple[str, ...]:
    return tuple(sorted(f"{dim}={label}" for dim, label in cell.items()))


class Resampling(NamedTuple):
    """What every bootstrap interval of :func:`summarize` draws from: a generator of its own for each interval, keyed
    by the runs it summarises (:meth:`generator`), so that adding, removing or changing other cells' runs leaves it
    as it is, and two statistics of the same runs (e.g. ``switch_ratio`` and the tempered ``lif`` cell of
    ``switch_ratio_vs_free_lif``) get the same interval."""

    seed: int
    n_resamples: int
    confidence: float

    def generator(self, *key: str) -> np.random.Generator:
        """A generator seeded by :attr:`seed` and a SHA-256 digest of ``key``."""
        digest = hashlib.sha256("\n".join(key).encode()).digest()
        return np.random.default_rng([self.seed, *np.frombuffer(digest[:16], dtype="<u4").tolist()])

    def mean(self, metric: str):
        """``cell_mean(values, cell)``: the mean of (cluster, unit) ``values`` of ``metric`` at ``cell`` (``{dim:
        label}``) with its two-stage interval; ``nan`` if none is present."""
        def cell_mean(values: np.ndarray, cell: dict) -> tuple[float, float, float]:
            if np.all(np.isnan(values)):
                return np.nan, np.nan, np.nan
            rng = self.generator("mean", metric, *_labels(cell))
            return tuple(cluster_bootstrap_ci(values, self.n_resamples, self.confidence, seed=rng))
        return cell_mean

    def ratio(self, metric: str, numerator_at: dict, denominator_at: dict):
        """``cell_ratio(numerator, denominator, cell)``: the paired ratio of the means of ``metric`` at ``cell`` updated
        by ``numerator_at`` and by ``denominator_at`` (``{dim: label}``), with its two-stage interval and
        zero-denominator fraction (:class:`RatioInterval`). Runs over themselves (the same labels on both sides) have
        the ratio 1 in every resample that defines one: their interval is the estimate itself."""
        def cell_ratio(numerator: np.ndarray, denominator: np.ndarray, cell: dict) -> tuple[float, float, float, float]:
            if not np.any(~np.isnan(numerator) & ~np.isnan(denominator)):
                return np.nan, np.nan, np.nan, np.nan
            over, under = _labels({**cell, **numerator_at}), _labels({**cell, **denominator_at})
            interval = cluster_ratio_bootstrap_ci(numerator, denominator, self.n_resamples, self.confidence,
                                                  seed=self.generator("ratio", metric, *over, "over", *under))
            if over == under:
                return interval.estimate, interval.estimate, interval.estimate, interval.zero_denominator_fraction
            return tuple(interval)
        return cell_ratio


def apply_to_cells(function, n_out: int, *arrays: xr.DataArray, labelled: bool = False) -> xr.DataArray:
    """``function(*cells)`` (``n_out`` floats) for every cell of the dims of ``arrays`` (broadcast together) other
    than :data:`UNIT_DIMS`; a cell is a (training seed, seed) array, or (training seed, 1) for per-RBM values.
    With ``labelled``, ``function(*cells, cell=labels)``, the cell's ``{dim: label}``. The arrays share the
    coordinates of the dims they share. Returns the dims of the cells and ``statistic`` (length ``n_out``)."""
    dims = list(dict.fromkeys(dim for a in arrays for dim in a.dims))
    cells = [dim for dim in dims if dim not in UNIT_DIMS]
    order = cells + [dim for dim in UNIT_DIMS if dim in dims]
    sizes = {dim: size for a in arrays for dim, size in a.sizes.items()}
    flat = []
    for a in arrays:
        values = np.asarray(a.transpose(*[dim for dim in order if dim in a.dims]).values, dtype=np.float64)
        values = np.broadcast_to(values.reshape([sizes[dim] if dim in a.dims else 1 for dim in order]),
                                 [sizes[dim] for dim in order])
        unit_shape = values.shape[len(cells):] + (1,) * (len(cells) + 2 - values.ndim)
        flat.append(values.reshape((-1,) + unit_shape))
    shape = tuple(sizes[dim] for dim in cells)
    coords = {dim: next(a[dim] for a in arrays if dim in a.dims) for dim in cells}
    labels = [{dim: str(coords[dim].values[i]) for dim, i in zip(cells, index)} for index in np.ndindex(shape)]
    results = [function(*cell, cell=label) if labelled else function(*cell) for cell, label in zip(zip(*flat), labels)]
    table = np.array(results, dtype=np.float64).reshape(shape + (n_out,))
    return xr.DataArray(table, dims=(*cells, "statistic"), coords=coords)


def _interval_variables(name: str, table: xr.DataArray, units: str, long_name: str, confidence: float,
                        ends=_ENDS) -> dict:
    """``{name}_{end}`` (or ``{name}`` for the estimate when ``ends[0]`` is empty) from ``table``'s statistics."""
    out = {}
    for k, end in enumerate(ends):
        what = {"": "", "mean": ": mean"}.get(end, f": {end.replace('ci_', '')} end of the bootstrap CI")
        attrs = {"units": units, "long_name": f"{long_name}{what}"}
        if end.startswith("ci_"):
            attrs["confidence"] = confidence
        out[f"{name}_{end}" if end else name] = table.isel(statistic=k, drop=True).assign_attrs(attrs)
    return out


def _metric_values(runs: xr.Dataset, metric: str) -> xr.DataArray:
    values = runs[metric]
    if metric == "coverage_time_s":  # censored at the sampling duration
        values = xr.where(np.isinf(values), runs["duration_s"], values)
    return values


def _means(runs: xr.Dataset, resampling: Resampling) -> dict:
    """``{metric}_mean``, ``_ci_low``, ``_ci_high`` of :data:`SUMMARY_METRICS` (over runs) and
    :data:`CHAIN_SUMMARY_METRICS` (over trained RBMs)."""
    out = {}
    for metric in (*SUMMARY_METRICS, *CHAIN_SUMMARY_METRICS):
        if metric not in runs:
            continue
        table = apply_to_cells(resampling.mean(metric), 3, _metric_values(runs, metric), labelled=True)
        what = "mean over runs" if metric in SUMMARY_METRICS else "mean over trained RBMs"
        note = f"; {CENSORED_NOTES[metric]}" if metric in CENSORED_NOTES else ""
        out.update(_interval_variables(metric, table, runs[metric].attrs["units"],
                                       f"{runs[metric].attrs['long_name']} ({what}{note})", resampling.confidence))
    return out


def _fractions_and_curves(runs: xr.Dataset) -> dict:
    """Censored fractions and the mean curves (class D_KL with floors, conditional calibration)."""
    present = ~np.isnan(runs["duration_s"])
    out = {"coverage_censored_fraction": np.isinf(runs["coverage_time_s"]).where(present).mean(UNIT_DIMS)
           .assign_attrs(units="1", long_name="fraction of runs in which some class was never visited "
                                              "(coverage censored)")}
    for flag in ("ess_bulk_label_censored", "ess_bulk_free_energy_censored"):
        if flag in runs:
            out[f"{flag}_fraction"] = runs[flag].mean("training_seed").assign_attrs(
                units="1", long_name=f"fraction of trained RBMs {runs[flag].attrs['long_name']}")
    for name in ("class_kl", "class_kl_floor", "class_kl_reference", "class_kl_reference_floor"):
        if name in runs:
            out[f"{name}_mean"] = runs[name].mean(UNIT_DIMS).assign_attrs(
                units="nat", long_name=f"{runs[name].attrs['long_name']}, mean over runs")
    if "conditional_count" in runs:
        counts = runs["conditional_count"].fillna(0.0)
        total = counts.sum(UNIT_DIMS)
        for name in ("conditional_fraction_on", "conditional_expected_on"):
            pooled = (counts * runs[name].fillna(0.0)).sum(UNIT_DIMS) / total.where(total > 0)
            out[f"{name}_pooled"] = pooled.assign_attrs(units="1", long_name=f"{runs[name].attrs['long_name']}, "
                                                                               "pooled over runs")
    return out


def _ratio_variables(name: str, table: xr.DataArray, what: str, confidence: float) -> dict:
    return _interval_variables(name, table.isel(statistic=slice(0, 3)), "1", what, confidence,
                               ends=("", "ci_low", "ci_high"))


#: Where the numerator and denominator of a tempered / free ratio sit (:meth:`Resampling.ratio`).
_SCHEDULE_PAIR = ({"schedule": "tempered"}, {"schedule": "free"})


def _schedules(values: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    return values.sel(schedule="tempered", drop=True), values.sel(schedule="free", drop=True)


def _by_training_seed(resampling: Resampling, metric: str, tempered: xr.DataArray,
                      free: xr.DataArray) -> xr.DataArray:
    """Each trained RBM's tempered/free ratio with its interval (its seeds resampled), dims ... x training_seed."""
    training_seeds = [str(training_seed) for training_seed in tempered["training_seed"].values]

    def per_rbm(numerator, denominator, cell):
        return np.concatenate([
            resampling.ratio(metric, *_SCHEDULE_PAIR)(numerator[j:j + 1], denominator[j:j + 1],
                                                      {**cell, "training_seed": training_seed})
            for j, training_seed in enumerate(training_seeds)])

    table = apply_to_cells(per_rbm, 4 * len(training_seeds), tempered, free, labelled=True)
    values = table.values.reshape(table.shape[:-1] + (len(training_seeds), 4))
    return xr.DataArray(values, dims=(*table.dims[:-1], "training_seed", "statistic"),
                        coords={**{dim: table[dim] for dim in table.dims[:-1]},
                                "training_seed": tempered["training_seed"]})


def _tempered_free_ratios(runs: xr.Dataset, resampling: Resampling) -> dict:
    """:data:`RATIOS` (paired over runs, pooled and ``_by_training_seed``) and :data:`CHAIN_RATIOS` (paired over
    trained RBMs) of the metrics present, with ``zero_free_switch_fraction``."""
    out = {}
    for name, metric in RATIOS.items():
        if metric not in runs:
            continue
        tempered, free = _schedules(_metric_values(runs, metric))
        what = f"tempered / free ratio of the mean {metric}"
        table = apply_to_cells(resampling.ratio(metric, *_SCHEDULE_PAIR), 4, tempered, free, labelled=True)
        out.update(_ratio_variables(name, table, what, resampling.confidence))
        if name == "switch_ratio":
            out["zero_free_switch_fraction"] = table.isel(statistic=3, drop=True).assign_attrs(
                units="1", long_name="fraction of the bootstrap resamples of switch_ratio whose free runs have no "
                                     "switch (their ratio is infinite, or counts in both tails if the tempered "
                                     "runs have none either)")
        by_rbm = _by_training_seed(resampling, metric, tempered, free)
        out.update(_ratio_variables(f"{name}_by_training_seed", by_rbm,
                                    f"{what} of one trained RBM (its seeds resampled)", resampling.confidence))
    for name, metric in CHAIN_RATIOS.items():
        if metric in runs:
            table = apply_to_cells(resampling.ratio(metric, *_SCHEDULE_PAIR), 4, *_schedules(runs[metric]),
                                   labelled=True)
            out.update(_ratio_variables(name, table, f"tempered / free ratio of the mean {metric} over trained RBMs "
                                                     "(RBMs resampled)", resampling.confidence))
    return out


def _glm_cell(confidence: float):
    def ratio(counts: np.ndarray, control_counts: np.ndarray, exposure: np.ndarray, control_exposure: np.ndarray):
        clusters = np.broadcast_to(np.arange(counts.shape[0])[:, None], counts.shape).ravel()
        treated = np.r_[np.ones(counts.size, dtype=bool), np.zeros(control_counts.size, dtype=bool)]
        return tuple(poisson_rate_ratio(np.r_[counts.ravel(), control_counts.ravel()],
                                        np.r_[exposure.ravel(), control_exposure.ravel()], treated,
                                        np.r_[clusters, clusters], confidence))
    return ratio


_GLM_NOTE = ("Poisson GEE rate ratio of the switch counts (log link, log duration as offset, trained RBMs as "
             "clusters, bias-reduced cluster-robust interval with a t quantile of n_RBMs - 1 degrees of freedom; "
             "inf if no {control} run switched, interval nan with fewer than two RBMs)")


def _switch_ratio_glms(runs: xr.Dataset, confidence: float) -> dict:
    """``switch_ratio_glm`` (tempered/free) and, with ``lif`` free runs, ``switch_ratio_vs_free_lif_glm``."""
    counts, duration = runs["n_switches"], runs["duration_s"]
    out = {}
    schedules = set(runs["schedule"].values)
    if {"free", "tempered"} <= schedules:
        table = apply_to_cells(_glm_cell(confidence), 3, *_schedules(counts), *_schedules(duration))
        out.update(_ratio_variables("switch_ratio_glm", table, "tempered / free switch rate: "
                                    + _GLM_NOTE.format(control="free"), confidence))
    if "lif" in runs["sampler"].values and "free" in schedules:
        control = {"sampler": "lif", "schedule": "free"}
        table = apply_to_cells(_glm_cell(confidence), 3, counts, counts.sel(control, drop=True), duration,
                               duration.sel(control, drop=True))
        out.update(_ratio_variables("switch_ratio_vs_free_lif_glm", table, "switch rate / that of the free lif runs "
                                    "of the same network: " + _GLM_NOTE.format(control="free lif"), confidence))
    return out


def _ratios_vs_free_lif(runs: xr.Dataset, resampling: Resampling) -> dict:
    """:data:`RATIOS_VS_FREE_LIF` of the metrics present, paired over (training seed, seed) with the free ``lif`` runs
    of the same network."""
    out = {}
    for name, metric in RATIOS_VS_FREE_LIF.items():
        if metric not in runs:
            continue
        values = _metric_values(runs, metric)
        control = {"sampler": "lif", "schedule": "free"}
        table = apply_to_cells(resampling.ratio(metric, {}, control), 4, values, values.sel(control, drop=True),
                               labelled=True)
        out.update(_ratio_variables(name, table, f"ratio of the mean {metric} to that of the free lif runs (same "
                                                 "network, training seeds and seeds)", resampling.confidence))
        if name == "switch_ratio_vs_free_lif":
            out["zero_free_lif_switch_fraction"] = table.isel(statistic=3, drop=True).assign_attrs(
                units="1", long_name="fraction of the bootstrap resamples of switch_ratio_vs_free_lif whose free lif "
                                     "runs have no switch")
    return out


def bootstrap_method(n_training_seeds: int, n_seeds: int, n_resamples: int, seed: int, confidence: float) -> str:
    """The ``bootstrap_method`` attribute: how the intervals of :func:`summarize` were computed."""
    return (f"two-stage cluster bootstrap: training seeds (trained RBMs) with replacement, then seeds within each "
            f"drawn RBM with replacement (the runs of one training seed and seed, e.g. a tempered/free pair, resampled "
            f"together; per-RBM diagnostics: RBMs with replacement); percentile interval at confidence "
            f"{confidence:g}, every resample counted (a ratio's 0 / 0 in both tails); {n_resamples} resamples; "
            f"seed {seed}, every interval drawing from a generator of its own (seeded by the seed and a digest of "
            f"the metric and the labels of the runs it summarises); {n_training_seeds} training seeds x {n_seeds} "
            f"seeds: "
            f"{count_two_stage_resamples(n_training_seeds, n_seeds):.4g} distinct resamples")


def summarize(runs: xr.Dataset, seed: int, n_resamples: int = 10_000, confidence: float = 0.95) -> xr.Dataset:
    """Bootstrap summary over runs of :func:`combine_runs` (dims :data:`RUN_DIMS`), with the per-RBM diagnostics.

    Adds, per network, sampler and schedule (and layer), ``{metric}_mean``,
    ``{metric}_ci_low``, ``{metric}_ci_high`` of :data:`SUMMARY_METRICS` (mean over runs,
    two-stage cluster bootstrap: trained RBMs, then seeds within each) and of
    :data:`CHAIN_SUMMARY_METRICS` (mean over trained RBMs, RBMs resampled); censored
    fractions; mean class D_KL curves with their floors and pooled conditional curves.
    Per network and sampler, with free and tempered runs: :data:`RATIOS` (pooled and
    ``_by_training_seed``), :data:`CHAIN_RATIOS`, ``zero_free_switch_fraction`` and
    ``switch_ratio_glm`` (:func:`lif_tempering.analysis.metrics.poisson_rate_ratio`); with
    ``lif`` free runs, per network, sampler and schedule, :data:`RATIOS_VS_FREE_LIF` and
    ``switch_ratio_vs_free_lif_glm``. Ratio intervals resample a (training seed, seed)
    pair's runs together. ``nan`` alone marks a missing value; an infinite one enters
    estimates and resamples alike (:func:`lif_tempering.analysis.metrics.ratio_interval`).
    Deterministic given ``seed``; an interval depends only on the runs it summarises
    (:class:`Resampling`), not on which other cells are summarised with them.
    """
    resampling = Resampling(seed, n_resamples, confidence)
    schedules, samplers = set(runs["schedule"].values), set(runs["sampler"].values)
    out = {**_means(runs, resampling), **_fractions_and_curves(runs)}
    if {"free", "tempered"} <= schedules:
        out.update(_tempered_free_ratios(runs, resampling))
    if "lif" in samplers and "free" in schedules:
        out.update(_ratios_vs_free_lif(runs, resampling))
    out.update(_switch_ratio_glms(runs, confidence))
    n_training_seeds, n_seeds = runs.sizes["training_seed"], runs.sizes["seed"]
    summary = runs.assign(out)
    summary.attrs = {"title": "Mixing of free and tempered sampling: per-run metrics and bootstrap summary",
                     "bootstrap_method": bootstrap_method(n_training_seeds, n_seeds, n_resamples, seed, confidence),
                     "bootstrap_resamples": int(n_resamples), "bootstrap_seed": int(seed),
                     "bootstrap_confidence": float(confidence),
                     "bootstrap_distinct_resamples": float(count_two_stage_resamples(n_training_seeds, n_seeds)),
                     **{k: v for k, v in runs.attrs.items()
                        if k in ("readout", "half_width_rad", "readout_delay", "conditional_stride",
                                 "conditional_tolerance")}}
    return summary

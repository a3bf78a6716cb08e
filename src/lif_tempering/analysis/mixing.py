"""Mixing analysis of free and tempered sampling runs (docs/mixing.md).

Input: runs as written by :mod:`lif_tempering.tempering.runs` (:func:`~lif_tempering.tempering.runs.run_dataset`:
int8 states ``z`` (time, unit; visible units first) with ``time_ms``,
``temperature``, ``phase`` and attributes ``sampler``, ``schedule``, ``seed``,
``frequency_hz``, ``phase0``, ``t_max``, ``duration_ms``, ``burn_in_ms``,
``wall_time_s``, ``n_visible``; optionally ``training_seed``).

**Readout.** Every sample's visible part is classified by a classifier trained on
the binarised images (:func:`lif_tempering.learning.classifier.train_classifier`). The classifier
sees either the visible state itself (``readout="visible"``) or, by default,
``p(v = 1 | h)`` of the sample's hidden state at ``T = 1``
(``readout="mean_field"``, see docs/mixing.md):
the mean field averages out single-pixel noise, which is sampling noise, not a
change of mode. The sample's label is the most probable class, its confidence
that class's probability.

**Ground state, read the same way in every run.** Free and tempered runs are read
in the same windows: the phase-0 (``T = 1``) windows of the tempered schedule,
``|phase| <= half_width_rad`` (:func:`ground_state_half_width` gives the half-width
for ``T <= 1 + tolerance``); a free run carries the tempered run's frequency, so
its windows lie at the same times. Each window gives one majority label
(:func:`lif_tempering.analysis.metrics.majority_labels_per_window`): label flicker within a
window is classifier noise, not mixing. Per run (:func:`run_mixing`):

- ``switch_rate_hz``: changes of the majority label between consecutive windows per
  simulated second (after burn-in); ``sample_switch_rate_hz`` counts changes
  between consecutive ground-state samples instead (flicker included);
- ``coverage_time_s``: time from the start of sampling to the window (centre) that
  completes the set of classes, ``inf`` if some class was never visited;
- ``class_kl``: D_KL of the running histogram of window labels to the class prior
  versus sampling time (nats);
- ``tau_int_label`` (s, named as in the data contract) and ``tau_int_free_energy_s``: integrated autocorrelation
  times (Sokal window, :func:`lif_tempering.analysis.metrics.integrated_autocorrelation_time`)
  of the one-hot window labels (slowest class) and of the window-mean visible free
  energy ``F(v)`` at ``T = 1``, in seconds (windows x period). Reliable only for runs
  of more than ~50 tau_int. A chain that never changes (stuck in one class) has no
  measurable tau_int, only a lower bound: it is *censored* at the run length
  (``n_windows`` windows; :func:`censored_tau_int`), and ``tau_int_censored`` (and
  ``tau_int_free_energy_censored``) is set, so that stuck chains stay in the means
  (as a never-completed coverage enters at the run's duration) instead of dropping out;
- ``ess_per_s``: effective number of window labels, ``n_windows / tau_int_label``, per
  simulated second (one sample for a censored chain), ``ess_per_wall_s`` per
  wall-clock second of the run; ``ess_free_energy_per_s`` likewise from the free energy;
- ``ground_confidence``: mean classifier max-probability of the ground-state samples.

**Against the model itself** (:class:`ModelReference`, built by
:func:`lif_tempering.learning.reference.model_reference`). A trained RBM need not reproduce
the data's class prior, so ``class_kl`` mixes how fast a sampler explores with how
far the RBM is from the data; ``class_kl_reference`` (and its end value
``class_kl_reference_final``) measures the window-label histogram against the RBM's
own class distribution from parallel tempering instead: it falls to 0 for a sampler
that mixes and is unbiased, and settles at a floor for a biased one (e.g. LIF). A
classifier can be fooled by faint, nearly empty images read as a confident "1"; two
measures it cannot be fooled on compare the ground-state visible states with the test
images: ``ground_free_energy_gap``, mean ``F(v)`` minus the test images' (nats; > 0
means less probable under the RBM), ``ground_visible_activity_ratio``, mean
pixel activity over the test images' (< 1: fainter), and ``ground_activity_fidelity``,
``1 - |ground_visible_activity_ratio - 1|`` (1: as bright as the data; a faint or an
overfull image scores low), the classifier-independent quality of the tempered/free bar.

Across runs, :func:`combine_runs` stacks them on ``sampler`` x ``schedule`` x
``training_seed`` x ``seed`` and :func:`summarize` adds two-stage (cluster) bootstrap
confidence intervals, trained RBMs then seeds within each
(:func:`lif_tempering.analysis.metrics.cluster_bootstrap_ci`), and the tempered/free ratios
(``switch_ratio`` etc.), pooled and per trained RBM.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from lif_tempering.analysis.metrics import (
    class_histogram_kl,
    cluster_bootstrap_ci,
    cluster_ratio_bootstrap_ci,
    coverage_time,
    integrated_autocorrelation_time,
    majority_labels_per_window,
    one_hot,
    switch_rate_hz,
)
from lif_tempering.config import count_two_stage_resamples
from lif_tempering.learning.classifier import classify, visible_readout
from lif_tempering.learning.rbm import visible_free_energy
from lif_tempering.learning.reference import ModelReference
from lif_tempering.tempering.runs import rbm_arrays
from lif_tempering.tempering.schedules import MS_PER_S, ground_state_window_ids, window_centres_s

RUN_DIMS = ("sampler", "schedule", "training_seed", "seed")

#: Per-run scalar metrics: units and long names.
METRICS = {
    "switch_rate_hz": ("Hz", "changes of the ground-state window majority label per simulated second"),
    "sample_switch_rate_hz": ("Hz", "label changes between consecutive ground-state samples per simulated second"),
    "coverage_time_s": ("s", "sampling time until every class was the majority label of a window (inf: never)"),
    "tau_int_label": ("s", "integrated autocorrelation time of the one-hot window label (slowest class)"),
    "tau_int_free_energy_s": ("s", "integrated autocorrelation time of the window-mean visible free energy"),
    "ess_per_s": ("Hz", "effective number of window labels per simulated second"),
    "ess_per_wall_s": ("Hz", "effective number of window labels per wall-clock second"),
    "ess_free_energy_per_s": ("Hz", "effective number of window free energies per simulated second"),
    "ground_confidence": ("1", "mean classifier max-probability of the ground-state samples"),
    "ground_free_energy_gap": ("nat", "mean visible free energy F(v) of the ground-state samples minus that of the "
                                      "test images (> 0: less probable under the RBM than the data)"),
    "ground_visible_activity_ratio": ("1", "mean visible activity of the ground-state samples / the test images' "
                                           "mean pixel activity (< 1: fainter than the data)"),
    "ground_activity_fidelity": ("1", "1 - |ground_visible_activity_ratio - 1|: 1 where the ground-state samples are "
                                      "as bright as the test images, lower for fainter or brighter ones"),
    "class_kl_reference_final": ("nat", "D_KL of the window-label histogram to the reference class distribution "
                                        "at the run's end"),
    "tau_int_censored": ("1", "the window label never changed: tau_int_label is the run length, a lower bound"),
    "tau_int_free_energy_censored": ("1", "the window free energy never changed: tau_int_free_energy_s is the run "
                                          "length, a lower bound"),
    "n_windows": ("1", "number of ground-state windows read"),
    "duration_s": ("s", "simulated sampling time after burn-in"),
    "wall_time_s": ("s", "wall-clock time of the sampling run"),
}

METRICS_KL_REFERENCE = "D_KL of the window-label histogram to the RBM's reference class distribution"

_TAU_NOTE = "censored values enter at the run length (lower bound)"
_ESS_NOTE = "censored runs enter with one effective sample (tau_int at the run length; an upper bound)"
#: How :func:`summarize` states, in the mean's long_name, that censored runs are included: metric -> note.
CENSORED_NOTES = {"tau_int_label": _TAU_NOTE, "tau_int_free_energy_s": _TAU_NOTE, "ess_per_s": _ESS_NOTE,
                  "ess_per_wall_s": _ESS_NOTE, "ess_free_energy_per_s": _ESS_NOTE,
                  "coverage_time_s": "censored values (some class never visited) enter at the sampling duration "
                                     "(lower bound)"}

#: Metrics summarised over runs by :func:`summarize`.
SUMMARY_METRICS = ("switch_rate_hz", "sample_switch_rate_hz", "coverage_time_s", "tau_int_label",
                   "tau_int_free_energy_s", "ess_per_s", "ess_per_wall_s", "ground_confidence",
                   "ground_free_energy_gap", "ground_visible_activity_ratio", "ground_activity_fidelity",
                   "class_kl_reference_final")

#: Tempered/free ratios of :func:`summarize`: output name -> metric.
RATIOS = {"switch_ratio": "switch_rate_hz", "ground_confidence_ratio": "ground_confidence",
          "ess_ratio": "ess_per_s", "ground_activity_ratio": "ground_visible_activity_ratio",
          "ground_fidelity_ratio": "ground_activity_fidelity",
          "class_kl_reference_ratio": "class_kl_reference_final"}
#: Ratios of :func:`summarize` of every sampler and schedule against the free renewing LIF network
#: (sampler ``lif``, schedule ``free``): output name -> metric.
RATIOS_VS_FREE_LIF = {"switch_ratio_vs_free_lif": "switch_rate_hz",
                      "ground_confidence_ratio_vs_free_lif": "ground_confidence",
                      "ground_activity_ratio_vs_free_lif": "ground_visible_activity_ratio",
                      "ground_fidelity_ratio_vs_free_lif": "ground_activity_fidelity"}


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


# --------------------------------------------------------------------------- one run

def censored_tau_int(tau_samples: float, n_samples: int) -> tuple[float, bool]:
    """``(tau_int, censored)`` in samples: ``tau_samples``, or ``n_samples`` (a lower bound) if unmeasurable.

    A series that never changes has no estimate (``nan``) and one whose estimate
    exceeds its length is not resolved by it: either way ``tau_int`` is only known
    to be at least the run length, so it is censored there (``censored = True``)
    and the effective sample size ``n_samples / tau_int`` is one.
    """
    if np.isfinite(tau_samples) and tau_samples <= n_samples:
        return float(tau_samples), False
    return float(n_samples), True


def run_mixing(run: xr.Dataset, rbm, classifier, prior, half_width_rad: float, readout: str = "mean_field",
               kl_times_s=None, c: float = 5.0, readout_delay: float = 0.0,
               reference: ModelReference | None = None) -> xr.Dataset:
    """Mixing metrics of one run (see the module docstring), as a Dataset of scalars and ``class_kl``.

    ``rbm``: ``(W, b_v, b_h)`` or a dict with those keys (the ``T = 1`` model, for the
    mean-field readout and the free energy); ``prior`` (K,) the data's class
    frequencies; ``half_width_rad`` the ground-state windows' phase half-width;
    ``kl_times_s`` sampling times (s after burn-in) at which ``class_kl`` is
    evaluated (default every window period up to the run's end); ``c`` Sokal's
    window factor; ``readout_delay`` the fraction of each window skipped at its start
    (:func:`lif_tempering.tempering.schedules.ground_state_window_ids`). Scalar coordinates
    ``sampler``, ``schedule``, ``seed``, ``training_seed`` (-1 if the run has none), ``frequency_hz`` and ``t_max``
    identify the run. ``reference`` (:class:`ModelReference`) gives the RBM's own class
    distribution and the data's statistics for ``class_kl_reference`` and the
    ground-state quality measures (``nan`` without one; ``class_kl_reference`` is ``nan``
    where its class distribution is None).
    """
    W, b_v, b_h = rbm_arrays(rbm)
    prior = np.asarray(prior, dtype=np.float64)
    attrs = run.attrs
    n_visible, frequency_hz, phase0 = int(attrs["n_visible"]), float(attrs["frequency_hz"]), float(attrs["phase0"])
    z = np.asarray(run["z"].values)
    t_ms = np.asarray(run["time_ms"].values, dtype=np.float64)
    start_s = float(attrs["burn_in_ms"]) / MS_PER_S
    duration_s = float(attrs["duration_ms"]) / MS_PER_S - start_s
    period_s = 1.0 / frequency_hz

    # Only the ground-state samples are read (a third to a half of a run): each sample's label
    # and free energy depend on that sample alone.
    window_ids = ground_state_window_ids(t_ms, frequency_hz, half_width_rad, phase0, readout_delay)
    ground = window_ids >= 0
    z_ground, window_ids = z[ground], window_ids[ground]
    labels, confidence = classify(classifier, visible_readout(z_ground, n_visible, W, b_v, readout))
    windows, majority = majority_labels_per_window(labels, window_ids)
    if windows.size < 2:
        raise ValueError(f"the run has {windows.size} ground-state window(s); need at least two")
    window_times_s = np.clip(window_centres_s(windows, frequency_hz, phase0) - start_s, 0.0, None)
    sample_free_energy = visible_free_energy(z_ground[:, :n_visible], W, b_v, b_h)
    free_energy = _window_means(sample_free_energy, window_ids, windows)

    tau_label, label_censored = censored_tau_int(
        integrated_autocorrelation_time(one_hot(majority, prior.size), c=c, combine="max"), windows.size)
    tau_free_energy, free_energy_censored = censored_tau_int(integrated_autocorrelation_time(free_energy, c=c),
                                                             windows.size)
    ess_label = windows.size / tau_label
    if kl_times_s is None:
        kl_times_s = np.arange(1, int(np.floor(duration_s / period_s)) + 1) * period_s
    kl_times_s = np.asarray(kl_times_s, dtype=np.float64)
    activity_ratio = float(z_ground[:, :n_visible].mean()) / reference.data_mean_visible if reference else np.nan
    values = {
        "switch_rate_hz": switch_rate_hz(majority, duration_s),
        "sample_switch_rate_hz": switch_rate_hz(labels, duration_s),
        "coverage_time_s": coverage_time(majority, window_times_s, prior.size),
        "tau_int_label": tau_label * period_s,
        "tau_int_free_energy_s": tau_free_energy * period_s,
        "ess_per_s": ess_label / duration_s,
        "ess_per_wall_s": ess_label / float(attrs["wall_time_s"]),
        "ess_free_energy_per_s": windows.size / tau_free_energy / duration_s,
        "ground_confidence": float(confidence.mean()),
        "ground_free_energy_gap": (float(sample_free_energy.mean()) - reference.data_free_energy
                                   if reference else np.nan),
        "ground_visible_activity_ratio": activity_ratio,
        "ground_activity_fidelity": 1.0 - abs(activity_ratio - 1.0),
        "tau_int_censored": label_censored,
        "tau_int_free_energy_censored": free_energy_censored,
        "n_windows": windows.size,
        "duration_s": duration_s,
        "wall_time_s": float(attrs["wall_time_s"]),
    }
    data = {name: ((), value, {"units": METRICS[name][0], "long_name": METRICS[name][1]})
            for name, value in values.items()}
    data["class_kl"] = ("kl_time_s", class_histogram_kl(majority, window_times_s, prior, kl_times_s),
                        {"units": "nat", "long_name": "D_KL of the window-label histogram to the class prior"})
    kl_reference = (class_histogram_kl(majority, window_times_s, reference.class_probability, kl_times_s)
                    if reference and reference.class_probability is not None else np.full(kl_times_s.size, np.nan))
    data["class_kl_reference"] = ("kl_time_s", kl_reference, {"units": "nat", "long_name": METRICS_KL_REFERENCE})
    data["class_kl_reference_final"] = ((), kl_reference[-1] if kl_reference.size else np.nan,
                                        {"units": "nat", "long_name": METRICS["class_kl_reference_final"][1]})
    data["class_fraction"] = ("class", np.bincount(majority, minlength=prior.size) / majority.size,
                              {"units": "1", "long_name": "fraction of windows with each majority label"})
    coords = {
        "kl_time_s": ("kl_time_s", kl_times_s, {"units": "s", "long_name": "sampling time after burn-in"}),
        "class": ("class", np.arange(prior.size), {"units": "1", "long_name": "classifier class"}),
        "sampler": ((), str(attrs["sampler"]), {"long_name": "sampler"}),
        "schedule": ((), str(attrs["schedule"]), {"long_name": "temperature schedule"}),
        "seed": ((), int(attrs["seed"]), {"long_name": "sampling seed"}),
        "training_seed": ((), int(attrs.get("training_seed", -1)), {"long_name": "RBM training seed"}),
        "frequency_hz": ((), frequency_hz, {"units": "Hz", "long_name": "frequency of the readout oscillation"}),
        "t_max": ((), float(attrs["t_max"]), {"units": "1", "long_name": "highest temperature of the schedule"}),
    }
    return xr.Dataset(data, coords=coords, attrs={
        "readout": readout, "half_width_rad": float(half_width_rad), "readout_delay": float(readout_delay),
        "sokal_c": float(c), "title": "Mixing metrics of one sampling run"})


# --------------------------------------------------------------------------- across runs

def combine_runs(runs: list[xr.Dataset], dims=RUN_DIMS) -> xr.Dataset:
    """Stack per-run datasets of :func:`run_mixing` along the scalar coordinates ``dims``.

    Missing combinations are filled with ``nan``. For a parameter scan pass e.g.
    ``dims=("frequency_hz", "t_max", "seed")``. The other scalar coordinates (e.g.
    ``t_max``, 1 for free runs) become coordinates along ``dims``.
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


def _clusters(da: xr.DataArray) -> np.ndarray:
    """Values of ``da`` as (sampler, schedule, training seed, seed): trained RBMs are the bootstrap's clusters,
    seeds its units."""
    return np.asarray(da.transpose(*RUN_DIMS).values, dtype=np.float64)


def _interval(values: np.ndarray, rng, n_resamples: int, confidence: float) -> tuple[float, float, float]:
    if not np.isfinite(values).any():
        return np.nan, np.nan, np.nan
    return tuple(cluster_bootstrap_ci(values, n_resamples=n_resamples, confidence=confidence, seed=rng))


def _ratio(tempered: np.ndarray, free: np.ndarray, rng, n_resamples: int, confidence: float):
    if not (np.isfinite(tempered) & np.isfinite(free)).any():
        return np.nan, np.nan, np.nan
    return tuple(cluster_ratio_bootstrap_ci(tempered, free, n_resamples=n_resamples, confidence=confidence,
                                            seed=rng))


def bootstrap_method(n_training_seeds: int, n_seeds: int, n_resamples: int, seed: int, confidence: float) -> str:
    """The ``bootstrap_method`` attribute: how the intervals of :func:`summarize` were computed."""
    return (f"two-stage cluster bootstrap: training seeds (trained RBMs) with replacement, then seeds within each "
            f"drawn RBM with replacement (the runs of one training seed and seed, e.g. a tempered/free pair, resampled "
            f"together); percentile interval at "
            f"confidence {confidence:g}; {n_resamples} resamples; seed {seed}; {n_training_seeds} training seeds x "
            f"{n_seeds} seeds: {count_two_stage_resamples(n_training_seeds, n_seeds):.4g} distinct resamples")


def summarize(runs: xr.Dataset, seed: int, n_resamples: int = 10_000, confidence: float = 0.95) -> xr.Dataset:
    """Bootstrap summary over runs of :func:`combine_runs` (dims sampler, schedule, training_seed, seed).

    Every interval is a two-stage (cluster) percentile bootstrap
    (:func:`lif_tempering.analysis.metrics.cluster_bootstrap_ci`): training seeds (trained
    RBMs, which differ more than runs of one RBM) are resampled with replacement,
    then seeds within each drawn RBM; the method is stated in the attribute
    ``bootstrap_method``. Adds, per sampler and schedule, ``{metric}_mean``,
    ``{metric}_ci_low``, ``{metric}_ci_high`` for :data:`SUMMARY_METRICS` (the mean
    over all runs; runs with ``nan`` left out). Censored runs stay in: a coverage that
    was never completed enters at the sampling duration, a stuck chain's tau_int at
    the run length and its ESS accordingly (:func:`censored_tau_int`), all lower
    bounds (upper for the ESS), and ``coverage_censored_fraction``,
    ``tau_int_censored_fraction`` and ``tau_int_free_energy_censored_fraction`` say
    how many runs were censored. Per sampler, the tempered/free ratios of means
    :data:`RATIOS` (``switch_ratio`` etc.) with ``_ci_low``/``_ci_high``: the
    (training seed, seed) pairs of free and tempered runs (which sample the same
    trained RBM) are resampled together and each resample's ratio is taken over the
    same pairs; ``{ratio}_by_training_seed`` gives the ratio of each trained RBM
    separately (its seeds resampled); runs of one schedule only (e.g. free runs) have
    none. Where the runs hold the sampler ``lif``, per sampler and schedule the ratios
    :data:`RATIOS_VS_FREE_LIF` (``switch_ratio_vs_free_lif`` etc.) of its mean to that of the
    free ``lif`` runs, paired and resampled over the same (training seed, seed) pairs (1 for
    the free ``lif`` runs themselves): the 2 x 2 design
    renewing / short-term plasticity x free / tempered on one scale. ``class_kl_mean`` is
    the mean over runs. Deterministic given ``seed``.
    """
    rng = np.random.default_rng(seed)
    out = {}
    samplers, schedules = runs["sampler"].values, runs["schedule"].values
    duration = runs["duration_s"]
    for metric in SUMMARY_METRICS:
        values = runs[metric]
        if metric == "coverage_time_s":
            values = xr.where(np.isinf(values), duration, values)
        table = np.full((3, samplers.size, schedules.size), np.nan)
        cells = _clusters(values)
        for i in range(samplers.size):
            for j in range(schedules.size):
                table[:, i, j] = _interval(cells[i, j], rng, n_resamples, confidence)
        units, long_name = METRICS[metric]
        note = f"; {CENSORED_NOTES[metric]}" if metric in CENSORED_NOTES else ""
        for k, suffix in enumerate(("mean", "ci_low", "ci_high")):
            what = "mean over runs" if suffix == "mean" else f"{suffix.replace('ci_', '')} end of the bootstrap CI"
            out[f"{metric}_{suffix}"] = (("sampler", "schedule"), table[k],
                                         {"units": units, "confidence": confidence,
                                          "long_name": f"{long_name}: {what}{note}"})
    runs_present = np.isfinite(runs["duration_s"])
    out["coverage_censored_fraction"] = np.isinf(runs["coverage_time_s"]).where(runs_present).mean(
        ("training_seed", "seed")).assign_attrs(
        units="1", long_name="fraction of runs in which some class was never visited (coverage censored)")
    for flag in ("tau_int_censored", "tau_int_free_energy_censored"):
        out[f"{flag}_fraction"] = runs[flag].astype(np.float64).where(runs_present).mean(
            ("training_seed", "seed")).assign_attrs(units="1", long_name=f"fraction of runs with {flag}: "
                                                                          f"{METRICS[flag][1]}")
    out["class_kl_mean"] = runs["class_kl"].mean(("training_seed", "seed")).assign_attrs(
        units="nat", long_name="D_KL of the window-label histogram to the class prior, mean over runs")
    out["class_kl_reference_mean"] = runs["class_kl_reference"].mean(("training_seed", "seed")).assign_attrs(
        units="nat", long_name=f"{METRICS_KL_REFERENCE}, mean over runs")
    training_seeds = runs["training_seed"].values
    ratios = RATIOS if {"free", "tempered"} <= set(schedules) else {}
    for name, metric in ratios.items():
        table = np.full((3, samplers.size), np.nan)
        by_rbm = np.full((3, samplers.size, training_seeds.size), np.nan)
        cells = _clusters(runs[metric].sel(schedule=["tempered", "free"]))
        for i in range(samplers.size):
            tempered, free = cells[i]
            table[:, i] = _ratio(tempered, free, rng, n_resamples, confidence)
            for j in range(training_seeds.size):
                by_rbm[:, i, j] = _ratio(tempered[j:j + 1], free[j:j + 1], rng, n_resamples, confidence)
        _add_ratio(out, name, metric, ("sampler",), table, confidence)
        _add_ratio(out, f"{name}_by_training_seed", metric, ("sampler", "training_seed"), by_rbm, confidence,
                   " of one trained RBM (its seeds resampled)")
    if "lif" in samplers and "free" in schedules:
        for name, metric in RATIOS_VS_FREE_LIF.items():
            cells = _clusters(runs[metric])
            free_lif = cells[list(samplers).index("lif"), list(schedules).index("free")]
            table = np.full((3, samplers.size, schedules.size), np.nan)
            for i in range(samplers.size):
                for j in range(schedules.size):
                    table[:, i, j] = _ratio(cells[i, j], free_lif, rng, n_resamples, confidence)
            _add_ratio(out, name, metric, ("sampler", "schedule"), table, confidence,
                       what="ratio of the mean {metric} to that of the free lif runs (same training seeds and seeds)")
    n_training_seeds, n_seeds = runs.sizes["training_seed"], runs.sizes["seed"]
    summary = runs.assign(out)
    summary.attrs = {"title": "Mixing of free and tempered sampling: per-run metrics and bootstrap summary",
                     "bootstrap_method": bootstrap_method(n_training_seeds, n_seeds, n_resamples, seed, confidence),
                     "bootstrap_resamples": int(n_resamples), "bootstrap_seed": int(seed),
                     "bootstrap_confidence": float(confidence),
                     "bootstrap_distinct_resamples": float(count_two_stage_resamples(n_training_seeds, n_seeds)),
                     **{k: v for k, v in runs.attrs.items()
                        if k in ("readout", "half_width_rad", "readout_delay", "sokal_c")}}
    return summary


def _add_ratio(out: dict, name: str, metric: str, dims: tuple, table: np.ndarray, confidence: float,
               scope: str = "", what: str = "tempered / free ratio of the mean {metric}") -> None:
    what = what.format(metric=metric) + scope
    out[name] = (dims, table[0], {"units": "1", "long_name": what})
    out[f"{name}_ci_low"] = (dims, table[1], {"units": "1", "long_name": f"{what}: low end of the bootstrap CI",
                                              "confidence": confidence})
    out[f"{name}_ci_high"] = (dims, table[2], {"units": "1", "long_name": f"{what}: high end of the bootstrap CI",
                                               "confidence": confidence})

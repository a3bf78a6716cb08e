"""Phase-resolved diagnostics of tempered and free runs (docs/tempering.md).

Every sample of a run has a phase ``phi`` of the readout oscillation (0: the
``T = 1`` instant, pi: the schedule's peak ``T_max``); a free run is read at the
tempered run's frequency (:func:`lif_tempering.analysis.study.read_at`), so both
are binned at the same phases. Per phase bin (``n_bins`` equal bins of
[0, 2 pi)), :func:`phase_profiles` averages

- ``temperature``: the schedule's ``T``;
- ``visible_activity``, ``hidden_activity``: fraction of active units of each layer;
- ``image_activity``: mean pixel of the image the classifier sees (the visible
  state, or ``p(v = 1 | h)`` for the mean-field readout);
- ``confidence``: the classifier's probability of its label;
- ``label_change_probability``: probability that a sample's label differs from
  the previous sample's (sample ``k`` counts in the bin of its own phase);
- ``free_energy``: the visible free energy ``F(v)`` of the ``T = 1`` RBM (nat; low
  is a probable, data-like state).

*Relaxation time* (:func:`relaxation_times_ms`): after each peak instant
(phase pi) the network time until the first sample that is *recovered*, i.e.
classified with confidence at least the free runs' median confidence (same
sampler and trained RBM) and with image activity within ``activity_tolerance``
(relative) of the test images' mean pixel. Only peaks followed by a whole period
of samples count; a peak with no recovered sample before the next peak is
censored at one period (a lower bound). Free runs, read at the same instants,
give the baseline: the time a T = 1 chain needs to show such a sample anyway.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from lif_tempering.analysis.mixing import combine_runs
from lif_tempering.analysis.study import read_at
from lif_tempering.learning.classifier import classify, visible_readout
from lif_tempering.learning.rbm import visible_free_energy
from lif_tempering.learning.study import rbm_classifier, rbm_parameters
from lif_tempering.tempering.runs import rbm_arrays
from lif_tempering.tempering.schedules import MS_PER_S, TWO_PI

#: Per-bin variables of :func:`phase_profiles`: name -> (units, long_name).
PROFILE_VARIABLES = {
    "temperature": ("1", "target temperature T of the schedule"),
    "visible_activity": ("1", "fraction of active visible units"),
    "hidden_activity": ("1", "fraction of active hidden units"),
    "image_activity": ("1", "mean pixel of the image the classifier sees"),
    "confidence": ("1", "classifier probability of the sample's label"),
    "label_change_probability": ("1", "probability that the label differs from the previous sample's"),
    "free_energy": ("nat", "visible free energy F(v) of the T = 1 RBM"),
}


def phase_bin_index(phase, n_bins: int) -> np.ndarray:
    """Bin ``floor(n_bins phase / 2 pi)`` of each phase (rad, in [0, 2 pi)), int64 in [0, n_bins)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    phase = np.asarray(phase, dtype=np.float64)
    if np.any(phase < 0) or np.any(phase >= TWO_PI):
        raise ValueError("phases must lie in [0, 2 pi)")
    return np.minimum(np.floor(phase / TWO_PI * n_bins).astype(np.int64), n_bins - 1)


def phase_bin_centres(n_bins: int) -> np.ndarray:
    """Centre (rad) of each of ``n_bins`` equal bins of [0, 2 pi)."""
    return (np.arange(n_bins) + 0.5) * TWO_PI / n_bins


def binned_mean(values, bins, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the finite ``values`` in each bin and their count; ``nan`` for an empty bin. Shapes (n_bins,)."""
    values, bins = np.asarray(values, dtype=np.float64), np.asarray(bins, dtype=np.int64)
    finite = np.isfinite(values)
    counts = np.bincount(bins[finite], minlength=n_bins)
    sums = np.bincount(bins[finite], weights=values[finite], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), counts


def label_changes(labels) -> np.ndarray:
    """1.0 where a label differs from the previous one, 0.0 where not; ``nan`` for the first sample."""
    labels = np.asarray(labels)
    return np.concatenate([[np.nan], (labels[1:] != labels[:-1]).astype(np.float64)])


def peak_times_ms(frequency_hz: float, phase0: float, start_ms: float, end_ms: float) -> np.ndarray:
    """Instants (ms) in [start_ms, end_ms] where the phase ``2 pi f t + phase0`` is pi (mod 2 pi): the ``T_max`` peaks."""
    period_ms = MS_PER_S / frequency_hz
    offset_ms = (0.5 - phase0 / TWO_PI) * period_ms
    first, last = np.ceil((start_ms - offset_ms) / period_ms), np.floor((end_ms - offset_ms) / period_ms)
    return offset_ms + np.arange(first, last + 1) * period_ms


def recovered(confidence, image_activity, confidence_threshold: float, activity_target: float,
              activity_tolerance: float) -> np.ndarray:
    """Samples with ``confidence >= confidence_threshold`` and ``|activity - target| <= tolerance * target``."""
    image_activity = np.asarray(image_activity, dtype=np.float64)
    return (np.asarray(confidence) >= confidence_threshold) & (
        np.abs(image_activity - activity_target) <= activity_tolerance * activity_target)


def relaxation_times_ms(time_ms, is_recovered, peaks_ms, period_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Time (ms) from each peak to the first recovered sample at or after it, and whether it is censored.

    Peaks after which the run does not last a whole period are dropped. A peak with
    no recovered sample before ``peak + period_ms`` gets ``period_ms`` and
    ``censored = True``. Returns two arrays of the kept peaks' length.
    """
    time_ms = np.asarray(time_ms, dtype=np.float64)
    peaks_ms = np.asarray(peaks_ms, dtype=np.float64)
    peaks_ms = peaks_ms[peaks_ms + period_ms <= time_ms[-1]]
    recovered_ms = time_ms[np.asarray(is_recovered, dtype=bool)]
    index = np.searchsorted(recovered_ms, peaks_ms, side="left")
    found = index < recovered_ms.size
    delay_ms = np.full(peaks_ms.shape, np.inf)
    delay_ms[found] = recovered_ms[index[found]] - peaks_ms[found]
    censored = delay_ms >= period_ms
    return np.where(censored, period_ms, delay_ms), censored


def sample_measures(run: xr.Dataset, rbm, classifier, readout: str) -> dict[str, np.ndarray]:
    """Per-sample values of :data:`PROFILE_VARIABLES` of ``run`` (visible units first), and its ``label``."""
    W, b_v, b_h = rbm_arrays(rbm)
    n_visible = int(run.attrs["n_visible"])
    z = np.asarray(run["z"].values)
    images = visible_readout(z, n_visible, W, b_v, readout)
    labels, confidence = classify(classifier, images)
    v = z[:, :n_visible]
    return {"temperature": np.asarray(run["temperature"].values, dtype=np.float64),
            "visible_activity": v.mean(axis=1), "hidden_activity": z[:, n_visible:].mean(axis=1),
            "image_activity": images.mean(axis=1), "confidence": confidence,
            "label_change_probability": label_changes(labels), "free_energy": visible_free_energy(v, W, b_v, b_h),
            "label": labels}


def phase_profiles(run: xr.Dataset, measures: dict[str, np.ndarray], n_bins: int, confidence_threshold: float,
                   activity_target: float, activity_tolerance: float) -> xr.Dataset:
    """Phase profiles and relaxation times of one run (already read at the condition's frequency).

    ``measures`` from :func:`sample_measures`. Returns the :data:`PROFILE_VARIABLES`
    and ``n_samples`` on dim ``phase``, the scalars ``relaxation_time_ms`` (mean
    over peaks, censored peaks at one period), ``relaxation_censored_fraction`` and
    ``n_peaks``, and the run's identity as scalar coordinates (sampler, schedule,
    training_seed, seed).
    """
    bins = phase_bin_index(run["phase"].values, n_bins)
    data = {}
    for name, (units, long_name) in PROFILE_VARIABLES.items():
        mean, counts = binned_mean(measures[name], bins, n_bins)
        data[name] = ("phase", mean, {"units": units, "long_name": f"{long_name}, mean per phase bin"})
    data["n_samples"] = ("phase", counts, {"units": "1", "long_name": "samples in the phase bin"})
    time_ms = np.asarray(run["time_ms"].values, dtype=np.float64)
    frequency_hz, phase0 = float(run.attrs["frequency_hz"]), float(run.attrs["phase0"])
    period_ms = MS_PER_S / frequency_hz
    is_recovered = recovered(measures["confidence"], measures["image_activity"], confidence_threshold,
                             activity_target, activity_tolerance)
    delays_ms, censored = relaxation_times_ms(time_ms, is_recovered,
                                              peak_times_ms(frequency_hz, phase0, time_ms[0], time_ms[-1]), period_ms)
    if delays_ms.size == 0:
        raise ValueError(f"the run ({time_ms[0]} .. {time_ms[-1]} ms) holds no peak followed by a whole period")
    data["relaxation_time_ms"] = ((), float(delays_ms.mean()), {
        "units": "ms", "long_name": "mean time from a T_max peak to the first recovered sample "
                                    "(censored peaks at one period: a lower bound)"})
    data["relaxation_censored_fraction"] = ((), float(censored.mean()), {
        "units": "1", "long_name": "fraction of peaks with no recovered sample within one period"})
    data["n_peaks"] = ((), int(delays_ms.size), {"units": "1", "long_name": "peaks followed by a whole period"})
    data["confidence_threshold"] = ((), float(confidence_threshold), {
        "units": "1", "long_name": "confidence a recovered sample reaches (free runs' median)"})
    coords = {
        "phase": ("phase", phase_bin_centres(n_bins), {"units": "rad", "long_name": "phase bin centre (0: T = 1, "
                                                                                   "pi: T_max)"}),
        "sampler": ((), str(run.attrs["sampler"]), {"long_name": "sampler"}),
        "schedule": ((), str(run.attrs["schedule"]), {"long_name": "temperature schedule"}),
        "training_seed": ((), int(run.attrs.get("training_seed", -1)), {"long_name": "RBM training seed"}),
        "seed": ((), int(run.attrs["seed"]), {"long_name": "sampling seed"}),
    }
    return xr.Dataset(data, coords=coords)


def combine_phase_profiles(profiles: list[xr.Dataset], attrs: dict) -> xr.Dataset:
    """Per-run profiles stacked on sampler x schedule x training_seed x seed, with means over runs per phase bin.

    ``{name}_mean`` (sampler, schedule, phase) averages the runs' bin means with equal
    weight per run; ``relaxation_time_ms_mean`` (sampler, schedule) likewise. Samplers
    keep the order of their first profile.
    """
    samplers = list(dict.fromkeys(str(profile["sampler"].item()) for profile in profiles))
    runs = combine_runs(profiles, dims=("sampler", "schedule", "training_seed", "seed")).sel(sampler=samplers)
    for name in ("sampler", "schedule", "training_seed", "seed"):
        runs[name].attrs["units"] = "1"
    for name in (*PROFILE_VARIABLES, "relaxation_time_ms", "relaxation_censored_fraction"):
        mean = runs[name].mean(("training_seed", "seed"))
        runs[f"{name}_mean"] = mean.assign_attrs(units=runs[name].attrs["units"],
                                                 long_name=f"{runs[name].attrs['long_name']}; mean over runs")
    runs.attrs.update(attrs, title="Phase-resolved diagnostics of free and tempered runs")
    return runs


def group_profiles(runs: list[xr.Dataset], rbm: xr.Dataset, frequency_hz: float, n_bins: int, readout: str,
                   activity_target: float, activity_tolerance: float) -> list[xr.Dataset]:
    """:func:`phase_profiles` of the free and tempered ``runs`` of one sampler and trained RBM ``rbm``.

    Every run is read at ``frequency_hz`` (:func:`~lif_tempering.analysis.study.read_at`);
    a sample is recovered (:func:`recovered`) when its confidence reaches the median
    confidence of all free runs of the group and its image activity is within
    ``activity_tolerance`` (relative) of ``activity_target`` (the test images' mean pixel).
    """
    runs = [read_at(run, frequency_hz) for run in runs]
    if len({(run.attrs["sampler"], int(run.attrs["training_seed"])) for run in runs}) != 1:
        raise ValueError("a group holds the runs of one sampler and one trained RBM")
    W, b_v, b_h = rbm_parameters(rbm)
    classifier = rbm_classifier(rbm)
    measures = [sample_measures(run, (W, b_v, b_h), classifier, readout) for run in runs]
    free = [values["confidence"] for run, values in zip(runs, measures) if run.attrs["schedule"] == "free"]
    if not free:
        raise ValueError("no free run in the group to set the confidence threshold")
    threshold = float(np.median(np.concatenate(free)))
    return [phase_profiles(run, values, n_bins, threshold, activity_target, activity_tolerance)
            for run, values in zip(runs, measures)]


def stack_group_profiles(profiles: list[xr.Dataset], attrs: dict) -> xr.Dataset:
    """The per-run profiles of one group (:func:`group_profiles`) in one dataset along dim ``run``.

    Coordinates that differ between runs (schedule, seed) run along ``run``; ``attrs``
    (:func:`diagnostics_attrs`) describe the group. :func:`unstack_group_profiles` undoes it.
    """
    stacked = xr.concat(profiles, dim="run")
    stacked = stacked.assign_coords(run=("run", np.arange(len(profiles)),
                                         {"units": "1", "long_name": "run of the group"}))
    return stacked.assign_attrs(attrs, title="Phase profiles of the free and tempered runs of one sampler and "
                                             "trained RBM")


def unstack_group_profiles(stacked: xr.Dataset) -> list[xr.Dataset]:
    """The per-run profiles of a :func:`stack_group_profiles` dataset."""
    return [stacked.isel(run=k).drop_vars("run").drop_attrs(deep=False) for k in range(stacked.sizes["run"])]


def diagnostics_attrs(frequency_hz: float, n_bins: int, readout: str, activity_target: float,
                      activity_tolerance: float) -> dict:
    """Attributes of :func:`combine_phase_profiles` naming what the diagnostics depend on."""
    return {"readout_frequency_hz": float(frequency_hz), "readout": readout, "n_phase_bins": int(n_bins),
            "data_mean_visible": float(activity_target), "activity_tolerance": float(activity_tolerance)}


def phase_diagnostics(runs: list[xr.Dataset], rbms: dict[int, xr.Dataset], frequency_hz: float, n_bins: int,
                      readout: str, activity_target: float, activity_tolerance: float) -> xr.Dataset:
    """:func:`group_profiles` of ``runs`` grouped by sampler and trained RBM (``rbms`` by training seed), combined."""
    groups = {}
    for run in runs:
        groups.setdefault((run.attrs["sampler"], int(run.attrs["training_seed"])), []).append(run)
    profiles = [profile for (_, training_seed), group in groups.items()
                for profile in group_profiles(group, rbms[training_seed], frequency_hz, n_bins, readout,
                                              activity_target, activity_tolerance)]
    return combine_phase_profiles(profiles, diagnostics_attrs(frequency_hz, n_bins, readout, activity_target,
                                                              activity_tolerance))

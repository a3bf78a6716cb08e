"""The mixing analysis jobs of the tempering study: groups of runs, their summary and the parameter scan.

Each function is one unit of work of the workflow (docs/mixing.md):

- :func:`mixing_group`: the mixing metrics (:func:`lif_tempering.analysis.mixing.run_mixing`)
  of the free and tempered runs of one sampler and trained RBM, all read in the
  ground-state windows of one *condition* (frequency, ``T_max``), stacked on
  ``sampler`` x ``schedule`` x ``training_seed`` x ``seed``;
- :func:`mixing_summary`: the groups of all samplers and trained RBMs with the
  bootstrap summary of :func:`lif_tempering.analysis.mixing.summarize`;
- :func:`parameter_scan` and :func:`choose_schedule`: the summaries of a grid of
  conditions on ``shape`` x ``frequency_hz`` x ``t_max`` and the schedule chosen on them.

A free run (``T = 1`` throughout) does not depend on the oscillation, so one free run
serves every condition: it is read at the condition's frequency (:func:`read_at`)
in the condition's windows, exactly as the tempered runs of the condition.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from lif_tempering.analysis.chains import chain_variables, kl_floor_variables
from lif_tempering.analysis.metrics import majority_labels_per_window
from lif_tempering.analysis.mixing import RUN_DIMS, TRANSLATED_NETWORK, combine_runs, run_conditionals, run_mixing, summarize
from lif_tempering.learning.classifier import classify, visible_readout
from lif_tempering.learning.reference import model_reference
from lif_tempering.learning.study import rbm_classifier, rbm_parameters
from lif_tempering.tempering.runs import constant_schedule
from lif_tempering.tempering.schedules import MS_PER_S, ground_state_window_ids, window_centres_s
from lif_tempering.tempering.study import readout_half_width, run_shape

#: Variables of :func:`parameter_scan` taken from each grid point's summary: name -> (summary variable, schedule).
SCAN_VARIABLES = {
    "switch_rate_hz": ("switch_rate_hz", "tempered"),
    "ground_confidence": ("ground_confidence", "tempered"),
    "free_switch_rate_hz": ("switch_rate_hz", "free"),
    "free_ground_confidence": ("ground_confidence", "free"),
    "ground_free_energy_gap": ("ground_free_energy_gap", "tempered"),
    "free_ground_free_energy_gap": ("ground_free_energy_gap", "free"),
    "ground_visible_activity_ratio": ("ground_visible_activity_ratio", "tempered"),
    "free_ground_visible_activity_ratio": ("ground_visible_activity_ratio", "free"),
    "ground_activity_fidelity": ("ground_activity_fidelity", "tempered"),
    "free_ground_activity_fidelity": ("ground_activity_fidelity", "free"),
}
#: Tempered/free ratios of :func:`parameter_scan` (with their values per trained RBM).
SCAN_RATIOS = ("switch_ratio", "ground_confidence_ratio", "ground_activity_ratio", "ground_fidelity_ratio")
#: Model-based tempered/free ratios of :func:`parameter_scan` (pooled over trained RBMs only).
SCAN_MODEL_RATIOS = ("switch_ratio_glm",)
#: The tempered/free ratios of ground-state quality a chosen schedule must keep (:func:`choose_schedule`): the
#: classifier's confidence and the classifier-independent activity fidelity (closeness of the brightness to the data's).
QUALITY_RATIOS = ("ground_confidence_ratio", "ground_fidelity_ratio")
#: Run attributes of the synapses' short-term plasticity that :func:`mixing_group` keeps when all its runs agree.
STP_RUN_ATTRS = ("stp_U", "stp_tau_rec_ms", "stp_tau_fac_ms", "stp_weight_scaling", "stp_weight_factor")


def read_at(run: xr.Dataset, frequency_hz: float) -> xr.Dataset:
    """``run`` read in the ground-state windows of a ``frequency_hz`` oscillation.

    A free run gets that readout frequency (attribute ``frequency_hz`` and the
    per-sample ``phase``); a tempered run must already oscillate at it.
    """
    if run.attrs["schedule"] != "free":
        if not np.isclose(float(run.attrs["frequency_hz"]), frequency_hz, rtol=1e-12):
            raise ValueError(f"a {run.attrs['schedule']} run at {run.attrs['frequency_hz']} Hz cannot be read "
                             f"at {frequency_hz} Hz")
        return run
    schedule = constant_schedule(frequency_hz, float(run.attrs["phase0"]))
    phase = schedule.phase(run["time_ms"].values)
    return run.assign(phase=("time", phase, run["phase"].attrs)).assign_attrs(frequency_hz=float(frequency_hz))


def _check_tempered_runs(runs: list[xr.Dataset], t_max: float, shape: str, dwell_fraction: float) -> None:
    for run in runs:
        if run.attrs["schedule"] != "tempered":
            continue
        if not np.isclose(float(run.attrs["t_max"]), t_max, rtol=1e-12):
            raise ValueError(f"a tempered run with t_max {run.attrs['t_max']} in a group of t_max {t_max}")
        if run_shape(run) != (shape, float(dwell_fraction) if shape == "dwell" else 0.0):
            raise ValueError(f"a tempered run of shape {run_shape(run)} in a group of shape {shape} "
                             f"(dwell_fraction {dwell_fraction})")


def mixing_group(runs: list[xr.Dataset], rbm: xr.Dataset, frequency_hz: float, t_max: float, tolerance: float,
                 readout: str, shape: str = "sinusoid", dwell_fraction: float = 0.0,
                 readout_delay: float = 0.0, reference: xr.Dataset | None = None,
                 conditional_stride: int | None = None, statistics: xr.Dataset | None = None) -> xr.Dataset:
    """Mixing metrics of ``runs`` (free and tempered runs of one network, sampler and trained RBM) in one condition.

    Every run is read in the windows where the tempered schedule of ``shape``
    (``dwell_fraction`` for the dwell shape), ``t_max`` and ``frequency_hz`` has
    ``T <= 1 + tolerance`` (:func:`readout_half_width`), skipping the first
    ``readout_delay`` of each window, labelled by the RBM's classifier
    (``readout``: ``mean_field`` or ``visible``, :func:`lif_tempering.learning.classifier.visible_readout`)
    against the training images' class prior. Tempered runs must have this shape,
    ``t_max`` and frequency. ``rbm``: the trained RBM's (or the sampling network's)
    parameter file, with its classifier and class prior. ``reference``: the RBM's
    :func:`lif_tempering.learning.reference.reference_dataset`, the target of ``class_kl_reference``
    and the data statistics of the ground-state quality measures (its class distribution,
    ``D_KL`` to the prior and R-hat are added per training seed), or its
    :func:`lif_tempering.learning.reference.data_statistics_dataset` (data statistics only:
    ``class_kl_reference`` is ``nan``). ``statistics``: the test images' statistics under the
    sampling network's machine (:func:`lif_tempering.learning.reference.data_statistics_dataset`) where it is
    not the trained RBM (a network trained in the loop), replacing the reference's.
    ``conditional_stride``: read every that many samples for the conditional calibration
    (:func:`lif_tempering.analysis.mixing.run_conditionals`); ``None`` leaves it out.
    Returns :func:`lif_tempering.analysis.mixing.combine_runs` of the runs (dims network,
    sampler, schedule, training_seed, seed) with the per-RBM chain diagnostics and class
    D_KL floors (:mod:`lif_tempering.analysis.chains`), the condition as attributes, and
    the runs' short-term plasticity (:data:`STP_RUN_ATTRS`) where they all share it.
    """
    _check_tempered_runs(runs, t_max, shape, dwell_fraction)
    W, b_v, b_h = rbm_parameters(rbm)
    classifier, prior = rbm_classifier(rbm), rbm["train_class_frequency"].values
    half_width = readout_half_width(t_max, tolerance, shape, dwell_fraction)
    target = model_reference(reference, statistics) if reference is not None else None
    metrics = []
    for run in runs:
        metric = run_mixing(read_at(run, frequency_hz), (W, b_v, b_h), classifier, prior, half_width, readout,
                            readout_delay=readout_delay, reference=target)
        if conditional_stride is not None:
            metric = metric.merge(run_conditionals(run, (W, b_v, b_h), tolerance, conditional_stride),
                                  combine_attrs="no_conflicts")
        metrics.append(metric)
    group = combine_runs(metrics)
    chains = chain_variables(group, prior.size)
    group = group.assign(chains).assign(
        kl_floor_variables(group, chains, prior, target.class_probability if target else None))
    if reference is not None and "class_probability" in reference:
        group = group.assign(reference_variables(reference, group["training_seed"].values))
    for name in RUN_DIMS:  # labels and indices
        group[name].attrs["units"] = "1"
    group.attrs.update(condition_attrs(frequency_hz, t_max, tolerance, shape, dwell_fraction, readout_delay),
                       dataset=rbm.attrs["dataset"])
    group.attrs.update({key: runs[0].attrs[key] for key in STP_RUN_ATTRS
                        if all(key in run.attrs and run.attrs[key] == runs[0].attrs[key] for run in runs)})
    return group


#: Variables of :func:`reference_variables`.
REFERENCE_VARIABLES = ("reference_class_probability", "reference_class_probability_std_error", "reference_prior_kl",
                       "reference_max_r_hat", "reference_confidence", "data_class_prior")


def reference_variables(reference: xr.Dataset, training_seeds) -> dict:
    """The reference's class distribution, ``D_KL`` to the prior, R-hat and mean classifier confidence on
    ``training_seed`` (one RBM's seeds)."""
    seeds = ("training_seed",)
    kl_name = f"{reference.attrs['reference_prior_kl_definition']} (nats)"
    per_rbm = {
        "reference_class_probability": (seeds + ("class",), reference["class_probability"].values[None], "1",
                                        "the RBM's class distribution from parallel tempering (reference)"),
        "reference_class_probability_std_error": (seeds + ("class",),
                                                  reference["class_probability_std_error"].values[None], "1",
                                                  "standard error of reference_class_probability"),
        "reference_prior_kl": (seeds, [reference.attrs["reference_prior_kl"]], "nat", kl_name),
        "reference_max_r_hat": (seeds, [reference.attrs["max_r_hat"]], "1",
                                "largest rank-normalised split-R-hat of the reference's class indicators"),
        "reference_confidence": (seeds, [reference.attrs.get("reference_confidence", np.nan)], "1",
                                 "mean classifier max-probability of the reference's beta = 1 samples: the "
                                 "ground_confidence of an exact sampler of the RBM (nan: a reference file from before "
                                 "it was recorded)"),
        "data_class_prior": (seeds + ("class",), reference["data_class_prior"].values[None], "1",
                             "fraction of the training images in each class"),
    }
    return {name: xr.DataArray(np.broadcast_to(values, (len(training_seeds),) + np.shape(values)[1:]), dims=dims,
                               attrs={"units": units, "long_name": long_name})
            for name, (dims, values, units, long_name) in per_rbm.items()}


def window_labels(run: xr.Dataset, rbm: xr.Dataset, frequency_hz: float, t_max: float, tolerance: float,
                  readout: str, shape: str = "sinusoid", dwell_fraction: float = 0.0,
                  readout_delay: float = 0.0) -> dict[str, np.ndarray]:
    """The labels :func:`mixing_group` counts, for plotting one run.

    Returns ``time_s`` and ``label`` of every sample (classifier label),
    ``ground`` (bool: the sample lies in a ground-state window), and
    ``window_time_s`` (the window's ``T = 1`` instant) and ``majority`` (its
    majority label) of every window; times in s of network time.
    """
    run = read_at(run, frequency_hz)
    W, b_v, _ = rbm_parameters(rbm)
    n_visible, phase0 = int(run.attrs["n_visible"]), float(run.attrs["phase0"])
    time_ms = run["time_ms"].values
    labels, _ = classify(rbm_classifier(rbm), visible_readout(run["z"].values, n_visible, W, b_v, readout))
    window_ids = ground_state_window_ids(time_ms, frequency_hz, readout_half_width(t_max, tolerance, shape, dwell_fraction),
                                         phase0, readout_delay)
    windows, majority = majority_labels_per_window(labels, window_ids)
    return {"time_s": time_ms / MS_PER_S, "label": labels, "ground": window_ids >= 0,
            "window_time_s": window_centres_s(windows, frequency_hz, phase0), "majority": majority}


def condition_attrs(frequency_hz: float, t_max: float, tolerance: float, shape: str = "sinusoid",
                    dwell_fraction: float = 0.0, readout_delay: float = 0.0) -> dict:
    """Attributes naming a readout condition (``readout_dwell_fraction`` 0 for the sinusoid)."""
    return {"readout_frequency_hz": float(frequency_hz), "readout_t_max": float(t_max),
            "ground_state_tolerance": float(tolerance), "readout_shape": shape,
            "readout_dwell_fraction": float(dwell_fraction) if shape == "dwell" else 0.0,
            "readout_delay": float(readout_delay)}


def stack_groups(groups: list[xr.Dataset]) -> xr.Dataset:
    """Groups of :func:`mixing_group` of one condition (other networks, samplers, trained RBMs) on common dims.

    Networks start with ``translated`` (where present), samplers keep the order of their first group,
    schedules are ``free``, ``tempered`` (those present: groups of free runs only give ``free`` only).
    """
    combined = xr.combine_by_coords(groups, combine_attrs="drop_conflicts", data_vars="all", coords="different",
                                    compat="no_conflicts", join="outer")
    networks = list(dict.fromkeys([TRANSLATED_NETWORK] * (TRANSLATED_NETWORK in combined["network"].values)
                                  + [str(n) for group in groups for n in group["network"].values]))
    samplers = list(dict.fromkeys(str(s) for group in groups for s in group["sampler"].values))
    schedules = [name for name in ("free", "tempered") if name in combined["schedule"].values]
    combined = combined.sel(network=networks, sampler=samplers, schedule=schedules)
    for name in list(combined.coords):
        combined[name].attrs = dict(groups[0][name].attrs)
    return combined


def mixing_summary(groups: list[xr.Dataset], seed: int, n_resamples: int, confidence: float) -> xr.Dataset:
    """The groups of one condition stacked (:func:`stack_groups`) with :func:`lif_tempering.analysis.mixing.summarize`.

    The per-RBM reference variables (:func:`reference_variables`) are the same for every network and sampler
    and keep the dims ``training_seed`` (x ``class``).
    """
    runs = stack_groups(groups)
    runs = runs.assign({name: runs[name].mean([dim for dim in ("network", "sampler") if dim in runs[name].dims],
                                              keep_attrs=True)
                        for name in REFERENCE_VARIABLES if name in runs})
    summary = summarize(runs, seed, n_resamples=n_resamples, confidence=confidence)
    summary.attrs.update({key: runs.attrs[key] for key in ("readout_frequency_hz", "readout_t_max",
                                                           "ground_state_tolerance", "dataset")})
    summary.attrs.update({key: runs.attrs.get(key, default) for key, default in (
        ("readout_shape", "sinusoid"), ("readout_dwell_fraction", 0.0), ("readout_delay", 0.0))})
    return summary


def parameter_scan(summaries: list[xr.Dataset], frequencies_hz, t_max_values, shapes=("sinusoid",),
                   sampler: str = "lif", network: str = TRANSLATED_NETWORK) -> xr.Dataset:
    """Grid ``shape`` x ``frequency_hz`` x ``t_max`` of :func:`mixing_summary` results, one per grid point (any order).

    Per grid point, ``sampler``'s mean over runs with its two-stage (cluster)
    bootstrap interval (trained RBMs, then seeds within each; the summaries'
    ``bootstrap_method``, stored as an attribute) of the tempered and the free switch
    rate, ground-state confidence, free-energy gap and visible activity ratio to the
    test images (:data:`SCAN_VARIABLES`), the tempered/free
    ratios :data:`SCAN_RATIOS` and their per-RBM values ``{ratio}_by_training_seed``, and
    :data:`SCAN_MODEL_RATIOS` (the Poisson GEE switch ratio), of ``sampler`` on ``network``;
    the free runs are the same at every point but are read in each point's windows.
    ``shapes`` keep their order; the summaries' ``readout_shape`` attribute places them.
    """
    shapes = [str(name) for name in shapes]
    frequencies_hz = np.asarray(sorted(map(float, frequencies_hz)))
    t_max_values = np.asarray(sorted(map(float, t_max_values)))
    shape = (len(shapes), frequencies_hz.size, t_max_values.size)
    names = [f"{name}{suffix}" for name in (*SCAN_VARIABLES, *SCAN_RATIOS, *SCAN_MODEL_RATIOS)
             for suffix in ("", "_ci_low", "_ci_high")]
    by_rbm = [f"{name}_by_training_seed{suffix}" for name in SCAN_RATIOS for suffix in ("", "_ci_low", "_ci_high")]
    training_seeds = np.unique(np.concatenate([summary["training_seed"].values for summary in summaries]))
    tables = {name: np.full(shape, np.nan) for name in names + ["n_runs"]}
    tables.update({name: np.full(shape + (training_seeds.size,), np.nan) for name in by_rbm})
    attrs = {}
    dwell_fractions = set()
    for summary in summaries:
        k = shapes.index(summary.attrs.get("readout_shape", "sinusoid"))
        if shapes[k] == "dwell":
            dwell_fractions.add(float(summary.attrs["readout_dwell_fraction"]))
        i = int(np.flatnonzero(np.isclose(frequencies_hz, summary.attrs["readout_frequency_hz"]))[0])
        j = int(np.flatnonzero(np.isclose(t_max_values, summary.attrs["readout_t_max"]))[0])
        point = summary.sel(network=network, sampler=sampler)
        for name, (metric, schedule) in SCAN_VARIABLES.items():
            for suffix, source in (("", "mean"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high")):
                variable = point[f"{metric}_{source}"]
                tables[f"{name}{suffix}"][k, i, j] = float(variable.sel(schedule=schedule))
                attrs[f"{name}{suffix}"] = _scan_attrs(variable.attrs, schedule)
        for name in (*SCAN_RATIOS, *SCAN_MODEL_RATIOS):
            for suffix in ("", "_ci_low", "_ci_high"):
                tables[f"{name}{suffix}"][k, i, j] = float(point[f"{name}{suffix}"])
                attrs[f"{name}{suffix}"] = dict(point[f"{name}{suffix}"].attrs)
        for name in by_rbm:
            tables[name][k, i, j] = point[name].reindex(training_seed=training_seeds).values
            attrs[name] = dict(point[name].attrs)
        tables["n_runs"][k, i, j] = int(np.isfinite(point["switch_rate_hz"].sel(schedule="tempered")).sum())
    if len(dwell_fractions) > 1:
        raise ValueError(f"the scan's dwell summaries have several dwell fractions: {sorted(dwell_fractions)}")
    attrs["n_runs"] = {"units": "1", "long_name": "tempered runs (training seeds x seeds) at the grid point"}
    dims = ("shape", "frequency_hz", "t_max")
    return xr.Dataset(
        {name: (dims + ("training_seed",) * (table.ndim - 3), table, attrs[name]) for name, table in tables.items()},
        coords={"shape": ("shape", shapes, {"units": "1", "long_name": "shape of the tempered schedule"}),
                "frequency_hz": ("frequency_hz", frequencies_hz,
                                 {"units": "Hz", "long_name": "frequency of the noise oscillation"}),
                "t_max": ("t_max", t_max_values, {"units": "1", "long_name": "highest temperature of the schedule"}),
                "training_seed": ("training_seed", training_seeds, {"units": "1", "long_name": "RBM training seed"})},
        attrs={"title": f"Parameter scan of tempered {sampler} sampling: shape x frequency x T_max", "sampler": sampler,
               "network": network,
               **({"dwell_fraction": dwell_fractions.pop()} if dwell_fractions else {}),
               "readout_delay": float(summaries[0].attrs.get("readout_delay", 0.0)),
               **{key: summaries[0].attrs[key] for key in ("ground_state_tolerance", "dataset", "bootstrap_method",
                                                           "bootstrap_resamples", "bootstrap_seed",
                                                           "bootstrap_confidence", "bootstrap_distinct_resamples")}},
    )


def _scan_attrs(attrs: dict, schedule: str) -> dict:
    return dict(attrs, long_name=f"{schedule} runs: {attrs['long_name']}")


#: Statistics of a quality ratio that :func:`choose_schedule` can hold to the bar.
QUALITY_STATISTICS = {"point": "", "ci_low": "_ci_low"}


def quality_bar_met(ratios: xr.Dataset, min_quality_ratio: float, quality_statistic: str) -> dict[str, np.ndarray]:
    """Per quality ratio (:data:`QUALITY_RATIOS`), whether ``ratios`` hold it at or above ``min_quality_ratio`` by its
    ``quality_statistic``: the point estimate (``point``) or the lower end of its interval (``ci_low``).

    ``ratios``: a :func:`parameter_scan` (per grid point) or a summary of
    :func:`lif_tempering.analysis.mixing.summarize` (per sampler); ``nan`` misses the bar.
    The one rule of both the scan's choice (:func:`choose_schedule`) and the study's confirmation
    (:mod:`lif_tempering.analysis.headline`). Returns {ratio name: bool array}.
    """
    if quality_statistic not in QUALITY_STATISTICS:
        raise ValueError(f"quality_statistic must be one of {', '.join(QUALITY_STATISTICS)}, got {quality_statistic!r}")
    return {name: np.nan_to_num(ratios[name + QUALITY_STATISTICS[quality_statistic]].values, nan=-np.inf)
            >= min_quality_ratio for name in QUALITY_RATIOS}


def choose_schedule(scan: xr.Dataset, min_quality_ratio: float, configured: dict,
                    quality_statistic: str = "point") -> xr.Dataset:
    """``scan`` (:func:`parameter_scan`) with the study's schedule chosen from it.

    Eligible grid points keep both :data:`QUALITY_RATIOS` (tempered/free ground-state
    confidence and activity fidelity) at or above ``min_quality_ratio``, each by its
    ``quality_statistic`` (:func:`quality_bar_met`): the point estimate (``point``) or, more
    conservatively, the lower end of its interval (``ci_low``: a point whose quality is
    uncertain is not eligible); of these the one with the highest lower interval end of
    ``switch_ratio`` is chosen (the mean breaks ties).
    Adds ``eligible`` (shape, frequency_hz, t_max; 1 or 0) and the attributes
    ``chosen_shape``, ``chosen_frequency_hz``, ``chosen_t_max`` (empty and nan when no
    point is eligible), ``selection_min_quality_ratio``, ``selection_quality_statistic``,
    ``selection_rule``, the
    ``configured`` schedule (``shape``, ``frequency_hz``, ``t_max``) as
    ``configured_{key}`` and ``configured_is_chosen`` (1 or 0).
    """
    met = quality_bar_met(scan, min_quality_ratio, quality_statistic)
    held = [name + QUALITY_STATISTICS[quality_statistic] for name in met]
    quality = np.logical_and.reduce(list(met.values()))
    eligible = quality & np.isfinite(scan["switch_ratio_ci_low"].values)
    out = scan.assign(eligible=(scan["switch_ratio"].dims, eligible.astype(np.int8), {
        "units": "1", "long_name": f"both tempered/free quality ratios ({', '.join(held)}) "
                                   f">= {min_quality_ratio:g}"}))
    chosen = {"chosen_shape": "", "chosen_frequency_hz": np.nan, "chosen_t_max": np.nan}
    if eligible.any():
        key = np.where(eligible, scan["switch_ratio_ci_low"].values, -np.inf)
        best = np.flatnonzero(key == key.max())
        tie_break = np.nan_to_num(scan["switch_ratio"].values.ravel()[best], nan=-np.inf)
        k, i, j = np.unravel_index(best[int(np.argmax(tie_break))], eligible.shape)
        chosen = {"chosen_shape": str(scan["shape"].values[k]),
                  "chosen_frequency_hz": float(scan["frequency_hz"].values[i]),
                  "chosen_t_max": float(scan["t_max"].values[j])}
    is_chosen = (chosen["chosen_shape"] == configured["shape"]
                 and np.isclose(chosen["chosen_frequency_hz"], configured["frequency_hz"])
                 and np.isclose(chosen["chosen_t_max"], configured["t_max"]))
    out.attrs.update(chosen, selection_min_quality_ratio=float(min_quality_ratio),
                     selection_quality_statistic=quality_statistic,
                     selection_rule=(f"among grid points with {' and '.join(held)} >= {min_quality_ratio:g}, "
                                     "the highest switch_ratio_ci_low (ties: the highest switch_ratio)"),
                     configured_shape=str(configured["shape"]),
                     configured_frequency_hz=float(configured["frequency_hz"]),
                     configured_t_max=float(configured["t_max"]), configured_is_chosen=int(is_chosen))
    return out


def with_study_training_seeds(scan: xr.Dataset, study_training_seeds) -> xr.Dataset:
    """``scan`` with the attributes ``scan_training_seeds`` (its own trained RBMs), ``study_training_seeds`` (those of
    the study whose runs confirm the choice) and ``training_seeds_disjoint`` (1 where no trained RBM is in both: the
    schedule is chosen on other RBMs than those that report it, 0 otherwise)."""
    scan_seeds = np.asarray(scan["training_seed"].values, dtype=np.int64)
    study_seeds = np.asarray(sorted(study_training_seeds), dtype=np.int64)
    return scan.assign_attrs(scan_training_seeds=scan_seeds, study_training_seeds=study_seeds,
                             training_seeds_disjoint=int(np.intersect1d(scan_seeds, study_seeds).size == 0))

"""Headline results of a study: the numbers the report opens with.

:func:`headline_table` gathers, in one long table, the settings the run was made with, the mixing
of free against tempered sampling (the summary of :func:`lif_tempering.analysis.study.mixing_summary`:
means over runs with their bootstrap intervals and the tempered/free ratios, per sampler), and the
single-neuron calibration behind it (the T = 1 activation fit, free-membrane statistics against
high-conductance-state theory, the temperature map of the tempering scheme).
:func:`headline_html` renders it as an HTML fragment (one table per section), the CSV of the table
keeps the numbers.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import xarray as xr

from lif_tempering.analysis.mixing import TRANSLATED_NETWORK
from lif_tempering.analysis.study import quality_bar_met

#: Columns of the headline table: ``column`` is the sampler (with its network where that is not the plain
#: translation), the scheme or empty; ``value`` a number or, in the settings section, the configured value;
#: ``stderr`` a fit's standard error; ``ci_low`` and ``ci_high`` a bootstrap interval (``inf`` where unbounded);
#: ``note`` why a value or bound is infinite.
COLUMNS = ("section", "quantity", "column", "value", "stderr", "ci_low", "ci_high", "unit", "note")

SETTINGS = "Settings"
TEMPERING = "Free against tempered sampling"
NEURON = "Single neuron at T = 1"
SCHEDULE_CHOICE = "Schedule chosen on the parameter scan's runs"
RBMS = "Trained RBMs"

_FREE, _TEMPERED = {"schedule": "free"}, {"schedule": "tempered"}
#: Rows of the tempering section: quantity, summary variable (``{name}_mean`` or ``{name}``), selection.
MIXING_ROWS = (
    ("switch rate, free", "switch_rate_hz", _FREE),
    ("switch rate, tempered", "switch_rate_hz", _TEMPERED),
    ("switch ratio, tempered / free", "switch_ratio", {}),
    ("switch ratio, tempered / free (Poisson GEE over trained RBMs)", "switch_ratio_glm", {}),
    ("bootstrap resamples whose free runs never switch", "zero_free_switch_fraction", {}),
    ("bulk ESS of the window labels per simulated second, free", "ess_bulk_label_per_s", _FREE),
    ("bulk ESS of the window labels per simulated second, tempered", "ess_bulk_label_per_s", _TEMPERED),
    ("bulk ESS ratio, tempered / free", "ess_ratio", {}),
    ("R-hat of the window labels over seeds (mean over RBMs), free", "r_hat_label", _FREE),
    ("R-hat of the window labels over seeds (mean over RBMs), tempered", "r_hat_label", _TEMPERED),
    ("ground-state confidence, free", "ground_confidence", _FREE),
    ("ground-state confidence, tempered", "ground_confidence", _TEMPERED),
    ("ground-state confidence ratio, tempered / free", "ground_confidence_ratio", {}),
    ("ground-state visible activity ratio, tempered / free", "ground_activity_ratio", {}),
    ("ground-state activity fidelity ratio, tempered / free", "ground_fidelity_ratio", {}),
    ("coverage time of all classes, free", "coverage_time_s", _FREE),
    ("coverage time of all classes, tempered", "coverage_time_s", _TEMPERED),
)
#: Class D_KL rows per target: the summary's variable stem and the row's wording of the target.
_CLASS_KL_TARGETS = (("pooled_class_kl_reference", "class D_KL of all seeds' window labels to the RBM's reference"),
                     ("pooled_class_kl_prior", "class D_KL of all seeds' window labels to the data's class prior"))
_GAIN = "conditional {gain} gain, {layer} layer, {schedule}"
#: Rows shown only when the summary holds the variable.
OPTIONAL_MIXING_ROWS = (
    ("runs that never visited every class, free", "coverage_censored_fraction", _FREE),
    ("runs that never visited every class, tempered", "coverage_censored_fraction", _TEMPERED),
    ("trained RBMs whose seeds never changed class (ESS censored), free", "ess_bulk_label_censored_fraction", _FREE),
    ("trained RBMs whose seeds never changed class (ESS censored), tempered", "ess_bulk_label_censored_fraction",
     _TEMPERED),
    ("switch rate / the free renewing LIF network's, free", "switch_ratio_vs_free_lif", _FREE),
    ("switch rate / the free renewing LIF network's, tempered", "switch_ratio_vs_free_lif", _TEMPERED),
    ("switch rate / the free renewing LIF network's, tempered (Poisson GEE)", "switch_ratio_vs_free_lif_glm",
     _TEMPERED),
    ("ground-state confidence / the free renewing LIF network's, free", "ground_confidence_ratio_vs_free_lif", _FREE),
    ("ground-state confidence / the free renewing LIF network's, tempered", "ground_confidence_ratio_vs_free_lif",
     _TEMPERED),
    *((f"{target}{what}, {schedule}", f"{stem}{suffix}", {"schedule": schedule})
      for stem, target in _CLASS_KL_TARGETS
      for suffix, what in (("", ""), ("_floor", ": floor of a sampler drawing it exactly at the same ESS"),
                           ("_excess", ": excess over the floor"))
      for schedule in ("free", "tempered")),
    *((_GAIN.format(gain=gain, layer=layer, schedule=schedule), f"conditional_{gain}_gain",
       {"schedule": schedule, "layer": layer})
      for gain in ("bias", "coupling") for layer in ("visible", "hidden") for schedule in ("free", "tempered")),
    *((f"conditional calibration error{what}, {layer} layer, free", f"conditional_calibration_error{suffix}",
       {"schedule": "free", "layer": layer})
      for layer in ("visible", "hidden") for suffix, what in (("", ""), ("_floor", ": floor"))),
)
_NO_FREE_SWITCH = "no free run switched"
_NO_FREE_LIF_SWITCH = "no free lif run switched"
#: Why a ratio's estimate or upper bound is infinite: variable -> (estimate's note, the variable with the fraction of
#: resamples behind an infinite upper bound, its note).
INFINITE_NOTES = {
    "switch_ratio": (_NO_FREE_SWITCH, "zero_free_switch_fraction",
                     "upper bound ∞: {fraction:.1%} of the resamples hold free runs without a switch"),
    "switch_ratio_vs_free_lif": (_NO_FREE_LIF_SWITCH, "zero_free_lif_switch_fraction",
                                 "upper bound ∞: {fraction:.1%} of the resamples hold free lif runs without a switch"),
    "switch_ratio_glm": (_NO_FREE_SWITCH, None, ""),
    "switch_ratio_vs_free_lif_glm": (_NO_FREE_LIF_SWITCH, None, ""),
}
#: Settings that must agree with the summary's attributes: settings key -> summary attribute.
SUMMARY_SETTINGS = {"dataset": "dataset", "tempering.t_max": "readout_t_max",
                    "tempering.frequency_hz": "readout_frequency_hz",
                    "tempering.schedule.shape": "readout_shape", "tempering.readout_delay": "readout_delay",
                    "tempering.ground_state_tolerance": "ground_state_tolerance"}
#: The settings key naming the tempering scheme (the temperature map's row).
SCHEME_KEY = "tempering.scheme"
#: Rows of the report's first page (:func:`front_page_table`), by the start of their quantity, in this order.
FRONT_PAGE = ("switch rate, free", "switch rate, tempered", "switch ratio", "bootstrap resamples whose free runs",
              "bulk ESS", "R-hat of the window labels", "ground-state confidence ratio",
              "ground-state visible activity ratio", "ground-state activity fidelity ratio",
              "coverage time of all classes", "class D_KL of all seeds' window labels",
              "conditional coupling gain", "chosen schedule", "the configured schedule", "network the scan ran",
              "study's runs:", "trained RBMs in both", "test log-likelihood", "reference class distribution",
              "activation width alpha", "inflection point u0",
              "free-membrane std", "map points meeting", "largest |T_bias")
#: Settings named on the report's first page.
FRONT_PAGE_SETTINGS = ("dataset", "neuron.parameter_set", "tempering.scheme", "tempering.t_max",
                       "tempering.frequency_hz", "tempering.schedule.shape", "tempering.readout_delay",
                       "tempering.duration_ms")
#: Quantity of the settings row that counts the runs.
RUNS = "runs per sampler and schedule (trained RBMs x seeds)"
#: Unit of a settings key by the suffix of its name.
UNIT_SUFFIXES = {"_hz": "Hz", "_ms": "ms", "_s": "s", "_mV": "mV"}


def unit_of(name: str) -> str:
    """Unit named by the suffix of a key (``duration_ms`` -> ``ms``), empty without one."""
    return next((unit for suffix, unit in UNIT_SUFFIXES.items() if name.endswith(suffix)), "")


def _row(section, quantity, column="", value=np.nan, stderr=np.nan, ci_low=np.nan, ci_high=np.nan, unit="", note=""):
    return dict(zip(COLUMNS, (section, quantity, column, value, stderr, ci_low, ci_high, unit, note)))


def _float(da: xr.DataArray) -> float:
    return float(np.asarray(da.values, dtype=np.float64))


def _infinite_note(summary: xr.Dataset, name: str, select: dict, value: float, high: float) -> str:
    """Why ``name``'s estimate or upper bound is infinite (:data:`INFINITE_NOTES`); empty where neither is."""
    if name not in INFINITE_NOTES:
        return ""
    estimate_note, fraction_name, bound_note = INFINITE_NOTES[name]
    if math.isinf(value):
        return estimate_note
    if not math.isinf(high) or fraction_name is None or fraction_name not in summary:
        return ""
    fraction = summary[fraction_name].sel({k: v for k, v in select.items() if k in summary[fraction_name].dims})
    return bound_note.format(fraction=_float(fraction))


def _mixing_row(summary: xr.Dataset, quantity: str, name: str, select: dict, column: tuple[str, str, str]) -> dict:
    network, sampler, label = column
    base = f"{name}_mean" if f"{name}_mean" in summary else name
    select = {"network": network, "sampler": sampler, **select}
    interval = [_float(summary[f"{name}_{end}"].sel(select)) if f"{name}_{end}" in summary else np.nan
                for end in ("ci_low", "ci_high")]
    value = _float(summary[base].sel(select))
    return _row(TEMPERING, quantity, label, value, np.nan, *interval, summary[base].attrs.get("units", ""),
                _infinite_note(summary, name, select, value, interval[1]))


def sampler_columns(summary: xr.Dataset) -> list[tuple[str, str, str]]:
    """``(network, sampler, column label)`` of every network and sampler with runs: the sampler's name, with the
    network in brackets where it is not the plain translation."""
    runs = np.isfinite(summary["switch_rate_hz_mean"]).any("schedule")
    return [(str(network), str(sampler), str(sampler) if network == "translated" else f"{sampler} ({network})")
            for network in summary["network"].values for sampler in summary["sampler"].values
            if bool(runs.sel(network=network, sampler=sampler))]


def mixing_rows(summary: xr.Dataset) -> list[dict]:
    """Per network and sampler: switch rates and ratios, ESS and R-hat, ground-state quality, coverage time, and
    (where the summary has them) class D_KL with its floor and the conditional calibration."""
    if "network" not in summary.dims:  # a summary of the plain translation only
        summary = summary.expand_dims(network=["translated"])
    columns = sampler_columns(summary)
    rows = []
    for quantity, name, select in MIXING_ROWS + OPTIONAL_MIXING_ROWS:
        if name not in summary and f"{name}_mean" not in summary:
            continue
        rows += [_mixing_row(summary, quantity, name, select, column) for column in columns]
    return rows


def settings_rows(summary: xr.Dataset, settings: dict) -> list[dict]:
    """The configured values, checked against the summary's attributes, and the runs pooled per cell."""
    for key, attr in SUMMARY_SETTINGS.items():
        if key in settings and attr in summary.attrs:
            configured, stored = settings[key], summary.attrs[attr]
            same = configured == stored if isinstance(configured, str) else np.isclose(configured, stored)
            if not same:
                raise ValueError(f"settings {key} = {configured!r}, but the summary was made with {stored!r}")
    rows = [_row(SETTINGS, key, "", ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value,
                 unit=unit_of(key)) for key, value in settings.items()]
    n_training, n_seeds = summary.sizes["training_seed"], summary.sizes["seed"]
    rows.append(_row(SETTINGS, RUNS, "", f"{n_training} x {n_seeds}"))
    return rows


def neuron_rows(reference: xr.Dataset, membrane: xr.Dataset) -> list[dict]:
    """T = 1 activation fit (with the high-conductance-state estimate of alpha) and the free-membrane check.

    ``reference``: calibration at the T = 1 rates; ``membrane``: the membrane study along ``noise``.
    """
    rows = [_row(NEURON, f"background rate, {kind}", "", _float(reference[f"rate_{kind}_hz"]), unit="Hz")
            for kind in ("exc", "inh")]
    rows += [
        _row(NEURON, "activation width alpha", "", _float(reference.alpha_mV), _float(reference.alpha_stderr_mV),
             unit="mV"),
        _row(NEURON, "activation width alpha, high-conductance-state estimate", "",
             _float(reference.alpha_theory_mV), unit="mV"),
        _row(NEURON, "inflection point u0", "", _float(reference.u0_mV), _float(reference.u0_stderr_mV), unit="mV"),
        _row(NEURON, "largest |p_on - logistic fit|", "", _float(reference.max_abs_residual), unit="1"),
    ]
    n_noise = membrane.sizes["noise"]
    std_ratio = (membrane.std_sim_mV / membrane.std_theory_mV).values
    mean_shift = (membrane.mean_sim_mV - membrane.mean_theory_mV).values
    rows += [
        _row(NEURON, f"free-membrane std, simulation / theory (range over {n_noise} noise rates)", "",
             float(np.median(std_ratio)), ci_low=float(std_ratio.min()), ci_high=float(std_ratio.max()), unit="1"),
        _row(NEURON, f"free-membrane mean, simulation - theory (largest of {n_noise} noise rates)", "",
             float(mean_shift[np.argmax(np.abs(mean_shift))]), unit="mV"),
    ]
    return rows


def temperature_map_rows(temperature_map: xr.Dataset, scheme: str) -> list[dict]:
    """Convergence of the map of ``scheme`` and the rates it gives at its highest temperature."""
    tmap = temperature_map.sel(scheme=scheme) if "scheme" in temperature_map.dims else temperature_map
    section = f"Temperature map ({scheme})"
    temperatures = tmap["temperature"].values.astype(np.float64)
    met = int(np.sum(tmap.tolerances_met.values))
    T_error = np.abs(tmap.T_bias.values / temperatures - 1.0)
    top = tmap.isel(temperature=int(np.argmax(temperatures)))
    T_top = float(temperatures.max())
    return [
        _row(section, f"map points meeting the tolerances (of {temperatures.size})", scheme, met, unit="1"),
        _row(section, "largest |T_bias / T - 1|", scheme, float(T_error.max()), unit="1"),
        _row(section, "largest |u0 - u0(T = 1)| / alpha(T = 1)", scheme,
             float(np.abs(tmap.u0_shift_alphas.values).max()), unit="1"),
        _row(section, f"T_bias reached at T = {T_top:g}", scheme, _float(top.T_bias), unit="1"),
        *[_row(section, f"background rate at T = {T_top:g}, {kind}", scheme, _float(top[f"rate_{kind}_hz"]),
               unit="Hz") for kind in ("exc", "inh")],
    ]


#: Settings keys of the switch-ratio aim the study's runs are held to (``parameter_scan.confirmation``).
SWITCH_RATIO_AIM_KEYS = ("parameter_scan.confirmation.min_switch_ratio",
                         "parameter_scan.confirmation.min_switch_ratio_ci_low")
#: Names of the quality ratios in the confirmation rows.
QUALITY_RATIO_TEXT = {"ground_confidence_ratio": "ground-state confidence ratio",
                      "ground_fidelity_ratio": "ground-state activity fidelity ratio"}
#: How the confirmation rows name each quality statistic (``parameter_scan.selection.quality_statistic``).
QUALITY_STATISTIC_TEXT = {"ci_low": "interval low end", "point": "point estimate"}


def _schedule_text(shape: str, frequency_hz: float, t_max: float) -> str:
    return f"{shape}, {frequency_hz:g} Hz, T_max {t_max:g}"


def schedule_choice_rows(scan: xr.Dataset) -> list[dict]:
    """The schedule the scan chose (:func:`lif_tempering.analysis.study.choose_schedule`), its scan numbers,
    and whether the study was run with it."""
    attrs = scan.attrs
    configured = _schedule_text(attrs["configured_shape"], attrs["configured_frequency_hz"], attrs["configured_t_max"])
    if not attrs["chosen_shape"]:
        statistic = QUALITY_STATISTIC_TEXT.get(attrs.get("selection_quality_statistic", "point"), "point estimate")
        return [_row(SCHEDULE_CHOICE, "chosen schedule", "",
                     f"none: no grid point keeps both quality ratios ({statistic}) "
                     f">= {attrs['selection_min_quality_ratio']:g}"),
                _row(SCHEDULE_CHOICE, "the configured schedule", "", f"{configured} (not chosen by the scan)")]
    point = scan.sel(shape=attrs["chosen_shape"], frequency_hz=attrs["chosen_frequency_hz"],
                     t_max=attrs["chosen_t_max"])
    rows = [_row(SCHEDULE_CHOICE, "chosen schedule", "",
                 _schedule_text(attrs["chosen_shape"], attrs["chosen_frequency_hz"], attrs["chosen_t_max"])),
            _row(SCHEDULE_CHOICE, "the configured schedule", "",
                 f"{configured} ({'the chosen one' if attrs['configured_is_chosen'] else 'NOT the chosen one'})"),
            _row(SCHEDULE_CHOICE, "scan runs at the chosen point (trained RBMs x seeds)", "",
                 int(point["n_runs"]), unit="1")]
    for quantity, name in (("switch ratio, tempered / free (scan runs)", "switch_ratio"),
                           ("ground-state confidence ratio (scan runs)", "ground_confidence_ratio"),
                           ("ground-state visible activity ratio (scan runs)", "ground_activity_ratio"),
                           ("ground-state activity fidelity ratio (scan runs)", "ground_fidelity_ratio")):
        rows.append(_row(SCHEDULE_CHOICE, quantity, "", _float(point[name]), np.nan, _float(point[f"{name}_ci_low"]),
                         _float(point[f"{name}_ci_high"]), "1"))
    rows.append(_row(SCHEDULE_CHOICE, "rule", "", attrs["selection_rule"]))
    return rows


def _estimate_text(ratios: xr.Dataset, name: str) -> str:
    """``estimate [ci_low, ci_high]`` of the variable ``name`` (3 significant digits)."""
    low, high = (_number(_float(ratios[f"{name}_{end}"])) for end in ("ci_low", "ci_high"))
    return f"{_number(_float(ratios[name]))} [{low}, {high}]"


def _seeds_text(seeds) -> str:
    return ", ".join(str(int(seed)) for seed in np.atleast_1d(seeds)) or "none"


def confirmation_rows(scan: xr.Dataset, summary: xr.Dataset, switch_ratio_aim: tuple | None = None) -> list[dict]:
    """Whether the study's runs (``summary``, the sampler and network the scan ran: its ``sampler`` and ``network``
    attributes) meet the bar the scan chose with, by the same statistic: each quality ratio against the scan's
    ``selection_min_quality_ratio`` by its ``selection_quality_statistic``
    (:func:`lif_tempering.analysis.study.quality_bar_met`), the switch ratio against ``switch_ratio_aim`` (least
    ratio, least interval low end; no row without it), all of it together; and the training seeds of the scan's
    and the study's trained RBMs and those in both (none where the choice is fair)."""
    bar, statistic = scan.attrs["selection_min_quality_ratio"], scan.attrs["selection_quality_statistic"]
    study, network = summary.sel(sampler=scan.attrs.get("sampler", "lif")), scan.attrs.get("network", TRANSLATED_NETWORK)
    if "network" in study.dims:
        study = study.sel(network=network)
    rows = [_row(SCHEDULE_CHOICE, "network the scan ran and the study's runs confirm (tempering.default_network)", "",
                 network)]
    missed = []
    for name, met in quality_bar_met(study, bar, statistic).items():
        quantity = f"{QUALITY_RATIO_TEXT[name]} ({QUALITY_STATISTIC_TEXT[statistic]}) >= {bar:g}"
        rows.append(_row(SCHEDULE_CHOICE, f"study's runs: {quantity}", "",
                         f"{'met' if met else 'missed'}: {_estimate_text(study, name)}", unit="1"))
        missed += [] if met else [f"{QUALITY_RATIO_TEXT[name]} ({QUALITY_STATISTIC_TEXT[statistic]})"]
    if switch_ratio_aim is not None:
        least, least_low = switch_ratio_aim
        met = _float(study["switch_ratio"]) >= least and _float(study["switch_ratio_ci_low"]) >= least_low
        rows.append(_row(SCHEDULE_CHOICE, f"study's runs: switch ratio >= {least:g} with interval low end >= "
                                          f"{least_low:g}", "",
                         f"{'met' if met else 'missed'}: {_estimate_text(study, 'switch_ratio')}", unit="1"))
        missed += [] if met else ["switch ratio"]
    rows.append(_row(SCHEDULE_CHOICE, "study's runs: every part of the bar", "",
                     f"missed: {', '.join(missed)}" if missed else "met"))
    scan_seeds, study_seeds = scan["training_seed"].values, summary["training_seed"].values
    rows += [_row(SCHEDULE_CHOICE, "trained RBMs of the scan (training seeds)", "", _seeds_text(scan_seeds)),
             _row(SCHEDULE_CHOICE, "trained RBMs of the study (training seeds)", "", _seeds_text(study_seeds)),
             _row(SCHEDULE_CHOICE, "trained RBMs in both the scan and the study (training seeds)", "",
                  _seeds_text(np.intersect1d(scan_seeds, study_seeds)))]
    return rows


def _spread_row(section: str, quantity: str, values, unit: str) -> dict:
    """Mean over trained RBMs with their range [min, max] in the interval columns."""
    values = np.asarray(values, dtype=np.float64)
    return _row(section, quantity, "", float(values.mean()), np.nan, float(values.min()), float(values.max()), unit)


def rbm_rows(rbms: list[xr.Dataset], references: list[xr.Dataset]) -> list[dict]:
    """The trained RBMs (``rbm.nc``) and their reference class distributions (``reference.nc``): test
    log-likelihood (AIS), classifier accuracy, the reference's D_KL to the data's class prior, its samples'
    classifier confidence and its convergence; means over RBMs with [min, max]."""
    n = len(rbms)
    return [
        _spread_row(RBMS, f"test log-likelihood per image (AIS; mean of {n} RBMs [min, max])",
                    [rbm.attrs["test_log_likelihood"] for rbm in rbms], "nat"),
        _row(RBMS, "largest AIS standard error of log Z", "", max(float(rbm.attrs["ais_log_z_stderr"]) for rbm in rbms),
             unit="nat"),
        _spread_row(RBMS, f"classifier test accuracy (mean of {n} RBMs [min, max])",
                    [rbm.attrs["classifier_test_accuracy"] for rbm in rbms], "1"),
        _spread_row(RBMS, "reference class distribution: D_KL to the data's class prior (mean [min, max])",
                    [ref.attrs["reference_prior_kl"] for ref in references], "nat"),
        _spread_row(RBMS, "reference samples' classifier confidence, the ground-state confidence of an exact sampler "
                          "(mean [min, max])",
                    [ref.attrs.get("reference_confidence", np.nan) for ref in references], "1"),
        _row(RBMS, "largest rank-normalised split-R-hat of the reference class distributions", "",
             max(float(ref.attrs["max_r_hat"]) for ref in references), unit="1"),
        _row(RBMS, "reference class distributions converged (R-hat <= reference.r_hat_max)", "",
             f"{sum(int(ref.attrs['converged']) for ref in references)} of {len(references)}"),
    ]


def headline_table(summary: xr.Dataset, reference: xr.Dataset, membrane: xr.Dataset, temperature_map: xr.Dataset,
                   settings: dict, scan: xr.Dataset | None = None, rbms: list[xr.Dataset] = (),
                   references: list[xr.Dataset] = ()) -> pd.DataFrame:
    """The headline table (:data:`COLUMNS`): settings, tempering, schedule choice, trained RBMs, single neuron,
    temperature map.

    ``settings``: the configured values the run was made with, by configuration key (``dataset``,
    ``tempering.t_max``, ...); :data:`SCHEME_KEY` selects the temperature map's row. A setting that
    disagrees with the summary's attributes (:data:`SUMMARY_SETTINGS`) raises ``ValueError``.
    ``scan``: the parameter scan with its schedule choice, and whether the study's runs meet its bar
    (:func:`confirmation_rows`, with the switch-ratio aim of the settings :data:`SWITCH_RATIO_AIM_KEYS` where given);
    ``rbms``, ``references``: the trained RBMs and their reference class distributions (each section omitted
    without them).
    """
    rows = settings_rows(summary, settings) + mixing_rows(summary)
    if scan is not None:
        aim = tuple(settings[key] for key in SWITCH_RATIO_AIM_KEYS) if set(SWITCH_RATIO_AIM_KEYS) <= set(settings) else None
        rows += schedule_choice_rows(scan) + confirmation_rows(scan, summary, aim)
    if rbms:
        rows += rbm_rows(list(rbms), list(references))
    rows += neuron_rows(reference, membrane)
    rows += temperature_map_rows(temperature_map, settings[SCHEME_KEY])
    return pd.DataFrame(rows, columns=list(COLUMNS))


def front_page_table(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of :data:`FRONT_PAGE` (results only, no settings), in the order of :data:`FRONT_PAGE`."""
    rank = table["quantity"].map(lambda q: next((i for i, start in enumerate(FRONT_PAGE) if q.startswith(start)), -1))
    rows = table[(table["section"] != SETTINGS) & (rank >= 0)]
    return rows.assign(_rank=rank[rows.index]).sort_values("_rank", kind="stable").drop(columns="_rank")


def front_page_html(table: pd.DataFrame, settings: dict, note: str = "") -> str:
    """The report's first page: the settings of :data:`FRONT_PAGE_SETTINGS` in one line, ``note``, and the
    tables of :func:`front_page_table`."""
    shown = [f"{key} = {', '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
             for key, v in settings.items() if key in FRONT_PAGE_SETTINGS]
    runs = table.loc[table["quantity"] == RUNS, "value"].iloc[0]
    line = f"Made with {'; '.join(shown)}; {runs} runs (trained RBMs x seeds) per sampler and schedule."
    return headline_html(front_page_table(table), note=f"{line} {note}".strip())


def format_value(row) -> str:
    """A cell's text: ``v``, ``v ± stderr``, ``v [ci_low, ci_high]`` (3 significant digits), an interval unbounded
    above as ``v [> ci_low]`` (below: ``v [< ci_high]``; none where one end is missing and the other infinite), and
    the row's note in brackets."""
    value = row["value"]
    if isinstance(value, str):
        return value
    text = str(int(value)) if isinstance(value, (int, np.integer)) else _number(value)
    if not math.isnan(_as_float(row["stderr"])):
        text += f" ± {_number(row['stderr'])}"
    if _has_spread(row):
        low, high = _as_float(row["ci_low"]), _as_float(row["ci_high"])
        if math.isinf(high) and high > 0 and math.isfinite(low):
            text += f" [> {_number(low)}]"
        elif math.isinf(low) and low < 0 and math.isfinite(high):
            text += f" [< {_number(high)}]"
        elif not (math.isnan(low) or math.isnan(high)) or not (math.isinf(low) or math.isinf(high)):
            text += f" [{_number(low)}, {_number(high)}]"
    note = row.get("note", "") if hasattr(row, "get") else ""
    if isinstance(note, str) and note:
        text += f" ({note})"
    return text


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _has_spread(row) -> bool:
    return not (math.isnan(_as_float(row["ci_low"])) and math.isnan(_as_float(row["ci_high"])))


def _number(value) -> str:
    value = _as_float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.3g}"


def headline_html(table: pd.DataFrame, title: str = "Headline results", note: str = "") -> str:
    """HTML fragment: a heading, ``note`` and one table per section (columns: quantity, each column, unit)."""
    cell = 'style="border-bottom: 1px solid #ccc; padding: 2px 8px; text-align: {align}"'
    parts = [f"<h2>{html.escape(title)}</h2>"]
    if note:
        parts.append(f"<p>{html.escape(note)}</p>")
    for section, rows in table.groupby("section", sort=False):
        columns = list(dict.fromkeys(rows["column"]))
        header = ["quantity", *columns, "unit"] if columns != [""] else ["quantity", "value", "unit"]
        lines = ['<table style="border-collapse: collapse; margin-bottom: 1em">',
                 f'<caption style="text-align: left; font-weight: bold">{html.escape(section)}</caption>',
                 "<tr>" + "".join(f"<th {cell.format(align='left')}>{html.escape(h)}</th>" for h in header) + "</tr>"]
        for quantity, group in rows.groupby("quantity", sort=False):
            texts = {row["column"]: format_value(row) for _, row in group.iterrows()}
            values = [texts.get(column, "") for column in columns]
            unit = group["unit"].iloc[0]
            lines.append("<tr>" + f"<td {cell.format(align='left')}>{html.escape(quantity)}</td>"
                         + "".join(f"<td {cell.format(align='right')}>{html.escape(v)}</td>" for v in values)
                         + f"<td {cell.format(align='left')}>{html.escape(unit)}</td></tr>")
        lines.append("</table>")
        parts.append("\n".join(lines))
    return "\n".join(parts) + "\n"

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

from lif_tempering.analysis.study import quality_bar_met

#: Columns of the headline table: ``column`` is the sampler, the scheme or empty; ``value`` a number
#: or, in the settings section, the configured value; ``stderr`` a fit's standard error; ``ci_low`` and
#: ``ci_high`` a bootstrap interval.
COLUMNS = ("section", "quantity", "column", "value", "stderr", "ci_low", "ci_high", "unit")

SETTINGS = "Settings"
TEMPERING = "Free against tempered sampling"
NEURON = "Single neuron at T = 1"
SCHEDULE_CHOICE = "Schedule chosen on the parameter scan's runs"
RBMS = "Trained RBMs"

#: Rows of the tempering section: quantity, summary variable (``{name}_mean`` or ``{name}``), schedule.
MIXING_ROWS = (
    ("switch rate, free", "switch_rate_hz", "free"),
    ("switch rate, tempered", "switch_rate_hz", "tempered"),
    ("switch ratio, tempered / free", "switch_ratio", None),
    ("ground-state confidence, free", "ground_confidence", "free"),
    ("ground-state confidence, tempered", "ground_confidence", "tempered"),
    ("ground-state confidence ratio, tempered / free", "ground_confidence_ratio", None),
    ("ground-state visible activity ratio, tempered / free", "ground_activity_ratio", None),
    ("ground-state activity fidelity ratio, tempered / free", "ground_fidelity_ratio", None),
    ("coverage time of all classes, free", "coverage_time_s", "free"),
    ("coverage time of all classes, tempered", "coverage_time_s", "tempered"),
)
#: Rows shown only when the summary holds the variable.
OPTIONAL_MIXING_ROWS = (
    ("runs that never visited every class, free", "coverage_censored_fraction", "free"),
    ("runs that never visited every class, tempered", "coverage_censored_fraction", "tempered"),
    ("switch rate / the free renewing LIF network's, free", "switch_ratio_vs_free_lif", "free"),
    ("switch rate / the free renewing LIF network's, tempered", "switch_ratio_vs_free_lif", "tempered"),
    ("ground-state confidence / the free renewing LIF network's, free", "ground_confidence_ratio_vs_free_lif", "free"),
    ("ground-state confidence / the free renewing LIF network's, tempered", "ground_confidence_ratio_vs_free_lif",
     "tempered"),
    ("class D_KL to the RBM's reference distribution at the end, free", "class_kl_reference_final", "free"),
    ("class D_KL to the RBM's reference distribution at the end, tempered", "class_kl_reference_final", "tempered"),
)
#: Settings that must agree with the summary's attributes: settings key -> summary attribute.
SUMMARY_SETTINGS = {"dataset": "dataset", "tempering.t_max": "readout_t_max",
                    "tempering.frequency_hz": "readout_frequency_hz",
                    "tempering.schedule.shape": "readout_shape", "tempering.readout_delay": "readout_delay",
                    "tempering.ground_state_tolerance": "ground_state_tolerance"}
#: The settings key naming the tempering scheme (the temperature map's row).
SCHEME_KEY = "tempering.scheme"
#: Rows of the report's first page (:func:`front_page_table`), by the start of their quantity, in this order.
FRONT_PAGE = ("switch rate, free", "switch rate, tempered", "switch ratio", "ground-state confidence ratio",
              "ground-state visible activity ratio", "ground-state activity fidelity ratio",
              "coverage time of all classes", "chosen schedule",
              "the configured schedule", "study's runs:", "trained RBMs in both", "test log-likelihood",
              "reference class distribution",
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


def _row(section, quantity, column="", value=np.nan, stderr=np.nan, ci_low=np.nan, ci_high=np.nan, unit=""):
    return dict(zip(COLUMNS, (section, quantity, column, value, stderr, ci_low, ci_high, unit)))


def _float(da: xr.DataArray) -> float:
    return float(np.asarray(da.values, dtype=np.float64))


def _mixing_row(summary: xr.Dataset, quantity: str, name: str, schedule: str | None, sampler: str) -> dict:
    base = f"{name}_mean" if f"{name}_mean" in summary else name
    select = {"sampler": sampler} if schedule is None else {"sampler": sampler, "schedule": schedule}
    interval = [_float(summary[f"{name}_{end}"].sel(select)) if f"{name}_{end}" in summary else np.nan
                for end in ("ci_low", "ci_high")]
    return _row(TEMPERING, quantity, sampler, _float(summary[base].sel(select)), np.nan, *interval,
                summary[base].attrs.get("units", ""))


def mixing_rows(summary: xr.Dataset) -> list[dict]:
    """Per sampler: switch rates, switch ratio, ground-state confidence, coverage time (means and intervals)."""
    rows = []
    for quantity, name, schedule in MIXING_ROWS + OPTIONAL_MIXING_ROWS:
        if (quantity, name, schedule) in OPTIONAL_MIXING_ROWS and name not in summary:
            continue
        rows += [_mixing_row(summary, quantity, name, schedule, str(s)) for s in summary["sampler"].values]
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
    """Whether the study's runs (``summary``, the scan's sampler) meet the bar the scan chose with, by the same
    statistic: each quality ratio against the scan's ``selection_min_quality_ratio`` by its
    ``selection_quality_statistic`` (:func:`lif_tempering.analysis.study.quality_bar_met`), the switch ratio against
    ``switch_ratio_aim`` (least ratio, least interval low end; no row without it), all of it together; and the
    training seeds of the scan's and the study's trained RBMs and those in both (none where the choice is fair)."""
    bar, statistic = scan.attrs["selection_min_quality_ratio"], scan.attrs["selection_quality_statistic"]
    study = summary.sel(sampler=scan.attrs.get("sampler", "lif"))
    rows, missed = [], []
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
    log-likelihood (AIS), classifier accuracy, the reference's D_KL to the data's class prior and its
    convergence; means over RBMs with [min, max]."""
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
        _row(RBMS, "largest split-R-hat of the reference class distributions", "",
             max(float(ref.attrs["max_r_hat"]) for ref in references), unit="1"),
        _row(RBMS, "reference class distributions converged (split-R-hat <= reference.r_hat_max)", "",
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
    """A cell's text: ``v``, ``v ± stderr`` or ``v [ci_low, ci_high]`` (3 significant digits)."""
    value = row["value"]
    if isinstance(value, str):
        return value
    text = str(int(value)) if isinstance(value, (int, np.integer)) else _number(value)
    if not math.isnan(_as_float(row["stderr"])):
        text += f" ± {_number(row['stderr'])}"
    if _has_spread(row):
        text += f" [{_number(row['ci_low'])}, {_number(row['ci_high'])}]"
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

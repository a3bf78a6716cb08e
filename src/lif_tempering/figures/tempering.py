"""Figures of the tempering study (seaborn), sized for the Snakemake report."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from lif_tempering.learning.classifier import classify, visible_readout  # noqa: E402
from lif_tempering.learning.study import rbm_classifier, rbm_parameters  # noqa: E402
from lif_tempering.tempering.runs import make_schedule  # noqa: E402
from lif_tempering.tempering.schedules import MS_PER_S  # noqa: E402

sns.set_theme(context="talk", style="ticks")

SAMPLER_LABELS = {"lif": "LIF network", "lif_stp": "LIF network, STP", "gibbs": "Gibbs"}
SCHEDULE_COLOURS = dict(zip(("free", "tempered"), sns.color_palette("deep", 2)))


def strip_instants_ms(run: xr.Dataset, n_periods: int) -> np.ndarray:
    """Times (ms) of ``n_periods`` ground states and the peaks after them, from the first ground state after burn-in.

    Alternating: ``T = 1`` instant, ``T = T_max`` instant, ... (``2 n_periods`` times).
    """
    period_ms = MS_PER_S / float(run.attrs["frequency_hz"])
    offset_ms = float(run.attrs["phase0"]) / (2 * np.pi) * period_ms
    first = np.ceil((float(run["time_ms"].values[0]) + offset_ms) / period_ms) * period_ms - offset_ms
    instants = first + 0.5 * period_ms * np.arange(2 * n_periods)
    if instants[-1] > run["time_ms"].values[-1]:
        raise ValueError(f"the run is shorter than {n_periods} periods after burn-in")
    return instants


def digit_strip(tempered: xr.Dataset, free: xr.Dataset, rbm: xr.Dataset, readout: str,
                n_periods: int = 10) -> plt.Figure:
    """The poster's strip: T(t) over ``n_periods`` periods and the sampled digits at its ground states and peaks.

    Rows: the schedule; the tempered run at the ground states (``T = 1``) and peaks
    (``T = T_max``); the free run at the same instants. Each image is what the
    classifier sees (``readout``), titled with its label and probability.
    """
    instants = strip_instants_ms(tempered, n_periods)
    W, b_v, _ = rbm_parameters(rbm)
    classifier, shape = rbm_classifier(rbm), (int(rbm.attrs["image_height"]), int(rbm.attrs["image_width"]))
    n = instants.size
    fig = plt.figure(figsize=(1.15 * n + 2, 7.2), constrained_layout=True)
    grid = fig.add_gridspec(3, n, height_ratios=[1.4, 1, 1])
    ax = fig.add_subplot(grid[0, :])
    t_ms = np.linspace(instants[0] - 0.25 * (instants[1] - instants[0]), instants[-1] + 0.25 * (instants[1] - instants[0]),
                       40 * n)
    schedule = make_schedule("tempered", float(tempered.attrs["t_max"]), float(tempered.attrs["frequency_hz"]),
                             float(tempered.attrs["phase0"]),
                             "dwell" if tempered.attrs.get("schedule_shape") == "dwell" else "sinusoid",
                             float(tempered.attrs.get("dwell_fraction", 0.0)))
    ax.plot(t_ms / MS_PER_S, schedule.temperature(t_ms), color=SCHEDULE_COLOURS["tempered"], lw=2.5)
    ax.plot(instants / MS_PER_S, schedule.temperature(instants), "o", color="k", ms=6)
    ax.axhline(1.0, color=SCHEDULE_COLOURS["free"], lw=2, ls="--", label="free run: T = 1")
    ax.set_xlim(t_ms[0] / MS_PER_S, t_ms[-1] / MS_PER_S)
    ax.set_xlabel("network time (s)")
    ax.set_ylabel("T")
    ax.legend(loc="upper right", fontsize="x-small")
    sns.despine(ax=ax)
    for row, (run, name) in enumerate(((tempered, "tempered"), (free, "free")), start=1):
        index = np.searchsorted(run["time_ms"].values, instants)
        images = visible_readout(run["z"].values[index], int(run.attrs["n_visible"]), W, b_v, readout)
        labels, confidence = classify(classifier, images)
        for k in range(n):
            image_ax = fig.add_subplot(grid[row, k])
            image_ax.imshow(images[k].reshape(shape), cmap="binary", vmin=0, vmax=1, interpolation="nearest")
            image_ax.set_xticks([])
            image_ax.set_yticks([])
            image_ax.set_title(f"{labels[k]} ({confidence[k]:.2f})", fontsize="x-small", pad=2)
            if k == 0:
                image_ax.set_ylabel(name, fontsize="small")
    sampler = SAMPLER_LABELS.get(tempered.attrs["sampler"], tempered.attrs["sampler"])
    fig.suptitle(f"{sampler}: samples at the ground states and peaks of {n_periods} periods "
                 f"(title: classifier label and probability)", fontsize="small")
    return fig


def class_timelines(labels: dict[tuple[str, str], dict], duration_s: float) -> plt.Figure:
    """Classifier label against time, one row per (sampler, schedule): every ground-state sample and the window majority.

    ``labels`` maps (sampler, schedule) to :func:`lif_tempering.analysis.study.window_labels`.
    """
    fig, axes = plt.subplots(len(labels), 1, figsize=(16, 2.6 * len(labels) + 0.8), sharex=True, sharey=True,
                             squeeze=False, constrained_layout=True)
    for ax, ((sampler, schedule), run) in zip(axes[:, 0], labels.items()):
        colour = SCHEDULE_COLOURS[schedule]
        ground = run["ground"]
        jitter = np.random.default_rng(0).uniform(-0.25, 0.25, int(ground.sum()))
        ax.plot(run["time_s"][ground], run["label"][ground] + jitter, ".", color="0.6", ms=1.5, rasterized=True)
        ax.step(run["window_time_s"], run["majority"], where="mid", color=colour, lw=1.2, alpha=0.8)
        ax.plot(run["window_time_s"], run["majority"], "o", color=colour, ms=5)
        switches = int(np.count_nonzero(np.diff(run["majority"])))
        visited = np.unique(run["majority"]).size
        ax.set_title(f"{SAMPLER_LABELS.get(sampler, sampler)}, {schedule}: {switches} switches, "
                     f"{visited} classes visited", fontsize="small", loc="left")
        ax.set_ylabel("class")
        ax.yaxis.set_major_locator(matplotlib.ticker.MultipleLocator(1))
        ax.tick_params(axis="y", labelsize="x-small")
    axes[-1, 0].set_xlim(0, duration_s)
    axes[-1, 0].set_xlabel("network time (s)")
    fig.suptitle("grey: label of every ground-state sample (jittered); dots: majority label per ground-state window",
                 fontsize="small")
    sns.despine(fig)
    return fig


MIXING_PANELS = {"switch_rate_hz": "switches per second (Hz)",
                 "ess_bulk_label_per_s": "bulk ESS of the window labels per second (Hz)",
                 "coverage_time_s": "time to visit all classes (s)",
                 "ground_confidence": "ground-state confidence"}


def _metric_panel(ax, summary: xr.Dataset, metric: str, columns: list[tuple[str, str, str]]) -> None:
    """Dots: the values of single runs (or trained RBMs); bars: their mean with its bootstrap interval."""
    values = summary[metric]
    if metric == "coverage_time_s":
        values = xr.where(np.isinf(values), summary["duration_s"], values)
    order = [label for *_, label in columns]
    labels = {(network, sampler): label for network, sampler, label in columns}
    frame = values.rename("value").to_dataframe().reset_index().dropna(subset=["value"])
    frame["column"] = [labels.get((n, s)) for n, s in zip(frame["network"], frame["sampler"])]
    sns.stripplot(frame.dropna(subset=["column"]), x="column", y="value", hue="schedule", order=order,
                  hue_order=list(SCHEDULE_COLOURS), palette=SCHEDULE_COLOURS, dodge=True, alpha=0.6, size=5,
                  legend=False, ax=ax)
    for i, (network, sampler, _) in enumerate(columns):
        for j, schedule in enumerate(SCHEDULE_COLOURS):
            cell = summary.sel(network=network, sampler=sampler, schedule=schedule)
            mean, low, high = (float(cell[f"{metric}_{s}"]) for s in ("mean", "ci_low", "ci_high"))
            x = i + (j - 0.5) * 0.4
            ax.bar(x, mean, width=0.38, color=SCHEDULE_COLOURS[schedule], alpha=0.35, label=schedule if i == 0 else None)
            ax.errorbar(x, mean, yerr=[[mean - low], [high - mean]], color="k", capsize=6, lw=2)
    ax.set_xlabel("")


def _ratio_panel(ax, summary: xr.Dataset, columns: list[tuple[str, str, str]]) -> None:
    """The tempered/free switch ratio: bootstrap (black) and Poisson GEE (blue) with intervals, per-RBM ratios."""
    shown = []
    for i, (network, sampler, _) in enumerate(columns):
        row = summary.sel(network=network, sampler=sampler)
        by_rbm = row["switch_ratio_by_training_seed"].values
        ax.plot(np.full(by_rbm.size, i + 0.3), by_rbm, "o", color="0.5", ms=5, label="one trained RBM" if i == 0 else None)
        for offset, (name, colour, what) in zip((0.0, 0.15), (("switch_ratio", "k", "bootstrap"),
                                                              ("switch_ratio_glm", "tab:blue", "Poisson GEE"))):
            ratio, low, high = (float(row[f"{name}{s}"]) for s in ("", "_ci_low", "_ci_high"))
            top = high if np.isfinite(high) else 10 * max(ratio, 1.0)
            ax.errorbar(i + offset, ratio, yerr=[[ratio - low], [top - ratio]], fmt="o", color=colour, ms=9,
                        capsize=6, lw=2, label=what if i == 0 else None)
            ax.annotate(f"{ratio:.2f}\n[{low:.2f}, {'> ' if not np.isfinite(high) else ''}{high:.2f}]", (i + offset, top),
                        xytext=(0, 8), textcoords="offset points", ha="center", va="bottom", fontsize="xx-small",
                        color=colour)
            shown += [ratio, top]
        shown += list(by_rbm)
    ax.axhline(1.0, color="0.5", lw=1, ls=":")
    ax.axhline(2.0, color="0.5", lw=1, ls="--")
    ax.set_xticks(range(len(columns)), [label for *_, label in columns])
    ax.set_xlim(-0.6, len(columns) - 0.4)
    shown = np.asarray(shown, dtype=float)
    ax.set_ylim(0, max(2.5, 1.25 * np.max(shown[np.isfinite(shown)], initial=0.0)))
    ax.set_ylabel("switch rate tempered / free")
    ax.legend(fontsize="x-small")


def mixing_metrics(summary: xr.Dataset) -> plt.Figure:
    """Free against tempered per network and sampler: switch rate, bulk ESS, coverage time, ground-state confidence,
    and the switch ratio.

    Bars: mean over runs (ESS: over trained RBMs) with the bootstrap interval (trained
    RBMs, then seeds); dots: single runs (ESS: single trained RBMs). Coverage times of
    runs that never visited every class are drawn at the run's length (censored). Ratio
    panel: the pooled ratio by the two-stage bootstrap and by the Poisson GEE with their
    intervals (an unbounded one drawn to the top), grey dots the ratio of each trained RBM.
    """
    columns = _panels(summary)
    metrics = {name: label for name, label in MIXING_PANELS.items() if name in summary}
    fig, axes = plt.subplots(1, len(metrics) + 1, figsize=(6 * len(metrics) + 8, 6.5), constrained_layout=True)
    for ax, (metric, label) in zip(axes, metrics.items()):
        _metric_panel(ax, summary, metric, columns)
        ax.set_ylabel(label)
    axes[list(metrics).index("ground_confidence")].set_ylim(0, 1)
    confidence = 100 * summary["switch_ratio_ci_low"].attrs["confidence"]
    axes[0].legend(fontsize="small", title=f"bars: mean, {confidence:g} % CI (RBMs, then seeds)",
                   title_fontsize="x-small")
    _ratio_panel(axes[-1], summary, columns)
    n_runs = int(np.isfinite(summary["switch_rate_hz"].sel(schedule="tempered")).sum(("training_seed", "seed")).max())
    fig.suptitle(f"{summary.sizes['training_seed']} trained RBMs x {summary.sizes['seed']} seeds "
                 f"({n_runs} runs per sampler and schedule), T_max = {summary.attrs['readout_t_max']:g} at "
                 f"{summary.attrs['readout_frequency_hz']:g} Hz", fontsize="small")
    sns.despine(fig)
    return fig


def _panels(summary: xr.Dataset) -> list[tuple[str, str, str]]:
    """``(network, sampler, label)`` of every network and sampler with runs, translated networks first."""
    runs = np.isfinite(summary["switch_rate_hz"]).any(("schedule", "training_seed", "seed"))
    columns = []
    for network in summary["network"].values:
        for sampler in summary["sampler"].values:
            if bool(runs.sel(network=network, sampler=sampler)):
                label = SAMPLER_LABELS.get(str(sampler), str(sampler))
                columns.append((str(network), str(sampler), label if network == "translated" else f"{label} ({network})"))
    return columns


LAYER_MARKERS = {"visible": "o", "hidden": "s"}
GAINS = {"conditional_bias_gain": "bias gain a", "conditional_coupling_gain": "coupling gain g"}


def conditional_calibration(summary: xr.Dataset) -> plt.Figure:
    """In-network conditional calibration per network and sampler: states against their conditionals, and the gains.

    Top row, one panel per network and sampler: the fraction of units on against the mean
    ``sigmoid(u)`` of their field ``u`` in bins of ``u``, pooled over runs (a sampler that
    follows its conditionals lies on the diagonal). Bottom: the logistic fit's bias and
    coupling gains per layer and schedule, mean over runs with the two-stage bootstrap
    interval (1: correct; both above 1: a sampler colder than T = 1).
    """
    columns = _panels(summary)
    fig = plt.figure(figsize=(7 * max(len(columns), 2), 13), constrained_layout=True)
    grid = fig.add_gridspec(2, len(columns))
    for k, (network, sampler, label) in enumerate(columns):
        ax = fig.add_subplot(grid[0, k])
        cell = summary.sel(network=network, sampler=sampler)
        curves = xr.Dataset({"expected": cell["conditional_expected_on_pooled"],
                             "fraction": cell["conditional_fraction_on_pooled"]}).to_dataframe().reset_index()
        error = cell["conditional_calibration_error_mean"]
        curves["run"] = [f"{schedule}, {layer} (error {float(error.sel(schedule=schedule, layer=layer)):.4f})"
                         for schedule, layer in zip(curves["schedule"], curves["layer"])]
        sns.lineplot(curves.dropna(subset=["fraction"]), x="expected", y="fraction", hue="run", style="layer",
                     markers=LAYER_MARKERS, dashes=False, sort=False, palette=[
                         SCHEDULE_COLOURS[run.split(",")[0]] for run in dict.fromkeys(curves["run"])],
                     ax=ax, ms=6, alpha=0.8)
        ax.plot([0, 1], [0, 1], color="0.4", ls="--", lw=1)
        ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", xlabel="mean sigmoid(field) in the bin",
               ylabel="fraction of units on")
        ax.set_title(label, fontsize="small")
        ax.legend(fontsize="xx-small", loc="upper left")
    frame = pd.concat([summary[f"{name}_{end}"].rename(end).to_dataframe().reset_index().assign(gain=gain)
                       .set_index(["network", "sampler", "schedule", "layer", "gain"])
                       for name, gain in GAINS.items() for end in ("mean", "ci_low", "ci_high")], axis=1)
    frame = frame.T.groupby(level=0).first().T.reset_index().dropna(subset=["mean"])
    ax = fig.add_subplot(grid[1, :])
    offsets = {(schedule, layer, gain): 0.1 * (i - 3.5) for i, (schedule, layer, gain) in enumerate(
        (s, la, g) for s in SCHEDULE_COLOURS for la in LAYER_MARKERS for g in GAINS.values())}
    for k, (network, sampler, _) in enumerate(columns):
        rows = frame[(frame["network"] == network) & (frame["sampler"] == sampler)]
        for _, row in rows.iterrows():
            x = k + offsets[row["schedule"], row["layer"], row["gain"]]
            filled = row["gain"] == GAINS["conditional_coupling_gain"]
            ax.errorbar(x, row["mean"], yerr=[[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]],
                        fmt=LAYER_MARKERS[row["layer"]], color=SCHEDULE_COLOURS[row["schedule"]], ms=8, capsize=4,
                        mfc=SCHEDULE_COLOURS[row["schedule"]] if filled else "white")
    ax.axhline(1.0, color="0.4", ls="--", lw=1)
    ax.set_xticks(range(len(columns)), [label for *_, label in columns])
    ax.set_ylabel("gain of the logistic fit")
    ax.set_title("per layer (marker) and schedule (colour): bias gain a (open), coupling gain g (filled); mean over "
                 "runs with the two-stage bootstrap interval", fontsize="small")
    fig.suptitle("Do the units follow their conditionals P(z = 1 | rest) = sigmoid(b + W z)? (free runs: every "
                 "sample; tempered runs: samples with T <= 1 + tolerance)", fontsize="small")
    sns.despine(fig)
    return fig


def parameter_scan_heatmaps(scan: xr.Dataset) -> plt.Figure:
    """Heatmaps over frequency x T_max, one row per schedule shape: tempered switch rate and the ratios (with CIs)."""
    panels = {"switch_rate_hz": ("tempered switch rate (Hz)", "rocket", "{:.2f}\nfree {:.2f}"),
              "switch_ratio": ("switch rate tempered / free", "mako", "{:.2f}\n[{:.2f}, {:.2f}]"),
              "ground_confidence_ratio": ("ground confidence tempered / free", "crest_r", "{:.2f}\n[{:.2f}, {:.2f}]")}
    shapes = [str(shape) for shape in scan["shape"].values]
    fig, axes = plt.subplots(len(shapes), len(panels), squeeze=False, constrained_layout=True,
                             figsize=(8 * len(panels), len(shapes) * (0.9 * scan.sizes["frequency_hz"] + 4)))
    rows = [f"{f:g}" for f in scan["frequency_hz"].values]
    columns = [f"{t:g}" for t in scan["t_max"].values]
    for shape, row_axes in zip(shapes, axes):
        point = scan.sel(shape=shape)
        label = f"dwell {scan.attrs['dwell_fraction']:g} of each period" if shape == "dwell" else shape
        for ax, (name, (title, cmap, fmt)) in zip(row_axes, panels.items()):
            values = point[name].transpose("frequency_hz", "t_max").values
            if name == "switch_rate_hz":
                free = point["free_switch_rate_hz"].transpose("frequency_hz", "t_max").values
                text = np.vectorize(fmt.format)(values, free)
            else:
                low, high = (point[f"{name}{s}"].transpose("frequency_hz", "t_max").values
                             for s in ("_ci_low", "_ci_high"))
                text = np.vectorize(fmt.format)(values, low, high)
            sns.heatmap(pd.DataFrame(values, index=rows, columns=columns), annot=text, fmt="", cmap=cmap, ax=ax,
                        annot_kws={"fontsize": "x-small"}, cbar_kws={"label": title})
            ax.invert_yaxis()
            ax.set_xlabel("$T_{max}$")
            ax.set_ylabel("frequency (Hz)")
            ax.set_title(f"{label}: {title}", fontsize="small")
    n_runs = int(np.nanmin(scan["n_runs"].values))
    sampler = SAMPLER_LABELS.get(scan.attrs["sampler"], scan.attrs["sampler"])
    confidence = 100 * scan["switch_ratio_ci_low"].attrs["confidence"]
    fig.suptitle(f"{sampler}, {n_runs} runs per grid point ({scan.sizes['training_seed']} trained RBMs; mean, "
                 f"{confidence:g} % two-stage bootstrap CI: RBMs, then seeds)", fontsize="small")
    return fig


def stp_scan_heatmaps(scan: xr.Dataset) -> plt.Figure:
    """Heatmaps over U x tau_rec of the free STP network against the free renewing one: ratios with CIs.

    ``scan`` from :func:`lif_tempering.analysis.stp_scan.stp_scan`; each cell shows the ratio of
    the means and its two-stage bootstrap interval; colours centred on 1 (as the renewing network).
    """
    panels = {"switch_ratio_vs_free_lif": "switch rate STP / renewing",
              "ground_confidence_ratio_vs_free_lif": "ground confidence STP / renewing",
              "ground_fidelity_ratio_vs_free_lif": "ground activity fidelity STP / renewing"}
    fig, axes = plt.subplots(1, len(panels), squeeze=False, constrained_layout=True,
                             figsize=(8 * len(panels), 0.9 * scan.sizes["U"] + 4.5))
    rows = [f"{U:g}" for U in scan["U"].values]
    columns = [f"{tau:g}" for tau in scan["tau_rec_ms"].values]
    for ax, (name, title) in zip(axes[0], panels.items()):
        values, low, high = (scan[f"{name}{s}"].transpose("U", "tau_rec_ms").values for s in ("", "_ci_low", "_ci_high"))
        text = np.vectorize("{:.2f}\n[{:.2f}, {:.2f}]".format)(values, low, high)
        sns.heatmap(pd.DataFrame(values, index=rows, columns=columns), annot=text, fmt="", cmap="vlag", center=1.0,
                    ax=ax, annot_kws={"fontsize": "x-small"}, cbar_kws={"label": title})
        ax.invert_yaxis()
        ax.set_xlabel(r"$\tau_{rec}$ (ms)")
        ax.set_ylabel("U (release of a rested synapse)")
        ax.set_title(title, fontsize="small")
    n_runs = int(np.nanmin(scan["n_runs"].values))
    confidence = 100 * scan["switch_ratio_vs_free_lif_ci_low"].attrs["confidence"]
    fig.suptitle(f"free (T = 1) LIF networks, STP against renewing synapses: {n_runs} runs per grid point "
                 f"(trained RBMs x seeds), free renewing switch rate {float(scan['free_lif_switch_rate_hz']):.2f} Hz; "
                 f"mean ratio, {confidence:g} % two-stage bootstrap CI (RBMs, then seeds)", fontsize="small")
    return fig


def phase_diagnostics_figure(ds: xr.Dataset) -> plt.Figure:
    """Phase profiles (mean over runs, band: spread over runs) of free and tempered runs, relaxation times in the legend.

    ``ds`` from :func:`lif_tempering.analysis.phase_diagnostics.phase_diagnostics`; x is the
    phase as a fraction of the period (0: ``T = 1``, 0.5: ``T_max``).
    """
    panels = {"temperature": "T", "visible_activity": "visible activity (states)",
              "image_activity": "activity of the classified image", "hidden_activity": "hidden activity",
              "confidence": "classifier confidence", "label_change_probability": "P(label change)",
              "free_energy": "free energy F(v) (nat)"}
    frame = ds[list(panels)].to_dataframe().reset_index()
    frame["phase / period"] = frame["phase"] / (2 * np.pi)
    relaxation = ds["relaxation_time_ms_mean"]
    censored = ds["relaxation_censored_fraction_mean"]
    frame["run"] = [f"{SAMPLER_LABELS.get(s, s)}, {schedule}: relaxation "
                    f"{float(relaxation.sel(sampler=s, schedule=schedule)):.0f} ms "
                    f"({100 * float(censored.sel(sampler=s, schedule=schedule)):.0f} % censored)"
                    for s, schedule in zip(frame["sampler"], frame["schedule"])]
    fig, axes = plt.subplots(2, 4, figsize=(30, 12), sharex=True, constrained_layout=True)
    for ax, (name, label) in zip(axes.flat, panels.items()):
        sns.lineplot(frame, x="phase / period", y=name, hue="run", errorbar=("pi", 100), ax=ax,
                     legend=name == "temperature")
        ax.set_ylabel(label)
        if name == "image_activity":
            target, tolerance = ds.attrs["data_mean_visible"], ds.attrs["activity_tolerance"]
            ax.axhspan(target * (1 - tolerance), target * (1 + tolerance), color="0.85", zorder=0)
            ax.axhline(target, color="0.4", linestyle="--")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[0].get_legend().remove()
    axes.flat[-1].axis("off")
    axes.flat[-1].legend(handles, labels, loc="center", fontsize="x-small",
                         title="grey band: test images' mean pixel\n+- activity_tolerance", title_fontsize="x-small")
    fig.suptitle(f"Phase-resolved diagnostics at {ds.attrs['readout_frequency_hz']:g} Hz ({ds.sizes['phase']} phase "
                 f"bins; lines: mean over {ds.sizes['training_seed']} trained RBMs x {ds.sizes['seed']} seeds, "
                 "bands: range over runs)", fontsize="small")
    return fig

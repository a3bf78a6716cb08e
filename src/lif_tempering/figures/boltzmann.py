"""Figures of the Boltzmann-machine part of the study (seaborn), sized for the Snakemake report."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from lif_tempering.learning.classifier import classify  # noqa: E402
from lif_tempering.learning.study import rbm_classifier, rbm_parameters  # noqa: E402

sns.set_theme(context="talk", style="ticks")

SAMPLER_LABELS = {
    "target": "target (exact)",
    "gibbs": "Gibbs",
    "lif": "LIF (renewing, corrected)",
    "lif_uncorrected": "LIF (renewing, uncorrected)",
    "lif_exponential": "LIF (exponential synapses)",
    "lif_stp": "LIF (short-term plasticity)",
    "lif_calibrated": "LIF (network calibration)",
    "lif_in_the_loop": "LIF (trained in the loop)",
}
#: Samplers of :func:`joint_distributions` where the validation holds them.
JOINT_SAMPLERS = ("gibbs", "lif", "lif_calibrated", "lif_in_the_loop")


def joint_distributions(small_bm: xr.Dataset, samplers=JOINT_SAMPLERS) -> plt.Figure:
    """Exact and sampled joint distributions of every validation machine, one panel per machine (the ``samplers``
    the validation holds)."""
    samplers = [s for s in samplers if s in small_bm["sampler"].values]
    frames = []
    labels = small_bm["state_label"].values
    for bm in small_bm["bm"].values:
        row = small_bm.sel(bm=bm)
        frames.append(pd.DataFrame({"bm": bm, "state": labels, "p": row.p_target.values,
                                    "source": SAMPLER_LABELS["target"]}))
        for sampler in samplers:
            frames.append(pd.DataFrame({"bm": bm, "state": labels, "p": row.p_sampled.sel(sampler=sampler).values,
                                        "source": SAMPLER_LABELS[sampler]}))
    table = pd.concat(frames, ignore_index=True)
    n_bm = small_bm.sizes["bm"]
    fig, axes = plt.subplots(n_bm, 1, figsize=(18, 3.6 * n_bm), sharex=True, squeeze=False,
                             constrained_layout=True)
    time_s = float(small_bm["time_ms"][-1]) / 1e3
    for ax, bm in zip(axes[:, 0], small_bm["bm"].values):
        sns.barplot(table[table.bm == bm], x="state", y="p", hue="source", ax=ax, legend=bm == 0,
                    palette=["0.3", *sns.color_palette("deep", len(samplers))])
        dkl = ", ".join(f"{SAMPLER_LABELS[s]} {float(small_bm.dkl.sel(bm=bm, sampler=s)[-1]):.4f}" for s in samplers)
        ax.set_title(f"machine {bm}: D_KL = {dkl} nat", fontsize="small")
        ax.set_ylabel("p(z)")
    axes[-1, 0].set_xlabel("joint state $z_0 z_1 \\ldots$")
    axes[-1, 0].tick_params(axis="x", rotation=90, labelsize="x-small")
    axes[0, 0].legend(title=f"after {time_s:g} s of sampling per machine", fontsize="small",
                      title_fontsize="small", ncols=len(samplers) + 1)
    sns.despine(fig)
    return fig


def dkl_vs_time(small_bm: xr.Dataset) -> plt.Figure:
    """D_KL(p_target || p_sampled) against sampling time, log axes: each machine thin, the median thick."""
    table = small_bm["dkl"].to_dataframe().reset_index()
    table["sampler"] = table["sampler"].map(SAMPLER_LABELS)
    table["time_s"] = table["time_ms"] / 1e3
    order = [SAMPLER_LABELS[s] for s in small_bm["sampler"].values]
    palette = dict(zip(order, sns.color_palette("deep", len(order))))
    fig, ax = plt.subplots(figsize=(11, 7.5), constrained_layout=True)
    sns.lineplot(table, x="time_s", y="dkl", hue="sampler", units="bm", estimator=None, palette=palette,
                 hue_order=order, lw=1, alpha=0.5, legend=False, ax=ax)
    median = table.groupby(["sampler", "time_s"], as_index=False)["dkl"].median()
    sns.lineplot(median, x="time_s", y="dkl", hue="sampler", hue_order=order, palette=palette, marker="o",
                 lw=3, ax=ax)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sampling time per machine (s of network time)")
    ax.set_ylabel("$D_{KL}(p_{target} \\,\\|\\, p_{sampled})$ (nat)")
    ax.legend(title=f"median of {small_bm.sizes['bm']} machines", fontsize="small", title_fontsize="small")
    sns.despine(fig)
    return fig


def _image_grid(images, image_shape, n_rows: int, n_columns: int, titles=None, cmap="binary", symmetric=False,
                figure_title: str = "") -> plt.Figure:
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(max(1.3 * n_columns, 9.0), 1.45 * n_rows + 0.6),
                             squeeze=False, constrained_layout=True)
    for k, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if k >= len(images):
            continue
        image = np.asarray(images[k], dtype=np.float64).reshape(image_shape)
        limit = np.abs(image).max() or 1.0
        ax.imshow(image, cmap=cmap, vmin=-limit if symmetric else 0, vmax=limit if symmetric else 1,
                  interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize="x-small", pad=2)
    fig.suptitle(figure_title, fontsize="medium")
    return fig


def _image_shape(rbm: xr.Dataset) -> tuple[int, int]:
    return int(rbm.attrs["image_height"]), int(rbm.attrs["image_width"])


def rbm_filters(rbm: xr.Dataset, n_filters: int = 100) -> plt.Figure:
    """Receptive fields (weights of one hidden unit to all pixels) of the first ``n_filters`` hidden units."""
    W, _, _ = rbm_parameters(rbm)
    n = min(n_filters, W.shape[1])
    n_columns = int(np.ceil(np.sqrt(n)))
    return _image_grid(W[:, :n].T, _image_shape(rbm), int(np.ceil(n / n_columns)), n_columns, cmap="RdBu_r",
                       symmetric=True, figure_title=f"weights of hidden units 0-{n - 1} (red > 0, blue < 0)")


def rbm_gibbs_samples(rbm: xr.Dataset) -> plt.Figure:
    """Visible states of block-Gibbs chains (rows: chains, columns: snapshots) with the classifier's label."""
    v = rbm["gibbs_visible"].transpose("gibbs_chain", "gibbs_snapshot", "visible").values
    n_chains, n_snapshots, _ = v.shape
    images = v.reshape(-1, v.shape[-1])
    steps = np.tile(rbm["gibbs_snapshot"].values, n_chains)
    titles = [f"{s} steps: {label}" for s, label in zip(steps, classify(rbm_classifier(rbm), images)[0])]
    return _image_grid(images, _image_shape(rbm), n_chains, n_snapshots, titles,
                       figure_title="abstract block-Gibbs samples at T = 1 (title: steps, classifier label)")


def lif_samples(samples: xr.Dataset, rbm: xr.Dataset, n_rows: int = 8, n_columns: int = 12) -> plt.Figure:
    """Visible states of the LIF network at evenly spaced times, with the classifier's label."""
    n_visible = rbm.sizes["visible"]
    picks = np.linspace(0, samples.sizes["time"] - 1, n_rows * n_columns).astype(int)
    images = samples["z"].values[picks, :n_visible]
    times_s = samples["time_ms"].values[picks] / 1e3
    titles = [f"{t:.1f} s: {label}" for t, label in zip(times_s, classify(rbm_classifier(rbm), images)[0])]
    return _image_grid(images, _image_shape(rbm), n_rows, n_columns, titles,
                       figure_title="LIF network samples at T = 1 (title: network time, classifier label)")


def training_curves(rbm: xr.Dataset) -> plt.Figure:
    """Reconstruction error, pseudo-log-likelihood and learning rate against the epoch."""
    table = rbm[["reconstruction_error", "pseudo_log_likelihood", "learning_rate"]].to_dataframe().reset_index()
    fig, axes = plt.subplots(1, 3, figsize=(20, 6), constrained_layout=True)
    for ax, column, label in zip(axes, ("reconstruction_error", "pseudo_log_likelihood", "learning_rate"),
                                 ("reconstruction error per pixel", "pseudo-log-likelihood (nat per image)",
                                  "learning rate")):
        sns.lineplot(table, x="epoch", y=column, ax=ax, lw=2)
        ax.set_ylabel(label)
    axes[2].set_yscale("log")
    a = rbm.attrs
    fig.suptitle(f"{rbm.sizes['visible']} visible, {rbm.sizes['hidden']} hidden units; AIS log Z = "
                 f"{a['ais_log_z']:.2f}, test log-likelihood {a['test_log_likelihood']:.2f} nat per image, "
                 f"classifier test accuracy {a['classifier_test_accuracy']:.3f}", fontsize="small")
    sns.despine(fig)
    return fig


def network_training(calibrated: xr.Dataset, in_the_loop: xr.Dataset) -> plt.Figure:
    """The calibration rounds and the in-the-loop updates of one RBM's network (docs/in_the_loop.md).

    Top: the bias and coupling gains of both layers per calibration round (the last round
    measures the final corrections), and during the loop, against the parameters each update's
    samples were drawn with. Bottom: the class divergence of each update's samples from the
    loop's target class distribution (the RBM's reference, or the data's class prior where the
    loop trained toward the data), and their visible activity against the training images'.
    """
    fig, axes = plt.subplots(2, 2, figsize=(18, 11), constrained_layout=True)
    palette = dict(zip(("visible", "hidden"), sns.color_palette("deep", 2)))
    for layer in ("visible", "hidden"):
        rounds = calibrated.sel(layer=layer)
        for name, style in (("bias_gain", "-o"), ("coupling_gain", "--s")):
            axes[0, 0].plot(calibrated["round"], rounds[name], style, color=palette[layer],
                            label=f"{layer}: {name.replace('_', ' ')}")
            axes[0, 1].plot(in_the_loop["update"], in_the_loop[f"{name}_{layer}"], style, color=palette[layer],
                            ms=4, lw=1.5, label=f"{layer}: {name.replace('_', ' ')}")
    for ax, xlabel in ((axes[0, 0], "calibration round"), (axes[0, 1], "in-the-loop update")):
        ax.axhspan(0.97, 1.03, color="0.9", zorder=0)
        ax.axhline(1.0, color="0.4", lw=1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("gain (1: the unit follows its conditional)")
    axes[0, 0].legend(fontsize="x-small")
    tempered = in_the_loop["tempered"].values.astype(bool)
    target = "RBM's reference" if in_the_loop.attrs.get("target") == "model" else "data class prior"
    for ax, name, label in ((axes[1, 0], "class_kl", f"$D_{{KL}}$({target} || sample classes) (nat)"),
                            (axes[1, 1], "visible_activity", "mean visible activity")):
        values = in_the_loop[name].values
        ax.plot(in_the_loop["update"], values, color="0.3", lw=1.5)
        ax.plot(in_the_loop["update"][~tempered], values[~tempered], "o", color="C0", label="free run")
        ax.plot(in_the_loop["update"][tempered], values[tempered], "^", color="C3", label="tempered run (T near 1)")
        ax.set_xlabel("in-the-loop update")
        ax.set_ylabel(label)
    axes[1, 1].axhline(in_the_loop.attrs["data_visible_activity"], color="0.4", ls="--", label="training images")
    axes[1, 1].legend(fontsize="x-small")
    fig.suptitle(f"{calibrated.attrs.get('dataset', '')} RBM {calibrated.attrs.get('training_seed', '')}: network "
                 f"calibration (corrections per layer s, t, k = "
                 + "; ".join(f"{layer} {float(calibrated.bias_scale.sel(layer=layer)):.3f}, "
                             f"{float(calibrated.bias_shift.sel(layer=layer)):+.3f}, "
                             f"{float(calibrated.coupling_scale.sel(layer=layer)):.3f}" for layer in ("visible", "hidden"))
                 + ") and training in the loop", fontsize="small")
    sns.despine(fig)
    return fig

"""Figures of the study (seaborn), sized for the Snakemake report."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402

from lif_tempering.calibration.activation import logistic  # noqa: E402

sns.set_theme(context="talk", style="ticks")


def _rate_label(rate_exc_hz: float, rate_inh_hz: float) -> str:
    if np.isclose(rate_exc_hz, rate_inh_hz):
        return f"{rate_exc_hz / 1e3:g} kHz"
    return f"{rate_exc_hz / 1e3:g} / {rate_inh_hz / 1e3:g} kHz"


def membrane_distributions(membrane: xr.Dataset) -> plt.Figure:
    """Membrane-potential densities per noise configuration, free and with reset, theory dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(15, 6), constrained_layout=True)
    palette = sns.color_palette("viridis", membrane.sizes["noise"])
    for colour, noise in zip(palette, membrane["noise"].values):
        row = membrane.sel(noise=noise)
        label = _rate_label(float(row.rate_exc_hz), float(row.rate_inh_hz))
        v = row.bin_center_mV.values
        axes[0].plot(v, row.density_free.values, color=colour, lw=3, label=label)
        axes[0].plot(v, row.density_theory.values, color="k", lw=1.2, ls="--")
        axes[1].plot(v, row.density_reset.values, color=colour, lw=3,
                     label=f"{label}, $p_{{on}}$ = {float(row.p_on_reset):.2f}")
    free_peak = float(membrane.density_free.max())
    axes[0].set_title("free membrane (spiking disabled)")
    axes[1].set_title("with spiking and reset")
    axes[1].set_ylim(0, 1.3 * free_peak)
    axes[1].annotate("refractory clamp at $V_{reset}$\n(peak cut)", xy=(float(membrane.E_l_mV.values.flat[0]),
                     1.25 * free_peak), xytext=(0.98, 0.9), textcoords="axes fraction", ha="right", va="top",
                     fontsize="small", arrowprops={"arrowstyle": "->", "color": "0.3"})
    for ax in axes:
        ax.set_xlabel("membrane potential V (mV)")
        ax.set_ylabel("probability density (1/mV)")
        ax.axvline(float(membrane.E_l_mV.values.flat[0]), color="0.5", lw=1, ls=":")
    axes[0].legend(title="background rate (exc. = inh.)", fontsize="x-small", title_fontsize="x-small",
                   loc="upper left")
    axes[1].legend(fontsize="x-small", loc="center left")
    axes[0].text(0.98, 0.97, "solid: simulation\ndashed: HCS theory", transform=axes[0].transAxes,
                 va="top", ha="right", fontsize="small")
    sns.despine(fig)
    return fig


def activation_functions(temperature_map: xr.Dataset) -> plt.Figure:
    """p_on against E_l at each target temperature, one panel per noise scheme."""
    schemes = list(temperature_map["scheme"].values)
    fig, axes = plt.subplots(1, len(schemes), figsize=(7.5 * len(schemes), 6), sharey=True, squeeze=False,
                             constrained_layout=True)
    temperatures = temperature_map["temperature"].values
    palette = sns.color_palette("flare", len(temperatures))
    for ax, scheme in zip(axes[0], schemes):
        for colour, temperature in zip(palette, temperatures):
            row = temperature_map.sel(scheme=scheme, temperature=temperature)
            E_l = row.E_l_mV.values
            ax.plot(E_l, row.p_on.values, "o", color=colour, ms=4, alpha=0.7)
            grid = np.linspace(E_l.min(), E_l.max(), 200)
            ax.plot(grid, logistic(grid, float(row.u0_mV), float(row.alpha_mV)), color=colour, lw=2,
                    label=f"T = {temperature:g}")
        ax.axvline(float(temperature_map.sel(scheme=scheme, temperature=temperatures[0]).u0_mV), color="0.4",
                   lw=1, ls=":")
        ax.set_title(f"{scheme} noise")
        ax.set_xlabel("leak potential $E_l$ (mV)")
    axes[0, 0].set_ylabel("$p_{on}$ = P(z = 1)")
    axes[0, -1].legend(fontsize="small")
    sns.despine(fig)
    return fig


def noise_to_temperature(activation: xr.Dataset, temperature_map: xr.Dataset) -> plt.Figure:
    """alpha, u0 and T against the excitatory rate: noise sweep and both temperature schemes."""
    frames = [pd.DataFrame({
        "rate_exc_hz": activation.rate_exc_hz.values, "alpha_mV": activation.alpha_mV.values,
        "u0_mV": activation.u0_mV.values, "series": "noise sweep",
    })]
    for scheme in temperature_map["scheme"].values:
        row = temperature_map.sel(scheme=scheme)
        frames.append(pd.DataFrame({
            "rate_exc_hz": row.rate_exc_hz.values, "alpha_mV": row.alpha_mV.values, "u0_mV": row.u0_mV.values,
            "series": f"temperature map, {scheme}",
        }))
    table = pd.concat(frames, ignore_index=True)
    reference = temperature_map.isel(scheme=0).sel(temperature=1.0)
    table["T"] = table["alpha_mV"] / float(reference.alpha_mV)
    fig, axes = plt.subplots(1, 3, figsize=(20, 6), constrained_layout=True)
    for ax, column, label in zip(axes, ("alpha_mV", "u0_mV", "T"),
                                 ("activation width $\\alpha$ (mV)", "inflection point $u_0$ (mV)",
                                  "temperature T = $\\alpha / \\alpha_{T=1}$")):
        sns.lineplot(table, x="rate_exc_hz", y=column, hue="series", style="series", markers=True, dashes=False,
                     ax=ax, legend=ax is axes[0], markersize=9)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5]))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1e3:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("excitatory background rate (kHz)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize="small")
    sns.despine(fig)
    return fig

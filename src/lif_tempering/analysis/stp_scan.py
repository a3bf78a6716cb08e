"""The STP scan: free (``T = 1``) ``lif_stp`` networks over ``U`` x ``tau_rec`` against the free renewing network.

Short-term plasticity is a second route to mixing besides tempering (docs/mixing.md):
depressing synapses can weaken the couplings that hold a network in a mode while it stays
there (with rested-synapse weights a small ``U`` over-couples instead: the resource hardly
depletes and the PSPs of a burst pile up; measured W_eff/W in docs/results.md). The scan
runs the free ``lif_stp`` network (Tsodyks-Markram synapses, :mod:`lif_tempering.neuron.stp`)
at every grid point of utilisation ``U`` x recovery time constant ``tau_rec_ms`` on the
trained RBMs and seeds of the parameter scan (its own RBMs, measured against the test images'
statistics, :func:`lif_tempering.learning.reference.data_statistics_dataset`), and compares it
with the free renewing ``lif`` network of the same trained RBMs and seeds.

Every run is read as the free runs of the tempering study, in the ground-state windows
of the study's tempered schedule (:func:`lif_tempering.analysis.study.mixing_group`),
so the numbers are on the scale of the study's free runs. Per grid point, the free
``lif`` groups and the grid point's ``lif_stp`` groups are summarised together
(:func:`lif_tempering.analysis.study.mixing_summary`): the means with two-stage cluster
bootstrap intervals (trained RBMs, then seeds) and the ratios to the free ``lif`` runs
(``*_vs_free_lif``), paired over (training seed, seed).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import xarray as xr

from lif_tempering.analysis.mixing import RATIOS_VS_FREE_LIF, TRANSLATED_NETWORK
from lif_tempering.analysis.study import mixing_summary

#: Per-run metrics of the scan: the ``lif_stp`` runs' mean with interval at every grid point.
#: The scan's RBMs have no reference class distribution (the test images' statistics only), so no class D_KL to it.
STP_SCAN_METRICS = ("switch_rate_hz", "ground_confidence", "ground_visible_activity_ratio",
                    "ground_activity_fidelity", "ground_free_energy_gap")
#: Ratios of the ``lif_stp`` runs' mean to that of the free ``lif`` runs (``RATIOS_VS_FREE_LIF`` of the mixing module)
#: and the Poisson GEE rate ratio of their switch counts.
STP_SCAN_RATIOS = (*RATIOS_VS_FREE_LIF, "switch_ratio_vs_free_lif_glm")
#: Synapse settings shared by every grid point (the ``stp_sampler`` config's), kept as attributes.
STP_SHARED_ATTRS = ("stp_tau_fac_ms", "stp_weight_scaling")
_SUFFIXES = (("", "mean"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high"))
#: Attributes of the summaries carried into the scan.
_SUMMARY_ATTRS = ("dataset", "readout", "readout_frequency_hz", "readout_t_max", "readout_shape", "readout_dwell_fraction",
                  "readout_delay", "ground_state_tolerance", "bootstrap_method", "bootstrap_resamples",
                  "bootstrap_seed", "bootstrap_confidence", "bootstrap_distinct_resamples")


def stp_point_label(U: float, tau_rec_ms: float) -> str:
    """``U{U}_taurec{tau_rec_ms}`` (4 significant digits; ``tau_rec`` in ms): a grid point for file names."""
    return f"U{float(U):.4g}_taurec{float(tau_rec_ms):.4g}"


def _index(values: np.ndarray, value: float, name: str) -> int:
    matches = np.flatnonzero(np.isclose(values, value, rtol=1e-9, atol=0.0))
    if matches.size != 1:
        raise ValueError(f"{name} = {value} of a group is not on the scan's grid {values.tolist()}")
    return int(matches[0])


def _shared(groups: list[xr.Dataset], key: str):
    values = {group.attrs[key] for group in groups}
    if len(values) != 1:
        raise ValueError(f"the lif_stp groups of the scan differ in {key}: {sorted(map(str, values))}")
    return values.pop()


def stp_scan(free_lif_groups: list[xr.Dataset], stp_groups: list[xr.Dataset], U_values, tau_rec_ms_values,
             seed: int, n_resamples: int, confidence: float) -> xr.Dataset:
    """Grid ``U`` x ``tau_rec_ms`` of free ``lif_stp`` runs against the free ``lif`` runs.

    ``free_lif_groups``: :func:`~lif_tempering.analysis.study.mixing_group` of the free ``lif`` runs,
    one per trained RBM; ``stp_groups``: those of the free ``lif_stp`` runs, one per grid point and
    trained RBM, placed by their attributes ``stp_U`` and ``stp_tau_rec_ms`` (ms); every grid point
    needs groups, with the same training seeds and seeds as the ``lif`` ones. Per grid point:
    :data:`STP_SCAN_METRICS` of the ``lif_stp`` runs (mean over runs, ``_ci_low``, ``_ci_high``),
    :data:`STP_SCAN_RATIOS` with their intervals, ``n_runs`` and ``stp_weight_factor``; the free ``lif`` runs' metrics as
    scalars ``free_lif_{metric}`` (their own summary). Intervals: two-stage cluster bootstrap
    seeded with ``seed`` (``n_resamples`` percentile resamples at ``confidence``).
    """
    U_values = np.asarray(sorted(map(float, U_values)))
    tau_rec_ms_values = np.asarray(sorted(map(float, tau_rec_ms_values)))
    if any(str(s) != "lif" for group in free_lif_groups for s in group["sampler"].values):
        raise ValueError("the free_lif_groups must hold the sampler lif only")
    if any(str(s) != "lif_stp" for group in stp_groups for s in group["sampler"].values):
        raise ValueError("the stp_groups must hold the sampler lif_stp only")
    by_point = defaultdict(list)
    for group in stp_groups:
        i = _index(U_values, float(group.attrs["stp_U"]), "stp_U")
        j = _index(tau_rec_ms_values, float(group.attrs["stp_tau_rec_ms"]), "stp_tau_rec_ms")
        by_point[i, j].append(group)
    missing = [(float(U_values[i]), float(tau_rec_ms_values[j])) for i in range(U_values.size)
               for j in range(tau_rec_ms_values.size) if (i, j) not in by_point]
    if missing:
        raise ValueError(f"no lif_stp runs at the grid points (U, tau_rec_ms) {missing}")
    shared = {key: _shared(stp_groups, key) for key in STP_SHARED_ATTRS}

    # (scan variable, summary variable): the metrics' means and intervals, the ratios with theirs
    sources = [(f"{metric}{suffix}", f"{metric}_{source}") for metric in STP_SCAN_METRICS for suffix, source in _SUFFIXES]
    sources += [(f"{name}{suffix}", f"{name}{suffix}") for name in STP_SCAN_RATIOS for suffix, _ in _SUFFIXES]
    tables = {name: np.full((U_values.size, tau_rec_ms_values.size), np.nan)
              for name in [output for output, _ in sources] + ["n_runs", "stp_weight_factor"]}
    attrs = {"n_runs": {"units": "1", "long_name": "free lif_stp runs (training seeds x seeds) at the grid point"},
             "stp_weight_factor": {"units": "1", "long_name": "factor on the translated weights: 1 / the release "
                                                              "of stp_weight_scaling"}}
    summary = None
    for (i, j), groups in by_point.items():
        summary = mixing_summary([*free_lif_groups, *groups], seed, n_resamples, confidence)
        point = summary.sel(network=TRANSLATED_NETWORK, sampler="lif_stp", schedule="free")
        for output, source in sources:
            variable = point[source]
            tables[output][i, j] = float(variable)
            attrs[output] = dict(variable.attrs, long_name=f"free lif_stp runs: {variable.attrs['long_name']}")
        tables["n_runs"][i, j] = int(np.isfinite(point["switch_rate_hz"]).sum())
        tables["stp_weight_factor"][i, j] = _shared(groups, "stp_weight_factor")
    dims = ("U", "tau_rec_ms")
    data = {name: (dims, table, attrs[name]) for name, table in tables.items()}
    free = mixing_summary(free_lif_groups, seed, n_resamples, confidence).sel(network=TRANSLATED_NETWORK, sampler="lif",
                                                                              schedule="free")
    for metric in STP_SCAN_METRICS:
        for suffix, source in _SUFFIXES:
            variable = free[f"{metric}_{source}"]
            data[f"free_lif_{metric}{suffix}"] = ((), float(variable),
                                                  dict(variable.attrs, long_name=f"free lif runs (renewing "
                                                                                 f"synapses): "
                                                                                 f"{variable.attrs['long_name']}"))
    data["free_lif_n_runs"] = ((), int(np.isfinite(free["switch_rate_hz"]).sum()),
                               {"units": "1", "long_name": "free lif runs (training seeds x seeds)"})
    return xr.Dataset(
        data,
        coords={"U": ("U", U_values, {"units": "1", "long_name": "Tsodyks-Markram utilisation increment per spike "
                                                                  "(release of a rested synapse)"}),
                "tau_rec_ms": ("tau_rec_ms", tau_rec_ms_values,
                               {"units": "ms", "long_name": "Tsodyks-Markram recovery time constant of the "
                                                           "synaptic resource"})},
        attrs={"title": "STP scan: free lif_stp networks over U x tau_rec against the free renewing lif network",
               "sampler": "lif_stp", "reference_sampler": "lif", "schedule": "free",
               **{key: summary.attrs[key] for key in _SUMMARY_ATTRS if key in summary.attrs}, **shared},
    )

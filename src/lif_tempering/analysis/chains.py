"""The seeds of one trained RBM as chains of one sampler: multi-chain diagnostics and class D_KL floors (docs/mixing.md).

For every network, sampler, schedule and trained RBM (training seed) of a combined-runs
dataset (:func:`lif_tempering.analysis.mixing.combine_runs`), the runs of its sampling
seeds are independent chains of one sampler on one model, read in the same
ground-state windows. :func:`chain_variables` compares them as MCMC practitioners do
(:mod:`lif_tempering.sampling.diagnostics`: ArviZ's rank-normalised split-R-hat and bulk
effective sample size) on two sequences per window: the class indicators of the
window's majority label and the window-mean visible free energy.

:func:`kl_floor_variables` puts every class D_KL beside its floor, the value a sampler
drawing exactly the target with the same effective number of windows would score
(:func:`lif_tempering.sampling.divergence.kl_floor`), and the excess over it: per run (the
RBM's bulk ESS per window times the run's windows so far) and pooled over the seeds of
the RBM.

What these diagnostics cannot see: chains that all sit in the same mode (or visit the
same few) agree with one another and look converged; only the class D_KL against a
converged reference beside its floor shows that they miss the rest.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xarray as xr

from lif_tempering.analysis.mixing import RUN_DIMS
from lif_tempering.sampling.diagnostics import chain_diagnostics, indicator_diagnostics
from lif_tempering.sampling.divergence import kl_floor, kl_target_to_histogram

#: Dims of the per-RBM diagnostics: the runs of one cell are the chains.
CHAIN_DIMS = RUN_DIMS[:-1]
#: Fewest windows per chain the diagnostics accept (ArviZ's split chains need four draws).
MIN_CHAIN_WINDOWS = 4
_CENSORED = "censored: no {what} varies in any seed's windows"

#: Per-RBM diagnostics of :func:`chain_variables`: units and long names.
CHAIN_METRICS = {
    "r_hat_label": ("1", "rank-normalised split-R-hat of the class indicators of the window labels over the "
                         "seeds, largest over the classes that vary (nan: censored)"),
    "ess_bulk_label": ("1", "bulk effective sample size of the class indicators of the window labels over all "
                            "seeds, smallest over the classes that vary (censored: one per seed)"),
    "ess_bulk_label_per_s": ("Hz", "ess_bulk_label per second of simulated time of all seeds together"),
    "ess_bulk_label_per_wall_s": ("Hz", "ess_bulk_label per wall-clock second of all seeds' runs together"),
    "ess_bulk_label_censored": ("1", _CENSORED.format(what="class indicator") + ": r_hat_label undefined, "
                                     "ess_bulk_label one per seed (an upper bound)"),
    "r_hat_free_energy": ("1", "rank-normalised split-R-hat of the window-mean visible free energy over the seeds "
                               "(nan: censored)"),
    "ess_bulk_free_energy": ("1", "bulk effective sample size of the window-mean visible free energy over all "
                                  "seeds (censored: one per seed)"),
    "ess_bulk_free_energy_per_s": ("Hz", "ess_bulk_free_energy per second of simulated time of all seeds "
                                         "together"),
    "ess_bulk_free_energy_censored": ("1", _CENSORED.format(what="window free energy")),
    "n_chains": ("1", "seeds (chains) of the trained RBM that have windows"),
    "n_chain_windows": ("1", "windows per chain entering the diagnostics (the fewest of the chains)"),
}
_FLOOR = ("expected {name} of a sampler drawing exactly the {target} with the same effective number of windows "
          "(the RBM's bulk ESS of the window labels per window, times the windows {scope})")
#: Targets of the class D_KL: the per-run name's stem -> (pooled name, description).
TARGETS = {"class_kl": ("pooled_class_kl_prior", "data class prior"),
           "class_kl_reference": ("pooled_class_kl_reference", "RBM's reference class distribution")}


def _cell_items(da: xr.DataArray, cell_dims, trailing=()) -> tuple[tuple, np.ndarray]:
    """The values of ``da`` as (*cell shape, *trailing shape) and the cell shape."""
    values = np.asarray(da.transpose(*cell_dims, *trailing).values, dtype=np.float64)
    return values.shape[:len(cell_dims)], values


def _chain_cell(labels: np.ndarray, free_energy: np.ndarray, duration_s: np.ndarray, wall_time_s: np.ndarray,
                n_classes: int) -> dict:
    """:data:`CHAIN_METRICS` of one trained RBM's chains: (seed, window) labels and free energies."""
    result = dict.fromkeys(CHAIN_METRICS, np.nan)
    chains = ~np.all(np.isnan(labels), axis=1)
    if not chains.any():
        return result
    n_windows = int(np.min(np.sum(~np.isnan(labels[chains]), axis=1)))
    result.update(n_chains=int(chains.sum()), n_chain_windows=n_windows)
    if n_windows < MIN_CHAIN_WINDOWS:
        return result
    label = indicator_diagnostics(labels[chains, :n_windows].astype(np.int64), n_classes)
    energy = chain_diagnostics(free_energy[chains, :n_windows])
    simulated_s, wall_s = float(np.sum(duration_s[chains])), float(np.sum(wall_time_s[chains]))
    result.update(r_hat_label=label.r_hat, ess_bulk_label=label.ess_bulk, ess_bulk_label_censored=label.censored,
                  ess_bulk_label_per_s=label.ess_bulk / simulated_s, ess_bulk_label_per_wall_s=label.ess_bulk / wall_s,
                  r_hat_free_energy=energy.r_hat, ess_bulk_free_energy=energy.ess_bulk,
                  ess_bulk_free_energy_per_s=energy.ess_bulk / simulated_s,
                  ess_bulk_free_energy_censored=energy.censored)
    return result


def chain_variables(runs: xr.Dataset, n_classes: int) -> dict[str, xr.DataArray]:
    """:data:`CHAIN_METRICS` on :data:`CHAIN_DIMS` from the runs' ``window_label``, ``window_free_energy``,
    ``duration_s`` and ``wall_time_s``.

    The chains are a cell's seeds with windows, cut to the windows all of them have; a
    cell of chains with fewer than :data:`MIN_CHAIN_WINDOWS` windows has ``nan`` diagnostics.
    """
    shape, labels = _cell_items(runs["window_label"], CHAIN_DIMS, ("seed", "window"))
    _, free_energy = _cell_items(runs["window_free_energy"], CHAIN_DIMS, ("seed", "window"))
    _, duration = _cell_items(runs["duration_s"], CHAIN_DIMS, ("seed",))
    _, wall = _cell_items(runs["wall_time_s"], CHAIN_DIMS, ("seed",))
    cells = [_chain_cell(labels[i], free_energy[i], duration[i], wall[i], n_classes) for i in np.ndindex(shape)]
    coords = {dim: runs[dim] for dim in CHAIN_DIMS}
    return {name: xr.DataArray(np.reshape(np.array([cell[name] for cell in cells], dtype=np.float64), shape),
                               dims=CHAIN_DIMS, coords=coords, attrs={"units": units, "long_name": long_name})
            for name, (units, long_name) in CHAIN_METRICS.items()}


@lru_cache(maxsize=4096)
def _floor(target: tuple, n_windows: int, n_effective: int) -> tuple[float, float]:
    return tuple(kl_floor(np.array(target), n_windows, n_effective))


def _floor_of(target: np.ndarray | None, n_windows: float, n_effective: float) -> tuple[float, float]:
    """Mean and 95th percentile of the floor; ``nan`` without a target, windows or effective windows."""
    if target is None or not (n_windows >= 1 and np.isfinite(n_effective) and n_effective > 0):
        return np.nan, np.nan
    return _floor(tuple(np.asarray(target, dtype=np.float64)), int(n_windows),
                  max(1, int(round(min(n_effective, n_windows)))))


def _ess_per_window(chains: dict) -> np.ndarray:
    """The RBM's bulk ESS of the window labels per window of its chains, on :data:`CHAIN_DIMS`."""
    return np.asarray((chains["ess_bulk_label"] / (chains["n_chains"] * chains["n_chain_windows"]))
                      .transpose(*CHAIN_DIMS).values, dtype=np.float64)


def _run_floors(runs: xr.Dataset, rate: np.ndarray, target: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per run, the floor of the class D_KL curve at every ``kl_time_s`` and at the run's end."""
    shape, times = _cell_items(runs["window_time_s"], RUN_DIMS, ("window",))
    kl_times = np.asarray(runs["kl_time_s"].values, dtype=np.float64)
    curve, final = np.full(shape + kl_times.shape, np.nan), np.full(shape, np.nan)
    for index in np.ndindex(shape):
        window_times = times[index][~np.isnan(times[index])]
        per_window = rate[index[:-1]]
        seen = np.searchsorted(window_times, kl_times, side="right")
        curve[index] = [_floor_of(target, n, per_window * n)[0] for n in seen]
        final[index] = _floor_of(target, window_times.size, per_window * window_times.size)[0]
    return curve, final


def _pooled(runs: xr.Dataset, rate: np.ndarray, target: np.ndarray | None, n_classes: int) -> np.ndarray:
    """Per cell of :data:`CHAIN_DIMS`: D_KL(target || pooled histogram of all seeds' windows), its floor mean and
    95th percentile (last axis)."""
    shape, labels = _cell_items(runs["window_label"], CHAIN_DIMS, ("seed", "window"))
    out = np.full(shape + (3,), np.nan)
    for index in np.ndindex(shape):
        seen = labels[index][~np.isnan(labels[index])].astype(np.int64)
        if target is None or seen.size == 0:
            continue
        divergence = kl_target_to_histogram(target, np.bincount(seen, minlength=n_classes))
        out[index] = (divergence, *_floor_of(target, seen.size, rate[index] * seen.size))
    return out


def kl_floor_variables(runs: xr.Dataset, chains: dict, prior, reference_probability=None) -> dict[str, xr.DataArray]:
    """The class D_KL floors and excesses of ``runs`` (:func:`lif_tempering.analysis.mixing.run_mixing`'s, combined)
    with ``chains`` (:func:`chain_variables`).

    Per run: ``class_kl_floor`` and ``class_kl_reference_floor`` (``kl_time_s``),
    ``class_kl_final_floor``, ``class_kl_reference_final_floor`` and the ``_excess`` of the
    final values over them. Per trained RBM (:data:`CHAIN_DIMS`): ``pooled_class_kl_prior``
    and ``pooled_class_kl_reference``, D_KL(target || Jeffreys-smoothed histogram of all its
    seeds' window labels), with ``_floor`` (mean), ``_floor_q95`` and ``_excess``. Targets:
    ``prior`` (the data's class prior) and ``reference_probability`` (the RBM's own class
    distribution; its variables ``nan`` without one).
    """
    prior = np.asarray(prior, dtype=np.float64)
    rate = _ess_per_window(chains)
    targets = {"class_kl": prior, "class_kl_reference": reference_probability}
    run_coords = {dim: runs[dim] for dim in RUN_DIMS}
    out = {}
    for stem, target in targets.items():
        pooled_name, what = TARGETS[stem]
        curve, final = _run_floors(runs, rate, target)
        out[f"{stem}_floor"] = xr.DataArray(curve, dims=(*RUN_DIMS, "kl_time_s"), coords=run_coords, attrs={
            "units": "nat", "long_name": _FLOOR.format(name=stem, target=what, scope="so far")})
        out[f"{stem}_final_floor"] = xr.DataArray(final, dims=RUN_DIMS, coords=run_coords, attrs={
            "units": "nat", "long_name": _FLOOR.format(name=f"{stem}_final", target=what, scope="of the run")})
        excess = runs[f"{stem}_final"].transpose(*RUN_DIMS) - out[f"{stem}_final_floor"]
        out[f"{stem}_final_excess"] = excess.assign_attrs(units="nat", long_name=f"{stem}_final minus its floor")
        pooled = _pooled(runs, rate, target, prior.size)
        pooled_attrs = {"": f"D_KL({what} || Jeffreys-smoothed histogram of the window labels of all seeds)",
                        "_floor": _FLOOR.format(name=pooled_name, target=what, scope="of all seeds"),
                        "_floor_q95": f"95th percentile of {pooled_name}_floor's distribution"}
        for k, (suffix, long_name) in enumerate(pooled_attrs.items()):
            out[f"{pooled_name}{suffix}"] = xr.DataArray(pooled[..., k], dims=CHAIN_DIMS,
                                                         coords={dim: runs[dim] for dim in CHAIN_DIMS},
                                                         attrs={"units": "nat", "long_name": long_name})
        out[f"{pooled_name}_excess"] = (out[pooled_name] - out[f"{pooled_name}_floor"]).assign_attrs(
            units="nat", long_name=f"{pooled_name} minus its floor")
    return out

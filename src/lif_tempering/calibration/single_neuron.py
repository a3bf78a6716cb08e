"""The single-neuron study as datasets: membrane statistics, calibration, temperature map.

Each function runs one natural unit of work (one noise configuration, one
temperature point) and returns a self-describing :class:`xarray.Dataset`;
the ``combine_*`` functions collect those units along a new dimension.
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from lif_tempering.calibration.activation import LogisticFit, calibrate, logistic
from lif_tempering.calibration.temperature import ActivationPoint, converged, find_temperature_point, weight_temperature
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.population import PopulationSimulator
from lif_tempering.neuron.theory import alpha_theory_mV, free_membrane_moments


def _var(dims, values, units, long_name, **extra):
    return (dims, np.asarray(values), {"units": units, "long_name": long_name, **extra})


def membrane_dataset(p: NeuronParameters, rate_exc_hz: float, rate_inh_hz: float, settings: dict,
                     dt_ms: float, seed: int, cache_dir: str | os.PathLike, threads: int = 1) -> xr.Dataset:
    """Membrane potential of free and spiking neurons at E_l of ``p``, with HCS theory.

    ``settings``: n_neurons (per condition), duration_ms, burn_in_ms,
    record_every_ms, histogram_bins, histogram_half_width_sigmas.
    """
    n = settings["n_neurons"]
    sim = PopulationSimulator(2 * n, settings["duration_ms"], dt_ms, cache_dir, n_recorded=2 * n,
                              record_every_ms=settings["record_every_ms"], threads=threads)
    spiking = np.arange(2 * n) >= n
    result = sim.run(p, seed, settings["burn_in_ms"], rate_exc_hz=rate_exc_hz, rate_inh_hz=rate_inh_hz,
                     spiking=spiking)
    sim.close()
    free_v, reset_v = result.v_mV[:n].ravel(), result.v_mV[n:].ravel()
    theory = free_membrane_moments(p, rate_exc_hz=rate_exc_hz, rate_inh_hz=rate_inh_hz)
    mean_theory, std_theory = float(theory.mean_mV), float(theory.std_mV)
    half_width = settings["histogram_half_width_sigmas"] * std_theory
    edges = np.linspace(mean_theory - half_width, mean_theory + half_width, settings["histogram_bins"] + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    density_free = np.histogram(free_v, edges)[0] / (free_v.size * np.diff(edges))
    density_reset = np.histogram(reset_v, edges)[0] / (reset_v.size * np.diff(edges))
    gaussian = np.exp(-0.5 * ((centres - mean_theory) / std_theory) ** 2) / (np.sqrt(2 * np.pi) * std_theory)
    return xr.Dataset(
        {
            "mean_sim_mV": _var((), free_v.mean(), "mV", "simulated mean of the free membrane potential"),
            "std_sim_mV": _var((), free_v.std(), "mV", "simulated standard deviation of the free membrane potential"),
            "mean_theory_mV": _var((), mean_theory, "mV", "HCS theory: mean of the free membrane potential"),
            "std_theory_mV": _var((), std_theory, "mV", "HCS theory: standard deviation of the free membrane potential"),
            "mean_reset_mV": _var((), reset_v.mean(), "mV", "simulated mean membrane potential with spiking and reset"),
            "std_reset_mV": _var((), reset_v.std(), "mV", "simulated standard deviation with spiking and reset"),
            "p_on_reset": _var((), result.p_on[n:].mean(), "1", "fraction of time refractory (z = 1) with reset"),
            "density_free": _var("bin", density_free, "1/mV", "histogram density of the free membrane potential"),
            "density_reset": _var("bin", density_reset, "1/mV", "histogram density of the membrane potential with reset"),
            "density_theory": _var("bin", gaussian, "1/mV", "HCS theory: Gaussian density of the free membrane potential"),
            "rate_exc_hz": _var((), rate_exc_hz, "Hz", "excitatory background rate per neuron"),
            "rate_inh_hz": _var((), rate_inh_hz, "Hz", "inhibitory background rate per neuron"),
            "E_l_mV": _var((), p.E_l_mV, "mV", "leak potential of the recorded neurons"),
        },
        coords={
            "bin": ("bin", np.arange(centres.size), {"long_name": "histogram bin index", "units": "1"}),
            "bin_center_mV": ("bin", centres, {"units": "mV", "long_name": "membrane potential at the bin centre"}),
        },
        attrs={
            "title": "Free membrane potential and membrane potential with reset of LIF neurons",
            "n_samples_per_condition": int(free_v.size),
            "n_neurons_per_condition": int(n),
        },
    )


def _fit_vars(prefix: str, E_l, p_on, fit: LogisticFit, long_prefix: str) -> dict:
    return {
        f"{prefix}E_l_mV": _var(f"{prefix}point", E_l, "mV", f"{long_prefix}leak potential E_l of each neuron"),
        f"{prefix}p_on": _var(f"{prefix}point", p_on, "1", f"{long_prefix}fraction of time refractory (z = 1)"),
        f"{prefix}residual": _var(f"{prefix}point", fit.residual, "1", f"{long_prefix}p_on minus the logistic fit"),
        f"{prefix}used_in_fit": _var(f"{prefix}point", fit.used.astype(np.int8), "1",
                                     f"{long_prefix}1 where the point entered the fit"),
    }


def calibration_dataset(p: NeuronParameters, rate_exc_hz: float, rate_inh_hz: float, settings: dict,
                        dt_ms: float, seed: int, cache_dir: str | os.PathLike, threads: int = 1) -> xr.Dataset:
    """Activation function at one noise configuration: coarse scan, fit window, logistic fit.

    ``settings``: coarse and fit stages (n_points, duration_ms, burn_in_ms),
    coarse_half_width_alphas, fit_window_p, fit_p_range.
    """
    calibrator = ActivationCalibrator(p, settings, dt_ms, cache_dir, threads)
    coarse, fine = calibrator.calibrate(rate_exc_hz, rate_inh_hz, seed)
    calibrator.close()
    return _calibration_to_dataset(p, rate_exc_hz, rate_inh_hz, coarse, fine)


def _calibration_to_dataset(p, rate_exc_hz, rate_inh_hz, coarse, fine) -> xr.Dataset:
    fit = fine["fit"]
    data = {
        **_fit_vars("", fine["E_l_mV"], fine["p_on"], fit, ""),
        "alpha_mV": _var((), fit.alpha_mV, "mV", "width alpha of the logistic activation function (E_l units)"),
        "u0_mV": _var((), fit.u0_mV, "mV", "E_l at which p_on = 1/2"),
        "alpha_stderr_mV": _var((), fit.alpha_stderr_mV, "mV", "standard error of alpha"),
        "u0_stderr_mV": _var((), fit.u0_stderr_mV, "mV", "standard error of u0"),
        "max_abs_residual": _var((), fit.max_abs_residual, "1", "largest |p_on - fit| among the fitted points"),
        "alpha_theory_mV": _var((), alpha_theory_mV(p, fit.u0_mV, rate_exc_hz, rate_inh_hz), "mV",
                                "sbs estimate sqrt(2 pi)/4 sigma_V g_tot/g_l at E_l = u0"),
        "rate_exc_hz": _var((), rate_exc_hz, "Hz", "excitatory background rate per neuron"),
        "rate_inh_hz": _var((), rate_inh_hz, "Hz", "inhibitory background rate per neuron"),
    }
    coords = {
        "point": ("point", np.arange(fine["E_l_mV"].size), {"units": "1", "long_name": "calibration point (neuron) index"}),
    }
    if coarse is not None:
        data.update(_fit_vars("coarse_", coarse["E_l_mV"], coarse["p_on"], coarse["fit"], "coarse scan: "))
        coords["coarse_point"] = ("coarse_point", np.arange(coarse["E_l_mV"].size),
                                  {"units": "1", "long_name": "coarse-scan point (neuron) index"})
    return xr.Dataset(data, coords=coords, attrs={"title": "LIF activation-function calibration"})


class ActivationCalibrator:
    """Calibrates the activation function at any noise rates with two compiled populations."""

    def __init__(self, p: NeuronParameters, settings: dict, dt_ms: float, cache_dir: str | os.PathLike,
                 threads: int = 1):
        self.p, self.settings, self.dt_ms, self.cache_dir, self.threads = p, settings, dt_ms, cache_dir, threads
        self._simulators = {}

    def _simulator(self, stage: str) -> PopulationSimulator:
        if stage not in self._simulators:
            for other in self._simulators.values():
                other.close()
            self._simulators = {}
            s = self.settings[stage]
            self._simulators[stage] = PopulationSimulator(
                s["n_points"], s["duration_ms"], self.dt_ms, self.cache_dir, report_period_s=30.0,
                threads=self.threads)
        return self._simulators[stage]

    def calibrate(self, rate_exc_hz: float, rate_inh_hz: float, seed: int, expected=None):
        """(coarse, fine) results of :func:`lif_tempering.calibration.activation.calibrate` at these rates.

        ``expected`` = (u0_mV, alpha_mV) places the fit window without a coarse scan.
        """
        p = self.p.with_values(rate_exc_hz=float(rate_exc_hz), rate_inh_hz=float(rate_inh_hz))
        stage_seed = {"coarse": seed, "fit": seed + 1}

        def simulate(E_l_mV, stage):
            result = self._simulator(stage).run(p, stage_seed[stage], self.settings[stage]["burn_in_ms"],
                                                E_l_mV=E_l_mV)
            return result.p_on

        s = self.settings
        return calibrate(simulate, p, s["coarse"]["n_points"], s["fit"]["n_points"], s["coarse_half_width_alphas"],
                         tuple(s["fit_window_p"]), tuple(s["fit_p_range"]), expected=expected)

    def close(self) -> None:
        """Remove the results folders of the runs."""
        for simulator in self._simulators.values():
            simulator.close()


def combine_along(datasets: list[xr.Dataset], dim: str, labels, long_name: str) -> xr.Dataset:
    """Concatenate datasets along a new labelled dimension, dropping per-file provenance."""
    stripped = [ds.drop_attrs(deep=False) for ds in datasets]
    combined = xr.concat(stripped, dim=dim, coords="different", compat="equals", join="outer")
    combined = combined.assign_coords({dim: (dim, list(labels), {"long_name": long_name})})
    combined.attrs = {k: v for k, v in datasets[0].attrs.items()
                      if k in ("title", "n_samples_per_condition", "n_neurons_per_condition")}
    return combined


def temperature_point_dataset(p: NeuronParameters, reference: xr.Dataset, scheme: str, temperature: float,
                              calibration_settings: dict, map_settings: dict, dt_ms: float, seed: int,
                              cache_dir: str | os.PathLike, log=print, threads: int = 1) -> xr.Dataset:
    """Rates realising ``temperature`` in ``scheme``, confirmed by a simulated calibration.

    ``reference`` is the calibration dataset at the T = 1 rates. At T = 1 the
    reference itself is the result.
    """
    ref = ActivationPoint(float(reference.rate_exc_hz), float(reference.rate_inh_hz),
                          float(reference.u0_mV), float(reference.alpha_mV))
    if np.isclose(temperature, 1.0):
        final = reference.drop_attrs(deep=False)
        history = [ref]
    else:
        calibrator = ActivationCalibrator(p, calibration_settings, dt_ms, cache_dir, threads)
        results = []

        def calibrate_at(rate_exc_hz, rate_inh_hz, expected):
            coarse, fine = calibrator.calibrate(rate_exc_hz, rate_inh_hz, seed + 2 * len(results), expected)
            results.append(_calibration_to_dataset(p, rate_exc_hz, rate_inh_hz, coarse, fine))
            fit = fine["fit"]
            return ActivationPoint(float(rate_exc_hz), float(rate_inh_hz), fit.u0_mV, fit.alpha_mV)

        history = find_temperature_point(
            calibrate_at, p, ref, scheme, temperature, map_settings["temperature_tolerance"],
            map_settings["u0_tolerance_alphas"], map_settings["max_iterations"], log=log)
        calibrator.close()
        final = results[-1]
    point = history[-1]
    T_weight = {exc: weight_temperature(p, point, ref, excitatory=exc) for exc in (True, False)}
    met = converged(point, ref, scheme, temperature, map_settings["temperature_tolerance"],
                    map_settings["u0_tolerance_alphas"])
    ds = final[["E_l_mV", "p_on", "residual", "alpha_mV", "u0_mV", "alpha_stderr_mV", "u0_stderr_mV",
                "max_abs_residual", "rate_exc_hz", "rate_inh_hz"]]
    return ds.assign(
        T_bias=_var((), point.alpha_mV / ref.alpha_mV, "1", "bias temperature alpha / alpha(T = 1)"),
        T_weight_exc=_var((), T_weight[True], "1",
                          "coupling temperature of excitatory weights: f / f(T = 1) at E_l = u0"),
        T_weight_inh=_var((), T_weight[False], "1",
                          "coupling temperature of inhibitory weights: f / f(T = 1) at E_l = u0"),
        T_weight=_var((), 0.5 * (T_weight[True] + T_weight[False]), "1",
                      "coupling temperature: mean of the excitatory and inhibitory values"),
        u0_shift_alphas=_var((), (point.u0_mV - ref.u0_mV) / ref.alpha_mV, "1",
                             "(u0 - u0(T = 1)) / alpha(T = 1)"),
        n_iterations=_var((), len(history), "1", "simulated calibrations of the rate search"),
        tolerances_met=_var((), np.int8(met), "1", "1 if the final calibration met the tolerances"),
        p_on_fit=_var("point", logistic(final["E_l_mV"].values, point.u0_mV, point.alpha_mV), "1",
                      "logistic fit at each calibration point"),
    ).assign_attrs(title="Noise-to-temperature map point", scheme=scheme, target_temperature=float(temperature))


def combine_temperature_map(points: list[xr.Dataset], schemes, temperatures) -> xr.Dataset:
    """Arrange temperature points (ordered scheme-major) on ``scheme`` x ``temperature``."""
    per_scheme = [
        combine_along(points[i * len(temperatures):(i + 1) * len(temperatures)], "temperature", temperatures,
                      "target temperature T")
        for i in range(len(schemes))
    ]
    ds = combine_along(per_scheme, "scheme", schemes, "noise scheme realising the temperature")
    ds["temperature"].attrs["units"] = "1"
    ds["scheme"].attrs["units"] = "1"
    ds.attrs["title"] = "Noise-to-temperature map of LIF neurons"
    return ds

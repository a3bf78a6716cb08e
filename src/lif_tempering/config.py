"""Study configuration: validation and the values each job depends on.

The configuration is checked against the package's ``config.schema.yaml``
(JSON Schema 2020-12, shipped as package data), then against the cross-field rules a schema cannot
state. Every problem is reported with the key it concerns and what is allowed.
"""

from __future__ import annotations

import itertools
import zlib
from importlib.resources import files
from math import comb
from pathlib import Path

import numpy as np
import yaml
from jsonschema import Draft202012Validator

from lif_tempering.neuron.parameters import NeuronParameters, noise_label, resolve_parameters

SCHEMA_RESOURCE = "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem."""


def load_schema() -> dict:
    """The configuration schema as a dictionary, read from the package data."""
    return yaml.safe_load(files(__package__).joinpath(SCHEMA_RESOURCE).read_text())


def count_two_stage_resamples(n_clusters: int, n_units: int) -> int:
    """Number of distinct resamples of the two-stage bootstrap of ``n_clusters`` x ``n_units`` (complete) data.

    A resample, as the statistic sees it, is the multiset of drawn (cluster, unit)
    pairs. If cluster ``r`` is drawn ``k_r`` times (``sum k_r = n_clusters``), its units
    are drawn ``k_r n_units`` times in all, and every multiset of that size is
    reachable: ``C(k_r n_units + n_units - 1, n_units - 1)`` possibilities. The count
    is the sum over the compositions ``(k_1, ..., k_R)`` of the products, computed
    exactly. One cluster gives the one-stage count ``C(2 n - 1, n)`` of ``n`` units.
    """
    if n_clusters < 1 or n_units < 1:
        raise ValueError(f"need n_clusters >= 1 and n_units >= 1, got {n_clusters}, {n_units}")
    per_cluster = [comb(k * n_units + n_units - 1, n_units - 1) for k in range(n_clusters + 1)]
    # coefficient of x^n_clusters in (sum_k per_cluster[k] x^k)^n_clusters
    total = [1] + [0] * n_clusters
    for _ in range(n_clusters):
        total = [sum(total[i - k] * per_cluster[k] for k in range(i + 1)) for i in range(n_clusters + 1)]
    return total[n_clusters]


def _key(path) -> str:
    parts = []
    for part in path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "<top level>"


def _describe(error) -> str:
    """One line: the key, what was found and what is allowed."""
    key = _key(error.absolute_path)
    validator, allowed = error.validator, error.validator_value
    if validator == "required":
        missing = error.message.split("'")[1]
        key = _key([*error.absolute_path, missing])
        return f"{key}: missing; required keys here: {', '.join(allowed)}"
    if validator == "additionalProperties":
        return f"{key}: {error.message}; allowed keys: {', '.join(sorted(error.schema.get('properties', {})))}"
    if validator == "enum":
        return f"{key}: {error.instance!r} is not allowed; allowed: {', '.join(map(str, allowed))}"
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        schema = error.schema
        low = (f">= {schema['minimum']}" if "minimum" in schema
               else f"> {schema['exclusiveMinimum']}" if "exclusiveMinimum" in schema else None)
        high = (f"<= {schema['maximum']}" if "maximum" in schema
                else f"< {schema['exclusiveMaximum']}" if "exclusiveMaximum" in schema else None)
        allowed_text = " and ".join(x for x in (low, high) if x)
        return f"{key}: {error.instance!r} is out of range; allowed: {allowed_text}"
    return f"{key}: {error.message}"


def _cross_field_problems(config: dict) -> list[str]:
    problems = []
    for name, stage in (("calibration.coarse", config["calibration"]["coarse"]),
                        ("calibration.fit", config["calibration"]["fit"]),
                        ("membrane", config["membrane"]),
                        ("validation", config["validation"]),
                        ("lif_sampling", config["lif_sampling"]),
                        *((f"{section}.{kind}", config[section][kind]) for section in ("network_calibration", "in_the_loop")
                          for kind in ("rbm", "small_bm"))):
        if stage["burn_in_ms"] >= stage["duration_ms"]:
            problems.append(
                f"{name}.burn_in_ms: {stage['burn_in_ms']} must be below {name}.duration_ms = {stage['duration_ms']}"
            )
    for kind, stage in config["network_calibration"].items():
        if stage["averaged_rounds"] > max(stage["n_rounds"], 1):
            problems.append(f"network_calibration.{kind}.averaged_rounds: {stage['averaged_rounds']} must be at most "
                            f"max(network_calibration.{kind}.n_rounds, 1) = {max(stage['n_rounds'], 1)}")
        if stage["coupling_offsets"] and stage["unit_rounds"] < 1:
            problems.append(f"network_calibration.{kind}.coupling_offsets: true needs "
                            f"network_calibration.{kind}.unit_rounds >= 1, got {stage['unit_rounds']}")
    marginal = config["network_calibration"]["rbm"]["marginal_rounds"]
    if marginal["averaged_rounds"] > max(marginal["n_rounds"], 1):
        problems.append(f"network_calibration.rbm.marginal_rounds.averaged_rounds: {marginal['averaged_rounds']} must "
                        f"be at most max(network_calibration.rbm.marginal_rounds.n_rounds, 1) = "
                        f"{max(marginal['n_rounds'], 1)}")
    if "marginal_rounds" in config["network_calibration"]["small_bm"]:
        problems.append("network_calibration.small_bm.marginal_rounds: not allowed (only an RBM's network has a "
                        "reference to take its marginals from); remove the key")
    for key in ("fit_window_p", "fit_p_range"):
        low, high = config["calibration"][key]
        if not low < high:
            problems.append(f"calibration.{key}: [{low}, {high}] is inverted or empty; allowed: [low, high] with low < high")
    window, used = config["calibration"]["fit_window_p"], config["calibration"]["fit_p_range"]
    if window[0] > used[0] or window[1] < used[1]:
        problems.append(f"calibration.fit_window_p: {window} must contain calibration.fit_p_range = {used}")
    dt = config["simulation"]["dt_ms"]
    record_every_ms = config["membrane"]["record_every_ms"]
    if record_every_ms < dt:
        problems.append(f"membrane.record_every_ms: {record_every_ms} must be >= simulation.dt_ms = {dt}")
    validation = config["validation"]
    sampling_ms = validation["copies_per_machine"] * (validation["duration_ms"] - validation["burn_in_ms"])
    if validation["first_dkl_time_ms"] > sampling_ms:
        problems.append(f"validation.first_dkl_time_ms: {validation['first_dkl_time_ms']} must be <= the sampling "
                        f"time per machine, copies_per_machine x (duration_ms - burn_in_ms) = {sampling_ms}")
    reference = config["reference"]
    if reference["n_sweeps"] - reference["burn_in_sweeps"] < 4:
        problems.append(f"reference.burn_in_sweeps: {reference['burn_in_sweeps']} must leave at least 4 of "
                        f"reference.n_sweeps = {reference['n_sweeps']} sweeps (the split-R-hat halves each chain)")
    if (reference["n_betas"] == 1) != (reference["beta_min"] == 1):
        problems.append(f"reference.beta_min: {reference['beta_min']} with reference.n_betas = {reference['n_betas']}; "
                        "allowed: beta_min 1 with n_betas 1 (plain Gibbs), or beta_min < 1 with n_betas >= 2")
    if reference["burn_in_sweeps"] < 2 ** reference["adaptation_rounds"] - 1:
        problems.append(f"reference.adaptation_rounds: {reference['adaptation_rounds']} rounds of doubling length need "
                        f"reference.burn_in_sweeps >= {2 ** reference['adaptation_rounds'] - 1}, "
                        f"got {reference['burn_in_sweeps']}")
    labels = [noise_label(n["rate_exc_hz"], n["rate_inh_hz"]) for n in config["noise_sweep"]]
    if len(set(labels)) != len(labels):
        problems.append(f"noise_sweep: configurations repeat ({', '.join(labels)}); allowed: distinct rate pairs")
    try:
        p = neuron_parameters(config)
    except KeyError as error:
        problems.append(f"neuron: {error.args[0]}")
    else:
        if not p.E_inh_mV < p.V_reset_mV < p.E_exc_mV or not p.E_inh_mV < p.V_th_mV < p.E_exc_mV:
            problems.append("neuron: V_reset_mV and V_th_mV must lie between E_inh_mV and E_exc_mV")
        problems += _tempering_problems(config, p.tau_ref_ms)
    return problems


def _tempering_problems(config: dict, tau_ref_ms: float) -> list[str]:
    """Cross-field rules of the ``tempering`` and ``parameter_scan`` sections."""
    problems = []
    tempering, scan, tmap = config["tempering"], config["parameter_scan"], config["temperature_map"]
    if tempering["burn_in_ms"] >= tempering["duration_ms"]:
        problems.append(f"tempering.burn_in_ms: {tempering['burn_in_ms']} must be below tempering.duration_ms = "
                        f"{tempering['duration_ms']}")
    highest = max(tempering["t_max"], *scan["t_max_values"])
    if tmap["t_max"] < highest:
        problems.append(f"temperature_map.t_max: {tmap['t_max']} must cover the highest tempering temperature, "
                        f"max(tempering.t_max, parameter_scan.t_max_values) = {highest}")
    if tmap["n_temperatures"] < 2:
        problems.append(f"temperature_map.n_temperatures: {tmap['n_temperatures']} must be >= 2 for tempering "
                        "(the map interpolates between T = 1 and temperature_map.t_max)")
    if tempering["scheme"] not in tmap["schemes"]:
        problems.append(f"tempering.scheme: {tempering['scheme']!r} must be one of temperature_map.schemes = "
                        f"{tmap['schemes']}")
    lowest = min(tempering["t_max"], *scan["t_max_values"])
    if tempering["ground_state_tolerance"] >= lowest - 1:
        problems.append(f"tempering.ground_state_tolerance: {tempering['ground_state_tolerance']} must be below "
                        f"t_max - 1 for every t_max of tempering.t_max and parameter_scan.t_max_values "
                        f"(lowest t_max {lowest})")
    sampling_s = (tempering["duration_ms"] - tempering["burn_in_ms"]) / 1000.0
    slowest = min(tempering["frequency_hz"], *scan["frequencies_hz"])
    if sampling_s * slowest < 2:
        problems.append(f"tempering.duration_ms: {tempering['duration_ms']} leaves fewer than two periods of the "
                        f"slowest oscillation ({slowest} Hz, tempering.frequency_hz and parameter_scan.frequencies_hz)"
                        " after tempering.burn_in_ms")
    if "gibbs" in tempering["samplers"]:
        sweeps = tempering["duration_ms"] / tau_ref_ms
        if abs(sweeps - round(sweeps)) > 1e-9 * sweeps:
            problems.append(f"tempering.duration_ms: {tempering['duration_ms']} must be a multiple of the neuron's "
                            f"tau_ref_ms = {tau_ref_ms} (one Gibbs sweep)")
    if tempering["default_network"] not in tempering["networks"]:
        problems.append(f"tempering.default_network: {tempering['default_network']!r} must be one of "
                        f"tempering.networks = {tempering['networks']}")
    problems += _scan_training_seed_problems(scan, config["rbm"]["n_training_seeds"])
    problems += _scan_bootstrap_problems(scan, tempering["bootstrap"]["min_distinct_resamples"])
    loop = config["in_the_loop"]["rbm"]["tempered"]
    if loop["t_max"] > tmap["t_max"] or loop["tolerance"] >= loop["t_max"] - 1:
        problems.append(f"in_the_loop.rbm.tempered: t_max {loop['t_max']} must lie within temperature_map.t_max = "
                        f"{tmap['t_max']} and exceed 1 + tolerance ({loop['tolerance']})")
    return problems


def scan_training_seeds(config: dict) -> list[int]:
    """The parameter scan's training seeds: ``first_training_seed .. first_training_seed + n_training_seeds - 1``."""
    scan = config["parameter_scan"]
    return list(range(scan["first_training_seed"], scan["first_training_seed"] + scan["n_training_seeds"]))


def rbm_network_calibration_settings(config: dict, training_seed: int) -> dict:
    """The ``network_calibration.rbm`` settings of a trained RBM's calibration. Where the calibrated network is not
    sampled (a scan RBM whose scan runs another network, or a study RBM with ``calibrated`` not among
    ``tempering.networks``) it only starts training in the loop, which keeps its layer corrections alone: its per-unit
    rounds, coupling offsets and marginal rounds are skipped (``unit_rounds`` 0, ``marginal_rounds.n_rounds`` 0),
    which leaves the loop's network unchanged."""
    settings = config["network_calibration"]["rbm"]
    tempering = config["tempering"]
    study_rbm = training_seed < config["rbm"]["n_training_seeds"]
    if tempering["default_network"] == "calibrated" or (study_rbm and "calibrated" in tempering["networks"]):
        return settings
    return {**settings, "unit_rounds": 0, "coupling_offsets": False,
            "marginal_rounds": {**settings["marginal_rounds"], "n_rounds": 0}}


def _scan_training_seed_problems(scan: dict, n_study_rbms: int) -> list[str]:
    """The scan's trained RBMs choose the schedule; the study's (training seeds ``0 .. n_study_rbms - 1``) report it."""
    first, last = scan["first_training_seed"], scan["first_training_seed"] + scan["n_training_seeds"] - 1
    if first >= n_study_rbms:
        return []
    return [f"parameter_scan.first_training_seed: {first} must be >= rbm.n_training_seeds = {n_study_rbms}: the scan's "
            f"trained RBMs (training seeds parameter_scan.first_training_seed .. first_training_seed + "
            f"parameter_scan.n_training_seeds - 1 = {first} .. {last}) choose the schedule and must not be the study's "
            f"(training seeds 0 .. rbm.n_training_seeds - 1 = 0 .. {n_study_rbms - 1}) that report it"]


def _scan_bootstrap_problems(scan: dict, min_distinct: int) -> list[str]:
    """The scan's trained RBMs x seeds must allow ``min_distinct`` distinct two-stage bootstrap resamples."""
    n_rbms, n_seeds = scan["n_training_seeds"], scan["n_seeds"]
    distinct = count_two_stage_resamples(n_rbms, n_seeds)
    if distinct >= min_distinct:
        return []
    enough = next(s for s in itertools.count(n_seeds) if count_two_stage_resamples(n_rbms, s) >= min_distinct)
    return [f"parameter_scan.n_training_seeds x parameter_scan.n_seeds: {n_rbms} x {n_seeds} allow {distinct} distinct "
            f"two-stage bootstrap resamples, fewer than tempering.bootstrap.min_distinct_resamples = {min_distinct}; "
            f"allowed: sizes with at least that many, e.g. {n_rbms} x {enough} "
            f"({count_two_stage_resamples(n_rbms, enough)}) or more training seeds"]


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Return ``config`` unchanged if valid, else raise :class:`ConfigError`."""
    validator = Draft202012Validator(schema or load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(e) for e in errors]
    if not problems:
        problems = _cross_field_problems(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return config


def neuron_parameters(config: dict) -> NeuronParameters:
    """The neuron parameters of the study (parameter set with overrides)."""
    return resolve_parameters(config["neuron"]["parameter_set"], config["neuron"]["overrides"])


def noise_configurations(config: dict) -> dict[str, dict]:
    """Noise sweep as {label: {rate_exc_hz, rate_inh_hz}} in configuration order."""
    return {
        noise_label(n["rate_exc_hz"], n["rate_inh_hz"]): {"rate_exc_hz": float(n["rate_exc_hz"]),
                                                         "rate_inh_hz": float(n["rate_inh_hz"])}
        for n in config["noise_sweep"]
    }


def reference_noise(config: dict) -> tuple[str, dict]:
    """Label and rates of the T = 1 noise configuration (the neuron parameters' rates)."""
    p = neuron_parameters(config)
    return noise_label(p.rate_exc_hz, p.rate_inh_hz), {"rate_exc_hz": p.rate_exc_hz, "rate_inh_hz": p.rate_inh_hz}


def target_temperatures(config: dict) -> np.ndarray:
    """Temperature grid from 1 to t_max (inclusive), rounded to 4 decimals."""
    tm = config["temperature_map"]
    return np.round(np.linspace(1.0, tm["t_max"], tm["n_temperatures"]), 4)


def temperature_label(temperature: float) -> str:
    """File-name label of a target temperature, e.g. ``1.5``."""
    return f"{float(temperature):.4g}"


def derive_seed(base_seed: int, *keys: str) -> int:
    """A job's seed from the study seed and the job's identity (stable across machines)."""
    entropy = [int(base_seed)] + [zlib.crc32(str(k).encode()) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def canonical(value):
    """``value`` with every mapping's keys sorted, recursively.

    Snakemake notices changed ``params`` by comparing their text; sorting makes
    that text independent of the key order in the configuration files.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


#: Wall seconds per simulated neuron-second, an upper estimate: the costliest rule
#: measured by benchmarks/paper_cost.py on a 2-core machine (calibration with up to
#: 60 kHz background, ~1e-3; LIF sampling of the 784 + 500 RBM ~2e-4).
WALL_S_PER_NEURON_S = 1.0e-3


def runtime_minutes(neuron_seconds: float, runs: int = 1, floor_min: int = 10, safety: float = 3.0) -> int:
    """Cluster runtime request (minutes) for ``runs`` simulations of ``neuron_seconds`` each.

    Includes the compile (~1 min) and a safety factor; never below ``floor_min``.
    """
    estimate_s = runs * neuron_seconds * WALL_S_PER_NEURON_S + 60.0
    return max(int(floor_min), int(np.ceil(safety * estimate_s / 60.0)))


#: Wall seconds per training image, visible unit and hidden unit of one RBM epoch
#: (PCD-1, float64, one thread), an upper estimate: benchmarks/paper_cost.py measured
#: 16 s per epoch of MNIST 784 x 500 (60,000 images), 7e-10, on a quiet 2-core machine.
WALL_S_PER_RBM_IMAGE_UNIT_PAIR = 1.0e-9
#: Training images of each data set (digits: 1797 images less the test fraction).
TRAINING_IMAGES = {"digits": 1797, "mnist": 60000, "fashion_mnist": 60000}
#: Image side (pixels) of MNIST and Fashion-MNIST, and of the 8x8 digits.
IDX_IMAGE_SIDE = 28
DIGITS_SIDE = 8


def visible_units(config: dict, dataset: str) -> int:
    """Visible units of the RBM on ``dataset`` (pixels after downsampling)."""
    if dataset == "digits":
        return DIGITS_SIDE**2
    return (IDX_IMAGE_SIDE // config["datasets"][dataset]["downsample"]) ** 2


def data_directory(config: dict, dataset: str | None = None) -> Path:
    """Folder of the IDX files of ``dataset`` (default: the configured one).

    ``data_dir`` with ``{dataset}`` replaced by the data set's name, relative to the
    working directory unless absolute (default ``resources/{dataset}``).
    """
    return Path(config["data_dir"].replace("{dataset}", dataset or config["dataset"]))


def rbm_training_runtime_minutes(config: dict, dataset: str, safety: float = 3.0) -> int:
    """Cluster runtime request (minutes) of training one RBM and estimating log Z by AIS."""
    rbm = config["rbm"]
    pairs = visible_units(config, dataset) * rbm["n_hidden"]
    updates = rbm["epochs"] * TRAINING_IMAGES[dataset] + rbm["ais"]["n_betas"] * rbm["ais"]["n_runs"]
    estimate_s = updates * pairs * WALL_S_PER_RBM_IMAGE_UNIT_PAIR + 60.0
    return max(10, int(np.ceil(safety * estimate_s / 60.0)))

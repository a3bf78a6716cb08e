"""Values shared by the rules: noise labels, temperatures, per-job seeds and parameters."""

from lif_tempering.config import (
    canonical,
    derive_seed,
    neuron_parameters,
    noise_configurations,
    reference_noise,
    target_temperatures,
    temperature_label,
)

NOISE = noise_configurations(config)
REFERENCE_NOISE, REFERENCE_RATES = reference_noise(config)
TEMPERATURES = [temperature_label(t) for t in target_temperatures(config)]
SCHEMES = config["temperature_map"]["schemes"]
NEURON = canonical(neuron_parameters(config).as_dict())
# Threads of every LIF simulation job; the spikes do not depend on them (not a param).
SIMULATION_THREADS = config["simulation"]["threads"]
NEURON_WITHOUT_RATES = {k: v for k, v in NEURON.items() if k not in ("rate_exc_hz", "rate_inh_hz")}
ALL_NOISE = canonical({**NOISE, REFERENCE_NOISE: REFERENCE_RATES})
MEMBRANE = canonical(config["membrane"])
CALIBRATION = canonical(config["calibration"])
#: One noise scheme's temperature map (rule ``temperature_map``).
TEMPERATURE_MAP = "results/calibration/temperature_map_{scheme}.nc"
TEMPERATURE_SEARCH = canonical(
    {k: v for k, v in config["temperature_map"].items() if k not in ("schemes", "n_temperatures", "t_max")}
)


wildcard_constraints:
    noise=r"exc[0-9p]+_inh[0-9p]+",
    scheme="|".join(["balanced", "compensated"]),
    temperature=r"[0-9]+(\.[0-9]+)?",


def job_seed(*keys):
    """Seed of one job, derived from the study seed (stable on every machine)."""
    return derive_seed(config["simulation"]["seed"], *keys)

"""The configuration schema accepts the shipped configs and rejects bad input by key."""

import copy
from pathlib import Path

import pytest
import yaml

from lif_tempering.config import (
    ConfigError,
    canonical,
    derive_seed,
    rbm_network_calibration_settings,
    target_temperatures,
    validate_config,
)

ROOT = Path(__file__).resolve().parents[1]


def default_config():
    with open(ROOT / "config" / "config.yaml") as handle:
        return yaml.safe_load(handle)


def test_shipped_configs_are_valid():
    config = default_config()
    validate_config(config)
    test = copy.deepcopy(config)
    with open(ROOT / "config" / "test.yaml") as handle:
        test.update(yaml.safe_load(handle))
    validate_config(test)


@pytest.mark.parametrize("overlay", [None, "test.yaml", "mnist.yaml", "paper.yaml"])
def test_switching_the_data_set_keeps_the_configurations_resolution(overlay):
    """--config dataset=<d> on a shipped configuration (merged onto config.yaml as Snakemake merges it) trains
    every MNIST-format data set at one resolution: config/mnist.yaml and config/paper.yaml at 28x28 (784
    visible units) for Fashion-MNIST too, not at the default downsample of 2."""
    from snakemake.utils import update_config

    from lif_tempering.config import visible_units
    from lif_tempering.learning.datasets import IDX_DATASETS

    config = default_config()
    if overlay is not None:
        with open(ROOT / "config" / overlay) as handle:
            update_config(config, yaml.safe_load(handle))
    sizes = {}
    for dataset in IDX_DATASETS:
        switched = copy.deepcopy(config)
        update_config(switched, {"dataset": dataset})
        validate_config(switched)
        sizes[dataset] = visible_units(switched, dataset)
    assert len(set(sizes.values())) == 1, sizes
    if overlay in ("mnist.yaml", "paper.yaml"):
        assert sizes["fashion_mnist"] == 784


def _expect_error(config, *fragments):
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    message = str(error.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_unknown_parameter_set_is_named_with_allowed_values():
    config = default_config()
    config["neuron"]["parameter_set"] = "nest_default"
    _expect_error(config, "neuron.parameter_set", "'nest_default'", "sbs_tutorial", "leng2018", "petrovici_thesis")


def test_negative_rate_names_key_and_range():
    config = default_config()
    config["noise_sweep"][1]["rate_inh_hz"] = -5
    _expect_error(config, "noise_sweep[1].rate_inh_hz", "-5", "> 0")


def test_inverted_range_is_rejected():
    config = default_config()
    config["calibration"]["fit_p_range"] = [0.9, 0.1]
    _expect_error(config, "calibration.fit_p_range", "low < high")


def test_burn_in_longer_than_duration_is_rejected():
    config = default_config()
    config["calibration"]["fit"]["burn_in_ms"] = config["calibration"]["fit"]["duration_ms"] + 1
    _expect_error(config, "calibration.fit.burn_in_ms", "must be below")


def test_t_max_below_one_is_rejected():
    config = default_config()
    config["temperature_map"]["t_max"] = 0.5
    _expect_error(config, "temperature_map.t_max", "0.5", ">= 1")


def test_missing_key_is_named():
    config = default_config()
    del config["calibration"]["fit"]
    _expect_error(config, "calibration.fit: missing")


def test_unknown_key_and_override_are_rejected():
    config = default_config()
    config["neuron"]["overrides"] = {"tau_membrane": 3}
    _expect_error(config, "neuron.overrides", "tau_membrane", "tau_m_ms")


def test_all_problems_are_reported_at_once():
    config = default_config()
    config["simulation"]["dt_ms"] = 0
    config["membrane"]["n_neurons"] = 0
    message = _expect_error(config, "simulation.dt_ms", "membrane.n_neurons")
    assert message.count("\n  - ") == 2


def test_temperature_grid_and_seeds():
    config = default_config()
    config["temperature_map"].update(t_max=3.0, n_temperatures=5)
    assert list(target_temperatures(config)) == [1.0, 1.5, 2.0, 2.5, 3.0]
    assert derive_seed(1, "a", "b") == derive_seed(1, "a", "b")
    assert len({derive_seed(1, "a"), derive_seed(2, "a"), derive_seed(1, "b")}) == 3


def test_canonical_sorts_keys_recursively():
    assert repr(canonical({"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": 2}})) == repr(
        {"a": {"c": 2, "d": [1, {"y": 1, "z": 0}]}, "b": 1})


def test_temperature_map_must_cover_the_tempering_t_max():
    config = default_config()
    config["parameter_scan"]["t_max_values"] = [1.5, 4.0]
    _expect_error(config, "temperature_map.t_max", "parameter_scan.t_max_values", "tempering.t_max", "= 4.0")
    config = default_config()
    config["tempering"]["t_max"] = 3.5
    _expect_error(config, "temperature_map.t_max: 3.0", "tempering.t_max")


def test_tempering_cross_field_rules():
    config = default_config()
    config["tempering"]["ground_state_tolerance"] = 1.0  # not below t_max - 1 for the lowest t_max, 2 (scan)
    config["tempering"]["duration_ms"] = 1905  # not a multiple of tau_ref (Gibbs sweeps); 0.905 s: < 2 periods at 2 Hz
    config["tempering"]["scheme"] = "balanced"
    config["temperature_map"]["schemes"] = ["compensated"]
    _expect_error(config, "tempering.ground_state_tolerance", "tempering.duration_ms: 1905 leaves fewer than two",
                  "multiple of the neuron's tau_ref_ms", "tempering.scheme: 'balanced'")


def test_the_default_network_must_be_one_the_study_runs():
    config = default_config()
    config["tempering"]["networks"] = ["translated", "in_the_loop"]
    config["tempering"]["default_network"] = "calibrated"
    _expect_error(config, "tempering.default_network: 'calibrated' must be one of tempering.networks = "
                          "['translated', 'in_the_loop']")
    config["tempering"]["default_network"] = "stp"
    _expect_error(config, "tempering.default_network: 'stp' is not allowed; allowed: translated, calibrated, "
                          "in_the_loop")


def test_the_scans_trained_rbms_must_not_be_the_studys():
    """The schedule is chosen on the scan's trained RBMs; the study's (training seeds 0 .. 4) report it."""
    config = default_config()
    assert config["rbm"]["n_training_seeds"] == 5
    config["parameter_scan"]["first_training_seed"] = 4  # the scan's 4 .. 6 would share the study's RBM 4
    _expect_error(config, "parameter_scan.first_training_seed: 4 must be >= rbm.n_training_seeds = 5",
                  "parameter_scan.n_training_seeds - 1 = 4 .. 6", "rbm.n_training_seeds - 1 = 0 .. 4")
    config["parameter_scan"]["first_training_seed"] = 5
    validate_config(config)
    config["rbm"]["n_training_seeds"] = 6  # more study RBMs reach into the scan's
    _expect_error(config, "parameter_scan.first_training_seed: 5 must be >= rbm.n_training_seeds = 6")
    config["parameter_scan"]["first_training_seed"] = 0
    _expect_error(config, "parameter_scan.first_training_seed: 0 is out of range; allowed: >= 1")
    config = default_config()
    config["parameter_scan"]["first_seed"] = 5  # the scan's sampling seeds are 0 .. n_seeds - 1 of its own RBMs
    _expect_error(config, "parameter_scan: Additional properties are not allowed ('first_seed' was unexpected)")
    config = default_config()
    config["parameter_scan"]["selection"]["min_quality_ratio"] = 1.2
    del config["parameter_scan"]["confirmation"]
    _expect_error(config, "parameter_scan.selection.min_quality_ratio", "1.2",
                  "parameter_scan.confirmation: missing")


def test_scan_sizes_must_allow_enough_distinct_bootstrap_resamples():
    """2 trained RBMs x 2 seeds give 19 distinct two-stage resamples; 2 x 3 would give 156."""
    config = default_config()
    config["parameter_scan"]["n_training_seeds"], config["parameter_scan"]["n_seeds"] = 2, 2
    _expect_error(config, "parameter_scan.n_training_seeds x parameter_scan.n_seeds: 2 x 2 allow 19",
                  "tempering.bootstrap.min_distinct_resamples = 100", "e.g. 2 x 3 (156)")
    config["tempering"]["bootstrap"]["min_distinct_resamples"] = 19
    validate_config(config)
    # both checks at once: each problem named
    config["tempering"]["bootstrap"]["min_distinct_resamples"] = 100
    config["parameter_scan"]["first_training_seed"] = 1
    _expect_error(config, "parameter_scan.n_training_seeds x parameter_scan.n_seeds: 2 x 2 allow 19",
                  "parameter_scan.first_training_seed: 1 must be >= rbm.n_training_seeds = 5")


def test_tempering_schema_ranges():
    config = default_config()
    config["tempering"]["samplers"] = ["lif", "nest"]
    config["tempering"]["t_max"] = 1.0
    config["parameter_scan"]["frequencies_hz"] = [0.0, 2.0]
    _expect_error(config, "tempering.samplers[1]", "'nest'", "tempering.t_max", "> 1",
                  "parameter_scan.frequencies_hz[0]", "> 0")


def test_stp_sampler_is_in_the_default_and_checked():
    config = default_config()
    assert config["tempering"]["samplers"] == ["lif", "lif_stp", "gibbs"] and config["stp_sampler"]["validation"]
    config["tempering"]["samplers"] = ["lif", "gibbs"]
    validate_config(config)
    config["stp_sampler"].update(U=0.0, weight_scaling="average")
    del config["stp_sampler"]["validation"]
    _expect_error(config, "stp_sampler.U", "> 0", "stp_sampler.weight_scaling", "rested", "stp_sampler", "validation")


def test_schema_is_package_data():
    from importlib.resources import files

    from lif_tempering.config import SCHEMA_RESOURCE, load_schema

    resource = files("lif_tempering").joinpath(SCHEMA_RESOURCE)
    assert resource.is_file()
    assert load_schema() == yaml.safe_load(resource.read_text())
    assert {"dataset", "data_dir"} <= set(load_schema()["required"])


def test_data_dir_names_the_data_set_and_rejects_other_placeholders():
    from lif_tempering.config import data_directory

    config = default_config()
    config["dataset"] = "fashion_mnist"
    validate_config(config)
    assert data_directory(config) == Path("resources/fashion_mnist")
    assert data_directory(config, "mnist") == Path("resources/mnist")
    config["data_dir"] = "/data/idx"
    assert data_directory(config, "mnist") == Path("/data/idx")
    config["data_dir"] = "data/{name}"
    _expect_error(config, "data_dir", "'data/{name}'")
    config["data_dir"] = "resources/{dataset}"
    config["dataset"] = "cifar"
    _expect_error(config, "dataset", "allowed: digits, mnist, fashion_mnist")


def test_the_calibration_cannot_average_more_steps_than_it_takes():
    config = default_config()
    config["network_calibration"]["rbm"].update(n_rounds=2, averaged_rounds=3)
    _expect_error(config, "network_calibration.rbm.averaged_rounds", "at most", "= 2")
    config = default_config()
    config["network_calibration"]["small_bm"]["averaged_rounds"] = 0
    _expect_error(config, "network_calibration.small_bm.averaged_rounds")


def test_coupling_offsets_need_unit_rounds():
    config = default_config()
    config["network_calibration"]["small_bm"].update(unit_rounds=0, coupling_offsets=True)
    _expect_error(config, "network_calibration.small_bm.coupling_offsets", "unit_rounds >= 1", "got 0")
    config = default_config()
    config["network_calibration"]["rbm"]["coupling_offsets"] = "yes"
    _expect_error(config, "network_calibration.rbm.coupling_offsets")


def test_unit_rounds_run_only_where_the_calibrated_network_is_sampled():
    config = default_config()
    config["network_calibration"]["rbm"].update(unit_rounds=5, coupling_offsets=True)
    config["tempering"].update(networks=["translated", "calibrated", "in_the_loop"], default_network="in_the_loop")
    study, scan = 0, config["parameter_scan"]["first_training_seed"]
    assert rbm_network_calibration_settings(config, study) == config["network_calibration"]["rbm"]
    skipped = rbm_network_calibration_settings(config, scan)
    assert skipped == {**config["network_calibration"]["rbm"], "unit_rounds": 0, "coupling_offsets": False,
                       "marginal_rounds": {**config["network_calibration"]["rbm"]["marginal_rounds"], "n_rounds": 0}}
    config["tempering"]["default_network"] = "calibrated"  # the scan samples its RBMs' calibrated networks
    assert rbm_network_calibration_settings(config, scan)["unit_rounds"] == 5
    config["tempering"].update(networks=["translated", "in_the_loop"], default_network="in_the_loop")
    assert rbm_network_calibration_settings(config, study)["unit_rounds"] == 0
    assert config["network_calibration"]["rbm"]["unit_rounds"] == 5  # the configuration is left as it was
    assert config["network_calibration"]["rbm"]["marginal_rounds"]["n_rounds"] == 16


def test_marginal_rounds_are_an_rbm_setting_with_a_bounded_average():
    config = default_config()
    config["network_calibration"]["rbm"]["marginal_rounds"].update(n_rounds=2, averaged_rounds=3)
    _expect_error(config, "network_calibration.rbm.marginal_rounds.averaged_rounds", "at most", "= 2")
    config = default_config()
    config["network_calibration"]["rbm"]["marginal_rounds"]["damping"] = 0
    _expect_error(config, "network_calibration.rbm.marginal_rounds.damping")
    config = default_config()
    del config["network_calibration"]["rbm"]["marginal_rounds"]
    _expect_error(config, "network_calibration.rbm.marginal_rounds", "missing")
    config = default_config()
    config["network_calibration"]["small_bm"]["marginal_rounds"] = {"n_rounds": 0, "damping": 0.1, "averaged_rounds": 1}
    _expect_error(config, "network_calibration.small_bm.marginal_rounds", "not allowed")


def test_reference_ladder_and_adaptation_rules():
    config = default_config()
    config["reference"].update(n_betas=1, beta_min=0.5)
    _expect_error(config, "reference.beta_min", "plain Gibbs")
    config = default_config()
    config["reference"].update(adaptation_rounds=6, burn_in_sweeps=50)
    _expect_error(config, "reference.adaptation_rounds", ">= 63")
    config = default_config()
    config["reference"]["hot_end"] = "data"
    _expect_error(config, "reference.hot_end", "base_rate")

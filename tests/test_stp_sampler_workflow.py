"""The opt-in sampler lif_stp in the workflow (config/test.yaml plus lif_stp): tempering runs, summary, validation."""

import numpy as np
import pytest
import yaml
from workflow_helpers import assert_described, load_test_config, run_workflow, scheduled_jobs

from lif_tempering.io import read_dataset

pytestmark = pytest.mark.slow

STP = {"U": 0.2, "tau_rec_ms": 100.0, "tau_fac_ms": 0.0, "weight_scaling": "rested"}


def stp_config(samplers=("lif", "lif_stp"), validation=True):
    config = load_test_config()
    config["tempering"]["samplers"] = list(samplers)
    config["stp_sampler"] = {**STP, "validation": validation}
    return config


def jobs(workdir, config, targets):
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return scheduled_jobs(workdir, configfile, targets, dryrun=True)


def test_lif_stp_is_opt_in(tmp_path):
    """The test config's samplers schedule no lif_stp job; listed, it adds free and tempered runs of every seed."""
    default = jobs(tmp_path, load_test_config(), ["results/mixing/summary.nc", "results/validation/small_bm.nc"])
    assert not any(("sampler", "lif_stp") in wildcards or ("lif_variant", "lif_stp") in wildcards
                   for _, wildcards in default)
    enabled = jobs(tmp_path, stp_config(("lif", "lif_stp", "gibbs")),
                   ["results/mixing/summary.nc", "results/validation/small_bm.nc"])
    stp_runs = sorted((dict(w)["schedule"], dict(w)["seed"]) for rule, w in enabled
                      if rule == "tempering_run" and dict(w)["sampler"] == "lif_stp")
    lif_runs = sorted((dict(w)["schedule"], dict(w)["seed"]) for rule, w in enabled
                      if rule == "tempering_run" and dict(w)["sampler"] == "lif")
    assert stp_runs == lif_runs and len(stp_runs) == 2 * load_test_config()["tempering"]["n_seeds"]
    assert ("validation_lif", (("lif_variant", "lif_stp"),)) in enabled
    assert ("mixing_group", (("dataset", "digits"), ("sampler", "lif_stp"), ("training_seed", "0"))) in enabled


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stp_sampler")
    run_workflow(workdir, stp_config(), ["results/mixing/summary.nc", "results/validation/small_bm.nc"])
    return workdir


def test_summary_holds_the_two_by_two_design(study):
    ds = read_dataset(study / "results/mixing/summary.nc").sel(network="translated")
    assert list(ds["sampler"].values) == ["lif", "lif_stp"] and list(ds["schedule"].values) == ["free", "tempered"]
    assert_described(ds)
    ratio = ds["switch_ratio_vs_free_lif"]
    assert ratio.dims == ("sampler", "schedule") and ratio.attrs["units"] == "1"
    # the estimate: ratio of the means over the (training seed, seed) pairs where both runs have a rate; the free
    # lif cell is its own baseline, 1 (0 / 0 = nan if no free lif run switched: the formula holds either way)
    rates = ds["switch_rate_hz"].transpose("sampler", "schedule", "training_seed", "seed").values
    free_lif = rates[0, 0]
    expected = np.empty(ratio.shape)
    for i, j in np.ndindex(ratio.shape):
        both = np.isfinite(rates[i, j]) & np.isfinite(free_lif)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected[i, j] = rates[i, j][both].mean() / free_lif[both].mean()
    np.testing.assert_allclose(ratio.values, expected, rtol=1e-12)
    assert ds["switch_ratio_vs_free_lif_glm"].dims == ("sampler", "schedule")
    run = read_dataset(study / "results/sampling/digits/lif_stp/free/training_seed0/seed0.nc")
    assert run.attrs["sampler"] == "lif_stp" and run.attrs["synapse"] == "renewing"
    assert run.attrs["stp_U"] == STP["U"] and run.attrs["stp_tau_rec_ms"] == STP["tau_rec_ms"]
    assert run.attrs["stp_weight_factor"] == pytest.approx(1.0 / STP["U"])
    renewing = read_dataset(study / "results/sampling/digits/lif/free/training_seed0/seed0.nc")
    assert renewing.attrs["sampler"] == "lif" and renewing.attrs["stp_U"] == 1.0


def test_validation_holds_lif_stp(study):
    ds = read_dataset(study / "results/validation/small_bm.nc")
    assert list(ds["sampler"].values) == ["gibbs", "lif", "lif_uncorrected", "lif_exponential", "lif_calibrated",
                                          "lif_in_the_loop", "lif_stp"]
    assert_described(ds)
    dkl = ds["dkl"].sel(sampler="lif_stp")
    assert np.all(np.isfinite(dkl)) and np.all(dkl >= 0)
    np.testing.assert_allclose(ds["p_sampled"].sel(sampler="lif_stp").sum("state"), 1.0)
    assert ds.attrs["lif_stp_U"] == STP["U"] and ds.attrs["lif_stp_tau_rec_ms"] == STP["tau_rec_ms"]
    assert ds.attrs["lif_stp_weight_scaling"] == "rested"

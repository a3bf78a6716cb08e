"""The workflow end to end on config/test.yaml, through Snakemake's Python API."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_helpers import ROOT, load_test_config, scheduled_jobs

from lif_tempering.config import ConfigError
from lif_tempering.io import read_dataset

pytestmark = pytest.mark.slow

OUTPUTS = ["results/calibration/membrane.nc", "results/calibration/activation.nc",
           "results/calibration/temperature_map.nc"]


def run_workflow(workdir: Path, configfile: Path, dryrun: bool = False):
    """Run (or dry-run) the workflow; return the (rule, wildcards) of the jobs it scheduled."""
    return scheduled_jobs(workdir, configfile, dryrun=dryrun)


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    configfile = workdir / "test.yaml"
    configfile.write_text(yaml.safe_dump(load_test_config()))
    run_workflow(workdir, configfile)
    return workdir, configfile


def test_outputs_have_the_promised_variables(finished_study):
    workdir, _ = finished_study
    membrane, activation, tmap = (read_dataset(workdir / name) for name in OUTPUTS)
    noise = ["exc3000_inh3000", "exc9000_inh9000"]
    assert list(membrane["noise"].values) == noise
    for name in ("mean_sim_mV", "std_sim_mV", "mean_theory_mV", "std_theory_mV"):
        assert membrane[name].dims == ("noise",) and membrane[name].attrs["units"] == "mV"
    assert membrane["density_free"].dims == ("noise", "bin")
    assert list(activation["noise"].values) == noise
    assert activation["E_l_mV"].dims == ("noise", "point") and activation["p_on"].dims == ("noise", "point")
    for name in ("alpha_mV", "u0_mV", "alpha_stderr_mV", "u0_stderr_mV", "rate_exc_hz", "rate_inh_hz",
                 "max_abs_residual"):
        assert activation[name].dims == ("noise",)
        assert "units" in activation[name].attrs and "long_name" in activation[name].attrs
    assert list(tmap["scheme"].values) == ["balanced", "compensated"]
    np.testing.assert_allclose(tmap["temperature"].values, [1.0, 1.6])
    for name in ("rate_exc_hz", "rate_inh_hz", "alpha_mV", "u0_mV", "T_bias", "T_weight"):
        assert tmap[name].dims == ("scheme", "temperature")
    for ds in (membrane, activation, tmap):
        assert ds.attrs["config_hash"] and ds.attrs["git_commit"] and ds.attrs["version_brian2"]


def test_outputs_obey_the_physics(finished_study):
    workdir, _ = finished_study
    membrane, activation, tmap = (read_dataset(workdir / name) for name in OUTPUTS)
    # Tiny runs (8 neurons x 0.55 s): sigma within 10 %, mean within 0.2 sigma.
    assert np.all(np.abs(membrane.std_sim_mV / membrane.std_theory_mV - 1) < 0.1)
    assert np.all(np.abs(membrane.mean_sim_mV - membrane.mean_theory_mV) < 0.2 * membrane.std_theory_mV)
    # More noise, wider activation function; the fit window holds the transition.
    assert float(activation.alpha_mV[1]) > 1.3 * float(activation.alpha_mV[0])
    assert np.all(activation.max_abs_residual < 0.1)
    # T = 1 is the reference for both schemes; the search met its (loose) tolerances.
    np.testing.assert_allclose(tmap.T_bias.sel(temperature=1.0), 1.0)
    met = tmap.tolerances_met.values.astype(bool)
    assert np.all(np.abs(tmap.T_bias / tmap.temperature - 1).values[met] <= 0.15)
    assert float(tmap.rate_exc_hz.sel(scheme="balanced", temperature=1.6)) > 3000


def test_changing_one_noise_rate_reruns_only_what_depends_on_it(finished_study, tmp_path):
    workdir, _ = finished_study
    config = load_test_config()
    config["noise_sweep"][1]["rate_exc_hz"] = 9500
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    jobs = run_workflow(workdir, changed, dryrun=True)
    assert jobs == sorted([
        ("activation_summary", ()), ("all", ()), ("calibration_figures", ()),
        ("calibrate_noise", (("noise", "exc9500_inh9000"),)), ("membrane", (("noise", "exc9500_inh9000"),)),
        ("headline", ()), ("membrane_summary", ()),
    ])


def test_nothing_to_do_after_a_finished_run(finished_study):
    workdir, configfile = finished_study
    assert run_workflow(workdir, configfile, dryrun=True) == []


def test_bad_config_stops_before_any_job(finished_study, tmp_path):
    workdir, _ = finished_study
    before = {name: (workdir / name).stat().st_mtime_ns for name in OUTPUTS}
    config = load_test_config()
    config["temperature_map"]["t_max"] = 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    with pytest.raises(Exception) as error:
        run_workflow(workdir, bad)
    assert "temperature_map.t_max" in str(error.value) and ">= 1" in str(error.value)
    assert any(isinstance(e, ConfigError) for e in (error.value, error.value.__cause__, error.value.__context__))
    assert {name: (workdir / name).stat().st_mtime_ns for name in OUTPUTS} == before


def test_report_builds_offline(finished_study):
    workdir, configfile = finished_study
    report = workdir / "report.html"
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(configfile), "--report", str(report)],
        check=True, capture_output=True, env={**os.environ, "NO_PROXY": "*"},
    )
    html = report.read_text(errors="replace")
    assert report.stat().st_size > 100_000
    for figure in ("membrane_distributions.png", "activation_functions.png", "noise_to_temperature.png"):
        assert figure in html

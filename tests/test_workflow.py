"""The workflow end to end on config/test.yaml, through Snakemake's Python API."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from workflow_helpers import ROOT, copy_study, load_test_config, scheduled_jobs

from lif_tempering.config import ConfigError, neuron_parameters
from lif_tempering.io import ENGINE, read_dataset
from lif_tempering.neuron.theory import alpha_theory_mV

pytestmark = pytest.mark.slow

SCHEMES = ("balanced", "compensated")
MAPS = [f"results/calibration/temperature_map_{scheme}.nc" for scheme in SCHEMES]
OUTPUTS = ["results/calibration/membrane.nc", "results/calibration/activation.nc", *MAPS]


def run_workflow(workdir: Path, configfile: Path, dryrun: bool = False):
    """Run (or dry-run) the workflow; return the (rule, wildcards) of the jobs it scheduled."""
    return scheduled_jobs(workdir, configfile, dryrun=dryrun)


def read_outputs(workdir: Path):
    """Membrane, activation, and the per-scheme temperature maps joined along ``scheme``."""
    membrane, activation, *maps = (read_dataset(workdir / name) for name in OUTPUTS)
    for scheme, tmap in zip(SCHEMES, maps):
        assert list(tmap["scheme"].values) == [scheme]
    return membrane, activation, xr.concat(maps, dim="scheme")


@pytest.fixture(scope="module")
def finished_study(finished_test_study, tmp_path_factory):
    """A copy of the session's finished test study and its configuration file."""
    workdir = copy_study(finished_test_study, tmp_path_factory.mktemp("workflow") / "study")
    return workdir, workdir / "test.yaml"


def test_outputs_have_the_promised_variables(finished_study):
    workdir, _ = finished_study
    membrane, activation, tmap = read_outputs(workdir)
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
    membrane, activation, tmap = read_outputs(workdir)
    # Tiny runs (8 neurons x 0.55 s): sigma within 10 %, mean within 0.2 sigma.
    assert np.all(np.abs(membrane.std_sim_mV / membrane.std_theory_mV - 1) < 0.1)
    assert np.all(np.abs(membrane.mean_sim_mV - membrane.mean_theory_mV) < 0.2 * membrane.std_theory_mV)
    # More noise, wider activation function; the fit window holds the transition.
    assert float(activation.alpha_mV[1]) > 1.3 * float(activation.alpha_mV[0])
    assert np.all(activation.max_abs_residual < 0.1)
    # T = 1 is the reference for both schemes.
    np.testing.assert_allclose(tmap.T_bias.sel(temperature=1.0), 1.0)
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


def test_the_map_converged_and_follows_hcs_theory(finished_study):
    """Every point met its tolerances, and the realised T_bias is the HCS theory's alpha ratio at its rates."""
    workdir, _ = finished_study
    _, _, tmap = read_outputs(workdir)
    config = json.loads(tmap.attrs["config_json"])  # the study's whole configuration, defaults included
    settings = config["temperature_map"]
    assert np.all(tmap.tolerances_met.values == 1)
    assert np.all(tmap.n_iterations.values <= settings["max_iterations"])
    assert np.all(np.abs(tmap.T_bias / tmap.temperature - 1) <= settings["temperature_tolerance"])
    assert np.all(np.abs(tmap.u0_shift_alphas.sel(scheme="compensated")) <= settings["u0_tolerance_alphas"])
    # Independent of the search: HCS theory's alpha = sqrt(2 pi)/4 sigma_V g_tot/g_l at E_l = u0 and the realised
    # rates, as a ratio to T = 1. Allowed: 3 standard errors of the ratio of two logistic fits (3 to 4 % here) plus
    # 2 % for the HCS approximation itself (the noise sweep's alpha(9 kHz) / alpha(3 kHz) is 2 % off theory).
    p = neuron_parameters(config)
    theory = alpha_theory_mV(p, tmap.u0_mV.values, tmap.rate_exc_hz.values, tmap.rate_inh_hz.values)
    T_theory = theory / theory[:, :1]
    relative = (tmap.alpha_stderr_mV / tmap.alpha_mV).values
    relative_stderr = np.hypot(relative, relative[:, :1])
    assert np.all(np.abs(tmap.T_bias.values / T_theory - 1) <= 0.02 + 3 * relative_stderr)


def test_a_new_balanced_map_reruns_nothing_of_the_compensated_scheme(finished_study):
    """Each scheme has its own map file: LIF runs (compensated in the test config) never read the balanced one."""
    workdir, configfile = finished_study
    point = workdir / "results/calibration/temperature/balanced/T1.6.nc"
    original = point.with_name("original.nc")
    shutil.copy2(point, original)
    try:  # a new balanced point (Snakemake ignores a touched file whose content is unchanged)
        read_dataset(point).assign_attrs(searched_again=1).to_netcdf(point, engine=ENGINE)
        jobs = run_workflow(workdir, configfile, dryrun=True)
    finally:
        os.replace(original, point)
    assert ("temperature_map", (("scheme", "balanced"),)) in jobs
    assert not [job for job in jobs if ("scheme", "compensated") in job[1] or job[0].startswith(("tempering", "mixing"))]


def test_dropping_the_balanced_scheme_reruns_no_tempering_job(finished_study, tmp_path):
    workdir, _ = finished_study
    config = load_test_config()
    config["temperature_map"]["schemes"] = ["compensated"]
    changed = tmp_path / "compensated_only.yaml"
    changed.write_text(yaml.safe_dump(config))
    rules = {rule for rule, _ in run_workflow(workdir, changed, dryrun=True)}
    assert "calibration_figures" in rules  # it shows the schemes of the config
    assert not {rule for rule in rules if rule.startswith(("temperature", "tempering", "mixing"))}


def test_an_unconverged_map_point_stops_the_workflow(tmp_path):
    """One calibration cannot meet a tolerance of 1e-6: the map job fails and names scheme, T and the miss."""
    config = load_test_config()
    config["temperature_map"].update(max_iterations=1, temperature_tolerance=1e-6)
    configfile = tmp_path / "unconverged.yaml"
    configfile.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "study"
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(configfile), "--cores", "2", "--show-failed-logs",
         "results/calibration/temperature_map_balanced.nc"],
        capture_output=True, text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Error in rule temperature_map" in output
    point = read_dataset(workdir / "results/calibration/temperature/balanced/T1.6.nc")  # kept for inspection
    assert int(point.tolerances_met) == 0 and int(point.n_iterations) == 1
    miss = abs(float(point.T_bias) / 1.6 - 1)
    assert (f"temperature map, scheme balanced, T = 1.6: |T_bias/T - 1| = {miss:.3g} exceeds "
            "temperature_map.temperature_tolerance = 1e-06 after 1 iterations") in output
    assert "raise temperature_map.max_iterations" in output
    assert not (workdir / "results/calibration/temperature_map_balanced.nc").exists()

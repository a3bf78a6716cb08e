"""NetCDF output is self-describing and never left half-written."""

import json
import re

import numpy as np
import pytest
import xarray as xr

from lif_tempering import io


def small_dataset():
    return xr.Dataset(
        {"p_on": ("point", np.linspace(0, 1, 5), {"units": "1", "long_name": "fraction of time refractory"})},
        coords={"point": ("point", np.arange(5), {"units": "1", "long_name": "point index"})},
    )


def test_written_file_carries_provenance_and_round_trips(tmp_path):
    path = tmp_path / "out" / "x.nc"
    params = {"seed": 3, "rates": {"rate_exc_hz": 3000.0}}
    io.write_dataset(small_dataset(), path, params=params, config={"a": 1})
    ds = io.read_dataset(path)
    xr.testing.assert_identical(ds[["p_on"]].drop_attrs(deep=False), small_dataset())
    assert io.stored_params(ds) == params
    assert ds.attrs["params_hash"] == io.config_hash(params)
    assert json.loads(ds.attrs["config_json"]) == {"a": 1}
    assert ds.attrs["version_brian2"] != "not installed"
    assert ds.attrs["git_commit"]
    assert list(tmp_path.joinpath("out").iterdir()) == [path]


def test_config_hash_ignores_key_order():
    assert io.config_hash({"a": 1, "b": [1, 2]}) == io.config_hash({"b": [1, 2], "a": 1})
    assert io.config_hash({"a": 1}) != io.config_hash({"a": 2})


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    """A failure while writing leaves neither the target nor the temporary file."""
    path = tmp_path / "x.nc"
    original = xr.Dataset.to_netcdf

    def write_then_fail(self, target, *args, **kwargs):
        original(self, target, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", write_then_fail)
    with pytest.raises(KeyboardInterrupt):
        io.write_dataset(small_dataset(), path)
    assert list(tmp_path.iterdir()) == []


def test_existing_result_survives_a_failed_rewrite(tmp_path, monkeypatch):
    path = tmp_path / "x.nc"
    io.write_dataset(small_dataset(), path, params={"version": 1})

    def fail(self, target, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", fail)
    with pytest.raises(OSError):
        io.write_dataset(small_dataset(), path, params={"version": 2})
    assert io.stored_params(io.read_dataset(path)) == {"version": 1}


def test_strings_combined_from_files_keep_their_full_width(tmp_path):
    """Names read from files of shorter names (width 3) and combined with longer ones are written whole."""
    parts = []
    for name in ("lif", "lif_stp"):
        io.write_dataset(xr.Dataset({"x": ("sampler", [1.0])}, coords={"sampler": [name]}), tmp_path / f"{name}.nc")
        parts.append(io.read_dataset(tmp_path / f"{name}.nc"))
    combined = xr.concat(parts, dim="sampler")
    io.write_dataset(combined, tmp_path / "both.nc")
    assert list(io.read_dataset(tmp_path / "both.nc")["sampler"].values) == ["lif", "lif_stp"]


def _described(dims, values):
    return (dims, np.asarray(values, dtype=float), {"units": "1", "long_name": "parameter"})


def test_readers_of_trained_parameters_refuse_non_finite_values_naming_file_variable_and_unit(tmp_path):
    """An RBM file with a NaN weight, a calibration with an infinite alpha, a coupling calibration with a NaN
    correction: each reader stops with the file, the variable and the unit (coordinates) of the bad entry."""
    from lif_tempering.learning.study import rbm_parameters
    from lif_tempering.sampling.study import activation_point, coupling_correction

    W = np.full((4, 2), 0.1)
    W[3, 1] = np.nan
    rbm = xr.Dataset({"W": _described(("visible", "hidden"), W), "b_visible": _described("visible", np.zeros(4)),
                      "b_hidden": _described("hidden", [0.0, np.inf])},
                     coords={"visible": np.arange(4), "hidden": np.arange(2)})
    path = io.write_dataset(rbm, tmp_path / "rbm.nc")
    message = r": 1 non-finite value\(s\) in W \(parameter\): W\[visible=3, hidden=1\] = nan$"
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}{message}"):
        rbm_parameters(io.read_dataset(path))
    rbm["W"][3, 1] = 0.2
    path = io.write_dataset(rbm, tmp_path / "rbm.nc")
    with pytest.raises(ValueError, match=r"b_hidden\[hidden=1\] = inf"):
        rbm_parameters(io.read_dataset(path))
    rbm["b_hidden"][1] = 0.0
    assert all(np.all(np.isfinite(x)) for x in rbm_parameters(io.read_dataset(io.write_dataset(rbm, path))))

    calibration = xr.Dataset({name: _described((), value) for name, value in
                              (("rate_exc_hz", 3000.0), ("rate_inh_hz", 3000.0), ("u0_mV", -50.6), ("alpha_mV", np.inf))})
    path = io.write_dataset(calibration, tmp_path / "calibration.nc")
    message = r": 1 non-finite value\(s\) in alpha_mV \(parameter\): alpha_mV = inf$"
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}{message}"):
        activation_point(io.read_dataset(path))
    path = io.write_dataset(xr.Dataset({"coupling_correction": _described((), np.nan)}), tmp_path / "coupling.nc")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: .* coupling_correction = nan$"):
        coupling_correction(io.read_dataset(path))

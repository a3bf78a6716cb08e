"""NetCDF input and output: self-describing datasets written atomically.

Every result of the study is an :class:`xarray.Dataset`. Before writing, the
dataset receives provenance attributes (package versions, git commit, the
configuration that produced it and its hash); it is then written to a temporary
file next to the target and renamed, so an interrupted job never leaves a file
that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

ENGINE = "netcdf4"
PROVENANCE_PACKAGES = ("lif-tempering", "brian2", "numpy", "scipy", "xarray", "scikit-learn", "snakemake")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    versions = {}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(directory: str | os.PathLike | None = None) -> str:
    """Commit hash of the repository holding ``directory`` (``unknown`` outside git)."""
    directory = Path(directory) if directory else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=10, check=True
        )
        commit = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def canonical_json(value) -> str:
    """JSON text with sorted keys: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def config_hash(config) -> str:
    """SHA-256 (hex, first 16 characters) of the canonical JSON of ``config``."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


def settings_attrs(settings: dict) -> dict:
    """Settings as NetCDF attributes: nested mappings flattened to ``outer_inner`` keys, booleans as 0/1."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(settings_attrs({f"{key}_{inner}": item for inner, item in value.items()}))
        else:
            flat[key] = int(value) if isinstance(value, bool) else value
    return flat


def provenance_attrs(params: dict | None = None, config: dict | None = None) -> dict[str, str]:
    """Attributes naming what produced a result.

    ``params`` are the values this result depends on (stored as JSON and hashed);
    ``config`` the whole study configuration (stored as JSON and hashed).
    """
    attrs = {f"version_{name}": version for name, version in package_versions().items()}
    attrs["git_commit"] = git_commit()
    if params is not None:
        attrs["params_json"] = canonical_json(params)
        attrs["params_hash"] = config_hash(params)
    if config is not None:
        attrs["config_json"] = canonical_json(config)
        attrs["config_hash"] = config_hash(config)
    return attrs


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, params: dict | None = None,
                  config: dict | None = None, compress: bool = True) -> Path:
    """Write ``ds`` to ``path`` atomically with provenance attributes.

    Data variables are zlib-compressed when ``compress`` is true. Strings are written at
    their own width (a fixed width read from another file, e.g. a sampler name, is
    dropped: combined with longer names it would truncate them). The file first
    goes to a hidden temporary name in the target folder and is renamed when
    complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ds.copy()
    for var in ds.variables.values():
        if var.dtype.kind in "US":
            var.encoding = {key: value for key, value in var.encoding.items() if key != "dtype"}
    ds.attrs.update(provenance_attrs(params, config))
    encoding = {}
    if compress:
        for name, var in ds.data_vars.items():
            if var.ndim > 0 and var.dtype.kind in "biuf":
                encoding[name] = {"zlib": True, "complevel": 4}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine=ENGINE, encoding=encoding)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Load a dataset fully into memory and close the file."""
    with xr.open_dataset(path, engine=ENGINE) as ds:
        return ds.load()


def stored_params(ds: xr.Dataset) -> dict:
    """The ``params`` a dataset was written with."""
    return json.loads(ds.attrs["params_json"])


#: Entries listed by name in the message of :func:`finite_values` at most.
_MAX_LISTED_ENTRIES = 5


def finite_values(ds: xr.Dataset, name: str) -> np.ndarray:
    """The values of ``ds[name]`` as float64, refused with a ValueError if any is not finite (NaN, inf).

    The message names the file (``ds.encoding["source"]``, set by :func:`read_dataset`),
    the variable and the first non-finite entries by their coordinates, e.g.
    ``W[visible=3, hidden=7] = nan``: the units of a model's parameters.
    """
    variable = ds[name]
    values = np.asarray(variable.values, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(values).reshape(values.shape or (1,)))
    if not bad.size:
        return values
    entries = [f"{name}[" + ", ".join(f"{dim}={variable[dim].values[k]}" for dim, k in zip(variable.dims, index))
               + f"] = {values[tuple(index)]}" if values.ndim else f"{name} = {values[()]}"
               for index in bad[:_MAX_LISTED_ENTRIES]]
    more = f"; and {len(bad) - _MAX_LISTED_ENTRIES} more" if len(bad) > _MAX_LISTED_ENTRIES else ""
    raise ValueError(f"{ds.encoding.get('source', 'dataset')}: {len(bad)} non-finite value(s) in {name} "
                     f"({variable.attrs.get('long_name', name)}): " + "; ".join(entries) + more)

"""A non-editable install of the package carries its data (the config schema) and runs the workflow."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK_INSTALL = """
import sys
from pathlib import Path

import yaml
from snakemake.utils import update_config

import lif_tempering
from lif_tempering.config import load_schema, validate_config

site = Path(sys.argv[1]).resolve()
package = Path(lif_tempering.__file__).resolve().parent
assert package.parent == site, f"imported {package}, not the install in {site}"
assert (package / "config.schema.yaml").is_file()
config = yaml.safe_load(open(sys.argv[2]))
update_config(config, yaml.safe_load(open(sys.argv[3])))
validate_config(config, load_schema())
print("validated with the schema of", package)
"""


def _run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.mark.slow
def test_wheel_install_validates_and_dry_runs_the_workflow(tmp_path):
    # Build from a copy of the sources, so that the build leaves nothing in the repository.
    source = tmp_path / "source"
    (source / "src").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src" / "lif_tempering", source / "src" / "lif_tempering",
                    ignore=shutil.ignore_patterns("__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path / "wheel"),
          str(source)])
    (wheel,) = (tmp_path / "wheel").glob("lif_tempering-*.whl")
    assert "lif_tempering/config.schema.yaml" in zipfile.ZipFile(wheel).namelist()
    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)])

    # Outside the source tree, with the install first on the path (ahead of an editable install).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    output = _run([sys.executable, "-c", CHECK_INSTALL, str(site), str(ROOT / "config" / "config.yaml"),
                   str(ROOT / "config" / "test.yaml")], cwd=elsewhere, env=env)
    assert "validated with the schema of" in output
    output = _run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(elsewhere),
                   "--configfile", str(ROOT / "config" / "test.yaml"), "--cores", "1", "-n"], cwd=elsewhere, env=env)
    assert "train_rbm" in output and "This was a dry-run" in output

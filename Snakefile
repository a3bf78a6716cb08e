"""Simulated tempering in spiking neural networks: the study's workflow.

Run `snakemake --cores 2` for the default study (config/config.yaml), or pass
`--configfile` for another one. The configuration is validated before any job
runs.
"""

from pathlib import Path

from snakemake.utils import min_version

from lif_tempering.config import load_schema, validate_config

min_version("9.0")


configfile: Path(workflow.basedir) / "config" / "config.yaml"


validate_config(config, load_schema())


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/boltzmann.smk"
include: "workflow/rules/tempering.smk"
include: "workflow/rules/stp.smk"
include: "workflow/rules/networks.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.calibration_study.input,
        rules.boltzmann_study.input,
        rules.tempering_study.input,
        rules.stp_study.input,
        rules.networks_study.input,
        rules.headline.output,

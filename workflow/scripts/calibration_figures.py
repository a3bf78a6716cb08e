"""Figures of the single-neuron study (rule ``calibration_figures``)."""

import xarray as xr

from lif_tempering.figures import calibration as figures
from lif_tempering.io import read_dataset
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    membrane = read_dataset(snakemake.input.membrane)
    activation = read_dataset(snakemake.input.activation)
    temperature_map = xr.concat([read_dataset(path) for path in snakemake.input.temperature_maps], dim="scheme")
    figures.membrane_distributions(membrane).savefig(snakemake.output.membrane)
    figures.activation_functions(temperature_map).savefig(snakemake.output.activation)
    figures.noise_to_temperature(activation, temperature_map).savefig(snakemake.output.rates)

"""Collect the temperature points into the ``scheme`` x ``temperature`` map."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log
from lif_tempering.single_neuron import combine_temperature_map

params = snakemake.params
with job_log(snakemake.log[0]):
    points = [read_dataset(path) for path in snakemake.input]
    ds = combine_temperature_map(points, params.schemes, params.temperatures)
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

"""Rates realising one target temperature in one scheme (rule ``temperature_point``)."""

from lif_tempering.calibration.single_neuron import temperature_point_dataset
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    ds = temperature_point_dataset(
        NeuronParameters(**params.neuron), read_dataset(snakemake.input.reference), snakemake.wildcards.scheme,
        params.temperature, params.calibration, params.temperature_map, params.dt_ms, params.seed,
        snakemake.config["simulation"]["build_cache_dir"],
        threads=snakemake.threads)
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

"""Membrane statistics of one noise configuration (rule ``membrane``)."""

from lif_tempering.calibration.single_neuron import membrane_dataset
from lif_tempering.io import write_dataset
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    neuron = NeuronParameters(**params.neuron, **params.rates)
    ds = membrane_dataset(neuron, params.rates["rate_exc_hz"], params.rates["rate_inh_hz"], params.settings,
                          params.dt_ms, params.seed, snakemake.config["simulation"]["build_cache_dir"],
        threads=snakemake.threads)
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

"""Training a trained RBM's calibrated LIF network in the loop (rule ``train_in_the_loop``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.learning.study import job_images
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.tempering.in_the_loop import train_rbm_in_the_loop
from lif_tempering.tempering.runs import temperature_map

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    images = job_images(snakemake.wildcards.dataset, params.data, snakemake.input.data, params.split_seed)
    tmap = temperature_map(read_dataset(snakemake.input.temperature_map), params.scheme)
    ds = train_rbm_in_the_loop(read_dataset(snakemake.input.network), images.train_images, tmap,
                               NeuronParameters(**params.neuron), params.settings, params.bounds, params.dt_ms,
                               params.seed, snakemake.config["simulation"]["build_cache_dir"],
                               max_weight_factor_gain=params.max_weight_factor_gain, threads=snakemake.threads,
                               reference=read_dataset(snakemake.input.reference) if snakemake.input.reference else None)
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

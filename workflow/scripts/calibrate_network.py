"""Network-level calibration of a trained RBM's LIF network (rule ``calibrate_network``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.sampling.network_calibration import calibrate_rbm_network
from lif_tempering.tempering.in_the_loop import reference_moments
from lif_tempering.tempering.runs import temperature_map

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    tmap = temperature_map(read_dataset(snakemake.input.temperature_map), params.scheme)
    reference = read_dataset(snakemake.input.reference) if snakemake.input.reference else None
    ds = calibrate_rbm_network(read_dataset(snakemake.input.rbm), NeuronParameters(**params.neuron), tmap.reference,
                               params.settings, params.dt_ms, params.seed,
                               snakemake.config["simulation"]["build_cache_dir"], threads=snakemake.threads,
                               # the reference's moments are (<v h^T>, <v>, <h>): the RBM's own mean visible states
                               target_visible=None if reference is None else reference_moments(reference).arrays[1])
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

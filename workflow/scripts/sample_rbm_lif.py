"""Sample a trained RBM with a LIF network at T = 1 (rule ``sample_rbm_lif``)."""

from lif_tempering.io import read_dataset
from lif_tempering.learning.study import LAYER_ACTIVITY, lif_rbm_samples
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.sampling.network import write_samples
from lif_tempering.sampling.study import activation_point, coupling_correction

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    rbm = read_dataset(snakemake.input.rbm)
    calibration = activation_point(read_dataset(snakemake.input.calibration))
    coupling_scale = (coupling_correction(read_dataset(snakemake.input.coupling))
                      if params.lif_sampling["coupling_correction"] else 1.0)
    print(f"coupling scale {coupling_scale:.4f}", flush=True)
    result = lif_rbm_samples(rbm, NeuronParameters(**params.neuron), calibration, params.lif_sampling,
                             coupling_scale, params.dt_ms, params.seed,
                             snakemake.config["simulation"]["build_cache_dir"],
        threads=snakemake.threads)
    print(", ".join(f"{name} {result.params[name]:.4f}" for name in LAYER_ACTIVITY))
    write_samples(snakemake.output[0], result, params=dict(params.items()), config=snakemake.config)

"""Training one validation machine's calibrated LIF network in the loop (rule ``train_small_bm_in_the_loop``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.learning.in_the_loop import train_small_bm_in_the_loop
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.sampling.study import activation_point

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    calibrated = read_dataset(snakemake.input.network)
    ds = train_small_bm_in_the_loop(calibrated["W"].values, calibrated["b"].values, calibrated,
                                    NeuronParameters(**params.neuron),
                                    activation_point(read_dataset(snakemake.input.calibration)), params.settings,
                                    params.dt_ms, params.seed, snakemake.config["simulation"]["build_cache_dir"],
                                    max_weight_factor_gain=params.max_weight_factor_gain, threads=snakemake.threads)
    write_dataset(ds.assign_attrs(bm=calibrated.attrs["bm"], machine_seed=calibrated.attrs["machine_seed"]),
                  snakemake.output[0], params=dict(params.items()), config=snakemake.config)

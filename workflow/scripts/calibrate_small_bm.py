"""Network-level calibration of one validation machine's LIF network (rule ``calibrate_small_bm``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.sampling.network_calibration import calibrate_small_bm
from lif_tempering.sampling.study import activation_point, validation_machines

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    machine = params.machine
    (W, b), = validation_machines(machine["n_units"], [machine["seed"]], machine["weight_scale"])
    ds = calibrate_small_bm(W, b, NeuronParameters(**params.neuron),
                            activation_point(read_dataset(snakemake.input.calibration)), params.settings,
                            params.dt_ms, params.seed, snakemake.config["simulation"]["build_cache_dir"],
                            threads=snakemake.threads)
    write_dataset(ds.assign_attrs(bm=int(snakemake.wildcards.bm), machine_seed=int(machine["seed"])),
                  snakemake.output[0], params=dict(params.items()), config=snakemake.config)

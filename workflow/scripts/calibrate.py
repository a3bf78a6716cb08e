"""Activation-function calibration of one noise configuration (rule ``calibrate_noise``)."""

from lif_tempering.calibration.single_neuron import calibration_dataset
from lif_tempering.io import write_dataset
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    neuron = NeuronParameters(**params.neuron, **params.rates)
    ds = calibration_dataset(neuron, params.rates["rate_exc_hz"], params.rates["rate_inh_hz"], params.settings,
                             params.dt_ms, params.seed, snakemake.config["simulation"]["build_cache_dir"],
        threads=snakemake.threads)
    print(f"u0 = {float(ds.u0_mV):.4f} mV, alpha = {float(ds.alpha_mV):.4f} mV, "
          f"max |residual| = {float(ds.max_abs_residual):.4f}")
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

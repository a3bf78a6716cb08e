"""Coupling gain W_eff / W of LIF sampling and its correction (rule ``coupling_calibration``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.sampling.study import activation_point, coupling_calibration, validation_machines

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    settings = params.validation
    machines = validation_machines(settings["n_units"], params.machine_seeds, settings["weight_scale"])
    calibration = activation_point(read_dataset(snakemake.input.calibration))
    ds = coupling_calibration(machines, params.machine_seeds, NeuronParameters(**params.neuron), calibration,
                              settings, params.dt_ms, params.seed, snakemake.config["simulation"]["build_cache_dir"],
        threads=snakemake.threads)
    print("per-machine gains:", " ".join(f"{g:.3f}" for g in ds.machine_coupling_gain.values))
    print(f"coupling gain W_eff / W = {float(ds.coupling_gain):.4f} +- {float(ds.coupling_gain_stderr):.4f}, "
          f"correction = {float(ds.coupling_correction):.4f}")
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

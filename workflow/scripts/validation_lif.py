"""LIF sampling of the validation machines by one LIF variant (rule ``validation_lif``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.stp import stp_from_config
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.sampling.network_calibration import machine_network
from lif_tempering.sampling.study import (
    LIF_VARIANTS,
    activation_point,
    coupling_correction,
    lif_validation,
    validation_machines,
)

params = snakemake.params
variant = snakemake.wildcards.lif_variant
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    settings = params.validation
    machines = validation_machines(settings["n_units"], params.machine_seeds, settings["weight_scale"])
    calibration = activation_point(read_dataset(snakemake.input.calibration))
    _, corrected = LIF_VARIANTS.get(variant, ("renewing", False))
    coupling_scale = coupling_correction(read_dataset(snakemake.input.coupling)) if corrected else 1.0
    networks = ([machine_network(read_dataset(path)) for path in snakemake.input.networks]
                if "networks" in snakemake.input.keys() else None)
    print(f"{variant}: coupling scale {coupling_scale:.4f}")
    ds = lif_validation(machines, NeuronParameters(**params.neuron), calibration, settings, variant, coupling_scale,
                        params.dt_ms, params.seed, snakemake.config["simulation"]["build_cache_dir"],
                        threads=snakemake.threads, stp=stp_from_config(params.stp) if params.stp is not None else None,
                        networks=networks)
    print("final D_KL per machine (nat):", " ".join(f"{d:.5f}" for d in ds.dkl.values[:, -1]))
    print("coupling gain per machine:", " ".join(f"{g:.3f}" for g in ds.coupling_gain.values))
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

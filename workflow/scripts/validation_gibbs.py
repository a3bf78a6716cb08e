"""Gibbs sampling of the validation machines (rule ``validation_gibbs``)."""

from lif_tempering.io import write_dataset
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.sampling.study import gibbs_validation, validation_machines

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    settings = params.validation
    machines = validation_machines(settings["n_units"], params.machine_seeds, settings["weight_scale"])
    ds = gibbs_validation(machines, settings, params.tau_ref_ms, params.seed)
    print("final D_KL per machine (nat):", " ".join(f"{d:.5f}" for d in ds.dkl.values[:, -1]))
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

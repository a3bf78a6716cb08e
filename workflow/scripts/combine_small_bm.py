"""The validation study along ``sampler`` (rule ``small_bm``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log
from lif_tempering.sampling.study import combine_samplers, validation_machines

params = snakemake.params
with job_log(snakemake.log[0]):
    settings = params.validation
    machines = validation_machines(settings["n_units"], params.machine_seeds, settings["weight_scale"])
    ds = combine_samplers([read_dataset(path) for path in snakemake.input], machines, params.machine_seeds)
    final = ds.dkl.isel(time_ms=-1)
    for sampler in ds.sampler.values:
        row = final.sel(sampler=sampler)
        print(f"{sampler}: final D_KL median {float(row.median()):.5f}, max {float(row.max()):.5f} nat")
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

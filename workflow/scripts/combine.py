"""Collect per-noise-configuration results along the ``noise`` dimension."""

from lif_tempering.calibration.single_neuron import combine_along
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    ds = combine_along([read_dataset(path) for path in snakemake.input], "noise", snakemake.params.noise,
                       "background noise configuration (excitatory and inhibitory rate, Hz)")
    write_dataset(ds, snakemake.output[0], params=dict(snakemake.params.items()), config=snakemake.config)

"""Figures of the validation study (rule ``validation_figures``)."""

from lif_tempering.figures import boltzmann as boltzmann_figures
from lif_tempering.io import read_dataset
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    small_bm = read_dataset(snakemake.input[0])
    boltzmann_figures.joint_distributions(small_bm).savefig(snakemake.output.joint)
    boltzmann_figures.dkl_vs_time(small_bm).savefig(snakemake.output.dkl)

"""The calibration and in-the-loop training curves of one RBM's network (rule ``network_figures``)."""

from lif_tempering.figures import boltzmann as boltzmann_figures
from lif_tempering.io import read_dataset
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    figure = boltzmann_figures.network_training(read_dataset(snakemake.input.calibrated),
                                                read_dataset(snakemake.input.in_the_loop))
    figure.savefig(snakemake.output[0])

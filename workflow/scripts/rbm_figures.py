"""Figures of one trained RBM and its LIF samples (rule ``rbm_figures``)."""

from lif_tempering.figures import boltzmann as boltzmann_figures
from lif_tempering.io import read_dataset
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    rbm = read_dataset(snakemake.input.rbm)
    samples = read_dataset(snakemake.input.samples)
    boltzmann_figures.rbm_filters(rbm).savefig(snakemake.output.filters)
    boltzmann_figures.rbm_gibbs_samples(rbm).savefig(snakemake.output.gibbs)
    boltzmann_figures.lif_samples(samples, rbm).savefig(snakemake.output.lif)
    boltzmann_figures.training_curves(rbm).savefig(snakemake.output.curves)

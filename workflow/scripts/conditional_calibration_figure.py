"""In-network conditional calibration per network and sampler (rule ``conditional_calibration_figure``)."""

from lif_tempering.figures import tempering as tempering_figures
from lif_tempering.io import read_dataset
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    tempering_figures.conditional_calibration(read_dataset(snakemake.input[0])).savefig(snakemake.output[0])

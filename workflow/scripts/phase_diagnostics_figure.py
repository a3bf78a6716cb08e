"""Phase profiles of free and tempered runs (rule ``phase_diagnostics_figure``)."""

from lif_tempering.figures import tempering as tempering_figures
from lif_tempering.io import read_dataset
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    tempering_figures.phase_diagnostics_figure(read_dataset(snakemake.input[0])).savefig(snakemake.output[0])

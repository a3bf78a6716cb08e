"""Figures of the tempering study: digit strip, class timelines, mixing metrics (rule ``tempering_figures``)."""

from lif_tempering.analysis.study import window_labels
from lif_tempering.figures import tempering as tempering_figures
from lif_tempering.io import read_dataset
from lif_tempering.runtime import job_log

params = snakemake.params
with job_log(snakemake.log[0]):
    rbm = read_dataset(snakemake.input.rbm)
    summary = read_dataset(snakemake.input.summary)
    runs = {(sampler, schedule): read_dataset(snakemake.input[f"{sampler}_{schedule}"])
            for sampler in params.samplers for schedule in ("free", "tempered")}
    readout = params.readout["readout"]
    strip_sampler = params.samplers[0]
    tempering_figures.digit_strip(runs[strip_sampler, "tempered"], runs[strip_sampler, "free"], rbm,
                                  readout).savefig(snakemake.output.strip)
    frequency_hz, t_max = summary.attrs["readout_frequency_hz"], summary.attrs["readout_t_max"]
    condition = {"shape": summary.attrs["readout_shape"], "dwell_fraction": summary.attrs["readout_dwell_fraction"],
                 "readout_delay": summary.attrs["readout_delay"]}
    labels = {key: window_labels(run, rbm, frequency_hz, t_max, params.readout["ground_state_tolerance"], readout,
                                 **condition)
              for key, run in runs.items()}
    duration_s = float(runs[strip_sampler, "free"].attrs["duration_ms"]) / 1000.0
    tempering_figures.class_timelines(labels, duration_s).savefig(snakemake.output.timelines)
    tempering_figures.mixing_metrics(summary).savefig(snakemake.output.metrics)

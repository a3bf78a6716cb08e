"""Phase profiles of the free and tempered runs of one sampler and trained RBM (rule ``phase_group``)."""

from lif_tempering.analysis.phase_diagnostics import diagnostics_attrs, group_profiles, stack_group_profiles
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.learning.study import job_images
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    dataset = snakemake.wildcards.dataset
    data_mean_visible = float(job_images(dataset, params.data, snakemake.input.data, params.split_seed).test_images.mean())
    settings = params.diagnostics
    group = group_profiles([read_dataset(path) for path in snakemake.input.runs], read_dataset(snakemake.input.rbm),
                           params.frequency_hz, settings["n_phase_bins"], params.readout, data_mean_visible,
                           settings["activity_tolerance"])
    print(f"{snakemake.wildcards.sampler}, training seed {snakemake.wildcards.training_seed}: relaxation time (ms) "
          + ", ".join(f"{p.schedule.item()} {float(p.relaxation_time_ms):.1f}" for p in group), flush=True)
    attrs = diagnostics_attrs(params.frequency_hz, settings["n_phase_bins"], params.readout, data_mean_visible,
                              settings["activity_tolerance"])
    write_dataset(stack_group_profiles(group, attrs), snakemake.output[0], params=dict(params.items()),
                  config=snakemake.config)

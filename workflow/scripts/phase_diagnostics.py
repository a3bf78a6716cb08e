"""Phase profiles and relaxation times of the main study's free and tempered runs (rule ``phase_diagnostics``)."""

from pathlib import Path

import xarray as xr

from lif_tempering.analysis.phase_diagnostics import combine_phase_profiles, diagnostics_attrs, group_profiles
from lif_tempering.io import ENGINE, read_dataset, write_dataset
from lif_tempering.learning.study import load_images
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    dataset = snakemake.config["dataset"]
    data_dir = Path(snakemake.input.data[0]).parent if snakemake.input.data else None
    data_mean_visible = float(load_images(dataset, params.data, data_dir, params.split_seed).test_images.mean())
    settings, readout = params.diagnostics, params.readout
    rbms = {int(read_dataset(path).attrs["training_seed"]): path for path in snakemake.input.rbms}
    groups = {}
    for path in snakemake.input.runs:  # one sampler and trained RBM at a time: the runs of all would fill memory
        with xr.open_dataset(path, engine=ENGINE) as run:
            attrs = dict(run.attrs)
        groups.setdefault((attrs["sampler"], int(attrs["training_seed"])), []).append(path)
    profiles = []
    for (sampler, training_seed), paths in groups.items():
        group = group_profiles([read_dataset(path) for path in paths], read_dataset(rbms[training_seed]),
                               params.frequency_hz, settings["n_phase_bins"], readout, data_mean_visible,
                               settings["activity_tolerance"])
        print(f"{sampler}, training seed {training_seed}: relaxation time (ms) "
              + ", ".join(f"{p.schedule.item()} {float(p.relaxation_time_ms):.1f}" for p in group), flush=True)
        profiles += group
    ds = combine_phase_profiles(profiles, diagnostics_attrs(params.frequency_hz, settings["n_phase_bins"], readout,
                                                            data_mean_visible, settings["activity_tolerance"]))
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

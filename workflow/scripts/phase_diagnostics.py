"""Phase profiles of every sampler and trained RBM combined, with means over runs (rule ``phase_diagnostics``)."""

from lif_tempering.analysis.phase_diagnostics import (
    combine_phase_profiles,
    diagnostics_attrs,
    unstack_group_profiles,
)
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    groups = [read_dataset(path) for path in snakemake.input]
    profiles = [profile for group in groups for profile in unstack_group_profiles(group)]
    first = groups[0].attrs
    attrs = diagnostics_attrs(first["readout_frequency_hz"], first["n_phase_bins"], first["readout"],
                              first["data_mean_visible"], first["activity_tolerance"])
    ds = combine_phase_profiles(profiles, attrs)
    print(ds[["relaxation_time_ms_mean"]].to_dataframe().to_string())
    write_dataset(ds, snakemake.output[0], params=dict(snakemake.params.items()), config=snakemake.config)

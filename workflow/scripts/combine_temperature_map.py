"""Collect one scheme's temperature points into its map; stop if a point missed its tolerances."""

from lif_tempering.calibration.single_neuron import combine_temperature_map
from lif_tempering.calibration.temperature import require_converged
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log

params = snakemake.params
with job_log(snakemake.log[0]):
    points = [read_dataset(path) for path in snakemake.input]
    ds = combine_temperature_map(points, [params.scheme], params.temperatures)
    row = ds.sel(scheme=params.scheme)
    require_converged(params.scheme, params.temperatures, row["T_bias"].values, row["u0_shift_alphas"].values,
                      row["n_iterations"].values, params.temperature_map["temperature_tolerance"],
                      params.temperature_map["u0_tolerance_alphas"])
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

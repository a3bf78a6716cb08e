"""Switch rate and ground-state confidence over shape x frequency x T_max (rule ``parameter_scan``)."""

from collections import defaultdict

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log
from lif_tempering.tempering.study import mixing_summary, parameter_scan

params = snakemake.params
with job_log(snakemake.log[0]):
    by_condition = defaultdict(list)
    for path in snakemake.input:
        group = read_dataset(path)
        by_condition[group.attrs["readout_shape"], group.attrs["readout_frequency_hz"],
                     group.attrs["readout_t_max"]].append(group)
    bootstrap = params.bootstrap
    summaries = [mixing_summary(groups, bootstrap["seed"], bootstrap["n_resamples"], bootstrap["confidence"])
                 for groups in by_condition.values()]
    scan = parameter_scan(summaries, params.frequencies_hz, params.t_max_values, params.shapes)
    print(scan[["switch_rate_hz", "free_switch_rate_hz", "switch_ratio", "ground_confidence_ratio"]]
          .to_dataframe().to_string())
    write_dataset(scan, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

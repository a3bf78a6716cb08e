"""Switch rate and ground-state confidence over shape x frequency x T_max (rule ``parameter_scan``)."""

from collections import defaultdict

from lif_tempering.analysis.study import choose_schedule, mixing_summary, parameter_scan, with_study_training_seeds
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log

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
    scan = choose_schedule(parameter_scan(summaries, params.frequencies_hz, params.t_max_values, params.shapes,
                                          network=params.network),
                           params.selection["min_quality_ratio"], params.configured_schedule,
                           params.selection["quality_statistic"])
    scan = with_study_training_seeds(scan, params.study_training_seeds)
    columns = ["switch_rate_hz", "free_switch_rate_hz", "switch_ratio", "switch_ratio_ci_low",
               "ground_confidence_ratio", "ground_activity_ratio", "ground_fidelity_ratio", "eligible"]
    print(scan[columns].to_dataframe().to_string())
    print(f"chosen: {scan.attrs['chosen_shape'] or 'no grid point'} f = {scan.attrs['chosen_frequency_hz']:g} Hz, "
          f"T_max = {scan.attrs['chosen_t_max']:g}; configured: {scan.attrs['configured_shape']} "
          f"f = {scan.attrs['configured_frequency_hz']:g} Hz, T_max = {scan.attrs['configured_t_max']:g}")
    print(f"training seeds: scan {scan.attrs['scan_training_seeds'].tolist()}, study "
          f"{scan.attrs['study_training_seeds'].tolist()}, disjoint: {bool(scan.attrs['training_seeds_disjoint'])}")
    if not scan.attrs["configured_is_chosen"]:
        print("warning: the configured schedule (tempering.schedule.shape, tempering.frequency_hz, tempering.t_max) "
              "is not the one the scan chooses")
    write_dataset(scan, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

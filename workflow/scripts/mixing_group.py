"""Mixing metrics of the free and tempered runs of one sampler and trained RBM (rules ``mixing_group``, ``scan_group``)."""

from lif_tempering.analysis.study import mixing_group
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    runs = [read_dataset(path) for path in snakemake.input.runs]
    group = mixing_group(runs, read_dataset(snakemake.input.rbm), params.frequency_hz, params.t_max,
                         params.readout["ground_state_tolerance"], params.readout["readout"], params.shape,
                         params.dwell_fraction, params.readout["readout_delay"],
                         reference=read_dataset(snakemake.input.reference),
                         conditional_stride=params.conditional_stride,
                         statistics=(read_dataset(snakemake.input.statistics) if "statistics" in snakemake.input.keys()
                                     else None))
    for schedule in group["schedule"].values:
        row = group.sel(schedule=schedule)
        print(f"{schedule}: switch rate {float(row.switch_rate_hz.mean()):.3f} Hz, "
              f"ground confidence {float(row.ground_confidence.mean()):.3f}, "
              f"free energy gap to the data {float(row.ground_free_energy_gap.mean()):.2f} nat, "
              f"visible activity / data {float(row.ground_visible_activity_ratio.mean()):.3f}, "
              f"final class D_KL to the reference {float(row.class_kl_reference_final.mean()):.4f} nat "
              f"(mean over seeds; floor {float(row.class_kl_reference_final_floor.mean()):.4f}), "
              f"R-hat of the window labels {float(row.r_hat_label.max()):.3f}, "
              f"bulk ESS {float(row.ess_bulk_label.min()):.1f} of {int(row.n_windows.sum())} windows")
    write_dataset(group, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

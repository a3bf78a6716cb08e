"""Mixing of free and tempered sampling over samplers, trained RBMs and seeds (rule ``mixing_summary``)."""

from lif_tempering.analysis.study import mixing_summary
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log

params = snakemake.params
with job_log(snakemake.log[0]):
    summary = mixing_summary([read_dataset(path) for path in snakemake.input], params.bootstrap["seed"],
                             params.bootstrap["n_resamples"], params.bootstrap["confidence"])
    print(summary.attrs["bootstrap_method"])
    for sampler in summary["sampler"].values:
        row = summary.sel(sampler=sampler)
        censored = row.tau_int_censored_fraction
        print(f"{sampler}: tau_int censored (chain never switched) in {float(censored.sel(schedule='free')):.0%} of "
              f"the free and {float(censored.sel(schedule='tempered')):.0%} of the tempered runs")
        print(f"{sampler}: switch ratio {float(row.switch_ratio):.3f} "
              f"[{float(row.switch_ratio_ci_low):.3f}, {float(row.switch_ratio_ci_high):.3f}], "
              f"ground confidence tempered / free {float(row.ground_confidence_ratio):.3f} "
              f"[{float(row.ground_confidence_ratio_ci_low):.3f}, {float(row.ground_confidence_ratio_ci_high):.3f}]")
        for schedule in ("free", "tempered"):
            cell = row.sel(schedule=schedule)
            if "switch_ratio_vs_free_lif" in cell:
                print(f"{sampler} {schedule}: switch rate / free lif {float(cell.switch_ratio_vs_free_lif):.3f} "
                      f"[{float(cell.switch_ratio_vs_free_lif_ci_low):.3f}, "
                      f"{float(cell.switch_ratio_vs_free_lif_ci_high):.3f}]")
            print(f"{sampler} {schedule}: ground-state free energy minus the test images' "
                  f"{float(cell.ground_free_energy_gap_mean):.2f} nat, visible activity / test images "
                  f"{float(cell.ground_visible_activity_ratio_mean):.3f}, class D_KL to the reference at the end "
                  f"{float(cell.class_kl_reference_final_mean):.4f} nat")
    write_dataset(summary, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

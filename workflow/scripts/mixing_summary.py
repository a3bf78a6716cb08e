"""Mixing of free and tempered sampling over networks, samplers, trained RBMs and seeds (rule ``mixing_summary``)."""

from lif_tempering.analysis.study import mixing_summary
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log


def interval(cell, name: str) -> str:
    return f"{float(cell[name]):.3f} [{float(cell[f'{name}_ci_low']):.3f}, {float(cell[f'{name}_ci_high']):.3f}]"


params = snakemake.params
with job_log(snakemake.log[0]):
    summary = mixing_summary([read_dataset(path) for path in snakemake.input], params.bootstrap["seed"],
                             params.bootstrap["n_resamples"], params.bootstrap["confidence"])
    print(summary.attrs["bootstrap_method"])
    for network in summary["network"].values:
        for sampler in summary["sampler"].values:
            row = summary.sel(network=network, sampler=sampler)
            name = f"{sampler} ({network})"
            print(f"{name}: switch ratio {interval(row, 'switch_ratio')} (resamples without a free switch: "
                  f"{float(row.zero_free_switch_fraction):.1%}), Poisson GEE {interval(row, 'switch_ratio_glm')}, "
                  f"bulk ESS ratio {interval(row, 'ess_ratio')}, ground confidence tempered / free "
                  f"{interval(row, 'ground_confidence_ratio')}")
            for schedule in ("free", "tempered"):
                cell = row.sel(schedule=schedule)
                if "switch_ratio_vs_free_lif" in cell:
                    print(f"{name} {schedule}: switch rate / free lif {interval(cell, 'switch_ratio_vs_free_lif')}")
                print(f"{name} {schedule}: R-hat of the window labels {float(cell.r_hat_label_mean):.3f} (mean over "
                      f"RBMs; {float(cell.ess_bulk_label_censored_fraction):.0%} censored), bulk ESS "
                      f"{float(cell.ess_bulk_label_per_s_mean):.3f} Hz, pooled class D_KL to the reference "
                      f"{float(cell.pooled_class_kl_reference_mean):.4f} nat (floor "
                      f"{float(cell.pooled_class_kl_reference_floor_mean):.4f}), ground-state free energy minus the "
                      f"test images' {float(cell.ground_free_energy_gap_mean):.2f} nat, visible activity / test "
                      f"images {float(cell.ground_visible_activity_ratio_mean):.3f}")
    write_dataset(summary, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

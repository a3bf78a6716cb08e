"""The STP scan: free (T = 1) lif_stp runs over U x tau_rec_ms against the free renewing lif runs (docs/mixing.md)."""

import re

from lif_tempering.analysis.stp_scan import stp_point_label

STP_SCAN = config["stp_scan"]
#: What every grid point takes from stp_sampler: facilitation and weight scaling.
STP_SHARED = canonical({k: config["stp_sampler"][k] for k in ("tau_fac_ms", "weight_scaling")})
#: The grid points by label: (U, tau_rec_ms).
STP_POINTS = {stp_point_label(U, tau_rec_ms): (float(U), float(tau_rec_ms))
              for U in STP_SCAN["U_values"] for tau_rec_ms in STP_SCAN["tau_rec_ms_values"]}
STP_RUN = "results/sampling/{dataset}/stp_scan/{stp_point}/training_seed{training_seed}/seed{seed}.nc"
#: The mixing group of one grid point (label) or of the free renewing lif runs (FREE_LIF_GROUP), per trained RBM.
STP_GROUP = "results/mixing/{dataset}/stp_scan/{stp_group}/training_seed{training_seed}.nc"
FREE_LIF_GROUP = "free_lif"


wildcard_constraints:
    stp_point="|".join(re.escape(label) for label in STP_POINTS),
    stp_group="|".join(re.escape(label) for label in [FREE_LIF_GROUP, *STP_POINTS]),


def stp_run_settings(point):
    """The lif run settings with the grid point's Tsodyks-Markram parameters (as RUN_SETTINGS["lif_stp"])."""
    U, tau_rec_ms = STP_POINTS[point]
    return canonical({**RUN_SETTINGS["lif"], "stp": {"U": U, "tau_rec_ms": tau_rec_ms, **STP_SHARED}})


rule stp_scan_run:
    input:
        rbm="results/rbm/{dataset}/seed{training_seed}/rbm.nc",
        temperature_map=TEMPERATURE_MAP.format(scheme=TEMPERING["scheme"]),
    output:
        STP_RUN,
    params:
        schedule=SCHEDULES["free"],
        settings=lambda wc: stp_run_settings(wc.stp_point),
        scheme=TEMPERING["scheme"],
        neuron=NEURON,
        dt_ms=config["simulation"]["dt_ms"],
        network="translated",
        # the seed of the free lif run it is compared with: every grid point sees that run's background noise
        rng_seed=lambda wc: job_seed("tempering_run", wc.dataset, "lif", "free", wc.training_seed, wc.seed),
    log:
        "results/logs/sampling/{dataset}/stp_scan/{stp_point}/training_seed{training_seed}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sampling/{dataset}/stp_scan/{stp_point}/training_seed{training_seed}/seed{seed}.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=lambda wc: runtime_minutes(rbm_neuron_seconds(wc.dataset, TEMPERING["duration_ms"])),
        mem_mb=3000,
    script:
        "../scripts/tempering_run.py"


def stp_group_runs(wildcards):
    """The free runs of one group: lif (FREE_LIF_GROUP) or lif_stp at a grid point, seeds SCAN_SEEDS."""
    if wildcards.stp_group == FREE_LIF_GROUP:
        return [RUN.format(dataset=wildcards.dataset, sampler="lif", schedule="free",
                           training_seed=wildcards.training_seed, seed=seed) for seed in SCAN_SEEDS]
    return [STP_RUN.format(dataset=wildcards.dataset, stp_point=wildcards.stp_group,
                           training_seed=wildcards.training_seed, seed=seed) for seed in SCAN_SEEDS]


rule stp_scan_group:
    input:
        rbm="results/rbm/{dataset}/seed{training_seed}/rbm.nc",
        reference=DATA_STATISTICS,
        runs=stp_group_runs,
    output:
        STP_GROUP,
    params:
        frequency_hz=TEMPERING["frequency_hz"],
        t_max=TEMPERING["t_max"],
        shape=SHAPE,
        dwell_fraction=dwell_fraction(SHAPE),
        readout=READOUT,
        conditional_stride=None,  # the STP scan compares switches and ground-state quality only
    benchmark:
        "results/benchmarks/mixing/{dataset}/stp_scan/{stp_group}/training_seed{training_seed}.tsv"
    log:
        "results/logs/mixing/{dataset}/stp_scan/{stp_group}/training_seed{training_seed}.log",
    threads: 1
    resources:
        runtime=10,
        mem_mb=4000,
    script:
        "../scripts/mixing_group.py"


rule stp_scan:
    input:
        free_lif=expand(STP_GROUP, dataset=DATASET, stp_group=FREE_LIF_GROUP, training_seed=SCAN_TRAINING_SEEDS),
        stp=expand(STP_GROUP, dataset=DATASET, stp_group=STP_POINTS, training_seed=SCAN_TRAINING_SEEDS),
    output:
        "results/mixing/stp_scan.nc",
    params:
        U_values=sorted(STP_SCAN["U_values"]),
        tau_rec_ms_values=sorted(STP_SCAN["tau_rec_ms_values"]),
        stp=STP_SHARED,
        bootstrap=BOOTSTRAP,
    benchmark:
        "results/benchmarks/mixing/stp_scan.tsv"
    log:
        "results/logs/mixing/stp_scan.log",
    threads: 1
    resources:
        runtime=10,
        mem_mb=2000,
    script:
        "../scripts/stp_scan.py"


rule stp_scan_figure:
    input:
        rules.stp_scan.output,
    output:
        report(
            "results/figures/tempering/stp_scan.png",
            caption="../report/stp_scan.rst",
            category="Simulated tempering",
        ),
    benchmark:
        "results/benchmarks/stp_scan_figure.tsv"
    log:
        "results/logs/stp_scan_figure.log",
    threads: 1
    script:
        "../scripts/stp_scan_figure.py"


rule stp_study:
    input:
        rules.stp_scan.output,
        rules.stp_scan_figure.output,

"""Free versus tempered sampling of the trained RBMs: sampling runs, mixing analysis, parameter scan, figures."""

import re

from lif_tempering.config import scan_training_seeds
from lif_tempering.tempering.study import condition_label, schedule_label

TEMPERING = config["tempering"]
SCAN = config["parameter_scan"]
DATASET = config["dataset"]
TEMPERING_SEEDS = list(range(TEMPERING["n_seeds"]))
#: The scan's own trained RBMs, after the study's TRAINING_SEEDS (checked by the configuration's validation): the
#: schedule is chosen on other RBMs than those whose runs report it. Each is sampled with seeds 0 .. n_seeds - 1.
SCAN_TRAINING_SEEDS = scan_training_seeds(config)
SCAN_SEEDS = list(range(SCAN["n_seeds"]))
#: The tempered schedule's shape; the dwell shape holds T = 1 for dwell_fraction of each period.
SHAPE = TEMPERING["schedule"]["shape"]
DWELL_FRACTION = TEMPERING["schedule"]["dwell_fraction"]


def dwell_fraction(shape):
    return DWELL_FRACTION if shape == "dwell" else 0.0


SCAN_POINTS = [(f, t, shape) for shape in SCAN["shapes"] for f in SCAN["frequencies_hz"] for t in SCAN["t_max_values"]]
#: A free run's samples do not depend on any frequency: it records the phases of this nominal
#: clock and is read at each condition's frequency (tempering_study.read_at), so a change of
#: tempering.frequency_hz does not rerun it.
FREE_RUN_PHASE_CLOCK_HZ = 1.0


def tempered_schedule(frequency_hz, t_max, shape):
    """A tempered run's schedule parameters (the sinusoid's without a shape key: its runs predate the shapes)."""
    spec = {"schedule": "tempered", "frequency_hz": frequency_hz, "t_max": t_max}
    if shape != "sinusoid":
        spec.update(shape=shape, dwell_fraction=dwell_fraction(shape))
    return canonical(spec)


#: Every schedule a run is made with, by label: the free one and the tempered ones of the study and the scan.
SCHEDULES = {
    "free": canonical({"schedule": "free", "frequency_hz": FREE_RUN_PHASE_CLOCK_HZ, "t_max": 1.0}),
    **{schedule_label("tempered", f, t, shape, dwell_fraction(shape)): tempered_schedule(f, t, shape)
       for f, t, shape in [(TEMPERING["frequency_hz"], TEMPERING["t_max"], SHAPE), *SCAN_POINTS]},
}
SCAN_CONDITIONS = {condition_label(f, t, shape, dwell_fraction(shape)): (f, t, shape) for f, t, shape in SCAN_POINTS}
#: What a run depends on, per sampler (a Gibbs sweep takes tau_ref; LIF states are read every sample_dt_ms).
RUN_SETTINGS = {
    "lif": canonical({k: TEMPERING[k] for k in ("duration_ms", "burn_in_ms", "sample_dt_ms", "coupling_scale")}),
    "gibbs": canonical({k: TEMPERING[k] for k in ("duration_ms", "burn_in_ms")}),
}
#: lif_stp: the lif settings and the Tsodyks-Markram parameters of stp_sampler (without its validation switch).
RUN_SETTINGS["lif_stp"] = canonical({**RUN_SETTINGS["lif"],
                                     "stp": {k: v for k, v in config["stp_sampler"].items() if k != "validation"}})
#: The LIF samplers (renewing synapses, and the opt-in lif_stp with the short-term plasticity of stp_sampler).
LIF_SAMPLERS = ("lif", "lif_stp")
READOUT = canonical({k: TEMPERING[k] for k in ("ground_state_tolerance", "readout", "readout_delay")})
#: What the intervals depend on (min_distinct_resamples only checks the configuration).
BOOTSTRAP = canonical({k: TEMPERING["bootstrap"][k] for k in ("n_resamples", "confidence", "seed")})
RUN = "results/sampling/{dataset}/{sampler}/{schedule}/training_seed{training_seed}/seed{seed}.nc"
#: The LIF networks whose runs the study compares (translated: the plain translation of each trained RBM;
#: calibrated, in_the_loop: the network files of rules calibrate_network and train_in_the_loop). Only the renewing
#: lif sampler runs the corrected networks; gibbs and lif_stp runs are of the translated RBM.
NETWORKS = TEMPERING["networks"]
#: The network of the tempering claim: the parameter scan runs it and the headline confirms the scan's choice on it.
DEFAULT_NETWORK = TEMPERING["default_network"]
CORRECTED_NETWORKS = [network for network in NETWORKS if network != "translated"]
NETWORK_RUN_SAMPLERS = [sampler for sampler in TEMPERING["samplers"] if sampler == "lif"]
NETWORK_FILE = "results/rbm/{dataset}/seed{training_seed}/network_{network}.nc"
#: The test images' statistics under a network file's machine (read where it is not the trained RBM: in the loop).
NETWORK_DATA_STATISTICS = NETWORK_FILE.replace(".nc", "_data_statistics.nc")
NETWORK_RUN = "results/sampling/{dataset}/networks/{network}/{sampler}/{schedule}/training_seed{training_seed}/seed{seed}.nc"
NETWORK_GROUP = "results/mixing/{dataset}/networks/{network}/{sampler}/training_seed{training_seed}.nc"
MAIN_TEMPERED = schedule_label("tempered", TEMPERING["frequency_hz"], TEMPERING["t_max"], SHAPE, dwell_fraction(SHAPE))


wildcard_constraints:
    sampler="lif|lif_stp|gibbs",
    schedule="|".join(re.escape(label) for label in SCHEDULES),
    condition="|".join(re.escape(label) for label in SCAN_CONDITIONS),
    seed=r"[0-9]+",
    network="calibrated|in_the_loop",


def sampling_inputs(wildcards):
    inputs = {"rbm": f"results/rbm/{wildcards.dataset}/seed{wildcards.training_seed}/rbm.nc"}
    if wildcards.sampler in LIF_SAMPLERS:
        inputs["temperature_map"] = TEMPERATURE_MAP.format(scheme=TEMPERING["scheme"])
    return inputs


rule tempering_run:
    input:
        unpack(sampling_inputs),
    output:
        RUN,
    params:
        schedule=lambda wc: SCHEDULES[wc.schedule],
        settings=lambda wc: RUN_SETTINGS[wc.sampler],
        scheme=lambda wc: TEMPERING["scheme"] if wc.sampler in LIF_SAMPLERS else None,
        neuron=lambda wc: NEURON if wc.sampler in LIF_SAMPLERS else None,
        dt_ms=lambda wc: config["simulation"]["dt_ms"] if wc.sampler in LIF_SAMPLERS else None,
        sweep_ms=lambda wc: NEURON["tau_ref_ms"] if wc.sampler == "gibbs" else None,
        network="translated",
        rng_seed=lambda wc: job_seed("tempering_run", wc.dataset, wc.sampler, wc.schedule, wc.training_seed,
                                     wc.seed),
    log:
        "results/logs/sampling/{dataset}/{sampler}/{schedule}/training_seed{training_seed}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sampling/{dataset}/{sampler}/{schedule}/training_seed{training_seed}/seed{seed}.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=lambda wc: runtime_minutes(
            rbm_neuron_seconds(wc.dataset, TEMPERING["duration_ms"]) if wc.sampler in LIF_SAMPLERS else 0.0
        ),
        mem_mb=3000,
    script:
        "../scripts/tempering_run.py"


REFERENCE = "results/rbm/{dataset}/seed{training_seed}/reference.nc"


def reference_runtime_minutes(dataset, flops_per_s=4e10, seconds_per_unit=1.2e-8):
    """Wall minutes of one reference job, at least 10: per rung, ladder and sweep four float32 multiply-adds per
    coupling at ``flops_per_s`` and the per-unit work (random numbers, logistic function, class readout) at
    ``seconds_per_unit``, each half the speed measured on one core (784 x 500: 3.5 ms per step of 10 x 16 rungs)."""
    settings = config["reference"]
    n_visible, n_hidden = visible_units(config, dataset), config["rbm"]["n_hidden"]
    row_seconds = 4.0 * n_visible * n_hidden / flops_per_s + seconds_per_unit * (n_visible + n_hidden)
    seconds = settings["n_chains"] * settings["n_betas"] * settings["n_sweeps"] * row_seconds
    return max(10, int(seconds / 60.0) + 2)


rule reference_distribution:
    input:
        rbm="results/rbm/{dataset}/seed{training_seed}/rbm.nc",
        data=dataset_files,
    output:
        REFERENCE,
    params:
        reference=canonical(config["reference"]),
        readout=TEMPERING["readout"],
        data=lambda wc: canonical(config["datasets"][wc.dataset]),
        split_seed=lambda wc: job_seed("dataset_split", wc.dataset),
        seed=lambda wc: job_seed("reference_distribution", wc.dataset, wc.training_seed),
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/reference.log",
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/reference.tsv"
    threads: 1
    resources:
        runtime=lambda wc: reference_runtime_minutes(wc.dataset),
        mem_mb=4000,
    script:
        "../scripts/reference_distribution.py"


DATA_STATISTICS = "results/rbm/{dataset}/seed{training_seed}/data_statistics.nc"


rule data_statistics:
    input:
        rbm="results/rbm/{dataset}/seed{training_seed}/rbm.nc",
        data=dataset_files,
    output:
        DATA_STATISTICS,
    params:
        data=lambda wc: canonical(config["datasets"][wc.dataset]),
        split_seed=lambda wc: job_seed("dataset_split", wc.dataset),
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/data_statistics.log",
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/data_statistics.tsv"
    threads: 1
    resources:
        runtime=10,
        mem_mb=4000,
    script:
        "../scripts/data_statistics.py"


def group_runs(dataset, sampler, training_seed, tempered, seeds):
    return [RUN.format(dataset=dataset, sampler=sampler, schedule=schedule, training_seed=training_seed, seed=seed)
            for seed in seeds for schedule in ("free", tempered)]


rule mixing_group:
    input:
        rbm="results/rbm/{dataset}/seed{training_seed}/rbm.nc",
        reference=REFERENCE,
        runs=lambda wc: group_runs(wc.dataset, wc.sampler, wc.training_seed, MAIN_TEMPERED, TEMPERING_SEEDS),
    output:
        "results/mixing/{dataset}/{sampler}/training_seed{training_seed}.nc",
    params:
        frequency_hz=TEMPERING["frequency_hz"],
        t_max=TEMPERING["t_max"],
        shape=SHAPE,
        dwell_fraction=dwell_fraction(SHAPE),
        readout=READOUT,
        conditional_stride=TEMPERING["conditional_stride"],
    benchmark:
        "results/benchmarks/mixing/{dataset}/{sampler}/training_seed{training_seed}.tsv",
    log:
        "results/logs/mixing/{dataset}/{sampler}/training_seed{training_seed}.log",
    threads: 1
    resources:
        runtime=10,
        mem_mb=4000,
    script:
        "../scripts/mixing_group.py"


rule mixing_summary:
    input:
        expand("results/mixing/{dataset}/{sampler}/training_seed{training_seed}.nc", dataset=DATASET,
               sampler=TEMPERING["samplers"], training_seed=TRAINING_SEEDS),
        expand(NETWORK_GROUP, dataset=DATASET, network=CORRECTED_NETWORKS, sampler=NETWORK_RUN_SAMPLERS,
               training_seed=TRAINING_SEEDS),
    output:
        "results/mixing/summary.nc",
    params:
        bootstrap=BOOTSTRAP,
    benchmark:
        "results/benchmarks/mixing/summary.tsv",
    log:
        "results/logs/mixing/summary.log",
    threads: 1
    resources:
        runtime=10,
        mem_mb=2000,
    script:
        "../scripts/mixing_summary.py"


def scan_schedule_label(condition):
    f, t, shape = SCAN_CONDITIONS[condition]
    return schedule_label("tempered", f, t, shape, dwell_fraction(shape))


def scan_group_inputs(wildcards):
    """The scan's runs of DEFAULT_NETWORK at one condition, its network (the trained RBM or the network file) and the
    test images' statistics under the network's machine: the scan's RBMs are measured against the test images only
    (no class distribution, no parallel tempering)."""
    fields = {"dataset": wildcards.dataset, "training_seed": wildcards.training_seed, "network": DEFAULT_NETWORK}
    schedules = ("free", scan_schedule_label(wildcards.condition))
    if DEFAULT_NETWORK == "translated":
        return {"rbm": "results/rbm/{dataset}/seed{training_seed}/rbm.nc".format(**fields),
                "reference": DATA_STATISTICS.format(**fields),
                "runs": group_runs(wildcards.dataset, "lif", wildcards.training_seed, schedules[1], SCAN_SEEDS)}
    statistics = DATA_STATISTICS if DEFAULT_NETWORK == "calibrated" else NETWORK_DATA_STATISTICS
    return {"rbm": NETWORK_FILE.format(**fields), "reference": statistics.format(**fields),
            "runs": [NETWORK_RUN.format(**fields, sampler="lif", schedule=schedule, seed=seed)
                     for seed in SCAN_SEEDS for schedule in schedules]}


rule scan_group:
    input:
        unpack(scan_group_inputs),
    output:
        "results/mixing/{dataset}/scan/{condition}/training_seed{training_seed}.nc",
    params:
        frequency_hz=lambda wc: SCAN_CONDITIONS[wc.condition][0],
        t_max=lambda wc: SCAN_CONDITIONS[wc.condition][1],
        shape=lambda wc: SCAN_CONDITIONS[wc.condition][2],
        dwell_fraction=lambda wc: dwell_fraction(SCAN_CONDITIONS[wc.condition][2]),
        readout=READOUT,
        # the scan chooses a schedule on switches and ground-state quality: no conditional calibration
        conditional_stride=None,
    benchmark:
        "results/benchmarks/mixing/{dataset}/scan/{condition}/training_seed{training_seed}.tsv",
    log:
        "results/logs/mixing/{dataset}/scan/{condition}/training_seed{training_seed}.log",
    threads: 1
    resources:
        runtime=10,
        mem_mb=4000,
    script:
        "../scripts/mixing_group.py"


rule parameter_scan:
    input:
        expand("results/mixing/{dataset}/scan/{condition}/training_seed{training_seed}.nc", dataset=DATASET,
               condition=SCAN_CONDITIONS, training_seed=SCAN_TRAINING_SEEDS),
    output:
        "results/mixing/parameter_scan.nc",
    params:
        frequencies_hz=SCAN["frequencies_hz"],
        t_max_values=SCAN["t_max_values"],
        shapes=SCAN["shapes"],
        dwell_fraction=DWELL_FRACTION if "dwell" in SCAN["shapes"] else None,
        bootstrap=BOOTSTRAP,
        selection=canonical(SCAN["selection"]),
        configured_schedule=canonical({"shape": SHAPE, "frequency_hz": TEMPERING["frequency_hz"],
                                       "t_max": TEMPERING["t_max"]}),
        study_training_seeds=TRAINING_SEEDS,
        network=DEFAULT_NETWORK,
    benchmark:
        "results/benchmarks/mixing/parameter_scan.tsv",
    log:
        "results/logs/mixing/parameter_scan.log",
    threads: 1
    resources:
        runtime=10,
        mem_mb=2000,
    script:
        "../scripts/parameter_scan.py"


def example_runs(wildcards):
    """The runs of training seed 0, seed 0 shown in the figures: per sampler, free and tempered."""
    return {f"{sampler}_{schedule}": RUN.format(dataset=DATASET, sampler=sampler,
                                                 schedule="free" if schedule == "free" else MAIN_TEMPERED,
                                                 training_seed=0, seed=0)
            for sampler in TEMPERING["samplers"] for schedule in ("free", "tempered")}


rule tempering_figures:
    input:
        unpack(example_runs),
        rbm=f"results/rbm/{DATASET}/seed0/rbm.nc",
        summary="results/mixing/summary.nc",
    output:
        strip=report(
            "results/figures/tempering/digit_strip.png",
            caption="../report/tempering_digit_strip.rst",
            category="Simulated tempering",
        ),
        timelines=report(
            "results/figures/tempering/class_timelines.png",
            caption="../report/tempering_class_timelines.rst",
            category="Simulated tempering",
        ),
        metrics=report(
            "results/figures/tempering/mixing_metrics.png",
            caption="../report/tempering_mixing_metrics.rst",
            category="Simulated tempering",
        ),
    params:
        samplers=TEMPERING["samplers"],
        readout=READOUT,
    benchmark:
        "results/benchmarks/tempering_figures.tsv",
    log:
        "results/logs/tempering_figures.log",
    threads: 1
    script:
        "../scripts/tempering_figures.py"


rule conditional_calibration_figure:
    input:
        "results/mixing/summary.nc",
    output:
        report(
            "results/figures/tempering/conditional_calibration.png",
            caption="../report/tempering_conditional_calibration.rst",
            category="Simulated tempering",
        ),
    benchmark:
        "results/benchmarks/conditional_calibration_figure.tsv"
    log:
        "results/logs/conditional_calibration_figure.log",
    threads: 1
    script:
        "../scripts/conditional_calibration_figure.py"


rule parameter_scan_figure:
    input:
        "results/mixing/parameter_scan.nc",
    output:
        report(
            "results/figures/tempering/parameter_scan.png",
            caption="../report/tempering_parameter_scan.rst",
            category="Simulated tempering",
        ),
    benchmark:
        "results/benchmarks/parameter_scan_figure.tsv",
    log:
        "results/logs/parameter_scan_figure.log",
    threads: 1
    script:
        "../scripts/parameter_scan_figure.py"


rule phase_group:
    input:
        rbm="results/rbm/{dataset}/seed{training_seed}/rbm.nc",
        runs=lambda wc: group_runs(wc.dataset, wc.sampler, wc.training_seed, MAIN_TEMPERED, TEMPERING_SEEDS),
        data=dataset_files,
    output:
        "results/mixing/{dataset}/phase/{sampler}/training_seed{training_seed}.nc",
    params:
        frequency_hz=TEMPERING["frequency_hz"],
        readout=TEMPERING["readout"],
        diagnostics=canonical(TEMPERING["phase_diagnostics"]),
        data=lambda wc: canonical(config["datasets"][wc.dataset]),
        split_seed=lambda wc: job_seed("dataset_split", wc.dataset),
    benchmark:
        "results/benchmarks/mixing/{dataset}/phase/{sampler}/training_seed{training_seed}.tsv",
    log:
        "results/logs/mixing/{dataset}/phase/{sampler}/training_seed{training_seed}.log",
    threads: 1
    resources:
        runtime=10,
        mem_mb=4000,
    script:
        "../scripts/phase_group.py"


rule phase_diagnostics:
    input:
        expand("results/mixing/{dataset}/phase/{sampler}/training_seed{training_seed}.nc", dataset=DATASET,
               sampler=TEMPERING["samplers"], training_seed=TRAINING_SEEDS),
    output:
        "results/mixing/phase_diagnostics.nc",
    benchmark:
        "results/benchmarks/mixing/phase_diagnostics.tsv",
    log:
        "results/logs/mixing/phase_diagnostics.log",
    threads: 1
    resources:
        runtime=5,
        mem_mb=2000,
    script:
        "../scripts/phase_diagnostics.py"


rule phase_diagnostics_figure:
    input:
        rules.phase_diagnostics.output,
    output:
        report(
            "results/figures/tempering/phase_diagnostics.png",
            caption="../report/phase_diagnostics.rst",
            category="Simulated tempering",
        ),
    benchmark:
        "results/benchmarks/phase_diagnostics_figure.tsv"
    log:
        "results/logs/phase_diagnostics_figure.log",
    threads: 1
    script:
        "../scripts/phase_diagnostics_figure.py"


rule tempering_study:
    input:
        rules.mixing_summary.output,
        rules.parameter_scan.output,
        rules.tempering_figures.output,
        rules.parameter_scan_figure.output,
        rules.conditional_calibration_figure.output,
        rules.phase_diagnostics_figure.output,

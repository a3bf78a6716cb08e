"""Calibrated LIF networks and training in the loop (docs/in_the_loop.md): per trained RBM and per validation machine."""

from lif_tempering.config import rbm_network_calibration_settings

NETWORK_CALIBRATION = canonical(config["network_calibration"])
IN_THE_LOOP = canonical(config["in_the_loop"])
#: The network files of a trained RBM.
CALIBRATED_NETWORK = NETWORK_FILE.replace("{network}", "calibrated")
IN_THE_LOOP_NETWORK = NETWORK_FILE.replace("{network}", "in_the_loop")
#: The network files of a validation machine ({bm}: its index), read by validation_lif for lif_calibrated and
#: lif_in_the_loop.
SMALL_BM_NETWORKS = {"lif_calibrated": "results/validation/networks/calibrated/bm{bm}.nc",
                     "lif_in_the_loop": "results/validation/networks/in_the_loop/bm{bm}.nc"}
VALIDATION_MACHINES = list(range(config["validation"]["n_machines"]))


wildcard_constraints:
    bm=r"[0-9]+",


def network_calibration_settings(wildcards):
    """The calibration settings of a trained RBM's network (no unit or marginal rounds where the calibrated network is
    not sampled)."""
    return canonical(rbm_network_calibration_settings(config, int(wildcards.training_seed)))


def network_runtime_minutes(dataset, settings, runs):
    """Cluster runtime request of ``runs`` runs of ``settings["n_copies"]`` copies of the RBM's network."""
    return runtime_minutes(rbm_neuron_seconds(dataset, settings["duration_ms"]) * settings["n_copies"], runs=runs)


rule calibrate_network:
    input:
        rbm="results/rbm/{dataset}/seed{training_seed}/rbm.nc",
        temperature_map=TEMPERATURE_MAP.format(scheme=TEMPERING["scheme"]),
        # the RBM's own mean visible states, the marginal rounds' targets
        reference=lambda wc: REFERENCE.format(**wc) if network_calibration_settings(wc)["marginal_rounds"]["n_rounds"]
        else [],
    output:
        CALIBRATED_NETWORK,
    params:
        neuron=NEURON,
        settings=network_calibration_settings,
        scheme=TEMPERING["scheme"],
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("calibrate_network", wc.dataset, wc.training_seed),
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/network_calibrated.log",
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/network_calibrated.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=lambda wc: network_runtime_minutes(wc.dataset, NETWORK_CALIBRATION["rbm"],
                                                   NETWORK_CALIBRATION["rbm"]["n_rounds"] + 2
                                                   + network_calibration_settings(wc)["unit_rounds"]
                                                   + network_calibration_settings(wc)["marginal_rounds"]["n_rounds"]),
        mem_mb=4000,
    script:
        "../scripts/calibrate_network.py"


# The positive phase: the RBM's own moments from its reference (target model) or the training images (target data).
rule train_in_the_loop:
    input:
        network=CALIBRATED_NETWORK,
        temperature_map=TEMPERATURE_MAP.format(scheme=TEMPERING["scheme"]),
        data=dataset_files,
        reference=lambda wc: REFERENCE.format(**wc) if IN_THE_LOOP["rbm"]["target"] == "model" else [],
    output:
        IN_THE_LOOP_NETWORK,
    params:
        neuron=NEURON,
        settings=IN_THE_LOOP["rbm"],
        bounds=RBM_TRAINING["bounds"],
        max_weight_factor_gain=config["rbm"]["max_weight_factor_gain"],
        data=lambda wc: canonical(config["datasets"][wc.dataset]),
        split_seed=lambda wc: job_seed("dataset_split", wc.dataset),
        scheme=TEMPERING["scheme"],
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("train_in_the_loop", wc.dataset, wc.training_seed),
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/network_in_the_loop.log",
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/network_in_the_loop.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=lambda wc: network_runtime_minutes(wc.dataset, IN_THE_LOOP["rbm"], IN_THE_LOOP["rbm"]["n_updates"]),
        mem_mb=6000,
    script:
        "../scripts/train_in_the_loop.py"


# The corrected networks' free and tempered runs and their mixing analysis: the translated network's rules with the
# network file in place of the trained RBM (same seeds: every network sees the same background noise). The ground-state
# quality of a network trained in the loop is measured against the test images' statistics under its own machine
# (the calibrated network's machine is the trained RBM: the reference's statistics).
use rule tempering_run as network_run with:
    input:
        rbm=NETWORK_FILE,
        temperature_map=TEMPERATURE_MAP.format(scheme=TEMPERING["scheme"]),
    output:
        NETWORK_RUN,
    params:
        network=lambda wc: wc.network,
    log:
        "results/logs/sampling/{dataset}/networks/{network}/{sampler}/{schedule}/training_seed{training_seed}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sampling/{dataset}/networks/{network}/{sampler}/{schedule}/training_seed{training_seed}/seed{seed}.tsv"


use rule data_statistics as network_data_statistics with:
    input:
        rbm=NETWORK_FILE,
        data=dataset_files,
    output:
        NETWORK_DATA_STATISTICS,
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/network_{network}_data_statistics.log",
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/network_{network}_data_statistics.tsv"


def network_group_runs(wildcards):
    return [NETWORK_RUN.format(network=wildcards.network, dataset=wildcards.dataset, sampler=wildcards.sampler,
                               schedule=schedule, training_seed=wildcards.training_seed, seed=seed)
            for seed in TEMPERING_SEEDS for schedule in ("free", MAIN_TEMPERED)]


def network_group_inputs(wildcards):
    """The network file, the RBM's reference and the runs; the test images' statistics under the network's machine
    where it is not the trained RBM's (in the loop)."""
    inputs = {"rbm": NETWORK_FILE.format(**wildcards), "reference": REFERENCE.format(**wildcards),
              "runs": network_group_runs(wildcards)}
    if wildcards.network == "in_the_loop":
        inputs["statistics"] = NETWORK_DATA_STATISTICS.format(**wildcards)
    return inputs


use rule mixing_group as network_mixing_group with:
    input:
        unpack(network_group_inputs),
    output:
        NETWORK_GROUP,
    log:
        "results/logs/mixing/{dataset}/networks/{network}/{sampler}/training_seed{training_seed}.log",
    benchmark:
        "results/benchmarks/mixing/{dataset}/networks/{network}/{sampler}/training_seed{training_seed}.tsv"


rule network_figures:
    input:
        calibrated=CALIBRATED_NETWORK,
        in_the_loop=IN_THE_LOOP_NETWORK,
    output:
        report(
            "results/figures/rbm/{dataset}/seed{training_seed}/network_training.png",
            caption="../report/network_training.rst",
            category="Boltzmann machines",
            subcategory="RBM {dataset}, training seed {training_seed}",
        ),
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/network_figures.tsv",
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/network_figures.log",
    threads: 1
    script:
        "../scripts/network_figures.py"


rule calibrate_small_bm:
    input:
        calibration=REFERENCE_CALIBRATION,
    output:
        SMALL_BM_NETWORKS["lif_calibrated"],
    params:
        neuron=NEURON,
        settings=NETWORK_CALIBRATION["small_bm"],
        machine=lambda wc: {"n_units": VALIDATION["n_units"], "weight_scale": VALIDATION["weight_scale"],
                            "seed": VALIDATION_MACHINE_SEEDS[int(wc.bm)]},
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("calibrate_small_bm", wc.bm),
    log:
        "results/logs/validation/networks/calibrated/bm{bm}.log",
    benchmark:
        "results/benchmarks/validation/networks/calibrated/bm{bm}.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=runtime_minutes(VALIDATION["n_units"] * NETWORK_CALIBRATION["small_bm"]["n_copies"]
                                * NETWORK_CALIBRATION["small_bm"]["duration_ms"] / 1e3,
                                runs=NETWORK_CALIBRATION["small_bm"]["n_rounds"] + 1),
        mem_mb=2000,
    script:
        "../scripts/calibrate_small_bm.py"


rule train_small_bm_in_the_loop:
    input:
        network=SMALL_BM_NETWORKS["lif_calibrated"],
        calibration=REFERENCE_CALIBRATION,
    output:
        SMALL_BM_NETWORKS["lif_in_the_loop"],
    params:
        neuron=NEURON,
        settings=IN_THE_LOOP["small_bm"],
        max_weight_factor_gain=config["rbm"]["max_weight_factor_gain"],
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("train_small_bm_in_the_loop", wc.bm),
    log:
        "results/logs/validation/networks/in_the_loop/bm{bm}.log",
    benchmark:
        "results/benchmarks/validation/networks/in_the_loop/bm{bm}.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=runtime_minutes(VALIDATION["n_units"] * IN_THE_LOOP["small_bm"]["n_copies"]
                                * IN_THE_LOOP["small_bm"]["duration_ms"] / 1e3,
                                runs=IN_THE_LOOP["small_bm"]["n_updates"]),
        mem_mb=2000,
    script:
        "../scripts/train_small_bm_in_the_loop.py"


rule networks_study:
    input:
        expand(IN_THE_LOOP_NETWORK, dataset=config["dataset"], training_seed=TRAINING_SEEDS),
        expand("results/figures/rbm/{dataset}/seed{training_seed}/network_training.png", dataset=config["dataset"],
               training_seed=TRAINING_SEEDS),

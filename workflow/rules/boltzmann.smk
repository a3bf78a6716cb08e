"""Boltzmann machines on LIF networks: validation on small machines, coupling calibration, RBMs."""

from snakemake.exceptions import WorkflowError

from lif_tempering.sampling.study import LIF_VARIANTS, NETWORK_SAMPLERS, SAMPLERS, STP_SAMPLER
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.learning.study import rbm_parameter_bounds
from lif_tempering.config import data_directory, rbm_training_runtime_minutes, runtime_minutes, visible_units
from lif_tempering.learning.datasets import DATASETS, IDX_DATASETS, SUMS_FILE, idx_files

REFERENCE_CALIBRATION = f"results/calibration/activation/{REFERENCE_NOISE}.nc"
VALIDATION = canonical(config["validation"])
#: The validation's samplers: every LIF variant and Gibbs, and lif_stp where stp_sampler.validation is set.
VALIDATION_SAMPLERS = [*SAMPLERS, *([STP_SAMPLER] if config["stp_sampler"]["validation"] else [])]
#: The Tsodyks-Markram parameters of lif_stp (stp_sampler without its validation switch).
STP_SAMPLER_PARAMETERS = canonical({k: v for k, v in config["stp_sampler"].items() if k != "validation"})
VALIDATION_MACHINE_SEEDS = [job_seed("validation_bm", k) for k in range(config["validation"]["n_machines"])]
CALIBRATION_MACHINE_SEEDS = [
    job_seed("coupling_bm", k) for k in range(config["validation"]["n_calibration_machines"])
]
# pt_ladder only with pt_pcd, so that it reruns nothing trained otherwise
RBM_TRAINING = canonical({**{k: v for k, v in config["rbm"].items()
                             if k not in ("n_training_seeds", "classifier_c")
                             and (k != "pt_ladder" or config["rbm"]["method"] == "pt_pcd")},
                          "bounds": rbm_parameter_bounds(config["rbm"], NeuronParameters(**NEURON))})
TRAINING_SEEDS = list(range(config["rbm"]["n_training_seeds"]))
LIF_SAMPLING = canonical(config["lif_sampling"])
COUPLING = "results/validation/coupling.nc"
#: Simulated neuron-seconds of one validation run per machine (all copies).
VALIDATION_NEURON_SECONDS = (
    VALIDATION["n_units"] * VALIDATION["copies_per_machine"] * VALIDATION["duration_ms"] / 1e3
)


def rbm_neuron_seconds(dataset, duration_ms):
    """Simulated neuron-seconds of one LIF run of the RBM on ``dataset``."""
    return (visible_units(config, dataset) + config["rbm"]["n_hidden"]) * duration_ms / 1e3


wildcard_constraints:
    lif_variant="|".join([*LIF_VARIANTS, *NETWORK_SAMPLERS, STP_SAMPLER]),
    dataset="|".join(DATASETS),
    training_seed=r"[0-9]+",


rule coupling_calibration:
    input:
        calibration=REFERENCE_CALIBRATION,
    output:
        COUPLING,
    params:
        neuron=NEURON,
        validation=VALIDATION,
        machine_seeds=CALIBRATION_MACHINE_SEEDS,
        dt_ms=config["simulation"]["dt_ms"],
        seed=job_seed("coupling_calibration"),
    log:
        "results/logs/validation/coupling_calibration.log",
    benchmark:
        "results/benchmarks/validation/coupling_calibration.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=runtime_minutes(VALIDATION_NEURON_SECONDS * VALIDATION["n_calibration_machines"]),
        mem_mb=4000,
    script:
        "../scripts/coupling_calibration.py"


rule validation_gibbs:
    output:
        "results/validation/small_bm/gibbs.nc",
    params:
        tau_ref_ms=NEURON["tau_ref_ms"],
        validation=VALIDATION,
        machine_seeds=VALIDATION_MACHINE_SEEDS,
        seed=job_seed("validation_sampling", "gibbs"),
    log:
        "results/logs/validation/gibbs.log",
    benchmark:
        "results/benchmarks/validation/gibbs.tsv"
    threads: 1
    resources:
        runtime=30,
        mem_mb=2000,
    script:
        "../scripts/validation_gibbs.py"


def lif_validation_inputs(wildcards):
    """The calibration; the coupling calibration for the corrected variant; each machine's network file for
    lif_calibrated and lif_in_the_loop (SMALL_BM_NETWORKS, workflow/rules/networks.smk)."""
    _, corrected = LIF_VARIANTS.get(wildcards.lif_variant, ("renewing", False))
    inputs = {"calibration": REFERENCE_CALIBRATION, **({"coupling": COUPLING} if corrected else {})}
    if wildcards.lif_variant in NETWORK_SAMPLERS:
        inputs["networks"] = expand(SMALL_BM_NETWORKS[wildcards.lif_variant], bm=VALIDATION_MACHINES)
    return inputs


rule validation_lif:
    input:
        unpack(lif_validation_inputs),
    output:
        "results/validation/small_bm/{lif_variant}.nc",
    params:
        neuron=NEURON,
        validation=VALIDATION,
        machine_seeds=VALIDATION_MACHINE_SEEDS,
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("validation_sampling", wc.lif_variant),
        stp=lambda wc: STP_SAMPLER_PARAMETERS if wc.lif_variant == STP_SAMPLER else None,
    log:
        "results/logs/validation/{lif_variant}.log",
    benchmark:
        "results/benchmarks/validation/{lif_variant}.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=runtime_minutes(VALIDATION_NEURON_SECONDS * VALIDATION["n_machines"]),
        mem_mb=4000,
    script:
        "../scripts/validation_lif.py"


rule small_bm:
    input:
        expand("results/validation/small_bm/{sampler}.nc", sampler=VALIDATION_SAMPLERS),
    output:
        "results/validation/small_bm.nc",
    params:
        samplers=VALIDATION_SAMPLERS,
        validation=VALIDATION,
        machine_seeds=VALIDATION_MACHINE_SEEDS,
    benchmark:
        "results/benchmarks/validation/small_bm.tsv",
    log:
        "results/logs/validation/small_bm.log",
    threads: 1
    script:
        "../scripts/combine_small_bm.py"


rule validation_figures:
    input:
        "results/validation/small_bm.nc",
    output:
        joint=report(
            "results/figures/validation/joint_distributions.png",
            caption="../report/joint_distributions.rst",
            category="Boltzmann machines",
            subcategory="Validation on small machines",
        ),
        dkl=report(
            "results/figures/validation/dkl_vs_time.png",
            caption="../report/dkl_vs_time.rst",
            category="Boltzmann machines",
            subcategory="Validation on small machines",
        ),
    benchmark:
        "results/benchmarks/validation/figures.tsv",
    log:
        "results/logs/validation/figures.log",
    threads: 1
    script:
        "../scripts/validation_figures.py"


# --------------------------------------------------------------------------- data sets and RBMs


def dataset_files(wildcards):
    """The files a data set is read from in data_dir (none for the embedded digits)."""
    if wildcards.dataset not in IDX_DATASETS:
        return []
    directory = data_directory(config, wildcards.dataset)
    try:
        files = [str(path) for path in idx_files(directory).values()]
    except FileNotFoundError as error:
        raise WorkflowError(f"{wildcards.dataset} files missing: {error}. Set data_dir to the folder holding them, or "
                            f"run `snakemake --cores 1 download_data --config dataset={wildcards.dataset}` "
                            "(internet access needed) to fetch them there.") from None
    sums = directory / SUMS_FILE
    return files + ([str(sums)] if sums.is_file() else [])


# The data files are deliberately not outputs of any rule: Snakemake deletes a
# job's existing outputs before running it (and on failure), and the data folder
# may hold a user's own copy. The rule records what it verified under results/.
rule download_data:
    output:
        f"results/data/{config['dataset']}_download.txt",
    params:
        dataset=config["dataset"],
        data_dir=str(data_directory(config)),
    benchmark:
        f"results/benchmarks/download_{config['dataset']}.tsv",
    log:
        f"results/logs/download_{config['dataset']}.log",
    threads: 1
    resources:
        runtime=20,
    script:
        "../scripts/download_data.py"


rule train_classifier:
    input:
        data=dataset_files,
    output:
        "results/rbm/{dataset}/classifier.nc",
    params:
        data=lambda wc: canonical(config["datasets"][wc.dataset]),
        classifier_c=config["rbm"]["classifier_c"],
        split_seed=lambda wc: job_seed("dataset_split", wc.dataset),
    log:
        "results/logs/rbm/{dataset}/classifier.log",
    benchmark:
        "results/benchmarks/rbm/{dataset}/classifier.tsv"
    threads: 1
    resources:
        runtime=10,
        mem_mb=4000,
    script:
        "../scripts/train_classifier.py"


rule train_rbm:
    input:
        data=dataset_files,
        classifier="results/rbm/{dataset}/classifier.nc",
    output:
        "results/rbm/{dataset}/seed{training_seed}/rbm.nc",
    params:
        data=lambda wc: canonical(config["datasets"][wc.dataset]),
        rbm=RBM_TRAINING,
        split_seed=lambda wc: job_seed("dataset_split", wc.dataset),
        seed=lambda wc: job_seed("rbm_training", wc.dataset, wc.training_seed),
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/train.log",
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/train.tsv"
    threads: 1
    resources:
        runtime=lambda wc: rbm_training_runtime_minutes(config, wc.dataset),
        mem_mb=4000,
    script:
        "../scripts/train_rbm.py"


rule rbm_first_training_seed:
    input:
        "results/rbm/{dataset}/seed0/rbm.nc",
    output:
        "results/rbm/{dataset}/rbm.nc",
    benchmark:
        "results/benchmarks/rbm/{dataset}/copy_seed0.tsv",
    log:
        "results/logs/rbm/{dataset}/copy_seed0.log",
    shell:
        "cp {input} {output} 2> {log}"


def lif_sampling_inputs(wildcards):
    inputs = {"rbm": f"results/rbm/{wildcards.dataset}/seed{wildcards.training_seed}/rbm.nc",
              "calibration": REFERENCE_CALIBRATION}
    if config["lif_sampling"]["coupling_correction"]:
        inputs["coupling"] = COUPLING
    return inputs


rule sample_rbm_lif:
    input:
        unpack(lif_sampling_inputs),
    output:
        "results/rbm/{dataset}/seed{training_seed}/lif_samples.nc",
    params:
        neuron=NEURON,
        lif_sampling=LIF_SAMPLING,
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("rbm_lif_sampling", wc.dataset, wc.training_seed),
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/lif_samples.log",
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/lif_samples.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=lambda wc: runtime_minutes(rbm_neuron_seconds(wc.dataset, LIF_SAMPLING["duration_ms"])),
        mem_mb=4000,
    script:
        "../scripts/sample_rbm_lif.py"


rule rbm_figures:
    input:
        rbm="results/rbm/{dataset}/seed{training_seed}/rbm.nc",
        samples="results/rbm/{dataset}/seed{training_seed}/lif_samples.nc",
    output:
        filters=report(
            "results/figures/rbm/{dataset}/seed{training_seed}/filters.png",
            caption="../report/rbm_filters.rst",
            category="Boltzmann machines",
            subcategory="RBM {dataset}, training seed {training_seed}",
        ),
        gibbs=report(
            "results/figures/rbm/{dataset}/seed{training_seed}/gibbs_samples.png",
            caption="../report/rbm_gibbs_samples.rst",
            category="Boltzmann machines",
            subcategory="RBM {dataset}, training seed {training_seed}",
        ),
        lif=report(
            "results/figures/rbm/{dataset}/seed{training_seed}/lif_samples.png",
            caption="../report/rbm_lif_samples.rst",
            category="Boltzmann machines",
            subcategory="RBM {dataset}, training seed {training_seed}",
        ),
        curves=report(
            "results/figures/rbm/{dataset}/seed{training_seed}/training_curves.png",
            caption="../report/rbm_training_curves.rst",
            category="Boltzmann machines",
            subcategory="RBM {dataset}, training seed {training_seed}",
        ),
    benchmark:
        "results/benchmarks/rbm/{dataset}/seed{training_seed}/figures.tsv",
    log:
        "results/logs/rbm/{dataset}/seed{training_seed}/figures.log",
    threads: 1
    script:
        "../scripts/rbm_figures.py"


rule boltzmann_study:
    input:
        rules.coupling_calibration.output,
        rules.small_bm.output,
        rules.validation_figures.output,
        expand("results/rbm/{dataset}/rbm.nc", dataset=config["dataset"]),
        expand(rules.sample_rbm_lif.output, dataset=config["dataset"], training_seed=TRAINING_SEEDS),
        expand(rules.rbm_figures.output, dataset=config["dataset"], training_seed=TRAINING_SEEDS),

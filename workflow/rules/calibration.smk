"""Single-neuron study: membrane statistics, activation calibration, temperature map."""

from lif_tempering.config import runtime_minutes

CALIBRATION_NEURON_SECONDS = sum(
    CALIBRATION[stage]["n_points"] * CALIBRATION[stage]["duration_ms"] / 1e3 for stage in ("coarse", "fit")
)


rule membrane:
    output:
        "results/calibration/membrane/{noise}.nc",
    params:
        neuron=NEURON_WITHOUT_RATES,
        rates=lambda wc: ALL_NOISE[wc.noise],
        settings=MEMBRANE,
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("membrane", wc.noise),
    log:
        "results/logs/membrane/{noise}.log",
    benchmark:
        "results/benchmarks/membrane/{noise}.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=runtime_minutes(2 * MEMBRANE["n_neurons"] * MEMBRANE["duration_ms"] / 1e3),
        mem_mb=2000,
    script:
        "../scripts/membrane.py"


rule calibrate_noise:
    output:
        "results/calibration/activation/{noise}.nc",
    params:
        neuron=NEURON_WITHOUT_RATES,
        rates=lambda wc: ALL_NOISE[wc.noise],
        settings=CALIBRATION,
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("calibration", wc.noise),
    log:
        "results/logs/calibration/{noise}.log",
    benchmark:
        "results/benchmarks/calibration/{noise}.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=runtime_minutes(CALIBRATION_NEURON_SECONDS),
        mem_mb=2000,
    script:
        "../scripts/calibrate.py"


rule temperature_point:
    input:
        reference=f"results/calibration/activation/{REFERENCE_NOISE}.nc",
    output:
        "results/calibration/temperature/{scheme}/T{temperature}.nc",
    params:
        neuron=NEURON,
        calibration=CALIBRATION,
        temperature_map=TEMPERATURE_SEARCH,
        temperature=lambda wc: float(wc.temperature),
        dt_ms=config["simulation"]["dt_ms"],
        seed=lambda wc: job_seed("temperature", wc.scheme, wc.temperature),
    log:
        "results/logs/temperature/{scheme}_T{temperature}.log",
    benchmark:
        "results/benchmarks/temperature/{scheme}_T{temperature}.tsv"
    threads: SIMULATION_THREADS
    resources:
        runtime=runtime_minutes(CALIBRATION_NEURON_SECONDS, runs=config["temperature_map"]["max_iterations"]),
        mem_mb=2000,
    script:
        "../scripts/temperature_point.py"


rule membrane_summary:
    input:
        expand("results/calibration/membrane/{noise}.nc", noise=NOISE),
    output:
        "results/calibration/membrane.nc",
    params:
        noise=list(NOISE),
    benchmark:
        "results/benchmarks/membrane_summary.tsv",
    log:
        "results/logs/membrane_summary.log",
    script:
        "../scripts/combine.py"


rule activation_summary:
    input:
        expand("results/calibration/activation/{noise}.nc", noise=NOISE),
    output:
        "results/calibration/activation.nc",
    params:
        noise=list(NOISE),
    benchmark:
        "results/benchmarks/activation_summary.tsv",
    log:
        "results/logs/activation_summary.log",
    script:
        "../scripts/combine.py"


rule temperature_map:
    """One scheme's map: a run of the other scheme never depends on it. Fails if a point missed its tolerances."""
    input:
        lambda wc: expand("results/calibration/temperature/{scheme}/T{temperature}.nc", scheme=wc.scheme,
                          temperature=TEMPERATURES),
    output:
        TEMPERATURE_MAP,
    params:
        scheme=lambda wc: wc.scheme,
        temperatures=[float(t) for t in TEMPERATURES],
        temperature_map=TEMPERATURE_SEARCH,
    benchmark:
        "results/benchmarks/temperature_map_{scheme}.tsv",
    log:
        "results/logs/temperature_map_{scheme}.log",
    script:
        "../scripts/combine_temperature_map.py"


rule calibration_figures:
    input:
        membrane="results/calibration/membrane.nc",
        activation="results/calibration/activation.nc",
        temperature_maps=expand(TEMPERATURE_MAP, scheme=SCHEMES),
    output:
        membrane=report(
            "results/figures/calibration/membrane_distributions.png",
            caption="../report/membrane_distributions.rst",
            category="Single-neuron study",
        ),
        activation=report(
            "results/figures/calibration/activation_functions.png",
            caption="../report/activation_functions.rst",
            category="Single-neuron study",
        ),
        rates=report(
            "results/figures/calibration/noise_to_temperature.png",
            caption="../report/noise_to_temperature.rst",
            category="Single-neuron study",
        ),
    benchmark:
        "results/benchmarks/calibration_figures.tsv",
    log:
        "results/logs/calibration_figures.log",
    script:
        "../scripts/calibration_figures.py"


rule calibration_study:
    input:
        rules.membrane_summary.output,
        rules.activation_summary.output,
        expand(TEMPERATURE_MAP, scheme=SCHEMES),
        rules.calibration_figures.output,

"""The report's first page: the headline numbers of the run and the settings they were made with."""

#: Configured values named in the headline table, by configuration key.
HEADLINE_SETTINGS = {
    "dataset": DATASET,
    "neuron.parameter_set": config["neuron"]["parameter_set"],
    "rbm.n_hidden": config["rbm"]["n_hidden"],
    "rbm.epochs": config["rbm"]["epochs"],
    "tempering.samplers": TEMPERING["samplers"],
    "tempering.networks": TEMPERING["networks"],
    "in_the_loop.rbm.target": config["in_the_loop"]["rbm"]["target"],
    "tempering.scheme": TEMPERING["scheme"],
    "tempering.t_max": TEMPERING["t_max"],
    "tempering.frequency_hz": TEMPERING["frequency_hz"],
    "tempering.schedule.shape": SHAPE,
    "tempering.schedule.dwell_fraction": DWELL_FRACTION,
    "tempering.readout_delay": TEMPERING["readout_delay"],
    "rbm.n_training_seeds": config["rbm"]["n_training_seeds"],
    "tempering.n_seeds": TEMPERING["n_seeds"],
    "parameter_scan.first_training_seed": SCAN["first_training_seed"],
    "parameter_scan.n_training_seeds": SCAN["n_training_seeds"],
    "parameter_scan.n_seeds": SCAN["n_seeds"],
    "parameter_scan.confirmation.min_switch_ratio": SCAN["confirmation"]["min_switch_ratio"],
    "parameter_scan.confirmation.min_switch_ratio_ci_low": SCAN["confirmation"]["min_switch_ratio_ci_low"],
    "tempering.ground_state_tolerance": TEMPERING["ground_state_tolerance"],
    "tempering.readout": TEMPERING["readout"],
    "tempering.duration_ms": TEMPERING["duration_ms"],
    "tempering.burn_in_ms": TEMPERING["burn_in_ms"],
    "tempering.bootstrap.n_resamples": TEMPERING["bootstrap"]["n_resamples"],
    "tempering.bootstrap.confidence": TEMPERING["bootstrap"]["confidence"],
}


rule headline:
    input:
        summary=rules.mixing_summary.output[0],
        scan=rules.parameter_scan.output[0],
        rbms=expand("results/rbm/{dataset}/seed{training_seed}/rbm.nc", dataset=DATASET, training_seed=TRAINING_SEEDS),
        references=expand(REFERENCE, dataset=DATASET, training_seed=TRAINING_SEEDS),
        reference=REFERENCE_CALIBRATION,
        membrane=rules.membrane_summary.output[0],
        temperature_map=TEMPERATURE_MAP.format(scheme=TEMPERING["scheme"]),
    output:
        html=report(
            "results/headline/headline.html",
            caption="../report/headline.rst",
            category="At a glance",
            labels={"table": "headline results", "format": "HTML"},
        ),
        front_page=report(
            "results/headline/front_page.html",
            caption="../report/headline.rst",
            category="At a glance",
            labels={"table": "the report's first page", "format": "HTML"},
        ),
        csv=report(
            "results/headline/headline.csv",
            caption="../report/headline.rst",
            category="At a glance",
            labels={"table": "headline results", "format": "CSV"},
        ),
    params:
        settings=HEADLINE_SETTINGS,
    benchmark:
        "results/benchmarks/headline.tsv",
    log:
        "results/logs/headline.log",
    threads: 1
    script:
        "../scripts/headline.py"

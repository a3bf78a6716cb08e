"""One free or tempered sampling run of a trained RBM, LIF or Gibbs (rules ``tempering_run``, ``network_run``,
``stp_scan_run``).

A LIF run has neuron parameters and samples the ``network`` in ``input.rbm`` (the RBM's plain translation, or a
calibrated or in-the-loop network file with its corrections); its synapses have the short-term plasticity of
``settings["stp"]`` (sampler ``lif_stp``) or are renewing (``lif``).
"""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.neuron.parameters import NeuronParameters
from lif_tempering.neuron.stp import stp_from_config
from lif_tempering.runtime import job_log, limit_threads
from lif_tempering.tempering.runs import make_schedule, temperature_map
from lif_tempering.tempering.study import gibbs_run, lif_run

params = snakemake.params
wildcards = snakemake.wildcards
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    rbm = read_dataset(snakemake.input.rbm)
    spec = params.schedule
    schedule = make_schedule(spec["schedule"], spec["t_max"], spec["frequency_hz"], shape=spec.get("shape", "sinusoid"),
                             dwell_fraction=spec.get("dwell_fraction", 0.0))
    identity = {"training_seed": int(wildcards.training_seed), "seed": int(wildcards.seed), "rng_seed": params.rng_seed}
    if params.neuron is not None:
        tmap = temperature_map(read_dataset(snakemake.input.temperature_map), params.scheme)
        stp = stp_from_config(params.settings["stp"]) if "stp" in params.settings else None
        run = lif_run(rbm, tmap, NeuronParameters(**params.neuron), schedule, params.settings, params.dt_ms,
                      cache_dir=snakemake.config["simulation"]["build_cache_dir"], stp=stp,
                      threads=snakemake.threads, network=params.network, **identity)
    else:
        run = gibbs_run(rbm, schedule, params.settings, params.sweep_ms, **identity)
    print(f"{run.attrs['sampler']} {run.attrs['schedule']}: {run.sizes['time']} samples, "
          f"wall time {run.attrs['wall_time_s']:.2f} s")
    write_dataset(run, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

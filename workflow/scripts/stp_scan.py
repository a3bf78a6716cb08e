"""Free lif_stp runs over U x tau_rec_ms against the free renewing lif runs (rule ``stp_scan``)."""

from lif_tempering.analysis.stp_scan import stp_scan
from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.runtime import job_log

params = snakemake.params
with job_log(snakemake.log[0]):
    bootstrap = params.bootstrap
    scan = stp_scan([read_dataset(path) for path in snakemake.input.free_lif],
                    [read_dataset(path) for path in snakemake.input.stp], params.U_values, params.tau_rec_ms_values,
                    bootstrap["seed"], bootstrap["n_resamples"], bootstrap["confidence"])
    print(scan[["switch_rate_hz", "switch_ratio_vs_free_lif", "ground_confidence_ratio_vs_free_lif",
                "ground_activity_ratio_vs_free_lif"]].to_dataframe().to_string())
    print(f"free lif: switch rate {float(scan.free_lif_switch_rate_hz):.3f} Hz, "
          f"ground confidence {float(scan.free_lif_ground_confidence):.3f}")
    write_dataset(scan, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

"""Headline results of the run as HTML (the report's first page) and CSV (rule ``headline``)."""

from lif_tempering.analysis.headline import front_page_html, headline_html, headline_table
from lif_tempering.io import read_dataset
from lif_tempering.runtime import job_log

params = snakemake.params
with job_log(snakemake.log[0]):
    summary = read_dataset(snakemake.input.summary)
    table = headline_table(summary, read_dataset(snakemake.input.reference), read_dataset(snakemake.input.membrane),
                           read_dataset(snakemake.input.temperature_map), params.settings,
                           scan=read_dataset(snakemake.input.scan),
                           rbms=[read_dataset(path) for path in snakemake.input.rbms],
                           references=[read_dataset(path) for path in snakemake.input.references])
    print(table.to_string())
    table.to_csv(snakemake.output.csv, index=False)
    confidence = 100 * params.settings["tempering.bootstrap.confidence"]
    note = (f"Means over runs with {confidence:g} % bootstrap intervals [low, high] "
            f"({summary.attrs.get('bootstrap_method', 'percentile bootstrap over runs')}); fits with ± standard "
            f"error. Numbers: {snakemake.output.csv}, {snakemake.input.summary}, {snakemake.input.scan}.")
    with open(snakemake.output.html, "w", encoding="utf-8") as out:
        out.write(headline_html(table, note=note))
    with open(snakemake.output.front_page, "w", encoding="utf-8") as out:
        out.write(front_page_html(table, params.settings, note=note))

"""Download the configured data set into data_dir and verify it (rule ``download_data``; needs internet access).

Files already present and verified are kept; the output lists the verified files
with their SHA-256 as stored. The embedded digits need no download.
"""

from lif_tempering.learning.datasets import IDX_DATASETS, download_dataset, file_sha256
from lif_tempering.runtime import job_log

dataset, data_dir = snakemake.params.dataset, snakemake.params.data_dir
with job_log(snakemake.log[0]):
    if dataset in IDX_DATASETS:
        files = download_dataset(dataset, data_dir)
        header = f"# {dataset} in {data_dir}, each file verified against the canonical digests; SHA-256 as stored:\n"
        lines = "".join(f"{file_sha256(path)}  {path}\n" for path in files.values())
    else:
        header, lines = f"# {dataset}: embedded in scikit-learn, nothing to download\n", ""
    print(header + lines, end="")
    with open(snakemake.output[0], "w") as record:
        record.write(header + lines)

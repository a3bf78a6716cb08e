"""Download MNIST into mnist_dir and verify it (rule ``download_mnist``; needs internet access).

Files already present and verified are kept; the output lists the verified files.
"""

from lif_tempering.datasets import download_mnist, sha256_decompressed
from lif_tempering.runtime import job_log

with job_log(snakemake.log[0]):
    files = download_mnist(snakemake.params.mnist_dir)
    lines = [f"{sha256_decompressed(path)}  {path}" for path in files.values()]
    print("\n".join(lines))
    with open(snakemake.output[0], "w") as record:
        record.write("# SHA-256 of the decompressed MNIST files, verified\n" + "\n".join(lines) + "\n")

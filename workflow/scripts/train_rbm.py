"""Train and evaluate one RBM (rule ``train_rbm``)."""

from pathlib import Path

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.learning.study import load_images, train_rbm_dataset
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
dataset = snakemake.wildcards.dataset
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    data_dir = Path(snakemake.input.data[0]).parent if snakemake.input.data else None
    data = load_images(dataset, params.data, data_dir, params.split_seed)
    print(f"{dataset}: {len(data.train_images)} training, {len(data.test_images)} test images of "
          f"{data.image_shape[0]}x{data.image_shape[1]} pixels", flush=True)
    ds = train_rbm_dataset(data, params.rbm, params.seed, dataset, int(snakemake.wildcards.training_seed),
                           classifier=read_dataset(snakemake.input.classifier), log=lambda line: print(line, flush=True))
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

"""Train and evaluate one RBM (rule ``train_rbm``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.learning.study import job_images, train_rbm_dataset
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
dataset = snakemake.wildcards.dataset
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    data = job_images(dataset, params.data, snakemake.input.data, params.split_seed)
    print(f"{dataset}: {len(data.train_images)} training, {len(data.test_images)} test images of "
          f"{data.image_shape[0]}x{data.image_shape[1]} pixels", flush=True)
    ds = train_rbm_dataset(data, params.rbm, params.seed, dataset, int(snakemake.wildcards.training_seed),
                           classifier=read_dataset(snakemake.input.classifier), log=lambda line: print(line, flush=True))
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

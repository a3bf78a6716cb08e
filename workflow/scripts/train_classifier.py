"""Fit the digit classifier of one data set (rule ``train_classifier``)."""

from lif_tempering.io import write_dataset
from lif_tempering.learning.study import classifier_dataset, job_images
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
dataset = snakemake.wildcards.dataset
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    data = job_images(dataset, params.data, snakemake.input.data, params.split_seed)
    ds = classifier_dataset(data, params.classifier_c, dataset)
    print(f"{dataset} classifier (C = {params.classifier_c:g}, {len(data.train_images)} training images): accuracy "
          f"train {ds.attrs['classifier_train_accuracy']:.4f}, test {ds.attrs['classifier_test_accuracy']:.4f}")
    write_dataset(ds, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

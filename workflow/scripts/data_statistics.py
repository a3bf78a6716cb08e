"""The test images' statistics under one trained RBM, without a class distribution (rule ``data_statistics``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.learning.reference import data_statistics_dataset
from lif_tempering.learning.study import job_images, rbm_parameters
from lif_tempering.runtime import job_log

params = snakemake.params
with job_log(snakemake.log[0]):
    data = job_images(snakemake.wildcards.dataset, params.data, snakemake.input.data, params.split_seed)
    statistics = data_statistics_dataset(*rbm_parameters(read_dataset(snakemake.input.rbm)), data.test_images)
    attrs = statistics.attrs
    print(f"{attrs['n_test_images']} test images: mean visible activity {attrs['data_mean_visible']:.4f}, "
          f"mean F(v) {attrs['data_free_energy']:.2f} nat")
    write_dataset(statistics, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

"""The reference class distribution of one trained RBM: parallel tempering (rule ``reference_distribution``)."""

from lif_tempering.io import read_dataset, write_dataset
from lif_tempering.learning.reference import ReferenceNotConverged, reference_dataset
from lif_tempering.learning.study import job_images, rbm_classifier, rbm_parameters
from lif_tempering.runtime import job_log, limit_threads

params = snakemake.params
limit_threads(snakemake.threads)
with job_log(snakemake.log[0]):
    rbm = read_dataset(snakemake.input.rbm)
    data = job_images(snakemake.wildcards.dataset, params.data, snakemake.input.data, params.split_seed)
    reference = reference_dataset(*rbm_parameters(rbm), rbm_classifier(rbm), rbm["train_class_frequency"].values,
                                  data.test_images, data.test_labels, params.reference, params.readout, params.seed,
                                  train_images=data.train_images)
    attrs = reference.attrs
    print(f"reference ({attrs['n_chains']} ladders x {attrs['n_betas']} rungs down to beta {attrs['beta_min']:.3g}, "
          f"hot end {attrs['hot_end']}, {attrs['n_sweeps']} sweeps, {attrs['burn_in_sweeps']} burn-in in "
          f"{attrs['adaptation_rounds']} adaptation rounds): max R-hat {attrs['max_r_hat']:.4f}, "
          f"min bulk ESS {attrs['min_ess_bulk']:.0f}, swap acceptance {reference['swap_acceptance'].min().item():.3f} "
          f"(lowest pair), round trips per ladder {int(reference['round_trips'].min())}-"
          f"{int(reference['round_trips'].max())}")
    print("ladder beta: " + " ".join(f"{b:.3f}" for b in reference["beta"].values))
    for name in ("class_probability", "class_probability_std_error", "data_class_prior", "class_r_hat"):
        print(f"{name}: " + " ".join(f"{p:.4f}" for p in reference[name].values))
    print(f"D_KL(reference || data class prior) = {attrs['reference_prior_kl']:.4f} nat")
    print(f"mean visible activity: reference {attrs['reference_mean_visible']:.4f}, "
          f"test images {attrs['data_mean_visible']:.4f}; mean F(v): reference {attrs['reference_free_energy']:.2f}, "
          f"test images {attrs['data_free_energy']:.2f} nat")
    if not attrs["converged"]:
        if params.reference["require_convergence"]:
            raise ReferenceNotConverged(reference)
        print(f"warning: {ReferenceNotConverged(reference)}; kept with converged = 0 "
              "(reference.require_convergence is false): comparisons with it are not reliable")
    write_dataset(reference, snakemake.output[0], params=dict(params.items()), config=snakemake.config)

"""The STP scan's analysis (lif_tempering.analysis.stp_scan) on constructed runs whose answer is known (no simulation)."""

import numpy as np
import pytest
from test_tempering_study import N_VISIBLE, alternating_every_ms, fake_rbm

from lif_tempering.analysis.stp_scan import STP_SCAN_METRICS, STP_SCAN_RATIOS, stp_point_label, stp_scan
from lif_tempering.analysis.study import mixing_group
from lif_tempering.learning.reference import reference_dataset
from lif_tempering.learning.study import rbm_classifier, rbm_parameters
from lif_tempering.tempering.runs import make_schedule, run_dataset

DURATION_MS, DT_MS, FREQUENCY_HZ, T_MAX, TOLERANCE = 10_000.0, 5.0, 2.0, 2.0, 0.1
TRAINING_SEEDS, SEEDS = (0, 1), (0, 1, 2)
#: The free lif chains change class every 2 s.
FREE_LIF_PERIOD_MS = 2000.0
#: Per grid point (U, tau_rec_ms): the lif_stp chains' class period (ms) and whether pixel 2 is on as well.
POINTS = {(0.1, 10.0): (1000.0, False), (0.1, 100.0): (500.0, True), (1.0, 10.0): (2000.0, False),
          (1.0, 100.0): (1000.0, False)}
#: Window switches in 10 s for a class period: one at every multiple of the period in (0, 10 s] (windows every
#: 500 ms at 2 Hz; the last, centred on 10 s, holds the samples just before it).
SWITCHES = {2000.0: 5, 1000.0: 10, 500.0: 20}


def run(sampler, period_ms, training_seed, seed, U=1.0, tau_rec_ms=10.0, extra_pixel=False):
    """A free run of ``sampler`` showing class 0 or 1 (pixel 0 or 1 on; pixel 2 too with ``extra_pixel``)."""
    time_ms = np.arange(0.0, DURATION_MS, DT_MS)
    labels = alternating_every_ms(period_ms)(time_ms)
    z = np.zeros((time_ms.size, N_VISIBLE + 2), dtype=np.int8)
    z[np.arange(time_ms.size), labels] = 1
    z[:, 2] = int(extra_pixel)
    attrs = {"sampler": sampler, "seed": seed, "training_seed": training_seed, "duration_ms": DURATION_MS,
             "burn_in_ms": 0.0, "wall_time_s": 1.0, "stp_U": U, "stp_tau_rec_ms": tau_rec_ms, "stp_tau_fac_ms": 0.0,
             "stp_weight_scaling": "rested", "stp_weight_factor": 1.0 / U}
    return run_dataset(z, time_ms, make_schedule("free", T_MAX, FREQUENCY_HZ), N_VISIBLE, attrs)


@pytest.fixture(scope="module")
def groups():
    rbm = fake_rbm()
    W, b_v, b_h = rbm_parameters(rbm)
    images = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.int8)  # mean pixel activity 0.25, as the lif runs
    settings = {"n_chains": 4, "n_betas": 2, "beta_min": 0.5, "hot_end": "uniform", "n_sweeps": 40, "burn_in_sweeps": 10,
                "adaptation_rounds": 0, "class_bias": False, "class_bias_floor": 0.0, "r_hat_max": 1.5}
    reference = reference_dataset(W, b_v, b_h, rbm_classifier(rbm), rbm["train_class_frequency"].values, images,
                                  np.array([0, 1]), settings, "visible", seed=0)

    def group(runs):
        return mixing_group(runs, rbm, FREQUENCY_HZ, T_MAX, TOLERANCE, "visible", reference=reference)

    free_lif = [group([run("lif", FREE_LIF_PERIOD_MS, k, s) for s in SEEDS]) for k in TRAINING_SEEDS]
    stp = [group([run("lif_stp", period_ms, k, s, U, tau_rec_ms, extra) for s in SEEDS])
           for (U, tau_rec_ms), (period_ms, extra) in POINTS.items() for k in TRAINING_SEEDS]
    return free_lif, stp


def test_point_labels():
    assert stp_point_label(0.01, 280.0) == "U0.01_taurec280"
    assert stp_point_label(1, 10) == "U1_taurec10"
    assert stp_point_label(0.123456, 1000.0) == "U0.1235_taurec1000"


def test_scan_ratios_against_the_free_lif_runs(groups):
    """Every run switches as constructed, so every resample gives the same ratio: the intervals collapse onto it."""
    free_lif, stp = groups
    scan = stp_scan(free_lif, stp[::-1], [1.0, 0.1], [100.0, 10.0], seed=3, n_resamples=200, confidence=0.9)
    assert scan["switch_ratio_vs_free_lif"].dims == ("U", "tau_rec_ms")
    np.testing.assert_array_equal(scan["U"], [0.1, 1.0])
    np.testing.assert_array_equal(scan["tau_rec_ms"], [10.0, 100.0])
    assert scan["U"].attrs["units"] == "1" and scan["tau_rec_ms"].attrs["units"] == "ms"
    free_switches = SWITCHES[FREE_LIF_PERIOD_MS]
    for (U, tau_rec_ms), (period_ms, extra) in POINTS.items():
        point = scan.sel(U=U, tau_rec_ms=tau_rec_ms)
        for suffix in ("", "_ci_low", "_ci_high"):
            assert float(point[f"switch_ratio_vs_free_lif{suffix}"]) == pytest.approx(
                SWITCHES[period_ms] / free_switches)
            assert float(point[f"ground_confidence_ratio_vs_free_lif{suffix}"]) == pytest.approx(1.0)
            assert float(point[f"ground_activity_ratio_vs_free_lif{suffix}"]) == pytest.approx(2.0 if extra else 1.0)
            assert float(point[f"switch_rate_hz{suffix}"]) == pytest.approx(SWITCHES[period_ms] / 10.0)
        assert float(point["ground_visible_activity_ratio"]) == pytest.approx(2.0 if extra else 1.0)
        assert int(point["n_runs"]) == len(TRAINING_SEEDS) * len(SEEDS)
        assert float(point["stp_weight_factor"]) == pytest.approx(1.0 / U)
    # U = 1, tau_rec = 10 ms runs exactly as the free lif runs here: the renewing check gives 1
    assert float(scan["switch_ratio_vs_free_lif"].sel(U=1.0, tau_rec_ms=10.0)) == pytest.approx(1.0)
    assert float(scan["free_lif_switch_rate_hz"]) == pytest.approx(free_switches / 10.0)
    assert float(scan["free_lif_ground_visible_activity_ratio"]) == pytest.approx(1.0)
    assert int(scan["free_lif_n_runs"]) == 6


def test_scan_is_described(groups):
    scan = stp_scan(*groups, [0.1, 1.0], [10.0, 100.0], seed=3, n_resamples=200, confidence=0.9)
    for name in list(scan.data_vars) + list(scan.coords):
        assert scan[name].attrs.get("units") and scan[name].attrs.get("long_name"), name
    for name in (*STP_SCAN_METRICS, *STP_SCAN_RATIOS):
        for suffix in ("", "_ci_low", "_ci_high"):
            assert scan[f"{name}{suffix}"].dims == ("U", "tau_rec_ms"), name
            assert np.all(np.isfinite(scan[f"{name}{suffix}"])), name
    assert scan["switch_rate_hz"].attrs["units"] == "Hz" and scan["ground_free_energy_gap"].attrs["units"] == "nat"
    assert scan["class_kl_reference_final"].attrs["units"] == "nat"
    assert scan["switch_ratio_vs_free_lif_ci_low"].attrs["confidence"] == 0.9
    assert scan.attrs["bootstrap_method"].startswith("two-stage cluster bootstrap")
    assert scan.attrs["bootstrap_distinct_resamples"] == 156  # 2 training seeds x 3 seeds
    assert scan.attrs["dataset"] == "digits" and scan.attrs["readout_frequency_hz"] == FREQUENCY_HZ
    assert scan.attrs["stp_tau_fac_ms"] == 0.0 and scan.attrs["stp_weight_scaling"] == "rested"


def test_every_grid_point_needs_runs_on_the_grid(groups):
    free_lif, stp = groups
    with pytest.raises(ValueError, match="no lif_stp runs at the grid points"):
        stp_scan(free_lif, stp, [0.1, 0.5, 1.0], [10.0, 100.0], seed=3, n_resamples=200, confidence=0.9)
    with pytest.raises(ValueError, match="not on the scan's grid"):
        stp_scan(free_lif, stp, [0.1, 1.0], [10.0], seed=3, n_resamples=200, confidence=0.9)
    with pytest.raises(ValueError, match="sampler lif_stp only"):
        stp_scan(free_lif, stp + free_lif, [0.1, 1.0], [10.0, 100.0], seed=3, n_resamples=200, confidence=0.9)

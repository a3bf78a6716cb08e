"""Tests of the tempering schedules, the temperature-map interpolation and the
expected Poisson counts."""

import numpy as np
import pytest
from scipy import integrate

from lif_tempering.tempering.schedules import (
    constant_temperature,
    dwell_half_width,
    dwell_temperature,
    expected_poisson_counts,
    ground_state_mask,
    ground_state_window_ids,
    interpolate_rates,
    schedule_phase,
    sinusoidal_temperature,
)

T_MAX = 2.5
FREQ_HZ = 2.0
PERIOD_MS = 1000.0 / FREQ_HZ

# a concave T(nu) like the calibration (T ~ sqrt(nu)); inhibition falls above T = 2
MAP_T = np.array([1.0, 1.5, 2.0, 3.0])
MAP_EXC_HZ = np.array([3000.0, 6750.0, 12000.0, 27000.0])
MAP_INH_HZ = np.array([3000.0, 5000.0, 6000.0, 4000.0])


def test_constant_temperature():
    t = np.linspace(0.0, 1000.0, 7).reshape(7, 1)
    np.testing.assert_array_equal(constant_temperature(t), np.ones((7, 1)))
    np.testing.assert_array_equal(constant_temperature(t, 2.0), np.full((7, 1), 2.0))


def test_sinusoid_hits_one_and_t_max_at_the_right_phases():
    k = np.arange(10)
    np.testing.assert_allclose(sinusoidal_temperature(k * PERIOD_MS, T_MAX, FREQ_HZ), 1.0, atol=1e-12)
    np.testing.assert_allclose(sinusoidal_temperature((k + 0.5) * PERIOD_MS, T_MAX, FREQ_HZ), T_MAX, rtol=1e-12)
    quarter = sinusoidal_temperature((k + 0.25) * PERIOD_MS, T_MAX, FREQ_HZ)
    np.testing.assert_allclose(quarter, (1.0 + T_MAX) / 2, rtol=1e-12)
    # phase0 = pi starts at the top
    assert sinusoidal_temperature(0.0, T_MAX, FREQ_HZ, phase0=np.pi) == pytest.approx(T_MAX)


def test_sinusoid_stays_in_range_and_matches_the_formula():
    t = np.linspace(0.0, 5 * PERIOD_MS, 100_001)
    temperature = sinusoidal_temperature(t, T_MAX, FREQ_HZ)
    assert temperature.min() >= 1.0 and temperature.max() <= T_MAX
    expected = 1.0 + (T_MAX - 1.0) * (1.0 - np.cos(2 * np.pi * FREQ_HZ * t / 1000.0)) / 2.0
    np.testing.assert_allclose(temperature, expected, rtol=1e-12)


def test_sinusoid_rejects_t_max_below_one():
    with pytest.raises(ValueError):
        sinusoidal_temperature(0.0, 0.5, FREQ_HZ)


def test_schedule_phase_is_wrapped_and_correct():
    t = np.array([0.0, PERIOD_MS / 4, PERIOD_MS / 2, 3 * PERIOD_MS / 4, PERIOD_MS, 7 * PERIOD_MS + PERIOD_MS / 2])
    np.testing.assert_allclose(
        schedule_phase(t, FREQ_HZ), [0.0, np.pi / 2, np.pi, 3 * np.pi / 2, 0.0, np.pi], atol=1e-12
    )
    np.testing.assert_allclose(schedule_phase(0.0, FREQ_HZ, phase0=np.pi / 3), np.pi / 3)
    dense = schedule_phase(np.linspace(0.0, 20 * PERIOD_MS, 200_001), FREQ_HZ, phase0=0.3)
    assert dense.min() >= 0.0 and dense.max() < 2 * np.pi
    # a time a rounding error before a T = 1 instant must not give phase 2 pi
    assert schedule_phase(-1e-300, FREQ_HZ) == 0.0


def test_ground_state_mask_by_temperature():
    np.testing.assert_array_equal(ground_state_mask([1.0, 1.05, 1.1, 1.2], 0.1), [True, True, True, False])
    with pytest.raises(ValueError):
        ground_state_mask([1.0], -0.1)


def test_phase_windows_agree_with_the_temperature_tolerance():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0.0, 10 * PERIOD_MS, 100_000))
    tolerance = 0.1
    half_width = np.arccos(1.0 - 2.0 * tolerance / (T_MAX - 1.0))
    ids = ground_state_window_ids(t, FREQ_HZ, half_width)
    mask = ground_state_mask(sinusoidal_temperature(t, T_MAX, FREQ_HZ), tolerance)
    np.testing.assert_array_equal(ids >= 0, mask)
    # window n collects the samples around the n-th T = 1 instant, n = 0 .. 10
    np.testing.assert_array_equal(np.unique(ids[ids >= 0]), np.arange(11))
    half_width_ms = half_width / (2 * np.pi * FREQ_HZ) * 1000.0
    assert np.all(np.abs(t[ids >= 0] - ids[ids >= 0] * PERIOD_MS) <= half_width_ms)


def test_window_ids_with_phase_offset():
    # phase0 = pi / 2: the first T = 1 instant is at 3/4 of a period, window id 1
    t = np.array([0.0, 0.75 * PERIOD_MS, 1.75 * PERIOD_MS, 1.25 * PERIOD_MS])
    np.testing.assert_array_equal(ground_state_window_ids(t, FREQ_HZ, 0.1, phase0=np.pi / 2), [-1, 1, 2, -1])
    with pytest.raises(ValueError):
        ground_state_window_ids(t, FREQ_HZ, np.pi)
    with pytest.raises(ValueError):
        ground_state_window_ids(-t - 1.0, FREQ_HZ, 0.1)


def test_interpolate_rates_reproduces_the_table():
    exc, inh = interpolate_rates(MAP_T, MAP_T, MAP_EXC_HZ, MAP_INH_HZ)
    np.testing.assert_allclose(exc, MAP_EXC_HZ, rtol=1e-14)
    np.testing.assert_allclose(inh, MAP_INH_HZ, rtol=1e-14)


def test_interpolate_rates_is_monotone_between_table_points():
    for lo, hi, (exc_lo, exc_hi), (inh_lo, inh_hi) in zip(
        MAP_T[:-1], MAP_T[1:], zip(MAP_EXC_HZ[:-1], MAP_EXC_HZ[1:]), zip(MAP_INH_HZ[:-1], MAP_INH_HZ[1:])
    ):
        temperature = np.linspace(lo, hi, 1001)
        exc, inh = interpolate_rates(temperature, MAP_T, MAP_EXC_HZ, MAP_INH_HZ)
        for rate, start, end in ((exc, exc_lo, exc_hi), (inh, inh_lo, inh_hi)):
            assert np.all(np.sign(np.diff(rate)) * np.sign(end - start) >= 0)
            assert np.all((rate >= min(start, end)) & (rate <= max(start, end)))


def test_interpolate_rates_keeps_the_shape_of_the_temperature():
    temperature = sinusoidal_temperature(np.linspace(0.0, 1000.0, 12).reshape(3, 4), 3.0, FREQ_HZ)
    exc, inh = interpolate_rates(temperature, MAP_T, MAP_EXC_HZ, MAP_INH_HZ)
    assert exc.shape == inh.shape == (3, 4)
    assert np.all(np.isfinite(exc)) and np.all(np.isfinite(inh))


def test_interpolate_rates_refuses_to_extrapolate():
    with pytest.raises(ValueError):
        interpolate_rates([0.9], MAP_T, MAP_EXC_HZ, MAP_INH_HZ)
    with pytest.raises(ValueError):
        interpolate_rates([3.1], MAP_T, MAP_EXC_HZ, MAP_INH_HZ)
    with pytest.raises(ValueError):
        interpolate_rates([1.0], MAP_T[::-1], MAP_EXC_HZ, MAP_INH_HZ)
    # rounding of the schedule just outside the range is clipped
    exc, _ = interpolate_rates([1.0 - 1e-12, 3.0 + 1e-12], MAP_T, MAP_EXC_HZ, MAP_INH_HZ)
    np.testing.assert_allclose(exc, MAP_EXC_HZ[[0, -1]], rtol=1e-12)


def sinusoidal_rate_hz(t_ms, base_hz=800.0, depth_hz=1200.0):
    return base_hz + depth_hz * (1.0 - np.cos(2 * np.pi * FREQ_HZ * t_ms / 1000.0)) / 2.0


def test_expected_counts_match_the_analytic_integral():
    edges_ms = np.linspace(0.0, 3 * PERIOD_MS, 38)  # bins that do not align with the period
    base, depth, omega = 800.0, 1200.0, 2 * np.pi * FREQ_HZ
    a, b = edges_ms[:-1] / 1000.0, edges_ms[1:] / 1000.0
    analytic = base * (b - a) + depth / 2 * ((b - a) - (np.sin(omega * b) - np.sin(omega * a)) / omega)
    np.testing.assert_allclose(expected_poisson_counts(sinusoidal_rate_hz, edges_ms), analytic, rtol=1e-12)
    # one bin spanning all three periods: the sinusoid integrates out exactly
    total = expected_poisson_counts(sinusoidal_rate_hz, [0.0, 3 * PERIOD_MS])
    np.testing.assert_allclose(total, [(base + depth / 2) * 1.5], rtol=1e-12)


def test_expected_counts_per_phase_bin_match_an_independent_integral():
    """Expected counts of the interpolated-map rate per phase bin against adaptive quadrature.

    The rate is only C1 (PCHIP in T, T(t) a sinusoid): scipy's adaptive ``quad`` integrates each bin
    with the times where T(t) crosses a map node as break points, to 1e-11 relative.
    """
    n_periods, n_phase_bins, t_max = 3, 8, 3.0

    def rate_exc_hz(t_ms):
        return interpolate_rates(sinusoidal_temperature(t_ms, t_max, FREQ_HZ), MAP_T, MAP_EXC_HZ, MAP_INH_HZ)[0]

    duration_ms = n_periods * PERIOD_MS
    edges_ms = np.linspace(0.0, duration_ms, n_periods * n_phase_bins + 1)
    expected = expected_poisson_counts(rate_exc_hz, edges_ms)
    # T(t) = 1 + (t_max - 1) (1 - cos(omega t)) / 2 crosses node T_k where cos(omega t) = 1 - 2 (T_k - 1) / (t_max - 1)
    phase = np.arccos(1 - 2 * (MAP_T[1:-1] - 1) / (t_max - 1))
    crossings_ms = np.sort(np.concatenate([(k + sign * phase / (2 * np.pi)) * PERIOD_MS
                                           for k in range(n_periods + 1) for sign in (-1, 1)]))
    independent = []
    for low, high in zip(edges_ms[:-1], edges_ms[1:]):
        inside = crossings_ms[(crossings_ms > low) & (crossings_ms < high)]
        value, _ = integrate.quad(lambda t: float(rate_exc_hz(np.array([t]))[0]), low, high,
                                  points=inside if inside.size else None, epsabs=0.0, epsrel=1e-11, limit=200)
        independent.append(value / 1000.0)
    np.testing.assert_allclose(expected, independent, rtol=1e-6)
    assert expected.max() / expected.min() > 4  # the modulation is strong: a wrong phase would not pass
    # per phase bin, summed over periods (the schedule repeats: every period contributes the same)
    per_phase = expected.reshape(n_periods, n_phase_bins)
    np.testing.assert_allclose(per_phase, np.broadcast_to(per_phase[0], per_phase.shape), rtol=1e-6)


def test_dwell_temperature_on_a_known_schedule():
    """d = 0.6 at 2 Hz: T = 1 on [0, 150] and [350, 500] ms, T = 1 + (T_max - 1) sin^2(pi s) with s = (t - 150) / 200 ms."""
    t_ms = np.arange(0.0, 3 * PERIOD_MS, 0.5)
    temperature = dwell_temperature(t_ms, T_MAX, FREQ_HZ, 0.6)
    t_in_period = np.mod(t_ms, PERIOD_MS)
    dwell = (t_in_period <= 150.0) | (t_in_period >= 350.0)
    assert dwell.sum() == 3 * 601 and np.all(temperature[dwell] == 1.0)
    s = (t_in_period[~dwell] - 150.0) / 200.0
    np.testing.assert_allclose(temperature[~dwell], 1.0 + (T_MAX - 1.0) * np.sin(np.pi * s) ** 2, rtol=1e-14)
    assert temperature[t_ms == 250.0] == T_MAX and temperature[t_ms == 200.0] == pytest.approx(1 + (T_MAX - 1) / 2)


def test_dwell_fraction_zero_is_the_sinusoid_bit_for_bit():
    t_ms = np.linspace(0.0, 2000.0, 4001)
    assert np.array_equal(dwell_temperature(t_ms, T_MAX, FREQ_HZ, 0.0, 0.3),
                          sinusoidal_temperature(t_ms, T_MAX, FREQ_HZ, 0.3))
    assert dwell_half_width(0.7, 0.0) == 0.7


def test_dwell_windows_agree_with_the_temperature_tolerance():
    tolerance, dwell_fraction = 0.1, 0.7
    t_ms = np.arange(0.0, 4 * PERIOD_MS, 0.1)
    mask = ground_state_mask(dwell_temperature(t_ms, T_MAX, FREQ_HZ, dwell_fraction), tolerance)
    half_width = dwell_half_width(np.arccos(1.0 - 2.0 * tolerance / (T_MAX - 1.0)), dwell_fraction)
    ids = ground_state_window_ids(t_ms, FREQ_HZ, half_width)
    assert np.array_equal(mask, ids >= 0)
    assert 0.7 < mask.mean() < 1.0  # the dwell plus the excursion's ends below 1 + tolerance
    with pytest.raises(ValueError, match="dwell_fraction"):
        dwell_temperature(t_ms, T_MAX, FREQ_HZ, 1.0)


def test_readout_delay_skips_the_start_of_each_window():
    """10 Hz, samples every ms, half-width 0.65 rad = 10.35 ms: delay 0.25 keeps offsets -5 .. 10 ms of each window."""
    t_ms = np.arange(0.0, 1000.0)
    offset_ms = t_ms - 100.0 * np.rint(t_ms / 100.0)
    nearest = np.rint(t_ms / 100.0).astype(np.int64)
    whole = ground_state_window_ids(t_ms, 10.0, 0.65)
    assert np.array_equal(whole, np.where(np.abs(offset_ms) <= 10, nearest, -1))
    assert np.array_equal(ground_state_window_ids(t_ms, 10.0, 0.65, readout_delay=0.0), whole)
    delayed = ground_state_window_ids(t_ms, 10.0, 0.65, readout_delay=0.25)
    assert np.array_equal(delayed, np.where((offset_ms >= -5) & (offset_ms <= 10), nearest, -1))
    late = ground_state_window_ids(t_ms, 10.0, 0.65, readout_delay=0.75)
    assert np.array_equal(late, np.where((offset_ms >= 6) & (offset_ms <= 10), nearest, -1))
    with pytest.raises(ValueError, match="readout_delay"):
        ground_state_window_ids(t_ms, 10.0, 0.65, readout_delay=1.0)

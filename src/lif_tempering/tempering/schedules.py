"""Temperature schedules for simulated tempering and the noise rates that realise them.

The tempered network is driven by background Poisson noise whose rate oscillates so
that the effective temperature moves sinusoidally between the sampling temperature
``T = 1`` and ``T_max``::

    phi(t) = 2 pi f t + phi_0          (schedule phase, rad; t in s)
    T(t)   = 1 + (T_max - 1) (1 - cos phi(t)) / 2

With ``phi_0 = 0`` the schedule starts at ``T = 1``, reaches ``T_max`` at half a
period and returns to ``T = 1`` at every full period. Samples taken near the
``T = 1`` instants are the "ground-state" samples of the readout.

The *dwell* schedule (:func:`dwell_temperature`) holds ``T = 1`` for a fraction
``d`` of each period, centred on phase 0, and makes one raised-cosine excursion
to ``T_max`` (at phase pi) in the rest; ``d = 0`` is the sinusoid. A *readout
delay* skips the first part of each ground-state window
(:func:`ground_state_window_ids`), so that only samples taken after the network
has had time to relax from the excursion are read.

A temperature map (a calibration table: target ``T`` -> excitatory and inhibitory
noise rates) turns the schedule into rates at every instant, see
:func:`interpolate_rates`; :func:`expected_poisson_counts` integrates such a rate over
time bins so that realised spike counts can be checked against it.

Conventions: times in ms (the simulator's unit), frequencies and rates in Hz,
phases in rad. All functions are vectorised over ``t_ms``/``temperature``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import PchipInterpolator

TWO_PI = 2.0 * np.pi
MS_PER_S = 1000.0


def constant_temperature(t_ms: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """Temperature of an untempered ("free") run: ``temperature`` at every time.

    Parameters
    ----------
    t_ms : array_like, shape (...)
        Times in ms.
    temperature : float
        The constant temperature (dimensionless, default 1: the target distribution).

    Returns
    -------
    ndarray, shape of ``t_ms``, float
    """
    return np.full(np.shape(t_ms), float(temperature))


def schedule_phase(t_ms: ArrayLike, frequency_hz: float, phase0: float = 0.0) -> np.ndarray:
    """Phase ``phi = 2 pi f t + phase0`` of the tempering oscillation, wrapped to [0, 2 pi).

    Parameters
    ----------
    t_ms : array_like, shape (...)
        Times in ms.
    frequency_hz : float
        Oscillation frequency ``f`` in Hz.
    phase0 : float
        Phase at ``t = 0`` in rad (0: the schedule starts at ``T = 1``).

    Returns
    -------
    ndarray, shape of ``t_ms``, float, rad, in [0, 2 pi)
    """
    cycles = frequency_hz * np.asarray(t_ms, dtype=float) / MS_PER_S + phase0 / TWO_PI
    fraction = cycles - np.floor(cycles)
    # a tiny negative ``cycles`` rounds to fraction == 1.0; that instant is phase 0
    fraction = np.where(fraction >= 1.0, 0.0, fraction)
    return TWO_PI * fraction


def sinusoidal_temperature(
    t_ms: ArrayLike, t_max: float, frequency_hz: float, phase0: float = 0.0
) -> np.ndarray:
    """Sinusoidal tempering schedule ``T(t) = 1 + (T_max - 1) (1 - cos phi(t)) / 2``.

    ``T = 1`` at phase 0 (``t = 0`` for ``phase0 = 0``) and ``T = T_max`` at phase pi.

    Parameters
    ----------
    t_ms : array_like, shape (...)
        Times in ms.
    t_max : float
        Highest temperature ``T_max >= 1`` (dimensionless).
    frequency_hz : float
        Oscillation frequency in Hz.
    phase0 : float
        Phase at ``t = 0`` in rad.

    Returns
    -------
    ndarray, shape of ``t_ms``, float, values in [1, T_max]
    """
    if t_max < 1.0:
        raise ValueError(f"t_max must be >= 1, got {t_max}")
    phase = schedule_phase(t_ms, frequency_hz, phase0)
    return 1.0 + (t_max - 1.0) * 0.5 * (1.0 - np.cos(phase))


def dwell_temperature(
    t_ms: ArrayLike, t_max: float, frequency_hz: float, dwell_fraction: float, phase0: float = 0.0
) -> np.ndarray:
    """Dwell schedule: ``T = 1`` for a fraction ``dwell_fraction`` of each period, a raised-cosine excursion in the rest.

    With ``u = phi / 2 pi`` in [0, 1) and ``d = dwell_fraction``, ``T = 1`` while
    ``u <= d / 2`` or ``u >= 1 - d / 2`` (the dwell, centred on the ``T = 1``
    instant at phase 0) and in between
    ``T = 1 + (T_max - 1) (1 - cos 2 pi s) / 2`` with ``s = (u - d / 2) / (1 - d)``:
    the excursion peaks at ``T_max`` at phase pi and has continuous slope at its ends.
    ``dwell_fraction = 0`` gives :func:`sinusoidal_temperature`.

    Parameters
    ----------
    t_ms : array_like, shape (...)
        Times in ms.
    t_max : float
        Highest temperature ``T_max >= 1`` (dimensionless).
    frequency_hz : float
        Oscillation frequency in Hz.
    dwell_fraction : float
        Fraction of each period at ``T = 1``, in [0, 1).
    phase0 : float
        Phase at ``t = 0`` in rad.

    Returns
    -------
    ndarray, shape of ``t_ms``, float, values in [1, T_max]
    """
    if t_max < 1.0:
        raise ValueError(f"t_max must be >= 1, got {t_max}")
    if not 0.0 <= dwell_fraction < 1.0:
        raise ValueError(f"dwell_fraction must be in [0, 1), got {dwell_fraction}")
    fraction = schedule_phase(t_ms, frequency_hz, phase0) / TWO_PI
    excursion = np.clip((fraction - 0.5 * dwell_fraction) / (1.0 - dwell_fraction), 0.0, 1.0)
    return 1.0 + (t_max - 1.0) * 0.5 * (1.0 - np.cos(TWO_PI * excursion))


def dwell_half_width(half_width_rad: float, dwell_fraction: float) -> float:
    """Phase half-width (rad) of the dwell schedule's windows with ``T <= 1 + tolerance``.

    ``half_width_rad`` is the sinusoid's half-width for the same ``T_max`` and
    tolerance (``arccos(1 - 2 tolerance / (T_max - 1))``); the dwell schedule adds its
    dwell and stretches the excursion by ``1 - d``: ``pi d + (1 - d) half_width_rad``
    (``half_width_rad`` itself for ``d = 0``).
    """
    if not 0.0 <= half_width_rad < np.pi:
        raise ValueError(f"half_width_rad must be in [0, pi), got {half_width_rad}")
    if not 0.0 <= dwell_fraction < 1.0:
        raise ValueError(f"dwell_fraction must be in [0, 1), got {dwell_fraction}")
    return float(np.pi * dwell_fraction + (1.0 - dwell_fraction) * half_width_rad)


def ground_state_half_width(t_max: float, tolerance: float) -> float:
    """Phase half-width (rad) of the windows where the sinusoidal schedule has ``T <= 1 + tolerance``.

    ``arccos(1 - 2 tolerance / (T_max - 1))``; needs ``0 < tolerance < T_max - 1``
    (otherwise every instant qualifies and there are no windows).
    """
    if not 0 < tolerance < t_max - 1:
        raise ValueError(f"need 0 < tolerance < t_max - 1, got tolerance {tolerance}, t_max {t_max}")
    return float(np.arccos(1.0 - 2.0 * tolerance / (t_max - 1.0)))


def window_centres_s(windows, frequency_hz: float, phase0: float = 0.0) -> np.ndarray:
    """Time (s) of the ``T = 1`` instant at the centre of each window id (window n: ``f t + phase0 / 2 pi = n``)."""
    return (np.asarray(windows, dtype=np.float64) - phase0 / TWO_PI) / frequency_hz


def ground_state_mask(temperature: ArrayLike, tolerance: float) -> np.ndarray:
    """Samples taken at ``T <= 1 + tolerance`` ("ground-state" samples).

    For the sinusoidal schedule this is the phase window
    ``|phi| <= arccos(1 - 2 tolerance / (T_max - 1))`` around each ``T = 1`` instant;
    use :func:`ground_state_window_ids` with that half-width to read a free run at
    the same instants as a tempered one.

    Parameters
    ----------
    temperature : array_like, shape (...)
        Instantaneous temperature of each sample.
    tolerance : float
        Allowed excess over ``T = 1`` (>= 0).

    Returns
    -------
    ndarray of bool, shape of ``temperature``
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    return np.asarray(temperature, dtype=float) <= 1.0 + tolerance


def ground_state_window_ids(
    t_ms: ArrayLike, frequency_hz: float, half_width_rad: float, phase0: float = 0.0, readout_delay: float = 0.0
) -> np.ndarray:
    """Index of the ground-state window each sample falls in, -1 outside all windows.

    Window ``n`` is the set of times whose phase lies within ``half_width_rad`` of the
    ``n``-th ``T = 1`` instant, i.e. ``|2 pi (f t + phase0 / 2 pi - n)| <= half_width_rad``.
    A ``readout_delay`` ``r`` skips the first fraction ``r`` of each window: only
    phase offsets ``>= -half_width_rad + 2 r half_width_rad`` are kept (``r = 0``:
    the whole window). The ids depend on time only, so a free run can be read at
    exactly the same instants and windows as a tempered run with the same frequency.

    Parameters
    ----------
    t_ms : array_like, shape (...)
        Sample times in ms, >= 0.
    frequency_hz : float
        Oscillation frequency in Hz.
    half_width_rad : float
        Half-width of each window in phase, in [0, pi).
    phase0 : float
        Phase at ``t = 0`` in rad, in [0, 2 pi).
    readout_delay : float
        Fraction of each window skipped at its start, in [0, 1).

    Returns
    -------
    ndarray of int64, shape of ``t_ms``: window index n >= 0, or -1 outside windows.
    """
    t_ms = np.asarray(t_ms, dtype=float)
    if not 0.0 <= half_width_rad < np.pi:
        raise ValueError(f"half_width_rad must be in [0, pi), got {half_width_rad}")
    if not 0.0 <= phase0 < TWO_PI:
        raise ValueError(f"phase0 must be in [0, 2 pi), got {phase0}")
    if not 0.0 <= readout_delay < 1.0:
        raise ValueError(f"readout_delay must be in [0, 1), got {readout_delay}")
    if np.any(t_ms < 0):
        raise ValueError("t_ms must be >= 0")
    cycles = frequency_hz * t_ms / MS_PER_S + phase0 / TWO_PI
    nearest = np.rint(cycles)
    inside = TWO_PI * np.abs(cycles - nearest) <= half_width_rad
    if readout_delay > 0.0:
        inside &= TWO_PI * (cycles - nearest) >= half_width_rad * (2.0 * readout_delay - 1.0)
    return np.where(inside, nearest, -1).astype(np.int64)


def interpolate_rates(
    temperature: ArrayLike,
    map_temperature: ArrayLike,
    map_rate_exc_hz: ArrayLike,
    map_rate_inh_hz: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Excitatory and inhibitory noise rates that realise ``temperature``, from a map.

    The temperature map is a calibration table of target temperatures and the noise
    rates that produce them. Between table points the rates are interpolated with
    scipy's :class:`~scipy.interpolate.PchipInterpolator` (piecewise cubic Hermite,
    Fritsch-Carlson slopes), because it

    - passes exactly through every table point,
    - is shape-preserving: on each interval the rate stays between the two table
      values and is monotone, so no overshoot creates rates the calibration never saw
      (each rate may rise or fall with ``T`` independently of the other),
    - is continuously differentiable, so the rate modulation in time has no kinks when
      ``T(t)`` crosses a table point, and it follows the concave ``T ~ sqrt(nu)``
      relation better than piecewise-linear ``np.interp``.

    No extrapolation: temperatures outside the table range raise ``ValueError``,
    except excursions of at most 1e-9 (relative) that are rounding of the schedule
    and are clipped to the range.

    Parameters
    ----------
    temperature : array_like, shape (...)
        Temperatures at which rates are needed (e.g. the schedule at each time step).
    map_temperature : array_like, shape (k,), k >= 2
        Strictly increasing table temperatures.
    map_rate_exc_hz, map_rate_inh_hz : array_like, shape (k,)
        Excitatory and inhibitory noise rates in Hz at the table temperatures.

    Returns
    -------
    rate_exc_hz, rate_inh_hz : ndarray, shape of ``temperature``, Hz
    """
    map_temperature = np.asarray(map_temperature, dtype=float)
    rates = np.stack([np.asarray(map_rate_exc_hz, dtype=float), np.asarray(map_rate_inh_hz, dtype=float)])
    if map_temperature.ndim != 1 or map_temperature.size < 2:
        raise ValueError("map_temperature must be 1-D with at least two entries")
    if rates.shape[1:] != map_temperature.shape:
        raise ValueError("rate tables must have the shape of map_temperature")
    if np.any(np.diff(map_temperature) <= 0):
        raise ValueError("map_temperature must be strictly increasing")
    temperature = np.asarray(temperature, dtype=float)
    low, high = map_temperature[0], map_temperature[-1]
    slack = 1e-9 * max(abs(low), abs(high))
    if np.any(temperature < low - slack) or np.any(temperature > high + slack):
        raise ValueError(
            f"temperature outside the map range [{low}, {high}]: "
            f"[{np.min(temperature)}, {np.max(temperature)}]"
        )
    interpolant = PchipInterpolator(map_temperature, rates, axis=1, extrapolate=False)
    rate_exc_hz, rate_inh_hz = interpolant(np.clip(temperature, low, high))
    return rate_exc_hz, rate_inh_hz


def expected_poisson_counts(
    rate_hz_of_t: Callable[[np.ndarray], np.ndarray], t_edges_ms: ArrayLike, nodes_per_bin: int = 32
) -> np.ndarray:
    """Expected number of events of an inhomogeneous Poisson process in each time bin.

    ``Lambda_i = integral over [t_i, t_{i+1}] of rate(t) dt`` (t in s), computed by
    Gauss-Legendre quadrature with ``nodes_per_bin`` nodes per bin: exact for rates
    polynomial of degree < 2 * nodes_per_bin within a bin, and for a sinusoidal rate
    the error falls off exponentially once ``nodes_per_bin`` exceeds a few times the
    number of periods per bin. Realised counts of one Poisson source in bin ``i``
    have mean and variance ``Lambda_i``.

    Parameters
    ----------
    rate_hz_of_t : callable
        Maps an array of times in ms to the rate in Hz at those times (same shape).
    t_edges_ms : array_like, shape (n_bins + 1,)
        Strictly increasing bin edges in ms.
    nodes_per_bin : int
        Quadrature nodes per bin.

    Returns
    -------
    ndarray, shape (n_bins,), expected counts (dimensionless)
    """
    t_edges_ms = np.asarray(t_edges_ms, dtype=float)
    if t_edges_ms.ndim != 1 or t_edges_ms.size < 2 or np.any(np.diff(t_edges_ms) <= 0):
        raise ValueError("t_edges_ms must be 1-D, strictly increasing, with at least two edges")
    nodes, weights = np.polynomial.legendre.leggauss(nodes_per_bin)
    start, width = t_edges_ms[:-1, None], np.diff(t_edges_ms)[:, None]
    t_nodes_ms = start + 0.5 * width * (nodes + 1.0)
    rate_hz = np.asarray(rate_hz_of_t(t_nodes_ms), dtype=float)
    return 0.5 * (width[:, 0] / MS_PER_S) * (rate_hz @ weights)

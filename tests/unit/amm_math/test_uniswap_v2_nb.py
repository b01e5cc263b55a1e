"""The V2 float kernels against the exact amm_math.uniswap_v2 functions.

Error bound. With u = 2**-53 (float64 unit roundoff), get_amount_out_f rounds its three
inputs (u each, and the output's sensitivity to each is at most 1) and does five operations
(1e6 - fee is exact), each adding at most u to a quotient of two positive sums: about 8u in
all. We assert 16u of the exact value. get_amount_in_f divides by reserve_out - amount_out,
so the input roundings are amplified by k = reserve_out / (reserve_out - amount_out): about
(6 + 2k)u, asserted as (16 + 4k)u. On top, the exact functions floor (out) or floor and add
one (in), so the kernels may differ by one more wei.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numba
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba.core.runtime import _nrt_python, rtsys

from amm_math.uniswap_v2 import get_amount_in, get_amount_out
from amm_math.uniswap_v2_nb import get_amount_in_f, get_amount_out_f, get_amount_out_many

U = 2.0**-53
FEES_PIPS = st.sampled_from([0, 100, 500, 2500, 3000, 10_000, 30_000])
RESERVES = st.integers(min_value=10**3, max_value=10**30)
AMOUNTS = st.integers(min_value=1, max_value=10**30)


def _deviation(approx: float, exact: int) -> Fraction:
    """Return |approx - exact| in wei, computed exactly (no rounding of `exact` to a float)."""
    return abs(Fraction(approx) - exact)


@settings(max_examples=2000, deadline=None)
@given(amount_in=AMOUNTS, reserve_in=RESERVES, reserve_out=RESERVES, fee_pips=FEES_PIPS)
def test_amount_out_within_16_ulps_and_one_wei(
    amount_in: int, reserve_in: int, reserve_out: int, fee_pips: int
) -> None:
    exact = get_amount_out(amount_in, reserve_in, reserve_out, fee_pips)
    approx = get_amount_out_f(float(amount_in), float(reserve_in), float(reserve_out), fee_pips)
    assert _deviation(approx, exact) <= 1.0 + 16 * U * (exact + 1)


@settings(max_examples=2000, deadline=None)
@given(
    reserve_in=RESERVES,
    reserve_out=RESERVES,
    fraction=st.floats(min_value=1e-30, max_value=1.0, exclude_max=True),
    fee_pips=FEES_PIPS,
)
def test_amount_in_within_bound_and_one_wei(
    reserve_in: int, reserve_out: int, fraction: float, fee_pips: int
) -> None:
    amount_out = min(max(1, int(reserve_out * fraction)), reserve_out - 1)
    exact = get_amount_in(amount_out, reserve_in, reserve_out, fee_pips)
    approx = get_amount_in_f(float(amount_out), float(reserve_in), float(reserve_out), fee_pips)
    amplification = reserve_out / (reserve_out - amount_out)
    assert _deviation(approx, exact) <= 1.0 + (16 + 4 * amplification) * U * exact


def test_degenerate_inputs_return_values_instead_of_reverting() -> None:
    assert get_amount_out_f(0.0, 1e18, 1e18, 3000) == 0.0
    assert get_amount_out_f(1e18, 0.0, 1e18, 3000) == 0.0
    assert get_amount_in_f(0.0, 1e18, 1e18, 3000) == 0.0
    assert get_amount_in_f(1e18, 1e18, 1e18, 3000) == np.inf
    assert get_amount_in_f(2e18, 1e18, 1e18, 3000) == np.inf


@numba.njit(nogil=True)
def _repeat_many(
    times: int,
    amounts_in: np.ndarray,
    reserve_in: np.ndarray,
    reserve_out: np.ndarray,
    fee_pips: np.ndarray,
    out: np.ndarray,
) -> None:
    for _ in range(times):
        get_amount_out_many(amounts_in, reserve_in, reserve_out, fee_pips, out)


def _allocations(call: Callable[[], None]) -> int:
    """Return how many NRT allocations `call` makes (argument boxing included)."""
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats()
        call()
        after = rtsys.get_allocation_stats()
    finally:
        if not was_enabled:
            _nrt_python.memsys_disable_stats()
    return after.alloc - before.alloc


def test_vectorized_kernel_matches_scalar_kernel_and_allocates_nothing() -> None:
    rng = np.random.default_rng(7)
    n = 4096
    arrays = (
        10.0 ** rng.uniform(3, 30, n),
        10.0 ** rng.uniform(3, 30, n),
        10.0 ** rng.uniform(3, 30, n),
        rng.choice(np.array([100, 500, 3000, 10_000], dtype=np.int64), n),
        np.full(n, np.nan),
    )
    _repeat_many(1, *arrays)  # compile
    # the call boundary wraps each array once; the kernel itself must add nothing per call
    assert _allocations(lambda: _repeat_many(1, *arrays)) == _allocations(
        lambda: _repeat_many(100, *arrays)
    )

    amounts_in, reserve_in, reserve_out, fee_pips, out = arrays
    expected = [
        get_amount_out_f(a, r_in, r_out, int(fee))
        for a, r_in, r_out, fee in zip(amounts_in, reserve_in, reserve_out, fee_pips, strict=True)
    ]
    np.testing.assert_array_equal(out, np.array(expected))


@numba.njit(nogil=True)
def _round_trip(amount_in: float, reserve_in: float, reserve_out: float, fee_pips: int) -> float:
    """Invert a sale (returns amount_in): proves the kernels are callable in nopython mode."""
    amount_out = get_amount_out_f(amount_in, reserve_in, reserve_out, fee_pips)
    return get_amount_in_f(amount_out, reserve_in, reserve_out, fee_pips)


def test_kernels_run_in_nopython_mode_and_are_cached() -> None:
    assert abs(_round_trip(1e18, 5e21, 7e24, 3000) / 1e18 - 1.0) < 1e-14
    out = np.empty(1)
    get_amount_out_many(np.array([1e18]), np.array([5e21]), np.array([7e24]), np.array([3000]), out)
    for kernel in (get_amount_out_f, get_amount_in_f, get_amount_out_many):
        stats = kernel.stats
        assert stats.cache_path is not None
        assert sum(stats.cache_hits.values()) + sum(stats.cache_misses.values()) >= 1

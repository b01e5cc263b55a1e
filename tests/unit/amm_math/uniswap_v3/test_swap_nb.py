"""The V3 float kernels against the exact compute_swap_step and pool.swap.

Error bounds, with u = 2**-53 the float64 unit roundoff:

- In one range (swap_in_range_f) each closed form is a handful of operations on inputs whose
  relative sensitivity is at most 1, except the exact-output formulas, where it is at most 10
  for the outputs drawn here (at most 90% of what the range holds): about 30u in all. We
  assert 1e-13 (about 900u).
- Across ticks a full step's amounts are L * (s - s_tick) / ... with s and s_tick rounded to
  u relative, so a step carries an absolute error of about 4u * L * s in token1 (4u * L / s in
  token0); relative to the step that is s / (s - s_tick) <= 1 / (1 - 1.0001**-0.5) ~ 2e4 times
  ~10u ~ 2e-11 for adjacent ticks at spacing 1. The liquidity of a range is a float sum of
  nets: its relative error is about u times the largest liquidity met over the range's
  liquidity, at most ~1e4 * 8 positions here, ~1e-11. An exact-output swap converts its output
  errors into input at the final marginal price, which amplifies them by at most the price
  ratio the swap crosses (~11 for the pools drawn here). We assert 1e-9 on amounts: a margin
  of about 20 over the worst sum, and of 1e4 over the ~3e-14 seen on random pools.
- The exact code rounds per step (amount in and fee up, output down, next sqrt price by one
  unit of 2**-96): each test adds an absolute allowance of a few wei per step, converted
  through the marginal price where the rounding is on the other token, plus what one unit of
  2**-96 (the contract) and 4u relative (the floats) in a step's end prices move its amounts;
  the latter also covers a first step that starts arbitrarily close to a tick.
- sqrt price after: 1e-12 relative, plus the sensitivity of the final price to the remaining
  input (the remaining is a difference of step amounts, exact to u * amount per step, and
  the contract's rounding moves it by a few wei per step), plus 4 units of 2**-96.
- ticks_crossed and liquidity after are equal (liquidity to 4u per crossing of the sum of
  the positions' liquidity). Where the swap ends on a tick's price the contract crosses when
  the remaining amount covers the step to the wei, and the floats decide at u; and a range
  without liquidity lets a remainder of a wei carry the price to the next tick. There the
  floats must end between the exact swaps of the amount -/+ the per-step rounding allowance
  (price and ticks crossed), which is what that rounding can change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from amm_math.uniswap_v3.pool import mint, swap
from amm_math.uniswap_v3.pool_state import SwapResult, V3PoolState
from amm_math.uniswap_v3.swap_math import compute_swap_step
from amm_math.uniswap_v3.swap_nb import (
    first_tick_index,
    swap_exact_in_f,
    swap_exact_out_f,
    swap_in_range_f,
)
from amm_math.uniswap_v3.tick_math import (
    MAX_SQRT_RATIO,
    MIN_SQRT_RATIO,
    get_sqrt_ratio_at_tick,
)
from amm_math.uniswap_v3.ticks_csr import CsrTicks, build_csr, csr_of

U = 2.0**-53
Q96 = 2**96
ULP_Q96 = 2.0**-96  # one unit of sqrt_price_x96 in sqrt price units
REL_IN_RANGE = 1e-13
REL_ACROSS_TICKS = 1e-9
REL_SQRT_PRICE = 1e-12
FEES_PIPS = st.sampled_from([0, 100, 500, 3000, 10_000])
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sqrt_rounding_wei(liquidity: float, sqrt_price_low: float, token0: bool) -> float:
    """Return what one unit of 2**-96 in the sqrt price moves an amount of token0 or token1."""
    return liquidity * ULP_Q96 * (1.0 / sqrt_price_low**2 if token0 else 1.0)


# ---------------------------------------------------------------------------------------------
# one range


@st.composite
def _range_swaps(draw: st.DrawFn, exact_out: bool) -> tuple[int, int, int, bool, int]:
    """Draw (sqrt_price_x96, liquidity, amount_remaining, zero_for_one, fee_pips) in one range."""
    sqrt_price = 10.0 ** draw(st.floats(min_value=-9, max_value=9))
    sqrt_price_x96 = int(sqrt_price * Q96) + draw(st.integers(0, 2**30))
    liquidity = draw(st.integers(min_value=10**6, max_value=10**30))
    zero_for_one = draw(st.booleans())
    if exact_out:
        # at most 90% of what the range holds of the output token
        fraction = 10.0 ** draw(st.floats(min_value=-12, max_value=np.log10(0.9)))
        scale = liquidity * sqrt_price if zero_for_one else liquidity / sqrt_price
        amount = -max(1, int(fraction * scale))
        assume(-amount + 2 <= 0.9 * scale)  # the contract floors what the range holds
    else:
        fraction = 10.0 ** draw(st.floats(min_value=-12, max_value=2))
        scale = liquidity / sqrt_price if zero_for_one else liquidity * sqrt_price
        amount = max(1, int(fraction * scale))
    return sqrt_price_x96, liquidity, amount, zero_for_one, draw(FEES_PIPS)


def _range_step(
    sqrt_price_x96: int, liquidity: int, amount: int, zero_for_one: bool, fee_pips: int
) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """Return the exact (in with fee, out, sqrt_next_x96) and the float (in, out, sqrt_next)."""
    target = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    sqrt_next_x96, amount_in, amount_out, fee = compute_swap_step(
        sqrt_price_x96, target, liquidity, amount, fee_pips
    )
    assert sqrt_next_x96 != target  # the draw stays inside the range
    approx = swap_in_range_f(
        sqrt_price_x96 / Q96, float(liquidity), float(amount), zero_for_one, fee_pips
    )
    return (amount_in + fee, amount_out, sqrt_next_x96), approx


@SETTINGS
@given(case=_range_swaps(exact_out=False))
def test_in_range_exact_input_matches_compute_swap_step(
    case: tuple[int, int, int, bool, int],
) -> None:
    sqrt_price_x96, liquidity, amount, zero_for_one, _ = case
    (exact_in, exact_out, exact_next_x96), (f_in, f_out, f_next) = _range_step(*case)
    assert exact_in == amount
    assert f_in == float(amount)

    sqrt_start, sqrt_next = sqrt_price_x96 / Q96, exact_next_x96 / Q96
    marginal_out_per_in = sqrt_start**2 if zero_for_one else 1.0 / sqrt_start**2
    rounding = _sqrt_rounding_wei(liquidity, min(sqrt_start, sqrt_next), not zero_for_one)
    allowance = 2.0 + 2.0 * marginal_out_per_in + 2.0 * rounding
    assert abs(f_out - exact_out) <= REL_IN_RANGE * exact_out + allowance
    # the contract floors the input less fee: up to 2 wei of input move the price this much
    sensitivity = max(sqrt_start, sqrt_next) ** 2 / liquidity if zero_for_one else 1 / liquidity
    sqrt_allowance = 2.0 * sensitivity + 2 * ULP_Q96
    assert abs(f_next - sqrt_next) <= REL_IN_RANGE * sqrt_next + sqrt_allowance


@SETTINGS
@given(case=_range_swaps(exact_out=True))
def test_in_range_exact_output_matches_compute_swap_step(
    case: tuple[int, int, int, bool, int],
) -> None:
    sqrt_price_x96, liquidity, amount, zero_for_one, _ = case
    (exact_in, exact_out, exact_next_x96), (f_in, f_out, f_next) = _range_step(*case)
    assert exact_out == -amount
    assert f_out == float(-amount)

    sqrt_start, sqrt_next = sqrt_price_x96 / Q96, exact_next_x96 / Q96
    marginal_in_per_out = 1.0 / sqrt_next**2 if zero_for_one else sqrt_next**2
    rounding = _sqrt_rounding_wei(liquidity, min(sqrt_start, sqrt_next), zero_for_one)
    allowance = 3.0 + 2.0 * marginal_in_per_out + 2.0 * rounding
    assert abs(f_in - exact_in) <= REL_IN_RANGE * exact_in + allowance
    assert abs(f_next - sqrt_next) <= REL_IN_RANGE * sqrt_next + 2 * ULP_Q96


def test_in_range_degenerate_inputs() -> None:
    assert swap_in_range_f(1.0, 0.0, 1e18, True, 3000) == (0.0, 0.0, 1.0)
    assert swap_in_range_f(1.0, 0.0, -1e18, True, 3000) == (np.inf, 0.0, 1.0)
    assert swap_in_range_f(1.0, 1e18, 0.0, False, 3000) == (0.0, 0.0, 1.0)
    # more output than the range holds of token1 (L * s) or token0 (L / s)
    assert swap_in_range_f(2.0, 1e18, -3e18, True, 3000)[0] == np.inf
    assert swap_in_range_f(2.0, 1e18, -0.6e18, False, 3000)[0] == np.inf


# ---------------------------------------------------------------------------------------------
# across ticks


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pool:
    state: V3PoolState
    liquidity_total: int  # sum of the positions' liquidity: bounds any range's liquidity


@st.composite
def _pools(draw: st.DrawFn) -> _Pool:
    """Draw a pool built by minting 1-8 positions around a random price.

    Within a pool the positions' liquidity spans at most a factor 1e4 (see the bounds above).
    """
    tick_spacing = draw(st.sampled_from([1, 10, 60, 200]))
    tick = draw(st.integers(min_value=-300_000, max_value=300_000))
    sqrt_low, sqrt_high = get_sqrt_ratio_at_tick(tick), get_sqrt_ratio_at_tick(tick + 1)
    state = V3PoolState(
        sqrt_price_x96=draw(st.integers(sqrt_low, sqrt_high - 1)),
        tick=tick,
        liquidity=0,
        fee_pips=draw(FEES_PIPS),
        tick_spacing=tick_spacing,
        ticks={},
    )
    base_liquidity = 10.0 ** draw(st.floats(min_value=6, max_value=26))
    aligned = tick // tick_spacing * tick_spacing
    total = 0
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        lower = aligned + tick_spacing * draw(st.integers(min_value=-60, max_value=59))
        upper = lower + tick_spacing * draw(st.integers(min_value=1, max_value=60))
        liquidity = int(base_liquidity * 10.0 ** draw(st.floats(min_value=0, max_value=4)))
        state, _, _ = mint(state, lower, upper, liquidity)
        total += liquidity
    return _Pool(state=state, liquidity_total=total)


def _depth(pool: _Pool, zero_for_one: bool, token_in: bool) -> float:
    """Return roughly how much of the input (or output) token the ticks hold in one direction."""
    state = pool.state
    sqrt_price = state.sqrt_price_x96 / Q96
    beyond = [
        t for t in state.sorted_ticks if (t <= state.tick if zero_for_one else t > state.tick)
    ]
    if not beyond:
        far = sqrt_price * (0.5 if zero_for_one else 2.0)
    else:
        far = get_sqrt_ratio_at_tick(beyond[0] if zero_for_one else beyond[-1]) / Q96
    low, high = min(far, sqrt_price), max(far, sqrt_price)
    token0 = zero_for_one == token_in
    if token0:
        return pool.liquidity_total * (1.0 / low - 1.0 / high)
    return pool.liquidity_total * (high - low)


def _run(kernel: object, csr: CsrTicks, zero_for_one: bool, amount: float) -> tuple:
    start, end = csr.bounds(0)
    return kernel(
        csr.sqrt_price[0],
        csr.liquidity[0],
        csr.tick[0],
        csr.fee_pips[0],
        csr.ticks,
        csr.liquidity_net,
        csr.sqrt_price_at_tick,
        start,
        end,
        zero_for_one,
        amount,
    )


def _check_end(
    pool: _Pool,
    zero_for_one: bool,
    amount_specified: int,
    exact: SwapResult,
    f_end: tuple[float, float, int],
    sqrt_allowance: float,
    slack: int,
) -> None:
    """Compare where the swap ends: sqrt price, ticks crossed and liquidity after.

    Where the floats end elsewhere (a swap ending on a tick's price, a rounding remainder
    carried through a range without liquidity) they must end within the exact swaps of
    amount_specified -/+ `slack` raw units, the amount the contract's rounding can move.
    """
    f_sqrt, f_liquidity, f_crossed = f_end
    exact_sqrt = exact.sqrt_price_x96 / Q96
    if (
        f_crossed == exact.ticks_crossed
        and abs(f_sqrt - exact_sqrt) <= REL_SQRT_PRICE * exact_sqrt + sqrt_allowance
    ):
        liquidity_allowance = 4 * U * (exact.ticks_crossed + 1) * pool.liquidity_total
        assert abs(f_liquidity - exact.liquidity) <= liquidity_allowance
        return
    sign = 1 if amount_specified > 0 else -1
    high = swap(pool.state, zero_for_one, sign * (abs(amount_specified) + slack))
    if abs(amount_specified) > slack:
        low = swap(pool.state, zero_for_one, sign * (abs(amount_specified) - slack))
        low_sqrt, low_crossed = low.sqrt_price_x96 / Q96, low.ticks_crossed
    else:
        low_sqrt, low_crossed = pool.state.sqrt_price_x96 / Q96, 0
    sqrt_low, sqrt_high = sorted((low_sqrt, high.sqrt_price_x96 / Q96))
    assert sqrt_low * (1 - REL_SQRT_PRICE) - 4 * ULP_Q96 <= f_sqrt
    assert f_sqrt <= sqrt_high * (1 + REL_SQRT_PRICE) + 4 * ULP_Q96
    assert low_crossed <= f_crossed <= high.ticks_crossed


def _price_rounding_wei(
    liquidity: float, sqrt_price_low: float, sqrt_price_high: float, token0: bool
) -> float:
    """Return what rounding a step's end prices moves its token0 or token1 amount by.

    The contract rounds a sqrt price to one unit of 2**-96; a float holds it to 2u relative,
    which is where s - s_tick loses its accuracy.
    """
    if token0:
        return liquidity * (ULP_Q96 / sqrt_price_low**2 + 4 * U / sqrt_price_low)
    return liquidity * (ULP_Q96 + 4 * U * sqrt_price_high)


# 2 raw units into a thin range: the contract spends both on the first step (input and fee
# rounded up), where one unit would otherwise carry the floats across every tick
_DUST_THROUGH_THIN_RANGES = _Pool(
    state=V3PoolState(
        sqrt_price_x96=36_463_871_363_959_870_953_741,
        tick=-291845,
        liquidity=1_010_000_000,
        fee_pips=100,
        tick_spacing=1,
        ticks={
            -291845: 1_010_000_000,
            -291844: -1_000_000_000,
            -291843: 3_162_277_660,
            -291842: -3_162_277_660,
            -291824: -10_000_000,
        },
        liquidity_gross={
            -291845: 1_010_000_000,
            -291844: 1_000_000_000,
            -291843: 3_162_277_660,
            -291842: 3_162_277_660,
            -291824: 10_000_000,
        },
    ),
    liquidity_total=4_172_277_660,
)


@SETTINGS
@given(
    pool=_pools(),
    zero_for_one=st.booleans(),
    fraction=st.floats(min_value=-8, max_value=0.5),
)
@example(pool=_DUST_THROUGH_THIN_RANGES, zero_for_one=False, fraction=0.0)
def test_exact_input_across_ticks_matches_pool_swap(
    pool: _Pool, zero_for_one: bool, fraction: float
) -> None:
    state = pool.state
    amount_in = max(1, int(_depth(pool, zero_for_one, token_in=True) * 10.0**fraction))
    exact = swap(state, zero_for_one, amount_in)
    exact_out = -(exact.amount1 if zero_for_one else exact.amount0)
    f_out, f_sqrt, f_liquidity, f_crossed = _run(
        swap_exact_in_f, csr_of(state), zero_for_one, float(amount_in)
    )

    sqrt_start, sqrt_end = state.sqrt_price_x96 / Q96, exact.sqrt_price_x96 / Q96
    sqrt_low, sqrt_high = min(sqrt_start, sqrt_end), max(sqrt_start, sqrt_end)
    marginal_out_per_in = sqrt_start**2 if zero_for_one else 1.0 / sqrt_start**2
    rounding_in, rounding_out = (
        _price_rounding_wei(pool.liquidity_total, sqrt_low, sqrt_high, token0)
        for token0 in (zero_for_one, not zero_for_one)
    )
    per_step = 3.0 + 3.0 * marginal_out_per_in + rounding_out
    assert abs(f_out - exact_out) <= REL_ACROSS_TICKS * exact_out + (exact.steps + 1) * per_step

    # d(sqrt price)/d(input) in the final range, times the error of the remaining input
    if exact.liquidity > 0:
        sensitivity = sqrt_end**2 / exact.liquidity if zero_for_one else 1.0 / exact.liquidity
    else:
        sensitivity = 0.0
    remaining_error = (exact.steps + 1) * (3.0 + 4 * U * amount_in + rounding_in)
    sqrt_allowance = sensitivity * remaining_error + 4 * ULP_Q96
    f_end = (f_sqrt, f_liquidity, f_crossed)
    slack = int(remaining_error) + 1
    _check_end(pool, zero_for_one, amount_in, exact, f_end, sqrt_allowance, slack)


@SETTINGS
@given(
    pool=_pools(),
    zero_for_one=st.booleans(),
    fraction=st.floats(min_value=-8, max_value=0.3),
)
def test_exact_output_across_ticks_matches_pool_swap(
    pool: _Pool, zero_for_one: bool, fraction: float
) -> None:
    state = pool.state
    amount_out = max(1, int(_depth(pool, zero_for_one, token_in=False) * 10.0**fraction))
    exact = swap(state, zero_for_one, -amount_out)
    exact_in = exact.amount0 if zero_for_one else exact.amount1
    delivered = -(exact.amount1 if zero_for_one else exact.amount0)
    f_in, f_sqrt, f_liquidity, f_crossed = _run(
        swap_exact_out_f, csr_of(state), zero_for_one, float(amount_out)
    )

    sqrt_start, sqrt_end = state.sqrt_price_x96 / Q96, exact.sqrt_price_x96 / Q96
    sqrt_low, sqrt_high = min(sqrt_start, sqrt_end), max(sqrt_start, sqrt_end)
    rounding_in, rounding_out = (
        _price_rounding_wei(pool.liquidity_total, sqrt_low, sqrt_high, token0)
        for token0 in (zero_for_one, not zero_for_one)
    )
    remaining_error = (exact.steps + 1) * (1.0 + 4 * U * amount_out + rounding_out)
    slack = int(remaining_error) + 1
    if delivered < amount_out:
        # the pool ran dry: the floats refuse the swap, unless rounding is what left the last
        # units undelivered
        assert f_in == np.inf or amount_out - delivered <= slack
        return
    if f_in == np.inf:
        # the floats found the pool short by their rounding: it holds barely the request
        more = swap(state, zero_for_one, -(amount_out + slack))
        assert -(more.amount1 if zero_for_one else more.amount0) < amount_out + slack
        return

    marginal_in_per_out = 1.0 / sqrt_end**2 if zero_for_one else sqrt_end**2
    per_step = 3.0 + 2.0 * marginal_in_per_out + rounding_in
    assert abs(f_in - exact_in) <= REL_ACROSS_TICKS * exact_in + (exact.steps + 1) * per_step

    # d(sqrt price)/d(output) in the final range, times the error of the remaining output
    if exact.liquidity > 0:
        sensitivity = 1.0 / exact.liquidity if zero_for_one else sqrt_end**2 / exact.liquidity
    else:
        sensitivity = 0.0
    sqrt_allowance = sensitivity * remaining_error + 4 * ULP_Q96
    f_end = (f_sqrt, f_liquidity, f_crossed)
    _check_end(pool, zero_for_one, -amount_out, exact, f_end, sqrt_allowance, slack)


def test_whale_and_minnow_liquidity_error_is_bounded_by_the_largest_net() -> None:
    """A range whose liquidity is a small difference of big nets: the documented limitation."""
    state = V3PoolState(
        sqrt_price_x96=get_sqrt_ratio_at_tick(5),
        tick=5,
        liquidity=0,
        fee_pips=3000,
        tick_spacing=10,
        ticks={},
    )
    whale, minnow = 10**30 + 12_345_678_901, 10**14 + 1
    state, _, _ = mint(state, -100, 100, whale)
    state, _, _ = mint(state, -887_270, 887_270, minnow)
    exact = swap(state, True, 10**28)  # through the whale's range into the minnow's
    assert exact.ticks_crossed == 1 and exact.liquidity == minnow
    _, _, f_liquidity, f_crossed = _run(swap_exact_in_f, csr_of(state), True, 1e28)
    assert f_crossed == exact.ticks_crossed
    assert abs(f_liquidity - minnow) <= 2 * U * whale


# ---------------------------------------------------------------------------------------------
# CSR packing, tick search, nopython use, cache


def test_build_csr_packs_pools_in_order_with_exact_tick_prices() -> None:
    states = []
    for tick, spacing in ((-200_000, 60), (0, 1), (123_456, 200)):
        state = V3PoolState(
            sqrt_price_x96=get_sqrt_ratio_at_tick(tick),
            tick=tick,
            liquidity=0,
            fee_pips=500,
            tick_spacing=spacing,
            ticks={},
        )
        aligned = tick // spacing * spacing
        state, _, _ = mint(state, aligned - 5 * spacing, aligned + 7 * spacing, 10**20)
        state, _, _ = mint(state, aligned - 2 * spacing, aligned + 3 * spacing, 10**18)
        states.append(state)
    csr = build_csr(states)
    assert csr.n_pools == 3
    assert csr.ticks.dtype == np.int64 and csr.pool_tick_start.dtype == np.int64
    assert csr.liquidity_net.dtype == np.float64 and csr.sqrt_price_at_tick.dtype == np.float64
    for p, state in enumerate(states):
        start, end = csr.bounds(p)
        assert list(csr.ticks[start:end]) == list(state.sorted_ticks)
        assert list(csr.liquidity_net[start:end]) == [
            float(state.ticks[t]) for t in state.sorted_ticks
        ]
        expected = [get_sqrt_ratio_at_tick(t) / Q96 for t in state.sorted_ticks]
        assert list(csr.sqrt_price_at_tick[start:end]) == expected
        assert csr.sqrt_price[p] == state.sqrt_price_x96 / Q96
        assert csr.tick[p] == state.tick and csr.fee_pips[p] == state.fee_pips
        single = csr_of(state)
        for zero_for_one in (True, False):
            args = (state.tick, state.fee_pips)
            packed = swap_exact_in_f(
                csr.sqrt_price[p],
                csr.liquidity[p],
                *args,
                csr.ticks,
                csr.liquidity_net,
                csr.sqrt_price_at_tick,
                start,
                end,
                zero_for_one,
                1e19,
            )
            assert packed == _run(swap_exact_in_f, single, zero_for_one, 1e19)


def test_first_tick_index_is_the_contracts_next_initialized_tick() -> None:
    ticks = np.array([99, -60, 0, 60, 120, 99], dtype=np.int64)  # pool slice is [1, 5)
    assert first_tick_index(ticks, 1, 5, 0, True) == 2  # <= current tick, going down
    assert first_tick_index(ticks, 1, 5, 0, False) == 3  # > current tick, going up
    assert first_tick_index(ticks, 1, 5, -61, True) == 0  # none below: start - 1
    assert first_tick_index(ticks, 1, 5, 120, False) == 5  # none above: end
    assert first_tick_index(ticks, 1, 5, 59, True) == 2
    assert first_tick_index(ticks, 1, 1, 0, False) == 1  # empty slice


@numba.njit(nogil=True)
def _quote_every_pool(
    sqrt_price: np.ndarray,
    liquidity: np.ndarray,
    tick: np.ndarray,
    fee_pips: np.ndarray,
    ticks: np.ndarray,
    liquidity_net: np.ndarray,
    sqrt_price_at_tick: np.ndarray,
    pool_tick_start: np.ndarray,
    amount_in: float,
    out: np.ndarray,
) -> None:
    """Per pool: out[p] = (sale output, output within the range, input to buy it back)."""
    for p in range(sqrt_price.shape[0]):
        start, end = pool_tick_start[p], pool_tick_start[p + 1]
        amount_out, _, _, _ = swap_exact_in_f(
            sqrt_price[p],
            liquidity[p],
            tick[p],
            fee_pips[p],
            ticks,
            liquidity_net,
            sqrt_price_at_tick,
            start,
            end,
            True,
            amount_in,
        )
        _, in_range_out, _ = swap_in_range_f(
            sqrt_price[p], liquidity[p], amount_in, True, fee_pips[p]
        )
        amount_back, _, _, _ = swap_exact_out_f(
            sqrt_price[p],
            liquidity[p],
            tick[p],
            fee_pips[p],
            ticks,
            liquidity_net,
            sqrt_price_at_tick,
            start,
            end,
            True,
            amount_out,
        )
        out[p, 0] = amount_out
        out[p, 1] = in_range_out
        out[p, 2] = amount_back


def test_kernels_run_in_nopython_mode_over_csr_arrays_and_are_cached() -> None:
    states = []
    for tick in (-50_000, 7, 80_000):
        state = V3PoolState(
            sqrt_price_x96=get_sqrt_ratio_at_tick(tick) + 12345,
            tick=tick,
            liquidity=0,
            fee_pips=3000,
            tick_spacing=60,
            ticks={},
        )
        aligned = tick // 60 * 60
        for k in range(1, 6):
            state, _, _ = mint(state, aligned - 60 * k, aligned + 60 * k, 10**22 * k)
        states.append(state)
    csr = build_csr(states)
    out = np.zeros((csr.n_pools, 3))
    amount_in = 1e18
    _quote_every_pool(
        csr.sqrt_price,
        csr.liquidity,
        csr.tick,
        csr.fee_pips,
        csr.ticks,
        csr.liquidity_net,
        csr.sqrt_price_at_tick,
        csr.pool_tick_start,
        amount_in,
        out,
    )
    # the sales stay in their range, and buying a sale's output back costs the sale's input
    np.testing.assert_allclose(out[:, 1], out[:, 0], rtol=1e-14)
    np.testing.assert_allclose(out[:, 2], amount_in, rtol=1e-12)
    for kernel in (swap_exact_in_f, swap_exact_out_f, swap_in_range_f, first_tick_index):
        stats = kernel.stats
        assert stats.cache_path is not None
        assert sum(stats.cache_hits.values()) + sum(stats.cache_misses.values()) >= 1

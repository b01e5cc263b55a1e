"""float64 numba kernels that mirror `amm_math.uniswap_v3.pool.swap` for screening.

Units: `sqrt_price` is sqrt(token1 / token0) in raw token units, i.e. `sqrt_price_x96 / 2**96`
as a float; liquidity and amounts are raw units as float64; `fee_pips` is in millionths.

Within one range the virtual-reserve formulas of SqrtPriceMath/SwapMath hold in closed form:
  token0 in (zero_for_one):  sqrt_next = L * s / (L + a * s),  token1 out = L * (s - sqrt_next)
  token1 in (one_for_zero):  sqrt_next = s + a / L,            token0 out = a / (s * sqrt_next)
with `a` the input less the fee. Each formula is written without the subtraction of nearby
numbers where the algebra allows it, so a step keeps a relative error of a few ulps.

Across ticks the kernels walk a pool's slice `[start, end)` of CSR arrays built by
`amm_math.uniswap_v3.ticks_csr`: initialized ticks in ascending order, their liquidity_net,
and their exact sqrt price as a float. Like `pool.swap`, each step ends at the next initialized
tick or where the amount runs out, takes the fee from the input (`SwapMath.computeSwapStep`),
and crossing a tick adds liquidity_net going up and subtracts it going down. The exact swap also
stops at tick-bitmap word boundaries; those steps only change integer rounding, so the floats
skip them. Landing on a tick's price crosses it, as in the contract. A walk ends when less
than one raw unit remains.

Where the floats and the exact code part ways:
- The exact code floors and rounds up per step (about 3 wei of input and 1 wei of output per
  step, and one unit of 2**-96 in the sqrt price); the floats do not round.
- A step to a tick computes s - s_tick from two rounded floats: its amount is exact to about
  4 * 2**-53 * L * s (token1) or L / s (token0), a few 1e-12 of the step between adjacent
  ticks. An exact-output swap turns output error into input at its final marginal price, so
  its relative error grows with the price ratio the swap crosses.
- The liquidity after crossings is accumulated in float64, so a range whose liquidity is a
  small difference of large nets carries an absolute error of about 2**-53 times the largest
  liquidity or net met on the way (past the last initialized tick it is set to exactly 0).
- An exact-output swap that the pool cannot fill returns amount_in = +inf; an exact-input swap
  that runs out of liquidity stops at the price limit and returns what it got out.

Floats only screen: every candidate is re-priced with the exact `pool.swap`.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "MAX_SQRT_PRICE",
    "MIN_SQRT_PRICE",
    "first_tick_index",
    "swap_exact_in_f",
    "swap_exact_out_f",
    "swap_in_range_f",
]

FEE_DENOMINATOR_PIPS = 1_000_000.0
# a remainder below one raw unit ends the walk: the contract rounds step amounts up to whole
# units, so where it has used the amount up the floats keep a fraction of a unit, which must
# not carry the price on through a range without liquidity
DUST = 1.0
# TickMath.MIN_SQRT_RATIO and MAX_SQRT_RATIO divided by 2**96 (the swap's default price limits)
MIN_SQRT_PRICE = 4295128739 / 2**96
MAX_SQRT_PRICE = 1461446703485210103287273052203988822378723970342 / 2**96


@numba.njit(cache=True, nogil=True, fastmath=False)
def _out_for_in(
    sqrt_price: float, liquidity: float, amount_in_less_fee: float, zero_for_one: bool
) -> tuple[float, float]:
    """Return (amount_out, sqrt_price_next) for an input (fee removed) that stays in range."""
    if zero_for_one:
        liquidity_sqrt = liquidity * sqrt_price
        in_sqrt = amount_in_less_fee * sqrt_price
        denominator = liquidity + in_sqrt
        return liquidity_sqrt * in_sqrt / denominator, liquidity_sqrt / denominator
    sqrt_price_next = sqrt_price + amount_in_less_fee / liquidity
    return amount_in_less_fee / (sqrt_price * sqrt_price_next), sqrt_price_next


@numba.njit(cache=True, nogil=True, fastmath=False)
def _in_for_out(
    sqrt_price: float, liquidity: float, amount_out: float, zero_for_one: bool
) -> tuple[float, float]:
    """Return (amount_in_less_fee, sqrt_price_next) for an output in range (+inf: unpayable)."""
    if zero_for_one:
        sqrt_price_next = sqrt_price - amount_out / liquidity
        if sqrt_price_next <= 0.0:
            return np.inf, 0.0
        return amount_out / (sqrt_price * sqrt_price_next), sqrt_price_next
    denominator = liquidity - amount_out * sqrt_price
    if denominator <= 0.0:
        return np.inf, np.inf
    liquidity_sqrt = liquidity * sqrt_price
    return liquidity_sqrt * (amount_out * sqrt_price) / denominator, liquidity_sqrt / denominator


@numba.njit(cache=True, nogil=True, fastmath=False)
def _amounts_to_target(
    sqrt_price: float, sqrt_price_target: float, liquidity: float, zero_for_one: bool
) -> tuple[float, float]:
    """Return (amount_in_less_fee, amount_out) of moving the price to the target in one range."""
    if zero_for_one:
        delta = sqrt_price - sqrt_price_target
        return liquidity * delta / sqrt_price / sqrt_price_target, liquidity * delta
    delta = sqrt_price_target - sqrt_price
    return liquidity * delta, liquidity * delta / sqrt_price / sqrt_price_target


@numba.njit(cache=True, nogil=True, fastmath=False)
def swap_in_range_f(
    sqrt_price: float, liquidity: float, amount: float, zero_for_one: bool, fee_pips: int
) -> tuple[float, float, float]:
    """Swap within the current range: return (amount_in, amount_out, sqrt_price_next).

    `amount` follows `amount_remaining` of computeSwapStep: > 0 is an exact input (fee
    included), < 0 an exact output. amount_in includes the fee and is +inf when the range
    cannot pay the output. No tick is crossed: the result holds only while sqrt_price_next
    stays inside the current range, which the caller checks. Without liquidity nothing trades.
    """
    if amount == 0.0:
        return 0.0, 0.0, sqrt_price
    if liquidity <= 0.0:
        return (0.0 if amount > 0.0 else np.inf), 0.0, sqrt_price
    fee_complement = (FEE_DENOMINATOR_PIPS - fee_pips) / FEE_DENOMINATOR_PIPS
    if amount > 0.0:
        amount_out, sqrt_price_next = _out_for_in(
            sqrt_price, liquidity, amount * fee_complement, zero_for_one
        )
        return amount, amount_out, sqrt_price_next
    amount_in_less_fee, sqrt_price_next = _in_for_out(sqrt_price, liquidity, -amount, zero_for_one)
    return amount_in_less_fee / fee_complement, -amount, sqrt_price_next


@numba.njit(cache=True, nogil=True, fastmath=False)
def first_tick_index(
    ticks: np.ndarray, start: int, end: int, current_tick: int, zero_for_one: bool
) -> int:
    """Return the index of the first initialized tick a swap meets in ticks[start:end].

    Going down that is the last tick <= current_tick (start - 1 when there is none), going up
    the first tick > current_tick (end when there is none): the tick the contract's
    nextInitializedTickWithinOneWord finds with lte = zero_for_one.
    """
    low = start
    high = end
    while low < high:
        middle = (low + high) >> 1
        if ticks[middle] <= current_tick:
            low = middle + 1
        else:
            high = middle
    if zero_for_one:
        return low - 1
    return low


@numba.njit(cache=True, nogil=True, fastmath=False)
def _step_target(
    has_tick: bool,
    index: int,
    sqrt_price_at_tick: np.ndarray,
    liquidity: float,
    zero_for_one: bool,
) -> tuple[float, float]:
    """Return (sqrt price the next step aims at, liquidity for the step)."""
    if has_tick:
        return sqrt_price_at_tick[index], liquidity
    # past the last initialized tick no position is active: the liquidity is exactly 0,
    # whatever residue the float sum of liquidity_net left
    return (MIN_SQRT_PRICE if zero_for_one else MAX_SQRT_PRICE), 0.0


@numba.njit(cache=True, nogil=True, fastmath=False)
def _cross_tick(
    liquidity: float, liquidity_net: np.ndarray, index: int, zero_for_one: bool
) -> tuple[float, int]:
    """Cross the tick at `index`: apply its net (negated going down); return (liquidity, next)."""
    if zero_for_one:
        return liquidity - liquidity_net[index], index - 1
    return liquidity + liquidity_net[index], index + 1


@numba.njit(cache=True, nogil=True, fastmath=False)
def swap_exact_in_f(
    sqrt_price: float,
    liquidity: float,
    current_tick: int,
    fee_pips: int,
    ticks: np.ndarray,
    liquidity_net: np.ndarray,
    sqrt_price_at_tick: np.ndarray,
    start: int,
    end: int,
    zero_for_one: bool,
    amount_in: float,
) -> tuple[float, float, float, int]:
    """Sell `amount_in` (raw units, fee included) across initialized ticks of one pool.

    Return (amount_out, sqrt_price_after, liquidity_after, ticks_crossed).
    """
    fee_complement = (FEE_DENOMINATOR_PIPS - fee_pips) / FEE_DENOMINATOR_PIPS
    min_step_in = 2.0 if fee_pips > 0 else 1.0
    index = first_tick_index(ticks, start, end, current_tick, zero_for_one)
    remaining = amount_in
    amount_out = 0.0
    ticks_crossed = 0
    while remaining >= DUST:
        has_tick = start <= index < end
        sqrt_price_target, liquidity = _step_target(
            has_tick, index, sqrt_price_at_tick, liquidity, zero_for_one
        )
        if liquidity > 0.0:
            need_less_fee, step_out = _amounts_to_target(
                sqrt_price, sqrt_price_target, liquidity, zero_for_one
            )
            remaining_less_fee = remaining * fee_complement
            if remaining_less_fee < need_less_fee:
                partial_out, sqrt_price = _out_for_in(
                    sqrt_price, liquidity, remaining_less_fee, zero_for_one
                )
                amount_out += partial_out
                break
            amount_out += step_out
            # the contract rounds a step's input up and its fee up: a step that reaches a tick
            # costs at least one raw unit, plus one of fee (what matters at dust amounts,
            # where one unit moves the price across ticks of a thin range)
            remaining -= max(need_less_fee / fee_complement, min_step_in)
        sqrt_price = sqrt_price_target
        if not has_tick:
            break
        liquidity, index = _cross_tick(liquidity, liquidity_net, index, zero_for_one)
        ticks_crossed += 1
    return amount_out, sqrt_price, liquidity, ticks_crossed


@numba.njit(cache=True, nogil=True, fastmath=False)
def swap_exact_out_f(
    sqrt_price: float,
    liquidity: float,
    current_tick: int,
    fee_pips: int,
    ticks: np.ndarray,
    liquidity_net: np.ndarray,
    sqrt_price_at_tick: np.ndarray,
    start: int,
    end: int,
    zero_for_one: bool,
    amount_out: float,
) -> tuple[float, float, float, int]:
    """Buy `amount_out` (raw units) across initialized ticks of one pool.

    Return (amount_in, sqrt_price_after, liquidity_after, ticks_crossed); amount_in includes
    the fee and is +inf when the pool's liquidity cannot pay amount_out.
    """
    fee_complement = (FEE_DENOMINATOR_PIPS - fee_pips) / FEE_DENOMINATOR_PIPS
    index = first_tick_index(ticks, start, end, current_tick, zero_for_one)
    remaining = amount_out
    amount_in = 0.0
    ticks_crossed = 0
    while remaining >= DUST:
        has_tick = start <= index < end
        sqrt_price_target, liquidity = _step_target(
            has_tick, index, sqrt_price_at_tick, liquidity, zero_for_one
        )
        if liquidity > 0.0:
            need_less_fee, step_out = _amounts_to_target(
                sqrt_price, sqrt_price_target, liquidity, zero_for_one
            )
            if remaining < step_out:
                partial_in_less_fee, sqrt_price = _in_for_out(
                    sqrt_price, liquidity, remaining, zero_for_one
                )
                amount_in += partial_in_less_fee / fee_complement
                break
            amount_in += need_less_fee / fee_complement
            remaining -= step_out
        sqrt_price = sqrt_price_target
        if not has_tick:
            if remaining >= DUST:
                return np.inf, sqrt_price, liquidity, ticks_crossed
            break
        liquidity, index = _cross_tick(liquidity, liquidity_net, index, zero_for_one)
        ticks_crossed += 1
    return amount_in, sqrt_price, liquidity, ticks_crossed

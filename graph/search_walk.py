"""numba float swap walk along a cycle's hops: its output, and whether it stays in range.

Units: amounts are raw token units (wei of each token) as float64; `sqrt_price` is
sqrt(token1 / token0) in raw units; fees in pips (millionths). `state` is the tuple of pool
columns (kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, nets, sqrts,
tick_start) that the search kernels pass down.

`_chain_out` walks the float swaps (`swap_exact_in_f` for V3, crossing ticks);
`_in_range_out` takes the same steps while no V3 hop reaches its next initialized tick, with
one binary search per V3 hop (`v3_range_capacity`) instead of a walk.
"""

from __future__ import annotations

import numba

from amm_math.uniswap_v2_nb import get_amount_out_f

# the in-range step formulas of the float swap, so the range check decides as its walk does
from amm_math.uniswap_v3.swap_nb import (
    DUST,
    _amounts_to_target,
    _out_for_in,
    first_tick_index,
    swap_exact_in_f,
)

__all__ = ["KIND_V2", "KIND_V3", "MAX_HOPS", "chain_out_f", "v3_range_capacity"]

KIND_V2 = 2
KIND_V3 = 3
MAX_HOPS = 4
_FEE_DENOMINATOR = 1_000_000.0

# Helpers called per cycle or per hop with array arguments run without numba's reference
# counting: with it each array argument costs an atomic increment and decrement per call,
# more than these bodies. They allocate nothing and keep no array past the call.
_helper = numba.njit(cache=True, nogil=True, fastmath=False, _nrt=False)


@_helper
def _hop_out(state, pool, zfo, amount):
    """Return (amount out, initialized ticks crossed) of selling `amount` into one pool."""
    kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, nets, sqrts, tick_start = state
    if kind[pool] == KIND_V2:
        if zfo:
            return get_amount_out_f(amount, r0[pool], r1[pool], fee_pips[pool]), 0
        return get_amount_out_f(amount, r1[pool], r0[pool], fee_pips[pool]), 0
    out, _, _, crossed = swap_exact_in_f(
        sqrt_price[pool],
        liquidity[pool],
        tick[pool],
        fee_pips[pool],
        ticks,
        nets,
        sqrts,
        tick_start[pool],
        tick_start[pool + 1],
        zfo,
        amount,
    )
    return out, crossed


@_helper
def _chain_out(hop_pools, hop_zfo, n_hops, state, amount_in):
    """Return (final amount out, ticks crossed) of selling `amount_in` along the hops."""
    amount = amount_in
    crossed = 0
    for h in range(n_hops):
        amount, k = _hop_out(state, hop_pools[h], hop_zfo[h], amount)
        crossed += k
        if amount <= 0.0:
            return 0.0, crossed
    return amount, crossed


@numba.njit(cache=True, nogil=True, fastmath=False)
def chain_out_f(
    c,
    cyc_pools,
    cyc_zfo,
    cyc_len,
    kind,
    fee_pips,
    r0,
    r1,
    sqrt_price,
    liquidity,
    tick,
    ticks,
    nets,
    sqrts,
    tick_start,
    amount_in,
):
    """Return (final amount out, ticks crossed) of selling `amount_in` along cycle c."""
    state = (kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, nets, sqrts, tick_start)
    return _chain_out(cyc_pools[c], cyc_zfo[c], cyc_len[c], state, amount_in)


@numba.njit(cache=True, nogil=True, fastmath=False)
def v3_range_capacity(sqrt_price, liquidity, current_tick, ticks, sqrts, start, end, zfo):
    """Return the input less fee (raw units) that moves a V3 price to its next initialized tick.

    The amount `swap_exact_in_f` compares its input (times the fee complement) against before
    it crosses: an input below it stays in the current range. -1 when no initialized tick lies
    that way (the float swap then trades nothing) or the range has no liquidity.
    """
    index = first_tick_index(ticks, start, end, current_tick, zfo)
    if not (start <= index < end) or not (liquidity > 0.0):
        return -1.0
    need_less_fee, _ = _amounts_to_target(sqrt_price, sqrts[index], liquidity, zfo)
    return need_less_fee


@_helper
def _in_range_step(amount, fee_complement, capacity, sqrt_price, liquidity, zfo):
    """Return (amount out, True) of one V3 hop's in-range swap of `amount` (at least DUST);
    (0, False) when it would leave its range.

    `capacity` is the hop's `v3_range_capacity` that way.
    """
    if capacity < 0.0:
        if liquidity > 0.0:
            return 0.0, True  # no initialized tick that way: the float swap trades nothing
        return 0.0, False
    amount_less_fee = amount * fee_complement
    if not (amount_less_fee < capacity):
        return 0.0, False
    out, _ = _out_for_in(sqrt_price, liquidity, amount_less_fee, zfo)
    return out, True


@_helper
def _in_range_out(hop_pools, hop_zfo, n_hops, state, amount_in):
    """Return (final amount out, True) of selling `amount_in` along the hops; (0, False) when
    a V3 hop would leave its range.

    Same float operations as `_chain_out` where no tick is crossed, so the same result; the
    range check is one binary search over the pool's ticks instead of a walk.
    """
    kind, fee_pips, r0, r1, sqrt_price, liquidity, tick, ticks, _nets, sqrts, tick_start = state
    amount = amount_in
    for h in range(n_hops):
        pool = hop_pools[h]
        zfo = hop_zfo[h]
        if kind[pool] == KIND_V2:
            if zfo:
                amount = get_amount_out_f(amount, r0[pool], r1[pool], fee_pips[pool])
            else:
                amount = get_amount_out_f(amount, r1[pool], r0[pool], fee_pips[pool])
        elif amount < DUST:
            amount = 0.0
        else:
            start, end = tick_start[pool], tick_start[pool + 1]
            liq = liquidity[pool]
            capacity = v3_range_capacity(
                sqrt_price[pool], liq, tick[pool], ticks, sqrts, start, end, zfo
            )
            fee_complement = (_FEE_DENOMINATOR - fee_pips[pool]) / _FEE_DENOMINATOR
            amount, in_range = _in_range_step(
                amount, fee_complement, capacity, sqrt_price[pool], liq, zfo
            )
            if not in_range:
                return 0.0, False
        if amount <= 0.0:
            return 0.0, True
    return amount, True

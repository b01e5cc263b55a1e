"""Float helpers that size the world's initial liquidity (the chain decides exact amounts).

Prices here are raw: units of token1's smallest unit per unit of token0's smallest unit.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_TICK",
    "MIN_TICK",
    "align_tick",
    "position_amounts",
    "price_raw",
    "sqrt_price_x96_of",
    "tick_of_price",
]

MIN_TICK = -887272
MAX_TICK = 887272
_Q96 = 2**96


def price_raw(
    price0_eth: float, decimals0: int, price1_eth: float, decimals1: int, skew: float
) -> float:
    """Return token1 raw units per token0 raw unit, multiplied by (1 + skew)."""
    return (price0_eth / price1_eth) * (1.0 + skew) * 10.0 ** (decimals1 - decimals0)


def sqrt_price_x96_of(price: float) -> int:
    """Return floor(sqrt(price) * 2**96) for a raw price."""
    if price <= 0:
        raise ValueError("price must be positive")
    return math.isqrt(int(price * 2.0**192))


def tick_of_price(price: float) -> int:
    """Return the tick whose price range holds this raw price."""
    return math.floor(math.log(price) / math.log(1.0001))


def align_tick(tick: int, tick_spacing: int) -> int:
    """Round a tick down to a multiple of the spacing, inside [MIN_TICK, MAX_TICK]."""
    aligned = math.floor(tick / tick_spacing) * tick_spacing
    lowest = -(MAX_TICK // tick_spacing) * tick_spacing
    highest = (MAX_TICK // tick_spacing) * tick_spacing
    return max(lowest, min(highest, aligned))


def position_amounts(
    price: float, tick_lower: int, tick_upper: int, value_token1_raw: float
) -> tuple[int, int]:
    """Return (amount0, amount1) raw for a position worth value_token1_raw at this price."""
    sp = math.sqrt(price)
    sa = 1.0001 ** (tick_lower / 2)
    sb = 1.0001 ** (tick_upper / 2)
    if sp <= sa:  # price below the range: token0 only
        liquidity = value_token1_raw / (price * (1 / sa - 1 / sb))
        return math.ceil(liquidity * (1 / sa - 1 / sb)), 0
    if sp >= sb:  # price above the range: token1 only
        liquidity = value_token1_raw / (sb - sa)
        return 0, math.ceil(liquidity * (sb - sa))
    liquidity = value_token1_raw / (2 * sp - price / sb - sa)
    return math.ceil(liquidity * (1 / sp - 1 / sb)), math.ceil(liquidity * (sp - sa))

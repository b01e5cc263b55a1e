"""Uniswap V3 core math, one module per v3-core 1.0.1 library, plus the pool's swap loop.

full_math (FullMath.sol), bit_math (BitMath.sol), unsafe_math (UnsafeMath.sol), tick_math
(TickMath.sol), sqrt_price_math (SqrtPriceMath.sol), swap_math (SwapMath.sol),
liquidity_math (LiquidityMath.sol), tick_bitmap (TickBitmap.sol), pool_state and pool
(UniswapV3Pool.sol swap/mint/burn), fee_growth (the pool's and Tick.sol's fee growth).
A failed `require` raises amm_math.errors.EvmRevert.
"""

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.fee_growth import (
    FeeGrowth,
    FeeGrowthSwap,
    fee_growth_after_modify,
    fee_growth_after_swap,
    replay_swap_event,
)
from amm_math.uniswap_v3.full_math import mul_div, mul_div_rounding_up
from amm_math.uniswap_v3.liquidity_math import add_delta
from amm_math.uniswap_v3.pool import (
    SwapResult,
    V3PoolState,
    apply_swap,
    burn,
    mint,
    swap,
    tick_spacing_to_max_liquidity_per_tick,
    ticks_from_lists,
)
from amm_math.uniswap_v3.sqrt_price_math import (
    get_amount0_delta,
    get_amount0_delta_signed,
    get_amount1_delta,
    get_amount1_delta_signed,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)
from amm_math.uniswap_v3.swap_math import compute_swap_step
from amm_math.uniswap_v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

__all__ = [
    "MAX_SQRT_RATIO",
    "MAX_TICK",
    "MIN_SQRT_RATIO",
    "MIN_TICK",
    "EvmRevert",
    "FeeGrowth",
    "FeeGrowthSwap",
    "SwapResult",
    "V3PoolState",
    "add_delta",
    "apply_swap",
    "burn",
    "compute_swap_step",
    "fee_growth_after_modify",
    "fee_growth_after_swap",
    "get_amount0_delta",
    "get_amount0_delta_signed",
    "get_amount1_delta",
    "get_amount1_delta_signed",
    "get_next_sqrt_price_from_input",
    "get_next_sqrt_price_from_output",
    "get_sqrt_ratio_at_tick",
    "get_tick_at_sqrt_ratio",
    "mint",
    "mul_div",
    "mul_div_rounding_up",
    "replay_swap_event",
    "swap",
    "tick_spacing_to_max_liquidity_per_tick",
    "ticks_from_lists",
]

"""SqrtPriceMath.sol: next sqrt price from a token amount, and token amounts between prices.

Prices are Q64.96 uint160 values, liquidity is uint128. Where the contract detects uint256
overflow by a wrapped product or sum, the same condition is tested here on the exact value.
"""

from __future__ import annotations

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.full_math import mul_div, mul_div_rounding_up
from amm_math.uniswap_v3.unsafe_math import div_rounding_up

__all__ = [
    "Q96",
    "RESOLUTION",
    "get_amount0_delta",
    "get_amount0_delta_signed",
    "get_amount1_delta",
    "get_amount1_delta_signed",
    "get_next_sqrt_price_from_amount0_rounding_up",
    "get_next_sqrt_price_from_amount1_rounding_down",
    "get_next_sqrt_price_from_input",
    "get_next_sqrt_price_from_output",
]

# FixedPoint96.sol
RESOLUTION = 96
Q96 = 0x1000000000000000000000000

_MAX_UINT160 = (1 << 160) - 1
_MAX_UINT256 = (1 << 256) - 1
_MIN_INT256_ABS = 1 << 255


def get_next_sqrt_price_from_amount0_rounding_up(
    sqrt_p_x96: int, liquidity: int, amount: int, add: bool
) -> int:
    """Return the sqrt price after adding (removing) `amount` of token0, rounded up."""
    # short circuit: otherwise the result is not guaranteed to equal the input price
    if amount == 0:
        return sqrt_p_x96
    numerator1 = liquidity << RESOLUTION

    product = amount * sqrt_p_x96
    if add:
        # the contract's `product / amount == sqrtPX96` is "amount * sqrtPX96 did not wrap"
        if product <= _MAX_UINT256:
            denominator = numerator1 + product
            # `denominator >= numerator1` is "the sum did not wrap"
            if denominator <= _MAX_UINT256:
                # always fits in 160 bits: denominator >= numerator1
                return mul_div_rounding_up(numerator1, sqrt_p_x96, denominator)
        # LowGasSafeMath.add reverts on uint256 overflow
        denominator = numerator1 // sqrt_p_x96 + amount
        if denominator > _MAX_UINT256:
            raise EvmRevert("", "LowGasSafeMath.add: uint256 overflow")
        # uint160(...) truncates in the contract; the value always fits, the mask mirrors it
        return div_rounding_up(numerator1, denominator) & _MAX_UINT160
    # if the product overflows, the denominator underflows; it must also stay positive
    if product > _MAX_UINT256 or numerator1 <= product:
        raise EvmRevert("", "SqrtPriceMath: token0 output exceeds the virtual reserves")
    denominator = numerator1 - product
    result = mul_div_rounding_up(numerator1, sqrt_p_x96, denominator)
    if result > _MAX_UINT160:
        raise EvmRevert("", "SafeCast.toUint160: overflow")
    return result


def get_next_sqrt_price_from_amount1_rounding_down(
    sqrt_p_x96: int, liquidity: int, amount: int, add: bool
) -> int:
    """Return the sqrt price after adding (removing) `amount` of token1, rounded down."""
    # adding (subtracting) rounds the quotient down (up); both avoid a mulDiv for most inputs
    if add:
        if amount <= _MAX_UINT160:
            if liquidity == 0:
                raise EvmRevert("", "division by zero")
            quotient = (amount << RESOLUTION) // liquidity
        else:
            quotient = mul_div(amount, Q96, liquidity)
        # LowGasSafeMath.add then SafeCast.toUint160: past uint160 reverts either way
        result = sqrt_p_x96 + quotient
        if result > _MAX_UINT160:
            raise EvmRevert("", "SafeCast.toUint160: overflow")
        return result
    if amount <= _MAX_UINT160:
        quotient = div_rounding_up(amount << RESOLUTION, liquidity)
    else:
        quotient = mul_div_rounding_up(amount, Q96, liquidity)
    if sqrt_p_x96 <= quotient:
        raise EvmRevert("", "SqrtPriceMath: token1 output exceeds the virtual reserves")
    # always fits 160 bits
    return sqrt_p_x96 - quotient


def get_next_sqrt_price_from_input(
    sqrt_p_x96: int, liquidity: int, amount_in: int, zero_for_one: bool
) -> int:
    """Return the sqrt price after `amount_in` of the input token, never past the exact price."""
    if sqrt_p_x96 <= 0:
        raise EvmRevert("", "SqrtPriceMath: price is 0")
    if liquidity <= 0:
        raise EvmRevert("", "SqrtPriceMath: liquidity is 0")
    if zero_for_one:
        return get_next_sqrt_price_from_amount0_rounding_up(sqrt_p_x96, liquidity, amount_in, True)
    return get_next_sqrt_price_from_amount1_rounding_down(sqrt_p_x96, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(
    sqrt_p_x96: int, liquidity: int, amount_out: int, zero_for_one: bool
) -> int:
    """Return the sqrt price after `amount_out` of the output token, at or past the exact price."""
    if sqrt_p_x96 <= 0:
        raise EvmRevert("", "SqrtPriceMath: price is 0")
    if liquidity <= 0:
        raise EvmRevert("", "SqrtPriceMath: liquidity is 0")
    if zero_for_one:
        return get_next_sqrt_price_from_amount1_rounding_down(
            sqrt_p_x96, liquidity, amount_out, False
        )
    return get_next_sqrt_price_from_amount0_rounding_up(sqrt_p_x96, liquidity, amount_out, False)


def get_amount0_delta(
    sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool
) -> int:
    """Return the token0 amount between two sqrt prices for uint128 liquidity, rounded as asked."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96

    numerator1 = liquidity << RESOLUTION
    numerator2 = sqrt_ratio_b_x96 - sqrt_ratio_a_x96

    if sqrt_ratio_a_x96 <= 0:
        raise EvmRevert("", "SqrtPriceMath.getAmount0Delta: price is 0")

    if round_up:
        return div_rounding_up(
            mul_div_rounding_up(numerator1, numerator2, sqrt_ratio_b_x96), sqrt_ratio_a_x96
        )
    return mul_div(numerator1, numerator2, sqrt_ratio_b_x96) // sqrt_ratio_a_x96


def get_amount1_delta(
    sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int, round_up: bool
) -> int:
    """Return the token1 amount between two sqrt prices for uint128 liquidity, rounded as asked."""
    if sqrt_ratio_a_x96 > sqrt_ratio_b_x96:
        sqrt_ratio_a_x96, sqrt_ratio_b_x96 = sqrt_ratio_b_x96, sqrt_ratio_a_x96
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_ratio_b_x96 - sqrt_ratio_a_x96, Q96)
    return mul_div(liquidity, sqrt_ratio_b_x96 - sqrt_ratio_a_x96, Q96)


def _to_int256(y: int) -> int:
    """SafeCast.toInt256: revert unless the uint256 fits in int256."""
    if y >= _MIN_INT256_ABS:
        raise EvmRevert("", "SafeCast.toInt256: overflow")
    return y


def get_amount0_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """Return the signed token0 amount for an int128 liquidity delta (owed up, paid out down)."""
    if liquidity < 0:
        return -_to_int256(get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity, False))
    return _to_int256(get_amount0_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, True))


def get_amount1_delta_signed(sqrt_ratio_a_x96: int, sqrt_ratio_b_x96: int, liquidity: int) -> int:
    """Return the signed token1 amount for an int128 liquidity delta (owed up, paid out down)."""
    if liquidity < 0:
        return -_to_int256(get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, -liquidity, False))
    return _to_int256(get_amount1_delta(sqrt_ratio_a_x96, sqrt_ratio_b_x96, liquidity, True))

"""UniswapV2Library.sol quotes and the UniswapV2Pair.sol swap check, with the fee in pips.

`get_amount_out`/`get_amount_in` round exactly like UniswapV2Library's getAmountOut and
getAmountIn; `swap_reserves` is the part of UniswapV2Pair.swap that decides whether a swap
passes (the K invariant on fee-adjusted balances) and what the reserves become. The library
and the pair hard-code a 0.30% fee as 997/1000 and 3/1000; here the fee is `fee_pips`
(millionths), and fee_pips=3000 gives the same integers as the contract: both sides of every
comparison and every quotient are scaled by the same power of ten. Forks charge other fees
(PancakeSwap V2's 9975/10000 is fee_pips=2500).

Reverts carry the contract's own strings. Python ints do not overflow, so SafeMath's
"ds-math-mul-overflow" is not reproduced: it needs an amount near 2**256 / (1000 * 2**112),
beyond any token's supply; the pair's uint112 reserve limit ("UniswapV2: OVERFLOW") is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from amm_math.errors import EvmRevert

__all__ = [
    "FEE_DENOMINATOR_PIPS",
    "MAX_UINT112",
    "V2PairState",
    "get_amount_in",
    "get_amount_out",
    "swap_reserves",
]

FEE_DENOMINATOR_PIPS = 1_000_000
MAX_UINT112 = (1 << 112) - 1
_MAX_UINT256 = (1 << 256) - 1


def _check_uint(name: str, value: int, max_value: int = _MAX_UINT256) -> None:
    """Raise ValueError unless `value` is an int in [0, max_value] (an ABI-valid argument)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= max_value:
        raise ValueError(f"{name} must be an int in [0, {max_value}], got {value!r}")


def _check_fee(fee_pips: int) -> None:
    """Raise ValueError unless 0 <= fee_pips < 1e6 (a fee of 100% leaves nothing to trade)."""
    if not isinstance(fee_pips, int) or not 0 <= fee_pips < FEE_DENOMINATOR_PIPS:
        raise ValueError(
            f"fee_pips must be an int in [0, {FEE_DENOMINATOR_PIPS}), got {fee_pips!r}"
        )


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_pips: int = 3000) -> int:
    """Return the output (raw units) for `amount_in` sold into the pair, rounded down."""
    _check_uint("amount_in", amount_in)
    _check_uint("reserve_in", reserve_in)
    _check_uint("reserve_out", reserve_out)
    _check_fee(fee_pips)
    if amount_in == 0:
        raise EvmRevert("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT")
    if reserve_in == 0 or reserve_out == 0:
        raise EvmRevert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    amount_in_with_fee = amount_in * (FEE_DENOMINATOR_PIPS - fee_pips)
    numerator = amount_in_with_fee * reserve_out
    denominator = reserve_in * FEE_DENOMINATOR_PIPS + amount_in_with_fee
    return numerator // denominator


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int, fee_pips: int = 3000) -> int:
    """Return the input (raw units, fee included) that buys `amount_out`: getAmountIn, floor + 1."""
    _check_uint("amount_out", amount_out)
    _check_uint("reserve_in", reserve_in)
    _check_uint("reserve_out", reserve_out)
    _check_fee(fee_pips)
    if amount_out == 0:
        raise EvmRevert("UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT")
    if reserve_in == 0 or reserve_out == 0:
        raise EvmRevert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")
    if amount_out > reserve_out:
        raise EvmRevert("ds-math-sub-underflow", "reserveOut.sub(amountOut)")
    if amount_out == reserve_out:
        # solc 0.6 divides by zero with an invalid opcode: a revert without a reason string
        raise EvmRevert("", "getAmountIn: division by zero (amountOut == reserveOut)")
    numerator = reserve_in * amount_out * FEE_DENOMINATOR_PIPS
    denominator = (reserve_out - amount_out) * (FEE_DENOMINATOR_PIPS - fee_pips)
    return numerator // denominator + 1


def swap_reserves(
    reserve0: int,
    reserve1: int,
    amount0_in: int,
    amount1_in: int,
    amount0_out: int,
    amount1_out: int,
    fee_pips: int = 3000,
) -> tuple[int, int]:
    """Return the reserves after UniswapV2Pair.swap, reverting where the pair's checks fail.

    `amount*_in` are what arrived beyond the reserves (the pair measures them from its
    balances, so these are the Swap event's amounts); the new balances are
    reserve - amount_out + amount_in, which is what the pair's Sync then reports.
    """
    _check_uint("reserve0", reserve0, MAX_UINT112)
    _check_uint("reserve1", reserve1, MAX_UINT112)
    for name, value in (
        ("amount0_in", amount0_in),
        ("amount1_in", amount1_in),
        ("amount0_out", amount0_out),
        ("amount1_out", amount1_out),
    ):
        _check_uint(name, value)
    _check_fee(fee_pips)
    if amount0_out == 0 and amount1_out == 0:
        raise EvmRevert("UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT")
    if amount0_out >= reserve0 or amount1_out >= reserve1:
        raise EvmRevert("UniswapV2: INSUFFICIENT_LIQUIDITY")
    if amount0_in == 0 and amount1_in == 0:
        raise EvmRevert("UniswapV2: INSUFFICIENT_INPUT_AMOUNT")
    balance0 = reserve0 - amount0_out + amount0_in
    balance1 = reserve1 - amount1_out + amount1_in
    # the pair's balance*1000 - amountIn*3, scaled by 1000 on both sides of the comparison
    balance0_adjusted = balance0 * FEE_DENOMINATOR_PIPS - amount0_in * fee_pips
    balance1_adjusted = balance1 * FEE_DENOMINATOR_PIPS - amount1_in * fee_pips
    if balance0_adjusted * balance1_adjusted < reserve0 * reserve1 * FEE_DENOMINATOR_PIPS**2:
        raise EvmRevert("UniswapV2: K")
    if balance0 > MAX_UINT112 or balance1 > MAX_UINT112:
        raise EvmRevert("UniswapV2: OVERFLOW")
    return balance0, balance1


@dataclass(frozen=True, slots=True, kw_only=True)
class V2PairState:
    """A V2 pair's reserves (raw units of token0 and token1) and its swap fee in pips."""

    reserve0: int
    reserve1: int
    fee_pips: int = 3000

    def _in_out(self, zero_for_one: bool) -> tuple[int, int]:
        return (self.reserve0, self.reserve1) if zero_for_one else (self.reserve1, self.reserve0)

    def quote_out(self, zero_for_one: bool, amount_in: int) -> int:
        """Return the output for `amount_in` of token0 (zero_for_one) or of token1."""
        reserve_in, reserve_out = self._in_out(zero_for_one)
        return get_amount_out(amount_in, reserve_in, reserve_out, self.fee_pips)

    def quote_in(self, zero_for_one: bool, amount_out: int) -> int:
        """Return the input of token0 (zero_for_one) or token1 that buys `amount_out`."""
        reserve_in, reserve_out = self._in_out(zero_for_one)
        return get_amount_in(amount_out, reserve_in, reserve_out, self.fee_pips)

    def after_swap(self, zero_for_one: bool, amount_in: int) -> tuple[V2PairState, int]:
        """Return the state after selling `amount_in` at the quoted output, and that output."""
        amount_out = self.quote_out(zero_for_one, amount_in)
        amounts = (amount_in, 0, 0, amount_out) if zero_for_one else (0, amount_in, amount_out, 0)
        reserve0, reserve1 = swap_reserves(self.reserve0, self.reserve1, *amounts, self.fee_pips)
        return V2PairState(reserve0=reserve0, reserve1=reserve1, fee_pips=self.fee_pips), amount_out

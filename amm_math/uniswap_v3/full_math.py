"""FullMath.sol: multiply then divide with a full 512-bit product, floor or ceiling.

Arguments are uint256 values. Python ints hold the whole product, so the Chinese Remainder
Theorem dance of the contract reduces to one `divmod`; the contract's
`require(denominator > prod1)` is exactly "the quotient fits in 256 bits", checked here.
"""

from __future__ import annotations

from amm_math.errors import EvmRevert

__all__ = ["mul_div", "mul_div_rounding_up"]

_MAX_UINT256 = (1 << 256) - 1


def mul_div(a: int, b: int, denominator: int) -> int:
    """Return floor(a * b / denominator); revert on a 0 denominator or a result past uint256."""
    if denominator == 0:
        raise EvmRevert("", "FullMath.mulDiv: denominator is 0")
    result = a * b // denominator
    if result > _MAX_UINT256:
        raise EvmRevert("", "FullMath.mulDiv: result overflows uint256")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """Return ceil(a * b / denominator); revert like mul_div, or if the ceiling is 2**256."""
    if denominator == 0:
        raise EvmRevert("", "FullMath.mulDiv: denominator is 0")
    result, remainder = divmod(a * b, denominator)
    if result > _MAX_UINT256:
        raise EvmRevert("", "FullMath.mulDiv: result overflows uint256")
    if remainder > 0:
        # require(result < type(uint256).max) before result++
        if result == _MAX_UINT256:
            raise EvmRevert("", "FullMath.mulDivRoundingUp: result overflows uint256")
        result += 1
    return result

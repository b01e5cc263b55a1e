"""LiquidityMath.sol: add a signed int128 delta to a uint128 liquidity."""

from __future__ import annotations

from amm_math.errors import EvmRevert

__all__ = ["add_delta"]

_MAX_UINT128 = (1 << 128) - 1


def add_delta(x: int, y: int) -> int:
    """Return liquidity x plus the signed delta y; revert 'LS' below 0 and 'LA' above uint128."""
    z = x + y
    # The contract computes z in uint128, which wraps: `require(z < x)` after a subtraction and
    # `require(z >= x)` after an addition are exactly these range checks on the true sum.
    if y < 0:
        if z < 0:
            raise EvmRevert("LS")
    elif z > _MAX_UINT128:
        raise EvmRevert("LA")
    return z

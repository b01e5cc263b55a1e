"""UnsafeMath.sol: division rounding up, with the EVM's division by zero yielding 0."""

from __future__ import annotations

__all__ = ["div_rounding_up"]


def div_rounding_up(x: int, y: int) -> int:
    """Return ceil(x / y) for uint256 x, y; 0 when y is 0, as the EVM `div`/`mod` give."""
    if y == 0:
        # assembly `div(x, 0)` and `mod(x, 0)` are both 0 in the EVM: no revert
        return 0
    quotient, remainder = divmod(x, y)
    return quotient + 1 if remainder > 0 else quotient

"""BitMath.sol: index of the most and least significant set bit of a uint256.

The contract finds them by binary search over shifted masks; `int.bit_length` gives the same
index for every 0 < x < 2**256, so that is used here.
"""

from __future__ import annotations

from amm_math.errors import EvmRevert

__all__ = ["least_significant_bit", "most_significant_bit"]


def most_significant_bit(x: int) -> int:
    """Return the index (0..255) of the highest set bit of x; revert when x is 0."""
    if x <= 0:
        raise EvmRevert("", "BitMath.mostSignificantBit: x is 0")
    return x.bit_length() - 1


def least_significant_bit(x: int) -> int:
    """Return the index (0..255) of the lowest set bit of x; revert when x is 0."""
    if x <= 0:
        raise EvmRevert("", "BitMath.leastSignificantBit: x is 0")
    return (x & -x).bit_length() - 1

"""TickBitmap.sol: one bit per initialized (compressed) tick, 256 ticks per uint256 word.

The bitmap is a dict word_pos (int16) -> word (uint256); a missing key is a zero word.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.bit_math import least_significant_bit, most_significant_bit

__all__ = ["flip_tick", "next_initialized_tick_within_one_word", "position"]


def position(tick: int) -> tuple[int, int]:
    """Return (word_pos, bit_pos) of a compressed tick in the bitmap."""
    # Solidity's int24 `>>` is arithmetic like Python's; uint8(tick % 256) wraps Solidity's
    # truncated (possibly negative) remainder to the value Python's floor modulo gives
    return tick >> 8, tick % 256


def flip_tick(bitmap: MutableMapping[int, int], tick: int, tick_spacing: int) -> None:
    """Flip the initialized bit of `tick` in place; revert unless tick is a multiple of spacing."""
    if tick % tick_spacing != 0:
        raise EvmRevert("", "TickBitmap.flipTick: tick is not a multiple of the spacing")
    # exact division, so Solidity's truncation and Python's floor agree
    word_pos, bit_pos = position(tick // tick_spacing)
    word = bitmap.get(word_pos, 0) ^ (1 << bit_pos)
    if word:
        bitmap[word_pos] = word
    else:
        # a zero word and a missing key read the same, as in a storage mapping
        bitmap.pop(word_pos, None)


def next_initialized_tick_within_one_word(
    bitmap: Mapping[int, int], tick: int, tick_spacing: int, lte: bool
) -> tuple[int, bool]:
    """Return (next_tick, initialized): the next initialized tick within the word, or its edge.

    lte searches at or below `tick`, otherwise strictly above it.
    """
    # Solidity truncates then decrements negative non-multiples: floor division
    compressed = tick // tick_spacing

    if lte:
        word_pos, bit_pos = position(compressed)
        # all the 1s at or to the right of the current bit_pos
        mask = (1 << bit_pos) - 1 + (1 << bit_pos)
        masked = bitmap.get(word_pos, 0) & mask
        # no initialized tick at or right of the current tick: the rightmost tick of the word
        if masked != 0:
            return (compressed - (bit_pos - most_significant_bit(masked))) * tick_spacing, True
        return (compressed - bit_pos) * tick_spacing, False

    # start from the word of the next tick, since the current tick state doesn't matter
    word_pos, bit_pos = position(compressed + 1)
    # all the 1s at or to the left of bit_pos (within the uint256 word)
    mask = ~((1 << bit_pos) - 1)
    masked = bitmap.get(word_pos, 0) & mask
    # no initialized tick left of the current tick: the leftmost tick of the word
    if masked != 0:
        return (compressed + 1 + (least_significant_bit(masked) - bit_pos)) * tick_spacing, True
    return (compressed + 1 + (255 - bit_pos)) * tick_spacing, False

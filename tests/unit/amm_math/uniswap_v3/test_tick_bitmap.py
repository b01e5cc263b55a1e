"""TickBitmap.sol: the v3-core spec cases for flipTick and nextInitializedTickWithinOneWord."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.tick_bitmap import (
    flip_tick,
    next_initialized_tick_within_one_word,
    position,
)

SPEC_TICKS = [-200, -55, -4, 70, 78, 84, 139, 240, 535]


def _is_initialized(bitmap: dict[int, int], tick: int) -> bool:
    """The spec's isInitialized: the lte search from the tick lands on the tick itself."""
    nxt, initialized = next_initialized_tick_within_one_word(bitmap, tick, 1, True)
    return nxt == tick and initialized


def _bitmap(*ticks: int) -> dict[int, int]:
    bitmap: dict[int, int] = {}
    for tick in ticks:
        flip_tick(bitmap, tick, 1)
    return bitmap


def test_position_wraps_negative_ticks_like_solidity() -> None:
    assert position(0) == (0, 0)
    assert position(255) == (0, 255)
    assert position(256) == (1, 0)
    # int24 >> 8 is arithmetic; uint8(-1 % 256) wraps to 255
    assert position(-1) == (-1, 255)
    assert position(-256) == (-1, 0)
    assert position(-257) == (-2, 255)


def test_is_initialized_by_flips() -> None:
    assert not _is_initialized({}, 1)
    assert _is_initialized(_bitmap(1), 1)
    # flipped back
    assert not _is_initialized(_bitmap(1, 1), 1)
    # not changed by a flip of another tick, in this word or another one
    assert not _is_initialized(_bitmap(2), 1)
    assert _is_initialized(_bitmap(1 + 256), 257)
    assert not _is_initialized(_bitmap(1 + 256), 1)


def test_flips_only_the_specified_tick() -> None:
    bitmap = _bitmap(-230)
    assert _is_initialized(bitmap, -230)
    for other in (-231, -229, -230 + 256, -230 - 256):
        assert not _is_initialized(bitmap, other)
    flip_tick(bitmap, -230, 1)
    assert not _is_initialized(bitmap, -230)
    # a cleared word reads as zero and leaves no key behind
    assert bitmap == {}


def test_reverts_only_itself() -> None:
    bitmap = _bitmap(-230, -259, -229, 500, -259, -229, -259)
    assert _is_initialized(bitmap, -259)
    assert not _is_initialized(bitmap, -229)


def test_flip_tick_requires_a_spaced_tick() -> None:
    with pytest.raises(EvmRevert):
        flip_tick({}, 61, 60)
    bitmap: dict[int, int] = {}
    flip_tick(bitmap, -120, 60)
    assert bitmap == {-1: 1 << 254}


@pytest.mark.parametrize(
    ("tick", "lte", "expected"),
    [
        # lte = false
        (78, False, (84, True)),  # returns the tick to the right if at an initialized tick
        (-55, False, (-4, True)),
        (77, False, (78, True)),  # returns the tick directly to the right
        (-56, False, (-55, True)),
        (255, False, (511, False)),  # on the right boundary: the next word's edge
        (-257, False, (-200, True)),
        (508, False, (511, False)),  # does not exceed the boundary
        (383, False, (511, False)),  # skips half a word
        # lte = true
        (78, True, (78, True)),  # returns the same tick if initialized
        (79, True, (78, True)),  # the tick directly to the left if not initialized
        (258, True, (256, False)),  # will not exceed the word boundary
        (256, True, (256, False)),  # at the word boundary
        (72, True, (70, True)),  # word boundary less 1
        (-257, True, (-512, False)),  # word boundary
        (1023, True, (768, False)),  # entire empty word
        (900, True, (768, False)),  # halfway through an empty word
    ],
)
def test_next_initialized_tick_within_one_word_spec(
    tick: int, lte: bool, expected: tuple[int, bool]
) -> None:
    bitmap = _bitmap(*SPEC_TICKS)
    assert next_initialized_tick_within_one_word(bitmap, tick, 1, lte) == expected


def test_next_initialized_tick_from_the_next_word() -> None:
    bitmap = _bitmap(*SPEC_TICKS, 340)
    assert next_initialized_tick_within_one_word(bitmap, 328, 1, False) == (340, True)


def test_boundary_is_initialized() -> None:
    bitmap = _bitmap(*SPEC_TICKS, 329)
    assert next_initialized_tick_within_one_word(bitmap, 456, 1, True) == (329, True)


@pytest.mark.parametrize("spacing", [1, 10, 60, 200])
def test_compressed_tick_rounds_toward_negative_infinity(spacing: int) -> None:
    bitmap: dict[int, int] = {}
    flip_tick(bitmap, -spacing, spacing)
    # any tick in (-spacing, 0) compresses to -1, so lte finds -spacing itself
    assert next_initialized_tick_within_one_word(bitmap, -1, spacing, True) == (-spacing, True)
    assert next_initialized_tick_within_one_word(bitmap, -spacing - 1, spacing, False) == (
        -spacing,
        True,
    )


@given(st.lists(st.integers(-2000, 2000), max_size=30), st.integers(-3000, 3000), st.booleans())
def test_next_tick_is_the_nearest_in_the_word(ticks: list[int], tick: int, lte: bool) -> None:
    initialized = set(ticks)
    bitmap: dict[int, int] = {}
    for t in initialized:
        flip_tick(bitmap, t, 1)
    nxt, found = next_initialized_tick_within_one_word(bitmap, tick, 1, lte)
    if lte:
        word = range((tick >> 8) << 8, tick + 1)
        candidates = [t for t in initialized if t in word]
        assert (nxt, found) == ((max(candidates), True) if candidates else (word[0], False))
    else:
        word = range(tick + 1, (((tick + 1) >> 8) << 8) + 256)
        candidates = [t for t in initialized if t in word]
        assert (nxt, found) == ((min(candidates), True) if candidates else (word[-1], False))

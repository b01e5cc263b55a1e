"""V3PoolState and the sorted-tick replacement for the contract's tick bitmap."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amm_math.uniswap_v3 import tick_bitmap
from amm_math.uniswap_v3.pool_state import (
    SwapResult,
    V3PoolState,
    next_initialized_tick_within_one_word,
    ticks_from_lists,
)
from amm_math.uniswap_v3.tick_math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK

Q96 = 2**96


def _state(**overrides: object) -> V3PoolState:
    fields: dict[str, object] = {
        "sqrt_price_x96": Q96,
        "tick": 0,
        "liquidity": 10**18,
        "fee_pips": 3000,
        "tick_spacing": 60,
        "ticks": {-120: 5, 60: -5},
        "liquidity_gross": {-120: 5, 60: 5},
    }
    fields.update(overrides)
    return V3PoolState(**fields)  # type: ignore[arg-type]


def test_state_copies_and_sorts_the_ticks() -> None:
    nets = {60: -5, -120: 5}
    state = _state(ticks=nets)
    assert state.sorted_ticks == (-120, 60)
    nets[180] = 1
    assert 180 not in state.ticks
    with pytest.raises(TypeError):
        state.ticks[180] = 1  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.tick = 5  # type: ignore[misc]


def test_state_pickles_and_deep_copies() -> None:
    state = _state()
    for clone in (pickle.loads(pickle.dumps(state)), copy.deepcopy(state), copy.copy(state)):
        assert clone == state
        assert clone.sorted_ticks == state.sorted_ticks


def test_states_compare_by_value() -> None:
    assert _state() == _state()
    assert _state() != _state(liquidity=1)
    assert "_sorted_ticks" not in repr(_state())


@pytest.mark.parametrize(
    "overrides",
    [
        {"tick_spacing": 0},
        {"fee_pips": 1_000_000},
        {"fee_pips": -1},
        {"sqrt_price_x96": MIN_SQRT_RATIO - 1},
        {"sqrt_price_x96": MAX_SQRT_RATIO},
        {"tick": MAX_TICK + 1},
        {"liquidity": -1},
        {"liquidity": 2**128},
        {"ticks": {61: 1}, "liquidity_gross": {}},  # not a multiple of the spacing
        {"ticks": {MIN_TICK - 8: 1}, "liquidity_gross": {}},
        {"ticks": {60: 2**127}, "liquidity_gross": {}},  # net is not an int128
        {"ticks": {60: 1}, "liquidity_gross": {120: 1}},  # gross of an unknown tick
        {"ticks": {60: 0}, "liquidity_gross": {60: 0}},  # initialized means gross > 0
    ],
)
def test_state_rejects_nonsense(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _state(**overrides)


def test_gross_may_be_unknown() -> None:
    state = _state(liquidity_gross={})
    assert state.liquidity_gross == {}


def test_with_price_shares_the_tick_maps() -> None:
    state = _state()
    moved = state.with_price(sqrt_price_x96=Q96 + 1, tick=0, liquidity=7)
    assert (moved.sqrt_price_x96, moved.tick, moved.liquidity) == (Q96 + 1, 0, 7)
    assert moved.ticks is state.ticks
    assert moved.sorted_ticks is state.sorted_ticks
    assert (state.sqrt_price_x96, state.liquidity) == (Q96, 10**18)
    with pytest.raises(ValueError):
        state.with_price(sqrt_price_x96=MAX_SQRT_RATIO, tick=0, liquidity=7)


def test_swap_result_defaults() -> None:
    result = SwapResult(amount0=1, amount1=-1, sqrt_price_x96=Q96, tick=0, liquidity=1)
    assert (result.ticks_crossed, result.steps) == (0, 0)


def test_ticks_from_lists() -> None:
    assert ticks_from_lists([-60, 60], [5, -5]) == {-60: 5, 60: -5}
    with pytest.raises(ValueError):
        ticks_from_lists([-60, 60], [5])
    with pytest.raises(ValueError):
        ticks_from_lists([60, 60], [5, -5])


@given(
    st.sampled_from([1, 10, 60, 200]),
    st.lists(st.integers(-5000, 5000), max_size=40),
    st.integers(-1_300_000, 1_300_000),
    st.booleans(),
)
def test_sorted_lookup_equals_the_bitmap(
    spacing: int, compressed: list[int], tick: int, lte: bool
) -> None:
    ticks = sorted({c * spacing for c in compressed})
    bitmap: dict[int, int] = {}
    for t in ticks:
        tick_bitmap.flip_tick(bitmap, t, spacing)
    expected = tick_bitmap.next_initialized_tick_within_one_word(bitmap, tick, spacing, lte)
    assert next_initialized_tick_within_one_word(ticks, tick, spacing, lte) == expected


@pytest.mark.parametrize("spacing", [1, 60])
@pytest.mark.parametrize("lte", [True, False])
def test_sorted_lookup_equals_the_bitmap_around_word_edges(spacing: int, lte: bool) -> None:
    ticks = [t * spacing for t in (-513, -512, -257, -256, -255, -1, 0, 1, 255, 256, 511)]
    bitmap: dict[int, int] = {}
    for t in ticks:
        tick_bitmap.flip_tick(bitmap, t, spacing)
    for tick in range(-600 * spacing, 600 * spacing, max(1, spacing // 7)):
        expected = tick_bitmap.next_initialized_tick_within_one_word(bitmap, tick, spacing, lte)
        assert next_initialized_tick_within_one_word(ticks, tick, spacing, lte) == expected

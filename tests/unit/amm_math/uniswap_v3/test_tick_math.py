"""TickMath.sol: the v3-core snapshot results, the spec's bounds and reverts, and properties."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)


def _vectors_dir() -> Path:
    """Return the shared v3-core snapshot folder beside the repository; fail if it is missing."""
    here = Path(__file__).resolve()
    root = next(p for p in here.parents if (p / "pyproject.toml").is_file())
    path = root / ".." / "shared" / "data" / "uniswap-v3-vectors"
    if not path.is_dir():
        raise FileNotFoundError(f"v3-core snapshot vectors not found at {path}")
    return path


SNAPSHOT = _vectors_dir() / "TickMath.spec.ts.snap"
_TEXT = SNAPSHOT.read_text()
SQRT_AT_TICK = [
    (int(tick), int(value))
    for tick, value in re.findall(
        r'exports\[`TickMath #getSqrtRatioAtTick tick (-?\d+) result 1`\] = `"(\d+)"`;', _TEXT
    )
]
TICK_AT_SQRT = [
    (int(ratio), int(value))
    for ratio, value in re.findall(
        r"exports\[`TickMath #getTickAtSqrtRatio ratio (\d+) result 1`\] = `(-?\d+)`;", _TEXT
    )
]


def test_snapshot_has_every_result() -> None:
    # every "result" entry of the snapshot is picked up by one of the two patterns
    assert len(SQRT_AT_TICK) + len(TICK_AT_SQRT) == _TEXT.count(" result 1`]")
    assert len(SQRT_AT_TICK) == 28
    assert len(TICK_AT_SQRT) == 13


@pytest.mark.parametrize(("tick", "expected"), SQRT_AT_TICK)
def test_get_sqrt_ratio_at_tick_snapshot(tick: int, expected: int) -> None:
    assert get_sqrt_ratio_at_tick(tick) == expected


@pytest.mark.parametrize(("ratio", "expected"), TICK_AT_SQRT)
def test_get_tick_at_sqrt_ratio_snapshot(ratio: int, expected: int) -> None:
    assert get_tick_at_sqrt_ratio(ratio) == expected


def test_constants() -> None:
    assert MIN_TICK == -887272
    assert MAX_TICK == 887272
    assert MIN_SQRT_RATIO == 4295128739
    assert MAX_SQRT_RATIO == 1461446703485210103287273052203988822378723970342


@pytest.mark.parametrize("tick", [MIN_TICK - 1, MAX_TICK + 1, -(2**23), 2**23 - 1])
def test_get_sqrt_ratio_at_tick_reverts_outside_the_ticks(tick: int) -> None:
    with pytest.raises(EvmRevert) as info:
        get_sqrt_ratio_at_tick(tick)
    assert info.value.code == "T"


def test_get_sqrt_ratio_at_tick_bounds() -> None:
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MIN_TICK + 1) == 4295343490
    assert get_sqrt_ratio_at_tick(MAX_TICK - 1) == 1461373636630004318706518188784493106690254656249
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(0) == 2**96


@pytest.mark.parametrize("ratio", [0, MIN_SQRT_RATIO - 1, MAX_SQRT_RATIO, 2**160 - 1])
def test_get_tick_at_sqrt_ratio_reverts_out_of_range(ratio: int) -> None:
    with pytest.raises(EvmRevert) as info:
        get_tick_at_sqrt_ratio(ratio)
    assert info.value.code == "R"


def test_get_tick_at_sqrt_ratio_bounds() -> None:
    assert get_tick_at_sqrt_ratio(MIN_SQRT_RATIO) == MIN_TICK
    assert get_tick_at_sqrt_ratio(4295343490) == MIN_TICK + 1
    assert get_tick_at_sqrt_ratio(1461373636630004318706518188784493106690254656249) == (
        MAX_TICK - 1
    )
    assert get_tick_at_sqrt_ratio(MAX_SQRT_RATIO - 1) == MAX_TICK - 1


@given(st.integers(MIN_TICK, MAX_TICK - 1))
def test_round_trip_and_monotonic(tick: int) -> None:
    ratio = get_sqrt_ratio_at_tick(tick)
    assert get_tick_at_sqrt_ratio(ratio) == tick
    upper = get_sqrt_ratio_at_tick(tick + 1)
    assert upper > ratio
    # the price just below the next tick's ratio still maps to this tick
    assert get_tick_at_sqrt_ratio(upper - 1) == tick


@given(st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1))
def test_tick_is_the_greatest_with_ratio_at_or_below(ratio: int) -> None:
    tick = get_tick_at_sqrt_ratio(ratio)
    assert get_sqrt_ratio_at_tick(tick) <= ratio
    assert tick == MAX_TICK - 1 or get_sqrt_ratio_at_tick(tick + 1) > ratio


@given(st.integers(MIN_TICK, MAX_TICK - 1), st.integers(0, 2**160))
def test_every_price_within_a_tick_maps_to_it(tick: int, offset: int) -> None:
    low = get_sqrt_ratio_at_tick(tick)
    high = get_sqrt_ratio_at_tick(tick + 1)
    assert get_tick_at_sqrt_ratio(low + offset % (high - low)) == tick

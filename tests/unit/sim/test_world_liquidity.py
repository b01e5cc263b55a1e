"""Float functions that size the world's liquidity: prices, ticks and position amounts."""

from __future__ import annotations

import pytest

from sim.world_liquidity import (
    MAX_TICK,
    MIN_TICK,
    align_tick,
    position_amounts,
    price_raw,
    sqrt_price_x96_of,
    tick_of_price,
)

Q96 = 2**96


# -- sqrt prices ----------------------------------------------------------------------------


def test_sqrt_price_of_one() -> None:
    assert abs(sqrt_price_x96_of(1.0) - Q96) <= 1


@pytest.mark.parametrize(("price", "root"), [(4.0, 2.0), (0.25, 0.5), (2.0**-40, 2.0**-20)])
def test_sqrt_price_of_exact_binary_squares(price: float, root: float) -> None:
    assert sqrt_price_x96_of(price) == int(root * Q96)


@pytest.mark.parametrize("price", [1e-30, 4e-10, 1.2345, 4e8, 2.5e9, 1e30])
def test_sqrt_price_round_trip(price: float) -> None:
    sqrt_x96 = sqrt_price_x96_of(price)
    assert isinstance(sqrt_x96, int)
    assert (sqrt_x96 / Q96) ** 2 == pytest.approx(price, rel=1e-12)


def test_sqrt_price_is_monotonic() -> None:
    prices = [10.0**e for e in range(-30, 31, 3)]
    values = [sqrt_price_x96_of(p) for p in prices]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


@pytest.mark.parametrize("price", [0.0, -1.0])
def test_sqrt_price_refuses_non_positive(price: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        sqrt_price_x96_of(price)


# -- ticks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tick", [0, 1, -1, 60, -60, 12345, -12345, 200_000, -200_000, 887_000])
def test_tick_of_price_inside_a_tick_range(tick: int) -> None:
    assert tick_of_price(1.0001 ** (tick + 0.5)) == tick
    assert tick_of_price(1.0001 ** (tick + 0.01)) == tick
    assert tick_of_price(1.0001 ** (tick + 0.99)) == tick


@pytest.mark.parametrize("tick", [0, 1, -1, 7, -7, 46_054, -46_054, 276_324, -276_324])
def test_tick_of_price_at_a_tick_boundary(tick: int) -> None:
    # float rounding may land a boundary price a hair below it: either side is fine
    assert tick_of_price(1.0001**tick) in (tick - 1, tick)


def test_tick_of_price_round_trip_over_the_whole_range() -> None:
    for tick in range(MIN_TICK, MAX_TICK, 997):
        price = 1.0001**tick
        got = tick_of_price(price)
        assert abs(got - tick) <= 1
        assert 1.0001**got <= price * (1 + 1e-12)
        assert price < 1.0001 ** (got + 1) * (1 + 1e-12)


def test_tick_of_price_of_one() -> None:
    assert tick_of_price(1.0) == 0
    assert tick_of_price(0.99999) == -1


def test_tick_of_price_refuses_non_positive() -> None:
    with pytest.raises(ValueError):
        tick_of_price(0.0)
    with pytest.raises(ValueError):
        tick_of_price(-1.0)


# -- tick alignment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tick", "spacing", "expected"),
    [
        (0, 60, 0),
        (59, 60, 0),
        (60, 60, 60),
        (119, 60, 60),
        (-1, 60, -60),
        (-59, 60, -60),
        (-60, 60, -60),
        (-61, 60, -120),
        (-200_001, 200, -200_200),
        (-5, 1, -5),
        (-15, 10, -20),
        (-10, 10, -10),
    ],
)
def test_align_tick(tick: int, spacing: int, expected: int) -> None:
    assert align_tick(tick, spacing) == expected


@pytest.mark.parametrize("spacing", [1, 10, 60, 200])
def test_align_tick_clamps_to_the_usable_range(spacing: int) -> None:
    highest = (MAX_TICK // spacing) * spacing
    assert align_tick(MAX_TICK, spacing) == highest
    assert align_tick(MAX_TICK + 10_000, spacing) == highest
    assert align_tick(MIN_TICK, spacing) == -highest
    assert align_tick(MIN_TICK - 10_000, spacing) == -highest
    assert -highest >= MIN_TICK and highest <= MAX_TICK


def test_align_tick_known_extremes() -> None:
    assert align_tick(MAX_TICK, 60) == 887_220
    assert align_tick(MIN_TICK, 60) == -887_220
    assert align_tick(MIN_TICK, 10) == -887_270  # floor gives -887_280, below MIN_TICK
    assert align_tick(MIN_TICK, 200) == -887_200


@pytest.mark.parametrize("spacing", [1, 10, 60, 200])
def test_align_tick_is_a_multiple_not_above_the_tick(spacing: int) -> None:
    for tick in range(-1_000, 1_000, 7):
        aligned = align_tick(tick, spacing)
        assert aligned % spacing == 0
        assert aligned <= tick < aligned + spacing


# -- position amounts -----------------------------------------------------------------------


def _value(amounts: tuple[int, int], price: float) -> float:
    return amounts[0] * price + amounts[1]


@pytest.mark.parametrize("price", [1.0, 4e8, 2.5e-9, 1.2345])
def test_position_amounts_in_range(price: float) -> None:
    tick = tick_of_price(price)
    value = 1e24
    amounts = position_amounts(price, tick - 600, tick + 600, value)
    assert amounts[0] > 0 and amounts[1] > 0
    assert all(isinstance(a, int) for a in amounts)
    assert _value(amounts, price) == pytest.approx(value, rel=1e-6)


def test_position_amounts_symmetric_range_is_about_half_and_half() -> None:
    amounts = position_amounts(1.0, -600, 600, 1e24)
    assert amounts[0] == pytest.approx(amounts[1], rel=1e-3)


@pytest.mark.parametrize("price", [1.0, 4e8, 2.5e-9])
def test_position_amounts_below_range_is_token0_only(price: float) -> None:
    tick = tick_of_price(price)
    value = 1e24
    amount0, amount1 = position_amounts(price, tick + 120, tick + 720, value)
    assert amount1 == 0
    assert amount0 > 0
    assert _value((amount0, amount1), price) == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize("price", [1.0, 4e8, 2.5e-9])
def test_position_amounts_above_range_is_token1_only(price: float) -> None:
    tick = tick_of_price(price)
    value = 1e24
    amount0, amount1 = position_amounts(price, tick - 720, tick - 120, value)
    assert amount0 == 0
    assert amount1 > 0
    assert _value((amount0, amount1), price) == pytest.approx(value, rel=1e-6)


def test_position_amounts_more_token1_when_price_near_the_top() -> None:
    low_in_range = position_amounts(1.0001**-500, -600, 600, 1e24)
    high_in_range = position_amounts(1.0001**500, -600, 600, 1e24)
    assert low_in_range[0] * 1.0001**-500 > low_in_range[1]
    assert high_in_range[0] * 1.0001**500 < high_in_range[1]


def test_position_amounts_scale_with_value() -> None:
    small = position_amounts(1.5, -600, 600, 1e20)
    large = position_amounts(1.5, -600, 600, 1e23)
    assert large[0] == pytest.approx(small[0] * 1000, rel=1e-6)
    assert large[1] == pytest.approx(small[1] * 1000, rel=1e-6)


# -- raw prices -----------------------------------------------------------------------------


def test_price_raw_same_decimals() -> None:
    assert price_raw(1.0, 18, 0.5, 18, 0.0) == pytest.approx(2.0)


def test_price_raw_weth_per_usdc() -> None:
    # token0 = USDC (6 decimals, 0.0004 ETH), token1 = WETH (18 decimals)
    # one raw USDC unit is 1e-6 USDC = 4e-10 ETH = 4e8 wei
    assert price_raw(0.0004, 6, 1.0, 18, 0.0) == pytest.approx(4e8, rel=1e-12)


def test_price_raw_usdc_per_weth() -> None:
    # one wei is 1e-18 ETH = 2.5e-15 USDC = 2.5e-9 raw USDC units
    assert price_raw(1.0, 18, 0.0004, 6, 0.0) == pytest.approx(2.5e-9, rel=1e-12)


def test_price_raw_is_inverted_by_swapping_tokens() -> None:
    forward = price_raw(25.0, 8, 0.0004, 6, 0.0)
    backward = price_raw(0.0004, 6, 25.0, 8, 0.0)
    assert forward * backward == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("skew", [0.006, -0.006, 0.5])
def test_price_raw_skew(skew: float) -> None:
    base = price_raw(0.0004, 6, 1.0, 18, 0.0)
    assert price_raw(0.0004, 6, 1.0, 18, skew) == pytest.approx(base * (1 + skew), rel=1e-12)

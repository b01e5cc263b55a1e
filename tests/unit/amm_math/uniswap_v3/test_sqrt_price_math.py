"""SqrtPriceMath.sol: the v3-core spec cases, reverts and rounding properties."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.sqrt_price_math import (
    Q96,
    get_amount0_delta,
    get_amount0_delta_signed,
    get_amount1_delta,
    get_amount1_delta_signed,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)
from amm_math.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

E18 = 10**18
MAX_UINT128 = 2**128 - 1
MAX_UINT256 = 2**256 - 1

_CTX = Context(prec=400)
_DP40 = Decimal(1).scaleb(-40)


def encode_price_sqrt(reserve1: int, reserve0: int) -> int:
    """The v3-core tests' encodePriceSqrt: bignumber.js at 40 decimals (half up), then floor."""
    ratio = _CTX.divide(Decimal(reserve1), Decimal(reserve0))
    ratio = ratio.quantize(_DP40, rounding=ROUND_HALF_UP, context=_CTX)
    root = _CTX.sqrt(ratio).quantize(_DP40, rounding=ROUND_HALF_UP, context=_CTX)
    scaled = _CTX.multiply(root, Decimal(2**96))
    return int(scaled.to_integral_value(rounding=ROUND_FLOOR, context=_CTX))


PRICE_1 = encode_price_sqrt(1, 1)


def test_encode_price_sqrt() -> None:
    assert PRICE_1 == Q96
    assert encode_price_sqrt(121, 100) == 11 * Q96 // 10


# -- getNextSqrtPriceFromInput ------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "liquidity", "amount", "zero_for_one"),
    [
        (0, 1, E18 // 10, False),  # price is zero
        (1, 0, E18 // 10, True),  # liquidity is zero
        (2**160 - 1, 1024, 1024, False),  # the input amount overflows the price
    ],
)
def test_next_price_from_input_reverts(
    price: int, liquidity: int, amount: int, zero_for_one: bool
) -> None:
    with pytest.raises(EvmRevert):
        get_next_sqrt_price_from_input(price, liquidity, amount, zero_for_one)


def test_next_price_from_input_spec() -> None:
    # any input amount cannot underflow the price
    assert get_next_sqrt_price_from_input(1, 1, 2**255, True) == 1
    # returns the input price if the amount in is zero
    assert get_next_sqrt_price_from_input(PRICE_1, E18 // 10, 0, True) == PRICE_1
    assert get_next_sqrt_price_from_input(PRICE_1, E18 // 10, 0, False) == PRICE_1
    # returns the minimum price for max inputs
    sqrt_p = 2**160 - 1
    max_amount_no_overflow = MAX_UINT256 - (MAX_UINT128 << 96) // sqrt_p
    assert get_next_sqrt_price_from_input(sqrt_p, MAX_UINT128, max_amount_no_overflow, True) == 1
    # input amount of 0.1 token1 / token0
    assert get_next_sqrt_price_from_input(PRICE_1, E18, E18 // 10, False) == (
        87150978765690771352898345369
    )
    assert get_next_sqrt_price_from_input(PRICE_1, E18, E18 // 10, True) == (
        72025602285694852357767227579
    )
    # amountIn > type(uint96).max and zeroForOne = true
    assert get_next_sqrt_price_from_input(PRICE_1, 10 * E18, 2**100, True) == 624999999995069620
    # can return 1 with enough amountIn and zeroForOne = true
    assert get_next_sqrt_price_from_input(PRICE_1, 1, MAX_UINT256 // 2, True) == 1


# -- getNextSqrtPriceFromOutput -----------------------------------------------------------

SQRT_P_4_VIRTUAL_TOKEN0 = 20282409603651670423947251286016  # liquidity 1024: reserves 4 / 262144


@pytest.mark.parametrize(
    ("price", "liquidity", "amount", "zero_for_one"),
    [
        (0, 1, E18 // 10, False),  # price is zero
        (1, 0, E18 // 10, True),  # liquidity is zero
        (SQRT_P_4_VIRTUAL_TOKEN0, 1024, 4, False),  # exactly the virtual reserves of token0
        (SQRT_P_4_VIRTUAL_TOKEN0, 1024, 5, False),  # more than the virtual reserves of token0
        (SQRT_P_4_VIRTUAL_TOKEN0, 1024, 262145, True),  # more than the reserves of token1
        (SQRT_P_4_VIRTUAL_TOKEN0, 1024, 262144, True),  # exactly the reserves of token1
        (PRICE_1, 1, MAX_UINT256, True),  # impossible amount out, zero for one
        (PRICE_1, 1, MAX_UINT256, False),  # impossible amount out, one for zero
    ],
)
def test_next_price_from_output_reverts(
    price: int, liquidity: int, amount: int, zero_for_one: bool
) -> None:
    with pytest.raises(EvmRevert):
        get_next_sqrt_price_from_output(price, liquidity, amount, zero_for_one)


def test_next_price_from_output_spec() -> None:
    # just less than the virtual reserves of token1
    assert get_next_sqrt_price_from_output(SQRT_P_4_VIRTUAL_TOKEN0, 1024, 262143, True) == (
        77371252455336267181195264
    )
    assert get_next_sqrt_price_from_output(PRICE_1, E18 // 10, 0, True) == PRICE_1
    assert get_next_sqrt_price_from_output(PRICE_1, E18 // 10, 0, False) == PRICE_1
    # output amount of 0.1 token1 / token0
    assert get_next_sqrt_price_from_output(PRICE_1, E18, E18 // 10, False) == (
        88031291682515930659493278152
    )
    assert get_next_sqrt_price_from_output(PRICE_1, E18, E18 // 10, True) == (
        71305346262837903834189555302
    )


# -- getAmount0Delta / getAmount1Delta ----------------------------------------------------


def test_amount_deltas_spec() -> None:
    price_2 = encode_price_sqrt(2, 1)
    price_121 = encode_price_sqrt(121, 100)
    assert get_amount0_delta(PRICE_1, price_2, 0, True) == 0
    assert get_amount0_delta(PRICE_1, PRICE_1, 0, True) == 0
    assert get_amount1_delta(PRICE_1, price_2, 0, True) == 0
    assert get_amount1_delta(PRICE_1, PRICE_1, 0, True) == 0
    # 0.1 amount0 / amount1 for a price of 1 to 1.21
    assert get_amount0_delta(PRICE_1, price_121, E18, True) == 90909090909090910
    assert get_amount0_delta(PRICE_1, price_121, E18, False) == 90909090909090909
    assert get_amount1_delta(PRICE_1, price_121, E18, True) == 100000000000000000
    assert get_amount1_delta(PRICE_1, price_121, E18, False) == 99999999999999999
    # works for prices whose product overflows
    low, high = encode_price_sqrt(2**90, 1), encode_price_sqrt(2**96, 1)
    assert get_amount0_delta(low, high, E18, True) == get_amount0_delta(low, high, E18, False) + 1


def test_amount0_delta_reverts_on_a_zero_price() -> None:
    with pytest.raises(EvmRevert):
        get_amount0_delta(0, PRICE_1, E18, True)


def test_swap_computation_where_sqrt_p_times_sqrt_q_overflows() -> None:
    sqrt_p = 1025574284609383690408304870162715216695788925244
    liquidity = 50015962439936049619261659728067971248
    sqrt_q = get_next_sqrt_price_from_input(sqrt_p, liquidity, 406, True)
    assert sqrt_q == 1025574284609383582644711336373707553698163132913
    assert get_amount0_delta(sqrt_q, sqrt_p, liquidity, True) == 406


def test_signed_deltas() -> None:
    price_121 = encode_price_sqrt(121, 100)
    # a positive liquidity delta is owed to the pool rounded up, a negative one paid out down
    assert get_amount0_delta_signed(PRICE_1, price_121, E18) == 90909090909090910
    assert get_amount0_delta_signed(PRICE_1, price_121, -E18) == -90909090909090909
    assert get_amount1_delta_signed(PRICE_1, price_121, E18) == 100000000000000000
    assert get_amount1_delta_signed(PRICE_1, price_121, -E18) == -99999999999999999
    assert get_amount0_delta_signed(PRICE_1, price_121, -(2**127)) < 0


# -- properties ---------------------------------------------------------------------------

prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)
liquidities = st.integers(1, MAX_UINT128)


@given(prices, prices, st.integers(0, MAX_UINT128))
def test_rounding_up_adds_at_most_one(a: int, b: int, liquidity: int) -> None:
    for fn in (get_amount0_delta, get_amount1_delta):
        up, down = fn(a, b, liquidity, True), fn(b, a, liquidity, False)
        assert up - down in (0, 1)


@given(prices, liquidities, st.integers(0, 2**128), st.booleans())
def test_input_never_overshoots(
    price: int, liquidity: int, amount: int, zero_for_one: bool
) -> None:
    # the next price from an input never asks for more than that input
    try:
        next_price = get_next_sqrt_price_from_input(price, liquidity, amount, zero_for_one)
    except EvmRevert:
        return
    if zero_for_one:
        assert next_price <= price
        assert get_amount0_delta(next_price, price, liquidity, True) <= amount
    else:
        assert next_price >= price
        assert get_amount1_delta(price, next_price, liquidity, True) <= amount


@given(prices, liquidities, st.integers(0, 2**128), st.booleans())
def test_output_is_always_covered(
    price: int, liquidity: int, amount: int, zero_for_one: bool
) -> None:
    # the next price from an output always yields at least that output
    try:
        next_price = get_next_sqrt_price_from_output(price, liquidity, amount, zero_for_one)
    except EvmRevert:
        return
    if zero_for_one:
        assert next_price <= price
        assert get_amount1_delta(next_price, price, liquidity, False) >= amount
    else:
        assert next_price >= price
        assert get_amount0_delta(price, next_price, liquidity, False) >= amount

"""SwapMath.sol (v3-core 1.0.1): the v3-core spec cases and the invariants of one step."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

from hypothesis import given
from hypothesis import strategies as st

from amm_math.uniswap_v3.sqrt_price_math import (
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
)
from amm_math.uniswap_v3.swap_math import compute_swap_step
from amm_math.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

E18 = 10**18

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


def test_exact_amount_in_that_gets_capped_at_price_target_in_one_for_zero() -> None:
    target = encode_price_sqrt(101, 100)
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(PRICE_1, target, 2 * E18, E18, 600)
    assert (amount_in, fee, amount_out) == (9975124224178055, 5988667735148, 9925619580021728)
    assert amount_in + fee < E18
    assert sqrt_q == target
    assert sqrt_q < get_next_sqrt_price_from_input(PRICE_1, 2 * E18, E18, False)


def test_exact_amount_out_that_gets_capped_at_price_target_in_one_for_zero() -> None:
    target = encode_price_sqrt(101, 100)
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(PRICE_1, target, 2 * E18, -E18, 600)
    assert (amount_in, fee, amount_out) == (9975124224178055, 5988667735148, 9925619580021728)
    assert amount_out < E18
    assert sqrt_q == target
    assert sqrt_q < get_next_sqrt_price_from_output(PRICE_1, 2 * E18, E18, False)


def test_exact_amount_in_that_is_fully_spent_in_one_for_zero() -> None:
    target = encode_price_sqrt(1000, 100)
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(PRICE_1, target, 2 * E18, E18, 600)
    assert (amount_in, fee, amount_out) == (999400000000000000, 600000000000000, 666399946655997866)
    assert amount_in + fee == E18
    assert sqrt_q < target
    assert sqrt_q == get_next_sqrt_price_from_input(PRICE_1, 2 * E18, E18 - fee, False)


def test_exact_amount_out_that_is_fully_received_in_one_for_zero() -> None:
    target = encode_price_sqrt(10000, 100)
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(PRICE_1, target, 2 * E18, -E18, 600)
    assert (amount_in, fee, amount_out) == (2 * E18, 1200720432259356, E18)
    assert sqrt_q < target
    assert sqrt_q == get_next_sqrt_price_from_output(PRICE_1, 2 * E18, E18, False)


def test_amount_out_is_capped_at_the_desired_amount_out() -> None:
    step = compute_swap_step(
        417332158212080721273783715441582,
        1452870262520218020823638996,
        159344665391607089467575320103,
        -1,
        1,
    )
    # amount out would be 2 if not capped
    assert step == (417332158212080721273783715441581, 1, 1, 1)


def test_target_price_of_1_uses_partial_input_amount() -> None:
    amount = 3915081100057732413702495386755767
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(2, 1, 1, amount, 1)
    assert (amount_in, fee, amount_out) == (
        39614081257132168796771975168,
        39614120871253040049813,
        0,
    )
    assert amount_in + fee <= amount
    assert sqrt_q == 1


def test_entire_input_amount_taken_as_fee() -> None:
    step = compute_swap_step(2413, 79887613182836312, 1985041575832132834610021537970, 10, 1872)
    assert step == (2413, 0, 0, 10)


def test_intermediate_insufficient_liquidity_in_zero_for_one_exact_output() -> None:
    sqrt_p = 20282409603651670423947251286016
    target = sqrt_p * 11 // 10
    # virtual reserves of token0 are only 4
    assert compute_swap_step(sqrt_p, target, 1024, -4, 3000) == (target, 26215, 0, 79)


def test_intermediate_insufficient_liquidity_in_one_for_zero_exact_output() -> None:
    sqrt_p = 20282409603651670423947251286016
    target = sqrt_p * 9 // 10
    assert compute_swap_step(sqrt_p, target, 1024, -263000, 3000) == (target, 1, 26214, 1)


# -- invariants of one step ---------------------------------------------------------------

prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)
liquidities = st.integers(0, 2**128 - 1)
amounts = st.one_of(
    st.integers(-(2**255), 2**255 - 1),
    st.integers(-(10**30), 10**30),
)
fees = st.one_of(st.sampled_from([0, 100, 500, 3000, 10000]), st.integers(0, 999_999))


@given(prices, prices, liquidities, amounts, fees)
def test_step_invariants(
    current: int, target: int, liquidity: int, amount_remaining: int, fee_pips: int
) -> None:
    # between valid prices a step never reverts: every intermediate price stays in range
    sqrt_q, amount_in, amount_out, fee = compute_swap_step(
        current, target, liquidity, amount_remaining, fee_pips
    )
    assert min(amount_in, amount_out, fee) >= 0
    # the price moves toward the target and never past it
    if current >= target:
        assert target <= sqrt_q <= current
    else:
        assert current <= sqrt_q <= target
    if amount_remaining >= 0:
        assert amount_in + fee <= amount_remaining
    else:
        assert amount_out <= -amount_remaining
    # the price only stops short of the target when the amount is used up
    if sqrt_q != target and amount_remaining >= 0:
        assert amount_in + fee == amount_remaining
    if sqrt_q != target and amount_remaining < 0:
        assert amount_out == -amount_remaining

"""amm_math.uniswap_v2 against UniswapV2Library's 997/1000 formulas and UniswapV2Pair.swap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import (
    MAX_UINT112,
    V2PairState,
    get_amount_in,
    get_amount_out,
    swap_reserves,
)

reserves = st.integers(min_value=1, max_value=MAX_UINT112)
amounts = st.integers(min_value=1, max_value=MAX_UINT112)
fees_pips = st.sampled_from([3000, 2500, 2000, 1000, 500, 100, 0, 10_000, 999_999])


def library_get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut, verbatim."""
    amount_in_with_fee = amount_in * 997
    numerator = amount_in_with_fee * reserve_out
    denominator = reserve_in * 1000 + amount_in_with_fee
    return numerator // denominator


def library_get_amount_in(amount_out: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountIn, verbatim."""
    numerator = reserve_in * amount_out * 1000
    denominator = (reserve_out - amount_out) * 997
    return numerator // denominator + 1


def pair_k_passes(r0: int, r1: int, a0_in: int, a1_in: int, a0_out: int, a1_out: int) -> bool:
    """UniswapV2Pair.swap's K require, verbatim (0.30%: balance*1000 - amountIn*3)."""
    balance0, balance1 = r0 - a0_out + a0_in, r1 - a1_out + a1_in
    adjusted0, adjusted1 = balance0 * 1000 - a0_in * 3, balance1 * 1000 - a1_in * 3
    return adjusted0 * adjusted1 >= r0 * r1 * 1000**2


def pancake_get_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """PancakeLibrary.getAmountOut of PancakeSwap V2 (9975/10000)."""
    amount_in_with_fee = amount_in * 9975
    return amount_in_with_fee * reserve_out // (reserve_in * 10000 + amount_in_with_fee)


# -- the library's formulas ------------------------------------------------------------------


@settings(max_examples=1500)
@given(amount_in=amounts, reserve_in=reserves, reserve_out=reserves)
def test_amount_out_equals_the_library(amount_in: int, reserve_in: int, reserve_out: int) -> None:
    expected = library_get_amount_out(amount_in, reserve_in, reserve_out)
    assert get_amount_out(amount_in, reserve_in, reserve_out) == expected
    assert get_amount_out(amount_in, reserve_in, reserve_out, fee_pips=3000) == expected


@settings(max_examples=1500)
@given(data=st.data(), reserve_in=reserves, reserve_out=st.integers(2, MAX_UINT112))
def test_amount_in_equals_the_library(
    data: st.DataObject, reserve_in: int, reserve_out: int
) -> None:
    amount_out = data.draw(st.integers(1, reserve_out - 1))
    expected = library_get_amount_in(amount_out, reserve_in, reserve_out)
    assert get_amount_in(amount_out, reserve_in, reserve_out) == expected


@settings(max_examples=600)
@given(amount_in=amounts, reserve_in=reserves, reserve_out=reserves)
def test_pancakeswap_fee_is_2500_pips(amount_in: int, reserve_in: int, reserve_out: int) -> None:
    expected = pancake_get_amount_out(amount_in, reserve_in, reserve_out)
    assert get_amount_out(amount_in, reserve_in, reserve_out, fee_pips=2500) == expected


def test_known_values() -> None:
    # 1 token into a 1000/1000 pool: 997*1000 // (1000*1000 + 997)
    assert get_amount_out(1, 1000, 1000) == 0
    assert get_amount_out(10, 1000, 1000) == 9
    assert get_amount_out(10**18, 100 * 10**18, 200 * 10**18) == 1974316068794122597
    assert get_amount_in(1974316068794122597, 100 * 10**18, 200 * 10**18) == 10**18
    assert get_amount_out(10**18, 100 * 10**18, 200 * 10**18, fee_pips=0) == (
        200 * 10**36 // (101 * 10**18)
    )


# -- inverse properties ----------------------------------------------------------------------


@settings(max_examples=600)
@given(data=st.data(), reserve_in=reserves, reserve_out=st.integers(2, MAX_UINT112), fee=fees_pips)
def test_amount_in_buys_at_least_the_output(
    data: st.DataObject, reserve_in: int, reserve_out: int, fee: int
) -> None:
    amount_out = data.draw(st.integers(1, reserve_out - 1))
    amount_in = get_amount_in(amount_out, reserve_in, reserve_out, fee)
    assert get_amount_out(amount_in, reserve_in, reserve_out, fee) >= amount_out
    # getAmountIn is floor(exact) + 1, so two wei less lies below the exact minimum input
    if amount_in >= 3:
        assert get_amount_out(amount_in - 2, reserve_in, reserve_out, fee) < amount_out


@settings(max_examples=600)
@given(amount_in=amounts, reserve_in=reserves, reserve_out=reserves, fee=fees_pips)
def test_amount_out_is_paid_for_by_amount_in(
    amount_in: int, reserve_in: int, reserve_out: int, fee: int
) -> None:
    amount_out = get_amount_out(amount_in, reserve_in, reserve_out, fee)
    assert 0 <= amount_out < reserve_out
    if amount_out > 0:
        assert get_amount_in(amount_out, reserve_in, reserve_out, fee) <= amount_in + 1


# -- reverts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((0, 10, 10), "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT"),
        ((1, 0, 10), "UniswapV2Library: INSUFFICIENT_LIQUIDITY"),
        ((1, 10, 0), "UniswapV2Library: INSUFFICIENT_LIQUIDITY"),
    ],
)
def test_amount_out_reverts(args: tuple[int, int, int], code: str) -> None:
    with pytest.raises(EvmRevert) as raised:
        get_amount_out(*args)
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((0, 10, 10), "UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT"),
        ((1, 0, 10), "UniswapV2Library: INSUFFICIENT_LIQUIDITY"),
        ((1, 10, 0), "UniswapV2Library: INSUFFICIENT_LIQUIDITY"),
        ((11, 10, 10), "ds-math-sub-underflow"),
        ((10, 10, 10), ""),
    ],
)
def test_amount_in_reverts(args: tuple[int, int, int], code: str) -> None:
    with pytest.raises(EvmRevert) as raised:
        get_amount_in(*args)
    assert raised.value.code == code


@pytest.mark.parametrize("fee", [-1, 1_000_000, 2_000_000])
def test_fee_out_of_range_is_refused(fee: int) -> None:
    with pytest.raises(ValueError, match="fee_pips"):
        get_amount_out(1, 10, 10, fee)
    with pytest.raises(ValueError, match="fee_pips"):
        swap_reserves(10, 10, 1, 0, 0, 0, fee)


def test_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="amount_in"):
        get_amount_out(-1, 10, 10)


# -- the pair's K check ----------------------------------------------------------------------


@settings(max_examples=600)
@given(
    amount_in=amounts,
    reserve0=st.integers(1000, MAX_UINT112),
    reserve1=st.integers(1000, MAX_UINT112),
    fee=fees_pips,
    zero_for_one=st.booleans(),
)
def test_k_accepts_the_quote_and_refuses_one_wei_more(
    amount_in: int, reserve0: int, reserve1: int, fee: int, zero_for_one: bool
) -> None:
    reserve_in, reserve_out = (reserve0, reserve1) if zero_for_one else (reserve1, reserve0)
    if reserve_in + amount_in > MAX_UINT112:
        return
    amount_out = get_amount_out(amount_in, reserve_in, reserve_out, fee)
    if amount_out == 0:
        return

    def swap(out: int) -> tuple[int, int]:
        if zero_for_one:
            return swap_reserves(reserve0, reserve1, amount_in, 0, 0, out, fee)
        return swap_reserves(reserve0, reserve1, 0, amount_in, out, 0, fee)

    new_in, new_out = reserve_in + amount_in, reserve_out - amount_out
    assert swap(amount_out) == ((new_in, new_out) if zero_for_one else (new_out, new_in))
    with pytest.raises(EvmRevert) as raised:
        swap(amount_out + 1)
    assert raised.value.code in {"UniswapV2: K", "UniswapV2: INSUFFICIENT_LIQUIDITY"}
    if amount_out + 1 < reserve_out:
        assert raised.value.code == "UniswapV2: K"


@settings(max_examples=600)
@given(
    reserve0=st.integers(1, 10**30),
    reserve1=st.integers(1, 10**30),
    amounts_in=st.tuples(st.integers(0, 10**30), st.integers(0, 10**30)),
    amounts_out=st.tuples(st.integers(0, 10**30), st.integers(0, 10**30)),
)
def test_k_check_equals_the_pair_at_3000_pips(
    reserve0: int,
    reserve1: int,
    amounts_in: tuple[int, int],
    amounts_out: tuple[int, int],
) -> None:
    (a0_in, a1_in), (a0_out, a1_out) = amounts_in, amounts_out
    if (a0_out == 0 and a1_out == 0) or a0_out >= reserve0 or a1_out >= reserve1:
        return
    if a0_in == 0 and a1_in == 0:
        return
    passes = pair_k_passes(reserve0, reserve1, a0_in, a1_in, a0_out, a1_out)
    try:
        swap_reserves(reserve0, reserve1, a0_in, a1_in, a0_out, a1_out)
    except EvmRevert as revert:
        assert revert.code == "UniswapV2: K"
        assert not passes
    else:
        assert passes


@settings(max_examples=600)
@given(
    reserve0=st.integers(1, 10**30),
    reserve1=st.integers(1, 10**30),
    amount_in=st.integers(1, 10**30),
    extra_out=st.integers(-2, 2),
    dust_in=st.integers(0, 3),
)
def test_k_check_equals_the_pair_at_the_boundary(
    reserve0: int, reserve1: int, amount_in: int, extra_out: int, dust_in: int
) -> None:
    # token0 in, about the library's quote of token1 out, and maybe some token1 back in
    amount1_out = library_get_amount_out(amount_in, reserve0, reserve1) + extra_out
    if not 0 < amount1_out < reserve1:
        return
    amounts = (amount_in, dust_in, 0, amount1_out)
    passes = pair_k_passes(reserve0, reserve1, *amounts)
    if dust_in == 0:
        # the library's quote is the largest output the pair's K check lets through
        assert passes == (extra_out <= 0)
    try:
        swap_reserves(reserve0, reserve1, *amounts)
    except EvmRevert as revert:
        assert revert.code == "UniswapV2: K"
        assert not passes
    else:
        assert passes


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((100, 100, 10, 0, 0, 0), "UniswapV2: INSUFFICIENT_OUTPUT_AMOUNT"),
        ((100, 100, 10, 0, 100, 0), "UniswapV2: INSUFFICIENT_LIQUIDITY"),
        ((100, 100, 10, 0, 0, 100), "UniswapV2: INSUFFICIENT_LIQUIDITY"),
        ((100, 100, 0, 0, 0, 5), "UniswapV2: INSUFFICIENT_INPUT_AMOUNT"),
        ((100, 100, 10, 0, 0, 10), "UniswapV2: K"),
        ((MAX_UINT112 - 5, MAX_UINT112, 10, 0, 0, 1), "UniswapV2: OVERFLOW"),
    ],
)
def test_swap_reverts(args: tuple[int, ...], code: str) -> None:
    with pytest.raises(EvmRevert) as raised:
        swap_reserves(*args)
    assert raised.value.code == code


def test_reserves_above_uint112_are_refused() -> None:
    with pytest.raises(ValueError, match="reserve0"):
        swap_reserves(MAX_UINT112 + 1, 100, 10, 0, 0, 1)


def test_k_with_the_pancakeswap_fee() -> None:
    reserve0, reserve1, amount_in = 12282455599528885, 22045620, 10**15
    out_2500 = get_amount_out(amount_in, reserve0, reserve1, fee_pips=2500)
    out_3000 = get_amount_out(amount_in, reserve0, reserve1, fee_pips=3000)
    assert out_2500 > out_3000
    assert swap_reserves(reserve0, reserve1, amount_in, 0, 0, out_2500, 2500) == (
        reserve0 + amount_in,
        reserve1 - out_2500,
    )
    # the 0.25% quote takes more than a 0.30% pair allows
    with pytest.raises(EvmRevert, match="UniswapV2: K"):
        swap_reserves(reserve0, reserve1, amount_in, 0, 0, out_2500, 3000)


# -- V2PairState -----------------------------------------------------------------------------


def test_pair_state_quotes_both_directions() -> None:
    state = V2PairState(reserve0=5 * 10**18, reserve1=10_000 * 10**6, fee_pips=3000)
    assert state.quote_out(True, 10**18) == get_amount_out(10**18, 5 * 10**18, 10_000 * 10**6)
    assert state.quote_out(False, 10**9) == get_amount_out(10**9, 10_000 * 10**6, 5 * 10**18)
    assert state.quote_in(True, 10**9) == get_amount_in(10**9, 5 * 10**18, 10_000 * 10**6)
    assert state.quote_in(False, 10**18) == get_amount_in(10**18, 10_000 * 10**6, 5 * 10**18)


@settings(max_examples=500)
@given(
    reserve0=st.integers(10**3, 10**30),
    reserve1=st.integers(10**3, 10**30),
    amount_in=st.integers(1, 10**30),
    fee=fees_pips,
    zero_for_one=st.booleans(),
)
def test_after_swap_moves_the_reserves(
    reserve0: int, reserve1: int, amount_in: int, fee: int, zero_for_one: bool
) -> None:
    state = V2PairState(reserve0=reserve0, reserve1=reserve1, fee_pips=fee)
    amount_out = state.quote_out(zero_for_one, amount_in)
    if amount_out == 0:
        with pytest.raises(EvmRevert, match="INSUFFICIENT_OUTPUT_AMOUNT"):
            state.after_swap(zero_for_one, amount_in)
        return
    after, paid = state.after_swap(zero_for_one, amount_in)
    assert paid == amount_out
    assert after.fee_pips == fee
    if zero_for_one:
        assert (after.reserve0, after.reserve1) == (reserve0 + amount_in, reserve1 - amount_out)
    else:
        assert (after.reserve0, after.reserve1) == (reserve0 - amount_out, reserve1 + amount_in)
    # constant product never falls, and the state is frozen
    assert after.reserve0 * after.reserve1 >= reserve0 * reserve1
    with pytest.raises(AttributeError):
        after.reserve0 = 1  # type: ignore[misc]

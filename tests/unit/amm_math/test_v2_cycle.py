"""amm_math.v2_cycle: the exact best input of a V2 cycle against brute force and dense grids."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import get_amount_out
from amm_math.v2_cycle import (
    cycle_amounts,
    cycle_optimum,
    optimal_cycle_input,
    virtual_reserves,
)

Hop = tuple[int, int, int]
FEES_PIPS = (3000, 2500, 500)


def profit_at(hops: Sequence[Hop], amount_in: int) -> int | None:
    """Return the exact profit of sending amount_in around the cycle; None if the chain reverts."""
    try:
        return cycle_amounts(hops, amount_in)[-1] - amount_in
    except EvmRevert:
        return None


def brute_force(hops: Sequence[Hop]) -> int:
    """Return the best profit over every input that could pay: any x >= the last reserve loses."""
    best = 0
    for amount_in in range(1, hops[-1][1]):
        profit = profit_at(hops, amount_in)
        if profit is not None and profit > best:
            best = profit
    return best


def grid_best(hops: Sequence[Hop]) -> int:
    """Return the best profit of a geometric grid plus integer scans around x* and the grid best."""
    virtual_in, virtual_out = virtual_reserves(hops)
    real_optimum = max(1, math.isqrt(int(virtual_in * virtual_out)) - int(virtual_in))
    limit = hops[-1][1]
    grid = {max(1, int(limit ** (i / 1500))) for i in range(1501)}
    grid |= {max(1, real_optimum + real_optimum * i // 400) for i in range(-399, 400)}
    best_profit, best_in = 0, 1
    for amount_in in sorted(grid):
        profit = profit_at(hops, amount_in)
        if profit is not None and profit > best_profit:
            best_profit, best_in = profit, amount_in
    for center in (real_optimum, best_in):
        for amount_in in range(max(1, center - 1000), center + 1001):
            profit = profit_at(hops, amount_in)
            if profit is not None and profit > best_profit:
                best_profit = profit
    return best_profit


def assert_consistent(hops: Sequence[Hop]) -> tuple[int, int]:
    """Check optimal_cycle_input against cycle_amounts and return it."""
    amount_in, profit = optimal_cycle_input(hops)
    if amount_in == 0:
        assert profit == 0
    else:
        assert profit > 0
        assert cycle_amounts(hops, amount_in)[-1] - amount_in == profit
    return amount_in, profit


small_hop = st.tuples(
    st.integers(1, 2500), st.integers(1, 2500), st.sampled_from((*FEES_PIPS, 0, 10_000))
)


@settings(max_examples=400, deadline=None)
@given(hops=st.lists(small_hop, min_size=2, max_size=3))
def test_small_reserves_match_brute_force(hops: list[Hop]) -> None:
    _, profit = assert_consistent(hops)
    assert profit == brute_force(hops)
    optimum = cycle_optimum(hops)
    assert optimum.exact
    assert optimum.profit_bound == profit


@st.composite
def realistic_cycle(draw: st.DrawFn) -> list[Hop]:
    """Draw a 2- or 3-hop cycle of tokens with 6, 8 or 18 decimals and mispriced pools."""
    n_hops = draw(st.integers(2, 3))
    decimals = [draw(st.sampled_from((6, 8, 18))) for _ in range(n_hops)]
    hops = []
    for i in range(n_hops):
        depth_usd = draw(st.integers(10**3, 10**8))
        # each pool's price is off by up to 5% from the common one
        skew_bps = draw(st.integers(-500, 500))
        reserve_in = depth_usd * 10 ** decimals[i]
        reserve_out = depth_usd * 10 ** decimals[(i + 1) % n_hops] * (10_000 + skew_bps) // 10_000
        hops.append((reserve_in, max(1, reserve_out), draw(st.sampled_from(FEES_PIPS))))
    return hops


# fixed examples: a rare cycle needs more than the default budget (see the cut-short test), and
# here every search must finish, which makes "at least the grid's best" a theorem
@settings(max_examples=200, deadline=None, derandomize=True)
@given(hops=realistic_cycle())
def test_realistic_cycles_beat_a_dense_grid(hops: list[Hop]) -> None:
    amount_in, profit = assert_consistent(hops)
    optimum = cycle_optimum(hops)
    assert optimum.exact
    assert (optimum.amount_in, optimum.profit) == (amount_in, profit)
    best_seen = grid_best(hops)
    assert profit >= best_seen
    assert optimum.profit_bound >= best_seen


@pytest.mark.parametrize("fee_pips", FEES_PIPS)
@pytest.mark.parametrize("decimals", [(18, 18), (6, 18), (18, 6), (8, 18, 6), (6, 6, 6)])
def test_balanced_pools_never_pay(fee_pips: int, decimals: tuple[int, ...]) -> None:
    hops = [
        (10**6 * 10 ** decimals[i], 10**6 * 10 ** decimals[(i + 1) % len(decimals)], fee_pips)
        for i in range(len(decimals))
    ]
    assert optimal_cycle_input(hops) == (0, 0)
    assert grid_best(hops) == 0


def test_a_mispricing_below_the_fees_does_not_pay() -> None:
    # 0.4% apart, 0.6% of fees over two hops
    hops = [(10**24, 2_000 * 10**12, 3000), (2_000 * 10**12, 1_004 * 10**21, 3000)]
    assert optimal_cycle_input(hops) == (0, 0)


def test_brute_force_finds_nothing_when_the_search_says_so() -> None:
    hops = [(1000, 1010, 3000), (1000, 1000, 3000)]
    assert optimal_cycle_input(hops) == (0, 0)
    assert brute_force(hops) == 0


def test_a_known_cycle() -> None:
    # WETH -> USDC at 2000, USDC -> WETH at 1/1900: 5% apart
    hops = [(1_000 * 10**18, 2_000_000 * 10**6, 3000), (1_900_000 * 10**6, 1_000 * 10**18, 3000)]
    amount_in, profit = assert_consistent(hops)
    virtual_in, virtual_out = virtual_reserves(hops)
    real_optimum = math.sqrt(virtual_in * virtual_out) - virtual_in
    real_profit = (math.sqrt(virtual_out) - math.sqrt(virtual_in)) ** 2
    assert abs(amount_in - real_optimum) / real_optimum < 1e-6
    # one USDC unit is worth 5e8 wei: rounding there costs at most a few of them
    assert real_profit - 2 * 10**9 < profit <= real_profit
    assert profit >= grid_best(hops)


@settings(max_examples=300, deadline=None)
@given(
    hops=st.lists(
        st.tuples(st.integers(1, 10**30), st.integers(1, 10**30), st.sampled_from(FEES_PIPS)),
        min_size=1,
        max_size=4,
    ),
    amount_in=st.integers(1, 10**30),
)
def test_virtual_reserves_compose_the_real_curve(hops: list[Hop], amount_in: int) -> None:
    amount = Fraction(amount_in)
    for reserve_in, reserve_out, fee_pips in hops:
        gamma = Fraction(1_000_000 - fee_pips, 1_000_000)
        amount = gamma * amount * reserve_out / (reserve_in + gamma * amount)
    virtual_in, virtual_out = virtual_reserves(hops)
    assert amount == virtual_out * amount_in / (virtual_in + amount_in)


def test_cycle_amounts_chain_get_amount_out() -> None:
    hops = [(10**21, 2 * 10**12, 3000), (3 * 10**12, 10**9, 500), (10**9, 10**21, 2500)]
    first = get_amount_out(10**18, 10**21, 2 * 10**12, 3000)
    second = get_amount_out(first, 3 * 10**12, 10**9, 500)
    third = get_amount_out(second, 10**9, 10**21, 2500)
    assert cycle_amounts(hops, 10**18) == [first, second, third]


def test_cycle_amounts_revert_when_an_amount_rounds_to_zero() -> None:
    with pytest.raises(EvmRevert) as raised:
        cycle_amounts([(10**18, 10, 3000), (10, 10**18, 3000)], 1)
    assert raised.value.code == "UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT"


def test_bad_cycles_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one hop"):
        optimal_cycle_input([])
    with pytest.raises(ValueError, match="fee_pips"):
        optimal_cycle_input([(10, 10, 1_000_000), (10, 10, 3000)])
    with pytest.raises(EvmRevert, match="INSUFFICIENT_LIQUIDITY"):
        optimal_cycle_input([(10, 0, 3000), (10, 10, 3000)])


def test_a_cut_short_search_says_so_and_bounds_the_optimum() -> None:
    # a coarse 6-decimal token between 18-decimal hops: many jump points to visit
    hops = [
        (27321166711350824475295744, 3184636838587364, 3000),
        (842835736329983, 8115519490253, 500),
        (36677398179787, 36028188185776259531276288, 500),
    ]
    full = cycle_optimum(hops, max_candidates=1 << 20)
    short = cycle_optimum(hops, max_candidates=16)
    assert full.exact
    assert not short.exact
    assert short.candidates == 16
    assert short.profit <= full.profit <= short.profit_bound
    assert profit_at(hops, short.amount_in) == short.profit

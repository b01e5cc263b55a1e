"""Pools of an archive without snapshots: V3 in range from its first Swap; scoring real arbs."""

from __future__ import annotations

import pytest

from amm_math.uniswap_v3.pool import swap
from bot.backtest_real import score_real, taken_by
from chains.artifacts import repo_root
from chains.config_chain import load_chain_config
from chains.records import Kind
from chains.registry import Registry
from graph.state import PoolTable, StateError
from graph.state_v3 import in_range_bounds
from sim.inspect_model import Arbitrage, Hop
from tests.unit.graph.test_state import V2, V3, Blocks, position, v3_swap
from tests.unit.sim.test_fills import _candidate


def test_without_the_flag_a_swap_before_initialize_still_fails() -> None:
    table = PoolTable([V2, V3])
    with pytest.raises(StateError):
        table.apply(v3_swap(Blocks(), 1, 120, 10**20).records())


def test_first_swap_makes_the_pool_usable_in_its_tick_spacing_interval() -> None:
    table = PoolTable([V2, V3], v3_in_range_from_swap=True)
    b = Blocks()
    position(b, Kind.V3_MINT, 1, -600, 600, 10**18)  # before any Swap: skipped
    assert table.apply(b.records()) == set()
    assert table.v3_state(1) is None
    assert table.apply(v3_swap(Blocks(), 2, 130, 10**20).records()) == {1}
    state = table.v3_state(1)
    assert state is not None and state.liquidity == 10**20
    assert in_range_bounds(130, 60) == (120, 180)
    assert dict(state.ticks) == {120: 10**20, 180: -(10**20)}
    assert table.in_range_only == {1} and table.has_state[1]
    # a swap inside the interval is exact; one past its bound fills short
    inside = swap(state, True, 10**12)
    assert inside.amount0 == 10**12
    beyond = swap(state, True, 10**22)
    assert beyond.amount0 < 10**22 and beyond.liquidity == 0


def test_later_events_recentre_and_move_the_liquidity() -> None:
    table = PoolTable([V2, V3], v3_in_range_from_swap=True)
    table.apply(v3_swap(Blocks(), 1, 130, 10**20).records())
    table.apply(v3_swap(Blocks(), 2, -70, 3 * 10**20).records())
    state = table.v3_state(1)
    assert state is not None and dict(state.ticks) == {-120: 3 * 10**20, -60: -3 * 10**20}
    b = Blocks()
    position(b, Kind.V3_MINT, 3, -600, 600, 10**18)  # covers the tick: active liquidity rises
    position(b, Kind.V3_MINT, 3, 600, 1200, 10**18)  # outside: nothing known changes
    position(b, Kind.V3_BURN, 3, -600, 600, 4 * 10**17)
    table.apply(b.records())
    state = table.v3_state(1)
    assert state is not None and state.liquidity == 3 * 10**20 + 6 * 10**17
    assert state.ticks[-60] == -state.liquidity


def _registry() -> Registry:
    return Registry(load_chain_config(repo_root() / "configs" / "chains" / "mainnet.toml"))


def _arb(block: int, pools: tuple[str, ...], token: str) -> Arbitrage:
    return Arbitrage(
        block_number=block,
        transaction_hash="0x" + "ee" * 32,
        transaction_index=3,
        account="0x" + "aa" * 20,
        profit_token=token,
        start_amount=10**18,
        end_amount=10**18 + 5,
        profit=5,
        reverted=False,
        hops=tuple(
            Hop(pool=p, token_in=token, token_out=token, amount_in=1, amount_out=1) for p in pools
        ),
        source="logs",
    )


def test_a_candidate_on_the_same_pools_in_the_block_before_is_a_hit() -> None:
    candidate = _candidate(10**17)  # priced at block 100 for block 101
    pools = tuple(h.pool for h in candidate.hops)
    hit = score_real(
        [_arb(101, tuple(reversed(pools)), candidate.base_token)],
        {100: [candidate]},
        _registry(),
        {},
        base_tokens=[candidate.base_token],
        max_hops=3,
    )[0]
    assert hit.seen and hit.matches[0]["amount_in"] == candidate.amount_in
    assert "candidate at block 100" in hit.saw
    assert taken_by(candidate, [_arb(101, pools, candidate.base_token)]) == ("0x" + "ee" * 32,)
    assert taken_by(candidate, [_arb(102, pools, candidate.base_token)]) == ()


def test_a_miss_says_why() -> None:
    registry = _registry()
    missed = score_real(
        [_arb(101, ("0x" + "12" * 20, "0x" + "34" * 20), "0x" + "56" * 20)],
        {},
        registry,
        {},
        base_tokens=["0x" + "c0" * 20],
        max_hops=3,
    )[0]
    assert not missed.seen
    assert "not proven by a configured venue" in missed.saw
    assert "is not a base token" in missed.saw

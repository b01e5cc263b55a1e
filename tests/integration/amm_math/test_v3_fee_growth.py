"""Fee growth kept in Python against the real UniswapV3Pool on anvil, to the wei.

On a `sim.v3_lab` pool deployed on the world node, random swaps (exact in and out, both
directions, with and without price limits) and mints/burns run on the chain while
`amm_math.uniswap_v3.fee_growth` follows them, once from the call (`fee_growth_after_swap`)
and once from the Swap event alone (`replay_swap_event`, what the pool table does). After
every step feeGrowthGlobal0X128/1X128 and every initialized tick's feeGrowthOutside0X128/1X128,
read by `chains.snapshot`, must equal the tracked values. Then the pool table follows the
world's traffic from a snapshot and `diff_against_chain` (which compares fee growth too) must
stay empty with no pool's fee growth lost.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.fee_growth import (
    FeeGrowth,
    fee_growth_after_modify,
    fee_growth_after_swap,
    replay_swap_event,
)
from amm_math.uniswap_v3.pool import V3PoolState, burn, mint
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick
from chains.snapshot import PoolRef, diff_against_chain, snapshot_pools
from graph.state import PoolTable
from sim.traffic import Traffic, TrafficConfig
from sim.txs import TxReverted
from sim.v3_lab import V3Lab
from tests.integration.test_state_world import LogsToRecords, _block_number, _follow, _registry

pytestmark = pytest.mark.integration

E18 = 10**18
SWAPS = 120
FEE_PIPS = 3000
SPACING = 60


def _read(rpc: Any, pool: str) -> tuple[V3PoolState, FeeGrowth]:
    snap = snapshot_pools(rpc, [PoolRef(0, pool, "v3", FEE_PIPS, SPACING)])
    return snap.v3_states[0], snap.fee_growth[0]


def test_tracked_fee_growth_equals_the_pool(world: Any) -> None:
    rng = random.Random(5)
    lab = V3Lab.deploy(world.rpc)
    pool = lab.create_pool(FEE_PIPS, get_sqrt_ratio_at_tick(30))
    positions: list[tuple[int, int, int]] = []
    state, fees = _read(world.rpc, pool)
    assert fees == FeeGrowth(global0_x128=0, global1_x128=0, outside={})

    def modify(kind: str, lower: int, upper: int, amount: int) -> None:
        nonlocal state, fees
        op = mint if kind == "mint" else burn
        new = op(state, lower, upper, amount)[0]
        (lab.mint if kind == "mint" else lab.burn)(pool, lower, upper, amount)
        fees = fee_growth_after_modify(fees, state, new)
        state = new
        if kind == "mint":
            positions.append((lower, upper, amount))

    modify("mint", -60000, 60000, 10**4 * E18)
    for _ in range(5):
        lower = rng.randrange(-60, 58) * SPACING
        modify("mint", lower, lower + rng.randrange(1, 8) * SPACING, rng.randrange(1, 500) * E18)

    counts: Counter[str] = Counter()
    for i in range(SWAPS):
        if i % 10 == 9:
            # a new tick below the price starts with outside = the globals: crossing it down
            # next clears token1's slot when no token1 fee accrued in between
            lower = (state.tick // SPACING - rng.randrange(1, 4)) * SPACING
            modify("mint", lower, lower + SPACING * rng.randrange(1, 3), rng.randrange(1, 99) * E18)
            if positions and rng.random() < 0.5:
                low, up, amount = positions.pop(rng.randrange(len(positions)))
                modify("burn", low, up, amount)
                counts["burn"] += 1
        zfo = rng.random() < 0.5
        mode = rng.choice(("in", "out", "limited"))
        amount = rng.randrange(1, 300) * E18 + rng.randrange(10**9)
        limit = None
        if mode == "out":
            amount = -(amount // 3)
        elif mode == "limited":
            ticks = rng.randrange(1, 300)
            limit = get_sqrt_ratio_at_tick(state.tick + (-ticks if zfo else ticks))
        try:
            expected = fee_growth_after_swap(state, fees, zfo, amount, limit)
        except EvmRevert:
            with pytest.raises(TxReverted):
                lab.swap(pool, zfo, amount, limit)
            continue
        outcome = lab.swap(pool, zfo, amount, limit)
        r = expected.result
        assert (outcome.amount0, outcome.amount1, outcome.sqrt_price_x96) == (
            r.amount0,
            r.amount1,
            r.sqrt_price_x96,
        )
        replayed = replay_swap_event(
            state,
            fees,
            outcome.amount0,
            outcome.amount1,
            outcome.sqrt_price_x96,
            outcome.tick,
            outcome.liquidity,
        )
        assert replayed is not None, (
            i,
            mode,
            zfo,
            amount,
            limit,
            r,
            state.sqrt_price_x96,
            state.tick,
        )
        assert replayed.fee_growth == expected.fee_growth
        state = state.with_price(
            sqrt_price_x96=r.sqrt_price_x96, tick=r.tick, liquidity=r.liquidity
        )
        fees = expected.fee_growth
        chain_state, chain_fees = _read(world.rpc, pool)
        assert chain_state == state
        assert chain_fees == fees  # globals and every tick's outside values, to the wei
        counts[mode] += 1
        counts["crossings"] += len(expected.crossed_ticks)
        counts["slots_set"] += expected.slots_set
        counts["slots_cleared"] += expected.slots_cleared
    print(dict(counts))
    assert counts["in"] and counts["out"] and counts["limited"] and counts["burn"]
    assert counts["crossings"] >= 20
    assert counts["slots_set"] > 0 and counts["slots_cleared"] > 0


def test_table_keeps_fee_growth_through_world_traffic(world: Any) -> None:
    snapshot = snapshot_pools(world.rpc, _registry(world.manifest))
    assert snapshot.fee_growth.keys() == snapshot.v3_states.keys()
    table = PoolTable()
    table.load_snapshot(snapshot)
    conv = LogsToRecords(world.manifest)
    world.node.set_automine(False)
    traffic = Traffic(world.rpc, world.manifest, TrafficConfig(seed=9))
    for _ in range(15):
        traffic.run(1)
        _follow(table, conv, world.rpc, table.head[0] + 1, _block_number(world.rpc))
        assert diff_against_chain(table, world.rpc) == []
    assert traffic.stats.events["v3_swap"] > 0, traffic.stats.events
    assert table.fee_growth_lost == 0
    for spec in table.pools():
        if spec.kind == "v3" and table.v3_state(spec.pool_id) is not None:
            assert table.v3_fee_growth(spec.pool_id) is not None, spec

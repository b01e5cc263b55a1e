"""Gas predicted from the pool table's tracked state against executed cycles' gasUsed.

The calibration regime of `sim.gas_calibration` (the world's seasoned pools, 12 s blocks,
traffic, V3 pools dislocated so cycles cross ticks) runs while a `PoolTable` follows the
world's logs from one snapshot. Before each execution every `GasModel.predict` term comes from
the table alone: shape and crossings from exact quotes on its states, fee growth outside slots
set/cleared from its tracked fee growth (`fee_growth_after_swap`), never from chain reads. The
committed model (`configs/gas/local.toml`) must then predict tick-crossing executions within
5%; the same predictions without fee slots (what re-pricing did before the table knew fee
growth) are printed beside them.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from amm_math.uniswap_v3.fee_growth import fee_growth_after_swap
from chains.arb_executor import (
    Hop,
    Plan,
    deploy_executor,
    execute_calldata,
    fund_executor_weth,
    set_executor,
)
from chains.artifacts import repo_root
from chains.gas_model import load_gas_model
from chains.snapshot import diff_states, snapshot_pools
from graph.state import PoolTable
from sim.gas_calibration import (
    _balance,
    _dislocate_v3,
    _profitable_sizes,
)
from sim.traffic import Traffic, TrafficConfig
from sim.txs import UnlockedSender, wait_receipt
from sim.world_cycles import find_cycles, legs_by_token
from tests.integration.test_state_world import LogsToRecords, _block_number, _registry

pytestmark = pytest.mark.integration

EXECUTIONS = 100
WARMUP = 4
SEED = 11
BOUND_PCT = 5.0
_INVENTORY_WEI = 500 * 10**18
_EXECUTE_GAS = 1_500_000


def _follow(table: PoolTable, conv: LogsToRecords, rpc: Any) -> None:
    for number in range(table.head[0] + 1, _block_number(rpc) + 1):
        _, records = conv.block(rpc, number)
        table.apply(records)


def _table_features(table: PoolTable, cycle: Any, quote: Any) -> tuple[int, int, int] | None:
    """Return (crossing hops, fee slots set, fee slots cleared) from the table; None: unknown."""
    hops = slots_set = slots_cleared = 0
    amounts = (quote.amount_in, *quote.outs[:-1])
    for leg, amount in zip(cycle, amounts, strict=True):
        if not leg.is_v3:
            continue
        state = table.v3_state(leg.pool_id)
        fees = table.v3_fee_growth(leg.pool_id)
        if state is None or fees is None:
            return None
        swapped = fee_growth_after_swap(state, fees, leg.zero_for_one, amount)
        hops += bool(swapped.crossed_ticks)
        slots_set += swapped.slots_set
        slots_cleared += swapped.slots_cleared
    return hops, slots_set, slots_cleared


def test_table_fee_growth_predicts_tick_crossing_gas(world: Any) -> None:
    rpc, manifest = world.rpc, world.manifest
    model = load_gas_model(repo_root() / "configs" / "gas" / "local.toml")
    accounts = rpc.call("eth_accounts")
    owner, bot = UnlockedSender(rpc, accounts[1]), accounts[2]
    weth = manifest.contracts["weth"]
    executor = deploy_executor(owner, weth)
    set_executor(owner, executor, bot, True)
    fund_executor_weth(owner, weth, executor, _INVENTORY_WEI)
    cycles = find_cycles(legs_by_token(manifest), weth.lower())
    rpc.call("anvil_setBlockTimestampInterval", 12)

    table = PoolTable()
    table.load_snapshot(snapshot_pools(rpc, _registry(manifest)))
    conv = LogsToRecords(manifest)
    traffic = Traffic(rpc, manifest, TrafficConfig(seed=SEED, new_pool_probability=0.0))
    rng = random.Random(SEED)
    rows: list[tuple[int, int, int, int, int]] = []  # gas, predicted, without slots, set, cleared
    counts: Counter[str] = Counter()
    done = 0
    for rounds in range(2000):
        if done >= EXECUTIONS + WARMUP:
            break
        traffic.step()
        if rounds % 3 == 0:
            _dislocate_v3(rpc, manifest, accounts[3], rng)
        _follow(table, conv, rpc)
        snap = snapshot_pools(rpc, _registry(manifest))
        assert diff_states(table, snap) == []  # the table (fee growth too) is the chain's
        flash = done % 2 == 0
        cap = 10**24 if flash else _balance(rpc, weth, executor)
        options = [(c, s) for c in cycles if (s := _profitable_sizes(snap, c, cap))]
        if not options:
            continue
        # prefer cycles with V3 hops: the fee slot terms are what this test measures
        v3_options = [o for o in options if any(leg.is_v3 for leg in o[0])]
        cycle, sizes = rng.choice(v3_options or options)
        quote = sizes[-1] if rng.random() < 0.8 else rng.choice(sizes)
        features = _table_features(table, cycle, quote)
        assert features is not None, "fee growth of a V3 pool is unknown"
        crossing_hops, fee_set, fee_cleared = features
        n_v3 = sum(leg.is_v3 for leg in cycle)
        still = sum(
            snap.v3_states[leg.pool_id].tick == quote.v3_states[leg.pool_id].tick
            for leg in cycle
            if leg.is_v3
        )
        terms = {
            "flash": flash,
            "n_v2": len(cycle) - n_v3,
            "n_v3": n_v3,
            "ticks_crossed": quote.ticks_crossed,
            "parked_hops": sum(leg.is_v3 for leg in cycle[1:]),
            "word_steps": quote.word_steps,
            "crossing_hops": crossing_hops,
            "still_v3_hops": still,
            "flash_forwards": int(flash and not cycle[0].is_v3 and not cycle[1].is_v3),
        }
        predicted = model.predict(**terms, fee_slots_set=fee_set, fee_slots_cleared=fee_cleared)
        without = model.predict(**terms)
        plan = Plan(
            base_token=weth,
            amount_in=quote.amount_in,
            min_profit_wei=quote.outs[-1] - quote.amount_in,
            tip_wei=0,
            flash=flash,
            hops=tuple(
                Hop(
                    pool=leg.address,
                    zero_for_one=leg.zero_for_one,
                    is_v3=leg.is_v3,
                    fee_pips=0 if leg.is_v3 else leg.fee_pips,
                    amount_out=got,
                )
                for leg, got in zip(cycle, quote.outs, strict=True)
            ),
        )
        params = {
            "from": bot,
            "to": executor,
            "data": "0x" + execute_calldata(plan).hex(),
            "gas": hex(_EXECUTE_GAS),
        }
        receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", params), timeout_s=10.0)
        assert receipt is not None and int(receipt["status"], 16) == 1, receipt
        done += 1
        if done > WARMUP and quote.ticks_crossed > 0:
            rows.append((int(receipt["gasUsed"], 16), predicted, without, fee_set, fee_cleared))
        counts["executions"] += 1
    assert table.fee_growth_lost == 0

    def errors(column: int) -> list[float]:
        return [100.0 * abs(r[column] - r[0]) / r[0] for r in rows]

    with_slots, zero_slots = errors(1), errors(2)
    flips = [r for r in rows if r[3] or r[4]]
    for name, errs in (("tracked fee slots", with_slots), ("fee slots 0", zero_slots)):
        within = sum(e <= BOUND_PCT for e in errs)
        print(
            f"tick-crossing executions, {name}: {len(errs)}, max error {max(errs):.2f}%,"
            f" {within}/{len(errs)} within {BOUND_PCT}%"
        )
    print(
        f"executions {counts['executions']}, with fee slot flips {len(flips)},"
        f" slots set {sum(r[3] for r in rows)}, cleared {sum(r[4] for r in rows)}"
    )
    assert len(rows) >= 10 and flips
    assert max(with_slots) <= BOUND_PCT

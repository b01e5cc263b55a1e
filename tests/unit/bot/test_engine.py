"""Engine: records in, actions out — block searches, backruns, new pools, the block budget."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pytest

from amm_math.uniswap_v2 import get_amount_out
from bot.engine import Engine, EngineConfig
from chains.config_chain import Eip1559Params
from chains.gas_model import GasModel
from chains.records import FLAG_EXACT_OUTPUT, Kind, empty_records, set_value
from graph.state import PoolTable

WETH = "0x" + "c0" * 20
TKA = "0x" + "aa" * 20
TKB = "0x" + "bb" * 20
TKC = "0x" + "cc" * 20
E18 = 10**18
MODEL = GasModel(
    base_flash_gas=40_000,
    base_inventory_gas=35_000,
    per_v2_hop_gas=50_000,
    per_v3_hop_gas=60_000,
    per_tick_crossed_gas=20_000,
    per_parked_hop_gas=5_000,
    per_word_step_gas=1_000,
)
CONFIG = EngineConfig(
    weth=WETH,
    base_tokens=(WETH,),
    max_hops=3,
    tip_share_bps=5000,
    min_net_profit_wei=0,
    priority_fee_wei=10**9,
    eip1559=Eip1559Params(base_fee_max_change_denominator=8, elasticity_multiplier=2),
)


@dataclass
class Pool:
    pool_id: int
    address: str
    kind: str
    token0: str
    token1: str
    fee_pips: int = 3000
    tick_spacing: int = 0


@dataclass
class Snapshot:
    block_number: int = 100
    block_hash: str = "0x" + "64" * 32  # block 100, as _head(100, ...) would name it
    pools: list = field(default_factory=list)
    reserves: dict = field(default_factory=dict)
    v3_states: dict = field(default_factory=dict)
    fee_growth: dict = field(default_factory=dict)


# WETH/A, A/B, B/WETH (a triangle) and a second WETH/A pair on another venue
POOLS = [
    Pool(0, "0x" + "01" * 20, "v2", WETH, TKA),
    Pool(1, "0x" + "02" * 20, "v2", TKA, TKB),
    Pool(2, "0x" + "03" * 20, "v2", TKB, WETH),
    Pool(3, "0x" + "04" * 20, "v2", WETH, TKA),
]
# token0 < token1 by address: aa < bb < c0
ORDERED = {0: (TKA, WETH), 1: (TKA, TKB), 2: (TKB, WETH), 3: (TKA, WETH)}


def _engine(**config: object) -> Engine:
    snap = Snapshot()
    for pool in POOLS:
        t0, t1 = ORDERED[pool.pool_id]
        pool.token0, pool.token1 = t0, t1
        snap.pools.append((pool.pool_id, pool.address, "v2", 3000, 0))
        snap.reserves[pool.pool_id] = (1000 * E18, 1000 * E18)  # every price 1: nothing pays
    table = PoolTable()
    table.load_snapshot(snap)
    cfg = dataclasses.replace(CONFIG, **config)  # type: ignore[arg-type]
    return Engine(table=table, pools=POOLS, gas_model=MODEL, config=cfg)


def _head(number: int, parent: int) -> np.ndarray:
    record = empty_records(1)
    record["kind"] = Kind.BLOCK_HEAD
    record["pool_id"] = -1
    record["block_number"] = number
    record["block_hash"] = np.frombuffer(bytes([number % 256]) * 32, dtype=np.uint8)
    record["tx_hash"] = np.frombuffer(bytes([parent % 256]) * 32, dtype=np.uint8)
    for i, value in enumerate((1_700_000_000 + 12 * number, 10 * 10**9, 15_000_000, 30_000_000)):
        set_value(record[0], i, value)
    return record


def _sync(number: int, log_index: int, pool: int, r0: int, r1: int) -> np.ndarray:
    record = empty_records(1)
    record["kind"] = Kind.V2_SYNC
    record["pool_id"] = pool
    record["block_number"] = number
    record["log_index"] = log_index
    record["block_hash"] = np.frombuffer(bytes([number % 256]) * 32, dtype=np.uint8)
    record["tx_hash"] = np.frombuffer(bytes([log_index + 1]) * 32, dtype=np.uint8)
    set_value(record[0], 0, r0)
    set_value(record[0], 1, r1)
    return record


def test_a_dislocation_becomes_one_action_for_the_next_block() -> None:
    engine = _engine()
    # block 101: pool 0 (A/WETH) now pays 1.1 WETH per A: buy A elsewhere, sell it there
    batch = np.concatenate([_head(101, 100), _sync(101, 0, 0, 1000 * E18, 1100 * E18)])
    actions, reports = engine.on_records(batch)
    assert len(reports) == 1 and reports[0].number == 101
    report = reports[0]
    assert report.changed_pools == 1 and report.cycles_evaluated > 0
    assert report.profitable > 0 and report.candidates
    assert len(actions) == 1  # one executor account: one bundle per block
    action = actions[0]
    candidate = action.candidate
    assert candidate.target_block == 102 and candidate.block_number == 101
    assert action.parent_hash == bytes([101]) * 32
    # next base fee of a half-full block at 10 gwei stays 10 gwei
    assert action.next_base_fee_wei == 10 * 10**9
    assert candidate.gas_price_wei == 11 * 10**9
    assert 0 in candidate.pools
    # exact amounts: each hop re-quoted with amm_math on the new state
    reserves = {
        0: (1000 * E18, 1100 * E18),
        1: (1000 * E18,) * 2,
        2: (1000 * E18,) * 2,
        3: (1000 * E18,) * 2,
    }
    amount = candidate.amount_in
    for hop in candidate.hops:
        r0, r1 = reserves[hop.pool_id]
        r_in, r_out = (r0, r1) if hop.zero_for_one else (r1, r0)
        amount = get_amount_out(amount, r_in, r_out, 3000)
        assert hop.amount_out == amount
    assert candidate.net_profit_wei > 0
    # the same block's budget is used: more logs of block 101 are searched, nothing is added
    more_actions, more = engine.on_records(_sync(101, 1, 3, 1000 * E18, 1200 * E18))
    assert more_actions == [] and more[0].candidates
    assert more[0].dropped["block_budget_used"] >= 1


def test_nothing_pays_on_balanced_pools() -> None:
    engine = _engine()
    actions, reports = engine.on_records(
        np.concatenate([_head(101, 100), _sync(101, 0, 1, 10**21, 10**21 + 1)])
    )
    assert actions == [] and reports[0].candidates == []


def test_a_new_pool_joins_the_graph_and_is_searched() -> None:
    engine = _engine()
    before = engine.cycles.n_cycles
    created = empty_records(1)
    created["kind"] = Kind.PAIR_CREATED
    created["pool_id"] = 4
    created["block_number"] = 101
    created["log_index"] = 0
    created["block_hash"] = np.frombuffer(bytes([101]) * 32, dtype=np.uint8)
    created["tx_hash"] = np.frombuffer(bytes([9]) * 32, dtype=np.uint8)
    set_value(created[0], 0, int(TKC, 16))
    set_value(created[0], 1, int(WETH, 16))
    set_value(created[0], 2, int("0x" + "05" * 20, 16))
    created["aux"] = 3000
    batch = np.concatenate([_head(101, 100), created, _sync(101, 1, 4, 10 * E18, 10 * E18)])
    engine.on_records(batch)
    assert engine.tokens.get(TKC) is not None
    assert engine.cycles.n_cycles > before - 1  # a lone TKC pool adds no cycle yet
    # a second TKC/WETH pool at another price makes 2-cycles that pay
    created2 = created.copy()
    created2["pool_id"] = 5
    created2["block_number"] = 102
    created2["block_hash"] = np.frombuffer(bytes([102]) * 32, dtype=np.uint8)
    set_value(created2[0], 2, int("0x" + "06" * 20, 16))
    batch = np.concatenate([_head(102, 101), created2, _sync(102, 1, 5, 10 * E18, 12 * E18)])
    actions, _ = engine.on_records(batch)
    assert engine.cycles.n_cycles == before + 2
    assert actions and set(actions[0].candidate.pools) == {4, 5}


def test_a_pending_swap_is_backrun_on_a_scratch_copy() -> None:
    engine = _engine(bundles_per_block=1)
    engine.on_records(_head(101, 100))
    table_rows = [engine.table.row(p) for p in range(4)]
    pending = empty_records(1)
    pending["kind"] = Kind.PENDING_SWAP
    pending["pool_id"] = 0
    pending["n_hops"] = 1
    pending["hop_pool_ids"][0, 0] = 0
    pending["aux"] = 0  # sells WETH (token1) into pool 0: A gets dear there
    pending["tx_hash"] = np.frombuffer(bytes([0x77]) * 32, dtype=np.uint8)
    pending["raw_offset"] = 4096
    pending["raw_len"] = 120
    set_value(pending[0], 0, 100 * E18)
    set_value(pending[0], 1, 1)
    actions, reports = engine.on_records(pending)
    assert reports == [] and len(actions) == 1
    action = actions[0]
    assert action.victim is not None and action.victim.tx_hash == "0x" + "77" * 32
    assert (action.victim.raw_offset, action.victim.raw_len) == (4096, 120)
    assert action.candidate.pending_tx == action.victim.tx_hash
    assert action.candidate.target_block == 102
    # the confirmed table is untouched
    assert [engine.table.row(p) for p in range(4)] == table_rows
    # an exact-output swap that the victim's limit would make revert is skipped and counted
    bad = pending.copy()
    bad["flags"] = FLAG_EXACT_OUTPUT
    set_value(bad[0], 0, 1)  # max input 1 wei
    set_value(bad[0], 1, E18)
    assert engine.on_records(bad) == ([], [])
    assert engine.reports[-1].pending_skipped["victim_would_revert"] == 1


def test_a_refused_action_gives_its_block_slot_back() -> None:
    engine = _engine()
    actions, _ = engine.on_records(
        np.concatenate([_head(101, 100), _sync(101, 0, 0, 1000 * E18, 1100 * E18)])
    )
    engine.not_sent(actions[0])
    again, _ = engine.on_records(_sync(101, 1, 3, 1000 * E18, 1150 * E18))
    assert len(again) == 1


@pytest.mark.parametrize("kind", [Kind.REORG])
def test_a_reorg_searches_everything_again(kind: Kind) -> None:
    engine = _engine()
    engine.on_records(np.concatenate([_head(101, 100), _sync(101, 0, 0, 1000 * E18, 1100 * E18)]))
    reorg = empty_records(1)
    reorg["kind"] = kind
    reorg["pool_id"] = -1
    reorg["block_number"] = 100
    reorg["block_hash"] = np.frombuffer(bytes([100]) * 32, dtype=np.uint8)
    set_value(reorg[0], 0, 1)
    _, reports = engine.on_records(reorg)
    assert reports and reports[0].changed_pools == engine.cycles.n_pools


def test_a_backrun_never_shares_a_pool_with_the_blocks_own_action() -> None:
    engine = _engine()
    actions, _ = engine.on_records(
        np.concatenate([_head(101, 100), _sync(101, 0, 0, 1000 * E18, 1100 * E18)])
    )
    assert len(actions) == 1 and 0 in actions[0].candidate.pools
    # a pending swap through pool 0 again: its backrun would share pools with the block's action
    pending = empty_records(1)
    pending["kind"] = Kind.PENDING_SWAP
    pending["pool_id"] = 0
    pending["n_hops"] = 1
    pending["hop_pool_ids"][0, 0] = 0
    pending["tx_hash"] = np.frombuffer(bytes([0x78]) * 32, dtype=np.uint8)
    set_value(pending[0], 0, 100 * E18)
    set_value(pending[0], 1, 1)
    backruns, _ = engine.on_records(pending)
    assert backruns == []
    assert engine.reports[-1].dropped["pool_in_use"] >= 1


def test_a_batch_of_several_heads_is_searched_head_by_head() -> None:
    """A reader that fell behind sees blocks 101..103 in one batch: each head gets its own
    report and candidates, exactly as if each block had come alone; only the last head's
    actions are handed out (the earlier targets are mined already)."""
    blocks = [
        np.concatenate([_head(101, 100), _sync(101, 0, 0, 1000 * E18, 1100 * E18)]),
        np.concatenate([_head(102, 101), _sync(102, 0, 0, 1000 * E18, 1000 * E18)]),
        np.concatenate([_head(103, 102), _sync(103, 0, 3, 1000 * E18, 1150 * E18)]),
    ]
    alone = _engine()
    one_by_one = [alone.on_records(block) for block in blocks]
    together = _engine()
    actions, reports = together.on_records(np.concatenate(blocks))
    assert [r.number for r in reports] == [101, 102, 103]
    for (_, single), report in zip(one_by_one, reports, strict=True):
        assert single[0].candidates == report.candidates
    assert reports[0].candidates and reports[2].candidates
    assert reports[0].dropped["head_superseded"] == 1 and reports[0].actions == []
    assert [a.candidate for a in actions] == [a.candidate for a in one_by_one[2][0]]
    assert all(a.candidate.target_block == 104 for a in actions)

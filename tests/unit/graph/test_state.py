"""The pool table: records applied exactly, float mirrors, CSR ticks, dedupe and the journal."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

import numpy as np
import pytest

from amm_math.uniswap_v3.pool import V3PoolState, burn, mint
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick
from chains.records import Kind, empty_records, set_value
from chains.snapshot import PoolRef, PoolSnapshot, diff_states
from graph.state import (
    PoolRow,
    PoolSpec,
    PoolTable,
    RecordOrderError,
    ReorgTooDeep,
    StateError,
    UnknownPool,
)

Q96 = 2**96
V2 = PoolSpec(0, "0x" + "11" * 20, "v2", 3000, 0)
V3 = PoolSpec(1, "0x" + "22" * 20, "v3", 3000, 60)


def block_hash(number: int, fork: str = "") -> bytes:
    """Return a made-up hash for block `number` on branch `fork`."""
    return hashlib.sha256(f"{fork}:{number}".encode()).digest()


@dataclass
class Blocks:
    """Builds record batches block by block, with log indexes and hashes filled in."""

    fork: str = ""
    rows: list[dict[str, object]] = field(default_factory=list)
    log_index: int = 0

    def add(self, kind: Kind, number: int, pool_id: int = -1, values=(), **fields) -> Blocks:
        """Append one record of block `number` (the next log index of that block)."""
        self.rows.append(
            {"kind": kind, "number": number, "pool_id": pool_id, "values": values, **fields}
        )
        return self

    def records(self) -> np.ndarray:
        """Return the records built so far."""
        out = empty_records(len(self.rows))
        log_index: dict[int, int] = {}
        for record, row in zip(out, self.rows, strict=True):
            number = int(row["number"])
            record["kind"] = int(row["kind"])
            record["pool_id"] = int(row["pool_id"])
            record["block_number"] = number
            record["block_hash"] = np.frombuffer(block_hash(number, self.fork), dtype=np.uint8)
            if row["kind"] == Kind.BLOCK_HEAD:
                parent = block_hash(number - 1, str(row.get("parent_fork", self.fork)))
                record["tx_hash"] = np.frombuffer(parent, dtype=np.uint8)
            else:
                index = log_index.get(number, 0)
                log_index[number] = index + 1
                record["log_index"] = index
                record["tx_hash"] = np.frombuffer(block_hash(index, "tx"), dtype=np.uint8)
            for name in ("tick", "tick_lower", "tick_upper", "aux"):
                if name in row:
                    record[name] = int(row[name])
            for i, value in enumerate(row["values"]):
                set_value(record, i, int(value))
        return out


def sync(b: Blocks, number: int, r0: int, r1: int, pool_id: int = 0) -> Blocks:
    return b.add(Kind.V2_SYNC, number, pool_id, (r0, r1))


def v3_swap(b: Blocks, number: int, tick: int, liquidity: int, pool_id: int = 1) -> Blocks:
    sqrt = get_sqrt_ratio_at_tick(tick) + 12345
    return b.add(Kind.V3_SWAP, number, pool_id, (1, -1, sqrt, liquidity), tick=tick)


def position(b: Blocks, kind: Kind, number: int, lower: int, upper: int, amount: int) -> Blocks:
    return b.add(kind, number, 1, (amount, 0, 0), tick_lower=lower, tick_upper=upper)


def initialized_table() -> PoolTable:
    """Return a table with a synced V2 pool and an initialized V3 pool at block 1."""
    table = PoolTable([V2, V3])
    b = Blocks()
    sync(b, 1, 10**18, 2 * 10**18)
    b.add(Kind.V3_INITIALIZE, 1, 1, (0, 0, Q96), tick=0)
    table.apply(b.records())
    return table


def rows(table: PoolTable) -> list[PoolRow | None]:
    return [table.row(i) for i in range(table.n_pools)]


def test_v2_sync_sets_exact_reserves_and_mirrors() -> None:
    table = PoolTable([V2, V3])
    assert table.v2_reserves(0) is None and not table.has_state[0]
    big = 2**111 + 7
    b = sync(Blocks(), 5, big, 3).add(Kind.V2_SWAP, 5, 0, (1, 0, 0, 2))
    assert table.apply(b.records()) == {0}
    assert table.v2_reserves(0) == (big, 3)
    assert table.reserve0_f[0] == float(big) and table.reserve1_f[0] == 3.0
    assert table.kind.tolist() == [2, 3] and table.has_state.tolist() == [True, False]
    assert table.head == (5, block_hash(5))


def test_v2_swap_mint_burn_are_informational() -> None:
    table = initialized_table()
    b = Blocks().add(Kind.V2_SWAP, 2, 0, (5, 0, 0, 9)).add(Kind.V2_MINT, 2, 0, (1, 1))
    assert table.apply(b.add(Kind.V2_BURN, 2, 0, (1, 1)).records()) == set()
    assert table.v2_reserves(0) == (10**18, 2 * 10**18)


def test_v3_initialize_swap_mint_burn_match_amm_math() -> None:
    table = initialized_table()
    state = table.v3_state(1)
    assert state is not None and state.liquidity == 0 and dict(state.ticks) == {}
    b = Blocks()
    position(b, Kind.V3_MINT, 2, -60, 60, 10**20)  # in range: active liquidity rises
    position(b, Kind.V3_MINT, 2, 60, 120, 5 * 10**19)  # shares tick 60
    table.apply(b.records())
    expected = mint(mint(state, -60, 60, 10**20)[0], 60, 120, 5 * 10**19)[0]
    assert table.v3_state(1) == expected
    assert table.v3_state(1).liquidity == 10**20
    assert dict(expected.ticks) == {-60: 10**20, 60: -(10**20) + 5 * 10**19, 120: -5 * 10**19}

    b = Blocks()
    position(b, Kind.V3_MINT, 3, 60, 120, 5 * 10**19)  # tick 60: net 0, gross > 0 stays
    table.apply(b.records())
    state = table.v3_state(1)
    assert state.ticks[60] == 0 and state.liquidity_gross[60] == 2 * 10**20
    csr = table.csr()
    start, end = csr.bounds(1)
    assert csr.ticks[start:end].tolist() == [-60, 60, 120]
    assert csr.liquidity_net[start:end].tolist() == [1e20, 0.0, -1e20]
    assert csr.bounds(0) == (0, 0)

    b = Blocks()
    position(b, Kind.V3_BURN, 4, 60, 120, 10**20)  # clears 120, tick 60 keeps the first range
    position(b, Kind.V3_BURN, 4, -60, 60, 0)  # a poke changes nothing
    assert table.apply(b.records()) == {1}
    assert table.v3_state(1) == burn(state, 60, 120, 10**20)[0]
    assert dict(table.v3_state(1).ticks) == {-60: 10**20, 60: -(10**20)}

    b = v3_swap(Blocks(), 5, -30, 10**20)
    table.apply(b.records())
    state = table.v3_state(1)
    assert (state.tick, state.liquidity) == (-30, 10**20)
    assert state.sqrt_price_x96 == get_sqrt_ratio_at_tick(-30) + 12345
    assert table.sqrt_price_f[1] == state.sqrt_price_x96 / Q96
    assert table.liquidity_f[1] == 1e20 and table.tick[1] == -30


def test_csr_repacks_only_pools_whose_ticks_changed() -> None:
    table = initialized_table()
    table.apply(position(Blocks(), Kind.V3_MINT, 2, -60, 60, 10**20).records())
    first = table.csr()
    packed = table._ticks.repacked_pools
    table.apply(v3_swap(Blocks(), 3, 10, 10**20).records())
    second = table.csr()
    assert table._ticks.repacked_pools == packed  # a swap shares the tick mapping
    assert second.sqrt_price[1] == table.sqrt_price_f[1] != first.sqrt_price[1]
    assert table.csr() is second  # cached until the next change
    table.apply(position(Blocks(), Kind.V3_MINT, 4, -120, 60, 10**18).records())
    assert table.csr().ticks.tolist() == [-120, -60, 60]
    assert table._ticks.repacked_pools == packed + 1


def test_duplicates_are_skipped() -> None:
    table = initialized_table()
    b = Blocks()
    sync(b, 2, 7, 8)
    position(b, Kind.V3_MINT, 2, -60, 60, 10**18)
    batch = b.records()
    assert table.apply(batch) == {0, 1}
    after = rows(table)
    assert table.apply(batch) == set()  # the same block again
    assert table.apply(batch[1:]) == set()
    sync_next = sync(Blocks(), 3, 9, 9).records()
    table.apply(sync_next)
    assert table.apply(batch) == set()  # an older block, already applied
    assert table.v3_state(1) == after[1].v3
    assert table.v2_reserves(0) == (9, 9)


def test_snapshot_block_records_are_skipped() -> None:
    table = PoolTable()

    @dataclass
    class Snap:
        block_number: int = 7
        block_hash: str = "0x" + block_hash(7).hex()
        pools: tuple = (tuple(V2), tuple(V3))
        reserves: dict = field(default_factory=lambda: {0: (5, 6)})
        v3_states: dict = field(default_factory=dict)

    assert table.load_snapshot(Snap()) == {0, 1}
    assert table.head == (7, block_hash(7))
    assert table.apply(sync(Blocks(), 7, 1, 1).records()) == set()
    assert table.v2_reserves(0) == (5, 6)
    with pytest.raises(RecordOrderError):
        table.apply(sync(Blocks(), 6, 1, 1).records())
    with pytest.raises(ReorgTooDeep):
        table.rollback_to(6, block_hash(6))


def test_out_of_order_records_raise() -> None:
    table = initialized_table()
    batch = sync(sync(Blocks(), 2, 1, 1), 2, 2, 2).records()
    batch[1]["log_index"] = 0
    batch[1]["tx_hash"][0] ^= 1
    with pytest.raises(RecordOrderError):
        table.apply(batch)
    late = sync(Blocks(), 1, 3, 3).records()
    late["log_index"] = 9
    with pytest.raises(RecordOrderError):
        table.apply(late)  # a record of a closed block that was never applied


def test_head_must_extend_the_chain() -> None:
    table = initialized_table()
    table.apply(Blocks().add(Kind.BLOCK_HEAD, 2).records())
    assert table.head == (2, block_hash(2))
    with pytest.raises(RecordOrderError):
        table.apply(Blocks(fork="b").add(Kind.BLOCK_HEAD, 3).records())  # parent is b:2
    with pytest.raises(RecordOrderError):
        table.apply(Blocks(fork="b").add(Kind.BLOCK_HEAD, 2).records())  # same height
    table.apply(Blocks().add(Kind.BLOCK_HEAD, 2).add(Kind.BLOCK_HEAD, 3).records())
    assert table.head == (3, block_hash(3))


def test_records_for_unknown_pools_raise() -> None:
    table = initialized_table()
    with pytest.raises(UnknownPool):
        table.apply(sync(Blocks(), 2, 1, 1, pool_id=5).records())
    fresh = PoolTable([V3])
    with pytest.raises(StateError):
        fresh.apply(v3_swap(Blocks(), 2, 0, 0).records())


def test_new_pools_start_empty_and_roll_back() -> None:
    table = initialized_table()
    b = Blocks()
    b.add(Kind.PAIR_CREATED, 2, 2, (0xA, 0xB, 0xABC), aux=3000)
    b.add(Kind.POOL_CREATED, 2, 3, (0xA, 0xB, 0xDEF), aux=500, tick=10)
    assert table.apply(b.records()) == {2, 3}
    assert table.row(2) == PoolRow(spec=PoolSpec(2, "0x" + f"{0xABC:040x}", "v2", 3000, 0))
    assert table.row(3).spec == PoolSpec(3, "0x" + f"{0xDEF:040x}", "v3", 500, 10)
    assert table.v3_state(3) is None and table.kind.tolist() == [2, 3, 2, 3]
    b = Blocks()
    sync(b, 3, 4, 5, pool_id=2)
    b.add(Kind.V3_INITIALIZE, 3, 3, (0, 0, Q96), tick=0)
    position(b, Kind.V3_MINT, 3, -10, 10, 10**9)
    b.rows[-1]["pool_id"] = 3
    assert table.apply(b.records()) == {2, 3}
    assert table.v3_state(3).liquidity == 10**9
    assert table.rollback_to(2, block_hash(2)) == {2, 3}
    assert table.v2_reserves(2) is None and table.v3_state(3) is None
    assert table.rollback_to(1, block_hash(1)) == {2, 3}
    assert table.row(2) is None and table.kind.tolist() == [2, 3, 0, 0]
    assert len(table.pools()) == 2 and table.csr().bounds(3) == (0, 0)


def random_blocks(table: PoolTable, first: int, count: int, fork: str, seed: int) -> list:
    """Apply `count` blocks of random events; return the table's rows after each block."""
    rng = random.Random(seed)
    history = []
    for number in range(first, first + count):
        b = Blocks(fork=fork)
        b.add(Kind.BLOCK_HEAD, number, parent_fork=fork if number > first else "")
        for _ in range(rng.randint(0, 3)):
            choice = rng.random()
            if choice < 0.4:
                sync(b, number, rng.randint(1, 10**24), rng.randint(1, 10**24))
            elif choice < 0.7:
                lower = rng.randint(-5, 4) * 60
                position(b, Kind.V3_MINT, number, lower, lower + 60 * rng.randint(1, 3), 10**15)
            else:
                state = table.v3_state(1)
                v3_swap(b, number, rng.randint(-300, 300), state.liquidity if state else 0)
        table.apply(b.records())
        history.append(rows(table))
    return history


@pytest.mark.parametrize("depth", [1, 3, 64])
def test_rollback_restores_the_exact_state(depth: int) -> None:
    table = initialized_table()
    history = random_blocks(table, 2, 100, "", seed=depth)  # blocks 2..101
    head = 101
    ancestor = head - depth
    restored = table.rollback_to(ancestor, block_hash(ancestor))
    assert rows(table) == history[ancestor - 2]
    assert restored <= {0, 1}
    assert table.head == (ancestor, block_hash(ancestor))
    # the float columns follow the rows
    v3 = table.v3_state(1)
    assert table.sqrt_price_f[1] == v3.sqrt_price_x96 / Q96 and table.tick[1] == v3.tick
    assert table.reserve0_f[0] == float(table.v2_reserves(0)[0])
    # a new branch from the ancestor applies on top
    random_blocks(table, ancestor + 1, 5, f"fork{depth}", seed=99)
    assert table.head == (ancestor + 5, block_hash(ancestor + 5, f"fork{depth}"))


def test_reorg_record_rolls_back_and_the_new_branch_follows() -> None:
    table = initialized_table()
    history = random_blocks(table, 2, 10, "", seed=1)
    reorg = Blocks().add(Kind.REORG, 8, -1, (3,)).records()
    table.apply(reorg)
    assert rows(table) == history[8 - 2]
    b = Blocks(fork="x")
    b.add(Kind.BLOCK_HEAD, 9, parent_fork="")
    sync(b, 9, 123, 456)
    assert table.apply(b.records()) == {0}
    assert table.v2_reserves(0) == (123, 456)
    assert table.apply(reorg) == {0}  # a second reorg to the same ancestor drops branch x
    assert rows(table) == history[8 - 2]
    assert table.head == (8, block_hash(8))


def test_rollback_past_the_journal_raises() -> None:
    table = initialized_table()
    random_blocks(table, 2, 100, "", seed=5)  # head 101
    with pytest.raises(ReorgTooDeep):
        table.rollback_to(101 - 65, block_hash(101 - 65))
    with pytest.raises(ReorgTooDeep):
        table.rollback_to(100, block_hash(100, "other"))  # not the block applied there
    table.rollback_to(101 - 64, block_hash(101 - 64))


def test_empty_and_pending_records_are_skipped() -> None:
    table = initialized_table()
    batch = empty_records(2)
    batch[1]["kind"] = Kind.PENDING_SWAP
    assert table.apply(batch) == set()


def test_rows_are_immutable_snapshots() -> None:
    table = initialized_table()
    before = table.row(1)
    table.apply(position(Blocks(), Kind.V3_MINT, 2, -60, 60, 10**18).records())
    assert isinstance(before.v3, V3PoolState) and dict(before.v3.ticks) == {}


def test_diff_states_lists_every_difference() -> None:
    table = initialized_table()
    table.apply(position(Blocks(), Kind.V3_MINT, 2, -60, 60, 10**18).records())
    state = table.v3_state(1)
    chain = mint(state, 60, 120, 5)[0].with_price(
        sqrt_price_x96=state.sqrt_price_x96 + 1, tick=0, liquidity=state.liquidity
    )
    snapshot = PoolSnapshot(
        block_number=2,
        block_hash="0x" + block_hash(2).hex(),
        pools=(PoolRef(*V2), PoolRef(*V3)),
        reserves={0: (10**18, 2 * 10**18 + 1)},
        v3_states={1: chain},
        eth_calls=0,
        requests=0,
    )
    assert diff_states(table, snapshot) == [
        f"pool 0 {V2.address} (v2): reserve1 table {2 * 10**18} chain {2 * 10**18 + 1}",
        f"pool 1 {V3.address} (v3): sqrt_price_x96 table {Q96} chain {Q96 + 1}",
        f"pool 1 {V3.address} (v3): tick 60 (net, gross) table ({-(10**18)}, {10**18})"
        f" chain ({-(10**18) + 5}, {10**18 + 5})",
        f"pool 1 {V3.address} (v3): tick 120 (net, gross) table (None, None) chain (-5, 5)",
    ]
    same = PoolSnapshot(
        block_number=2,
        block_hash=snapshot.block_hash,
        pools=snapshot.pools,
        reserves={0: table.v2_reserves(0)},
        v3_states={1: state},
        eth_calls=0,
        requests=0,
    )
    assert diff_states(table, same) == []
    table.load_snapshot(snapshot)
    assert diff_states(table, snapshot) == [] and table.head == (2, block_hash(2))


def test_rollback_to_a_block_without_records() -> None:
    table = PoolTable([V2, V3], journal_depth_blocks=8)
    for number in (2, 5, 9):
        table.apply(sync(Blocks(), number, number, number).records())
    assert table.rollback_to(7, block_hash(7)) == {0}
    assert table.head == (7, block_hash(7)) and table.v2_reserves(0) == (5, 5)
    b = Blocks(fork="n").add(Kind.BLOCK_HEAD, 8, parent_fork="")
    table.apply(sync(b, 8, 8, 1).records())
    assert table.v2_reserves(0) == (8, 1)
    for number in range(9, 20):
        table.apply(sync(Blocks(), number, number, 0).records())
    with pytest.raises(ReorgTooDeep):
        table.rollback_to(19 - 9, block_hash(19 - 9))
    table.rollback_to(19 - 8, block_hash(19 - 8))
    assert table.v2_reserves(0) == (11, 0)

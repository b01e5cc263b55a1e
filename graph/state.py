"""The pool table: exact pool state by pool id, float64 mirrors for the search, a reorg journal.

Each pool is one immutable `PoolRow`: V2 reserves as Python ints, or a V3 `V3PoolState`
(sqrt price, tick, liquidity, initialized ticks with liquidity net and gross). Beside the rows
sit columnar numpy arrays indexed by pool id that the numba search reads: `kind`, `fee_pips`,
`tick_spacing`, `reserve0_f`/`reserve1_f` (V2), `sqrt_price_f`/`liquidity_f`/`tick` (V3), and
the V3 initialized ticks in CSR form (`csr()`, repacked only for pools whose ticks changed).

`apply(records)` takes `chains.records` batches in (block_number, log_index) order:

- V2_SYNC sets the reserves (V2 Swap/Mint/Burn are informational: the Sync carries the state);
- V3_SWAP sets price, tick and liquidity from the event, which carries the post-swap state;
- V3_MINT/V3_BURN update the ticks with amm_math's mint/burn (gross, net, and the active
  liquidity when in range); a Burn of 0 (a poke before collect) changes nothing;
- V3_INITIALIZE sets price and tick; PAIR_CREATED/POOL_CREATED add an empty pool;
- V3 fee growth (`PoolRow.fee_growth`, for the gas model's feeGrowthOutside slot flips) comes
  from the snapshot or starts at zero with an Initialize; a Swap re-runs the swap exactly on
  the previous state (`amm_math.uniswap_v3.fee_growth.replay_swap_event`) and keeps the fee
  growth only when that reproduces the event's price, tick, liquidity and input; Mint/Burn
  initialize and clear ticks' outside values as Tick.update/clear do. What cannot be followed
  exactly becomes None (unknown) until the next snapshot, never a guess;
- BLOCK_HEAD opens a block (its parent must be the head); REORG rolls back to the ancestor.

With `v3_in_range_from_swap` (archives without snapshots), a V3 pool with no state becomes
usable at its first Swap, in range only (`graph.state_v3.in_range_state`: exact inside the
current tick-spacing interval, no liquidity outside); each later Swap re-centres it, a
Mint/Burn that covers the current tick moves its liquidity, and Mint/Burn before its first
Swap are skipped. Such pools are listed in `in_range_only`; a snapshot replaces them.

Replays are idempotent: a record of the snapshot's block, or one whose (log_index, tx_hash)
the journal already holds for its block (the last `journal_depth_blocks` blocks are kept), is
skipped. A REORG is applied every time it arrives (two reorgs to one ancestor are
legitimate), so the feed must not replay one. A record the table cannot place (an older block
never applied, an out-of-order log index, a head that does not extend the chain) raises
RecordOrderError; a rollback past the journal raises ReorgTooDeep, which tells the engine to
resync from a snapshot. No I/O happens here:
`chains.snapshot` reads the chain, `load_snapshot` loads what it read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np

from amm_math.uniswap_v3.fee_growth import (
    FeeGrowth,
    fee_growth_after_modify,
    initial_fee_growth,
    replay_swap_event,
)
from amm_math.uniswap_v3.pool import V3PoolState, burn, mint
from amm_math.uniswap_v3.ticks_csr import CsrTicks
from chains.records import Kind
from graph.state_columns import KIND_CODE, PoolColumns, PoolRow, PoolSpec
from graph.state_journal import (
    DEFAULT_DEPTH_BLOCKS,
    BlockEntry,
    Journal,
    RecordOrderError,
    ReorgTooDeep,
    StateError,
    UnknownPool,
)
from graph.state_v3 import TickCsrCache, in_range_after

__all__ = [
    "KIND_CODE",
    "PoolRow",
    "PoolSpec",
    "PoolTable",
    "RecordOrderError",
    "ReorgTooDeep",
    "SnapshotLike",
    "StateError",
    "UnknownPool",
]

_ZERO_HASH = bytes(32)
_INFORMATIONAL = frozenset((Kind.V2_SWAP, Kind.V2_MINT, Kind.V2_BURN))
_SKIPPED = frozenset((Kind.EMPTY, Kind.PENDING_SWAP))
_V3_EVENTS = frozenset((Kind.V3_SWAP, Kind.V3_MINT, Kind.V3_BURN))


class SnapshotLike(Protocol):
    """What `load_snapshot` reads (chains.snapshot.PoolSnapshot has this shape).

    A snapshot may also carry `fee_growth: Mapping[int, FeeGrowth]`; without it the V3 pools'
    fee growth is unknown.
    """

    block_number: int
    block_hash: str
    pools: tuple[tuple[int, str, str, int, int], ...]
    reserves: Mapping[int, tuple[int, int]]
    v3_states: Mapping[int, V3PoolState]


def _word(limbs: list[int]) -> int:
    """Join four little-endian uint64 limbs into an unsigned 256-bit int."""
    return limbs[0] | limbs[1] << 64 | limbs[2] << 128 | limbs[3] << 192


def _signed_word(limbs: list[int]) -> int:
    """Join four little-endian uint64 limbs into a 256-bit two's complement int."""
    value = _word(limbs)
    return value - (1 << 256) if value >> 255 else value


def _hash_bytes(block_hash: bytes | str) -> bytes:
    if isinstance(block_hash, str):
        return bytes.fromhex(block_hash.removeprefix("0x"))
    return bytes(block_hash)


class PoolTable(PoolColumns):
    """Pool state by pool id: exact rows, float64 columns, CSR ticks and the reorg journal."""

    def __init__(
        self,
        pools: Iterable[tuple[int, str, str, int, int]] = (),
        *,
        journal_depth_blocks: int = DEFAULT_DEPTH_BLOCKS,
        capacity: int = 64,
        v3_in_range_from_swap: bool = False,
    ) -> None:
        super().__init__(capacity)
        self.v3_in_range_from_swap = v3_in_range_from_swap
        self.in_range_only: set[int] = set()  # V3 pools known from Swaps only (no tick map)
        self._rows: list[PoolRow | None] = []
        self.journal = Journal(journal_depth_blocks)
        self._ticks = TickCsrCache()
        self._csr: CsrTicks | None = None
        # V3 Swap events whose exact replay failed: that pool's fee growth became unknown
        self.fee_growth_lost = 0
        for pool in pools:
            self.add_pool(PoolSpec(*pool))

    def csr(self) -> CsrTicks:
        """Return the V3 ticks and scalars of every pool id, CSR-packed (cached until a change)."""
        if self._csr is None:
            states = [None if row is None else row.v3 for row in self._rows]
            self._csr = self._ticks.pack(
                states, self.sqrt_price_f, self.liquidity_f, self.tick, self.fee_pips
            )
        return self._csr

    # -- exact reads ---------------------------------------------------------------------

    @property
    def head(self) -> tuple[int, bytes | None]:
        """Return (number, hash) of the newest block the table holds."""
        return self.journal.head

    def row(self, pool_id: int) -> PoolRow | None:
        """Return the pool's row, or None when no pool has this id."""
        return self._rows[pool_id] if 0 <= pool_id < len(self._rows) else None

    def pools(self) -> list[PoolSpec]:
        """Return the specs of every pool held, by id."""
        return [row.spec for row in self._rows if row is not None]

    def v2_reserves(self, pool_id: int) -> tuple[int, int] | None:
        """Return the exact (reserve0, reserve1) of a V2 pool, None before its first Sync."""
        row = self._require(pool_id)
        return row.reserves

    def v3_state(self, pool_id: int) -> V3PoolState | None:
        """Return the exact state of a V3 pool, None before its Initialize."""
        row = self._require(pool_id)
        return row.v3

    def v3_fee_growth(self, pool_id: int) -> FeeGrowth | None:
        """Return the exact fee growth of a V3 pool, None when unknown."""
        row = self._require(pool_id)
        return row.fee_growth

    def _require(self, pool_id: int) -> PoolRow:
        row = self.row(pool_id)
        if row is None:
            raise UnknownPool(f"no pool with id {pool_id}")
        return row

    # -- writes --------------------------------------------------------------------------

    def add_pool(self, spec: PoolSpec) -> None:
        """Add an empty pool outside any block (registry pools, before a snapshot)."""
        if spec.kind not in KIND_CODE:
            raise ValueError(f"pool {spec.pool_id}: kind must be 'v2' or 'v3', got {spec.kind!r}")
        self._put(spec.pool_id, PoolRow(spec=spec))

    def load_snapshot(self, snapshot: SnapshotLike) -> set[int]:
        """Load every pool of a snapshot; the journal restarts at the snapshot's block."""
        loaded = set()
        fee_growth: Mapping[int, FeeGrowth] = getattr(snapshot, "fee_growth", {})
        for pool in snapshot.pools:
            spec = PoolSpec(*pool)
            v3 = snapshot.v3_states.get(spec.pool_id)
            fees = fee_growth.get(spec.pool_id) if v3 is not None else None
            if fees is not None and fees.outside.keys() != v3.ticks.keys():
                raise ValueError(f"pool {spec.pool_id}: fee growth ticks differ from the state's")
            row = PoolRow(
                spec=spec,
                reserves=snapshot.reserves.get(spec.pool_id),
                v3=v3,
                fee_growth=fees,
            )
            self._put(spec.pool_id, row)
            loaded.add(spec.pool_id)
        self.in_range_only -= loaded
        self.journal.reset(snapshot.block_number, _hash_bytes(snapshot.block_hash))
        return loaded

    def _put(self, pool_id: int, row: PoolRow | None) -> None:
        """Store a row and refresh its float columns (no journaling)."""
        if pool_id < 0:
            raise ValueError(f"pool ids are >= 0, got {pool_id}")
        while pool_id >= len(self._rows):
            self._rows.append(None)
        self._rows[pool_id] = row
        self._csr = None
        self._write_columns(pool_id, row)

    def _change(self, pool_id: int, row: PoolRow | None) -> None:
        """Store a row changed by the current block, remembering the previous one."""
        self.journal.remember(pool_id, self.row(pool_id))
        self._put(pool_id, row)

    # -- records -------------------------------------------------------------------------

    def apply(self, records: np.ndarray) -> set[int]:
        """Apply a record batch in order; return the ids of the pools whose state changed.

        On an exception the batch is applied up to the failing record: resync from a snapshot.
        """
        changed: set[int] = set()
        # whole columns to Python objects at once: per-record numpy field access costs more
        # than the state update itself
        kinds = records["kind"].tolist()
        numbers = records["block_number"].tolist()
        log_indexes = records["log_index"].tolist()
        pool_ids = records["pool_id"].tolist()
        block_hashes = records["block_hash"].tobytes()
        tx_hashes = records["tx_hash"].tobytes()
        limbs = records["value"].tolist()
        ticks = records[["tick", "tick_lower", "tick_upper", "aux"]].tolist()
        for i, kind in enumerate(kinds):
            if kind in _SKIPPED:
                continue
            number = numbers[i]
            block_hash = block_hashes[32 * i : 32 * i + 32]
            tx_hash = tx_hashes[32 * i : 32 * i + 32]
            if kind == Kind.REORG:
                changed |= self.rollback_to(number, block_hash)
                continue
            if kind == Kind.BLOCK_HEAD:
                self._head(number, block_hash, None if tx_hash == _ZERO_HASH else tx_hash)
                continue
            entry = self._entry_for(number, block_hash)
            if entry is None:
                continue
            key = (log_indexes[i], tx_hash)
            if key in entry.applied:
                continue
            if entry is not self.journal.current:
                raise RecordOrderError(
                    f"block {number}: log {key[0]} arrived after the block was closed (a gap)"
                )
            if key[0] <= entry.last_log_index:
                raise RecordOrderError(
                    f"block {number}: log {key[0]} after log {entry.last_log_index}"
                )
            pool_id = pool_ids[i]
            if self._apply_one(kind, pool_id, limbs[i], ticks[i]):
                changed.add(pool_id)
            entry.applied.add(key)
            entry.last_log_index = key[0]
        return changed

    def _head(self, number: int, block_hash: bytes, parent: bytes | None) -> None:
        head_number, _ = self.journal.head
        if number > head_number:
            self.journal.open_block(number, block_hash, parent)
        elif not self.journal.knows(number, block_hash):
            raise RecordOrderError(
                f"head {number} 0x{block_hash.hex()} is not above the head {head_number} and"
                " is not a block the table applied (a reorg without its REORG record?)"
            )

    def _entry_for(self, number: int, block_hash: bytes) -> BlockEntry | None:
        """Return the entry a log of this block goes to; None when the block is a replay."""
        head_number, head_hash = self.journal.head
        if number > head_number:
            return self.journal.open_block(number, block_hash, None)
        current = self.journal.current
        if number == head_number and block_hash == head_hash:
            # the floor (snapshot) block already holds its own logs
            return current if current is not None and current.number == number else None
        floor_number, floor_hash = self.journal.floor
        if number == floor_number and block_hash == floor_hash:
            return None
        entry = self.journal.find(number, block_hash)
        if entry is None:
            raise RecordOrderError(
                f"record of block {number} 0x{block_hash.hex()}: not above the head"
                f" {head_number} and not a block the table holds"
            )
        return entry

    def _apply_one(
        self, kind: int, pool_id: int, limbs: list[list[int]], ticks: tuple[int, ...]
    ) -> bool:
        """Apply one pool record (limbs; tick, tick_lower, tick_upper, aux); say if it changed."""
        if kind in _INFORMATIONAL:
            return False
        if kind in (Kind.PAIR_CREATED, Kind.POOL_CREATED):
            return self._create(kind, pool_id, _word(limbs[2]), ticks)
        row = self._require(pool_id)
        if kind == Kind.V2_SYNC:
            reserves = (_word(limbs[0]), _word(limbs[1]))
            if reserves == row.reserves:
                return False
            self._change(pool_id, PoolRow(spec=row.spec, reserves=reserves))
            return True
        state = row.v3
        if self.v3_in_range_from_swap and (
            pool_id in self.in_range_only or (state is None and kind in _V3_EVENTS)
        ):
            spec = row.spec
            words = (_word(limbs[0]), _word(limbs[2]), _word(limbs[3]))
            moved = in_range_after(kind, state, spec.fee_pips, spec.tick_spacing, words, ticks)
            if moved is None:
                return False
            self.in_range_only.add(pool_id)
            self._change(pool_id, PoolRow(spec=spec, v3=moved))
            return True
        fees = row.fee_growth
        tick = ticks[0]
        if kind == Kind.V3_INITIALIZE:
            sqrt_price_x96 = _word(limbs[2])
            if state is None:
                fees = initial_fee_growth()  # a new pool has no fees and no ticks yet
                state = V3PoolState(
                    sqrt_price_x96=sqrt_price_x96,
                    tick=tick,
                    liquidity=0,
                    fee_pips=row.spec.fee_pips,
                    tick_spacing=row.spec.tick_spacing,
                    ticks={},
                )
            else:
                state = state.with_price(
                    sqrt_price_x96=sqrt_price_x96, tick=tick, liquidity=state.liquidity
                )
        elif state is None:
            raise StateError(f"pool {pool_id}: {Kind(kind).name} before its Initialize")
        elif kind == Kind.V3_SWAP:
            sqrt_price_x96 = _word(limbs[2])
            liquidity = _word(limbs[3])
            if fees is not None:
                replayed = replay_swap_event(
                    state,
                    fees,
                    _signed_word(limbs[0]),
                    _signed_word(limbs[1]),
                    sqrt_price_x96,
                    tick,
                    liquidity,
                )
                fees = None if replayed is None else replayed.fee_growth
                if replayed is None:
                    self.fee_growth_lost += 1
            state = state.with_price(sqrt_price_x96=sqrt_price_x96, tick=tick, liquidity=liquidity)
        elif kind in (Kind.V3_MINT, Kind.V3_BURN):
            amount = _word(limbs[0])
            if amount == 0:
                return False  # a poke: Burn(0) before collect moves no liquidity
            modify = mint if kind == Kind.V3_MINT else burn
            before = state
            state = modify(state, ticks[1], ticks[2], amount)[0]
            if fees is not None:
                fees = fee_growth_after_modify(fees, before, state)
        else:
            raise StateError(f"record kind {kind} is not a pool event")
        self._change(pool_id, PoolRow(spec=row.spec, v3=state, fee_growth=fees))
        return True

    def _create(self, kind: int, pool_id: int, pool_address: int, ticks: tuple[int, ...]) -> bool:
        address = "0x" + pool_address.to_bytes(20, "big").hex()
        v3 = kind == Kind.POOL_CREATED
        spec = PoolSpec(
            pool_id=pool_id,
            address=address,
            kind="v3" if v3 else "v2",
            fee_pips=ticks[3],
            tick_spacing=ticks[0] if v3 else 0,
        )
        existing = self.row(pool_id)
        if existing is not None:
            if int(existing.spec.address, 16) != pool_address:
                raise StateError(f"pool id {pool_id} is {existing.spec.address}, not {address}")
            return False
        self._change(pool_id, PoolRow(spec=spec))
        return True

    # -- reorgs --------------------------------------------------------------------------

    def rollback_to(self, block_number: int, block_hash: bytes | str | None) -> set[int]:
        """Restore the state at an ancestor block; return the ids of the pools restored.

        Raise ReorgTooDeep when the ancestor is older than the journal keeps.
        """
        ancestor = None if block_hash is None else _hash_bytes(block_hash)
        restored = self.journal.pop_to(block_number, ancestor)
        for pool_id, row in restored.items():
            self._put(pool_id, row)
        return set(restored)

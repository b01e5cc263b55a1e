"""Decode Uniswap V2-style and V3 swaps from event logs (cryo `logs` Parquet).

Logs carry no pool metadata, so each swap proves its own tokens from the ERC20 `Transfer`
logs of its transaction, emitted before the `Swap` event:

- out: a `Transfer` of some token from the pool to the swap's recipient of exactly the
  amount the event says left the pool;
- in: a `Transfer` of another token into the pool of exactly the amount the event says
  entered it (its sender is the swap's payer);
- the latest unused such logs are taken (a log serves once as an "in" and once as an "out":
  a pool paying the next pool directly is both).

From a proven swap the pool's token0/token1 follow from which side of the event moved in and
out. A swap whose transfers cannot be found (fee-on-transfer tokens, donations, both sides in)
is skipped and counted, and a pool whose swaps prove different token pairs is dropped whole:
tokens are never guessed. Logs exist only for transactions that succeeded, so nothing here
is reverted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from chains.abi import ERC20_TRANSFER_EVENT, V2_SWAP, V3_SWAP
from sim.inspect_model import Swap
from sim.inspect_trace_io import to_address, to_bytes, to_hash

__all__ = ["LOG_COLUMNS", "LogRow", "LogSwaps", "get_log_swaps", "read_logs_parquet"]

LOG_COLUMNS = (
    "block_number",
    "transaction_index",
    "log_index",
    "transaction_hash",
    "address",
    "topic0",
    "topic1",
    "topic2",
    "topic3",
    "data",
)

_INT256_SIGN = 1 << 255
_TWO_256 = 1 << 256


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRow:
    """One event log; `topics` holds the non-empty topics, topic0 first."""

    block_number: int
    transaction_index: int
    log_index: int
    transaction_hash: str
    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class LogSwaps:
    """Proven swaps, each pool's proven (token0, token1), and what could not be proven."""

    swaps: tuple[Swap, ...]
    pool_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    skipped_swaps: int = 0
    unproven_pools: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Transfer:
    log_index: int
    token: str
    from_address: str
    to_address: str
    amount: int


@dataclass(frozen=True, slots=True)
class _SwapEvent:
    row: LogRow
    recipient: str
    in_side: int  # 0 or 1: the token index that entered the pool; -1: not a one-way swap
    amount_in: int
    amount_out: int


def read_logs_parquet(path: Path) -> list[LogRow]:
    """Read a cryo `logs` Parquet file (binary or `0x`-hex columns)."""
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable Parquet file: {exc}") from exc
    missing = [c for c in LOG_COLUMNS if c not in schema.names]
    if missing:
        raise ValueError(f"{path}: cryo logs Parquet lacks columns {missing}")
    rows = []
    for row in pq.read_table(path, columns=list(LOG_COLUMNS)).to_pylist():
        try:
            rows.append(_log_row(row))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: malformed log row {row.get('log_index')!r}") from exc
    return rows


def _log_row(row: dict[str, Any]) -> LogRow:
    topics = []
    for name in ("topic0", "topic1", "topic2", "topic3"):
        raw = to_bytes(row[name])
        if not raw:
            break
        topics.append(raw)
    return LogRow(
        block_number=int(row["block_number"]),
        transaction_index=int(row["transaction_index"]),
        log_index=int(row["log_index"]),
        transaction_hash=to_hash(row["transaction_hash"]),
        address=to_address(row["address"]),
        topics=tuple(topics),
        data=to_bytes(row["data"]),
    )


def get_log_swaps(logs: Iterable[LogRow]) -> LogSwaps:
    """Return the swaps of `logs` whose tokens the same transaction's transfers prove."""
    by_transaction: dict[tuple[int, int, str], list[LogRow]] = {}
    for row in logs:
        key = (row.block_number, row.transaction_index, row.transaction_hash)
        by_transaction.setdefault(key, []).append(row)
    proven: list[tuple[Swap, tuple[str, str]]] = []
    skipped = 0
    unproven: set[str] = set()
    for key in sorted(by_transaction):
        ordered = sorted(by_transaction[key], key=lambda r: r.log_index)
        for event, swap in _swaps_of_transaction(ordered):
            if swap is None:
                skipped += 1
                unproven.add(event.row.address)
                continue
            pair = (swap.token_in, swap.token_out)
            proven.append((swap, pair if event.in_side == 0 else pair[::-1]))
    pool_tokens: dict[str, tuple[str, str]] = {}
    conflicting: set[str] = set()
    for swap, tokens in proven:
        if pool_tokens.setdefault(swap.pool, tokens) != tokens:
            conflicting.add(swap.pool)
    kept = tuple(swap for swap, _ in proven if swap.pool not in conflicting)
    for pool in conflicting:
        del pool_tokens[pool]
    return LogSwaps(
        swaps=kept,
        pool_tokens=pool_tokens,
        skipped_swaps=skipped + len(proven) - len(kept),
        unproven_pools=frozenset(unproven | conflicting),
    )


def _swaps_of_transaction(ordered: list[LogRow]) -> list[tuple[_SwapEvent, Swap | None]]:
    transfers: list[_Transfer] = []
    used_in: set[int] = set()
    used_out: set[int] = set()
    found: list[tuple[_SwapEvent, Swap | None]] = []
    for row in ordered:
        transfer = _transfer(row)
        if transfer is not None:
            transfers.append(transfer)
            continue
        event = _swap_event(row)
        if event is None:
            continue
        pool = row.address
        if event.in_side < 0:
            found.append((event, None))
            continue
        out = next(
            (
                t
                for t in reversed(transfers)
                if t.log_index not in used_out
                and t.from_address == pool
                and t.to_address == event.recipient
                and t.amount == event.amount_out
            ),
            None,
        )
        into = None
        if out is not None:
            into = next(
                (
                    t
                    for t in reversed(transfers)
                    if t.log_index not in used_in
                    and t.to_address == pool
                    and t.amount == event.amount_in
                    and t.token != out.token
                ),
                None,
            )
        if out is None or into is None:
            found.append((event, None))
            continue
        used_out.add(out.log_index)
        used_in.add(into.log_index)
        swap = Swap(
            block_number=row.block_number,
            transaction_hash=row.transaction_hash,
            transaction_index=row.transaction_index,
            # where the swap call began, as a trace address would say: its first transfer
            # (a flash swap pays out, runs its callback's swaps, and logs its Swap last)
            position=(min(out.log_index, into.log_index), row.log_index),
            pool=pool,
            from_address=into.from_address,
            to_address=event.recipient,
            token_in=into.token,
            amount_in=event.amount_in,
            token_out=out.token,
            amount_out=event.amount_out,
            reverted=False,
            source="logs",
        )
        found.append((event, swap))
    return found


def _transfer(row: LogRow) -> _Transfer | None:
    # ERC721 shares the Transfer topic0 but indexes the token id (four topics, no data)
    if row.topics[:1] != (ERC20_TRANSFER_EVENT.topic0,) or len(row.topics) != 3:
        return None
    if len(row.data) != 32:
        return None
    return _Transfer(
        log_index=row.log_index,
        token=row.address,
        from_address=to_address(row.topics[1]),
        to_address=to_address(row.topics[2]),
        amount=int.from_bytes(row.data, "big"),
    )


def _words(data: bytes, count: int) -> list[int] | None:
    if len(data) < 32 * count:
        return None
    return [int.from_bytes(data[32 * i : 32 * i + 32], "big") for i in range(count)]


def _swap_event(row: LogRow) -> _SwapEvent | None:
    if not row.topics or len(row.topics) != 3:
        return None
    topic0 = row.topics[0]
    recipient = to_address(row.topics[2])
    if topic0 == V2_SWAP.topic0:
        words = _words(row.data, 4)
        if words is None:
            return None
        amount0_in, amount1_in, amount0_out, amount1_out = words
        if amount0_in > 0 and amount1_in == 0 and amount1_out > 0 and amount0_out == 0:
            return _SwapEvent(row, recipient, 0, amount0_in, amount1_out)
        if amount1_in > 0 and amount0_in == 0 and amount0_out > 0 and amount1_out == 0:
            return _SwapEvent(row, recipient, 1, amount1_in, amount0_out)
        # both sides in or out (donations, same-token flash loans): not a plain swap
        return _SwapEvent(row, recipient, -1, 0, 0)
    if topic0 == V3_SWAP.topic0:
        words = _words(row.data, 2)
        if words is None:
            return None
        # int256: positive amounts entered the pool, negative ones left it
        amount0, amount1 = (w - _TWO_256 if w & _INT256_SIGN else w for w in words)
        if amount0 > 0 > amount1:
            return _SwapEvent(row, recipient, 0, amount0, -amount1)
        if amount1 > 0 > amount0:
            return _SwapEvent(row, recipient, 1, amount1, -amount0)
        return _SwapEvent(row, recipient, -1, 0, 0)
    return None

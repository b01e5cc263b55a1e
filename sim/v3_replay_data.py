"""Uniswap V3 pool logs read from a raw-log CSV and decoded into Swap, Mint and Burn events.

The CSV has demeter-fetch's `*.raw.csv` layout: block_number, block_timestamp,
transaction_hash, transaction_index, log_index, topics (a Python list literal of 0x-hex
strings) and data (0x-hex). Swap, Mint and Burn decode with the ABI in `chains.abi`. The
pool's other logs (Collect, Flash, ...) move neither the price nor the active liquidity; they
are counted, not returned.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
from pathlib import Path

from chains.abi import V3_BURN, V3_MINT, V3_SWAP

__all__ = [
    "V3LiquidityLog",
    "V3PoolLogs",
    "V3SwapLog",
    "read_v3_pool_logs",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class V3SwapLog:
    """A pool's Swap event: pool-side signed amounts (positive = paid in) and state after."""

    block_number: int
    log_index: int
    transaction_hash: str
    amount0: int
    amount1: int
    sqrt_price_x96: int
    liquidity: int
    tick: int

    @property
    def zero_for_one(self) -> bool:
        """Return True when token0 was paid into the pool."""
        return self.amount0 > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class V3LiquidityLog:
    """A pool's Mint or Burn event (`kind` is "mint" or "burn"); `liquidity` is the amount."""

    kind: str
    block_number: int
    log_index: int
    transaction_hash: str
    tick_lower: int
    tick_upper: int
    liquidity: int
    amount0: int
    amount1: int


@dataclass(frozen=True, slots=True, kw_only=True)
class V3PoolLogs:
    """The decoded events of one pool in (block, log index) order, and how many were skipped."""

    events: tuple[V3SwapLog | V3LiquidityLog, ...]
    other_logs: int

    @property
    def swaps(self) -> tuple[V3SwapLog, ...]:
        """Return the Swap events only."""
        return tuple(e for e in self.events if isinstance(e, V3SwapLog))


def _topics(cell: str) -> list[bytes]:
    parsed = ast.literal_eval(cell)
    if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
        raise ValueError(f"topics cell is not a list of hex strings: {cell[:80]!r}")
    return [bytes.fromhex(t.removeprefix("0x")) for t in parsed]


def _decode(row: dict[str, str]) -> V3SwapLog | V3LiquidityLog | None:
    topics = _topics(row["topics"])
    data = bytes.fromhex(row["data"].removeprefix("0x"))
    where = {
        "block_number": int(row["block_number"]),
        "log_index": int(row["log_index"]),
        "transaction_hash": row["transaction_hash"],
    }
    if not topics:
        return None
    if topics[0] == V3_SWAP.topic0:
        _, _, amount0, amount1, sqrt_price_x96, liquidity, tick = V3_SWAP.decode(topics, data)
        return V3SwapLog(
            **where,
            amount0=amount0,
            amount1=amount1,
            sqrt_price_x96=sqrt_price_x96,
            liquidity=liquidity,
            tick=tick,
        )
    if topics[0] == V3_MINT.topic0:
        _, _, lower, upper, liquidity, amount0, amount1 = V3_MINT.decode(topics, data)
        kind = "mint"
    elif topics[0] == V3_BURN.topic0:
        _, lower, upper, liquidity, amount0, amount1 = V3_BURN.decode(topics, data)
        kind = "burn"
    else:
        return None
    return V3LiquidityLog(
        kind=kind,
        **where,
        tick_lower=lower,
        tick_upper=upper,
        liquidity=liquidity,
        amount0=amount0,
        amount1=amount1,
    )


def read_v3_pool_logs(path: Path) -> V3PoolLogs:
    """Read one pool's raw-log CSV; return its Swap/Mint/Burn events in chain order."""
    events: list[V3SwapLog | V3LiquidityLog] = []
    other = 0
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            event = _decode(row)
            if event is None:
                other += 1
            else:
                events.append(event)
    events.sort(key=lambda e: (e.block_number, e.log_index))
    positions = [(e.block_number, e.log_index) for e in events]
    if len(set(positions)) != len(positions):
        raise ValueError(f"{path}: two logs share a (block, log index)")
    return V3PoolLogs(events=tuple(events), other_logs=other)

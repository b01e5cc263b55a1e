"""Read call traces for the inspector: parity-format block JSON and cryo `traces` Parquet.

Both become the same `CallTrace` rows (lower-case hex addresses, raw input bytes, value in
wei as an int). Reward traces and rows without a transaction are dropped. A file that cannot
be read as traces raises `ValueError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

__all__ = [
    "TRACE_COLUMNS",
    "CallTrace",
    "read_block_json",
    "read_traces_parquet",
    "to_address",
    "to_bytes",
    "to_hash",
]

# cryo `traces` columns the inspector reads
TRACE_COLUMNS = (
    "block_number",
    "transaction_hash",
    "transaction_index",
    "trace_type",
    "call_type",
    "trace_address",
    "action_from",
    "action_to",
    "action_input",
    "action_value",
    "error",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTrace:
    """One trace of a transaction; `kind` is the trace type (call, create, suicide)."""

    block_number: int
    transaction_hash: str
    transaction_index: int
    trace_address: tuple[int, ...]
    kind: str
    from_address: str
    to_address: str
    input: bytes
    value_wei: int
    error: str | None


def to_bytes(value: bytes | str | None) -> bytes:
    """Return raw bytes of a binary or `0x`-hex column value (None -> b"")."""
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    text = value[2:] if value[:2] in ("0x", "0X") else value
    return bytes.fromhex(text)


def to_address(value: bytes | str | None) -> str:
    """Return a lower-case `0x` address; a 32-byte word keeps its low 20 bytes."""
    raw = to_bytes(value)
    if len(raw) == 32:
        raw = raw[12:]
    return "0x" + raw.hex()


def to_hash(value: bytes | str | None) -> str:
    """Return a lower-case `0x` hash."""
    return "0x" + to_bytes(value).hex()


def read_block_json(path: Path) -> tuple[int, list[CallTrace]]:
    """Read one parity-format block (mev-inspect-py test layout); return (block, traces)."""
    try:
        block = json.loads(Path(path).read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable block JSON: {exc}") from exc
    if not isinstance(block, dict) or not isinstance(block.get("traces"), list):
        raise ValueError(f"{path}: block JSON needs an object with a 'traces' list")
    if not isinstance(block.get("block_number"), int):
        raise ValueError(f"{path}: block JSON needs an integer 'block_number'")
    traces = []
    for number, raw in enumerate(block["traces"]):
        try:
            trace = _parity_trace(raw, block["block_number"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: malformed trace #{number}: {exc!r}") from exc
        if trace is not None:
            traces.append(trace)
    return block["block_number"], traces


def _parity_trace(raw: dict[str, Any], block_number: int) -> CallTrace | None:
    kind = raw["type"]
    if kind == "reward" or raw.get("transaction_hash") is None:
        return None
    action = raw["action"]
    result = raw.get("result") or {}
    if kind == "call":
        sender, target, data = action["from"], action["to"], action.get("input")
    elif kind == "create":
        sender, target, data = action["from"], result.get("address"), action.get("init")
    elif kind == "suicide":
        sender, target, data = action.get("address"), action.get("refundAddress"), None
    else:
        sender, target, data = action.get("from"), action.get("to"), None
    value = action.get("value", action.get("balance")) or "0x0"
    return CallTrace(
        block_number=int(raw.get("block_number", block_number)),
        transaction_hash=to_hash(raw["transaction_hash"]),
        transaction_index=int(raw["transaction_position"]),
        trace_address=tuple(int(i) for i in raw["trace_address"]),
        kind=kind,
        from_address=to_address(sender),
        to_address=to_address(target),
        input=to_bytes(data),
        value_wei=int(value, 16) if isinstance(value, str) else int(value),
        error=raw.get("error"),
    )


def read_traces_parquet(path: Path) -> list[CallTrace]:
    """Read a cryo `traces` Parquet file into call traces."""
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable Parquet file: {exc}") from exc
    missing = [c for c in TRACE_COLUMNS if c not in schema.names]
    if missing:
        raise ValueError(f"{path}: cryo traces Parquet lacks columns {missing}")
    rows = pq.read_table(path, columns=list(TRACE_COLUMNS)).to_pylist()
    traces = []
    for row in rows:
        if row["transaction_hash"] is None or row["trace_type"] == "reward":
            continue
        try:
            traces.append(_cryo_trace(row))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{path}: malformed trace row {row.get('transaction_hash')!r}"
            ) from exc
    return traces


def _cryo_trace(row: dict[str, Any]) -> CallTrace:
    address = row["trace_address"]
    if address is None or address == "":
        trace_address: tuple[int, ...] = ()
    elif isinstance(address, str):
        trace_address = tuple(int(i) for i in address.replace(" ", ",").split(",") if i)
    else:
        trace_address = tuple(int(i) for i in address)
    value = row["action_value"]
    if isinstance(value, str):
        value_wei = int(value, 16) if value.startswith("0x") else int(value or "0")
    else:
        value_wei = int(value or 0)
    return CallTrace(
        block_number=int(row["block_number"]),
        transaction_hash=to_hash(row["transaction_hash"]),
        transaction_index=int(row["transaction_index"]),
        trace_address=trace_address,
        kind=row["trace_type"],
        from_address=to_address(row["action_from"]),
        to_address=to_address(row["action_to"]),
        input=to_bytes(row["action_input"]),
        value_wei=value_wei,
        error=row["error"],
    )

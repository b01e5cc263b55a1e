"""Benchmark: batch log decoding into records, against what a Python user would write.

Input: the V2 Sync/Swap and V3 Swap logs of 51 mainnet blocks
(../shared/data/mainnet/ethereum__logs__18426253_to_18426303.parquet, 3,035 logs) cycled to
10,000, rendered as the raw bytes of one eth_getLogs reply; JSON parsing is part of every entry.
Baselines, measured in the same run:

- web3.py: json -> web3's log formatter -> `contract.events.<Event>().process_log(log)`;
- orjson.loads + eth_abi.decode of each log's data;
- orjson.loads + `int.from_bytes` slices of each log's data (the hardest baseline).

Baselines return Python tuples; `decode_logs_json` returns full fixed-layout records (pool
lookup, checks, exact limbs and float mirrors). The column entries decode the same logs from
an Arrow table already in memory (cryo's Parquet layout), and the whole 17,096-log window,
most of whose logs come from unindexed addresses.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import eth_abi
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from web3 import Web3
from web3._utils.method_formatters import log_entry_formatter

from bench import harness
from bench.harness import Report, measure
from chains import abi
from chains.abi_fn import AbiEvent
from chains.decode import Reason, decode_logs_columns, decode_logs_json
from chains.decode_columns import column_logs
from chains.pool_index import PoolIndex
from chains.records import RECORD_DTYPE

LOGS_FILE = "data/mainnet/ethereum__logs__18426253_to_18426303.parquet"
N_LOGS = 10_000
EVENTS = {abi.V2_SYNC.topic0: abi.V2_SYNC, abi.V2_SWAP.topic0: abi.V2_SWAP}
EVENTS[abi.V3_SWAP.topic0] = abi.V3_SWAP
KIND_OF = {abi.V2_SYNC.topic0: "v2", abi.V2_SWAP.topic0: "v2", abi.V3_SWAP.topic0: "v3"}


def shared_dir() -> Path:
    """Return <repo root>/../shared, failing loudly when the logs file is not there."""
    root = Path(__file__).resolve().parents[1]
    shared = root.parent / "shared"
    if not (shared / LOGS_FILE).is_file():
        raise FileNotFoundError(f"mainnet logs missing: {shared / LOGS_FILE}")
    return shared


def _abi_json(event: AbiEvent) -> dict[str, Any]:
    inputs = [
        {"indexed": flag, "name": f"arg{i}", "type": t}
        for i, (t, flag) in enumerate(zip(event.arg_types, event.indexed, strict=True))
    ]
    return {"anonymous": False, "inputs": inputs, "name": event.name, "type": "event"}


def _render(table: pa.Table) -> bytes:
    """Return the rows as the raw bytes of an eth_getLogs reply."""
    logs = []
    for row in table.to_pylist():
        topics = [row[f"topic{k}"] for k in range(4) if row[f"topic{k}"] is not None]
        logs.append(
            {
                "address": "0x" + row["address"].hex(),
                "topics": ["0x" + t.hex() for t in topics],
                "data": "0x" + row["data"].hex(),
                "blockNumber": hex(row["block_number"]),
                "transactionHash": "0x" + row["transaction_hash"].hex(),
                "transactionIndex": hex(row["transaction_index"]),
                "blockHash": "0x" + hashlib.sha256(b"%d" % row["block_number"]).hexdigest(),
                "logIndex": hex(row["log_index"]),
                "removed": False,
            }
        )
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": logs})


class Baselines:
    """The per-log Python decoders a user would write, each from the raw reply bytes."""

    def __init__(self, pools: dict[bytes, int]) -> None:
        self.pools = {"0x" + a.hex(): i for a, i in pools.items()}
        self.hex_topic = {"0x" + t.hex(): e for t, e in EVENTS.items()}
        self.sync, self.swap2, self.swap3 = (f"0x{e.topic0.hex()}" for e in EVENTS.values())
        self.types = {
            h: [t for t, flag in zip(e.arg_types, e.indexed, strict=True) if not flag]
            for h, e in self.hex_topic.items()
        }
        v2 = Web3().eth.contract(abi=[_abi_json(abi.V2_SYNC), _abi_json(abi.V2_SWAP)])
        v3 = Web3().eth.contract(abi=[_abi_json(abi.V3_SWAP)])
        self.web3_events = {self.sync: v2.events.Sync(), self.swap2: v2.events.Swap()}
        self.web3_events[self.swap3] = v3.events.Swap()

    def web3(self, raw: bytes) -> list[Any]:
        out = []
        for log in orjson.loads(raw)["result"]:
            if log["address"] in self.pools:
                event = self.web3_events.get(log["topics"][0])
                if event is not None:
                    out.append(event.process_log(log_entry_formatter(log)))
        return out

    def eth_abi(self, raw: bytes) -> list[tuple[Any, ...]]:
        out = []
        for log in orjson.loads(raw)["result"]:
            pool = self.pools.get(log["address"])
            types = self.types.get(log["topics"][0])
            if pool is not None and types is not None:
                values = eth_abi.decode(types, bytes.fromhex(log["data"][2:]))
                out.append((pool, int(log["blockNumber"], 16), int(log["logIndex"], 16), values))
        return out

    def int_from_bytes(self, raw: bytes) -> list[tuple[Any, ...]]:
        out = []
        sync, swap2, swap3 = self.sync, self.swap2, self.swap3
        for log in orjson.loads(raw)["result"]:
            pool = self.pools.get(log["address"])
            if pool is None:
                continue
            topics = log["topics"]
            t0 = topics[0]
            data = bytes.fromhex(log["data"][2:])
            where = (pool, int(log["blockNumber"], 16), int(log["logIndex"], 16))
            if t0 == sync and len(topics) == 1 and len(data) == 64:
                out.append((*where, int.from_bytes(data[:32]), int.from_bytes(data[32:])))
            elif t0 == swap2 and len(topics) == 3 and len(data) == 128:
                words = [int.from_bytes(data[k : k + 32]) for k in range(0, 128, 32)]
                out.append((*where, *words))
            elif t0 == swap3 and len(topics) == 3 and len(data) == 160:
                out.append(
                    (
                        *where,
                        int.from_bytes(data[0:32], signed=True),
                        int.from_bytes(data[32:64], signed=True),
                        int.from_bytes(data[64:96]),
                        int.from_bytes(data[96:128]),
                        int.from_bytes(data[157:160], signed=True),
                    )
                )
        return out


def run(report: Report) -> None:
    repeats = report.pick(9, 3)
    table = pq.read_table(shared_dir() / LOGS_FILE)
    topic0 = table.column("topic0").to_pylist()
    rows = np.flatnonzero([t in EVENTS for t in topic0])
    picked = table.take(np.resize(rows, N_LOGS)).combine_chunks()
    addresses = picked.column("address").to_pylist()
    kinds = dict(
        zip(addresses, (KIND_OF[t] for t in picked.column("topic0").to_pylist()), strict=True)
    )
    pools = {a: i for i, a in enumerate(sorted(kinds))}
    index = PoolIndex.from_pools((a, pools[a], k) for a, k in kinds.items())
    raw = _render(picked)
    base = Baselines(pools)
    out = np.empty(table.num_rows, dtype=RECORD_DTYPE)

    ours = decode_logs_json(raw, index, recv_ns=0, out=out)
    assert ours.count(Reason.ACCEPTED) == N_LOGS == len(base.int_from_bytes(raw))
    assert decode_logs_columns(picked, index, recv_ns=0, out=out).count(Reason.ACCEPTED) == N_LOGS
    n_web3 = report.pick(N_LOGS, 500)
    raw_web3 = _render(picked.slice(0, n_web3))
    assert len(base.web3(raw_web3)) == n_web3
    report.add_value(
        "eth_getLogs reply", len(raw), "bytes", f"{N_LOGS:,} logs, {len(rows):,} distinct"
    )

    def logs(n: int) -> dict[str, Any]:
        return {"work_per_call": n, "work_unit": "logs"}

    report.add(
        "web3 process_log",
        measure(lambda: base.web3(raw_web3), repeats=3, warmup=1),
        **logs(n_web3),
        note=f"{n_web3:,} logs",
    )
    report.add(
        "orjson + eth_abi.decode",
        measure(lambda: base.eth_abi(raw), repeats=repeats),
        **logs(N_LOGS),
    )
    report.add(
        "orjson + int.from_bytes",
        measure(lambda: base.int_from_bytes(raw), repeats=repeats),
        **logs(N_LOGS),
    )
    report.add(
        "orjson.loads alone",
        measure(lambda: orjson.loads(raw), repeats=repeats),
        baseline="orjson + int.from_bytes",
        **logs(N_LOGS),
    )
    report.add(
        "decode_logs_json",
        measure(
            lambda: decode_logs_json(raw, index, recv_ns=0, out=out), repeats=repeats, warmup=2
        ),
        baseline="orjson + int.from_bytes",
        **logs(N_LOGS),
        note="records, parse included",
    )
    inner = report.pick(50, 10)
    report.add(
        "decode_logs_columns",
        measure(
            lambda: decode_logs_columns(picked, index, recv_ns=0, out=out),
            repeats=repeats,
            warmup=2,
            inner=inner,
        ),
        baseline="orjson + int.from_bytes",
        **logs(N_LOGS),
        note="Arrow table in memory -> records",
    )
    report.add(
        "column_logs (views only)",
        measure(lambda: column_logs(picked), repeats=repeats, warmup=2, inner=inner),
        **logs(N_LOGS),
        note="part of decode_logs_columns",
    )
    every = decode_logs_columns(table, index, recv_ns=0, out=out)
    report.add(
        "decode_logs_columns, whole window",
        measure(
            lambda: decode_logs_columns(table, index, recv_ns=0, out=out),
            repeats=repeats,
            warmup=2,
            inner=inner,
        ),
        **logs(table.num_rows),
        note=f"{table.num_rows:,} logs, {every.count(Reason.ACCEPTED):,} records",
    )


if __name__ == "__main__":
    harness.main(run)

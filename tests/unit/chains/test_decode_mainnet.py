"""Real mainnet logs decoded from Parquet columns and from eth_getLogs JSON, against eth_abi.

Data: ../shared/data/mainnet/ethereum__logs__18426253_to_18426303.parquet (cryo logs of 51
blocks, 17,096 logs). The index holds every address that emits a V2 Sync/Swap ("v2") or a V3
Swap/Mint/Burn ("v3") topic in the window (no CREATE2 proof here: this tests the decoder, not
the registry). Every log of the window goes through both decoders; each record must equal
eth_abi's decoding field by field, and each log must land under the reason a plain Python
classification gives it. `python tests/unit/chains/test_decode_mainnet.py` prints the counts.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from chains import abi
from chains.decode import DecodeResult, decode_logs_columns, decode_logs_json
from chains.pool_index import PoolIndex
from chains.records import Kind
from tests.unit.chains.test_decode import EVENT_OF_KIND, KIND_OF_TOPIC0, check_record

LOGS_FILE = "data/mainnet/ethereum__logs__18426253_to_18426303.parquet"
V2_TOPICS = {abi.V2_SYNC.topic0, abi.V2_SWAP.topic0}
V3_TOPICS = {abi.V3_SWAP.topic0, abi.V3_MINT.topic0, abi.V3_BURN.topic0}
EMITTER = {
    **dict.fromkeys((Kind.V2_SYNC, Kind.V2_SWAP, Kind.V2_MINT, Kind.V2_BURN), "v2"),
    **dict.fromkeys((Kind.V3_SWAP, Kind.V3_MINT, Kind.V3_BURN, Kind.V3_INITIALIZE), "v3"),
    Kind.PAIR_CREATED: "v2_factory",
    Kind.POOL_CREATED: "v3_factory",
}


def shared_dir() -> Path:
    """Return <repo root>/../shared, the repo root being the nearest parent with pyproject.toml."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            shared = parent.parent / "shared"
            if not (shared / LOGS_FILE).is_file():
                raise FileNotFoundError(f"mainnet logs missing: {shared / LOGS_FILE}")
            return shared
    raise FileNotFoundError(f"no pyproject.toml above {here}")


@cache
def mainnet_table() -> pa.Table:
    """Return the window's logs as read from Parquet."""
    return pq.read_table(shared_dir() / LOGS_FILE)


def block_hash_of(block_number: int) -> bytes:
    """Return a stand-in block hash (cryo's logs carry none) for the JSON rendering."""
    return hashlib.sha256(b"block %d" % block_number).digest()


@cache
def mainnet_logs() -> tuple[dict[str, Any], ...]:
    """Return the window's logs as dicts of raw bytes and ints, in file order."""
    rows = mainnet_table().to_pylist()
    return tuple(
        {
            "address": row["address"],
            "topics": [row[f"topic{k}"] for k in range(4) if row[f"topic{k}"] is not None],
            "data": row["data"],
            "block_number": row["block_number"],
            "block_hash": block_hash_of(row["block_number"]),
            "tx_hash": row["transaction_hash"],
            "tx_index": row["transaction_index"],
            "log_index": row["log_index"],
        }
        for row in rows
    )


def render_get_logs_reply(logs: tuple[dict[str, Any], ...]) -> bytes:
    """Return the raw bytes of an eth_getLogs reply holding the logs, as a node sends them."""
    result = [
        {
            "address": "0x" + log["address"].hex(),
            "topics": ["0x" + t.hex() for t in log["topics"]],
            "data": "0x" + log["data"].hex(),
            "blockNumber": hex(log["block_number"]),
            "transactionHash": "0x" + log["tx_hash"].hex(),
            "transactionIndex": hex(log["tx_index"]),
            "blockHash": "0x" + log["block_hash"].hex(),
            "logIndex": hex(log["log_index"]),
            "removed": False,
        }
        for log in logs
    ]
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": result})


@cache
def pool_kinds() -> dict[bytes, str]:
    """Return address -> "v2"/"v3" for every emitter of V2 Sync/Swap or V3 Swap/Mint/Burn."""
    kinds: dict[bytes, str] = {}
    for log in mainnet_logs():
        topic0 = log["topics"][0] if log["topics"] else None
        if topic0 in V2_TOPICS:
            kinds.setdefault(log["address"], "v2")
        elif topic0 in V3_TOPICS:
            kinds.setdefault(log["address"], "v3")
    return kinds


def mainnet_index() -> tuple[PoolIndex, dict[bytes, int]]:
    """Return the index of the window's pools and their ids."""
    ids = {address: i for i, address in enumerate(sorted(pool_kinds()))}
    index = PoolIndex.from_pools((a, ids[a], k) for a, k in pool_kinds().items())
    return index, ids


def reference_reason(log: dict[str, Any]) -> str:
    """Classify a log the slow way: eth_abi decides whether its words are canonical."""
    kind = pool_kinds().get(log["address"])
    if kind is None:
        return "unknown_address"
    topics = log["topics"]
    event_kind = KIND_OF_TOPIC0.get(topics[0]) if topics else None
    if event_kind is None or EMITTER[event_kind] != kind:
        return "unknown_topic"
    event = EVENT_OF_KIND[event_kind]
    if len(topics) != 1 + sum(event.indexed):
        return "wrong_topic_count"
    if len(log["data"]) != 32 * (len(event.indexed) - sum(event.indexed)):
        return "wrong_data_length"
    try:
        event.decode(topics, log["data"])
    except Exception:  # eth_abi refuses non-canonical words
        return "bad_value"
    return "accepted"


def decode_both() -> tuple[DecodeResult, DecodeResult]:
    """Decode the whole window from columns and from its JSON rendering."""
    index, _ = mainnet_index()
    columns = decode_logs_columns(mainnet_table(), index, recv_ns=1)
    json = decode_logs_json(render_get_logs_reply(mainnet_logs()), index, recv_ns=1)
    return columns, json


def kind_counts(result: DecodeResult) -> dict[str, int]:
    """Return the number of records per kind name."""
    return {Kind(k).name: n for k, n in sorted(Counter(result.records["kind"].tolist()).items())}


def test_every_log_lands_under_the_reference_reason() -> None:
    columns, json = decode_both()
    want = Counter(reference_reason(log) for log in mainnet_logs())
    assert sum(want.values()) == 17_096
    for result in (columns, json):
        assert result.n_logs == 17_096 and result.complete
        assert result.counts_by_reason() == dict(want)


def test_every_record_equals_eth_abi_from_columns_and_json() -> None:
    columns, json = decode_both()
    _, ids = mainnet_index()
    accepted = [log for log in mainnet_logs() if reference_reason(log) == "accepted"]
    assert len(columns.records) == len(json.records) == len(accepted)
    for col, js, log in zip(columns.records, json.records, accepted, strict=True):
        check_record(js, log, ids[log["address"]])
        check_record(col, {**log, "block_hash": bytes(32)}, ids[log["address"]])
    same = columns.records.copy()
    same["block_hash"] = json.records["block_hash"]
    assert same.tobytes() == json.records.tobytes()


def test_counts_per_kind() -> None:
    columns, json = decode_both()
    counts = kind_counts(columns)
    assert counts == kind_counts(json)
    # the README's figures for the window: 1,316 Sync, 1,287 V2 Swap, 432 V3 Swap
    assert counts["V2_SYNC"] == 1316 and counts["V2_SWAP"] == 1287 and counts["V3_SWAP"] == 432
    assert set(counts) >= {"V2_MINT", "V2_BURN", "V3_MINT", "V3_BURN"}
    negative = columns.records[columns.records["kind"] == Kind.V3_SWAP]["value_f"][:, :2] < 0
    assert negative.any(axis=1).all()  # every V3 swap pays in one token and out the other
    assert np.unique(columns.records["pool_id"]).size > 100


if __name__ == "__main__":
    cols, _ = decode_both()
    print(f"{len(pool_kinds())} pools indexed ({Counter(pool_kinds().values())})")
    print("reasons:", cols.counts_by_reason())
    print("records per kind:", kind_counts(cols))

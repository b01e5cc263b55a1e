"""Batch log decoding: every record field against eth_abi's decoding, and bad logs counted.

`expected_fields` (eth_abi through `chains.abi` events) and the JSON/column renderers are
shared with test_decode_mainnet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import eth_abi
import numba
import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains import abi
from chains.abi_fn import AbiEvent
from chains.bytes_nb import clz64, load_be64, load_le64
from chains.decode import DecodeResult, Reason, decode_logs_columns, decode_logs_json
from chains.pool_index import PoolIndex
from chains.records import RECORD_DTYPE, Kind, get_value

V2_POOL = bytes.fromhex("b4e16d0168e52d35cacd2c6185b44281ec28c9dc")
V3_POOL = bytes.fromhex("88e6a0c2ddd26feeb64f039a2c41296fcb3f5640")
V2_FACTORY = bytes.fromhex("5c69bee701ef814a2b6a3edd4b1652cb9cc5aa6f")
V3_FACTORY = bytes.fromhex("1f98431c8ad98523631ae4a59f267346ea31f984")
STRANGER = bytes.fromhex("00000000000000000000000000000000deadbeef")
INDEX_ENTRIES = [
    (V2_POOL, 11, "v2"),
    (V3_POOL, 12, "v3"),
    (V2_FACTORY, 1, "v2_factory", 3000),
    (V3_FACTORY, 2, "v3_factory"),
]
EVENT_OF_KIND = {
    Kind.V2_SYNC: abi.V2_SYNC,
    Kind.V2_SWAP: abi.V2_SWAP,
    Kind.V2_MINT: abi.V2_MINT,
    Kind.V2_BURN: abi.V2_BURN,
    Kind.V3_SWAP: abi.V3_SWAP,
    Kind.V3_MINT: abi.V3_MINT,
    Kind.V3_BURN: abi.V3_BURN,
    Kind.V3_INITIALIZE: abi.V3_INITIALIZE,
    Kind.PAIR_CREATED: abi.V2_PAIR_CREATED,
    Kind.POOL_CREATED: abi.V3_POOL_CREATED,
}
KIND_OF_TOPIC0 = {event.topic0: kind for kind, event in EVENT_OF_KIND.items()}


def make_index() -> PoolIndex:
    """Return the index of the handcrafted logs' pools and factories."""
    return PoolIndex.from_pools(INDEX_ENTRIES)


def encode_log(event: AbiEvent, *args: Any) -> tuple[list[bytes], bytes]:
    """Return (topics, data) of an event with arguments in signature order (eth_abi)."""
    topics = [event.topic0]
    plain_types, plain_values = [], []
    for arg_type, is_indexed, value in zip(event.arg_types, event.indexed, args, strict=True):
        if is_indexed:
            topics.append(eth_abi.encode([arg_type], [value]))
        else:
            plain_types.append(arg_type)
            plain_values.append(value)
    return topics, eth_abi.encode(plain_types, plain_values)


def expected_fields(topics: Sequence[bytes], data: bytes, fee_pips: int = 0) -> dict[str, Any]:
    """Return the record fields eth_abi's decoding implies: kind, values (int, signed), ticks."""
    kind = KIND_OF_TOPIC0[topics[0]]
    args = EVENT_OF_KIND[kind].decode(topics, data)
    values: dict[int, tuple[int, bool]] = {}
    fields: dict[str, int] = {"tick": 0, "tick_lower": 0, "tick_upper": 0, "aux": 0}
    if kind == Kind.V2_SYNC:
        values = {0: (args[0], False), 1: (args[1], False)}
    elif kind == Kind.V2_SWAP:
        values = {i: (args[1 + i], False) for i in range(4)}
    elif kind in (Kind.V2_MINT, Kind.V2_BURN):
        values = {0: (args[1], False), 1: (args[2], False)}
    elif kind == Kind.V3_SWAP:
        values = {0: (args[2], True), 1: (args[3], True), 2: (args[4], False), 3: (args[5], False)}
        fields["tick"] = args[6]
    elif kind == Kind.V3_MINT:
        values = {0: (args[4], False), 1: (args[5], False), 2: (args[6], False)}
        fields["tick_lower"], fields["tick_upper"] = args[2], args[3]
    elif kind == Kind.V3_BURN:
        values = {0: (args[3], False), 1: (args[4], False), 2: (args[5], False)}
        fields["tick_lower"], fields["tick_upper"] = args[1], args[2]
    elif kind == Kind.V3_INITIALIZE:
        values = {2: (args[0], False)}
        fields["tick"] = args[1]
    elif kind == Kind.PAIR_CREATED:
        values = {i: (int(args[i], 16), False) for i in range(3)}
        fields["aux"] = fee_pips
    elif kind == Kind.POOL_CREATED:
        values = {0: (int(args[0], 16), False), 1: (int(args[1], 16), False)}
        values[2] = (int(args[4], 16), False)
        fields["aux"], fields["tick"] = args[2], args[3]
    return {"kind": int(kind), "values": values, **fields}


def check_record(record: np.void, log: dict[str, Any], pool_id: int, fee_pips: int = 0) -> None:
    """Assert every field of a record against eth_abi's decoding of its log."""
    want = expected_fields(log["topics"], log["data"], fee_pips)
    assert record["kind"] == want["kind"]
    created = want["kind"] in (Kind.PAIR_CREATED, Kind.POOL_CREATED)
    assert record["pool_id"] == (-1 if created else pool_id)
    for i in range(4):
        x, signed = want["values"].get(i, (0, False))
        assert get_value(record, i, signed=signed) == x, (i, x)
        assert record["value_f"][i] == float(x), (i, x)
    for name in ("tick", "tick_lower", "tick_upper", "aux"):
        assert record[name] == want[name], name
    assert record["block_number"] == log["block_number"]
    assert record["log_index"] == log["log_index"]
    assert record["tx_index"] == log["tx_index"]
    assert bytes(record["tx_hash"]) == log["tx_hash"]
    assert bytes(record["block_hash"]) == log.get("block_hash", bytes(32))
    assert bytes(record["sender"]) == log["address"]
    assert record["flags"] == 0 and record["n_hops"] == 0


def make_log(address: bytes, topics: list[bytes], data: bytes, n: int = 0) -> dict[str, Any]:
    """Return a log dict (raw bytes) with block/tx coordinates derived from n."""
    return {
        "address": address,
        "topics": topics,
        "data": data,
        "block_number": 18_000_000 + n // 7,
        "block_hash": hashlib.sha256(b"block%d" % (n // 7)).digest(),
        "tx_hash": hashlib.sha256(b"tx%d" % n).digest(),
        "tx_index": n % 300,
        "log_index": n,
        "removed": False,
    }


def log_json(log: dict[str, Any]) -> dict[str, Any]:
    """Return the node's JSON shape of a log dict."""
    return {
        "address": "0x" + log["address"].hex(),
        "topics": ["0x" + t.hex() for t in log["topics"]],
        "data": "0x" + log["data"].hex(),
        "blockNumber": hex(log["block_number"]),
        "blockHash": "0x" + log["block_hash"].hex(),
        "transactionHash": "0x" + log["tx_hash"].hex(),
        "transactionIndex": hex(log["tx_index"]),
        "logIndex": hex(log["log_index"]),
        "removed": log["removed"],
    }


def render_get_logs(logs: Sequence[dict[str, Any]], option: int = 0) -> bytes:
    """Return the raw bytes of an eth_getLogs reply holding the logs."""
    reply = {"jsonrpc": "2.0", "id": 1, "result": [log_json(log) for log in logs]}
    return orjson.dumps(reply, option=option)


def render_notification(log: dict[str, Any]) -> bytes:
    """Return the raw bytes of an eth_subscription logs notification."""
    params = {"subscription": "0x9cef478923ff08bf67fde6c64013158d", "result": log_json(log)}
    return orjson.dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": params})


def render_columns(logs: Sequence[dict[str, Any]]) -> pa.Table:
    """Return the logs as a cryo-layout Arrow table (plus a block_hash column)."""
    big = pa.large_binary()

    def topic(k: int) -> pa.Array:
        return pa.array([lg["topics"][k] if len(lg["topics"]) > k else None for lg in logs], big)

    return pa.table(
        {
            "log_index": pa.array([lg["log_index"] for lg in logs], pa.uint32()),
            "transaction_index": pa.array([lg["tx_index"] for lg in logs], pa.uint32()),
            "block_number": pa.array([lg["block_number"] for lg in logs], pa.uint32()),
            "block_hash": pa.array([lg["block_hash"] for lg in logs], big),
            "transaction_hash": pa.array([lg["tx_hash"] for lg in logs], big),
            "address": pa.array([lg["address"] for lg in logs], big),
            **{f"topic{k}": topic(k) for k in range(4)},
            "data": pa.array([lg["data"] for lg in logs], big),
        }
    )


def _a(n: int) -> str:
    return "0x" + n.to_bytes(20, "big").hex()


MAX_U112 = 2**112 - 1
MAX_U128 = 2**128 - 1
MAX_U160 = 2**160 - 1
# float mirrors must round like Python's int -> float, ties and sticky bits included
TRICKY = [0, 1, 2**53 + 1, 2**64 + 2**11, 2**64 + 2**11 + 1, (1 << 200) + (1 << 147) + 1]
TRICKY += [2**256 - 1, 3 * 2**190 + 2**137, 10**30 + 7]


def handcrafted() -> list[dict[str, Any]]:
    """Return logs of every accepted kind, from the indexed pools and factories."""
    events: list[tuple[bytes, tuple[list[bytes], bytes]]] = [
        (V2_POOL, encode_log(abi.V2_SYNC, MAX_U112, 123456789)),
        (V2_POOL, encode_log(abi.V2_SWAP, _a(1), 0, 10**18, 3 * 10**20, 0, _a(2))),
        (V2_POOL, encode_log(abi.V2_SWAP, _a(3), *TRICKY[3:7], _a(4))),
        (V2_POOL, encode_log(abi.V2_SWAP, _a(3), *TRICKY[5:9], _a(4))),
        (V2_POOL, encode_log(abi.V2_MINT, _a(5), 10**21, 2**255 + 3)),
        (V2_POOL, encode_log(abi.V2_BURN, _a(6), 17, 2**64, _a(7))),
        (
            V3_POOL,
            encode_log(
                abi.V3_SWAP, _a(8), _a(9), -(2**255), 2**255 - 1, MAX_U160, MAX_U128, -887272
            ),
        ),
        (
            V3_POOL,
            encode_log(
                abi.V3_SWAP,
                _a(8),
                _a(9),
                10**18,
                -(10**9) - 1,
                79228162514264337593543950336,
                10**22,
                887272,
            ),
        ),
        (V3_POOL, encode_log(abi.V3_SWAP, _a(8), _a(9), -1, 1, 2**96, 0, -1)),
        (V3_POOL, encode_log(abi.V3_MINT, _a(10), _a(11), -887220, -60, MAX_U128, 5, 2**200)),
        (V3_POOL, encode_log(abi.V3_MINT, _a(10), _a(11), 60, 887220, 1, 0, 0)),
        (V3_POOL, encode_log(abi.V3_BURN, _a(12), -8388608, 8388607, 10**20, 2**255, 3)),
        (V3_POOL, encode_log(abi.V3_INITIALIZE, 2**96 * 3, -23028)),
        (V2_FACTORY, encode_log(abi.V2_PAIR_CREATED, _a(13), _a(14), _a(15), 400_000)),
        (V3_FACTORY, encode_log(abi.V3_POOL_CREATED, _a(16), _a(17), 10_000, 200, _a(18))),
        (V3_FACTORY, encode_log(abi.V3_POOL_CREATED, _a(16), _a(17), 2**24 - 1, -1, _a(18))),
    ]
    return [
        make_log(address, topics, data, n) for n, (address, (topics, data)) in enumerate(events)
    ]


POOL_IDS = {V2_POOL: 11, V3_POOL: 12, V2_FACTORY: 1, V3_FACTORY: 2}
FEES = {V2_FACTORY: 3000}


def total(result: DecodeResult) -> int:
    """Return the number of logs counted, accepted or not (frame counts excluded)."""
    frame = result.count(Reason.NO_RESULT)
    return int(result.counts.sum()) - frame


def test_every_kind_from_json_and_columns_matches_eth_abi() -> None:
    logs = handcrafted()
    index = make_index()
    for result in (
        decode_logs_json(render_get_logs(logs), index, recv_ns=99),
        decode_logs_columns(render_columns(logs), index, recv_ns=99),
    ):
        assert result.complete
        assert result.counts_by_reason() == {"accepted": len(logs)}
        assert result.records.dtype == RECORD_DTYPE
        assert len(result.records) == len(logs)
        for record, log in zip(result.records, logs, strict=True):
            check_record(record, log, POOL_IDS[log["address"]], FEES.get(log["address"], 0))
            assert record["recv_ns"] == 99


def test_subscription_frames_in_any_key_order_and_pretty_printed() -> None:
    index = make_index()
    for log in handcrafted():
        frame = render_notification(log)
        reordered = orjson.dumps(
            {"params": orjson.loads(frame)["params"], "method": "eth_subscription", "x": [{}]},
            option=orjson.OPT_INDENT_2,
        )
        for raw in (frame, reordered, render_get_logs([log], orjson.OPT_INDENT_2)):
            result = decode_logs_json(raw, index, recv_ns=1)
            assert result.counts_by_reason() == {"accepted": 1}, raw
            check_record(
                result.records[0], log, POOL_IDS[log["address"]], FEES.get(log["address"], 0)
            )


def test_unknown_keys_and_pending_nulls_are_tolerated() -> None:
    log = handcrafted()[0]
    body = log_json(log)
    body.update({"blockTimestamp": "0x65", "extra": {"a": [1, "}", {"b": None}]}, "n": -1.5e3})
    body.update({"blockHash": None, "transactionHash": None, "blockNumber": None})
    raw = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": [body, body]})
    result = decode_logs_json(raw, make_index(), recv_ns=0)
    assert result.counts_by_reason() == {"accepted": 2}
    assert result.records["block_number"].tolist() == [0, 0]
    assert not result.records["tx_hash"].any() and not result.records["block_hash"].any()


def _one(raw_log: dict[str, Any]) -> DecodeResult:
    return decode_logs_json(
        orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": [raw_log]}), make_index(), recv_ns=0
    )


def test_unknown_address_with_exact_pool_topics_is_ignored() -> None:
    for log in handcrafted():
        log["address"] = STRANGER
        for result in (
            decode_logs_json(render_get_logs([log]), make_index(), recv_ns=0),
            decode_logs_columns(render_columns([log]), make_index(), recv_ns=0),
        ):
            assert result.counts_by_reason() == {"unknown_address": 1}
            assert len(result.records) == 0


def test_events_from_the_wrong_kind_of_emitter_are_unknown_topics() -> None:
    swap_v3 = handcrafted()[6]
    swap_v3["address"] = V2_POOL  # a V3 Swap topic from a V2 pool
    created = handcrafted()[13]
    created["address"] = V3_FACTORY  # PairCreated from a V3 factory
    transfer = make_log(V2_POOL, *encode_log(abi.ERC20_TRANSFER_EVENT, _a(1), _a(2), 5))
    anonymous = make_log(V2_POOL, [], b"")
    logs = [swap_v3, created, transfer, anonymous]
    for result in (
        decode_logs_json(render_get_logs(logs), make_index(), recv_ns=0),
        decode_logs_columns(render_columns(logs), make_index(), recv_ns=0),
    ):
        assert result.counts_by_reason() == {"unknown_topic": 4}


def test_removed_logs_are_counted_and_dropped() -> None:
    logs = handcrafted()[:3]
    logs[1]["removed"] = True
    result = decode_logs_json(render_get_logs(logs), make_index(), recv_ns=0)
    assert result.counts_by_reason() == {"accepted": 2, "removed": 1}
    assert result.records["log_index"].tolist() == [0, 2]


def test_error_reply_and_empty_result() -> None:
    error = b'{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"\\"result\\" too big"}}'
    result = decode_logs_json(error, make_index(), recv_ns=0)
    assert result.counts_by_reason() == {"no_result": 1} and not result.complete
    empty = decode_logs_json(b'{"jsonrpc":"2.0","id":1,"result":[]}', make_index(), recv_ns=0)
    assert empty.counts_by_reason() == {} and empty.complete and len(empty.records) == 0


def test_non_canonical_words_are_bad_values() -> None:
    sync = handcrafted()[0]
    sync["data"] = (2**112).to_bytes(32, "big") + sync["data"][32:]  # not a uint112
    swap = handcrafted()[6]
    words = bytearray(swap["data"])
    words[4 * 32 + 5] = 0x12  # the int24 tick word is not sign-extended
    swap["data"] = bytes(words)
    swap_to = handcrafted()[1]
    swap_to["topics"][2] = b"\x01" + swap_to["topics"][2][1:]  # an address topic with high bits
    for log in (sync, swap, swap_to):
        with pytest.raises(Exception):  # noqa: B017 eth_abi's strict decoder refuses it too
            expected_fields(log["topics"], log["data"])
    logs = [sync, swap, swap_to]
    for result in (
        decode_logs_json(render_get_logs(logs), make_index(), recv_ns=0),
        decode_logs_columns(render_columns(logs), make_index(), recv_ns=0),
    ):
        assert result.counts_by_reason() == {"bad_value": 3}


def test_malformed_logs_by_reason() -> None:
    base = log_json(handcrafted()[1])
    cases = {
        "bad_hex": [
            {**base, "address": "0x" + "zz" * 20},
            {**base, "address": base["address"][:-2]},
            {**base, "data": base["data"] + "0"},
            {**base, "data": base["data"][:-1] + "g"},
            {**base, "data": base["data"][2:]},
            {**base, "topics": [*base["topics"][:2], base["topics"][2][:-2]]},
            {**base, "logIndex": "0x"},
            {**base, "logIndex": "0x1ffffffff"},
            {**base, "blockNumber": "12"},
            {**base, "transactionHash": "0x" + "ab" * 31},
            {**base, "blockHash": "0x" + 'a\\"' * 32},
        ],
        "malformed_json": [
            {k: v for k, v in base.items() if k != "data"},
            {k: v for k, v in base.items() if k != "address"},
            {k: v for k, v in base.items() if k != "topics"},
            {**base, "address": None},
            {**base, "data": 5},
            {**base, "topics": "0x00"},
            {**base, "topics": [1, 2]},
            {**base, "removed": "no"},
            {**base, "logIndex": 3},
        ],
        "wrong_topic_count": [
            {**base, "topics": base["topics"][:2]},
            {**base, "topics": [*base["topics"], "0x" + "00" * 32]},
            {**base, "topics": [*base["topics"], *["0x" + "00" * 32] * 3]},
        ],
        "wrong_data_length": [
            {**base, "data": base["data"][:-2]},
            {**base, "data": base["data"] + "00"},
            {**base, "data": "0x"},
        ],
    }
    for reason, bad_logs in cases.items():
        for bad in bad_logs:
            result = _one(bad)
            assert result.counts_by_reason() == {reason: 1}, (reason, bad)
            assert len(result.records) == 0
    # bad logs between good ones do not disturb them
    mixed = [base, *cases["bad_hex"], base, *cases["malformed_json"], base]
    raw = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": mixed})
    result = decode_logs_json(raw, make_index(), recv_ns=0)
    assert result.count(Reason.ACCEPTED) == 3 and result.complete
    assert result.count(Reason.BAD_HEX) == len(cases["bad_hex"])
    assert result.count(Reason.MALFORMED_JSON) == len(cases["malformed_json"])


def test_column_nulls_and_wrong_sizes_are_malformed_fields() -> None:
    logs = handcrafted()[:4]
    table = render_columns(logs)
    address = pa.array([logs[0]["address"], None, b"\x01" * 19, logs[3]["address"]], pa.binary())
    tx_hash = pa.array([lg["tx_hash"] for lg in logs[:3]] + [b"\x02" * 31], pa.large_binary())
    table = table.set_column(table.column_names.index("address"), "address", address)
    table = table.set_column(
        table.column_names.index("transaction_hash"), "transaction_hash", tx_hash
    )
    result = decode_logs_columns(table, make_index(), recv_ns=0)
    assert result.counts_by_reason() == {"accepted": 1, "malformed_field": 3}
    check_record(result.records[0], logs[0], 11)


def test_column_gap_in_topics_and_fixed_size_columns() -> None:
    logs = handcrafted()
    table = render_columns(logs)
    fixed = pa.array([lg["address"] for lg in logs], pa.binary(20))
    table = table.set_column(table.column_names.index("address"), "address", fixed)
    result = decode_logs_columns(table.slice(3, 9), make_index(), recv_ns=0)
    assert result.counts_by_reason() == {"accepted": 9}
    for record, log in zip(result.records, logs[3:12], strict=True):
        check_record(record, log, POOL_IDS[log["address"]])
    gap = render_columns([logs[1]])
    gap = gap.set_column(gap.column_names.index("topic1"), "topic1", pa.nulls(1, pa.large_binary()))
    assert decode_logs_columns(gap, make_index(), recv_ns=0).counts_by_reason() == {
        "wrong_topic_count": 1
    }


def test_out_array_is_filled_in_place_and_checked() -> None:
    logs = handcrafted()
    out = np.zeros(len(logs) + 5, dtype=RECORD_DTYPE)
    result = decode_logs_json(render_get_logs(logs), make_index(), recv_ns=5, out=out)
    assert np.shares_memory(result.records, out)
    assert out["kind"][: len(logs)].all() and not out["kind"][len(logs) :].any()
    with pytest.raises(ValueError, match="holds"):
        decode_logs_json(render_get_logs(logs), make_index(), recv_ns=5, out=out[:3])
    with pytest.raises(ValueError, match="RECORD_DTYPE"):
        decode_logs_columns(render_columns(logs), make_index(), recv_ns=5, out=out[::2])


def test_every_truncation_never_raises_and_keeps_only_whole_logs() -> None:
    logs = handcrafted()
    raw = render_get_logs(logs)
    full = decode_logs_json(raw, make_index(), recv_ns=0).records
    for cut in range(len(raw)):
        result = decode_logs_json(raw[:cut], make_index(), recv_ns=0)
        assert not result.complete
        n = len(result.records)
        assert result.records.tobytes() == full[:n].tobytes()
        assert result.count(Reason.MALFORMED_JSON) == 1
        assert result.count(Reason.ACCEPTED) == n
    cut_notification = render_notification(logs[0])[:-1]
    result = decode_logs_json(cut_notification, make_index(), recv_ns=0)
    assert len(result.records) == 1 and not result.complete  # the log itself was whole


OPTIONAL_FIELDS = ("block_number", "log_index", "tx_index", "block_hash", "tx_hash")
BAD_HEX_CHARS = st.sampled_from(list(b'gGxX -+"\\:{}[],z\x00\xff'))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(raw: bytes) -> None:
    result = decode_logs_json(raw, make_index(), recv_ns=0)
    assert len(result.records) == result.count(Reason.ACCEPTED)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 15), st.integers(0, 10**6), st.integers(0, 255))
def test_one_changed_byte_never_raises_nor_invents(which: int, where: int, byte: int) -> None:
    """Change one byte of a valid frame: any record produced agrees with eth_abi on its log."""
    log = handcrafted()[which]
    raw = bytearray(render_get_logs([log]))
    raw[where % len(raw)] = byte
    result = decode_logs_json(bytes(raw), make_index(), recv_ns=0)
    assert total(result) >= 1 or not result.complete
    original = decode_logs_json(render_get_logs([log]), make_index(), recv_ns=0).records
    for record in result.records:  # re-read the changed log the slow way and compare
        try:
            body = orjson.loads(bytes(raw).decode("utf-8", "replace"))["result"][0]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            # the change broke JSON where a strict parser objects and the scanner does not
            # look (a key it skips): the log is unchanged, or lost an optional key
            want = original[0].copy()
            for name in OPTIONAL_FIELDS:
                if not np.array_equal(record[name], want[name]):
                    want[name] = 0
            assert record.tobytes() == want.tobytes()
            continue
        changed = {
            "address": bytes.fromhex(body["address"][2:]),
            "topics": [bytes.fromhex(t[2:]) for t in body["topics"]],
            "data": bytes.fromhex(body["data"][2:]),
            "block_number": int(body.get("blockNumber", "0x0"), 16),
            "block_hash": bytes.fromhex(body.get("blockHash", "0x" + "00" * 32)[2:]),
            "tx_hash": bytes.fromhex(body.get("transactionHash", "0x" + "00" * 32)[2:]),
            "tx_index": int(body.get("transactionIndex", "0x0"), 16),
            "log_index": int(body.get("logIndex", "0x0"), 16),
        }
        check_record(record, changed, POOL_IDS[changed["address"]], FEES.get(changed["address"], 0))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 15), st.data())
def test_fuzzed_shapes_are_counted_by_reason(which: int, data: st.DataObject) -> None:
    log = handcrafted()[which]
    n_topics, n_data = len(log["topics"]), len(log["data"])
    topics = data.draw(st.integers(1, 7).filter(lambda k: k != n_topics), label="topics")
    size = data.draw(st.integers(0, 300).filter(lambda k: k != n_data), label="data bytes")
    wrong_topics = {**log, "topics": (log["topics"] + [b"\x00" * 32] * 7)[:topics]}
    wrong_data = {**log, "data": (log["data"] + b"\x00" * 300)[:size]}
    body = log_json(log)
    field = data.draw(st.sampled_from(["address", "data", "blockHash", "transactionHash"]))
    text = body[field]
    at = data.draw(st.integers(2, max(2, len(text) - 1)), label="at")
    char = chr(data.draw(BAD_HEX_CHARS))
    bad_hex = {**body, field: text[:at] + char + text[at + 1 :]}
    if field == "data" and len(text) == 2:
        bad_hex[field] = "0x" + char
    raw = orjson.dumps({"result": [log_json(wrong_topics), log_json(wrong_data), bad_hex]})
    result = decode_logs_json(raw, make_index(), recv_ns=0)
    assert len(result.records) == 0
    counts = result.counts_by_reason()
    assert counts.get("wrong_topic_count") == 1 and counts.get("wrong_data_length") == 1
    # a quote or backslash changes the JSON structure itself; anything else is bad hex
    assert counts.get("bad_hex", 0) + counts.get("malformed_json", 0) >= 1
    if char not in '"\\':
        assert counts.get("bad_hex") == 1
    if topics <= 4:  # cryo's layout has four topic columns
        columns = decode_logs_columns(
            render_columns([wrong_topics, wrong_data]), make_index(), recv_ns=0
        )
        assert columns.counts_by_reason() == {"wrong_topic_count": 1, "wrong_data_length": 1}


def _with_word(log: dict[str, Any], word: int, raw: bytes) -> dict[str, Any]:
    """Return the log with data word `word` replaced by 32 raw bytes."""
    data = bytearray(log["data"])
    data[32 * word : 32 * word + 32] = raw
    return {**log, "data": bytes(data)}


def _topic(log: dict[str, Any], k: int, raw: bytes) -> dict[str, Any]:
    topics = list(log["topics"])
    topics[k] = raw
    return {**log, "topics": topics}


def _be(x: int) -> bytes:
    return x.to_bytes(32, "big")


def test_each_word_type_just_out_of_range_is_a_bad_value() -> None:
    logs = handcrafted()
    v3_swap, v3_mint, v3_init = logs[6], logs[9], logs[12]
    pair_created, pool_created = logs[13], logs[15]
    bad = [
        _with_word(v3_swap, 2, _be(2**160)),  # sqrtPriceX96 is a uint160
        _with_word(v3_swap, 3, _be(2**128)),  # liquidity is a uint128
        _with_word(v3_swap, 4, _be(2**23)),  # tick: a positive int24 ends at 2**23 - 1
        _with_word(v3_swap, 4, _be(2**256 - 2**23 - 1)),  # below -2**23
        _with_word(v3_mint, 0, _be(2**160)),  # the sender word is an address
        _with_word(v3_mint, 1, _be(2**128)),
        _topic(v3_mint, 2, _be(2**24 - 1)),  # tickLower 0xffffff without sign extension
        _with_word(v3_init, 0, _be(2**160)),
        _with_word(pair_created, 0, _be(2**160)),  # the pair address
        _topic(pair_created, 1, _be(2**160)),  # token0
        _topic(pool_created, 3, _be(2**24)),  # the fee is a uint24
        _with_word(pool_created, 0, _be(2**23)),  # tick spacing is an int24
    ]
    for log in bad:
        with pytest.raises(Exception):  # noqa: B017 eth_abi refuses each of them too
            expected_fields(log["topics"], log["data"])
    for result in (
        decode_logs_json(render_get_logs(bad), make_index(), recv_ns=0),
        decode_logs_columns(render_columns(bad), make_index(), recv_ns=0),
    ):
        assert result.counts_by_reason() == {"bad_value": len(bad)}
    edge = [
        _with_word(v3_swap, 2, _be(2**160 - 1)),
        _with_word(v3_swap, 4, _be(2**256 - 2**23)),  # -2**23
        _topic(pool_created, 3, _be(2**24 - 1)),
    ]
    result = decode_logs_json(render_get_logs(edge), make_index(), recv_ns=0)
    assert result.counts_by_reason() == {"accepted": 3}
    for record, log in zip(result.records, edge, strict=True):
        check_record(record, log, POOL_IDS[log["address"]])


def test_frames_of_many_small_log_objects_are_scanned_whole() -> None:
    """More log objects than a node's typical log size suggests: the scan makes room."""
    sync = handcrafted()[0]
    minimal = {k: log_json(sync)[k] for k in ("address", "topics", "data")}
    raw = orjson.dumps({"result": [minimal] * 700 + [{}] * 3000})
    result = decode_logs_json(raw, make_index(), recv_ns=0)
    assert result.complete and result.n_logs == 3700
    assert result.counts_by_reason() == {"accepted": 700, "malformed_json": 3000}
    assert (result.records["kind"] == Kind.V2_SYNC).all()


def test_pools_added_mid_run_are_decoded() -> None:
    index = make_index()
    log = handcrafted()[1]
    log["address"] = STRANGER
    raw = render_get_logs([log])
    assert decode_logs_json(raw, index, recv_ns=0).counts_by_reason() == {"unknown_address": 1}
    index.add(STRANGER, 77, "v2")
    result = decode_logs_json(raw, index, recv_ns=0)
    assert result.counts_by_reason() == {"accepted": 1}
    check_record(result.records[0], log, 77)


def test_any_bytes_like_input() -> None:
    logs = handcrafted()
    raw = render_get_logs(logs)
    want = decode_logs_json(raw, make_index(), recv_ns=0).records.tobytes()
    for view in (bytearray(raw), memoryview(raw), np.frombuffer(raw, dtype=np.uint8)):
        assert decode_logs_json(view, make_index(), recv_ns=0).records.tobytes() == want
    batch = render_columns(logs).to_batches()[0]
    mapping = {name: batch.column(name) for name in batch.schema.names}
    for columns in (batch, mapping):
        got = decode_logs_columns(columns, make_index(), recv_ns=0).records
        assert len(got) == len(logs)


@numba.njit(cache=True)
def _loads(buf: np.ndarray, out: np.ndarray) -> None:
    for at in range(buf.shape[0] - 7):
        out[at, 0] = load_be64(buf, at)
        out[at, 1] = load_le64(buf, at)
        out[at, 2] = clz64(out[at, 0])


def test_unaligned_loads_and_leading_zeros() -> None:
    raw = hashlib.sha256(b"loads").digest() + bytes(8) + b"\x00\x00\x01" + b"\xff" * 5
    buf = np.frombuffer(raw, dtype=np.uint8)
    out = np.zeros((len(raw) - 7, 3), dtype=np.uint64)
    _loads(buf, out)
    for at in range(len(raw) - 7):
        word = raw[at : at + 8]
        big = int.from_bytes(word, "big")
        assert int(out[at, 0]) == big
        assert int(out[at, 1]) == int.from_bytes(word, "little")
        assert int(out[at, 2]) == 64 - big.bit_length()


def test_tables_of_several_chunks_and_empty_batches() -> None:
    logs = handcrafted()
    table = pa.concat_tables([render_columns(logs[:5]), render_columns(logs[5:])])
    assert table.column("data").num_chunks == 2
    result = decode_logs_columns(table, make_index(), recv_ns=0)
    assert result.counts_by_reason() == {"accepted": len(logs)}
    for record, log in zip(result.records, logs, strict=True):
        check_record(record, log, POOL_IDS[log["address"]], FEES.get(log["address"], 0))
    empty = decode_logs_columns(table.slice(0, 0), make_index(), recv_ns=0)
    assert empty.n_logs == 0 and len(empty.records) == 0 and empty.complete

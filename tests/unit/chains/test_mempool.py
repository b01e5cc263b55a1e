"""Mempool decoder: handcrafted calls to every router function -> PendingSwaps -> records."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import eth_abi
import numpy as np
import pytest
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains import abi_routers as r
from chains import mempool_abi as m
from chains.mempool import (
    MempoolDecoder,
    PendingSwap,
    RouterInfo,
    to_records,
    write_tx_records,
)
from chains.mempool_tx import fields_from_raw
from chains.records import (
    FLAG_ALLOW_REVERT,
    FLAG_AMOUNT_UNKNOWN,
    FLAG_EXACT_OUT_PAID_FORWARD,
    FLAG_EXACT_OUTPUT,
    FLAG_FEE_ON_TRANSFER,
    FLAG_NATIVE_IN,
    FLAG_NATIVE_OUT,
    Kind,
    empty_records,
    get_value,
)
from tests.unit.chains.test_mempool_tx import SIGNER, base_tx, signed

# tokens in ascending address order: WETH < A < B < C < D < E
WETH = to_checksum_address("0x" + "0a" * 20)
A = to_checksum_address("0x" + "1a" * 20)
B = to_checksum_address("0x" + "2b" * 20)
C = to_checksum_address("0x" + "3c" * 20)
D = to_checksum_address("0x" + "4d" * 20)
E = to_checksum_address("0x" + "5e" * 20)
UNKNOWN = to_checksum_address("0x" + "ee" * 20)
USER = to_checksum_address("0x" + "c0" * 20)
OTHER = to_checksum_address("0x" + "d0" * 20)
R02 = to_checksum_address("0x" + "71" * 20)
SR = to_checksum_address("0x" + "72" * 20)
SR02 = to_checksum_address("0x" + "73" * 20)
UR = to_checksum_address("0x" + "74" * 20)
ROUTERS = {
    R02: RouterInfo(kind="v2_router02", v2_venue="v2"),
    SR: RouterInfo(kind="swap_router", v3_venue="v3"),
    SR02: RouterInfo(kind="swap_router02", v2_venue="v2", v3_venue="v3"),
    UR: RouterInfo(kind="universal_router", v2_venue="v2", v3_venue="v3"),
}
CHAIN = [WETH, A, B, C, D, E]
POOLS: dict[tuple[str, frozenset[str], int | None], int] = {}
for _i, (_x, _y) in enumerate(itertools.pairwise(CHAIN)):
    POOLS[("v2", frozenset((_x, _y)), None)] = 10 + _i
    POOLS[("v3", frozenset((_x, _y)), 500)] = 20 + _i
    POOLS[("v3", frozenset((_x, _y)), 3000)] = 30 + _i
DEADLINE = 1_700_000_000
HASH = "0x" + "ab" * 32


def pool_id_of(venue: str, token_a: str, token_b: str, fee_pips: int | None) -> int | None:
    return POOLS.get((venue, frozenset((token_a, token_b)), fee_pips))


def decoder() -> MempoolDecoder:
    return MempoolDecoder(ROUTERS, pool_id_of, weth=WETH)


def tx_json(to: str | None, data: bytes, value: int = 0, sender: str = USER) -> dict[str, Any]:
    return {
        "to": to,
        "input": "0x" + data.hex(),
        "value": hex(value),
        "from": sender,
        "hash": HASH,
        "nonce": "0x7",
        "type": "0x2",
    }


def decode(to: str, data: bytes, value: int = 0) -> list[PendingSwap]:
    return decoder().decode_json(tx_json(to, data, value))


def one(to: str, data: bytes, value: int = 0) -> PendingSwap:
    swaps = decode(to, data, value)
    assert len(swaps) == 1, swaps
    return swaps[0]


def v3_swap_input(
    recipient: str, amount: int, limit: int, path: bytes, payer_is_user: bool
) -> bytes:
    return eth_abi.encode(
        ["address", "uint256", "uint256", "bytes", "bool"],
        [recipient, amount, limit, path, payer_is_user],
    )


def v2_swap_input(
    recipient: str, amount: int, limit: int, path: Sequence[str], payer_is_user: bool
) -> bytes:
    return eth_abi.encode(
        ["address", "uint256", "uint256", "address[]", "bool"],
        [recipient, amount, limit, list(path), payer_is_user],
    )


# -- Router02 -------------------------------------------------------------------------------


def test_router02_exact_tokens_for_tokens_multihop() -> None:
    data = r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(1000, 900, [C, B, A], OTHER, DEADLINE)
    swap = one(R02, data)
    assert swap.hops == ((12, False), (11, False))
    assert swap.tokens == (C, B, A)
    assert (swap.amount_in, swap.amount_out, swap.deadline) == (1000, 900, DEADLINE)
    assert not swap.exact_output and swap.recipient == OTHER
    assert (swap.sender, swap.tx_hash, swap.nonce, swap.router) == (USER, HASH, 7, "v2_router02")
    assert swap.flags == 0


@pytest.mark.parametrize(
    ("fn", "args", "value", "expected"),
    [
        # (exact_output, amount_in, amount_out, native_in, native_out, fee_on_transfer)
        (r.R02_SWAP_TOKENS_FOR_EXACT_TOKENS, (50, 70, [A, B], USER, 9), 0, (True, 70, 50, 0, 0, 0)),
        (r.R02_SWAP_EXACT_ETH_FOR_TOKENS, (40, [WETH, A], USER, 9), 66, (False, 66, 40, 1, 0, 0)),
        (r.R02_SWAP_ETH_FOR_EXACT_TOKENS, (40, [WETH, A], USER, 9), 66, (True, 66, 40, 1, 0, 0)),
        (
            r.R02_SWAP_EXACT_TOKENS_FOR_ETH,
            (30, 20, [A, WETH], USER, 9),
            0,
            (False, 30, 20, 0, 1, 0),
        ),
        (m.R02_SWAP_TOKENS_FOR_EXACT_ETH, (30, 35, [A, WETH], USER, 9), 0, (True, 35, 30, 0, 1, 0)),
        (
            r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS_FOT,
            (30, 20, [A, B], USER, 9),
            0,
            (False, 30, 20, 0, 0, 1),
        ),
        (
            m.R02_SWAP_EXACT_ETH_FOR_TOKENS_FOT,
            (20, [WETH, A], USER, 9),
            5,
            (False, 5, 20, 1, 0, 1),
        ),
        (
            m.R02_SWAP_EXACT_TOKENS_FOR_ETH_FOT,
            (30, 20, [A, WETH], USER, 9),
            0,
            (False, 30, 20, 0, 1, 1),
        ),
    ],
)
def test_router02_swap_variants(
    fn: Any, args: tuple[Any, ...], value: int, expected: tuple[Any, ...]
) -> None:
    swap = one(R02, fn.encode(*args), value)
    exact_output, amount_in, amount_out, native_in, native_out, fot = expected
    assert swap.exact_output == exact_output
    assert (swap.amount_in, swap.amount_out, swap.deadline) == (amount_in, amount_out, 9)
    assert (swap.native_in, swap.native_out, swap.fee_on_transfer) == (
        bool(native_in),
        bool(native_out),
        bool(fot),
    )
    path = args[-3]
    assert swap.hops == (
        (pool_id_of("v2", path[0], path[1], None), int(path[0], 16) < int(path[1], 16)),
    )


def test_router02_liquidity_calls_are_non_swaps() -> None:
    dec = decoder()
    data = r.R02_ADD_LIQUIDITY.encode(A, B, 1, 2, 0, 0, USER, 9)
    assert dec.decode_json(tx_json(R02, data)) == []
    assert dec.counts["non_swap"] == 1


# -- SwapRouter -----------------------------------------------------------------------------


def test_swap_router_singles() -> None:
    params = (A, WETH, 500, OTHER, DEADLINE, 100, 90, 12345)
    swap = one(SR, r.SR_EXACT_INPUT_SINGLE.encode(params))
    assert swap.hops == ((20, False),) and swap.tokens == (A, WETH)
    assert (swap.amount_in, swap.amount_out, swap.deadline) == (100, 90, DEADLINE)
    assert swap.sqrt_price_limit_x96 == 12345 and swap.recipient == OTHER
    params = (WETH, A, 3000, USER, DEADLINE, 100, 130, 0)
    swap = one(SR, r.SR_EXACT_OUTPUT_SINGLE.encode(params))
    assert swap.hops == ((30, True),) and swap.exact_output
    assert (swap.amount_in, swap.amount_out) == (130, 100)


def test_swap_router_paths_and_reversed_exact_output_path() -> None:
    path = r.encode_v3_path([WETH, A, B], [500, 3000])
    swap = one(SR, r.SR_EXACT_INPUT.encode((path, USER, DEADLINE, 10, 9)))
    assert swap.hops == ((20, True), (31, True)) and swap.tokens == (WETH, A, B)
    reversed_path = r.encode_v3_path([B, A, WETH], [3000, 500])
    swap = one(SR, r.SR_EXACT_OUTPUT.encode((reversed_path, USER, DEADLINE, 10, 11)))
    assert swap.hops == ((20, True), (31, True)) and swap.tokens == (WETH, A, B)
    assert swap.exact_output and (swap.amount_in, swap.amount_out) == (11, 10)


def test_swap_router_multicall_unwrap_to_itself_is_native_out() -> None:
    swap_call = r.SR_EXACT_INPUT_SINGLE.encode((A, WETH, 500, m.ZERO_ADDRESS, 5, 100, 90, 0))
    unwrap = bytes.fromhex("49404b7c") + eth_abi.encode(["uint256", "address"], [90, USER])
    swap = one(SR, r.SR_MULTICALL.encode([swap_call, unwrap]))
    assert swap.recipient == SR and swap.native_out and swap.deadline == 5


def test_swap_router_eth_input_is_native_in() -> None:
    swap_call = r.SR_EXACT_INPUT_SINGLE.encode((WETH, A, 500, USER, 5, 100, 90, 0))
    refund = bytes.fromhex("12210e8a")  # refundETH()
    swap = one(SR, r.SR_MULTICALL.encode([swap_call, refund]), value=100)
    assert swap.native_in and not swap.native_out


# -- SwapRouter02 ---------------------------------------------------------------------------


def test_swap_router02_v3_functions() -> None:
    s = one(SR02, r.SR02_EXACT_INPUT_SINGLE.encode((B, A, 500, m.MSG_SENDER, 100, 90, 0)))
    assert s.hops == ((21, False),) and s.recipient == USER and s.deadline == 0
    s = one(SR02, r.SR02_EXACT_OUTPUT_SINGLE.encode((A, B, 500, OTHER, 100, 120, 0)))
    assert s.exact_output and (s.amount_in, s.amount_out) == (120, 100) and s.hops == ((21, True),)
    path = r.encode_v3_path([A, B, C], [500, 500])
    s = one(SR02, r.SR02_EXACT_INPUT.encode((path, OTHER, 100, 90)))
    assert s.hops == ((21, True), (22, True))
    s = one(SR02, m.SR02_EXACT_OUTPUT.encode((r.encode_v3_path([C, B, A], [500, 500]), USER, 7, 8)))
    assert s.hops == ((21, True), (22, True)) and s.exact_output


def test_swap_router02_v2_functions() -> None:
    s = one(SR02, r.SR02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(100, 90, [B, A], m.ADDRESS_THIS))
    assert s.hops == ((10 + 1, False),) and s.recipient == SR02 and s.deadline == 0
    s = one(SR02, r.SR02_SWAP_TOKENS_FOR_EXACT_TOKENS.encode(100, 150, [A, B, C], USER))
    assert s.exact_output and s.hops == ((11, True), (12, True))
    assert (s.amount_in, s.amount_out) == (150, 100)


def test_swap_router02_multicall_overloads_and_nesting() -> None:
    inner = r.SR02_EXACT_INPUT_SINGLE.encode((A, B, 500, USER, 100, 90, 0))
    assert one(SR02, r.SR02_MULTICALL_DEADLINE.encode(DEADLINE, [inner])).deadline == DEADLINE
    blockhash = m.SR02_MULTICALL_PREVIOUS_BLOCKHASH.encode(b"\x11" * 32, [inner])
    assert one(SR02, blockhash).deadline == 0
    nested = r.SR02_MULTICALL_DEADLINE.encode(DEADLINE, [r.SR_MULTICALL.encode([inner, inner])])
    swaps = decode(SR02, nested)
    assert [s.index for s in swaps] == [0, 1] and {s.deadline for s in swaps} == {DEADLINE}


def test_swap_router02_contract_balance_and_unwrap() -> None:
    first = r.SR02_EXACT_INPUT_SINGLE.encode((A, B, 500, m.ADDRESS_THIS, 100, 0, 0))
    second = r.SR02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(0, 50, [B, A, WETH], m.ADDRESS_THIS)
    unwrap = bytes.fromhex("49616997") + eth_abi.encode(["uint256"], [50])  # unwrapWETH9(uint256)
    swaps = decode(SR02, r.SR02_MULTICALL_DEADLINE.encode(DEADLINE, [first, second, unwrap]))
    assert [s.amount_unknown for s in swaps] == [False, True]
    assert [s.native_out for s in swaps] == [False, True]
    assert swaps[1].flags & FLAG_AMOUNT_UNKNOWN and swaps[1].flags & FLAG_NATIVE_OUT


def test_unwrap_selectors_match_the_signatures() -> None:
    assert bytes.fromhex("49404b7c") in m.SR_UNWRAP_SELECTORS
    assert bytes.fromhex("49616997") in m.SR_UNWRAP_SELECTORS


# -- UniversalRouter ------------------------------------------------------------------------


def test_universal_router_eth_in_v3_and_v2() -> None:
    wrap = eth_abi.encode(["address", "uint256"], [m.ADDRESS_THIS, 77])
    swap = v3_swap_input(m.MSG_SENDER, 77, 5, r.encode_v3_path([WETH, A], [3000]), False)
    data = r.UR_EXECUTE.encode(bytes([r.UR_WRAP_ETH, r.UR_V3_SWAP_EXACT_IN]), [wrap, swap], 9)
    s = one(UR, data, value=77)
    assert s.hops == ((30, True),) and s.native_in and s.recipient == USER
    assert (s.amount_in, s.amount_out, s.deadline) == (77, 5, 9)
    swap = v2_swap_input(OTHER, 77, 5, [WETH, A, B], False)
    data = m.UR_EXECUTE_NO_DEADLINE.encode(
        bytes([r.UR_WRAP_ETH, r.UR_V2_SWAP_EXACT_IN]), [wrap, swap]
    )
    s = one(UR, data, value=77)
    assert s.hops == ((10, True), (11, True)) and s.native_in and s.deadline == 0


def test_universal_router_exact_out_unwrap_allow_revert_and_skipped_commands() -> None:
    path = r.encode_v3_path([WETH, A, B], [500, 500])  # output first
    out_v3 = v3_swap_input(m.ADDRESS_THIS, 1000, 1100, path, True)
    out_v2 = v2_swap_input(OTHER, 10, 12, [C, D], True)
    unwrap = eth_abi.encode(["address", "uint256"], [m.MSG_SENDER, 1000])
    sweep = eth_abi.encode(["address", "address", "uint256"], [A, USER, 0])
    commands = bytes(
        [r.UR_V3_SWAP_EXACT_OUT, r.UR_UNWRAP_WETH, 0x80 | r.UR_V2_SWAP_EXACT_OUT, r.UR_SWEEP]
    )
    swaps = decode(UR, r.UR_EXECUTE.encode(commands, [out_v3, unwrap, out_v2, sweep], 9))
    first, second = swaps
    assert first.tokens == (B, A, WETH) and first.hops == ((21, False), (20, False))
    assert first.exact_output and (first.amount_in, first.amount_out) == (1100, 1000)
    assert first.native_out and not first.native_in and first.recipient == UR
    assert second.hops == ((13, True),) and second.allow_revert and not second.native_out
    # UniversalRouter pays a V2 exact-output swap forward (getAmountsIn, then exact input)
    assert second.flags == FLAG_EXACT_OUTPUT | FLAG_ALLOW_REVERT | FLAG_EXACT_OUT_PAID_FORWARD


def test_universal_router_sentinels_sub_plan_and_unknown_commands() -> None:
    first = v3_swap_input(m.ADDRESS_THIS, 100, 0, r.encode_v3_path([A, B], [500]), True)
    chained = v2_swap_input(USER, m.UR_CONTRACT_BALANCE, 1, [B, C], False)
    paid = v2_swap_input(USER, m.UR_V2_ALREADY_PAID, 1, [B, C], False)
    sub = eth_abi.encode(["bytes", "bytes[]"], [bytes([r.UR_V2_SWAP_EXACT_IN]), [paid]])
    commands = bytes([r.UR_V3_SWAP_EXACT_IN, r.UR_V2_SWAP_EXACT_IN, m.UR_EXECUTE_SUB_PLAN])
    dec = decoder()
    data = r.UR_EXECUTE.encode(
        commands + bytes([m.UR_V4_SWAP, 0x3F]), [first, chained, sub, b"", b""], 9
    )
    swaps = dec.decode_json(tx_json(UR, data))
    assert [s.amount_unknown for s in swaps] == [False, True, True]
    assert dec.counts["v4_swap"] == 1 and dec.counts["unknown_command"] == 1


def test_universal_router_length_mismatch_is_malformed() -> None:
    dec = decoder()
    data = r.UR_EXECUTE.encode(bytes([0, 0]), [b""], 9)
    assert dec.decode_json(tx_json(UR, data)) == []
    assert dec.counts["malformed"] == 1


# -- what is skipped, and counted -----------------------------------------------------------


def test_skips_are_counted_by_reason() -> None:
    dec = decoder()
    ok = r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(1, 0, [A, B], USER, 9)
    assert dec.decode_json(tx_json(OTHER, ok)) == []
    assert dec.decode_json(tx_json(None, ok)) == []
    assert dec.decode_json(tx_json(R02, b"\xde\xad\xbe\xef")) == []
    assert dec.decode_json(tx_json(R02, ok[:40])) == []
    unknown = r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(1, 0, [A, UNKNOWN], USER, 9)
    assert dec.decode_json(tx_json(R02, unknown)) == []
    five = r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(1, 0, CHAIN, USER, 9)
    assert dec.decode_json(tx_json(R02, five)) == []
    no_venue = r.SR02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(1, 0, [A, B], USER)
    assert dec.decode_json(tx_json(SR, no_venue)) == []  # not a SwapRouter function
    assert dec.decode_json({"to": R02}) == []
    assert dict(dec.counts) == {
        "not_router": 1,
        "contract_creation": 1,
        "unknown_selector": 2,
        "malformed": 1,
        "unknown_pool": 1,
        "too_many_hops": 1,
        "bad_envelope": 1,
    }


def test_a_bad_inner_call_drops_only_itself() -> None:
    dec = decoder()
    good = r.SR02_EXACT_INPUT_SINGLE.encode((A, B, 500, USER, 100, 90, 0))
    data = r.SR_MULTICALL.encode([good, good[:50], b"\x01\x02"])
    assert len(dec.decode_json(tx_json(SR02, data))) == 1
    assert dec.counts["malformed_inner_call"] == 1 and dec.counts["unknown_selector"] == 1


def test_router_info_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="router kind"):
        RouterInfo(kind="v4_router")


# -- raw signed bytes -----------------------------------------------------------------------


@pytest.mark.parametrize("tx_type", [0, 1, 2])
def test_raw_transactions_of_every_type_decode_with_their_sender(tx_type: int) -> None:
    data = r.R02_SWAP_EXACT_ETH_FOR_TOKENS.encode(5, [WETH, A], SIGNER, 9)
    raw = signed(base_tx(tx_type, data, to=R02, value=123))
    (swap,) = decoder().decode_raw(raw)
    assert swap.sender == SIGNER and swap.tx_hash == "0x" + keccak(raw).hex()
    assert swap.amount_in == 123 and swap.native_in and swap.nonce == 3
    fields = fields_from_raw(raw)
    assert (fields.tx_type, fields.to, fields.data, fields.value_wei) == (tx_type, R02, data, 123)


def test_a_raw_transaction_to_a_non_router_skips_sender_recovery() -> None:
    dec = decoder()
    data = r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(1, 0, [A, B], USER, 9)
    raw = signed(base_tx(2, data, to=OTHER))
    assert dec.decode_raw(raw) == [] and dec.counts["not_router"] == 1
    tampered = bytearray(signed(base_tx(2, data, to=R02)))
    tampered[-5] ^= 0xFF  # the signature's s: recovery fails or yields another sender
    swaps = dec.decode_raw(bytes(tampered))
    assert (swaps == [] and dec.counts["bad_signature"] == 1) or swaps[0].sender != SIGNER


# -- records --------------------------------------------------------------------------------


def test_records_carry_every_field() -> None:
    data = r.R02_SWAP_EXACT_TOKENS_FOR_ETH.encode(2**200, 7, [C, B, A, WETH], USER, DEADLINE)
    (swap,) = decode(R02, data)
    out = empty_records(2)
    assert to_records([swap], out, [(4096, 321)], recv_ns=55) == 1
    rec = out[0]
    assert rec["kind"] == Kind.PENDING_SWAP and rec["source"] == 2 and rec["recv_ns"] == 55
    assert rec["n_hops"] == 3 and rec["pool_id"] == 12
    assert list(rec["hop_pool_ids"]) == [12, 11, 10, -1]
    assert rec["aux"] == 0  # every hop pays token1 for token0
    assert rec["flags"] == FLAG_NATIVE_OUT
    assert get_value(rec, 0) == 2**200 and get_value(rec, 1) == 7 and get_value(rec, 2) == DEADLINE
    assert rec["value_f"][0] == float(2**200)
    assert bytes(rec["tx_hash"]).hex() == HASH[2:]
    assert bytes(rec["sender"]) == bytes.fromhex(USER[2:])
    assert (int(rec["raw_offset"]), int(rec["raw_len"])) == (4096, 321)
    assert out[1]["kind"] == Kind.EMPTY


def test_record_flags_and_direction_bits() -> None:
    data = r.R02_SWAP_ETH_FOR_EXACT_TOKENS.encode(5, [WETH, A, B], USER, 9)
    (swap,) = decode(R02, data, value=10)
    out = empty_records(1)
    to_records([swap], out, [(0, 1)])
    assert out[0]["flags"] == FLAG_EXACT_OUTPUT | FLAG_NATIVE_IN
    assert out[0]["aux"] == 0b11
    fot = one(R02, r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS_FOT.encode(1, 0, [A, B], USER, 9))
    assert fot.flags == FLAG_FEE_ON_TRANSFER


def test_write_tx_records_stores_the_raw_bytes_once() -> None:
    inner = r.SR02_EXACT_INPUT_SINGLE.encode((A, B, 500, USER, 100, 90, 0))
    swaps = decode(SR02, r.SR_MULTICALL.encode([inner, inner]))
    stored: list[bytes] = []

    def store_raw(raw: bytes) -> tuple[int, int]:
        stored.append(raw)
        return 64, len(raw)

    out = empty_records(2)
    assert write_tx_records(swaps, b"raw!", out, store_raw) == 2
    assert stored == [b"raw!"]
    assert list(out["raw_offset"]) == [64, 64] and list(out["log_index"]) == [0, 1]
    assert write_tx_records([], b"raw!", out, store_raw) == 0 and len(stored) == 1


def test_to_records_refuses_mismatched_sizes() -> None:
    swap = one(R02, r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(1, 0, [A, B], USER, 9))
    with pytest.raises(ValueError, match="raw locations"):
        to_records([swap], empty_records(1), [])
    with pytest.raises(ValueError, match="do not fit"):
        to_records([swap, swap], empty_records(1), [(0, 1), (0, 1)])


# -- fuzz: nothing the network sends raises -------------------------------------------------

_SEEDS = [
    (R02, r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(1, 0, [A, B, C], USER, 9)),
    (SR, r.SR_EXACT_OUTPUT.encode((r.encode_v3_path([B, A], [500]), USER, 9, 1, 2))),
    (
        SR02,
        r.SR02_MULTICALL_DEADLINE.encode(
            9, [r.SR02_EXACT_INPUT_SINGLE.encode((A, B, 500, USER, 1, 0, 0))]
        ),
    ),
    (
        UR,
        r.UR_EXECUTE.encode(
            bytes([r.UR_WRAP_ETH, r.UR_V2_SWAP_EXACT_IN, m.UR_EXECUTE_SUB_PLAN]),
            [
                eth_abi.encode(["address", "uint256"], [m.ADDRESS_THIS, 5]),
                v2_swap_input(USER, 5, 0, [WETH, A], False),
                eth_abi.encode(["bytes", "bytes[]"], [b"\x00", [b"\x00" * 64]]),
            ],
            9,
        ),
    ),
]
_ENTRY_SELECTORS = [data[:4] for _, data in _SEEDS] + [
    r.SR_MULTICALL.selector,
    m.UR_EXECUTE_NO_DEADLINE.selector,
    r.SR02_EXACT_INPUT.selector,
]
_FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_well_formed(swaps: list[PendingSwap]) -> None:
    for swap in swaps:
        assert 1 <= len(swap.hops) <= 4
        to_records(swaps, empty_records(len(swaps)), [(0, 0)] * len(swaps))


@_FUZZ
@given(
    router=st.sampled_from([R02, SR, SR02, UR]),
    selector=st.sampled_from(_ENTRY_SELECTORS),
    body=st.binary(max_size=600),
    value=st.integers(0, 2**256 - 1),
)
def test_garbage_calldata_never_raises(
    router: str, selector: bytes, body: bytes, value: int
) -> None:
    _assert_well_formed(decode(router, selector + body, value))


@_FUZZ
@given(seed=st.sampled_from(range(len(_SEEDS))), data=st.data())
def test_mutated_calldata_never_raises(seed: int, data: st.DataObject) -> None:
    router, calldata = _SEEDS[seed]
    buf = bytearray(calldata)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(buf) - 1))
        buf[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    for mutated in (bytes(buf), bytes(buf[:cut])):
        _assert_well_formed(decode(router, mutated))


@_FUZZ
@given(raw=st.binary(max_size=400))
def test_garbage_raw_bytes_never_raise(raw: bytes) -> None:
    _assert_well_formed(decoder().decode_raw(raw))


@_FUZZ
@given(data=st.data())
def test_mutated_raw_transactions_never_raise(data: st.DataObject) -> None:
    router, calldata = data.draw(st.sampled_from(_SEEDS))
    raw = bytearray(signed(base_tx(data.draw(st.sampled_from([0, 1, 2])), calldata, to=router)))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    _assert_well_formed(decoder().decode_raw(bytes(raw)))


@_FUZZ
@given(
    tx=st.fixed_dictionaries(
        {},
        optional={
            "to": st.one_of(st.none(), st.sampled_from([R02, UR]), st.text(max_size=50)),
            "input": st.one_of(st.text(max_size=20), st.just("0x" + _SEEDS[0][1].hex())),
            "value": st.one_of(st.text(max_size=10), st.just("0x0")),
            "from": st.one_of(st.just(USER), st.text(max_size=44)),
            "hash": st.one_of(st.just(HASH), st.text(max_size=66)),
            "nonce": st.one_of(st.just("0x1"), st.integers()),
        },
    )
)
def test_garbage_json_never_raises(tx: dict[str, Any]) -> None:
    _assert_well_formed(decoder().decode_json(tx))


def test_records_round_trip_as_numpy() -> None:
    swap = one(
        UR,
        r.UR_EXECUTE.encode(
            bytes([0]), [v3_swap_input(USER, 3, 1, r.encode_v3_path([A, B], [500]), True)], 0
        ),
    )
    out = empty_records(1)
    to_records([swap], out, [(0, 0)])
    assert np.array_equal(out["hop_pool_ids"][0], np.array([21, -1, -1, -1], dtype=np.int32))

"""One arbitrage written twice, as call traces and as logs: both readings give the same cycle.

The transaction: bot B pays 1,000 WETH-wei into V2 pair P1 (token0 WETH, token1 X) and calls
`swap(0, 1990, B, "")`; P1 sends 1,990 X to B. B then calls V3 pool P2 (token0 X, token1
WETH) `swap(B, true, 1990, limit, "")`; P2 sends 1,100 WETH to B and, in the swap callback,
B pays 1,990 X into P2. Profit: 100 WETH-wei.
"""

from __future__ import annotations

import json
from pathlib import Path

import eth_abi
import pytest

from chains.abi import ERC20_TRANSFER_EVENT, V2_SWAP, V3_SWAP
from sim.inspect import inspect_file
from sim.inspect_arbs import get_arbitrages
from sim.inspect_logs import LogRow, get_log_swaps
from sim.inspect_model import Arbitrage, Hop, Swap
from sim.inspect_trace_io import CallTrace
from sim.inspect_traces import V2_PAIR_SWAP, V3_POOL_SWAP, get_trace_swaps

EOA = "0x" + "e0" * 20
BOT = "0x" + "b0" * 20
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
TOKEN_X = "0x" + "aa" * 20
P1 = "0x" + "01" * 20
P2 = "0x" + "02" * 20
TX = "0x" + "ab" * 32
BLOCK = 20_000_000
TX_INDEX = 3
TRANSFER = bytes.fromhex("a9059cbb")
CALLBACK = bytes.fromhex("fa461e33")  # uniswapV3SwapCallback(int256,int256,bytes)


def _call(address: tuple[int, ...], sender: str, target: str, data: bytes) -> CallTrace:
    return CallTrace(
        block_number=BLOCK,
        transaction_hash=TX,
        transaction_index=TX_INDEX,
        trace_address=address,
        kind="call",
        from_address=sender,
        to_address=target,
        input=data,
        value_wei=0,
        error=None,
    )


def _transfer_call(to: str, amount: int) -> bytes:
    return TRANSFER + eth_abi.encode(["address", "uint256"], [to, amount])


def _traces() -> list[CallTrace]:
    return [
        _call((), EOA, BOT, b"\x12\x34\x56\x78"),
        _call((0,), BOT, WETH, _transfer_call(P1, 1000)),
        _call((1,), BOT, P1, V2_PAIR_SWAP.encode(0, 1990, BOT, b"")),
        _call((1, 0), P1, TOKEN_X, _transfer_call(BOT, 1990)),
        _call((2,), BOT, P2, V3_POOL_SWAP.encode(BOT, True, 1990, 4295128740, b"")),
        _call((2, 0), P2, WETH, _transfer_call(BOT, 1100)),
        _call(
            (2, 1),
            P2,
            BOT,
            CALLBACK + eth_abi.encode(["int256", "int256", "bytes"], [1990, -1100, b""]),
        ),
        _call((2, 1, 0), BOT, TOKEN_X, _transfer_call(P2, 1990)),
    ]


def _topic(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def _log(index: int, address: str, topics: list[bytes], data: bytes) -> LogRow:
    return LogRow(
        block_number=BLOCK,
        transaction_index=TX_INDEX,
        log_index=index,
        transaction_hash=TX,
        address=address,
        topics=tuple(topics),
        data=data,
    )


def _transfer_log(index: int, token: str, sender: str, to: str, amount: int) -> LogRow:
    topics = [ERC20_TRANSFER_EVENT.topic0, _topic(sender), _topic(to)]
    return _log(index, token, topics, amount.to_bytes(32, "big"))


def _logs() -> list[LogRow]:
    v2 = eth_abi.encode(["uint256"] * 4, [1000, 0, 0, 1990])
    v3 = eth_abi.encode(
        ["int256", "int256", "uint160", "uint128", "int24"], [1990, -1100, 2**96, 10**18, -5]
    )
    return [
        _transfer_log(10, WETH, BOT, P1, 1000),
        _transfer_log(11, TOKEN_X, P1, BOT, 1990),
        _log(12, P1, [V2_SWAP.topic0, _topic(BOT), _topic(BOT)], v2),
        _transfer_log(13, WETH, P2, BOT, 1100),
        _transfer_log(14, TOKEN_X, BOT, P2, 1990),
        _log(15, P2, [V3_SWAP.topic0, _topic(BOT), _topic(BOT)], v3),
    ]


EXPECTED_HOPS = (
    Hop(pool=P1, token_in=WETH, token_out=TOKEN_X, amount_in=1000, amount_out=1990),
    Hop(pool=P2, token_in=TOKEN_X, token_out=WETH, amount_in=1990, amount_out=1100),
)


def _without_source(arbitrage: Arbitrage) -> dict[str, object]:
    fields = arbitrage.to_dict()
    del fields["source"]
    return fields


def test_traces_and_logs_give_the_same_arbitrage() -> None:
    (from_traces,) = get_arbitrages(get_trace_swaps(_traces()))
    logs = get_log_swaps(_logs())
    (from_logs,) = get_arbitrages(logs.swaps)
    assert from_traces.source == "traces"
    assert from_logs.source == "logs"
    assert _without_source(from_traces) == _without_source(from_logs)
    assert from_traces.hops == EXPECTED_HOPS
    assert from_traces.profit == 100
    assert from_traces.profit_token == WETH
    assert from_traces.account == BOT
    assert (from_traces.block_number, from_traces.transaction_index) == (BLOCK, TX_INDEX)
    assert logs.pool_tokens == {P1: (WETH, TOKEN_X), P2: (TOKEN_X, WETH)}
    assert logs.skipped_swaps == 0


def test_swap_inside_a_reverted_call_is_reverted() -> None:
    traces = _traces()
    # the V3 swap call reverts (its effects undone) while the transaction goes on
    traces[4] = CallTrace(**{**_fields(traces[4]), "error": "Reverted"})
    (arbitrage,) = get_arbitrages(get_trace_swaps(traces))
    assert arbitrage.reverted
    traces = _traces()
    traces[0] = CallTrace(**{**_fields(traces[0]), "error": "Reverted"})
    swaps = get_trace_swaps(traces)
    assert all(swap.reverted for swap in swaps)


def _fields(trace: CallTrace) -> dict[str, object]:
    return {name: getattr(trace, name) for name in CallTrace.__slots__}


def test_log_swap_without_matching_transfer_is_skipped_not_guessed() -> None:
    logs = [row for row in _logs() if row.log_index != 14]  # drop X paid into P2
    found = get_log_swaps(logs)
    assert found.skipped_swaps == 1
    assert found.unproven_pools == frozenset({P2})
    assert [swap.pool for swap in found.swaps] == [P1]
    assert get_arbitrages(found.swaps) == []


def test_pool_with_conflicting_token_proofs_is_dropped() -> None:
    logs = _logs()
    # a second transaction in which P1 appears to trade a different token pair
    other_tx = "0x" + "cd" * 32
    v2 = eth_abi.encode(["uint256"] * 4, [5, 0, 0, 7])
    token_y = "0x" + "cc" * 20
    extra = [
        _transfer_log(1, token_y, BOT, P1, 5),
        _transfer_log(2, TOKEN_X, P1, BOT, 7),
        _log(3, P1, [V2_SWAP.topic0, _topic(BOT), _topic(BOT)], v2),
    ]
    extra = [
        LogRow(**{**{n: getattr(r, n) for n in LogRow.__slots__}, "transaction_hash": other_tx})
        for r in extra
    ]
    found = get_log_swaps(logs + extra)
    assert P1 in found.unproven_pools
    assert P1 not in found.pool_tokens
    assert found.skipped_swaps == 2
    assert [swap.pool for swap in found.swaps] == [P2]


def test_to_json_keeps_exact_integers() -> None:
    big = 10**30 + 7
    swaps = [
        Swap(
            block_number=1,
            transaction_hash=TX,
            transaction_index=0,
            position=(0,),
            pool=P1,
            from_address=BOT,
            to_address=BOT,
            token_in=WETH,
            amount_in=big,
            token_out=TOKEN_X,
            amount_out=5,
            reverted=False,
            source="logs",
        ),
        Swap(
            block_number=1,
            transaction_hash=TX,
            transaction_index=0,
            position=(1,),
            pool=P2,
            from_address=BOT,
            to_address=BOT,
            token_in=TOKEN_X,
            amount_in=5,
            token_out=WETH,
            amount_out=big + 3,
            reverted=False,
            source="logs",
        ),
    ]
    (arbitrage,) = get_arbitrages(swaps)
    decoded = json.loads(arbitrage.to_json())
    assert decoded["profit"] == 3
    assert decoded["hops"][0]["amount_in"] == big
    assert isinstance(decoded["profit"], int)
    assert decoded["block"] == 1
    assert decoded["reverted"] is False


def test_amounts_more_than_one_percent_apart_do_not_chain() -> None:
    swaps = get_trace_swaps(_traces())
    assert len(get_arbitrages(swaps)) == 1
    # the second hop now takes in 2% more X than the first hop gave out
    traces = _traces()
    traces[7] = CallTrace(**{**_fields(traces[7]), "input": _transfer_call(P2, 2030)})
    assert get_arbitrages(get_trace_swaps(traces)) == []


@pytest.fixture
def block_json(tmp_path: Path) -> Path:
    traces = []
    for trace in _traces():
        traces.append(
            {
                "action": {
                    "callType": "call",
                    "from": trace.from_address,
                    "to": trace.to_address,
                    "input": "0x" + trace.input.hex(),
                    "value": "0x0",
                    "gas": "0x0",
                },
                "block_number": BLOCK,
                "result": {"gasUsed": "0x0", "output": "0x"},
                "subtraces": 0,
                "trace_address": list(trace.trace_address),
                "transaction_hash": TX,
                "transaction_position": TX_INDEX,
                "type": "call",
                "error": None,
            }
        )
    traces.append({"action": {"author": EOA, "value": "0x1"}, "type": "reward"})
    path = tmp_path / "synthetic_block.json"
    path.write_text(json.dumps({"block_number": BLOCK, "traces": traces, "receipts": []}))
    return path


def test_block_json_file_round_trip(block_json: Path) -> None:
    inspection = inspect_file(block_json)
    assert inspection.kind == "block_json"
    assert inspection.swaps_per_block() == {BLOCK: 2}
    (arbitrage,) = inspection.arbitrages
    assert arbitrage.hops == EXPECTED_HOPS
    assert arbitrage.profit == 100

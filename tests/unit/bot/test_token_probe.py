"""Transfer probe: decoding of the probe contract's outcome, the eth_call it makes, denial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import eth_abi
import pytest
from eth_utils import keccak

from bot.risk import RiskGate, RiskLimits
from bot.token_probe import (
    FAILED_SELECTOR,
    MEASURED_SELECTOR,
    PROBE,
    PROBE_ADDRESS,
    PROBE_RECIPIENT,
    TransferProbeError,
    TransferProbeResult,
    decode_probe_outcome,
    deny_if_lossy,
    describe_revert,
    probe_token,
)
from chains.artifacts import load_project_artifact
from chains.rpc import RpcResponseError

TOKEN = "0x" + "ab" * 20
POOL = "0x" + "cd" * 20
ETH = 10**18
MEASURED_TYPES = ["uint256"] * 7 + ["bool", "bytes"]
TRANSFER_BLOCKED = (
    keccak(text="TransferBlocked(address)")[:4] + bytes(12) + bytes.fromhex("11" * 20)
)


def measured(
    *,
    sent: int = 1_000,
    before: int = 0,
    received: int | None = None,
    next_before: int = 0,
    next_received: int | None = None,
    debited: int | None = None,
    transfer_ok: bool = True,
    transfer_error: bytes = b"",
) -> bytes:
    """Encode ProbeMeasured as the contract reverts with it."""
    received = sent if received is None else received
    after_receive = before + received
    if next_received is None:
        next_received = received if transfer_ok else 0
    if debited is None:
        debited = received if transfer_ok else 0
    fields = [
        sent,
        before,
        after_receive,
        received,
        next_before,
        next_before + next_received,
        after_receive - debited,
        transfer_ok,
        transfer_error,
    ]
    return MEASURED_SELECTOR + eth_abi.encode(MEASURED_TYPES, fields)


def failed(stage: int, reason: bytes = b"") -> bytes:
    return FAILED_SELECTOR + eth_abi.encode(["uint8", "bytes"], [stage, reason])


def error_string(message: str) -> bytes:
    return keccak(text="Error(string)")[:4] + eth_abi.encode(["string"], [message])


def decode(outcome: bytes, amount: int = 1_000) -> TransferProbeResult:
    return decode_probe_outcome(TOKEN, amount, outcome)


def make_gate(tmp_path: Path) -> RiskGate:
    limits = RiskLimits(
        min_net_profit_wei=ETH // 100,
        max_input_wei=10 * ETH,
        max_gas_price_wei=100 * 10**9,
        max_gas_units=1_000_000,
        max_tip_share_bps=9_000,
        max_bundles_per_block=2,
        max_loss_per_hour_wei=ETH // 10,
        max_loss_per_day_wei=ETH // 4,
        max_consecutive_failures=3,
        max_token_exposure_wei=15 * ETH,
    )
    return RiskGate(limits, state_path=tmp_path / "risk.json", kill_switch_path=tmp_path / "KILL")


# -- the contract's interface -------------------------------------------------------------------


def test_selectors_match_the_compiled_contract() -> None:
    artifact = load_project_artifact("TransferProbe")
    errors = {
        e["name"]: keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")[:4]
        for e in artifact.abi
        if e["type"] == "error"
    }
    assert errors == {"ProbeMeasured": MEASURED_SELECTOR, "ProbeFailed": FAILED_SELECTOR}
    probe = next(e for e in artifact.abi if e.get("name") == "probe")
    assert [i["type"] for i in probe["inputs"]] == list(PROBE.arg_types)
    assert [o["type"] for o in probe["outputs"]] == list(PROBE.return_types)


def test_probe_addresses_are_distinct_and_fixed() -> None:
    assert PROBE_ADDRESS != PROBE_RECIPIENT
    assert PROBE_ADDRESS.lower() == "0x" + keccak(text="arbloop.TransferProbe")[12:].hex()


# -- decoding -----------------------------------------------------------------------------------


def test_exact_transfers_are_ok() -> None:
    result = decode(measured(sent=1_000, before=7, next_before=5))

    assert result == TransferProbeResult(
        token=result.token,
        requested=1_000,
        received_from_pool=1_000,
        forwarded=1_000,
        received_by_next=1_000,
        debited=1_000,
        transfer_reverted=False,
        measured=True,
        ok=True,
        reason=None,
    )
    assert result.token.lower() == TOKEN


def test_fee_on_the_pool_transfer_is_named_first() -> None:
    result = decode(measured(sent=1_000, received=990, next_received=980))

    assert not result.ok and result.measured
    assert result.received_from_pool == 990 and result.forwarded == 990
    assert result.received_by_next == 980
    assert result.reason == "pool transfer delivered 99.0% (fee on transfer)"


def test_fee_on_the_forward_only() -> None:
    result = decode(measured(sent=1_000, next_received=970))

    assert result.reason == "transfer delivered 97.0% (fee on transfer)"


def test_a_tiny_fee_never_prints_as_100_percent() -> None:
    assert decode(measured(sent=10_000, received=9_999)).reason == (
        "pool transfer delivered 99.99% (fee on transfer)"
    )
    assert decode(measured(sent=10**18, received=10**18 - 1)).reason == (
        f"pool transfer delivered {10**18 - 1} of {10**18} (fee on transfer)"
    )


def test_more_than_sent_is_reported_as_such() -> None:
    result = decode(measured(sent=1_000, received=1_002))

    assert result.reason == "pool transfer delivered 100.2% (more than sent: rebasing or minting)"


def test_sender_debited_more_than_it_sent() -> None:
    result = decode(measured(sent=1_000, before=100, debited=1_010))

    assert not result.ok
    assert result.debited == 1_010
    assert result.reason == "transfer of 1000 took 1010 from the sender (fee on transfer)"


def test_a_reverting_transfer_is_a_honeypot() -> None:
    result = decode(measured(transfer_ok=False, transfer_error=TRANSFER_BLOCKED))

    assert result.transfer_reverted and result.measured and not result.ok
    assert result.received_by_next == 0
    selector = TRANSFER_BLOCKED[:4].hex()
    assert result.reason == (
        f"transfer reverts for an ordinary holder (honeypot?): custom error 0x{selector}"
    )


def test_a_transfer_returning_false_counts_as_reverted() -> None:
    result = decode(measured(transfer_ok=False))

    assert result.transfer_reverted
    assert result.reason == "transfer reverts for an ordinary holder (honeypot?): returned false"


def test_error_string_reasons_are_spelled_out() -> None:
    result = decode(measured(transfer_ok=False, transfer_error=error_string("blacklisted")))

    assert result.reason == "transfer reverts for an ordinary holder (honeypot?): blacklisted"


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (failed(1), "not a pool (token0()/token1() unreadable)"),
        (failed(2), "token is not in the pool"),
        (
            failed(3, error_string("UniswapV2: INSUFFICIENT_LIQUIDITY")),
            "pool swap reverted before the callback: UniswapV2: INSUFFICIENT_LIQUIDITY",
        ),
        (failed(3), "pool swap reverted before the callback"),
        (failed(4), "pool returned without calling back"),
        (b"", "pool returned without calling back"),
        (failed(5, b"\x01\x02"), "balanceOf is unreadable: 0x0102"),
        (failed(9), "stage 9"),
    ],
)
def test_failures_are_unmeasured(outcome: bytes, reason: str) -> None:
    result = decode(outcome, amount=123)

    assert not result.measured and not result.ok and not result.transfer_reverted
    assert result.requested == 123
    assert result.received_from_pool == result.forwarded == result.received_by_next == 0
    assert result.reason == reason


@pytest.mark.parametrize(
    "outcome",
    [
        b"\xde\xad\xbe\xef",
        error_string("something else"),
        MEASURED_SELECTOR + b"\x00" * 10,
        FAILED_SELECTOR + b"\x01",
    ],
)
def test_foreign_outcomes_raise(outcome: bytes) -> None:
    with pytest.raises(TransferProbeError):
        decode(outcome)


def test_describe_revert() -> None:
    assert describe_revert(b"") == ""
    assert describe_revert(error_string("no")) == "no"
    assert describe_revert(b"\x12\x34") == "0x1234"
    assert describe_revert(bytes.fromhex("aabbccdd00")) == "custom error 0xaabbccdd"


# -- the eth_call -------------------------------------------------------------------------------


class FakeRpc:
    """Answers eth_call with a fixed probe outcome (or error) and records the request."""

    def __init__(self, outcome: bytes = b"", error: RpcResponseError | None = None) -> None:
        self.outcome = outcome
        self.error = error
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def call(self, method: str, *params: Any) -> Any:
        self.calls.append((method, params))
        if self.error is not None:
            raise self.error
        return "0x" + eth_abi.encode(["bytes"], [self.outcome]).hex()


@pytest.mark.parametrize(("kind", "v3"), [("v2", False), ("v3", True)])
def test_probe_token_injects_the_code_by_state_override(kind: str, v3: bool) -> None:
    rpc = FakeRpc(measured(sent=5_000))

    result = probe_token(rpc, TOKEN, POOL, kind, amount=5_000, block=1234)

    assert result.ok
    [(method, (tx, block, overrides))] = rpc.calls
    assert method == "eth_call"
    assert block == hex(1234)
    assert tx["to"] == PROBE_ADDRESS
    calldata = bytes.fromhex(tx["data"][2:])
    pool, is_v3, token, amount, recipient = PROBE.decode_input(calldata)
    assert (pool, is_v3, token, amount) == (POOL, v3, TOKEN, 5_000)
    assert recipient.lower() == PROBE_RECIPIENT.lower()
    code = load_project_artifact("TransferProbe").deployed_bytecode
    assert overrides == {PROBE_ADDRESS: {"code": "0x" + code.hex()}}


def test_probe_token_reports_a_node_error_as_unmeasured() -> None:
    rpc = FakeRpc(error=RpcResponseError("eth_call", -32602, "state override not supported"))

    result = probe_token(rpc, TOKEN, POOL, "v2", amount=1)

    assert not result.measured and not result.ok
    assert result.reason == "eth_call failed: state override not supported"


@pytest.mark.parametrize(
    ("kind", "amount"), [("v4", 1), ("V2", 1), ("v2", 0), ("v2", -1), ("v3", 2**112)]
)
def test_probe_token_refuses_nonsense(kind: str, amount: int) -> None:
    rpc = FakeRpc()
    with pytest.raises(ValueError):
        probe_token(rpc, TOKEN, POOL, kind, amount=amount)
    assert rpc.calls == []


# -- denial -------------------------------------------------------------------------------------


def test_deny_if_lossy_denies_a_fee_token_persistently(tmp_path: Path) -> None:
    gate = make_gate(tmp_path)
    result = decode(measured(sent=1_000, received=990))

    assert deny_if_lossy(gate, result)

    expected = {TOKEN: "pool transfer delivered 99.0% (fee on transfer)"}
    assert gate.denied_tokens == expected
    assert make_gate(tmp_path).denied_tokens == expected


def test_deny_if_lossy_denies_a_honeypot(tmp_path: Path) -> None:
    gate = make_gate(tmp_path)
    result = decode(measured(transfer_ok=False, transfer_error=TRANSFER_BLOCKED))

    assert deny_if_lossy(gate, result)
    assert gate.denied_tokens[TOKEN].startswith("transfer reverts for an ordinary holder")


def test_deny_if_lossy_leaves_exact_and_unmeasured_tokens_alone(tmp_path: Path) -> None:
    gate = make_gate(tmp_path)

    assert not deny_if_lossy(gate, decode(measured()))
    assert not deny_if_lossy(gate, decode(failed(1)))
    assert not deny_if_lossy(gate, decode(failed(3, error_string("UniswapV2: K"))))

    assert gate.denied_tokens == {}
    assert not (tmp_path / "risk.json").exists() or make_gate(tmp_path).denied_tokens == {}

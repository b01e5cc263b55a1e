"""Sending transactions to a local node: unlocked/impersonated senders and signed raw ones.

The world deployer and the traffic users go through here. Every receipt is checked: a
reverted transaction raises `TxReverted` with the decoded revert reason, never passes silently.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import eth_abi
from eth_account import Account
from eth_utils import to_checksum_address

from chains.rpc import HttpRpc, RpcResponseError

__all__ = [
    "Call",
    "RawSigner",
    "TxReverted",
    "UnlockedSender",
    "check_receipt",
    "decode_revert",
    "hex_int",
    "send_unlocked_blocks",
    "wait_receipt",
]

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


def hex_int(value: str) -> int:
    """Parse a 0x-hex quantity."""
    return int(value, 16)


def decode_revert(data: bytes) -> str:
    """Return a readable revert reason from revert data."""
    if data[:4] == _ERROR_STRING:
        try:
            return str(eth_abi.decode(["string"], data[4:])[0])
        except Exception:  # malformed reason: fall through to hex
            pass
    if data[:4] == _PANIC and len(data) >= 36:
        return f"panic 0x{int.from_bytes(data[4:36], 'big'):02x}"
    return "0x" + data.hex() if data else "(no reason)"


class TxReverted(RuntimeError):
    """A transaction was mined with status 0 (or was refused by the node)."""

    def __init__(self, what: str, reason: str, tx_hash: str | None = None) -> None:
        super().__init__(f"{what} reverted: {reason}" + (f" (tx {tx_hash})" if tx_hash else ""))
        self.reason = reason
        self.tx_hash = tx_hash


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One transaction to send: target (None deploys), calldata, value and gas limit."""

    to: str | None
    data: bytes
    value_wei: int = 0
    gas_units: int = 3_000_000
    label: str = ""


def _revert_reason(rpc: HttpRpc, sender: str, call: Call, block: str) -> str:
    params: dict[str, Any] = {"from": sender, "data": "0x" + call.data.hex()}
    if call.to is not None:
        params["to"] = call.to
    if call.value_wei:
        params["value"] = hex(call.value_wei)
    params["gas"] = hex(call.gas_units)
    try:
        rpc.call("eth_call", params, block)
    except RpcResponseError as exc:
        data = exc.data
        if isinstance(data, str) and data.startswith("0x"):
            return decode_revert(bytes.fromhex(data[2:]))
        return exc.message
    return "(succeeds when replayed: out of gas or state-dependent)"


def check_receipt(rpc: HttpRpc, sender: str, call: Call, receipt: dict[str, Any]) -> dict[str, Any]:
    """Raise TxReverted if the receipt has status 0; return it otherwise."""
    if hex_int(receipt["status"]) == 1:
        return receipt
    block = hex(hex_int(receipt["blockNumber"]) - 1)
    reason = _revert_reason(rpc, sender, call, block)
    raise TxReverted(call.label or "transaction", reason, receipt["transactionHash"])


def wait_receipt(rpc: HttpRpc, tx_hash: str, *, timeout_s: float) -> dict[str, Any] | None:
    """Poll for a receipt (anvil may answer a send before its automined block is sealed)."""
    deadline = time.monotonic() + timeout_s
    delay_s = 0.0005
    while True:
        receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
        if receipt is not None or time.monotonic() > deadline:
            return receipt
        time.sleep(delay_s)
        delay_s = min(delay_s * 2, 0.05)


class UnlockedSender:
    """Send from an account the node signs for (anvil dev accounts or impersonated ones)."""

    def __init__(self, rpc: HttpRpc, address: str) -> None:
        self.rpc = rpc
        self.address = to_checksum_address(address)

    def send(self, call: Call) -> dict[str, Any]:
        """Send one transaction on an automining node and return its checked receipt."""
        try:
            tx_hash = self.rpc.call("eth_sendTransaction", _unlocked_params(self.address, call))
        except RpcResponseError as exc:
            raise TxReverted(call.label or "transaction", exc.message) from exc
        receipt = wait_receipt(self.rpc, tx_hash, timeout_s=10.0)
        if receipt is None:
            raise RuntimeError(f"{call.label}: no receipt within 10 s; is the node automining?")
        return check_receipt(self.rpc, self.address, call, receipt)

    def send_blocks(self, calls: Sequence[Call]) -> list[dict[str, Any]]:
        """Send calls in order packed into as few blocks as fit; return checked receipts."""
        return send_unlocked_blocks(self.rpc, [(self.address, c) for c in calls])


def _unlocked_params(sender: str, call: Call) -> dict[str, Any]:
    params: dict[str, Any] = {
        "from": sender,
        "data": "0x" + call.data.hex(),
        "gas": hex(call.gas_units),
    }
    if call.to is not None:
        params["to"] = call.to
    if call.value_wei:
        params["value"] = hex(call.value_wei)
    return params


def send_unlocked_blocks(
    rpc: HttpRpc, items: Sequence[tuple[str, Call]], *, block_gas_units: int = 29_000_000
) -> list[dict[str, Any]]:
    """Send (sender, call) pairs in order, packed by gas limit into blocks mined one by one.

    Automine is paused while a block fills and restored afterwards; every receipt is checked.
    """
    receipts: list[dict[str, Any]] = []
    start = 0
    while start < len(items):
        end = start
        gas = 0
        while end < len(items):
            next_gas = items[end][1].gas_units
            if end > start and gas + next_gas > block_gas_units:
                break
            gas += next_gas
            end += 1
        chunk = items[start:end]
        senders = sorted({s for s, _ in chunk})
        counts = rpc.batch([("eth_getTransactionCount", [s, "pending"]) for s in senders])
        # explicit nonces: a node may handle the sends of one batch concurrently
        nonces = {s: hex_int(n) for s, n in zip(senders, counts, strict=True)}
        sends = []
        for sender, call in chunk:
            params = _unlocked_params(sender, call)
            params["nonce"] = hex(nonces[sender])
            nonces[sender] += 1
            sends.append(("eth_sendTransaction", [params]))
        rpc.call("evm_setAutomine", False)
        try:
            hashes = rpc.batch(sends)
            rpc.call("evm_mine")
        finally:
            rpc.call("evm_setAutomine", True)
        got = rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        for (sender, call), tx_hash, receipt in zip(chunk, hashes, got, strict=True):
            if receipt is None:
                raise RuntimeError(f"{call.label}: {tx_hash} was not mined (block gas limit?)")
            receipts.append(check_receipt(rpc, sender, call, receipt))
        start = end
    return receipts


class RawSigner:
    """A key that signs EIP-1559 transactions locally; the node only sees raw bytes."""

    def __init__(self, private_key: bytes, chain_id: int) -> None:
        self._account = Account.from_key(private_key)
        self.address: str = self._account.address
        self.chain_id = chain_id

    def sign(
        self,
        call: Call,
        *,
        nonce: int,
        max_fee_per_gas_wei: int,
        max_priority_fee_per_gas_wei: int,
    ) -> tuple[bytes, str]:
        """Return (raw signed bytes, 0x tx hash) of an EIP-1559 transaction."""
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": call.gas_units,
            "maxFeePerGas": max_fee_per_gas_wei,
            "maxPriorityFeePerGas": max_priority_fee_per_gas_wei,
            "value": call.value_wei,
            "data": call.data,
        }
        if call.to is not None:
            tx["to"] = call.to
        signed = self._account.sign_transaction(tx)
        return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()

    def __repr__(self) -> str:  # never show the key
        return f"RawSigner({self.address})"

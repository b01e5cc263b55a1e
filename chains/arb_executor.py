"""Deploy, verify, configure and fund the ArbExecutor contract; plans are encoded in the codec.

The senders here are accounts the node signs for (anvil dev accounts, impersonated ones):
anything with ``rpc`` and ``address``, such as ``sim.txs.UnlockedSender``.

``verify_executor`` compares the code at an address with the artifact's deployedBytecode byte
for byte. That equality holds because the contract keeps ``weth`` in storage rather than as an
immutable: immutables are written into the runtime code at deployment and would break it.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import eth_abi
from eth_utils import keccak, to_checksum_address

from chains.arb_executor_codec import (
    Hop,
    Plan,
    PlanError,
    decode_plan,
    encode_plan,
    execute_calldata,
)
from chains.artifacts import load_project_artifact
from chains.rpc import HttpRpc

__all__ = [
    "ExecutorTxError",
    "Hop",
    "Plan",
    "PlanError",
    "UnlockedAccount",
    "decode_executed_profit",
    "decode_plan",
    "deploy_executor",
    "encode_plan",
    "execute_calldata",
    "fund_executor_weth",
    "set_executor",
    "verify_executor",
    "withdraw_calldata",
]

ARTIFACT_NAME = "ArbExecutor"
_RECEIPT_TIMEOUT_S = 10.0


class ExecutorTxError(RuntimeError):
    """A deployment or configuration transaction was refused or reverted."""


class UnlockedAccount(Protocol):
    """An account the node signs for (``sim.txs.UnlockedSender`` fits)."""

    rpc: HttpRpc
    address: str


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _send(
    sender: UnlockedAccount, to: str | None, data: bytes, value_wei: int = 0, gas_units: int = 0
) -> dict[str, Any]:
    """Send one transaction on an automining node; return its receipt or raise on a revert."""
    params: dict[str, Any] = {"from": sender.address, "data": "0x" + data.hex()}
    if to is not None:
        params["to"] = to
    if value_wei:
        params["value"] = hex(value_wei)
    if gas_units:
        params["gas"] = hex(gas_units)
    tx_hash = sender.rpc.call("eth_sendTransaction", params)
    deadline = time.monotonic() + _RECEIPT_TIMEOUT_S
    while (receipt := sender.rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
        if time.monotonic() > deadline:
            raise ExecutorTxError(f"{tx_hash}: no receipt; is the node automining?")
        time.sleep(0.01)
    if int(receipt["status"], 16) != 1:
        raise ExecutorTxError(f"{tx_hash} reverted")
    return receipt


def deploy_executor(sender: UnlockedAccount, weth: str) -> str:
    """Deploy ArbExecutor(weth) from `sender` (its owner); return the checksummed address."""
    artifact = load_project_artifact(ARTIFACT_NAME)
    data = artifact.bytecode + eth_abi.encode(["address"], [weth])
    receipt = _send(sender, None, data, gas_units=3_000_000)
    return to_checksum_address(receipt["contractAddress"])


def verify_executor(rpc: HttpRpc, address: str) -> bool:
    """Return True if the code at `address` equals the built ArbExecutor runtime code."""
    code = rpc.call("eth_getCode", address, "latest")
    return bytes.fromhex(code.removeprefix("0x")) == (
        load_project_artifact(ARTIFACT_NAME).deployed_bytecode
    )


def set_executor(owner: UnlockedAccount, executor: str, account: str, allowed: bool) -> None:
    """Allow or disallow `account` to call execute (owner only)."""
    data = _selector("setExecutor(address,bool)") + eth_abi.encode(
        ["address", "bool"], [account, allowed]
    )
    _send(owner, executor, data)


def fund_executor_weth(funder: UnlockedAccount, weth: str, executor: str, amount_wei: int) -> None:
    """Wrap `amount_wei` ETH from `funder` and transfer the WETH to the executor."""
    _send(funder, weth, _selector("deposit()"), value_wei=amount_wei)
    data = _selector("transfer(address,uint256)") + eth_abi.encode(
        ["address", "uint256"], [executor, amount_wei]
    )
    _send(funder, weth, data)


def withdraw_calldata(token: str, to: str, amount_wei: int) -> bytes:
    """Return calldata for withdraw(token, to, amount) (token = zero address: ETH)."""
    return _selector("withdraw(address,address,uint256)") + eth_abi.encode(
        ["address", "address", "uint256"], [token, to, amount_wei]
    )


def decode_executed_profit(receipt: dict[str, Any], executor: str) -> tuple[int, int] | None:
    """Return (profit, tip) from the Executed event of `executor` in a receipt, if present."""
    topic = "0x" + keccak(text="Executed(uint256,uint256)").hex()
    for log in receipt.get("logs", []):
        if log["address"].lower() == executor.lower() and log["topics"][0] == topic:
            profit, tip = eth_abi.decode(["uint256", "uint256"], bytes.fromhex(log["data"][2:]))
            return int(profit), int(tip)
    return None

"""The `arbloop executor` subcommands: deploy, verify, fund, withdraw, calibrate.

Keys never come from flags or config. Here every sender is an account the node itself
unlocks (`--from`: anvil's dev accounts on the local world); signing with live keys comes
from the keystore, in a later part, not from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import eth_abi
from eth_utils import keccak, to_checksum_address

from chains.arb_executor import (
    ExecutorTxError,
    deploy_executor,
    fund_executor_weth,
    set_executor,
    verify_executor,
    withdraw_calldata,
)
from chains.gas_model import GasModel, save_gas_model
from chains.rpc import HttpRpc
from sim.gas_calibration import fit_gas_model, run_calibration
from sim.txs import UnlockedSender, wait_receipt
from sim.world_cache import WorldCache, start_world_node

__all__ = [
    "ETH",
    "GasBalance",
    "calibrate",
    "deploy",
    "eth_to_wei",
    "executor_weth",
    "fund",
    "gas_balance",
    "verify",
    "withdraw",
]

ETH = "0x0000000000000000000000000000000000000000"
_WEI_PER_ETH = 10**18


@dataclass(frozen=True, slots=True, kw_only=True)
class GasBalance:
    """An EOA's ETH balance against the configured floor (wei)."""

    address: str
    balance_wei: int
    floor_wei: int

    @property
    def low(self) -> bool:
        return self.balance_wei < self.floor_wei


def eth_to_wei(amount_eth: str) -> int:
    """Convert a decimal ETH amount (as typed) to wei exactly, refusing fractions of a wei."""
    wei = Decimal(amount_eth) * _WEI_PER_ETH
    if wei < 0 or wei != wei.to_integral_value():
        raise ValueError(f"{amount_eth!r} ETH is not a whole, non-negative number of wei")
    return int(wei)


def _unlocked(rpc: HttpRpc, address: str) -> UnlockedSender:
    """Return a sender for `address`, refusing accounts the node does not sign for."""
    accounts = {a.lower() for a in rpc.call("eth_accounts")}
    if address.lower() not in accounts:
        raise ExecutorTxError(
            f"{address} is not unlocked on this node; live keys come from the keystore"
        )
    return UnlockedSender(rpc, address)


def gas_balance(rpc: HttpRpc, address: str, floor_wei: int) -> GasBalance:
    """Read the ETH balance an EOA has for gas and compare it with `floor_wei`."""
    balance = int(rpc.call("eth_getBalance", address, "latest"), 16)
    return GasBalance(
        address=to_checksum_address(address), balance_wei=balance, floor_wei=floor_wei
    )


def executor_weth(rpc: HttpRpc, executor: str) -> str:
    """Return the WETH address an ArbExecutor was deployed with."""
    data = "0x" + keccak(text="weth()")[:4].hex()
    raw = rpc.call("eth_call", {"to": executor, "data": data}, "latest")
    return to_checksum_address(eth_abi.decode(["address"], bytes.fromhex(raw[2:]))[0])


def deploy(rpc: HttpRpc, sender: str, weth: str, allow: tuple[str, ...] = ()) -> str:
    """Deploy ArbExecutor(weth) owned by `sender`, allow `allow` to execute, verify; return it."""
    owner = _unlocked(rpc, sender)
    address = deploy_executor(owner, weth)
    for account in allow:
        set_executor(owner, address, account, True)
    if not verify_executor(rpc, address):
        raise ExecutorTxError(f"code at {address} differs from contracts/out after deployment")
    return address


def verify(rpc: HttpRpc, executor: str) -> bool:
    """Return True if the code at `executor` equals contracts/out's deployed bytecode."""
    return verify_executor(rpc, executor)


def fund(rpc: HttpRpc, sender: str, executor: str, amount_wei: int) -> None:
    """Wrap `amount_wei` ETH of `sender` and move the WETH into the executor."""
    fund_executor_weth(_unlocked(rpc, sender), executor_weth(rpc, executor), executor, amount_wei)


def withdraw(rpc: HttpRpc, sender: str, executor: str, token: str, to: str, amount_wei: int) -> str:
    """Withdraw `amount_wei` of `token` (ETH: the zero address) to `to`; owner only."""
    owner = _unlocked(rpc, sender)
    params = {
        "from": owner.address,
        "to": executor,
        "data": "0x" + withdraw_calldata(token, to, amount_wei).hex(),
    }
    tx_hash = rpc.call("eth_sendTransaction", params)
    receipt = wait_receipt(rpc, tx_hash, timeout_s=10.0)
    if receipt is None or int(receipt["status"], 16) != 1:
        raise ExecutorTxError(f"withdraw {tx_hash} reverted (is {sender} the owner?)")
    return tx_hash


def calibrate(
    spec: Path, cache: WorldCache, out: Path, *, chain: str, executions: int, seed: int
) -> GasModel:
    """Run calibration cycles on a fresh world node, fit the model, write it to `out`."""
    node, manifest, _ = start_world_node(spec, cache)
    with node, node.rpc() as rpc:
        measurements = run_calibration(rpc, manifest, executions=executions, seed=seed)
    model = fit_gas_model(measurements)
    save_gas_model(out, model, chain=chain)
    return model

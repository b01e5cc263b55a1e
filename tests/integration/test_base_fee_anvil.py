"""graph.gas.next_base_fee_from_header against anvil's own base fee over 100 mined blocks.

A dedicated anvil with a 1M gas limit (target 500k) mines only on evm_mine. Each block is
filled to a planned amount of gas with plain transfers (21k each) and one zero-byte calldata
transfer sized by eth_estimateGas to hit an exact total (the target exactly, or a full block),
so the run covers empty, under-target, at-target, over-target and full blocks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from chains.rpc import HttpRpc
from graph.gas import ETHEREUM, next_base_fee_from_header
from sim.anvil import AnvilConfig, AnvilProcess

pytestmark = pytest.mark.integration

GAS_LIMIT = 1_000_000
TARGET = GAS_LIMIT // ETHEREUM.elasticity_multiplier
TRANSFER_GAS = 21_000
BLOCKS = 100
# far above any base fee 100 blocks can reach from 1 gwei here, so no transaction is priced out
MAX_FEE_WEI = 10**14

# kind -> (plain transfers, exact gas of one extra calldata transfer, or 0 for none)
PLANS: dict[str, tuple[int, int]] = {
    "empty": (0, 0),
    "one": (1, 0),
    "light": (10, 0),
    "just_under": (23, 0),  # 483k
    "at_target": (22, TARGET - 22 * TRANSFER_GAS),  # 462k + 38k
    "just_over": (24, 0),  # 504k
    "heavy": (35, 0),
    "nearly_full": (47, 0),  # 987k
    "full": (46, GAS_LIMIT - 46 * TRANSFER_GAS),  # 966k + 34k
    "calldata_only": (0, 300_000),
}


@pytest.fixture
def node() -> Iterator[AnvilProcess]:
    """A fresh manually mined anvil with a small gas limit, stopped afterwards."""
    config = AnvilConfig(no_mining=True, gas_limit=GAS_LIMIT, base_fee_wei=10**9)
    with AnvilProcess.start(config) as started:
        yield started


def _schedule() -> list[str]:
    """Return 100 block kinds, each kind several times, in a fixed shuffled order."""
    kinds = [kind for _ in range(BLOCKS // len(PLANS)) for kind in PLANS]
    random.Random(1559).shuffle(kinds)
    assert len(kinds) == BLOCKS
    return kinds


def _calldata_for_gas(rpc: HttpRpc, sender: str, to: str, gas_units: int) -> str:
    """Return zero-byte calldata whose transfer costs exactly gas_units (checked by estimate)."""

    def estimate(n_bytes: int) -> int:
        tx = {"from": sender, "to": to, "value": "0x1", "data": "0x" + "00" * n_bytes}
        return int(rpc.call("eth_estimateGas", tx), 16)

    base = estimate(0)
    per_byte = (estimate(1_000) - base) // 1_000
    n_bytes, rest = divmod(gas_units - base, per_byte)
    assert rest == 0, f"{gas_units} gas is not reachable with {per_byte} gas per zero byte"
    data = "0x" + "00" * n_bytes
    assert estimate(n_bytes) == gas_units
    return data


def _tx(sender: str, to: str, nonce: int, gas: int, data: str = "0x") -> dict[str, str]:
    return {
        "from": sender,
        "to": to,
        "value": "0x1",
        "gas": hex(gas),
        "nonce": hex(nonce),
        "data": data,
        "maxFeePerGas": hex(MAX_FEE_WEI),
        "maxPriorityFeePerGas": "0x0",
    }


def _block(rpc: HttpRpc, number: int) -> dict[str, Any]:
    block = rpc.call("eth_getBlockByNumber", hex(number), False)
    assert block is not None, f"block {number} missing"
    return block


def test_base_fee_of_100_blocks_matches_anvil(node: AnvilProcess) -> None:
    with node.rpc() as rpc:
        sender, to = rpc.call("eth_accounts")[:2]
        calldata = {
            gas: _calldata_for_gas(rpc, sender, to, gas) for _, gas in PLANS.values() if gas
        }
        # anvil gives block 1 the configured base fee instead of deriving it from genesis:
        # mine it first so that every checked block has a parent mined by the rule
        rpc.call("evm_mine")
        first = int(rpc.call("eth_blockNumber"), 16)
        nonce = int(rpc.call("eth_getTransactionCount", sender, "latest"), 16)
        planned_gas: list[int] = []
        for kind in _schedule():
            transfers, extra_gas = PLANS[kind]
            calls: list[tuple[str, list[Any]]] = []
            for _ in range(transfers):
                calls.append(("eth_sendTransaction", [_tx(sender, to, nonce, TRANSFER_GAS)]))
                nonce += 1
            if extra_gas:
                tx = _tx(sender, to, nonce, extra_gas, calldata[extra_gas])
                calls.append(("eth_sendTransaction", [tx]))
                nonce += 1
            rpc.batch(calls)
            rpc.call("evm_mine")
            planned_gas.append(transfers * TRANSFER_GAS + extra_gas)

        last = int(rpc.call("eth_blockNumber"), 16)
        assert last == first + BLOCKS
        parent = _block(rpc, first)
        moves = {"up": 0, "down": 0, "same": 0}
        for number, gas in zip(range(first + 1, last + 1), planned_gas, strict=True):
            block = _block(rpc, number)
            used = int(block["gasUsed"], 16)
            assert used == gas, f"block {number}: {used} gas used, planned {gas}"
            assert int(block["gasLimit"], 16) == GAS_LIMIT
            base_fee_wei = int(block["baseFeePerGas"], 16)
            assert next_base_fee_from_header(parent, ETHEREUM) == base_fee_wei, (
                f"block {number}: parent {parent['baseFeePerGas']} wei, "
                f"used {parent['gasUsed']}, limit {parent['gasLimit']}"
            )
            parent_fee_wei = int(parent["baseFeePerGas"], 16)
            if base_fee_wei > parent_fee_wei:
                moves["up"] += 1
            elif base_fee_wei < parent_fee_wei:
                moves["down"] += 1
            else:
                moves["same"] += 1
            parent = block

    assert all(count > 0 for count in moves.values()), moves
    assert TARGET in planned_gas and GAS_LIMIT in planned_gas and 0 in planned_gas
    assert any(TARGET < gas < GAS_LIMIT for gas in planned_gas)
    assert any(0 < gas < TARGET for gas in planned_gas)

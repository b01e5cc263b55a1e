"""Bundles as data for the local builder: parsing, hashing, placement, simulation results.

Pure functions over the request objects and node replies; ``sim.builder`` does the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

from sim.builder_http import INVALID_PARAMS, JsonRpcFault

__all__ = [
    "HEX_BYTES",
    "MAX_BUNDLE_TXS",
    "Bundle",
    "PoolTx",
    "bundle_hash",
    "bundle_result",
    "one_object",
    "optional_quantity",
    "order_block",
    "parse_txs",
    "quantity",
    "tx_result",
]

MAX_BUNDLE_TXS = 100
HEX_BYTES = re.compile(r"0x(?:[0-9a-fA-F]{2})+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """A bundle as received: raw transactions in order, target block, window, sender key."""

    bundle_hash: str
    raw_txs: tuple[bytes, ...]
    tx_hashes: tuple[str, ...]
    block_number: int
    min_timestamp: int | None
    max_timestamp: int | None
    reverting_tx_hashes: frozenset[str]
    replacement_uuid: str | None
    signer: str
    seq: int

    @property
    def key(self) -> tuple[str, str]:
        """Return the key it is stored under: (signer, replacementUuid or hash@block)."""
        if self.replacement_uuid is not None:
            return (self.signer, self.replacement_uuid)
        return (self.signer, f"{self.bundle_hash}@{self.block_number}")

    def in_window(self, timestamp: int) -> bool:
        """Tell whether a block with this timestamp (s) may hold the bundle."""
        low_ok = self.min_timestamp is None or timestamp >= self.min_timestamp
        return low_ok and (self.max_timestamp is None or timestamp <= self.max_timestamp)


@dataclass(frozen=True, slots=True)
class PoolTx:
    """A transaction by hash and raw signed bytes."""

    tx_hash: str
    raw: bytes


def tx_result(
    *,
    tx_hash: str,
    sender: str,
    to: str | None,
    gas_used_units: int,
    price_wei: int,
    base_fee_wei: int,
    sent_to_coinbase_wei: int,
    ok: bool,
    return_data: str,
    error: str,
) -> dict[str, Any]:
    """One transaction's simulation result, shaped like Flashbots' eth_callBundle results."""
    fees_wei = gas_used_units * (price_wei - base_fee_wei)  # the coinbase's share: base fee burns
    result: dict[str, Any] = {
        "txHash": tx_hash,
        "gasUsed": gas_used_units,
        "gasPrice": str(price_wei),
        "gasFees": str(fees_wei),
        "fromAddress": to_checksum_address(sender),
        "toAddress": to_checksum_address(to) if to else None,
        "coinbaseDiff": str(fees_wei + sent_to_coinbase_wei),
        "ethSentToCoinbase": str(sent_to_coinbase_wei),
    }
    if ok:
        result["value"] = return_data
    else:
        result["error"] = error or "execution reverted"
        result["revert"] = return_data
    return result


def bundle_result(
    raws: Sequence[bytes], per_tx: Sequence[dict[str, Any]], state_block_number: int
) -> dict[str, Any]:
    """A whole bundle's simulation result from its transactions' (``tx_result``) results."""
    total_gas_units = sum(r["gasUsed"] for r in per_tx)
    coinbase_diff_wei = sum(int(r["coinbaseDiff"]) for r in per_tx)
    return {
        "bundleGasPrice": str(coinbase_diff_wei // max(total_gas_units, 1)),
        "bundleHash": bundle_hash(raws),
        "coinbaseDiff": str(coinbase_diff_wei),
        "ethSentToCoinbase": str(sum(int(r["ethSentToCoinbase"]) for r in per_tx)),
        "gasFees": str(sum(int(r["gasFees"]) for r in per_tx)),
        "results": list(per_tx),
        "stateBlockNumber": state_block_number,
        "totalGasUsed": total_gas_units,
    }


def order_block(
    public: Sequence[PoolTx], active: Sequence[Bundle]
) -> tuple[list[tuple[PoolTx, Bundle | None]], dict[Any, str]]:
    """Place bundles before the public transactions; return the order, or the conflicts.

    As real builders do, bundles go first, in arrival order, each contiguous; a public
    transaction a bundle carries (a backrun's victim) runs inside that bundle, not again in
    the public part. A victim that needs an earlier pending transaction of its sender (a
    nonce gap at the top of the block) makes its bundle fail, and the bundle is left out.
    """
    claimed: dict[str, Bundle] = {}
    conflicts: dict[Any, str] = {}
    top: list[Bundle] = []
    for b in active:
        if len(set(b.tx_hashes)) != len(b.tx_hashes):
            conflicts[b.key] = "it repeats a transaction"
            continue
        shared = [h for h in b.tx_hashes if h in claimed]
        if shared:
            conflicts[b.key] = f"tx {shared[0]} is in bundle {claimed[shared[0]].bundle_hash}"
            continue
        claimed.update(dict.fromkeys(b.tx_hashes, b))
        top.append(b)
    if conflicts:
        return [], conflicts
    order: list[tuple[PoolTx, Bundle | None]] = []
    for b in top:
        order += [(PoolTx(h, raw), b) for h, raw in zip(b.tx_hashes, b.raw_txs, strict=True)]
    order += [(tx, None) for tx in public if tx.tx_hash not in claimed]
    return order, {}


def one_object(params: list[Any]) -> dict[str, Any]:
    if len(params) != 1 or not isinstance(params[0], dict):
        raise JsonRpcFault(INVALID_PARAMS, "params must be one bundle object")
    return params[0]


def parse_txs(obj: dict[str, Any]) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    txs = obj.get("txs")
    if not isinstance(txs, list) or not txs:
        raise JsonRpcFault(INVALID_PARAMS, "txs must be a non-empty list of raw transactions")
    if len(txs) > MAX_BUNDLE_TXS:
        raise JsonRpcFault(INVALID_PARAMS, f"a bundle holds at most {MAX_BUNDLE_TXS} txs")
    raws = []
    for tx in txs:
        if not isinstance(tx, str) or not HEX_BYTES.fullmatch(tx):
            raise JsonRpcFault(INVALID_PARAMS, "txs must be 0x-hex raw transactions")
        raws.append(bytes.fromhex(tx[2:]))
    # a transaction's hash is the keccak256 of its raw (typed or legacy) encoding
    return tuple(raws), tuple("0x" + keccak(raw).hex() for raw in raws)


def bundle_hash(raws: Sequence[bytes]) -> str:
    """keccak256 of the concatenated transaction hashes, as Flashbots computes it."""
    return "0x" + keccak(b"".join(keccak(raw) for raw in raws)).hex()


def quantity(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]+", value):
        return int(value, 16)
    raise JsonRpcFault(INVALID_PARAMS, f"{name} must be a number or 0x-hex quantity")


def optional_quantity(value: Any, name: str) -> int | None:
    return None if value is None else quantity(value, name)

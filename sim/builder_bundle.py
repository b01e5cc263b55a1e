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
from sim.txs import hex_int

__all__ = [
    "HEX_BYTES",
    "MAX_BUNDLE_TXS",
    "Bundle",
    "PoolTx",
    "bundle_hash",
    "one_object",
    "optional_quantity",
    "order_block",
    "parse_txs",
    "quantity",
    "tx_result",
]

MAX_BUNDLE_TXS = 100
HEX_BYTES = re.compile(r"0x(?:[0-9a-fA-F]{2})+")
_VALUE_CALLS = frozenset({"CALL", "CREATE", "CREATE2", "SELFDESTRUCT"})


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


@dataclass(frozen=True, slots=True)
class PoolTx:
    """A transaction by hash and raw signed bytes."""

    tx_hash: str
    raw: bytes


def tx_result(
    tx_hash: str, receipt: dict[str, Any], trace: dict[str, Any], coinbase: str, base_fee_wei: int
) -> dict[str, Any]:
    """One transaction's simulation result, shaped like Flashbots' eth_callBundle results."""
    gas_units = hex_int(receipt["gasUsed"])
    price_wei = hex_int(receipt["effectiveGasPrice"])
    fees_wei = gas_units * (price_wei - base_fee_wei)  # the coinbase's share: the base fee burns
    sent_wei = _value_sent_to(trace, coinbase.lower())
    result: dict[str, Any] = {
        "txHash": tx_hash,
        "gasUsed": gas_units,
        "gasPrice": str(price_wei),
        "gasFees": str(fees_wei),
        "fromAddress": to_checksum_address(receipt["from"]),
        "toAddress": to_checksum_address(receipt["to"]) if receipt.get("to") else None,
        "coinbaseDiff": str(fees_wei + sent_wei),
        "ethSentToCoinbase": str(sent_wei),
    }
    if hex_int(receipt["status"]) == 1:
        result["value"] = trace.get("output") or "0x"
    else:
        result["error"] = trace.get("error") or "execution reverted"
        result["revert"] = trace.get("output") or "0x"
    return result


def _value_sent_to(frame: dict[str, Any], address: str) -> int:
    """Sum the wei that succeeding call frames move to address (a failed frame moves nothing)."""
    if frame.get("error"):
        return 0
    own = 0
    if frame.get("type") in _VALUE_CALLS and str(frame.get("to", "")).lower() == address:
        own = hex_int(frame.get("value") or "0x0")
    return own + sum(_value_sent_to(c, address) for c in frame.get("calls") or ())


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

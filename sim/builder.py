"""The local world's block builder: public transactions and signed bundles into anvil blocks.

No real builder runs here, so ``LocalBuilder`` plays one for an anvil started with mining off
(``AnvilConfig(no_mining=True, order="fifo")``): it serves ``eth_sendBundle``,
``eth_callBundle`` and ``eth_cancelBundle`` (Flashbots-signed, see ``sim.builder_http``) and
mines a block only when ``build_block`` is called.

A block is built the way a builder would:

- public transactions keep the node's own (FIFO) order, read by mining the pool once on an
  ``evm_snapshot`` and reverting;
- bundles go to the top of the block, in arrival order, each contiguous and in its own
  order, as real builders place them before the public mempool; a bundle holding a pending
  public transaction (a backrun ``[victim, ours]``) runs it there, and it is not included a
  second time;
- a bundle is all-or-nothing: the pool is dropped (``anvil_dropAllTransactions``), the raw
  transactions are resubmitted in the chosen order and the block is mined; if any bundle
  transaction was refused, left out, reverted (unless listed in ``revertingTxHashes``) or the
  block's timestamp falls outside the bundle's window, the block is reverted and built again
  without that bundle. The report says which bundles landed and why the others did not.

``eth_callBundle`` runs the bundle alone on top of the head in a mined-and-reverted block
and restores the pool in its order afterwards. Bundles are keyed by (signer, replacementUuid)
for replacement and cancellation (by (signer, bundle hash, block) without a UUID).

Limits: transactions sent to the node while a block is being built may be lost (the pool is
dropped and refilled); transactions of impersonated senders cannot be resubmitted from raw
bytes and are reported as dropped; only the head state can be simulated.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from chains.rpc import HttpRpc, RpcResponseError
from sim.builder_bundle import (
    HEX_BYTES,
    Bundle,
    PoolTx,
    bundle_hash,
    one_object,
    optional_quantity,
    order_block,
    parse_txs,
    quantity,
    tx_result,
)
from sim.builder_http import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    JsonRpcFault,
    SignedJsonRpcServer,
)
from sim.txs import hex_int

__all__ = ["BlockReport", "Bundle", "BundleOutcome", "LocalBuilder"]

_log = logging.getLogger(__name__)
_SIM_ERROR = -32000


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleOutcome:
    """Whether one bundle landed in the block, where, and why not."""

    bundle_hash: str
    replacement_uuid: str | None
    signer: str
    included: bool
    reason: str = ""  # why it was left out; "" when included
    tx_indexes: tuple[int, ...] = ()  # positions in the block when included


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockReport:
    """One built block: its identity, its transactions and every candidate bundle's fate."""

    block_number: int
    block_hash: str
    timestamp: int
    tx_hashes: tuple[str, ...]
    bundles: tuple[BundleOutcome, ...]
    dropped_public: tuple[tuple[str, str], ...]  # (tx hash, reason) not resubmittable
    attempts: int  # blocks mined (and all but the last reverted) to get here

    def outcome(self, bundle_hash: str) -> BundleOutcome:
        """Return the outcome of the bundle with this hash (KeyError if it was no candidate)."""
        for outcome in self.bundles:
            if outcome.bundle_hash == bundle_hash:
                return outcome
        raise KeyError(bundle_hash)


class LocalBuilder:
    """A Flashbots-style builder for one anvil with mining off; see the module docstring."""

    def __init__(
        self,
        node_rpc_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allowed_signers: Collection[str] | None = None,
    ) -> None:
        self._rpc = HttpRpc(node_rpc_url, timeout_s=30.0)
        self._lock = threading.Lock()  # one builder action at a time on the node
        self._bundles: dict[tuple[str, str], Bundle] = {}
        self._seq = itertools.count()
        self._server = SignedJsonRpcServer(
            self._dispatch, host=host, port=port, allowed_signers=allowed_signers
        )
        self._running = False

    @property
    def url(self) -> str:
        """Return the builder's JSON-RPC URL (loopback)."""
        return self._server.url

    def start(self) -> LocalBuilder:
        """Check the node does not mine by itself, then serve; return self."""
        if self._rpc.call("anvil_getAutomine"):
            raise RuntimeError("the local builder needs anvil with automine off (no_mining)")
        self._server.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Stop serving, join the server thread, close the socket and the node client."""
        self._server.stop()
        with self._lock:
            self._rpc.close()
        self._running = False

    def __enter__(self) -> LocalBuilder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pending_bundles(self) -> list[Bundle]:
        """Return the bundles held for future blocks, in arrival order."""
        with self._lock:
            return sorted(self._bundles.values(), key=lambda b: b.seq)

    # --- JSON-RPC -------------------------------------------------------------------------

    def _dispatch(self, method: str, params: list[Any], signer: str) -> Any:
        if method == "eth_sendBundle":
            return self._send_bundle(one_object(params), signer)
        if method == "eth_callBundle":
            return self.call_bundle(one_object(params))
        if method == "eth_cancelBundle":
            obj = one_object(params)
            rid = obj.get("replacementUuid")
            if not isinstance(rid, str) or rid == "":
                raise JsonRpcFault(INVALID_PARAMS, "replacementUuid is required")
            with self._lock:
                self._bundles.pop((signer, rid), None)
            return None
        raise JsonRpcFault(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")

    def _send_bundle(self, obj: dict[str, Any], signer: str) -> dict[str, str]:
        raws, hashes = parse_txs(obj)
        if "blockNumber" not in obj:
            raise JsonRpcFault(INVALID_PARAMS, "blockNumber is required")
        reverting = obj.get("revertingTxHashes") or []
        if not isinstance(reverting, list) or not all(isinstance(h, str) for h in reverting):
            raise JsonRpcFault(INVALID_PARAMS, "revertingTxHashes must be a list of hashes")
        rid = obj.get("replacementUuid")
        if rid is not None and (not isinstance(rid, str) or rid == ""):
            raise JsonRpcFault(INVALID_PARAMS, "replacementUuid must be a non-empty string")
        bundle = Bundle(
            bundle_hash=bundle_hash(raws),
            raw_txs=raws,
            tx_hashes=hashes,
            block_number=quantity(obj["blockNumber"], "blockNumber"),
            min_timestamp=optional_quantity(obj.get("minTimestamp"), "minTimestamp"),
            max_timestamp=optional_quantity(obj.get("maxTimestamp"), "maxTimestamp"),
            reverting_tx_hashes=frozenset(h.lower() for h in reverting),
            replacement_uuid=rid,
            signer=signer,
            seq=next(self._seq),
        )
        with self._lock:
            self._bundles[bundle.key] = bundle  # the same key replaces the earlier bundle
        _log.info("bundle %s for block %d from %s", bundle.bundle_hash, bundle.block_number, signer)
        return {"bundleHash": bundle.bundle_hash}

    # --- building -------------------------------------------------------------------------

    def build_block(self) -> BlockReport:
        """Mine the next block from the pool and the bundles that target it; report the result."""
        with self._lock:
            head = self._rpc.call("eth_getBlockByNumber", "latest", False)
            number = hex_int(head["number"]) + 1
            candidates = sorted(
                (b for b in self._bundles.values() if b.block_number == number),
                key=lambda b: b.seq,
            )
            for key in [k for k, b in self._bundles.items() if b.block_number <= number]:
                del self._bundles[key]  # a bundle targets one block: used now or never
            excluded = self._precheck(candidates, hex_int(head["timestamp"]))
            public, dropped = self._capture_pool()
            attempts = 0
            while True:
                active = [b for b in candidates if b.key not in excluded]
                order, conflicts = order_block(public, active)
                if conflicts:
                    excluded.update(conflicts)
                    continue
                attempts += 1
                snapshot = self._rpc.call("evm_snapshot")
                block, failure, refused = self._try_block(order, active)
                if failure is None:
                    dropped += refused
                    break
                self._rpc.call("evm_revert", snapshot)
                excluded[failure[0]] = failure[1]
        index = {h: i for i, h in enumerate(block["transactions"])}
        outcomes = tuple(
            BundleOutcome(
                bundle_hash=b.bundle_hash,
                replacement_uuid=b.replacement_uuid,
                signer=b.signer,
                included=b.key not in excluded,
                reason=excluded.get(b.key, ""),
                tx_indexes=() if b.key in excluded else tuple(index[h] for h in b.tx_hashes),
            )
            for b in candidates
        )
        report = BlockReport(
            block_number=hex_int(block["number"]),
            block_hash=block["hash"],
            timestamp=hex_int(block["timestamp"]),
            tx_hashes=tuple(block["transactions"]),
            bundles=outcomes,
            dropped_public=tuple(dropped),
            attempts=attempts,
        )
        for o in outcomes:
            _log.info(
                "block %d: bundle %s %s",
                report.block_number,
                o.bundle_hash,
                "included" if o.included else f"left out: {o.reason}",
            )
        return report

    def _precheck(self, candidates: Sequence[Bundle], head_timestamp: int) -> dict[Any, str]:
        """Leave out bundles that cannot land: a transaction already mined, a window passed."""
        excluded: dict[Any, str] = {}
        hashes = [h for b in candidates for h in b.tx_hashes]
        if not hashes:
            return excluded
        receipts = self._rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        mined = {h: r for h, r in zip(hashes, receipts, strict=True) if r is not None}
        for b in candidates:
            gone = [h for h in b.tx_hashes if h in mined]
            if gone:
                n = hex_int(mined[gone[0]]["blockNumber"])
                excluded[b.key] = f"tx {gone[0]} already mined in block {n}"
            elif b.max_timestamp is not None and b.max_timestamp <= head_timestamp:
                excluded[b.key] = f"maxTimestamp {b.max_timestamp} has passed"
        return excluded

    def _capture_pool(self) -> tuple[list[PoolTx], list[tuple[str, str]]]:
        """Return the pool's raw transactions in the node's order, and those without raw bytes."""
        content = self._rpc.call("txpool_content")
        sections: dict[str, list[tuple[str, int, str]]] = {"pending": [], "queued": []}
        for section, entries in sections.items():
            for sender, by_nonce in (content.get(section) or {}).items():
                for nonce, tx in by_nonce.items():
                    entries.append((sender.lower(), int(nonce), tx["hash"]))
            entries.sort()
        everything = sections["pending"] + sections["queued"]
        if not everything:
            return [], []
        raws = self._rpc.batch([("eth_getRawTransactionByHash", [h]) for _, _, h in everything])
        raw_of = dict(zip((h for _, _, h in everything), raws, strict=True))
        order: list[str] = []
        if sections["pending"]:
            # the node's own order (FIFO with --order fifo): mine the pool once and revert
            snapshot = self._rpc.call("evm_snapshot")
            try:
                self._rpc.call("evm_mine")
                block = self._rpc.call("eth_getBlockByNumber", "latest", False)
            finally:
                self._rpc.call("evm_revert", snapshot)
            order = [h for h in block["transactions"] if h in raw_of]
        seen = set(order)
        order += [h for _, _, h in everything if h not in seen]
        txs, dropped = [], []
        for h in order:
            raw = raw_of[h]
            if isinstance(raw, str) and HEX_BYTES.fullmatch(raw):
                txs.append(PoolTx(h, bytes.fromhex(raw[2:])))
            else:
                dropped.append((h, "the node has no raw bytes for it"))
        return txs, dropped

    def _try_block(
        self, order: Sequence[tuple[PoolTx, Bundle | None]], active: Sequence[Bundle]
    ) -> tuple[dict[str, Any], tuple[Any, str] | None, list[tuple[str, str]]]:
        """Refill the pool in order and mine; return (block, first bundle failure, refused)."""
        refused: list[tuple[str, str]] = []
        self._rpc.call("anvil_dropAllTransactions")
        for tx, owner in order:
            try:
                self._rpc.call("eth_sendRawTransaction", "0x" + tx.raw.hex())
            except RpcResponseError as exc:
                if owner is None:
                    refused.append((tx.tx_hash, exc.message))
                    continue
                return {}, (owner.key, f"tx {tx.tx_hash} refused: {exc.message}"), refused
        self._rpc.call("evm_mine")
        block = self._rpc.call("eth_getBlockByNumber", "latest", False)
        index = {h: i for i, h in enumerate(block["transactions"])}
        timestamp = hex_int(block["timestamp"])
        for b in active:
            missing = [h for h in b.tx_hashes if h not in index]
            if missing:
                return block, (b.key, f"tx {missing[0]} could not be included"), refused
            positions = [index[h] for h in b.tx_hashes]
            if positions != list(range(positions[0], positions[0] + len(positions))):
                return block, (b.key, "its transactions were not contiguous"), refused
            if (b.min_timestamp is not None and timestamp < b.min_timestamp) or (
                b.max_timestamp is not None and timestamp > b.max_timestamp
            ):
                window = f"[{b.min_timestamp}, {b.max_timestamp}]"
                return block, (b.key, f"block timestamp {timestamp} outside {window}"), refused
            receipts = self._rpc.batch([("eth_getTransactionReceipt", [h]) for h in b.tx_hashes])
            for h, receipt in zip(b.tx_hashes, receipts, strict=True):
                if hex_int(receipt["status"]) != 1 and h.lower() not in b.reverting_tx_hashes:
                    return block, (b.key, f"tx {h} reverted"), refused
        return block, None, refused

    # --- simulation -----------------------------------------------------------------------

    def call_bundle(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Simulate a bundle on top of the head (eth_callBundle); return the Flashbots shape."""
        raws, hashes = parse_txs(obj)
        state = obj.get("stateBlockNumber", "latest")
        with self._lock:
            head = self._rpc.call("eth_getBlockByNumber", "latest", False)
            head_number = hex_int(head["number"])
            if state not in ("latest", "pending") and quantity(state, "stateBlockNumber") != (
                head_number
            ):
                raise JsonRpcFault(
                    INVALID_PARAMS, f"only the head state ({head_number}) can be simulated here"
                )
            public, _ = self._capture_pool()
            snapshot = self._rpc.call("evm_snapshot")
            try:
                self._rpc.call("anvil_dropAllTransactions")
                for raw, h in zip(raws, hashes, strict=True):
                    try:
                        self._rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
                    except RpcResponseError as exc:
                        raise JsonRpcFault(_SIM_ERROR, f"tx {h}: {exc.message}") from exc
                self._rpc.call("evm_mine")
                result = self._simulation_result(raws, hashes, head_number)
            finally:
                self._rpc.call("evm_revert", snapshot)
                self._rpc.call("anvil_dropAllTransactions")
                for tx in public:
                    try:
                        self._rpc.call("eth_sendRawTransaction", "0x" + tx.raw.hex())
                    except RpcResponseError as exc:
                        _log.warning("pool tx %s not restored: %s", tx.tx_hash, exc.message)
        return result

    def _simulation_result(
        self, raws: Sequence[bytes], hashes: Sequence[str], head_number: int
    ) -> dict[str, Any]:
        block = self._rpc.call("eth_getBlockByNumber", "latest", False)
        mined = set(block["transactions"])
        for h in hashes:
            if h not in mined:
                raise JsonRpcFault(_SIM_ERROR, f"tx {h} could not be included (nonce?)")
        coinbase = block["miner"]
        base_fee_wei = hex_int(block.get("baseFeePerGas") or "0x0")
        balances = self._rpc.batch(
            [("eth_getBalance", [coinbase, hex(n)]) for n in (head_number, head_number + 1)]
        )
        receipts = self._rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        results = []
        for h, receipt in zip(hashes, receipts, strict=True):
            trace = self._rpc.call("debug_traceTransaction", h, {"tracer": "callTracer"})
            results.append(tx_result(h, receipt, trace, coinbase, base_fee_wei))
        total_gas_units = sum(r["gasUsed"] for r in results)
        coinbase_diff_wei = hex_int(balances[1]) - hex_int(balances[0])
        sent_wei = sum(int(r["ethSentToCoinbase"]) for r in results)
        return {
            "bundleGasPrice": str(coinbase_diff_wei // max(total_gas_units, 1)),
            "bundleHash": bundle_hash(raws),
            "coinbaseDiff": str(coinbase_diff_wei),
            "ethSentToCoinbase": str(sent_wei),
            "gasFees": str(sum(int(r["gasFees"]) for r in results)),
            "results": results,
            "stateBlockNumber": head_number,
            "totalGasUsed": total_gas_units,
        }

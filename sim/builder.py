"""The local world's block builder: public transactions and signed bundles into anvil blocks.

No real builder runs here, so ``LocalBuilder`` plays one for an anvil started with mining off
(``AnvilConfig(no_mining=True, order="fifo")``): it serves ``eth_sendBundle``,
``eth_callBundle`` and ``eth_cancelBundle`` (Flashbots-signed, see ``sim.builder_http``) and
mines a block only when ``build_block`` is called.

A builder never exposes a trial block: every client of the node sees exactly one new head per
built block, and no receipt or nonce of a transaction that did not land. So nothing is tried
by mining; candidate blocks are simulated (``eth_simulateV1``, see ``sim.builder_sim``) and
the chosen one is mined once. A block is built the way a builder would:

- public transactions keep their arrival order (anvil's FIFO order), learnt from the node's
  ``newPendingTransactions`` feed; transactions it never announced go last, by sender and
  nonce;
- bundles go to the top of the block, in arrival order, each contiguous and in its own
  order, as real builders place them before the public mempool; a bundle holding a pending
  public transaction (a backrun ``[victim, ours]``) runs it there, and it is not included a
  second time;
- a bundle is all-or-nothing: if any of its transactions cannot run at its place (nonce,
  fee cap, funds), reverts (unless listed in ``revertingTxHashes``), or the block's timestamp
  falls outside the bundle's window, the block is simulated again without that bundle;
- the chosen block is then mined once: the pool is dropped (``anvil_dropAllTransactions``),
  the raw transactions are resubmitted in the chosen order, the simulated timestamp is fixed
  (``evm_setNextBlockTimestamp``) and the block is mined and checked against the
  simulation; any disagreement is reported in ``BlockReport.mismatch`` and logged as an
  error. The report says which bundles landed and why the others did not.

``eth_callBundle`` simulates the bundle alone on top of the head and touches nothing.
Bundles are keyed by (signer, replacementUuid) for replacement and cancellation (by (signer,
bundle hash, block) without a UUID).

Limits: transactions sent to the node in the instant between the last pool read and the drop
may be lost; transactions that arrive during a build are resubmitted after the simulated
ones, unsimulated; transactions of impersonated senders cannot be resubmitted from raw bytes
and are reported as dropped; blob and EIP-7702 transactions are not simulated (bundles holding
them are left out, public ones go last, unsimulated); the simulated ``prevrandao`` is not the
mined one; a block that would outgrow the gas limit is not split; only the head state can be
simulated.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from chains.mempool_tx import EnvelopeError
from chains.rpc import HttpRpc, RpcResponseError
from sim.builder_bundle import (
    Bundle,
    PoolTx,
    bundle_hash,
    bundle_result,
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
    PendingArrivals,
    SignedJsonRpcServer,
)
from sim.builder_sim import (
    BlockEnv,
    Schedule,
    SimResult,
    SimTx,
    chain_nonces,
    compare_block,
    decode_tx,
    late_arrivals,
    next_block_env,
    pool_entries,
    read_pool,
    schedule,
    simulate,
)
from sim.txs import hex_int

__all__ = ["BlockReport", "Bundle", "BundleOutcome", "LocalBuilder"]

_log = logging.getLogger(__name__)
_SIM_ERROR = -32000
_ARRIVAL_WAIT_S = 0.5  # how long a pool transaction's announcement may lag its acceptance
_CLOCK_ROUNDS = 3  # simulations when the clock keeps ticking into a new second meanwhile


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
    attempts: int  # candidate blocks simulated to choose the one mined
    # where the mined block disagrees with its simulation; () when it agrees
    mismatch: tuple[str, ...] = ()

    def outcome(self, bundle_hash: str) -> BundleOutcome:
        """Return the outcome of the bundle with this hash (KeyError if it was no candidate)."""
        for outcome in self.bundles:
            if outcome.bundle_hash == bundle_hash:
                return outcome
        raise KeyError(bundle_hash)


@dataclass(slots=True, kw_only=True)
class _Plan:
    """The block chosen by simulation: layout, results, left-out bundles, tries."""

    env: BlockEnv
    layout: Schedule
    results: list[SimResult]
    excluded: dict[Any, str]
    attempts: int


def ws_url_of(http_url: str) -> str:
    """Return the websocket URL anvil serves beside an http(s) URL (same port)."""
    for http, ws in (("http://", "ws://"), ("https://", "wss://")):
        if http_url.startswith(http):
            return ws + http_url[len(http) :]
    raise ValueError(f"not an http(s) URL: {http_url!r}")


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
        self._arrivals = PendingArrivals(ws_url_of(node_rpc_url))
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
        """Check the node does not mine by itself, follow its pool, then serve; return self."""
        if self._rpc.call("anvil_getAutomine"):
            raise RuntimeError("the local builder needs anvil with automine off (no_mining)")
        self._arrivals.start()
        try:
            # what waits in the pool already came before anything the feed announces
            self._arrivals.note([h for _, _, h in pool_entries(self._rpc)])
            self._server.start()
        except BaseException:
            self._arrivals.stop()
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Stop serving and following the pool, join both threads, close the node client."""
        self._server.stop()
        self._arrivals.stop()
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
            since = self._arrivals.mark()
            public, dropped, unsimulated = read_pool(self._rpc, self._arrivals, _ARRIVAL_WAIT_S)
            decoded = {tx.tx_hash: tx for tx in public}
            for b in candidates:
                if b.key not in excluded:
                    try:
                        decoded.update((t.tx_hash, t) for t in map(decode_tx, b.raw_txs))
                    except EnvelopeError as exc:
                        excluded[b.key] = f"a transaction cannot be simulated: {exc}"
            nonces = chain_nonces(self._rpc, {tx.sender for tx in decoded.values()})
            plan = None
            for _ in range(_CLOCK_ROUNDS):
                # anvil's clock is this host's, whole seconds plus an offset: while the second
                # has not changed, the next block's timestamp is the one read here
                second = int(time.time())
                env = next_block_env(self._rpc)
                if env.number != number:
                    raise RuntimeError(f"block {env.number - 1} was mined outside the builder")
                plan = self._choose(candidates, dict(excluded), public, decoded, nonces, env)
                if int(time.time()) == second:
                    break
            assert plan is not None
            block, receipts, refused, mismatch = self._mine(
                plan, public, unsimulated, since, second
            )
            self._arrivals.retain({tx.tx_hash for tx in public} - set(block["transactions"]), since)
        dropped += refused
        index = {h: i for i, h in enumerate(block["transactions"])}
        outcomes = tuple(self._outcome(b, plan, index, receipts, mismatch) for b in candidates)
        report = BlockReport(
            block_number=hex_int(block["number"]),
            block_hash=block["hash"],
            timestamp=hex_int(block["timestamp"]),
            tx_hashes=tuple(block["transactions"]),
            bundles=outcomes,
            dropped_public=tuple(dropped),
            attempts=plan.attempts,
            mismatch=tuple(mismatch),
        )
        for o in outcomes:
            _log.info(
                "block %d: bundle %s %s",
                report.block_number,
                o.bundle_hash,
                "included" if o.included else f"left out: {o.reason}",
            )
        for line in mismatch:
            _log.error("block %d differs from its simulation: %s", report.block_number, line)
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

    def _choose(
        self,
        candidates: Sequence[Bundle],
        excluded: dict[Any, str],
        public: Sequence[SimTx],
        decoded: dict[str, SimTx],
        nonces: dict[str, int],
        env: BlockEnv,
    ) -> _Plan:
        """Simulate candidate blocks, leaving out one failing bundle at a time, until none fails."""
        for b in candidates:
            if b.key not in excluded and not b.in_window(env.timestamp):
                window = f"[{b.min_timestamp}, {b.max_timestamp}]"
                excluded[b.key] = f"block timestamp {env.timestamp} outside {window}"
        pool = [PoolTx(tx.tx_hash, tx.raw) for tx in public]
        unrunnable: set[str] = set()
        attempts = 0
        while True:
            active = [b for b in candidates if b.key not in excluded]
            order, conflicts = order_block(pool, active)
            if conflicts:
                excluded.update(conflicts)
                continue
            owned = {h: b for b in active for h in b.tx_hashes}
            bundled = [
                (decoded[t.tx_hash], owned[t.tx_hash].key) for t, o in order if o is not None
            ]
            rest = [decoded[t.tx_hash] for t, o in order if o is None]
            attempts += 1
            layout = schedule(
                bundled, [t for t in rest if t.tx_hash not in unrunnable], nonces, env.base_fee_wei
            )
            if layout.refused is not None:
                excluded[bundled[layout.refused.index][1]] = layout.refused.reason
                continue
            results, refusal = simulate(self._rpc, layout.txs, env)
            if refusal is not None:
                owner = layout.owners[refusal.index]
                if owner is None:
                    unrunnable.add(layout.txs[refusal.index].tx_hash)  # anvil will skip it too
                else:
                    excluded[owner] = refusal.reason
                continue
            failed = next(
                (
                    (owner, tx.tx_hash)
                    for tx, owner, r in zip(layout.txs, layout.owners, results, strict=True)
                    if owner is not None
                    and not r.ok
                    and tx.tx_hash.lower() not in _bundle(active, owner).reverting_tx_hashes
                ),
                None,
            )
            if failed is not None:
                excluded[failed[0]] = f"tx {failed[1]} reverted"
                continue
            return _Plan(
                env=env,
                layout=layout,
                results=results,
                excluded=excluded,
                attempts=attempts,
            )

    def _mine(
        self,
        plan: _Plan,
        public: Sequence[SimTx],
        unsimulated: Sequence[PoolTx],
        since: int,
        second: int,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[str, str]], list[str]]:
        """Refill the pool in the chosen order, mine once, check the block against the plan.

        Return (block, its receipts, public transactions the node refused, mismatches).
        """
        layout = plan.layout
        stale = dict(layout.stale)
        bundled = [
            (tx, o) for tx, o in zip(layout.txs, layout.owners, strict=True) if o is not None
        ]
        claimed = {tx.tx_hash for tx, _ in bundled}
        rest = [tx for tx in public if tx.tx_hash not in claimed and tx.tx_hash not in stale]
        known = {tx.tx_hash for tx in public} | {tx.tx_hash for tx in unsimulated} | claimed
        late = late_arrivals(self._rpc, self._arrivals, since, known)
        refused: list[tuple[str, str]] = list(layout.stale)
        mismatch: list[str] = []
        self._rpc.call("anvil_dropAllTransactions")
        for tx, _ in bundled:
            try:
                self._rpc.call("eth_sendRawTransaction", "0x" + tx.raw.hex())
            except RpcResponseError as exc:
                mismatch.append(f"bundle tx {tx.tx_hash} refused by the node: {exc.message}")
        for tx in [*(PoolTx(t.tx_hash, t.raw) for t in rest), *unsimulated, *late]:
            try:
                self._rpc.call("eth_sendRawTransaction", "0x" + tx.raw.hex())
            except RpcResponseError as exc:
                refused.append((tx.tx_hash, exc.message))
        self._rpc.call("evm_setNextBlockTimestamp", hex(plan.env.timestamp))
        lag_s = int(time.time()) - second
        self._rpc.call("evm_mine")
        if lag_s > 0:
            # the fixed timestamp set the clock back by the seconds that passed: put them back
            self._rpc.call("evm_increaseTime", lag_s)
        block = self._rpc.call("eth_getBlockByNumber", "latest", False)
        receipts = self._rpc.call("eth_getBlockReceipts", block["number"]) or []
        mismatch += compare_block(plan.env, plan.layout.txs, plan.results, block, receipts)
        return block, receipts, refused, mismatch

    def _outcome(
        self,
        b: Bundle,
        plan: _Plan,
        index: dict[str, int],
        receipts: Sequence[dict[str, Any]],
        mismatch: list[str],
    ) -> BundleOutcome:
        """Report one candidate: left out by the plan, or landed as the mined block shows."""
        reason = plan.excluded.get(b.key, "")
        positions: tuple[int, ...] = ()
        if b.key not in plan.excluded:
            missing = [h for h in b.tx_hashes if h not in index]
            positions = tuple(index[h] for h in b.tx_hashes if h in index)
            bad = [
                h
                for h in b.tx_hashes
                if h in index
                and hex_int(receipts[index[h]]["status"]) != 1
                and h.lower() not in b.reverting_tx_hashes
            ]
            if missing:
                reason = f"simulated as included, but tx {missing[0]} is not in the block"
            elif positions != tuple(range(positions[0], positions[0] + len(positions))):
                reason = "simulated as included, but its transactions are not contiguous"
            elif bad:
                reason = f"simulated as included, but tx {bad[0]} reverted in the block"
            if reason:
                mismatch.append(f"bundle {b.bundle_hash}: {reason}")
                positions = ()
        return BundleOutcome(
            bundle_hash=b.bundle_hash,
            replacement_uuid=b.replacement_uuid,
            signer=b.signer,
            included=reason == "",
            reason=reason,
            tx_indexes=positions,
        )

    # --- simulation -----------------------------------------------------------------------

    def call_bundle(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Simulate a bundle on top of the head (eth_callBundle); return the Flashbots shape."""
        raws, hashes = parse_txs(obj)
        state = obj.get("stateBlockNumber", "latest")
        try:
            txs = [decode_tx(raw) for raw in raws]
        except EnvelopeError as exc:
            raise JsonRpcFault(INVALID_PARAMS, f"a transaction cannot be simulated: {exc}") from exc
        with self._lock:
            env = next_block_env(self._rpc)
            head_number = env.number - 1
            if state not in ("latest", "pending") and quantity(state, "stateBlockNumber") != (
                head_number
            ):
                raise JsonRpcFault(
                    INVALID_PARAMS, f"only the head state ({head_number}) can be simulated here"
                )
            nonces = chain_nonces(self._rpc, {tx.sender for tx in txs})
            layout = schedule([(tx, 0) for tx in txs], [], nonces, env.base_fee_wei)
            if layout.refused is not None:
                raise JsonRpcFault(_SIM_ERROR, layout.refused.reason)
            results, refusal = simulate(self._rpc, txs, env)
        if refusal is not None:
            raise JsonRpcFault(_SIM_ERROR, refusal.reason)
        per_tx = [
            tx_result(
                tx_hash=h,
                sender=tx.sender,
                to=tx.to,
                gas_used_units=r.gas_used_units,
                price_wei=tx.price_wei(env.base_fee_wei),
                base_fee_wei=env.base_fee_wei,
                sent_to_coinbase_wei=r.sent_to_coinbase_wei,
                ok=r.ok,
                return_data=r.return_data,
                error=r.error,
            )
            for h, tx, r in zip(hashes, txs, results, strict=True)
        ]
        return bundle_result(raws, per_tx, head_number)


def _bundle(active: Sequence[Bundle], key: Any) -> Bundle:
    return next(b for b in active if b.key == key)

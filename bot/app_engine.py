"""The engine process: rings in, bundles out, through the risk gate, the audit log and relays.

`engine_main(spec, stop, head, status)` runs in a child process started by the supervisor. It
loads the pool table from a snapshot pinned at the block the ingest feed starts from, then
loops: read a batch from the record ring, hand it to `bot.engine.Engine` (no I/O there), and
for each action: the executor (risk gate, signing, audit intent, simulation, send), with the
victim's raw bytes from the byte ring for a backrun. After each head it books outcomes
(`bot.settlement`, receipts read from the node) and publishes a status line for the
supervisor's view.

Sending stops while the table lags the node by more than `max_lag_blocks`, after a ring lap
until a fresh snapshot has been loaded, and whenever the risk gate's breaker or kill switch
says so (the gate refuses). The engine writes its head to the shared `head` array, so a
restarted ingest resumes from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.audit import AuditLog
from bot.byte_ring import ByteRing
from bot.engine import Action, BlockReport, Engine, EngineConfig
from bot.executor import Executor, FeeQuote, RelaySimulator
from bot.logs import BlockContext, configure_logging, log_context
from bot.metrics import Metrics
from bot.nonce import Binding, NonceManager
from bot.relay import RelayClient
from bot.ring import Lapped, Ring
from bot.risk import RiskGate, RiskLimits
from bot.settlement import Settlement
from bot.token_probe import deny_if_lossy, probe_token
from bot.tx_sign import TxSigner
from chains.gas_model import load_gas_model
from chains.mempool_tx import EnvelopeError, fields_from_raw, recover_sender
from chains.records import RECORD_DTYPE, Kind
from chains.registry import PoolInfo
from chains.rpc import HttpRpc
from chains.snapshot import snapshot_pools
from graph.state import PoolTable

__all__ = ["EngineSpec", "engine_main"]

_log = logging.getLogger(__name__)
_BATCH = 4096
_BOOKED_KEPT = 4096


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Everything the engine child needs, picklable (keys travel through the process pipe)."""

    ring_name: str
    byte_ring_name: str
    http_url: str
    chain_id: int
    pools: tuple[dict[str, Any], ...]
    start_hash: str
    gas_model_path: Path
    config: EngineConfig
    limits: RiskLimits
    risk_state_path: Path
    kill_switch_path: Path
    audit_path: Path
    relay_urls: tuple[str, ...]
    executor_address: str
    # one executor account per lane ("block", "backrun"): each lands its own bundle per block
    executor_keys: tuple[tuple[str, bytes], ...] = field(repr=False)
    relay_key: bytes = field(repr=False)
    dry_run: bool = False
    max_lag_blocks: int = 3
    metrics_port: int | None = None  # None: no exporter; the exporter binds 127.0.0.1 only
    log_path: Path | None = None  # JSON lines; None: stderr
    mode: str = "fork"
    probe_tokens: bool = True  # measure a token's transfers (eth_call) before its first trade


def _pool_tuples(pools: list[PoolInfo]) -> list[tuple[int, str, str, int, int]]:
    return [(p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing) for p in pools]


class EngineLoop:
    """The engine process's state: table, engine, executor, settlement and counters."""

    def __init__(self, spec: EngineSpec, stop: Any, head: Any, status: Any) -> None:
        self.spec = spec
        self.stop = stop
        self.head_shared = head
        self.status = status
        self.rpc = HttpRpc(spec.http_url, timeout_s=10.0)
        self.pools = [PoolInfo.from_json(p) for p in spec.pools]
        self.ring = Ring.attach(spec.ring_name, RECORD_DTYPE)
        self.raw_ring = ByteRing.attach(spec.byte_ring_name)
        self.reader = self.ring.reader(start="oldest", on_lap="head")
        self.gas_model = load_gas_model(spec.gas_model_path)
        self.table = PoolTable(_pool_tuples(self.pools))
        self.snapshot_block = self._load_snapshot(spec.start_hash)
        self.engine = Engine(
            table=self.table, pools=self.pools, gas_model=self.gas_model, config=spec.config
        )
        self.engine.mark_all_changed()
        self.metrics = Metrics()
        self.metrics.set_graph_size(pools=self.table.n_pools, cycles=self.engine.cycles.n_cycles)
        self.metrics_port: int | None = None
        if spec.metrics_port is not None:
            _, self.metrics_port = self.metrics.serve("127.0.0.1", spec.metrics_port)
        self.audit = AuditLog(spec.audit_path)
        self.risk = RiskGate(
            spec.limits, state_path=spec.risk_state_path, kill_switch_path=spec.kill_switch_path
        )
        self.relay = RelayClient(list(spec.relay_urls), spec.relay_key)
        head_number = int(self.rpc.call("eth_blockNumber"), 16)
        self.executors: dict[str, Executor] = {}
        self.settlements: list[Settlement] = []
        for lane, key in spec.executor_keys:
            signer = TxSigner(key)
            chain_nonce = int(
                self.rpc.call("eth_getTransactionCount", signer.address, "latest"), 16
            )
            in_flight = [
                Binding(i.intent_id, i.nonce, i.target_block + 1)
                for i in self.audit.in_flight()
                if i.signer.lower() == signer.address.lower()
            ]
            nonces = NonceManager(
                signer.address,
                chain_nonce=chain_nonce,
                head_block=head_number,
                in_flight=in_flight,
            )
            self.executors[lane] = Executor(
                signer=signer,
                chain_id=spec.chain_id,
                executor_address=spec.executor_address,
                weth=spec.config.weth,
                nonces=nonces,
                risk=self.risk,
                audit=self.audit,
                relay=self.relay,
                simulator=RelaySimulator(self.relay),
                dry_run=spec.dry_run,
                stage_sink=self._observe_stage_ns,
            )
            self.settlements.append(Settlement(self.audit, self.risk, nonces))
        self.paused: str | None = None
        self.counts: dict[str, int] = {
            "blocks": 0,
            "candidates": 0,
            "sent": 0,
            "landed": 0,
            "failed": 0,
            "expired": 0,
            "backruns_sent": 0,
            "backruns_landed": 0,
        }
        self.pnl_wei = 0
        self.landed_profit_minus_tips = 0
        self._backrun_intents: set[str] = set()
        self._last_lag_check = 0.0
        self._latency_ns: list[int] = []
        # intent id -> (outcome, PnL, profit minus tip) as booked, until a reorg undoes it
        self._booked: dict[str, tuple[str, int, int]] = {}
        self._probed: dict[str, bool] = {}  # token -> transfers deliver exactly
        self._base_tokens = {t.lower() for t in spec.config.base_tokens}
        # the head being handled and what happened while it was the head: its row in the
        # audit log is written when the next head arrives (backruns found meanwhile included)
        self._open_block: BlockReport | None = None
        self._book_sent = 0
        self._book_not_sent: Counter[str] = Counter()
        self._settled_now: Counter[str] = Counter()
        self._settled_pnl_now = 0

    def _observe_stage_ns(self, stage: str, ns: int) -> None:
        self.metrics.observe_stage(stage, ns / 1e9)

    def _load_snapshot(self, block_hash: str | None) -> int:
        snapshot = snapshot_pools(self.rpc, _pool_tuples(self.pools), block_hash)
        self.table.load_snapshot(snapshot)
        return snapshot.block_number

    def _resync(self, why: str) -> None:
        """Reload the table from a fresh snapshot after a lap: nothing is sent meanwhile."""
        self.paused = why
        self.snapshot_block = self._load_snapshot(None)
        self.engine.mark_all_changed()
        self.paused = None

    def _publish_head(self) -> None:
        head = self.engine.head
        if head is None:
            return
        with self.head_shared.get_lock():
            self.head_shared[:8] = list(head.number.to_bytes(8, "big"))
            self.head_shared[8:40] = list(head.block_hash)
            self.head_shared[40:72] = list(head.parent_hash)

    async def run(self) -> None:
        head = int(self.rpc.call("eth_blockNumber"), 16)
        for executor in self.executors.values():
            await executor.resend_in_flight(head)
        while not self.stop.is_set():
            batch = self.reader.read_batch(_BATCH)
            if isinstance(batch, Lapped):
                self.metrics.observe_lap(batch.lost)
                _log.warning("ring lapped: %d records lost; resynchronizing", batch.lost)
                self._resync("ring lapped")
                continue
            if batch.shape[0] == 0:
                self.reader.confirm()
                await asyncio.sleep(0.0005)
                continue
            records = batch.copy()
            if not self.reader.confirm():
                self.metrics.observe_lap(0)
                _log.warning("ring overwritten while reading; resynchronizing")
                self._resync("ring overwritten while reading")
                continue
            self._observe_ring(records)
            keep = (records["kind"] == Kind.PENDING_SWAP) | (
                records["block_number"] > self.snapshot_block
            )
            records = records[keep]
            if records.shape[0] == 0:
                continue
            reorgs = records[records["kind"] == Kind.REORG]
            actions, reports = self.engine.on_records(records)
            for reorg in reorgs:
                self._on_reorg(int(reorg["block_number"]))
            for report in reports:
                self._record_block()
                self._open_block = report
                with BlockContext(report.number, mode=self.spec.mode):
                    await self._after_head(report)
            for action in actions:
                with log_context(
                    block=action.candidate.block_number,
                    candidate=action.candidate.candidate_id,
                    mode=self.spec.mode,
                ):
                    await self._send(action)
            if (reports or actions) and self._open_block is not None:
                self._post_status(self._open_block)

    def _observe_ring(self, records: Any) -> None:
        """Count the batch by kind; observe frame arrival -> engine read (the ring stage)."""
        self.metrics.observe_records(records)
        recv = records["recv_ns"]
        arrived = recv[recv > 0]
        if arrived.shape[0]:
            now = time.monotonic_ns()
            self.metrics.observe_stage("ring", max(now - int(arrived.max()), 0) / 1e9)

    def _record_block(self) -> None:
        """Append the open head's bookkeeping to the audit log: found, sent, not, settled."""
        report = self._open_block
        if report is None:
            return
        self.audit.record_block(
            report.number,
            report.block_hash,
            candidates=report.candidates,
            sent=self._book_sent,
            not_sent=self._book_not_sent,
            dropped=report.dropped,
            settled=self._settled_now,
            pnl_wei=self._settled_pnl_now,
        )
        self.counts["candidates"] += len(report.candidates)
        self._open_block = None
        self._book_sent = 0
        self._book_not_sent = Counter()
        self._settled_now = Counter()
        self._settled_pnl_now = 0

    async def _after_head(self, report: BlockReport) -> None:
        self._publish_head()
        self.metrics.observe_report(report)
        self.metrics.set_breaker(self.risk.breaker_tripped)
        self.metrics.set_kill_switch(self.risk.kill_switch_active())
        self.metrics.set_ring_lag(int(self.reader.available()))
        self.counts["blocks"] += 1
        for lane, settlement in zip(self.executors, self.settlements, strict=True):
            checks = settlement.hashes_to_check()
            receipts = {}
            if checks:
                calls = [("eth_getTransactionReceipt", [h]) for h in checks]
                for tx_hash, receipt in zip(checks, self.rpc.batch(calls), strict=True):
                    receipts[tx_hash] = receipt
            address = self.executors[lane].signer_address
            chain_nonce = int(self.rpc.call("eth_getTransactionCount", address, "latest"), 16)
            for settled in settlement.on_block(
                report.number, chain_nonce=chain_nonce, receipts=receipts
            ):
                self._book(settled)
        self._check_lag(report.number)

    def _on_reorg(self, ancestor: int) -> None:
        """Blocks above `ancestor` were replaced: undo what was booked in them."""
        for lane, settlement in zip(self.executors, self.settlements, strict=True):
            address = self.executors[lane].signer_address
            chain_nonce = int(self.rpc.call("eth_getTransactionCount", address, "latest"), 16)
            undone = settlement.on_reorg(
                first_removed_block=ancestor + 1, chain_nonce=chain_nonce, head_block=ancestor
            )
            for intent_id in undone:
                self._unbook(intent_id)
            if undone:
                _log.warning(
                    "reorg below block %d: %d settled bundles rolled back",
                    ancestor + 1,
                    len(undone),
                    extra={"block": ancestor},
                )

    def _unbook(self, intent_id: str) -> None:
        """Take back what `_book` counted for an intent whose block a reorg removed."""
        booked = self._booked.pop(intent_id, None)
        if booked is None:
            return
        outcome, pnl, profit_minus_tip = booked
        self.pnl_wei -= pnl
        self._settled_now["reorged_out"] += 1
        self._settled_pnl_now -= pnl
        if outcome == "included":
            self.counts["landed"] -= 1
            self.landed_profit_minus_tips -= profit_minus_tip
            if intent_id in self._backrun_intents:
                self.counts["backruns_landed"] -= 1
        else:
            self.counts[outcome] -= 1
        self.counts["reorged_out"] = self.counts.get("reorged_out", 0) + 1
        self.metrics.set_realized_pnl(self.pnl_wei)

    def _book(self, settled: Any) -> None:
        intent = self.audit.intent(settled.intent_id)
        tip = intent.candidate.tip_wei if intent is not None else 0
        self.metrics.observe_settled(
            settled, tip_paid_wei=tip if settled.outcome == "included" else 0
        )
        self._settled_now[settled.outcome] += 1
        self._settled_pnl_now += settled.pnl_wei
        _log.info(
            "bundle %s: %s, PnL %d wei",
            settled.intent_id,
            settled.outcome,
            settled.pnl_wei,
            extra={"intent": settled.intent_id},
        )
        profit_minus_tip = 0
        if settled.outcome == "included":
            self.counts["landed"] += 1
            if intent is not None:
                c = intent.candidate
                profit_minus_tip = c.profit - c.tip_wei
                self.landed_profit_minus_tips += profit_minus_tip
            if settled.intent_id in self._backrun_intents:
                self.counts["backruns_landed"] += 1
        else:
            self.counts[settled.outcome] = self.counts.get(settled.outcome, 0) + 1
        self.pnl_wei += settled.pnl_wei
        self._booked[settled.intent_id] = (settled.outcome, settled.pnl_wei, profit_minus_tip)
        while len(self._booked) > _BOOKED_KEPT:  # far deeper than any reorg followed
            del self._booked[next(iter(self._booked))]

    def _check_lag(self, table_head: int) -> None:
        now = time.monotonic()
        if now - self._last_lag_check < 0.5:
            return
        self._last_lag_check = now
        node_head = int(self.rpc.call("eth_blockNumber"), 16)
        lag = node_head - table_head
        self.metrics.set_ingest_lag(lag)
        if lag > self.spec.max_lag_blocks:
            self.paused = f"ingest lags the node by {lag} blocks"
        elif self.paused and self.paused.startswith("ingest lags"):
            self.paused = None

    def _not_sent(self, action: Action, reason: str) -> None:
        self.engine.not_sent(action)
        self._book_not_sent[reason] += 1
        _log.info("candidate not sent: %s", reason)

    def _tokens_deliver(self, action: Action) -> bool:
        """Probe each traded token once (eth_call only); deny the ones that deliver less."""
        if not self.spec.probe_tokens:
            return True
        for hop in action.candidate.hops:
            token = hop.token_out.lower()
            if token in self._base_tokens or token in self._probed:
                continue
            result = probe_token(
                self.rpc,
                token,
                hop.pool,
                "v3" if hop.is_v3 else "v2",
                amount=max(min(hop.amount_out, (1 << 112) - 1), 1),
            )
            if result.measured:
                self._probed[token] = result.ok
                deny_if_lossy(self.risk, result)
            if result.measured and not result.ok:
                return False
        return True

    def _victim_is_next(self, raw: bytes) -> bool:
        """Return whether the victim's nonce is its sender's next on chain."""
        try:
            nonce = fields_from_raw(raw).nonce
            sender = recover_sender(raw)
        except EnvelopeError:
            return False
        return nonce == int(self.rpc.call("eth_getTransactionCount", sender, "latest"), 16)

    async def _send(self, action: Action) -> None:
        if self.paused is not None:
            self._not_sent(action, "paused")
            return
        if self.risk.kill_switch_active():
            self._not_sent(action, "kill_switch")
            return
        if self.risk.breaker_tripped:
            self._not_sent(action, "breaker")
            return
        if not self._tokens_deliver(action):
            self._not_sent(action, "token_denied")
            return
        victim_raw = None
        if action.victim is not None:
            victim_raw = self.raw_ring.read(action.victim.raw_offset, action.victim.raw_len)
            if victim_raw is None:
                self._not_sent(action, "victim_bytes_overwritten")
                return
            if not self._victim_is_next(victim_raw):
                # an earlier transaction of its sender is still pending: the victim cannot
                # open the block, and no builder would take the bundle
                self._not_sent(action, "victim_not_next")
                return
        executor = self.executors.get(action.lane) or self.executors["block"]
        result = await executor.submit(
            action.candidate,
            fees=FeeQuote(action.next_base_fee_wei, action.priority_fee_wei),
            parent_hash=action.parent_hash,
            input_value_wei=action.input_value_wei,
            victim_raw=victim_raw,
        )
        self.metrics.observe_send(result)
        if result.outcome in ("sent", "dry_run"):
            if action.recv_ns:
                self._latency_ns.append(time.monotonic_ns() - action.recv_ns)
                self.metrics.observe_handoff(action.recv_ns)
            if result.outcome == "sent":
                self._book_sent += 1
                self.counts["sent"] += 1
                if action.victim is not None:
                    self.counts["backruns_sent"] += 1
                    self._backrun_intents.add(result.intent_id)
        else:
            self._not_sent(action, result.outcome)

    def _post_status(self, report: BlockReport) -> None:
        if self.status is None:
            return
        latency = sorted(self._latency_ns[-256:])
        status = {
            "block": report.number,
            "pools": self.table.n_pools,
            "cycles": self.engine.cycles.n_cycles,
            "changed": report.changed_pools,
            "evaluated": report.cycles_evaluated,
            "opportunities": report.profitable,
            "paused": self.paused,
            "metrics_port": self.metrics_port,
            "breaker": self.risk.breaker_reason,
            "kill_switch": self.risk.kill_switch_active(),
            "pnl_wei": self.pnl_wei,
            "landed_profit_minus_tips": self.landed_profit_minus_tips,
            "latency_p50_us": latency[len(latency) // 2] / 1e3 if latency else None,
            "stage_ns": dict(report.stage_ns),
            "candidate_ids": [c.candidate_id for c in report.candidates],
            **self.counts,
        }
        if self._open_block is not None:  # its backrun candidates still grow until flushed
            status["candidates"] += len(self._open_block.candidates)
        with contextlib.suppress(Exception):
            self.status.put_nowait(status)

    async def close(self) -> None:
        if self._open_block is not None:
            self._post_status(self._open_block)
        self._record_block()
        self.metrics.stop()
        await self.relay.close()
        self.audit.close()
        self.rpc.close()
        self.ring.close()
        self.raw_ring.close()


def engine_main(spec: EngineSpec, stop: Any, head: Any, status: Any) -> None:
    """Run the engine loop until `stop` is set or SIGTERM arrives."""
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    configure_logging(level=logging.INFO, path=spec.log_path)
    loop = EngineLoop(spec, stop, head, status)
    loop.risk.install_signal_handler()  # SIGUSR1: the kill switch (file written, survives)
    with contextlib.suppress(Exception):
        status.put({"ready": True, "snapshot_block": loop.snapshot_block}, timeout=5)

    async def main() -> None:
        try:
            await loop.run()
        finally:
            await loop.close()

    asyncio.run(main())

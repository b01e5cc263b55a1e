"""Prometheus metrics of the running bot, in a registry of its own (no global default registry).

One `Metrics` object is built by the composition root and passed to whoever reports: the
engine loop (`observe_report`, `observe_records`, `observe_rejected`), the executor
(`observe_send`, `observe_stage`/`time_stage`), settlement (`observe_settled`) and the
supervisor (the gauges). The exporter (`serve`) listens on loopback only; `render` returns
the text exposition for tests and for a final dump.

Every label takes its value from a fixed small set (stages, record kinds, decoder reasons,
drop reasons, bundle outcomes), so no label can carry a candidate id, a hash, a key or a raw
transaction. A reason the sets do not name is counted as `other`; a stage or bundle outcome
they do not name is a programming error and raises.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from wsgiref.simple_server import WSGIServer

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from bot.engine import BlockReport
from bot.executor import SendResult
from bot.settlement import Settled
from chains.decode_events import Reason
from chains.records import Kind

__all__ = [
    "BUNDLE_OUTCOMES",
    "DROP_REASONS",
    "EVENT_KINDS",
    "LATENCY_BUCKETS_S",
    "PENDING_SKIP_REASONS",
    "REJECT_REASONS",
    "STAGES",
    "Metrics",
]

STAGES = (
    "receive",
    "decode",
    "ring",
    "state",
    "search",
    "reprice",
    "risk",
    "simulate",
    "audit",
    "sign",
    "submit",
)
# 10 µs .. 1 s, four buckets a decade, three significant digits (readable `le` labels)
LATENCY_BUCKETS_S = tuple(float(f"{10 ** (k / 4):.3g}") for k in range(-20, 1))
EVENT_KINDS = tuple(kind.name for kind in Kind if kind is not Kind.EMPTY)
REJECT_REASONS = tuple(reason.name for reason in Reason if reason is not Reason.ACCEPTED)
# graph.reprice drops, and the engine's per-block budget
DROP_REASONS = (
    "no_state",
    "no_base_value",
    "unprofitable_exact",
    "below_min_profit",
    "block_budget_used",
    "other",
)
# graph.pending: why a decoded pending swap was not searched
PENDING_SKIP_REASONS = (
    "amount_unknown",
    "fee_on_transfer",
    "no_hops",
    "no_state",
    "victim_would_revert",
    "other",
)
BUNDLE_OUTCOMES = (
    "sent",
    "included",
    "failed",
    "expired",
    "cancelled",
    "simulation_failed",
    "refused",
    "stale",
    "dry_run",
    "not_accepted",
)
_NS_PER_S = 1_000_000_000


class Metrics:
    """Every metric of one bot process, registered in this object's own registry."""

    def __init__(self, *, namespace: str = "arbloop") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, namespace=namespace, registry=reg)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, namespace=namespace, registry=reg)

        def histogram(name: str, doc: str, labels: tuple[str, ...] = ()) -> Histogram:
            return Histogram(
                name, doc, labels, namespace=namespace, registry=reg, buckets=LATENCY_BUCKETS_S
            )

        self.stage_latency = histogram(
            "stage_latency_seconds", "Time spent in one pipeline stage", ("stage",)
        )
        self.end_to_end_latency = histogram(
            "end_to_end_latency_seconds",
            "From the triggering frame's arrival to the bundle handed to the relay client",
        )
        self.events = counter("events", "Records read from the ring, by kind", ("kind",))
        self.rejected_logs = counter(
            "rejected_logs", "Logs the decoder rejected, by reason", ("reason",)
        )
        self.cycles_evaluated = counter("cycles_evaluated", "Cycles screened by the search")
        self.opportunities = counter("opportunities", "Cycles the float screening found profitable")
        self.candidates = counter("candidates", "Candidates priced exactly and still profitable")
        self.dropped_candidates = counter(
            "dropped_candidates", "Screened cycles or candidates dropped, by reason", ("reason",)
        )
        self.actions = counter("actions", "Actions handed to the executor")
        self.pending_seen = counter("pending_swaps", "Decoded pending swaps the engine looked at")
        self.pending_skipped = counter(
            "pending_skipped", "Pending swaps not searched, by reason", ("reason",)
        )
        self.bundles = counter("bundles", "Bundles by outcome", ("outcome",))
        self.pnl_wei = gauge("realized_pnl_wei", "Realized PnL of settled intents (wei, float)")
        self.included_profit_wei = counter(
            "included_profit_wei", "Positive PnL of included bundles (wei, float)"
        )
        self.gas_paid_wei = counter("gas_paid_wei", "Gas paid by mined transactions (wei)")
        self.tips_paid_wei = counter("tips_paid_wei", "Builder tips paid by included bundles (wei)")
        self.breaker_tripped = gauge("breaker_tripped", "1 while the risk breaker is tripped")
        self.kill_switch = gauge("kill_switch", "1 while the operator kill switch is engaged")
        self.ring_lag = gauge(
            "ring_lag_records", "Records the engine's reader is behind the ring's writer"
        )
        self.ring_laps = counter("ring_laps", "Times the engine's reader was lapped by the writer")
        self.ring_lost = counter("ring_lost_records", "Records lost to laps")
        self.ingest_lag = gauge("ingest_lag_blocks", "Node head minus the pool table's head")
        self.blocks_processed = gauge("blocks_processed", "Heads the engine searched")
        self.head_block = gauge("head_block", "Number of the newest head searched")
        self.pools_tracked = gauge("pools_tracked", "Pools in the cycle set")
        self.cycles_held = gauge("cycles_held", "Cycles in the cycle set")
        # create every labelled child now: each series is exported (as 0) before it happens
        for stage in STAGES:
            self.stage_latency.labels(stage=stage)
        for kind in EVENT_KINDS:
            self.events.labels(kind=kind)
        for name in REJECT_REASONS:
            self.rejected_logs.labels(reason=name)
        for name in DROP_REASONS:
            self.dropped_candidates.labels(reason=name)
        for name in PENDING_SKIP_REASONS:
            self.pending_skipped.labels(reason=name)
        for outcome in BUNDLE_OUTCOMES:
            self.bundles.labels(outcome=outcome)
        self._kind_labels = {int(kind): kind.name for kind in Kind if kind is not Kind.EMPTY}
        self._last_block: int | None = None
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- latency ---------------------------------------------------------------------------

    def observe_stage(self, stage: str, seconds: float) -> None:
        """Record one stage's duration in seconds; `stage` must be one of STAGES."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}: expected one of {STAGES}")
        self.stage_latency.labels(stage=stage).observe(seconds)

    @contextmanager
    def time_stage(self, stage: str) -> Iterator[None]:
        """Time the enclosed block as one observation of `stage` (also when it raises)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}: expected one of {STAGES}")
        start = time.perf_counter_ns()
        try:
            yield
        finally:
            self.observe_stage(stage, (time.perf_counter_ns() - start) / _NS_PER_S)

    def observe_end_to_end(self, seconds: float) -> None:
        """Record frame arrival -> bundle handed to the relay client, in seconds."""
        self.end_to_end_latency.observe(seconds)

    def observe_handoff(self, recv_ns: int, now_ns: int | None = None) -> None:
        """Record the end-to-end latency of an action whose frame arrived at `recv_ns`.

        Both instants are `time.monotonic_ns()` readings (the feeds' clock); `now_ns`
        defaults to now. An action without an arrival time (recv_ns 0) is not recorded.
        """
        if recv_ns <= 0:
            return
        now = time.monotonic_ns() if now_ns is None else now_ns
        self.end_to_end_latency.observe(max(now - recv_ns, 0) / _NS_PER_S)

    # -- engine ----------------------------------------------------------------------------

    def observe_records(self, records: np.ndarray) -> None:
        """Count a ring batch's records by kind (a record array or its `kind` column)."""
        kinds = records["kind"] if records.dtype.names else records
        if kinds.shape[0] == 0:
            return
        counts = np.bincount(kinds.astype(np.int64), minlength=len(Kind))
        for value in np.flatnonzero(counts):
            label = self._kind_labels.get(int(value))
            if label is not None:
                self.events.labels(kind=label).inc(int(counts[value]))

    def observe_rejected(self, counts: np.ndarray | Mapping[Reason, int]) -> None:
        """Count the decoder's rejected logs: its per-Reason counts (ACCEPTED is skipped)."""
        items = (
            counts.items()
            if isinstance(counts, Mapping)
            else ((Reason(i), int(n)) for i, n in enumerate(counts))
        )
        for reason, n in items:
            if reason is not Reason.ACCEPTED and n > 0:
                self.rejected_logs.labels(reason=Reason(reason).name).inc(n)

    def observe_report(self, report: BlockReport) -> None:
        """Update the search, candidate, drop, pending and stage metrics from one BlockReport."""
        if report.number != self._last_block:
            # a block's logs may come in several batches, each with its own report
            self.blocks_processed.inc()
            self._last_block = report.number
        self.head_block.set(report.number)
        self.cycles_evaluated.inc(report.cycles_evaluated)
        self.opportunities.inc(report.profitable)
        self.candidates.inc(len(report.candidates))
        self.actions.inc(len(report.actions))
        for reason, n in report.dropped.items():
            label = reason if reason in DROP_REASONS else "other"
            self.dropped_candidates.labels(reason=label).inc(n)
        self.pending_seen.inc(report.pending_seen)
        for reason, n in report.pending_skipped.items():
            label = reason if reason in PENDING_SKIP_REASONS else "other"
            self.pending_skipped.labels(reason=label).inc(n)
        for stage, ns in report.stage_ns.items():
            self.observe_stage(stage, ns / _NS_PER_S)

    # -- execution and settlement ----------------------------------------------------------

    def observe_bundle(self, outcome: str) -> None:
        """Count one bundle outcome; `outcome` must be one of BUNDLE_OUTCOMES."""
        if outcome not in BUNDLE_OUTCOMES:
            raise ValueError(f"unknown bundle outcome {outcome!r}")
        self.bundles.labels(outcome=outcome).inc()

    def observe_send(self, result: SendResult) -> None:
        """Count what the executor did with one candidate (sent, refused, dry_run, ...)."""
        self.observe_bundle(result.outcome)

    def observe_settled(
        self,
        settled: Settled,
        *,
        gas_paid_wei: int | None = None,
        tip_paid_wei: int = 0,
    ) -> None:
        """Count a settled intent and book its PnL, gas paid and tip paid (wei).

        Settled carries no gas figure for an included bundle: pass `gas_paid_wei` (and the
        tip) when known. For a failed one the loss is the gas paid, used when none is passed.
        """
        self.observe_bundle(settled.outcome)
        self.pnl_wei.inc(float(settled.pnl_wei))
        if settled.outcome == "included" and settled.pnl_wei > 0:
            self.included_profit_wei.inc(float(settled.pnl_wei))
        if gas_paid_wei is None:
            gas_paid_wei = settled.loss_wei if settled.outcome == "failed" else 0
        if gas_paid_wei > 0:
            self.gas_paid_wei.inc(float(gas_paid_wei))
        if tip_paid_wei > 0:
            self.tips_paid_wei.inc(float(tip_paid_wei))

    def set_realized_pnl(self, pnl_wei: int) -> None:
        """Set realized PnL from the books (after a reorg took settlements back)."""
        self.pnl_wei.set(float(pnl_wei))

    # -- supervisor gauges -----------------------------------------------------------------

    def set_breaker(self, tripped: bool) -> None:
        """Export whether the risk breaker is tripped."""
        self.breaker_tripped.set(1 if tripped else 0)

    def set_kill_switch(self, engaged: bool) -> None:
        """Export whether the kill switch is engaged."""
        self.kill_switch.set(1 if engaged else 0)

    def set_ring_lag(self, records: int) -> None:
        """Export how many records the engine's reader is behind the writer."""
        self.ring_lag.set(records)

    def observe_lap(self, lost_records: int) -> None:
        """Count one lap of the engine's reader and the records it lost."""
        self.ring_laps.inc()
        self.ring_lost.inc(max(lost_records, 0))

    def set_ingest_lag(self, blocks: int) -> None:
        """Export node head minus table head, in blocks."""
        self.ingest_lag.set(blocks)

    def set_graph_size(self, *, pools: int, cycles: int) -> None:
        """Export the number of pools and cycles the engine holds."""
        self.pools_tracked.set(pools)
        self.cycles_held.set(cycles)

    # -- export ----------------------------------------------------------------------------

    def render(self) -> bytes:
        """Return the Prometheus text exposition of this registry."""
        return generate_latest(self.registry)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[WSGIServer, int]:
        """Start the HTTP exporter on a loopback address; return the server and its port."""
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the metrics exporter listens on loopback only, not {host!r}")
        if self._server is not None:
            raise RuntimeError("the metrics exporter is already running")
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        self._server, self._thread = server, thread
        return server, int(server.server_address[1])

    def stop(self) -> None:
        """Stop the HTTP exporter (if running) and close its socket."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

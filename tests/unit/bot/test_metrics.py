"""bot.metrics: every metric exported with its type and labels, the loopback exporter, isolation."""

from __future__ import annotations

import urllib.request
from collections import Counter

import numpy as np
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.engine import Action, BlockReport
from bot.executor import SendResult
from bot.metrics import (
    BUNDLE_OUTCOMES,
    DROP_REASONS,
    EVENT_KINDS,
    LATENCY_BUCKETS_S,
    PENDING_SKIP_REASONS,
    REJECT_REASONS,
    STAGES,
    Metrics,
)
from bot.risk import Verdict
from bot.settlement import Settled
from chains.decode_events import N_REASONS, Reason
from chains.records import RECORD_DTYPE, Kind
from graph.actions import Candidate, CandidateHop

WETH = "0x" + "c0" * 20
TKA = "0x" + "aa" * 20
ETH = 10**18
GWEI = 10**9
TX_HASH = "0x" + "ab" * 32


def make_candidate(*, block: int = 100, cycle_id: int = 3) -> Candidate:
    """Return a valid two-hop WETH -> TKA -> WETH candidate priced at `block`."""
    amount_in, mid, profit = ETH, 3_000 * ETH, ETH // 10

    def hop(pool_id: int, token_in: str, token_out: str, a_in: int, a_out: int) -> CandidateHop:
        return CandidateHop(
            pool_id=pool_id,
            pool=f"0x{pool_id + 1:040x}",
            is_v3=False,
            zero_for_one=True,
            fee_pips=3000,
            token_in=token_in,
            token_out=token_out,
            amount_in=a_in,
            amount_out=a_out,
        )

    gas_units, gas_price = 200_000, 10 * GWEI
    return Candidate(
        cycle_id=cycle_id,
        base_token=WETH,
        hops=(hop(0, WETH, TKA, amount_in, mid), hop(1, TKA, WETH, mid, amount_in + profit)),
        amount_in=amount_in,
        profit=profit,
        profit_wei=profit,
        gas_units=gas_units,
        gas_price_wei=gas_price,
        tip_wei=0,
        net_profit_wei=profit - gas_units * gas_price,
        flash=True,
        block_number=block,
        block_hash="0x" + "11" * 32,
        target_block=block + 1,
    )


def make_report(number: int = 100) -> BlockReport:
    candidate = make_candidate(block=number)
    action = Action(
        candidate=candidate,
        next_base_fee_wei=GWEI,
        priority_fee_wei=GWEI,
        parent_hash=b"\x11" * 32,
        input_value_wei=ETH,
    )
    return BlockReport(
        number=number,
        block_hash="0x" + "11" * 32,
        changed_pools=4,
        cycles_evaluated=120,
        profitable=7,
        screened=5,
        candidates=[candidate, make_candidate(block=number, cycle_id=9)],
        dropped=Counter({"below_min_profit": 2, "block_budget_used": 1, "a_new_reason": 1}),
        actions=[action],
        pending_seen=3,
        pending_skipped=Counter({"victim_would_revert": 2}),
        stage_ns={"state": 40_000, "search": 250_000, "reprice": 2_000_000},
    )


def families(metrics: Metrics) -> dict:
    """Return the metric families of render(), without the `_created` timestamp gauges."""
    text = metrics.render().decode()
    return {
        f.name: f for f in text_string_to_metric_families(text) if not f.name.endswith("_created")
    }


def value(metrics: Metrics, sample_name: str, **labels: str) -> float:
    for family in families(metrics).values():
        for sample in family.samples:
            if sample.name == sample_name and sample.labels == labels:
                return sample.value
    raise KeyError((sample_name, labels))


def label_values(family, sample_name: str, label: str) -> set[str]:
    return {s.labels[label] for s in family.samples if s.name == sample_name}


EXPECTED_TYPES = {
    "arbloop_stage_latency_seconds": "histogram",
    "arbloop_end_to_end_latency_seconds": "histogram",
    "arbloop_events": "counter",
    "arbloop_rejected_logs": "counter",
    "arbloop_cycles_evaluated": "counter",
    "arbloop_opportunities": "counter",
    "arbloop_candidates": "counter",
    "arbloop_dropped_candidates": "counter",
    "arbloop_actions": "counter",
    "arbloop_pending_swaps": "counter",
    "arbloop_pending_skipped": "counter",
    "arbloop_bundles": "counter",
    "arbloop_realized_pnl_wei": "gauge",
    "arbloop_included_profit_wei": "counter",
    "arbloop_gas_paid_wei": "counter",
    "arbloop_tips_paid_wei": "counter",
    "arbloop_breaker_tripped": "gauge",
    "arbloop_kill_switch": "gauge",
    "arbloop_ring_lag_records": "gauge",
    "arbloop_ring_laps": "counter",
    "arbloop_ring_lost_records": "counter",
    "arbloop_ingest_lag_blocks": "gauge",
    "arbloop_blocks_processed": "gauge",
    "arbloop_head_block": "gauge",
    "arbloop_pools_tracked": "gauge",
    "arbloop_cycles_held": "gauge",
}


def test_every_metric_present_with_type_and_label_set() -> None:
    metrics = Metrics()
    metrics.observe_report(make_report(100))
    metrics.observe_send(
        SendResult(intent_id="100-3-abcd0123", outcome="sent", verdict=Verdict(True))
    )
    metrics.observe_settled(Settled("100-3-abcd0123", "included", 101, 5 * 10**16, 0))
    found = families(metrics)
    assert {name: f.type for name, f in found.items()} == EXPECTED_TYPES
    stage = found["arbloop_stage_latency_seconds"]
    assert label_values(stage, "arbloop_stage_latency_seconds_count", "stage") == set(STAGES)
    buckets = {
        float(s.labels["le"])
        for s in stage.samples
        if s.name.endswith("_bucket") and s.labels["stage"] == "search"
    }
    assert buckets == {*LATENCY_BUCKETS_S, float("inf")}
    assert min(LATENCY_BUCKETS_S) == 1e-5 and max(LATENCY_BUCKETS_S) == 1.0
    ratios = np.diff(np.log10(LATENCY_BUCKETS_S))
    assert np.allclose(ratios, 0.25, atol=0.01)  # log-spaced
    labelled = {
        "arbloop_events": ("kind", EVENT_KINDS),
        "arbloop_rejected_logs": ("reason", REJECT_REASONS),
        "arbloop_dropped_candidates": ("reason", DROP_REASONS),
        "arbloop_pending_skipped": ("reason", PENDING_SKIP_REASONS),
        "arbloop_bundles": ("outcome", BUNDLE_OUTCOMES),
    }
    for name, (label, expected) in labelled.items():
        assert label_values(found[name], name + "_total", label) == set(expected), name
    assert set(EVENT_KINDS) == {k.name for k in Kind} - {"EMPTY"}
    assert set(REJECT_REASONS) == {r.name for r in Reason} - {"ACCEPTED"}
    assert {
        "sent",
        "included",
        "failed",
        "expired",
        "cancelled",
        "simulation_failed",
        "refused",
        "dry_run",
    } <= set(BUNDLE_OUTCOMES)


def test_observe_report_updates_search_candidates_drops_and_stages() -> None:
    metrics = Metrics()
    metrics.observe_report(make_report(100))
    assert value(metrics, "arbloop_cycles_evaluated_total") == 120
    assert value(metrics, "arbloop_opportunities_total") == 7
    assert value(metrics, "arbloop_candidates_total") == 2
    assert value(metrics, "arbloop_actions_total") == 1
    assert value(metrics, "arbloop_dropped_candidates_total", reason="below_min_profit") == 2
    assert value(metrics, "arbloop_dropped_candidates_total", reason="block_budget_used") == 1
    # a reason outside the fixed set never becomes a label of its own
    assert value(metrics, "arbloop_dropped_candidates_total", reason="other") == 1
    assert value(metrics, "arbloop_pending_swaps_total") == 3
    assert value(metrics, "arbloop_pending_skipped_total", reason="victim_would_revert") == 2
    assert value(metrics, "arbloop_stage_latency_seconds_count", stage="search") == 1
    assert value(metrics, "arbloop_stage_latency_seconds_sum", stage="search") == 250e-6
    assert value(metrics, "arbloop_stage_latency_seconds_sum", stage="reprice") == 2e-3
    assert value(metrics, "arbloop_stage_latency_seconds_count", stage="sign") == 0
    assert value(metrics, "arbloop_blocks_processed") == 1
    assert value(metrics, "arbloop_head_block") == 100
    # a second batch of the same block is not a new block; the next one is
    metrics.observe_report(make_report(100))
    metrics.observe_report(make_report(101))
    assert value(metrics, "arbloop_blocks_processed") == 2
    assert value(metrics, "arbloop_head_block") == 101
    assert value(metrics, "arbloop_opportunities_total") == 21
    rendered = metrics.render().decode()
    assert "100-3" not in rendered and TX_HASH not in rendered  # no candidate ids, no hashes


def test_records_and_rejected_logs_counted_by_kind_and_reason() -> None:
    metrics = Metrics()
    records = np.zeros(6, dtype=RECORD_DTYPE)
    records["kind"] = [Kind.V2_SYNC, Kind.V2_SYNC, Kind.V3_SWAP, Kind.BLOCK_HEAD, Kind.EMPTY, 13]
    metrics.observe_records(records)
    metrics.observe_records(records["kind"][:1])
    metrics.observe_records(records[:0])
    assert value(metrics, "arbloop_events_total", kind="V2_SYNC") == 3
    assert value(metrics, "arbloop_events_total", kind="V3_SWAP") == 1
    assert value(metrics, "arbloop_events_total", kind="BLOCK_HEAD") == 1
    assert value(metrics, "arbloop_events_total", kind="PENDING_SWAP") == 1
    assert value(metrics, "arbloop_events_total", kind="REORG") == 0
    counts = np.zeros(N_REASONS, dtype=np.int64)
    counts[Reason.ACCEPTED] = 50
    counts[Reason.UNKNOWN_ADDRESS] = 4
    counts[Reason.REMOVED] = 1
    metrics.observe_rejected(counts)
    metrics.observe_rejected({Reason.UNKNOWN_ADDRESS: 2})
    assert value(metrics, "arbloop_rejected_logs_total", reason="UNKNOWN_ADDRESS") == 6
    assert value(metrics, "arbloop_rejected_logs_total", reason="REMOVED") == 1
    assert "ACCEPTED" not in metrics.render().decode()


def test_sends_and_settlements_counted_with_pnl_gas_and_tips() -> None:
    metrics = Metrics()
    for outcome in ("sent", "sent", "refused", "dry_run", "simulation_failed"):
        verdict = Verdict(outcome != "refused", "gas_price" if outcome == "refused" else None)
        metrics.observe_send(
            SendResult(intent_id="100-3-abcd0123", outcome=outcome, verdict=verdict)
        )
    included = Settled("100-3-abcd0123", "included", 101, 5 * 10**16, 0)
    failed = Settled("101-4-abcd0124", "failed", 102, -3 * 10**15, 3 * 10**15)
    expired = Settled("102-5-abcd0125", "expired", 104, 0, 0)
    metrics.observe_settled(included, gas_paid_wei=2 * 10**15, tip_paid_wei=10**16)
    metrics.observe_settled(failed)
    metrics.observe_settled(expired)
    assert value(metrics, "arbloop_bundles_total", outcome="sent") == 2
    assert value(metrics, "arbloop_bundles_total", outcome="refused") == 1
    assert value(metrics, "arbloop_bundles_total", outcome="dry_run") == 1
    assert value(metrics, "arbloop_bundles_total", outcome="simulation_failed") == 1
    assert value(metrics, "arbloop_bundles_total", outcome="included") == 1
    assert value(metrics, "arbloop_bundles_total", outcome="failed") == 1
    assert value(metrics, "arbloop_bundles_total", outcome="expired") == 1
    assert value(metrics, "arbloop_bundles_total", outcome="cancelled") == 0
    assert value(metrics, "arbloop_realized_pnl_wei") == pytest.approx(4.7e16)
    assert value(metrics, "arbloop_included_profit_wei_total") == pytest.approx(5e16)
    assert value(metrics, "arbloop_gas_paid_wei_total") == pytest.approx(5e15)
    assert value(metrics, "arbloop_tips_paid_wei_total") == pytest.approx(1e16)
    metrics.set_realized_pnl(-(10**15))
    assert value(metrics, "arbloop_realized_pnl_wei") == pytest.approx(-1e15)
    assert "abcd012" not in metrics.render().decode()  # no intent ids in labels
    with pytest.raises(ValueError, match="bundle outcome"):
        metrics.observe_bundle("0x" + "ab" * 32)


def test_stages_end_to_end_and_supervisor_gauges() -> None:
    metrics = Metrics()
    metrics.observe_stage("sign", 30e-6)
    with metrics.time_stage("audit"):
        pass
    with pytest.raises(RuntimeError), metrics.time_stage("submit"):
        raise RuntimeError("relay down")
    with pytest.raises(ValueError, match="unknown stage"):
        metrics.observe_stage("candidate-100-3", 1.0)
    metrics.observe_end_to_end(0.004)
    metrics.observe_handoff(recv_ns=1_000_000, now_ns=3_000_000)
    metrics.observe_handoff(recv_ns=0)  # no arrival time: not recorded
    metrics.set_breaker(True)
    metrics.set_kill_switch(False)
    metrics.set_ring_lag(17)
    metrics.observe_lap(lost_records=4096)
    metrics.set_ingest_lag(2)
    metrics.set_graph_size(pools=40, cycles=1234)
    assert value(metrics, "arbloop_stage_latency_seconds_sum", stage="sign") == 30e-6
    assert value(metrics, "arbloop_stage_latency_seconds_count", stage="audit") == 1
    assert value(metrics, "arbloop_stage_latency_seconds_count", stage="submit") == 1
    assert value(metrics, "arbloop_end_to_end_latency_seconds_count") == 2
    assert value(metrics, "arbloop_end_to_end_latency_seconds_sum") == pytest.approx(0.006)
    assert (
        value(metrics, "arbloop_end_to_end_latency_seconds_bucket", le="0.00178") == 0
        and value(metrics, "arbloop_end_to_end_latency_seconds_bucket", le="0.00316") == 1
    )
    assert value(metrics, "arbloop_breaker_tripped") == 1
    assert value(metrics, "arbloop_kill_switch") == 0
    assert value(metrics, "arbloop_ring_lag_records") == 17
    assert value(metrics, "arbloop_ring_laps_total") == 1
    assert value(metrics, "arbloop_ring_lost_records_total") == 4096
    assert value(metrics, "arbloop_ingest_lag_blocks") == 2
    assert value(metrics, "arbloop_pools_tracked") == 40
    assert value(metrics, "arbloop_cycles_held") == 1234


def test_two_metrics_objects_share_nothing() -> None:
    first, second = Metrics(), Metrics()
    assert first.registry is not second.registry
    first.observe_report(make_report(100))
    first.set_breaker(True)
    assert value(first, "arbloop_opportunities_total") == 7
    assert value(second, "arbloop_opportunities_total") == 0
    assert value(second, "arbloop_breaker_tripped") == 0
    # and neither touches prometheus_client's global default registry
    assert REGISTRY.get_sample_value("arbloop_opportunities_total") is None


def test_exporter_serves_on_loopback_and_stops() -> None:
    metrics = Metrics()
    metrics.set_graph_size(pools=40, cycles=1234)
    server, port = metrics.serve()
    try:
        assert port > 0
        assert server.server_address[0] == "127.0.0.1"
        with pytest.raises(RuntimeError, match="already running"):
            metrics.serve()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            assert reply.status == 200
            body = reply.read().decode()
    finally:
        metrics.stop()
    assert "arbloop_cycles_held 1234.0" in body
    assert body == metrics.render().decode()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    metrics.stop()  # stopping twice is harmless


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_exporter_refuses_non_loopback_addresses(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Metrics().serve(host=host)

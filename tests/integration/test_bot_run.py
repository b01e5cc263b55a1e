"""The whole bot in fork mode on the world, as `make demo` runs it, checked from the outside.

Traffic with pending swaps, the local builder, ingest and engine processes: the executor's
on-chain WETH gain must equal the landed bundles' exact predicted profit minus tips, at
least one backrun of a pending swap must land, the metrics exporters must answer on
loopback with every stage, the audit log must hold one bookkeeping row per block and the
JSON log lines must carry block and candidate ids.
"""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.app import ForkWorld, RunOptions, run_bot
from sim.traffic import TrafficConfig
from sim.world_cache import WorldCache
from sim.world_driver import WorldDriver
from tests.integration.conftest import fork_profile

pytestmark = pytest.mark.integration


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()


def _sample(text: str, name: str, **labels: str) -> float:
    """Return a sample's value from a Prometheus exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)"
    match = re.search(r"^" + pattern + r"$", text, re.MULTILINE)
    return 0.0 if match is None else float(match.group(1))


def test_fork_mode_run_lands_exact_profit_with_a_backrun(
    tmp_path: Path, world_cache: WorldCache, world_session: Any
) -> None:
    profile = fork_profile(tmp_path, world_cache)
    scraped: dict[str, str] = {}

    def driver(world: ForkWorld) -> Any:
        assert world.manifest is not None and world.builder is not None
        traffic = TrafficConfig(seed=3, txs_per_block=8, new_pool_probability=0.0)
        return WorldDriver(
            world.rpc,
            world.manifest,
            world.builder,
            block_time_s=0.6,
            search_window_s=0.4,
            traffic=traffic,
        ).tick

    ports: list[int] = []

    def on_status(status: dict[str, Any]) -> None:
        if status.get("metrics_port"):
            ports[:] = [status["metrics_port"]]
        if status.get("sent", 0) >= 3 and "engine" not in scraped and ports:
            scraped["engine"] = _scrape(ports[0])

    final = run_bot(
        RunOptions(
            profile=profile,
            duration_s=25.0,
            driver=driver,
            on_status=on_status,
            metrics_port=0,
        ),
        cache=world_cache,
    )
    # the money: on chain, exactly what was predicted, with a backrun among it
    assert final["landed"] >= 3, final
    assert final["failed"] == 0, final
    assert final["backruns_landed"] >= 1, final
    assert final["onchain_profit_wei"] > 0
    assert final["onchain_profit_wei"] == final["landed_profit_minus_tips"], final

    # metrics: the engine's exporter answered mid-run on loopback with the stages
    engine_port, _ = final["metrics_ports"]
    assert ports == [engine_port]
    text = scraped["engine"]
    for stage in ("ring", "state", "search", "reprice", "risk", "sign", "audit", "simulate"):
        count = _sample(text, "arbloop_stage_latency_seconds_count", stage=stage)
        assert count > 0, stage
    assert _sample(text, "arbloop_bundles_total", outcome="sent") >= 3
    assert _sample(text, "arbloop_events_total", kind="V2_SYNC") > 0
    assert _sample(text, "arbloop_pools_tracked") > 0
    assert _sample(text, "arbloop_end_to_end_latency_seconds_count") >= 3

    # bookkeeping: one row per block, candidates round-trip, sends add up
    audit = sqlite3.connect(final["audit_path"])
    rows = audit.execute(
        "SELECT block_number, candidates_json, sent, not_sent_json, settled_json "
        "FROM block_reports ORDER BY id"
    ).fetchall()
    assert len(rows) == final["blocks"]
    assert sum(r[2] for r in rows) == final["sent"]
    assert sum(json.loads(r[4]).get("included", 0) for r in rows) == final["landed"]
    assert sum(len(json.loads(r[1])) for r in rows) == final["candidates"]
    audit.close()

    # logs: JSON lines; the ones about a bundle carry its block and candidate
    lines = [json.loads(line) for line in Path(final["log_path"]).read_text().splitlines()]
    sends = [line for line in lines if "eth_sendBundle" in line["msg"]]
    assert sends and all("block" in line and "candidate" in line for line in sends)
    booked = [
        line
        for line in lines
        if line["logger"] == "bot.app_engine" and line["msg"].startswith("bundle ")
    ]
    assert booked and all("block" in line and "intent" in line for line in booked)
    refused = [line for line in lines if line["msg"].startswith("bundle not sent")]
    assert all("block" in line and "candidate" in line for line in refused)

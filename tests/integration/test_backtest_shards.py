"""A world archive with checkpoints, backtested whole and in shards from its checkpoints: equal.

The world's traffic (a pool created inside the range too) is archived in chunks of 8 blocks
with a checkpoint snapshot every 10; the shards start after checkpoints that fall inside a
chunk, so the view each shard runs on cuts files. Per block, the shards' candidates equal
the whole run's, to the wei, and so do what the engine sent and what it saw of the real
arbitrages. The first shard's verdicts and fills equal the whole run's; later shards start
without the risk gate's state and the memory of our own fills, so a verdict there may differ,
but a candidate both runs filled fills the same.
"""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bot.backtest import BacktestSpec, run_backtest
from bot.backtest_model import BacktestResult, Opportunity
from bot.backtest_sweep import merge_shards, run_shard, run_sharded, shards
from bot.cli_backtest import add_backtest_parser
from chains.artifacts import repo_root
from chains.config import load_chain_config, resolve_with_manifest
from chains.registry import registry_from_manifest
from graph.actions import Candidate
from sim.archive_snapshot import list_snapshots
from sim.archive_write import record_archive
from sim.traffic import Traffic, TrafficConfig
from tests.integration.conftest import WorldNode, fork_profile

pytestmark = pytest.mark.integration

LOCAL_CHAIN = repo_root() / "configs" / "chains" / "local.toml"
GAS_MODEL = repo_root() / "configs" / "gas" / "local.toml"
BLOCKS = 30
_TIMINGS = ("elapsed_s", "events_per_s", "engine_latency_ns")


def _key(c: Candidate) -> tuple[Any, ...]:
    hops = tuple((h.pool, h.zero_for_one, h.amount_in, h.amount_out) for h in c.hops)
    return (c.target_block, c.base_token, hops, c.gas_units, c.gas_price_wei, c.net_profit_wei)


def _by_block(result: BacktestResult) -> dict[int, list[tuple[Any, ...]]]:
    return {
        block: sorted(_key(c) for c in found)
        for block, found in result.candidates_by_block.items()
        if found
    }


# figures the engine alone decides (what it priced and sent, and what it saw of the real
# arbitrages); the gate's verdicts, the fills and the PnL also depend on the risk state and
# the memory of our own fills, which start fresh in each shard
_ENGINE_TOTALS = (
    "first_block",
    "last_block",
    "blocks",
    "events",
    "opportunities",
    "sent",
    "real_arbitrages",
    "real_arbitrages_seen",
    "hit_rate",
    "taken_by_others",
)


def _fill_row(o: Opportunity) -> tuple[Any, ...]:
    # a fill names its candidate by block and cycle id; cycle ids follow the order pools
    # joined the cycle set, which differs between a run from a checkpoint and one through it
    fill = None if o.fill is None else replace(o.fill, candidate_id="")
    return (_key(o.candidate), o.sent, o.verdict, fill, o.taken_by)


def _rows(opportunities: list[Opportunity]) -> list[tuple[Any, ...]]:
    # a block's candidates come in cycle-id order among equals: compare them sorted
    return sorted((_fill_row(o) for o in opportunities), key=lambda row: (row[0][0], repr(row)))


@pytest.fixture(scope="module")
def world_archive(world_session: WorldNode, tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = world_session
    snapshot_id = world.node.snapshot()
    try:
        world.node.set_automine(False)
        start = int(world.rpc.call("eth_blockNumber"), 16) + 1
        traffic = Traffic(
            world.rpc, world.manifest, TrafficConfig(seed=3, new_pool_probability=0.1)
        )
        traffic.run(BLOCKS)
        chain = resolve_with_manifest(load_chain_config(LOCAL_CHAIN), world.manifest.to_json())
        out = tmp_path_factory.mktemp("shard-archive")
        record_archive(
            world.node.http_url,
            start,
            start + BLOCKS - 1,
            out,
            registry_from_manifest(chain, world.manifest),
            chunk_blocks=8,
            checkpoint_every=10,
        )
    finally:
        world.node.call("anvil_dropAllTransactions")
        world.node.set_automine(True)
        assert world.node.revert(snapshot_id)
    return out


def _spec(archive: Path, tmp_path: Path, world: WorldNode) -> BacktestSpec:
    return BacktestSpec(
        archive=archive, profile=fork_profile(tmp_path, world.cache), gas_model_path=GAS_MODEL
    )


def test_shards_split_at_checkpoints(world_archive: Path, tmp_path: Path, world: WorldNode) -> None:
    checkpoints = sorted(list_snapshots(world_archive))
    start = checkpoints[0] + 1
    parts = shards(world_archive, 3)
    assert [(s.first_block, s.last_block) for s in parts] == [
        (start, start + 9),
        (start + 10, start + 19),
        (start + 20, start + BLOCKS - 1),
    ]
    assert parts[0].checkpoint is None
    assert [s.checkpoint for s in parts[1:]] == [
        list_snapshots(world_archive)[start + 9],
        list_snapshots(world_archive)[start + 19],
    ]
    assert len(shards(world_archive, 1)) == 1
    assert len(shards(world_archive, 10)) == 3  # no more shards than checkpoints allow


def test_sharded_run_equals_unsharded(
    world_archive: Path, tmp_path: Path, world: WorldNode
) -> None:
    spec = _spec(world_archive, tmp_path, world)
    whole = run_backtest(spec)
    assert whole.opportunities, "the traffic made no opportunity: the test would compare nothing"
    parts = shards(world_archive, 3)
    # serial shards in this process, then the same tasks in worker processes
    serial = merge_shards(spec, [run_shard(spec, s) for s in parts])
    parallel = run_sharded(spec, 3, workers=2)
    for sharded in (serial, parallel):
        assert _by_block(sharded) == _by_block(whole)
        assert sharded.blocks == whole.blocks == BLOCKS
        got, want = sharded.summary(), whole.summary()
        assert {k: got[k] for k in _ENGINE_TOTALS} == {k: want[k] for k in _ENGINE_TOTALS}
        assert [(r["block"], r["seen"]) for r in got["real_arbitrage_details"]] == [
            (r["block"], r["seen"]) for r in want["real_arbitrage_details"]
        ]
        # the first shard is the unsharded run's prefix: every verdict and fill equal
        first = [o for o in whole.opportunities if o.candidate.block_number <= parts[0].last_block]
        assert _rows(sharded.opportunities[: len(first)]) == _rows(first)
        # a candidate both runs filled fills the same, to the wei, in any shard
        fills = {row[0]: row[3] for row in _rows(whole.opportunities) if row[3] is not None}
        for row in _rows(sharded.opportunities):
            if row[3] is not None and row[0] in fills:
                assert row[3] == fills[row[0]]


def test_cli_shards_write_the_merged_report(
    world_archive: Path, tmp_path: Path, world: WorldNode
) -> None:
    profile = fork_profile(tmp_path, world.cache)
    parser = argparse.ArgumentParser()
    add_backtest_parser(parser.add_subparsers())
    out = tmp_path / "report"
    args = parser.parse_args(
        [
            "backtest", "--archive", str(world_archive), "--profile", str(profile.path),
            "--gas-model", str(GAS_MODEL), "--out", str(out), "--shards", "2", "--workers", "1",
        ]
    )  # fmt: skip
    console = Console(file=io.StringIO(), width=200)
    assert args.func(args, console) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["blocks"] == BLOCKS
    assert any(n.startswith("2 shards from checkpoint snapshots") for n in summary["notes"])
    assert "2 shards from checkpoint snapshots" in console.file.getvalue()

"""Archive the world's traffic, interrupt and resume, then replay it into the pool table: exact."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from bot.cli_archive import add_archive_parser
from chains.artifacts import repo_root
from chains.config import load_chain_config, resolve_with_manifest
from chains.registry import Registry, registry_from_manifest
from chains.snapshot import diff_against_chain
from graph.state import PoolTable
from sim.archive import iter_blocks, open_archive
from sim.archive_snapshot import list_snapshots, read_snapshot, read_snapshot_pools
from sim.archive_write import ArchiveProgress, record_archive
from sim.traffic import Traffic, TrafficConfig
from tests.integration.conftest import WorldNode

pytestmark = pytest.mark.integration

LOCAL_CHAIN = repo_root() / "configs" / "chains" / "local.toml"
BLOCKS = 30


class Interrupted(Exception):
    """Raised from the progress callback to stop a recording mid-way."""


def _registry(world: WorldNode) -> Registry:
    chain = resolve_with_manifest(load_chain_config(LOCAL_CHAIN), world.manifest.to_json())
    return registry_from_manifest(chain, world.manifest)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_archive_records_resumes_and_replays_exactly(world: WorldNode, tmp_path: Path) -> None:
    world.node.set_automine(False)
    start = int(world.rpc.call("eth_blockNumber"), 16) + 1
    # seed 3 creates a pair inside the range: the recorder must follow the new pool
    traffic = Traffic(world.rpc, world.manifest, TrafficConfig(seed=3, new_pool_probability=0.1))
    stats = traffic.run(BLOCKS)
    end = start + BLOCKS - 1
    assert int(world.rpc.call("eth_blockNumber"), 16) == end
    assert stats.new_pools, "the traffic created no pool: the test would not cover creation"

    url = world.node.http_url
    whole = tmp_path / "whole"
    result = record_archive(
        url, start, end, whole, _registry(world), chunk_blocks=8, checkpoint_every=10
    )
    assert (result.chunks_written, result.chunks_skipped) == (4, 0)
    assert sorted(list_snapshots(whole)) == [start - 1, start + 9, start + 19, start + 29]

    resumed = tmp_path / "resumed"
    seen: list[ArchiveProgress] = []

    def stop_after_two(p: ArchiveProgress) -> None:
        seen.append(p)
        if len(seen) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        record_archive(
            url,
            start,
            end,
            resumed,
            _registry(world),
            chunk_blocks=8,
            checkpoint_every=10,
            progress=stop_after_two,
        )
    # a crash while writing the third chunk leaves a temp file behind
    partial = (
        resumed / f".{result.network}__logs__{start + 16:08}_to_{start + 23:08}.parquet.partial"
    )
    partial.write_bytes(b"PAR1 half a file")
    again = record_archive(
        url, start, end, resumed, _registry(world), chunk_blocks=8, checkpoint_every=10
    )
    assert (again.chunks_written, again.chunks_skipped) == (2, 2)
    assert again.logs == result.logs
    assert _files(resumed) == _files(whole)

    by_cli = tmp_path / "cli"
    parser = argparse.ArgumentParser()
    add_archive_parser(parser.add_subparsers())
    argv = ["archive", "--rpc", url, "--from", str(start), "--to", str(end), "--out", str(by_cli)]
    argv += ["--profile", str(repo_root() / "configs" / "local.toml")]
    argv += ["--manifest", str(world.cache.manifest_path), "--checkpoint-every", "10"]
    args = parser.parse_args([*argv, "--chunk-blocks", "8"])
    output = io.StringIO()
    assert args.func(args, Console(file=output, width=200)) == 0, output.getvalue()
    assert "4 chunks written, 0 kept" in output.getvalue()
    assert _files(by_cli) == _files(whole)

    archive = open_archive(whole, chain_id=world.manifest.chain_id)
    assert (archive.first_block, archive.last_block) == (start, end)
    assert (
        archive.verify()
        == result.logs
        == sum(pq.read_metadata(f.path).num_rows for f in archive.log_files)
    )

    snapshot_path = list_snapshots(whole)[start - 1]
    snapshot = read_snapshot(snapshot_path)
    table = PoolTable()
    table.load_snapshot(snapshot)
    registry = _registry(world)
    assert tuple(registry.pools) == read_snapshot_pools(snapshot_path)
    n_records = 0
    for block in iter_blocks(archive, registry):
        table.apply(block.with_head())
        n_records += len(block.records)
    assert table.head == (end, archive.header(end).block_hash)
    assert len(registry) == len(world.manifest.pools) + len(stats.new_pools)
    assert n_records > 5 * BLOCKS
    assert diff_against_chain(table, world.rpc) == []

    # a checkpoint is the replay's state at its block
    middle_path = list_snapshots(whole)[start + 19]
    replay = PoolTable()
    replay.load_snapshot(read_snapshot(middle_path))
    restored = Registry(registry.chain)
    restored.restore(read_snapshot_pools(middle_path))
    for block in iter_blocks(archive, restored, first_block=start + 20):
        replay.apply(block.with_head())
    assert diff_against_chain(replay, world.rpc) == []

"""The backtest benchmark on a tiny world archive: the build, the replays, the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import bench_backtest
from bench.backtest_feed import chunk_batches
from bench.harness import Report, run_benchmark
from chains.artifacts import repo_root
from sim.archive import iter_blocks, open_archive
from sim.world_archive import WorldArchiveConfig, find_world_archive, world_archive

pytestmark = pytest.mark.integration

WORLD_DIR = repo_root() / ".world" / "default"
TINY = WorldArchiveConfig(blocks=60, round_blocks=20, segment_blocks=40, chunk_blocks=20)


class Interrupted(Exception):
    """Raised from the progress callback to stop a build after its first segment."""


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the tiny archive (a first build interrupted, the second complete)."""
    root = tmp_path_factory.mktemp("archives")

    def stop(message: str) -> None:
        raise Interrupted(message)

    with pytest.raises(Interrupted):
        world_archive(TINY, root=root, world_dir=WORLD_DIR, progress=stop)
    assert find_world_archive(TINY, root=root) is None
    seen: list[str] = []
    archive = world_archive(TINY, root=root, world_dir=WORLD_DIR, progress=seen.append)
    assert "building it again" in seen[0]
    assert archive.blocks == 60
    assert find_world_archive(TINY, root=root) == archive
    return root


def test_archive_is_whole_and_replays(tiny_root: Path) -> None:
    archive = find_world_archive(TINY, root=tiny_root)
    assert archive is not None
    assert not list(archive.path.glob(".*"))  # no temp file left
    opened = open_archive(archive.path)
    assert (opened.first_block, opened.last_block) == (archive.first_block, archive.last_block)
    assert opened.verify() == archive.logs
    assert len(opened.log_files) == 3  # 20-block chunks
    replay = bench_backtest.Replay.open(archive)
    counts, _ = bench_backtest.replay_state(replay)
    assert (counts.blocks, counts.events) == (60, archive.logs)
    # every block holds a swap: one V3 Swap, or a V2 Sync + Swap per hop
    assert all(len(b.records) >= 1 for b in iter_blocks(opened, replay.index))
    batched, table = bench_backtest.replay_state_batched(replay)
    assert batched == counts
    assert sum(n for _, n, _ in chunk_batches(opened, replay.index)) == 60
    assert table.head[0] == archive.last_block
    searched = bench_backtest.replay_search(replay)
    assert searched.events == counts.events and searched.cycles_evaluated > 0


def test_bench_reports_every_row(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_backtest, "ARCHIVE_ROOT", tiny_root)
    monkeypatch.setattr(bench_backtest, "archive_config", lambda blocks: TINY)

    def body(report: Report) -> None:
        report.pick = lambda full, quick: min(quick, 2)  # type: ignore[method-assign]
        bench_backtest.run(report)

    result = run_benchmark("bench_backtest", body, quick=True)
    by_name = {e["name"]: e for e in result["entries"]}
    assert by_name["decode+state: whole archive"]["throughput"]["unit"] == "events/s"
    assert by_name["decode+state+search: whole archive"]["throughput"]["unit"] == "blocks/s"
    ours = by_name["ours: decode+state+search, per block (same blocks)"]
    assert ours["baseline"] == "baseline: web3 decode + state + nx search, per block"
    assert by_name["archive: build"]["note"].startswith("cached")
    for name in (
        "decode+state: whole archive, one apply per chunk file",
        "state only: PoolTable.apply per chunk file",
        "decode only: whole archive",
        "ours: decode+state, per block (same blocks)",
        "baseline: whole archive, extrapolated",
        "goal: decode+state events/s (median)",
        "goal: whole archive with search (median)",
    ):
        assert name in by_name

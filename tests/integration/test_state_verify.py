"""`arbloop state verify` on the world: the ingest path rebuilds every pool exactly."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.state_verify import verify_state
from chains.artifacts import repo_root
from chains.config import load_chain_config, resolve_with_manifest
from chains.registry import registry_from_manifest
from sim.traffic import Traffic, TrafficConfig
from tests.integration.conftest import WorldNode

pytestmark = pytest.mark.integration


def test_verify_follows_traffic_and_finds_no_difference(world: WorldNode) -> None:
    world.node.set_automine(False)
    Traffic(world.rpc, world.manifest, TrafficConfig(seed=9, new_pool_probability=0.3)).run(40)
    chain = load_chain_config(repo_root() / "configs" / "chains" / "local.toml")
    chain = resolve_with_manifest(chain, world.manifest.to_json())
    report = asyncio.run(
        verify_state(
            http_url=world.node.http_url,
            ws_url=world.node.ws_url,
            chain_id=world.manifest.chain_id,
            registry=registry_from_manifest(chain, world.manifest),
            blocks_back=30,
        )
    )
    assert report.differences == ()
    assert report.to_block - report.from_block == 30
    assert report.records > 100
    assert report.pools >= len(world.manifest.pools)


def test_cli_state_verify(world: WorldNode, tmp_path: Path) -> None:
    world.node.set_automine(False)
    Traffic(world.rpc, world.manifest, TrafficConfig(seed=4)).run(10)
    configs = tmp_path / "configs"
    shutil.copytree(repo_root() / "configs", configs)
    profile = configs / "local.toml"
    text = profile.read_text().replace(
        '"../.world/default/manifest.json"', f'"{world.cache.manifest_path}"'
    )
    profile.write_text(text)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "state",
            "verify",
            "--profile",
            str(profile),
            "--http",
            world.node.http_url,
            "--ws",
            world.node.ws_url,
            "--blocks",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 differences" in out.stdout


def test_verify_reports_a_lost_log(world: WorldNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop one Sync on the ingest path: verify must name the pool that differs."""
    import numpy as np

    from chains.feeds import Feed
    from chains.records import Kind

    world.node.set_automine(False)
    Traffic(world.rpc, world.manifest, TrafficConfig(seed=12)).run(12)
    original = Feed._block_records
    dropped: list[int] = []

    def lossy(self: Feed, raw: bytes, held: list, recv_ns: int) -> np.ndarray:
        records = original(self, raw, held, recv_ns)
        syncs = np.flatnonzero(records["kind"] == Kind.V2_SYNC)
        if not dropped and len(syncs):
            dropped.append(int(records["pool_id"][syncs[-1]]))
            records = np.delete(records, syncs[-1])
        return records

    monkeypatch.setattr(Feed, "_block_records", lossy)
    chain = load_chain_config(repo_root() / "configs" / "chains" / "local.toml")
    chain = resolve_with_manifest(chain, world.manifest.to_json())
    report = asyncio.run(
        verify_state(
            http_url=world.node.http_url,
            ws_url=world.node.ws_url,
            chain_id=world.manifest.chain_id,
            registry=registry_from_manifest(chain, world.manifest),
            blocks_back=1,
        )
    )
    assert dropped
    assert report.differences, "a lost Sync must show as a difference"
    assert any(str(dropped[0]) in line for line in report.differences), report.differences

"""Integration fixtures: one world node for the session, reverted after every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chains.artifacts import repo_root
from chains.config import Profile, load_profile
from chains.rpc import HttpRpc
from sim.anvil import AnvilProcess
from sim.world_cache import WorldCache, start_world_node
from sim.world_manifest import Manifest

WORLD_SPEC = repo_root() / "configs" / "world" / "default.toml"


@dataclass(slots=True)
class WorldNode:
    """An anvil holding the default world, and the world's manifest."""

    node: AnvilProcess
    manifest: Manifest
    cache: WorldCache
    rpc: HttpRpc


@pytest.fixture(scope="session")
def world_cache(tmp_path_factory: pytest.TempPathFactory) -> WorldCache:
    """A world cache private to this session (the first start deploys cold)."""
    return WorldCache(directory=Path(tmp_path_factory.mktemp("world")))


@pytest.fixture(scope="session")
def world_session(world_cache: WorldCache) -> Iterator[WorldNode]:
    """Yield an automining anvil with the default world deployed."""
    node, manifest, _ = start_world_node(WORLD_SPEC, world_cache)
    with node, node.rpc() as rpc:
        yield WorldNode(node=node, manifest=manifest, cache=world_cache, rpc=rpc)


@pytest.fixture
def world(world_session: WorldNode) -> Iterator[WorldNode]:
    """Yield the session world; every change a test makes is reverted afterwards."""
    node = world_session.node
    snapshot_id = node.snapshot()
    yield world_session
    node.call("anvil_dropAllTransactions")
    node.set_automine(True)
    assert node.revert(snapshot_id), f"evm_revert({snapshot_id}) was refused"


def fork_profile(directory: Path, cache: WorldCache) -> Profile:
    """Return configs/local.toml with its world in `cache` and its data under `directory`.

    The audit log, risk state and kill switch file of a run then live in the test's
    directory, never in the checkout's `.cache`.
    """
    repo = repo_root()
    cfg = directory / "cfg"
    cfg.mkdir(parents=True, exist_ok=True)
    if not (cfg / "chains").exists():
        (cfg / "chains").symlink_to(repo / "configs" / "chains")
    text = (repo / "configs" / "local.toml").read_text()
    for old, new in (
        ('spec = "world/default.toml"', f'spec = "{WORLD_SPEC}"'),
        ('manifest = "../.world/default/manifest.json"', f'manifest = "{cache.manifest_path}"'),
        ('"../.cache/KILL"', f'"{directory / "KILL"}"'),
        ('"../.cache/risk_state.json"', f'"{directory / "risk_state.json"}"'),
        ('data_dir = "../.cache"', f'data_dir = "{directory / "data"}"'),
    ):
        if old not in text:
            raise AssertionError(f"configs/local.toml no longer holds {old!r}")
        text = text.replace(old, new)
    path = cfg / "profile.toml"
    path.write_text(text)
    return load_profile(path)

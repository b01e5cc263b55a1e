"""The world's cache: its anvil state and manifest on disk, and starting a node that holds it.

`start_world_node` starts anvil with the cached world (`--load-state`), or deploys the world
on a fresh anvil and caches it. The cache key covers the spec, the contract bytecode, the
deployment code and the anvil version, so a stale cache is never loaded.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chains.artifacts import load_npm_artifact, load_project_artifact
from chains.rpc import HttpRpc
from sim import world
from sim.anvil import AnvilConfig, AnvilProcess, anvil_binary
from sim.txs import hex_int
from sim.world import GENESIS_TIMESTAMP, NPM_ARTIFACTS, PROJECT_ARTIFACTS, deploy_world
from sim.world_manifest import FORMAT, Manifest, read_manifest, write_manifest
from sim.world_spec import WorldSpec, load_world_spec

__all__ = [
    "WorldCache",
    "anvil_version",
    "cached_manifest",
    "start_world_node",
    "world_cache_key",
]


def world_cache_key(spec: WorldSpec, client_version: str) -> str:
    """Return the key under which a deployed world may be reused: spec, code and node."""
    h = hashlib.sha256()
    h.update(f"format={FORMAT};client={client_version};spec=".encode())
    h.update(spec.path.read_bytes())
    for name in NPM_ARTIFACTS:
        h.update(load_npm_artifact(name).bytecode)
    for name in PROJECT_ARTIFACTS:
        h.update(load_project_artifact(name).bytecode)
    h.update(Path(world.__file__).read_bytes())
    return h.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldCache:
    """Where a deployed world is kept: the manifest and anvil's state (plain JSON)."""

    directory: Path

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"


@functools.lru_cache(maxsize=4)
def anvil_version(binary: Path) -> str:
    """Return the first line of `anvil --version` (part of the world cache key)."""
    out = subprocess.run(
        [os.fspath(binary), "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    return out.stdout.splitlines()[0].strip()


def cached_manifest(spec_path: Path, cache: WorldCache) -> Manifest | None:
    """Return the cached manifest if the cache is complete and matches spec, code and anvil."""
    if not (cache.manifest_path.exists() and cache.state_path.exists()):
        return None
    spec = load_world_spec(spec_path)
    key = world_cache_key(spec, anvil_version(anvil_binary()))
    manifest = read_manifest(cache.manifest_path)
    return manifest if manifest.cache_key == key else None


def start_world_node(
    spec_path: Path,
    cache: WorldCache,
    *,
    config: AnvilConfig | None = None,
    rebuild: bool = False,
) -> tuple[AnvilProcess, Manifest, bool]:
    """Start anvil holding the world: from the cached state, or deployed afresh and cached.

    Returns (node, manifest, loaded_from_cache). The cache is used only when its key matches
    the spec, the contract code and the anvil version; the manifest is written last, so a
    torn write is never mistaken for a complete cache. Anvil's own `--load-state` reads the
    state (the RPC `anvil_loadState` refuses bodies this large).
    """
    config = config if config is not None else AnvilConfig()
    spec = load_world_spec(spec_path)
    if config.chain_id != spec.chain_id:
        raise ValueError(
            f"anvil chain id {config.chain_id} differs from the spec's {spec.chain_id}"
        )
    manifest = None if rebuild else cached_manifest(spec_path, cache)
    if manifest is not None:
        node = AnvilProcess.start(dataclasses.replace(config, load_state=cache.state_path))
        try:
            with node.rpc() as rpc:
                _check_loaded(rpc, manifest)
        except BaseException:
            node.stop()
            raise
        return node, manifest, True
    key = world_cache_key(spec, anvil_version(anvil_binary()))
    node = AnvilProcess.start(
        dataclasses.replace(config, load_state=None, timestamp=GENESIS_TIMESTAMP)
    )
    try:
        with node.rpc() as rpc:
            manifest = deploy_world(rpc, spec, cache_key=key)
            state = gzip.decompress(bytes.fromhex(rpc.call("anvil_dumpState")[2:]))
    except BaseException:
        node.stop()
        raise
    cache.directory.mkdir(parents=True, exist_ok=True)
    cache.manifest_path.unlink(missing_ok=True)
    tmp = cache.state_path.with_suffix(".tmp")
    tmp.write_bytes(state)
    os.replace(tmp, cache.state_path)
    write_manifest(cache.manifest_path, manifest)
    return node, manifest, False


def _check_loaded(rpc: HttpRpc, manifest: Manifest) -> None:
    for name in ("weth", "universal_router", "multicall3"):
        code = rpc.call("eth_getCode", manifest.contracts[name], "latest")
        if len(code) <= 2:
            raise RuntimeError(f"world state loaded but {name} has no code")
    block = hex_int(rpc.call("eth_blockNumber"))
    if block < manifest.deployment_block:
        raise RuntimeError(
            f"world state loaded at block {block}, before its deployment block "
            f"{manifest.deployment_block}"
        )

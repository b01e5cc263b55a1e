"""Bring the local world up on anvil and, for the demo, run traffic through it.

Composition only: the anvil process, the cached world and the traffic come from `sim`; this
module wires them together from command-line choices and reports what happened.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chains.artifacts import repo_root
from sim.anvil import AnvilConfig, AnvilProcess
from sim.traffic import Traffic, TrafficConfig, TrafficStats
from sim.world_cache import WorldCache, start_world_node
from sim.world_manifest import Manifest

__all__ = ["DemoResult", "WorldUp", "default_cache", "default_spec", "run_demo", "start_world"]


def default_spec() -> Path:
    """Return the embedded default world spec."""
    return repo_root() / "configs" / "world" / "default.toml"


def default_cache(spec: Path) -> WorldCache:
    """Return the cache directory of a spec: `.world/<spec name>/` in the repo."""
    return WorldCache(directory=repo_root() / ".world" / spec.stem)


@dataclass(slots=True)
class WorldUp:
    """A running anvil holding the world."""

    node: AnvilProcess
    manifest: Manifest
    loaded_from_cache: bool
    setup_s: float


def start_world(
    spec: Path,
    cache: WorldCache,
    *,
    no_mining: bool = False,
    block_time_s: float | None = None,
    rebuild: bool = False,
) -> WorldUp:
    """Start anvil and load (or deploy and cache) the world into it."""
    started = time.perf_counter()
    node, manifest, loaded = start_world_node(
        spec, cache, config=AnvilConfig(chain_id=31337), rebuild=rebuild
    )
    try:
        if no_mining:
            node.set_automine(False)
        elif block_time_s is not None:
            node.set_automine(False)
            node.call("evm_setIntervalMining", block_time_s)
    except BaseException:
        node.stop()
        raise
    return WorldUp(
        node=node,
        manifest=manifest,
        loaded_from_cache=loaded,
        setup_s=time.perf_counter() - started,
    )


@dataclass(slots=True)
class DemoResult:
    """What the demo did: the world, the traffic counts and the timings."""

    manifest: Manifest
    loaded_from_cache: bool
    setup_s: float
    traffic_s: float
    first_block: int
    last_block: int
    stats: TrafficStats

    def pools_by_venue_and_fee(self) -> Counter[tuple[str, int]]:
        """Count the world's pools (and those traffic created) per (venue, fee in pips)."""
        pools = [*self.manifest.pools, *self.stats.new_pools]
        return Counter((p.venue, p.fee_pips) for p in pools)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able summary."""
        return {
            "contracts": self.manifest.contracts,
            "tokens": {t.symbol: t.address for t in self.manifest.tokens},
            "pools_by_venue_fee": {
                f"{v}/{f}": n for (v, f), n in sorted(self.pools_by_venue_and_fee().items())
            },
            "blocks_mined": self.last_block - self.first_block,
            "by_router": {k: dict(v) for k, v in self.stats.by_router().items()},
            "events": dict(self.stats.events),
            "new_pools": [p.address for p in self.stats.new_pools],
            "loaded_from_cache": self.loaded_from_cache,
            "setup_s": self.setup_s,
            "traffic_s": self.traffic_s,
        }


def run_demo(
    spec: Path,
    cache: WorldCache,
    *,
    blocks: int,
    traffic: TrafficConfig,
    on_block: Any = None,
) -> DemoResult:
    """Bring the world up with manual mining, run traffic for `blocks` blocks, stop anvil."""
    world = start_world(spec, cache, no_mining=True)
    rpc = world.node.rpc()
    try:
        first = int(rpc.call("eth_blockNumber"), 16)
        users = Traffic(rpc, world.manifest, traffic)
        started = time.perf_counter()
        for _ in range(blocks):
            users.step(mine=True)
            if on_block is not None:
                on_block(users.stats)
        traffic_s = time.perf_counter() - started
        last = int(rpc.call("eth_blockNumber"), 16)
    finally:
        rpc.close()
        world.node.stop()
    return DemoResult(
        manifest=world.manifest,
        loaded_from_cache=world.loaded_from_cache,
        setup_s=world.setup_s,
        traffic_s=traffic_s,
        first_block=first,
        last_block=last,
        stats=users.stats,
    )

"""Benchmark: bringing the world up, deployed cold versus loaded from its state dump.

Cold: a fresh anvil, every contract, pool, position and user approval deployed through real
transactions. From the dump: a fresh anvil started with `--load-state` of the cached world.
Both include starting anvil and end when the world answers; the baseline is the cold deploy.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench import harness
from bench.harness import Report, Sample, measure
from chains.artifacts import repo_root
from sim.world_cache import WorldCache, start_world_node

SPEC = repo_root() / "configs" / "world" / "default.toml"


def run(report: Report) -> None:
    repeats = report.pick(7, 2)
    workdir = Path(tempfile.mkdtemp(prefix="arbloop-bench-world-"))
    cache = WorldCache(directory=workdir / "cache")
    try:

        def cold() -> None:
            node, _, loaded = start_world_node(SPEC, cache, rebuild=True)
            node.stop()
            assert not loaded

        def from_dump() -> None:
            node, _, loaded = start_world_node(SPEC, cache)
            node.stop()
            assert loaded

        cold_sample: Sample = measure(cold, repeats=repeats, warmup=1)
        report.add("world deploy, cold", cold_sample, note="anvil start + every deployment tx")
        report.add(
            "world load from state dump",
            measure(from_dump, repeats=repeats, warmup=1),
            baseline="world deploy, cold",
            note="anvil start with --load-state",
        )
        node, manifest, _ = start_world_node(SPEC, cache)
        node.stop()
        report.add_value("deployment gas", manifest.deploy_gas_used, "gas")
        report.add_value("pools", len(manifest.pools), "pools")
        report.add_value("state dump size", cache.state_path.stat().st_size / 1e6, "MB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    harness.main(run)

"""Ray: a local instance on 127.0.0.1 runs a 2-task sweep; it equals the process pool's.

Slow: starting Ray takes seconds. The instance's servers must listen on the loopback address
only, and after `ray.shutdown()` none of the processes it started (GCS, raylet, workers,
agents) may be left.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.backtest import BacktestSpec
from bot.backtest_sweep import start_local_ray, sweep
from chains.artifacts import repo_root
from chains.config_profile import load_profile

pytestmark = pytest.mark.slow

MAINNET = repo_root().parent / "shared" / "data" / "mainnet"
PROFILE = repo_root() / "configs" / "mainnet-backtest.toml"
GAS_MODEL = repo_root() / "configs" / "gas" / "local.toml"
_TIMINGS = ("elapsed_s", "events_per_s", "engine_latency_ns")
_LISTEN = "0A"  # /proc/net/tcp state of a listening socket
_LOOPBACK = ("0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000")


def _descendants(root: int) -> set[int]:
    """Return the pids whose parent chain reaches `root` (ray re-parents nothing of ours)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _ray_pids(before: set[int]) -> set[int]:
    """Return processes started since `before` that are Ray's (by command line)."""
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in before:
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "ray" in cmd and ("site-packages/ray" in cmd or cmd.startswith("ray::")):
            out.add(int(entry))
    return out


def _listening(pids: set[int]) -> list[str]:
    """Return the local addresses (hex, as /proc shows them) the pids listen on over TCP."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == _LISTEN and fields[9] in inodes:
                out.append(fields[1])
    return out


def test_ray_sweep_equals_process_pool() -> None:
    spec = BacktestSpec(
        archive=MAINNET, profile=load_profile(PROFILE), gas_model_path=GAS_MODEL, base_fee_wei=10**9
    )
    grid = {"min_profit_wei": [0, 10**15], "max_hops": [2]}
    pooled = sweep(spec, grid, workers=2)
    before = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    import ray

    start_local_ray(num_cpus=2)
    try:
        started = _ray_pids(before) | _descendants(os.getpid())
        addresses = _listening(started)
        assert addresses, "no listening Ray server found: the check would prove nothing"
        wild = [a for a in addresses if a.rsplit(":", 1)[0] not in _LOOPBACK]
        assert not wild, f"Ray servers listen beyond 127.0.0.1: {wild}"
        # the instance is running: the sweep sends its tasks there as remote functions
        on_ray = sweep(spec, grid, ray_address="local")
    finally:
        ray.shutdown()
    deadline = time.monotonic() + 30
    while (left := _ray_pids(before)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"Ray processes left after shutdown: {sorted(left)}"

    def strip(rows: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
        return [(p, {k: v for k, v in s.items() if k not in _TIMINGS}) for p, s in rows]

    assert strip(on_ray) == strip(pooled)
    assert [p for p, _ in on_ray] == [
        {"min_profit_wei": 0, "max_hops": 2},
        {"min_profit_wei": 10**15, "max_hops": 2},
    ]

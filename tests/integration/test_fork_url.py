"""Fork mode on any node: a run on a fork of a node finds what a run on the node's world finds.

A second anvil serving the world stands in for a public node. Run A trades on the embedded
world (loaded from the same cache), run B on `anvil --fork-url` of that node. Both only
simulate (`send=False`), so the chain moves by traffic alone, and both drive the same seeded
traffic: one warm-up block that waits for the engine's snapshot, then N blocks of traffic,
each followed by a search window and a built block. Block numbers agree (the fork starts at
the node's head, where the embedded world starts too), so blocks are compared by number.

What is compared, block by block:

- the transactions mined (same hashes: the same signed bytes, so the same nonces and state);
- the block's own candidates, in the engine's order (status `candidate_ids` without a pending
  suffix);
- the block's own candidates that reached the risk gate, exactly (amounts, hops, profit, gas
  price and units, tip, net profit), read from each run's audit log.

Blocks are one second apart in both runs (`anvil_setBlockTimestampInterval`): with the wall
clock, whether two blocks share a second is chance, and Uniswap writes its price accumulators
(V2) and oracle (V3) only when the timestamp moves, so gas used, the next base fee, the
traffic's fee caps (tx hashes) and every candidate's gas price would differ by chance.

Backrun candidates of pending transactions are not compared: a status lists those that
reached the engine in the same ring batch as the head, and which backruns reach the gate
depends on when each victim arrives against the head (a victim seen after the block that
mines it is stale); both are timing, not chain state.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import ForkWorld, RunOptions, run_bot
from bot.app_fork import ForkUrlError, start_fork_url_world
from chains.artifacts import repo_root
from chains.config import Profile, load_profile
from chains.toml_reader import ConfigError
from sim.anvil import AnvilProcess, running_pids
from sim.anvil_config import AnvilConfig
from sim.traffic import TrafficConfig
from sim.world_cache import WorldCache, start_world_node
from sim.world_driver import WorldDriver
from tests.integration.conftest import WORLD_SPEC

pytestmark = pytest.mark.integration

TRAFFIC_BLOCKS = 15
BLOCK_TIME_S = 0.8
SEARCH_WINDOW_S = 0.3
WARM_UP_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def public_node(world_cache: WorldCache) -> Iterator[AnvilProcess]:
    """Yield an anvil holding the world loaded from the cache (deployed first if need be)."""
    node, _, loaded = start_world_node(WORLD_SPEC, world_cache)
    if not loaded:  # both runs load the cached state: so does the node they are compared with
        node.stop()
        node, _, loaded = start_world_node(WORLD_SPEC, world_cache)
    with node:
        yield node


@pytest.fixture
def profile(world_cache: WorldCache, tmp_path: Path) -> Profile:
    """The local profile, its world manifest the test cache's, its data under tmp_path."""
    configs = tmp_path / "configs"
    shutil.copytree(repo_root() / "configs", configs)
    path = configs / "local.toml"
    text = path.read_text().replace(
        '"../.world/default/manifest.json"', f'"{world_cache.manifest_path}"'
    )
    path.write_text(text)
    return load_profile(path)


class Recorder:
    """One run's driver and status sink: warm-up, N traffic blocks, then SIGINT (a user's ^C)."""

    def __init__(self, blocks: int) -> None:
        self.blocks = blocks
        self.statuses: list[dict[str, Any]] = []
        self.mined: dict[int, tuple[str, ...]] = {}

    def on_status(self, status: dict[str, Any]) -> None:
        self.statuses.append(status)

    def on_start(self, world: ForkWorld, _: Any) -> None:
        # one second a block, not the wall clock, from the first block the run mines: Uniswap
        # writes its price accumulators and oracle only when the timestamp moves, so
        # equal-second blocks would use less gas and change the base fee (and every gas
        # price) by chance
        world.rpc.call("anvil_setBlockTimestampInterval", 1)

    def driver(self, world: ForkWorld) -> Callable[[], None]:
        assert world.manifest is not None
        # an empty block first: traffic starts once the engine has its snapshot and reports
        warm_up = world.builder.build_block().block_number
        deadline = time.monotonic() + WARM_UP_TIMEOUT_S
        inner: WorldDriver | None = None

        def tick() -> None:
            nonlocal inner
            if inner is None:
                if not any(s["block"] >= warm_up for s in self.statuses):
                    assert time.monotonic() < deadline, "the engine never reported the warm-up"
                    return
                assert world.manifest is not None
                inner = WorldDriver(
                    world.rpc,
                    world.manifest,
                    world.builder,
                    block_time_s=BLOCK_TIME_S,
                    search_window_s=SEARCH_WINDOW_S,
                    traffic=TrafficConfig(seed=7, txs_per_block=8, new_pool_probability=0.0),
                )
                return
            if len(inner.reports) >= self.blocks:
                signal.raise_signal(signal.SIGINT)  # run_bot stops as on ^C, then settles
                return
            inner.tick()
            if len(inner.reports) > len(self.mined):
                report = inner.reports[-1]
                self.mined[report.block_number] = report.tx_hashes

        return tick

    def block_candidates(self) -> dict[int, list[str]]:
        """Return each traffic block's own candidate ids, first seen first (no pending backruns).

        A block whose records reach the engine over several ring batches gets one status per
        batch, each listing the block's candidates so far: how many depends on the batching,
        so repeated ids count once.
        """
        out: dict[int, list[str]] = {}
        for status in self.statuses:
            if status["block"] in self.mined:
                ids = out.setdefault(status["block"], [])
                ids += [c for c in status["candidate_ids"] if c.count("-") == 1 and c not in ids]
        return out


def _gate_candidates(audit_path: str, blocks: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Return, per block, the block's own candidates the risk gate saw (exact JSON), in order.

    The block hash is left out: the headers differ by their timestamps (the embedded world's
    clock resumes from this host's, the fork's from the forked block's).
    """
    with sqlite3.connect(audit_path) as conn:
        rows = conn.execute(
            "SELECT block_number, candidate_json FROM verdicts ORDER BY id"
        ).fetchall()
    out: dict[int, list[dict[str, Any]]] = {}
    for number, candidate in rows:
        fields = json.loads(candidate)
        if number in blocks and fields["pending_tx"] is None:
            del fields["block_hash"]
            out.setdefault(number, []).append(fields)
    return out


def _run(profile: Profile, cache: WorldCache, fork_url: str | None) -> tuple[Recorder, dict]:
    recorder = Recorder(TRAFFIC_BLOCKS)
    final = run_bot(
        RunOptions(
            profile=profile,
            duration_s=90.0,
            driver=recorder.driver,
            on_start=recorder.on_start,
            on_status=recorder.on_status,
            send=False,
            fork_url=fork_url,
        ),
        cache=cache,
    )
    return recorder, final


def test_fork_of_a_node_finds_the_candidates_of_its_world(
    public_node: AnvilProcess, profile: Profile, world_cache: WorldCache
) -> None:
    head = public_node.block_number()
    before = running_pids()
    a, final_a = _run(profile, world_cache, None)
    b, final_b = _run(profile, world_cache, public_node.http_url)
    assert public_node.block_number() == head, "the fork must not move the node it forks"
    assert len(a.mined) == len(b.mined) == TRAFFIC_BLOCKS
    assert a.mined == b.mined, "the same traffic must mine the same transactions"
    assert all(len(txs) >= 4 for txs in a.mined.values())
    found_a, found_b = a.block_candidates(), b.block_candidates()
    assert set(found_a) == set(found_b) == set(a.mined), "one status per traffic block"
    for number in sorted(a.mined):
        assert found_a[number] == found_b[number], f"block {number}"
    assert sum(1 for ids in found_a.values() if ids) >= TRAFFIC_BLOCKS // 2
    gate_a = _gate_candidates(final_a["audit_path"], set(a.mined))
    gate_b = _gate_candidates(final_b["audit_path"], set(b.mined))
    assert gate_a == gate_b
    assert sum(len(c) for c in gate_a.values()) >= TRAFFIC_BLOCKS // 2
    assert final_a["executor"] == final_b["executor"]
    assert running_pids() == before, "a run left an anvil behind"


def test_unreachable_fork_url_is_named(profile: Profile) -> None:
    with AnvilProcess.start() as node:
        url = node.http_url  # nothing listens there once the node is stopped
    with pytest.raises(ForkUrlError, match="cannot reach the fork url " + re.escape(url)):
        start_fork_url_world(profile, url)


def test_fork_of_another_chain_names_the_profile_key(profile: Profile) -> None:
    before = running_pids()
    with AnvilProcess.start(AnvilConfig(chain_id=4242)) as node:
        with pytest.raises(ConfigError, match=r"local\.toml: chain: .* serves chain id 4242"):
            start_fork_url_world(profile, node.http_url)
        assert running_pids() == before | {node.pid}, "no fork was started"

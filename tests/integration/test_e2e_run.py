"""300 blocks of the whole bot in fork mode, with the failures a real run meets (slow suite).

Traffic with pending swaps drives the world through the local builder while the bot trades.
Mid-run: the ingest process is killed (the supervisor restarts it and the feed backfills),
the kill switch is engaged for a few blocks, and the node reorganizes (three blocks with our
bundles replaced by a longer branch). At the end, `arbloop state verify`'s check finds no
difference between the chain and a table that followed it, none of our transactions
reverted, the on-chain profit equals the landed bundles' predictions, every block was
booked, and SIGTERM leaves no child process and no shared-memory segment behind.

A second, quicker test (in `make test`) runs `arbloop run` as a user does and stops it with
SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.app import ForkWorld, RunOptions, Supervisor, run_bot
from bot.audit import AuditLog
from bot.state_verify import verify_state
from chains.artifacts import repo_root
from sim.traffic import TrafficConfig
from sim.world_cache import WorldCache
from sim.world_driver import WorldDriver
from tests.integration.conftest import fork_profile

pytestmark = pytest.mark.integration

BLOCKS = 300
KILL_INGEST_AT = 80
KILL_SWITCH_AT = 140
KILL_SWITCH_BLOCKS = 6
REORG_AT = 200
REORG_DEPTH = 3


def _shm_segments() -> set[str]:
    return {name for name in os.listdir("/dev/shm") if name.startswith("arb_")}


def _mapped_segments(pid: int) -> set[str]:
    """Return the arb_ shared-memory segments a process has mapped."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return set()
    return {
        line.rsplit("/", 1)[1].split()[0] for line in maps.splitlines() if "/dev/shm/arb_" in line
    }


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _descendants(pid: int) -> set[int]:
    """Return every live process below `pid` (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return out


class Scenario:
    """The block driver of the run, with the failures injected at fixed blocks."""

    def __init__(self, world: ForkWorld, kill_switch: Path) -> None:
        assert world.manifest is not None and world.builder is not None
        assert world.node is not None
        self.world = world
        self.kill_switch = kill_switch
        self.blocks = 0
        self.supervisor: Supervisor | None = None
        self.kill_switch_on: float | None = None
        self.kill_switch_off: float | None = None
        self.reorg_snapshot: str | None = None
        self.reorged_blocks: list[int] = []
        self.replaced_hashes: dict[int, str] = {}
        self.first_block = int(world.rpc.call("eth_blockNumber"), 16)
        self.driver = self._driver(seed=5)

    def _driver(self, seed: int) -> WorldDriver:
        assert self.world.manifest is not None and self.world.builder is not None
        return WorldDriver(
            self.world.rpc,
            self.world.manifest,
            self.world.builder,
            block_time_s=0.5,
            search_window_s=0.3,
            traffic=TrafficConfig(seed=seed, txs_per_block=6, new_pool_probability=0.0),
        )

    def tick(self) -> None:
        before = len(self.driver.reports)
        self.driver.tick()
        if len(self.driver.reports) == before:
            return
        self.blocks += 1
        node = self.world.node
        assert node is not None
        if self.blocks == KILL_INGEST_AT:
            assert self.supervisor is not None
            self.supervisor.kill_ingest()
        elif self.blocks == KILL_SWITCH_AT:
            self.kill_switch.write_text("e2e test\n")
            self.kill_switch_on = time.time()
        elif self.blocks == KILL_SWITCH_AT + KILL_SWITCH_BLOCKS:
            self.kill_switch.unlink()
            self.kill_switch_off = time.time()
        elif self.blocks == REORG_AT:
            self.reorg_snapshot = node.snapshot()
        elif self.blocks == REORG_AT + REORG_DEPTH:
            assert self.reorg_snapshot is not None
            head = int(self.world.rpc.call("eth_blockNumber"), 16)
            self.reorged_blocks = list(range(head - REORG_DEPTH + 1, head + 1))
            self.replaced_hashes = {
                n: self.world.rpc.call("eth_getBlockByNumber", hex(n), False)["hash"]
                for n in self.reorged_blocks
            }
            assert node.revert(self.reorg_snapshot)
            node.call("anvil_dropAllTransactions")
            # a longer, different branch: other traffic from the same accounts
            self.driver = self._driver(seed=77)

    def done(self) -> bool:
        return self.blocks >= BLOCKS


@pytest.mark.slow
def test_300_blocks_with_ingest_kill_kill_switch_and_reorg(
    tmp_path: Path, world_cache: WorldCache, world_session: Any
) -> None:
    profile = fork_profile(tmp_path, world_cache)
    kill_switch = profile.risk.kill_switch_file
    holder: dict[str, Any] = {}
    statuses: list[dict[str, Any]] = []

    def driver(world: ForkWorld) -> Any:
        holder["scenario"] = Scenario(world, kill_switch)
        if "supervisor" in holder:
            holder["scenario"].supervisor = holder["supervisor"]
        return holder["scenario"].tick

    def on_start(world: ForkWorld, sup: Supervisor) -> None:
        holder["supervisor"] = sup
        holder["children"] = set(sup.pids)
        holder["segments"] = {sup.ring.name, sup.raw_ring.name}

    def until() -> bool:
        scenario = holder.get("scenario")
        if scenario is not None and scenario.supervisor is None:
            scenario.supervisor = holder["supervisor"]
        if scenario is not None and scenario.done() and "sigterm" not in holder:
            holder["sigterm"] = time.time()
            os.kill(os.getpid(), signal.SIGTERM)  # the run stops as an operator stops it
        return False

    def before_stop(world: ForkWorld) -> None:
        holder["children"] |= set(holder["supervisor"].pids)
        holder["canonical"] = {
            n: world.rpc.call("eth_getBlockByNumber", hex(n), False)["hash"]
            for n in holder["scenario"].reorged_blocks
        }
        holder["verify"] = asyncio.run(
            verify_state(
                http_url=world.http_url,
                ws_url=world.ws_url,
                chain_id=world.registry.chain.chain_id,
                registry=world.registry,
                blocks_back=64,
            )
        )

    final = run_bot(
        RunOptions(
            profile=profile,
            driver=driver,
            on_start=on_start,
            until=until,
            before_stop=before_stop,
            on_status=statuses.append,
        ),
        cache=world_cache,
    )
    scenario: Scenario = holder["scenario"]
    assert "sigterm" in holder and scenario.blocks >= BLOCKS

    # the chain and the table agree; nothing of ours reverted; profit exact on chain
    verify = holder["verify"]
    assert not verify.differences, verify.differences[:10]
    assert verify.pools > 0 and verify.records > 0
    assert final["failed"] == 0, final
    assert final["landed"] >= 50, final
    assert final["backruns_landed"] >= 1, final
    assert final["onchain_profit_wei"] == final["landed_profit_minus_tips"] > 0, final

    # ingest was killed and restarted; every block was booked, none lost
    assert final["ingest_restarts"] == 1
    with AuditLog(Path(final["audit_path"])) as audit:
        rows = audit.block_reports()
        intents = audit._intents("", ())  # every intent, oldest first
    seen = sorted({r["block_number"] for r in rows})
    assert seen == list(range(seen[0], seen[-1] + 1)), "a block was never booked"
    assert seen[-1] >= scenario.first_block + BLOCKS - REORG_DEPTH  # 3 blocks replaced

    # the reorg was followed: the replaced heights were booked twice, once per branch
    hashes: dict[int, set[str]] = {}
    for r in rows:
        hashes.setdefault(r["block_number"], set()).add(r["block_hash"])
    assert scenario.reorged_blocks
    old_branch_seen = 0
    for number in scenario.reorged_blocks:
        canonical = holder["canonical"][number]
        assert canonical in hashes[number], number  # the new branch was booked
        assert canonical != scenario.replaced_hashes[number]
        old_branch_seen += scenario.replaced_hashes[number] in hashes[number]
    # the engine had followed the old branch before the node replaced it (the last replaced
    # block may be gone before the feed saw it)
    assert old_branch_seen >= 1

    # kill switch: nothing signed from one second after it was engaged until it was cleared
    on, off = scenario.kill_switch_on, scenario.kill_switch_off
    assert on is not None and off is not None
    during = [i for i in intents if on + 1.0 <= i.created_at <= off]
    assert during == [], [i.intent_id for i in during]
    assert any(i.created_at > off for i in intents), "sending did not resume"
    assert any(r["not_sent"].get("kill_switch") for r in rows)

    # SIGTERM: every child is gone and every segment unlinked
    assert all(not _alive(pid) for pid in holder["children"])
    assert holder["segments"] and not holder["segments"] & _shm_segments()
    raw = sqlite3.connect(final["audit_path"])
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()


def test_arbloop_run_stops_cleanly_on_sigterm(
    tmp_path: Path, world_cache: WorldCache, world_session: Any
) -> None:
    profile = fork_profile(tmp_path, world_cache)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--mode",
            "fork",
            "--profile",
            str(profile.path),
            "--cache",
            str(world_cache.directory),
            "--metrics-port",
            "0",
        ],
        cwd=repo_root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if sum(text.startswith("block ") for text in lines) >= 3:
                break
        assert sum(text.startswith("block ") for text in lines) >= 3, "".join(lines)
        children = _descendants(proc.pid)
        assert len(children) >= 3  # anvil, ingest, engine (and the spawn tracker)
        ours = _mapped_segments(proc.pid)
        assert len(ours) == 2, ours  # the record ring and the byte ring
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "audit_path" in out
    # multiprocessing's resource tracker exits once it sees its parent's pipe close
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.05)
    assert all(not _alive(pid) for pid in children), [_cmdline(p) for p in children if _alive(p)]
    assert not ours & _shm_segments(), "a ring segment was left in /dev/shm"

"""Dry-run and live against a node the bot did not start (the world stands in for a public one).

Dry-run uses the profile's endpoints and relay, real keys from the environment and an
ArbExecutor it did not deploy: it finds, prices, gates, signs, records and simulates, and
sends nothing. Live without the operator's `[live]` acknowledgment, or without endpoints,
stops before any process starts, naming what to fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.app import ForkWorld, RunOptions, run_bot
from bot.audit import AuditLog
from bot.tx_sign import TxSigner
from chains.arb_executor import deploy_executor, fund_executor_weth, set_executor
from chains.artifacts import repo_root
from chains.config import load_profile
from sim.builder import LocalBuilder
from sim.traffic import TrafficConfig
from sim.txs import UnlockedSender
from sim.world_driver import WorldDriver
from tests.integration.conftest import fork_profile

pytestmark = pytest.mark.integration

EXECUTOR_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
RELAY_KEY = bytes.fromhex("8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f")


def _remote_profile(tmp_path: Path, world: Any, relay_url: str, extra: str = "") -> Path:
    """The local profile pointed at a running node, with a relay and no world of its own."""
    profile = fork_profile(tmp_path, world.cache)
    text = profile.path.read_text()
    text = text.replace(
        "[relays]\nurls = []",
        f'[relays]\nurls = ["{relay_url}"]',
    )
    text = text.replace(
        "[strategy]",
        f'[endpoints]\nhttp = ["{world.node.http_url}"]\nws = ["{world.node.ws_url}"]\n\n'
        "[strategy]",
    )
    path = profile.path.with_name("remote.toml")
    path.write_text(text + extra)
    return path


def test_dry_run_simulates_everything_and_sends_nothing(
    tmp_path: Path, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rpc = world.rpc
    owner = UnlockedSender(rpc, rpc.call("eth_accounts")[1])
    weth = world.manifest.contracts["weth"]
    executor = deploy_executor(owner, weth)
    signer = TxSigner(EXECUTOR_KEY).address
    set_executor(owner, executor, signer, True)
    rpc.call("anvil_setBalance", signer, hex(10 * 10**18))
    fund_executor_weth(owner, weth, executor, 20 * 10**18)
    before = int(
        rpc.call(
            "eth_call",
            {"to": weth, "data": "0x70a08231" + executor[2:].lower().rjust(64, "0")},
            "latest",
        ),
        16,
    )
    monkeypatch.setenv("ARBLOOP_EXECUTOR_KEY", EXECUTOR_KEY.hex())
    monkeypatch.setenv("ARBLOOP_RELAY_KEY", RELAY_KEY.hex())
    world.node.set_automine(False)  # blocks come from the builder, as on a real chain
    with LocalBuilder(world.node.http_url) as relay:
        profile = load_profile(_remote_profile(tmp_path, world, relay.url))

        def driver(_: ForkWorld) -> Any:
            return WorldDriver(
                rpc,
                world.manifest,
                relay,
                block_time_s=0.6,
                search_window_s=0.3,
                traffic=TrafficConfig(seed=11, txs_per_block=6, new_pool_probability=0.0),
            ).tick

        final = run_bot(
            RunOptions(
                profile=profile, mode="dry-run", duration_s=15.0, driver=driver, executor=executor
            )
        )
        assert relay.pending_bundles() == []
    # the keys were read once and scrubbed from the environment
    assert "ARBLOOP_EXECUTOR_KEY" not in os.environ and "ARBLOOP_RELAY_KEY" not in os.environ
    assert final["mode"] == "dry-run"
    assert final["sent"] == 0 and final["landed"] == 0
    assert final["onchain_profit_wei"] == 0
    with AuditLog(Path(final["audit_path"])) as audit:
        intents = audit._intents("", ())
        assert intents, "dry-run found nothing to simulate"
        states = {audit.last_state(i.intent_id) for i in intents}
        assert states == {"cancelled"}
        assert {i.signer for i in intents} == {signer.lower()}
        assert sum(r["sent"] for r in audit.block_reports()) == 0
    after = int(
        rpc.call(
            "eth_call",
            {"to": weth, "data": "0x70a08231" + executor[2:].lower().rjust(64, "0")},
            "latest",
        ),
        16,
    )
    assert after == before


def _arbloop(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=repo_root(),
        env={**os.environ, **env},
    )


def test_live_without_acknowledgment_or_endpoints_refuses_to_start(
    tmp_path: Path, world: Any
) -> None:
    rpc = world.rpc
    owner = UnlockedSender(rpc, rpc.call("eth_accounts")[1])
    executor = deploy_executor(owner, world.manifest.contracts["weth"])
    env = {"ARBLOOP_EXECUTOR_KEY": EXECUTOR_KEY.hex(), "ARBLOOP_RELAY_KEY": RELAY_KEY.hex()}
    remote = _remote_profile(tmp_path, world, "http://127.0.0.1:9")
    out = _arbloop(
        "run", "--mode", "live", "--profile", str(remote), "--executor", executor, env=env
    )
    assert out.returncode == 2, out.stderr
    assert "[live]" in out.stderr and "acknowledgment" in out.stderr
    assert EXECUTOR_KEY.hex() not in out.stderr + out.stdout

    local = fork_profile(tmp_path / "local", world.cache).path
    out = _arbloop("run", "--mode", "dry-run", "--profile", str(local), env=env)
    assert out.returncode == 2
    assert "profile.toml" in out.stderr and "endpoints" in out.stderr, out.stderr

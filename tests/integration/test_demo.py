"""The demo job and the command line, run the way a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.world_job import run_demo
from sim.traffic import TrafficConfig
from sim.world_cache import WorldCache
from tests.integration.conftest import WORLD_SPEC

pytestmark = pytest.mark.integration


def test_demo_runs_traffic_on_the_world_and_reports(tmp_path: Path) -> None:
    cache = WorldCache(directory=tmp_path / "world")
    result = run_demo(WORLD_SPEC, cache, blocks=12, traffic=TrafficConfig(seed=2))
    assert not result.loaded_from_cache
    assert result.last_block - result.first_block == 12
    assert result.stats.total("success") >= 80
    by_router = result.stats.by_router()
    for router in ("router02", "swap_router", "swap_router02", "universal_router"):
        assert by_router[router]["success"] > 0, router
    fees = {fee for (venue, fee) in result.pools_by_venue_and_fee() if venue == "uniswap_v3"}
    assert fees == {100, 500, 3000, 10000}
    summary = result.to_json()
    assert summary["blocks_mined"] == 12 and summary["contracts"]["universal_router"]
    again = run_demo(WORLD_SPEC, cache, blocks=2, traffic=TrafficConfig(seed=2))
    assert again.loaded_from_cache
    assert again.first_block == result.first_block


def _arbloop(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_cli_world_traffic_prints_the_summary(tmp_path: Path) -> None:
    out = _arbloop("world", "traffic", "--blocks", "4", "--cache", str(tmp_path / "w"))
    assert out.returncode == 0, out.stderr
    for needle in ("Deployed contracts", "universal_router", "Pools by venue and fee tier"):
        assert needle in out.stdout
    assert "4 blocks mined" in out.stdout.replace("\n", " ")


def test_cli_check_config_names_file_and_key(tmp_path: Path) -> None:
    chains = tmp_path / "chains"
    chains.mkdir()
    bad = chains / "bad.toml"
    bad.write_text(
        'name = "bad"\nchain_id = 1\nmulticall3 = "0xcA11bde05977b3631167028862bE2a173976CA11"\n'
        "block_time_s = 12.0\ncolour = 3\n[eip1559]\nbase_fee_max_change_denominator = 8\n"
        "elasticity_multiplier = 2\n"
        '[[venues]]\nname = "v"\nkind = "v2"\nfee_pips = 3000\n'
        'factory = "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"\n'
        'init_code_hash = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"\n'
    )
    out = _arbloop("check-config", str(bad))
    assert out.returncode == 2
    assert "bad.toml" in out.stderr and "colour" in out.stderr, out.stderr


def test_cli_help_lists_the_commands() -> None:
    out = _arbloop("--help")
    assert out.returncode == 0
    for command in ("world", "demo", "run", "risk", "executor", "check-config"):
        assert command in out.stdout


def test_cli_world_down_stops_a_world_up(tmp_path: Path) -> None:
    cache = tmp_path / "w"
    up = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "world", "up", "--cache", str(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert up.stdout is not None
        anvil_pid = None
        for line in up.stdout:
            if line.startswith("anvil pid"):
                anvil_pid = int(line.split()[2].rstrip(";"))
                break
        assert anvil_pid is not None
        down = _arbloop("world", "down", "--cache", str(cache))
        assert down.returncode == 0, down.stderr
        assert f"anvil pid {anvil_pid}" in down.stdout
        assert up.wait(timeout=30) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        if up.stdout is not None:
            up.stdout.close()
    assert not Path(f"/proc/{anvil_pid}").exists() or "anvil" not in Path(
        f"/proc/{anvil_pid}/cmdline"
    ).read_text(errors="replace")
    assert not (cache / "world-up.json").exists()
    again = _arbloop("world", "down", "--cache", str(cache))
    assert again.returncode == 0 and "no world is up" in again.stdout

"""Sweeps: the grid, `--sweep` parsing, and the same results serially and in worker processes."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from bot.backtest import BacktestSpec
from bot.backtest_sweep import (
    SweepTask,
    expand_grid,
    map_tasks,
    parse_sweep,
    run_task,
    sweep,
    with_params,
)
from bot.cli_backtest import add_backtest_parser
from chains.artifacts import repo_root
from chains.config_profile import load_profile

MAINNET = repo_root().parent / "shared" / "data" / "mainnet"
PROFILE = repo_root() / "configs" / "mainnet-backtest.toml"
GAS_MODEL = repo_root() / "configs" / "gas" / "local.toml"
_TIMINGS = ("elapsed_s", "events_per_s", "engine_latency_ns")
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"


def _spec() -> BacktestSpec:
    return BacktestSpec(
        archive=MAINNET,
        profile=load_profile(PROFILE),
        gas_model_path=GAS_MODEL,
        base_fee_wei=10**9,
    )


def test_grid_is_the_cartesian_product_in_key_order() -> None:
    grid = {"max_hops": [2, 3], "tip_share_bps": [5000, 9000, 0]}
    points = expand_grid(grid)
    assert len(points) == 6
    assert points[0] == {"tip_share_bps": 5000, "max_hops": 2}
    assert points[1] == {"tip_share_bps": 5000, "max_hops": 3}
    assert points[-1] == {"tip_share_bps": 0, "max_hops": 3}
    assert expand_grid({"min_profit_wei": [7]}) == [{"min_profit_wei": 7}]
    with pytest.raises(ValueError, match="unknown sweep keys"):
        expand_grid({"gas": [1]})
    with pytest.raises(ValueError, match="no values"):
        expand_grid({"max_hops": []})


def test_parse_sweep_options() -> None:
    grid = parse_sweep(
        [
            "min_profit_wei=0,1_000_000",
            "tip_share_bps=5000, 9000",
            f"base_tokens=WETH,WETH+{USDC}",
            "max_hops=2",
        ]
    )
    assert grid == {
        "min_profit_wei": [0, 1_000_000],
        "tip_share_bps": [5000, 9000],
        "base_tokens": [("WETH",), ("WETH", USDC)],
        "max_hops": [2],
    }
    for bad, message in (
        ("max_hops=5", "outside 2..4"),
        ("tip_share_bps=10001", "outside 0..10000"),
        ("min_profit_wei=-1", "outside"),
        ("min_profit_wei=1e15", "not an integer"),
        ("base_tokens=USDC", "neither WETH nor an address"),
        ("base_tokens=WETH+WETH", "distinct tokens"),
        ("hops=2", "expected KEY=V1,V2"),
        ("max_hops", "expected KEY=V1,V2"),
        ("max_hops=", "no values"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_sweep([bad])
    with pytest.raises(ValueError, match="given twice"):
        parse_sweep(["max_hops=2", "max_hops=3"])


def test_params_replace_the_strategy_only() -> None:
    spec = _spec()
    swept = with_params(spec, {"tip_share_bps": 9000, "base_tokens": ("WETH",)})
    assert swept.profile.strategy.tip_share_bps == 9000
    assert swept.profile.strategy.max_hops == spec.profile.strategy.max_hops
    assert swept.profile.risk == spec.profile.risk
    assert spec.profile.strategy.tip_share_bps == 5000


def _strip(rows: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
    return [(p, {k: v for k, v in s.items() if k not in _TIMINGS}) for p, s in rows]


def test_serial_equals_parallel_on_mainnet(tmp_path: Path) -> None:
    grid = {"tip_share_bps": [5000, 9000], "max_hops": [2]}
    serial = sweep(_spec(), grid, workers=1)
    parallel = sweep(_spec(), grid, workers=2)
    assert _strip(parallel) == _strip(serial)
    assert [p for p, _ in serial] == expand_grid(grid)
    (_, low_tip), (high, high_tip) = serial
    assert low_tip["opportunities"] > 0
    assert low_tip["filled"] == high_tip["filled"]
    # the same fills pay the builder a larger share: less PnL
    assert high_tip["pnl_wei"] < low_tip["pnl_wei"]
    # a task run on its own gives the same summary
    alone = run_task(SweepTask(spec=_spec(), params=tuple(high.items())))
    assert _strip([(high, alone)]) == _strip([serial[1]])
    assert "pools_usable_from" not in alone and len(alone["candidates_sha256"]) == 64


def test_ray_address_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without ray shows
    with pytest.raises(RuntimeError, match=r"install the extra, pip install -e '\.\[ray\]'"):
        map_tasks(abs, [1], ray_address="local")


def _cli(argv: list[str]) -> tuple[int, str, argparse.Namespace]:
    parser = argparse.ArgumentParser()
    add_backtest_parser(parser.add_subparsers())
    args = parser.parse_args(["backtest", *argv])
    console = Console(file=io.StringIO(), width=160)
    code = args.func(args, console)
    return code, console.file.getvalue(), args


def test_cli_sweep_prints_a_row_per_run_and_writes_sweep_json(tmp_path: Path) -> None:
    out = tmp_path / "report"
    code, text, _ = _cli(
        [
            "--archive", str(MAINNET), "--base-fee-gwei", "1", "--out", str(out),
            "--sweep", "max_hops=2", "--sweep", "base_tokens=WETH", "--workers", "1",
        ]
    )  # fmt: skip
    assert code == 0
    assert "base_tokens=WETH max_hops=2" in text and "PnL net (ETH)" in text
    written = json.loads((out / "sweep.json").read_text())
    assert written["sweep"] == ["max_hops=2", "base_tokens=WETH"]
    [run] = written["runs"]
    assert run["params"] == {"base_tokens": ["WETH"], "max_hops": 2}
    assert run["summary"]["blocks"] == 51 and run["summary"]["opportunities"] > 0


def test_cli_refuses_bad_sweep_and_shards(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["--sweep", "max_hops=9"], "outside 2..4"),
        (["--shards", "0"], "--shards 0"),
        (["--workers", "0"], "--workers 0"),
    ):
        code, _, _ = _cli(["--archive", str(MAINNET), "--base-fee-gwei", "1", *argv])
        assert code == 2
        assert message in capsys.readouterr().err

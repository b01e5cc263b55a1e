"""The whole backtest, `bot.backtest.run_backtest`, timed on the benchmark's archive.

It runs the blocks through the ring, the engine (state, search, exact re-pricing), the risk
gate and the exact fills, with the checkout's local profile and gas model, without the
inspector's scoring. None is returned when the backtest API is not importable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from chains.artifacts import repo_root

__all__ = ["BacktestTiming", "time_run_backtest"]

PROFILE = repo_root() / "configs" / "local.toml"


@dataclass(frozen=True, slots=True)
class BacktestTiming:
    """One timed `run_backtest`: wall seconds, blocks, events and opportunities priced."""

    elapsed_s: float
    blocks: int
    events: int
    opportunities: int


def time_run_backtest(archive: Path, first_block: int, last_block: int) -> BacktestTiming | None:
    """Run the backtest over first..last of the archive and time it (None: no backtest API)."""
    try:
        from bot.backtest import run_backtest
        from bot.backtest_model import BacktestSpec
        from chains.config import load_profile
    except ImportError:
        return None
    profile = load_profile(PROFILE)
    spec = BacktestSpec(
        archive=archive,
        profile=profile,
        gas_model_path=repo_root() / "configs" / "gas" / f"{profile.chain.name}.toml",
        first_block=first_block,
        last_block=last_block,
        inspect=False,
    )
    start = time.perf_counter_ns()
    result = run_backtest(spec)
    elapsed_s = (time.perf_counter_ns() - start) / 1e9
    return BacktestTiming(elapsed_s, result.blocks, result.events, len(result.opportunities))

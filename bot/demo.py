"""`arbloop demo`: the bot on the embedded world, live, ending with a verified on-chain profit.

The world is loaded on anvil (mining only through the local builder), traffic sends router
swaps that wait in the mempool for a search window before each block, and the bot runs in
fork mode for `duration_s`: ingest and engine processes, bundles through the builder. A rich
live view shows blocks, pools tracked, opportunities, bundles sent and landed, backruns, profit
and per-stage latency. The summary compares the executor's WETH balance change on chain with
the sum over landed bundles of their exact predicted profit minus the tip; the demo succeeds
only when they are equal, positive, and at least one backrun of a pending swap landed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from bot.app import ForkWorld, RunOptions, run_bot
from chains.config_profile import load_profile
from sim.traffic import TrafficConfig
from sim.world_cache import WorldCache
from sim.world_driver import WorldDriver

__all__ = ["DemoOutcome", "demo_table", "run_bot_demo"]

_WEI = 10**18


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """The demo's final figures and whether the on-chain profit checks out."""

    final: dict[str, Any]

    @property
    def onchain_profit_wei(self) -> int:
        """Return the executor's WETH balance change over the run."""
        return int(self.final.get("onchain_profit_wei", 0))

    @property
    def predicted_wei(self) -> int:
        """Return the sum over landed bundles of exact predicted profit minus tip."""
        return int(self.final.get("landed_profit_minus_tips", 0))

    @property
    def ok(self) -> bool:
        """Return whether profit is positive, equal to the prediction, with a landed backrun."""
        return (
            self.onchain_profit_wei > 0
            and self.onchain_profit_wei == self.predicted_wei
            and int(self.final.get("backruns_landed", 0)) >= 1
        )


def _eth(wei: int | float | None) -> str:
    return "-" if wei is None else f"{wei / _WEI:.6f}"


def demo_table(status: dict[str, Any]) -> Table:
    """Return the live view of one status line."""
    table = Table(title="arbloop on the local world (fork mode)", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    stages = status.get("stage_ns", {})
    rows = [
        ("block", status.get("block")),
        ("pools tracked / cycles", f"{status.get('pools')} / {status.get('cycles')}"),
        ("opportunities (last block)", status.get("opportunities")),
        ("candidates priced exactly", status.get("candidates")),
        ("bundles sent / landed", f"{status.get('sent')} / {status.get('landed')}"),
        (
            "backruns sent / landed",
            f"{status.get('backruns_sent')} / {status.get('backruns_landed')}",
        ),
        ("left out / reverted", f"{status.get('expired', 0)} / {status.get('failed', 0)}"),
        ("profit landed, after tips (ETH)", _eth(status.get("landed_profit_minus_tips"))),
        ("PnL after gas and tips (ETH)", _eth(status.get("pnl_wei"))),
        (
            "state / search / re-price (µs)",
            " / ".join(f"{stages.get(s, 0) / 1e3:.0f}" for s in ("state", "search", "reprice")),
        ),
        ("record -> bundle sent, p50 (ms)", _ms(status.get("latency_p50_us"))),
        ("sending", "yes" if not status.get("paused") else f"paused: {status['paused']}"),
        ("metrics (127.0.0.1 port)", status.get("metrics_port")),
    ]
    for name, value in rows:
        table.add_row(name, "-" if value is None else str(value))
    return table


def _ms(us: float | None) -> str:
    return "-" if us is None else f"{us / 1e3:.1f}"


def run_bot_demo(
    *,
    profile_path: Path,
    duration_s: float,
    cache: WorldCache,
    console: Console,
    seed: int = 1,
    txs_per_block: int = 8,
    search_window_s: float = 0.4,
    metrics_port: int | None = 0,
) -> DemoOutcome:
    """Run the demo; return its outcome (the caller prints the summary)."""
    profile = load_profile(profile_path)
    block_time = max(profile.chain.block_time_s, search_window_s + 0.2)

    def driver(world: ForkWorld) -> Any:
        assert world.manifest is not None and world.builder is not None
        traffic = TrafficConfig(seed=seed, txs_per_block=txs_per_block, new_pool_probability=0.0)
        return WorldDriver(
            world.rpc,
            world.manifest,
            world.builder,
            block_time_s=block_time,
            search_window_s=search_window_s,
            traffic=traffic,
        ).tick

    with Live(demo_table({}), console=console, refresh_per_second=4) as live:

        def on_status(status: dict[str, Any]) -> None:
            live.update(demo_table(status))

        final = run_bot(
            RunOptions(
                profile=profile,
                duration_s=duration_s,
                driver=driver,
                on_status=on_status,
                metrics_port=metrics_port,
            ),
            cache=cache,
        )
        live.update(demo_table(final))
    return DemoOutcome(final)

"""`arbloop backtest`: replay an archive through the live engine and write a report folder.

    arbloop backtest --archive PATH [--profile P] [--out DIR] [--base-fee-gwei G]
                     [--from A --to B] [--gas-model FILE]
                     [--sweep KEY=V1,V2,... ...] [--shards N] [--workers N] [--ray-address ADDR]

The profile defaults to configs/mainnet-backtest.toml for an ``ethereum`` archive, else to
configs/local.toml. Gas is priced at the archive's block base fees; an archive without block
headers needs --base-fee-gwei. The gas model defaults to configs/gas/<chain>.toml, else the
local world's calibrated model (the same executor contract). A corrupt or truncated archive,
a gap in its blocks or another chain's logs stop the replay with exit code 2 and a message
naming the file and block.

--sweep runs one backtest per combination of the swept values (KEY one of min_profit_wei,
tip_share_bps, base_tokens, max_hops; a base token set joins tokens with +, e.g.
base_tokens=WETH,WETH+0x...), prints one row per combination and writes sweep.json into the
report folder. --shards N splits the range at the archive's checkpoint snapshots into up to N
shards run side by side. Runs go to worker processes (--workers, default: one per CPU), or
to a Ray cluster with --ray-address ADDR ("local" starts one on this machine; needs the
`ray` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from bot.backtest import BacktestSpec, run_backtest
from bot.backtest_model import BacktestResult
from bot.backtest_report import write_report
from bot.backtest_sweep import parse_sweep, run_sharded, sweep
from chains.config import configs_dir
from chains.config_profile import Profile, load_profile
from chains.toml_reader import ConfigError
from sim.archive import ArchiveError, open_archive

__all__ = [
    "add_backtest_parser",
    "cmd_backtest",
    "default_gas_model",
    "default_profile",
    "print_summary",
    "print_sweep",
]

_GWEI = 10**9
_MAINNET_NETWORKS = ("ethereum", "mainnet")


def _progress(console: Console, what: str, unit: str) -> Progress:
    """Return the progress bar of a backtest or sweep: label, bar, done/total, elapsed."""
    return Progress(
        TextColumn(f"[bold]{what}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=console,
    )


def add_backtest_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `arbloop backtest` to the top-level subparsers."""
    p = sub.add_parser(
        "backtest",
        help="replay an archive through the engine, risk gate and exact fills; write a report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--archive", type=Path, required=True, help="cryo folder or file")
    p.add_argument("--profile", type=Path, default=None, help="run profile (TOML)")
    p.add_argument("--out", type=Path, default=None, help="report folder")
    p.add_argument(
        "--base-fee-gwei",
        type=Decimal,
        default=None,
        help="base fee for archives without block headers (gwei, decimals allowed)",
    )
    p.add_argument("--from", dest="start", type=int, default=None, help="first block")
    p.add_argument("--to", dest="end", type=int, default=None, help="last block (inclusive)")
    p.add_argument("--gas-model", type=Path, default=None, help="gas model TOML")
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="sweep a strategy setting (repeatable; the runs are the combinations)",
    )
    p.add_argument(
        "--shards", type=int, default=1, help="split the range at checkpoints (default 1)"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: CPU count)"
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help='run the tasks on a Ray cluster ("local": start one here)',
    )
    p.set_defaults(func=cmd_backtest)


def default_profile(archive: Path) -> Path:
    """Return the profile for an archive: mainnet-backtest for ethereum logs, else local."""
    network = open_archive(archive).network
    name = "mainnet-backtest.toml" if network in _MAINNET_NETWORKS else "local.toml"
    return configs_dir() / name


def default_gas_model(profile_path: Path, chain: str) -> Path:
    """Return configs/gas/<chain>.toml beside the profile, else the local world's model."""
    gas_dir = profile_path.parent / "gas"
    own = gas_dir / f"{chain}.toml"
    return own if own.is_file() else gas_dir / "local.toml"


def _base_fee_wei(gwei: Decimal | None) -> int | None:
    if gwei is None:
        return None
    wei = gwei * _GWEI
    if wei < 0 or wei != wei.to_integral_value():
        raise ValueError(f"--base-fee-gwei {gwei}: not a whole, non-negative number of wei")
    return int(wei)


def _eth(wei: int) -> str:
    return f"{Decimal(wei) / Decimal(10**18):.6f} ETH ({wei} wei)"


def print_summary(result: BacktestResult, console: Console, out_dir: Path | None) -> None:
    """Print the run's headline figures."""
    s = result.summary()
    table = Table(title=f"backtest {s['first_block']}..{s['last_block']}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    hit = "n/a" if s["hit_rate"] is None else f"{s['hit_rate']:.1%}"
    rows = [
        ("blocks", str(s["blocks"])),
        ("events", f"{s['events']} in {s['elapsed_s']} s ({s['events_per_s']:.0f} events/s)"),
        ("opportunities", f"{s['opportunities']} ({s['sent']} sent, {s['filled']} filled)"),
        ("simulated PnL", _eth(s["pnl_wei"]) + " net of gas and tips"),
        ("gas / tips", f"{_eth(s['gas_cost_wei'])} / {_eth(s['tips_wei'])}"),
        (
            "hit rate",
            f"{hit} ({s['real_arbitrages_seen']} of {s['real_arbitrages']} real arbitrages seen)",
        ),
        ("pools usable", f"{s['pools_usable']} of {s['pools_proven']} proven"),
        ("base fee", s["base_fee_source"]),
        ("gas model", s["gas_model"]),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    for note in s["notes"]:
        console.print(f"note: {note}")
    if out_dir is not None:
        console.print(f"report: {out_dir / 'index.html'}")


def _params_text(params: dict[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        shown = "+".join(value) if isinstance(value, tuple) else str(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts) or "(profile)"


def print_sweep(rows: list[tuple[dict[str, Any], dict[str, Any]]], console: Console) -> None:
    """Print one row per parameter set: opportunities, net PnL and hit rate."""
    table = Table(title="backtest sweep")
    for name in ("parameters", "opportunities", "filled", "PnL net (ETH)", "hit rate"):
        table.add_column(name, justify="left" if name == "parameters" else "right", no_wrap=True)
    for params, s in rows:
        hit = "n/a" if s["hit_rate"] is None else f"{s['hit_rate']:.1%}"
        table.add_row(
            _params_text(params),
            str(s["opportunities"]),
            str(s["filled"]),
            f"{Decimal(s['pnl_wei']) / Decimal(10**18):.6f}",
            hit,
        )
    console.print(table)


def _sweep_json(
    rows: list[tuple[dict[str, Any], dict[str, Any]]], args: argparse.Namespace
) -> dict[str, Any]:
    def plain(params: dict[str, Any]) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}

    return {
        "archive": str(args.archive),
        "sweep": list(args.sweep),
        "shards": args.shards,
        "runs": [{"params": plain(p), "summary": s} for p, s in rows],
    }


def _check_parallel(args: argparse.Namespace) -> None:
    if args.shards < 1:
        raise ValueError(f"--shards {args.shards}: need at least 1")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers {args.workers}: need at least 1")


def cmd_backtest(args: argparse.Namespace, console: Console) -> int:
    """Run `arbloop backtest`; return the exit code (0 done, 2 bad archive or arguments)."""
    try:
        _check_parallel(args)
        grid = parse_sweep(args.sweep)
        base_fee_wei = _base_fee_wei(args.base_fee_gwei)
        profile_path = args.profile or default_profile(args.archive)
        profile = load_profile(profile_path)
        gas_model = args.gas_model or default_gas_model(profile.path, profile.chain.name)
    except (ArchiveError, ConfigError, ValueError) as exc:
        print(f"arbloop: {exc}", file=sys.stderr)
        return 2
    if args.start is not None and args.end is not None and args.end < args.start:
        print(f"arbloop: need --from <= --to, got {args.start}..{args.end}", file=sys.stderr)
        return 2
    if args.sweep or args.shards > 1 or args.ray_address is not None:
        return _cmd_parallel(args, console, grid, profile, gas_model, base_fee_wei)
    with _progress(console, "backtest", "blocks") as progress:
        task = progress.add_task("backtest", total=None)

        def on_block(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        spec = BacktestSpec(
            archive=args.archive,
            profile=profile,
            gas_model_path=gas_model,
            base_fee_wei=base_fee_wei,
            first_block=args.start,
            last_block=args.end,
            on_block=on_block,
        )
        try:
            result = run_backtest(spec)
        except ArchiveError as exc:
            progress.stop()
            print(f"arbloop: backtest stopped: {exc}", file=sys.stderr)
            return 2
    out_dir = args.out or profile.paths.data_dir / (
        f"backtest-{result.first_block}-{result.last_block}"
    )
    write_report(result, out_dir)
    print_summary(result, console, out_dir)
    return 0


def _cmd_parallel(
    args: argparse.Namespace,
    console: Console,
    grid: dict[str, list[Any]],
    profile: Profile,
    gas_model: Path,
    base_fee_wei: int | None,
) -> int:
    """Run a sweep, or one backtest in shards, in worker processes or on Ray."""
    spec = BacktestSpec(
        archive=args.archive,
        profile=profile,
        gas_model_path=gas_model,
        base_fee_wei=base_fee_wei,
        first_block=args.start,
        last_block=args.end,
    )
    try:
        if args.sweep:
            with _progress(console, "sweep", "runs") as progress:
                task = progress.add_task("sweep", total=None)

                def on_done(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                rows = sweep(
                    spec,
                    grid,
                    n_shards=args.shards,
                    workers=args.workers,
                    ray_address=args.ray_address,
                    on_done=on_done,
                )
        else:
            result = run_sharded(
                spec, args.shards, workers=args.workers, ray_address=args.ray_address
            )
    except (ArchiveError, RuntimeError, ValueError) as exc:
        print(f"arbloop: backtest stopped: {exc}", file=sys.stderr)
        return 2
    if not args.sweep:
        out_dir = args.out or profile.paths.data_dir / (
            f"backtest-{result.first_block}-{result.last_block}"
        )
        write_report(result, out_dir)
        print_summary(result, console, out_dir)
        return 0
    first, last = rows[0][1]["first_block"], rows[0][1]["last_block"]
    out_dir = args.out or profile.paths.data_dir / f"backtest-sweep-{first}-{last}"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sweep.json").write_text(json.dumps(_sweep_json(rows, args), indent=1) + "\n")
    print_sweep(rows, console)
    console.print(f"sweep: {out_dir / 'sweep.json'}")
    return 0

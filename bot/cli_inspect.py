"""`arbloop inspect PATH [--json]`: the arbitrages that really happened in archived blocks.

PATH is a cryo archive folder (its `*__traces__*.parquet` and `*__logs__*.parquet` files), a
cryo traces or logs Parquet file, or a parity-format block JSON. `--json` prints one JSON
object per arbitrage per line (profits as exact JSON integers); otherwise a table per file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sim.inspect import Inspection, inspect_path

__all__ = ["add_inspect_parser", "cmd_inspect"]


def add_inspect_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `arbloop inspect PATH [--json]` to the top-level subparsers."""
    p = sub.add_parser(
        "inspect", help="find the cyclic arbitrages in archived blocks (traces, logs, block JSON)"
    )
    p.add_argument("path", type=Path, help="archive folder, cryo traces/logs Parquet, block JSON")
    p.add_argument("--json", action="store_true", help="one JSON object per arbitrage per line")
    p.set_defaults(func=cmd_inspect)


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    """Inspect args.path and print its arbitrages; 2 on unreadable input, else 0."""
    try:
        inspections = inspect_path(args.path)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    if args.json:
        for inspection in inspections:
            for arbitrage in inspection.arbitrages:
                # plain print: rich would wrap and highlight the line
                console.file.write(arbitrage.to_json() + "\n")
        console.file.flush()
        return 0
    for inspection in inspections:
        _print_inspection(console, inspection)
    return 0


def _print_inspection(console: Console, inspection: Inspection) -> None:
    counts = inspection.swaps_per_block()
    arbitrages = inspection.arbitrages_per_block()
    summary = Table(title=f"{inspection.path.name} ({inspection.kind})")
    summary.add_column("block", justify="right")
    summary.add_column("swaps", justify="right")
    summary.add_column("arbitrages", justify="right")
    summary.add_column("profits (token smallest unit)")
    for block in sorted(set(counts) | set(arbitrages)):
        found = arbitrages.get(block, [])
        profits = ", ".join(
            f"{a.profit} {a.profit_token}" + (" (reverted)" if a.reverted else "") for a in found
        )
        summary.add_row(str(block), str(counts.get(block, 0)), str(len(found)), profits)
    console.print(summary)
    if inspection.kind == "logs":
        console.print(
            f"{inspection.skipped_swaps} swaps skipped: tokens not proven by transfers "
            f"({len(inspection.unproven_pools)} pools)"
        )
    if not inspection.arbitrages:
        return
    detail = Table(title="arbitrages")
    detail.add_column("block", justify="right")
    detail.add_column("tx")
    detail.add_column("profit", justify="right")
    detail.add_column("hops (pool: in -> out)")
    for a in inspection.arbitrages:
        hops = "\n".join(
            f"{h.pool}: {h.amount_in} {h.token_in} -> {h.amount_out} {h.token_out}" for h in a.hops
        )
        detail.add_row(str(a.block_number), a.transaction_hash, str(a.profit), hops)
    console.print(detail)

"""The backtest's report folder: summary.json, opportunities.parquet, index.html and PNG plots.

`summary.json` keeps every amount an exact JSON integer. `opportunities.parquet` holds one row
per exact candidate; amounts are decimal strings (wei overflow Parquet's int64), pool lists
and token paths are list columns. The HTML page shows the summary, the plots (cumulative PnL,
profit distribution, opportunities per block, engine latency), the pools usable from which
block and, for every real arbitrage of the archive, what the bot saw. Floats appear only in
the plots.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after the backend is chosen
import pyarrow as pa
import pyarrow.parquet as pq

from bot.backtest_model import BacktestResult

__all__ = ["PLOTS", "REPORT_FILES", "opportunities_table", "write_report"]

PLOTS = (
    "cumulative_pnl.png",
    "profit_distribution.png",
    "opportunities_per_block.png",
    "latency.png",
)
REPORT_FILES = ("summary.json", "opportunities.parquet", "index.html", *PLOTS)
_WEI_PER_ETH = 10**18
_AMOUNT_COLUMNS = (
    "amount_in",
    "profit",
    "profit_wei",
    "gas_price_wei",
    "gas_cost_wei",
    "tip_wei",
    "net_profit_wei",
    "fill_base_fee_wei",
    "fill_gas_cost_wei",
    "fill_tip_wei",
    "fill_net_wei",
)
_SCHEMA = pa.schema(
    [
        ("block", pa.int64()),
        ("target_block", pa.int64()),
        ("candidate_id", pa.string()),
        ("pools", pa.list_(pa.string())),
        ("pool_ids", pa.list_(pa.int64())),
        ("zero_for_one", pa.list_(pa.bool_())),
        ("tokens", pa.list_(pa.string())),
        ("gas_units", pa.int64()),
        *((name, pa.string()) for name in _AMOUNT_COLUMNS),
        ("sent", pa.bool_()),
        ("verdict", pa.string()),
        ("fill_outcome", pa.string()),
        ("fill_reason", pa.string()),
        ("fill_matches_candidate", pa.bool_()),
        ("engine_latency_ns", pa.int64()),
        ("taken_by", pa.list_(pa.string())),
    ]
)


_BARS_MAX = 2_000


def opportunities_table(result: BacktestResult) -> pa.Table:
    """Return one row per opportunity; exact amounts as decimal strings."""
    rows = []
    for opportunity in result.opportunities:
        row = opportunity.to_json()
        for name in _AMOUNT_COLUMNS:
            if row[name] is not None:
                row[name] = str(row[name])
        rows.append({field.name: row[field.name] for field in _SCHEMA})
    return pa.Table.from_pylist(rows, schema=_SCHEMA)


def _plot(path: Path, title: str, draw: Any) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    try:
        draw(ax)
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def _plots(result: BacktestResult, out_dir: Path) -> None:
    blocks = list(range(result.first_block, result.last_block + 1))
    net_by_block: dict[int, int] = {}
    for o in result.opportunities:
        if o.fill is not None:
            block = o.candidate.target_block
            net_by_block[block] = net_by_block.get(block, 0) + o.fill.net_wei
    targets = [*blocks, result.last_block + 1]  # a fill lands in the block after its head
    cumulative = []
    running = 0
    for block in targets:
        running += net_by_block.get(block, 0)
        cumulative.append(running / _WEI_PER_ETH)

    def pnl(ax: Any) -> None:
        ax.step(targets, cumulative, where="post")
        ax.set_xlabel("block")
        ax.set_ylabel("ETH, net of gas and tips")

    profits = [o.candidate.net_profit_wei / _WEI_PER_ETH for o in result.opportunities]

    def distribution(ax: Any) -> None:
        ax.hist(profits, bins=30 if profits else 1)
        ax.set_xlabel("predicted net profit per opportunity, ETH")
        ax.set_ylabel("opportunities")

    per_block = [len(result.candidates_by_block.get(b, ())) for b in blocks]

    def opportunities(ax: Any) -> None:
        if len(blocks) <= _BARS_MAX:
            ax.bar(blocks, per_block, width=0.9)
        else:  # one polygon, not a patch per block (100,000 bars take minutes to draw)
            ax.fill_between(blocks, per_block, step="mid", linewidth=0)
        ax.set_xlabel("block")
        ax.set_ylabel("exact candidates")

    latency_ms = [result.latency_ns_by_block.get(b, 0) / 1e6 for b in blocks]

    def latency(ax: Any) -> None:
        ax.plot(blocks, latency_ms, marker="." if len(blocks) <= _BARS_MAX else None)
        ax.set_xlabel("block")
        ax.set_ylabel("engine time per block, ms")

    _plot(out_dir / PLOTS[0], "Cumulative simulated PnL", pnl)
    _plot(out_dir / PLOTS[1], "Profit distribution", distribution)
    _plot(out_dir / PLOTS[2], "Opportunities per block", opportunities)
    _plot(out_dir / PLOTS[3], "Engine latency (ring batch -> exact candidates)", latency)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(result: BacktestResult, summary: dict[str, Any]) -> str:
    scalars = [
        [k, v] for k, v in summary.items() if not isinstance(v, (list, dict)) or k == "notes"
    ]
    real = [
        [r.block, r.transaction_hash, r.profit, len(r.pools), "yes" if r.seen else "no", r.saw]
        for r in result.real_arbitrages
    ]
    pools = [
        [
            p.pool_id,
            p.address,
            p.kind,
            p.venue,
            p.first_seen_block,
            "never" if p.usable_from_block is None else p.usable_from_block,
            "in range only" if p.in_range_only else "",
        ]
        for p in result.pools
    ]
    opportunities = [
        [
            o.candidate.block_number,
            o.candidate.candidate_id,
            " > ".join(h.pool for h in o.candidate.hops),
            o.candidate.amount_in,
            o.candidate.net_profit_wei,
            o.verdict or ("not sent" if not o.sent else ""),
            "" if o.fill is None else f"{o.fill.outcome} net {o.fill.net_wei}",
            ", ".join(o.taken_by),
        ]
        for o in result.opportunities
    ]
    images = "".join(f'<p><img src="{name}" alt="{name}"></p>' for name in PLOTS)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>arbloop backtest</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}</style>"
        "</head><body>"
        f"<h1>Backtest {html.escape(result.archive)}</h1>"
        f"<h2>Summary</h2>{_table(['', ''], scalars)}"
        f"<h2>Plots</h2>{images}"
        f"<h2>Real arbitrages and what the bot saw</h2>"
        f"{_table(['block', 'transaction', 'profit', 'hops', 'seen', 'what the bot saw'], real)}"
        f"<h2>Opportunities</h2>"
        + _table(
            ["block", "candidate", "pools", "amount in", "net wei", "gate", "fill", "taken by"],
            opportunities,
        )
        + "<h2>Pools usable from block</h2>"
        + _table(["id", "address", "kind", "venue", "first seen", "usable from", "range"], pools)
        + "</body></html>"
    )


def write_report(result: BacktestResult, out_dir: Path) -> dict[str, Path]:
    """Write summary.json, opportunities.parquet, the plots and index.html; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    pq.write_table(opportunities_table(result), out_dir / "opportunities.parquet")
    _plots(result, out_dir)
    (out_dir / "index.html").write_text(_html(result, summary))
    return {name: out_dir / name for name in REPORT_FILES}

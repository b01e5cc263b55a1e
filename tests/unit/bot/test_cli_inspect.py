"""`arbloop inspect PATH [--json]` called directly: JSON lines, the table, bad input."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from rich.console import Console

from bot.cli_inspect import add_inspect_parser, cmd_inspect

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
BLOCK = DATA / "mev-inspect-blocks" / "12914944.json"
MAINNET = DATA / "mainnet"


def _run(argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="arbloop")
    add_inspect_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out = io.StringIO()
    console = Console(file=out, width=300, color_system=None)
    assert args.func is cmd_inspect
    return args.func(args, console), out.getvalue()


def test_json_lines_for_a_block() -> None:
    code, out = _run(["inspect", str(BLOCK), "--json"])
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["profit"] for line in lines) == [750005273675102326, 53560707941943273628]
    for line in lines:
        assert line["block"] == 12914944
        assert line["profit_token"] == "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
        assert line["reverted"] is False
        assert len(line["hops"]) == 3
        assert set(line["hops"][0]) == {"pool", "token_in", "token_out", "amount_in", "amount_out"}
        assert line["transaction_hash"].startswith("0x")


def test_table_for_an_archive_folder() -> None:
    code, out = _run(["inspect", str(MAINNET)])
    assert code == 0
    assert "ethereum__logs__18426253_to_18426303.parquet (logs)" in out
    assert "ethereum__traces__21000000_to_21000010.parquet (traces)" in out
    assert "7114380390237268" in out
    assert "104853198123169531" in out
    assert "191 swaps skipped" in out


def test_bad_input_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    code, out = _run(["inspect", str(path)])
    assert code == 2
    assert "notes.txt" in out
    assert "unknown file kind" in out

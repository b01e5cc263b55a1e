"""The backtest on the 51 blocks of real mainnet logs: report files, usable pools, real arbs.

No anvil: the archive is replayed through the ring, the engine, the risk gate and exact fills
in one process. Broken copies of the real file (truncated, corrupt, a gap, another chain)
stop the replay with a message naming the file and the block, and `arbloop backtest` exits 2.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from bot.backtest import BacktestResult, BacktestSpec, run_backtest
from bot.backtest_report import REPORT_FILES, write_report
from bot.cli_backtest import add_backtest_parser
from chains.artifacts import repo_root
from chains.config_profile import load_profile
from chains.records import Kind, get_value
from chains.registry_logs import registry_from_logs
from chains.snapshot import PoolRef, PoolSnapshot
from graph.actions import Candidate
from sim.archive import ArchiveError, iter_blocks, open_archive
from sim.archive_snapshot import snapshot_name, write_snapshot
from sim.inspect import inspect_path
from tests.unit.sim.test_archive_fixtures import (
    FIRST,
    LAST,
    MAINNET_LOGS,
    blocks_table,
    mainnet_table,
    name,
    write_split,
)

PROFILE = repo_root() / "configs" / "mainnet-backtest.toml"
GAS_MODEL = repo_root() / "configs" / "gas" / "local.toml"
BASE_FEE_WEI = 10**9  # 1 gwei: cheap gas, so the replay has fills to check
N_EVENTS = 3_006  # pool records of proven pools decoded from the 17,096 logs


def _spec(archive: Path, **kwargs: object) -> BacktestSpec:
    return BacktestSpec(
        archive=archive,
        profile=load_profile(PROFILE),
        gas_model_path=GAS_MODEL,
        **{"base_fee_wei": BASE_FEE_WEI, **kwargs},  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> BacktestResult:
    work = tmp_path_factory.mktemp("backtest-work")
    return run_backtest(_spec(MAINNET_LOGS.parent, work_dir=work))


@pytest.fixture(scope="module")
def report(result: BacktestResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    write_report(result, out)
    return out


def test_the_51_blocks_run(result: BacktestResult) -> None:
    assert (result.first_block, result.last_block) == (FIRST, LAST)
    assert result.blocks == 51
    assert result.events == N_EVENTS
    assert result.events_per_s > 0
    assert "--base-fee-gwei" in result.base_fee_source
    assert str(BASE_FEE_WEI) in result.base_fee_source


def test_candidates_are_exact_and_fills_equal_their_prediction(result: BacktestResult) -> None:
    assert result.opportunities, "1 gwei leaves profitable cycles in these blocks"
    for block, candidates in result.candidates_by_block.items():
        assert FIRST <= block <= LAST
        for candidate in candidates:
            assert isinstance(candidate, Candidate)
            assert candidate.block_number == block and candidate.target_block == block + 1
    fills = [o.fill for o in result.opportunities if o.fill is not None]
    assert fills
    for f in fills:
        assert f.matches_candidate
        assert f.base_fee_wei == BASE_FEE_WEI
        assert f.gas_cost_wei == f.gas_units * (BASE_FEE_WEI + f.priority_fee_wei)
        assert f.net_wei == f.profit_wei - f.gas_cost_wei - f.tip_wei
    assert result.pnl_wei == sum(f.net_wei for f in fills)
    assert result.verdicts["approved"] == len(fills)


def test_in_range_only_pools_are_never_priced_across_a_tick(result: BacktestResult) -> None:
    bounded = {p.pool_id for p in result.pools if p.in_range_only}
    assert bounded, "V3 pools are known from their Swaps only"
    for candidates in result.candidates_by_block.values():
        for candidate in candidates:
            for hop in candidate.hops:
                if hop.pool_id in bounded:
                    assert hop.ticks_crossed == 0


def test_pools_first_seen_mid_range_become_usable_at_their_first_state_event(
    result: BacktestResult,
) -> None:
    usable = [p for p in result.pools if p.usable_from_block is not None]
    assert len(usable) > 400
    assert any(p.usable_from_block > FIRST for p in usable)
    for p in usable:
        assert p.first_seen_block <= p.usable_from_block <= LAST
        assert p.in_range_only == (p.kind == "v3")


def test_report_has_every_file(report: Path, result: BacktestResult) -> None:
    for file in REPORT_FILES:
        assert (report / file).stat().st_size > 0, file
    summary = json.loads((report / "summary.json").read_text())
    assert summary["blocks"] == 51 and summary["events"] == N_EVENTS
    assert summary["pnl_wei"] == result.pnl_wei
    assert summary["base_fee_source"].startswith("--base-fee-gwei flag")
    table = pq.read_table(report / "opportunities.parquet")
    assert table.num_rows == len(result.opportunities)
    amounts = [int(v) for v in table.column("amount_in").to_pylist()]
    assert amounts == [o.candidate.amount_in for o in result.opportunities]
    page = (report / "index.html").read_text()
    for png in REPORT_FILES[3:]:
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png in page


def test_pools_usable_from_table(report: Path, result: BacktestResult) -> None:
    summary = json.loads((report / "summary.json").read_text())
    rows = summary["pools_usable_from"]
    assert len(rows) == len(result.pools)
    assert {"pool_id", "address", "first_seen_block", "usable_from_block"} <= rows[0].keys()
    assert "Pools usable from block" in (report / "index.html").read_text()


def test_every_real_arbitrage_is_reported_with_what_the_bot_saw(
    report: Path, result: BacktestResult
) -> None:
    real = [
        a
        for inspection in inspect_path(MAINNET_LOGS)
        for a in inspection.arbitrages
        if FIRST <= a.block_number <= LAST
    ]
    assert len(real) == 15
    summary = json.loads((report / "summary.json").read_text())
    details = {d["transaction_hash"]: d for d in summary["real_arbitrage_details"]}
    assert summary["real_arbitrages"] == len(real)
    page = (report / "index.html").read_text()
    for arb in real:
        row = details[arb.transaction_hash]
        assert row["block"] == arb.block_number and row["profit"] == arb.profit
        assert row["saw"]
        assert row["seen"] == bool(row["matches"])
        assert len(row["pool_status"]) == len(arb.hops)
        assert arb.transaction_hash in page
    assert summary["hit_rate"] == round(summary["real_arbitrages_seen"] / len(real), 4)


def test_headers_give_the_base_fee(tmp_path: Path) -> None:
    shutil.copy(MAINNET_LOGS, tmp_path / MAINNET_LOGS.name)
    headers = blocks_table(FIRST, LAST)
    pq.write_table(headers, tmp_path / name("blocks", FIRST, LAST))
    fees = dict(
        zip(
            headers.column("block_number").to_pylist(),
            headers.column("base_fee_per_gas").to_pylist(),
            strict=True,
        )
    )
    found = run_backtest(
        _spec(tmp_path, base_fee_wei=None, inspect=False, first_block=FIRST, last_block=FIRST + 20)
    )
    assert found.base_fee_source == "block headers of the archive"
    assert found.blocks == 21
    for o in found.opportunities:
        if o.fill is not None:
            target = o.candidate.target_block
            assert o.fill.base_fee_wei == fees[target]


def _fails(archive: Path, *needles: str) -> None:
    with pytest.raises(ArchiveError) as caught:
        run_backtest(_spec(archive, inspect=False))
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)


LOGS_NAME = name("logs", FIRST, LAST)


def test_truncated_archive(tmp_path: Path) -> None:
    data = MAINNET_LOGS.read_bytes()
    (tmp_path / LOGS_NAME).write_bytes(data[: len(data) // 2])
    _fails(tmp_path, LOGS_NAME, f"blocks {FIRST}..{LAST}", "truncated")


def test_corrupt_archive(tmp_path: Path) -> None:
    data = bytearray(MAINNET_LOGS.read_bytes())
    data[1000:6000] = b"\xab" * 5000
    (tmp_path / LOGS_NAME).write_bytes(bytes(data))
    _fails(tmp_path, LOGS_NAME, f"blocks {FIRST}..{LAST}", "corrupt")


def test_gap_in_blocks(tmp_path: Path) -> None:
    write_split(mainnet_table(), tmp_path, [(FIRST, FIRST + 19), (FIRST + 25, LAST)])
    _fails(tmp_path, name("logs", FIRST + 25, LAST), str(FIRST + 20))


def test_chain_id_mismatch(tmp_path: Path) -> None:
    table = mainnet_table()
    numbers = table.column("block_number")
    chain_ids = pc.if_else(
        pc.equal(numbers, FIRST + 7), pa.scalar(5, pa.uint64()), table.column("chain_id")
    )
    index = table.schema.get_field_index("chain_id")
    pq.write_table(table.set_column(index, "chain_id", chain_ids), tmp_path / LOGS_NAME)
    _fails(tmp_path, LOGS_NAME, f"block {FIRST + 7}", "chain id 5")


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="arbloop")
    add_backtest_parser(parser.add_subparsers())
    args = parser.parse_args(["backtest", *argv])
    return int(args.func(args, Console(quiet=True)))


def test_cli_exits_2_naming_file_and_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = MAINNET_LOGS.read_bytes()
    (tmp_path / LOGS_NAME).write_bytes(data[: len(data) // 2])
    assert _cli("--archive", str(tmp_path), "--base-fee-gwei", "20") == 2
    err = capsys.readouterr().err
    assert LOGS_NAME in err and f"blocks {FIRST}..{LAST}" in err


def test_cli_needs_a_base_fee_without_headers(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("--archive", str(MAINNET_LOGS.parent)) == 2
    assert "--base-fee-gwei" in capsys.readouterr().err


def test_cli_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    code = _cli(
        "--archive",
        str(MAINNET_LOGS.parent),
        "--base-fee-gwei",
        "15.5",
        "--from",
        str(FIRST + 40),
        "--to",
        str(LAST),
        "--out",
        str(out),
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["blocks"] == LAST - FIRST - 39
    assert "15500000000 wei" in summary["base_fee_source"]


def test_a_snapshot_beside_the_archive_starts_the_pool_table(tmp_path: Path) -> None:
    cut = FIRST + 24
    archive = open_archive(MAINNET_LOGS.parent)
    chain = load_profile(PROFILE).chain
    registry = registry_from_logs(chain, archive.logs_table()).registry
    reserves = {}
    for block in iter_blocks(archive, registry, last_block=cut):
        for record in block.records[block.records["kind"] == Kind.V2_SYNC]:
            reserves[int(record["pool_id"])] = (get_value(record, 0), get_value(record, 1))
    snapshot = PoolSnapshot(
        block_number=cut,
        block_hash="0x" + "5a" * 32,
        pools=tuple(
            PoolRef(p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing)
            for p in registry.pools
        ),
        reserves=reserves,
        v3_states={},
        eth_calls=0,
        requests=0,
    )
    write_split(mainnet_table(), tmp_path, [(cut + 1, LAST)])
    write_snapshot(tmp_path / snapshot_name("ethereum", cut), snapshot, 1, registry.pools)
    found = run_backtest(_spec(tmp_path))
    assert found.blocks == LAST - cut
    assert any("snapshot ethereum__snapshot__" in note for note in found.notes)
    usable = {p.pool_id: p.usable_from_block for p in found.pools}
    assert {usable[pool_id] for pool_id in reserves} == {cut}
    assert all(p.kind == "v3" for p in found.pools if p.in_range_only)

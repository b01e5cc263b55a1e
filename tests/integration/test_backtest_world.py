"""World parity: a fork-mode run, archived, replayed by the backtest and read by the inspector.

The bot runs in fork mode on the world (traffic with pending swaps, so backruns land too) and
its blocks are archived from the world node before it stops, every log of the range with them
(the tokens' Transfer logs prove swap tokens to the inspector). Then:

- the backtest replays the archive with the live run's profile, gas model and executor
  inventory; over every block, the candidates the live engine wrote to its audit log for the
  block lane equal the backtest's, every field of every `Candidate` to the wei (pools,
  directions, hop amounts, input, profit, gas units and price, tip, net profit, flash, block,
  hash, target). Backrun candidates (`pending_tx` set) are left out on the live side: they
  were priced on a pending transaction the archive of mined logs does not hold. Nothing else
  is left out: both sides run the same engine on the same records with the same settings;
- an archive copy missing one Sync log makes that comparison fail, at that log's block;
- the inspector finds each bundle the bot landed (audit intents whose last state is
  `included`), at the audit's exact input and gross profit (`Candidate.profit`: the WETH the
  cycle's swaps end with minus what they start with; the builder tip is paid from the
  executor's balance after the last swap, outside the swaps the inspector chains), and no
  other arbitrage: blocks with traffic only hold none.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bot.app import ForkWorld, RunOptions, run_bot
from bot.audit import AuditLog
from bot.backtest import BacktestSpec, run_backtest
from chains.abi import V2_SYNC
from chains.artifacts import repo_root
from chains.config import Profile, load_profile
from graph.actions import Candidate
from sim.archive_write import record_archive
from sim.inspect import Arbitrage, inspect_path
from sim.traffic import TrafficConfig
from sim.world_cache import WorldCache
from sim.world_driver import WorldDriver
from tests.integration.conftest import fork_profile

pytestmark = pytest.mark.integration


@dataclass(frozen=True, slots=True)
class WorldRun:
    """A finished fork-mode run: its profile, audit log, archive and executor inventory."""

    profile: Profile
    final: dict[str, Any]
    archive: Path
    first_block: int  # the block the engine's snapshot was taken at
    last_block: int  # the archive's last block
    weth: str
    inventory_wei: int


def _run_and_archive(tmp_path: Path, cache: WorldCache, blocks: int, seed: int) -> WorldRun:
    """Run the bot on the world for `blocks` traffic blocks; archive them before it stops."""
    profile = fork_profile(tmp_path, cache)
    archive = tmp_path / "archive"
    holder: dict[str, Any] = {}

    def driver(world: ForkWorld) -> Callable[[], None]:
        assert world.manifest is not None and world.builder is not None
        holder["driver"] = WorldDriver(
            world.rpc,
            world.manifest,
            world.builder,
            block_time_s=0.5,
            search_window_s=0.3,
            traffic=TrafficConfig(seed=seed, txs_per_block=6, new_pool_probability=0.0),
        )
        return holder["driver"].tick

    def on_start(world: ForkWorld, _sup: Any) -> None:
        # the engine's snapshot is of the head before the first block the driver builds
        holder["first"] = int(world.rpc.call("eth_blockNumber"), 16)
        holder["weth"] = world.weth
        holder["inventory"] = world.start_balance_wei // 2  # as bot.app tells the engine

    def until() -> bool:
        return "driver" in holder and len(holder["driver"].reports) >= blocks

    def before_stop(world: ForkWorld) -> None:
        last = int(world.rpc.call("eth_blockNumber"), 16)
        holder["last"] = last
        record_archive(
            world.http_url, holder["first"] + 1, last, archive, world.registry, all_logs=True
        )

    final = run_bot(
        RunOptions(
            profile=profile, driver=driver, on_start=on_start, until=until, before_stop=before_stop
        ),
        cache=cache,
    )
    return WorldRun(
        profile=load_profile(profile.path),
        final=final,
        archive=archive,
        first_block=holder["first"],
        last_block=holder["last"],
        weth=holder["weth"],
        inventory_wei=holder["inventory"],
    )


def _live_block_lane(run: WorldRun) -> dict[int, list[Candidate]]:
    """Return the audit log's block-lane candidates by block (one row per block required)."""
    with AuditLog(Path(run.final["audit_path"])) as audit:
        rows = audit.block_reports()
    numbers = [r["block_number"] for r in rows]
    assert len(numbers) == len(set(numbers)), "a block was booked twice (no reorg happened)"
    return {
        r["block_number"]: [c for c in r["candidates"] if c.pending_tx is None]
        for r in rows
        if run.first_block < r["block_number"] <= run.last_block
    }


def _backtest(run: WorldRun, archive: Path) -> dict[int, list[Candidate]]:
    result = run_backtest(
        BacktestSpec(
            archive=archive,
            profile=run.profile,
            gas_model_path=repo_root() / "configs" / "gas" / f"{run.profile.chain.name}.toml",
            inspect=False,
            inventory={run.weth: run.inventory_wei},
        )
    )
    assert result.first_block == run.first_block + 1 and result.last_block == run.last_block
    assert any("snapshot" in note for note in result.notes), result.notes
    return result.candidates_by_block


def _order(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.cycle_id, c.amount_in, c.profit))


def _differences(
    live: dict[int, list[Candidate]], replayed: dict[int, list[Candidate]], blocks: range
) -> dict[int, tuple[list[Candidate], list[Candidate]]]:
    """Return (live, backtest) candidates of every block where the two differ."""
    out = {}
    for number in blocks:
        a, b = _order(live.get(number, [])), _order(replayed.get(number, []))
        if a != b:
            out[number] = (a, b)
    return out


def _describe(diffs: dict[int, tuple[list[Candidate], list[Candidate]]]) -> str:
    lines = []
    for number, (a, b) in list(diffs.items())[:5]:
        lines.append(f"block {number}:")
        lines += [f"  live     {c.to_json()}" for c in a if c not in b]
        lines += [f"  backtest {c.to_json()}" for c in b if c not in a]
    return "\n".join(lines)


def _syncs(archive: Path) -> dict[tuple[int, str], list[tuple[Path, int]]]:
    """Return (file, row) of every Sync log of the archive by (block, pool address)."""
    out: dict[tuple[int, str], list[tuple[Path, int]]] = {}
    for path in sorted(archive.glob("*__logs__*.parquet")):
        table = pq.read_table(path, columns=["block_number", "address", "topic0"])
        columns = (table.column(name).to_pylist() for name in table.column_names)
        for row, (number, address, topic0) in enumerate(zip(*columns, strict=True)):
            if topic0 == V2_SYNC.topic0:
                out.setdefault((number, "0x" + address.hex()), []).append((path, row))
    return out


def _drop_row(source: Path, copy: Path, path: Path, row: int) -> None:
    """Copy the archive folder with one log row less in one logs file."""
    shutil.copytree(source, copy)
    table = pq.read_table(copy / path.name)
    keep = [i != row for i in range(table.num_rows)]
    pq.write_table(table.filter(keep), copy / path.name, compression="zstd")
    assert pq.read_table(copy / path.name).num_rows == table.num_rows - 1


def _check_parity(run: WorldRun, tmp_path: Path, min_blocks_with_candidates: int) -> None:
    live = _live_block_lane(run)
    blocks = range(run.first_block + 1, run.last_block + 1)
    replayed = _backtest(run, run.archive)
    # every archived block was booked live, except the last (its row is written at the next
    # head, which never came)
    missing = [n for n in blocks if n not in live]
    assert missing in ([], [run.last_block]), missing
    diffs = _differences(live, replayed, range(run.first_block + 1, run.last_block))
    assert not diffs, f"{len(diffs)} blocks differ\n{_describe(diffs)}"
    with_candidates = [n for n in blocks if live.get(n)]
    assert len(with_candidates) >= min_blocks_with_candidates, with_candidates
    compared = sum(len(live[n]) for n in with_candidates)
    print(f"{len(with_candidates)} blocks with candidates, {compared} candidates equal")

    # one Sync log less (the last of a pool a candidate trades, in the candidate's block):
    # that block is the first that differs, and that candidate is not found as it was
    syncs = _syncs(run.archive)
    block, target, path, row = next(
        (n, c, *syncs[(n, hop.pool)][-1])
        for n in with_candidates[len(with_candidates) // 2 :]
        for c in live[n]
        for hop in c.hops
        if (n, hop.pool) in syncs
    )
    broken = tmp_path / "archive-missing-one-log"
    _drop_row(run.archive, broken, path, row)
    diffs = _differences(live, _backtest(run, broken), range(run.first_block + 1, run.last_block))
    assert diffs, "an archive missing a Sync log replayed to the same candidates"
    assert min(diffs) == block, sorted(diffs)
    before, after = diffs[block]
    assert target in before and target not in after


def _check_inspector(run: WorldRun) -> tuple[int, int]:
    """Check the inspector against the landed bundles; return (landed, landed backruns)."""
    with AuditLog(Path(run.final["audit_path"])) as audit:
        landed = [i for i in audit._intents("", ()) if audit.last_state(i.intent_id) == "included"]
    assert landed, "no bundle landed"
    arbs: list[Arbitrage] = [a for i in inspect_path(run.archive) for a in i.arbitrages]
    by_tx = {a.transaction_hash: a for a in arbs}
    assert len(by_tx) == len(arbs), "two arbitrages in one transaction"
    ours = {i.tx_hashes[-1].lower(): i for i in landed}
    # nothing but our bundles: blocks with traffic only hold no arbitrage
    assert set(by_tx) == set(ours), (sorted(set(by_tx) - set(ours)), sorted(set(ours) - set(by_tx)))
    for tx_hash, intent in ours.items():
        arb, c = by_tx[tx_hash], intent.candidate
        assert arb.block_number == c.target_block, tx_hash
        assert arb.profit_token == run.weth.lower() == c.base_token.lower()
        assert arb.start_amount == c.amount_in
        assert arb.end_amount == c.hops[-1].amount_out
        assert arb.profit == c.profit
        assert not arb.reverted
        assert [h.pool for h in arb.hops] == [h.pool for h in c.hops]
        assert [h.amount_out for h in arb.hops] == [h.amount_out for h in c.hops]
    backruns = sum(i.candidate.pending_tx is not None for i in landed)
    print(f"{len(ours)} landed bundles ({backruns} backruns) found by the inspector, exact profit")
    return len(ours), backruns


def test_world_parity_60_blocks(
    tmp_path: Path, world_cache: WorldCache, world_session: Any
) -> None:
    run = _run_and_archive(tmp_path, world_cache, blocks=60, seed=11)
    _check_parity(run, tmp_path, min_blocks_with_candidates=5)
    landed, _ = _check_inspector(run)
    assert landed >= 3


@pytest.mark.slow
def test_world_parity_500_blocks(
    tmp_path: Path, world_cache: WorldCache, world_session: Any
) -> None:
    run = _run_and_archive(tmp_path, world_cache, blocks=500, seed=7)
    assert run.last_block - run.first_block >= 500
    _check_parity(run, tmp_path, min_blocks_with_candidates=50)
    landed, backruns = _check_inspector(run)
    assert landed >= 50 and backruns >= 1, (landed, backruns)

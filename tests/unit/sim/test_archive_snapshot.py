"""Archive snapshots: exact 256-bit values survive the JSON file; names carry the block."""

from __future__ import annotations

from pathlib import Path

import pytest

from amm_math.uniswap_v3.fee_growth import FeeGrowth
from amm_math.uniswap_v3.pool_state import V3PoolState
from chains.registry import PoolInfo
from chains.snapshot import PoolRef, PoolSnapshot
from sim.archive_files import ArchiveError, archive_name, parse_name
from sim.archive_snapshot import (
    list_snapshots,
    read_snapshot,
    read_snapshot_pools,
    snapshot_name,
    write_snapshot,
)

BIG = 2**256 - 12345


def _snapshot() -> PoolSnapshot:
    state = V3PoolState(
        sqrt_price_x96=2**96,
        tick=0,
        liquidity=2**126 + 5,
        fee_pips=3000,
        tick_spacing=60,
        ticks={-60: 2**126 + 5, 60: -(2**126 + 5)},
        liquidity_gross={-60: 2**126 + 5, 60: 2**126 + 5},
    )
    fees = FeeGrowth(
        global0_x128=BIG, global1_x128=7, outside={-60: (BIG, 1), 60: (0, BIG)}, fee_protocol=68
    )
    return PoolSnapshot(
        block_number=41,
        block_hash="0x" + "ab" * 32,
        pools=(
            PoolRef(0, "0x" + "11" * 20, "v2", 3000, 0),
            PoolRef(1, "0x" + "22" * 20, "v3", 3000, 60),
        ),
        reserves={0: (2**112 - 1, 10**30)},
        v3_states={1: state},
        eth_calls=0,
        requests=0,
        fee_growth={1: fees},
    )


def test_snapshot_round_trip(tmp_path: Path) -> None:
    snapshot = _snapshot()
    info = PoolInfo(
        pool_id=0,
        address="0x" + "11" * 20,
        venue="uniswap_v2",
        kind="v2",
        token0="0x" + "33" * 20,
        token1="0x" + "44" * 20,
        fee_pips=3000,
        tick_spacing=0,
        created_block=3,
    )
    path = tmp_path / snapshot_name("network_31337", 41)
    assert path.name == "network_31337__snapshot__00000041.json"
    write_snapshot(path, snapshot, 31337, [info])
    assert read_snapshot(path) == snapshot
    assert read_snapshot_pools(path) == (info,)
    assert list_snapshots(tmp_path) == {41: path}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_snapshot_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / snapshot_name("ethereum", 9)
    path.write_text('{"block_number": 9, "block_hash": "0x00"}')
    with pytest.raises(ArchiveError, match=r"ethereum__snapshot__00000009.json: block 9"):
        read_snapshot(path)


def test_cryo_names() -> None:
    name = archive_name("ethereum", "logs", 18_426_253, 18_426_303)
    assert name == "ethereum__logs__18426253_to_18426303.parquet"
    parsed = parse_name(Path(name))
    assert parsed is not None
    assert (parsed.network, parsed.datatype, parsed.first_block, parsed.last_block) == (
        "ethereum",
        "logs",
        18_426_253,
        18_426_303,
    )
    assert parse_name(Path("notes.txt")) is None
    with pytest.raises(ArchiveError, match="ends before it starts"):
        parse_name(Path("ethereum__logs__00000009_to_00000008.parquet"))

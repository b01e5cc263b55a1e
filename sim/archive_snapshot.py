"""Pool-state snapshots stored beside an archive, as JSON.

File name: ``{network}__snapshot__{block:08}.json``, the state *after* block ``block`` (all
pools read pinned to that block's hash by `chains.snapshot.snapshot_pools`). `record_archive`
writes one at ``start - 1`` (where a replay of the archive starts) and a checkpoint every N
blocks. Contents (integers are exact JSON numbers of any size; Python's json keeps them)::

    {"block_number": int, "block_hash": "0x..", "chain_id": int,
     "pools": [[pool_id, address, kind, fee_pips, tick_spacing], ...],
     "registry": [PoolInfo.to_json(), ...],
     "reserves": {"<pool_id>": [reserve0, reserve1], ...},
     "v3": {"<pool_id>": {"sqrt_price_x96", "tick", "liquidity", "fee_pips", "tick_spacing",
                          "ticks": [[tick, liquidity_net, liquidity_gross], ...],
                          "fee_growth": {"global0_x128", "global1_x128", "fee_protocol",
                                         "outside": [[tick, outside0_x128, outside1_x128]]}}}}

`read_snapshot` returns a `chains.snapshot.PoolSnapshot` that `PoolTable.load_snapshot` loads.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amm_math.uniswap_v3.fee_growth import FeeGrowth
from amm_math.uniswap_v3.pool_state import V3PoolState
from chains.registry import PoolInfo
from chains.snapshot import PoolRef, PoolSnapshot
from sim.archive_files import ArchiveError

__all__ = [
    "list_snapshots",
    "read_snapshot",
    "read_snapshot_pools",
    "snapshot_name",
    "write_snapshot",
]

_NAME = re.compile(r"^(?P<network>.+?)__snapshot__(?P<block>\d+)\.json$")


def snapshot_name(network: str, block_number: int) -> str:
    """Return the file name of the snapshot after block ``block_number``."""
    return f"{network}__snapshot__{block_number:08}.json"


def list_snapshots(folder: Path) -> dict[int, Path]:
    """Return the snapshot files of a folder by block number."""
    found = {}
    for path in sorted(Path(folder).iterdir()):
        match = _NAME.match(path.name)
        if match is not None:
            found[int(match["block"])] = path
    return found


def _v3_json(state: V3PoolState, fees: FeeGrowth | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sqrt_price_x96": state.sqrt_price_x96,
        "tick": state.tick,
        "liquidity": state.liquidity,
        "fee_pips": state.fee_pips,
        "tick_spacing": state.tick_spacing,
        "ticks": [
            [tick, net, state.liquidity_gross.get(tick, 0)]
            for tick, net in sorted(state.ticks.items())
        ],
    }
    if fees is not None:
        out["fee_growth"] = {
            "global0_x128": fees.global0_x128,
            "global1_x128": fees.global1_x128,
            "fee_protocol": fees.fee_protocol,
            "outside": [[t, o0, o1] for t, (o0, o1) in sorted(fees.outside.items())],
        }
    return out


def write_snapshot(
    path: Path, snapshot: PoolSnapshot, chain_id: int, registry: Sequence[PoolInfo]
) -> None:
    """Write a snapshot to ``path`` atomically (a temp file renamed over it)."""
    body = {
        "block_number": snapshot.block_number,
        "block_hash": snapshot.block_hash,
        "chain_id": chain_id,
        "pools": [list(ref) for ref in snapshot.pools],
        "registry": [info.to_json() for info in registry],
        "reserves": {str(k): list(v) for k, v in sorted(snapshot.reserves.items())},
        "v3": {
            str(k): _v3_json(state, snapshot.fee_growth.get(k))
            for k, state in sorted(snapshot.v3_states.items())
        },
    }
    temp = path.with_name(f".{path.name}.partial")
    temp.write_text(json.dumps(body, separators=(",", ":")))
    os.replace(temp, path)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{Path(path).name}: unreadable snapshot: {exc}") from exc
    if not isinstance(data, dict) or "block_number" not in data:
        raise ArchiveError(f"{Path(path).name}: not a pool snapshot")
    return data


def read_snapshot(path: Path) -> PoolSnapshot:
    """Read a snapshot file into a PoolSnapshot (exact ints)."""
    data = _load(path)
    try:
        v3_states = {}
        fee_growth = {}
        for key, entry in data["v3"].items():
            ticks = entry["ticks"]
            v3_states[int(key)] = V3PoolState(
                sqrt_price_x96=entry["sqrt_price_x96"],
                tick=entry["tick"],
                liquidity=entry["liquidity"],
                fee_pips=entry["fee_pips"],
                tick_spacing=entry["tick_spacing"],
                ticks={t: net for t, net, _ in ticks},
                liquidity_gross={t: gross for t, _, gross in ticks},
            )
            fees = entry.get("fee_growth")
            if fees is not None:
                fee_growth[int(key)] = FeeGrowth(
                    global0_x128=fees["global0_x128"],
                    global1_x128=fees["global1_x128"],
                    outside={t: (o0, o1) for t, o0, o1 in fees["outside"]},
                    fee_protocol=fees["fee_protocol"],
                )
        return PoolSnapshot(
            block_number=data["block_number"],
            block_hash=data["block_hash"],
            pools=tuple(PoolRef(*ref) for ref in data["pools"]),
            reserves={int(k): (v[0], v[1]) for k, v in data["reserves"].items()},
            v3_states=v3_states,
            eth_calls=0,
            requests=0,
            fee_growth=fee_growth,
        )
    except (KeyError, TypeError, ValueError) as exc:
        block = data.get("block_number")
        raise ArchiveError(f"{Path(path).name}: block {block}: malformed snapshot: {exc}") from exc


def read_snapshot_pools(path: Path) -> tuple[PoolInfo, ...]:
    """Return the registry pools stored with a snapshot (ids as at that block)."""
    data = _load(path)
    return tuple(PoolInfo.from_json(row) for row in data.get("registry", ()))

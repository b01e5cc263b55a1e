"""Pools created on chain join the registry and the decoder's index as their logs arrive.

`admit_created_pools` gives each PairCreated/PoolCreated record of a batch its registry id
(-1 when the registry cannot prove the pool: not a configured factory, not its CREATE2
address) and adds the pools the decoder's index does not know yet, so their own logs decode
from then on. The live feed and the archive reader share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chains.pool_index import PoolIndex
from chains.records import Kind, get_value
from chains.registry import Registry

__all__ = ["Admitted", "admit_created_pools"]

_CREATION = (Kind.PAIR_CREATED, Kind.POOL_CREATED)


@dataclass(frozen=True, slots=True)
class Admitted:
    """What one batch's creation records did: pools new to the index, pools not proven."""

    added: int
    unproven: int


def _address(value: int) -> str:
    return "0x" + value.to_bytes(20, "big").hex()


def admit_created_pools(records: np.ndarray, registry: Registry, index: PoolIndex) -> Admitted:
    """Give creation records their registry id (-1 unproven); add new pools to the index."""
    added = unproven = 0
    for i in np.flatnonzero(np.isin(records["kind"], _CREATION)).tolist():
        record = records[i]
        v3 = record["kind"] == Kind.POOL_CREATED
        info = registry.on_created(
            int(record["kind"]),
            "0x" + record["sender"].tobytes().hex(),
            _address(get_value(record, 0)),
            _address(get_value(record, 1)),
            int(record["aux"]) if v3 else None,
            int(record["tick"]) if v3 else 0,
            _address(get_value(record, 2)),
            int(record["block_number"]),
        )
        if info is None:
            records["pool_id"][i] = -1
            unproven += 1
            continue
        records["pool_id"][i] = info.pool_id
        query = np.frombuffer(bytes.fromhex(info.address[2:]), dtype=np.uint8).reshape(1, 20)
        if index.lookup(query)[0][0] != info.pool_id:
            index.add(info.address, info.pool_id, info.kind, info.fee_pips)
            added += 1
    return Admitted(added, unproven)

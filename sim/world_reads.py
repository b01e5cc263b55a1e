"""Read every world pool's state from the chain in one batch (getReserves, slot0, liquidity)."""

from __future__ import annotations

from typing import Any

from chains import abi
from chains.rpc import HttpRpc
from sim.world_manifest import PoolEntry

__all__ = ["read_pool_states"]


def _eth_call(to: str, data: bytes) -> tuple[str, list[Any]]:
    return ("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])


def read_pool_states(rpc: HttpRpc, pools: list[PoolEntry]) -> dict[str, tuple[Any, ...]]:
    """Return pool address -> reserves (V2) or (slot0, liquidity) (V3)."""
    calls = []
    for pool in pools:
        if pool.kind == "v2":
            calls.append(_eth_call(pool.address, abi.V2_PAIR_GET_RESERVES.encode()))
        else:
            calls.append(_eth_call(pool.address, abi.V3_POOL_SLOT0.encode()))
            calls.append(_eth_call(pool.address, abi.V3_POOL_LIQUIDITY.encode()))
    results = iter(rpc.batch(calls))
    out: dict[str, tuple[Any, ...]] = {}
    for pool in pools:
        if pool.kind == "v2":
            out[pool.address] = abi.V2_PAIR_GET_RESERVES.decode_output(_bytes(next(results)))
        else:
            slot0 = abi.V3_POOL_SLOT0.decode_output(_bytes(next(results)))
            liquidity = abi.V3_POOL_LIQUIDITY.decode_output(_bytes(next(results)))
            out[pool.address] = (*slot0, *liquidity)
    return out


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:])

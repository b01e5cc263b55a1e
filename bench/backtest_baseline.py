"""The backtest benchmark's baseline: web3.py log decoding, dict state, networkx search.

The same archived logs, turned into the log dicts web3.py receives from a node
(`web3_logs`), are decoded one by one with ``contract.events.<Event>().process_log``; V2
Sync and V3 Swap update a dict of pool state; after each block the token graph's edges of
the touched pairs are set to -log(best rate after fee) and ``nx.find_negative_cycle`` looks
for a cycle through WETH, as a plain Python bot would.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pyarrow as pa
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from chains import abi
from chains.artifacts import load_npm_artifact
from chains.registry import PoolInfo
from chains.snapshot import PoolSnapshot

__all__ = ["BaselineReplay", "web3_logs_by_block"]

_Q96 = 2.0**96


def web3_logs_by_block(tables: Iterable[pa.Table]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield (block, log dicts as web3.py gets them from eth_getLogs) in (block, log) order."""
    for table in tables:
        rows = table.sort_by([("block_number", "ascending"), ("log_index", "ascending")])
        current: int | None = None
        logs: list[dict[str, Any]] = []
        for row in rows.to_pylist():
            number = row["block_number"]
            if current is not None and number != current:
                yield current, logs
                logs = []
            current = number
            topics = [row[f"topic{k}"] for k in range(4) if row.get(f"topic{k}") is not None]
            logs.append(
                {
                    "address": to_checksum_address(row["address"]),
                    "topics": [HexBytes(t) for t in topics],
                    "data": HexBytes(row["data"]),
                    "blockNumber": number,
                    "blockHash": HexBytes(row["block_hash"]),
                    "transactionHash": HexBytes(row["transaction_hash"]),
                    "transactionIndex": row["transaction_index"],
                    "logIndex": row["log_index"],
                    "removed": False,
                }
            )
        if current is not None:
            yield current, logs


@dataclass(slots=True)
class _Pool:
    info: PoolInfo
    contract: Any
    reserve0: int = 0
    reserve1: int = 0
    sqrt_price_x96: int = 0
    liquidity: int = 0
    tick: int = 0

    def rate(self, zero_for_one: bool) -> float:
        """Return the marginal rate after fee, token out per token in (raw units)."""
        if self.info.kind == "v2":
            if self.reserve0 == 0 or self.reserve1 == 0:
                return 0.0
            price = self.reserve1 / self.reserve0
        else:
            if self.liquidity == 0:
                return 0.0
            price = (self.sqrt_price_x96 / _Q96) ** 2
        fee = 1.0 - self.info.fee_pips / 1e6
        return fee * price if zero_for_one else fee / price


@dataclass(slots=True)
class BaselineReplay:
    """Pool state in dicts and a networkx token graph, fed web3.py-decoded logs."""

    pools: dict[str, _Pool]
    weth: str
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    events: int = 0
    cycles_found: int = 0

    @classmethod
    def start(cls, pools: Iterable[PoolInfo], snapshot: PoolSnapshot, weth: str) -> BaselineReplay:
        """Load the snapshot's state and draw every pair's edges."""
        w3 = Web3()
        abis = {
            "v2": load_npm_artifact("UniswapV2Pair").abi,
            "v3": load_npm_artifact("UniswapV3Pool").abi,
        }
        by_address: dict[str, _Pool] = {}
        for info in pools:
            contract = w3.eth.contract(
                address=to_checksum_address(info.address), abi=abis[info.kind]
            )
            pool = _Pool(info, contract)
            if info.pool_id in snapshot.reserves:
                pool.reserve0, pool.reserve1 = snapshot.reserves[info.pool_id]
            state = snapshot.v3_states.get(info.pool_id)
            if state is not None:
                pool.sqrt_price_x96, pool.liquidity = state.sqrt_price_x96, state.liquidity
                pool.tick = state.tick
            by_address[to_checksum_address(info.address)] = pool
        replay = cls(by_address, weth.lower())
        for pool in by_address.values():
            replay._set_pair(pool.info.token0.lower(), pool.info.token1.lower())
        return replay

    def block(self, logs: list[dict[str, Any]], *, search: bool = True) -> list[Any] | None:
        """Decode and apply one block's logs; return a negative cycle through WETH, or None."""
        touched: set[tuple[str, str]] = set()
        for log in logs:
            pool = self.pools.get(log["address"])
            if pool is None:
                continue
            topic0 = bytes(log["topics"][0])
            events = pool.contract.events
            if pool.info.kind == "v2":
                if topic0 == abi.V2_SYNC.topic0:
                    args = events.Sync().process_log(log)["args"]
                    pool.reserve0, pool.reserve1 = args["reserve0"], args["reserve1"]
                elif topic0 == abi.V2_SWAP.topic0:
                    events.Swap().process_log(log)
                else:
                    continue
            elif topic0 == abi.V3_SWAP.topic0:
                args = events.Swap().process_log(log)["args"]
                pool.sqrt_price_x96, pool.liquidity = args["sqrtPriceX96"], args["liquidity"]
                pool.tick = args["tick"]
            else:
                continue
            self.events += 1
            touched.add((pool.info.token0.lower(), pool.info.token1.lower()))
        if not search:
            return None
        for token0, token1 in touched:
            self._set_pair(token0, token1)
        try:
            cycle = nx.find_negative_cycle(self.graph, self.weth, weight="weight")
        except nx.NetworkXError:
            return None
        self.cycles_found += 1
        return cycle

    def _set_pair(self, token_a: str, token_b: str) -> None:
        """Point each direction of a token pair at its best pool: weight -log(rate)."""
        for t_in, t_out in ((token_a, token_b), (token_b, token_a)):
            best = 0.0
            for pool in self.pools.values():
                t0, t1 = pool.info.token0.lower(), pool.info.token1.lower()
                if {t0, t1} != {t_in, t_out}:
                    continue
                best = max(best, pool.rate(t0 == t_in))
            if best > 0.0:
                self.graph.add_edge(t_in, t_out, weight=-math.log(best))

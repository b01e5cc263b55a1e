"""The baseline's search: V2 pairs, a networkx token graph, plain-Python Uniswap V2 amounts.

Edges carry -log(rate after fee) of the best pair for each direction, so a negative cycle
through WETH is an arbitrage before gas; `nx.find_negative_cycle` finds it. The input is
found by ternary search on the exact integer profit of the pair formula.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import networkx as nx

from chains.registry import PoolInfo
from graph.actions import Candidate, CandidateHop

__all__ = [
    "GAS_UNITS",
    "TIP_SHARE_BPS",
    "Market",
    "Pool",
    "best_input",
    "price_cycle",
    "v2_amount_out",
    "weth_cycle",
]

GAS_UNITS = 300_000  # a fixed estimate, as a plain bot would use
TIP_SHARE_BPS = 5_000


def v2_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_pips: int) -> int:
    """Return a V2 pair's output for amount_in (the pair's formula, fee in pips)."""
    with_fee = amount_in * (1_000_000 - fee_pips)
    return with_fee * reserve_out // (reserve_in * 1_000_000 + with_fee)


@dataclass(slots=True)
class Pool:
    """A V2 pair as the baseline tracks it: its reserves, tokens lowercase."""

    info: PoolInfo
    token0: str  # lowercase
    token1: str
    reserve0: int = 0
    reserve1: int = 0

    @classmethod
    def of(cls, info: PoolInfo) -> Pool:
        """Return the pair of a registry pool, reserves unknown."""
        return cls(info, info.token0.lower(), info.token1.lower())


@dataclass(slots=True)
class Market:
    """The V2 pairs and the networkx token graph over them (one edge per direction)."""

    pools: dict[str, Pool]  # by lowercase address
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)

    def set_pair_edges(self, token_a: str, token_b: str) -> None:
        """Point each direction of a pair at its best pool: weight -log(rate after fee)."""
        for t_in, t_out in ((token_a, token_b), (token_b, token_a)):
            best: tuple[float, str] | None = None
            for pool in self.pools.values():
                if {pool.token0, pool.token1} != {t_in, t_out} or pool.reserve0 == 0:
                    continue
                r_in, r_out = (
                    (pool.reserve0, pool.reserve1)
                    if pool.token0 == t_in
                    else (pool.reserve1, pool.reserve0)
                )
                rate = r_out / r_in * (1 - pool.info.fee_pips / 1e6)
                weight = -math.log(rate)
                if best is None or weight < best[0]:
                    best = (weight, pool.info.address.lower())
            if best is not None:
                self.graph.add_edge(t_in, t_out, weight=best[0], pool=best[1])


def best_input(path: list[tuple[Pool, bool]]) -> tuple[int, list[int]]:
    """Ternary-search the input (wei) maximising the cycle's output minus input.

    Return the profit and the amounts along the path (input first).
    """

    def amounts(amount_in: int) -> list[int]:
        out = [amount_in]
        for pool, zero_for_one in path:
            r_in, r_out = (
                (pool.reserve0, pool.reserve1) if zero_for_one else (pool.reserve1, pool.reserve0)
            )
            out.append(v2_amount_out(out[-1], r_in, r_out, pool.info.fee_pips))
        return out

    first, zero_for_one = path[0]
    lo, hi = 1, (first.reserve0 if zero_for_one else first.reserve1) // 2
    while hi - lo > 1_000:
        m1 = lo + (hi - lo) // 3
        m2 = hi - (hi - lo) // 3
        if amounts(m1)[-1] - m1 < amounts(m2)[-1] - m2:
            lo = m1
        else:
            hi = m2
    best = amounts(lo)
    return best[-1] - lo, best


def price_cycle(
    market: Market,
    cycle: list[str],
    *,
    weth: str,
    block_number: int,
    block_hash: bytes,
    next_base_fee_wei: int,
    priority_fee_wei: int,
) -> Candidate | None:
    """Price a WETH cycle with the plain formulas; return it when it pays for its gas."""
    path: list[tuple[Pool, bool]] = []
    for t_in, t_out in itertools.pairwise(cycle):
        pool = market.pools[market.graph[t_in][t_out]["pool"]]
        path.append((pool, pool.token0 == t_in))
    profit, amounts = best_input(path)
    gas_price = next_base_fee_wei + priority_fee_wei
    gas_cost = GAS_UNITS * gas_price
    if profit <= gas_cost:
        return None
    tip = (profit - gas_cost) * TIP_SHARE_BPS // 10_000
    hops = tuple(
        CandidateHop(
            pool_id=pool.info.pool_id,
            pool=pool.info.address.lower(),
            is_v3=False,
            zero_for_one=zero_for_one,
            fee_pips=pool.info.fee_pips,
            token_in=pool.token0 if zero_for_one else pool.token1,
            token_out=pool.token1 if zero_for_one else pool.token0,
            amount_in=amounts[i],
            amount_out=amounts[i + 1],
        )
        for i, (pool, zero_for_one) in enumerate(path)
    )
    return Candidate(
        cycle_id=0,
        base_token=weth,
        hops=hops,
        amount_in=amounts[0],
        profit=profit,
        profit_wei=profit,
        gas_units=GAS_UNITS,
        gas_price_wei=gas_price,
        tip_wei=tip,
        net_profit_wei=profit - gas_cost - tip,
        flash=True,
        block_number=block_number,
        block_hash="0x" + block_hash.hex(),
        target_block=block_number + 1,
    )


def weth_cycle(cycle: list[str], weth: str) -> list[str] | None:
    """Rotate a negative cycle (closed node list) to start and end at WETH, if it passes it."""
    nodes = cycle[:-1]
    if weth not in nodes:
        return None
    i = nodes.index(weth)
    rotated = nodes[i:] + nodes[:i]
    return [*rotated, weth]

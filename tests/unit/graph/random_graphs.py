"""Random pool graphs and pool states for the search tests, with plain-Python references.

Graphs are lists of (pool id, token0 id, token1 id); states are loaded into a real
`graph.state.PoolTable` through `load_snapshot`, so the search reads what the bot reads.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.tick_math import get_sqrt_ratio_at_tick, get_tick_at_sqrt_ratio
from graph.cycles import CycleSet, TokenIndex
from graph.search_kernels import chain_out_f, cycle_optimum_f
from graph.state import PoolTable

Q96 = 2**96
Edge = tuple[int, int, int]  # (pool id, token0 id, token1 id)
Hops = tuple[tuple[int, bool], ...]  # (pool id, zero_for_one)


def token_address(token_id: int) -> str:
    """Return a made-up token address for a token id."""
    return "0x" + f"{token_id + 1:040x}"


def pool_address(pool_id: int) -> str:
    """Return a made-up pool address for a pool id."""
    return "0x" + f"{0xF00000 + pool_id:040x}"


def random_edges(rng: random.Random, n_tokens: int, n_pools: int, core: int) -> list[Edge]:
    """Return n_pools pools over n_tokens tokens; most join the first `core` tokens.

    Parallel pools (one pair, several pools) happen by chance; the tokens beyond the core
    make a sparse fringe, so the graph is large but its cycles stay countable.
    """
    core = max(2, min(core, n_tokens))
    edges = []
    for pool_id in range(n_pools):
        hi = core if rng.random() < 0.8 else n_tokens
        a = rng.randrange(hi)
        b = rng.randrange(n_tokens if rng.random() < 0.3 else hi)
        while b == a:
            b = rng.randrange(n_tokens)
        edges.append((pool_id, a, b))
    return edges


def brute_cycles(edges: list[Edge], bases: list[int], max_hops: int) -> set[tuple[int, Hops]]:
    """Return every (base, hops) cycle by depth-first search from each base, in plain Python."""
    out_edges: dict[int, list[tuple[int, bool, int]]] = {}
    for pool, t0, t1 in edges:
        out_edges.setdefault(t0, []).append((pool, True, t1))
        out_edges.setdefault(t1, []).append((pool, False, t0))
    found: set[tuple[int, Hops]] = set()

    def walk(base: int, token: int, hops: list[tuple[int, bool]], seen: set[int]) -> None:
        for pool, zfo, nxt in out_edges.get(token, ()):
            if any(pool == p for p, _ in hops):
                continue
            if nxt == base:
                if len(hops) + 1 >= 2:
                    found.add((base, (*hops, (pool, zfo))))
                continue
            if nxt in seen or len(hops) + 1 >= max_hops:
                continue
            walk(base, nxt, [*hops, (pool, zfo)], seen | {nxt})

    for base in set(bases):
        walk(base, base, [], {base})
    return found


def cycle_set_of(cycles: CycleSet) -> list[tuple[int, Hops]]:
    """Return the cycles held, as (base, hops), in cycle id order."""
    return [(int(cycles.base[c]), cycles.cycle(c)) for c in range(cycles.n_cycles)]


# -- pool states ------------------------------------------------------------------------


@dataclass
class FakeSnapshot:
    """The shape `PoolTable.load_snapshot` reads."""

    block_number: int = 100
    block_hash: str = "0x" + "ab" * 32
    pools: list[tuple[int, str, str, int, int]] = field(default_factory=list)
    reserves: dict[int, tuple[int, int]] = field(default_factory=dict)
    v3_states: dict[int, V3PoolState] = field(default_factory=dict)


def wide_v3_state(sqrt_price_x96: int, liquidity: int, fee_pips: int, spacing: int = 60):
    """Return a V3 state whose only initialized ticks are the widest usable ones."""
    edge = (887272 // spacing) * spacing
    return V3PoolState(
        sqrt_price_x96=sqrt_price_x96,
        tick=get_tick_at_sqrt_ratio(sqrt_price_x96),
        liquidity=liquidity,
        fee_pips=fee_pips,
        tick_spacing=spacing,
        ticks={-edge: liquidity, edge: -liquidity},
        liquidity_gross={-edge: liquidity, edge: liquidity},
    )


def ticked_v3_state(
    rng: random.Random, sqrt_price_x96: int, liquidity: int, fee_pips: int, spacing: int = 10
) -> V3PoolState:
    """Return a V3 state with a full-range position and several narrow ones near the price."""
    tick = get_tick_at_sqrt_ratio(sqrt_price_x96)
    edge = (887272 // spacing) * spacing
    nets: dict[int, int] = {}
    gross: dict[int, int] = {}
    active = 0
    ranges = [(-edge, edge, liquidity // 4)]
    for _ in range(rng.randint(2, 6)):
        lower = (tick // spacing + rng.randint(-8, 3)) * spacing
        upper = lower + spacing * rng.randint(1, 8)
        ranges.append((lower, upper, rng.randint(liquidity // 10, liquidity)))
    for lower, upper, amount in ranges:
        nets[lower] = nets.get(lower, 0) + amount
        nets[upper] = nets.get(upper, 0) - amount
        gross[lower] = gross.get(lower, 0) + amount
        gross[upper] = gross.get(upper, 0) + amount
        if lower <= tick < upper:
            active += amount
    return V3PoolState(
        sqrt_price_x96=sqrt_price_x96,
        tick=tick,
        liquidity=active,
        fee_pips=fee_pips,
        tick_spacing=spacing,
        ticks=nets,
        liquidity_gross=gross,
    )


def sqrt_price_x96_of(price_1_per_0: float) -> int:
    """Return a sqrt_price_x96 near sqrt(price) (raw token1 per raw token0), inside tick range."""
    sqrt = int(price_1_per_0**0.5 * Q96)
    return max(get_sqrt_ratio_at_tick(-800000), min(sqrt, get_sqrt_ratio_at_tick(800000)))


def random_table(
    rng: random.Random,
    edges: list[Edge],
    *,
    n_tokens: int,
    v3_share: float = 0.0,
    ticked: bool = False,
    noise: float = 0.05,
    fees: tuple[int, ...] = (500, 3000, 10000),
) -> PoolTable:
    """Return a PoolTable holding the edges with random states near shared token prices.

    Every token has a price (log-uniform); each pool sits at the pair's price times a random
    factor within `noise`, so some cycles pay and most do not. V2 reserves are 1e9..1e24
    raw units; V3 pools are in range with wide ticks (or `ticked`: ticks near the price).
    """
    log_price = [rng.uniform(-6, 6) for _ in range(n_tokens)]
    snap = FakeSnapshot()
    for pool, t0, t1 in edges:
        price = 10 ** (log_price[t0] - log_price[t1]) * (1 + rng.uniform(-noise, noise))
        fee = rng.choice(fees)
        if rng.random() < v3_share:
            spacing = 10 if ticked else 60
            snap.pools.append((pool, pool_address(pool), "v3", fee, spacing))
            sqrt_price = sqrt_price_x96_of(price)
            liquidity = int(10 ** rng.uniform(12, 22))
            if ticked:
                snap.v3_states[pool] = ticked_v3_state(rng, sqrt_price, liquidity, fee, spacing)
            else:
                snap.v3_states[pool] = wide_v3_state(sqrt_price, liquidity, fee, spacing)
        else:
            snap.pools.append((pool, pool_address(pool), "v2", fee, 0))
            r0 = int(10 ** rng.uniform(9, 22))
            r1 = max(1, int(r0 * price))
            if r1 > 10**24 or r1 < 10**6:
                r1 = max(10**6, min(r1, 10**24))
            snap.reserves[pool] = (r0, r1)
    table = PoolTable()
    table.load_snapshot(snap)
    return table


def token_index(n_tokens: int) -> TokenIndex:
    """Return a TokenIndex whose ids are 0..n_tokens-1 in order."""
    return TokenIndex(token_address(t) for t in range(n_tokens))


# -- references -------------------------------------------------------------------------


def marginal_rate(table: PoolTable, pool: int, zfo: bool) -> Fraction:
    """Return the exact marginal rate after fee (token out per token in) at the pool's state."""
    row = table.row(pool)
    assert row is not None
    g = Fraction(1_000_000 - row.spec.fee_pips, 1_000_000)
    if row.reserves is not None:
        r0, r1 = row.reserves
        return g * (Fraction(r1, r0) if zfo else Fraction(r0, r1))
    assert row.v3 is not None
    price = Fraction(row.v3.sqrt_price_x96**2, Q96**2)
    return g * (price if zfo else 1 / price)


def cycle_rate(table: PoolTable, hops: Hops) -> Fraction:
    """Return the product of a loop's marginal rates after fees."""
    out = Fraction(1)
    for pool, zfo in hops:
        out *= marginal_rate(table, pool, zfo)
    return out


def kernel_args(cycles: CycleSet, view: object) -> tuple:
    """Return the arguments after `c` of cycle_optimum_f (chain_out_f takes amount_in last)."""
    csr = view.csr()  # type: ignore[attr-defined]
    return (
        cycles.pools,
        cycles.zero_for_one,
        cycles.length,
        view.kind,  # type: ignore[attr-defined]
        view.fee_pips,  # type: ignore[attr-defined]
        view.reserve0_f,  # type: ignore[attr-defined]
        view.reserve1_f,  # type: ignore[attr-defined]
        view.sqrt_price_f,  # type: ignore[attr-defined]
        view.liquidity_f,  # type: ignore[attr-defined]
        view.tick,  # type: ignore[attr-defined]
        csr.ticks,
        csr.liquidity_net,
        csr.sqrt_price_at_tick,
        csr.pool_tick_start,
    )


def optimum_f(cycles: CycleSet, view: object, c: int) -> tuple[float, float, int]:
    """Return cycle_optimum_f of cycle c on a view."""
    return cycle_optimum_f(c, *kernel_args(cycles, view))


def chain_f(cycles: CycleSet, view: object, c: int, amount_in: float) -> float:
    """Return chain_out_f's final output of selling amount_in along cycle c."""
    return float(chain_out_f(c, *kernel_args(cycles, view), float(amount_in))[0])


def cycle_ids(cycles: CycleSet) -> np.ndarray:
    """Return every cycle id."""
    return np.arange(cycles.n_cycles, dtype=np.int64)

"""Synthetic pool graphs for the search benchmark: a dense V2 graph and a mainnet-shaped one.

Both come as `SyntheticGraph`: token ids of each pool id, and a snapshot that
`graph.state.PoolTable.load_snapshot` loads (exact V2 reserves, V3 states with initialized
ticks). Every token has a price in wei per raw unit; pools quote it with a little noise, so
some cycles are profitable, as on a live chain between blocks.

`v2_dense_graph`: `n_tokens` tokens besides WETH, every pair of them joined by one V2 pool and
each joined to WETH by `weth_pools_per_token` parallel V2 pools, so the WETH-based 3-cycles
number n (n - 1) / 2 pairs x 2 directions x weth_pools_per_token**2.

`mainnet_graph`: five hubs (WETH, USDC, USDT, DAI, WBTC) joined to each other by several
venues and fee tiers; tail tokens with power-law degrees (most have one pool, a few hundreds),
each pool end joined to a hub with probability `hub_share`, else to another tail token;
repeated pairs become parallel pools on other venues; V2 and V3 mixed, each V3 pool with a few
nested positions around its price (2 initialized ticks each).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.tick_math import MAX_TICK, MIN_TICK

__all__ = [
    "HUBS",
    "SyntheticGraph",
    "SyntheticSnapshot",
    "mainnet_graph",
    "v2_dense_graph",
]

HUBS = ("WETH", "USDC", "USDT", "DAI", "WBTC")
# wei per raw unit at ETH = 3000 USD, BTC = 60000 USD (USDC/USDT 6 decimals, WBTC 8)
_HUB_PRICE_WEI = (1.0, 1e18 / 3000e6, 1e18 / 3000e6, 1.0 / 3000.0, 20e18 / 1e8)
# parallel pools of each hub pair (venues x fee tiers)
_HUB_PAIR_POOLS = {(0, 1): 12, (0, 2): 10, (1, 2): 10, (0, 3): 6, (0, 4): 6, (1, 3): 6}
_HUB_PAIR_POOLS_OTHER = 3
# venue slots a pair's k-th pool takes: (kind, fee_pips)
_VENUES = (
    ("v2", 3000),
    ("v3", 3000),
    ("v3", 500),
    ("v2", 3000),
    ("v3", 10_000),
    ("v3", 100),
    ("v2", 3000),
    ("v3", 3000),
)
_SPACING = {100: 1, 500: 10, 3000: 60, 10_000: 200}
_LOG_TICK = math.log(1.0001)
_BLOCK_HASH = "0x" + "ab" * 32


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticSnapshot:
    """What `PoolTable.load_snapshot` reads: pool specs, V2 reserves, V3 states."""

    block_number: int
    block_hash: str
    pools: tuple[tuple[int, str, str, int, int], ...]
    reserves: Mapping[int, tuple[int, int]]
    v3_states: Mapping[int, V3PoolState]


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticGraph:
    """Token ids of each pool id, the hubs' token ids, and the state snapshot."""

    n_tokens: int
    token0: np.ndarray  # int64[n_pools]
    token1: np.ndarray  # int64[n_pools]
    is_v3: np.ndarray  # bool[n_pools]
    hub_ids: Mapping[str, int]
    snapshot: SyntheticSnapshot

    @property
    def n_pools(self) -> int:
        """Return the number of pools."""
        return int(self.token0.shape[0])

    def token_degrees(self) -> np.ndarray:
        """Return int64[n_tokens]: pools per token."""
        return np.bincount(np.concatenate([self.token0, self.token1]), minlength=self.n_tokens)


class _Builder:
    """Accumulate pools with exact state priced off per-token prices (wei per raw unit)."""

    def __init__(self, price_wei: np.ndarray, rng: np.random.Generator, noise: float) -> None:
        self.price_wei = price_wei
        self.rng = rng
        self.noise = noise
        self.token0: list[int] = []
        self.token1: list[int] = []
        self.is_v3: list[bool] = []
        self.specs: list[tuple[int, str, str, int, int]] = []
        self.reserves: dict[int, tuple[int, int]] = {}
        self.v3_states: dict[int, V3PoolState] = {}

    def add(self, a: int, b: int, kind: str, fee_pips: int, depth_wei: float) -> int:
        """Add a pool of tokens a, b (sorted by id) holding `depth_wei` of value per side."""
        t0, t1 = min(a, b), max(a, b)
        pool_id = len(self.token0)
        self.token0.append(t0)
        self.token1.append(t1)
        self.is_v3.append(kind == "v3")
        # price of token0 in token1 raw units, off by a few basis points
        drift = math.exp(self.rng.normal(0.0, self.noise))
        price_1_per_0 = self.price_wei[t0] / self.price_wei[t1] * drift
        address = f"0x{pool_id:040x}"
        if kind == "v2":
            reserve0 = max(int(depth_wei / self.price_wei[t0]), 1000)
            reserve1 = max(int(reserve0 * price_1_per_0), 1000)
            self.specs.append((pool_id, address, "v2", fee_pips, 0))
            self.reserves[pool_id] = (reserve0, reserve1)
            return pool_id
        spacing = _SPACING[fee_pips]
        sqrt_price = math.sqrt(price_1_per_0)
        tick = math.floor(2.0 * math.log(sqrt_price) / _LOG_TICK)
        tick = min(max(tick, MIN_TICK + 1000 * spacing), MAX_TICK - 1000 * spacing)
        sqrt_price = math.exp(tick * _LOG_TICK / 2.0) * (1.0 + 2e-5)  # just above the tick
        # virtual token0 reserve L / s worth depth_wei
        liquidity = depth_wei * sqrt_price / self.price_wei[t0]
        lower_word = tick // spacing
        positions = int(self.rng.integers(2, 5))
        ticks: dict[int, int] = {}
        gross: dict[int, int] = {}
        share = max(int(liquidity / positions), 1)
        for j in range(positions):
            width = int(self.rng.integers(1, 6)) * (j + 1)
            lower = (lower_word - width) * spacing
            upper = (lower_word + 1 + width) * spacing
            ticks[lower] = ticks.get(lower, 0) + share
            ticks[upper] = ticks.get(upper, 0) - share
            gross[lower] = gross.get(lower, 0) + share
            gross[upper] = gross.get(upper, 0) + share
        self.specs.append((pool_id, address, "v3", fee_pips, spacing))
        self.v3_states[pool_id] = V3PoolState(
            sqrt_price_x96=int(sqrt_price * 2**96),
            tick=tick,
            liquidity=share * positions,
            fee_pips=fee_pips,
            tick_spacing=spacing,
            ticks={t: n for t, n in ticks.items() if gross[t] > 0},
            liquidity_gross=gross,
        )
        return pool_id

    def build(self, n_tokens: int, hub_ids: Mapping[str, int]) -> SyntheticGraph:
        """Return the graph of the pools added so far."""
        return SyntheticGraph(
            n_tokens=n_tokens,
            token0=np.array(self.token0, dtype=np.int64),
            token1=np.array(self.token1, dtype=np.int64),
            is_v3=np.array(self.is_v3, dtype=np.bool_),
            hub_ids=dict(hub_ids),
            snapshot=SyntheticSnapshot(
                block_number=1,
                block_hash=_BLOCK_HASH,
                pools=tuple(self.specs),
                reserves=self.reserves,
                v3_states=self.v3_states,
            ),
        )


def v2_dense_graph(
    n_tokens: int, *, weth_pools_per_token: int = 2, seed: int = 1, noise: float = 0.004
) -> SyntheticGraph:
    """Return WETH (token 0) and `n_tokens` tokens, all pairs joined by V2 pools (see module)."""
    rng = np.random.default_rng(seed)
    price_wei = np.concatenate([[1.0], 10.0 ** rng.uniform(-6.0, 6.0, n_tokens)])
    builder = _Builder(price_wei, rng, noise)
    for token in range(1, n_tokens + 1):
        for _ in range(weth_pools_per_token):
            builder.add(0, token, "v2", 3000, 10.0 ** rng.uniform(19.0, 22.0))
    for a in range(1, n_tokens + 1):
        for b in range(a + 1, n_tokens + 1):
            builder.add(a, b, "v2", 3000, 10.0 ** rng.uniform(18.0, 21.0))
    return builder.build(n_tokens + 1, {"WETH": 0})


def mainnet_graph(
    n_pools: int,
    *,
    seed: int = 1,
    hub_share: float = 0.85,
    max_degree: int = 300,
    max_parallel: int = 6,
    v3_share: float = 0.45,
    noise: float = 0.002,
) -> SyntheticGraph:
    """Return a graph of about `n_pools` pools shaped like Ethereum mainnet (see module)."""
    rng = np.random.default_rng(seed)
    hub_weights = np.array([0.60, 0.20, 0.10, 0.05, 0.05])
    # tail degrees: a discrete power law (P(d >= k) ~ k^-1.3), capped; stubs = pool ends
    n_hub_pools = sum(_HUB_PAIR_POOLS.get(p, _HUB_PAIR_POOLS_OTHER) for p in _hub_pairs())
    target_stubs = int((n_pools - n_hub_pools) * (2.0 - hub_share))
    degrees: list[int] = []
    total = 0
    while total < target_stubs:
        d = min(int(rng.pareto(1.3) + 1.0), max_degree)
        degrees.append(d)
        total += d
    n_tail = len(degrees)
    n_tokens = len(HUBS) + n_tail
    price_wei = np.concatenate([_HUB_PRICE_WEI, 10.0 ** rng.uniform(-6.0, 6.0, n_tail)])
    builder = _Builder(price_wei, rng, noise)
    for a, b in _hub_pairs():
        for k in range(_HUB_PAIR_POOLS.get((a, b), _HUB_PAIR_POOLS_OTHER)):
            kind, fee = _VENUES[k % len(_VENUES)]
            builder.add(a, b, kind, fee, 10.0 ** rng.uniform(22.0, 23.5))
    stubs = np.repeat(np.arange(len(HUBS), n_tokens), degrees)
    rng.shuffle(stubs)
    pair_count: dict[tuple[int, int], int] = {}
    i = 0
    while i < stubs.shape[0] and len(builder.token0) < n_pools:
        a = int(stubs[i])
        i += 1
        if rng.random() < hub_share or i >= stubs.shape[0]:
            b = int(rng.choice(len(HUBS), p=hub_weights))
        else:
            b = int(stubs[i])
            i += 1
            if b == a:
                b = int(rng.choice(len(HUBS), p=hub_weights))
        pair = (min(a, b), max(a, b))
        k = pair_count.get(pair, 0)
        if k >= max_parallel:  # a saturated pair: join another tail token instead
            b = int(stubs[rng.integers(stubs.shape[0])])
            if b == a:
                continue
            pair = (min(a, b), max(a, b))
            k = pair_count.get(pair, 0)
        pair_count[pair] = k + 1
        kind, fee = _VENUES[k % len(_VENUES)]
        if k == 0 and rng.random() < v3_share - 0.1:  # a pair's first pool is V3 at times
            kind, fee = "v3", int(rng.choice([500, 3000, 10_000]))
        depth = 10.0 ** rng.uniform(18.0, 21.5 if b < len(HUBS) else 20.0)
        builder.add(a, b, kind, fee, depth)
    return builder.build(n_tokens, {name: i for i, name in enumerate(HUBS)})


def _hub_pairs() -> list[tuple[int, int]]:
    return [(a, b) for a in range(len(HUBS)) for b in range(a + 1, len(HUBS))]

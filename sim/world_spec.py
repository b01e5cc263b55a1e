"""The world specification: tokens, pools and positions of the local world, read from TOML."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from chains.toml_reader import ConfigError, TomlTable, read_toml

__all__ = [
    "PoolSpec",
    "PositionSpec",
    "TokenSpec",
    "WorldSpec",
    "load_world_spec",
]

V3_TICK_SPACING_BY_FEE_PIPS = {100: 1, 500: 10, 3000: 60, 10000: 200}


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSpec:
    """A test token: symbol, decimals and its value in ETH per whole token."""

    symbol: str
    decimals: int
    price_eth: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionSpec:
    """A V3 position relative to a pool's price, in tick spacings, with its share of depth."""

    lower_spacings: int
    upper_spacings: int
    share: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSpec:
    """One pool to create: venue, the two token symbols, fee tier, depth and price skew."""

    venue: str
    tokens: tuple[str, str]
    fee_pips: int | None
    depth_eth: float
    skew_bps: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldSpec:
    """Everything that determines a world; the same spec and seed give the same world."""

    path: Path
    sha256: str
    seed: int
    chain_id: int
    users: int
    user_eth: float
    user_token_value_eth: float
    max_skew_bps: int
    v2_venues: tuple[str, ...]
    v3_venue: str
    tokens: tuple[TokenSpec, ...]
    v3_positions: tuple[PositionSpec, ...]
    pools: tuple[PoolSpec, ...]

    def token(self, symbol: str) -> TokenSpec:
        """Return the token with this symbol (WETH included)."""
        for token in self.tokens:
            if token.symbol == symbol:
                return token
        raise KeyError(symbol)


WETH = TokenSpec(symbol="WETH", decimals=18, price_eth=1.0)


def _token(table: TomlTable) -> TokenSpec:
    token = TokenSpec(
        symbol=table.req_str("symbol"),
        decimals=table.req_int("decimals", min=0, max=36),
        price_eth=table.req_float("price_eth"),
    )
    if token.price_eth <= 0:
        raise table.error("price_eth", "must be > 0")
    table.finish()
    return token


def _position(table: TomlTable) -> PositionSpec:
    position = PositionSpec(
        lower_spacings=table.req_int("lower", min=-10_000, max=10_000),
        upper_spacings=table.req_int("upper", min=-10_000, max=10_000),
        share=table.req_float("share"),
    )
    if position.lower_spacings >= position.upper_spacings:
        raise table.error("lower", "must be below upper")
    if not 0 < position.share <= 1:
        raise table.error("share", "must be in (0, 1]")
    table.finish()
    return position


def _pool(table: TomlTable, spec_venues: tuple[tuple[str, ...], str]) -> PoolSpec:
    v2_venues, v3_venue = spec_venues
    venue = table.req_str("venue")
    tokens = table.req_str_list("tokens")
    fee_pips = table.opt_int("fee_pips", None)
    pool = PoolSpec(
        venue=venue,
        tokens=(tokens[0], tokens[1]) if len(tokens) == 2 else ("", ""),
        fee_pips=fee_pips,
        depth_eth=table.req_float("depth_eth"),
        skew_bps=table.opt_int("skew_bps", None, min=-5000, max=5000),
    )
    if len(tokens) != 2 or tokens[0] == tokens[1]:
        raise table.error("tokens", "must name two different tokens")
    if venue == v3_venue:
        if fee_pips not in V3_TICK_SPACING_BY_FEE_PIPS:
            raise table.error(
                "fee_pips",
                f"V3 pools need a fee tier in {sorted(V3_TICK_SPACING_BY_FEE_PIPS)}",
            )
    elif venue in v2_venues:
        if fee_pips is not None:
            raise table.error("fee_pips", "V2 pairs have a fixed fee")
    else:
        raise table.error("venue", f"unknown venue {venue!r}: not in v2_venues/v3_venue")
    if pool.depth_eth <= 0:
        raise table.error("depth_eth", "must be > 0")
    table.finish()
    return pool


def load_world_spec(path: Path) -> WorldSpec:
    """Read and validate a world spec; errors name the file and the key."""
    path = Path(path)
    root = read_toml(path)
    v2_venues = tuple(root.req_str_list("v2_venues"))
    v3_venue = root.req_str("v3_venue")
    if not v2_venues or len(set(v2_venues)) != len(v2_venues) or v3_venue in v2_venues:
        raise ConfigError(path, "v2_venues", "must be distinct names, none equal to v3_venue")
    tokens = (WETH, *(_token(t) for t in root.tables("tokens")))
    symbols = [t.symbol for t in tokens]
    if len(set(symbols)) != len(symbols):
        raise ConfigError(path, "tokens", "token symbols must be unique (WETH is implicit)")
    spec = WorldSpec(
        path=path.resolve(),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        seed=root.req_int("seed", min=0),
        chain_id=root.req_int("chain_id", min=1),
        users=root.req_int("users", min=1, max=256),
        user_eth=root.req_float("user_eth", min=0.0),
        user_token_value_eth=root.req_float("user_token_value_eth", min=0.0),
        max_skew_bps=root.req_int("max_skew_bps", min=0, max=5000),
        v2_venues=v2_venues,
        v3_venue=v3_venue,
        tokens=tokens,
        v3_positions=tuple(_position(t) for t in root.tables("v3_positions")),
        pools=tuple(_pool(t, (v2_venues, v3_venue)) for t in root.tables("pools")),
    )
    root.finish()
    if not spec.v3_positions and any(p.venue == v3_venue for p in spec.pools):
        raise ConfigError(path, "v3_positions", "V3 pools need at least one position")
    seen: set[tuple[str, frozenset[str], int | None]] = set()
    for i, pool in enumerate(spec.pools):
        for symbol in pool.tokens:
            if symbol not in symbols:
                raise ConfigError(path, f"pools[{i}].tokens", f"unknown token {symbol!r}")
        key = (pool.venue, frozenset(pool.tokens), pool.fee_pips)
        if key in seen:
            raise ConfigError(path, f"pools[{i}]", "the same pool is listed twice")
        seen.add(key)
    return spec

"""Chain facts: ``configs/chains/<chain>.toml`` loaded into a frozen ``ChainConfig``.

A chain file names the venues (factories, pair/pool init code hashes, fee rules), the
routers whose pending transactions are decoded, and the EIP-1559 parameters. The local
world's addresses are not known until it is deployed: they are left out of the file and
filled in from the world manifest by ``resolve_with_manifest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chains.toml_reader import TomlTable, read_toml, refuse_secret_keys

__all__ = [
    "MANIFEST_FORMAT",
    "ROUTER_KINDS",
    "VENUE_KINDS",
    "ChainConfig",
    "Eip1559Params",
    "FeeTier",
    "RouterConfig",
    "VenueConfig",
    "load_chain_config",
    "resolve_with_manifest",
]

VENUE_KINDS = frozenset({"v2", "v3"})
ROUTER_KINDS = frozenset({"v2_router02", "swap_router", "swap_router02", "universal_router"})
MANIFEST_FORMAT = 1

# Fees are in millionths; UniswapV3Factory.enableFeeAmount requires fee < 1_000_000.
_FEE_PIPS_LIMIT = 1_000_000
# UniswapV3Factory.enableFeeAmount requires 0 < tickSpacing < 16384.
_MAX_TICK_SPACING = 16_383
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_\-]*")


@dataclass(frozen=True, slots=True, kw_only=True)
class Eip1559Params:
    """EIP-1559 base fee rule: the per-block change bound and the gas target ratio."""

    base_fee_max_change_denominator: int
    elasticity_multiplier: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeTier:
    """One concentrated-liquidity fee tier and the tick spacing its factory enables."""

    fee_pips: int
    tick_spacing: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueConfig:
    """One AMM deployment: a factory whose pools are CREATE2-provable with ``init_code_hash``.

    A "v2" venue has one pair fee ``fee_pips`` and no tiers; a "v3" venue has ``fee_tiers``
    and ``fee_pips`` None. ``factory`` is None until resolved from the world manifest.
    """

    name: str
    kind: str
    factory: str | None
    init_code_hash: bytes
    fee_pips: int | None
    fee_tiers: tuple[FeeTier, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterConfig:
    """A router contract whose pending transactions are decoded."""

    name: str
    kind: str
    address: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainConfig:
    """Facts about one chain: id, core contracts, fee rule, venues and routers."""

    name: str
    chain_id: int
    wrapped_native: str | None
    multicall3: str
    block_time_s: float
    eip1559: Eip1559Params
    venues: tuple[VenueConfig, ...]
    routers: tuple[RouterConfig, ...]

    def venue(self, name: str) -> VenueConfig:
        """Return the venue called ``name``; KeyError lists the known names."""
        for venue in self.venues:
            if venue.name == name:
                return venue
        known = ", ".join(v.name for v in self.venues)
        raise KeyError(f"no venue {name!r} on chain {self.name!r} (known: {known})")


def load_chain_config(path: Path) -> ChainConfig:
    """Load and validate a chain file; every error names the file and the dotted key."""
    root = read_toml(path)
    refuse_secret_keys(root)
    name = root.req_str("name")
    if _NAME_RE.fullmatch(name) is None:
        raise root.error("name", f"must be lowercase letters, digits, '_' or '-': {name!r}")
    chain_id = root.req_int("chain_id", min=1)
    wrapped_native = root.opt_address("wrapped_native")
    multicall3 = root.req_address("multicall3")
    block_time_s = root.req_float("block_time_s")
    if block_time_s <= 0:
        raise root.error("block_time_s", f"must be > 0; found {block_time_s}")
    eip1559 = _read_eip1559(root.table("eip1559"))
    venues = tuple(_read_venue(t) for t in root.tables("venues"))
    if not venues:
        raise root.error("venues", "at least one venue is required")
    _check_unique(root, "venues", [v.name for v in venues])
    routers = tuple(_read_router(t) for t in root.opt_tables("routers"))
    _check_unique(root, "routers", [r.name for r in routers])
    root.finish()
    return ChainConfig(
        name=name,
        chain_id=chain_id,
        wrapped_native=wrapped_native,
        multicall3=multicall3,
        block_time_s=block_time_s,
        eip1559=eip1559,
        venues=venues,
        routers=routers,
    )


def _read_eip1559(table: TomlTable) -> Eip1559Params:
    return Eip1559Params(
        base_fee_max_change_denominator=table.req_int("base_fee_max_change_denominator", min=1),
        elasticity_multiplier=table.req_int("elasticity_multiplier", min=1),
    )


def _read_venue(table: TomlTable) -> VenueConfig:
    name = table.req_str("name")
    if _NAME_RE.fullmatch(name) is None:
        raise table.error("name", f"must be lowercase letters, digits, '_' or '-': {name!r}")
    kind = table.req_str("kind", choices=VENUE_KINDS)
    factory = table.opt_address("factory")
    init_code_hash = table.req_hash32("init_code_hash")
    if kind == "v2":
        if "fee_tiers" in table:
            raise table.error("fee_tiers", "a v2 venue has one fee_pips, not fee_tiers")
        fee_pips = table.req_int("fee_pips", min=1, max=_FEE_PIPS_LIMIT - 1)
        fee_tiers: tuple[FeeTier, ...] = ()
    else:
        if "fee_pips" in table:
            raise table.error("fee_pips", "a v3 venue has fee_tiers, not fee_pips")
        fee_tiers = tuple(_read_fee_tier(t) for t in table.tables("fee_tiers"))
        if not fee_tiers:
            raise table.error("fee_tiers", "a v3 venue needs at least one fee tier")
        fees = [t.fee_pips for t in fee_tiers]
        if len(set(fees)) != len(fees):
            raise table.error("fee_tiers", f"fee_pips repeated among tiers: {fees}")
        fee_pips = None
    return VenueConfig(
        name=name,
        kind=kind,
        factory=factory,
        init_code_hash=init_code_hash,
        fee_pips=fee_pips,
        fee_tiers=fee_tiers,
    )


def _read_fee_tier(table: TomlTable) -> FeeTier:
    return FeeTier(
        fee_pips=table.req_int("fee_pips", min=0, max=_FEE_PIPS_LIMIT - 1),
        tick_spacing=table.req_int("tick_spacing", min=1, max=_MAX_TICK_SPACING),
    )


def _read_router(table: TomlTable) -> RouterConfig:
    return RouterConfig(
        name=table.req_str("name"),
        kind=table.req_str("kind", choices=ROUTER_KINDS),
        address=table.req_address("address"),
    )


def _check_unique(table: TomlTable, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise table.error(f"{key}[{index}].name", f"duplicate name {name!r}")
        seen.add(name)


def resolve_with_manifest(
    chain: ChainConfig, manifest: dict[str, Any], *, path: Path | None = None
) -> ChainConfig:
    """Fill the world's addresses (WETH, factories, routers) from a deployed world manifest.

    ``path`` names the manifest file in errors. Addresses the chain file already sets must
    agree with the manifest; the manifest's ``contracts.multicall3``, when present, replaces
    the chain file's (the local world deploys its own).
    """
    root = TomlTable(manifest, path=path if path is not None else Path("<manifest>"))
    fmt = root.req_int("format")
    if fmt != MANIFEST_FORMAT:
        raise root.error("format", f"unsupported manifest format {fmt} (expected 1)")
    chain_id = root.req_int("chain_id")
    if chain_id != chain.chain_id:
        raise root.error(
            "chain_id",
            f"manifest is for chain {chain_id}, chain {chain.name!r} is {chain.chain_id}",
        )
    contracts = root.table("contracts")
    weth = contracts.req_address("weth")
    if chain.wrapped_native is not None and chain.wrapped_native != weth:
        raise contracts.error("weth", f"differs from the chain file's {chain.wrapped_native}")
    multicall3 = (
        contracts.req_address("multicall3") if "multicall3" in contracts else chain.multicall3
    )

    manifest_venues = root.table("venues")
    venues = []
    for venue in chain.venues:
        if venue.name not in manifest_venues:
            raise manifest_venues.error(venue.name, "venue of the chain file missing")
        entry = manifest_venues.table(venue.name)
        kind = entry.opt_str("kind")
        if kind is not None and kind != venue.kind:
            raise entry.error("kind", f"{kind!r} differs from the chain file's {venue.kind!r}")
        factory = entry.req_address("factory")
        if venue.factory is not None and venue.factory != factory:
            raise entry.error("factory", f"differs from the chain file's {venue.factory}")
        venues.append(replace(venue, factory=factory))

    routers = list(chain.routers)
    by_name = {r.name: r for r in routers}
    for table in root.opt_tables("routers"):
        router = _read_router(table)
        known = by_name.get(router.name)
        if known is None:
            routers.append(router)
            by_name[router.name] = router
        elif known != router:
            raise table.error("name", f"router {router.name!r} differs from {known}")
    return replace(
        chain,
        wrapped_native=weth,
        multicall3=multicall3,
        venues=tuple(venues),
        routers=tuple(routers),
    )

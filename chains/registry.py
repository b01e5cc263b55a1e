"""The pool registry: CREATE2-proven pools of the configured venues and the ids they go by.

Every record and every array indexes pools by the id assigned here. A pool is admitted only
when its address equals the CREATE2 address derived from its venue's factory, its sorted
tokens, its fee (V3) and the venue's init code hash: a contract that merely emits pool events,
or a factory that is not configured, never gets an id.

Id rules:

- Ids are dense from 0 and never reused; a known address keeps its id (``add`` of the same
  pool again returns the existing entry).
- Every proven pool gets an id, whatever its liquidity. The minimum-liquidity filter only
  flips ``tracked`` (state and search skip untracked pools), so ids never depend on liquidity
  or on when the filter ran, and they stay stable across restarts.
- Order: discovery from factory events adds pools in (block, log index) order; the local
  world's bootstrap (``registry_from_manifest``) uses the manifest's pool order; the mainnet
  log bootstrap (``chains.registry_discovery.registry_from_logs``) uses first appearance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_utils import to_checksum_address

from chains.config_chain import ChainConfig, VenueConfig, resolve_with_manifest
from chains.create2 import sort_tokens, v2_pair_address, v3_pool_address
from chains.records import Kind

__all__ = [
    "PoolInfo",
    "ProofError",
    "Registry",
    "registry_from_manifest",
]


class ProofError(ValueError):
    """A pool's address is not the CREATE2 address of its venue, tokens and fee."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolInfo:
    """One registered pool; ``tick_spacing`` is 0 for V2, ``tracked`` False below the filter.

    ``created_block`` is the block of the creation event; for pools recognised from their own
    logs (no creation event at hand) it is the first block they were seen in.
    """

    pool_id: int
    address: str
    venue: str
    kind: str
    token0: str
    token1: str
    fee_pips: int
    tick_spacing: int
    created_block: int
    tracked: bool = True

    def to_json(self) -> dict[str, Any]:
        """Return the pool as a JSON-able dict (the registry cache's row)."""
        return {
            "pool_id": self.pool_id,
            "address": self.address,
            "venue": self.venue,
            "kind": self.kind,
            "token0": self.token0,
            "token1": self.token1,
            "fee_pips": self.fee_pips,
            "tick_spacing": self.tick_spacing,
            "created_block": self.created_block,
            "tracked": self.tracked,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PoolInfo:
        """Build a pool from its JSON dict (unknown keys refused)."""
        return cls(**dict(data))


class Registry:
    """Pools of a chain's venues, each CREATE2-proven, indexed by dense stable ids."""

    def __init__(self, chain: ChainConfig) -> None:
        unresolved = [v.name for v in chain.venues if v.factory is None]
        if unresolved:
            raise ValueError(
                f"venues {unresolved} of chain {chain.name!r} have no factory address; "
                "resolve the chain config with the world manifest first"
            )
        self.chain = chain
        self._venues = {v.name: v for v in chain.venues}
        self._factories = {_key(v.factory): v for v in chain.venues if v.factory is not None}
        self._pools: list[PoolInfo] = []
        self._by_address: dict[str, int] = {}

    # -- reading ------------------------------------------------------------------------

    @property
    def pools(self) -> tuple[PoolInfo, ...]:
        """Return every pool in id order."""
        return tuple(self._pools)

    @property
    def factories(self) -> dict[str, str]:
        """Return checksummed factory address -> venue name."""
        return {v.factory: v.name for v in self._venues.values() if v.factory is not None}

    def __len__(self) -> int:
        return len(self._pools)

    def by_address(self, address: str) -> PoolInfo | None:
        """Return the pool at this address (any case), or None."""
        pool_id = self._by_address.get(_key(address))
        return None if pool_id is None else self._pools[pool_id]

    def by_id(self, pool_id: int) -> PoolInfo:
        """Return the pool with this id; IndexError if there is none."""
        if not 0 <= pool_id < len(self._pools):
            raise IndexError(f"no pool id {pool_id} (registry holds {len(self._pools)})")
        return self._pools[pool_id]

    def venue(self, name: str) -> VenueConfig:
        """Return the configured venue called ``name``."""
        return self.chain.venue(name)

    def venue_of_factory(self, factory: str) -> VenueConfig | None:
        """Return the venue whose factory is at this address, or None."""
        return self._factories.get(_key(factory))

    def pool_id_of(
        self, venue: str, token_a: str, token_b: str, fee_pips: int | None
    ) -> int | None:
        """Return the id of a venue's pool of two tokens (and fee), or None if not registered."""
        try:
            address = self.prove(venue, token_a, token_b, fee_pips)
        except (KeyError, ValueError):
            return None
        info = self.by_address(address)
        return None if info is None else info.pool_id

    def tracked_ids(self) -> tuple[int, ...]:
        """Return the ids of pools that passed the liquidity filter."""
        return tuple(p.pool_id for p in self._pools if p.tracked)

    # -- proving ------------------------------------------------------------------------

    def prove(self, venue: str, token_a: str, token_b: str, fee_pips: int | None = None) -> str:
        """Return the checksummed CREATE2 address of this venue's pool of two tokens (and fee)."""
        config = self.chain.venue(venue)
        assert config.factory is not None  # checked in __init__
        if config.kind == "v2":
            if fee_pips is not None and fee_pips != config.fee_pips:
                raise ValueError(f"{venue}: pairs have fee {config.fee_pips} pips, not {fee_pips}")
            return v2_pair_address(config.factory, token_a, token_b, config.init_code_hash)
        if fee_pips is None:
            raise ValueError(f"{venue}: a v3 pool needs fee_pips")
        _tick_spacing(config, fee_pips)
        return v3_pool_address(config.factory, token_a, token_b, fee_pips, config.init_code_hash)

    # -- admitting ----------------------------------------------------------------------

    def add(
        self,
        venue: str,
        token_a: str,
        token_b: str,
        fee_pips: int | None,
        created_block: int,
        *,
        address: str | None = None,
        tracked: bool = True,
    ) -> PoolInfo:
        """Admit a pool under the next id (or return its entry if known); ProofError if spoofed."""
        proven = self.prove(venue, token_a, token_b, fee_pips)
        if address is not None and _key(address) != _key(proven):
            raise ProofError(
                f"{address} is not the {venue} pool of {token_a}/{token_b}"
                f"{'' if fee_pips is None else f' fee {fee_pips}'}: CREATE2 gives {proven}"
            )
        known = self.by_address(proven)
        if known is not None:
            return known
        config = self.chain.venue(venue)
        token0, token1 = sort_tokens(to_checksum_address(token_a), to_checksum_address(token_b))
        if config.kind == "v2":
            assert config.fee_pips is not None
            fee, spacing = config.fee_pips, 0
        else:
            assert fee_pips is not None
            fee, spacing = fee_pips, _tick_spacing(config, fee_pips)
        info = PoolInfo(
            pool_id=len(self._pools),
            address=proven,
            venue=venue,
            kind=config.kind,
            token0=token0,
            token1=token1,
            fee_pips=fee,
            tick_spacing=spacing,
            created_block=created_block,
            tracked=tracked,
        )
        self._pools.append(info)
        self._by_address[_key(proven)] = info.pool_id
        return info

    def on_created(
        self,
        kind: Kind | int,
        factory: str,
        token0: str,
        token1: str,
        fee_pips: int | None,
        tick_spacing: int,
        pool_address: str,
        block: int,
    ) -> PoolInfo | None:
        """Admit the pool of a PairCreated/PoolCreated event; None if not a proven venue pool."""
        venue = self.venue_of_factory(factory)
        if venue is None:
            return None
        if kind == Kind.PAIR_CREATED:
            if venue.kind != "v2":
                return None
            fee = None
        elif kind == Kind.POOL_CREATED:
            if venue.kind != "v3" or fee_pips is None:
                return None
            tiers = {t.fee_pips: t.tick_spacing for t in venue.fee_tiers}
            # a tier enabled on chain but not configured is not ours to trade
            if tiers.get(fee_pips) != tick_spacing:
                return None
            fee = fee_pips
        else:
            raise ValueError(f"not a creation kind: {kind!r}")
        try:
            return self.add(venue.name, token0, token1, fee, block, address=pool_address)
        except ValueError:
            # ProofError (a spoofed address), or identical tokens, which no factory creates
            return None

    def set_tracked(self, pool_id: int, tracked: bool) -> PoolInfo:
        """Mark a pool tracked or not (the liquidity filter's verdict); return its new entry."""
        info = replace(self.by_id(pool_id), tracked=tracked)
        self._pools[pool_id] = info
        return info

    def restore(self, pools: Iterable[PoolInfo]) -> None:
        """Re-admit cached pools in id order, proving each again (ids must continue densely)."""
        for info in pools:
            if info.pool_id != len(self._pools):
                raise ValueError(f"cached pool id {info.pool_id}, expected {len(self._pools)}")
            again = self.add(
                info.venue,
                info.token0,
                info.token1,
                info.fee_pips,
                info.created_block,
                address=info.address,
                tracked=info.tracked,
            )
            if again != info:
                raise ValueError(f"cached pool differs from its proof: {info} vs {again}")


def _tick_spacing(venue: VenueConfig, fee_pips: int) -> int:
    for tier in venue.fee_tiers:
        if tier.fee_pips == fee_pips:
            return tier.tick_spacing
    fees = [t.fee_pips for t in venue.fee_tiers]
    raise ValueError(f"{venue.name}: fee {fee_pips} pips is not a configured tier {fees}")


def _key(address: str) -> str:
    return address.lower()


def registry_from_manifest(chain: ChainConfig, manifest: Any) -> Registry:
    """Build the local world's registry: ids in manifest pool order, each pool proven.

    ``manifest`` is a world manifest (an object with ``to_json()`` and ``pools``, or its JSON
    dict). A chain config whose factories are unset is resolved with it first.
    """
    data: Mapping[str, Any] = manifest.to_json() if hasattr(manifest, "to_json") else manifest
    if any(v.factory is None for v in chain.venues):
        chain = resolve_with_manifest(chain, dict(data))
    registry = Registry(chain)
    pools: Sequence[Mapping[str, Any]] = data["pools"]
    for entry in pools:
        info = registry.add(
            entry["venue"],
            entry["token0"],
            entry["token1"],
            int(entry["fee_pips"]),
            int(entry["created_block"]),
            address=entry["address"],
        )
        if info.pool_id != len(registry) - 1:
            raise ValueError(f"manifest lists pool {entry['address']} twice")
        if info.tick_spacing != int(entry["tick_spacing"]):
            raise ValueError(f"{entry['address']}: tick spacing differs from the venue's tier")
    return registry

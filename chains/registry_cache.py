"""The registry's disk cache, so a restart resumes discovery instead of rescanning the chain.

One JSON file per chain id (``<cache dir>/registry-<chain id>.json``) holds the chain's
genesis hash, a fingerprint of the venues (factories and init code hashes), the last scanned
block with its hash, and every pool in id order (with its ``tracked`` flag). It is written
atomically after every scanned chunk.

Resuming (``sync_registry``):

- no cache, another genesis or other venues: start afresh from ``start_block``;
- the cached last block still has the cached hash: scan from last + 1;
- it does not (a reorg, or a node that is behind): keep every cached pool and its id, and
  rescan from ``last - reorg_depth``. A pool's address is fixed by CREATE2, so a pool whose
  creation was reorged away keeps its id; it has no code, so the liquidity filter, run again
  on every pool created after the safe block, marks it untracked. Ids are never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chains.config_chain import ChainConfig
from chains.registry import PoolInfo, Registry
from chains.registry_discovery import (
    DEFAULT_STEP,
    DiscoveryResult,
    LiquidityFilter,
    RpcLike,
    apply_liquidity_filter,
    discover,
)

__all__ = [
    "CACHE_FORMAT",
    "DEFAULT_REORG_DEPTH",
    "RegistryCache",
    "SyncResult",
    "cache_path",
    "load_cache",
    "save_cache",
    "sync_registry",
    "venues_fingerprint",
]

CACHE_FORMAT = 1
# Ethereum finalizes after two epochs (64 blocks); a deeper reorg is not expected.
DEFAULT_REORG_DEPTH = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryCache:
    """A registry as saved: where scanning stopped and the pools found so far."""

    chain_id: int
    genesis_hash: str
    venues_fingerprint: str
    last_block: int
    last_block_hash: str
    pools: tuple[PoolInfo, ...]

    def to_json(self) -> dict[str, Any]:
        """Return the cache as a JSON-able dict."""
        return {
            "format": CACHE_FORMAT,
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "venues_fingerprint": self.venues_fingerprint,
            "last_block": self.last_block,
            "last_block_hash": self.last_block_hash,
            "pools": [p.to_json() for p in self.pools],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    """The registry after a sync, where the scan began and ended, and why it began there."""

    registry: Registry
    scanned_from: int
    scanned_to: int
    resumed: bool
    rescanned: bool
    discovery: DiscoveryResult


def cache_path(cache_dir: Path, chain_id: int) -> Path:
    """Return the cache file of one chain."""
    return Path(cache_dir) / f"registry-{chain_id}.json"


def venues_fingerprint(chain: ChainConfig) -> str:
    """Return a hash of what proves pools (venue names, kinds, factories, hashes, fee tiers)."""
    parts = []
    for v in sorted(chain.venues, key=lambda v: v.name):
        tiers = ",".join(f"{t.fee_pips}/{t.tick_spacing}" for t in v.fee_tiers)
        parts.append(
            f"{v.name}:{v.kind}:{(v.factory or '').lower()}:{v.init_code_hash.hex()}:"
            f"{v.fee_pips}:{tiers}"
        )
    return hashlib.sha256(";".join(parts).encode()).hexdigest()


def save_cache(path: Path, cache: RegistryCache) -> None:
    """Write the cache atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(cache.to_json(), indent=1) + "\n")
    os.replace(tmp, path)


def load_cache(path: Path) -> RegistryCache | None:
    """Read a cache file; None if there is none. A malformed file raises ValueError."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("format") != CACHE_FORMAT:
        raise ValueError(f"{path}: registry cache format {data.get('format')!r}")
    return RegistryCache(
        chain_id=int(data["chain_id"]),
        genesis_hash=str(data["genesis_hash"]),
        venues_fingerprint=str(data["venues_fingerprint"]),
        last_block=int(data["last_block"]),
        last_block_hash=str(data["last_block_hash"]),
        pools=tuple(PoolInfo.from_json(p) for p in data["pools"]),
    )


def sync_registry(
    rpc: RpcLike,
    chain: ChainConfig,
    cache_dir: Path,
    *,
    start_block: int,
    to_block: int | None = None,
    step: int = DEFAULT_STEP,
    liquidity: LiquidityFilter | None = None,
    reorg_depth: int = DEFAULT_REORG_DEPTH,
) -> SyncResult:
    """Load the cached registry, scan the blocks it has not seen up to to_block, save it.

    ``start_block`` is where a fresh scan begins (the factories' deployment); ``to_block``
    defaults to the node's latest block. Liquidity is read at ``to_block``.
    """
    path = cache_path(cache_dir, chain.chain_id)
    head = _block_number(rpc) if to_block is None else to_block
    genesis = _block_hash(rpc, 0)
    fingerprint = venues_fingerprint(chain)
    registry = Registry(chain)
    cached = load_cache(path)
    resumed = rescanned = False
    scan_from = start_block
    if (
        cached is not None
        and cached.chain_id == chain.chain_id
        and cached.genesis_hash == genesis
        and cached.venues_fingerprint == fingerprint
    ):
        registry.restore(cached.pools)
        resumed = True
        if _block_hash(rpc, cached.last_block) == cached.last_block_hash:
            scan_from = cached.last_block + 1
        else:
            rescanned = True
            scan_from = max(start_block, min(cached.last_block, head) - reorg_depth)
            if liquidity is not None:
                after = [p.pool_id for p in registry.pools if p.created_block >= scan_from]
                apply_liquidity_filter(rpc, registry, after, liquidity, hex(head))

    def checkpoint(last: int) -> None:
        save_cache(
            path,
            RegistryCache(
                chain_id=chain.chain_id,
                genesis_hash=genesis,
                venues_fingerprint=fingerprint,
                last_block=last,
                last_block_hash=_block_hash(rpc, last),
                pools=registry.pools,
            ),
        )

    discovery = discover(
        rpc,
        registry,
        scan_from,
        head,
        step=step,
        liquidity=liquidity,
        block_tag=hex(head),
        checkpoint=checkpoint,
    )
    return SyncResult(
        registry=registry,
        scanned_from=scan_from,
        scanned_to=head,
        resumed=resumed,
        rescanned=rescanned,
        discovery=discovery,
    )


def _block_number(rpc: RpcLike) -> int:
    return int(rpc.call("eth_blockNumber"), 16)


def _block_hash(rpc: RpcLike, number: int) -> str | None:
    block: dict[str, Any] | None = rpc.call("eth_getBlockByNumber", hex(number), False)
    return None if block is None else str(block["hash"])

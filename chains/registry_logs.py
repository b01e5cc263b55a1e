"""A registry recognised from pool logs alone (archives with no factory events, no metadata).

A pool is any address that emits a V2 ``Sync``/``Swap`` or a V3 ``Swap``. Its tokens are
the emitters of the ERC20 ``Transfer`` logs, in the transactions where it emitted one of
those events, that move tokens from or to it. Every pair of those tokens is tried against
every configured venue of the pool's kind (and every fee tier of a V3 venue): a pool gets an
id only when one CREATE2 address equals its own. Ids follow first appearance (block, log
index); ``created_block`` is the first block the pool was seen in.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from chains import abi
from chains.config_chain import ChainConfig
from chains.registry import Registry

__all__ = ["LogsRegistry", "UnprovenPool", "registry_from_logs"]

_POOL_TOPICS = {
    abi.V2_SYNC.topic0: ("v2", "Sync"),
    abi.V2_SWAP.topic0: ("v2", "Swap"),
    abi.V3_SWAP.topic0: ("v3", "Swap"),
}
_TRANSFER = abi.ERC20_TRANSFER_EVENT.topic0
_COLUMNS = (
    "block_number",
    "transaction_index",
    "log_index",
    "transaction_hash",
    "address",
    "topic0",
    "topic1",
    "topic2",
    "topic3",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnprovenPool:
    """An address with pool events that no configured venue proves, and why."""

    address: str
    kind: str
    events: int
    tokens: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LogsRegistry:
    """The registry built from logs, with what was seen and what could not be proven."""

    registry: Registry
    pools_seen: int
    seen_by_kind: dict[str, int]
    unproven: tuple[UnprovenPool, ...]

    def proven_by_venue(self) -> dict[str, int]:
        """Return proven pools per venue."""
        return dict(Counter(p.venue for p in self.registry.pools))

    def proven_by_tier(self) -> dict[tuple[str, int], int]:
        """Return proven pools per (venue, fee_pips)."""
        return dict(Counter((p.venue, p.fee_pips) for p in self.registry.pools))

    def unproven_by_reason(self) -> dict[str, int]:
        """Return unproven pools per (kind: reason)."""
        return dict(Counter(f"{u.kind}: {u.reason}" for u in self.unproven))

    def summary(self) -> str:
        """Return a human-readable report: seen, proven per venue and tier, unproven reasons."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.seen_by_kind.items()))
        lines = [f"pools seen: {self.pools_seen} ({kinds})"]
        lines.append(f"pools proven: {len(self.registry)}")
        for (venue, fee), n in sorted(self.proven_by_tier().items()):
            lines.append(f"  {venue:<16} fee {fee:>6} pips: {n}")
        lines.append(f"pools not proven: {len(self.unproven)}")
        for reason, n in sorted(self.unproven_by_reason().items()):
            lines.append(f"  {n:>4}  {reason}")
        return "\n".join(lines)


def registry_from_logs(chain: ChainConfig, table: Any) -> LogsRegistry:
    """Recognise and CREATE2-prove the pools of a cryo logs table (pyarrow Table or alike)."""
    columns = {name: table.column(name).to_pylist() for name in _COLUMNS}
    order = sorted(
        range(len(columns["log_index"])),
        key=lambda i: (
            columns["block_number"][i],
            columns["transaction_index"][i],
            columns["log_index"][i],
        ),
    )
    first_block: dict[bytes, int] = {}
    kinds: dict[bytes, str] = {}
    events: Counter[bytes] = Counter()
    pools_of_tx: dict[bytes, set[bytes]] = {}
    transfers_of_tx: dict[bytes, list[tuple[bytes, bytes, bytes]]] = {}
    for i in order:
        topic0, address, tx = (
            columns["topic0"][i],
            columns["address"][i],
            columns["transaction_hash"][i],
        )
        if topic0 in _POOL_TOPICS:
            kind, _ = _POOL_TOPICS[topic0]
            first_block.setdefault(address, columns["block_number"][i])
            kinds.setdefault(address, kind)
            events[address] += 1
            pools_of_tx.setdefault(tx, set()).add(address)
        elif (
            topic0 == _TRANSFER
            and columns["topic1"][i] is not None
            and columns["topic2"][i] is not None
            and columns["topic3"][i] is None  # ERC721 Transfer indexes the token id too
        ):
            sender, receiver = columns["topic1"][i][12:], columns["topic2"][i][12:]
            transfers_of_tx.setdefault(tx, []).append((address, sender, receiver))

    tokens_of: dict[bytes, set[bytes]] = {p: set() for p in first_block}
    for tx, pools in pools_of_tx.items():
        for token, sender, receiver in transfers_of_tx.get(tx, ()):
            for pool in pools:
                # a V2 pair's own LP token moves to and from it on mints and burns
                if token != pool and pool in (sender, receiver):
                    tokens_of[pool].add(token)

    registry = Registry(chain)
    unproven: list[UnprovenPool] = []
    for pool in first_block:  # dict order is first appearance
        kind = kinds[pool]
        tokens = sorted(to_checksum_address(t) for t in tokens_of[pool])
        reason = _prove(registry, chain, kind, tokens, to_checksum_address(pool), first_block[pool])
        if reason is not None:
            unproven.append(
                UnprovenPool(
                    address=to_checksum_address(pool),
                    kind=kind,
                    events=events[pool],
                    tokens=tuple(tokens),
                    reason=reason,
                )
            )
    return LogsRegistry(
        registry=registry,
        pools_seen=len(first_block),
        seen_by_kind=dict(Counter(kinds.values())),
        unproven=tuple(unproven),
    )


def _prove(
    registry: Registry,
    chain: ChainConfig,
    kind: str,
    tokens: list[str],
    address: str,
    block: int,
) -> str | None:
    """Admit the pool if one venue/token pair/fee proves its address; else return why not."""
    if len(tokens) < 2:
        return f"tokens not resolved ({len(tokens)} token seen in its transfers)"
    for token_a, token_b in itertools.combinations(tokens, 2):
        for venue in chain.venues:
            if venue.kind != kind:
                continue
            fees: list[int | None] = (
                [None] if kind == "v2" else [t.fee_pips for t in venue.fee_tiers]
            )
            for fee in fees:
                if registry.prove(venue.name, token_a, token_b, fee) == address:
                    registry.add(venue.name, token_a, token_b, fee, block, address=address)
                    return None
    if len(tokens) > 2:
        return "no configured venue proves any pair of its tokens (another factory or fork)"
    return "no configured venue proves it (another factory or fork)"

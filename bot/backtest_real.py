"""Scoring a backtest against the chain: the real cyclic arbitrages and what the bot saw of each.

The real arbitrages come from the inspector (`sim.inspect`) on the same archive. A real
arbitrage in block B counts as seen when the bot priced a candidate on the same set of pools
at block B - 1 (a bundle for block B, where the real one landed) or at block B. Otherwise the
reason is worked out from what the bot knew: a pool no configured venue proves, a pool whose
state was not known yet, a profit token that is not a base token, a cycle longer than the
configured hops, or no profitable candidate on the state before it (the opportunity arose
inside block B, e.g. behind a swap a backrun would need the mempool for).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.backtest_model import PoolUsable, RealArbitrageSeen
from chains.registry import Registry
from graph.actions import Candidate
from sim.inspect import Arbitrage, inspect_path

__all__ = ["real_arbitrages", "score_real", "taken_by"]


def real_arbitrages(path: Path, first_block: int, last_block: int) -> list[Arbitrage]:
    """Return the inspector's arbitrages of an archive inside first..last, in block order."""
    found: dict[tuple[str, tuple[str, ...]], Arbitrage] = {}
    for inspection in inspect_path(path):
        for arb in inspection.arbitrages:
            if first_block <= arb.block_number <= last_block:
                key = (arb.transaction_hash, tuple(h.pool for h in arb.hops))
                found.setdefault(key, arb)
    return sorted(found.values(), key=lambda a: (a.block_number, a.transaction_index))


def _pool_key(pools: Sequence[str]) -> frozenset[str]:
    return frozenset(p.lower() for p in pools)


def _match_json(candidate: Candidate) -> dict[str, object]:
    return {
        "block": candidate.block_number,
        "candidate_id": candidate.candidate_id,
        "amount_in": candidate.amount_in,
        "profit": candidate.profit,
        "net_profit_wei": candidate.net_profit_wei,
    }


def score_real(
    arbitrages: Sequence[Arbitrage],
    candidates_by_block: Mapping[int, Sequence[Candidate]],
    registry: Registry,
    pools: Mapping[int, PoolUsable],
    *,
    base_tokens: Sequence[str],
    max_hops: int,
) -> list[RealArbitrageSeen]:
    """Say, for each real arbitrage, whether the bot saw it and, when not, why not."""
    bases = {t.lower() for t in base_tokens}
    out = []
    for arb in arbitrages:
        addresses = tuple(h.pool for h in arb.hops)
        key = _pool_key(addresses)
        matches = [
            c
            for block in (arb.block_number - 1, arb.block_number)
            for c in candidates_by_block.get(block, ())
            if _pool_key([h.pool for h in c.hops]) == key
        ]
        status = []
        reasons = []
        for address in addresses:
            info = registry.by_address(address)
            usable = None if info is None else pools[info.pool_id]
            status.append(
                {
                    "pool": address,
                    "pool_id": None if info is None else info.pool_id,
                    "kind": None if info is None else info.kind,
                    "usable_from_block": None if usable is None else usable.usable_from_block,
                    "in_range_only": None if usable is None else usable.in_range_only,
                }
            )
            if info is None:
                reasons.append(f"pool {address} is not proven by a configured venue")
            elif usable is None or usable.usable_from_block is None:
                reasons.append(f"pool {address} never had a known state in the range")
            elif usable.usable_from_block >= arb.block_number:
                reasons.append(
                    f"pool {address} had no known state before block {arb.block_number} "
                    f"(usable from block {usable.usable_from_block})"
                )
        if arb.profit_token.lower() not in bases:
            reasons.append(f"profit token {arb.profit_token} is not a base token")
        if len(arb.hops) > max_hops:
            reasons.append(f"{len(arb.hops)} hops, more than max_hops {max_hops}")
        if matches:
            best = max(matches, key=lambda c: c.net_profit_wei)
            saw = (
                f"candidate at block {best.block_number}: amount_in {best.amount_in}, "
                f"profit {best.profit}, net {best.net_profit_wei} wei"
            )
        elif reasons:
            saw = "not seen: " + "; ".join(reasons)
        else:
            saw = (
                f"not seen: no profitable candidate on these pools after block "
                f"{arb.block_number - 1} or {arb.block_number} (the opportunity arose and "
                "closed inside the block)"
            )
        out.append(
            RealArbitrageSeen(
                block=arb.block_number,
                transaction_hash=arb.transaction_hash,
                profit_token=arb.profit_token,
                profit=arb.profit,
                start_amount=arb.start_amount,
                pools=addresses,
                seen=bool(matches),
                saw=saw,
                matches=tuple(_match_json(c) for c in matches),
                pool_status=tuple(status),
            )
        )
    return out


def taken_by(candidate: Candidate, arbitrages: Sequence[Arbitrage]) -> tuple[str, ...]:
    """Return the real arbitrages of the candidate's target block that use any of its pools."""
    pools = _pool_key([h.pool for h in candidate.hops])
    return tuple(
        a.transaction_hash
        for a in arbitrages
        if a.block_number == candidate.target_block and pools & _pool_key([h.pool for h in a.hops])
    )

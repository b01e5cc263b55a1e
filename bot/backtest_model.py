"""The backtest's values: its spec, one row per opportunity, what it saw of the real arbitrages.

Every amount is a Python `int` (wei or raw token units); `BacktestResult.summary()` keeps them
as JSON integers of any size (Python's json writes and reads them exactly). Floats appear only
for rates (events per second, hit rate) and timings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chains.config_profile import Profile
from graph.actions import Candidate
from sim.fills import Fill

__all__ = [
    "BacktestResult",
    "BacktestSpec",
    "Opportunity",
    "PoolUsable",
    "RealArbitrageSeen",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestSpec:
    """One backtest: the archive, the profile and gas model it runs with, and the range.

    `base_fee_wei` prices gas where the archive has no block headers (mainnet logs only);
    with headers the target block's own base fee is used and this is ignored.
    `on_block(done, total)` is called after each block (a progress bar).
    `inventory` (base token address -> raw units) is what the executor holds for a trade, as
    live mode's engine is told: a candidate whose input it covers is priced unflashed (its
    gas units differ); empty, every candidate is flash-funded.
    """

    archive: Path
    profile: Profile
    gas_model_path: Path
    base_fee_wei: int | None = None
    first_block: int | None = None
    last_block: int | None = None
    work_dir: Path | None = None  # the risk gate's state file; a temporary folder when None
    inspect: bool = True  # score against the real arbitrages of the archive (`sim.inspect`)
    on_block: Callable[[int, int], None] | None = None
    inventory: Mapping[str, int] = field(default_factory=dict)
    # a checkpoint snapshot at first_block - 1 to start from as a replay in progress (a shard)
    start_checkpoint: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Opportunity:
    """One exact candidate the engine priced, what the risk gate said and how it filled."""

    candidate: Candidate
    sent: bool  # the engine handed it out as an action (its block lane had room)
    verdict: str | None  # "approved" or the gate's refusal reason; None when not sent
    fill: Fill | None
    engine_latency_ns: int  # the engine's time on the block's batch (apply, search, price)
    taken_by: tuple[str, ...] = ()  # real arbitrages on the same pools in the target block

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready row (exact ints)."""
        c = self.candidate
        f = self.fill
        return {
            "block": c.block_number,
            "target_block": c.target_block,
            "candidate_id": c.candidate_id,
            "pools": [h.pool for h in c.hops],
            "pool_ids": list(c.pools),
            "zero_for_one": [h.zero_for_one for h in c.hops],
            "tokens": [c.base_token, *(h.token_out for h in c.hops)],
            "amount_in": c.amount_in,
            "profit": c.profit,
            "profit_wei": c.profit_wei,
            "gas_units": c.gas_units,
            "gas_price_wei": c.gas_price_wei,
            "gas_cost_wei": c.gas_cost_wei,
            "tip_wei": c.tip_wei,
            "net_profit_wei": c.net_profit_wei,
            "sent": self.sent,
            "verdict": self.verdict,
            "fill_outcome": None if f is None else f.outcome,
            "fill_reason": None if f is None else f.reason,
            "fill_base_fee_wei": None if f is None else f.base_fee_wei,
            "fill_gas_cost_wei": None if f is None else f.gas_cost_wei,
            "fill_tip_wei": None if f is None else f.tip_wei,
            "fill_net_wei": None if f is None else f.net_wei,
            "fill_matches_candidate": None if f is None else f.matches_candidate,
            "engine_latency_ns": self.engine_latency_ns,
            "taken_by": list(self.taken_by),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolUsable:
    """A registry pool: when it was first seen and from which block its state was known."""

    pool_id: int
    address: str
    kind: str
    venue: str
    first_seen_block: int
    usable_from_block: int | None  # the block whose Sync (V2) or Swap (V3) gave its state
    in_range_only: bool  # V3 known from Swaps only: usable inside its tick-spacing interval

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready row."""
        return {
            "pool_id": self.pool_id,
            "address": self.address,
            "kind": self.kind,
            "venue": self.venue,
            "first_seen_block": self.first_seen_block,
            "usable_from_block": self.usable_from_block,
            "in_range_only": self.in_range_only,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RealArbitrageSeen:
    """A real arbitrage of the archive and what the bot saw of it."""

    block: int
    transaction_hash: str
    profit_token: str
    profit: int
    start_amount: int
    pools: tuple[str, ...]
    seen: bool  # a candidate on the same pools, priced at this block or the one before
    saw: str  # what the bot saw, in words
    matches: tuple[dict[str, Any], ...] = ()  # the candidates: block, amount_in, profit, net
    pool_status: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready row (exact ints)."""
        return {
            "block": self.block,
            "transaction_hash": self.transaction_hash,
            "profit_token": self.profit_token,
            "profit": self.profit,
            "start_amount": self.start_amount,
            "pools": list(self.pools),
            "seen": self.seen,
            "saw": self.saw,
            "matches": list(self.matches),
            "pool_status": list(self.pool_status),
        }


@dataclass(slots=True, kw_only=True)
class BacktestResult:
    """Everything one replay produced; `summary()` is what `summary.json` holds."""

    archive: str
    chain: str
    chain_id: int
    first_block: int
    last_block: int
    blocks: int = 0
    events: int = 0
    elapsed_s: float = 0.0
    base_fee_source: str = ""
    gas_model: str = ""
    opportunities: list[Opportunity] = field(default_factory=list)
    candidates_by_block: dict[int, list[Candidate]] = field(default_factory=dict)
    latency_ns_by_block: dict[int, int] = field(default_factory=dict)
    pools: list[PoolUsable] = field(default_factory=list)
    pools_unproven: int = 0
    real_arbitrages: list[RealArbitrageSeen] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        """Return decoded pool events replayed per second of wall time."""
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def pnl_wei(self) -> int:
        """Return the simulated PnL of the filled bundles, net of gas and tips (wei)."""
        return sum(o.fill.net_wei for o in self.opportunities if o.fill is not None)

    def summary(self) -> dict[str, Any]:
        """Return the run's summary as JSON-ready values (exact ints)."""
        fills = [o.fill for o in self.opportunities if o.fill is not None]
        included = [f for f in fills if f.outcome == "included"]
        real = self.real_arbitrages
        seen = sum(r.seen for r in real)
        latencies = sorted(self.latency_ns_by_block.values())
        usable = [p for p in self.pools if p.usable_from_block is not None]
        return {
            "archive": self.archive,
            "chain": self.chain,
            "chain_id": self.chain_id,
            "first_block": self.first_block,
            "last_block": self.last_block,
            "blocks": self.blocks,
            "events": self.events,
            "elapsed_s": round(self.elapsed_s, 3),
            "events_per_s": round(self.events_per_s, 1),
            "base_fee_source": self.base_fee_source,
            "gas_model": self.gas_model,
            "opportunities": len(self.opportunities),
            "sent": sum(o.sent for o in self.opportunities),
            "admitted": len(fills),
            "filled": len(included),
            "fills_equal_prediction": sum(f.matches_candidate for f in fills),
            "gross_profit_wei": sum(f.profit_wei for f in included),
            "gas_cost_wei": sum(f.gas_cost_wei for f in included),
            "tips_wei": sum(f.tip_wei for f in included),
            "pnl_wei": self.pnl_wei,
            "real_arbitrages": len(real),
            "real_arbitrages_seen": seen,
            "hit_rate": round(seen / len(real), 4) if real else None,
            "taken_by_others": sum(bool(o.taken_by) for o in self.opportunities if o.sent),
            "engine_latency_ns": {
                "p50": latencies[len(latencies) // 2] if latencies else None,
                "max": latencies[-1] if latencies else None,
            },
            "pools_proven": len(self.pools),
            "pools_unproven": self.pools_unproven,
            "pools_usable": len(usable),
            "pools_in_range_only": sum(p.in_range_only for p in self.pools),
            "dropped": dict(sorted(self.dropped.items())),
            "risk_verdicts": dict(sorted(self.verdicts.items())),
            "sent_outcomes": dict(
                sorted(Counter(o.verdict or "none" for o in self.opportunities if o.sent).items())
            ),
            "notes": list(self.notes),
            "pools_usable_from": [p.to_json() for p in self.pools],
            "real_arbitrage_details": [r.to_json() for r in real],
        }

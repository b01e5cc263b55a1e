"""The inspector's values: a decoded swap, an arbitrage and its hops (frozen, exact ints).

Addresses and hashes are lower-case `0x` hex strings; token amounts are Python `int`s in the
token's smallest unit, never floats. `to_json()` emits integers as JSON integers, so a profit of
10**30 survives a round trip exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ETH_TOKEN", "Arbitrage", "Hop", "Source", "Swap", "swaps_per_block"]

Source = Literal["traces", "logs"]

# Plain ether moved by a call's value; mev-inspect-py's ETH_TOKEN_ADDRESS
ETH_TOKEN = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"


@dataclass(frozen=True, slots=True, kw_only=True)
class Swap:
    """One pool swap: what went in (and from whom), what came out (and to whom).

    `position` orders swaps inside their transaction: the trace address for traces, for logs
    `(first transfer's log index, swap event's log index)`, the order in which swap calls began.
    """

    block_number: int
    transaction_hash: str
    transaction_index: int
    position: tuple[int, ...]
    pool: str
    from_address: str
    to_address: str
    token_in: str
    amount_in: int
    token_out: str
    amount_out: int
    reverted: bool
    source: Source


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """One leg of an arbitrage."""

    pool: str
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int

    def to_dict(self) -> dict[str, Any]:
        """Return the hop as plain JSON-able values (amounts as ints)."""
        return {
            "pool": self.pool,
            "token_in": self.token_in,
            "token_out": self.token_out,
            "amount_in": self.amount_in,
            "amount_out": self.amount_out,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Arbitrage:
    """A cycle of swaps in one transaction that starts and ends in the profit token."""

    block_number: int
    transaction_hash: str
    transaction_index: int
    account: str
    profit_token: str
    start_amount: int
    end_amount: int
    profit: int
    reverted: bool
    hops: tuple[Hop, ...]
    source: Source

    @classmethod
    def from_route(cls, route: tuple[Swap, ...]) -> Arbitrage:
        """Build the arbitrage of a route; profit = last amount out - first amount in."""
        first, last = route[0], route[-1]
        return cls(
            block_number=first.block_number,
            transaction_hash=first.transaction_hash,
            transaction_index=first.transaction_index,
            account=first.from_address,
            profit_token=first.token_in,
            start_amount=first.amount_in,
            end_amount=last.amount_out,
            profit=last.amount_out - first.amount_in,
            reverted=any(swap.reverted for swap in route),
            hops=tuple(
                Hop(
                    pool=s.pool,
                    token_in=s.token_in,
                    token_out=s.token_out,
                    amount_in=s.amount_in,
                    amount_out=s.amount_out,
                )
                for s in route
            ),
            source=first.source,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the arbitrage as plain JSON-able values (amounts as ints)."""
        return {
            "block": self.block_number,
            "transaction_hash": self.transaction_hash,
            "transaction_index": self.transaction_index,
            "account": self.account,
            "profit_token": self.profit_token,
            "profit": self.profit,
            "start_amount": self.start_amount,
            "end_amount": self.end_amount,
            "reverted": self.reverted,
            "source": self.source,
            "hops": [hop.to_dict() for hop in self.hops],
        }

    def to_json(self) -> str:
        """Return one line of JSON; integers stay JSON integers of any size."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def swaps_per_block(swaps: Iterable[Swap]) -> dict[int, int]:
    """Count swaps by block number."""
    counts: dict[int, int] = {}
    for swap in swaps:
        counts[swap.block_number] = counts.get(swap.block_number, 0) + 1
    return dict(sorted(counts.items()))

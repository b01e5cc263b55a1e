"""The action search emits and every sink consumes: a cycle priced in exact integers.

A `Candidate` is frozen and self-contained: the hops with their exact amounts (what each pool
pays out at the state the candidate was priced at), the exact gross profit in the base token,
the gas units and gas price it was priced with, the builder tip, the net profit in wei and the
block (or pending transaction) it was priced for. The bot's executor turns it into calldata
(`chains.arb_executor`); the backtest fills it (`sim.fills`). Nothing here touches a float.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Candidate", "CandidateHop"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateHop:
    """One hop: sell `amount_in` of token_in to `pool`, which pays `amount_out` of token_out."""

    pool_id: int
    pool: str  # lowercase 0x address
    is_v3: bool
    zero_for_one: bool
    fee_pips: int
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    ticks_crossed: int = 0  # V3 initialized ticks crossed
    word_steps: int = 0  # V3 loop steps ending at a bitmap word boundary, no tick crossed


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A cycle with exact amounts, profit, gas and tip, priced at one block (and pending tx).

    Amounts are raw units of their tokens; `profit` is the gross profit in the base token
    (last hop's output minus the input); `profit_wei` the same in wei (equal to `profit` when
    the base token is WETH); `gas_cost_wei` = gas_units * gas_price_wei; `net_profit_wei` =
    profit_wei - gas_cost_wei - tip_wei.
    """

    cycle_id: int
    base_token: str
    hops: tuple[CandidateHop, ...]
    amount_in: int
    profit: int
    profit_wei: int
    gas_units: int
    gas_price_wei: int
    tip_wei: int
    net_profit_wei: int
    flash: bool
    block_number: int  # the block whose post-state it was priced on
    block_hash: str
    target_block: int  # the block it is meant to land in
    pending_tx: str | None = None  # the victim's hash, for a backrun

    def __post_init__(self) -> None:
        if not 2 <= len(self.hops) <= 4:
            raise ValueError(f"a candidate has 2..4 hops, got {len(self.hops)}")
        if self.hops[0].token_in != self.base_token or self.hops[-1].token_out != self.base_token:
            raise ValueError("a candidate must start and end in its base token")
        if self.hops[0].amount_in != self.amount_in or self.amount_in <= 0:
            raise ValueError("amount_in must be positive and equal the first hop's input")
        for before, after in zip(self.hops, self.hops[1:], strict=False):
            if before.token_out != after.token_in or before.amount_out != after.amount_in:
                raise ValueError("each hop must sell exactly what the previous one bought")
        if self.profit != self.hops[-1].amount_out - self.amount_in:
            raise ValueError("profit must equal the last output minus the input")
        if min(self.gas_units, self.gas_price_wei, self.tip_wei) < 0:
            raise ValueError("gas units, gas price and tip must not be negative")
        if self.net_profit_wei != self.profit_wei - self.gas_cost_wei - self.tip_wei:
            raise ValueError("net_profit_wei must equal profit_wei - gas cost - tip")

    @property
    def gas_cost_wei(self) -> int:
        """Return gas_units * gas_price_wei."""
        return self.gas_units * self.gas_price_wei

    @property
    def candidate_id(self) -> str:
        """Return an id unique per block, cycle and pending transaction (for logs and audit)."""
        suffix = f"-{self.pending_tx[2:14]}" if self.pending_tx else ""
        return f"{self.block_number}-{self.cycle_id}{suffix}"

    @property
    def pools(self) -> tuple[int, ...]:
        """Return the pool ids of the hops, in order."""
        return tuple(hop.pool_id for hop in self.hops)

    @property
    def ticks_crossed(self) -> int:
        """Return the initialized V3 ticks crossed over all hops."""
        return sum(hop.ticks_crossed for hop in self.hops)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict; amounts as decimal strings (JSON numbers lose precision)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key == "hops":
                value = [
                    {k: str(v) if _is_amount(k) else v for k, v in hop.items()} for hop in value
                ]
            elif _is_amount(key):
                value = str(value)
            out[key] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidate:
        """Rebuild a candidate from `to_json`'s dict (validated as on construction)."""
        fields = {k: int(v) if _is_amount(k) else v for k, v in data.items() if k != "hops"}
        hops = tuple(
            CandidateHop(**{k: int(v) if _is_amount(k) else v for k, v in hop.items()})
            for hop in data["hops"]
        )
        return cls(hops=hops, **fields)


_AMOUNT_KEYS = frozenset(
    (
        "amount_in",
        "amount_out",
        "profit",
        "profit_wei",
        "gas_price_wei",
        "tip_wei",
        "net_profit_wei",
    )
)


def _is_amount(key: str) -> bool:
    return key in _AMOUNT_KEYS

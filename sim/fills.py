"""Exact fills of candidates in a backtest: what a bundle at the top of its block realizes.

`fill(candidate, state, base_fee_wei, priority_fee_wei=...)` swaps the candidate's input hop
by hop with `amm_math` (V2 getAmountOut, the V3 pool's swap loop) on the pool state at the
start of the target block, i.e. the state after the block the candidate was priced on, as a
bundle placed first in its block sees it. It is an independent re-execution, not a re-use of
the re-pricer: the fill says whether it equals the candidate's own exact prediction.

Money (every amount an `int`):

- gas cost = the candidate's gas units x (the target block's base fee + the priority fee);
- tip = the candidate's tip (the executor pays the amount it was built with);
- net = profit in wei - gas cost - tip.

A bundle whose hop reverts, fills short, or whose profit would not cover its tip and minimum
profit reverts in the executor contract; a builder leaves a reverting bundle out, so such a
fill is `dropped` and costs nothing. No I/O here: the caller hands in the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import get_amount_out
from amm_math.uniswap_v3.pool import apply_swap
from amm_math.uniswap_v3.pool import swap as v3_swap
from amm_math.uniswap_v3.pool_state import V3PoolState
from graph.actions import Candidate

__all__ = ["FILL_OUTCOMES", "Fill", "PoolStateView", "fill"]

FILL_OUTCOMES = ("included", "dropped")


class PoolStateView(Protocol):
    """Exact pool state by pool id (graph.state.PoolTable has it)."""

    def v2_reserves(self, pool_id: int) -> tuple[int, int] | None: ...
    def v3_state(self, pool_id: int) -> V3PoolState | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One candidate filled at the start of its target block, in exact integers."""

    candidate_id: str
    target_block: int
    outcome: str  # "included" or "dropped"
    reason: str | None  # why it was dropped: "revert", "short", "no_state", "below_tip"
    amounts: tuple[int, ...]  # the input, then each hop's output (as far as it got)
    profit: int  # gross, raw units of the base token
    profit_wei: int
    gas_units: int
    base_fee_wei: int
    priority_fee_wei: int
    gas_cost_wei: int
    tip_wei: int
    net_wei: int
    matches_candidate: bool  # every hop's amounts equal the candidate's prediction

    @property
    def gas_price_wei(self) -> int:
        """Return base fee + priority fee, per gas unit."""
        return self.base_fee_wei + self.priority_fee_wei


def _quote(candidate: Candidate, state: PoolStateView) -> tuple[tuple[int, ...], str | None]:
    """Swap the input along the hops; return the amounts and why it stopped (None: it filled)."""
    amount = candidate.amount_in
    amounts = [amount]
    v2_after: dict[int, tuple[int, int]] = {}
    v3_after: dict[int, V3PoolState] = {}
    for hop in candidate.hops:
        try:
            if hop.is_v3:
                pool = v3_after.get(hop.pool_id) or state.v3_state(hop.pool_id)
                if pool is None:
                    return tuple(amounts), "no_state"
                result = v3_swap(pool, hop.zero_for_one, amount)
                paid_in, paid_out = (
                    (result.amount0, result.amount1)
                    if hop.zero_for_one
                    else (result.amount1, result.amount0)
                )
                if paid_in != amount:  # the price limit stopped it short of the input
                    return tuple(amounts), "short"
                v3_after[hop.pool_id] = apply_swap(pool, result)
                amount = -paid_out
            else:
                reserves = v2_after.get(hop.pool_id) or state.v2_reserves(hop.pool_id)
                if reserves is None:
                    return tuple(amounts), "no_state"
                r0, r1 = reserves
                r_in, r_out = (r0, r1) if hop.zero_for_one else (r1, r0)
                out = get_amount_out(amount, r_in, r_out, hop.fee_pips)
                r_in, r_out = r_in + amount, r_out - out
                v2_after[hop.pool_id] = (r_in, r_out) if hop.zero_for_one else (r_out, r_in)
                amount = out
        except EvmRevert:
            return tuple(amounts), "revert"
        if amount <= 0:
            amounts.append(amount)
            return tuple(amounts), "short"
        amounts.append(amount)
    return tuple(amounts), None


def fill(
    candidate: Candidate,
    state: PoolStateView,
    base_fee_wei: int,
    *,
    priority_fee_wei: int,
    wei_per_unit: Fraction | None = None,
    min_profit_wei: int = 0,
) -> Fill:
    """Fill `candidate` on `state` (start of its target block) at that block's base fee.

    `wei_per_unit` values the base token in wei (None: the base token is WETH, 1 wei a unit).
    """
    if base_fee_wei < 0 or priority_fee_wei < 0:
        raise ValueError("base_fee_wei and priority_fee_wei must not be negative")
    amounts, reason = _quote(candidate, state)
    predicted = (candidate.amount_in, *(hop.amount_out for hop in candidate.hops))
    value = Fraction(1) if wei_per_unit is None else wei_per_unit
    profit = amounts[-1] - amounts[0] if reason is None else 0
    profit_wei = profit * value.numerator // value.denominator
    gas_units = candidate.gas_units
    gas_cost_wei = gas_units * (base_fee_wei + priority_fee_wei)
    tip_wei = candidate.tip_wei
    if reason is None and profit_wei < tip_wei + min_profit_wei:
        reason = "below_tip"  # the contract's minProfit check reverts the bundle
    outcome = "included" if reason is None else "dropped"
    return Fill(
        candidate_id=candidate.candidate_id,
        target_block=candidate.target_block,
        outcome=outcome,
        reason=reason,
        amounts=amounts,
        profit=profit,
        profit_wei=profit_wei,
        gas_units=gas_units,
        base_fee_wei=base_fee_wei,
        priority_fee_wei=priority_fee_wei,
        gas_cost_wei=gas_cost_wei if outcome == "included" else 0,
        tip_wei=tip_wei if outcome == "included" else 0,
        net_wei=profit_wei - gas_cost_wei - tip_wei if outcome == "included" else 0,
        matches_candidate=amounts == predicted,
    )

"""The one conversion of a `graph.actions.Candidate` into an ArbExecutor `Plan`.

A plan carries what the contract checks: the base token, the exact input, every hop's exact
predicted output, the funding mode, the minimum profit and the builder tip. The contract
requires ``balanceAfter >= balanceBefore + minProfit`` in the base token and then pays the tip
by unwrapping WETH, so:

- ``min_profit`` defaults to the candidate's exact gross profit (the execution realizes exactly
  that when the state is the one it was priced on, and reverts otherwise);
- a tip is paid by the contract only when the base token is WETH; for any other base token the
  candidate's tip must go as the transaction's priority fee instead (``tip_as_priority_fee``),
  and the plan's tip is 0;
- the V2 fee of a hop is informational for the contract (the pair's swap takes the output the
  plan names); a V3 hop carries 0 there.
"""

from __future__ import annotations

from chains.arb_executor import Hop, Plan
from graph.actions import Candidate

__all__ = ["plan_of"]


def plan_of(
    candidate: Candidate,
    *,
    weth: str,
    guard: tuple[int, bytes] | None = None,
    min_profit: int | None = None,
    tip_as_priority_fee: bool = False,
) -> Plan:
    """Return the executor plan of a candidate (amounts in raw base-token units, tip in wei).

    `guard` is (target block number, parent hash): the contract then runs only in that block
    on top of that parent. `tip_as_priority_fee` leaves the tip out of the plan (0), for a
    caller that pays it as the transaction's priority fee; without it a positive tip on a
    base token other than WETH raises ValueError, since the contract cannot pay it.
    """
    is_weth = candidate.base_token.lower() == weth.lower()
    tip_wei = candidate.tip_wei
    if tip_as_priority_fee:
        tip_wei = 0
    elif tip_wei > 0 and not is_weth:
        raise ValueError(
            f"tip {tip_wei} wei on base token {candidate.base_token}: the contract pays a tip"
            " only from WETH; pass tip_as_priority_fee=True and pay it as priority fee"
        )
    floor = candidate.profit if min_profit is None else min_profit
    if floor < 0:
        raise ValueError(f"min_profit must not be negative: {floor}")
    if floor > candidate.profit:
        raise ValueError(
            f"min_profit {floor} exceeds the candidate's exact profit {candidate.profit}:"
            " the execution would revert"
        )
    if tip_wei > floor:
        raise ValueError(
            f"tip {tip_wei} wei exceeds min_profit {floor}: the tip would come out of inventory"
        )
    if guard is not None and guard[0] != candidate.target_block:
        raise ValueError(
            f"guard block {guard[0]} is not the candidate's target block {candidate.target_block}"
        )
    return Plan(
        base_token=candidate.base_token,
        amount_in=candidate.amount_in,
        min_profit_wei=floor,
        tip_wei=tip_wei,
        flash=candidate.flash,
        hops=tuple(
            Hop(
                pool=hop.pool,
                zero_for_one=hop.zero_for_one,
                is_v3=hop.is_v3,
                fee_pips=0 if hop.is_v3 else hop.fee_pips,
                amount_out=hop.amount_out,
            )
            for hop in candidate.hops
        ),
        guard=guard,
    )

"""plan_of: a Candidate becomes the executor plan, and the encoded calldata decodes back to it."""

from __future__ import annotations

import pytest

from bot.executor_plan import plan_of
from chains.arb_executor import Plan, decode_plan, execute_calldata
from chains.arb_executor_codec import EXECUTE_SELECTOR
from graph.actions import Candidate, CandidateHop

WETH = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
USDC = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"
DAI = "0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9"
PAIR = "0xd1f1bbbf65cceb5caf1691a76c17d4e75213b69c"
POOL_V3 = "0x1111111111111111111111111111111111111111"
PAIR_2 = "0x2222222222222222222222222222222222222222"
PARENT = bytes(range(32))


def _candidate(
    *, base: str = WETH, tip_wei: int = 10**15, flash: bool = True, three: bool = False
) -> Candidate:
    mid = USDC if base == WETH else WETH
    amounts = [5 * 10**18, 12_345_678_901, 5 * 10**18 + 4 * 10**16]
    hops = [
        CandidateHop(
            pool_id=0,
            pool=PAIR,
            is_v3=False,
            zero_for_one=True,
            fee_pips=3000,
            token_in=base,
            token_out=mid,
            amount_in=amounts[0],
            amount_out=amounts[1],
        ),
    ]
    if three:
        hops.append(
            CandidateHop(
                pool_id=2,
                pool=PAIR_2,
                is_v3=False,
                zero_for_one=False,
                fee_pips=2500,
                token_in=mid,
                token_out=DAI,
                amount_in=amounts[1],
                amount_out=amounts[1] * 10**12,
            )
        )
        mid, amounts[1] = DAI, amounts[1] * 10**12
    hops.append(
        CandidateHop(
            pool_id=1,
            pool=POOL_V3,
            is_v3=True,
            zero_for_one=False,
            fee_pips=500,
            token_in=mid,
            token_out=base,
            amount_in=amounts[1],
            amount_out=amounts[2],
            ticks_crossed=2,
        )
    )
    profit = amounts[2] - amounts[0]
    gas_units, gas_price = 200_000, 10**9
    return Candidate(
        cycle_id=7, base_token=base, hops=tuple(hops), amount_in=amounts[0], profit=profit,
        profit_wei=profit, gas_units=gas_units, gas_price_wei=gas_price, tip_wei=tip_wei,
        net_profit_wei=profit - gas_units * gas_price - tip_wei, flash=flash,
        block_number=100, block_hash="0x" + PARENT.hex(), target_block=101,
    )  # fmt: skip


def _round_trip(plan: Plan) -> Plan:
    """Encode through execute_calldata and decode the plan bytes back."""
    data = execute_calldata(plan)
    assert data[:4] == EXECUTE_SELECTOR
    assert int.from_bytes(data[4:36], "big") == 32
    length = int.from_bytes(data[36:68], "big")
    return decode_plan(data[68 : 68 + length])


@pytest.mark.parametrize("flash", [True, False])
@pytest.mark.parametrize("three", [True, False])
@pytest.mark.parametrize("guard", [None, (101, PARENT)])
def test_plan_round_trips_field_by_field(
    flash: bool, three: bool, guard: tuple[int, bytes] | None
) -> None:
    candidate = _candidate(flash=flash, three=three)
    decoded = _round_trip(plan_of(candidate, weth=WETH, guard=guard))
    assert decoded.base_token.lower() == WETH
    assert decoded.amount_in == candidate.amount_in
    assert decoded.min_profit_wei == candidate.profit
    assert decoded.tip_wei == candidate.tip_wei
    assert decoded.flash is flash
    assert decoded.guard == guard
    assert len(decoded.hops) == len(candidate.hops)
    for got, hop in zip(decoded.hops, candidate.hops, strict=True):
        assert got.pool.lower() == hop.pool
        assert got.zero_for_one is hop.zero_for_one
        assert got.is_v3 is hop.is_v3
        assert got.fee_pips == (0 if hop.is_v3 else hop.fee_pips)
        assert got.amount_out == hop.amount_out


def test_min_profit_override_and_checksummed_weth() -> None:
    candidate = _candidate()
    plan = plan_of(candidate, weth=WETH.upper().replace("0X", "0x"), min_profit=10**15)
    assert _round_trip(plan).min_profit_wei == 10**15
    assert plan.tip_wei == candidate.tip_wei


def test_tip_on_another_base_needs_priority_fee() -> None:
    candidate = _candidate(base=USDC, tip_wei=3)
    with pytest.raises(ValueError, match="priority"):
        plan_of(candidate, weth=WETH)
    plan = plan_of(candidate, weth=WETH, tip_as_priority_fee=True)
    assert plan.tip_wei == 0
    assert _round_trip(plan).tip_wei == 0
    untipped = plan_of(_candidate(base=USDC, tip_wei=0), weth=WETH)
    assert untipped.tip_wei == 0 and untipped.base_token == USDC


def test_tip_above_min_profit_is_refused() -> None:
    candidate = _candidate(tip_wei=10**16)
    with pytest.raises(ValueError, match="exceeds min_profit"):
        plan_of(candidate, weth=WETH, min_profit=10**16 - 1)
    assert plan_of(candidate, weth=WETH, min_profit=10**16).tip_wei == 10**16


def test_min_profit_out_of_range_is_refused() -> None:
    candidate = _candidate(tip_wei=0)
    with pytest.raises(ValueError, match="exceeds the candidate's exact profit"):
        plan_of(candidate, weth=WETH, min_profit=candidate.profit + 1)
    with pytest.raises(ValueError, match="negative"):
        plan_of(candidate, weth=WETH, min_profit=-1)
    assert plan_of(candidate, weth=WETH, min_profit=0).min_profit_wei == 0


def test_guard_must_target_the_candidates_block() -> None:
    with pytest.raises(ValueError, match="target block"):
        plan_of(_candidate(), weth=WETH, guard=(102, PARENT))

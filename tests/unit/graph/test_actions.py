"""Candidate: a consistent cycle is accepted, every inconsistency is refused."""

from __future__ import annotations

import dataclasses

import pytest

from graph.actions import Candidate, CandidateHop

A, B, C = ("0x" + c * 40 for c in "abc")


def hop(pool_id: int, token_in: str, token_out: str, amount_in: int, amount_out: int, **kw):
    return CandidateHop(
        pool_id=pool_id,
        pool="0x" + f"{pool_id:040x}",
        is_v3=kw.pop("is_v3", False),
        zero_for_one=True,
        fee_pips=3000,
        token_in=token_in,
        token_out=token_out,
        amount_in=amount_in,
        amount_out=amount_out,
        **kw,
    )


def candidate(**overrides) -> Candidate:
    fields = {
        "cycle_id": 5,
        "base_token": A,
        "hops": (
            hop(1, A, B, 1000, 2000),
            hop(2, B, C, 2000, 500, is_v3=True, ticks_crossed=2),
            hop(3, C, A, 500, 1100, is_v3=True, ticks_crossed=1),
        ),
        "amount_in": 1000,
        "profit": 100,
        "profit_wei": 100,
        "gas_units": 7,
        "gas_price_wei": 3,
        "tip_wei": 10,
        "net_profit_wei": 100 - 21 - 10,
        "flash": True,
        "block_number": 42,
        "block_hash": "0x" + "ee" * 32,
        "target_block": 43,
    }
    fields.update(overrides)
    return Candidate(**fields)


def test_a_consistent_candidate_and_its_properties() -> None:
    c = candidate()
    assert c.gas_cost_wei == 21
    assert c.pools == (1, 2, 3)
    assert c.ticks_crossed == 3
    assert c.candidate_id == "42-5"
    assert candidate(pending_tx="0x" + "ab" * 32).candidate_id == "42-5-" + "ab" * 6
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.profit = 1  # type: ignore[misc]


def _with_hop(i: int, **changes) -> tuple[CandidateHop, ...]:
    hops = list(candidate().hops)
    hops[i] = dataclasses.replace(hops[i], **changes)
    return tuple(hops)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hops": candidate().hops[:1]}, "2..4 hops"),
        ({"hops": candidate().hops * 2}, "2..4 hops"),
        ({"base_token": B}, "base token"),
        ({"hops": _with_hop(2, token_out=B)}, "base token"),
        ({"amount_in": 999}, "amount_in"),
        (
            {
                "hops": _with_hop(0, amount_in=0, amount_out=2000),
                "amount_in": 0,
                "profit": 1100,
                "profit_wei": 1100,
                "net_profit_wei": 1100 - 31,
            },
            "amount_in",
        ),
        ({"hops": _with_hop(1, amount_in=1999)}, "previous one bought"),
        ({"hops": _with_hop(1, token_in=C)}, "previous one bought"),
        ({"profit": 101}, "profit must equal"),
        ({"gas_units": -1, "net_profit_wei": 100 + 3 - 10}, "not be negative"),
        ({"tip_wei": -1, "net_profit_wei": 100 - 21 + 1}, "not be negative"),
        ({"net_profit_wei": 70}, "net_profit_wei"),
        ({"profit_wei": 101}, "net_profit_wei"),
    ],
)
def test_inconsistent_candidates_are_refused(overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        candidate(**overrides)

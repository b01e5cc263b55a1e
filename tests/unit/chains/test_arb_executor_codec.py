"""ArbExecutor plan codec: pinned byte layout, round trip and range checks."""

from __future__ import annotations

import re

import pytest
from eth_utils import keccak, to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from chains.arb_executor_codec import (
    EXECUTE_SELECTOR,
    GUARD_BYTES,
    HEADER_BYTES,
    HOP_BYTES,
    PLAN_VERSION,
    Hop,
    Plan,
    PlanError,
    decode_plan,
    encode_plan,
    execute_calldata,
)
from chains.artifacts import repo_root

WETH = to_checksum_address("0x" + "11" * 20)
POOL_A = to_checksum_address("0x" + "aa" * 20)
POOL_B = to_checksum_address("0x" + "bb" * 20)


def _plan(**changes: object) -> Plan:
    base = {
        "base_token": WETH,
        "amount_in": 10**18,
        "min_profit_wei": 5,
        "tip_wei": 2,
        "flash": True,
        "hops": (
            Hop(pool=POOL_A, zero_for_one=True, is_v3=False, fee_pips=3000, amount_out=7),
            Hop(pool=POOL_B, zero_for_one=False, is_v3=True, fee_pips=0, amount_out=10**18 + 9),
        ),
        "guard": None,
    }
    base.update(changes)
    return Plan(**base)  # type: ignore[arg-type]


def test_layout_is_pinned() -> None:
    packed = encode_plan(_plan())
    expected = (
        "01"
        "01"
        "02"
        + "11" * 20
        + (10**18).to_bytes(16, "big").hex()
        + (5).to_bytes(16, "big").hex()
        + (2).to_bytes(16, "big").hex()
        + "aa" * 20
        + "01"
        + "000bb8"
        + (7).to_bytes(16, "big").hex()
        + "bb" * 20
        + "02"
        + "000000"
        + (10**18 + 9).to_bytes(16, "big").hex()
    )
    assert packed.hex() == expected
    assert len(packed) == 71 + 2 * 40


def test_guard_layout_is_pinned() -> None:
    packed = encode_plan(_plan(flash=False, guard=(0x1234, b"\xcd" * 32)))
    assert packed[:3] == bytes((1, 2, 2))
    assert packed[71:79] == (0x1234).to_bytes(8, "big")
    assert packed[79:111] == b"\xcd" * 32
    assert len(packed) == 71 + 40 + 2 * 40


def test_execute_calldata_is_abi_bytes() -> None:
    packed = encode_plan(_plan())
    data = execute_calldata(_plan())
    assert keccak(text="execute(bytes)")[:4] == EXECUTE_SELECTOR
    assert data[:4] == EXECUTE_SELECTOR
    assert int.from_bytes(data[4:36], "big") == 32
    assert int.from_bytes(data[36:68], "big") == len(packed)
    assert data[68 : 68 + len(packed)] == packed
    assert (len(data) - 4) % 32 == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_in": 0},
        {"amount_in": 1 << 128},
        {"min_profit_wei": -1},
        {"tip_wei": 6},  # above min_profit_wei
        {"base_token": "0x1234"},
        {"guard": (1 << 64, b"\x00" * 32)},
        {"guard": (1, b"\x00" * 31)},
        {"hops": ()},
        {"hops": (Hop(pool=POOL_A, zero_for_one=True, is_v3=False, fee_pips=1, amount_out=1),)},
        {
            "hops": tuple(
                Hop(pool=POOL_A, zero_for_one=True, is_v3=False, fee_pips=1, amount_out=1)
                for _ in range(5)
            )
        },
        {
            "hops": (
                Hop(pool=POOL_A, zero_for_one=True, is_v3=False, fee_pips=1 << 24, amount_out=1),
                Hop(pool=POOL_B, zero_for_one=True, is_v3=False, fee_pips=1, amount_out=1),
            )
        },
        {
            "hops": (
                Hop(pool=POOL_A, zero_for_one=True, is_v3=False, fee_pips=1, amount_out=0),
                Hop(pool=POOL_B, zero_for_one=True, is_v3=False, fee_pips=1, amount_out=1),
            )
        },
    ],
)
def test_range_errors(changes: dict[str, object]) -> None:
    with pytest.raises(PlanError):
        encode_plan(_plan(**changes))


def test_decode_rejects_bad_bytes() -> None:
    packed = encode_plan(_plan())
    for bad in (packed[:-1], packed + b"\x00", b"\x02" + packed[1:], packed[:70]):
        with pytest.raises(PlanError):
            decode_plan(bad)


_address = st.binary(min_size=20, max_size=20).map(to_checksum_address)
_u128 = st.integers(min_value=1, max_value=(1 << 128) - 1)
_hop = st.builds(
    Hop,
    pool=_address,
    zero_for_one=st.booleans(),
    is_v3=st.booleans(),
    fee_pips=st.integers(min_value=0, max_value=(1 << 24) - 1),
    amount_out=_u128,
)


@st.composite
def _plans(draw: st.DrawFn) -> Plan:
    min_profit = draw(st.integers(min_value=0, max_value=(1 << 128) - 1))
    guard = draw(
        st.none()
        | st.tuples(
            st.integers(min_value=0, max_value=(1 << 64) - 1), st.binary(min_size=32, max_size=32)
        )
    )
    return Plan(
        base_token=draw(_address),
        amount_in=draw(_u128),
        min_profit_wei=min_profit,
        tip_wei=draw(st.integers(min_value=0, max_value=min_profit)),
        flash=draw(st.booleans()),
        hops=tuple(draw(st.lists(_hop, min_size=2, max_size=4))),
        guard=guard,
    )


@given(_plans())
def test_round_trip(plan: Plan) -> None:
    packed = encode_plan(plan)
    assert decode_plan(packed) == plan
    assert len(packed) == 71 + (40 if plan.guard else 0) + 40 * len(plan.hops)


def test_contract_reads_the_same_layout() -> None:
    source = (repo_root() / "contracts" / "src" / "ArbExecutor.sol").read_text()
    for name, value in (
        ("VERSION", PLAN_VERSION),
        ("HEADER_BYTES", HEADER_BYTES),
        ("GUARD_BYTES", GUARD_BYTES),
        ("HOP_BYTES", HOP_BYTES),
    ):
        assert re.search(rf"constant {name} = {value};", source), name

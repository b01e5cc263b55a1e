"""graph.gas: the EIP-1559 base fee rule, gas units of a cycle, gas price, tip and net profit.

Data: ../shared/data/eip1559/ethereumjs_eip1559baseFee.csv (the ethereumjs EIP-1559 base fee
vectors: parent base fee, gas used, gas target, expected base fee; denominator 8).
"""

from __future__ import annotations

import csv
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chains.config_chain import Eip1559Params
from chains.gas_model import GasModel
from graph.gas import (
    ETHEREUM,
    OP_STACK_BEDROCK,
    OP_STACK_CANYON,
    CycleCost,
    TipPolicy,
    cycle_cost,
    cycle_gas_units,
    gas_price_wei,
    gas_units_f,
    gas_units_table,
    net_profit_wei,
    next_base_fee,
    next_base_fee_from_header,
    next_base_fee_from_target,
    parked_hops_of,
)

GWEI = 10**9


def _vectors_file() -> Path:
    """Return the shared ethereumjs vectors beside the repository; fail if they are missing."""
    here = Path(__file__).resolve()
    root = next(p for p in here.parents if (p / "pyproject.toml").is_file())
    path = root / ".." / "shared" / "data" / "eip1559" / "ethereumjs_eip1559baseFee.csv"
    if not path.is_file():
        raise FileNotFoundError(f"ethereumjs EIP-1559 vectors not found at {path}")
    return path


with _vectors_file().open(newline="") as _f:
    VECTORS = [
        (
            int(row["parentBaseFee"]),
            int(row["parentGasUsed"]),
            int(row["parentTargetGasUsed"]),
            int(row["expectedBaseFee"]),
        )
        for row in csv.DictReader(_f)
    ]

MODEL = GasModel(
    base_flash_gas=42_000,
    base_inventory_gas=37_000,
    per_v2_hop_gas=52_000,
    per_v3_hop_gas=62_000,
    per_tick_crossed_gas=33_000,
    per_parked_hop_gas=5_700,
    per_word_step_gas=2_100,
    per_tip_gas=18_800,
)


# ---------------------------------------------------------------------------- base fee


def test_all_fifty_vectors_are_read() -> None:
    assert len(VECTORS) == 50


@pytest.mark.parametrize(("base", "used", "target", "expected"), VECTORS)
def test_ethereumjs_vector_from_target(base: int, used: int, target: int, expected: int) -> None:
    assert next_base_fee_from_target(base, used, target, 8) == expected


@pytest.mark.parametrize(("base", "used", "target", "expected"), VECTORS)
def test_ethereumjs_vector_from_limit(base: int, used: int, target: int, expected: int) -> None:
    # the limit form with elasticity 2 meets the target form at limit = 2 * target
    limit = 2 * target
    if used > limit:
        with pytest.raises(ValueError, match="parent_gas_used"):
            next_base_fee(base, used, limit, ETHEREUM)
        # the same target from a larger elasticity keeps the vector's answer
        params = Eip1559Params(base_fee_max_change_denominator=8, elasticity_multiplier=4)
        assert next_base_fee(base, used, 4 * target, params) == expected
    else:
        assert next_base_fee(base, used, limit, ETHEREUM) == expected


def test_named_parameter_sets() -> None:
    assert (ETHEREUM.base_fee_max_change_denominator, ETHEREUM.elasticity_multiplier) == (8, 2)
    assert (
        OP_STACK_BEDROCK.base_fee_max_change_denominator,
        OP_STACK_BEDROCK.elasticity_multiplier,
    ) == (50, 6)
    assert (
        OP_STACK_CANYON.base_fee_max_change_denominator,
        OP_STACK_CANYON.elasticity_multiplier,
    ) == (250, 6)


# OP stack, gas limit 30M, elasticity 6: target 5M. A full block is 5 targets above target.
OP_LIMIT = 30_000_000


@pytest.mark.parametrize(
    ("params", "used", "expected"),
    [
        # full: +1e9 * 25M / 5M / 50 = +100M (10%)
        (OP_STACK_BEDROCK, OP_LIMIT, GWEI + 100_000_000),
        # full: +1e9 * 25M / 5M / 250 = +20M (2%)
        (OP_STACK_CANYON, OP_LIMIT, GWEI + 20_000_000),
        # empty: -1e9 / 50 = -20M (2%)
        (OP_STACK_BEDROCK, 0, GWEI - 20_000_000),
        # empty: -1e9 / 250 = -4M (0.4%)
        (OP_STACK_CANYON, 0, GWEI - 4_000_000),
        # at target: unchanged
        (OP_STACK_BEDROCK, 5_000_000, GWEI),
        (OP_STACK_CANYON, 5_000_000, GWEI),
        # 2x target: +1e9 * 5M / 5M / 50 = +20M; / 250 = +4M
        (OP_STACK_BEDROCK, 10_000_000, GWEI + 20_000_000),
        (OP_STACK_CANYON, 10_000_000, GWEI + 4_000_000),
        # half the target: -1e9 * 2.5M / 5M / 50 = -10M; / 250 = -2M
        (OP_STACK_BEDROCK, 2_500_000, GWEI - 10_000_000),
        (OP_STACK_CANYON, 2_500_000, GWEI - 2_000_000),
        # 3M used: -1e9 * 2M / 5M = 400M, / 250 = 1.6M
        (OP_STACK_CANYON, 3_000_000, GWEI - 1_600_000),
        # 7_777_777 used: 1e9 * 2_777_777 // 5M = 555_555_400; // 250 = 2_222_221 (floored)
        (OP_STACK_CANYON, 7_777_777, GWEI + 2_222_221),
        # // 50 = 11_111_108
        (OP_STACK_BEDROCK, 7_777_777, GWEI + 11_111_108),
    ],
)
def test_op_stack_hand_computed(params: Eip1559Params, used: int, expected: int) -> None:
    assert next_base_fee(GWEI, used, OP_LIMIT, params) == expected


@pytest.mark.parametrize("params", [ETHEREUM, OP_STACK_BEDROCK, OP_STACK_CANYON])
def test_increase_is_at_least_one_wei(params: Eip1559Params) -> None:
    target = OP_LIMIT // params.elasticity_multiplier
    # 100 * 1 // target // d == 0, yet the fee must rise
    assert next_base_fee(100, target + 1, OP_LIMIT, params) == 101
    assert next_base_fee(0, target + 1, OP_LIMIT, params) == 1
    assert next_base_fee(0, OP_LIMIT, OP_LIMIT, params) == 1
    # a decrease has no such minimum: it may round to nothing
    assert next_base_fee(100, target - 1, OP_LIMIT, params) == 100
    assert next_base_fee(0, 0, OP_LIMIT, params) == 0


@pytest.mark.parametrize(
    ("params", "floor_wei"),
    [(ETHEREUM, 7), (OP_STACK_BEDROCK, 49), (OP_STACK_CANYON, 249)],
)
def test_empty_blocks_drive_the_fee_down_to_denominator_minus_one(
    params: Eip1559Params, floor_wei: int
) -> None:
    # an empty block takes base // denominator off, which is 0 once base < denominator
    fee = 10 * GWEI
    previous = None
    steps = 0
    while fee != previous:
        previous, fee = fee, next_base_fee(fee, 0, OP_LIMIT, params)
        assert fee <= previous
        steps += 1
        assert steps < 100_000
    assert fee == floor_wei
    assert next_base_fee(floor_wei + 1, 0, OP_LIMIT, params) == floor_wei


def test_small_values_step_exactly() -> None:
    assert next_base_fee(8, 0, OP_LIMIT, ETHEREUM) == 7
    assert next_base_fee(16, 0, OP_LIMIT, ETHEREUM) == 14
    assert next_base_fee(50, 0, OP_LIMIT, OP_STACK_BEDROCK) == 49
    assert next_base_fee(250, 0, OP_LIMIT, OP_STACK_CANYON) == 249
    assert next_base_fee(1, OP_LIMIT, OP_LIMIT, OP_STACK_CANYON) == 2
    # full Ethereum block: +12.5%, floored
    assert next_base_fee(15, 30_000_000, 30_000_000, ETHEREUM) == 15 + 1
    assert next_base_fee(17, 30_000_000, 30_000_000, ETHEREUM) == 17 + 2


def test_gas_limit_not_divisible_by_elasticity() -> None:
    # target = 1_000_001 // 2 = 500_000: 500_000 used is exactly at target
    assert next_base_fee(GWEI, 500_000, 1_000_001, ETHEREUM) == GWEI
    assert next_base_fee(GWEI, 500_001, 1_000_001, ETHEREUM) == GWEI + 250
    # target = 30_000_005 // 6 = 5_000_000
    assert next_base_fee(GWEI, 5_000_000, 30_000_005, OP_STACK_CANYON) == GWEI


def test_from_header_reads_hex_quantities() -> None:
    header = {
        "number": "0x10",
        "baseFeePerGas": hex(GWEI),
        "gasUsed": hex(OP_LIMIT),
        "gasLimit": hex(OP_LIMIT),
    }
    assert next_base_fee_from_header(header, OP_STACK_CANYON) == GWEI + 20_000_000
    assert next_base_fee_from_header(header, ETHEREUM) == GWEI + GWEI // 8
    as_ints = {"baseFeePerGas": GWEI, "gasUsed": 0, "gasLimit": OP_LIMIT}
    assert next_base_fee_from_header(as_ints, ETHEREUM) == GWEI - GWEI // 8


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ({"gasUsed": "0x0", "gasLimit": "0x1c9c380"}, "baseFeePerGas"),
        ({"baseFeePerGas": None, "gasUsed": "0x0", "gasLimit": "0x1"}, "baseFeePerGas"),
        ({"baseFeePerGas": "0x1", "gasLimit": "0x1c9c380"}, "gasUsed"),
        ({"baseFeePerGas": "0x1", "gasUsed": "0x0"}, "gasLimit"),
        ({"baseFeePerGas": "12", "gasUsed": "0x0", "gasLimit": "0x10"}, "baseFeePerGas"),
        ({"baseFeePerGas": "0x", "gasUsed": "0x0", "gasLimit": "0x10"}, "baseFeePerGas"),
        ({"baseFeePerGas": "0x1", "gasUsed": "0xzz", "gasLimit": "0x10"}, "gasUsed"),
        ({"baseFeePerGas": "0x1", "gasUsed": "0x11", "gasLimit": "0x10"}, "parent_gas_used"),
        ({"baseFeePerGas": "0x1", "gasUsed": "0x0", "gasLimit": "0x0"}, "parent_gas_limit"),
        ({"baseFeePerGas": True, "gasUsed": "0x0", "gasLimit": "0x10"}, "baseFeePerGas"),
    ],
)
def test_from_header_refuses_bad_headers(header: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        next_base_fee_from_header(header, ETHEREUM)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, 0, 100, ETHEREUM), "parent_base_fee_wei"),
        ((1, -1, 100, ETHEREUM), "parent_gas_used"),
        ((1, 0, 0, ETHEREUM), "parent_gas_limit"),
        ((1, 0, -5, ETHEREUM), "parent_gas_limit"),
        ((1, 101, 100, ETHEREUM), "parent_gas_used"),
        ((1, 0, 1, ETHEREUM), "elasticity_multiplier"),
        (
            (1, 0, 100, Eip1559Params(base_fee_max_change_denominator=0, elasticity_multiplier=2)),
            "base_fee_max_change_denominator",
        ),
        (
            (1, 0, 100, Eip1559Params(base_fee_max_change_denominator=8, elasticity_multiplier=0)),
            "elasticity_multiplier",
        ),
    ],
)
def test_next_base_fee_validates(args: tuple[int, int, int, Eip1559Params], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        next_base_fee(*args)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, 0, 1, 8), "parent_base_fee_wei"),
        ((1, -1, 1, 8), "parent_gas_used"),
        ((1, 0, 0, 8), "parent_gas_target"),
        ((1, 0, 1, 0), "base_fee_max_change_denominator"),
    ],
)
def test_next_base_fee_from_target_validates(args: tuple[int, int, int, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        next_base_fee_from_target(*args)


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError, match="parent_base_fee_wei"):
        next_base_fee(1e9, 0, 100, ETHEREUM)  # type: ignore[arg-type]
    # numpy integers (from record arrays) are integers
    assert next_base_fee(np.uint64(GWEI), np.int64(0), 30_000_000, ETHEREUM) == GWEI - GWEI // 8


def _reference_next_base_fee(base: int, used: int, limit: int, d: int, e: int) -> int:
    """The EIP-1559 rule written with exact rationals and explicit floors."""
    target = math.floor(Fraction(limit, e))
    if used == target:
        return base
    change = math.floor(Fraction(base * abs(used - target), target * d))
    if used > target:
        return base + max(change, 1)
    return max(base - change, 0)


@given(
    base=st.integers(min_value=0, max_value=2**128),
    limit=st.integers(min_value=1, max_value=2**40),
    used_share=st.fractions(min_value=0, max_value=1),
    d=st.integers(min_value=1, max_value=1_000),
    e=st.integers(min_value=1, max_value=64),
)
def test_matches_a_rational_reference(
    base: int, limit: int, used_share: Fraction, d: int, e: int
) -> None:
    limit = max(limit, e)
    used = math.floor(used_share * limit)
    params = Eip1559Params(base_fee_max_change_denominator=d, elasticity_multiplier=e)
    assert next_base_fee(base, used, limit, params) == _reference_next_base_fee(
        base, used, limit, d, e
    )


@given(
    base=st.integers(min_value=0, max_value=2**128),
    target=st.integers(min_value=1, max_value=2**40),
    used=st.integers(min_value=0, max_value=2**42),
    d=st.integers(min_value=1, max_value=1_000),
)
def test_from_target_matches_the_limit_form(base: int, target: int, used: int, d: int) -> None:
    # used may exceed 2 * target here: the target form has no limit to check against
    e = max(1, -(-used // target))
    params = Eip1559Params(base_fee_max_change_denominator=d, elasticity_multiplier=e)
    expected = next_base_fee(base, used, target * e, params)
    assert next_base_fee_from_target(base, used, target, d) == expected
    assert expected == _reference_next_base_fee(base, used, target * e, d, e)


# ---------------------------------------------------------------------------- price and tip


def test_gas_price_is_base_plus_priority() -> None:
    assert gas_price_wei(30 * GWEI, 2 * GWEI) == 32 * GWEI
    assert gas_price_wei(0, 0) == 0
    with pytest.raises(ValueError, match="next_base_fee_wei"):
        gas_price_wei(-1, 0)
    with pytest.raises(ValueError, match="priority_fee_wei"):
        gas_price_wei(1, -1)


@pytest.mark.parametrize(
    ("bps", "gross", "gas_cost", "expected"),
    [
        (5_000, 1_000, 400, 300),
        (5_000, 1_001, 400, 300),  # 601 * 0.5 = 300.5, floored
        (3_333, 10, 0, 3),  # 3.333 floored
        (9_999, 1, 0, 0),  # 0.9999 floored
        (10_000, 1_000, 400, 600),  # the whole margin
        (0, 1_000, 400, 0),
        (5_000, 400, 400, 0),  # zero margin
        (5_000, 300, 400, 0),  # negative margin
        (10_000, -5, 0, 0),  # a loss before gas
        (7_500, 10**30 + 3, 3, 75 * 10**28),  # exact beyond float precision
    ],
)
def test_tip_policy(bps: int, gross: int, gas_cost: int, expected: int) -> None:
    assert TipPolicy(tip_share_bps=bps).tip_wei(gross, gas_cost) == expected


@pytest.mark.parametrize("bps", [-1, 10_001])
def test_tip_policy_refuses_share_out_of_range(bps: int) -> None:
    with pytest.raises(ValueError, match="tip_share_bps"):
        TipPolicy(tip_share_bps=bps)


def test_tip_policy_refuses_a_float_share() -> None:
    with pytest.raises(TypeError, match="tip_share_bps"):
        TipPolicy(tip_share_bps=50.0)  # type: ignore[arg-type]


def test_net_profit_and_cycle_cost() -> None:
    policy = TipPolicy(tip_share_bps=5_000)
    cost = cycle_cost(10**16, 200_000, 20 * GWEI, policy)
    gas_cost = 200_000 * 20 * GWEI
    assert cost == CycleCost(
        gas_units=200_000,
        gas_price_wei=20 * GWEI,
        gas_cost_wei=gas_cost,
        tip_wei=(10**16 - gas_cost) // 2,
    )
    assert cost.total_wei == gas_cost + cost.tip_wei
    net = net_profit_wei(10**16, cost.gas_units, cost.gas_price_wei, cost.tip_wei)
    assert net == 10**16 - cost.total_wei == (10**16 - gas_cost) - (10**16 - gas_cost) // 2
    # an unprofitable cycle pays no tip and nets a loss
    loss = cycle_cost(10**12, 200_000, 20 * GWEI, policy)
    assert loss.tip_wei == 0
    assert net_profit_wei(10**12, 200_000, 20 * GWEI, 0) == 10**12 - gas_cost < 0
    with pytest.raises(ValueError, match="gas_units"):
        net_profit_wei(1, -1, 1, 0)
    with pytest.raises(ValueError, match="tip_wei"):
        net_profit_wei(1, 1, 1, -1)


# ---------------------------------------------------------------------------- gas units


@pytest.mark.parametrize(
    ("hops", "parked"),
    [
        ([False], 0),
        ([True], 0),
        ([False, False, False], 0),
        ([True, True, True], 2),
        ([False, True, False], 1),
        ([True, False, True], 1),
        ([False, True, True, False], 2),
        ([], 0),
    ],
)
def test_parked_hops_of(hops: list[bool], parked: int) -> None:
    assert parked_hops_of(hops) == parked
    assert parked_hops_of(tuple(hops)) == parked


def test_cycle_gas_units_delegates_to_the_model() -> None:
    got = cycle_gas_units(
        MODEL, flash=True, n_v2=1, n_v3=2, ticks_crossed=3, parked_hops=1, word_steps=2
    )
    assert got == 42_000 + 52_000 + 2 * 62_000 + 3 * 33_000 + 5_700 + 2 * 2_100
    assert (
        cycle_gas_units(MODEL, flash=False, n_v2=3, n_v3=0, ticks_crossed=0, parked_hops=0)
        == 37_000 + 3 * 52_000
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_v2": -1, "n_v3": 2, "ticks_crossed": 0, "parked_hops": 0}, "n_v2"),
        ({"n_v2": 1, "n_v3": -1, "ticks_crossed": 0, "parked_hops": 0}, "n_v3"),
        ({"n_v2": 1, "n_v3": 1, "ticks_crossed": -1, "parked_hops": 0}, "ticks_crossed"),
        ({"n_v2": 1, "n_v3": 1, "ticks_crossed": 0, "parked_hops": -1}, "parked_hops"),
        ({"n_v2": 1, "n_v3": 1, "ticks_crossed": 0, "parked_hops": 2}, "parked_hops"),
        ({"n_v2": 0, "n_v3": 0, "ticks_crossed": 0, "parked_hops": 0}, "n_v2"),
    ],
)
def test_cycle_gas_units_validates(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        cycle_gas_units(MODEL, flash=True, **kwargs)


def test_cycle_gas_units_refuses_negative_word_steps() -> None:
    with pytest.raises(ValueError, match="word_steps"):
        cycle_gas_units(
            MODEL, flash=True, n_v2=2, n_v3=0, ticks_crossed=0, parked_hops=0, word_steps=-1
        )


def test_gas_units_table_layout() -> None:
    flash = gas_units_table(MODEL, True)
    inventory = gas_units_table(MODEL, False)
    assert flash.dtype == np.float64 and flash.shape == (5,)
    assert flash.tolist() == [42_000.0, 52_000.0, 62_000.0, 33_000.0, 5_700.0]
    assert inventory.tolist() == [37_000.0, 52_000.0, 62_000.0, 33_000.0, 5_700.0]
    # a positive tip share screens with the tip's gas in the base
    assert gas_units_table(MODEL, True, tipped=True).tolist() == [
        60_800.0,
        52_000.0,
        62_000.0,
        33_000.0,
        5_700.0,
    ]
    assert gas_units_table(MODEL, False, tipped=True)[0] == 55_800.0


@pytest.mark.parametrize("flash", [True, False])
def test_tipped_row_agrees_with_the_tipped_prediction(flash: bool) -> None:
    coeffs = gas_units_table(MODEL, flash, tipped=True)
    shape = {"n_v2": 1, "n_v3": 2, "ticks_crossed": 3, "parked_hops": 1}
    exact = MODEL.predict(flash=flash, **shape, word_steps=0, tip_paid=True)
    assert gas_units_f(coeffs, *shape.values()) == float(exact)


@pytest.mark.parametrize("flash", [True, False])
def test_gas_units_f_agrees_with_cycle_gas_units(flash: bool) -> None:
    coeffs = gas_units_table(MODEL, flash)
    for hops in ([False, False], [True, False], [True, True, False], [True, True, True, True]):
        n_v3 = sum(hops)
        n_v2 = len(hops) - n_v3
        parked = parked_hops_of(hops)
        for ticks in (0, 1, 7, 250):
            exact = cycle_gas_units(
                MODEL, flash=flash, n_v2=n_v2, n_v3=n_v3, ticks_crossed=ticks, parked_hops=parked
            )
            got = gas_units_f(coeffs, n_v2, n_v3, ticks, parked)
            assert isinstance(got, float)
            assert got == float(exact)


@given(
    coeffs=st.lists(st.integers(min_value=0, max_value=2_000_000), min_size=7, max_size=7),
    flash=st.booleans(),
    n_v2=st.integers(min_value=0, max_value=4),
    n_v3=st.integers(min_value=1, max_value=4),
    ticks=st.integers(min_value=0, max_value=1_000),
    data=st.data(),
)
def test_gas_units_f_agrees_for_any_model(
    coeffs: list[int], flash: bool, n_v2: int, n_v3: int, ticks: int, data: st.DataObject
) -> None:
    model = GasModel(
        base_flash_gas=coeffs[0],
        base_inventory_gas=coeffs[1],
        per_v2_hop_gas=coeffs[2],
        per_v3_hop_gas=coeffs[3],
        per_tick_crossed_gas=coeffs[4],
        per_parked_hop_gas=coeffs[5],
        per_word_step_gas=coeffs[6],
    )
    parked = data.draw(st.integers(min_value=0, max_value=n_v3))
    exact = cycle_gas_units(
        model, flash=flash, n_v2=n_v2, n_v3=n_v3, ticks_crossed=ticks, parked_hops=parked
    )
    assert gas_units_f(gas_units_table(model, flash), n_v2, n_v3, ticks, parked) == float(exact)

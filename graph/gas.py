"""What a cycle's execution costs: the next block's base fee, gas units, gas price and tip.

Base fee: the exact EIP-1559 integer rule of go-ethereum's ``CalcBaseFee`` (misc/eip1559)::

    target = gas_limit // elasticity_multiplier
    used == target: base
    used >  target: base + max(1, base * (used - target) // target // denominator)
    used <  target: max(0, base - base * (target - used) // target // denominator)

OP-stack chains (Optimism, Base) run the same rule with their own parameters: Bedrock used
denominator 50 and elasticity 6, Canyon raised the denominator to 250. Since Holocene the
parameters are carried in each block's ``extraData`` and can change at any block, so the
chain config must carry the values currently in force; the named constants below are
reference points, not a substitute for that. Later OP forks also put a minimum base fee in
``extraData``; ``next_base_fee`` does not apply one.

Gas units: ``cycle_gas_units`` asks the calibrated ``chains.gas_model.GasModel``; the search
kernels use the same model as a float64 coefficient row (``gas_units_table``) through the
numba function ``gas_units_f``.

Money is Python ``int`` wei throughout; only ``gas_units_f`` works in float64 (screening).
Invalid inputs raise ValueError naming the offending field.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from chains.config_chain import Eip1559Params
from chains.gas_model import GasModel

__all__ = [
    "BPS_DENOMINATOR",
    "ETHEREUM",
    "GAS_COEFF_BASE",
    "GAS_COEFF_PER_PARKED",
    "GAS_COEFF_PER_TICK",
    "GAS_COEFF_PER_V2",
    "GAS_COEFF_PER_V3",
    "OP_STACK_BEDROCK",
    "OP_STACK_CANYON",
    "CycleCost",
    "TipPolicy",
    "cycle_cost",
    "cycle_gas_units",
    "gas_price_wei",
    "gas_units_f",
    "gas_units_table",
    "net_profit_wei",
    "next_base_fee",
    "next_base_fee_from_header",
    "next_base_fee_from_target",
    "parked_hops_of",
]

BPS_DENOMINATOR = 10_000

# Ethereum mainnet since London (EIP-1559).
ETHEREUM = Eip1559Params(base_fee_max_change_denominator=8, elasticity_multiplier=2)
# OP-stack chains from Bedrock until Canyon.
OP_STACK_BEDROCK = Eip1559Params(base_fee_max_change_denominator=50, elasticity_multiplier=6)
# Optimism and Base from Canyon (until Holocene moved the values into extraData).
OP_STACK_CANYON = Eip1559Params(base_fee_max_change_denominator=250, elasticity_multiplier=6)

# Column order of the row built by gas_units_table and read by gas_units_f.
GAS_COEFF_BASE = 0
GAS_COEFF_PER_V2 = 1
GAS_COEFF_PER_V3 = 2
GAS_COEFF_PER_TICK = 3
GAS_COEFF_PER_PARKED = 4
_GAS_COEFFS = 5


def _int_at_least(name: str, value: Any, minimum: int) -> int:
    """Return value as an int (numpy ints accepted, floats refused) if it is >= minimum."""
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}: {number}")
    return number


def next_base_fee_from_target(
    parent_base_fee_wei: int,
    parent_gas_used: int,
    parent_gas_target: int,
    base_fee_max_change_denominator: int,
) -> int:
    """Return the next block's base fee (wei) from the parent's base fee, gas used and target."""
    base = _int_at_least("parent_base_fee_wei", parent_base_fee_wei, 0)
    used = _int_at_least("parent_gas_used", parent_gas_used, 0)
    target = _int_at_least("parent_gas_target", parent_gas_target, 1)
    denominator = _int_at_least(
        "base_fee_max_change_denominator", base_fee_max_change_denominator, 1
    )
    if used == target:
        return base
    if used > target:
        # the increase is at least 1 wei, so a zero base fee still starts to rise
        return base + max(1, base * (used - target) // target // denominator)
    return max(0, base - base * (target - used) // target // denominator)


def next_base_fee(
    parent_base_fee_wei: int,
    parent_gas_used: int,
    parent_gas_limit: int,
    params: Eip1559Params,
) -> int:
    """Return the next block's base fee (wei) from the parent's base fee, gas used and limit."""
    elasticity = _int_at_least("elasticity_multiplier", params.elasticity_multiplier, 1)
    limit = _int_at_least("parent_gas_limit", parent_gas_limit, 1)
    used = _int_at_least("parent_gas_used", parent_gas_used, 0)
    if used > limit:
        raise ValueError(f"parent_gas_used {used} exceeds parent_gas_limit {limit}")
    if limit < elasticity:
        raise ValueError(
            f"parent_gas_limit {limit} is below elasticity_multiplier {elasticity}: zero target"
        )
    return next_base_fee_from_target(
        parent_base_fee_wei, used, limit // elasticity, params.base_fee_max_change_denominator
    )


def _header_quantity(header: Mapping[str, Any], field: str) -> int:
    """Return a JSON-RPC quantity (hex string, or int) of a block header."""
    if field not in header or header[field] is None:
        raise ValueError(f"block header has no {field}")
    value = header[field]
    if isinstance(value, str):
        if not value.startswith("0x") or len(value) < 3:
            raise ValueError(f"block header {field} is not a hex quantity: {value!r}")
        try:
            return int(value, 16)
        except ValueError:
            raise ValueError(f"block header {field} is not a hex quantity: {value!r}") from None
    if isinstance(value, bool):
        raise ValueError(f"block header {field} is not a quantity: {value!r}")
    return _int_at_least(field, value, 0)


def next_base_fee_from_header(header: Mapping[str, Any], params: Eip1559Params) -> int:
    """Return the base fee (wei) of the block after a JSON-RPC block (baseFeePerGas, gasUsed...)."""
    return next_base_fee(
        _header_quantity(header, "baseFeePerGas"),
        _header_quantity(header, "gasUsed"),
        _header_quantity(header, "gasLimit"),
        params,
    )


def gas_price_wei(next_base_fee_wei: int, priority_fee_wei: int) -> int:
    """Return the price per gas unit (wei) a transaction in the next block pays: base + priority."""
    base = _int_at_least("next_base_fee_wei", next_base_fee_wei, 0)
    return base + _int_at_least("priority_fee_wei", priority_fee_wei, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TipPolicy:
    """The share (basis points) of the margin after gas that is paid to the builder."""

    tip_share_bps: int

    def __post_init__(self) -> None:
        bps = _int_at_least("tip_share_bps", self.tip_share_bps, 0)
        if bps > BPS_DENOMINATOR:
            raise ValueError(f"tip_share_bps must be <= {BPS_DENOMINATOR}: {bps}")

    def tip_wei(self, gross_profit_wei: int, gas_cost_wei: int) -> int:
        """Return floor((gross - gas cost) * bps / 10_000) in wei, or 0 when the margin is <= 0."""
        margin_wei = operator.index(gross_profit_wei) - operator.index(gas_cost_wei)
        if margin_wei <= 0:
            return 0
        return margin_wei * self.tip_share_bps // BPS_DENOMINATOR


def parked_hops_of(is_v3_per_hop: Sequence[bool]) -> int:
    """Count hops after the first that are V3: the hop before each parks its output."""
    return sum(1 for is_v3 in is_v3_per_hop[1:] if is_v3)


def cycle_gas_units(
    model: GasModel,
    *,
    flash: bool,
    n_v2: int,
    n_v3: int,
    ticks_crossed: int,
    parked_hops: int,
    word_steps: int = 0,
) -> int:
    """Return the predicted gas units of one executor call of a cycle."""
    counts = {
        "n_v2": n_v2,
        "n_v3": n_v3,
        "ticks_crossed": ticks_crossed,
        "parked_hops": parked_hops,
        "word_steps": word_steps,
    }
    for name, value in counts.items():
        _int_at_least(name, value, 0)
    if n_v2 + n_v3 < 1:
        raise ValueError("n_v2 + n_v3 must be >= 1: a cycle has hops")
    if parked_hops > n_v3:
        raise ValueError(f"parked_hops {parked_hops} exceeds n_v3 {n_v3}")
    return model.predict(
        flash=flash,
        n_v2=n_v2,
        n_v3=n_v3,
        ticks_crossed=ticks_crossed,
        parked_hops=parked_hops,
        word_steps=word_steps,
    )


def gas_units_table(model: GasModel, flash: bool, *, tipped: bool = False) -> np.ndarray:
    """Return the float64 row [base, per_v2, per_v3, per_tick, per_parked] gas_units_f reads.

    `tipped` adds the model's tip term (unwrapping a tip from WETH and paying it) to the base:
    for screening under a positive tip share.
    """
    coeffs = np.zeros(_GAS_COEFFS, dtype=np.float64)
    base = model.base_flash_gas if flash else model.base_inventory_gas
    coeffs[GAS_COEFF_BASE] = base + (model.per_tip_gas if tipped else 0)
    coeffs[GAS_COEFF_PER_V2] = model.per_v2_hop_gas
    coeffs[GAS_COEFF_PER_V3] = model.per_v3_hop_gas
    coeffs[GAS_COEFF_PER_TICK] = model.per_tick_crossed_gas
    coeffs[GAS_COEFF_PER_PARKED] = model.per_parked_hop_gas
    return coeffs


@numba.njit(cache=True, nogil=True)
def gas_units_f(
    coeffs: np.ndarray, n_v2: int, n_v3: int, ticks_crossed: int, parked_hops: int
) -> float:
    """Return the predicted gas units (float64) from a gas_units_table row (no word steps)."""
    return (
        coeffs[0]
        + n_v2 * coeffs[1]
        + n_v3 * coeffs[2]
        + ticks_crossed * coeffs[3]
        + parked_hops * coeffs[4]
    )


def net_profit_wei(gross_profit_wei: int, gas_units: int, gas_price_wei: int, tip_wei: int) -> int:
    """Return gross profit minus gas (units * price) minus the builder tip, in wei (may be < 0)."""
    units = _int_at_least("gas_units", gas_units, 0)
    price = _int_at_least("gas_price_wei", gas_price_wei, 0)
    tip = _int_at_least("tip_wei", tip_wei, 0)
    return operator.index(gross_profit_wei) - units * price - tip


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleCost:
    """What one execution costs: gas units, price per unit, their product and the tip (wei)."""

    gas_units: int
    gas_price_wei: int
    gas_cost_wei: int
    tip_wei: int

    @property
    def total_wei(self) -> int:
        """Return gas cost plus tip in wei."""
        return self.gas_cost_wei + self.tip_wei


def cycle_cost(
    gross_profit_wei: int, gas_units: int, gas_price_wei: int, policy: TipPolicy
) -> CycleCost:
    """Price one execution: gas cost at gas_price_wei, then the policy's tip on the margin."""
    units = _int_at_least("gas_units", gas_units, 0)
    price = _int_at_least("gas_price_wei", gas_price_wei, 0)
    gas_cost = units * price
    return CycleCost(
        gas_units=units,
        gas_price_wei=price,
        gas_cost_wei=gas_cost,
        tip_wei=policy.tip_wei(gross_profit_wei, gas_cost),
    )

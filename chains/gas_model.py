"""The per-hop gas model of ArbExecutor executions, fitted by calibration, kept in TOML.

``configs/gas/<chain>.toml`` is written by ``arbloop executor calibrate`` and read by search:

    gas_units = base (flash | inventory) + n_v2 * per_v2_hop + n_v3 * per_v3_hop
                + ticks_crossed * per_tick_crossed + parked_hops * per_parked_hop
                + word_steps * per_word_step + crossing_hops * per_crossing_hop
                + fee_slots_set * per_fee_slot_set + flash_forwards * per_flash_forward
                - fee_slots_cleared * per_fee_slot_cleared_refund
                - still_v3_hops * per_still_v3_hop_saving
                + tip_paid * per_tip

All values are integer gas units (every one non-negative; refunds and savings are subtracted).

- ``ticks_crossed`` counts initialized V3 ticks crossed over all hops of the cycle (each
  crossing reads and writes the tick's storage);
- ``parked_hops`` counts hops whose output goes to the executor rather than straight to the
  next V2 pair (every hop followed by a V3 hop, whose pool is paid in its callback);
- ``word_steps`` counts V3 swap steps that stop at a tick-bitmap word boundary without an
  initialized tick;
- ``crossing_hops`` counts V3 hops crossing at least one initialized tick: the first
  crossing of a swap reads the oracle, and the swap writes the pool's in-range liquidity;
- ``fee_slots_set`` counts feeGrowthOutside slots (two per crossed tick, one per token) that
  go from zero to nonzero when the tick is crossed: a fresh SSTORE instead of an update. A
  tick initialized above the price has both slots zero until its first crossing;
- ``fee_slots_cleared`` counts such slots going from nonzero back to zero (an SSTORE refund):
  a tick crossed when no fee in that token has accrued since its outside value was set;
- ``still_v3_hops`` counts V3 hops that leave the pool's tick where it was: the pool then
  writes no oracle observation (every other V3 hop does, once per block);
- ``flash_forwards`` is 1 for a flash execution whose first two hops are V2: the flash pair
  pays the executor, which forwards the output to the second pair (one more transfer);
- ``tip_paid`` is 1 for an execution paying a positive builder tip from WETH: the executor
  unwraps the tip (``WETH.withdraw``) and sends it to ``block.coinbase``, last.

Every term beyond the first six defaults to 0 in `predict`, which is the common case for all
but ``crossing_hops`` and ``fee_slots_set``; those two need the crossed ticks and, for the
fee slots, which ticks still have zero fee growth outside (see `predict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chains.toml_reader import read_toml

__all__ = ["GAS_KEYS", "GasModel", "load_gas_model", "save_gas_model"]

_MAX_GAS = 30_000_000

# every [gas] key, in file order
GAS_KEYS = (
    "base_flash_gas",
    "base_inventory_gas",
    "per_v2_hop_gas",
    "per_v3_hop_gas",
    "per_tick_crossed_gas",
    "per_parked_hop_gas",
    "per_word_step_gas",
    "per_crossing_hop_gas",
    "per_fee_slot_set_gas",
    "per_fee_slot_cleared_refund_gas",
    "per_still_v3_hop_saving_gas",
    "per_flash_forward_gas",
    "per_tip_gas",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class GasModel:
    """Fitted gas units: fixed overhead per funding mode, per hop kind, per tick crossed."""

    base_flash_gas: int
    base_inventory_gas: int
    per_v2_hop_gas: int
    per_v3_hop_gas: int
    per_tick_crossed_gas: int
    per_parked_hop_gas: int
    per_word_step_gas: int
    # the state-dependent terms default to 0 for models built in code; the file needs them all
    per_crossing_hop_gas: int = 0
    per_fee_slot_set_gas: int = 0
    per_fee_slot_cleared_refund_gas: int = 0
    per_still_v3_hop_saving_gas: int = 0
    per_flash_forward_gas: int = 0
    per_tip_gas: int = 0
    samples: int = 0
    max_abs_error_pct: float = 0.0

    def predict(
        self,
        *,
        flash: bool,
        n_v2: int,
        n_v3: int,
        ticks_crossed: int,
        parked_hops: int,
        word_steps: int,
        crossing_hops: int = 0,
        fee_slots_set: int = 0,
        fee_slots_cleared: int = 0,
        still_v3_hops: int = 0,
        flash_forwards: int = 0,
        tip_paid: bool = False,
    ) -> int:
        """Return the predicted gasUsed (gas units) of one execution.

        Without fee growth at hand, `fee_slots_set` is approximated by two per crossed tick
        that was initialized above the price and not crossed since (zero when unknown, which
        under-predicts such crossings by `per_fee_slot_set_gas` each slot). `tip_paid` adds
        `per_tip_gas` once: the execution unwraps a positive tip and pays it to the coinbase.
        """
        base = self.base_flash_gas if flash else self.base_inventory_gas
        return (
            base
            + n_v2 * self.per_v2_hop_gas
            + n_v3 * self.per_v3_hop_gas
            + ticks_crossed * self.per_tick_crossed_gas
            + parked_hops * self.per_parked_hop_gas
            + word_steps * self.per_word_step_gas
            + crossing_hops * self.per_crossing_hop_gas
            + fee_slots_set * self.per_fee_slot_set_gas
            - fee_slots_cleared * self.per_fee_slot_cleared_refund_gas
            - still_v3_hops * self.per_still_v3_hop_saving_gas
            + flash_forwards * self.per_flash_forward_gas
            + (self.per_tip_gas if tip_paid else 0)
        )


def load_gas_model(path: Path) -> GasModel:
    """Load a gas model strictly: every key required, unknown keys refused."""
    root = read_toml(path)
    gas = root.table("gas")
    values = {key: gas.req_int(key, min=0, max=_MAX_GAS) for key in GAS_KEYS}
    fit = root.table("fit")
    samples = fit.req_int("samples", min=0)
    max_err = fit.req_float("max_abs_error_pct", min=0.0)
    root.finish()
    return GasModel(**values, samples=samples, max_abs_error_pct=max_err)


def save_gas_model(path: Path, model: GasModel, *, chain: str) -> None:
    """Write a gas model as TOML that load_gas_model reads back unchanged."""
    lines = "".join(f"{key} = {getattr(model, key)}\n" for key in GAS_KEYS)
    text = (
        f"# Gas model of ArbExecutor on {chain}, written by `arbloop executor calibrate`.\n"
        "# gas = base (flash|inventory) + n_v2 * per_v2_hop + n_v3 * per_v3_hop\n"
        "#       + initialized ticks crossed * per_tick_crossed + parked hops * per_parked_hop\n"
        "#       + V3 bitmap word steps * per_word_step\n"
        "#       + V3 hops crossing a tick * per_crossing_hop\n"
        "#       + fee growth outside slots set from zero * per_fee_slot_set\n"
        "#       - fee growth outside slots cleared to zero * per_fee_slot_cleared_refund\n"
        "#       - V3 hops leaving the tick unchanged * per_still_v3_hop_saving\n"
        "#       + flash executions starting with two V2 hops * per_flash_forward\n"
        "#       + per_tip when a positive tip is unwrapped from WETH and paid to the coinbase\n"
        "# (chains/gas_model.py defines every term)\n\n"
        f"[gas]\n{lines}\n"
        "[fit]\n"
        f"samples = {model.samples}\n"
        f"max_abs_error_pct = {model.max_abs_error_pct:.3f}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)

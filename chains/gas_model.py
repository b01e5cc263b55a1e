"""The per-hop gas model of ArbExecutor executions, fitted by calibration, kept in TOML.

``configs/gas/<chain>.toml`` is written by ``arbloop executor calibrate`` and read by search:

    gas_units = base (flash | inventory) + n_v2 * per_v2_hop + n_v3 * per_v3_hop
                + ticks_crossed * per_tick_crossed + parked_hops * per_parked_hop
                + word_steps * per_word_step

All values are integer gas units. ``ticks_crossed`` counts initialized V3 ticks crossed over
all hops of the cycle (each crossing reads and writes the tick's storage); ``parked_hops``
counts hops whose output goes to the executor rather than straight to the next V2 pair
(every hop followed by a V3 hop, whose pool is paid in its callback); ``word_steps`` counts
V3 swap steps that stop at a tick-bitmap word boundary without an initialized tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chains.toml_reader import read_toml

__all__ = ["GasModel", "load_gas_model", "save_gas_model"]

_MAX_GAS = 30_000_000


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
    ) -> int:
        """Return the predicted gasUsed (gas units) of one execution."""
        base = self.base_flash_gas if flash else self.base_inventory_gas
        return (
            base
            + n_v2 * self.per_v2_hop_gas
            + n_v3 * self.per_v3_hop_gas
            + ticks_crossed * self.per_tick_crossed_gas
            + parked_hops * self.per_parked_hop_gas
            + word_steps * self.per_word_step_gas
        )


def load_gas_model(path: Path) -> GasModel:
    """Load a gas model strictly: every key required, unknown keys refused."""
    root = read_toml(path)
    gas = root.table("gas")
    model = GasModel(
        base_flash_gas=gas.req_int("base_flash_gas", min=0, max=_MAX_GAS),
        base_inventory_gas=gas.req_int("base_inventory_gas", min=0, max=_MAX_GAS),
        per_v2_hop_gas=gas.req_int("per_v2_hop_gas", min=0, max=_MAX_GAS),
        per_v3_hop_gas=gas.req_int("per_v3_hop_gas", min=0, max=_MAX_GAS),
        per_tick_crossed_gas=gas.req_int("per_tick_crossed_gas", min=0, max=_MAX_GAS),
        per_parked_hop_gas=gas.req_int("per_parked_hop_gas", min=0, max=_MAX_GAS),
        per_word_step_gas=gas.req_int("per_word_step_gas", min=0, max=_MAX_GAS),
    )
    fit = root.table("fit")
    samples = fit.req_int("samples", min=0)
    max_err = fit.req_float("max_abs_error_pct", min=0.0)
    root.finish()
    return GasModel(
        base_flash_gas=model.base_flash_gas,
        base_inventory_gas=model.base_inventory_gas,
        per_v2_hop_gas=model.per_v2_hop_gas,
        per_v3_hop_gas=model.per_v3_hop_gas,
        per_tick_crossed_gas=model.per_tick_crossed_gas,
        per_parked_hop_gas=model.per_parked_hop_gas,
        per_word_step_gas=model.per_word_step_gas,
        samples=samples,
        max_abs_error_pct=max_err,
    )


def save_gas_model(path: Path, model: GasModel, *, chain: str) -> None:
    """Write a gas model as TOML that load_gas_model reads back unchanged."""
    text = (
        f"# Gas model of ArbExecutor on {chain}, written by `arbloop executor calibrate`.\n"
        "# gas = base (flash|inventory) + n_v2 * per_v2_hop + n_v3 * per_v3_hop\n"
        "#       + initialized ticks crossed * per_tick_crossed + parked hops * per_parked_hop\n"
        "#       + V3 bitmap word steps * per_word_step\n\n"
        "[gas]\n"
        f"base_flash_gas = {model.base_flash_gas}\n"
        f"base_inventory_gas = {model.base_inventory_gas}\n"
        f"per_v2_hop_gas = {model.per_v2_hop_gas}\n"
        f"per_v3_hop_gas = {model.per_v3_hop_gas}\n"
        f"per_tick_crossed_gas = {model.per_tick_crossed_gas}\n"
        f"per_parked_hop_gas = {model.per_parked_hop_gas}\n"
        f"per_word_step_gas = {model.per_word_step_gas}\n\n"
        "[fit]\n"
        f"samples = {model.samples}\n"
        f"max_abs_error_pct = {model.max_abs_error_pct:.3f}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)

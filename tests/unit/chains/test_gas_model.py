"""The gas model: prediction, a TOML round trip, strict loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from chains.gas_model import GAS_KEYS, GasModel, load_gas_model, save_gas_model
from chains.toml_reader import ConfigError

MODEL = GasModel(
    base_flash_gas=42_000,
    base_inventory_gas=37_000,
    per_v2_hop_gas=52_000,
    per_v3_hop_gas=62_000,
    per_tick_crossed_gas=24_000,
    per_parked_hop_gas=5_700,
    per_word_step_gas=2_100,
    per_crossing_hop_gas=6_000,
    per_fee_slot_set_gas=17_100,
    per_fee_slot_cleared_refund_gas=4_800,
    per_still_v3_hop_saving_gas=6_500,
    per_flash_forward_gas=7_000,
    per_tip_gas=18_800,
    samples=100,
    max_abs_error_pct=4.25,
)


def test_predict_sums_the_terms() -> None:
    got = MODEL.predict(flash=True, n_v2=1, n_v3=2, ticks_crossed=3, parked_hops=1, word_steps=2)
    assert got == 42_000 + 52_000 + 2 * 62_000 + 3 * 24_000 + 5_700 + 2 * 2_100
    assert (
        MODEL.predict(flash=False, n_v2=2, n_v3=0, ticks_crossed=0, parked_hops=0, word_steps=0)
        == 37_000 + 2 * 52_000
    )


def test_predict_adds_state_terms_and_subtracts_refunds_and_savings() -> None:
    shape = {"flash": True, "n_v2": 2, "n_v3": 1, "ticks_crossed": 2, "parked_hops": 1}
    plain = MODEL.predict(**shape, word_steps=0)
    got = MODEL.predict(
        **shape,
        word_steps=0,
        crossing_hops=1,
        fee_slots_set=3,
        fee_slots_cleared=1,
        still_v3_hops=0,
        flash_forwards=1,
    )
    assert got == plain + 6_000 + 3 * 17_100 - 4_800 + 7_000
    assert MODEL.predict(**shape, word_steps=0, tip_paid=True) == plain + 18_800
    still = MODEL.predict(**{**shape, "ticks_crossed": 0}, word_steps=0, still_v3_hops=1)
    assert still == plain - 2 * 24_000 - 6_500


def test_state_terms_default_to_zero_in_code() -> None:
    model = GasModel(
        base_flash_gas=1,
        base_inventory_gas=2,
        per_v2_hop_gas=3,
        per_v3_hop_gas=4,
        per_tick_crossed_gas=5,
        per_parked_hop_gas=6,
        per_word_step_gas=7,
    )
    assert model.per_fee_slot_set_gas == 0 and model.per_still_v3_hop_saving_gas == 0
    assert model.per_tip_gas == 0
    assert model.predict(
        flash=True,
        n_v2=1,
        n_v3=1,
        ticks_crossed=1,
        parked_hops=1,
        word_steps=1,
        fee_slots_set=2,
        tip_paid=True,
    ) == (1 + 3 + 4 + 5 + 6 + 7)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "gas" / "local.toml"
    save_gas_model(path, MODEL, chain="local")
    assert load_gas_model(path) == MODEL


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "local.toml"
    save_gas_model(path, MODEL, chain="local")
    path.write_text(path.read_text().replace("[fit]", "per_v4_hop_gas = 1\n\n[fit]"))
    with pytest.raises(ConfigError, match="per_v4_hop_gas"):
        load_gas_model(path)


@pytest.mark.parametrize("key", GAS_KEYS)
def test_every_key_is_required(tmp_path: Path, key: str) -> None:
    path = tmp_path / "local.toml"
    save_gas_model(path, MODEL, chain="local")
    line = f"{key} = {getattr(MODEL, key)}\n"
    text = path.read_text()
    assert line in text
    path.write_text(text.replace(line, ""))
    with pytest.raises(ConfigError, match=key):
        load_gas_model(path)


def test_negative_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "local.toml"
    save_gas_model(path, MODEL, chain="local")
    text = path.read_text()
    for key in ("per_v2_hop_gas", "per_fee_slot_cleared_refund_gas"):
        path.write_text(text.replace(f"{key} = {getattr(MODEL, key)}", f"{key} = -1"))
        with pytest.raises(ConfigError, match=key):
            load_gas_model(path)


def test_committed_local_model_loads() -> None:
    model = load_gas_model(Path(__file__).parents[3] / "configs" / "gas" / "local.toml")
    assert model.samples > 0 and model.per_v2_hop_gas > 0 and model.per_v3_hop_gas > 0
    # a fresh fee growth slot costs a zero-to-nonzero SSTORE more than an update (EIP-2200)
    assert 15_000 <= model.per_fee_slot_set_gas <= 19_000
    # a tip is WETH.withdraw plus a value call to the coinbase
    assert 15_000 <= model.per_tip_gas <= 23_000
    assert model.max_abs_error_pct <= 5.0

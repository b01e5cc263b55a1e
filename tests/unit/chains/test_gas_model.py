"""The gas model: prediction, a TOML round trip, strict loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from chains.gas_model import GasModel, load_gas_model, save_gas_model
from chains.toml_reader import ConfigError

MODEL = GasModel(
    base_flash_gas=42_000,
    base_inventory_gas=37_000,
    per_v2_hop_gas=52_000,
    per_v3_hop_gas=62_000,
    per_tick_crossed_gas=33_000,
    per_parked_hop_gas=5_700,
    per_word_step_gas=2_100,
    samples=100,
    max_abs_error_pct=4.25,
)


def test_predict_sums_the_terms() -> None:
    got = MODEL.predict(flash=True, n_v2=1, n_v3=2, ticks_crossed=3, parked_hops=1, word_steps=2)
    assert got == 42_000 + 52_000 + 2 * 62_000 + 3 * 33_000 + 5_700 + 2 * 2_100
    assert (
        MODEL.predict(flash=False, n_v2=2, n_v3=0, ticks_crossed=0, parked_hops=0, word_steps=0)
        == 37_000 + 2 * 52_000
    )


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


def test_missing_and_negative_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "local.toml"
    save_gas_model(path, MODEL, chain="local")
    text = path.read_text()
    path.write_text(text.replace("per_word_step_gas = 2100\n", ""))
    with pytest.raises(ConfigError, match="per_word_step_gas"):
        load_gas_model(path)
    path.write_text(text.replace("per_v2_hop_gas = 52000", "per_v2_hop_gas = -1"))
    with pytest.raises(ConfigError, match="per_v2_hop_gas"):
        load_gas_model(path)


def test_committed_local_model_loads() -> None:
    model = load_gas_model(Path(__file__).parents[3] / "configs" / "gas" / "local.toml")
    assert model.samples > 0 and model.per_v2_hop_gas > 0 and model.per_v3_hop_gas > 0

"""TrafficConfig validation and the default action weights."""

from __future__ import annotations

import dataclasses

import pytest

from sim.traffic import DEFAULT_WEIGHTS, TrafficConfig
from sim.traffic_actions import ACTIONS


def test_default_config_is_valid() -> None:
    config = TrafficConfig()
    assert config.txs_per_block > 0
    assert 0 <= config.new_pool_probability <= 1
    assert config.weights == DEFAULT_WEIGHTS
    low, high = config.priority_fee_wei
    assert 0 < low <= high


def test_default_weights_name_only_existing_actions() -> None:
    known = {a.name for a in ACTIONS}
    names = [name for name, _ in DEFAULT_WEIGHTS]
    assert set(names) <= known
    assert len(set(names)) == len(names)
    assert all(weight > 0 for _, weight in DEFAULT_WEIGHTS)


def test_every_action_has_a_default_weight() -> None:
    assert {a.name for a in ACTIONS} == {name for name, _ in DEFAULT_WEIGHTS}


def test_action_names_are_unique() -> None:
    names = [a.name for a in ACTIONS]
    assert len(set(names)) == len(names)


def test_unknown_action_name() -> None:
    with pytest.raises(ValueError, match="unknown traffic action 'v4_swap'"):
        TrafficConfig(weights=(("v2_exact_in", 1.0), ("v4_swap", 1.0)))


def test_negative_weight() -> None:
    with pytest.raises(ValueError, match="negative weight for 'v3_mint'"):
        TrafficConfig(weights=(("v3_mint", -0.1),))


def test_zero_weight_is_allowed() -> None:
    config = TrafficConfig(weights=(("v2_exact_in", 1.0), ("v3_burn", 0.0)))
    assert config.weights[1] == ("v3_burn", 0.0)


@pytest.mark.parametrize("probability", [-0.01, 1.01, 2.0])
def test_bad_new_pool_probability(probability: float) -> None:
    with pytest.raises(ValueError, match="new_pool_probability"):
        TrafficConfig(new_pool_probability=probability)


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_probability_bounds_are_allowed(probability: float) -> None:
    assert TrafficConfig(new_pool_probability=probability).new_pool_probability == probability


def test_negative_txs_per_block() -> None:
    with pytest.raises(ValueError, match="txs_per_block"):
        TrafficConfig(txs_per_block=-1)


def test_zero_txs_per_block_is_allowed() -> None:
    assert TrafficConfig(txs_per_block=0).txs_per_block == 0


def test_config_is_frozen_and_keyword_only() -> None:
    config = TrafficConfig(seed=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        TrafficConfig(3)  # type: ignore[misc]

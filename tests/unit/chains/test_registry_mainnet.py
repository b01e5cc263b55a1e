"""The registry built from 51 real mainnet blocks: pools recognised from their own logs.

The archive (cryo logs of blocks 18,426,253-18,426,303) has no factory events and no pool
metadata: a pool's tokens come from the Transfer logs of its transactions, and CREATE2
against the venues of ``configs/chains/mainnet.toml`` decides which pools are theirs.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chains.artifacts import repo_root
from chains.config import ChainConfig, configs_dir, load_chain_config
from chains.registry_logs import LogsRegistry, registry_from_logs

LOGS = "mainnet/ethereum__logs__18426253_to_18426303.parquet"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"


def shared_data() -> Path:
    """Return ``<repo root>/../shared/data``; fail loudly when it is missing."""
    path = repo_root().parent / "shared" / "data"
    if not path.is_dir():
        raise FileNotFoundError(f"shared data directory {path} is missing")
    return path


@pytest.fixture(scope="module")
def mainnet() -> ChainConfig:
    return load_chain_config(configs_dir() / "chains" / "mainnet.toml")


@pytest.fixture(scope="module")
def built(mainnet: ChainConfig) -> LogsRegistry:
    table = pq.read_table(shared_data() / LOGS)
    result = registry_from_logs(mainnet, table)
    print("\n" + result.summary())
    return result


def test_pools_seen(built: LogsRegistry) -> None:
    assert built.pools_seen == 522
    assert built.seen_by_kind == {"v2": 367, "v3": 155}
    assert len(built.registry) + len(built.unproven) == built.pools_seen


def test_pools_proven_per_venue_and_tier(built: LogsRegistry) -> None:
    assert len(built.registry) == 498
    assert built.proven_by_venue() == {
        "uniswap_v2": 322,
        "sushiswap": 24,
        "pancakeswap_v2": 1,
        "uniswap_v3": 151,
    }
    assert built.proven_by_tier() == {
        ("uniswap_v2", 3000): 322,
        ("sushiswap", 3000): 24,
        ("pancakeswap_v2", 2500): 1,
        ("uniswap_v3", 100): 6,
        ("uniswap_v3", 500): 16,
        ("uniswap_v3", 3000): 61,
        ("uniswap_v3", 10000): 68,
    }


def test_pools_not_proven_have_their_reason(built: LogsRegistry) -> None:
    # every pool's two tokens were found; the rest belong to factories not configured
    assert built.unproven_by_reason() == {
        "v2: no configured venue proves it (another factory or fork)": 20,
        "v3: no configured venue proves it (another factory or fork)": 4,
    }
    assert all(len(u.tokens) == 2 for u in built.unproven)


def test_ids_dense_in_first_appearance_order(built: LogsRegistry, mainnet: ChainConfig) -> None:
    pools = built.registry.pools
    assert [p.pool_id for p in pools] == list(range(len(pools)))
    blocks = [p.created_block for p in pools]
    assert blocks == sorted(blocks)
    assert blocks[0] >= 18_426_253 and blocks[-1] <= 18_426_303
    for pool in pools:
        assert built.registry.prove(pool.venue, pool.token0, pool.token1, pool.fee_pips) == (
            pool.address
        )
        assert int(pool.token0, 16) < int(pool.token1, 16)
    # the busiest pools of the period are among them, with the right venue and fee
    usdc_weth_500 = built.registry.by_address("0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640")
    assert usdc_weth_500 is not None
    assert (usdc_weth_500.venue, usdc_weth_500.fee_pips, usdc_weth_500.tick_spacing) == (
        "uniswap_v3",
        500,
        10,
    )
    assert (usdc_weth_500.token0, usdc_weth_500.token1) == (USDC, WETH)
    # the same table gives the same ids
    again = registry_from_logs(mainnet, pq.read_table(shared_data() / LOGS))
    assert again.registry.pools == pools

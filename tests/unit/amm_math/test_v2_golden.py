"""The chain's own V2 quotes (degenbot's recorded golden files), reproduced to the wei.

Data under ../shared/data/degenbot-golden/:

- PancakeSwap V2 WETH/USDbC on Base at block 46,875,151: 24 router getAmountsOut results
  (golden/data/tests/pancakeswap/...) against the pair's reserves and fee 25/10000 recorded in
  fixtures/chain_data/8453/pancakeswap_v2_weth_usdbc_block_46875151.json.
- The V2 hops of the recorded arbitrage paths (fixtures/path*_block*.json): mainnet Uniswap V2
  and SushiSwap pairs with their reserves, the output each solve predicted and what the pair
  really pays, and two executions that reverted with "UniswapV2: K".

Not reproduced: the Camelot V2 golden (golden/data/tests/uniswap/v2/test_camelot_v2_onchain_parity)
holds one getAmountOut result of an Arbitrum pair at block 477,785,000 and nothing of that pair's
state (reserves, token order, per-direction fees), which is recorded nowhere in the data.
golden/data/uniswap/v2/wbtc_weth/17600000.json is a pair state with no quote to compare against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import V2PairState, get_amount_in, get_amount_out, swap_reserves

GOLDEN = "data/degenbot-golden"
PANCAKE_QUOTES = (
    "golden/data/tests/pancakeswap/test_pancakeswap_v2_onchain_parity/"
    "test_pancakeswap_v2_router_get_amounts_out.json"
)
PANCAKE_STATE = "fixtures/chain_data/8453/pancakeswap_v2_weth_usdbc_block_46875151.json"
PATHS_WITH_V2_K_REVERTS = (
    "fixtures/path110302_v3v4v2_block25711761.json",
    "fixtures/path182449_v4v4v2_block25731019.json",
)
PATH_WITH_V2_FIRST_HOP = "fixtures/path5000_v2v4v3_block25704509.json"


def golden_dir() -> Path:
    """Return <repo root>/../shared/data/degenbot-golden, failing if it is not there."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            golden = parent.parent / "shared" / GOLDEN
            if not (golden / PANCAKE_QUOTES).is_file():
                raise FileNotFoundError(f"degenbot golden files missing under {golden}")
            return golden
    raise FileNotFoundError(f"no pyproject.toml above {here}")


def load(relative: str) -> dict[str, Any]:
    return json.loads((golden_dir() / relative).read_text())


def pancake_quotes() -> list[tuple[str, str, int, int]]:
    """Return (pool, direction, amount_in, quoted amount_out) of every recorded router quote."""
    quotes = []
    for key, entry in load(PANCAKE_QUOTES)["entries"].items():
        pool, method, direction, amount_in = key.split("|")
        assert method == "getAmountsOut"
        quotes.append((pool, direction, int(amount_in), entry["value"]))
    return quotes


def test_pancakeswap_v2_router_quotes() -> None:
    state = load(PANCAKE_STATE)
    quotes_file = load(PANCAKE_QUOTES)
    assert (quotes_file["chain_id"], quotes_file["block_number"]) == (8453, 46875151)
    assert (state["chain_id"], state["block"]) == (8453, 46875151)
    fee_pips = state["fee_numer"] * 1_000_000 // state["fee_denom"]
    assert fee_pips == 2500
    pair = V2PairState(
        reserve0=state["reserves_token0"], reserve1=state["reserves_token1"], fee_pips=fee_pips
    )
    symbol0, symbol1 = state["token0"]["symbol"], state["token1"]["symbol"]
    quotes = pancake_quotes()
    assert len(quotes) == 24
    reproduced = 0
    for pool, direction, amount_in, amount_out in quotes:
        assert pool.lower() == state["pool"].lower()
        assert direction in {f"{symbol0}->{symbol1}", f"{symbol1}->{symbol0}"}
        zero_for_one = direction == f"{symbol0}->{symbol1}"
        assert pair.quote_out(zero_for_one, amount_in) == amount_out, (direction, amount_in)
        reproduced += 1
        # each nonzero quote passes the pair's K check at 0.25%
        if amount_out > 0:
            after, paid = pair.after_swap(zero_for_one, amount_in)
            assert paid == amount_out
            assert after.reserve0 * after.reserve1 > pair.reserve0 * pair.reserve1
    assert reproduced == 24


def test_pancakeswap_quotes_need_the_pancakeswap_fee() -> None:
    state = load(PANCAKE_STATE)
    reserves = {"WETH": state["reserves_token0"], "USDbC": state["reserves_token1"]}
    differ = 0
    for _, direction, amount_in, amount_out in pancake_quotes():
        token_in, token_out = direction.split("->")
        at_v2_fee = get_amount_out(amount_in, reserves[token_in], reserves[token_out], 3000)
        differ += at_v2_fee != amount_out
    assert differ == 19  # all but the smallest quotes, which round to the same integer


@pytest.mark.parametrize("relative", PATHS_WITH_V2_K_REVERTS)
def test_v2_hop_that_reverted_with_k(relative: str) -> None:
    fixture = load(relative)
    solve = fixture["recorded_solve"]
    hop = fixture["path"][solve["v2_hop_index"]]
    pool = fixture["pools"][hop["pool"]]
    assert solve["sim_bucket"] == "UniswapV2: K"
    assert (pool["fee_gamma"], pool["fee_denom"]) == (997, 1000)
    pair = V2PairState(reserve0=int(pool["reserve0"]), reserve1=int(pool["reserve1"]))
    zero_for_one = hop["zero_for_one"]
    assert zero_for_one == solve["v2_zero_for_one"]
    delivered, predicted = int(solve["v2_input"]), int(solve["v2_predicted"])
    # what the pair pays for what arrived, and the one-wei-larger input the solve assumed
    assert pair.quote_out(zero_for_one, delivered) == int(solve["v2_actual"])
    assert pair.quote_out(zero_for_one, delivered + 1) == predicted
    assert pair.quote_in(zero_for_one, predicted) == delivered + 1
    # the executor asked for the predicted output with one wei less input: the pair's K fails
    amounts = (delivered, 0, 0, predicted) if zero_for_one else (0, delivered, predicted, 0)
    with pytest.raises(EvmRevert) as raised:
        swap_reserves(pair.reserve0, pair.reserve1, *amounts)
    assert raised.value.code == "UniswapV2: K"
    # the true quote goes through
    actual = int(solve["v2_actual"])
    amounts = (delivered, 0, 0, actual) if zero_for_one else (0, delivered, actual, 0)
    swap_reserves(pair.reserve0, pair.reserve1, *amounts)


def test_v2_first_hop_of_a_recorded_path() -> None:
    fixture = load(PATH_WITH_V2_FIRST_HOP)
    solve = fixture["recorded_solve"]
    hop = fixture["path"][0]
    pool = fixture["pools"][hop["pool"]]
    fee_pips = pool["fee_token0"] * 1_000_000 // pool["fee_denominator"]
    assert fee_pips == 3000
    reserve0, reserve1 = int(pool["reserve0"]), int(pool["reserve1"])
    reserve_in, reserve_out = (reserve0, reserve1) if hop["zero_for_one"] else (reserve1, reserve0)
    amount_in = int(solve["optimal_input"])
    assert get_amount_out(amount_in, reserve_in, reserve_out, fee_pips) == int(
        solve["hop_outputs"][0]
    )
    assert get_amount_in(int(solve["hop_outputs"][0]), reserve_in, reserve_out) <= amount_in + 1

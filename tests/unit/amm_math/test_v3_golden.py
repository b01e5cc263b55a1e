"""The chain's own quotes, reproduced to the wei by `amm_math.uniswap_v3.pool.swap`.

Data (`<repo>/../shared/data/degenbot-golden`, recorded by the degenbot project): for a pool
at one block, the on-chain quoter's answers (`golden/data/tests/**`) and the pool state it
was asked against (`fixtures/chain_data/<chain id>/*.json`: sqrtPriceX96, tick, liquidity,
fee, tick spacing and `tick_data` {tick: [liquidityGross, liquidityNet, block]}). A quote key
reads `pool|quoteExactInputSingle|IN->OUT|amount`: exact input records the amount out,
exact output the amount in.

The quoter calls pool.swap with the widest price limit (MIN_SQRT_RATIO + 1 or
MAX_SQRT_RATIO - 1). Exact-output quotes that the pool cannot fill record the amount in of
the partial fill, the swap run to that limit, not a revert: that is what QuoterV2 returns
when given an explicit price limit (its full-output check applies only to a zero limit).
Likewise an exact input larger than the pool can absorb records the amount out at the limit.

- Uniswap V3 WBTC/WETH 0.30% at block 24,407,242: every one of the 80 quotes; the fixture
  holds all 458 initialized ticks.
- Aerodrome Slipstream cbETH/WETH on Base at block 46,875,151: Slipstream runs the V3 swap
  math unchanged; its fee is a factory-set pips value (here 90, not a fee tier) and its tick
  spacing (1) is the pool's key instead of a fee-derived constant, so `fee_pips=90,
  tick_spacing=1` is all it needs. Its fixture holds only the initialized ticks of the
  current tick-bitmap word (ticks 1,024-1,279; the liquidityNet of the rest of the pool is
  missing, their sum is not zero), so a quote is reproducible exactly when the swap ends
  inside that word. All 25 recorded values do; the one quote recorded as a 30 s timeout
  would leave it and cannot be priced from this data.
- Uniswap V4 ETH/USDC 0.05% at block 24,407,242: a pool without hooks, with a static LP fee
  of 500 and no protocol fee, swaps with exactly the V3 math. 72 quotes carry a value; the
  16 that reverted with NotEnoughLiquidity(poolId) are those the pool cannot fill (V4Quoter
  requires the whole amount specified to be used, for exact input as well).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from amm_math.uniswap_v3.pool import SwapResult, V3PoolState, swap
from amm_math.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
GOLDEN = ROOT.parent / "shared" / "data" / "degenbot-golden"

V3_QUOTES = (
    "golden/data/tests/uniswap/v3/test_uniswap_v3_onchain_parity/"
    "test_cached_calculations_v3_wbtc_weth.json"
)
V3_POOL = "fixtures/chain_data/1/uniswap_v3_wbtc_weth_block_24407242.json"
AERODROME_QUOTES = (
    "golden/data/tests/aerodrome/test_aerodrome_v3_onchain_parity/"
    "test_aerodrome_v3_cbeth_weth_quote.json"
)
AERODROME_POOL = "fixtures/chain_data/8453/aerodrome_v3_cbeth_weth_block_46875151.json"
V4_QUOTES = (
    "golden/data/tests/uniswap/v4/test_uniswap_v4_onchain_parity/"
    "test_cached_calculations_v4_eth_usdc.json"
)
V4_POOL = "fixtures/chain_data/1/uniswap_v4_eth_usdc_block_24407242.json"
V4_SNAPSHOT = "golden/data/uniswap/v4/eth_usdc/25706703.json"

# The Aerodrome fixture names no tokens: cbETH (0x2Ae3F1Ec7F1F5012CFEab0185bfc7aa3cf0DEc22)
# sorts below Base WETH (0x4200000000000000000000000000000000000006), so it is token0.
AERODROME_TOKEN0 = "cbETH"
# V4Quoter wraps the pool's NotEnoughLiquidity(bytes32 poolId) in UnexpectedRevertBytes(bytes)
V4_UNEXPECTED_REVERT_BYTES = "0x6190b2b0"
V4_NOT_ENOUGH_LIQUIDITY = "7a5ed734"


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """One recorded quoter call: direction, amount specified and the value (None: reverted)."""

    key: str
    exact_input: bool
    token_in: str
    token_out: str
    amount: int
    value: int | None
    revert: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """A quote replayed through `swap`: what the quoter would report and what the pool did."""

    quote: Quote
    result: SwapResult
    zero_for_one: bool
    amount_in: int
    amount_out: int

    @property
    def quoted(self) -> int:
        """Return the quoter's answer: amount out for exact input, amount in for exact output."""
        return self.amount_out if self.quote.exact_input else self.amount_in

    @property
    def filled(self) -> bool:
        """Return True when the whole amount specified was used (in, or out for exact output)."""
        used = self.amount_in if self.quote.exact_input else self.amount_out
        return used == self.quote.amount


def _read_json(relative: str) -> dict[str, Any]:
    path = GOLDEN / relative
    if not path.is_file():
        pytest.fail(f"shared test data missing: {path} (expected ../shared beside {ROOT})")
    return json.loads(path.read_text())


def _quotes(relative: str) -> list[Quote]:
    quotes = []
    for key, entry in _read_json(relative)["entries"].items():
        _pool, function, pair, amount = key.split("|")
        token_in, token_out = pair.split("->")
        assert function in ("quoteExactInputSingle", "quoteExactOutputSingle"), key
        reverted = bool(entry.get("reverted"))
        assert reverted != ("value" in entry), key
        quotes.append(
            Quote(
                key=key,
                exact_input=function == "quoteExactInputSingle",
                token_in=token_in,
                token_out=token_out,
                amount=int(amount),
                value=None if reverted else int(entry["value"]),
                revert=entry if reverted else None,
            )
        )
    return quotes


def _pool_state(fixture: Mapping[str, Any]) -> V3PoolState:
    scalars = fixture["scalars"]
    tick_data = {int(tick): row for tick, row in fixture["tick_data"].items()}
    return V3PoolState(
        sqrt_price_x96=scalars["sqrt_price_x96"],
        tick=scalars["tick"],
        liquidity=scalars["liquidity"],
        fee_pips=scalars["fee"],
        tick_spacing=scalars["tick_spacing"],
        ticks={tick: net for tick, (_gross, net, _block) in tick_data.items()},
        liquidity_gross={tick: gross for tick, (gross, _net, _block) in tick_data.items()},
    )


def _replay(state: V3PoolState, token0: str, quote: Quote) -> Outcome:
    """Run the pool swap the quoter runs: widest price limit, exact in (>0) or out (<0)."""
    zero_for_one = quote.token_in == token0
    limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    specified = quote.amount if quote.exact_input else -quote.amount
    result = swap(state, zero_for_one, specified, limit)
    paid_in, paid_out = (
        (result.amount0, result.amount1) if zero_for_one else (result.amount1, result.amount0)
    )
    assert paid_in >= 0 >= paid_out, quote.key
    return Outcome(
        quote=quote,
        result=result,
        zero_for_one=zero_for_one,
        amount_in=paid_in,
        amount_out=-paid_out,
    )


@cache
def _v3_outcomes() -> tuple[Outcome, ...]:
    fixture = _read_json(V3_POOL)
    state = _pool_state(fixture)
    token0 = fixture["token0"]["symbol"]
    return tuple(_replay(state, token0, q) for q in _quotes(V3_QUOTES))


def _mismatches(outcomes: tuple[Outcome, ...]) -> list[str]:
    return [
        f"{o.quote.key}: chain {o.quote.value}, swap {o.quoted} "
        f"(in {o.amount_in}, out {o.amount_out}, tick {o.result.tick})"
        for o in outcomes
        if o.quote.value is not None and o.quoted != o.quote.value
    ]


def _crossing_summary(outcomes: tuple[Outcome, ...]) -> tuple[int, int]:
    crossed = [o.result.ticks_crossed for o in outcomes]
    return sum(1 for n in crossed if n > 0), max(crossed)


# Uniswap V3 WBTC/WETH 0.30%


def test_v3_fixture_is_complete() -> None:
    """The 458 ticks' liquidityNet sum to zero and those at or below the tick give liquidity."""
    fixture = _read_json(V3_POOL)
    state = _pool_state(fixture)
    assert fixture["token0"]["symbol"] == "WBTC"
    assert fixture["token1"]["symbol"] == "WETH"
    assert (state.fee_pips, state.tick_spacing) == (3000, 60)
    assert len(state.ticks) == 458
    assert sum(state.ticks.values()) == 0
    assert sum(net for tick, net in state.ticks.items() if tick <= state.tick) == state.liquidity
    assert all(abs(state.ticks[t]) <= g for t, g in state.liquidity_gross.items())


def test_v3_every_quote_to_the_wei() -> None:
    outcomes = _v3_outcomes()
    assert sum(o.quote.exact_input for o in outcomes) == 40
    assert sum(not o.quote.exact_input for o in outcomes) == 40
    assert all(o.quote.value is not None for o in outcomes)
    assert _mismatches(outcomes) == []
    with_crossing, most = _crossing_summary(outcomes)
    print(
        f"\nUniswap V3 WBTC/WETH 0.30%: {len(outcomes)} quotes reproduced, "
        f"{with_crossing} cross initialized ticks, at most {most}"
    )
    assert (with_crossing, most) == (28, 327)


def test_v3_unfillable_quotes_record_the_partial_fill() -> None:
    """Quotes the pool cannot fill stop at the quoter's price limit; the golden keeps them."""
    partial = [o for o in _v3_outcomes() if not o.filled]
    limits = {MIN_SQRT_RATIO + 1, MAX_SQRT_RATIO - 1}
    assert all(o.result.sqrt_price_x96 in limits for o in partial)
    assert all(o.quoted == o.quote.value for o in partial)
    by_kind = sorted((o.quote.exact_input, o.quote.token_in) for o in partial)
    assert by_kind == [
        *[(False, "WBTC")] * 2,
        *[(False, "WETH")] * 7,
        (True, "WBTC"),
        (True, "WETH"),
    ]


# Aerodrome Slipstream cbETH/WETH


def _known_word(state: V3PoolState) -> tuple[int, int]:
    """Return the tick range of the one bitmap word the fixture's ticks all lie in."""
    words = {(tick // state.tick_spacing) >> 8 for tick in state.ticks}
    assert len(words) == 1, f"ticks span bitmap words {sorted(words)}"
    (word,) = words
    return word * 256 * state.tick_spacing, (word * 256 + 255) * state.tick_spacing


def test_aerodrome_fixture_holds_one_bitmap_word() -> None:
    state = _pool_state(_read_json(AERODROME_POOL))
    assert (state.fee_pips, state.tick_spacing) == (90, 1)
    assert _known_word(state) == (1024, 1279)
    assert len(state.ticks) == 116
    # ticks outside the word are missing: the nets do not sum to zero, nor give the liquidity
    assert sum(state.ticks.values()) != 0
    assert sum(n for t, n in state.ticks.items() if t <= state.tick) != state.liquidity


def test_aerodrome_every_recorded_quote_to_the_wei() -> None:
    state = _pool_state(_read_json(AERODROME_POOL))
    low, high = _known_word(state)
    outcomes = tuple(_replay(state, AERODROME_TOKEN0, q) for q in _quotes(AERODROME_QUOTES))
    priced = tuple(o for o in outcomes if o.quote.value is not None)
    assert len(priced) == 25
    assert all(o.quote.exact_input for o in outcomes)
    assert [o.quote.key for o in priced if not low <= o.result.tick <= high] == []
    assert _mismatches(priced) == []
    with_crossing, most = _crossing_summary(priced)
    print(
        f"\nAerodrome Slipstream cbETH/WETH: {len(priced)} quotes reproduced, "
        f"{with_crossing} cross initialized ticks, at most {most}"
    )
    assert (with_crossing, most) == (4, 88)
    (timed_out,) = (o for o in outcomes if o.quote.value is None)
    assert timed_out.quote.revert is not None
    assert timed_out.quote.revert["exception"] == "Timeout"
    # it would leave the known word: the data cannot say what the chain answers
    assert not low <= timed_out.result.tick <= high


# Uniswap V4 ETH/USDC, a hookless static-fee pool


def test_v4_pool_is_hookless_with_static_fee() -> None:
    fixture = _read_json(V4_POOL)
    scalars = fixture["scalars"]
    assert scalars["lp_fee"] == scalars["fee"] == 500
    assert scalars["protocol_fee_zero_for_one"] == scalars["protocol_fee_one_for_zero"] == 0
    snapshot = _read_json(V4_SNAPSHOT)
    assert snapshot["pool_id"] == fixture["pool_id"].removeprefix("0x")
    assert int(snapshot["hook_address"], 16) == 0
    state = _pool_state(fixture)
    assert sum(state.ticks.values()) == 0
    assert sum(net for tick, net in state.ticks.items() if tick <= state.tick) == state.liquidity


def test_v4_every_quote_to_the_wei_with_v3_math() -> None:
    fixture = _read_json(V4_POOL)
    state = _pool_state(fixture)
    pool_id = fixture["pool_id"].removeprefix("0x")
    outcomes = tuple(_replay(state, fixture["token0"]["symbol"], q) for q in _quotes(V4_QUOTES))
    priced = tuple(o for o in outcomes if o.quote.value is not None)
    reverted = tuple(o for o in outcomes if o.quote.value is None)
    assert (len(priced), len(reverted)) == (72, 16)
    assert _mismatches(priced) == []
    assert all(o.filled for o in priced)
    for o in reverted:
        assert o.quote.revert is not None
        message = o.quote.revert["message"]
        assert V4_UNEXPECTED_REVERT_BYTES in message, o.quote.key
        assert V4_NOT_ENOUGH_LIQUIDITY + pool_id in message, o.quote.key
        assert not o.filled, o.quote.key
    with_crossing, most = _crossing_summary(priced)
    print(
        f"\nUniswap V4 ETH/USDC 0.05%: {len(priced)} quotes reproduced, {len(reverted)} "
        f"unfillable ones revert, {with_crossing} cross initialized ticks, at most {most}"
    )
    assert (with_crossing, most) == (27, 388)

"""UniswapV3Pool.sol swap/mint/burn: the v3-core swap snapshots and hand-built pools."""

from __future__ import annotations

import copy
import re
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3 import tick_bitmap
from amm_math.uniswap_v3.liquidity_math import add_delta
from amm_math.uniswap_v3.pool import (
    SwapResult,
    V3PoolState,
    apply_swap,
    burn,
    mint,
    swap,
    tick_spacing_to_max_liquidity_per_tick,
)
from amm_math.uniswap_v3.swap_math import compute_swap_step
from amm_math.uniswap_v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

E18 = 10**18
Q96 = 2**96
SPACINGS = {500: 10, 3000: 60, 10000: 200}

_CTX = Context(prec=400)
_DP40 = Decimal(1).scaleb(-40)


def encode_price_sqrt(reserve1: int, reserve0: int) -> int:
    """The v3-core tests' encodePriceSqrt: bignumber.js at 40 decimals (half up), then floor."""
    ratio = _CTX.divide(Decimal(reserve1), Decimal(reserve0))
    ratio = ratio.quantize(_DP40, rounding=ROUND_HALF_UP, context=_CTX)
    root = _CTX.sqrt(ratio).quantize(_DP40, rounding=ROUND_HALF_UP, context=_CTX)
    scaled = _CTX.multiply(root, Decimal(2**96))
    return int(scaled.to_integral_value(rounding=ROUND_FLOOR, context=_CTX))


def _vectors_dir() -> Path:
    """Return the shared v3-core snapshot folder beside the repository; fail if it is missing."""
    here = Path(__file__).resolve()
    root = next(p for p in here.parents if (p / "pyproject.toml").is_file())
    path = root / ".." / "shared" / "data" / "uniswap-v3-vectors"
    if not path.is_dir():
        raise FileNotFoundError(f"v3-core snapshot vectors not found at {path}")
    return path


def _empty_pool(sqrt_price_x96: int, fee_pips: int, tick_spacing: int) -> V3PoolState:
    """A freshly initialized pool: UniswapV3Pool.initialize sets the tick from the price."""
    return V3PoolState(
        sqrt_price_x96=sqrt_price_x96,
        tick=get_tick_at_sqrt_ratio(sqrt_price_x96),
        liquidity=0,
        fee_pips=fee_pips,
        tick_spacing=tick_spacing,
        ticks={},
    )


# -- the contract's loop, word by word over a real bitmap, as the reference ----------------


def _contract_swap(
    state: V3PoolState, zero_for_one: bool, amount_specified: int, limit: int
) -> SwapResult:
    """UniswapV3Pool.swap as written, stepping a TickBitmap dict (no sorted-tick shortcut)."""
    bitmap: dict[int, int] = {}
    for tick in state.ticks:
        tick_bitmap.flip_tick(bitmap, tick, state.tick_spacing)
    remaining, calculated = amount_specified, 0
    price, tick, liquidity = state.sqrt_price_x96, state.tick, state.liquidity
    crossed = steps = 0
    while remaining != 0 and price != limit:
        steps += 1
        start = price
        tick_next, initialized = tick_bitmap.next_initialized_tick_within_one_word(
            bitmap, tick, state.tick_spacing, zero_for_one
        )
        tick_next = min(max(tick_next, MIN_TICK), MAX_TICK)
        price_next = get_sqrt_ratio_at_tick(tick_next)
        beyond = price_next < limit if zero_for_one else price_next > limit
        price, amount_in, amount_out, fee = compute_swap_step(
            price, limit if beyond else price_next, liquidity, remaining, state.fee_pips
        )
        if amount_specified > 0:
            remaining -= amount_in + fee
            calculated -= amount_out
        else:
            remaining += amount_out
            calculated += amount_in + fee
        if price == price_next:
            if initialized:
                net = state.ticks[tick_next]
                liquidity = add_delta(liquidity, -net if zero_for_one else net)
                crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
        elif price != start:
            tick = get_tick_at_sqrt_ratio(price)
    specified = amount_specified - remaining
    amount0, amount1 = (
        (specified, calculated)
        if zero_for_one == (amount_specified > 0)
        else (calculated, specified)
    )
    return SwapResult(
        amount0=amount0,
        amount1=amount1,
        sqrt_price_x96=price,
        tick=tick,
        liquidity=liquidity,
        ticks_crossed=crossed,
        steps=steps,
    )


# -- v3-core UniswapV3Pool.swaps.spec.ts ---------------------------------------------------


def _min_tick(spacing: int) -> int:
    return -(-MIN_TICK // spacing) * spacing


def _max_tick(spacing: int) -> int:
    return (MAX_TICK // spacing) * spacing


def _full_range(fee: int, liquidity: int = 2 * E18) -> list[tuple[int, int, int]]:
    spacing = SPACINGS[fee]
    return [(_min_tick(spacing), _max_tick(spacing), liquidity)]


_S = SPACINGS[3000]
# description -> (fee, starting sqrt price, positions minted in order)
SPEC_POOLS: dict[str, tuple[int, int, list[tuple[int, int, int]]]] = {
    "low fee, 1:1 price, 2e18 max range liquidity": (
        500,
        encode_price_sqrt(1, 1),
        _full_range(500),
    ),
    "medium fee, 1:1 price, 2e18 max range liquidity": (
        3000,
        encode_price_sqrt(1, 1),
        _full_range(3000),
    ),
    "high fee, 1:1 price, 2e18 max range liquidity": (
        10000,
        encode_price_sqrt(1, 1),
        _full_range(10000),
    ),
    "medium fee, 10:1 price, 2e18 max range liquidity": (
        3000,
        encode_price_sqrt(10, 1),
        _full_range(3000),
    ),
    "medium fee, 1:10 price, 2e18 max range liquidity": (
        3000,
        encode_price_sqrt(1, 10),
        _full_range(3000),
    ),
    "medium fee, 1:1 price, 0 liquidity, all liquidity around current price": (
        3000,
        encode_price_sqrt(1, 1),
        [(_min_tick(_S), -_S, 2 * E18), (_S, _max_tick(_S), 2 * E18)],
    ),
    "medium fee, 1:1 price, additional liquidity around current price": (
        3000,
        encode_price_sqrt(1, 1),
        [*_full_range(3000), (_min_tick(_S), -_S, 2 * E18), (_S, _max_tick(_S), 2 * E18)],
    ),
    "low fee, large liquidity around current price (stable swap)": (
        500,
        encode_price_sqrt(1, 1),
        [(-SPACINGS[500], SPACINGS[500], 2 * E18)],
    ),
    "medium fee, token0 liquidity only": (3000, encode_price_sqrt(1, 1), [(0, 2000 * _S, 2 * E18)]),
    "medium fee, token1 liquidity only": (
        3000,
        encode_price_sqrt(1, 1),
        [(-2000 * _S, 0, 2 * E18)],
    ),
    "close to max price": (3000, encode_price_sqrt(2**127, 1), _full_range(3000)),
    "close to min price": (3000, encode_price_sqrt(1, 2**127), _full_range(3000)),
    "max full range liquidity at 1:1 price with default fee": (
        3000,
        encode_price_sqrt(1, 1),
        _full_range(3000, tick_spacing_to_max_liquidity_per_tick(_S)),
    ),
    "initialized at the max ratio": (3000, MAX_SQRT_RATIO - 1, _full_range(3000)),
    "initialized at the min ratio": (3000, MIN_SQRT_RATIO, _full_range(3000)),
}
_PRICES = {"0.50000": (50, 100), "2.0000": (200, 100), "2.5000": (5, 2), "0.40000": (2, 5)}
_AMOUNTS = {"1.0000": E18, "0.0000000000000010000": 1000}


def _swap_case(name: str) -> tuple[bool, int, int | None]:
    """Return (zero_for_one, amount_specified, limit) of a swaps.spec.ts case description."""

    def limit(text: str | None) -> int | None:
        return None if text is None else encode_price_sqrt(*_PRICES[text])

    if m := re.fullmatch(r"swap exactly (\S+) token(\d) for token\d(?: to price (\S+))?", name):
        return m[2] == "0", _AMOUNTS[m[1]], limit(m[3])
    if m := re.fullmatch(r"swap token(\d) for exactly (\S+) token\d(?: to price (\S+))?", name):
        return m[1] == "0", -_AMOUNTS[m[2]], limit(m[3])
    m = re.fullmatch(r"swap token(\d) for token\d to price (\S+)", name)
    assert m is not None, name
    # TestUniswapV3Callee.swapToLower/HigherSqrtPrice: type(int256).max in, up to the price
    return m[1] == "0", 2**255 - 1, limit(m[2])


def _swap_snapshots() -> list[tuple[str, str, dict[str, str]]]:
    text = (_vectors_dir() / "UniswapV3Pool.swaps.spec.ts.snap").read_text()
    entries = re.findall(
        r"exports\[`UniswapV3Pool swap tests (.*?) 1`\] = `\nObject \{\n(.*?)\n\}\n`;", text, re.S
    )
    assert len(entries) == text.count("exports[`") == 240
    cases = []
    for name, body in entries:
        pool, case = name.split(" swap ", 1)
        cases.append((pool, "swap " + case, dict(re.findall(r'"(\w+)": "?([^",]*)"?,', body))))
    return cases


SWAP_SNAPSHOTS = _swap_snapshots()
_BUILT: dict[str, tuple[V3PoolState, int, int]] = {}


def _spec_pool(description: str) -> tuple[V3PoolState, int, int]:
    """Mint the spec pool's positions in order; return it with the pool's token balances."""
    if description not in _BUILT:
        fee, price, positions = SPEC_POOLS[description]
        state = _empty_pool(price, fee, SPACINGS[fee])
        balance0 = balance1 = 0
        for lower, upper, liquidity in positions:
            state, amount0, amount1 = mint(state, lower, upper, liquidity)
            balance0 += amount0
            balance1 += amount1
        _BUILT[description] = (state, balance0, balance1)
    return _BUILT[description]


@pytest.mark.parametrize(
    ("pool", "case", "expected"),
    SWAP_SNAPSHOTS,
    ids=[f"{pool} {case}" for pool, case, _ in SWAP_SNAPSHOTS],
)
def test_v3_core_swap_snapshot(pool: str, case: str, expected: dict[str, str]) -> None:
    state, balance0, balance1 = _spec_pool(pool)
    # the pool's balances after the mints are the mint amounts, rounded up by the contract
    assert str(balance0) == expected.get("amount0Before", expected.get("poolBalance0"))
    assert str(balance1) == expected.get("amount1Before", expected.get("poolBalance1"))
    assert state.tick == int(expected["tickBefore"])
    zero_for_one, amount, limit = _swap_case(case)
    if "swapError" in expected:
        with pytest.raises(EvmRevert) as info:
            swap(state, zero_for_one, amount, limit)
        assert expected["swapError"].endswith(f"revert {info.value.code}")
        return
    result = swap(state, zero_for_one, amount, limit)
    assert str(result.amount0) == expected["amount0Delta"]
    assert str(result.amount1) == expected["amount1Delta"]
    assert result.tick == int(expected["tickAfter"])
    reference = _contract_swap(
        state,
        zero_for_one,
        amount,
        limit
        if limit is not None
        else (MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1),
    )
    assert result == reference


# -- hand-built pools -----------------------------------------------------------------------


def _pool(
    positions: list[tuple[int, int, int]], spacing: int = 60, fee: int = 3000, price: int = Q96
) -> V3PoolState:
    state = _empty_pool(price, fee, spacing)
    for lower, upper, liquidity in positions:
        state = mint(state, lower, upper, liquidity)[0]
    return state


# ten nested ranges around CENTER, the middle of bitmap word 0 for spacing 60, so that no word
# edge (every 15360 ticks) interrupts the steps; the price sits at CENTER + 30
CENTER = 128 * 60
LADDER = _pool(
    [(CENTER - 60 * k, CENTER + 60 * k, E18) for k in range(1, 11)],
    price=get_sqrt_ratio_at_tick(CENTER + 30),
)


@pytest.mark.parametrize("zero_for_one", [True, False])
@pytest.mark.parametrize("amount", [10**12, -(10**12)])
def test_in_range_swap_is_one_swap_step(zero_for_one: bool, amount: int) -> None:
    result = swap(LADDER, zero_for_one, amount)
    target = get_sqrt_ratio_at_tick(CENTER - 60 if zero_for_one else CENTER + 60)
    price, amount_in, amount_out, fee = compute_swap_step(
        LADDER.sqrt_price_x96, target, LADDER.liquidity, amount, 3000
    )
    assert (result.steps, result.ticks_crossed) == (1, 0)
    assert result.sqrt_price_x96 == price
    assert result.tick == get_tick_at_sqrt_ratio(price)
    paid, received = amount_in + fee, -amount_out
    assert (result.amount0, result.amount1) == (
        (paid, received) if zero_for_one else (received, paid)
    )
    assert result.liquidity == LADDER.liquidity == 10 * E18


def test_a_price_on_a_word_edge_takes_an_empty_step() -> None:
    # at tick 0 exactly, the lte search returns the word edge 0 itself: the contract takes a
    # step that moves nothing and sets tick = -1 before swapping on
    state = _pool([(-600, 600, E18)])
    assert (state.sqrt_price_x96, state.tick) == (Q96, 0)
    result = swap(state, True, 10**12)
    assert (result.steps, result.ticks_crossed) == (2, 0)
    assert result == _contract_swap(state, True, 10**12, MIN_SQRT_RATIO + 1)
    assert swap(state, False, 10**12).steps == 1


def test_crossing_several_ticks() -> None:
    limit = get_sqrt_ratio_at_tick(CENTER - 270)
    result = swap(LADDER, True, 10**30, limit)
    # CENTER -60, -120, -180, -240 crossed; the limit stops the fifth step in (-300, -240)
    assert result.ticks_crossed == 4
    assert result.steps == 5
    assert result.liquidity == 6 * E18
    assert result.sqrt_price_x96 == limit
    assert result.tick == CENTER - 270
    assert result.amount0 > 0 > result.amount1
    back = swap(apply_swap(LADDER, result), False, 10**30, LADDER.sqrt_price_x96)
    assert back.ticks_crossed == 4
    assert back.liquidity == LADDER.liquidity
    assert back.sqrt_price_x96 == LADDER.sqrt_price_x96


def test_uninitialized_word_boundaries_are_steps() -> None:
    # spacing 1, liquidity on [-2000, 2000]: words span 256 ticks, none initialized inside
    state = _pool([(-2000, 2000, E18)], spacing=1)
    limit = get_sqrt_ratio_at_tick(-1000)
    result = swap(state, True, 10**30, limit)
    # word edges at -1 (the start word ends at 0 .. -256), -257, -513, -769, then the limit
    assert result.steps == 5
    assert result.ticks_crossed == 0
    assert result.tick == -1000
    assert result == _contract_swap(state, True, 10**30, limit)
    # one single step over the same range rounds differently from the word-by-word loop
    price, amount_in, amount_out, fee = compute_swap_step(Q96, limit, E18, 10**30, 3000)
    assert price == limit
    assert result.amount0 != amount_in + fee or result.amount1 != -amount_out


def test_exact_output_and_exact_input_agree() -> None:
    wanted = 10**17  # crosses ticks
    out = swap(LADDER, True, -wanted)
    assert out.amount1 == -wanted
    paid = out.amount0
    exact_in = swap(LADDER, True, paid)
    assert exact_in.amount0 == paid
    assert -exact_in.amount1 >= wanted
    assert swap(LADDER, True, paid - 1).amount1 > -wanted - 10


def test_price_limit_stops_the_swap() -> None:
    limit = get_sqrt_ratio_at_tick(CENTER + 90) + 12345
    result = swap(LADDER, False, 10**30, limit)
    assert result.sqrt_price_x96 == limit
    assert result.amount1 < 10**30
    assert result.tick == get_tick_at_sqrt_ratio(limit)


def test_reverts() -> None:
    with pytest.raises(EvmRevert) as info:
        swap(LADDER, True, 0)
    assert info.value.code == "AS"
    for zero_for_one, limit in [
        (True, LADDER.sqrt_price_x96),  # must be below the price
        (True, MIN_SQRT_RATIO),  # must be above MIN_SQRT_RATIO
        (False, LADDER.sqrt_price_x96),
        (False, MAX_SQRT_RATIO),
        (False, Q96 - 1),
    ]:
        with pytest.raises(EvmRevert) as info:
            swap(LADDER, zero_for_one, E18, limit)
        assert info.value.code == "SPL"


def test_swap_never_mutates_the_input() -> None:
    before = copy.deepcopy(dict(LADDER.ticks)), LADDER.sqrt_price_x96, LADDER.liquidity
    result = swap(LADDER, True, 10**30)
    assert (dict(LADDER.ticks), LADDER.sqrt_price_x96, LADDER.liquidity) == before
    after = apply_swap(LADDER, result)
    assert after.sqrt_price_x96 == result.sqrt_price_x96
    assert (after.tick, after.liquidity) == (result.tick, result.liquidity)
    assert LADDER.tick == CENTER + 30


def test_zero_net_tick_with_gross_is_still_a_boundary() -> None:
    # two positions meeting at 120: net 0 there, gross 2e18
    state = _pool([(-600, 120, E18), (120, 600, E18)])
    assert state.ticks[120] == 0
    assert state.liquidity_gross[120] == 2 * E18
    result = swap(state, False, 10**30, get_sqrt_ratio_at_tick(300))
    assert result.ticks_crossed == 1
    assert result.steps == 2
    assert result.liquidity == E18
    assert result == _contract_swap(state, False, 10**30, get_sqrt_ratio_at_tick(300))


def test_swap_through_an_empty_range_moves_the_price_freely() -> None:
    state = _pool([(-600, -300, E18), (300, 600, E18)])
    assert state.liquidity == 0
    result = swap(state, True, 10**18)
    assert result.tick < -300
    assert result.amount0 > 0 > result.amount1


# -- mint / burn -----------------------------------------------------------------------------


def test_mint_then_burn_round_trip() -> None:
    base = _pool([(-600, 600, E18)])
    minted, amount0, amount1 = mint(base, -120, 180, 5 * E18)
    assert minted.ticks == {-600: E18, -120: 5 * E18, 180: -5 * E18, 600: -E18}
    assert minted.liquidity_gross[-120] == minted.liquidity_gross[180] == 5 * E18
    assert minted.liquidity == 6 * E18
    assert amount0 > 0 and amount1 > 0
    burned, out0, out1 = burn(minted, -120, 180, 5 * E18)
    assert burned == base
    assert dict(burned.ticks) == dict(base.ticks)
    assert dict(burned.liquidity_gross) == dict(base.liquidity_gross)
    # minting rounds up, burning down
    assert 0 <= amount0 - out0 <= 1
    assert 0 <= amount1 - out1 <= 1
    # the input states are untouched
    assert -120 not in base.ticks
    assert minted.ticks[-120] == 5 * E18


def test_partial_burn_keeps_the_ticks() -> None:
    state = _pool([(-120, 120, 3 * E18)])
    state, _, _ = burn(state, -120, 120, E18)
    assert state.ticks == {-120: 2 * E18, 120: -2 * E18}
    assert state.liquidity_gross == {-120: 2 * E18, 120: 2 * E18}
    assert state.liquidity == 2 * E18


def test_mint_out_of_range_needs_one_token() -> None:
    base = _pool([(-600, 600, E18)])
    above = mint(base, 120, 240, E18)
    below = mint(base, -240, -120, E18)
    assert above[1] > 0 and above[2] == 0
    assert below[1] == 0 and below[2] > 0
    assert above[0].liquidity == below[0].liquidity == base.liquidity
    # the lower tick is inclusive: a position starting at the current tick is in range
    at = mint(base, 0, 60, E18)
    assert at[0].liquidity == base.liquidity + E18


def test_check_ticks_reverts() -> None:
    base = _pool([])
    for lower, upper, code in [
        (60, 60, "TLU"),
        (120, 60, "TLU"),
        (MIN_TICK - 1, 0, "TLM"),
        (0, MAX_TICK + 1, "TUM"),
    ]:
        with pytest.raises(EvmRevert) as info:
            mint(base, lower, upper, 1)
        assert info.value.code == code


def test_mint_reverts() -> None:
    base = _pool([])
    with pytest.raises(EvmRevert):
        mint(base, -60, 60, 0)  # require(amount > 0)
    with pytest.raises(EvmRevert):
        mint(base, -61, 60, 1)  # flipTick: not a multiple of the spacing
    cap = tick_spacing_to_max_liquidity_per_tick(60)
    assert cap == 11505743598341114571880798222544994
    state = mint(base, -60, 60, cap)[0]
    with pytest.raises(EvmRevert) as info:
        mint(state, -60, 120, 1)
    assert info.value.code == "LO"


def test_burn_reverts() -> None:
    state = _pool([(-60, 60, E18)])
    with pytest.raises(EvmRevert) as info:
        burn(state, -60, 60, E18 + 1)
    assert info.value.code == "LS"
    assert burn(state, -60, 60, 0) == (state, 0, 0)


def test_mint_needs_the_gross_of_initialized_ticks() -> None:
    state = V3PoolState(
        sqrt_price_x96=Q96, tick=0, liquidity=E18, fee_pips=3000, tick_spacing=60,
        ticks={-60: E18, 60: -E18},
    )  # fmt: skip
    with pytest.raises(ValueError):
        mint(state, -60, 120, 1)
    # ticks that are not initialized yet need nothing
    assert mint(state, -120, 120, 1)[0].liquidity_gross == {-120: 1, 120: 1}


def test_max_liquidity_per_tick_spec() -> None:
    # Tick.spec.ts: tickSpacingToMaxLiquidityPerTick
    assert tick_spacing_to_max_liquidity_per_tick(10) == 1917569901783203986719870431555990
    assert tick_spacing_to_max_liquidity_per_tick(60) == 11505743598341114571880798222544994
    assert tick_spacing_to_max_liquidity_per_tick(200) == 38350317471085141830651933667504588
    assert tick_spacing_to_max_liquidity_per_tick(887272) == (2**128 - 1) // 3
    assert tick_spacing_to_max_liquidity_per_tick(2302) == 441351967472034323558203122479595605


# -- random pools against the contract's word-by-word loop ---------------------------------


@st.composite
def _random_pool(draw: st.DrawFn) -> V3PoolState:
    spacing = draw(st.sampled_from([1, 10, 60, 200]))
    fee = draw(st.sampled_from([0, 100, 500, 3000, 10000]))
    tick = draw(st.integers(-3000, 3000))
    price = get_sqrt_ratio_at_tick(tick) + draw(st.integers(0, 10**20))
    state = _empty_pool(price, fee, spacing)
    for _ in range(draw(st.integers(0, 6))):
        lower = draw(st.integers(-40, 39)) * spacing * 4
        upper = lower + draw(st.integers(1, 20)) * spacing
        state = mint(state, lower, upper, draw(st.integers(1, 10**22)))[0]
    return state


@settings(max_examples=150, deadline=None)
@given(_random_pool(), st.booleans(), st.integers(-(10**24), 10**24), st.integers(0, 50))
def test_random_pools_match_the_contract_loop(
    state: V3PoolState, zero_for_one: bool, amount: int, limit_ticks: int
) -> None:
    if amount == 0:
        amount = 1
    limit = get_sqrt_ratio_at_tick(
        max(
            MIN_TICK + 1,
            min(MAX_TICK - 1, state.tick + (-1 if zero_for_one else 1) * 700 * limit_ticks),
        )
    )
    limit_ok = (
        MIN_SQRT_RATIO < limit < state.sqrt_price_x96
        if zero_for_one
        else state.sqrt_price_x96 < limit < MAX_SQRT_RATIO
    )
    if not limit_ok:
        with pytest.raises(EvmRevert):
            swap(state, zero_for_one, amount, limit)
        return
    result = swap(state, zero_for_one, amount, limit)
    assert result == _contract_swap(state, zero_for_one, amount, limit)
    assert (result.amount0 > 0) == zero_for_one or result.amount0 == 0

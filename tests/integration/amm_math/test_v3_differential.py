"""amm_math's UniswapV3Pool port against the real pool bytecode on anvil, to the wei.

Every hypothesis example builds one pool on a `sim.v3_lab` lab: a fee tier, an initial price
(inside a tick, exactly on one, or at a price bound), 3..8 positions (narrow, wide, far from
the price, full range, sharing a boundary with equal liquidity so that tick has net 0 and
gross > 0), then burns (full ones clear ticks, partial ones can cancel a shared boundary's
net), then 6..10 steps: swaps (exact in and out, both directions, price limits absent, near,
far, on a tick, equal to the price or on its wrong side) and now and then a mint or burn.

The Python side starts from an empty state at the same price and applies the same mints and
burns with `amm_math.uniswap_v3.pool`; each mint/burn amount, the whole tick table (net and
gross), and every swap's amounts, price, tick and liquidity must equal the pool's, and a
revert must carry the pool's code. The test counts the cases that make a swap loop hard and
asserts each one occurred.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.pool import V3PoolState, apply_swap, burn, mint, swap
from amm_math.uniswap_v3.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from sim.anvil import AnvilConfig, AnvilProcess
from sim.txs import TxReverted
from sim.v3_lab import TICK_SPACING_BY_FEE_PIPS, PositionOp, V3ChainState, V3Lab, tick_word

pytestmark = pytest.mark.integration

EXAMPLES = 340
"""Pool setups per default run; each runs 6..10 steps, most of them swaps."""
EXTENDED_EXAMPLES = 3_000
"""Pool setups of the extended (slow) run: about 20,000 swaps."""
MIN_SWAPS = 2_000
"""Swaps compared per default run (a both-sides revert counts, with its code compared)."""
LAB_GAS_LIMIT = 1_000_000_000
"""A swap from one price bound to the other at tick spacing 1 costs ~35M gas."""

_Q64 = 1 << 64
_FEE_TIERS = tuple(sorted(TICK_SPACING_BY_FEE_PIPS.items()))


# --- scenario: plain data drawn by hypothesis ---------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """A position minted at setup and the liquidity burned from it afterwards."""

    tick_lower: int
    tick_upper: int
    liquidity: int
    burned: int  # 0 (kept) .. liquidity (burned in full)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceLimit:
    """How a swap's sqrtPriceLimitX96 follows from the price at the time of the swap."""

    kind: str  # none | fraction | ticks | equal | wrong_side | bound
    fraction_q64: int = 0  # fraction: share of the way to the price bound, over 2**64
    spacings: int = 0  # ticks: the limit is the spacing-aligned tick this many spacings away
    offset: int = 0  # wrong_side: this far beyond the price, on the wrong side


@dataclass(frozen=True, slots=True, kw_only=True)
class SwapStep:
    """A swap; at the price bound it would move towards, it turns around unless `stay`."""

    zero_for_one: bool
    amount_specified: int
    limit: PriceLimit
    stay: bool = False
    quote_first: bool = False  # eth_call the harness swap before sending it


@dataclass(frozen=True, slots=True, kw_only=True)
class MintStep:
    """Mint a new position `offset` spacings from the current tick, `width` spacings wide."""

    offset: int
    width: int
    liquidity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BurnStep:
    """Burn from the live position `index` (mod the count): all of it, or share_q16 / 2**16."""

    index: int
    share_q16: int
    full: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    fee_pips: int
    tick_spacing: int
    sqrt_price_x96: int
    positions: tuple[Position, ...]
    steps: tuple[SwapStep | MintStep | BurnStep, ...]


def _usable(spacing: int) -> tuple[int, int]:
    """Return the lowest and highest compressed tick a position may use."""
    return -(MAX_TICK // spacing), MAX_TICK // spacing


def _liquidity() -> st.SearchStrategy[int]:
    return st.integers(3, 23).flatmap(lambda e: st.integers(10**e, 10 ** (e + 1)))


@st.composite
def _initial_price(draw: st.DrawFn, spacing: int) -> int:
    where = draw(st.integers(0, 99))
    if where < 60:
        tick = draw(st.integers(-5_000, 5_000))
    elif where < 85:
        tick = draw(st.integers(MIN_TICK, MAX_TICK - 1))
    elif where < 95:
        tick = draw(
            st.one_of(
                st.integers(MIN_TICK, MIN_TICK + 3_000), st.integers(MAX_TICK - 3_000, MAX_TICK - 1)
            )
        )
    else:
        return draw(st.sampled_from([MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1]))
    placement = draw(st.integers(0, 99))
    if placement < 35:
        # exactly on a usable tick, where a position boundary may sit
        low, high = _usable(spacing)
        compressed = min(max(tick // spacing, low), high)
        return get_sqrt_ratio_at_tick(min(compressed * spacing, MAX_TICK - 1))
    low_sqrt = get_sqrt_ratio_at_tick(tick)
    high_sqrt = get_sqrt_ratio_at_tick(tick + 1)
    return low_sqrt + (high_sqrt - low_sqrt) * draw(st.integers(0, (1 << 32) - 1)) // (1 << 32)


@st.composite
def _positions(draw: st.DrawFn, spacing: int, center: int) -> tuple[Position, ...]:
    """Draw 3..8 positions around the compressed tick `center`."""
    low, high = _usable(spacing)
    drawn: list[tuple[int, int, int, int]] = []  # compressed lower, upper, liquidity, extra
    for i in range(draw(st.integers(3, 8))):
        kind = draw(st.integers(0, 99))
        liquidity = draw(_liquidity())
        extra = 0
        if kind < 38 or (kind >= 62 and i == 0):
            lower = center + draw(st.integers(-30, 30))
            upper = lower + draw(st.one_of(st.just(1), st.integers(1, 8), st.integers(1, 300)))
        elif kind < 55:
            distance = draw(st.integers(256, 40_000))
            lower = center + distance if draw(st.booleans()) else center - distance
            upper = lower + draw(st.integers(1, 3_000))
        elif kind < 62:
            lower, upper = low, high
        else:
            # share a boundary with an earlier position and match its liquidity: net 0 there;
            # optionally mint more and burn the surplus later (mint + partial burn)
            other_lower, other_upper, liquidity, _ = drawn[draw(st.integers(0, i - 1))]
            width = draw(st.integers(1, 40))
            if draw(st.booleans()) and other_upper < high:
                lower, upper = other_upper, other_upper + width
            else:
                lower, upper = other_lower - width, other_lower
            if draw(st.booleans()):
                extra = draw(_liquidity())
        lower = min(max(lower, low), high - 1)
        upper = min(max(upper, lower + 1), high)
        drawn.append((lower, upper, liquidity, extra))
    positions = []
    for lower, upper, liquidity, extra in drawn:
        minted = liquidity + extra
        if extra:
            burned = extra
        else:
            kind = draw(st.integers(0, 99))
            if kind < 50:
                burned = 0
            elif kind < 72:
                burned = minted
            else:
                burned = draw(st.integers(1, minted - 1))
        positions.append(
            Position(
                tick_lower=lower * spacing,
                tick_upper=upper * spacing,
                liquidity=minted,
                burned=burned,
            )
        )
    return tuple(positions)


@st.composite
def _price_limit(draw: st.DrawFn) -> PriceLimit:
    kind = draw(st.integers(0, 99))
    if kind < 32:
        return PriceLimit(kind="none")
    if kind < 62:
        # a share of 2**-63..1, log-uniform-ish: often very close to the price
        fraction = draw(st.integers(_Q64 >> 1, _Q64)) >> draw(st.integers(0, 63))
        return PriceLimit(kind="fraction", fraction_q64=fraction)
    if kind < 91:
        return PriceLimit(kind="ticks", spacings=draw(st.integers(1, 400)))
    if kind < 94:
        return PriceLimit(kind="equal")
    if kind < 97:
        return PriceLimit(kind="wrong_side", offset=draw(st.integers(1, 1 << 80)))
    return PriceLimit(kind="bound")


@st.composite
def _swap_step(draw: st.DrawFn) -> SwapStep:
    exact_input = draw(st.booleans())
    size = draw(st.integers(0, 99))
    if size < 25:
        magnitude = draw(st.integers(1, 10**6))
    elif size < 70:
        magnitude = draw(st.integers(0, 38).flatmap(lambda e: st.integers(10**e, 10 ** (e + 1))))
    elif size < 96:
        # sized to run through every tick to the limit
        magnitude = draw(st.integers(1 << 100, (1 << 255) - 1))
    elif size < 98:
        magnitude = 0
    else:
        magnitude = (1 << 255) - 1 if exact_input else 1 << 255  # int256 max / int256 min
    return SwapStep(
        zero_for_one=draw(st.booleans()),
        amount_specified=magnitude if exact_input else -magnitude,
        limit=draw(_price_limit()),
        stay=draw(st.integers(0, 9)) == 9,
        quote_first=draw(st.integers(0, 3)) == 3,
    )


@st.composite
def _step(draw: st.DrawFn) -> SwapStep | MintStep | BurnStep:
    kind = draw(st.integers(0, 99))
    if kind < 89:
        return draw(_swap_step())
    if kind < 95:
        return MintStep(
            offset=draw(st.integers(-20, 20)),
            width=draw(st.integers(1, 50)),
            liquidity=draw(_liquidity()),
        )
    return BurnStep(
        index=draw(st.integers(0, 7)),
        share_q16=draw(st.integers(1, 1 << 16)),
        full=draw(st.booleans()),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Draw one pool setup and the steps run on it."""
    fee_pips, spacing = draw(st.sampled_from(_FEE_TIERS))
    sqrt_price_x96 = draw(_initial_price(spacing))
    center = get_tick_at_sqrt_ratio(sqrt_price_x96) // spacing
    return Scenario(
        fee_pips=fee_pips,
        tick_spacing=spacing,
        sqrt_price_x96=sqrt_price_x96,
        positions=draw(_positions(spacing, center)),
        steps=tuple(draw(st.lists(_step(), min_size=6, max_size=10))),
    )


# --- running one scenario on both sides ---------------------------------------------------


@dataclass(slots=True)
class LabNode:
    node: AnvilProcess
    lab: V3Lab


@pytest.fixture(scope="module")
def lab_node() -> Iterator[LabNode]:
    """One anvil with a high block gas limit and a deployed lab, for this module."""
    with AnvilProcess.start(AnvilConfig(gas_limit=LAB_GAS_LIMIT)) as node, node.rpc() as rpc:
        yield LabNode(node=node, lab=V3Lab.deploy(rpc))


def _assert_same_state(chain: V3ChainState, state: V3PoolState, when: str) -> None:
    assert (chain.sqrt_price_x96, chain.tick, chain.liquidity) == (
        state.sqrt_price_x96,
        state.tick,
        state.liquidity,
    ), f"{when}: slot0/liquidity differ"
    assert chain.liquidity_net == dict(state.ticks), f"{when}: initialized ticks / net differ"
    assert chain.liquidity_gross == dict(state.liquidity_gross), f"{when}: gross differs"


def _limit(limit: PriceLimit, zero_for_one: bool, state: V3PoolState) -> int | None:
    """Return the sqrtPriceLimitX96 of `limit` at the current price (None: the default)."""
    price = state.sqrt_price_x96
    if limit.kind == "none":
        return None
    if limit.kind == "fraction":
        if zero_for_one:
            return price - (price - (MIN_SQRT_RATIO + 1)) * limit.fraction_q64 // _Q64
        return price + (MAX_SQRT_RATIO - 1 - price) * limit.fraction_q64 // _Q64
    if limit.kind == "ticks":
        # spacing-aligned, so the limit often sits exactly on an initialized tick; going
        # down, spacings=1 is the current tick's own boundary
        spacing = state.tick_spacing
        compressed = state.tick // spacing
        if zero_for_one:
            tick = (compressed - limit.spacings + 1) * spacing
        else:
            tick = (compressed + limit.spacings) * spacing
        return get_sqrt_ratio_at_tick(min(max(tick, MIN_TICK), MAX_TICK))
    if limit.kind == "equal":
        return price
    if limit.kind == "wrong_side":
        beyond = price + limit.offset if zero_for_one else price - limit.offset
        return min(max(beyond, 0), (1 << 160) - 1)
    return MIN_SQRT_RATIO if zero_for_one else MAX_SQRT_RATIO


def _swap_stats(
    stats: Counter[str],
    ticks: dict[int, int],
    gross: dict[int, int],
    spacing: int,
    zero_for_one: bool,
    tick_before: int,
    tick_after: int,
) -> None:
    """Count what a swap went through, from the chain's tick table and ticks before/after.

    Going down, tick t is crossed when the pool tick moves from >= t to < t; going up, from
    < t to >= t.
    """
    low, high = (tick_after, tick_before) if zero_for_one else (tick_before, tick_after)
    crossed = [t for t in ticks if low < t <= high]
    if len(crossed) >= 10:
        stats["swaps crossing 10+ initialized ticks"] += 1
    stats["net-0 gross>0 ticks crossed"] += sum(
        1 for t in crossed if ticks[t] == 0 and gross[t] > 0
    )
    first, last = sorted((tick_word(tick_before, spacing), tick_word(tick_after, spacing)))
    occupied = {tick_word(t, spacing) for t in ticks}
    empty = (last - first + 1) - sum(1 for w in occupied if first <= w <= last)
    if empty >= 3:
        stats["swaps spanning 3+ empty bitmap words"] += 1
    stats["max ticks crossed by one swap"] = max(
        stats["max ticks crossed by one swap"], len(crossed)
    )


def _check_swap(
    lab: V3Lab,
    pool: str,
    state: V3PoolState,
    chain: V3ChainState,
    step: SwapStep,
    stats: Counter[str],
) -> tuple[V3PoolState, bool]:
    """Run one swap on the pool and in Python; return the new state and whether it swapped.

    `chain` is the pool's tick table as last read, for the statistics.
    """
    zero_for_one = step.zero_for_one
    if not step.stay and (
        state.sqrt_price_x96 <= MIN_SQRT_RATIO + 1
        if zero_for_one
        else state.sqrt_price_x96 >= MAX_SQRT_RATIO - 1
    ):
        # a sweep left the price at a bound: most swaps after it turn around
        zero_for_one = not zero_for_one
    limit = _limit(step.limit, zero_for_one, state)
    stats["swaps compared"] += 1
    try:
        outcome = lab.swap(
            pool, zero_for_one, step.amount_specified, limit, quote_first=step.quote_first
        )
    except TxReverted as exc:
        with pytest.raises(EvmRevert) as python_revert:
            swap(state, zero_for_one, step.amount_specified, limit)
        assert python_revert.value.code == exc.reason, (
            f"pool reverted {exc.reason!r}, Python {python_revert.value!r}"
        )
        stats[f"swaps reverted {exc.reason}"] += 1
        return state, False
    result = swap(state, zero_for_one, step.amount_specified, limit)
    assert (result.amount0, result.amount1) == (outcome.amount0, outcome.amount1), "amounts differ"
    assert (result.sqrt_price_x96, result.tick, result.liquidity) == (
        outcome.sqrt_price_x96,
        outcome.tick,
        outcome.liquidity,
    ), "price/tick/liquidity after the swap differ"
    _swap_stats(
        stats,
        chain.liquidity_net,
        chain.liquidity_gross,
        state.tick_spacing,
        zero_for_one,
        state.tick,
        outcome.tick,
    )
    stats["swaps succeeded"] += 1
    stats["exact input" if step.amount_specified > 0 else "exact output"] += 1
    return apply_swap(state, result), True


@dataclass(slots=True)
class PoolRun:
    """One scenario in progress: the pool, its Python twin and the last tick table read."""

    lab: V3Lab
    pool: str
    state: V3PoolState
    chain: V3ChainState
    stats: Counter[str]
    live: dict[tuple[int, int], int]  # the harness's positions: (lower, upper) -> liquidity
    cleared: int = 0  # ticks cleared by burns since the last swap

    def modify(self, ops: list[PositionOp], when: str) -> None:
        """Apply mints/burns on both sides; compare each op's amounts, then the tick tables."""
        before = set(self.chain.liquidity_net)
        for op, chain_amounts in zip(ops, self.lab.modify(self.pool, ops), strict=True):
            fn = mint if op.kind == "mint" else burn
            self.state, amount0, amount1 = fn(
                self.state, op.tick_lower, op.tick_upper, op.liquidity
            )
            assert (amount0, amount1) == chain_amounts, f"{op}: amounts differ"
            key = (op.tick_lower, op.tick_upper)
            delta = op.liquidity if op.kind == "mint" else -op.liquidity
            self.live[key] = self.live.get(key, 0) + delta
            before |= set(key) if op.kind == "mint" else set()
        self.chain = self.lab.read_state(self.pool)
        _assert_same_state(self.chain, self.state, when)
        self.cleared += len(before - set(self.chain.liquidity_net))

    def swap(self, step: SwapStep) -> None:
        self.state, swapped = _check_swap(
            self.lab, self.pool, self.state, self.chain, step, self.stats
        )
        if swapped:
            self.stats["ticks cleared by a burn before a swap"] += self.cleared
            self.cleared = 0

    def mint_near_price(self, step: MintStep) -> None:
        spacing = self.state.tick_spacing
        low, high = _usable(spacing)
        lower = min(max(self.state.tick // spacing + step.offset, low), high - 1)
        upper = min(lower + step.width, high)
        op = PositionOp(
            kind="mint",
            tick_lower=lower * spacing,
            tick_upper=upper * spacing,
            liquidity=step.liquidity,
        )
        self.stats["mints between swaps"] += 1
        self.modify([op], f"after {op}")

    def burn_some(self, step: BurnStep) -> None:
        keys = sorted(k for k, v in self.live.items() if v > 0)
        if not keys:
            return
        key = keys[step.index % len(keys)]
        held = self.live[key]
        amount = held if step.full else max(1, held * step.share_q16 >> 16)
        op = PositionOp(kind="burn", tick_lower=key[0], tick_upper=key[1], liquidity=amount)
        self.stats["burns between swaps"] += 1
        self.modify([op], f"after {op}")


def _run(lab: V3Lab, scenario: Scenario, stats: Counter[str]) -> None:
    pool = lab.create_pool(scenario.fee_pips, scenario.sqrt_price_x96)
    state = V3PoolState(
        sqrt_price_x96=scenario.sqrt_price_x96,
        tick=get_tick_at_sqrt_ratio(scenario.sqrt_price_x96),
        liquidity=0,
        fee_pips=scenario.fee_pips,
        tick_spacing=scenario.tick_spacing,
        ticks={},
        liquidity_gross={},
    )
    empty = V3ChainState(
        sqrt_price_x96=state.sqrt_price_x96,
        tick=state.tick,
        liquidity=0,
        fee_pips=scenario.fee_pips,
        tick_spacing=scenario.tick_spacing,
        liquidity_net={},
        liquidity_gross={},
    )
    run = PoolRun(lab=lab, pool=pool, state=state, chain=empty, stats=stats, live={})
    mints = [
        PositionOp(
            kind="mint", tick_lower=p.tick_lower, tick_upper=p.tick_upper, liquidity=p.liquidity
        )
        for p in scenario.positions
    ]
    burns = [
        PositionOp(
            kind="burn", tick_lower=p.tick_lower, tick_upper=p.tick_upper, liquidity=p.burned
        )
        for p in scenario.positions
        if p.burned
    ]
    run.modify(mints + burns, "after the setup's mints and burns")
    for step in scenario.steps:
        if isinstance(step, SwapStep):
            run.swap(step)
        elif isinstance(step, MintStep):
            run.mint_near_price(step)
        else:
            run.burn_some(step)
    _assert_same_state(lab.read_state(pool), run.state, "after the last step")


def _differential(lab_node: LabNode, examples: int) -> Counter[str]:
    stats: Counter[str] = Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(scenario=scenarios())
    def check(scenario: Scenario) -> None:
        snapshot = lab_node.node.snapshot()
        try:
            _run(lab_node.lab, scenario, stats)
        finally:
            assert lab_node.node.revert(snapshot), "evm_revert refused"

    started = time.monotonic()
    check()
    stats["seconds"] = round(time.monotonic() - started)
    print("\nV3 differential:", ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))
    return stats


def _assert_coverage(stats: Counter[str], min_swaps: int) -> None:
    assert stats["swaps compared"] >= min_swaps, stats
    for what in (
        "swaps crossing 10+ initialized ticks",
        "swaps spanning 3+ empty bitmap words",
        "net-0 gross>0 ticks crossed",
        "ticks cleared by a burn before a swap",
        "swaps reverted SPL",
        "swaps reverted AS",
        "exact input",
        "exact output",
    ):
        assert stats[what] > 0, f"no {what}: {stats}"


def test_v3_swaps_match_the_pool(lab_node: LabNode) -> None:
    _assert_coverage(_differential(lab_node, EXAMPLES), MIN_SWAPS)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 10 minutes here: past the suite's default limit of 600 s
def test_v3_swaps_match_the_pool_extended(lab_node: LabNode) -> None:
    _assert_coverage(_differential(lab_node, EXTENDED_EXAMPLES), 10 * MIN_SWAPS)

"""Exact re-pricing: a screened cycle becomes a `Candidate` in integers, or is dropped.

Each hop is re-quoted with `amm_math` (V2 getAmountOut, the V3 pool's swap loop) on the exact
state the float screen read. The input is re-optimized in integers: all-V2 cycles take
`amm_math.v2_cycle.cycle_optimum` (the proven integer optimum); cycles with V3 hops take a
golden-section search over integer inputs in a narrow bracket around the float optimum
(relative 1e-6; the search is repeated in a 1e-3 bracket when the best input lies near the
edge of the first, a float optimum further off than it), keeping the best exact profit seen,
the float input itself included. Gas units come
from the calibrated model with the exact ticks crossed; the tip from the tip policy, and a
positive tip on a WETH cycle adds the gas of paying it (the executor unwraps it and sends it
to the coinbase); the net profit must reach the configured minimum. Every drop is counted by
reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import Protocol

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import get_amount_out
from amm_math.uniswap_v3.fee_growth import FeeGrowth, fee_growth_after_swap
from amm_math.uniswap_v3.pool import swap as v3_swap
from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.v2_cycle import cycle_optimum
from chains.gas_model import GasModel
from graph.actions import Candidate, CandidateHop
from graph.cycles import CycleSet, TokenIndex

__all__ = ["DROP_REASONS", "ExactView", "PricingContext", "Repricer", "quote_hops"]

DROP_REASONS = (
    "no_state",
    "unprofitable_exact",
    "no_base_value",
    "below_min_profit",
    "over_max_input",
)
# The integer walk of an all-V2 optimum is capped: the input it returns is quoted exactly and
# its profit is within the walk's proven bound of the integer maximum. Rounding at a coarse
# middle token (6 or 8 decimals) leaves a wide band of near-optimal inputs: on 525 world
# candidates, a cap of 256 jump points gave up at most 5.6e6 wei (4096 gave up none) and
# halved the re-pricing time.
V2_MAX_CANDIDATES = 256
# the golden-section search stops at a bracket 1e-9 of the input wide: exact profits there
# differ by rounding noise at coarse middle tokens; on 1,847 world candidates, stopping at
# 1e-9 rather than 1e-10 gave up at most 1.5e9 wei (below one gas unit's price) for a third
# less re-pricing time
_RESOLUTION_EXP = 9
_BRACKETS = (Fraction(1, 10**6), Fraction(1, 1000))
_GOLDEN_STEPS = 200  # a cap: the bracket reaches its resolution in about 40 steps
_GOLDEN = Fraction(6180339887, 10_000_000_000)


class _Spec(Protocol):
    address: str
    kind: str
    fee_pips: int


class _Row(Protocol):
    spec: _Spec


class ExactView(Protocol):
    """The exact side of a state view (graph.state.PoolTable has it)."""

    def row(self, pool_id: int) -> _Row | None: ...
    def v2_reserves(self, pool_id: int) -> tuple[int, int] | None: ...
    def v3_state(self, pool_id: int) -> V3PoolState | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PricingContext:
    """The block a candidate is priced for, and the money rules it is priced with."""

    block_number: int
    block_hash: str
    target_block: int
    gas_model: GasModel
    gas_price_wei: int  # next base fee + priority fee, per gas unit
    tip_share_bps: int
    min_net_profit_wei: int
    base_value_wei: Mapping[int, Fraction]  # token id -> wei per raw unit
    inventory: Mapping[int, int] = field(default_factory=dict)  # base token id -> raw units
    max_amount_in: Mapping[int, int] = field(default_factory=dict)  # base token id -> cap
    pending_tx: str | None = None
    # WETH's token id: the executor pays a positive tip of a WETH cycle itself (gas the model's
    # tip term holds); a cycle on another base token pays its tip as priority fee
    weth_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Quote:
    amounts: tuple[int, ...]  # input, then each hop's output
    ticks: tuple[int, ...]
    words: tuple[int, ...]
    still: tuple[bool, ...]  # a V3 hop that left its pool's tick unchanged (no oracle write)

    @property
    def profit(self) -> int:
        return self.amounts[-1] - self.amounts[0]


def quote_hops(
    view: ExactView, hops: tuple[tuple[int, bool], ...], amount_in: int
) -> _Quote | None:
    """Quote selling `amount_in` along hops exactly; None when a hop reverts or fills short."""
    amounts = [amount_in]
    ticks: list[int] = []
    words: list[int] = []
    still: list[bool] = []
    amount = amount_in
    try:
        for pool, zfo in hops:
            if amount <= 0:
                return None
            reserves = view.v2_reserves(pool) if _kind(view, pool) == "v2" else None
            if reserves is not None:
                r_in, r_out = reserves if zfo else (reserves[1], reserves[0])
                amount = get_amount_out(amount, r_in, r_out, _spec(view, pool).fee_pips)
                ticks.append(0)
                words.append(0)
                still.append(False)
            else:
                state = view.v3_state(pool)
                if state is None:
                    return None
                result = v3_swap(state, zfo, amount)
                paid_in, paid_out = (
                    (result.amount0, result.amount1) if zfo else (result.amount1, result.amount0)
                )
                if paid_in != amount:  # the price limit stopped the swap short
                    return None
                amount = -paid_out
                ticks.append(result.ticks_crossed)
                words.append(max(0, result.steps - 1 - result.ticks_crossed))
                still.append(result.tick == state.tick)
            amounts.append(amount)
    except EvmRevert:
        return None
    return _Quote(tuple(amounts), tuple(ticks), tuple(words), tuple(still))


def _spec(view: ExactView, pool: int) -> _Spec:
    row = view.row(pool)
    if row is None:
        raise KeyError(f"no pool {pool} in the state view")
    return row.spec


def _kind(view: ExactView, pool: int) -> str:
    return _spec(view, pool).kind


class Repricer:
    """Exact re-pricing of screened cycles; counts what it drops and why."""

    def __init__(self, cycles: CycleSet, tokens: TokenIndex) -> None:
        self.cycles = cycles
        self.tokens = tokens
        self.dropped: Counter[str] = Counter()
        self.priced = 0
        # candidates whose crossed V3 pools' fee growth was unknown: fee slots predicted as 0
        self.gas_unknown_fee_growth = 0

    def reprice(
        self, view: ExactView, cycle_id: int, amount_in_f: float, ctx: PricingContext
    ) -> Candidate | None:
        """Return the exact candidate of one screened cycle, or None (counted) when it fails."""
        hops = self.cycles.cycle(cycle_id)
        base = int(self.cycles.base[cycle_id])
        if any(_state_missing(view, pool) for pool, _ in hops):
            return self._drop("no_state")
        value = ctx.base_value_wei.get(base)
        if value is None:
            return self._drop("no_base_value")
        cap = ctx.max_amount_in.get(base)
        amount_in = self._optimize(view, hops, amount_in_f, cap)
        quote = None if amount_in is None else quote_hops(view, hops, amount_in)
        if quote is None or quote.profit <= 0:
            return self._drop("unprofitable_exact")
        amount_in = quote.amounts[0]
        flash = ctx.inventory.get(base, 0) < amount_in
        n_v3 = sum(_kind(view, pool) == "v3" for pool, _ in hops)
        is_v3 = [_kind(view, pool) == "v3" for pool, _ in hops]
        fee_slots = _fee_slot_flips(view, hops, quote)
        if fee_slots is None:
            self.gas_unknown_fee_growth += 1
        fee_slots_set, fee_slots_cleared = fee_slots or (0, 0)
        # the gas units of this execution, given whether it pays a tip from WETH
        gas_of = partial(
            ctx.gas_model.predict,
            flash=flash,
            n_v2=len(hops) - n_v3,
            n_v3=n_v3,
            ticks_crossed=sum(quote.ticks),
            parked_hops=sum(is_v3[1:]),
            word_steps=sum(quote.words),
            crossing_hops=sum(t > 0 for t in quote.ticks),
            fee_slots_set=fee_slots_set,
            fee_slots_cleared=fee_slots_cleared,
            still_v3_hops=sum(quote.still),
            # a flash execution whose first two hops are V2 forwards hop 0's output once more
            flash_forwards=int(flash and not is_v3[0] and not is_v3[1]),
        )
        profit_wei = quote.profit * value.numerator // value.denominator
        gas_units, margin, tip_wei = _gas_and_tip(ctx, gas_of, profit_wei, base == ctx.weth_id)
        if margin - tip_wei < ctx.min_net_profit_wei:
            return self._drop("below_min_profit")
        base_address = self.tokens.address(base)
        candidate_hops = []
        token_in = base_address
        for h, (pool, zfo) in enumerate(hops):
            spec = _spec(view, pool)
            t_out = self.cycles.pool_token1[pool] if zfo else self.cycles.pool_token0[pool]
            token_out = self.tokens.address(int(t_out))
            candidate_hops.append(
                CandidateHop(
                    pool_id=pool,
                    pool=spec.address.lower(),
                    is_v3=spec.kind == "v3",
                    zero_for_one=zfo,
                    fee_pips=spec.fee_pips,
                    token_in=token_in,
                    token_out=token_out,
                    amount_in=quote.amounts[h],
                    amount_out=quote.amounts[h + 1],
                    ticks_crossed=quote.ticks[h],
                    word_steps=quote.words[h],
                )
            )
            token_in = token_out
        self.priced += 1
        return Candidate(
            cycle_id=cycle_id,
            base_token=base_address,
            hops=tuple(candidate_hops),
            amount_in=amount_in,
            profit=quote.profit,
            profit_wei=profit_wei,
            gas_units=gas_units,
            gas_price_wei=ctx.gas_price_wei,
            tip_wei=tip_wei,
            net_profit_wei=margin - tip_wei,
            flash=flash,
            block_number=ctx.block_number,
            block_hash=ctx.block_hash,
            target_block=ctx.target_block,
            pending_tx=ctx.pending_tx,
        )

    def _drop(self, reason: str) -> None:
        self.dropped[reason] += 1
        return None

    def _optimize(
        self,
        view: ExactView,
        hops: tuple[tuple[int, bool], ...],
        amount_in_f: float,
        cap: int | None,
    ) -> int | None:
        """Return the integer input with the best exact profit (None: nothing profitable)."""
        if all(_kind(view, pool) == "v2" for pool, _ in hops):
            curve = []
            for pool, zfo in hops:
                reserves = view.v2_reserves(pool)
                assert reserves is not None
                r_in, r_out = reserves if zfo else (reserves[1], reserves[0])
                curve.append((r_in, r_out, _spec(view, pool).fee_pips))
            optimum = cycle_optimum(curve, max_candidates=V2_MAX_CANDIDATES)
            if optimum.amount_in <= 0:
                return None
            if cap is not None and optimum.amount_in > cap:
                return cap
            return optimum.amount_in
        if not amount_in_f > 0.0:
            return None
        center = Fraction(amount_in_f)
        best_in, best_profit = 0, 0

        def profit(x: int) -> int | None:
            nonlocal best_in, best_profit
            quote = quote_hops(view, hops, x)
            if quote is None:
                return None
            if quote.profit > best_profit:
                best_in, best_profit = x, quote.profit
            return quote.profit

        start = min(max(int(amount_in_f), 1), cap) if cap is not None else max(int(amount_in_f), 1)
        profit(start)
        resolution = max(8, int(center / 10**_RESOLUTION_EXP))
        for bracket in _BRACKETS:
            low = max(1, int(center * (1 - bracket)))
            high = max(low + 1, int(center * (1 + bracket)) + 1)
            if cap is not None:
                high = min(high, cap)
                low = min(low, high)
            _golden(profit, low, high, resolution)
            # an optimum in the bracket's inner part is the optimum; one near an edge (a float
            # input further off than the bracket) is searched again in the wider bracket
            margin = (high - low) // 20
            if low + margin <= best_in <= high - margin or (cap is not None and best_in == cap):
                break
        return best_in if best_profit > 0 else None


def _golden(profit: Callable[[int], int | None], a: int, b: int, resolution: int) -> None:
    """Golden-section search of the integer inputs in [a, b] down to `resolution` wide, then
    every input of the last bracket when it is narrower than 8 (`profit` keeps the best)."""
    x1 = b - int((b - a) * _GOLDEN)
    x2 = a + int((b - a) * _GOLDEN)
    f1, f2 = profit(x1), profit(x2)
    for _ in range(_GOLDEN_STEPS):
        if b - a < resolution:
            break
        if _score(f1) < _score(f2):
            a, x1, f1 = x1, x2, f2
            x2 = a + int((b - a) * _GOLDEN)
            f2 = profit(x2)
        else:
            b, x2, f2 = x2, x1, f1
            x1 = b - int((b - a) * _GOLDEN)
            f1 = profit(x1)
    if b - a < 8:
        for x in range(a, b + 1):
            profit(x)


def _margin_and_tip(ctx: PricingContext, profit_wei: int, gas_units: int) -> tuple[int, int]:
    """Return (profit minus gas cost, the tip share of it or 0 when not positive), in wei."""
    margin = profit_wei - gas_units * ctx.gas_price_wei
    return margin, margin * ctx.tip_share_bps // 10_000 if margin > 0 else 0


def _gas_and_tip(
    ctx: PricingContext, gas_of: Callable[..., int], profit_wei: int, weth_base: bool
) -> tuple[int, int, int]:
    """Return (gas units, margin after gas in wei, tip in wei) of a candidate.

    The tip is a share of the margin after gas, and paying it from WETH costs gas itself: price
    without the tip term first; a positive tip on a WETH cycle adds the term and is priced once
    more (more gas, so the tip only shrinks). A tip that shrinks to 0 is not paid: the gas
    stays untipped.
    """
    gas_units = gas_of(tip_paid=False)
    margin, tip_wei = _margin_and_tip(ctx, profit_wei, gas_units)
    if tip_wei > 0 and weth_base:
        tipped_units = gas_of(tip_paid=True)
        tipped_margin, tipped_tip = _margin_and_tip(ctx, profit_wei, tipped_units)
        if tipped_tip > 0:
            return tipped_units, tipped_margin, tipped_tip
        return gas_units, margin, 0
    return gas_units, margin, tip_wei


def _fee_slot_flips(
    view: ExactView, hops: tuple[tuple[int, bool], ...], quote: _Quote
) -> tuple[int, int] | None:
    """Return (fee slots set, fee slots cleared) of the quoted hops; None: fee growth unknown.

    Hops are distinct pools, so each V3 hop swaps on its pool's current state. Only hops that
    cross a tick write feeGrowthOutside slots; their rows must know the fee growth.
    """
    slots_set = slots_cleared = 0
    for h, (pool, zfo) in enumerate(hops):
        if quote.ticks[h] == 0:
            continue
        state = view.v3_state(pool)
        fee_growth: FeeGrowth | None = getattr(view.row(pool), "fee_growth", None)
        if state is None or fee_growth is None:
            return None
        try:
            swapped = fee_growth_after_swap(state, fee_growth, zfo, quote.amounts[h])
        except (EvmRevert, ValueError):
            return None
        slots_set += swapped.slots_set
        slots_cleared += swapped.slots_cleared
    return slots_set, slots_cleared


def _score(profit: int | None) -> int:
    """Order exact profits with a reverting quote below every real one."""
    return -(1 << 300) if profit is None else profit


def _state_missing(view: ExactView, pool: int) -> bool:
    row = view.row(pool)
    if row is None:
        return True
    if row.spec.kind == "v2":
        return view.v2_reserves(pool) is None
    return view.v3_state(pool) is None

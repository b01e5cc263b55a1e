"""The exact profit-maximizing input of a cycle of V2-style (constant-product) pools.

A hop (reserve_in, reserve_out, fee_pips) with g = 1e6 - fee_pips maps y to
f(y) = a*y / (b + c*y) with a = g*reserve_out, b = 1e6*reserve_in, c = g; the pair pays
floor(f(y)) (UniswapV2Library.getAmountOut). Maps of this form compose into one of the same
form, (a1, b1, c1) then (a2, b2, c2) giving (a1*a2, b1*b2, b2*c1 + c2*a1), so a cycle is one
constant-product curve f(x) = A*x / (B + C*x): a fee-free pool with virtual reserves
B/C in and A/C out. Its real profit P(x) = f(x) - x is concave, positive somewhere iff A > B,
and largest at x* = (sqrt(A*B) - B) / C, where P(x*) = (sqrt(A) - sqrt(B))**2 / C.

The chain rounds down at every hop, so the integer profit p(x) = F(x) - x (F the hop-by-hop
integer output) is not P: p <= P everywhere, and p is neither concave nor unimodal. Rounding
at an intermediate token whose smallest unit is worth k units of the cycle token leaves
plateaus k wide and noise of up to about k in p. The search is exact anyway, by three facts:

1. p(x) <= P(x), and p is an integer, so only x with P(x) >= best + 1 can beat `best`;
   {x : P(x) >= v} is an interval around x* (P concave).
2. Only jump points of F (x with F(x) > F(x - 1)) can be maximizers: on a plateau of F, p
   falls by one per unit of input. The minimal input reaching final output o, X(o), is exact
   (each hop inverted with a ceiling), so the jump point after x is X(F(x) + 1) and the one at
   or before x - 1 is X(F(x - 1)).
3. Walking jump points outwards from floor(x*) on both sides, P falls along each side, so
   every input beyond a side's next candidate is bounded by that candidate's P. The walk takes
   the side with the larger floor(P) first and stops as soon as neither side's P reaches
   best + 1, or best = floor(P(x*)).

So the neighbourhood searched is every jump point of F with P(x) >= best + 1 (best rising as
the walk goes), and the result is the integer maximum. That set is usually a handful of
inputs (random 2- and 3-hop cycles of 6-, 8- and 18-decimal tokens: 9 in 10 need at most a
dozen), but rounding at a coarse middle token can leave a wide band of near-optimal inputs: one
such 3-hop cycle (18 -> 8 -> 6 -> 18 decimals) needed 136,304. A budget (`max_candidates`, by
default 65,536, about half a second) caps the walk; a result cut short says so
(`exact=False`) and carries a proven `profit_bound`: no integer input earns more.

Each hop is assumed to be a different pool, and inputs are assumed not to push a pair's reserve
past uint112 (2**112 raw units).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import FEE_DENOMINATOR_PIPS, get_amount_out

__all__ = [
    "DEFAULT_MAX_CANDIDATES",
    "CycleOptimum",
    "cycle_amounts",
    "cycle_optimum",
    "optimal_cycle_input",
    "virtual_reserves",
]

DEFAULT_MAX_CANDIDATES = 1 << 16

Hop = tuple[int, int, int]  # (reserve_in, reserve_out, fee_pips)
Curve = tuple[int, int, int]  # (a, b, c): real output a*y / (b + c*y)
_NO_CANDIDATE = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleOptimum:
    """The best integer input of a cycle (raw units of the cycle token) and how sure it is."""

    amount_in: int
    profit: int
    profit_bound: int  # no integer input earns more than this; equals profit when exact
    exact: bool
    candidates: int  # inputs evaluated hop by hop


def _validate(hops: Sequence[Hop]) -> None:
    """Raise ValueError for an empty cycle or a bad fee; revert like the library on no liquidity."""
    if len(hops) == 0:
        raise ValueError("a cycle needs at least one hop")
    for reserve_in, reserve_out, fee_pips in hops:
        if not 0 <= fee_pips < FEE_DENOMINATOR_PIPS:
            raise ValueError(f"fee_pips must be in [0, {FEE_DENOMINATOR_PIPS}), got {fee_pips}")
        if reserve_in < 0 or reserve_out < 0:
            raise ValueError(f"reserves must be non-negative, got {reserve_in}, {reserve_out}")
        if reserve_in == 0 or reserve_out == 0:
            raise EvmRevert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")


def cycle_amounts(hops: Sequence[Hop], amount_in: int) -> list[int]:
    """Return the exact output (raw units) after each hop for `amount_in` sent into the first."""
    _validate(hops)
    amounts = []
    amount = amount_in
    for reserve_in, reserve_out, fee_pips in hops:
        amount = get_amount_out(amount, reserve_in, reserve_out, fee_pips)
        amounts.append(amount)
    return amounts


def _curves(hops: Sequence[Hop]) -> list[Curve]:
    """Return each hop's (a, b, c), its real output being a*y / (b + c*y)."""
    curves = []
    for reserve_in, reserve_out, fee_pips in hops:
        gamma_pips = FEE_DENOMINATOR_PIPS - fee_pips
        curves.append((gamma_pips * reserve_out, FEE_DENOMINATOR_PIPS * reserve_in, gamma_pips))
    return curves


def _compose(curves: Sequence[Curve]) -> Curve:
    """Return (A, B, C) with the cycle's real output A*x / (B + C*x)."""
    a_total, b_total, c_total = 1, 1, 0
    for a, b, c in curves:
        a_total, b_total, c_total = a_total * a, b_total * b, b * c_total + c * a_total
    return a_total, b_total, c_total


def virtual_reserves(hops: Sequence[Hop]) -> tuple[Fraction, Fraction]:
    """Return the fee-free pool (reserve_in, reserve_out) whose curve is the whole cycle."""
    _validate(hops)
    a, b, c = _compose(_curves(hops))
    return Fraction(b, c), Fraction(a, c)


def _chain_out(curves: Sequence[Curve], amount_in: int) -> int:
    """Return F(x): the hop-by-hop integer output (getAmountOut), 0 once an amount is 0."""
    amount = amount_in
    for a, b, c in curves:
        if amount <= 0:
            return 0
        amount = a * amount // (b + c * amount)
    return amount


def _min_input(curves: Sequence[Curve], amount_out: int) -> int | None:
    """Return X(o): the least input whose hop-by-hop output is >= amount_out, None if none is."""
    amount = amount_out
    for a, b, c in reversed(curves):
        if amount <= 0:
            return 0
        # floor(a*y / (b + c*y)) >= o  <=>  y*(a - c*o) >= o*b; a - c*o = g*(R_out - o)
        room = a - c * amount
        if room <= 0:
            return None
        amount = -(-amount * b // room)
    return amount


def _floor_max_real_profit(a: int, b: int, c: int) -> int:
    """Return floor((A + B - 2*sqrt(A*B)) / C), the floor of the real profit at x*."""
    root = math.isqrt(a * b)
    # isqrt <= sqrt, so this starts at or above the answer, and at most 2/C + 1 above it
    bound = (a + b - 2 * root) // c
    while bound > 0 and not (a + b - bound * c >= 0 and (a + b - bound * c) ** 2 >= 4 * a * b):
        bound -= 1
    return bound


def cycle_optimum(
    hops: Sequence[Hop], *, max_candidates: int = DEFAULT_MAX_CANDIDATES
) -> CycleOptimum:
    """Return the integer input (raw units) maximizing the cycle's exact profit, with its proof."""
    _validate(hops)
    curves = _curves(hops)
    a, b, c = _compose(curves)
    if a <= b:
        # the marginal rate A/B at x = 0 is at most 1, and the curve is concave
        return CycleOptimum(amount_in=0, profit=0, profit_bound=0, exact=True, candidates=0)
    upper = _floor_max_real_profit(a, b, c)
    if upper <= 0:
        return CycleOptimum(amount_in=0, profit=0, profit_bound=0, exact=True, candidates=0)

    def jump_point(amount_out: int) -> int:
        """Return X(amount_out), or 0 (no candidate) when that output cannot be reached."""
        amount_in = _min_input(curves, amount_out)
        return 0 if amount_in is None else amount_in

    def real_profit(x: int) -> int:
        """Return floor(P(x)) = floor(x*(A - B - C*x) / (B + C*x)); -1 for no candidate (x = 0)."""
        # best + 1 is an integer, so P(x) >= best + 1 exactly when floor(P(x)) >= best + 1
        return x * (a - b - c * x) // (b + c * x) if x >= 1 else _NO_CANDIDATE

    # floor(x*) = floor((isqrt(AB) - B) / C): no integer k has isqrt(AB) < k*C + B <= sqrt(AB)
    start = max(1, (math.isqrt(a * b) - b) // c)
    start_out = _chain_out(curves, start)
    best_in, best_profit = (start, start_out - start) if start_out > start else (0, 0)
    candidates = 1
    left = jump_point(_chain_out(curves, start - 1))
    right = jump_point(start_out + 1)
    left_bound, right_bound = real_profit(left), real_profit(right)
    while best_profit < upper and max(left_bound, right_bound) >= best_profit + 1:
        if candidates >= max_candidates:
            return CycleOptimum(
                amount_in=best_in,
                profit=best_profit,
                profit_bound=max(best_profit, left_bound, right_bound),
                exact=False,
                candidates=candidates,
            )
        if left_bound > right_bound:
            x = left
            out = _chain_out(curves, x)
            left = jump_point(_chain_out(curves, x - 1))
            left_bound = real_profit(left)
        else:
            x = right
            out = _chain_out(curves, x)
            right = jump_point(out + 1)
            right_bound = real_profit(right)
        candidates += 1
        if out - x > best_profit:
            best_in, best_profit = x, out - x
    return CycleOptimum(
        amount_in=best_in,
        profit=best_profit,
        profit_bound=best_profit,
        exact=True,
        candidates=candidates,
    )


def optimal_cycle_input(hops: Sequence[Hop]) -> tuple[int, int]:
    """Return (amount_in, profit) in raw units of the cycle token; (0, 0) when nothing pays."""
    optimum = cycle_optimum(hops)
    return optimum.amount_in, optimum.profit

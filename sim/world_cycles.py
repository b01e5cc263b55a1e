"""Cycles through the world's pools, priced exactly: what executor tests and calibration run.

`legs_by_token` lists every directed use of a pool; `find_cycles` enumerates the 2- and 3-hop
cycles from a base token back to it, each pool used once; `quote_cycle` runs a cycle through
the exact amm_math at one input, from a pool snapshot, and returns every hop's output with
the pools' post-swap states and the V3 work done (ticks crossed, bitmap word steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amm_math.uniswap_v2 import get_amount_out
from amm_math.uniswap_v3.pool import V3PoolState, apply_swap, swap
from chains.snapshot import PoolSnapshot

__all__ = ["CycleQuote", "Leg", "find_cycles", "legs_by_token", "quote_cycle"]


@dataclass(frozen=True, slots=True)
class Leg:
    """A directed use of one pool: id, address, kind, direction, V2 fee and output token."""

    pool_id: int
    address: str
    is_v3: bool
    zero_for_one: bool
    fee_pips: int
    token_out: str


@dataclass(frozen=True, slots=True)
class CycleQuote:
    """An exact evaluation of a cycle at one input amount (raw units of the base token)."""

    amount_in: int
    outs: tuple[int, ...]
    reserves: dict[int, tuple[int, int]]  # V2 pool id -> (reserve0, reserve1) after
    v3_states: dict[int, V3PoolState]  # V3 pool id -> state after
    ticks_crossed: int
    word_steps: int  # V3 loop steps ending at a bitmap word boundary, no tick crossed

    @property
    def profit(self) -> int:
        """Return the base-token profit: last output minus input."""
        return self.outs[-1] - self.amount_in


def legs_by_token(manifest: Any) -> dict[str, list[Leg]]:
    """Return every directed pool use of the world, keyed by input token (lowercase)."""
    by_token: dict[str, list[Leg]] = {}
    for pool_id, pool in enumerate(manifest.pools):
        t0, t1 = pool.token0.lower(), pool.token1.lower()
        for zfo, tin, tout in ((True, t0, t1), (False, t1, t0)):
            leg = Leg(pool_id, pool.address, pool.kind == "v3", zfo, pool.fee_pips, tout)
            by_token.setdefault(tin, []).append(leg)
    return by_token


def find_cycles(by_token: dict[str, list[Leg]], base: str) -> list[tuple[Leg, ...]]:
    """Enumerate 2- and 3-hop cycles from `base` back to it, each pool used once."""
    found: list[tuple[Leg, ...]] = []
    for a in by_token.get(base, []):
        for b in by_token.get(a.token_out, []):
            if b.pool_id == a.pool_id:
                continue
            if b.token_out == base:
                found.append((a, b))
                continue
            for c in by_token.get(b.token_out, []):
                if c.token_out == base and c.pool_id not in (a.pool_id, b.pool_id):
                    found.append((a, b, c))
    return found


def quote_cycle(snap: PoolSnapshot, cycle: tuple[Leg, ...], amount_in: int) -> CycleQuote | None:
    """Run the cycle through exact V2/V3 math; None if a hop cannot fill exactly."""
    reserves: dict[int, tuple[int, int]] = {}
    states: dict[int, V3PoolState] = {}
    outs: list[int] = []
    crossed = 0
    words = 0
    amount = amount_in
    for leg in cycle:
        if leg.is_v3:
            state = states.get(leg.pool_id, snap.v3_states.get(leg.pool_id))
            if state is None or state.liquidity == 0:
                return None
            result = swap(state, leg.zero_for_one, amount)
            paid, got = (
                (result.amount0, -result.amount1)
                if leg.zero_for_one
                else (result.amount1, -result.amount0)
            )
            if paid != amount or got <= 0:
                return None  # the price limit stopped the swap early
            states[leg.pool_id] = apply_swap(state, result)
            crossed += result.ticks_crossed
            words += max(0, result.steps - 1 - result.ticks_crossed)
        else:
            r0, r1 = reserves.get(leg.pool_id, snap.reserves[leg.pool_id])
            r_in, r_out = (r0, r1) if leg.zero_for_one else (r1, r0)
            got = get_amount_out(amount, r_in, r_out, leg.fee_pips)
            if got <= 0:
                return None
            r_in, r_out = r_in + amount, r_out - got
            reserves[leg.pool_id] = (r_in, r_out) if leg.zero_for_one else (r_out, r_in)
        outs.append(got)
        amount = got
    return CycleQuote(amount_in, tuple(outs), reserves, states, crossed, words)

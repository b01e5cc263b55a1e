"""Chain the swaps of one transaction, token to token, into arbitrage cycles.

Mirrors flashbots/mev-inspect-py `mev_inspect/arbitrages.py` (`get_arbitrages`,
`_get_all_start_end_swaps`, `_get_shortest_route`, `_swap_outs_match_swap_ins`):

- a start/end pair: start.token_in == end.token_out, different pools,
  start.from_address == end.to_address, and start.from_address is not a pool of the
  transaction;
- consecutive swaps a -> b: a.token_out == b.token_in, connected by address (a.pool is b's
  payer, or a's recipient is b's pool or b's payer), and the amounts within 1% of each other;
- the shortest route per start, each swap used by at most one arbitrage;
- with several arbitrages in one transaction only those whose first swap comes before their last.

Deviations: the 1% amount test is done in exact integers (`200 * |a - b| < a + b`) instead
of floats; `reverted` is true when any swap of the route (or a call above it) reverted, where
mev-inspect-py keeps the last swap's own error.
"""

from __future__ import annotations

from collections.abc import Iterable

from sim.inspect_model import Arbitrage, Swap

__all__ = ["get_arbitrages"]

# mev-inspect-py's MAX_TOKEN_AMOUNT_PERCENT_DIFFERENCE = 0.01, as a fraction of the mean
_AMOUNT_TOLERANCE_DENOMINATOR = 200


def get_arbitrages(swaps: Iterable[Swap]) -> list[Arbitrage]:
    """Return the arbitrages of `swaps`, transaction by transaction, in block order."""
    by_transaction: dict[tuple[int, int, str], list[Swap]] = {}
    for swap in swaps:
        key = (swap.block_number, swap.transaction_index, swap.transaction_hash)
        by_transaction.setdefault(key, []).append(swap)
    found: list[Arbitrage] = []
    for key in sorted(by_transaction):
        ordered = sorted(by_transaction[key], key=lambda s: s.position)
        found += _arbitrages_of_transaction(ordered)
    return found


def _arbitrages_of_transaction(swaps: list[Swap]) -> list[Arbitrage]:
    routes: list[list[Swap]] = []
    used: set[int] = set()
    for start, ends in _start_end_candidates(swaps):
        if id(start) in used:
            continue
        unused_ends = [end for end in ends if id(end) not in used]
        route = _shortest_route(start, unused_ends, swaps, None)
        if route is None:
            continue
        routes.append(route)
        used.update(id(swap) for swap in route)
    if len(routes) > 1:
        # Case II routes (bot -> pool -> bot at each hop) can be read from any hop; keep the
        # readings whose first swap happened before their last
        routes = [route for route in routes if route[0].position < route[-1].position]
    return [Arbitrage.from_route(tuple(route)) for route in routes]


def _start_end_candidates(swaps: list[Swap]) -> list[tuple[Swap, list[Swap]]]:
    pools = {swap.pool for swap in swaps}
    candidates = []
    for start in swaps:
        if start.from_address in pools:
            continue
        ends = [
            end
            for end in swaps
            if end is not start
            and start.token_in == end.token_out
            and start.pool != end.pool
            and start.from_address == end.to_address
        ]
        if ends:
            candidates.append((start, ends))
    return candidates


def _shortest_route(
    start: Swap, ends: list[Swap], swaps: list[Swap], max_length: int | None
) -> list[Swap] | None:
    if not ends or (max_length is not None and max_length < 2):
        return None
    for end in ends:
        if _outs_match_ins(start, end):
            return [start, end]
    if max_length == 2:
        return None
    end_ids = {id(end) for end in ends}
    others = [s for s in swaps if s is not start and id(s) not in end_ids]
    best: list[Swap] | None = None
    remaining = None if max_length is None else max_length - 1
    for candidate in others:
        if not _outs_match_ins(start, candidate):
            continue
        rest = _shortest_route(candidate, ends, others, remaining)
        if rest is not None and (best is None or len(rest) < len(best)):
            best = rest
            remaining = len(rest) - 1
    return None if best is None else [start, *best]


def _outs_match_ins(out: Swap, into: Swap) -> bool:
    """Whether `into` can follow `out`: same token, linked addresses, amounts within 1%."""
    if out.token_out != into.token_in:
        return False
    linked = (
        out.pool == into.from_address
        or out.to_address == into.pool
        or out.to_address == into.from_address
    )
    if not linked:
        return False
    a, b = out.amount_out, into.amount_in
    if a == b:
        return True
    return _AMOUNT_TOLERANCE_DENOMINATOR * abs(a - b) < a + b

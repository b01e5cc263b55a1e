"""Pending swaps: a decoded router swap applied to a scratch copy of the pool table.

The backrun case: a pending transaction's swap moves prices once it lands; the search runs on
the state right after it, and the bundle is [victim, ours]. `ScratchState` copies the table's
float columns and overrides the rows of the pools the swap touches, so the confirmed table is
never written. It reads like the table (columns, `csr()`, `row`, `v2_reserves`, `v3_state`),
so search and exact re-pricing run on it unchanged.

A swap is applied with `amm_math`, exactly as the router would run it: exact input forward hop
by hop; exact output backwards (each hop's input from the next hop's output: getAmountIn, or
the V3 swap with a negative amount), then forward with those amounts — except a V2
exact-output swap that SwapRouter02 or UniversalRouter pays forward (getAmountsIn paid to the
first pair, then exact input pair by pair, as those routers do). A swap that would
revert on chain (its minimum output or maximum input not met, a pool without state, an
amount the router decides on chain, a fee-on-transfer token) changes nothing and says why.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import get_amount_in, get_amount_out, swap_reserves
from amm_math.uniswap_v3.fee_growth import fee_growth_after_swap
from amm_math.uniswap_v3.pool import apply_swap
from amm_math.uniswap_v3.pool import swap as v3_swap
from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.ticks_csr import CsrTicks
from chains.records import (
    FLAG_AMOUNT_UNKNOWN,
    FLAG_EXACT_OUT_PAID_FORWARD,
    FLAG_EXACT_OUTPUT,
    FLAG_FEE_ON_TRANSFER,
    Kind,
    get_value,
)
from graph.state import PoolTable
from graph.state_columns import PoolColumns, PoolRow

__all__ = ["PendingSwapSpec", "ScratchState"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingSwapSpec:
    """What the search needs of one decoded pending swap (a PENDING_SWAP record)."""

    tx_hash: str
    hops: tuple[tuple[int, bool], ...]  # (pool id, zero_for_one), input pool first
    exact_output: bool
    amount_in: int  # exact input, or the maximum input of an exact-output swap
    amount_out: int  # minimum output of an exact-input swap, or the exact output
    amount_unknown: bool = False
    fee_on_transfer: bool = False
    # a V2 exact-output swap the router pays forward (see chains.records)
    exact_out_paid_forward: bool = False

    @classmethod
    def from_record(cls, record: np.void | np.ndarray) -> PendingSwapSpec:
        """Read a PENDING_SWAP record (chains.records layout)."""
        if int(record["kind"]) != Kind.PENDING_SWAP:
            raise ValueError(f"not a PENDING_SWAP record: kind {int(record['kind'])}")
        n_hops = int(record["n_hops"])
        aux = int(record["aux"])
        flags = int(record["flags"])
        hops = tuple((int(record["hop_pool_ids"][i]), bool(aux >> i & 1)) for i in range(n_hops))
        return cls(
            tx_hash="0x" + bytes(record["tx_hash"]).hex(),
            hops=hops,
            exact_output=bool(flags & FLAG_EXACT_OUTPUT),
            amount_in=get_value(record, 0),
            amount_out=get_value(record, 1),
            amount_unknown=bool(flags & FLAG_AMOUNT_UNKNOWN),
            fee_on_transfer=bool(flags & FLAG_FEE_ON_TRANSFER),
            exact_out_paid_forward=bool(flags & FLAG_EXACT_OUT_PAID_FORWARD),
        )


class ScratchState(PoolColumns):
    """A copy-on-write view of a PoolTable with pending swaps applied to it."""

    def __init__(self, base: PoolTable) -> None:
        self._base = base
        self.copy_columns_from(base)
        self._over: dict[int, PoolRow] = {}
        self.pending: list[str] = []  # tx hashes applied, in order

    # -- reads, as the table ---------------------------------------------------------------

    def csr(self) -> CsrTicks:
        """Return the base table's CSR ticks: a swap moves price, not initialized ticks.

        Its per-pool scalars are the base table's; the kernels read this view's columns.
        """
        return self._base.csr()

    def row(self, pool_id: int) -> PoolRow | None:
        """Return the pool's row here (the pending swap's result, else the table's)."""
        over = self._over.get(pool_id)
        return over if over is not None else self._base.row(pool_id)

    def v2_reserves(self, pool_id: int) -> tuple[int, int] | None:
        """Return the V2 reserves here."""
        row = self.row(pool_id)
        return None if row is None else row.reserves

    def v3_state(self, pool_id: int) -> V3PoolState | None:
        """Return the V3 state here."""
        row = self.row(pool_id)
        return None if row is None else row.v3

    @property
    def changed_pools(self) -> tuple[int, ...]:
        """Return the ids of the pools the applied swaps moved."""
        return tuple(sorted(self._over))

    # -- writes ----------------------------------------------------------------------------

    def apply(self, swap: PendingSwapSpec) -> str | None:
        """Apply one pending swap; return None, or why it was not applied (nothing changes)."""
        if swap.amount_unknown:
            return "amount_unknown"
        if swap.fee_on_transfer:
            return "fee_on_transfer"
        if not swap.hops:
            return "no_hops"
        rows = []
        for pool, _ in swap.hops:
            row = self.row(pool)
            if row is None or (row.reserves is None and row.v3 is None):
                return "no_state"
            rows.append(row)
        try:
            all_v2 = all(row.reserves is not None for row in rows)
            if swap.exact_output and swap.exact_out_paid_forward and all_v2:
                # the router pays getAmountsIn and swaps it forward: exact input per pair
                paid = self._amounts_backward(rows, swap)[0]
                if paid > swap.amount_in:
                    return "victim_would_revert"
                swap = dataclasses.replace(swap, exact_output=False, amount_in=paid)
                amounts = self._amounts_forward(rows, swap)
                if amounts[-1] < swap.amount_out:
                    return "victim_would_revert"
            elif swap.exact_output:
                amounts = self._amounts_backward(rows, swap)
                if amounts[0] > swap.amount_in:
                    return "victim_would_revert"
            else:
                amounts = self._amounts_forward(rows, swap)
                if amounts[-1] < swap.amount_out:
                    return "victim_would_revert"
            new_rows = self._rows_after(rows, swap, amounts)
        except EvmRevert:
            return "victim_would_revert"
        for (pool, _), row in zip(swap.hops, new_rows, strict=True):
            self._over[pool] = row
            self._write_columns(pool, row)
        self.pending.append(swap.tx_hash)
        return None

    @staticmethod
    def _amounts_forward(rows: list[PoolRow], swap: PendingSwapSpec) -> list[int]:
        amounts = [swap.amount_in]
        for row, (_, zfo) in zip(rows, swap.hops, strict=True):
            amount = amounts[-1]
            if row.reserves is not None:
                r_in, r_out = row.reserves if zfo else (row.reserves[1], row.reserves[0])
                amounts.append(get_amount_out(amount, r_in, r_out, row.spec.fee_pips))
            else:
                assert row.v3 is not None
                result = v3_swap(row.v3, zfo, amount)
                paid_in, paid_out = (
                    (result.amount0, result.amount1) if zfo else (result.amount1, result.amount0)
                )
                if paid_in != amount:
                    raise EvmRevert("", "exact input not filled (price limit)")
                amounts.append(-paid_out)
        return amounts

    @staticmethod
    def _amounts_backward(rows: list[PoolRow], swap: PendingSwapSpec) -> list[int]:
        amounts = [swap.amount_out]
        for row, (_, zfo) in zip(reversed(rows), reversed(swap.hops), strict=True):
            amount = amounts[0]
            if row.reserves is not None:
                r_in, r_out = row.reserves if zfo else (row.reserves[1], row.reserves[0])
                amounts.insert(0, get_amount_in(amount, r_in, r_out, row.spec.fee_pips))
            else:
                assert row.v3 is not None
                result = v3_swap(row.v3, zfo, -amount)
                paid_in, paid_out = (
                    (result.amount0, result.amount1) if zfo else (result.amount1, result.amount0)
                )
                if -paid_out != amount:
                    raise EvmRevert("", "exact output not filled (price limit)")
                amounts.insert(0, paid_in)
        return amounts

    @staticmethod
    def _rows_after(
        rows: list[PoolRow], swap: PendingSwapSpec, amounts: list[int]
    ) -> list[PoolRow]:
        out = []
        for h, (row, (_, zfo)) in enumerate(zip(rows, swap.hops, strict=True)):
            amount_in, amount_out = amounts[h], amounts[h + 1]
            if row.reserves is not None:
                flows = (amount_in, 0, 0, amount_out) if zfo else (0, amount_in, amount_out, 0)
                reserves = swap_reserves(*row.reserves, *flows, row.spec.fee_pips)
                out.append(PoolRow(spec=row.spec, reserves=reserves))
            else:
                assert row.v3 is not None
                specified = -amount_out if swap.exact_output else amount_in
                fee_growth = None
                if row.fee_growth is not None:
                    # the same swap with fee growth: gas of a backrun crossing ticks needs it
                    swapped = fee_growth_after_swap(row.v3, row.fee_growth, zfo, specified)
                    result, fee_growth = swapped.result, swapped.fee_growth
                else:
                    result = v3_swap(row.v3, zfo, specified)
                out.append(
                    PoolRow(spec=row.spec, v3=apply_swap(row.v3, result), fee_growth=fee_growth)
                )
        return out

"""float64 numba kernels that mirror `amm_math.uniswap_v2` for screening.

Amounts and reserves are raw token units (wei) as float64; `fee_pips` is the fee in
millionths (3000 = 0.30%). The exact functions floor the output and add one wei to the input;
these kernels return the real-valued quotient instead, so they differ from the exact result by
float64 rounding plus at most one wei. Where the exact code reverts (zero amounts or reserves,
an output that would drain the pool) the kernels return a value instead of raising: 0.0 out,
or +inf in. Floats only screen: the exact functions decide.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["get_amount_in_f", "get_amount_out_f", "get_amount_out_many"]

FEE_DENOMINATOR_PIPS = 1_000_000.0


@numba.njit(cache=True, nogil=True, fastmath=False)
def get_amount_out_f(
    amount_in: float, reserve_in: float, reserve_out: float, fee_pips: int
) -> float:
    """Return the output (raw units) for `amount_in` sold into the pool, fee on the input."""
    if amount_in <= 0.0 or reserve_in <= 0.0 or reserve_out <= 0.0:
        return 0.0
    amount_in_with_fee = amount_in * (FEE_DENOMINATOR_PIPS - fee_pips)
    return (
        amount_in_with_fee * reserve_out / (reserve_in * FEE_DENOMINATOR_PIPS + amount_in_with_fee)
    )


@numba.njit(cache=True, nogil=True, fastmath=False)
def get_amount_in_f(
    amount_out: float, reserve_in: float, reserve_out: float, fee_pips: int
) -> float:
    """Return the input (raw units, fee included) that buys `amount_out`; +inf if it cannot."""
    if amount_out <= 0.0:
        return 0.0
    if reserve_in <= 0.0 or amount_out >= reserve_out:
        return np.inf
    numerator = reserve_in * amount_out * FEE_DENOMINATOR_PIPS
    return numerator / ((reserve_out - amount_out) * (FEE_DENOMINATOR_PIPS - fee_pips))


@numba.njit(cache=True, nogil=True, fastmath=False)
def get_amount_out_many(
    amounts_in: np.ndarray,
    reserve_in: np.ndarray,
    reserve_out: np.ndarray,
    fee_pips: np.ndarray,
    out: np.ndarray,
) -> None:
    """Write get_amount_out_f of each element into `out` (float64 arrays, int64 fee_pips)."""
    for i in range(amounts_in.shape[0]):
        out[i] = get_amount_out_f(amounts_in[i], reserve_in[i], reserve_out[i], fee_pips[i])

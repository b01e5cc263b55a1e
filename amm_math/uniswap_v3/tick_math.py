"""TickMath.sol: sqrt(1.0001^tick) as a Q64.96 and back, bit-exact with the contract.

Both directions repeat the contract's arithmetic step by step: the same magic-constant
multiplications for get_sqrt_ratio_at_tick, and the same 14-bit log2 approximation with the
same error bounds for get_tick_at_sqrt_ratio. Every intermediate value stays below 2**256,
as in the contract, so no step depends on EVM wrapping.
"""

from __future__ import annotations

from amm_math.errors import EvmRevert

__all__ = [
    "MAX_SQRT_RATIO",
    "MAX_TICK",
    "MIN_SQRT_RATIO",
    "MIN_TICK",
    "get_sqrt_ratio_at_tick",
    "get_tick_at_sqrt_ratio",
]

MIN_TICK = -887272
MAX_TICK = -MIN_TICK

MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342

_MAX_UINT256 = (1 << 256) - 1


def get_sqrt_ratio_at_tick(tick: int) -> int:
    """Return sqrt(1.0001^tick) * 2**96 rounded up, as a uint160; revert 'T' outside the ticks."""
    abs_tick = -tick if tick < 0 else tick
    if abs_tick > MAX_TICK:
        raise EvmRevert("T")

    ratio = (
        0xFFFCB933BD6FAD37AA2D162D1A594001
        if abs_tick & 0x1 != 0
        else 0x100000000000000000000000000000000
    )
    if abs_tick & 0x2 != 0:
        ratio = (ratio * 0xFFF97272373D413259A46990580E213A) >> 128
    if abs_tick & 0x4 != 0:
        ratio = (ratio * 0xFFF2E50F5F656932EF12357CF3C7FDCC) >> 128
    if abs_tick & 0x8 != 0:
        ratio = (ratio * 0xFFE5CACA7E10E4E61C3624EAA0941CD0) >> 128
    if abs_tick & 0x10 != 0:
        ratio = (ratio * 0xFFCB9843D60F6159C9DB58835C926644) >> 128
    if abs_tick & 0x20 != 0:
        ratio = (ratio * 0xFF973B41FA98C081472E6896DFB254C0) >> 128
    if abs_tick & 0x40 != 0:
        ratio = (ratio * 0xFF2EA16466C96A3843EC78B326B52861) >> 128
    if abs_tick & 0x80 != 0:
        ratio = (ratio * 0xFE5DEE046A99A2A811C461F1969C3053) >> 128
    if abs_tick & 0x100 != 0:
        ratio = (ratio * 0xFCBE86C7900A88AEDCFFC83B479AA3A4) >> 128
    if abs_tick & 0x200 != 0:
        ratio = (ratio * 0xF987A7253AC413176F2B074CF7815E54) >> 128
    if abs_tick & 0x400 != 0:
        ratio = (ratio * 0xF3392B0822B70005940C7A398E4B70F3) >> 128
    if abs_tick & 0x800 != 0:
        ratio = (ratio * 0xE7159475A2C29B7443B29C7FA6E889D9) >> 128
    if abs_tick & 0x1000 != 0:
        ratio = (ratio * 0xD097F3BDFD2022B8845AD8F792AA5825) >> 128
    if abs_tick & 0x2000 != 0:
        ratio = (ratio * 0xA9F746462D870FDF8A65DC1F90E061E5) >> 128
    if abs_tick & 0x4000 != 0:
        ratio = (ratio * 0x70D869A156D2A1B890BB3DF62BAF32F7) >> 128
    if abs_tick & 0x8000 != 0:
        ratio = (ratio * 0x31BE135F97D08FD981231505542FCFA6) >> 128
    if abs_tick & 0x10000 != 0:
        ratio = (ratio * 0x9AA508B5B7A84E1C677DE54F3E99BC9) >> 128
    if abs_tick & 0x20000 != 0:
        ratio = (ratio * 0x5D6AF8DEDB81196699C329225EE604) >> 128
    if abs_tick & 0x40000 != 0:
        ratio = (ratio * 0x2216E584F5FA1EA926041BEDFE98) >> 128
    if abs_tick & 0x80000 != 0:
        ratio = (ratio * 0x48A170391F7DC42444E8FA2) >> 128

    if tick > 0:
        ratio = _MAX_UINT256 // ratio

    # Q128.128 -> Q128.96 rounding up, so get_tick_at_sqrt_ratio of the result is consistent;
    # the tick bound keeps the value within 160 bits
    return (ratio >> 32) + (0 if ratio % (1 << 32) == 0 else 1)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """Return the greatest tick whose sqrt ratio is <= sqrt_price_x96; revert 'R' out of range."""
    # the upper bound is strict: the price can never reach the price at MAX_TICK
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise EvmRevert("R")
    ratio = sqrt_price_x96 << 32

    # the contract's branchless search for the most significant bit; bit_length is identical
    msb = ratio.bit_length() - 1

    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)

    # int256; Python's | and >> on negative ints act as two's complement, like the EVM's or/sar
    log_2 = (msb - 128) << 64

    # 14 squarings, one fractional bit each (bits 63..50), as the 14 assembly blocks
    for bit in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << bit
        r >>= f

    log_sqrt10001 = log_2 * 255738958999603826347141  # 128.128 number

    tick_low = (log_sqrt10001 - 3402992956809132418596140100660247210) >> 128
    tick_hi = (log_sqrt10001 + 291339464771989622907027621153398088495) >> 128

    if tick_low == tick_hi:
        return tick_low
    return tick_hi if get_sqrt_ratio_at_tick(tick_hi) <= sqrt_price_x96 else tick_low

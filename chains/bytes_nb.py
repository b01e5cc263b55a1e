"""Unaligned 8-byte loads from uint8 arrays and a leading-zero count, for numba kernels.

One machine load (or instruction) where a loop over bytes (or bits) would take eight (or 64).
The caller guarantees buf[at:at + 8] is in bounds: the loads do no bounds check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["clz64", "load_be64", "load_le64"]


def _load64(swap: bool) -> Callable[..., Any]:
    """Return the typer of an 8-byte load, byte-swapped (big-endian) when swap."""

    def typer(typingctx: object, buf: types.Type, at: types.Type) -> Any:
        if not (isinstance(buf, types.Array) and buf.dtype == types.uint8 and buf.ndim == 1):
            return None
        if buf.layout != "C":  # the load indexes bytes from the data pointer
            return None
        if not isinstance(at, types.Integer):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            array = context.make_array(signature.args[0])(context, builder, args[0])
            index = context.cast(builder, args[1], signature.args[1], types.intp)
            ptr = builder.gep(array.data, [index])
            word = builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)
            return builder.bswap(word) if swap else word

        return types.uint64(buf, at), codegen

    return typer


load_be64 = intrinsic(_load64(True))
load_be64.__doc__ = "Return buf[at:at + 8] read as a big-endian uint64."
load_le64 = intrinsic(_load64(False))
load_le64.__doc__ = "Return buf[at:at + 8] read as a little-endian uint64."


@intrinsic
def clz64(typingctx: object, x: types.Type) -> Any:
    """Return the number of leading zero bits of a uint64 (64 for zero)."""
    if x != types.uint64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.uint64(x), codegen

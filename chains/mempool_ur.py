"""UniversalRouter `execute` calldata -> swap intents (V2/V3 swap commands, sub-plans).

Each command byte is masked with COMMAND_TYPE_MASK (the 0x80 allow-revert flag is kept on
the intent). WRAP_ETH before a swap the router pays makes its input native ETH; UNWRAP_WETH
after a swap to the router makes its output native. Permits, sweeps, transfers and the
other non-swap commands are skipped; V4 swaps and unknown commands are counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from chains import abi_routers as r
from chains import mempool_abi as m
from chains.mempool_calls import (
    MAX_MULTICALL_DEPTH,
    CallContext,
    CalldataError,
    SwapIntent,
    abi_decode,
    checked_path,
    decode_v3_path,
    resolve_recipient,
)

__all__ = ["decode_universal_router"]

_V3_SWAP_TYPES = ["address", "uint256", "uint256", "bytes", "bool"]
_V2_SWAP_TYPES = ["address", "uint256", "uint256", "address[]", "bool"]
_SWAP_COMMANDS = (
    r.UR_V3_SWAP_EXACT_IN,
    r.UR_V3_SWAP_EXACT_OUT,
    r.UR_V2_SWAP_EXACT_IN,
    r.UR_V2_SWAP_EXACT_OUT,
)


def decode_universal_router(data: bytes, ctx: CallContext, notes: Counter[str]) -> list[SwapIntent]:
    """Decode `execute(bytes,bytes[](,uint256))` into intents; raise CalldataError if malformed."""
    selector = data[:4]
    if selector == r.UR_EXECUTE.selector:
        commands, inputs, deadline = abi_decode(list(r.UR_EXECUTE.arg_types), data[4:])
    elif selector == m.UR_EXECUTE_NO_DEADLINE.selector:
        commands, inputs = abi_decode(list(m.UR_EXECUTE_NO_DEADLINE.arg_types), data[4:])
        deadline = 0
    else:
        notes["unknown_selector"] += 1
        return []
    intents = _plan(commands, inputs, ctx, notes, depth=0, wrapped=False)
    return [replace(i, deadline=int(deadline)) for i in intents] if deadline else intents


def _plan(
    commands: bytes,
    inputs: tuple[bytes, ...],
    ctx: CallContext,
    notes: Counter[str],
    *,
    depth: int,
    wrapped: bool,
) -> list[SwapIntent]:
    if len(commands) != len(inputs):
        raise CalldataError("commands and inputs differ in length")  # LengthMismatch
    intents: list[SwapIntent] = []
    for byte, data in zip(commands, inputs, strict=True):
        command = byte & m.UR_COMMAND_TYPE_MASK
        allow_revert = bool(byte & m.UR_ALLOW_REVERT)
        if command in _SWAP_COMMANDS:
            intents.append(_swap(command, data, ctx, wrapped=wrapped, allow_revert=allow_revert))
        elif command == r.UR_WRAP_ETH:
            wrapped = True
        elif command == r.UR_UNWRAP_WETH:
            intents = [_unwrapped(i, ctx) for i in intents]
        elif command == m.UR_EXECUTE_SUB_PLAN:
            if depth >= MAX_MULTICALL_DEPTH:
                raise CalldataError("sub-plans nested too deep")
            sub_commands, sub_inputs = abi_decode(["bytes", "bytes[]"], data)
            intents += _plan(sub_commands, sub_inputs, ctx, notes, depth=depth + 1, wrapped=wrapped)
        elif command == m.UR_V4_SWAP:
            notes["v4_swap"] += 1
        elif command not in m.UR_NON_SWAP_COMMANDS:
            notes["unknown_command"] += 1
    return intents


def _unwrapped(intent: SwapIntent, ctx: CallContext) -> SwapIntent:
    to_router = intent.recipient == ctx.router
    if to_router and (ctx.weth is None or intent.tokens[-1] == ctx.weth):
        return replace(intent, native_out=True)
    return intent


def _swap(
    command: int, data: bytes, ctx: CallContext, *, wrapped: bool, allow_revert: bool
) -> SwapIntent:
    is_v3 = command in (r.UR_V3_SWAP_EXACT_IN, r.UR_V3_SWAP_EXACT_OUT)
    exact_output = command in (r.UR_V3_SWAP_EXACT_OUT, r.UR_V2_SWAP_EXACT_OUT)
    recipient, amount, limit, path, payer_is_user = abi_decode(
        _V3_SWAP_TYPES if is_v3 else _V2_SWAP_TYPES, data
    )
    if is_v3:
        tokens, fees = decode_v3_path(path)
        if exact_output:  # exact output paths run from the output token back
            tokens, fees = tokens[::-1], fees[::-1]
        sentinels: tuple[int, ...] = (m.UR_CONTRACT_BALANCE,)
    else:
        tokens, fees = checked_path(path), ()
        sentinels = (m.UR_CONTRACT_BALANCE, m.UR_V2_ALREADY_PAID)
    native_in = wrapped and not payer_is_user and (ctx.weth is None or tokens[0] == ctx.weth)
    return SwapIntent(
        protocol="v3" if is_v3 else "v2",
        tokens=tokens,
        fees_pips=fees,
        exact_output=exact_output,
        amount_in=limit if exact_output else amount,
        amount_out=amount if exact_output else limit,
        recipient=resolve_recipient(recipient, ctx),
        native_in=native_in,
        amount_unknown=not exact_output and amount in sentinels,
        allow_revert=allow_revert,
    )

"""Router calldata -> swap intents: Router02, SwapRouter and SwapRouter02 (multicalls included).

A `SwapIntent` is one swap as the router will run it, still in tokens (pools are resolved by
`chains.mempool`): the token path in flow order (input first; exact-output V3 paths arrive
reversed and are turned around), the exact amount and the user's limit, the deadline and the
recipient with the routers' constants resolved. Which function does what is data (the spec
tables below). Malformed calldata raises `CalldataError` here, caught and counted by callers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import eth_abi
from eth_abi.exceptions import DecodingError

from chains import abi_routers as r
from chains import mempool_abi as m
from chains.abi_fn import AbiFunction
from chains.mempool_tx import checksum

__all__ = [
    "MAX_MULTICALL_DEPTH",
    "CallContext",
    "CalldataError",
    "SwapIntent",
    "abi_decode",
    "checked_path",
    "decode_periphery_call",
    "decode_v3_path",
    "periphery_entry_selectors",
    "resolve_recipient",
]

MAX_MULTICALL_DEPTH = 4  # multicall delegatecalls itself; deeper nesting is refused


class CalldataError(ValueError):
    """Calldata the router would reject (or that this decoder cannot read)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    """Who calls which router with how much ETH; the WETH address if known."""

    router: str  # checksummed router address
    sender: str  # checksummed tx sender
    value_wei: int
    weth: str | None = None  # checksummed; None: any token may be paid with ETH


@dataclass(frozen=True, slots=True, kw_only=True)
class SwapIntent:
    """One swap a router will run, in tokens: path in flow order, amount, limit, deadline."""

    protocol: str  # "v2" or "v3"
    tokens: tuple[str, ...]  # checksummed, input token first
    fees_pips: tuple[int, ...]  # V3: one per hop; V2: empty
    exact_output: bool
    amount_in: int  # exact input, or the maximum input for exact output
    amount_out: int  # minimum output for exact input, or the exact output
    recipient: str  # resolved: the sender or the router stand for their constants
    deadline: int = 0  # unix seconds; 0 = none
    sqrt_price_limit_x96: int = 0  # 0 = none (single-pool V3 only)
    fee_on_transfer: bool = False
    native_in: bool = False
    native_out: bool = False
    amount_unknown: bool = False  # a router-balance sentinel: the amount is decided on chain
    allow_revert: bool = False  # UniversalRouter command that may fail without reverting


def abi_decode(types: list[str], data: bytes) -> tuple[Any, ...]:
    """Decode ABI data; raise CalldataError for anything eth_abi refuses."""
    try:
        return tuple(eth_abi.decode(types, data))
    except (DecodingError, ValueError, OverflowError, TypeError, IndexError) as exc:
        raise CalldataError(f"undecodable arguments: {exc}") from exc


def _decode_call(fn: AbiFunction, data: bytes) -> tuple[Any, ...]:
    return abi_decode(list(fn.arg_types), data[4:])


def decode_v3_path(path: bytes) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Split a V3 path (token, then fee and token per hop) into tokens and fees."""
    if len(path) < 43 or (len(path) - 20) % 23:
        raise CalldataError(f"V3 path of {len(path)} bytes")
    tokens = [checksum(path[:20])]
    fees = []
    for at in range(20, len(path), 23):
        fees.append(int.from_bytes(path[at : at + 3], "big"))
        tokens.append(checksum(path[at + 3 : at + 23]))
    return tuple(tokens), tuple(fees)


def resolve_recipient(recipient: str, ctx: CallContext) -> str:
    """Replace the MSG_SENDER/ADDRESS_THIS recipient constants with the sender or the router."""
    lowered = recipient.lower()
    if lowered == m.MSG_SENDER:
        return ctx.sender
    if lowered == m.ADDRESS_THIS:
        return ctx.router
    return checksum(recipient)


def checked_path(path: Any) -> tuple[str, ...]:
    """Return a V2 path (address[]) as checksummed tokens; it needs two at least."""
    tokens = tuple(checksum(t) for t in path)
    if len(tokens) < 2:
        raise CalldataError("a V2 path needs two tokens")
    return tokens


@dataclass(frozen=True, slots=True)
class _V2Spec:
    """Where a V2-style swap function keeps its arguments (None: not an argument)."""

    fn: AbiFunction
    amount_in_at: int | None  # None: msg.value
    amount_out_at: int
    path_at: int
    to_at: int
    deadline_at: int | None
    exact_output: bool = False
    native_in: bool = False
    native_out: bool = False
    fee_on_transfer: bool = False
    contract_balance: int | None = None  # SwapRouter02: amountIn sentinel


@dataclass(frozen=True, slots=True)
class _V3Spec:
    """Where a V3 router function keeps its struct fields (path_at None: single pool)."""

    fn: AbiFunction
    exact_output: bool
    path_at: int | None
    recipient_at: int
    deadline_at: int | None
    amount_at: int
    limit_at: int
    price_limit_at: int | None
    contract_balance: int | None = None


_R02_SPECS = (
    _V2Spec(r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS, 0, 1, 2, 3, 4),
    _V2Spec(r.R02_SWAP_TOKENS_FOR_EXACT_TOKENS, 1, 0, 2, 3, 4, exact_output=True),
    _V2Spec(r.R02_SWAP_EXACT_ETH_FOR_TOKENS, None, 0, 1, 2, 3, native_in=True),
    _V2Spec(r.R02_SWAP_ETH_FOR_EXACT_TOKENS, None, 0, 1, 2, 3, exact_output=True, native_in=True),
    _V2Spec(r.R02_SWAP_EXACT_TOKENS_FOR_ETH, 0, 1, 2, 3, 4, native_out=True),
    _V2Spec(m.R02_SWAP_TOKENS_FOR_EXACT_ETH, 1, 0, 2, 3, 4, exact_output=True, native_out=True),
    _V2Spec(r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS_FOT, 0, 1, 2, 3, 4, fee_on_transfer=True),
    _V2Spec(
        m.R02_SWAP_EXACT_ETH_FOR_TOKENS_FOT, None, 0, 1, 2, 3, native_in=True, fee_on_transfer=True
    ),
    _V2Spec(
        m.R02_SWAP_EXACT_TOKENS_FOR_ETH_FOT, 0, 1, 2, 3, 4, native_out=True, fee_on_transfer=True
    ),
)
_SR_SPECS = (
    _V3Spec(r.SR_EXACT_INPUT_SINGLE, False, None, 3, 4, 5, 6, 7),
    _V3Spec(r.SR_EXACT_OUTPUT_SINGLE, True, None, 3, 4, 5, 6, 7),
    _V3Spec(r.SR_EXACT_INPUT, False, 0, 1, 2, 3, 4, None),
    _V3Spec(r.SR_EXACT_OUTPUT, True, 0, 1, 2, 3, 4, None),
)
_SR02_BALANCE = m.SR02_CONTRACT_BALANCE
_SR02_SPECS = (
    _V3Spec(r.SR02_EXACT_INPUT_SINGLE, False, None, 3, None, 4, 5, 6, _SR02_BALANCE),
    _V3Spec(r.SR02_EXACT_OUTPUT_SINGLE, True, None, 3, None, 4, 5, 6),
    _V3Spec(r.SR02_EXACT_INPUT, False, 0, 1, None, 2, 3, None, _SR02_BALANCE),
    _V3Spec(m.SR02_EXACT_OUTPUT, True, 0, 1, None, 2, 3, None),
    _V2Spec(r.SR02_SWAP_EXACT_TOKENS_FOR_TOKENS, 0, 1, 2, 3, None, contract_balance=_SR02_BALANCE),
    _V2Spec(r.SR02_SWAP_TOKENS_FOR_EXACT_TOKENS, 1, 0, 2, 3, None, exact_output=True),
)
_SPECS: dict[str, dict[bytes, _V2Spec | _V3Spec]] = {
    "v2_router02": {s.fn.selector: s for s in _R02_SPECS},
    "swap_router": {s.fn.selector: s for s in _SR_SPECS},
    "swap_router02": {s.fn.selector: s for s in _SR02_SPECS},
}
# multicall overloads per router kind: (function, index of the deadline argument or None)
_MULTICALLS: dict[str, dict[bytes, tuple[AbiFunction, int | None]]] = {
    "v2_router02": {},
    "swap_router": {r.SR_MULTICALL.selector: (r.SR_MULTICALL, None)},
    "swap_router02": {
        r.SR_MULTICALL.selector: (r.SR_MULTICALL, None),
        r.SR02_MULTICALL_DEADLINE.selector: (r.SR02_MULTICALL_DEADLINE, 0),
        m.SR02_MULTICALL_PREVIOUS_BLOCKHASH.selector: (m.SR02_MULTICALL_PREVIOUS_BLOCKHASH, None),
    },
}
_ENTRY_SELECTORS: dict[str, frozenset[bytes]] = {
    kind: frozenset(_SPECS[kind]) | frozenset(_MULTICALLS[kind]) for kind in _SPECS
}


def periphery_entry_selectors(kind: str) -> frozenset[bytes]:
    """Return the selectors of a periphery router kind that can carry a swap."""
    return _ENTRY_SELECTORS[kind]


def _v2_intent(spec: _V2Spec, args: tuple[Any, ...], ctx: CallContext, kind: str) -> SwapIntent:
    amount_in = ctx.value_wei if spec.amount_in_at is None else int(args[spec.amount_in_at])
    unknown = spec.contract_balance is not None and amount_in == spec.contract_balance
    return SwapIntent(
        protocol="v2",
        tokens=checked_path(args[spec.path_at]),
        fees_pips=(),
        exact_output=spec.exact_output,
        amount_in=amount_in,
        amount_out=int(args[spec.amount_out_at]),
        recipient=resolve_recipient(args[spec.to_at], ctx)
        if kind == "swap_router02"
        else checksum(args[spec.to_at]),
        deadline=0 if spec.deadline_at is None else int(args[spec.deadline_at]),
        fee_on_transfer=spec.fee_on_transfer,
        native_in=spec.native_in or (kind == "swap_router02" and _pays_eth(ctx, args, spec)),
        native_out=spec.native_out,
        amount_unknown=unknown,
    )


def _pays_eth(ctx: CallContext, args: tuple[Any, ...], spec: _V2Spec) -> bool:
    """SwapRouter02 pays the input in ETH when value came along and the input is WETH."""
    token_in = checksum(args[spec.path_at][0]) if args[spec.path_at] else ""
    return ctx.value_wei > 0 and (ctx.weth is None or token_in == ctx.weth)


def _v3_intent(spec: _V3Spec, args: tuple[Any, ...], ctx: CallContext, kind: str) -> SwapIntent:
    (params,) = args
    if spec.path_at is None:
        tokens = (checksum(params[0]), checksum(params[1]))
        fees: tuple[int, ...] = (int(params[2]),)
    else:
        tokens, fees = decode_v3_path(params[spec.path_at])
        if spec.exact_output:  # exact output paths run from the output token back
            tokens, fees = tokens[::-1], fees[::-1]
    amount = int(params[spec.amount_at])
    limit = int(params[spec.limit_at])
    if kind == "swap_router":  # SwapRouter knows no constants; address(0) means itself
        raw_recipient = checksum(params[spec.recipient_at])
        recipient = ctx.router if raw_recipient.lower() == m.ZERO_ADDRESS else raw_recipient
    else:
        recipient = resolve_recipient(params[spec.recipient_at], ctx)
    return SwapIntent(
        protocol="v3",
        tokens=tokens,
        fees_pips=fees,
        exact_output=spec.exact_output,
        amount_in=limit if spec.exact_output else amount,
        amount_out=amount if spec.exact_output else limit,
        recipient=recipient,
        deadline=0 if spec.deadline_at is None else int(params[spec.deadline_at]),
        sqrt_price_limit_x96=0 if spec.price_limit_at is None else int(params[spec.price_limit_at]),
        native_in=ctx.value_wei > 0 and (ctx.weth is None or tokens[0] == ctx.weth),
        amount_unknown=spec.contract_balance is not None and amount == spec.contract_balance,
    )


def decode_periphery_call(
    kind: str, data: bytes, ctx: CallContext, notes: Counter[str], *, depth: int = 0
) -> list[SwapIntent]:
    """Decode a Router02/SwapRouter/SwapRouter02 call (multicalls recursively) into intents.

    Unknown and non-swap selectors are counted in `notes`; a malformed top-level call raises
    CalldataError, a malformed call inside a multicall is counted and skipped.
    """
    selector = data[:4]
    spec = _SPECS[kind].get(selector)
    if spec is not None:
        args = _decode_call(spec.fn, data)
        try:
            if isinstance(spec, _V2Spec):
                return [_v2_intent(spec, args, ctx, kind)]
            return [_v3_intent(spec, args, ctx, kind)]
        except (ValueError, TypeError, IndexError) as exc:  # addresses or paths out of shape
            raise CalldataError(f"{spec.fn.name}: {exc}") from exc
    multicall = _MULTICALLS[kind].get(selector)
    if multicall is None:
        notes["non_swap" if selector in m.NON_SWAP_SELECTORS[kind] else "unknown_selector"] += 1
        return []
    if depth >= MAX_MULTICALL_DEPTH:
        raise CalldataError("multicall nested too deep")
    fn, deadline_at = multicall
    args = _decode_call(fn, data)
    deadline = 0 if deadline_at is None else int(args[deadline_at])
    calls: tuple[bytes, ...] = args[-1]
    intents: list[SwapIntent] = []
    for call in calls:
        try:
            inner = decode_periphery_call(kind, call, ctx, notes, depth=depth + 1)
        except CalldataError:
            notes["malformed_inner_call"] += 1
            continue
        intents += [_with_deadline(i, deadline) for i in inner]
    if any(call[:4] in m.SR_UNWRAP_SELECTORS for call in calls):
        # the router unwraps WETH it received itself: those swaps pay out native ETH
        intents = [
            replace(i, native_out=True)
            if i.recipient == ctx.router and (ctx.weth is None or i.tokens[-1] == ctx.weth)
            else i
            for i in intents
        ]
    return intents


def _with_deadline(intent: SwapIntent, deadline: int) -> SwapIntent:
    if deadline == 0:
        return intent
    if intent.deadline == 0 or deadline < intent.deadline:
        return replace(intent, deadline=deadline)
    return intent

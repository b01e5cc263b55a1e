"""Pending router transactions -> `PendingSwap`s -> PENDING_SWAP records.

Decodes calls to Router02 (`swapExact*`/`swap*ForExact*`, fee-on-transfer variants),
SwapRouter and SwapRouter02 (`exactInput(Single)`, `exactOutput(Single)`, V2 swaps, every
`multicall` overload, nested) and UniversalRouter `execute` (V2/V3 swap commands) from node
JSON or raw signed bytes. Each swap's token path becomes pool ids through an injected
resolver; the signed raw bytes go to a byte ring through an injected `store_raw`, and the
record points at them. Nothing here raises on what the network sends: unknown routers,
selectors, commands and pools and malformed calldata are counted by reason in
`MempoolDecoder.counts`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from chains import abi_routers as r
from chains import mempool_abi
from chains.mempool_calls import (
    CallContext,
    CalldataError,
    SwapIntent,
    decode_periphery_call,
    periphery_entry_selectors,
)
from chains.mempool_tx import (
    EnvelopeError,
    TxFields,
    checksum,
    fields_from_json,
    fields_from_raw,
    recover_sender,
)
from chains.mempool_ur import decode_universal_router
from chains.records import (
    FLAG_ALLOW_REVERT,
    FLAG_AMOUNT_UNKNOWN,
    FLAG_EXACT_OUT_PAID_FORWARD,
    FLAG_EXACT_OUTPUT,
    FLAG_FEE_ON_TRANSFER,
    FLAG_NATIVE_IN,
    FLAG_NATIVE_OUT,
    MAX_HOPS,
    Kind,
    set_value,
)

__all__ = [
    "MEMPOOL_SOURCE",
    "ROUTER_KINDS",
    "MempoolDecoder",
    "PendingSwap",
    "PoolIdOf",
    "RouterInfo",
    "StoreRaw",
    "to_records",
    "write_tx_records",
]

MEMPOOL_SOURCE = 2  # `source` of records written from the mempool

ROUTER_KINDS = ("v2_router02", "swap_router", "swap_router02", "universal_router")
_UR_ENTRY = frozenset((r.UR_EXECUTE.selector, mempool_abi.UR_EXECUTE_NO_DEADLINE.selector))

PoolIdOf = Callable[[str, str, str, int | None], int | None]
"""pool_id_of(venue, token_a, token_b, fee_pips or None for V2) -> pool id or None."""
StoreRaw = Callable[[bytes], tuple[int, int]]
"""store_raw(raw signed bytes) -> (offset, length) in the byte ring."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterInfo:
    """A router the decoder reads: its kind and the venues whose pools it trades."""

    kind: str  # one of ROUTER_KINDS
    v2_venue: str | None = None  # the V2 factory the router is bound to
    v3_venue: str | None = None  # the V3 factory the router is bound to

    def __post_init__(self) -> None:
        if self.kind not in ROUTER_KINDS:
            raise ValueError(f"unknown router kind {self.kind!r}; known: {ROUTER_KINDS}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingSwap:
    """One swap of a pending transaction: pools in flow order, amounts, limits, deadline.

    Exact output means what each router means by it: Router02 and the V3 routers deliver
    exactly amount_out; a V2 exact-output swap through SwapRouter02 or UniversalRouter pays
    the first pair getAmountsIn(amount_out) and then swaps that input forward, which can
    deliver a few wei more than amount_out. amount_unknown marks an input the router takes
    from its own balance on chain (CONTRACT_BALANCE, or ALREADY_PAID for a V2 pair).
    """

    tx_hash: str  # 0x-hex
    sender: str  # checksummed
    nonce: int
    router: str  # router kind
    router_address: str
    index: int  # position of this swap among the transaction's swaps
    hops: tuple[tuple[int, bool], ...]  # (pool id, zero_for_one), input pool first
    tokens: tuple[str, ...]  # input token first
    exact_output: bool
    amount_in: int  # exact input, or the maximum input for exact output
    amount_out: int  # minimum output for exact input, or the exact output
    deadline: int  # unix seconds; 0 = none
    recipient: str
    sqrt_price_limit_x96: int = 0  # 0 = none
    fee_on_transfer: bool = False
    native_in: bool = False
    native_out: bool = False
    amount_unknown: bool = False
    allow_revert: bool = False

    @property
    def flags(self) -> int:
        """Return the PENDING_SWAP flag bits of this swap."""
        return (
            FLAG_EXACT_OUTPUT * self.exact_output
            | FLAG_FEE_ON_TRANSFER * self.fee_on_transfer
            | FLAG_NATIVE_IN * self.native_in
            | FLAG_NATIVE_OUT * self.native_out
            | FLAG_AMOUNT_UNKNOWN * self.amount_unknown
            | FLAG_ALLOW_REVERT * self.allow_revert
            | FLAG_EXACT_OUT_PAID_FORWARD * self.exact_out_paid_forward
        )

    @property
    def exact_out_paid_forward(self) -> bool:
        """Return whether V2 pairs of this exact-output swap see getAmountsIn paid forward.

        SwapRouter02 and UniversalRouter pay the first pair getAmountsIn(amount_out) and swap
        that forward; Router02 asks each pair for its exact output. (V3 exact output is exact
        per pool with every router; the flag then has no effect.)
        """
        return self.exact_output and self.router in ("swap_router02", "universal_router")


class MempoolDecoder:
    """Decode pending transactions to known routers into PendingSwaps; count what it skips."""

    def __init__(
        self,
        routers: Mapping[str, RouterInfo],
        pool_id_of: PoolIdOf,
        *,
        weth: str | None = None,
    ) -> None:
        self._routers = {address.lower(): info for address, info in routers.items()}
        self._pool_id_of = pool_id_of
        self._weth = None if weth is None else checksum(weth)
        self.counts: Counter[str] = Counter()

    def decode_raw(self, raw: bytes) -> list[PendingSwap]:
        """Decode signed raw bytes; the sender is recovered only for a router swap call."""
        try:
            fields = fields_from_raw(raw)
        except EnvelopeError:
            self.counts["bad_envelope"] += 1
            return []
        info = self._router_of(fields)
        if info is None:
            return []
        if not self._is_entry(info, fields.data):
            return []
        try:
            sender = recover_sender(raw)
        except EnvelopeError:
            self.counts["bad_signature"] += 1
            return []
        return self._decode(replace(fields, sender=sender), info)

    def decode_json(self, tx: Mapping[str, Any]) -> list[PendingSwap]:
        """Decode a transaction object as `eth_getTransactionByHash` returns it."""
        try:
            fields = fields_from_json(tx)
        except EnvelopeError:
            self.counts["bad_envelope"] += 1
            return []
        info = self._router_of(fields)
        if info is None or not self._is_entry(info, fields.data):
            return []
        return self._decode(fields, info)

    def _router_of(self, fields: TxFields) -> RouterInfo | None:
        if fields.to is None:
            self.counts["contract_creation"] += 1
            return None
        info = self._routers.get(fields.to.lower())
        if info is None:
            self.counts["not_router"] += 1
        return info

    def _is_entry(self, info: RouterInfo, data: bytes) -> bool:
        """Return whether the selector can hold a swap; count the others without decoding."""
        selector = data[:4]
        if info.kind == "universal_router":
            entry = selector in _UR_ENTRY
        else:
            entry = selector in periphery_entry_selectors(info.kind)
        if not entry:
            known = selector in mempool_abi.NON_SWAP_SELECTORS[info.kind]
            self.counts["non_swap" if known else "unknown_selector"] += 1
        return entry

    def _decode(self, fields: TxFields, info: RouterInfo) -> list[PendingSwap]:
        assert fields.to is not None and fields.sender is not None
        ctx = CallContext(
            router=fields.to, sender=fields.sender, value_wei=fields.value_wei, weth=self._weth
        )
        notes: Counter[str] = Counter()
        try:
            if info.kind == "universal_router":
                intents = decode_universal_router(fields.data, ctx, notes)
            else:
                intents = decode_periphery_call(info.kind, fields.data, ctx, notes)
        except CalldataError:
            self.counts["malformed"] += 1
            return []
        finally:
            self.counts.update(notes)
        swaps: list[PendingSwap] = []
        for intent in intents:
            hops = self._hops(intent, info)
            if hops is not None:
                swaps.append(_pending(fields, info, intent, hops, len(swaps)))
        if swaps:
            self.counts["tx_decoded"] += 1
            self.counts[f"swaps:{info.kind}"] += len(swaps)
        elif not intents and not notes:
            self.counts["no_swap"] += 1
        return swaps

    def _hops(self, intent: SwapIntent, info: RouterInfo) -> tuple[tuple[int, bool], ...] | None:
        """Resolve an intent's token path to (pool id, zero_for_one) hops, or count why not."""
        n_hops = len(intent.tokens) - 1
        if n_hops > MAX_HOPS:
            self.counts["too_many_hops"] += 1
            return None
        venue = info.v3_venue if intent.protocol == "v3" else info.v2_venue
        if venue is None:
            self.counts["no_venue"] += 1
            return None
        hops = []
        for i in range(n_hops):
            token_in, token_out = intent.tokens[i], intent.tokens[i + 1]
            if token_in.lower() == token_out.lower():
                self.counts["malformed_path"] += 1
                return None
            fee = intent.fees_pips[i] if intent.protocol == "v3" else None
            pool_id = self._pool_id_of(venue, token_in, token_out, fee)
            if pool_id is None:
                self.counts["unknown_pool"] += 1
                return None
            hops.append((pool_id, int(token_in, 16) < int(token_out, 16)))
        return tuple(hops)


def _pending(
    fields: TxFields,
    info: RouterInfo,
    intent: SwapIntent,
    hops: tuple[tuple[int, bool], ...],
    index: int,
) -> PendingSwap:
    assert fields.to is not None and fields.sender is not None
    return PendingSwap(
        tx_hash=fields.tx_hash,
        sender=fields.sender,
        nonce=fields.nonce,
        router=info.kind,
        router_address=fields.to,
        index=index,
        hops=hops,
        tokens=intent.tokens,
        exact_output=intent.exact_output,
        amount_in=intent.amount_in,
        amount_out=intent.amount_out,
        deadline=intent.deadline,
        recipient=intent.recipient,
        sqrt_price_limit_x96=intent.sqrt_price_limit_x96,
        fee_on_transfer=intent.fee_on_transfer,
        native_in=intent.native_in,
        native_out=intent.native_out,
        amount_unknown=intent.amount_unknown,
        allow_revert=intent.allow_revert,
    )


def to_records(
    swaps: Sequence[PendingSwap],
    out_records: np.ndarray,
    raw_offsets: Sequence[tuple[int, int]],
    *,
    recv_ns: int = 0,
) -> int:
    """Write one PENDING_SWAP record per swap into out_records[:n]; return n.

    raw_offsets[i] is the (offset, length) of swap i's signed raw transaction in the byte
    ring. log_index holds the swap's index within its transaction.
    """
    if len(raw_offsets) != len(swaps):
        raise ValueError(f"{len(swaps)} swaps but {len(raw_offsets)} raw locations")
    if len(out_records) < len(swaps):
        raise ValueError(f"{len(swaps)} swaps do not fit {len(out_records)} records")
    for i, (swap, (offset, length)) in enumerate(zip(swaps, raw_offsets, strict=True)):
        out_records[i] = 0
        rec = out_records[i]
        rec["kind"] = Kind.PENDING_SWAP
        rec["flags"] = swap.flags
        rec["n_hops"] = len(swap.hops)
        rec["source"] = MEMPOOL_SOURCE
        rec["pool_id"] = swap.hops[0][0]
        rec["log_index"] = swap.index
        rec["recv_ns"] = recv_ns
        rec["aux"] = sum(1 << h for h, (_, zero_for_one) in enumerate(swap.hops) if zero_for_one)
        rec["hop_pool_ids"] = [pid for pid, _ in swap.hops] + [-1] * (MAX_HOPS - len(swap.hops))
        rec["tx_hash"] = np.frombuffer(bytes.fromhex(swap.tx_hash[2:]), dtype=np.uint8)
        rec["sender"] = np.frombuffer(bytes.fromhex(swap.sender[2:]), dtype=np.uint8)
        rec["raw_offset"] = offset
        rec["raw_len"] = length
        set_value(rec, 0, swap.amount_in)
        set_value(rec, 1, swap.amount_out)
        set_value(rec, 2, swap.deadline)
    return len(swaps)


def write_tx_records(
    swaps: Sequence[PendingSwap],
    raw: bytes,
    out_records: np.ndarray,
    store_raw: StoreRaw,
    *,
    recv_ns: int = 0,
) -> int:
    """Store one transaction's raw bytes once (if it has swaps) and write its records."""
    if not swaps:
        return 0
    location = store_raw(raw)
    return to_records(swaps, out_records, [location] * len(swaps), recv_ns=recv_ns)

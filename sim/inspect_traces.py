"""Decode Uniswap V2/V3 swaps from call traces, the way flashbots/mev-inspect-py does.

Mirrors `mev_inspect/swaps.py`, `transfers.py` and `classifiers/specs/{erc20,uniswap}.py`:

- a transfer is any call (call, delegatecall, staticcall) decoding as ERC20
  `transfer(address,uint256)` / `transferFrom(address,address,uint256)` (token = the callee),
  or, among a swap's children only, a plain ether call (value > 0, empty input);
- a swap is any call of V2 `swap(uint256,uint256,address,bytes)` (recipient `to`) or V3
  `swap(address,bool,int256,uint160,bytes)` (recipient `recipient`), whatever the callee's
  address;
- what went in: the call's own ether value if any, else the last earlier transfer of the
  transaction into the pool, else the last child transfer into the pool; what came out: the
  one child transfer from the pool to the recipient (none or several: no swap);
- transfers that are children of another transfer (proxy tokens delegating) are dropped.

Deviations: `reverted` is true when the swap call or any call above it has an error
(mev-inspect-py looks at the swap call's own error only, so a swap inside a reverted
sub-call would count as done). Swap calls are read the way the EVM reads calldata (bytes past
the end read as zero), so hand-packed calls that leave out the empty `bytes` tail count, where
a strict ABI decoder rejects them. Only the Uniswap V2/V3 pool interfaces are classified:
mev-inspect-py also classifies Balancer, Curve, 0x, Bancor and others, so its swap counts
are higher wherever those venues trade.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import eth_abi
from eth_abi.exceptions import DecodingError

from chains.abi_fn import AbiFunction
from sim.inspect_model import ETH_TOKEN, Swap
from sim.inspect_trace_io import CallTrace

__all__ = ["V2_PAIR_SWAP", "V3_POOL_SWAP", "get_trace_swaps"]

ERC20_TRANSFER = AbiFunction("transfer(address,uint256)", "(bool)")
ERC20_TRANSFER_FROM = AbiFunction("transferFrom(address,address,uint256)", "(bool)")
V2_PAIR_SWAP = AbiFunction("swap(uint256,uint256,address,bytes)")
V3_POOL_SWAP = AbiFunction("swap(address,bool,int256,uint160,bytes)", "(int256,int256)")


@dataclass(frozen=True, slots=True)
class _Transfer:
    trace_address: tuple[int, ...]
    token: str
    from_address: str
    to_address: str
    amount: int


def get_trace_swaps(traces: Iterable[CallTrace]) -> list[Swap]:
    """Return the V2/V3 swaps of `traces`, grouped by transaction, in trace order."""
    by_transaction: dict[tuple[int, int, str], list[CallTrace]] = {}
    for trace in traces:
        key = (trace.block_number, trace.transaction_index, trace.transaction_hash)
        by_transaction.setdefault(key, []).append(trace)
    swaps: list[Swap] = []
    for key in sorted(by_transaction):
        swaps += _swaps_of_transaction(sorted(by_transaction[key], key=lambda t: t.trace_address))
    return swaps


def _swaps_of_transaction(ordered: list[CallTrace]) -> list[Swap]:
    failed = {t.trace_address for t in ordered if t.error is not None}
    swaps: list[Swap] = []
    prior: list[_Transfer] = []
    for index, trace in enumerate(ordered):
        if trace.kind != "call":
            continue
        transfer = _erc20_transfer(trace)
        if transfer is not None:
            prior.append(transfer)
            continue
        recipient = _swap_recipient(trace)
        if recipient is None:
            continue
        children = [
            found
            for child in ordered[index + 1 :]
            if _is_child(child.trace_address, trace.trace_address)
            and (found := _any_transfer(child)) is not None
        ]
        swap = _parse_swap(trace, recipient, _drop_nested(prior), _drop_nested(children))
        if swap is not None:
            address = trace.trace_address
            reverted = any(address[:k] in failed for k in range(len(address) + 1))
            swaps.append(replace(swap, reverted=reverted))
    return swaps


def _parse_swap(
    trace: CallTrace, recipient: str, prior: list[_Transfer], children: list[_Transfer]
) -> Swap | None:
    pool = trace.to_address
    if trace.value_wei > 0:
        into_pool = [_eth_transfer(trace)]
    else:
        into_pool = [t for t in prior if t.to_address == pool] or [
            t for t in children if t.to_address == pool
        ]
    if not into_pool:
        return None
    out_of_pool = [t for t in children if t.from_address == pool and t.to_address == recipient]
    if len(out_of_pool) != 1:
        return None
    transfer_in, transfer_out = into_pool[-1], out_of_pool[0]
    return Swap(
        block_number=trace.block_number,
        transaction_hash=trace.transaction_hash,
        transaction_index=trace.transaction_index,
        position=trace.trace_address,
        pool=pool,
        from_address=transfer_in.from_address,
        to_address=transfer_out.to_address,
        token_in=transfer_in.token,
        amount_in=transfer_in.amount,
        token_out=transfer_out.token,
        amount_out=transfer_out.amount,
        reverted=False,
        source="traces",
    )


def _decode(function: AbiFunction, data: bytes) -> tuple | None:
    """Decode calldata strictly (short data or dirty padding: not this function)."""
    if data[:4] != function.selector:
        return None
    try:
        return tuple(eth_abi.decode(list(function.arg_types), data[4:]))
    except (DecodingError, ValueError, OverflowError):
        return None


def _erc20_transfer(trace: CallTrace) -> _Transfer | None:
    selector = trace.input[:4]
    if selector == ERC20_TRANSFER.selector:
        args = _decode(ERC20_TRANSFER, trace.input)
        if args is not None:
            recipient, amount = args
            return _Transfer(
                trace.trace_address, trace.to_address, trace.from_address, recipient.lower(), amount
            )
    elif selector == ERC20_TRANSFER_FROM.selector:
        args = _decode(ERC20_TRANSFER_FROM, trace.input)
        if args is not None:
            sender, recipient, amount = args
            return _Transfer(
                trace.trace_address, trace.to_address, sender.lower(), recipient.lower(), amount
            )
    return None


def _eth_transfer(trace: CallTrace) -> _Transfer:
    return _Transfer(
        trace.trace_address, ETH_TOKEN, trace.from_address, trace.to_address, trace.value_wei
    )


def _any_transfer(trace: CallTrace) -> _Transfer | None:
    if trace.kind != "call":
        return None
    if trace.value_wei > 0 and not trace.input:
        return _eth_transfer(trace)
    return _erc20_transfer(trace)


def _swap_recipient(trace: CallTrace) -> str | None:
    """Return the swap's recipient if the call is a V2 or V3 pool swap, else None.

    The head words are read the way the EVM reads calldata (bytes past the end read as zero,
    the address word masked to 20 bytes), so hand-packed calls that leave out the empty
    `bytes` tail are swaps as they were on chain.
    """
    selector = trace.input[:4]
    if selector == V2_PAIR_SWAP.selector:
        recipient_word = 2
    elif selector == V3_POOL_SWAP.selector:
        recipient_word = 0
    else:
        return None
    if len(trace.input) < 4 + 32 * (recipient_word + 1):
        return None
    start = 4 + 32 * recipient_word
    return "0x" + trace.input[start + 12 : start + 32].hex()


def _is_child(child: tuple[int, ...], parent: tuple[int, ...]) -> bool:
    return len(child) > len(parent) and child[: len(parent)] == parent


def _drop_nested(transfers: list[_Transfer]) -> list[_Transfer]:
    """Drop transfers made inside another transfer (a proxy token's delegatecall)."""
    kept: list[_Transfer] = []
    seen: list[tuple[int, ...]] = []
    for transfer in sorted(transfers, key=lambda t: t.trace_address):
        if not any(_is_child(transfer.trace_address, parent) for parent in seen):
            kept.append(transfer)
        seen.append(transfer.trace_address)
    return kept

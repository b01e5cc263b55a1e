"""What the next block would do, found without mining: decoding, scheduling, eth_simulateV1.

The local builder never mines a trial block (other clients of the node would see its head,
its receipts and its nonces, then see them vanish). It decodes each raw transaction into a
call object, lays the candidate block out the way anvil's FIFO miner will lay it out
(``schedule``), and runs the whole block once through ``eth_simulateV1`` with the next
block's number, timestamp, base fee and coinbase (``BlockEnv``).

anvil 1.7.1's ``eth_simulateV1`` with ``validation: true`` checks balances and intrinsic gas,
and refuses the whole request when one call fails them; it checks neither nonces nor the fee
cap against the base fee. So ``schedule`` checks nonces and fee caps itself, and ``simulate``
finds the call that made the request fail by bisecting on prefixes.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rlp
from eth_utils import keccak

from chains.mempool_tx import EnvelopeError, checksum, recover_sender
from chains.rpc import HttpRpc, RpcResponseError
from sim.builder_bundle import HEX_BYTES, PoolTx
from sim.txs import hex_int

if TYPE_CHECKING:
    from sim.builder_http import PendingArrivals

__all__ = [
    "BlockEnv",
    "Refusal",
    "Schedule",
    "SimResult",
    "SimTx",
    "chain_nonces",
    "compare_block",
    "decode_tx",
    "late_arrivals",
    "next_block_env",
    "pool_entries",
    "read_pool",
    "schedule",
    "simulate",
]


# traceTransfers reports ETH moves as ERC-20 Transfer logs from this pseudo-address
_ETH_TRANSFER_ADDRESS = "0x" + "ee" * 20
_TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# field positions in the RLP list of each supported type: (nonce, gas, to, value, data,
# access list) and the fee fields (legacy/2930: gasPrice; 1559: priority, max fee)
_LAYOUT = {
    0: (0, 2, 3, 4, 5, None),
    1: (1, 3, 4, 5, 6, 7),
    2: (1, 4, 5, 6, 7, 8),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockEnv:
    """The block anvil will mine next: number, timestamp (s), base fee, coinbase, gas limit."""

    number: int
    timestamp: int
    base_fee_wei: int
    coinbase: str
    gas_limit_units: int

    def overrides(self) -> dict[str, str]:
        """Return eth_simulateV1 blockOverrides for this block."""
        return {
            "number": hex(self.number),
            "time": hex(self.timestamp),
            "baseFeePerGas": hex(self.base_fee_wei),
            "feeRecipient": self.coinbase,
            "gasLimit": hex(self.gas_limit_units),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SimTx:
    """A raw signed transaction and the call object eth_simulateV1 runs for it."""

    tx_hash: str
    raw: bytes
    sender: str  # checksummed
    nonce: int
    to: str | None
    gas_units: int
    max_fee_wei: int  # gasPrice for legacy and EIP-2930 transactions
    priority_fee_wei: int | None  # None: pays gasPrice whatever the base fee
    call: dict[str, Any]

    def price_wei(self, base_fee_wei: int) -> int:
        """Return the effective gas price under this base fee (wei per gas unit)."""
        if self.priority_fee_wei is None:
            return self.max_fee_wei
        return min(self.max_fee_wei, base_fee_wei + self.priority_fee_wei)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """One simulated transaction: status, gas, return data or error, wei sent to coinbase."""

    ok: bool
    gas_used_units: int
    return_data: str
    error: str
    sent_to_coinbase_wei: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the block cannot be simulated as laid out: the position and the reason."""

    index: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A block laid out as anvil's miner will mine it, and what stays out of it."""

    txs: list[SimTx]  # the block's transactions in order
    owners: list[Any]  # per transaction, the bundle key it belongs to, None if public
    refused: Refusal | None  # a bundle transaction that cannot run at its place
    stale: list[tuple[str, str]]  # public (hash, reason) whose nonce is already taken
    waiting: list[str]  # public hashes that stay in the pool (nonce gap, fee cap too low)


def decode_tx(raw: bytes, sender: str | None = None) -> SimTx:
    """Decode a type 0, 1 or 2 raw transaction into a call object (raises EnvelopeError).

    The sender is recovered from the signature unless given (the node's pool names it, and
    a recovery costs about a millisecond and a half).
    """
    tx_type = 0 if raw and raw[0] >= 0xC0 else (raw[0] if raw else -1)
    if tx_type not in _LAYOUT:
        raise EnvelopeError(f"transaction type {tx_type} cannot be simulated here")
    sender = recover_sender(raw) if sender is None else checksum(sender)
    try:
        items = rlp.decode(raw if tx_type == 0 else raw[1:], strict=True)
    except (rlp.exceptions.DecodingError, rlp.exceptions.DeserializationError) as exc:
        raise EnvelopeError(f"bad RLP: {exc}") from exc
    nonce_at, gas_at, to_at, value_at, data_at, access_at = _LAYOUT[tx_type]
    to_raw = items[to_at]
    to = checksum(to_raw) if to_raw else None
    call: dict[str, Any] = {
        "from": sender,
        "nonce": hex(_int(items[nonce_at])),
        "gas": hex(_int(items[gas_at])),
        "value": hex(_int(items[value_at])),
        "input": "0x" + bytes(items[data_at]).hex(),
    }
    if to is not None:
        call["to"] = to
    if tx_type == 2:
        priority, max_fee = _int(items[2]), _int(items[3])
        call["maxPriorityFeePerGas"], call["maxFeePerGas"] = hex(priority), hex(max_fee)
    else:
        priority, max_fee = None, _int(items[1 if tx_type == 0 else 2])
        call["gasPrice"] = hex(max_fee)
    if access_at is not None:
        call["accessList"] = [
            {"address": checksum(a), "storageKeys": ["0x" + bytes(k).hex() for k in keys]}
            for a, keys in items[access_at]
        ]
    return SimTx(
        tx_hash="0x" + keccak(raw).hex(),
        raw=raw,
        sender=sender,
        nonce=_int(items[nonce_at]),
        to=to,
        gas_units=_int(items[gas_at]),
        max_fee_wei=max_fee,
        priority_fee_wei=priority,
        call=call,
    )


def next_block_env(rpc: HttpRpc) -> BlockEnv:
    """Read the next block's environment from anvil's pending block (its clock, its fee)."""
    pending = rpc.call("eth_getBlockByNumber", "pending", False)
    return BlockEnv(
        number=hex_int(pending["number"]),
        timestamp=hex_int(pending["timestamp"]),
        base_fee_wei=hex_int(pending.get("baseFeePerGas") or "0x0"),
        coinbase=checksum(bytes.fromhex(pending["miner"][2:])),
        gas_limit_units=hex_int(pending["gasLimit"]),
    )


def schedule(
    bundled: Sequence[tuple[SimTx, Any]],
    public: Sequence[SimTx],
    nonces: Mapping[str, int],
    base_fee_wei: int,
) -> Schedule:
    """Lay out a block: bundle transactions in their order, then the public ones as anvil's
    FIFO miner picks them (the earliest-arrived transaction whose nonce is next, repeatedly).

    nonces holds each sender's next nonce on chain. A bundle transaction whose nonce is not
    next or whose fee cap is under the base fee makes the layout refused at its place.
    """
    expected = dict(nonces)
    txs: list[SimTx] = []
    owners: list[Any] = []
    for tx, owner in bundled:
        want = expected.get(tx.sender, 0)
        if tx.nonce != want:
            reason = f"tx {tx.tx_hash} has nonce {tx.nonce}, its sender's next is {want}"
            return Schedule(
                txs=txs, owners=owners, refused=Refusal(len(txs), reason), stale=[], waiting=[]
            )
        if tx.max_fee_wei < base_fee_wei:
            reason = f"tx {tx.tx_hash} fee cap {tx.max_fee_wei} is under base fee {base_fee_wei}"
            return Schedule(
                txs=txs, owners=owners, refused=Refusal(len(txs), reason), stale=[], waiting=[]
            )
        expected[tx.sender] = want + 1
        txs.append(tx)
        owners.append(owner)
    stale: list[tuple[str, str]] = []
    by_sender: dict[str, dict[int, tuple[int, SimTx]]] = {}
    for arrival, tx in enumerate(public):
        if tx.nonce < expected.get(tx.sender, 0):
            stale.append((tx.tx_hash, f"nonce {tx.nonce} is taken by a bundle transaction"))
        else:
            by_sender.setdefault(tx.sender, {})[tx.nonce] = (arrival, tx)
    ready = [
        queue[expected.get(s, 0)] for s, queue in by_sender.items() if expected.get(s, 0) in queue
    ]
    heapq.heapify(ready)
    placed: set[str] = set()
    while ready:
        _, tx = heapq.heappop(ready)
        if tx.max_fee_wei < base_fee_wei:
            continue  # it waits in the pool for a lower base fee; its successors wait too
        txs.append(tx)
        owners.append(None)
        placed.add(tx.tx_hash)
        expected[tx.sender] = tx.nonce + 1
        successor = by_sender[tx.sender].get(tx.nonce + 1)
        if successor is not None:
            heapq.heappush(ready, successor)
    waiting = [
        tx.tx_hash for q in by_sender.values() for _, tx in q.values() if tx.tx_hash not in placed
    ]
    return Schedule(txs=txs, owners=owners, refused=None, stale=stale, waiting=waiting)


def simulate(
    rpc: HttpRpc, txs: Sequence[SimTx], env: BlockEnv
) -> tuple[list[SimResult], Refusal | None]:
    """Run txs as one block on top of the head; return results, or those before a refusal.

    A refused request names no call, so the first refused call is found by bisecting on
    prefixes (log2(n) more simulations); the results returned are those before it.
    """
    if not txs:
        return [], None
    try:
        return _results(_simulate_once(rpc, txs, env), env.coinbase), None
    except RpcResponseError as exc:
        message = exc.message
    good, bad = 0, len(txs)  # the prefix of length good runs, the one of length bad is refused
    while bad - good > 1:
        mid = (good + bad) // 2
        try:
            _simulate_once(rpc, txs[:mid], env)
            good = mid
        except RpcResponseError as exc:
            bad, message = mid, exc.message
    results = _results(_simulate_once(rpc, txs[:good], env), env.coinbase) if good else []
    return results, Refusal(bad - 1, f"tx {txs[bad - 1].tx_hash} refused: {message}")


def _simulate_once(rpc: HttpRpc, txs: Sequence[SimTx], env: BlockEnv) -> list[dict[str, Any]]:
    request = {
        "blockStateCalls": [{"calls": [t.call for t in txs], "blockOverrides": env.overrides()}],
        "validation": True,
        "traceTransfers": True,
    }
    (block,) = rpc.call("eth_simulateV1", request, "latest")
    calls: list[dict[str, Any]] = block["calls"]
    if len(calls) != len(txs):
        raise RuntimeError(f"eth_simulateV1 answered {len(calls)} calls for {len(txs)}")
    return calls


def _results(calls: Sequence[dict[str, Any]], coinbase: str) -> list[SimResult]:
    out = []
    for call in calls:
        ok = hex_int(call["status"]) == 1
        error = call.get("error") or {}
        out.append(
            SimResult(
                ok=ok,
                gas_used_units=hex_int(call["gasUsed"]),
                return_data=call.get("returnData") or "0x",
                error="" if ok else str(error.get("message") or "execution reverted"),
                sent_to_coinbase_wei=_sent_to(call.get("logs") or (), coinbase),
            )
        )
    return out


def _sent_to(logs: Sequence[dict[str, Any]], address: str) -> int:
    """Sum the wei that traceTransfers reports moving to address (failed frames log none)."""
    total = 0
    for log in logs:
        topics = log.get("topics") or ()
        if (
            str(log.get("address", "")).lower() == _ETH_TRANSFER_ADDRESS
            and len(topics) == 3
            and topics[0] == _TRANSFER_TOPIC
            and int(topics[2], 16) == int(address, 16)
        ):
            total += hex_int(log["data"])
    return total


def _int(b: Any) -> int:
    if not isinstance(b, bytes) or len(b) > 32:
        raise EnvelopeError("not an RLP integer")
    return int.from_bytes(b, "big")


def compare_block(
    env: BlockEnv,
    txs: Sequence[SimTx],
    results: Sequence[SimResult],
    block: Mapping[str, Any],
    receipts: Sequence[Mapping[str, Any]],
) -> list[str]:
    """List where a mined block differs from its simulation (extra txs at the end aside)."""
    out = []
    if hex_int(block["number"]) != env.number:
        out.append(f"mined block {hex_int(block['number'])}, simulated {env.number}")
    if hex_int(block["timestamp"]) != env.timestamp:
        out.append(f"timestamp {hex_int(block['timestamp'])}, simulated {env.timestamp}")
    if int(block["miner"], 16) != int(env.coinbase, 16):
        out.append(f"coinbase {block['miner']}, simulated {env.coinbase}")
    base_fee_wei = hex_int(block.get("baseFeePerGas") or "0x0")
    if base_fee_wei != env.base_fee_wei:
        out.append(f"base fee {base_fee_wei} wei, simulated {env.base_fee_wei}")
    mined = [h.lower() for h in block["transactions"]]
    for i, (tx, result) in enumerate(zip(txs, results, strict=True)):
        if i >= len(mined) or mined[i] != tx.tx_hash:
            got = mined[i] if i < len(mined) else "nothing"
            out.append(f"position {i}: simulated tx {tx.tx_hash}, mined {got}")
            break
        receipt = receipts[i]
        status, gas_units = hex_int(receipt["status"]) == 1, hex_int(receipt["gasUsed"])
        if status != result.ok or gas_units != result.gas_used_units:
            out.append(
                f"tx {tx.tx_hash}: mined status {int(status)} gas {gas_units}, "
                f"simulated status {int(result.ok)} gas {result.gas_used_units}"
            )
    return out


def pool_entries(rpc: HttpRpc) -> list[tuple[str, int, str]]:
    """Return (sender, nonce, hash) of every pool transaction, lowercase, by sender and nonce."""
    content = rpc.call("txpool_content")
    entries = []
    for section in ("pending", "queued"):
        for sender, by_nonce in (content.get(section) or {}).items():
            for nonce, tx in by_nonce.items():
                entries.append((sender.lower(), int(nonce), tx["hash"].lower()))
    return sorted(entries)


def read_pool(
    rpc: HttpRpc, arrivals: PendingArrivals, wait_s: float
) -> tuple[list[SimTx], list[tuple[str, str]], list[PoolTx]]:
    """Return the pool by arrival: decoded; (hash, reason) without raw bytes; not simulable.

    Transactions the feed never announced come last, by sender then nonce.
    """
    entries = pool_entries(rpc)
    if not entries:
        return [], [], []
    hashes = [h for _, _, h in entries]
    raws = rpc.batch([("eth_getRawTransactionByHash", [h]) for h in hashes])
    ranks = arrivals.ranks(hashes, wait_s)
    order = sorted(
        range(len(entries)), key=lambda i: (hashes[i] not in ranks, ranks.get(hashes[i], 0), i)
    )
    public: list[SimTx] = []
    dropped: list[tuple[str, str]] = []
    unsimulated: list[PoolTx] = []
    for i in order:
        h, raw = hashes[i], raws[i]
        if not (isinstance(raw, str) and HEX_BYTES.fullmatch(raw)):
            dropped.append((h, "the node has no raw bytes for it"))
            continue
        try:
            public.append(decode_tx(bytes.fromhex(raw[2:]), entries[i][0]))
        except EnvelopeError:
            unsimulated.append(PoolTx(h, bytes.fromhex(raw[2:])))
    return public, dropped, unsimulated


def late_arrivals(
    rpc: HttpRpc, arrivals: PendingArrivals, since: int, known: Collection[str]
) -> list[PoolTx]:
    """Return raw transactions the feed announced from mark since on, not in known, by arrival."""
    hashes = [h for h in arrivals.since(since) if h not in known]
    if not hashes:
        return []
    raws = rpc.batch([("eth_getRawTransactionByHash", [h]) for h in hashes])
    return [
        PoolTx(h, bytes.fromhex(raw[2:]))
        for h, raw in zip(hashes, raws, strict=True)
        if isinstance(raw, str) and HEX_BYTES.fullmatch(raw)  # None: mined or dropped
    ]


def chain_nonces(rpc: HttpRpc, senders: Collection[str]) -> dict[str, int]:
    """Return each sender's next nonce on chain."""
    ordered = sorted(senders)
    if not ordered:
        return {}
    counts = rpc.batch([("eth_getTransactionCount", [s, "latest"]) for s in ordered])
    return {s: hex_int(n) for s, n in zip(ordered, counts, strict=True)}

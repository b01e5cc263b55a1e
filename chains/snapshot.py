"""Cold start: every pool read at one pinned block hash, and the table compared with the chain.

`snapshot_pools(rpc, pools, block_hash)` reads V2 `getReserves`, V3 `slot0` + `liquidity` +
`feeGrowthGlobal0X128` + `feeGrowthGlobal1X128` and the V3 initialized ticks (every
`tickBitmap` word from MIN_TICK to MAX_TICK, then `ticks(t)` for every set bit:
liquidityGross, liquidityNet, feeGrowthOutside0X128/1X128) with `eth_call`s pinned to one
block by hash (EIP-1898 `{"blockHash": ...}`), so every value comes from the same state even
if the chain moves or reorgs meanwhile. The calls are packed into Multicall3 `aggregate3`
calls (500 to a call) sent as JSON-RPC batches: two round trips per batch of work (the words,
then the ticks). `use_multicall=False` sends one `eth_call` per read instead, still batched.

The result is a `PoolSnapshot` (exact ints, `amm_math` V3 states and their fee growth by
pool id), which
`graph.state.PoolTable.load_snapshot` loads; the table's journal starts at that block, and the
feed follows from the next block with no gap. `diff_against_chain` reads the chain again and
lists every difference from the table, exactly (`arbloop state verify` prints them).

Pools are plain tuples `(pool_id, address, kind "v2"/"v3", fee_pips, tick_spacing)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from amm_math.uniswap_v3.fee_growth import FeeGrowth
from amm_math.uniswap_v3.pool_state import V3PoolState
from amm_math.uniswap_v3.tick_math import MAX_TICK, MIN_TICK
from chains import abi
from chains.abi_fn import AbiFunction
from chains.rpc import HttpRpc

__all__ = [
    "MULTICALL3_ADDRESS",
    "MULTICALL3_AGGREGATE3",
    "PoolRef",
    "PoolSnapshot",
    "SnapshotError",
    "TableView",
    "decode_aggregate3",
    "diff_against_chain",
    "diff_states",
    "encode_aggregate3",
    "snapshot_pools",
]

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
MULTICALL3_AGGREGATE3 = AbiFunction("aggregate3((address,bool,bytes)[])", "((bool,bytes)[])")

_CALLS_PER_AGGREGATE = 500
_REQUESTS_PER_BATCH = 256
_BATCH_BODY_CHARS = 1_000_000
_SLOT0 = abi.V3_POOL_SLOT0.selector
_LIQUIDITY = abi.V3_POOL_LIQUIDITY.selector
_GET_RESERVES = abi.V2_PAIR_GET_RESERVES.selector
_TICK_BITMAP = abi.V3_POOL_TICK_BITMAP.selector
_TICKS = abi.V3_POOL_TICKS.selector
_FEE_GROWTH_GLOBAL0 = AbiFunction("feeGrowthGlobal0X128()", "(uint256)").selector
_FEE_GROWTH_GLOBAL1 = AbiFunction("feeGrowthGlobal1X128()", "(uint256)").selector


class SnapshotError(Exception):
    """A pool could not be read at the pinned block (no code there, or a failed call)."""


class PoolRef(NamedTuple):
    """A pool to read: id, address, kind ("v2"/"v3"), fee and tick spacing."""

    pool_id: int
    address: str
    kind: str
    fee_pips: int
    tick_spacing: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSnapshot:
    """Every pool at one block: V2 reserves and V3 states by pool id (absent: uninitialized).

    `fee_growth` holds each initialized V3 pool's fee growth (globals, every initialized
    tick's outside values, slot0.feeProtocol), read at the same block.
    """

    block_number: int
    block_hash: str
    pools: tuple[PoolRef, ...]
    reserves: Mapping[int, tuple[int, int]]
    v3_states: Mapping[int, V3PoolState]
    eth_calls: int  # reads made (sub-calls of aggregate3 included)
    requests: int  # JSON-RPC requests sent (in batches)
    fee_growth: Mapping[int, FeeGrowth] = field(default_factory=dict)


class TableView(Protocol):
    """What `diff_against_chain` reads of a pool table (graph.state.PoolTable has it)."""

    @property
    def head(self) -> tuple[int, bytes | None]: ...

    def pools(self) -> Sequence[tuple[int, str, str, int, int]]: ...

    def v2_reserves(self, pool_id: int) -> tuple[int, int] | None: ...

    def v3_state(self, pool_id: int) -> V3PoolState | None: ...

    def v3_fee_growth(self, pool_id: int) -> FeeGrowth | None: ...


def _word_range(tick_spacing: int) -> range:
    """Return the tickBitmap words that can hold an initialized tick at this spacing."""
    return range((MIN_TICK // tick_spacing) >> 8, ((MAX_TICK // tick_spacing) >> 8) + 1)


def _call_with_int(selector: bytes, value: int) -> bytes:
    """Return calldata of a one-argument call taking a signed integer (int16, int24)."""
    return selector + (value % (1 << 256)).to_bytes(32, "big")


def encode_aggregate3(calls: Sequence[tuple[str, bytes]]) -> bytes:
    """Return Multicall3.aggregate3 calldata, every call with allowFailure = true.

    Encoded by hand: eth_abi takes ~100 us a call here, the whole snapshot's time.
    """
    heads = []
    tails = []
    offset = 32 * len(calls)
    for to, data in calls:
        heads.append(offset.to_bytes(32, "big"))
        padded = data + bytes(-len(data) % 32)
        tail = b"".join(
            (
                bytes(12) + bytes.fromhex(to[2:]),
                (1).to_bytes(32, "big"),
                (0x60).to_bytes(32, "big"),
                len(data).to_bytes(32, "big"),
                padded,
            )
        )
        tails.append(tail)
        offset += len(tail)
    return b"".join(
        (
            MULTICALL3_AGGREGATE3.selector,
            (0x20).to_bytes(32, "big"),
            len(calls).to_bytes(32, "big"),
            *heads,
            *tails,
        )
    )


def decode_aggregate3(data: bytes) -> list[bytes | None]:
    """Return each call's return data from aggregate3's (bool,bytes)[] result (None: failed)."""
    start = _uint_at(data, 0) + 32  # the element area, after the array length
    n = _uint_at(data, start - 32)
    out: list[bytes | None] = []
    for i in range(n):
        at = start + _uint_at(data, start + 32 * i)
        ok = _uint_at(data, at) != 0
        bytes_at = at + _uint_at(data, at + 32)
        length = _uint_at(data, bytes_at)
        out.append(data[bytes_at + 32 : bytes_at + 32 + length] if ok else None)
    return out


def _uint_at(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 32], "big")


def _uint(data: bytes, word: int) -> int:
    return int.from_bytes(data[32 * word : 32 * word + 32], "big")


def _int(data: bytes, word: int) -> int:
    return int.from_bytes(data[32 * word : 32 * word + 32], "big", signed=True)


class _Reader:
    """Runs (target, calldata) reads at one block: aggregate3 chunks or plain eth_calls."""

    def __init__(self, rpc: HttpRpc, block: dict[str, str], use_multicall: bool) -> None:
        self.rpc = rpc
        self.block = block
        self.use_multicall = use_multicall
        self.eth_calls = 0
        self.requests = 0

    def run(self, calls: Sequence[tuple[str, bytes]]) -> list[bytes | None]:
        """Return each read's return data, None where the call failed."""
        self.eth_calls += len(calls)
        if self.use_multicall:
            chunks = [
                calls[i : i + _CALLS_PER_AGGREGATE]
                for i in range(0, len(calls), _CALLS_PER_AGGREGATE)
            ]
            requests = [
                self._eth_call(
                    MULTICALL3_ADDRESS,
                    encode_aggregate3(chunk),
                )
                for chunk in chunks
            ]
        else:
            requests = [self._eth_call(to, data) for to, data in calls]
        out: list[bytes | None] = []
        for batch in _batches(requests):
            replies = self.rpc.batch(batch)
            self.requests += len(replies)
            for reply in replies:
                data = bytes.fromhex(reply[2:])
                if not self.use_multicall:
                    out.append(data)
                    continue
                out.extend(decode_aggregate3(data))
        return out

    def _eth_call(self, to: str, data: bytes) -> tuple[str, list[Any]]:
        return ("eth_call", [{"to": to, "data": "0x" + data.hex()}, self.block])


def _batches(requests: list[tuple[str, list[Any]]]) -> list[list[tuple[str, list[Any]]]]:
    """Split requests into JSON-RPC batches under the node's body limit (anvil: 2 MiB)."""
    batches: list[list[tuple[str, list[Any]]]] = []
    size = 0
    for request in requests:
        request_size = len(request[1][0]["data"]) + 200
        if (
            not batches
            or size + request_size > _BATCH_BODY_CHARS
            or (len(batches[-1]) >= _REQUESTS_PER_BATCH)
        ):
            batches.append([])
            size = 0
        batches[-1].append(request)
        size += request_size
    return batches


def snapshot_pools(
    rpc: HttpRpc,
    pools: Sequence[tuple[int, str, str, int, int]],
    block_hash: str | None = None,
    *,
    use_multicall: bool = True,
) -> PoolSnapshot:
    """Read every pool at one block (default: the latest block, pinned by its hash)."""
    if block_hash is None:
        block = rpc.call("eth_getBlockByNumber", "latest", False)
    else:
        block = rpc.call("eth_getBlockByHash", block_hash, False)
        if block is None:
            raise SnapshotError(f"block {block_hash} is unknown to the node")
    block_hash = str(block["hash"])
    reader = _Reader(rpc, {"blockHash": block_hash}, use_multicall)
    refs = tuple(PoolRef(*pool) for pool in pools)
    calls: list[tuple[str, bytes]] = []
    for ref in refs:
        if ref.kind == "v2":
            calls.append((ref.address, _GET_RESERVES))
        elif ref.kind == "v3":
            calls.append((ref.address, _SLOT0))
            calls.append((ref.address, _LIQUIDITY))
            calls.append((ref.address, _FEE_GROWTH_GLOBAL0))
            calls.append((ref.address, _FEE_GROWTH_GLOBAL1))
            for word in _word_range(ref.tick_spacing):
                calls.append((ref.address, _call_with_int(_TICK_BITMAP, word)))
        else:
            raise ValueError(f"pool {ref.pool_id}: kind must be 'v2' or 'v3', got {ref.kind!r}")
    results = iter(reader.run(calls))
    reserves: dict[int, tuple[int, int]] = {}
    slots: dict[int, tuple[int, int, int]] = {}
    globals_x128: dict[int, tuple[int, int, int]] = {}  # (global0, global1, feeProtocol)
    tick_calls: list[tuple[str, bytes]] = []
    tick_owner: list[tuple[int, int]] = []  # (pool id, tick) of each tick read
    for ref in refs:
        if ref.kind == "v2":
            data = _checked(ref, "getReserves", next(results), 3)
            reserves[ref.pool_id] = (_uint(data, 0), _uint(data, 1))
            continue
        slot0 = _checked(ref, "slot0", next(results), 7)
        liquidity = _checked(ref, "liquidity", next(results), 1)
        global0 = _checked(ref, "feeGrowthGlobal0X128", next(results), 1)
        global1 = _checked(ref, "feeGrowthGlobal1X128", next(results), 1)
        slots[ref.pool_id] = (_uint(slot0, 0), _int(slot0, 1), _uint(liquidity, 0))
        globals_x128[ref.pool_id] = (_uint(global0, 0), _uint(global1, 0), _uint(slot0, 5))
        for word in _word_range(ref.tick_spacing):
            bits = _uint(_checked(ref, "tickBitmap", next(results), 1), 0)
            while bits:
                low = bits & -bits
                tick = ((word << 8) + low.bit_length() - 1) * ref.tick_spacing
                tick_calls.append((ref.address, _call_with_int(_TICKS, tick)))
                tick_owner.append((ref.pool_id, tick))
                bits ^= low
    nets: dict[int, dict[int, int]] = {pool_id: {} for pool_id in slots}
    grosses: dict[int, dict[int, int]] = {pool_id: {} for pool_id in slots}
    outsides: dict[int, dict[int, tuple[int, int]]] = {pool_id: {} for pool_id in slots}
    by_id = {ref.pool_id: ref for ref in refs}
    for (pool_id, tick), data in zip(tick_owner, reader.run(tick_calls), strict=True):
        data = _checked(by_id[pool_id], f"ticks({tick})", data, 8)
        grosses[pool_id][tick] = _uint(data, 0)
        nets[pool_id][tick] = _int(data, 1)
        outsides[pool_id][tick] = (_uint(data, 2), _uint(data, 3))
    v3_states = {}
    fee_growth = {}
    for pool_id, (sqrt_price_x96, tick, liquidity) in slots.items():
        if sqrt_price_x96 == 0:
            continue  # created, not initialized
        ref = by_id[pool_id]
        v3_states[pool_id] = V3PoolState(
            sqrt_price_x96=sqrt_price_x96,
            tick=tick,
            liquidity=liquidity,
            fee_pips=ref.fee_pips,
            tick_spacing=ref.tick_spacing,
            ticks=nets[pool_id],
            liquidity_gross=grosses[pool_id],
        )
        global0, global1, fee_protocol = globals_x128[pool_id]
        fee_growth[pool_id] = FeeGrowth(
            global0_x128=global0,
            global1_x128=global1,
            outside=outsides[pool_id],
            fee_protocol=fee_protocol,
        )
    return PoolSnapshot(
        block_number=int(block["number"], 16),
        block_hash=block_hash,
        pools=refs,
        reserves=reserves,
        v3_states=v3_states,
        eth_calls=reader.eth_calls,
        requests=reader.requests,
        fee_growth=fee_growth,
    )


def _checked(ref: PoolRef, what: str, data: bytes | None, words: int) -> bytes:
    if data is None or len(data) < 32 * words:
        raise SnapshotError(
            f"pool {ref.pool_id} {ref.address}: {what} failed or returned too little"
            " (no code at this block?)"
        )
    return data


def diff_states(table: TableView, snapshot: PoolSnapshot) -> list[str]:
    """List every difference between the table's pools and a snapshot of the same pools.

    Fee growth is compared where both sides know it (the table forgets it rather than guess).
    """
    out: list[str] = []
    for pool in snapshot.pools:
        name = f"pool {pool.pool_id} {pool.address} ({pool.kind})"
        if pool.kind == "v2":
            mine = table.v2_reserves(pool.pool_id) or (0, 0)  # no Sync yet: an empty pair
            chain = snapshot.reserves[pool.pool_id]
            for label, a, b in zip(("reserve0", "reserve1"), mine, chain, strict=True):
                if a != b:
                    out.append(f"{name}: {label} table {a} chain {b}")
            continue
        out.extend(
            _diff_v3(name, table.v3_state(pool.pool_id), snapshot.v3_states.get(pool.pool_id))
        )
        mine_fees = table.v3_fee_growth(pool.pool_id)
        chain_fees = snapshot.fee_growth.get(pool.pool_id)
        if mine_fees is not None and chain_fees is not None:
            out.extend(_diff_fee_growth(name, mine_fees, chain_fees))
    return out


def _diff_fee_growth(name: str, mine: FeeGrowth, chain: FeeGrowth) -> list[str]:
    out = [
        f"{name}: {label} table {a} chain {b}"
        for label, a, b in (
            ("feeGrowthGlobal0X128", mine.global0_x128, chain.global0_x128),
            ("feeGrowthGlobal1X128", mine.global1_x128, chain.global1_x128),
            ("feeProtocol", mine.fee_protocol, chain.fee_protocol),
        )
        if a != b
    ]
    for tick in sorted(set(mine.outside) | set(chain.outside)):
        a, b = mine.outside.get(tick), chain.outside.get(tick)
        if a != b:
            out.append(f"{name}: tick {tick} feeGrowthOutside (0, 1) table {a} chain {b}")
    return out


def _diff_v3(name: str, mine: V3PoolState | None, chain: V3PoolState | None) -> list[str]:
    if mine is None or chain is None:
        if mine is chain:
            return []
        return [f"{name}: initialized in table {mine is not None}, on chain {chain is not None}"]
    out = [
        f"{name}: {label} table {a} chain {b}"
        for label, a, b in (
            ("sqrt_price_x96", mine.sqrt_price_x96, chain.sqrt_price_x96),
            ("tick", mine.tick, chain.tick),
            ("liquidity", mine.liquidity, chain.liquidity),
        )
        if a != b
    ]
    for tick in sorted(set(mine.ticks) | set(chain.ticks)):
        net = (mine.ticks.get(tick), chain.ticks.get(tick))
        gross = (mine.liquidity_gross.get(tick), chain.liquidity_gross.get(tick))
        if net[0] != net[1] or gross[0] != gross[1]:
            out.append(
                f"{name}: tick {tick} (net, gross) table ({net[0]}, {gross[0]})"
                f" chain ({net[1]}, {gross[1]})"
            )
    return out


def diff_against_chain(table: TableView, rpc: HttpRpc, block_hash: str | None = None) -> list[str]:
    """Read every pool of the table at a block (default: the table's head) and list differences."""
    number, head_hash = table.head
    if block_hash is None:
        if head_hash is None:
            raise ValueError("the table holds no block: give block_hash")
        block_hash = "0x" + head_hash.hex()
    snapshot = snapshot_pools(rpc, list(table.pools()), block_hash)
    out = []
    if block_hash == "0x" + (head_hash or b"").hex() and snapshot.block_number != number:
        out.append(f"head: table block {number}, chain block {snapshot.block_number}")
    return out + diff_states(table, snapshot)

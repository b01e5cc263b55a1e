"""Discovering pools from the configured factories' PairCreated/PoolCreated logs.

``discover`` reads creation logs with ``eth_getLogs`` in chunks of ``step`` blocks, halving a
chunk whenever the node refuses it (too many results, range too large, timeout), admits each
event's pool through ``Registry.on_created`` in (block, log index) order, and runs the
minimum-liquidity filter on the pools it added. Pools that fail the filter keep their id and
are marked untracked, so ``apply_liquidity_filter`` can check them again later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_abi.exceptions import DecodingError
from eth_utils import to_checksum_address

from chains import abi
from chains.config_profile import RegistryConfig
from chains.records import Kind
from chains.registry import PoolInfo, Registry
from chains.rpc import RpcResponseError, RpcTimeout

__all__ = [
    "CreationLog",
    "DiscoveryResult",
    "LiquidityFilter",
    "RpcLike",
    "apply_liquidity_filter",
    "discover",
    "fetch_creation_logs",
    "parse_creation_log",
]

DEFAULT_STEP = 2_000


class RpcLike(Protocol):
    """The two JSON-RPC calls discovery needs (``chains.rpc.HttpRpc`` has both)."""

    def call(self, method: str, *params: Any) -> Any: ...

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidityFilter:
    """What a pool must hold to be tracked (raw token units; V3 in-range liquidity).

    A V2 pair needs both reserves >= ``min_v2_reserve`` and, for each listed base token it
    holds (e.g. WETH), a reserve of that token >= its minimum. A V3 pool needs in-range
    ``liquidity()`` >= ``min_v3_liquidity``. An address without code holds nothing.
    """

    min_v2_reserve: int = 1
    min_reserve_by_token: tuple[tuple[str, int], ...] = ()
    min_v3_liquidity: int = 1

    @classmethod
    def from_config(cls, config: RegistryConfig) -> LiquidityFilter:
        """Return the filter a profile's [registry] section asks for."""
        return cls(
            min_v2_reserve=config.min_v2_reserve,
            min_reserve_by_token=config.min_reserve_by_token,
            min_v3_liquidity=config.min_v3_liquidity,
        )

    def passes_v2(self, pool: PoolInfo, reserve0: int, reserve1: int) -> bool:
        """Return whether a pair with these reserves is worth tracking."""
        if min(reserve0, reserve1) < self.min_v2_reserve:
            return False
        minimums = {token.lower(): amount for token, amount in self.min_reserve_by_token}
        for token, reserve in ((pool.token0, reserve0), (pool.token1, reserve1)):
            if reserve < minimums.get(token.lower(), 0):
                return False
        return True

    def passes_v3(self, liquidity: int) -> bool:
        """Return whether a V3 pool with this in-range liquidity is worth tracking."""
        return liquidity >= self.min_v3_liquidity


@dataclass(frozen=True, slots=True, kw_only=True)
class CreationLog:
    """A decoded PairCreated/PoolCreated log (fee_pips None and tick_spacing 0 for pairs)."""

    kind: Kind
    factory: str
    token0: str
    token1: str
    fee_pips: int | None
    tick_spacing: int
    pool: str
    block_number: int
    log_index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryResult:
    """What one discovery pass read and admitted."""

    from_block: int
    to_block: int
    logs: int
    added: tuple[PoolInfo, ...]
    refused: tuple[CreationLog, ...]
    untracked: tuple[int, ...]
    get_logs_requests: int


_CREATION_TOPICS = {abi.V2_PAIR_CREATED.topic0: Kind.PAIR_CREATED}
_CREATION_TOPICS[abi.V3_POOL_CREATED.topic0] = Kind.POOL_CREATED


def parse_creation_log(log: Mapping[str, Any]) -> CreationLog | None:
    """Decode an eth_getLogs entry of PairCreated/PoolCreated; None for anything else."""
    topics = [bytes.fromhex(t[2:]) for t in log.get("topics", [])]
    if not topics or topics[0] not in _CREATION_TOPICS or log.get("removed"):
        return None
    kind = _CREATION_TOPICS[topics[0]]
    data = bytes.fromhex(log["data"][2:])
    try:
        if kind == Kind.PAIR_CREATED:
            token0, token1, pool, _ = abi.V2_PAIR_CREATED.decode(topics, data)
            fee_pips, tick_spacing = None, 0
        else:
            token0, token1, fee_pips, tick_spacing, pool = abi.V3_POOL_CREATED.decode(topics, data)
    except (ValueError, DecodingError):
        # a log with the topic but not the layout was not written by a Uniswap factory
        return None
    return CreationLog(
        kind=kind,
        factory=to_checksum_address(log["address"]),
        token0=to_checksum_address(token0),
        token1=to_checksum_address(token1),
        fee_pips=fee_pips,
        tick_spacing=int(tick_spacing),
        pool=to_checksum_address(pool),
        block_number=int(log["blockNumber"], 16),
        log_index=int(log["logIndex"], 16),
    )


def fetch_creation_logs(
    rpc: RpcLike, factories: Sequence[str], from_block: int, to_block: int
) -> list[dict[str, Any]]:
    """Return the factories' creation logs of [from_block, to_block], halving refused ranges."""
    return _fetch(rpc, factories, from_block, to_block, [0])


def _fetch(
    rpc: RpcLike, factories: Sequence[str], from_block: int, to_block: int, requests: list[int]
) -> list[dict[str, Any]]:
    if from_block > to_block or not factories:
        return []
    params = {
        "fromBlock": hex(from_block),
        "toBlock": hex(to_block),
        "address": list(factories),
        "topics": [["0x" + t.hex() for t in _CREATION_TOPICS]],
    }
    requests[0] += 1
    try:
        return list(rpc.call("eth_getLogs", params))
    except (RpcResponseError, RpcTimeout):
        # nodes cap results and ranges differently; halving until one block always terminates
        if from_block == to_block:
            raise
    middle = (from_block + to_block) // 2
    return _fetch(rpc, factories, from_block, middle, requests) + _fetch(
        rpc, factories, middle + 1, to_block, requests
    )


def discover(
    rpc: RpcLike,
    registry: Registry,
    from_block: int,
    to_block: int,
    *,
    step: int = DEFAULT_STEP,
    liquidity: LiquidityFilter | None = None,
    block_tag: str = "latest",
    checkpoint: Callable[[int], None] | None = None,
) -> DiscoveryResult:
    """Admit the pools created in [from_block, to_block]; filter them; call checkpoint(last).

    ``checkpoint`` runs after each chunk with the chunk's last block, once its pools are
    admitted and filtered: a caller that saves there resumes from that block + 1.
    """
    if step < 1:
        raise ValueError("step must be >= 1")
    factories = sorted(registry.factories)
    requests = [0]  # eth_getLogs calls, refused ones included
    added: list[PoolInfo] = []
    refused: list[CreationLog] = []
    untracked: list[int] = []
    n_logs = 0
    start = from_block
    while start <= to_block:
        end = min(start + step - 1, to_block)
        logs = [
            parsed
            for raw in _fetch(rpc, factories, start, end, requests)
            if (parsed := parse_creation_log(raw)) is not None
        ]
        logs.sort(key=lambda c: (c.block_number, c.log_index))
        n_logs += len(logs)
        chunk_added: list[PoolInfo] = []
        for log in logs:
            known = len(registry)
            info = registry.on_created(
                log.kind,
                log.factory,
                log.token0,
                log.token1,
                log.fee_pips,
                log.tick_spacing,
                log.pool,
                log.block_number,
            )
            if info is None:
                refused.append(log)
            elif info.pool_id >= known:
                chunk_added.append(info)
        if liquidity is not None and chunk_added:
            ids = [p.pool_id for p in chunk_added]
            untracked.extend(apply_liquidity_filter(rpc, registry, ids, liquidity, block_tag))
        added.extend(registry.by_id(p.pool_id) for p in chunk_added)
        if checkpoint is not None:
            checkpoint(end)
        start = end + 1
    return DiscoveryResult(
        from_block=from_block,
        to_block=to_block,
        logs=n_logs,
        added=tuple(added),
        refused=tuple(refused),
        untracked=tuple(untracked),
        get_logs_requests=requests[0],
    )


def apply_liquidity_filter(
    rpc: RpcLike,
    registry: Registry,
    pool_ids: Iterable[int],
    liquidity: LiquidityFilter,
    block_tag: str = "latest",
) -> tuple[int, ...]:
    """Read reserves/liquidity of these pools (one batch), set ``tracked``; return untracked ids."""
    pools = [registry.by_id(i) for i in pool_ids]
    calls: list[tuple[str, Sequence[Any]]] = []
    for pool in pools:
        fn = abi.V2_PAIR_GET_RESERVES if pool.kind == "v2" else abi.V3_POOL_LIQUIDITY
        call = {"to": pool.address, "data": "0x" + fn.encode().hex()}
        calls.append(("eth_call", [call, block_tag]))
    out: list[int] = []
    for pool, result in zip(pools, _batch_tolerant(rpc, calls), strict=True):
        raw = b"" if result is None else bytes.fromhex(result[2:])
        if pool.kind == "v2":
            ok = len(raw) >= 96 and liquidity.passes_v2(
                pool, *abi.V2_PAIR_GET_RESERVES.decode_output(raw)[:2]
            )
        else:
            ok = len(raw) >= 32 and liquidity.passes_v3(abi.V3_POOL_LIQUIDITY.decode_output(raw)[0])
        registry.set_tracked(pool.pool_id, ok)
        if not ok:
            out.append(pool.pool_id)
    return tuple(out)


def _batch_tolerant(rpc: RpcLike, calls: list[tuple[str, Sequence[Any]]]) -> list[Any]:
    """Run a batch; if one call errors (a revert), run them one by one with None for errors."""
    if not calls:
        return []
    try:
        return rpc.batch(calls)
    except RpcResponseError:
        pass
    results: list[Any] = []
    for method, params in calls:
        try:
            results.append(rpc.call(method, *params))
        except RpcResponseError:
            results.append(None)
    return results

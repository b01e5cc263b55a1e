"""What a JSON-RPC client does when a node refuses: back off and retry, reconnect, split ranges.

- ``RetryPolicy`` (frozen) and ``Backoff`` (its running state): exponential backoff with jitter,
  bounded or not; the clients of ``chains.rpc_async`` retry with it, and a feed uses
  ``Backoff(RECONNECT_POLICY)`` for its reconnect loop.
- ``is_retryable`` / ``is_range_refusal`` classify an ``RpcError``: a rate limit (-32005,
  HTTP 429, 5xx) is worth retrying as is; a refused ``eth_getLogs`` range is not, it is split.
- ``get_logs_adaptive`` halves a refused block range recursively, down to single blocks, and
  returns the logs in chain order; ``get_logs_by_block_hash`` asks for one block by hash.

The errors added here (``RpcHttpStatus``, ``RpcRetryExhausted``) belong to the hierarchy drawn
in ``chains.rpc_async``.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from chains.rpc import RpcError, RpcResponseError, RpcTimeout, RpcTransportError

__all__ = [
    "DEFAULT_RETRY",
    "NO_RETRY",
    "RECONNECT_POLICY",
    "AsyncCaller",
    "Backoff",
    "RetryPolicy",
    "RpcHttpStatus",
    "RpcRetryExhausted",
    "get_logs_adaptive",
    "get_logs_by_block_hash",
    "is_range_refusal",
    "is_retryable",
    "retrying",
]

T = TypeVar("T")

RATE_LIMITED_CODE = -32005
# node wordings for "this eth_getLogs range is too big" (infura, alchemy, geth, reth, erigon,
# quicknode, ...); -32005 means both this and "rate limited" depending on the provider
_RANGE_TEXT = re.compile(
    r"more than \d|too large|too many|too big|exceed|block range|range limit|"
    r"limited to|max(imum)? (block )?range|max results|response size",
    re.IGNORECASE,
)
_RATE_TEXT = re.compile(r"rate|per second|throughput|capacity|too many requests", re.IGNORECASE)


class RpcHttpStatus(RpcTransportError):
    """The HTTP endpoint answered with a status other than 200."""

    def __init__(self, url: str, status: int, body: bytes, retry_after_s: float | None) -> None:
        super().__init__(f"{url}: HTTP {status}: {body[:200]!r}")
        self.status = status
        self.retry_after_s = retry_after_s


class RpcRetryExhausted(RpcError):
    """Every attempt of a retried request failed; ``last_error`` is the final failure."""

    def __init__(self, what: str, attempts: int, last_error: RpcError) -> None:
        super().__init__(f"{what}: gave up after {attempts} attempts: {last_error}")
        self.attempts = attempts
        self.last_error = last_error


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff: delay n (from 0) is min(max, base * 2**n), times a random factor.

    ``attempts`` counts the first try (1 = no retry); None retries forever (reconnect loops).
    ``jitter`` in [0, 1]: the delay is scaled by a uniform factor in [1 - jitter, 1], so
    clients that failed together do not come back together.
    """

    attempts: int | None = 4
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0
    jitter: float = 0.5
    retry_timeouts: bool = False

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"attempts must be >= 1 or None: {self.attempts}")
        if not (0.0 <= self.base_delay_s <= self.max_delay_s):
            raise ValueError(f"need 0 <= base_delay_s <= max_delay_s: {self}")
        if not (0.0 <= self.jitter <= 1.0):
            raise ValueError(f"jitter must be in [0, 1]: {self.jitter}")

    def delay_s(self, retry_index: int, rng: random.Random) -> float:
        """Return the wait before retry number retry_index (0 = the first retry), seconds."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(retry_index, 60))
        return ceiling * (1.0 - self.jitter * rng.random())


NO_RETRY = RetryPolicy(attempts=1)
DEFAULT_RETRY = RetryPolicy()
RECONNECT_POLICY = RetryPolicy(attempts=None, base_delay_s=0.1, max_delay_s=10.0, jitter=0.5)


class Backoff:
    """The running state of a RetryPolicy: count failures, wait, reset after a success."""

    def __init__(self, policy: RetryPolicy, *, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.failures = 0
        self._rng = random.Random() if rng is None else rng

    def reset(self) -> None:
        """Forget past failures (call after a connection or request succeeded)."""
        self.failures = 0

    def exhausted(self) -> bool:
        """Tell whether the policy allows no further attempt."""
        return self.policy.attempts is not None and self.failures >= self.policy.attempts

    def next_delay_s(self) -> float:
        """Record one failure and return the wait before the next attempt, seconds."""
        self.failures += 1
        return self.policy.delay_s(self.failures - 1, self._rng)

    async def wait(self, floor_s: float = 0.0) -> None:
        """Record one failure and sleep before the next attempt (at least floor_s seconds)."""
        await asyncio.sleep(min(max(self.next_delay_s(), floor_s), self.policy.max_delay_s))


def is_range_refusal(exc: BaseException) -> bool:
    """Tell whether exc is a node refusing an eth_getLogs range as too large."""
    if not isinstance(exc, RpcResponseError):
        return False
    text = f"{exc.message} {exc.data or ''}"
    return _RANGE_TEXT.search(text) is not None and _RATE_TEXT.search(text) is None


def is_retryable(exc: BaseException, policy: RetryPolicy = DEFAULT_RETRY) -> bool:
    """Tell whether exc is a passing refusal worth retrying: -32005, HTTP 429 or 5xx."""
    if isinstance(exc, RpcHttpStatus):
        return exc.status == 429 or exc.status >= 500
    if isinstance(exc, RpcTimeout):
        return policy.retry_timeouts
    if isinstance(exc, RpcResponseError):
        if is_range_refusal(exc):
            return False
        return exc.code in (RATE_LIMITED_CODE, 429) or _RATE_TEXT.search(exc.message) is not None
    return False


async def retrying(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
) -> T:
    """Await attempt() until it succeeds; retry retryable errors, then raise RpcRetryExhausted."""
    backoff: Backoff | None = None  # built on the first failure: seeding a Random costs µs
    while True:
        try:
            return await attempt()
        except RpcError as exc:
            if not is_retryable(exc, policy):
                raise
            if backoff is None:
                backoff = Backoff(policy, rng=rng)
            if policy.attempts is not None and backoff.failures + 1 >= policy.attempts:
                raise RpcRetryExhausted(what, backoff.failures + 1, exc) from exc
            floor_s = exc.retry_after_s if isinstance(exc, RpcHttpStatus) else None
            await backoff.wait(0.0 if floor_s is None else floor_s)


class AsyncCaller(Protocol):
    """Anything with an awaitable JSON-RPC ``call`` (WsRpc, AsyncHttpRpc, a test double)."""

    async def call(self, method: str, *params: Any) -> Any: ...


async def get_logs_adaptive(
    rpc: AsyncCaller,
    log_filter: Mapping[str, Any],
    from_block: int,
    to_block: int,
    *,
    max_blocks_per_query: int | None = None,
) -> list[dict[str, Any]]:
    """Return eth_getLogs over [from_block, to_block] in chain order, halving refused ranges.

    ``log_filter`` holds ``address`` / ``topics`` only. A range the node refuses as too large
    is split in two halves, recursively, down to single blocks; a single block still refused,
    or any other error, is raised. ``max_blocks_per_query`` cuts the range up front.
    """
    for key in ("fromBlock", "toBlock", "blockHash"):
        if key in log_filter:
            raise ValueError(f"log_filter must not hold {key!r}; pass the block range")
    if from_block < 0 or to_block < from_block:
        raise ValueError(f"bad block range [{from_block}, {to_block}]")
    span = to_block - from_block + 1 if max_blocks_per_query is None else max_blocks_per_query
    if span < 1:
        raise ValueError(f"max_blocks_per_query must be >= 1: {max_blocks_per_query}")
    # a stack of ranges, lowest first on top, so logs come out in block order
    todo = [(lo, min(lo + span - 1, to_block)) for lo in range(from_block, to_block + 1, span)]
    todo.reverse()
    logs: list[dict[str, Any]] = []
    while todo:
        lo, hi = todo.pop()
        query = {**log_filter, "fromBlock": hex(lo), "toBlock": hex(hi)}
        try:
            logs.extend(await rpc.call("eth_getLogs", query))
        except RpcResponseError as exc:
            if lo == hi or not is_range_refusal(exc):
                raise
            mid = (lo + hi) // 2
            todo.append((mid + 1, hi))
            todo.append((lo, mid))
    return logs


async def get_logs_by_block_hash(
    rpc: AsyncCaller,
    block_hash: str,
    addresses: Sequence[str] | None = None,
    topics: Sequence[str | Sequence[str] | None] | None = None,
) -> list[dict[str, Any]]:
    """Return eth_getLogs of one block by its hash (reorg-safe backfill), optionally filtered."""
    query: dict[str, Any] = {"blockHash": block_hash}
    if addresses is not None:
        query["address"] = list(addresses)
    if topics is not None:
        query["topics"] = [t if t is None or isinstance(t, str) else list(t) for t in topics]
    return list(await rpc.call("eth_getLogs", query))

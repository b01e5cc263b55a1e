"""Cycles through the pool graph that start and end in a base token, stored as int arrays.

The token graph: tokens are small ints (`TokenIndex`), each pool id joins its token0 and
token1 (`pool_token0`/`pool_token1`, -1 where no pool is held). A pool is two directed edges:
token0 -> token1 (zero_for_one) and token1 -> token0.

A cycle of length L (2..4) is L hops through distinct pools that visit distinct tokens and
return to its base token: base -> t1 -> ... -> base. Parallel pools of one pair (other venues,
other fee tiers) make distinct cycles; the two directions of one loop are distinct cycles, and
a loop through two base tokens is one cycle per base (it earns in a different token).

`CycleSet` holds them as arrays indexed by cycle id: `pools[c, h]` (pool id of hop h, -1 past
the end), `zero_for_one[c, h]`, `length[c]`, `base[c]` (token id), and an index pool -> cycles
in CSR form. Adding a pool enumerates only the cycles through it (a walk from the pool's ends,
not from every base), appends them, and indexes them in a short tail that is folded into the
CSR index once it grows past a fraction of it. The numba enumeration and index kernels live
in `graph.cycles_enum`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from graph.cycles_enum import (
    MAX_HOPS,
    adjacency,
    cycles_touching,
    enumerate_from_bases,
    enumerate_through_pool,
    index_pools,
)

__all__ = [
    "MAX_HOPS",
    "CycleSet",
    "TokenIndex",
    "adjacency",
    "build_cycles",
    "cycles_touching",
]

_TAIL_FRACTION = 16  # fold the tail into the CSR index when it exceeds 1/16 of the cycles


class TokenIndex:
    """Token address (lowercase 0x-hex) <-> small int id, in order of first sight."""

    def __init__(self, addresses: Iterable[str] = ()) -> None:
        self._ids: dict[str, int] = {}
        self._addresses: list[str] = []
        for address in addresses:
            self.id_of(address)

    def id_of(self, address: str) -> int:
        """Return the token's id, assigning the next one on first sight."""
        key = address.lower()
        token_id = self._ids.get(key)
        if token_id is None:
            token_id = len(self._addresses)
            self._ids[key] = token_id
            self._addresses.append(key)
        return token_id

    def get(self, address: str) -> int | None:
        """Return the token's id, or None when it was never seen."""
        return self._ids.get(address.lower())

    def address(self, token_id: int) -> str:
        """Return the lowercase address of a token id."""
        return self._addresses[token_id]

    def __len__(self) -> int:
        return len(self._addresses)


class CycleSet:
    """Every cycle of length 2..max_hops from the base tokens, as arrays; grows with the graph."""

    def __init__(
        self,
        pool_token0: Sequence[int] | np.ndarray,
        pool_token1: Sequence[int] | np.ndarray,
        n_tokens: int,
        base_tokens: Sequence[int],
        *,
        max_hops: int = 3,
    ) -> None:
        if not 2 <= max_hops <= MAX_HOPS:
            raise ValueError(f"max_hops must be in 2..{MAX_HOPS}, got {max_hops}")
        if not base_tokens:
            raise ValueError("at least one base token is required")
        t0 = np.asarray(pool_token0, dtype=np.int64)
        t1 = np.asarray(pool_token1, dtype=np.int64)
        if t0.shape != t1.shape or t0.ndim != 1:
            raise ValueError("pool_token0 and pool_token1 must be 1-d and of one length")
        self.max_hops = max_hops
        self._n_tokens = n_tokens
        self._token0 = t0.copy()
        self._token1 = t1.copy()
        self._check_tokens(self._token0, self._token1, n_tokens)
        self.base_tokens = tuple(sorted(set(int(b) for b in base_tokens)))
        for b in self.base_tokens:
            if not 0 <= b < n_tokens:
                raise ValueError(f"base token id {b} is not a token of the graph")
        self._adjacency = adjacency(self._token0, self._token1, n_tokens)
        bases = np.array(self.base_tokens, dtype=np.int64)
        n = enumerate_from_bases(bases, max_hops, *self._adjacency, False, *self._empty_out())
        self._pools = np.full((max(n, 16), MAX_HOPS), -1, dtype=np.int64)
        self._zfo = np.zeros((max(n, 16), MAX_HOPS), dtype=np.bool_)
        self._length = np.zeros(max(n, 16), dtype=np.int64)
        self._base = np.full(max(n, 16), -1, dtype=np.int64)
        enumerate_from_bases(
            bases,
            max_hops,
            *self._adjacency,
            True,
            self._pools,
            self._zfo,
            self._length,
            self._base,
        )
        self._n_cycles = n
        self._reindex()

    @staticmethod
    def _check_tokens(t0: np.ndarray, t1: np.ndarray, n_tokens: int) -> None:
        held = t0 >= 0
        if ((t1 >= 0) != held).any():
            raise ValueError("a pool must have both tokens or neither")
        if (t0[held] >= n_tokens).any() or (t1[held] >= n_tokens).any():
            raise ValueError("a pool's token id is not below n_tokens")
        if (t0[held] == t1[held]).any():
            raise ValueError("a pool must join two distinct tokens")

    @staticmethod
    def _empty_out() -> tuple[np.ndarray, ...]:
        return (
            np.empty((0, MAX_HOPS), dtype=np.int64),
            np.empty((0, MAX_HOPS), dtype=np.bool_),
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
        )

    def _reindex(self) -> None:
        self._index_start, self._index_ids = index_pools(
            self._pools, self._length, self.n_pools, 0, self._n_cycles
        )
        self._indexed_cycles = self._n_cycles
        self._pool_mark = np.zeros(self.n_pools, dtype=np.uint8)
        self._cycle_mark = np.zeros(self._pools.shape[0], dtype=np.uint8)

    # -- reads ---------------------------------------------------------------------------

    @property
    def n_cycles(self) -> int:
        """Return the number of cycles held."""
        return self._n_cycles

    @property
    def n_pools(self) -> int:
        """Return the number of pool ids of the graph (one past the highest)."""
        return int(self._token0.shape[0])

    @property
    def n_tokens(self) -> int:
        """Return the number of token ids of the graph."""
        return self._n_tokens

    @property
    def pools(self) -> np.ndarray:
        """Return int64[n_cycles, 4]: pool id of each hop, -1 past the cycle's length."""
        return self._pools[: self._n_cycles]

    @property
    def zero_for_one(self) -> np.ndarray:
        """Return bool[n_cycles, 4]: the hop sells the pool's token0."""
        return self._zfo[: self._n_cycles]

    @property
    def length(self) -> np.ndarray:
        """Return int64[n_cycles]: hops per cycle."""
        return self._length[: self._n_cycles]

    @property
    def base(self) -> np.ndarray:
        """Return int64[n_cycles]: the token id each cycle starts and ends in."""
        return self._base[: self._n_cycles]

    @property
    def pool_token0(self) -> np.ndarray:
        """Return int64[n_pools]: token0 id of each pool id (-1: no pool)."""
        return self._token0

    @property
    def pool_token1(self) -> np.ndarray:
        """Return int64[n_pools]: token1 id of each pool id (-1: no pool)."""
        return self._token1

    def cycle(self, cycle_id: int) -> tuple[tuple[int, bool], ...]:
        """Return the hops (pool id, zero_for_one) of one cycle."""
        if not 0 <= cycle_id < self._n_cycles:
            raise IndexError(f"no cycle {cycle_id} (have {self._n_cycles})")
        n = int(self._length[cycle_id])
        return tuple(
            (int(self._pools[cycle_id, h]), bool(self._zfo[cycle_id, h])) for h in range(n)
        )

    def tokens(self, cycle_id: int) -> tuple[int, ...]:
        """Return the token ids a cycle visits, base first and last."""
        out = [int(self._base[cycle_id])]
        for pool, zfo in self.cycle(cycle_id):
            out.append(int(self._token1[pool] if zfo else self._token0[pool]))
        return tuple(out)

    def touching(self, changed_pools: Iterable[int] | np.ndarray) -> np.ndarray:
        """Return the ids of the cycles through any changed pool, each once (unordered)."""
        changed = np.asarray(
            changed_pools if isinstance(changed_pools, np.ndarray) else list(changed_pools),
            dtype=np.int64,
        )
        changed = changed[(changed >= 0) & (changed < self.n_pools)]
        return cycles_touching(
            changed,
            self._index_start,
            self._index_ids,
            self._pools,
            self._length,
            self._indexed_cycles,
            self._n_cycles,
            self._pool_mark,
            self._cycle_mark,
        )

    # -- growth --------------------------------------------------------------------------

    def add_token(self) -> int:
        """Make room for one more token id; return it."""
        self._n_tokens += 1
        return self._n_tokens - 1

    def add_pool(self, pool_id: int, token0: int, token1: int) -> int:
        """Add a pool joining two token ids; append the cycles through it; return how many."""
        if pool_id < self.n_pools and self._token0[pool_id] >= 0:
            raise ValueError(f"pool {pool_id} is already in the graph")
        if token0 == token1 or not (0 <= token0 < self._n_tokens and 0 <= token1 < self._n_tokens):
            raise ValueError(f"pool {pool_id}: bad token ids {token0}, {token1}")
        if pool_id >= self.n_pools:
            grow = pool_id + 1 - self.n_pools
            self._token0 = np.concatenate([self._token0, np.full(grow, -1, dtype=np.int64)])
            self._token1 = np.concatenate([self._token1, np.full(grow, -1, dtype=np.int64)])
            self._pool_mark = np.zeros(self.n_pools, dtype=np.uint8)
        self._token0[pool_id] = token0
        self._token1[pool_id] = token1
        self._adjacency = adjacency(self._token0, self._token1, self._n_tokens)
        is_base = np.zeros(self._n_tokens, dtype=np.bool_)
        is_base[list(self.base_tokens)] = True
        args = (pool_id, token0, token1, is_base, self.max_hops, *self._adjacency)
        n_new = enumerate_through_pool(*args, False, *self._empty_out())
        if n_new:
            self._reserve(self._n_cycles + n_new)
            lo, hi = self._n_cycles, self._n_cycles + n_new
            enumerate_through_pool(
                *args,
                True,
                self._pools[lo:hi],
                self._zfo[lo:hi],
                self._length[lo:hi],
                self._base[lo:hi],
            )
            self._n_cycles = hi
        tail = self._n_cycles - self._indexed_cycles
        if tail > max(1024, self._indexed_cycles // _TAIL_FRACTION):
            self._reindex()
        return n_new

    def _reserve(self, needed: int) -> None:
        capacity = self._pools.shape[0]
        if needed <= capacity:
            return
        capacity = max(needed, 2 * capacity)
        pools = np.full((capacity, MAX_HOPS), -1, dtype=np.int64)
        zfo = np.zeros((capacity, MAX_HOPS), dtype=np.bool_)
        length = np.zeros(capacity, dtype=np.int64)
        base = np.full(capacity, -1, dtype=np.int64)
        n = self._n_cycles
        pools[:n], zfo[:n], length[:n], base[:n] = (
            self._pools[:n],
            self._zfo[:n],
            self._length[:n],
            self._base[:n],
        )
        self._pools, self._zfo, self._length, self._base = pools, zfo, length, base
        self._cycle_mark = np.zeros(capacity, dtype=np.uint8)


def build_cycles(
    pools: Iterable[tuple[int, str, str]],
    base_addresses: Sequence[str],
    *,
    max_hops: int = 3,
    tokens: TokenIndex | None = None,
) -> tuple[TokenIndex, CycleSet]:
    """Return the token index and cycles of pools given as (pool id, token0, token1).

    Base tokens are addresses; one that no pool holds is still given an id (no cycles).
    """
    tokens = TokenIndex() if tokens is None else tokens
    pool_list = list(pools)
    n_pools = 1 + max((p for p, _, _ in pool_list), default=-1)
    t0 = np.full(n_pools, -1, dtype=np.int64)
    t1 = np.full(n_pools, -1, dtype=np.int64)
    for pool_id, token0, token1 in pool_list:
        if t0[pool_id] >= 0:
            raise ValueError(f"pool id {pool_id} given twice")
        t0[pool_id] = tokens.id_of(token0)
        t1[pool_id] = tokens.id_of(token1)
    bases = [tokens.id_of(address) for address in base_addresses]
    return tokens, CycleSet(t0, t1, len(tokens), bases, max_hops=max_hops)

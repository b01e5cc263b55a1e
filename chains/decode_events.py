"""Protocol facts of the log decoder as data: the accepted events and the rejection reasons.

`EVENTS` lists, per accepted event, its record kind, which indexed entry may emit it, and for
each argument (signature order) its ABI word type, checked for canonical encoding the way
eth_abi's strict decoder checks it, and where the record stores it. `EV_*` are the same
facts as arrays for the numba kernel.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from chains import abi
from chains.abi_fn import AbiEvent
from chains.pool_index import PoolKind
from chains.records import Kind

__all__ = ["EVENTS", "EV_META", "EV_TOPIC0", "EV_WORDS", "MAX_SOURCES", "N_REASONS", "EventSpec"]
__all__ += ["Reason"]


class Reason(enum.IntEnum):
    """Why a log did (ACCEPTED) or did not become a record."""

    ACCEPTED = 0
    UNKNOWN_ADDRESS = 1  # the emitter is not an indexed pool or factory
    UNKNOWN_TOPIC = 2  # no topics, or topic0 is not an event the emitter's kind emits
    WRONG_TOPIC_COUNT = 3
    WRONG_DATA_LENGTH = 4
    BAD_VALUE = 5  # a word is not canonical for its ABI type (padding, int24 sign extension)
    BAD_HEX = 6  # a hex string with a bad digit, odd or wrong length
    MALFORMED_JSON = 7  # broken or truncated JSON, a missing or mistyped key
    MALFORMED_FIELD = 8  # a binary column value of the wrong size (address not 20 bytes, ...)
    REMOVED = 9  # removed: true; reorgs are the feed's job, by parent hash
    NO_RESULT = 10  # a JSON frame without a result (an error reply), counted once per frame


N_REASONS = len(Reason)

# Word types, checked for canonical ABI encoding the way eth_abi's decoder checks them.
T_ANY = 0  # uint256 / int256
T_ADDRESS = 1
T_UINT112 = 2
T_UINT128 = 3
T_UINT160 = 4
T_INT24 = 5
T_UINT24 = 6

# Where a word goes.
D_NONE = -1  # checked, not stored
D_V0, D_V1, D_V2, D_V3 = 0, 1, 2, 3  # value[i], unsigned
D_V0_SIGNED, D_V1_SIGNED = 4, 5  # value[0], value[1], int256 (float mirror signed)
D_TICK, D_TICK_LOWER, D_TICK_UPPER, D_AUX = 6, 7, 8, 9
D_AUX_FEE = 10  # aux = the emitting factory's fee_pips (no word)

# A log's words: sources 0..2 are topics 1..3, sources 3..7 data words 0..4.
MAX_SOURCES = 8


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One accepted event: who may emit it and where each of its words goes."""

    kind: Kind
    event: AbiEvent
    emitter: PoolKind
    words: tuple[tuple[int, int], ...]  # (type, destination) per argument, in signature order

    @property
    def n_topics(self) -> int:
        return 1 + sum(self.event.indexed)

    @property
    def data_len(self) -> int:
        return 32 * (len(self.event.indexed) - sum(self.event.indexed))


def _spec(kind: Kind, event: AbiEvent, emitter: PoolKind, *words: tuple[int, int]) -> EventSpec:
    spec = EventSpec(kind, event, emitter, words)
    if len(words) != len(event.arg_types):
        raise ValueError(f"{event.signature}: {len(words)} word specs")
    return spec


A = (T_ADDRESS, D_NONE)
# fmt: off
EVENTS: tuple[EventSpec, ...] = (
    _spec(Kind.V2_SYNC, abi.V2_SYNC, PoolKind.V2, (T_UINT112, D_V0), (T_UINT112, D_V1)),
    _spec(
        Kind.V2_SWAP,
        abi.V2_SWAP,
        PoolKind.V2,
        A,
        (T_ANY, D_V0),
        (T_ANY, D_V1),
        (T_ANY, D_V2),
        (T_ANY, D_V3),
        A,
    ),
    _spec(Kind.V2_MINT, abi.V2_MINT, PoolKind.V2, A, (T_ANY, D_V0), (T_ANY, D_V1)),
    _spec(Kind.V2_BURN, abi.V2_BURN, PoolKind.V2, A, (T_ANY, D_V0), (T_ANY, D_V1), A),
    _spec(
        Kind.V3_SWAP,
        abi.V3_SWAP,
        PoolKind.V3,
        A,
        A,
        (T_ANY, D_V0_SIGNED),
        (T_ANY, D_V1_SIGNED),
        (T_UINT160, D_V2),
        (T_UINT128, D_V3),
        (T_INT24, D_TICK),
    ),
    _spec(
        Kind.V3_MINT,
        abi.V3_MINT,
        PoolKind.V3,
        A,
        A,
        (T_INT24, D_TICK_LOWER),
        (T_INT24, D_TICK_UPPER),
        (T_UINT128, D_V0),
        (T_ANY, D_V1),
        (T_ANY, D_V2),
    ),
    _spec(
        Kind.V3_BURN,
        abi.V3_BURN,
        PoolKind.V3,
        A,
        (T_INT24, D_TICK_LOWER),
        (T_INT24, D_TICK_UPPER),
        (T_UINT128, D_V0),
        (T_ANY, D_V1),
        (T_ANY, D_V2),
    ),
    _spec(Kind.V3_INITIALIZE, abi.V3_INITIALIZE, PoolKind.V3, (T_UINT160, D_V2), (T_INT24, D_TICK)),
    _spec(
        Kind.PAIR_CREATED,
        abi.V2_PAIR_CREATED,
        PoolKind.V2_FACTORY,
        (T_ADDRESS, D_V0),
        (T_ADDRESS, D_V1),
        (T_ADDRESS, D_V2),
        (T_ANY, D_AUX_FEE),
    ),
    _spec(
        Kind.POOL_CREATED,
        abi.V3_POOL_CREATED,
        PoolKind.V3_FACTORY,
        (T_ADDRESS, D_V0),
        (T_ADDRESS, D_V1),
        (T_UINT24, D_AUX),
        (T_INT24, D_TICK),
        (T_ADDRESS, D_V2),
    ),
)
# fmt: on


def _tables() -> tuple[np.ndarray, ...]:
    """Return the EVENTS table as arrays for the kernel."""
    n = len(EVENTS)
    topic0 = np.zeros((n, 4), dtype=np.uint64)  # big-endian 8-byte words, first bytes first
    meta = np.zeros((n, 4), dtype=np.int64)  # kind, emitter, n_topics, data_len
    words = np.full((n, MAX_SOURCES, 2), -1, dtype=np.int64)  # (type, dest); -1 = no word
    for e, spec in enumerate(EVENTS):
        topic0[e] = [int.from_bytes(spec.event.topic0[k : k + 8], "big") for k in range(0, 32, 8)]
        meta[e] = (int(spec.kind), int(spec.emitter), spec.n_topics, spec.data_len)
        topic_src, data_src = 0, 3
        for is_indexed, (wtype, dest) in zip(spec.event.indexed, spec.words, strict=True):
            src = topic_src if is_indexed else data_src
            words[e, src] = (wtype, dest)
            if is_indexed:
                topic_src += 1
            else:
                data_src += 1
    return topic0, meta, words


EV_TOPIC0, EV_META, EV_WORDS = _tables()

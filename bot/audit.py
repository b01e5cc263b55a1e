"""The append-only audit log: every verdict, every intent and its states, on disk first.

One SQLite file in WAL mode with ``synchronous=FULL``: a write returns only after its commit
reached the disk, so the caller sends a bundle only after ``record_intent`` returned. Rows
are only ever inserted; triggers refuse UPDATE and DELETE on every table.

An intent holds the exact signed bytes. After a crash, ``in_flight()`` lists the intents
whose fate is unknown; start-up reconciles them with the chain and re-sends the SAME raw
bytes or records their end, never re-signs with a new nonce (``used_nonces`` says which
nonces are taken). Nothing secret is stored: signed transactions are public once sent.

States and the transitions allowed (``TRANSITIONS``)::

    intent      -> signed | sent | failed | expired | cancelled
    signed      -> sent | failed | expired | cancelled
    sent        -> sent (re-sent, same bytes) | included | failed | expired | cancelled
    included    -> reorged_out
    failed      -> reorged_out          (a reverted bundle landed; a reorg can remove it)
    expired     -> included             (only a reorg can: the new chain holds the bundle)
    reorged_out -> sent | included | failed | expired
    cancelled   -> (none)

``intent`` is written with the intent itself; ``record_state`` writes the rest. An
``included`` state carries ``pnl_wei`` in its detail; ``reorged_out`` repeats the PnL it
removes, so ``pnl_wei()`` is a plain sum.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.risk import RiskLimits, Verdict
from graph.actions import Candidate

__all__ = [
    "IN_FLIGHT_STATES",
    "STATES",
    "TRANSITIONS",
    "AuditLog",
    "Intent",
]

TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "intent": frozenset(("signed", "sent", "failed", "expired", "cancelled")),
        "signed": frozenset(("sent", "failed", "expired", "cancelled")),
        "sent": frozenset(("sent", "included", "failed", "expired", "cancelled")),
        "included": frozenset(("reorged_out",)),
        "failed": frozenset(("reorged_out",)),
        "expired": frozenset(("included",)),
        "reorged_out": frozenset(("sent", "included", "failed", "expired")),
        "cancelled": frozenset(),
    }
)
STATES = tuple(TRANSITIONS)
# Fate unknown: start-up must reconcile these with the chain (a reorged-out bundle's nonce
# is free again on the new chain, so it is as undecided as one never seen on chain).
IN_FLIGHT_STATES = frozenset(("intent", "signed", "sent", "reorged_out"))

_HEX_RE = re.compile(r"0x(?:[0-9a-f]{2})+")
_TX_HASH_RE = re.compile(r"0x[0-9a-f]{64}")
_SCHEMA_VERSION = 2  # 2 added block_reports; a version-1 file gains the table on open
_TABLES = ("verdicts", "intents", "states", "block_reports")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    block_number INTEGER NOT NULL,
    candidate_id TEXT NOT NULL,
    candidate_json TEXT NOT NULL,
    approved INTEGER NOT NULL CHECK (approved IN (0, 1)),
    reason TEXT,
    limit_detail TEXT,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS intents (
    intent_id TEXT PRIMARY KEY,
    candidate_id TEXT NOT NULL,
    candidate_json TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    target_block INTEGER NOT NULL,
    raw_txs TEXT NOT NULL,
    tx_hashes TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    signer TEXT NOT NULL,
    bundle_uuid TEXT,
    limits_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS states (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    intent_id TEXT NOT NULL REFERENCES intents (intent_id),
    state TEXT NOT NULL,
    block_number INTEGER,
    detail_json TEXT,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS block_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    block_number INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    candidates_json TEXT NOT NULL,
    sent INTEGER NOT NULL,
    not_sent_json TEXT NOT NULL,
    dropped_json TEXT NOT NULL,
    settled_json TEXT NOT NULL,
    pnl_wei TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS block_reports_by_block ON block_reports (block_number, id);
CREATE INDEX IF NOT EXISTS states_by_intent ON states (intent_id, id);
CREATE INDEX IF NOT EXISTS intents_by_target ON intents (target_block);
CREATE INDEX IF NOT EXISTS intents_by_signer ON intents (signer, nonce);
"""


def _schema_statements() -> list[str]:
    tables = [statement for statement in _SCHEMA.split(";") if statement.strip()]
    triggers = [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only: {op} on {table}'); END"
        for table in _TABLES
        for op in ("UPDATE", "DELETE")
    ]
    return tables + triggers


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    """One recorded intent: the candidate, the exact signed bytes and what they were bound to."""

    intent_id: str
    candidate: Candidate
    block_number: int
    block_hash: str
    target_block: int
    raw_txs: tuple[bytes, ...]
    tx_hashes: tuple[str, ...]
    nonce: int
    signer: str
    bundle_uuid: str | None
    limits: dict[str, Any]
    created_at: float


class AuditLog:
    """Append-only SQLite log of verdicts, intents and intent states."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: every write below runs in its own explicit BEGIN IMMEDIATE.
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{self.path}: WAL mode refused (journal_mode={mode})")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self._write():
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, _SCHEMA_VERSION):
                raise RuntimeError(
                    f"{self.path}: audit schema {version}, expected at most {_SCHEMA_VERSION}"
                )
            for statement in _schema_statements():
                self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pragma(self, name: str) -> object:
        """Return this connection's value of `journal_mode` or `synchronous` (for checks)."""
        if name not in ("journal_mode", "synchronous"):
            raise ValueError(f"not an audited pragma: {name!r}")
        return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    # -- writes -----------------------------------------------------------------------------

    def record_verdict(self, block_number: int, candidate: Candidate, verdict: Verdict) -> None:
        """Append the gate's verdict on `candidate`, seen at `block_number`; durable on return."""
        with self._write():
            self._insert_verdict(block_number, candidate, verdict)

    def _insert_verdict(self, block_number: int, candidate: Candidate, verdict: Verdict) -> None:
        self._conn.execute(
            "INSERT INTO verdicts (block_number, candidate_id, candidate_json, approved, "
            "reason, limit_detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                block_number,
                candidate.candidate_id,
                _candidate_json(candidate),
                int(verdict.approved),
                verdict.reason,
                verdict.limit,
                self._clock(),
            ),
        )

    def record_intent(
        self,
        *,
        intent_id: str,
        candidate: Candidate,
        raw_txs: Sequence[bytes],
        tx_hashes: Sequence[str],
        nonce: int,
        signer: str,
        bundle_uuid: str | None,
        limits: RiskLimits,
        verdict: Verdict | None = None,
    ) -> Intent:
        """Append an intent in state `intent`; return only once it is on disk. Send after.

        `verdict`, when given, is the gate's approval of this candidate, written in the same
        transaction (one commit, one sync to disk, for both).
        """
        if not raw_txs or len(raw_txs) != len(tx_hashes):
            raise ValueError("an intent needs its raw transactions and one hash for each")
        hashes = tuple(h.lower() for h in tx_hashes)
        for tx_hash in hashes:
            if _TX_HASH_RE.fullmatch(tx_hash) is None:
                raise ValueError(f"not a transaction hash: {tx_hash!r}")
        if nonce < 0:
            raise ValueError(f"nonce must not be negative: {nonce}")
        intent = Intent(
            intent_id=intent_id,
            candidate=candidate,
            block_number=candidate.block_number,
            block_hash=candidate.block_hash,
            target_block=candidate.target_block,
            raw_txs=tuple(bytes(tx) for tx in raw_txs),
            tx_hashes=hashes,
            nonce=nonce,
            signer=signer.lower(),
            bundle_uuid=bundle_uuid,
            limits=limits.to_json(),
            created_at=self._clock(),
        )
        with self._write():
            if verdict is not None:
                self._insert_verdict(candidate.block_number, candidate, verdict)
            self._conn.execute(
                "INSERT INTO intents (intent_id, candidate_id, candidate_json, block_number, "
                "block_hash, target_block, raw_txs, tx_hashes, nonce, signer, bundle_uuid, "
                "limits_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    intent.intent_id,
                    candidate.candidate_id,
                    _candidate_json(candidate),
                    intent.block_number,
                    intent.block_hash,
                    intent.target_block,
                    json.dumps(["0x" + tx.hex() for tx in intent.raw_txs]),
                    json.dumps(list(intent.tx_hashes)),
                    intent.nonce,
                    intent.signer,
                    intent.bundle_uuid,
                    json.dumps(intent.limits, sort_keys=True),
                    intent.created_at,
                ),
            )
            self._insert_state(intent_id, "intent", candidate.block_number, None)
        return intent

    def record_state(
        self,
        intent_id: str,
        state: str,
        *,
        block_number: int | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append a state of an intent; a transition TRANSITIONS does not allow is a ValueError.

        `included` needs detail["pnl_wei"] (int); `reorged_out` records the PnL it removes.
        """
        if state not in TRANSITIONS or state == "intent":
            raise ValueError(f"unknown state {state!r}; expected one of {STATES[1:]}")
        extra = dict(detail or {})
        if state == "included":
            pnl = extra.get("pnl_wei")
            if isinstance(pnl, bool) or not isinstance(pnl, int):
                raise ValueError("an included state needs detail['pnl_wei'] as an int")
            extra["pnl_wei"] = str(pnl)
        with self._write():
            last = self._last_state(intent_id)
            if last is None:
                raise ValueError(f"no intent {intent_id!r}")
            if state not in TRANSITIONS[last[0]]:
                raise ValueError(f"intent {intent_id!r}: {last[0]} -> {state} is not allowed")
            if state == "reorged_out":
                removed = last[1].get("pnl_wei", "0") if last[0] == "included" else "0"
                extra["pnl_wei"] = removed
            self._insert_state(intent_id, state, block_number, extra or None)

    def record_block(
        self,
        block_number: int,
        block_hash: str,
        *,
        candidates: Sequence[Candidate],
        sent: int,
        not_sent: Mapping[str, int],
        dropped: Mapping[str, int],
        settled: Mapping[str, int],
        pnl_wei: int,
    ) -> None:
        """Append one block's bookkeeping: what was found, sent, not sent and why, settled.

        `candidates` are every exact candidate the search kept for the block (sent or not);
        `not_sent` counts the ones not sent by reason (paused, refused, stale, ...);
        `dropped` the re-pricer's drops by reason; `settled` the bundles booked at this
        block by outcome (included, failed, expired); `pnl_wei` their summed PnL.
        """
        with self._write():
            self._conn.execute(
                "INSERT INTO block_reports (block_number, block_hash, candidates_json, sent, "
                "not_sent_json, dropped_json, settled_json, pnl_wei, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    block_number,
                    block_hash,
                    json.dumps([c.to_json() for c in candidates], sort_keys=True),
                    sent,
                    json.dumps(dict(not_sent), sort_keys=True),
                    json.dumps(dict(dropped), sort_keys=True),
                    json.dumps(dict(settled), sort_keys=True),
                    str(pnl_wei),
                    self._clock(),
                ),
            )

    # -- reads ------------------------------------------------------------------------------

    def block_reports(self) -> list[dict[str, Any]]:
        """Return the block bookkeeping rows, oldest first (candidates as `Candidate`s).

        A block seen twice (a reorg replaced it) has one row per time it was seen.
        """
        rows = self._conn.execute(
            "SELECT block_number, block_hash, candidates_json, sent, not_sent_json, "
            "dropped_json, settled_json, pnl_wei FROM block_reports ORDER BY id"
        )
        return [
            {
                "block_number": number,
                "block_hash": block_hash,
                "candidates": [Candidate.from_json(c) for c in json.loads(cands)],
                "sent": sent,
                "not_sent": json.loads(not_sent),
                "dropped": json.loads(dropped),
                "settled": json.loads(settled),
                "pnl_wei": int(pnl),
            }
            for number, block_hash, cands, sent, not_sent, dropped, settled, pnl in rows
        ]

    def last_state(self, intent_id: str) -> str | None:
        """Return the intent's latest state, or None for an unknown intent."""
        last = self._last_state(intent_id)
        return None if last is None else last[0]

    def intent(self, intent_id: str) -> Intent | None:
        """Return the recorded intent, or None."""
        rows = self._intents("WHERE intent_id = ?", (intent_id,))
        return rows[0] if rows else None

    def in_flight(self) -> list[Intent]:
        """Return intents whose latest state is intent, signed, sent or reorged_out."""
        marks = ", ".join("?" for _ in IN_FLIGHT_STATES)
        return self._intents(
            "WHERE (SELECT s.state FROM states s WHERE s.intent_id = intents.intent_id "
            f"ORDER BY s.id DESC LIMIT 1) IN ({marks})",
            tuple(sorted(IN_FLIGHT_STATES)),
        )

    def intents_for_block(self, block_number: int) -> list[Intent]:
        """Return the intents that targeted `block_number`."""
        return self._intents("WHERE target_block = ?", (block_number,))

    def pnl_wei(self) -> int:
        """Return PnL in wei: the sum over included states minus the reorged-out ones."""
        rows = self._conn.execute(
            "SELECT state, detail_json FROM states WHERE state IN ('included', 'reorged_out')"
        )
        total = 0
        for state, detail in rows:
            pnl = int(json.loads(detail)["pnl_wei"])
            total += pnl if state == "included" else -pnl
        return total

    def used_nonces(self, signer: str) -> frozenset[int]:
        """Return every nonce an intent of `signer` was signed with (never sign them again)."""
        rows = self._conn.execute(
            "SELECT nonce FROM intents WHERE signer = ?", (signer.lower(),)
        ).fetchall()
        return frozenset(row[0] for row in rows)

    def verdicts(self, block_number: int | None = None) -> list[tuple[str, bool, str | None]]:
        """Return (candidate_id, approved, reason) of recorded verdicts, oldest first."""
        where, args = (
            ("", ()) if block_number is None else ("WHERE block_number = ?", (block_number,))
        )
        rows = self._conn.execute(
            f"SELECT candidate_id, approved, reason FROM verdicts {where} ORDER BY id", args
        )
        return [(cid, bool(approved), reason) for cid, approved, reason in rows]

    # -- internals --------------------------------------------------------------------------

    def _write(self) -> _Transaction:
        return _Transaction(self._conn)

    def _insert_state(
        self, intent_id: str, state: str, block_number: int | None, detail: dict[str, Any] | None
    ) -> None:
        self._conn.execute(
            "INSERT INTO states (intent_id, state, block_number, detail_json, at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                intent_id,
                state,
                block_number,
                None if detail is None else json.dumps(detail, sort_keys=True),
                self._clock(),
            ),
        )

    def _last_state(self, intent_id: str) -> tuple[str, dict[str, Any]] | None:
        row = self._conn.execute(
            "SELECT state, detail_json FROM states WHERE intent_id = ? ORDER BY id DESC LIMIT 1",
            (intent_id,),
        ).fetchone()
        if row is None:
            return None
        return row[0], ({} if row[1] is None else json.loads(row[1]))

    def _intents(self, where: str, args: Iterable[object]) -> list[Intent]:
        rows = self._conn.execute(
            "SELECT intent_id, candidate_json, block_number, block_hash, target_block, raw_txs, "
            f"tx_hashes, nonce, signer, bundle_uuid, limits_json, created_at FROM intents {where} "
            "ORDER BY created_at, intent_id",
            tuple(args),
        )
        return [_intent_from_row(row) for row in rows]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _candidate_json(candidate: Candidate) -> str:
    return json.dumps(candidate.to_json(), sort_keys=True)


def _intent_from_row(row: Sequence[Any]) -> Intent:
    (
        intent_id,
        cand,
        block_number,
        block_hash,
        target,
        raw,
        hashes,
        nonce,
        signer,
        uuid,
        lim,
        at,
    ) = row
    raw_txs = json.loads(raw)
    for tx in raw_txs:
        if _HEX_RE.fullmatch(tx) is None:
            raise ValueError(f"intent {intent_id!r}: corrupt raw transaction {tx[:20]!r}")
    return Intent(
        intent_id=intent_id,
        candidate=Candidate.from_json(json.loads(cand)),
        block_number=block_number,
        block_hash=block_hash,
        target_block=target,
        raw_txs=tuple(bytes.fromhex(tx[2:]) for tx in raw_txs),
        tx_hashes=tuple(json.loads(hashes)),
        nonce=nonce,
        signer=signer,
        bundle_uuid=uuid,
        limits=json.loads(lim),
        created_at=at,
    )

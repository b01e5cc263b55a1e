"""bot.audit: durable before send, append-only, transitions, crash recovery, WAL readers."""

from __future__ import annotations

import importlib.util
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.audit import STATES, TRANSITIONS, AuditLog
from bot.risk import RiskLimits, Verdict

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "risk_tests", Path(__file__).with_name("test_risk.py")
)
assert _spec is not None and _spec.loader is not None
_risk_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_risk_tests)
make_candidate = _risk_tests.make_candidate
LIMITS: RiskLimits = _risk_tests.LIMITS

SIGNER = "0x" + "5e" * 20
RAW = (bytes.fromhex("02f8b1") + bytes(range(40)), bytes.fromhex("02f8b2") + b"\xff" * 33)
HASHES = ("0x" + "ab" * 32, "0x" + "CD" * 32)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    with AuditLog(tmp_path / "audit.sqlite3") as audit:
        yield audit


def _intent(log: AuditLog, intent_id: str = "i1", *, nonce: int = 7, target: int = 101) -> None:
    log.record_intent(
        intent_id=intent_id,
        candidate=make_candidate(target_block=target),
        raw_txs=RAW,
        tx_hashes=HASHES,
        nonce=nonce,
        signer=SIGNER,
        bundle_uuid="uuid-1",
        limits=LIMITS,
    )


def test_wal_and_full_sync(log: AuditLog) -> None:
    assert log.pragma("journal_mode") == "wal"
    assert log.pragma("synchronous") == 2  # FULL
    other = sqlite3.connect(log.path)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()


def test_intent_round_trip(log: AuditLog) -> None:
    _intent(log)
    intent = log.intent("i1")
    assert intent is not None
    assert intent.raw_txs == RAW
    assert intent.tx_hashes == (HASHES[0], HASHES[1].lower())
    assert intent.candidate == make_candidate(target_block=101)
    assert intent.block_number == 100 and intent.target_block == 101
    assert intent.limits["max_input_wei"] == str(LIMITS.max_input_wei)
    assert log.last_state("i1") == "intent"
    assert log.last_state("nope") is None
    assert [i.intent_id for i in log.intents_for_block(101)] == ["i1"]
    assert log.intents_for_block(100) == []
    assert log.used_nonces(SIGNER.upper().replace("0X", "0x")) == {7}
    with pytest.raises(sqlite3.IntegrityError):
        _intent(log)  # the intent id is the primary key
    with pytest.raises(ValueError, match="one hash for each"):
        log.record_intent(
            intent_id="i2",
            candidate=make_candidate(),
            raw_txs=RAW,
            tx_hashes=HASHES[:1],
            nonce=8,
            signer=SIGNER,
            bundle_uuid=None,
            limits=LIMITS,
        )


def test_verdicts_are_recorded(log: AuditLog) -> None:
    cand = make_candidate()
    log.record_verdict(100, cand, Verdict(True))
    log.record_verdict(100, cand, Verdict(False, "over_max_input", "max_input_wei=1"))
    log.record_verdict(101, cand, Verdict(False, "kill_switch", "kill_switch_file=/x"))
    assert log.verdicts(100) == [
        (cand.candidate_id, True, None),
        (cand.candidate_id, False, "over_max_input"),
    ]
    assert len(log.verdicts()) == 3


def test_every_table_refuses_update_and_delete(log: AuditLog) -> None:
    _intent(log)
    log.record_verdict(100, make_candidate(), Verdict(True))
    raw = sqlite3.connect(log.path)
    for statement in (
        "UPDATE verdicts SET approved = 0",
        "DELETE FROM verdicts",
        "UPDATE intents SET nonce = 8",
        "DELETE FROM intents",
        "UPDATE states SET state = 'included'",
        "DELETE FROM states",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(statement)
    raw.close()
    assert log.last_state("i1") == "intent"
    assert log.used_nonces(SIGNER) == {7}


def test_transition_table_is_pinned() -> None:
    assert {state: set(targets) for state, targets in TRANSITIONS.items()} == {
        "intent": {"signed", "sent", "failed", "expired", "cancelled"},
        "signed": {"sent", "failed", "expired", "cancelled"},
        "sent": {"sent", "included", "failed", "expired", "cancelled"},
        "included": {"reorged_out"},
        "failed": {"reorged_out"},
        "expired": {"included"},
        "reorged_out": {"sent", "included", "failed", "expired"},
        "cancelled": set(),
    }


@pytest.mark.parametrize(
    "path",
    [
        ["sent", "included"],
        ["signed", "sent", "sent", "expired", "included", "reorged_out", "sent", "failed"],
        ["sent", "included", "reorged_out", "included"],
        ["sent", "failed", "reorged_out", "expired"],
        ["cancelled"],
    ],
)
def test_allowed_paths(log: AuditLog, path: list[str]) -> None:
    _intent(log)
    for block, state in enumerate(path, start=101):
        detail = {"pnl_wei": 5} if state == "included" else None
        log.record_state("i1", state, block_number=block, detail=detail)
    assert log.last_state("i1") == path[-1]


def test_every_refused_transition_raises(tmp_path: Path) -> None:
    # Reach each state, then try every state it may not move to.
    reach = {
        "intent": [],
        "signed": ["signed"],
        "sent": ["sent"],
        "included": ["sent", "included"],
        "failed": ["failed"],
        "expired": ["expired"],
        "cancelled": ["cancelled"],
        "reorged_out": ["sent", "included", "reorged_out"],
    }
    assert set(reach) == set(STATES)
    refused = 0
    with AuditLog(tmp_path / "a.sqlite3") as log:
        for n, (start, steps) in enumerate(reach.items()):
            for m, target in enumerate(s for s in STATES if s not in TRANSITIONS[start]):
                intent_id = f"{n}-{m}"
                _intent(log, intent_id, nonce=100 * n + m)
                for step in steps:
                    detail = {"pnl_wei": 1} if step == "included" else None
                    log.record_state(intent_id, step, detail=detail)
                assert log.last_state(intent_id) == start
                with pytest.raises(ValueError, match=r"not allowed|unknown state"):
                    log.record_state(intent_id, target, detail={"pnl_wei": 1})
                assert log.last_state(intent_id) == start
                refused += 1
    assert refused > 30


def test_states_refuse_unknown_intents_and_included_without_pnl(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="no intent"):
        log.record_state("ghost", "sent")
    _intent(log)
    log.record_state("i1", "sent")
    with pytest.raises(ValueError, match="pnl_wei"):
        log.record_state("i1", "included")
    with pytest.raises(ValueError, match="unknown state"):
        log.record_state("i1", "landed")
    assert log.last_state("i1") == "sent"


def test_pnl_sums_included_minus_reorged_out(log: AuditLog) -> None:
    for n, pnl in enumerate((10**30, -3, 11)):
        _intent(log, f"i{n}", nonce=n)
        log.record_state(f"i{n}", "sent")
        log.record_state(f"i{n}", "included", detail={"pnl_wei": pnl})
    assert log.pnl_wei() == 10**30 + 8
    log.record_state("i0", "reorged_out", block_number=105)
    assert log.pnl_wei() == 8
    log.record_state("i0", "included", block_number=106, detail={"pnl_wei": 10**30 - 1})
    assert log.pnl_wei() == 10**30 + 7


def test_in_flight_lists_undecided_intents(log: AuditLog) -> None:
    for n in range(5):
        _intent(log, f"i{n}", nonce=n)
    log.record_state("i1", "signed")
    log.record_state("i2", "sent")
    log.record_state("i3", "sent")
    log.record_state("i3", "included", detail={"pnl_wei": 1})
    log.record_state("i4", "cancelled")
    assert [i.intent_id for i in log.in_flight()] == ["i0", "i1", "i2"]
    log.record_state("i3", "reorged_out")  # its nonce is free again on the new chain
    assert [i.intent_id for i in log.in_flight()] == ["i0", "i1", "i2", "i3"]
    assert log.used_nonces(SIGNER) == {0, 1, 2, 3, 4}


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import importlib.util
    spec = importlib.util.spec_from_file_location("risk_tests", {risk_tests!r})
    risk_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(risk_tests)
    from bot.audit import AuditLog
    log = AuditLog(Path({path!r}))
    log.record_intent(
        intent_id="crash", candidate=risk_tests.make_candidate(), raw_txs={raw!r},
        tx_hashes={hashes!r}, nonce=42, signer={signer!r}, bundle_uuid=None,
        limits=risk_tests.LIMITS,
    )
    if {after_send!r}:
        log.record_state("crash", "sent", block_number=101)
        print("sent", flush=True)
    else:
        print("recorded", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("after_send", [False, True])
def test_crash_leaves_the_intent_in_flight_with_its_raw_bytes(
    tmp_path: Path, after_send: bool
) -> None:
    path = tmp_path / "audit.sqlite3"
    code = _CHILD.format(
        root=str(ROOT),
        risk_tests=str(Path(__file__).with_name("test_risk.py")),
        path=str(path),
        raw=RAW,
        hashes=HASHES,
        signer=SIGNER,
        after_send=after_send,
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == ("sent" if after_send else "recorded")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with AuditLog(path) as log:
        [intent] = log.in_flight()
        assert intent.intent_id == "crash"
        assert intent.raw_txs == RAW  # re-send these exact bytes; never re-sign
        assert intent.nonce == 42
        assert log.used_nonces(SIGNER) == {42}
        assert log.last_state("crash") == ("sent" if after_send else "intent")


def test_reader_is_not_blocked_by_an_open_write(log: AuditLog) -> None:
    _intent(log, "committed", nonce=1)
    writer = sqlite3.connect(log.path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO states (intent_id, state, at) VALUES ('committed', 'sent', 0)")
    # WAL: the reader sees the last commit, without waiting for the writer's lock.
    reader = sqlite3.connect(log.path, timeout=0)
    state = reader.execute(
        "SELECT state FROM states WHERE intent_id = 'committed' ORDER BY id DESC LIMIT 1"
    ).fetchone()[0]
    assert state == "intent"
    assert log.last_state("committed") == "intent"
    writer.execute("COMMIT")
    assert log.last_state("committed") == "sent"
    writer.close()
    reader.close()


def test_concurrent_reader_sees_a_growing_consistent_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    AuditLog(path).close()
    n_intents = 150
    seen: list[int] = []
    errors: list[BaseException] = []
    ready = threading.Event()
    done = threading.Event()

    def read() -> None:
        try:
            with AuditLog(path) as reader:
                ready.set()
                while True:
                    finished = done.is_set()  # read once more after the writer is done
                    flying = reader.in_flight()
                    for intent in flying:
                        assert intent.raw_txs == RAW  # never a half-written row
                    seen.append(len(flying))
                    if finished:
                        return
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=read)
    thread.start()
    try:
        assert ready.wait(timeout=30)
        with AuditLog(path) as writer:
            for n in range(n_intents):
                _intent(writer, f"i{n}", nonce=n)
    finally:
        done.set()
        thread.join()
    assert not errors, errors
    assert seen[-1] == n_intents
    assert seen == sorted(seen)  # the in-flight count only grows while intents are added
    with AuditLog(path) as log:
        assert len(log.in_flight()) == n_intents


def test_block_reports_round_trip_exact_and_append_only(log: AuditLog) -> None:
    big = make_candidate(target_block=101)
    log.record_block(
        100,
        "0x" + "11" * 32,
        candidates=[big, make_candidate(target_block=101)],
        sent=1,
        not_sent={"simulation_failed": 1},
        dropped={"block_budget_used": 3},
        settled={"included": 2},
        pnl_wei=2**200 + 1,  # beyond SQLite's int64: stored exactly
    )
    log.record_block(
        101,
        "0x" + "22" * 32,
        candidates=[],
        sent=0,
        not_sent={},
        dropped={},
        settled={},
        pnl_wei=-5,
    )
    rows = log.block_reports()
    assert [r["block_number"] for r in rows] == [100, 101]
    assert rows[0]["candidates"][0] == big
    assert rows[0]["not_sent"] == {"simulation_failed": 1}
    assert rows[0]["settled"] == {"included": 2} and rows[0]["pnl_wei"] == 2**200 + 1
    assert rows[1]["pnl_wei"] == -5
    raw = sqlite3.connect(log.path)
    for statement in ("UPDATE block_reports SET sent = 9", "DELETE FROM block_reports"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(statement)
    raw.close()


def test_a_version_1_log_gains_the_block_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with AuditLog(path) as audit:
        _intent(audit)
    raw = sqlite3.connect(path)
    raw.execute("DROP TRIGGER block_reports_no_update")
    raw.execute("DROP TRIGGER block_reports_no_delete")
    raw.execute("DROP TABLE block_reports")
    raw.execute("PRAGMA user_version=1")
    raw.commit()
    raw.close()
    with AuditLog(path) as audit:
        assert audit.last_state("i1") == "intent"
        assert audit.block_reports() == []
        assert audit.pragma("journal_mode") == "wal"

"""The risk gate: every limit, checked on exact integers before anything is signed.

`RiskGate.check` decides and mutates nothing; `admit` re-checks and reserves what an approved
bundle puts at risk (its input notional per token, its worst-case loss, a slot in its target
block); `settle` releases the reservation and books the outcome; `rollback` undoes a
settlement when a reorg removed the block that held it, putting the intent back in flight.

Losses are kept by timestamp for rolling hour and day windows. The breaker trips on
`max_consecutive_failures` failures in a row or on losses past the hour or day limit; only
`reset_breaker(operator)` clears it. The kill switch is a file: while it exists nothing is
sent; SIGUSR1 creates it. Everything but the kill switch lives in one JSON state file,
rewritten atomically on every change, so a restart resumes with the same breaker, losses,
in-flight exposure and denied tokens. No network I/O and no secret material here.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from chains.config_profile import Profile
from graph.actions import Candidate

__all__ = [
    "FAILURE_OUTCOMES",
    "KILL_SWITCH_POLL_S",
    "OUTCOMES",
    "REASONS",
    "RiskGate",
    "RiskLimits",
    "Verdict",
    "candidate_tokens",
    "worst_case_loss_wei",
]

log = logging.getLogger(__name__)

BPS_DENOMINATOR = 10_000
HOUR_S = 3_600.0
DAY_S = 86_400.0
KILL_SWITCH_POLL_S = 0.25  # new sends stop within one poll of the file appearing
_BLOCKS_KEPT = 256  # per-block bundle counts kept behind the newest target block
_STATE_VERSION = 1
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")

REASONS = (
    "kill_switch",
    "breaker_tripped",
    "below_min_profit",
    "over_max_input",
    "over_max_gas_price",
    "over_max_gas_units",
    "over_max_tip_share",
    "over_bundles_per_block",
    "over_loss_per_hour",
    "over_loss_per_day",
    "token_denied",
    "token_not_allowed",
    "over_token_exposure",
)
OUTCOMES = ("included", "failed", "reverted", "expired", "cancelled")
# a bundle that expired unmined cost nothing (someone else won the block): not a failure
FAILURE_OUTCOMES = frozenset(("failed", "reverted"))
_LANDED_OUTCOMES = frozenset(("included", "reverted"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    """Every limit the gate enforces; wei amounts exact, token addresses lowercase."""

    min_net_profit_wei: int
    max_input_wei: int
    max_gas_price_wei: int
    max_gas_units: int
    max_tip_share_bps: int
    max_bundles_per_block: int
    max_loss_per_hour_wei: int
    max_loss_per_day_wei: int
    max_consecutive_failures: int
    max_token_exposure_wei: int
    token_allow: frozenset[str] = frozenset()
    token_deny: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0 <= self.max_tip_share_bps <= BPS_DENOMINATOR:
            raise ValueError(f"max_tip_share_bps must be in 0..10000: {self.max_tip_share_bps}")
        if self.max_consecutive_failures < 1 or self.max_bundles_per_block < 1:
            raise ValueError("max_consecutive_failures and max_bundles_per_block must be >= 1")
        for name in ("token_allow", "token_deny"):
            tokens = frozenset(_token(t) for t in getattr(self, name))
            object.__setattr__(self, name, tokens)

    @classmethod
    def from_profile(cls, profile: Profile) -> RiskLimits:
        """Build the limits from a profile's [strategy] minimum profit and its [risk] table."""
        risk = profile.risk
        return cls(
            min_net_profit_wei=profile.strategy.min_profit_wei,
            max_input_wei=risk.max_input_wei,
            max_gas_price_wei=risk.max_gas_price_wei,
            max_gas_units=risk.max_gas_units,
            max_tip_share_bps=risk.max_tip_share_bps,
            max_bundles_per_block=risk.max_bundles_per_block,
            max_loss_per_hour_wei=risk.max_loss_per_hour_wei,
            max_loss_per_day_wei=risk.max_loss_per_day_wei,
            max_consecutive_failures=risk.max_consecutive_failures,
            max_token_exposure_wei=risk.max_token_exposure_wei,
            token_allow=frozenset(risk.token_allow),
            token_deny=frozenset(risk.token_deny),
        )

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict: amounts as decimal strings, token sets as sorted lists."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, frozenset):
                out[key] = sorted(value)
            elif key.endswith("_wei"):
                out[key] = str(value)
            else:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer: approved, or the reason code and the limit (name=value) it broke."""

    approved: bool
    reason: str | None = None
    limit: str | None = None


_APPROVED = Verdict(True)


def _token(address: str) -> str:
    if not isinstance(address, str) or _ADDRESS_RE.fullmatch(address) is None:
        raise ValueError(f"not a token address: {address!r}")
    return address.lower()


def candidate_tokens(candidate: Candidate) -> tuple[str, ...]:
    """Return every token the candidate routes through, lowercase, in hop order, once each."""
    seen = dict.fromkeys(_token(t) for hop in candidate.hops for t in (hop.token_in, hop.token_out))
    return tuple(seen)


def worst_case_loss_wei(candidate: Candidate) -> int:
    """Return what one attempt can lose at most: gas_units * gas_price_wei + tip_wei."""
    return candidate.gas_cost_wei + candidate.tip_wei


class RiskGate:
    """Check, admit and settle candidates under `RiskLimits`, with persisted state."""

    def __init__(
        self,
        limits: RiskLimits,
        *,
        state_path: Path,
        kill_switch_path: Path,
        clock: Callable[[], float] = time.time,
        durable: bool = True,
    ) -> None:
        self.limits = limits
        # False (backtests only): the state is kept in memory, never written; a replay has
        # nothing to survive and its decisions are the same
        self.durable = durable
        self.state_path = Path(state_path)
        self.kill_switch_path = Path(kill_switch_path)
        self._clock = clock
        self.verdict_counts: Counter[str] = Counter()  # by reason, "approved" for approvals
        self._kill_cached = False
        self._kill_checked_at = -math.inf  # time.monotonic() of the last look at the file
        self._kill_latched = False  # SIGUSR1 arrived but the file could not be created
        self._state = self._load()

    # -- decisions --------------------------------------------------------------------------

    def check(self, candidate: Candidate, *, input_value_wei: int) -> Verdict:
        """Return the verdict on `candidate` whose input is worth `input_value_wei`; no effects."""
        if input_value_wei < 0:
            raise ValueError(f"input_value_wei must not be negative: {input_value_wei}")
        lim = self.limits
        if self.kill_switch_active():
            return Verdict(False, "kill_switch", f"kill_switch_file={self.kill_switch_path}")
        breaker = self._state["breaker"]
        if breaker is not None:
            return Verdict(False, "breaker_tripped", f"breaker={breaker['reason']}")
        if candidate.net_profit_wei < lim.min_net_profit_wei:
            return _refuse("below_min_profit", "min_net_profit_wei", lim.min_net_profit_wei)
        if input_value_wei > lim.max_input_wei:
            return _refuse("over_max_input", "max_input_wei", lim.max_input_wei)
        if candidate.gas_price_wei > lim.max_gas_price_wei:
            return _refuse("over_max_gas_price", "max_gas_price_wei", lim.max_gas_price_wei)
        if candidate.gas_units > lim.max_gas_units:
            return _refuse("over_max_gas_units", "max_gas_units", lim.max_gas_units)
        # The tip is a share of the profit left after gas; compare in integers, no division.
        margin_wei = candidate.profit_wei - candidate.gas_cost_wei
        if candidate.tip_wei * BPS_DENOMINATOR > lim.max_tip_share_bps * max(margin_wei, 0):
            return _refuse("over_max_tip_share", "max_tip_share_bps", lim.max_tip_share_bps)
        in_block = self._state["bundles_by_block"].get(str(candidate.target_block), 0)
        if in_block >= lim.max_bundles_per_block:
            return _refuse(
                "over_bundles_per_block", "max_bundles_per_block", lim.max_bundles_per_block
            )
        worst_wei = worst_case_loss_wei(candidate)
        reserved_wei = sum(int(f["worst_loss_wei"]) for f in self._state["in_flight"].values())
        now = self._clock()
        if self.loss_in_window_wei(HOUR_S, now=now) + reserved_wei + worst_wei > (
            lim.max_loss_per_hour_wei
        ):
            return _refuse("over_loss_per_hour", "max_loss_per_hour_wei", lim.max_loss_per_hour_wei)
        if self.loss_in_window_wei(DAY_S, now=now) + reserved_wei + worst_wei > (
            lim.max_loss_per_day_wei
        ):
            return _refuse("over_loss_per_day", "max_loss_per_day_wei", lim.max_loss_per_day_wei)
        tokens = candidate_tokens(candidate)
        denied = self.denied_tokens
        for token in tokens:
            if token in lim.token_deny or token in denied:
                return Verdict(False, "token_denied", f"token_deny={token}")
        if lim.token_allow:
            for token in tokens:
                if token not in lim.token_allow:
                    return Verdict(False, "token_not_allowed", f"token_allow!={token}")
        for token in tokens:
            if self.exposure_wei(token) + input_value_wei > lim.max_token_exposure_wei:
                return Verdict(
                    False,
                    "over_token_exposure",
                    f"max_token_exposure_wei={lim.max_token_exposure_wei} token={token}",
                )
        return _APPROVED

    def admit(self, candidate: Candidate, intent_id: str, *, input_value_wei: int) -> Verdict:
        """Re-check and, when approved, reserve exposure, worst-case loss and a block slot."""
        if intent_id in self._state["in_flight"] or self._find_settled(intent_id) is not None:
            raise ValueError(f"intent {intent_id!r} was already admitted")
        verdict = self.check(candidate, input_value_wei=input_value_wei)
        self.verdict_counts[verdict.reason or "approved"] += 1
        if not verdict.approved:
            return verdict
        self._state["in_flight"][intent_id] = {
            "candidate_id": candidate.candidate_id,
            "tokens": list(candidate_tokens(candidate)),
            "input_value_wei": str(input_value_wei),
            "worst_loss_wei": str(worst_case_loss_wei(candidate)),
            "target_block": candidate.target_block,
            "admitted_at": self._clock(),
        }
        blocks = self._state["bundles_by_block"]
        key = str(candidate.target_block)
        blocks[key] = blocks.get(key, 0) + 1
        newest = max(int(b) for b in blocks)
        for old in [b for b in blocks if int(b) < newest - _BLOCKS_KEPT]:
            del blocks[old]
        self._save()
        return verdict

    # -- outcomes ---------------------------------------------------------------------------

    def settle(
        self, intent_id: str, *, outcome: str, loss_wei: int, pnl_wei: int, at_block: int
    ) -> None:
        """Book an admitted intent's outcome; loss_wei = gas and tips lost plus any balance drop.

        failed and reverted count toward the consecutive failures, included resets the
        count, expired and cancelled leave it. The breaker is re-evaluated afterwards.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        if loss_wei < 0:
            raise ValueError(f"loss_wei must not be negative: {loss_wei}")
        flight = self._state["in_flight"].pop(intent_id, None)
        if flight is None:
            raise ValueError(f"intent {intent_id!r} is not in flight")
        self._state["seq"] += 1
        self._state["settled"].append(
            {
                "intent_id": intent_id,
                "seq": self._state["seq"],
                "outcome": outcome,
                "loss_wei": str(loss_wei),
                "pnl_wei": str(pnl_wei),
                "at_block": at_block,
                "at": self._clock(),
                "flight": flight,
            }
        )
        self._state["pnl_wei"] = str(int(self._state["pnl_wei"]) + pnl_wei)
        self._prune()
        self._evaluate_breaker()
        self._save()

    def rollback(self, intent_id: str) -> None:
        """Undo the settlement of a landed intent whose block a reorg removed; back in flight.

        Its PnL, loss and place in the failure count are removed exactly; its exposure and
        worst-case reservation are held again until it is settled anew.
        """
        record = self._find_settled(intent_id)
        if record is None:
            raise ValueError(f"intent {intent_id!r} has no settlement to roll back")
        if record["outcome"] not in _LANDED_OUTCOMES:
            raise ValueError(f"intent {intent_id!r} did not land ({record['outcome']})")
        self._state["settled"].remove(record)
        self._state["in_flight"][intent_id] = record["flight"]
        self._state["pnl_wei"] = str(int(self._state["pnl_wei"]) - int(record["pnl_wei"]))
        self._evaluate_breaker()
        self._save()

    # -- breaker and tokens -----------------------------------------------------------------

    @property
    def breaker_tripped(self) -> bool:
        """Return whether the breaker is tripped (it survives restarts until reset)."""
        return self._state["breaker"] is not None

    @property
    def breaker_reason(self) -> str | None:
        """Return why the breaker tripped, or None."""
        breaker = self._state["breaker"]
        return None if breaker is None else str(breaker["reason"])

    def reset_breaker(self, operator: str) -> None:
        """Clear the breaker and the failure count; `operator` names who did it (logged, kept)."""
        if not operator.strip():
            raise ValueError("reset_breaker needs the operator's name")
        previous = self.breaker_reason
        self._state["breaker"] = None
        self._state["failures_from_seq"] = self._state["seq"]
        self._state["last_reset"] = {"operator": operator, "at": self._clock(), "was": previous}
        self._save()
        log.warning("risk breaker reset by %s (was: %s)", operator, previous)

    def deny_token(self, address: str, reason: str) -> None:
        """Deny a token from now on and across restarts (e.g. it delivered less than sent)."""
        token = _token(address)
        if self._state["denied_tokens"].get(token) == reason:
            return
        self._state["denied_tokens"][token] = reason
        self._save()
        log.warning("token %s denied: %s", token, reason)

    @property
    def denied_tokens(self) -> dict[str, str]:
        """Return the tokens denied at run time (lowercase address -> reason)."""
        return dict(self._state["denied_tokens"])

    # -- kill switch ------------------------------------------------------------------------

    def kill_switch_active(self) -> bool:
        """Return whether the kill switch is on; the file is looked at once per 0.25 s."""
        if self._kill_latched:
            return True
        now = time.monotonic()
        if now - self._kill_checked_at >= KILL_SWITCH_POLL_S:
            self._kill_cached = self.kill_switch_path.exists()
            self._kill_checked_at = now
        return self._kill_cached

    def trigger_kill_switch(self, reason: str) -> None:
        """Turn the kill switch on now by creating its file (removing the file clears it)."""
        self._kill_cached = True
        self._kill_checked_at = time.monotonic()
        try:
            self.kill_switch_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.kill_switch_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, f"{reason} at {self._clock():.3f}\n".encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            _fsync_dir(self.kill_switch_path.parent)
        except OSError:
            # Without the file a restart would forget the stop: stay stopped in this process.
            self._kill_latched = True
            log.exception("kill switch file %s could not be written", self.kill_switch_path)

    def install_signal_handler(self) -> None:
        """Make SIGUSR1 turn the kill switch on (call from the main thread)."""
        signal.signal(signal.SIGUSR1, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.trigger_kill_switch(f"signal {signal.Signals(signum).name}")

    # -- accounting reads -------------------------------------------------------------------

    @property
    def consecutive_failures(self) -> int:
        """Return failures since the last standing inclusion or breaker reset."""
        return _count_failures(self._state["settled"], self._failure_floor())

    @property
    def pnl_wei(self) -> int:
        """Return the booked PnL in wei (rolled-back settlements excluded)."""
        return int(self._state["pnl_wei"])

    def loss_in_window_wei(self, window_s: float, *, now: float | None = None) -> int:
        """Return the losses settled within the last `window_s` seconds, in wei."""
        since = (self._clock() if now is None else now) - window_s
        return sum(int(r["loss_wei"]) for r in self._state["settled"] if r["at"] > since)

    def exposure_wei(self, token: str) -> int:
        """Return the input notional (wei) of in-flight intents routing through `token`."""
        token = _token(token)
        return sum(
            int(f["input_value_wei"])
            for f in self._state["in_flight"].values()
            if token in f["tokens"]
        )

    def in_flight(self) -> tuple[str, ...]:
        """Return the ids of admitted intents not yet settled."""
        return tuple(self._state["in_flight"])

    def bundles_for_block(self, block_number: int) -> int:
        """Return how many bundles were admitted for `block_number`."""
        return int(self._state["bundles_by_block"].get(str(block_number), 0))

    # -- internals --------------------------------------------------------------------------

    def _find_settled(self, intent_id: str) -> dict[str, Any] | None:
        for record in self._state["settled"]:
            if record["intent_id"] == intent_id:
                return record
        return None

    def _failure_floor(self) -> int:
        """Return the seq after which failures count: last standing inclusion or reset."""
        floor = self._state["failures_from_seq"]
        for record in self._state["settled"]:
            if record["outcome"] == "included":
                floor = max(floor, record["seq"])
        return floor

    def _evaluate_breaker(self) -> None:
        if self._state["breaker"] is not None:
            return
        lim = self.limits
        now = self._clock()
        reason = None
        if self.consecutive_failures >= lim.max_consecutive_failures:
            reason = f"consecutive_failures={self.consecutive_failures}"
        elif self.loss_in_window_wei(HOUR_S, now=now) > lim.max_loss_per_hour_wei:
            reason = f"loss_per_hour_wei={self.loss_in_window_wei(HOUR_S, now=now)}"
        elif self.loss_in_window_wei(DAY_S, now=now) > lim.max_loss_per_day_wei:
            reason = f"loss_per_day_wei={self.loss_in_window_wei(DAY_S, now=now)}"
        if reason is not None:
            self._state["breaker"] = {"reason": reason, "at": now}
            log.error("risk breaker tripped: %s", reason)

    def _prune(self) -> None:
        """Forget settlements older than a day that no longer bear on the failure count."""
        since = self._clock() - DAY_S
        floor = self._failure_floor()
        self._state["settled"] = [
            r for r in self._state["settled"] if r["at"] > since or r["seq"] >= floor
        ]

    def _load(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return _empty_state()
        # A broken state file is a broken invariant: refuse to start rather than forget it.
        state = json.loads(self.state_path.read_bytes())
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise ValueError(f"{self.state_path}: not a version {_STATE_VERSION} risk state")
        missing = set(_empty_state()) - set(state)
        if missing:
            raise ValueError(f"{self.state_path}: missing {sorted(missing)}")
        return state

    def _save(self) -> None:
        if self.durable:
            _write_atomic(self.state_path, json.dumps(self._state, sort_keys=True).encode())


def _refuse(reason: str, name: str, value: int) -> Verdict:
    return Verdict(False, reason, f"{name}={value}")


def _count_failures(settled: Iterable[dict[str, Any]], floor: int) -> int:
    return sum(1 for r in settled if r["seq"] > floor and r["outcome"] in FAILURE_OUTCOMES)


def _empty_state() -> dict[str, Any]:
    return {
        "version": _STATE_VERSION,
        "breaker": None,
        "last_reset": None,
        "seq": 0,
        "failures_from_seq": 0,
        "settled": [],
        "in_flight": {},
        "bundles_by_block": {},
        "denied_tokens": {},
        "pnl_wei": "0",
    }


def _write_atomic(path: Path, data: bytes) -> None:
    """Write tmp, fsync, rename over `path`, fsync the directory: old or new, never torn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Structured logs: one JSON object per line, redacted, tagged with the block being handled.

`configure_logging` installs one handler (a stream or an append-only file) whose lines are

    {"ts": "2025-01-01T00:00:00.123456Z", "level": "INFO", "logger": "bot.executor",
     "msg": "...", "block": 123, "candidate": "123-7", ...}

with `block`, `candidate` (a candidate id), `intent`, `stage` and `mode` present when the
record carries them: given as `extra=` or, without passing anything, from the enclosing
`BlockContext` / `log_context` (contextvars, so each asyncio task sees its own). An explicit
`extra` wins over the context. `exc` holds the traceback when there is one.

`bot.redact.RedactingFilter` runs on the handler, so every message and traceback is masked
(64-hex strings, URL credentials) before it is formatted; the context fields are masked too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from bot.redact import RedactingFilter, redact

__all__ = [
    "CONTEXT_FIELDS",
    "BlockContext",
    "ContextFilter",
    "JsonFormatter",
    "configure_logging",
    "current_context",
    "log_context",
]

CONTEXT_FIELDS = ("block", "candidate", "intent", "stage", "mode")

# the fields in force for the running task; replaced as a whole, never mutated in place
_CONTEXT: ContextVar[Mapping[str, Any] | None] = ContextVar("arbloop_log_context", default=None)
_INT64_MAX = 2**63 - 1


def current_context() -> dict[str, Any]:
    """Return the context fields in force here (block, candidate, intent, stage, mode)."""
    fields = _CONTEXT.get()
    return {} if fields is None else dict(fields)


def _push(fields: Mapping[str, Any]) -> Token[Mapping[str, Any] | None]:
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"unknown log context fields {sorted(unknown)}: use {CONTEXT_FIELDS}")
    merged = {**current_context(), **{k: v for k, v in fields.items() if v is not None}}
    return _CONTEXT.set(merged)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Tag every line logged in this scope with the given context fields (None: not set)."""
    token = _push(fields)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class BlockContext:
    """Tags every line logged while handling one block with its number (and mode).

    with BlockContext(report.number, mode="fork") as block:
        with block.candidate(candidate.candidate_id):
            log.info("priced")  # carries block, mode and candidate
    """

    def __init__(self, block: int, *, mode: str | None = None) -> None:
        self.block = block
        self.mode = mode
        self._tokens: list[Token[Mapping[str, Any] | None]] = []

    def __enter__(self) -> BlockContext:
        self._tokens.append(_push({"block": self.block, "mode": self.mode}))
        return self

    def __exit__(self, *exc: object) -> None:
        _CONTEXT.reset(self._tokens.pop())

    def candidate(
        self, candidate_id: str, *, intent: str | None = None
    ) -> AbstractContextManager[None]:
        """Return a context manager tagging lines with a candidate id (and intent id)."""
        return log_context(block=self.block, candidate=candidate_id, intent=intent)

    def stage(self, stage: str) -> AbstractContextManager[None]:
        """Return a context manager tagging lines with a pipeline stage."""
        return log_context(block=self.block, stage=stage)


class ContextFilter(logging.Filter):
    """Copies the context fields onto each record that does not carry them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _CONTEXT.get()
        if fields:
            for key, value in fields.items():
                if getattr(record, key, None) is None:
                    setattr(record, key, value)
        return True


def _json_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        # orjson refuses ints past 64 bits
        return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else str(value)
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object (no newline inside: a line per record)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "ts": ts.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = _json_value(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line).decode()


def configure_logging(
    *,
    level: int | str,
    stream: IO[str] | None = None,
    path: str | Path | None = None,
    logger: logging.Logger | None = None,
) -> logging.Handler:
    """Install a redacting JSON-lines handler on `logger` (the root logger) and return it.

    Lines go to `path` (appended, parent directories created) or to `stream` (stderr by
    default), not both. The caller removes the handler with `logger.removeHandler` and
    closes it at shutdown.
    """
    if stream is not None and path is not None:
        raise ValueError("log to a stream or to a file, not both")
    handler: logging.Handler
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setLevel(level)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    target = logging.getLogger() if logger is None else logger
    target.setLevel(level)
    target.addHandler(handler)
    return handler

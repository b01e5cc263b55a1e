"""bot.logs: JSON lines, context fields from BlockContext, redaction of keys and URL passwords."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.logs import BlockContext, configure_logging, current_context, log_context
from bot.redact import MASK

KEY_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
RPC_URL = "https://operator:hunter2pass@node.example:8545/rpc"


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A private logger that does not propagate to the root (pytest's handlers live there)."""
    log = logging.getLogger("arbloop.test_logs")
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    log.propagate = True
    log.setLevel(logging.NOTSET)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_fixed_fields(logger: logging.Logger) -> None:
    stream = io.StringIO()
    handler = configure_logging(level="INFO", stream=stream, logger=logger)
    assert handler in logger.handlers
    logger.debug("not at this level")
    logger.info("head %d applied\nwith a newline", 100)
    logger.warning(
        "bundle not sent",
        extra={"block": 101, "candidate": "100-3", "intent": "100-3-ab12cd34", "stage": "submit"},
    )
    first, second = lines(stream)
    assert set(first) == {"ts", "level", "logger", "msg"}
    assert first["level"] == "INFO" and first["logger"] == "arbloop.test_logs"
    assert first["msg"] == "head 100 applied\nwith a newline"
    assert datetime.fromisoformat(first["ts"]).utcoffset().total_seconds() == 0
    assert second["level"] == "WARNING"
    assert (second["block"], second["candidate"], second["intent"], second["stage"]) == (
        101,
        "100-3",
        "100-3-ab12cd34",
        "submit",
    )
    assert "mode" not in second


def test_block_and_candidate_carried_by_context(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging(level=logging.INFO, stream=stream, logger=logger)
    logger.info("before")
    with BlockContext(100, mode="fork") as block:
        logger.info("applied")
        with block.candidate("100-3", intent="100-3-ab12cd34"):
            logger.info("priced")
            with block.stage("simulate"):
                logger.info("simulated")
        logger.info("candidate done")
        logger.info("explicit wins", extra={"block": 101})
    logger.info("after")
    before, applied, priced, simulated, done, explicit, after = lines(stream)
    assert "block" not in before and "block" not in after and current_context() == {}
    assert (applied["block"], applied["mode"]) == (100, "fork") and "candidate" not in applied
    assert (priced["block"], priced["candidate"], priced["intent"]) == (
        100,
        "100-3",
        "100-3-ab12cd34",
    )
    assert (simulated["candidate"], simulated["stage"]) == ("100-3", "simulate")
    assert "candidate" not in done and "stage" not in done and done["block"] == 100
    assert explicit["block"] == 101 and explicit["mode"] == "fork"


def test_context_is_per_asyncio_task(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream, logger=logger)

    async def handle(number: int) -> None:
        with BlockContext(number):
            await asyncio.sleep(0)
            logger.info("handled %d", number)
            await asyncio.sleep(0)
            with log_context(candidate=f"{number}-1"):
                await asyncio.sleep(0)
                logger.info("candidate of %d", number)

    async def main() -> None:
        await asyncio.gather(handle(7), handle(8))

    asyncio.run(main())
    for line in lines(stream):
        number = int(line["msg"].rsplit(" ", 1)[1])
        assert line["block"] == number
        if line["msg"].startswith("candidate"):
            assert line["candidate"] == f"{number}-1"


def test_unknown_context_field_refused() -> None:
    with pytest.raises(ValueError, match="unknown log context"), log_context(private_key="x"):
        pass


def test_key_and_url_password_redacted_in_message_and_exception(logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream, logger=logger)
    logger.info("loaded key 0x%s for %s", KEY_HEX, RPC_URL)
    try:
        raise ConnectionError(f"cannot reach {RPC_URL} with key {KEY_HEX}")
    except ConnectionError:
        logger.exception("feed failed", extra={"stage": "receive"})
    with log_context(candidate=f"leak-{KEY_HEX}"):
        logger.info("context field")
    message, failure, context = lines(stream)
    text = stream.getvalue()
    assert KEY_HEX not in text and "hunter2pass" not in text and "operator" not in text
    assert message["msg"] == f"loaded key {MASK} for https://{MASK}@node.example:8545/rpc"
    assert failure["msg"] == "feed failed" and failure["stage"] == "receive"
    assert "ConnectionError" in failure["exc"] and MASK in failure["exc"]
    assert "Traceback" in failure["exc"]
    assert context["candidate"] == f"leak-{MASK}"


def test_file_handler_appends_json_lines(tmp_path: Path, logger: logging.Logger) -> None:
    path = tmp_path / "logs" / "bot.jsonl"
    configure_logging(level="INFO", path=path, logger=logger)
    with BlockContext(5):
        logger.info("one")
    logger.info("two")
    for handler in logger.handlers:
        handler.flush()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["msg"], r.get("block")) for r in records] == [("one", 5), ("two", None)]
    with pytest.raises(ValueError, match="not both"):
        configure_logging(level="INFO", path=path, stream=io.StringIO(), logger=logger)


def test_root_logger_by_default() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(level="WARNING", stream=stream)
    try:
        assert handler in root.handlers
        logging.getLogger("bot.somewhere").warning("big block %d", 2**70)
        with BlockContext(2**70):
            logging.getLogger("bot.somewhere").warning("still one line")
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(level)
    first, second = lines(stream)
    assert first["logger"] == "bot.somewhere" and first["msg"] == f"big block {2**70}"
    assert second["block"] == str(2**70)  # past 64 bits: a string, not a broken line

"""Log redaction: 64-hex strings and URL credentials never reach a handler."""

from __future__ import annotations

import io
import logging

import pytest

from bot.redact import MASK, RedactingFilter, redact, redact_url, short_hash

KEY_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@node.example/rpc", f"https://{MASK}@node.example/rpc"),
        (
            "https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef",
            f"https://mainnet.infura.io/v3/{MASK}",
        ),
        (
            "wss://eth-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUv",
            f"wss://eth-mainnet.g.alchemy.com/v2/{MASK}",
        ),
        (
            "https://rpc.example/?apikey=s3cr3t&chain=1",
            f"https://rpc.example/?apikey={MASK}&chain=1",
        ),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
    ],
)
def test_urls(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert redact(f"connecting to {url} now") == f"connecting to {expected} now"


def test_hex64_masked_with_or_without_prefix_but_not_addresses() -> None:
    address = "0x" + "ab" * 20
    text = f"key {KEY_HEX} and 0x{KEY_HEX}, to {address}"
    out = redact(text)
    assert KEY_HEX not in out and out.count(MASK) == 2 and address in out
    assert short_hash("0x" + KEY_HEX) == "0x" + KEY_HEX[:8]


def test_filter_masks_messages_args_and_exceptions() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_redact_filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("signing with %s via %s", KEY_HEX, "https://u:p@h.example/x")
        try:
            raise ValueError(f"bad key {KEY_HEX}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert KEY_HEX not in out and "u:p@" not in out
    assert "failed" in out and "ValueError" in out

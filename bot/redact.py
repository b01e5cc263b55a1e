"""Redaction of secrets in log lines: 64-hex strings and credentials in URLs.

Every 64-hex-digit run (with or without 0x) is masked, whatever it is: a private key looks
exactly like a transaction hash, so the filter cannot tell them apart and masks both (log
short hash prefixes instead: `short_hash`). In URLs, user:password@, query values of
credential-like parameters and token-like path segments of 16 or more characters (Infura
/v3/<id>, Alchemy /v2/<key>) are masked. `RedactingFilter` applies this to every record's
formatted message and exception text before any handler sees it.

`redact_url_strict` is the rule for a URL shown whole, such as a relay endpoint in a reply or
an error: the same userinfo and path rules, and every query value masked, names kept.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "MASK",
    "RedactingFilter",
    "install_redaction",
    "redact",
    "redact_url",
    "redact_url_strict",
    "short_hash",
]

MASK = "<redacted>"
_HEX64 = re.compile(r"(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s/?#'\"<>]*)([^\s'\"<>]*)")
_SECRET_PARAM = re.compile(
    r"([?&;](?:api[-_]?key|apikey|key|token|access[-_]?token|auth|secret|password|pass|sig)"
    r"=)[^&#\s'\"<>]*",
    re.IGNORECASE,
)
# a path segment that is all token characters, 16 or more: an API key or project id
_TOKEN_SEGMENT = re.compile(r"(^|/)([A-Za-z0-9_\-]{16,})(?=/|$|\?|#)")
_STRICT_MASK = "***"


def redact_url(url: str) -> str:
    """Return the URL with userinfo, credential query values and token path segments masked."""
    match = _URL.fullmatch(url.strip())
    if match is None:
        return url
    return _redact_url_match(match)


def _redact_url_match(match: re.Match[str]) -> str:
    scheme, authority, rest = match.group(1), match.group(2), match.group(3)
    if "@" in authority:
        authority = MASK + "@" + authority.rsplit("@", 1)[1]
    rest = _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, rest)
    path, sep, tail = rest.partition("?")
    return scheme + authority + _mask_token_segments(path, MASK) + sep + tail


def _mask_token_segments(path: str, mask: str) -> str:
    return _TOKEN_SEGMENT.sub(lambda m: m.group(1) + mask, path)


def redact_url_strict(url: str) -> str:
    """Return url with userinfo, every query value and token-like path segments masked.

    For a URL shown whole (relay endpoints): the query keeps only its parameter names. The
    URL is rebuilt from its parsed parts (no fragment); '<unparsable url>' when it does not
    parse.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable url>"
    userinfo = _STRICT_MASK + "@" if "@" in parts.netloc else ""
    netloc = userinfo + host + (f":{port}" if port else "")
    path = _mask_token_segments(parts.path, _STRICT_MASK)
    names = (k for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    query = "&".join(f"{k}={_STRICT_MASK}" for k in names)
    return f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def redact(text: str) -> str:
    """Return text with URLs' credentials and every 64-hex string masked."""
    text = _URL.sub(_redact_url_match, text)
    return _HEX64.sub(MASK, text)


def short_hash(value: str | bytes) -> str:
    """Return the first 10 characters of a 0x-hash: enough to find it, not a 64-hex string."""
    text = value if isinstance(value, str) else "0x" + bytes(value).hex()
    return text[:10]


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and exception text (installed on handlers)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add the filter to every handler of `logger` (the root logger by default)."""
    target = logger if logger is not None else logging.getLogger()
    flt = RedactingFilter()
    for handler in target.handlers:
        handler.addFilter(flt)
    return flt

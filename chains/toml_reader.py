"""Strict reading of TOML (and parsed JSON) tables into typed values.

Every failure is one exception type, ``ConfigError`` (a ``ValueError``), whose message names
the file and the dotted key, e.g. ``configs/chains/local.toml: venues[1].factory: not an
address: '0x12'``. Elements of arrays of tables are numbered from 0.

``TomlTable`` consumes keys as they are read; ``finish()`` then refuses every key nobody
asked for, in this table and in every table handed out from it, so a misspelt key is an
error rather than a silently ignored setting.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Collection, Iterator, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from eth_utils import is_checksum_address, to_checksum_address

__all__ = [
    "ConfigError",
    "TomlTable",
    "read_toml",
    "refuse_secret_keys",
]

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH32_RE = re.compile(r"0x[0-9a-fA-F]{64}")
_DECIMAL_RE = re.compile(r"[0-9]+(_[0-9]+)*")
_SECRET_KEY_RE = re.compile(
    r"private_?key|priv_?key|signing_?key|mnemonic|seed_?phrase|password|passwd|passphrase|secret"
)


def _display_path(path: Path) -> str:
    """Show a path relative to the working directory when it lies beneath it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


class ConfigError(ValueError):
    """A configuration file is missing, malformed or holds a value that is refused."""

    def __init__(self, path: Path, key: str, message: str) -> None:
        self.path = path
        self.key = key
        self.message = message
        where = f"{_display_path(path)}: {key}" if key else _display_path(path)
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[type[ConfigError], tuple[Path, str, str]]:
        return (ConfigError, (self.path, self.key, self.message))


def read_toml(path: Path) -> TomlTable:
    """Parse a TOML file into a root ``TomlTable``; a missing or broken file is a ConfigError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries "(at line L, column C)".
        raise ConfigError(path, "", f"invalid TOML: {exc}") from None
    return TomlTable(data, path=path)


def _describe(value: Any) -> str:
    """Name a value's TOML type and show it, shortened."""
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, int):
        kind = "an integer"
    elif isinstance(value, float):
        kind = "a float"
    elif isinstance(value, str):
        kind = "a string"
    elif isinstance(value, list):
        kind = "an array"
    elif isinstance(value, Mapping):
        kind = "a table"
    elif isinstance(value, datetime | date | time):
        kind = "a date/time"
    elif value is None:
        kind = "null"
    else:
        kind = type(value).__name__
    if isinstance(value, Mapping | list):
        return kind
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{kind} ({shown})"


class TomlTable:
    """A view over one table of a parsed file that hands out typed values and tracks usage."""

    __slots__ = ("_asked", "_children", "_data", "_path", "_prefix")

    def __init__(self, data: Mapping[str, Any], *, path: Path, prefix: str = "") -> None:
        self._data = data
        self._path = path
        self._prefix = prefix
        self._asked: set[str] = set()
        self._children: list[TomlTable] = []

    # -- identity ---------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """Return the file this table was read from."""
        return self._path

    @property
    def prefix(self) -> str:
        """Return this table's dotted key inside its file ('' for the root)."""
        return self._prefix

    def key_path(self, key: str) -> str:
        """Return the dotted key of ``key`` inside this table's file."""
        return f"{self._prefix}.{key}" if self._prefix else key

    def error(self, key: str, message: str) -> ConfigError:
        """Build a ConfigError naming this file and ``key`` ('' names the table itself)."""
        return ConfigError(self._path, self.key_path(key) if key else self._prefix, message)

    def keys(self) -> tuple[str, ...]:
        """Return the keys present in this table, in file order."""
        return tuple(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def walk_keys(self) -> Iterator[str]:
        """Yield the dotted key of every entry beneath this table, arrays of tables included."""
        yield from _walk(self._data, self._prefix)

    # -- raw access -------------------------------------------------------------------------

    def _get(self, key: str) -> Any:
        self._asked.add(key)
        if key not in self._data:
            raise self.error(key, "missing required key")
        return self._data[key]

    def _has(self, key: str) -> bool:
        self._asked.add(key)
        return key in self._data

    def _mismatch(self, key: str, expected: str, value: Any) -> ConfigError:
        return self.error(key, f"expected {expected}, found {_describe(value)}")

    # -- strings ----------------------------------------------------------------------------

    def req_str(self, key: str, *, choices: Collection[str] | None = None) -> str:
        """Return a required string, optionally one of ``choices``."""
        value = self._get(key)
        if not isinstance(value, str):
            raise self._mismatch(key, "a string", value)
        if choices is not None and value not in choices:
            allowed = ", ".join(sorted(choices))
            raise self.error(key, f"must be one of {allowed}; found {value!r}")
        return value

    def opt_str(
        self, key: str, default: str | None = None, *, choices: Collection[str] | None = None
    ) -> str | None:
        """Return an optional string, or ``default`` when absent."""
        return self.req_str(key, choices=choices) if self._has(key) else default

    # -- numbers ----------------------------------------------------------------------------

    def _check_range(
        self, key: str, value: int | float, low: int | float | None, high: int | float | None
    ) -> None:
        if low is not None and value < low:
            raise self.error(key, f"must be >= {low}; found {value}")
        if high is not None and value > high:
            raise self.error(key, f"must be <= {high}; found {value}")

    def req_int(self, key: str, *, min: int | None = None, max: int | None = None) -> int:
        """Return a required integer within [min, max]; booleans are refused."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._mismatch(key, "an integer", value)
        self._check_range(key, value, min, max)
        return value

    def opt_int(
        self,
        key: str,
        default: int | None = None,
        *,
        min: int | None = None,
        max: int | None = None,
    ) -> int | None:
        """Return an optional integer within [min, max], or ``default`` when absent."""
        return self.req_int(key, min=min, max=max) if self._has(key) else default

    def req_bigint(self, key: str, *, min: int | None = None, max: int | None = None) -> int:
        """Return a required integer that may also be written as a decimal string.

        TOML integers are 64-bit signed, so amounts past 2**63 - 1 (wei of large balances)
        are written as strings of decimal digits, underscores allowed: "100_000_000".
        """
        value = self._get(key)
        if isinstance(value, str):
            if _DECIMAL_RE.fullmatch(value) is None:
                raise self.error(key, f"expected decimal digits in the string, found {value!r}")
            value = int(value.replace("_", ""))
        elif isinstance(value, bool) or not isinstance(value, int):
            raise self._mismatch(key, "an integer or a string of decimal digits", value)
        self._check_range(key, value, min, max)
        return value

    def opt_bigint(
        self,
        key: str,
        default: int | None = None,
        *,
        min: int | None = None,
        max: int | None = None,
    ) -> int | None:
        """Return an optional integer or decimal string, or ``default`` when absent."""
        return self.req_bigint(key, min=min, max=max) if self._has(key) else default

    def req_float(
        self,
        key: str,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> float:
        """Return a required finite number (integers accepted) within [min, max]."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._mismatch(key, "a number", value)
        result = float(value)
        if not math.isfinite(result):
            raise self.error(key, f"must be finite; found {value}")
        self._check_range(key, result, min, max)
        return result

    def opt_float(
        self,
        key: str,
        default: float | None = None,
        *,
        min: float | None = None,
        max: float | None = None,
    ) -> float | None:
        """Return an optional finite number, or ``default`` when absent."""
        return self.req_float(key, min=min, max=max) if self._has(key) else default

    # -- booleans ---------------------------------------------------------------------------

    def req_bool(self, key: str) -> bool:
        """Return a required boolean."""
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._mismatch(key, "a boolean", value)
        return value

    def opt_bool(self, key: str, default: bool | None = None) -> bool | None:
        """Return an optional boolean, or ``default`` when absent."""
        return self.req_bool(key) if self._has(key) else default

    # -- chain values -----------------------------------------------------------------------

    def check_address(self, key: str, value: Any) -> str:
        """Validate ``value`` as an address named ``key``; return it checksummed."""
        if not isinstance(value, str):
            raise self._mismatch(key, "an address string", value)
        if _ADDRESS_RE.fullmatch(value) is None:
            raise self.error(key, f"not an address: {value!r} (expected 0x and 40 hex digits)")
        digits = value[2:]
        mixed_case = digits != digits.lower() and digits != digits.upper()
        if mixed_case and not is_checksum_address(value):
            expected = to_checksum_address(value)
            raise self.error(key, f"bad EIP-55 checksum: {value!r} (checksummed: {expected})")
        return to_checksum_address(value)

    def req_address(self, key: str) -> str:
        """Return a required address, checksummed (mixed case input must pass EIP-55)."""
        return self.check_address(key, self._get(key))

    def opt_address(self, key: str, default: str | None = None) -> str | None:
        """Return an optional checksummed address, or ``default`` when absent."""
        return self.req_address(key) if self._has(key) else default

    def req_hash32(self, key: str) -> bytes:
        """Return a required 32-byte value written as 0x and 64 hex digits."""
        value = self._get(key)
        if not isinstance(value, str):
            raise self._mismatch(key, "a 0x-prefixed 32-byte hex string", value)
        if _HASH32_RE.fullmatch(value) is None:
            raise self.error(key, f"not a 32-byte hash: {value!r} (expected 0x and 64 hex digits)")
        return bytes.fromhex(value[2:])

    def opt_hash32(self, key: str, default: bytes | None = None) -> bytes | None:
        """Return an optional 32-byte value, or ``default`` when absent."""
        return self.req_hash32(key) if self._has(key) else default

    # -- arrays -----------------------------------------------------------------------------

    def req_str_list(self, key: str) -> tuple[str, ...]:
        """Return a required array of strings."""
        value = self._get(key)
        if not isinstance(value, list):
            raise self._mismatch(key, "an array of strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self._mismatch(f"{key}[{index}]", "a string", item)
        return tuple(value)

    def opt_str_list(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Return an optional array of strings, or ``default`` when absent."""
        return self.req_str_list(key) if self._has(key) else default

    # -- tables -----------------------------------------------------------------------------

    def _child(self, data: Mapping[str, Any], prefix: str) -> TomlTable:
        child = TomlTable(data, path=self._path, prefix=prefix)
        self._children.append(child)
        return child

    def table(self, key: str) -> TomlTable:
        """Return a required sub-table."""
        value = self._get(key)
        if not isinstance(value, Mapping):
            raise self._mismatch(key, "a table", value)
        return self._child(value, self.key_path(key))

    def opt_table(self, key: str) -> TomlTable | None:
        """Return an optional sub-table, or None when absent."""
        return self.table(key) if self._has(key) else None

    def tables(self, key: str) -> list[TomlTable]:
        """Return a required array of tables; element ``i`` is named ``key[i]``."""
        value = self._get(key)
        if not isinstance(value, list):
            raise self._mismatch(key, "an array of tables", value)
        result = []
        for index, item in enumerate(value):
            name = f"{key}[{index}]"
            if not isinstance(item, Mapping):
                raise self._mismatch(name, "a table", item)
            result.append(self._child(item, self.key_path(name)))
        return result

    def opt_tables(self, key: str) -> list[TomlTable]:
        """Return an optional array of tables, or an empty list when absent."""
        return self.tables(key) if self._has(key) else []

    # -- completion -------------------------------------------------------------------------

    def unknown_keys(self) -> list[tuple[str, str]]:
        """Return (dotted key, reason) for every key nobody asked for, here and beneath."""
        found = []
        known = sorted(self._asked)
        for key in self._data:
            if key in self._asked:
                continue
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            listed = ", ".join(known) if known else "none"
            found.append((self.key_path(key), f"unknown key ({hint}known: {listed})"))
        for child in self._children:
            found.extend(child.unknown_keys())
        return found

    def finish(self) -> None:
        """Refuse every key present but never read, in this table and the tables it handed out."""
        unknown = self.unknown_keys()
        if not unknown:
            return
        key, reason = unknown[0]
        if len(unknown) > 1:
            others = "; ".join(f"{k}: {r}" for k, r in unknown[1:])
            reason = f"{reason}; also {others}"
        raise ConfigError(self._path, key, reason)


def _walk(data: Mapping[str, Any], prefix: str) -> Iterator[str]:
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        yield name
        if isinstance(value, Mapping):
            yield from _walk(value, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    yield from _walk(item, f"{name}[{index}]")


def refuse_secret_keys(table: TomlTable) -> None:
    """Refuse any key beneath ``table`` that looks like it holds a secret."""
    for key in table.walk_keys():
        last = key.rsplit(".", 1)[-1].split("[", 1)[0]
        if _SECRET_KEY_RE.search(last.lower()) is not None:
            raise ConfigError(
                table.path,
                key,
                "secrets never live in config files: keys come from a keystore "
                "or an environment variable",
            )

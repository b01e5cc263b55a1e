"""Contract functions and events described by their canonical signatures.

`AbiFunction("transfer(address,uint256)", returns="(bool)")` encodes calldata and decodes
results with eth_abi; it is the tooling path (deployment, traffic, tests), not the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import eth_abi
from eth_utils import keccak

__all__ = ["AbiEvent", "AbiFunction", "split_types"]


def split_types(inner: str) -> tuple[str, ...]:
    """Split a comma-separated ABI type list at the top level (tuples stay whole)."""
    types: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced parentheses in {inner!r}")
        elif ch == "," and depth == 0:
            piece = inner[start:i].strip()
            if not piece:
                raise ValueError(f"empty type in {inner!r}")
            types.append(piece)
            start = i + 1
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in {inner!r}")
    last = inner[start:].strip()
    if last:
        types.append(last)
    elif types:
        raise ValueError(f"empty type in {inner!r}")
    return tuple(types)


def _parse_signature(signature: str) -> tuple[str, tuple[str, ...]]:
    open_at = signature.find("(")
    if open_at <= 0 or not signature.endswith(")"):
        raise ValueError(f"not a function signature: {signature!r}")
    name = signature[:open_at]
    if not name.isidentifier():
        raise ValueError(f"bad function name in {signature!r}")
    return name, split_types(signature[open_at + 1 : -1])


@dataclass(frozen=True, slots=True)
class AbiFunction:
    """One contract function: selector, argument types and return types."""

    signature: str
    returns: str = "()"
    name: str = field(init=False)
    arg_types: tuple[str, ...] = field(init=False)
    return_types: tuple[str, ...] = field(init=False)
    selector: bytes = field(init=False)

    def __post_init__(self) -> None:
        name, arg_types = _parse_signature(self.signature)
        if not (self.returns.startswith("(") and self.returns.endswith(")")):
            raise ValueError(f"returns must be a parenthesised type list: {self.returns!r}")
        canonical = f"{name}({','.join(arg_types)})"
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "arg_types", arg_types)
        object.__setattr__(self, "return_types", split_types(self.returns[1:-1]))
        object.__setattr__(self, "selector", keccak(text=canonical)[:4])

    def encode(self, *args: Any) -> bytes:
        """Return the calldata: selector then the ABI-encoded arguments."""
        if len(args) != len(self.arg_types):
            raise TypeError(f"{self.signature}: {len(args)} arguments given")
        return self.selector + eth_abi.encode(list(self.arg_types), list(args))

    def decode_input(self, calldata: bytes) -> tuple[Any, ...]:
        """Decode calldata of this function (selector checked)."""
        if calldata[:4] != self.selector:
            raise ValueError(f"{self.signature}: selector mismatch")
        return tuple(eth_abi.decode(list(self.arg_types), calldata[4:]))

    def decode_output(self, data: bytes) -> tuple[Any, ...]:
        """Decode the return data of this function."""
        return tuple(eth_abi.decode(list(self.return_types), data))


@dataclass(frozen=True, slots=True)
class AbiEvent:
    """One event: topic0 and which arguments are indexed."""

    signature: str
    indexed: Sequence[bool]
    name: str = field(init=False)
    arg_types: tuple[str, ...] = field(init=False)
    topic0: bytes = field(init=False)

    def __post_init__(self) -> None:
        name, arg_types = _parse_signature(self.signature)
        if len(self.indexed) != len(arg_types):
            raise ValueError(f"{self.signature}: indexed flags do not match the arguments")
        object.__setattr__(self, "indexed", tuple(self.indexed))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "arg_types", arg_types)
        object.__setattr__(self, "topic0", keccak(text=f"{name}({','.join(arg_types)})"))

    def decode(self, topics: Sequence[bytes], data: bytes) -> tuple[Any, ...]:
        """Decode a log of this event into its arguments, in signature order."""
        if not topics or topics[0] != self.topic0:
            raise ValueError(f"{self.signature}: topic0 mismatch")
        indexed_types = [t for t, i in zip(self.arg_types, self.indexed, strict=True) if i]
        plain_types = [t for t, i in zip(self.arg_types, self.indexed, strict=True) if not i]
        if len(topics) != 1 + len(indexed_types):
            raise ValueError(f"{self.signature}: {len(topics)} topics")
        indexed_values = iter(
            eth_abi.decode([t], topic)[0]
            for t, topic in zip(indexed_types, topics[1:], strict=True)
        )
        plain_values = iter(eth_abi.decode(plain_types, data))
        return tuple(next(indexed_values) if i else next(plain_values) for i in self.indexed)

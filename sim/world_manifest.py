"""The world manifest: every address the world deployed, its tokens and its pools (JSON)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "Manifest", "PoolEntry", "TokenEntry", "read_manifest", "write_manifest"]

FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenEntry:
    """A token of the world."""

    symbol: str
    address: str
    decimals: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolEntry:
    """A pool of the world: venue, kind ("v2"/"v3"), sorted tokens, fee and tick spacing."""

    address: str
    venue: str
    kind: str
    token0: str
    token1: str
    fee_pips: int
    tick_spacing: int
    created_block: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """What a world deployment produced; enough to use the world without reading the chain."""

    format: int = FORMAT
    cache_key: str
    spec: str
    spec_sha256: str
    seed: int
    chain_id: int
    deployer: str
    deployment_block: int
    contracts: dict[str, str]
    venues: dict[str, dict[str, str]]
    routers: list[dict[str, str]]
    tokens: list[TokenEntry]
    pools: list[PoolEntry]
    users: list[str]
    deploy_gas_used: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def token(self, symbol: str) -> TokenEntry:
        """Return the token with this symbol."""
        for token in self.tokens:
            if token.symbol == symbol:
                return token
        raise KeyError(symbol)

    def token_by_address(self, address: str) -> TokenEntry:
        """Return the token at this address (case-insensitive)."""
        lowered = address.lower()
        for token in self.tokens:
            if token.address.lower() == lowered:
                return token
        raise KeyError(address)

    def to_json(self) -> dict[str, Any]:
        """Return the manifest as a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Build a manifest from its JSON dict; refuse another format version."""
        if data.get("format") != FORMAT:
            raise ValueError(f"world manifest format {data.get('format')!r}, expected {FORMAT}")
        fields = dict(data)
        fields["tokens"] = [TokenEntry(**t) for t in data["tokens"]]
        fields["pools"] = [PoolEntry(**p) for p in data["pools"]]
        return cls(**fields)


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write the manifest atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_manifest(path: Path) -> Manifest:
    """Read a manifest written by write_manifest."""
    return Manifest.from_json(json.loads(Path(path).read_text()))

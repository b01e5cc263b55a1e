"""Compiled contract artifacts: the project's own (contracts/out) and the real npm builds.

Project artifacts are written by ``contracts/build.mjs``; npm artifacts (WETH9 and the Uniswap
V2, V3, SwapRouter02 and UniversalRouter contracts) are read from ``node_modules`` in whichever
format their package ships: waffle (``evm.bytecode.object``), hardhat (``bytecode`` with
``linkReferences``) or truffle (``bytecode`` with ``0x``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
from eth_utils import keccak

__all__ = [
    "NPM_ARTIFACT_PATHS",
    "ArtifactError",
    "ContractArtifact",
    "load_npm_artifact",
    "load_project_artifact",
    "node_modules_dir",
    "repo_root",
]

ROOT_ENV_VAR = "ARBLOOP_ROOT"

NPM_ARTIFACT_PATHS: Mapping[str, str] = MappingProxyType(
    {
        "WETH9": "canonical-weth/build/contracts/WETH9.json",
        "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
        "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
        "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
        "UniswapV3Factory": (
            "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json"
        ),
        "UniswapV3Pool": (
            "@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json"
        ),
        "NonfungiblePositionManager": (
            "@uniswap/v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/"
            "NonfungiblePositionManager.json"
        ),
        "SwapRouter": "@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
        "QuoterV2": "@uniswap/v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
        "TickLens": "@uniswap/v3-periphery/artifacts/contracts/lens/TickLens.sol/TickLens.json",
        "SwapRouter02": (
            "@uniswap/swap-router-contracts/artifacts/contracts/SwapRouter02.sol/SwapRouter02.json"
        ),
        "UniversalRouter": (
            "@uniswap/universal-router/artifacts/contracts/UniversalRouter.sol/UniversalRouter.json"
        ),
    }
)
"""Artifact name → JSON file under ``node_modules``."""

_HEX_RE = re.compile(r"(?:0x)?(?:[0-9a-fA-F]{2})*")
_REBUILD_HINT = "run `make contracts` (or `node contracts/build.mjs`)"
_INSTALL_HINT = "run `npm ci` (or `make`)"


class ArtifactError(Exception):
    """A compiled artifact is missing, malformed or not deployable as is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractArtifact:
    """ABI, creation code and runtime code of one compiled contract."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes
    source: str

    def init_code_hash(self) -> bytes:
        """Return keccak256 of the creation code (32 bytes), as used by CREATE2 addresses."""
        return keccak(self.bytecode)


def repo_root() -> Path:
    """Return the repository root: ``$ARBLOOP_ROOT`` or the nearest parent with pyproject.toml."""
    override = os.environ.get(ROOT_ENV_VAR)
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve().parent
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    raise ArtifactError(f"no pyproject.toml above {here}; set {ROOT_ENV_VAR} to the repository")


def node_modules_dir() -> Path:
    """Return the repository's node_modules directory (it may not exist yet)."""
    return repo_root() / "node_modules"


def load_project_artifact(name: str) -> ContractArtifact:
    """Load ``contracts/out/<name>.json`` written by ``contracts/build.mjs``."""
    root = repo_root()
    return _load_project_cached(root, root / "contracts" / "out" / f"{name}.json", name)


def load_npm_artifact(name: str) -> ContractArtifact:
    """Load one of the fixed npm artifacts in ``NPM_ARTIFACT_PATHS`` from node_modules."""
    relative = NPM_ARTIFACT_PATHS.get(name)
    if relative is None:
        known = ", ".join(sorted(NPM_ARTIFACT_PATHS))
        raise ArtifactError(f"unknown npm artifact {name!r}; known: {known}")
    root = repo_root()
    modules = root / "node_modules"
    if not modules.is_dir():
        raise ArtifactError(f"{modules} does not exist; {_INSTALL_HINT}")
    return _load_npm_cached(root, modules / relative, name)


@functools.lru_cache(maxsize=64)
def _load_project_cached(root: Path, path: Path, name: str) -> ContractArtifact:
    """Parse a project artifact; cached per (root, path)."""
    data = _read_json(path, _REBUILD_HINT)
    try:
        abi = data["abi"]
        bytecode_hex = data["bytecode"]
        deployed_hex = data["deployedBytecode"]
    except KeyError as exc:
        raise ArtifactError(f"{path}: malformed artifact, no key {exc}; {_REBUILD_HINT}") from None
    if data.get("contractName", name) != name:
        raise ArtifactError(
            f"{path}: holds contract {data['contractName']!r}, not {name!r}; {_REBUILD_HINT}"
        )
    return _build(name, abi, bytecode_hex, deployed_hex, path, root, _REBUILD_HINT)


@functools.lru_cache(maxsize=64)
def _load_npm_cached(root: Path, path: Path, name: str) -> ContractArtifact:
    """Parse an npm artifact in waffle, hardhat or truffle format; cached per (root, path)."""
    data = _read_json(path, _INSTALL_HINT)
    evm = data.get("evm")
    if isinstance(evm, dict):
        bytecode_section = evm.get("bytecode") or {}
        deployed_section = evm.get("deployedBytecode") or {}
        bytecode_hex = bytecode_section.get("object")
        deployed_hex = deployed_section.get("object")
        link_refs = [
            bytecode_section.get("linkReferences"),
            deployed_section.get("linkReferences"),
        ]
    else:
        bytecode_hex = data.get("bytecode")
        deployed_hex = data.get("deployedBytecode")
        link_refs = [data.get("linkReferences"), data.get("deployedLinkReferences")]
    if any(link_refs):
        raise ArtifactError(f"{path}: bytecode has unresolved library link references")
    abi = data.get("abi")
    if abi is None or bytecode_hex is None or deployed_hex is None:
        raise ArtifactError(f"{path}: malformed artifact, no abi or bytecode; {_INSTALL_HINT}")
    return _build(name, abi, bytecode_hex, deployed_hex, path, root, _INSTALL_HINT)


def _read_json(path: Path, hint: str) -> dict[str, Any]:
    """Read a JSON object from ``path`` or raise ArtifactError naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: artifact not found; {hint}") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read artifact ({exc}); {hint}") from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: malformed JSON ({exc}); {hint}") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: malformed artifact, not a JSON object; {hint}")
    return data


def _build(
    name: str,
    abi: Any,
    bytecode_hex: Any,
    deployed_hex: Any,
    path: Path,
    root: Path,
    hint: str,
) -> ContractArtifact:
    """Validate the raw fields and assemble a ContractArtifact."""
    if not isinstance(abi, list) or not all(isinstance(entry, dict) for entry in abi):
        raise ArtifactError(f"{path}: malformed artifact, abi is not a list of objects; {hint}")
    bytecode = _decode_code(bytecode_hex, path, "bytecode", hint)
    deployed = _decode_code(deployed_hex, path, "deployedBytecode", hint)
    if not bytecode or not deployed:
        raise ArtifactError(f"{path}: artifact has empty bytecode (interface or abstract?)")
    try:
        source = path.relative_to(root).as_posix()
    except ValueError:
        source = str(path)
    return ContractArtifact(
        name=name,
        abi=tuple(abi),
        bytecode=bytecode,
        deployed_bytecode=deployed,
        source=source,
    )


def _decode_code(value: Any, path: Path, field: str, hint: str) -> bytes:
    """Decode a 0x-optional hex string of EVM code, rejecting unlinked library placeholders."""
    if not isinstance(value, str):
        raise ArtifactError(f"{path}: malformed artifact, {field} is not a string; {hint}")
    if "__" in value:
        raise ArtifactError(f"{path}: {field} has unresolved library link placeholders")
    if _HEX_RE.fullmatch(value) is None:
        raise ArtifactError(f"{path}: malformed artifact, {field} is not even-length hex; {hint}")
    return bytes.fromhex(value.removeprefix("0x"))

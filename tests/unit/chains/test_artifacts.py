"""Loading compiled artifacts: the real npm builds and the project's contracts/out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chains.artifacts import (
    NPM_ARTIFACT_PATHS,
    ArtifactError,
    ContractArtifact,
    load_npm_artifact,
    load_project_artifact,
    node_modules_dir,
    repo_root,
)

EIP170_MAX_RUNTIME_BYTES = 24_576


def _hex_in_source(path: Path, pattern: str) -> bytes:
    """Return the 32-byte hex constant captured by ``pattern`` in the Solidity file ``path``."""
    match = re.search(pattern, path.read_text(encoding="utf-8"))
    assert match is not None, f"{pattern!r} not found in {path}"
    return bytes.fromhex(match.group(1))


@pytest.mark.parametrize("name", sorted(NPM_ARTIFACT_PATHS))
def test_npm_artifact_loads(name: str) -> None:
    artifact = load_npm_artifact(name)
    assert isinstance(artifact, ContractArtifact)
    assert artifact.name == name
    assert artifact.abi
    assert artifact.bytecode
    assert artifact.deployed_bytecode
    assert artifact.source.startswith("node_modules/")


def test_v2_pair_init_code_hash_matches_v2_library() -> None:
    library = node_modules_dir() / "@uniswap/v2-periphery/contracts/libraries/UniswapV2Library.sol"
    expected = _hex_in_source(library, r"hex'([0-9a-fA-F]{64})'\s*// init code hash")
    assert expected.hex() == "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
    assert load_npm_artifact("UniswapV2Pair").init_code_hash() == expected


def test_v3_pool_init_code_hash_matches_pool_address() -> None:
    pool_address = node_modules_dir() / "@uniswap/v3-periphery/contracts/libraries/PoolAddress.sol"
    expected = _hex_in_source(pool_address, r"POOL_INIT_CODE_HASH\s*=\s*0x([0-9a-fA-F]{64})")
    assert load_npm_artifact("UniswapV3Pool").init_code_hash() == expected


def test_weth9_runtime_fits_eip170() -> None:
    assert len(load_npm_artifact("WETH9").deployed_bytecode) <= EIP170_MAX_RUNTIME_BYTES


def test_unknown_npm_artifact_raises() -> None:
    with pytest.raises(ArtifactError, match="unknown npm artifact"):
        load_npm_artifact("NoSuchContract")


def test_npm_artifact_without_node_modules_says_npm_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARBLOOP_ROOT", str(tmp_path))
    with pytest.raises(ArtifactError, match="npm ci"):
        load_npm_artifact("WETH9")


@pytest.mark.parametrize("name", ["TestERC20", "Multicall3"])
def test_project_artifact_loads(name: str) -> None:
    artifact = load_project_artifact(name)
    assert artifact.name == name
    assert artifact.source == f"contracts/out/{name}.json"
    assert artifact.bytecode
    assert artifact.deployed_bytecode
    assert len(artifact.deployed_bytecode) <= EIP170_MAX_RUNTIME_BYTES


def test_test_erc20_abi_has_token_and_owner_functions() -> None:
    functions = {
        e["name"] for e in load_project_artifact("TestERC20").abi if e["type"] == "function"
    }
    assert {
        "name",
        "symbol",
        "decimals",
        "totalSupply",
        "balanceOf",
        "allowance",
        "approve",
        "transfer",
        "transferFrom",
        "owner",
        "mint",
        "burn",
        "transferOwnership",
    } <= functions


def test_multicall3_abi_has_canonical_functions() -> None:
    abi = load_project_artifact("Multicall3").abi
    functions = {e["name"] for e in abi if e["type"] == "function"}
    assert functions == {
        "aggregate",
        "tryAggregate",
        "tryBlockAndAggregate",
        "blockAndAggregate",
        "aggregate3",
        "aggregate3Value",
        "getBlockHash",
        "getBlockNumber",
        "getCurrentBlockCoinbase",
        "getCurrentBlockDifficulty",
        "getCurrentBlockGasLimit",
        "getCurrentBlockTimestamp",
        "getEthBalance",
        "getLastBlockHash",
        "getBasefee",
        "getChainId",
    }
    assert not any(e["type"] == "constructor" for e in abi)


def test_missing_project_artifact_names_path() -> None:
    expected_path = repo_root() / "contracts" / "out" / "NoSuchContract.json"
    with pytest.raises(ArtifactError, match="make contracts") as excinfo:
        load_project_artifact("NoSuchContract")
    assert str(expected_path) in str(excinfo.value)


def test_malformed_project_artifact_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "contracts" / "out"
    out.mkdir(parents=True)
    (out / "Broken.json").write_text('{"abi": []}', encoding="utf-8")
    (out / "NotJson.json").write_text("{", encoding="utf-8")
    monkeypatch.setenv("ARBLOOP_ROOT", str(tmp_path))
    with pytest.raises(ArtifactError, match=r"Broken\.json: malformed"):
        load_project_artifact("Broken")
    with pytest.raises(ArtifactError, match=r"NotJson\.json: malformed JSON"):
        load_project_artifact("NotJson")


def test_unresolved_link_references_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relative = NPM_ARTIFACT_PATHS["SwapRouter"]
    fake = tmp_path / "node_modules" / relative
    fake.parent.mkdir(parents=True)
    fake.write_text(
        '{"abi": [], "bytecode": "0x6000", "deployedBytecode": "0x6000",'
        ' "linkReferences": {"contracts/L.sol": {"L": [{"start": 1, "length": 20}]}},'
        ' "deployedLinkReferences": {}}',
        encoding="utf-8",
    )
    monkeypatch.setenv("ARBLOOP_ROOT", str(tmp_path))
    with pytest.raises(ArtifactError, match="link references"):
        load_npm_artifact("SwapRouter")

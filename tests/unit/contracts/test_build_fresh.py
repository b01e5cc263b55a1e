"""Guard that contracts/out is up to date with contracts/src, and that the guard works."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from chains.artifacts import repo_root

ROOT = repo_root()
BUILD_SCRIPT = ROOT / "contracts" / "build.mjs"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _run_build(*args: str) -> subprocess.CompletedProcess[str]:
    """Run contracts/build.mjs with ``args`` from the repository root."""
    assert NODE is not None
    return subprocess.run(
        [NODE, str(BUILD_SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy_contracts(dest: Path) -> Path:
    """Copy contracts/src and contracts/out into a repo-like ``dest``; return its contracts dir."""
    contracts = dest / "contracts"
    shutil.copytree(ROOT / "contracts" / "src", contracts / "src")
    shutil.copytree(ROOT / "contracts" / "out", contracts / "out")
    return contracts


def test_contracts_out_is_up_to_date() -> None:
    result = _run_build("--check")
    assert result.returncode == 0, (
        "contracts/out is stale against contracts/src; run `make contracts` "
        f"(or `node contracts/build.mjs`) and commit contracts/out.\n{result.stderr}"
    )


def test_check_flags_source_change_that_keeps_bytecode(tmp_path: Path) -> None:
    contracts = _copy_contracts(tmp_path)
    with (contracts / "src" / "TestERC20.sol").open("a", encoding="utf-8") as source:
        source.write("// a comment changes the source hash but not the bytecode\n")

    result = _run_build("--check", "--root", str(tmp_path))

    assert result.returncode == 1, result.stderr
    assert "stale:   contracts/out/TestERC20.json" in result.stderr


def test_check_flags_missing_and_extra_files(tmp_path: Path) -> None:
    contracts = _copy_contracts(tmp_path)
    (contracts / "out" / "Multicall3.json").unlink()
    (contracts / "out" / "Removed.json").write_text("{}\n", encoding="utf-8")

    result = _run_build("--check", "--root", str(tmp_path))

    assert result.returncode == 1, result.stderr
    assert "missing: contracts/out/Multicall3.json" in result.stderr
    assert "extra:   contracts/out/Removed.json" in result.stderr
    assert "stale:" not in result.stderr

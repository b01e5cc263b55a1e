"""The import direction of ARCHITECTURE.md: an import may only point down the package list."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "sim", "graph", "chains", "amm_math")
ALLOWED: dict[str, set[str]] = {
    "bot": {"bot", "sim", "graph", "chains", "amm_math"},
    "sim": {"sim", "graph", "chains", "amm_math"},
    "graph": {"graph", "chains", "amm_math"},
    "chains": {"chains", "amm_math"},
    "amm_math": {"amm_math"},
}
# amm_math is pure math: never the network, never an event loop
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {"amm_math": {"web3", "asyncio", "websockets"}}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, top in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if top in PACKAGES and top not in ALLOWED[package]:
                bad.append(f"{where} imports {top}")
            if top in FORBIDDEN_THIRD_PARTY.get(package, set()):
                bad.append(f"{where} imports {top}")
    return bad


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down(package: str) -> None:
    assert _violations(package) == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import os\nfrom bot.cli import main\nimport chains.rpc\n")
    assert [top for _, top in _imports(sample)] == ["os", "bot", "chains"]

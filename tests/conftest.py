"""Fixtures for the whole suite: one session anvil, per-test isolation, and an orphan check.

A test that needs anvil fails when anvil is missing (AnvilNotFound propagates); nothing skips.

Hypothesis runs derandomized by default (profile `ci`: the same examples on every run, so
`make test` passes or fails the same way everywhere); `make test-all` sets
HYPOTHESIS_PROFILE=explore to draw new examples each run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from sim.anvil import AnvilConfig, AnvilProcess, running_pids

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def _no_surviving_anvil() -> Iterator[None]:
    """Fail the session if an anvil started by it still runs after every other fixture."""
    yield
    survivors = sorted(running_pids())
    assert not survivors, f"anvil processes started by this test session still run: {survivors}"


@pytest.fixture(scope="session")
def anvil_session() -> Iterator[AnvilProcess]:
    """Yield one automining anvil (default AnvilConfig) shared by the session."""
    with AnvilProcess.start(AnvilConfig()) as node:
        yield node


@pytest.fixture
def anvil(anvil_session: AnvilProcess) -> Iterator[AnvilProcess]:
    """Yield the session anvil and undo the test's changes to it afterwards.

    evm_revert restores chain state and consumes the snapshot; it keeps the mempool and the
    mining mode, so pending transactions are dropped and automining is switched back on.
    A test that needs another config (chain id, interval mining, fork) starts its own node.
    """
    snapshot_id = anvil_session.snapshot()
    yield anvil_session
    anvil_session.call("anvil_dropAllTransactions")
    anvil_session.set_automine(True)
    assert anvil_session.revert(snapshot_id), f"evm_revert({snapshot_id}) was refused"

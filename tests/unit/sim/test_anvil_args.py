"""AnvilConfig.to_args and anvil_binary, without starting a process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sim.anvil import DEFAULT_CHAIN_ID, AnvilConfig, AnvilNotFound, anvil_binary

DEFAULT_ARGS = [
    "--host", "127.0.0.1", "--port", "8545", "--chain-id", "31337",
    "--order", "fees", "--accounts", "10", "--balance", "10000",
]  # fmt: skip


def _contains(args: list[str], part: list[str]) -> bool:
    return any(args[i : i + len(part)] == part for i in range(len(args) - len(part) + 1))


def test_default_args() -> None:
    assert AnvilConfig().to_args(8545) == DEFAULT_ARGS
    assert AnvilConfig().expected_chain_id == DEFAULT_CHAIN_ID


@pytest.mark.parametrize(
    ("options", "flags"),
    [
        ({"chain_id": 4242}, ["--chain-id", "4242"]),
        ({"block_time_s": 0.25}, ["--block-time", "0.25"]),
        ({"block_time_s": 2}, ["--block-time", "2.0"]),
        ({"no_mining": True}, ["--no-mining"]),
        ({"order": "fifo"}, ["--order", "fifo"]),
        ({"fork_url": "http://127.0.0.1:9"}, ["--fork-url", "http://127.0.0.1:9"]),
        (
            {"fork_url": "http://127.0.0.1:9", "fork_block_number": 12},
            ["--fork-url", "http://127.0.0.1:9", "--fork-block-number", "12"],
        ),
        ({"load_state": Path("/tmp/in.json")}, ["--load-state", "/tmp/in.json"]),
        ({"dump_state": Path("/tmp/out.json")}, ["--dump-state", "/tmp/out.json"]),
        ({"accounts": 3}, ["--accounts", "3"]),
        ({"balance_eth": 7}, ["--balance", "7"]),
        ({"mnemonic": "test test junk"}, ["--mnemonic", "test test junk"]),
        ({"gas_limit": 30_000_000}, ["--gas-limit", "30000000"]),
        ({"base_fee_wei": 0}, ["--block-base-fee-per-gas", "0"]),
        ({"base_fee_wei": 7_000_000_000}, ["--block-base-fee-per-gas", "7000000000"]),
        ({"code_size_limit": 49152}, ["--code-size-limit", "49152"]),
        ({"disable_code_size_limit": True}, ["--disable-code-size-limit"]),
        ({"hardfork": "cancun"}, ["--hardfork", "cancun"]),
        ({"timestamp": 1_700_000_000}, ["--timestamp", "1700000000"]),
    ],
)
def test_option_becomes_flag(options: dict[str, Any], flags: list[str]) -> None:
    args = AnvilConfig(**options).to_args(8545)
    assert _contains(args, flags), args
    assert args[:4] == ["--host", "127.0.0.1", "--port", "8545"]


def test_optional_flags_absent_by_default() -> None:
    args = AnvilConfig().to_args(1)
    for flag in (
        "--block-time", "--no-mining", "--fork-url", "--fork-block-number", "--load-state",
        "--dump-state", "--mnemonic", "--gas-limit", "--block-base-fee-per-gas",
        "--code-size-limit", "--disable-code-size-limit", "--hardfork", "--timestamp",
    ):  # fmt: skip
        assert flag not in args


def test_fork_keeps_its_chain_id_unless_overridden() -> None:
    fork = AnvilConfig(fork_url="http://127.0.0.1:9")
    assert "--chain-id" not in fork.to_args(1)
    assert fork.expected_chain_id is None
    override = AnvilConfig(fork_url="http://127.0.0.1:9", chain_id=77)
    assert _contains(override.to_args(1), ["--chain-id", "77"])
    assert override.expected_chain_id == 77


def test_extra_args_come_last() -> None:
    args = AnvilConfig(extra_args=("--no-cors", "--slots-in-an-epoch", "1")).to_args(8545)
    assert args[-3:] == ["--no-cors", "--slots-in-an-epoch", "1"]


def test_config_is_frozen_and_hashable() -> None:
    config = AnvilConfig(chain_id=5)
    with pytest.raises(AttributeError):
        config.chain_id = 6  # type: ignore[misc]
    assert hash(config) == hash(AnvilConfig(chain_id=5))


@pytest.mark.parametrize(
    "options",
    [
        {"fork_block_number": 5},
        {"block_time_s": 0},
        {"block_time_s": -1.0},
        {"block_time_s": float("nan")},
        {"block_time_s": float("inf")},
        {"block_time_s": 1.0, "no_mining": True},
        {"order": "lifo"},
        {"chain_id": 0},
        {"chain_id": 2**64},
        {"fork_url": ""},
        {"accounts": -1},
        {"balance_eth": -1},
        {"mnemonic": " "},
        {"gas_limit": 0},
        {"base_fee_wei": -1},
        {"code_size_limit": 0},
        {"code_size_limit": 30000, "disable_code_size_limit": True},
        {"hardfork": ""},
        {"timestamp": -1},
        {"extra_args": ["--no-cors"]},
        {"extra_args": "--no-cors"},
    ],
)
def test_invalid_config_raises(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid AnvilConfig"):
        AnvilConfig(**options).to_args(8545)


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_bad_port_raises(port: int) -> None:
    with pytest.raises(ValueError, match="port"):
        AnvilConfig().to_args(port)


def test_binary_found_in_node_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARBLOOP_ANVIL", raising=False)
    path = anvil_binary()
    assert path.is_file() and os.access(path, os.X_OK)
    assert "node_modules/@foundry-rs/anvil-" in path.as_posix()


def test_binary_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "anvil"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ARBLOOP_ANVIL", str(fake))
    assert anvil_binary() == fake


def test_binary_env_override_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARBLOOP_ANVIL", str(tmp_path / "missing"))
    with pytest.raises(AnvilNotFound, match="ARBLOOP_ANVIL"):
        anvil_binary()


def test_binary_missing_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ARBLOOP_ANVIL", raising=False)
    with pytest.raises(AnvilNotFound, match="npm ci"):
        anvil_binary(repo_root=tmp_path)

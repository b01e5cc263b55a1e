"""Command-line options of one anvil node, validated when built."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["DEFAULT_CHAIN_ID", "HOST", "AnvilConfig"]

DEFAULT_CHAIN_ID = 31337
HOST = "127.0.0.1"  # anvil only ever listens on loopback


@dataclass(frozen=True, slots=True, kw_only=True)
class AnvilConfig:
    """Command-line options of one anvil node; an invalid combination raises ValueError."""

    # a fresh chain's id; on a fork the default keeps the forked chain's id, another value
    # overrides it (useful so that transactions signed on the fork cannot replay upstream)
    chain_id: int = DEFAULT_CHAIN_ID
    block_time_s: float | None = None  # interval mining; None = a block per transaction
    no_mining: bool = False  # blocks only by anvil_mine / evm_mine
    order: Literal["fifo", "fees"] = "fees"
    fork_url: str | None = None
    fork_block_number: int | None = None  # negative: that many blocks before the fork's latest
    load_state: Path | None = None  # plain JSON as written by --dump-state (not gzipped)
    dump_state: Path | None = None  # written by anvil when it exits on SIGTERM/SIGINT
    accounts: int = 10
    balance_eth: int = 10000
    mnemonic: str | None = None
    gas_limit: int | None = None
    base_fee_wei: int | None = None
    code_size_limit: int | None = None  # bytes (EIP-170, anvil's default is 0x6000)
    disable_code_size_limit: bool = False
    hardfork: str | None = None
    timestamp: int | None = None  # genesis timestamp, unix seconds
    extra_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bt = self.block_time_s
        rules = (
            (0 < self.chain_id < 2**64, f"chain_id out of range: {self.chain_id}"),
            (bt is None or (math.isfinite(bt) and bt > 0), f"block_time_s must be > 0: {bt}"),
            (bt is None or not self.no_mining, "block_time_s and no_mining exclude each other"),
            (self.order in ("fifo", "fees"), f"order must be 'fifo' or 'fees': {self.order!r}"),
            (self.fork_url != "", "fork_url is empty"),
            (
                self.fork_block_number is None or self.fork_url is not None,
                "fork_block_number needs fork_url",
            ),
            (self.accounts >= 0, f"accounts must be >= 0: {self.accounts}"),
            (self.balance_eth >= 0, f"balance_eth must be >= 0: {self.balance_eth}"),
            (self.mnemonic is None or self.mnemonic.strip() != "", "mnemonic is empty"),
            (
                self.gas_limit is None or self.gas_limit > 0,
                f"gas_limit must be > 0: {self.gas_limit}",
            ),
            (
                self.base_fee_wei is None or self.base_fee_wei >= 0,
                f"base_fee_wei must be >= 0: {self.base_fee_wei}",
            ),
            (
                self.code_size_limit is None or self.code_size_limit > 0,
                f"code_size_limit must be > 0: {self.code_size_limit}",
            ),
            (
                self.code_size_limit is None or not self.disable_code_size_limit,
                "code_size_limit and disable_code_size_limit exclude each other",
            ),
            (self.hardfork != "", "hardfork is empty"),
            (
                self.timestamp is None or self.timestamp >= 0,
                f"timestamp must be >= 0: {self.timestamp}",
            ),
            # a list would make the config unhashable, a str would be split into characters
            (
                isinstance(self.extra_args, tuple)
                and all(isinstance(a, str) for a in self.extra_args),
                "extra_args must be a tuple of str",
            ),
        )
        problems = [message for ok, message in rules if not ok]
        if problems:
            raise ValueError("invalid AnvilConfig: " + "; ".join(problems))

    @property
    def expected_chain_id(self) -> int | None:
        """Return the chain id the node must report, or None when a fork keeps its own."""
        if self.fork_url is not None and self.chain_id == DEFAULT_CHAIN_ID:
            return None
        return self.chain_id

    def to_args(self, port: int) -> list[str]:
        """Build anvil's command line (without the binary) listening on 127.0.0.1:port."""
        if not 0 < port < 65536:
            raise ValueError(f"port out of range: {port}")
        args = ["--host", HOST, "--port", str(port)]
        if self.expected_chain_id is not None:
            args += ["--chain-id", str(self.expected_chain_id)]
        if self.block_time_s is not None:
            args += ["--block-time", repr(float(self.block_time_s))]
        if self.no_mining:
            args.append("--no-mining")
        args += ["--order", self.order]
        if self.fork_url is not None:
            args += ["--fork-url", self.fork_url]
        if self.fork_block_number is not None:
            args += ["--fork-block-number", str(self.fork_block_number)]
        if self.load_state is not None:
            args += ["--load-state", os.fspath(self.load_state)]
        if self.dump_state is not None:
            args += ["--dump-state", os.fspath(self.dump_state)]
        args += ["--accounts", str(self.accounts), "--balance", str(self.balance_eth)]
        if self.mnemonic is not None:
            args += ["--mnemonic", self.mnemonic]
        if self.gas_limit is not None:
            args += ["--gas-limit", str(self.gas_limit)]
        if self.base_fee_wei is not None:
            args += ["--block-base-fee-per-gas", str(self.base_fee_wei)]
        if self.code_size_limit is not None:
            args += ["--code-size-limit", str(self.code_size_limit)]
        if self.disable_code_size_limit:
            args.append("--disable-code-size-limit")
        if self.hardfork is not None:
            args += ["--hardfork", self.hardfork]
        if self.timestamp is not None:
            args += ["--timestamp", str(self.timestamp)]
        return args + list(self.extra_args)

"""The end-to-end benchmark's world: anvil, the local builder and traffic, in a child process.

`WorldProcess.start()` spawns a process that brings up the fork world exactly as
`bot.app.start_fork_world` does (anvil mining only through `sim.builder.LocalBuilder`, the
ArbExecutor deployed and funded, ephemeral executor keys) and then waits for commands: each
`block()` sends one block of seeded user swaps (`sim.traffic.Traffic`) to the mempool and has
the builder mine them, and answers with the block's number, hash and how many pool logs it
holds. The bot's side of the benchmark runs in the parent, as the engine does beside the
supervisor that hosts the builder in fork mode. Everything binds 127.0.0.1; `stop()` ends
the child (which stops the builder and anvil by pid) and joins it.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BlockMade", "WorldInfo", "WorldProcess"]

_START_TIMEOUT_S = 600.0
_BLOCK_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class WorldInfo:
    """What the bot needs to know about the world (picklable)."""

    ws_url: str
    http_url: str
    builder_url: str
    chain: Any  # chains.config_chain.ChainConfig
    pools: tuple[dict[str, Any], ...]  # PoolInfo.to_json() of every registry pool
    executor: str
    weth: str
    chain_id: int
    executor_key: bytes = field(repr=False)
    relay_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class BlockMade:
    """One block the builder mined: number, hash, pool logs in it (all; V2 Sync), user txs."""

    number: int
    block_hash: str
    pool_logs: int
    v2_syncs: int
    txs: int


def _pool_log_counts(
    rpc: Any, block_hash: str, addresses: list[str], v2: set[str]
) -> tuple[int, int]:
    from chains import abi

    sync_topic = "0x" + abi.V2_SYNC.topic0.hex()
    logs = rpc.call("eth_getLogs", {"blockHash": block_hash, "address": addresses})
    syncs = sum(
        1 for log in logs if log["address"].lower() in v2 and log["topics"][0] == sync_topic
    )
    return len(logs), syncs


def _world_main(conn: Any, cache_dir: str, seed: int, txs_per_block: int) -> None:
    from bot.app import start_fork_world
    from chains.artifacts import repo_root
    from chains.config_profile import load_profile
    from sim.traffic import Traffic, TrafficConfig
    from sim.world_cache import WorldCache

    # SIGTERM unwinds through the finally below, so anvil and the builder are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        profile = load_profile(repo_root() / "configs" / "local.toml")
        world = start_fork_world(profile, cache=WorldCache(directory=Path(cache_dir)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        return
    try:
        assert world.manifest is not None
        traffic = Traffic(
            world.rpc,
            world.manifest,
            TrafficConfig(seed=seed, txs_per_block=txs_per_block, new_pool_probability=0.0),
        )
        addresses = [p.address for p in world.registry.pools]
        v2 = {p.address.lower() for p in world.registry.pools if p.kind == "v2"}
        conn.send(
            (
                "ok",
                WorldInfo(
                    ws_url=world.node.ws_url,
                    http_url=world.node.http_url,
                    builder_url=world.builder.url,
                    chain=world.registry.chain,
                    pools=tuple(p.to_json() for p in world.registry.pools),
                    executor=world.executor,
                    weth=world.weth,
                    chain_id=world.registry.chain.chain_id,
                    executor_key=dict(world.executor_keys)["block"],
                    relay_key=world.relay_key,
                ),
            )
        )
        while True:
            command = conn.recv()
            if command == "stop":
                break
            try:
                traffic.refresh()
                txs = traffic.build_block()
                traffic.send(txs)
                report = world.builder.build_block()
                traffic.settle()
                logs, syncs = _pool_log_counts(world.rpc, report.block_hash, addresses, v2)
                made = BlockMade(
                    number=report.block_number,
                    block_hash=report.block_hash,
                    pool_logs=logs,
                    v2_syncs=syncs,
                    txs=len(report.tx_hashes),
                )
                conn.send(("ok", made))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    finally:
        world.close()
        conn.close()


class WorldProcess:
    """The world child process and its command pipe."""

    def __init__(self, cache_dir: Path, *, seed: int = 7, txs_per_block: int = 8) -> None:
        self._ctx = mp.get_context("spawn")
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_world_main,
            args=(child, str(cache_dir), seed, txs_per_block),
            name="e2e-world",
        )
        self._child_conn = child
        self.info: WorldInfo | None = None

    def start(self) -> WorldInfo:
        """Start the child and wait for the world to be up."""
        self._proc.start()
        self._child_conn.close()
        self.info = self._answer(_START_TIMEOUT_S)
        return self.info

    def block(self) -> BlockMade:
        """Send a block of traffic and mine it; return what was mined."""
        self._conn.send("block")
        return self._answer(_BLOCK_TIMEOUT_S)

    def _answer(self, timeout_s: float) -> Any:
        if not self._conn.poll(timeout_s):
            raise TimeoutError(f"the world process did not answer within {timeout_s:g} s")
        status, payload = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"the world process failed:\n{payload}")
        return payload

    def stop(self) -> None:
        """Stop the world (builder and anvil by pid, in the child), then the child itself."""
        if self._proc.pid is None:
            return
        if self._proc.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send("stop")
            self._proc.join(30.0)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5.0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5.0)
        self._conn.close()

    def __enter__(self) -> WorldProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The composition root and supervisor: processes, rings, the fork world, clean shutdown.

`run_bot(options)` builds everything from the profile and runs until the duration is over or
SIGINT/SIGTERM arrives:

- fork mode on the embedded default: the world on anvil (mining only through the local
  builder, FIFO order), `sim.builder.LocalBuilder` serving eth_sendBundle/eth_callBundle, an
  ArbExecutor deployed and funded, ephemeral keys (no real funds exist there);
- fork mode with `--fork-url`: anvil forking that node (and block), pools from the registry
  cache or discovered once, the same local builder;
- dry-run and live: the profile's endpoints and relays, keys from the keystore or environment
  (`bot.keys`), the executor named in `[live]`; live needs `bot.live_guard.check_live`.

Shared-memory record and byte rings are created here; one ingest process per node connection
(`bot.app_ingest`) writes them and the engine process (`bot.app_engine`) reads them. The
supervisor restarts a dead ingest from the engine's head (the feed backfills what was missed),
mines blocks in fork mode (or lets the demo's traffic driver do it), and on shutdown stops
every child by pid and unlinks every segment it created.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app_engine import EngineSpec, engine_main
from bot.app_ingest import IngestSpec, ingest_main, router_table_of
from bot.byte_ring import ByteRing
from bot.engine import EngineConfig
from bot.ring import Ring
from bot.risk import RiskLimits
from bot.tx_sign import TxSigner
from chains.arb_executor import deploy_executor, fund_executor_weth, set_executor
from chains.artifacts import repo_root
from chains.config_profile import Profile
from chains.records import RECORD_DTYPE
from chains.registry import Registry, registry_from_manifest
from chains.rpc import HttpRpc
from sim.anvil import AnvilProcess
from sim.anvil_config import AnvilConfig
from sim.builder import LocalBuilder
from sim.txs import UnlockedSender
from sim.world_cache import WorldCache, start_world_node
from sim.world_manifest import Manifest
from sim.world_routers import router_table

__all__ = [
    "MODES",
    "ForkWorld",
    "RunOptions",
    "Supervisor",
    "ready_fork",
    "run_bot",
    "start_fork_world",
]

MODES = ("fork", "dry-run", "live")

_log = logging.getLogger(__name__)
RING_CAPACITY = 1 << 16
BYTE_RING_BYTES = 1 << 24
INVENTORY_WEI = 100 * 10**18
_GAS_BALANCE_WEI = 1000 * 10**18


@dataclass(slots=True)
class ForkWorld:
    """The chain the bot trades on and what was set up on it.

    Fork mode: a local anvil (`node`) mined by the local builder (`builder`). Dry-run and
    live: no node or builder of ours; `endpoints` are the profile's (http, ws) and
    `relay_urls` its relays.
    """

    node: AnvilProcess | None
    rpc: HttpRpc
    builder: LocalBuilder | None
    registry: Registry
    manifest: Manifest | None
    executor: str
    weth: str
    executor_keys: tuple[tuple[str, bytes], ...] = field(repr=False)  # (lane, key)
    relay_key: bytes = field(repr=False)
    start_balance_wei: int = 0
    endpoints: tuple[str, str] | None = None  # (http, ws) when there is no local node
    relay_urls: tuple[str, ...] = ()

    @property
    def http_url(self) -> str:
        """Return the node's HTTP url."""
        if self.node is not None:
            return self.node.http_url
        assert self.endpoints is not None
        return self.endpoints[0]

    @property
    def ws_url(self) -> str:
        """Return the node's websocket url."""
        if self.node is not None:
            return self.node.ws_url
        assert self.endpoints is not None
        return self.endpoints[1]

    @property
    def relays(self) -> tuple[str, ...]:
        """Return where bundles go: the local builder, or the profile's relays."""
        return (self.builder.url,) if self.builder is not None else self.relay_urls

    def close(self) -> None:
        """Stop the builder and the node (by pid)."""
        if self.builder is not None:
            self.builder.stop()
        self.rpc.close()
        if self.node is not None:
            self.node.stop()


def _weth_balance(rpc: HttpRpc, weth: str, owner: str) -> int:
    data = "0x70a08231" + owner.lower().removeprefix("0x").rjust(64, "0")
    return int(rpc.call("eth_call", {"to": weth, "data": data}, "latest"), 16)


def ready_fork(
    node: AnvilProcess,
    rpc: HttpRpc,
    registry: Registry,
    manifest: Manifest | None,
    *,
    weth: str,
) -> ForkWorld:
    """Set the bot up on a local anvil: an ArbExecutor deployed by the node's second dev
    account, allowed for two ephemeral lane keys (the fork holds no real funds) and funded
    with WETH wrapped by deposit(); then automine off and the local builder on the node."""
    owner = UnlockedSender(rpc, rpc.call("eth_accounts")[1])
    if int(rpc.call("eth_getBalance", owner.address, "latest"), 16) < _GAS_BALANCE_WEI:
        rpc.call("anvil_setBalance", owner.address, hex(2 * _GAS_BALANCE_WEI))
    executor_keys = (("block", os.urandom(32)), ("backrun", os.urandom(32)))
    executor = deploy_executor(owner, weth)
    for _, key in executor_keys:
        address = TxSigner(key).address
        rpc.call("anvil_setBalance", address, hex(_GAS_BALANCE_WEI))
        set_executor(owner, executor, address, True)
    fund_executor_weth(owner, weth, executor, INVENTORY_WEI)
    node.set_automine(False)
    builder = LocalBuilder(node.http_url).start()
    return ForkWorld(
        node=node,
        rpc=rpc,
        builder=builder,
        registry=registry,
        manifest=manifest,
        executor=executor,
        weth=weth,
        executor_keys=executor_keys,
        relay_key=os.urandom(32),
        start_balance_wei=_weth_balance(rpc, weth, executor),
    )


def start_fork_world(profile: Profile, *, cache: WorldCache) -> ForkWorld:
    """Start the embedded world for fork mode: builder-mined anvil, executor deployed and funded."""
    if profile.world is None:
        raise ValueError(f"{profile.path}: fork mode without --fork-url needs a [world] section")
    node, manifest, _ = start_world_node(
        profile.world.spec, cache, config=AnvilConfig(order="fifo")
    )
    try:
        rpc = node.rpc()
        chain = _chain_of(profile, manifest)
        return ready_fork(
            node,
            rpc,
            registry_from_manifest(chain, manifest),
            manifest,
            weth=manifest.contracts["weth"],
        )
    except BaseException:
        node.stop()
        raise


def _chain_of(profile: Profile, manifest: Manifest) -> Any:
    from chains.config_chain import resolve_with_manifest

    return resolve_with_manifest(profile.chain, manifest.to_json())


@dataclass(slots=True)
class RunOptions:
    """One run: the profile, the mode, how long, and the hooks the demo plugs in."""

    profile: Profile
    mode: str = "fork"  # fork | dry-run | live
    duration_s: float | None = None
    metrics_port: int | None = None
    mine_blocks: bool = True  # fork mode: the supervisor mines one block per block time
    on_status: Callable[[dict[str, Any]], None] | None = None
    # builds the block driver of the run from the fork world (the demo: traffic, then a block
    # built); called between status polls, it replaces the supervisor's plain block timer
    driver: Callable[[ForkWorld], Callable[[], None]] | None = None
    pending: bool = True
    # fork mode on any node: anvil forks this url (at this block, default its head)
    fork_url: str | None = None
    fork_block: int | None = None
    send: bool = True  # False: every bundle is simulated and audited but never sent
    executor: str | None = None  # dry-run/live: the ArbExecutor (default: the [live] one)
    log_path: Path | None = None  # JSON log lines of both processes (default: data dir)
    # called once the processes run, before the first block is mined (tests: kill ingest,
    # inject a reorg, engage the kill switch, set the node's block timestamps)
    on_start: Callable[[ForkWorld, Supervisor], None] | None = None
    until: Callable[[], bool] | None = None  # the run ends when this returns True
    # fork mode: called after the last bundles settled, while the node still runs
    before_stop: Callable[[ForkWorld], None] | None = None


class Supervisor:
    """Owns the rings and the child processes; restarts ingest; stops everything by pid."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.ring = Ring.create(RING_CAPACITY, RECORD_DTYPE)
        self.raw_ring = ByteRing.create(BYTE_RING_BYTES)
        self.stop = self.ctx.Event()
        self.ingest_stop = self.ctx.Event()
        self.head = self.ctx.Array("B", 72)
        self.status: Any = self.ctx.Queue(maxsize=1024)
        self.ingest: Any = None
        self.engine: Any = None
        self.ingest_spec: IngestSpec | None = None
        self.restarts = 0

    @property
    def pids(self) -> list[int]:
        """Return the pids of the running children."""
        return [p.pid for p in (self.ingest, self.engine) if p is not None and p.is_alive()]

    def start(self, ingest: IngestSpec, engine: EngineSpec) -> None:
        """Start the engine first (it loads the snapshot), then ingest."""
        self.ingest_spec = ingest
        self.engine = self.ctx.Process(
            target=engine_main, args=(engine, self.stop, self.head, self.status), name="engine"
        )
        self.engine.start()
        self._start_ingest(ingest)

    def _start_ingest(self, spec: IngestSpec) -> None:
        self.ingest = self.ctx.Process(
            target=ingest_main, args=(spec, self.ingest_stop), name="ingest"
        )
        self.ingest.start()

    def kill_ingest(self) -> None:
        """Kill the ingest process hard (tests: the supervisor must restart it)."""
        if self.ingest is not None and self.ingest.is_alive():
            os.kill(self.ingest.pid, signal.SIGKILL)

    def poll(self) -> None:
        """Restart a dead ingest from the engine's head; fail if the engine died."""
        if self.engine is not None and not self.engine.is_alive() and not self.stop.is_set():
            raise RuntimeError(f"the engine process exited (code {self.engine.exitcode})")
        if self.ingest is not None and not self.ingest.is_alive() and not self.stop.is_set():
            assert self.ingest_spec is not None
            with self.head.get_lock():
                raw = bytes(self.head[:])
            number = int.from_bytes(raw[:8], "big")
            spec = self.ingest_spec
            if number > 0:
                spec = IngestSpec(
                    **{
                        **{k: getattr(spec, k) for k in IngestSpec.__dataclass_fields__},
                        "start": (number, raw[8:40], raw[40:72]),
                    }
                )
            self.restarts += 1
            self._start_ingest(spec)

    def drain_status(self) -> list[dict[str, Any]]:
        """Return the status lines the engine posted since the last call."""
        out = []
        while True:
            try:
                out.append(self.status.get_nowait())
            except queue.Empty:
                return out

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop the children (event, then SIGTERM, then SIGKILL by pid); unlink the rings."""
        self.stop.set()
        self.ingest_stop.set()
        for proc in (self.ingest, self.engine):
            if proc is None or proc.pid is None:  # never started
                continue
            proc.join(timeout_s)
            if proc.is_alive():
                proc.terminate()
                proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(2.0)
        with contextlib.suppress(Exception):
            self.status.close()
            self.status.join_thread()
        for ring in (self.ring, self.raw_ring):
            ring.close()
            try:
                ring.unlink()
            except FileNotFoundError:  # removed from outside (an operator's cleanup)
                _log.warning("shared-memory segment %s was already gone", ring.segment.name)


def _engine_config(profile: Profile, weth: str, inventory_wei: int) -> EngineConfig:
    strategy = profile.strategy
    bases = []
    for token in strategy.base_tokens:
        bases.append(weth if token.upper() in ("WETH", "ETH") else token)
    return EngineConfig(
        weth=weth,
        base_tokens=tuple(bases),
        max_hops=strategy.max_hops,
        tip_share_bps=strategy.tip_share_bps,
        min_net_profit_wei=strategy.min_profit_wei,
        priority_fee_wei=strategy.priority_fee_wei,
        eip1559=profile.chain.eip1559,
        inventory={weth: inventory_wei // 2},  # half the executor's WETH per trade at most
        max_amount_in={weth: profile.risk.max_input_wei},
    )


def _wait_ready(
    sup: Supervisor,
    world: ForkWorld,
    on_status: Callable[[dict[str, Any]], None] | None,
    stopping: threading.Event,
    timeout_s: float = 300.0,
) -> dict[str, Any]:
    """Wait until the engine has loaded its snapshot and, in fork mode, searched one block.

    The first search compiles the numba kernels on a fresh machine (cached afterwards): the
    local world mines its first block only once the engine follows, so no traffic block is
    lost to start-up. Returns the last status seen.
    """
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    ready = False
    target: int | None = None
    while not stopping.is_set():
        if time.monotonic() >= deadline:
            raise RuntimeError(f"the engine was not ready within {timeout_s:.0f} s")
        sup.poll()
        for status in sup.drain_status():
            if status.get("ready"):
                ready = True
                continue
            last = status
            if on_status is not None:
                on_status(status)
        if ready and world.builder is None:
            return last
        if ready and target is None:
            assert world.builder is not None
            target = world.builder.build_block().block_number
        if target is not None and last.get("block", 0) >= target:
            return last
        time.sleep(0.02)
    return last


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _metrics_ports(port: int | None) -> tuple[int | None, int | None]:
    """(engine, ingest) exporter ports: None off, 0 two free ports, N then N and N + 1."""
    if port is None:
        return None, None
    if port == 0:
        return _free_port(), _free_port()
    return port, port + 1


def run_bot(options: RunOptions, *, cache: WorldCache | None = None) -> dict[str, Any]:
    """Run the bot; return the final status (and the on-chain check in fork mode)."""
    profile = options.profile
    if options.mode not in MODES:
        raise ValueError(f"unknown mode {options.mode!r}: one of {', '.join(MODES)}")
    if options.mode != "fork":
        from bot.app_remote import connect_remote

        world = connect_remote(profile, options.mode, executor=options.executor)
    elif options.fork_url is not None:
        from bot.app_fork import start_fork_url_world

        world = start_fork_url_world(profile, options.fork_url, fork_block=options.fork_block)
    else:
        world_cache = cache or WorldCache(directory=repo_root() / ".world" / "default")
        world = start_fork_world(profile, cache=world_cache)
    local = world.builder is not None
    sup = Supervisor()
    stopping = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stopping.set())
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    final: dict[str, Any] = {}
    try:
        latest = world.rpc.call("eth_getBlockByNumber", "latest", False)
        start = (
            int(latest["number"], 16),
            bytes.fromhex(latest["hash"][2:]),
            bytes.fromhex(latest["parentHash"][2:]),
        )
        pools = tuple(p.to_json() for p in world.registry.pools)
        routers = (
            router_table(world.manifest)
            if world.manifest is not None
            else router_table_of(world.registry.chain)
        )
        data_dir = profile.paths.data_dir / "run"
        data_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        log_path = options.log_path or data_dir / f"bot-{stamp}.jsonl"
        engine_port, ingest_port = _metrics_ports(options.metrics_port)
        ingest = IngestSpec(
            ring_name=sup.ring.name,
            byte_ring_name=sup.raw_ring.name,
            ws_url=world.ws_url,
            chain=world.registry.chain,
            pools=pools,
            routers=tuple(routers.items()),
            start=start,
            pending=options.pending,
            weth=world.weth,
            metrics_port=ingest_port,
            log_path=log_path,
        )
        engine = EngineSpec(
            ring_name=sup.ring.name,
            byte_ring_name=sup.raw_ring.name,
            http_url=world.http_url,
            chain_id=world.registry.chain.chain_id,
            pools=pools,
            start_hash=latest["hash"],
            gas_model_path=repo_root() / "configs" / "gas" / f"{profile.chain.name}.toml",
            config=_engine_config(profile, world.weth, world.start_balance_wei),
            limits=RiskLimits.from_profile(profile),
            risk_state_path=data_dir / f"risk-{stamp}.json" if local else profile.risk.state_file,
            kill_switch_path=profile.risk.kill_switch_file,
            audit_path=data_dir / f"audit-{stamp}.sqlite",
            relay_urls=world.relays,
            executor_address=world.executor,
            executor_keys=world.executor_keys,
            relay_key=world.relay_key,
            dry_run=options.mode == "dry-run" or not options.send,
            metrics_port=engine_port,
            log_path=log_path,
            mode=options.mode,
        )
        sup.start(ingest, engine)
        if options.on_start is not None:
            options.on_start(world, sup)
        final = _wait_ready(sup, world, options.on_status, stopping)
        tick = None if options.driver is None else options.driver(world)
        block_time = max(profile.chain.block_time_s, 0.2)
        deadline = None if options.duration_s is None else time.monotonic() + options.duration_s
        next_block = time.monotonic() + block_time

        def drain() -> None:
            nonlocal final
            for status in sup.drain_status():
                final = status
                if options.on_status is not None:
                    options.on_status(status)

        while not stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            if options.until is not None and options.until():
                break
            sup.poll()
            drain()
            if tick is not None:
                tick()
            elif local and options.mine_blocks and time.monotonic() >= next_block:
                assert world.builder is not None
                world.builder.build_block()
                next_block += block_time
            time.sleep(0.02)
        if local:
            # let the last bundles settle: two more blocks, then wait for the engine to book
            assert world.builder is not None
            last = 0
            for _ in range(2):
                last = world.builder.build_block().block_number
                time.sleep(block_time / 2)
            settle_deadline = time.monotonic() + 10.0
            while time.monotonic() < settle_deadline and final.get("block", 0) < last:
                sup.poll()
                drain()
                time.sleep(0.02)
        if options.before_stop is not None:
            options.before_stop(world)
        end_balance = _weth_balance(world.rpc, world.weth, world.executor)
        final = {
            **final,
            "mode": options.mode,
            "executor": world.executor,
            "onchain_profit_wei": end_balance - world.start_balance_wei,
            "audit_path": str(engine.audit_path),
            "log_path": str(log_path),
            "metrics_ports": [engine_port, ingest_port],
            "ingest_restarts": sup.restarts,
        }
        return final
    finally:
        sup.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        world.close()

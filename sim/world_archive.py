"""A long archive of the local world, built once and cached: `world_archive`.

The world (`sim.world_cache`) runs on anvil; its deployer trades through the real routers
(Router02 of both V2 venues, single and two-hop; SwapRouter exactInputSingle), so every log
is emitted by the real pool contracts. Each block gets 1 to 3
swaps (sent in one JSON-RPC batch, then ``evm_mine`` with a timestamp 12 s after the last),
and every round of 200 blocks checks that the mempool is empty.

Anvil's per-block cost bounds the build: it recomputes the state root over all storage at
every block. From Cancun/Prague on, the system contracts (EIP-4788 beacon roots, EIP-2935
block hashes) add storage slots every block, so that cost grows with the height (at 10,000
blocks a block costs about twice what it costs at the start). The archive's chain therefore
runs under the Shanghai rules (``hardfork``), where a block costs the same at any height
(about 4 ms of anvil time for the world's state, plus the swaps). The pools' contracts
behave the same under either.

Prices stay near where they started: before each round the pools are read, and a pool whose
price has moved more than 1% from its start is traded back towards it 4 times in 5. A V3
swap carries a price limit 5% from the pool's start, so no price leaves the range the
world's liquidity covers (past it a swap walks empty ticks until it runs out of gas).
Amounts are 0.02% to 0.3% of the input token's pool balance. Every receipt is read: a
reverted swap is counted (with the reason a replay at the head gives) and emits nothing.

The archive is recorded with `sim.archive_write.record_archive` in segments (default 10,000
blocks, 1,000-block chunks) while the node runs; a snapshot of every pool is taken before
each segment (the first is where a replay starts, the others are checkpoints). The node is
gone once the build stops, so a build interrupted before ``world_archive.json`` (written
last, it marks the archive complete) is started over by the next call. Segments and rounds
are checked as they go: the mempool is empty after every round, and the pool logs recorded
are exactly those the sent swaps emit (a reverted swap fails the build).

Where: ``<root>/archive-<key>/`` (root defaults to ``.world`` in the checkout), the key a hash
of the world cache key, the generator's version and its parameters.
``python -m sim.world_archive --blocks N`` builds (or finds) one and prints where it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chains import abi
from chains import abi_routers as r
from chains.artifacts import repo_root
from chains.config import load_chain_config, resolve_with_manifest
from chains.registry import Registry, registry_from_manifest
from chains.rpc import HttpRpc, RpcResponseError
from chains.snapshot import snapshot_pools
from sim.anvil import AnvilConfig, AnvilProcess, anvil_binary
from sim.archive_snapshot import snapshot_name, write_snapshot
from sim.archive_write import network_name, record_archive
from sim.txs import decode_revert
from sim.world_cache import WorldCache, anvil_version, start_world_node, world_cache_key
from sim.world_manifest import Manifest, read_manifest, write_manifest
from sim.world_spec import load_world_spec

__all__ = [
    "WorldArchive",
    "WorldArchiveConfig",
    "archive_registry",
    "find_world_archive",
    "main",
    "world_archive",
]

DEFAULT_SPEC = repo_root() / "configs" / "world" / "default.toml"
LOCAL_CHAIN = repo_root() / "configs" / "chains" / "local.toml"
MARKER = "world_archive.json"
GENERATOR_VERSION = 3
_DEADLINE = 2**40
_SWAP_GAS_UNITS = 600_000
_BLOCK_INTERVAL_S = 12
# (weight, kind): kinds are (venue kind, hops)
_KINDS = ((4.0, ("v2", 1)), (4.0, ("v3", 1)), (2.0, ("v2", 2)))
# a V3 swap stops where the pool's price is this far (relative) from where it started: the
# price never leaves the range the world's liquidity covers
_V3_BAND = 0.05
_STEER_DRIFT = 0.01  # beyond this drift (log price) swaps go back towards the start 4 times in 5


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldArchiveConfig:
    """What the generator does; every field is part of the archive's key."""

    blocks: int
    seed: int = 1
    swaps_per_block: tuple[int, ...] = (1, 1, 2, 2, 3)
    hardfork: str = "shanghai"
    round_blocks: int = 200
    segment_blocks: int = 10_000
    chunk_blocks: int = 1_000
    amount_fraction: tuple[float, float] = (0.0002, 0.003)

    def __post_init__(self) -> None:
        if self.blocks < 1:
            raise ValueError("blocks must be >= 1")
        if not self.swaps_per_block or min(self.swaps_per_block) < 1:
            raise ValueError("swaps_per_block must hold positive counts")
        if self.segment_blocks % self.chunk_blocks or self.segment_blocks % self.round_blocks:
            raise ValueError("segment_blocks must be a multiple of chunk_blocks and round_blocks")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldArchive:
    """A complete world archive: its folder, block range and how it was built."""

    path: Path
    first_block: int
    last_block: int
    logs: int
    swaps: int
    reverted: int
    build_s: float
    size_bytes: int
    key: str

    @property
    def blocks(self) -> int:
        return self.last_block - self.first_block + 1

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def start_snapshot(self) -> Path:
        """Return the snapshot of every pool before the first block (where a replay starts)."""
        chain_id = read_manifest(self.manifest_path).chain_id
        return self.path / snapshot_name(network_name(chain_id), self.first_block - 1)


def archive_key(world_key: str, config: WorldArchiveConfig) -> str:
    """Return the key of an archive of this world made by this generator and config."""
    h = hashlib.sha256(f"world={world_key};generator={GENERATOR_VERSION};".encode())
    h.update(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    return h.hexdigest()[:16]


def archive_registry(archive: WorldArchive) -> Registry:
    """Return the world's registry (pool ids as the archive's records carry them)."""
    manifest = read_manifest(archive.manifest_path)
    chain = resolve_with_manifest(load_chain_config(LOCAL_CHAIN), manifest.to_json())
    return registry_from_manifest(chain, manifest)


def _read_marker(path: Path, key: str) -> WorldArchive | None:
    marker = path / MARKER
    if not marker.exists():
        return None
    data = json.loads(marker.read_text())
    if data.get("key") != key:
        return None
    return WorldArchive(path=path, **{k: v for k, v in data.items() if k != "path"})


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Generator:
    """The deployer's swaps: pool choice, direction bias, amounts; its state is JSON-able."""

    config: WorldArchiveConfig
    manifest: Manifest
    rng: random.Random
    nonce: int
    price0: dict[str, float]
    swaps: int = 0
    expected_logs: int = 0
    reverted: dict[str, int] = field(default_factory=dict)  # revert reason -> swaps

    def round(self, rpc: HttpRpc, blocks: int) -> None:
        """Mine `blocks` blocks of 1 to 3 swaps each, 12 s apart."""
        prices, balances = _read_pools(rpc, self.manifest)
        if not self.price0:
            self.price0 = prices
        me = self.manifest.deployer
        timestamp = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        rpc.call("evm_setTime", hex(timestamp))  # a node loaded from a dump starts at wall time
        sent: list[tuple[str, dict[str, Any], int]] = []  # (tx hash, params, pool logs)
        for _ in range(blocks):
            sends: list[tuple[str, list[Any]]] = []
            expect: list[int] = []
            for _ in range(self.rng.choice(self.config.swaps_per_block)):
                to, data, n_logs = self._swap(prices, balances)
                params = {
                    "from": me,
                    "to": to,
                    "data": "0x" + data.hex(),
                    "gas": hex(_SWAP_GAS_UNITS),
                    "nonce": hex(self.nonce),
                    "maxFeePerGas": hex(100 * 10**9),
                    "maxPriorityFeePerGas": hex(10**9),
                }
                sends.append(("eth_sendTransaction", [params]))
                self.nonce += 1
                self.swaps += 1
                expect.append(n_logs)
            timestamp += _BLOCK_INTERVAL_S
            hashes = rpc.batch(sends)
            sent += [(h, c[1][0], n) for h, c, n in zip(hashes, sends, expect, strict=True)]
            rpc.call("evm_mine", hex(timestamp))
        status = rpc.call("txpool_status")
        if any(int(str(v), 0) for v in status.values()):
            raise RuntimeError(f"anvil left {status} in the mempool after {blocks} blocks")
        self._settle(rpc, sent)

    def _settle(self, rpc: HttpRpc, sent: list[tuple[str, dict[str, Any], int]]) -> None:
        """Count the pool logs of the swaps that succeeded; note why the others reverted."""
        receipts = rpc.batch([("eth_getTransactionReceipt", [h]) for h, _, _ in sent])
        for (tx_hash, params, n_logs), receipt in zip(sent, receipts, strict=True):
            if receipt is None:
                raise RuntimeError(f"swap {tx_hash} was never mined")
            if int(receipt["status"], 16) == 1:
                self.expected_logs += n_logs
                continue
            # the node keeps no past states (--prune-history): the swap is replayed on the
            # head's state, which tells why such swaps revert but not always why this one did
            call = {k: params[k] for k in ("from", "to", "data", "gas")}
            try:
                rpc.call("eth_call", call, "latest")
                reason = "(succeeds when replayed at the head)"
            except RpcResponseError as exc:
                data = exc.data if isinstance(exc.data, str) else ""
                reason = decode_revert(bytes.fromhex(data[2:])) if data[:2] == "0x" else exc.message
            self.reverted[reason] = self.reverted.get(reason, 0) + 1

    def _swap(
        self, prices: dict[str, float], balances: dict[str, tuple[int, int]]
    ) -> tuple[str, bytes, int]:
        """Return (router, calldata, pool logs it emits) of one exact-in swap."""
        kind, hops = self.rng.choices([k for _, k in _KINDS], [w for w, _ in _KINDS])[0]
        pools = [p for p in self.manifest.pools if p.kind == kind]
        first = self.rng.choice(pools)
        price0 = self.price0[first.address]
        drift = math.log(prices[first.address] / price0)
        if abs(drift) > _STEER_DRIFT:
            zero_for_one = (drift > 0) == (self.rng.random() < 0.8)
        else:
            zero_for_one = self.rng.random() < 0.5
        a, b = (first.token0, first.token1) if zero_for_one else (first.token1, first.token0)
        balance_in = balances[first.address][0 if zero_for_one else 1]
        amount_in = max(1, int(balance_in * self.rng.uniform(*self.config.amount_fraction)))
        me = self.manifest.deployer
        if kind == "v3":
            limit = price0 * (1.0 - _V3_BAND if zero_for_one else 1.0 + _V3_BAND)
            sqrt_limit_x96 = int(math.sqrt(limit) * 2**96)
            params = (a, b, first.fee_pips, me, _DEADLINE, amount_in, 0, sqrt_limit_x96)
            return self.manifest.contracts["swap_router"], r.SR_EXACT_INPUT_SINGLE.encode(params), 1
        path, n_pools = [a, b], 1
        if hops == 2:
            seconds = [
                p
                for p in pools
                if p is not first
                and b in (p.token0, p.token1)
                and p.venue == first.venue
                and (p.token1 if p.token0 == b else p.token0) != a
            ]
            if seconds:
                second = self.rng.choice(seconds)
                path.append(second.token1 if second.token0 == b else second.token0)
                n_pools = 2
        router = self.manifest.contracts[f"{first.venue}_router02"]
        data = r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(amount_in, 0, path, me, _DEADLINE)
        return router, data, 2 * n_pools


def _read_pools(
    rpc: HttpRpc, manifest: Manifest
) -> tuple[dict[str, float], dict[str, tuple[int, int]]]:
    """Return each pool's price (token1 per token0, raw units) and its two token balances."""
    calls: list[tuple[str, list[Any]]] = []
    for pool in manifest.pools:
        if pool.kind == "v2":
            calls.append(_eth_call(pool.address, abi.V2_PAIR_GET_RESERVES.encode()))
        else:
            calls.append(_eth_call(pool.address, abi.V3_POOL_SLOT0.encode()))
        for token in (pool.token0, pool.token1):
            calls.append(_eth_call(token, abi.ERC20_BALANCE_OF.encode(pool.address)))
    replies = [bytes.fromhex(x[2:]) for x in rpc.batch(calls)]
    prices: dict[str, float] = {}
    balances: dict[str, tuple[int, int]] = {}
    for i, pool in enumerate(manifest.pools):
        state, bal0, bal1 = replies[3 * i : 3 * i + 3]
        if pool.kind == "v2":
            r0, r1, _ = abi.V2_PAIR_GET_RESERVES.decode_output(state)
            prices[pool.address] = r1 / r0
        else:
            sqrt_price_x96 = abi.V3_POOL_SLOT0.decode_output(state)[0]
            prices[pool.address] = (sqrt_price_x96 / 2**96) ** 2
        balances[pool.address] = (int.from_bytes(bal0, "big"), int.from_bytes(bal1, "big"))
    return prices, balances


def _eth_call(to: str, data: bytes) -> tuple[str, list[Any]]:
    return ("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])


def _fund_deployer(rpc: HttpRpc, manifest: Manifest) -> None:
    """Mint the deployer plenty of every test token and wrap plenty of WETH (one block)."""
    me = manifest.deployer
    sends: list[tuple[str, list[Any]]] = []
    weth = manifest.contracts["weth"]
    for token in manifest.tokens:
        if token.address == weth:
            call = {"from": me, "to": weth, "value": hex(10**9 * 10**18)}
            call["data"] = "0x" + abi.WETH_DEPOSIT.encode().hex()
        else:
            amount = 10**15 * 10**token.decimals
            data = abi.TEST_ERC20_MINT.encode(me, amount)
            call = {"from": me, "to": token.address, "data": "0x" + data.hex()}
        sends.append(("eth_sendTransaction", [{**call, "gas": hex(200_000)}]))
    rpc.call("evm_setAutomine", False)
    hashes = rpc.batch(sends)
    timestamp = int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
    # a loaded node's clock starts at the wall clock: the world's blocks are 12 s apart from
    # its genesis, and so are the archive's
    rpc.call("evm_setTime", hex(timestamp))
    rpc.call("evm_mine", hex(timestamp + _BLOCK_INTERVAL_S))
    for receipt in rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes]):
        if receipt is None or int(receipt["status"], 16) != 1:
            raise RuntimeError(f"funding the deployer failed: {receipt}")


# --------------------------------------------------------------------------------------------
# Building and caching
# --------------------------------------------------------------------------------------------


def _snapshot(rpc: HttpRpc, registry: Registry, out: Path, network: str, chain_id: int) -> None:
    """Write the snapshot of every pool after the node's latest block (if not there yet).

    Pool by pool, not through Multicall3: a multicall needs more gas than the small blocks
    hold, and an `eth_call` pinned to a block may use no more than its gas limit.
    """
    head = rpc.call("eth_getBlockByNumber", "latest", False)
    path = out / snapshot_name(network, int(head["number"], 16))
    if path.exists():
        return
    pools = list(registry.pools)
    refs = [(p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing) for p in pools]
    snapshot = snapshot_pools(rpc, refs, head["hash"], use_multicall=False)
    write_snapshot(path, snapshot, chain_id, pools)


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file() and p.name[0] != ".")


def _location(config: WorldArchiveConfig, root: Path | None, spec: Path) -> tuple[Path, str]:
    root = Path(root) if root is not None else repo_root() / ".world"
    world_key = world_cache_key(load_world_spec(spec), anvil_version(anvil_binary()))
    key = archive_key(world_key, config)
    return root / f"archive-{key}", key


def find_world_archive(
    config: WorldArchiveConfig, *, root: Path | None = None, spec: Path = DEFAULT_SPEC
) -> WorldArchive | None:
    """Return the complete cached archive of this config, None if it is not built yet."""
    out, key = _location(config, root, spec)
    return _read_marker(out, key)


def world_archive(
    config: WorldArchiveConfig,
    *,
    root: Path | None = None,
    spec: Path = DEFAULT_SPEC,
    world_dir: Path | None = None,
    progress: Callable[[str], object] | None = None,
) -> WorldArchive:
    """Return the cached archive of this config, building (or resuming) it first if needed.

    ``world_dir`` is the world's cache (default ``<root>/default``, the one the bot uses).
    """
    say = progress if progress is not None else (lambda _msg: None)
    root = Path(root) if root is not None else repo_root() / ".world"
    out, key = _location(config, root, spec)
    found = _read_marker(out, key)
    if found is not None:
        return found
    if out.exists():
        say(f"{out.name} is incomplete (an interrupted build): building it again")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.perf_counter()
    anvil = AnvilConfig(hardfork=config.hardfork, order="fifo", extra_args=("--prune-history",))
    cache = WorldCache(directory=world_dir if world_dir is not None else root / "default")
    node, manifest, _ = start_world_node(spec, cache)
    node.stop()
    write_manifest(out / "manifest.json", manifest)
    generator = _Generator(config, manifest, random.Random(config.seed), 0, {})
    node = AnvilProcess.start(dataclasses.replace(anvil, load_state=cache.state_path))
    with node, node.rpc(timeout_s=600.0) as rpc:
        rpc.call("anvil_autoImpersonateAccount", True)
        network, chain_id = network_name(manifest.chain_id), manifest.chain_id
        registry = registry_from_manifest(
            resolve_with_manifest(load_chain_config(LOCAL_CHAIN), manifest.to_json()), manifest
        )
        _fund_deployer(rpc, manifest)
        first = int(rpc.call("eth_blockNumber"), 16) + 1
        last = first + config.blocks - 1
        generator.nonce = int(rpc.call("eth_getTransactionCount", manifest.deployer, "latest"), 16)
        done = first - 1
        logs = 0
        while done < last:
            seg_end = min(done + config.segment_blocks, last)
            _snapshot(rpc, registry, out, network, chain_id)
            block = done
            while block < seg_end:
                n = min(config.round_blocks, seg_end - block)
                generator.round(rpc, n)
                block += n
            result = record_archive(
                node.http_url, done + 1, seg_end, out, registry, chunk_blocks=config.chunk_blocks
            )
            logs += result.logs
            if logs != generator.expected_logs:
                raise RuntimeError(
                    f"blocks {first}..{seg_end}: {logs} pool logs recorded, the swaps sent "
                    f"emit {generator.expected_logs}"
                )
            done = seg_end
            elapsed = time.perf_counter() - started
            say(
                f"{done - first + 1:,}/{config.blocks:,} blocks, {logs:,} logs, {elapsed:.0f} s"
                + (f", reverted swaps: {generator.reverted}" if generator.reverted else "")
            )
    build_s = time.perf_counter() - started
    marker = {
        "first_block": first,
        "last_block": last,
        "logs": logs,
        "swaps": generator.swaps,
        "reverted": sum(generator.reverted.values()),
        "build_s": round(build_s, 1),
        "size_bytes": _folder_bytes(out),
        "key": key,
    }
    tmp = out / (MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    os.replace(tmp, out / MARKER)
    archive = _read_marker(out, key)
    assert archive is not None
    return archive


def main(argv: list[str] | None = None) -> int:
    """Build (or find) a world archive of --blocks blocks and print where it is."""
    parser = argparse.ArgumentParser(prog="python -m sim.world_archive", description=__doc__)
    parser.add_argument("--blocks", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--root", type=Path, default=None, help="default: .world in the checkout")
    args = parser.parse_args(argv)
    config = WorldArchiveConfig(blocks=args.blocks, seed=args.seed)
    archive = world_archive(config, root=args.root, progress=lambda m: print(m, flush=True))
    print(
        f"{archive.path}: blocks {archive.first_block}..{archive.last_block} "
        f"({archive.blocks:,}), {archive.logs:,} pool logs from {archive.swaps:,} swaps, "
        f"{archive.size_bytes / 1e6:.1f} MB, built in {archive.build_s:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

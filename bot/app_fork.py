"""Fork mode on any node: anvil forking a url at a block, with the bot's executor on it.

`start_fork_url_world(profile, fork_url, fork_block=...)` returns the same `bot.app.ForkWorld`
as the embedded world, built on `anvil --fork-url`:

1. the url is asked for its chain id and head (a clear error when it cannot be reached, when it
   serves another chain than the profile's, or when the block is past its head); the fork
   block is pinned to a number, so the fork, the registry and the engine's snapshot all read
   one block even while the upstream moves on;
2. anvil forks it at that block on 127.0.0.1, FIFO order, automining during set-up only;
3. the pools: a profile with a world takes the world manifest's pools (the same ids as the
   embedded world, and the manifest decodes the world's routers for the mempool), then admits
   pools created since the world's deployment; any other profile syncs the registry cache
   (`<data_dir>/registry`), discovering once what the cache has not seen. Both read through
   the fork at the fork block rather than the upstream: that block is the state the bot
   starts from, pools created later upstream do not exist on the fork, and anvil keeps what
   it fetched, so the snapshot that follows reads the same slots locally;
4. an ArbExecutor deployed by the node's second dev account, allowed for two ephemeral lane
   keys, and funded with WETH wrapped by `deposit()` (the fork holds no real funds, and a real
   WETH cannot be minted any other way); then automine off and the local builder on the fork.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.app import ForkWorld, ready_fork
from chains.config_profile import Profile
from chains.registry import Registry, registry_from_manifest
from chains.registry_cache import sync_registry
from chains.registry_discovery import LiquidityFilter, discover
from chains.rpc import HttpRpc, RpcError
from chains.toml_reader import ConfigError
from sim.anvil import AnvilProcess, AnvilStartError
from sim.anvil_config import AnvilConfig
from sim.world_manifest import Manifest, read_manifest

__all__ = ["ForkUrlError", "start_fork_url_world"]

_PROBE_TIMEOUT_S = 10.0


class ForkUrlError(RuntimeError):
    """The fork url cannot be forked: unreachable, the block out of range or without state."""


def start_fork_url_world(
    profile: Profile, fork_url: str, *, fork_block: int | None = None
) -> ForkWorld:
    """Start anvil forking `fork_url` at `fork_block` (default its head) and set the bot up on it.

    A negative `fork_block` counts back from the url's head. Raises ForkUrlError for a url
    that cannot be forked and ConfigError (naming the profile file and key) for a chain id
    that differs from the profile's chain.
    """
    chain_id, block = _probe(fork_url, fork_block)
    if chain_id != profile.chain.chain_id:
        raise ConfigError(
            profile.path,
            "chain",
            f"{fork_url} serves chain id {chain_id}, but chain {profile.chain.name!r} "
            f"(chains/{profile.chain.name}.toml chain_id) is {profile.chain.chain_id}",
        )
    manifest = _world_manifest(profile)
    weth = profile.chain.wrapped_native
    if weth is None:
        raise ConfigError(profile.path, "chain", f"chain {profile.chain.name!r} names no WETH")
    try:
        node = AnvilProcess.start(
            AnvilConfig(order="fifo", fork_url=fork_url, fork_block_number=block),
            startup_timeout_s=120.0,
        )
    except AnvilStartError as exc:
        # typically a node without that block's state (not an archive node, or pruned)
        raise ForkUrlError(
            f"anvil could not fork {fork_url} at block {block}; does the node keep that "
            f"block's state?\n{exc}"
        ) from exc
    try:
        rpc = node.rpc()
        registry = _registry(profile, manifest, rpc, fork_url, block)
        return ready_fork(node, rpc, registry, manifest, weth=weth)
    except BaseException:
        node.stop()
        raise


def _probe(fork_url: str, fork_block: int | None) -> tuple[int, int]:
    """Return the url's chain id and the fork block as a number within its chain."""
    if urlsplit(fork_url).scheme not in ("http", "https"):
        raise ForkUrlError(f"fork url {fork_url!r}: give the node's http(s) JSON-RPC url")
    try:
        with HttpRpc(fork_url, timeout_s=_PROBE_TIMEOUT_S) as upstream:
            chain_id = int(upstream.call("eth_chainId"), 16)
            head = int(upstream.call("eth_blockNumber"), 16)
    except (RpcError, ValueError, OSError) as exc:
        raise ForkUrlError(f"cannot reach the fork url {fork_url}: {exc}") from exc
    block = head if fork_block is None else (head + fork_block if fork_block < 0 else fork_block)
    if not 0 <= block <= head:
        raise ForkUrlError(f"fork block {fork_block} is outside {fork_url}'s chain (head {head})")
    return chain_id, block


def _world_manifest(profile: Profile) -> Manifest | None:
    if profile.world is None:
        return None
    if not profile.world.manifest.is_file():
        raise ConfigError(profile.path, "world.manifest", "no manifest: run `arbloop world up`")
    return read_manifest(profile.world.manifest)


def _registry(
    profile: Profile, manifest: Manifest | None, rpc: HttpRpc, fork_url: str, block: int
) -> Registry:
    """Return the pools at the fork block (read through the fork; see the module docstring)."""
    liquidity = LiquidityFilter.from_config(profile.registry)
    if manifest is None:
        return sync_registry(
            rpc,
            profile.chain,
            profile.paths.data_dir / "registry",
            start_block=profile.registry.start_block,
            to_block=block,
            liquidity=liquidity,
        ).registry
    weth = manifest.contracts["weth"]
    if block < manifest.deployment_block or len(rpc.call("eth_getCode", weth, hex(block))) <= 2:
        raise ConfigError(
            profile.path,
            "world.manifest",
            f"the world of {profile.world.manifest if profile.world else 'the manifest'} "
            f"(WETH {weth}, deployed by block {manifest.deployment_block}) is not on "
            f"{fork_url} at block {block}",
        )
    registry = registry_from_manifest(profile.chain, manifest)
    discover(
        rpc, registry, manifest.deployment_block, block, liquidity=liquidity, block_tag=hex(block)
    )
    return registry

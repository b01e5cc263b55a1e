"""Dry-run and live mode: the profile's nodes and relays, real keys, the operator's consent.

`connect_remote(profile, mode, executor=...)` checks everything a run against a real chain
needs before any process starts, and names the file and key at fault otherwise:

- `[endpoints]` gives at least one HTTP and one websocket url (live: two HTTP urls that agree
  on the chain id and head, see `bot.live_guard`); the node's chain id equals the profile's;
- `[relays] urls` is not empty (dry-run simulates there with `eth_callBundle`; live sends);
- the executor key and the relay key come from the keystore or the environment
  (`bot.keys`), never from the profile;
- the executor is `--executor` or `[live] executor`, and its code is ArbExecutor's;
- live mode passes `bot.live_guard.check_live` (the acknowledgment names chain, executor and
  signer);
- the pools come from the registry cache, discovered once when there is none.

Dry-run runs every stage up to simulation and sends nothing; live sends to the relays only
(there is no public-mempool path).
"""

from __future__ import annotations

from bot.keys import load_key
from bot.live_guard import EndpointHead, check_live
from bot.redact import redact_url
from bot.tx_sign import TxSigner
from chains.arb_executor import verify_executor
from chains.config_profile import Profile
from chains.registry import Registry, registry_from_manifest
from chains.registry_cache import sync_registry
from chains.registry_discovery import LiquidityFilter
from chains.rpc import HttpRpc, RpcError
from chains.toml_reader import ConfigError
from sim.world_manifest import read_manifest

__all__ = ["connect_remote", "endpoint_heads", "profile_registry"]


def profile_registry(profile: Profile, rpc: HttpRpc) -> Registry:
    """Return the profile's registry: the world manifest's pools, or discovery (cached)."""
    if profile.world is not None:
        if not profile.world.manifest.is_file():
            raise ConfigError(profile.path, "world.manifest", "no manifest: run `arbloop world up`")
        return registry_from_manifest(profile.chain, read_manifest(profile.world.manifest))
    return sync_registry(
        rpc,
        profile.chain,
        profile.paths.data_dir / "registry",
        start_block=profile.registry.start_block,
        liquidity=LiquidityFilter.from_config(profile.registry),
    ).registry


def endpoint_heads(urls: tuple[str, ...]) -> list[EndpointHead]:
    """Ask every HTTP endpoint for its chain id and head (None where it does not answer)."""
    heads: list[EndpointHead] = []
    for url in urls:
        chain_id = head = None
        try:
            with HttpRpc(url, timeout_s=5.0) as rpc:
                chain_id = int(rpc.call("eth_chainId"), 16)
                head = int(rpc.call("eth_blockNumber"), 16)
        except (RpcError, OSError, ValueError):
            pass
        heads.append(EndpointHead(url=redact_url(url), chain_id=chain_id, head_block=head))
    return heads


def connect_remote(profile: Profile, mode: str, *, executor: str | None) -> object:
    """Check the profile, keys and consent for dry-run or live; return the run's ForkWorld."""
    from bot.app import ForkWorld, _weth_balance  # the composition root imports this module

    if mode not in ("dry-run", "live"):
        raise ValueError(f"connect_remote serves dry-run and live, not {mode!r}")
    endpoints = profile.endpoints
    if not endpoints.http or not endpoints.ws:
        raise ConfigError(
            profile.path, "endpoints", f"{mode} needs [endpoints] http and ws urls of a node"
        )
    if not profile.relays.urls:
        raise ConfigError(profile.path, "relays.urls", f"{mode} needs at least one relay url")
    weth = profile.chain.wrapped_native
    if weth is None:
        raise ConfigError(profile.path, "chain.wrapped_native", "the chain names no WETH")
    address = executor or (profile.live.executor if profile.live is not None else None)
    if address is None:
        raise ConfigError(
            profile.path, "live.executor", f"{mode} needs --executor or [live] executor"
        )
    rpc = HttpRpc(endpoints.http[0], timeout_s=10.0)
    try:
        chain_id = int(rpc.call("eth_chainId"), 16)
        if chain_id != profile.chain.chain_id:
            raise ConfigError(
                profile.path,
                "endpoints.http",
                f"the node serves chain {chain_id}, the profile's chain "
                f"{profile.chain.name} is {profile.chain.chain_id}",
            )
        code_ok = verify_executor(rpc, address)
        if not code_ok:
            raise ConfigError(
                profile.path,
                "live.executor",
                f"the code at {address} is not ArbExecutor's (see `arbloop executor verify`)",
            )
        executor_key = load_key("executor")
        relay_key = load_key("relay")
        signer = TxSigner(executor_key).address
        if mode == "live":
            check_live(
                profile.live,
                chain_id=chain_id,
                executor=address,
                signer=signer,
                executor_code_matches=code_ok,
                endpoints=endpoint_heads(endpoints.http),
            )
        registry = profile_registry(profile, rpc)
        return ForkWorld(
            node=None,
            rpc=rpc,
            builder=None,
            registry=registry,
            manifest=None,
            executor=address,
            weth=weth,
            # one key, one lane: a live account's nonces are not split across lanes
            executor_keys=(("block", executor_key),),
            relay_key=relay_key,
            start_balance_wei=_weth_balance(rpc, weth, address),
            endpoints=(endpoints.http[0], endpoints.ws[0]),
            relay_urls=profile.relays.urls,
        )
    except BaseException:
        rpc.close()
        raise

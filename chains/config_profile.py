"""Run profiles: ``configs/<profile>.toml`` loaded into a frozen ``Profile``.

A profile names its chain (``configs/chains/<chain>.toml`` beside it), the node endpoints,
the local world (local chain only), strategy and risk limits, builder relays, paths and the
optional live-mode operator acknowledgment. Relative paths are resolved against the
profile's directory and returned absolute.

Amounts in wei may exceed TOML's 64-bit integers: write them as decimal strings,
``max_input_wei = "100000000000000000000000"`` (underscores allowed between digits).

The risk section's file paths (``kill_switch_file``, ``state_file``) are relative to the
profile's directory like every other path; when absent they default to files under
``[paths] data_dir``.

Secrets never live here: a key that looks like a private key, mnemonic, password or secret
is refused anywhere in the file; signing keys come from a keystore or an environment variable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from chains.config_chain import ChainConfig, load_chain_config, resolve_with_manifest
from chains.toml_reader import ConfigError, TomlTable, read_toml, refuse_secret_keys

__all__ = [
    "LOCAL_CHAIN",
    "Endpoints",
    "LiveAck",
    "PathsConfig",
    "Profile",
    "RegistryConfig",
    "RelaysConfig",
    "RiskConfig",
    "StrategyConfig",
    "WorldPaths",
    "load_profile",
]

LOCAL_CHAIN = "local"
_UINT256_MAX = 2**256 - 1
_BPS = 10_000
_CHAIN_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_\-]*")
_SYMBOL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,31}")
_HTTP_SCHEMES = ("http", "https")
_WS_SCHEMES = ("ws", "wss")


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoints:
    """Node endpoints; empty for the local world, whose anvil the bot starts itself."""

    http: tuple[str, ...]
    ws: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldPaths:
    """The local world's spec file and the manifest its deployer writes (absolute)."""

    spec: Path
    manifest: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyConfig:
    """What to search: start tokens (symbols or addresses), cycle length, profit and tip.

    `tip_share_bps` is the builder's share of the profit left after gas (graph.gas.TipPolicy);
    `priority_fee_wei` the priority fee per gas unit the bot bids on its own transactions.
    """

    base_tokens: tuple[str, ...]
    max_hops: int
    min_profit_wei: int
    tip_share_bps: int
    priority_fee_wei: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskConfig:
    """Limits checked before anything is signed, and where the risk gate keeps its files.

    `max_token_exposure_wei` caps, per token, the input notional (wei) of admitted bundles not
    yet settled; `token_allow` (empty: every token) and `token_deny` hold checksummed addresses.
    `kill_switch_file`: while it exists nothing is sent. `state_file`: the gate's persisted
    state (breaker, losses, in-flight exposure, denied tokens).
    """

    max_input_wei: int
    max_gas_price_wei: int
    max_gas_units: int
    max_bundles_per_block: int
    max_loss_per_hour_wei: int
    max_loss_per_day_wei: int
    max_consecutive_failures: int
    max_tip_share_bps: int
    max_token_exposure_wei: int
    token_allow: tuple[str, ...]
    token_deny: tuple[str, ...]
    kill_switch_file: Path
    state_file: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class RelaysConfig:
    """Builder relay URLs; empty in fork mode, where the local builder is used."""

    urls: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PathsConfig:
    """Where the bot keeps its data (absolute)."""

    data_dir: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryConfig:
    """Pool discovery: where to start and what a pool must hold to be tracked (raw units)."""

    start_block: int = 0
    min_v2_reserve: int = 1
    min_v3_liquidity: int = 1
    min_reserve_by_token: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveAck:
    """The operator's acknowledgment for live mode, bound to chain, executor and signer."""

    chain_id: int
    executor: str
    signer: str
    acknowledgment: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """One run's configuration, chain facts included."""

    path: Path
    chain: ChainConfig
    endpoints: Endpoints
    world: WorldPaths | None
    strategy: StrategyConfig
    risk: RiskConfig
    relays: RelaysConfig
    paths: PathsConfig
    live: LiveAck | None
    registry: RegistryConfig = RegistryConfig()


def load_profile(path: Path) -> Profile:
    """Load a profile and its chain file; fill world addresses when the manifest exists."""
    path = path.resolve()
    base_dir = path.parent
    root = read_toml(path)
    refuse_secret_keys(root)

    chain = _read_chain(root, base_dir)
    world = _read_world(root, base_dir, chain)
    if world is not None and world.manifest.is_file():
        chain = resolve_with_manifest(chain, _read_manifest(world.manifest), path=world.manifest)
    endpoints = _read_endpoints(root, chain)
    strategy = _read_strategy(root.table("strategy"))
    paths = PathsConfig(data_dir=_read_path(root.table("paths"), "data_dir", base_dir))
    risk = _read_risk(root.table("risk"), base_dir=base_dir, data_dir=paths.data_dir)
    _check_strategy_within_risk(root, strategy, risk)
    relays_table = root.opt_table("relays")
    relays = RelaysConfig(
        urls=() if relays_table is None else _read_urls(relays_table, "urls", _HTTP_SCHEMES)
    )
    live_table = root.opt_table("live")
    live = None if live_table is None else _read_live(live_table)
    registry_table = root.opt_table("registry")
    registry = RegistryConfig() if registry_table is None else _read_registry(registry_table)
    root.finish()
    return Profile(
        path=path,
        chain=chain,
        endpoints=endpoints,
        world=world,
        strategy=strategy,
        risk=risk,
        relays=relays,
        paths=paths,
        live=live,
        registry=registry,
    )


def _read_registry(table: TomlTable) -> RegistryConfig:
    minimums = []
    for entry in table.opt_tables("min_reserve_by_token"):
        minimums.append(
            (entry.req_address("token"), entry.req_bigint("amount", min=0, max=_UINT256_MAX))
        )
    return RegistryConfig(
        start_block=table.opt_int("start_block", 0, min=0) or 0,
        min_v2_reserve=table.opt_bigint("min_v2_reserve", 1, min=0, max=_UINT256_MAX) or 0,
        min_v3_liquidity=table.opt_bigint("min_v3_liquidity", 1, min=0, max=_UINT256_MAX) or 0,
        min_reserve_by_token=tuple(minimums),
    )


def _read_chain(root: TomlTable, base_dir: Path) -> ChainConfig:
    name = root.req_str("chain")
    if _CHAIN_NAME_RE.fullmatch(name) is None:
        raise root.error("chain", f"not a chain name (lowercase, digits, '_', '-'): {name!r}")
    chain_path = base_dir / "chains" / f"{name}.toml"
    if not chain_path.is_file():
        raise root.error("chain", f"no chain file {chain_path} for chain {name!r}")
    chain = load_chain_config(chain_path)
    if chain.name != name:
        raise ConfigError(chain_path, "name", f"is {chain.name!r}, the file is for {name!r}")
    return chain


def _read_world(root: TomlTable, base_dir: Path, chain: ChainConfig) -> WorldPaths | None:
    table = root.opt_table("world")
    if table is None:
        missing = [v.name for v in chain.venues if v.factory is None]
        if chain.wrapped_native is None or missing:
            raise root.error(
                "world",
                f"chain {chain.name!r} takes its addresses from a world manifest; "
                "add a [world] section",
            )
        return None
    if chain.name != LOCAL_CHAIN:
        raise root.error(
            "world", f"only the {LOCAL_CHAIN!r} chain has a world; chain is {chain.name!r}"
        )
    return WorldPaths(
        spec=_read_path(table, "spec", base_dir),
        manifest=_read_path(table, "manifest", base_dir),
    )


def _read_manifest(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ConfigError(path, "", f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "", "expected a JSON object at the top level")
    return data


def _read_endpoints(root: TomlTable, chain: ChainConfig) -> Endpoints:
    table = root.opt_table("endpoints")
    if table is None:
        if chain.name != LOCAL_CHAIN:
            raise root.error("endpoints", f"chain {chain.name!r} needs [endpoints] with http URLs")
        return Endpoints(http=(), ws=())
    endpoints = Endpoints(
        http=_read_urls(table, "http", _HTTP_SCHEMES),
        ws=_read_urls(table, "ws", _WS_SCHEMES),
    )
    if chain.name != LOCAL_CHAIN and not endpoints.http:
        raise table.error("http", f"chain {chain.name!r} needs at least one http URL")
    return endpoints


def _read_urls(table: TomlTable, key: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
    urls = table.opt_str_list(key)
    for index, url in enumerate(urls):
        name = f"{key}[{index}]"
        try:
            parts = urlsplit(url)
            _ = parts.port  # raises ValueError on a malformed port
        except ValueError:
            raise table.error(name, f"not a URL: {url!r}") from None
        if parts.scheme not in schemes or not parts.hostname:
            allowed = "/".join(f"{s}://" for s in schemes)
            raise table.error(name, f"expected a {allowed} URL, found {url!r}")
        if parts.password is not None:
            raise table.error(
                name,
                "secrets never live in config files: credentials come from a keystore "
                "or an environment variable",
            )
    if len(set(urls)) != len(urls):
        raise table.error(key, "repeated URL")
    return urls


def _read_path(table: TomlTable, key: str, base_dir: Path) -> Path:
    value = table.req_str(key)
    if not value:
        raise table.error(key, "empty path")
    return (base_dir / value).resolve()


def _read_strategy(table: TomlTable) -> StrategyConfig:
    tokens = table.req_str_list("base_tokens")
    if not tokens:
        raise table.error("base_tokens", "at least one base token is required")
    base_tokens = []
    for index, token in enumerate(tokens):
        name = f"base_tokens[{index}]"
        if token.startswith("0x"):
            base_tokens.append(table.check_address(name, token))
        elif _SYMBOL_RE.fullmatch(token) is not None:
            base_tokens.append(token)
        else:
            raise table.error(name, f"expected a token symbol or an address, found {token!r}")
        if base_tokens[-1] in base_tokens[:-1]:
            raise table.error(name, f"repeated base token {token!r}")
    return StrategyConfig(
        base_tokens=tuple(base_tokens),
        max_hops=table.req_int("max_hops", min=2, max=4),
        min_profit_wei=table.req_bigint("min_profit_wei", min=0, max=_UINT256_MAX),
        tip_share_bps=table.req_int("tip_share_bps", min=0, max=_BPS),
        priority_fee_wei=table.opt_bigint("priority_fee_wei", 0, min=0, max=_UINT256_MAX) or 0,
    )


def _read_risk(table: TomlTable, *, base_dir: Path, data_dir: Path) -> RiskConfig:
    max_input_wei = table.req_bigint("max_input_wei", min=1, max=_UINT256_MAX)
    exposure = table.opt_bigint("max_token_exposure_wei", None, min=1, max=_UINT256_MAX)
    token_allow = _read_addresses(table, "token_allow")
    token_deny = _read_addresses(table, "token_deny")
    both = sorted(set(token_allow) & set(token_deny))
    if both:
        raise table.error("token_deny", f"{both[0]} is also in token_allow")
    return RiskConfig(
        max_input_wei=max_input_wei,
        max_gas_price_wei=table.req_bigint("max_gas_price_wei", min=1, max=_UINT256_MAX),
        max_gas_units=table.req_int("max_gas_units", min=21_000),
        max_bundles_per_block=table.req_int("max_bundles_per_block", min=1),
        max_loss_per_hour_wei=table.req_bigint("max_loss_per_hour_wei", min=0, max=_UINT256_MAX),
        max_loss_per_day_wei=table.req_bigint("max_loss_per_day_wei", min=0, max=_UINT256_MAX),
        max_consecutive_failures=table.req_int("max_consecutive_failures", min=1),
        max_tip_share_bps=table.opt_int("max_tip_share_bps", _BPS, min=0, max=_BPS) or 0,
        # One bundle of the largest input in flight per token unless the profile says more.
        max_token_exposure_wei=max_input_wei if exposure is None else exposure,
        token_allow=token_allow,
        token_deny=token_deny,
        kill_switch_file=_read_opt_path(table, "kill_switch_file", base_dir, data_dir / "KILL"),
        state_file=_read_opt_path(table, "state_file", base_dir, data_dir / "risk_state.json"),
    )


def _check_strategy_within_risk(
    root: TomlTable, strategy: StrategyConfig, risk: RiskConfig
) -> None:
    """Refuse a strategy whose every bid the risk gate would refuse."""
    if strategy.tip_share_bps > risk.max_tip_share_bps:
        raise root.error(
            "strategy.tip_share_bps",
            f"{strategy.tip_share_bps} exceeds risk.max_tip_share_bps {risk.max_tip_share_bps}",
        )
    if strategy.priority_fee_wei > risk.max_gas_price_wei:
        raise root.error(
            "strategy.priority_fee_wei",
            f"{strategy.priority_fee_wei} exceeds risk.max_gas_price_wei {risk.max_gas_price_wei}",
        )


def _read_addresses(table: TomlTable, key: str) -> tuple[str, ...]:
    addresses: list[str] = []
    for index, value in enumerate(table.opt_str_list(key)):
        address = table.check_address(f"{key}[{index}]", value)
        if address in addresses:
            raise table.error(f"{key}[{index}]", f"repeated address {value!r}")
        addresses.append(address)
    return tuple(addresses)


def _read_opt_path(table: TomlTable, key: str, base_dir: Path, default: Path) -> Path:
    if table.opt_str(key) is None:  # asks for the key, so a misspelling is named with a hint
        return default.resolve()
    return _read_path(table, key, base_dir)


def _read_live(table: TomlTable) -> LiveAck:
    ack = LiveAck(
        chain_id=table.req_int("chain_id", min=1),
        executor=table.req_address("executor"),
        signer=table.req_address("signer"),
        acknowledgment=table.req_str("acknowledgment"),
    )
    if not ack.acknowledgment.strip():
        raise table.error("acknowledgment", "empty acknowledgment")
    return ack

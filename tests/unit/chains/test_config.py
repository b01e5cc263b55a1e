"""Chain files and profiles: shipped configs load, and every kind of nonsense is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains.config import (
    ChainConfig,
    ConfigError,
    FeeTier,
    configs_dir,
    load_chain_config,
    load_profile,
    resolve_with_manifest,
)

REPO_CONFIGS = configs_dir()
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
UNIV2_INIT = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
UNIV3_INIT = "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"

LOCAL_PROFILE = """\
chain = "local"

[world]
spec = "world/default.toml"
manifest = "../.world/default/manifest.json"

[strategy]
base_tokens = ["WETH"]
max_hops = 3
min_profit_wei = 0
tip_share_bps = 5000

[risk]
max_input_wei = "100000000000000000000"
max_gas_price_wei = 500000000000
max_gas_units = 1500000
max_bundles_per_block = 4
max_loss_per_hour_wei = 0
max_loss_per_day_wei = 0
max_consecutive_failures = 5

[relays]
urls = []

[paths]
data_dir = "../.cache"
"""

MAINNET_PROFILE = (
    LOCAL_PROFILE.replace('chain = "local"', 'chain = "mainnet"')
    .replace(
        '[world]\nspec = "world/default.toml"\nmanifest = "../.world/default/manifest.json"\n',
        '[endpoints]\nhttp = ["https://node.example:8545"]\nws = ["wss://node.example:8546"]\n',
    )
    .replace('base_tokens = ["WETH"]', f'base_tokens = ["{WETH}"]')
)

V2_VENUE = f"""
[[venues]]
name = "uniswap_v2"
kind = "v2"
init_code_hash = "{UNIV2_INIT}"
fee_pips = 3000
"""

CHAIN_HEAD = """\
name = "local"
chain_id = 31337
multicall3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
block_time_s = 1.0

[eip1559]
base_fee_max_change_denominator = 8
elasticity_multiplier = 2
"""


def _addr(n: int) -> str:
    return to_checksum_address(f"0x{n:040x}")


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configs directory with the shipped chain files; run inside tmp_path."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS / "chains", root / "chains")
    return root


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _chain(configs: Path, text: str) -> Path:
    return _write(configs / "chains" / "local.toml", text)


def _manifest(**overrides: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "format": 1,
        "chain_id": 31337,
        "contracts": {"weth": _addr(1), "multicall3": _addr(2), "permit2": _addr(3)},
        "venues": {
            "uniswap_v2": {"kind": "v2", "factory": _addr(10), "router": _addr(11)},
            "sushiswap": {"kind": "v2", "factory": _addr(12), "router": _addr(13)},
            "uniswap_v3": {"kind": "v3", "factory": _addr(14)},
        },
        "routers": [{"name": "uniswap_v2_router02", "kind": "v2_router02", "address": _addr(11)}],
        "tokens": [],
        "pools": [],
    }
    manifest.update(overrides)
    return manifest


# -- shipped configs ---------------------------------------------------------------------------


def test_configs_dir_is_the_repo_configs() -> None:
    assert REPO_CONFIGS.name == "configs"
    assert (REPO_CONFIGS.parent / "pyproject.toml").is_file()


@pytest.mark.parametrize("path", sorted(REPO_CONFIGS.glob("chains/*.toml")), ids=lambda p: p.name)
def test_shipped_chain_configs_load(path: Path) -> None:
    chain = load_chain_config(path)
    assert chain.name == path.stem


@pytest.mark.parametrize("path", sorted(REPO_CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_profiles_load(path: Path) -> None:
    profile = load_profile(path)
    assert profile.path == path.resolve()


def test_mainnet_facts() -> None:
    chain = load_chain_config(REPO_CONFIGS / "chains" / "mainnet.toml")
    assert chain.chain_id == 1
    assert chain.wrapped_native == WETH
    assert chain.eip1559.base_fee_max_change_denominator == 8
    assert chain.eip1559.elasticity_multiplier == 2
    assert [v.name for v in chain.venues] == [
        "uniswap_v2",
        "sushiswap",
        "pancakeswap_v2",
        "uniswap_v3",
    ]
    assert chain.venue("uniswap_v2").init_code_hash == bytes.fromhex(UNIV2_INIT[2:])
    assert chain.venue("sushiswap").init_code_hash.hex() == (
        "e18a34eb0e04b04f7a0ac29a6e80748dca96319b42c54d679cb821dca90c6303"
    )
    assert chain.venue("pancakeswap_v2").fee_pips == 2500
    v3 = chain.venue("uniswap_v3")
    assert v3.fee_pips is None
    assert v3.fee_tiers == (
        FeeTier(fee_pips=100, tick_spacing=1),
        FeeTier(fee_pips=500, tick_spacing=10),
        FeeTier(fee_pips=3000, tick_spacing=60),
        FeeTier(fee_pips=10000, tick_spacing=200),
    )
    assert {r.kind for r in chain.routers} == {
        "v2_router02",
        "swap_router",
        "swap_router02",
        "universal_router",
    }


def test_local_chain_leaves_addresses_to_the_manifest() -> None:
    chain = load_chain_config(REPO_CONFIGS / "chains" / "local.toml")
    assert chain.chain_id == 31337
    assert chain.wrapped_native is None
    assert chain.routers == ()
    assert all(v.factory is None for v in chain.venues)
    assert chain.venue("sushiswap").init_code_hash == chain.venue("uniswap_v2").init_code_hash
    assert chain.venue("uniswap_v3").init_code_hash == bytes.fromhex(UNIV3_INIT[2:])


def test_venue_lookup_names_known_venues() -> None:
    chain = load_chain_config(REPO_CONFIGS / "chains" / "local.toml")
    with pytest.raises(KeyError, match="known: uniswap_v2, sushiswap, uniswap_v3"):
        chain.venue("curve")


# -- profiles ----------------------------------------------------------------------------------


def test_local_profile_resolves_paths(configs: Path) -> None:
    profile = load_profile(_write(configs / "p.toml", LOCAL_PROFILE))
    assert profile.chain.name == "local"
    assert profile.world is not None
    assert profile.world.spec == (configs / "world" / "default.toml").resolve()
    assert profile.world.manifest == (configs.parent / ".world/default/manifest.json").resolve()
    assert profile.paths.data_dir == (configs.parent / ".cache").resolve()
    assert profile.endpoints.http == ()
    assert profile.risk.max_input_wei == 10**20
    assert profile.live is None
    # No manifest yet: the caller deploys the world first.
    assert profile.chain.wrapped_native is None


def test_mainnet_profile(configs: Path) -> None:
    text = MAINNET_PROFILE + (
        f'\n[live]\nchain_id = 1\nexecutor = "{_addr(5).lower()}"\nsigner = "{_addr(6)}"\n'
        'acknowledgment = "I run this with real funds"\n'
    )
    profile = load_profile(_write(configs / "main.toml", text))
    assert profile.world is None
    assert profile.endpoints.ws == ("wss://node.example:8546",)
    assert profile.strategy.base_tokens == (WETH,)
    assert profile.live is not None
    assert profile.live.executor == _addr(5)


def test_large_wei_as_decimal_string(configs: Path) -> None:
    text = LOCAL_PROFILE.replace(
        "max_loss_per_day_wei = 0", 'max_loss_per_day_wei = "100_000_000_000_000_000_000_000"'
    )
    profile = load_profile(_write(configs / "p.toml", text))
    assert profile.risk.max_loss_per_day_wei == 10**23


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('chain = "local"', 'chain = "local"\nchainz = 1', r"p\.toml: chainz: unknown key"),
        ("[relays]", "[relay]\nurls = []\n[relays]", r"p\.toml: relay: unknown key"),
        ("max_hops = 3", "max_hops = 3\nmax_hopz = 4", r"p\.toml: strategy\.max_hopz: unknown key"),
        ("max_hops = 3", 'max_hops = "3"', r"strategy\.max_hops: expected an integer, found a str"),
        (
            "max_hops = 3",
            "max_hops = true",
            r"max_hops: expected an integer, found a bool",
        ),
        ("max_hops = 3", "max_hops = 7", r"strategy\.max_hops: must be <= 4; found 7"),
        ("tip_share_bps = 5000", "tip_share_bps = 20000", r"strategy\.tip_share_bps: must be <="),
        ('base_tokens = ["WETH"]', "base_tokens = 5", r"base_tokens: expected an array of strings"),
        ('base_tokens = ["WETH"]', "base_tokens = []", r"base_tokens: at least one"),
        ('base_tokens = ["WETH"]', 'base_tokens = ["0x12"]', r"base_tokens\[0\]: not an address"),
        ('base_tokens = ["WETH"]', 'base_tokens = ["WETH", "WETH"]', r"base_tokens\[1\]: repeated"),
        ("max_gas_units = 1500000", "max_gas_units = 0", r"risk\.max_gas_units: must be >="),
        ('max_input_wei = "1', 'max_input_wei = "-1', r"risk\.max_input_wei: expected decimal"),
        ('chain = "local"', 'chain = "nosuch"', r"p\.toml: chain: no chain file .*nosuch\.toml"),
        ('chain = "local"', 'chain = "../x"', r"p\.toml: chain: not a chain name"),
        ('chain = "local"', "chain = 1", r"p\.toml: chain: expected a string"),
        ("urls = []", 'urls = ["ftp://relay"]', r"relays\.urls\[0\]: expected a http://"),
        ("urls = []", 'urls = ["https://u:pw@relay.example"]', r"urls\[0\]: secrets never live"),
        ("[paths]\n", "[paths]\nprivate_key = 1\n", r"p\.toml: paths\.private_key: secrets never"),
        ('chain = "local"', 'mnemonic = "a b c"\nchain = "local"', r"mnemonic: secrets never live"),
        ('spec = "world/default.toml"\n', "", r"p\.toml: world\.spec: missing required key"),
        ("[world]", "[endpoints]\nhttp = []\nws = [1]\n[world]", r"endpoints\.ws\[0\]: expected a"),
        (
            "[world]",
            '[endpoints]\nws = ["http://x"]\n[world]',
            r"ws\[0\]: expected a ws://",
        ),
        (
            '[world]\nspec = "world/default.toml"\nmanifest = "../.world/default/manifest.json"\n',
            "",
            r"p\.toml: world: chain 'local' takes its addresses from a world manifest",
        ),
        ("[paths]", '[live]\nchain_id = 1\nexecutor = "0x1"\n[paths]', r"live\.executor: not an"),
    ],
)
def test_bad_profile(configs: Path, old: str, new: str, expected: str) -> None:
    assert old in LOCAL_PROFILE
    with pytest.raises(ConfigError, match=expected):
        load_profile(_write(configs / "p.toml", LOCAL_PROFILE.replace(old, new, 1)))


def test_world_refused_on_mainnet(configs: Path) -> None:
    text = MAINNET_PROFILE + '\n[world]\nspec = "w.toml"\nmanifest = "m.json"\n'
    with pytest.raises(ConfigError, match=r"main\.toml: world: only the 'local' chain has a world"):
        load_profile(_write(configs / "main.toml", text))


def test_mainnet_needs_endpoints(configs: Path) -> None:
    text = MAINNET_PROFILE.replace('http = ["https://node.example:8545"]', "http = []")
    with pytest.raises(ConfigError, match=r"main\.toml: endpoints\.http: chain 'mainnet' needs"):
        load_profile(_write(configs / "main.toml", text))


def test_chain_name_must_match_its_file(configs: Path) -> None:
    _write(configs / "chains" / "other.toml", CHAIN_HEAD + V2_VENUE)
    text = LOCAL_PROFILE.replace('chain = "local"', 'chain = "other"')
    with pytest.raises(ConfigError, match=r"chains/other\.toml: name: is 'local'"):
        load_profile(_write(configs / "p.toml", text))


def test_error_in_chain_file_names_the_chain_file(configs: Path) -> None:
    _chain(configs, CHAIN_HEAD.replace("chain_id = 31337", "chain_id = 0") + V2_VENUE)
    with pytest.raises(ConfigError, match=r"^configs/chains/local\.toml: chain_id: must be >= 1"):
        load_profile(_write(configs / "p.toml", LOCAL_PROFILE))


# -- chain files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("block_time_s = 1.0", "block_time_s = 1.0\nblock_tme_s = 2", r"block_tme_s: unknown key"),
        ("[eip1559]", "[eip1559]\nfoo = 1", r"local\.toml: eip1559\.foo: unknown key"),
        ("fee_pips = 3000", "fee_pips = 3000\nfee_pipz = 1", r"venues\[0\]\.fee_pipz: unknown key"),
        ("chain_id = 31337", 'chain_id = "1"', r"chain_id: expected an integer, found a string"),
        ("chain_id = 31337", "chain_id = true", r"chain_id: expected an integer, found a boolean"),
        ("chain_id = 31337", "chain_id = 0", r"chain_id: must be >= 1"),
        ("block_time_s = 1.0", "block_time_s = 0", r"block_time_s: must be > 0"),
        ('kind = "v2"', 'kind = "v4"', r"venues\[0\]\.kind: must be one of v2, v3; found 'v4'"),
        ("fee_pips = 3000", "fee_pips = 1000000", r"venues\[0\]\.fee_pips: must be <= 999999"),
        ("fee_pips = 3000", "fee_pips = 0", r"venues\[0\]\.fee_pips: must be >= 1"),
        ("fee_pips = 3000\n", "", r"venues\[0\]\.fee_pips: missing required key"),
        (
            "fee_pips = 3000",
            "fee_pips = 3000\nfee_tiers = [{ fee_pips = 500, tick_spacing = 10 }]",
            r"venues\[0\]\.fee_tiers: a v2 venue has one fee_pips, not fee_tiers",
        ),
        ('"0x96e8', '"0x96e', r"venues\[0\]\.init_code_hash: not a 32-byte hash"),
        ('kind = "v2"', 'kind = "v2"\nfactory = "0x12"', r"venues\[0\]\.factory: not an address"),
        (
            'kind = "v2"',
            'kind = "v2"\nfactory = "0x5c69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"',
            r"local\.toml: venues\[0\]\.factory: bad EIP-55 checksum",
        ),
        (
            "0xcA11bde05977b3631167028862bE2a173976CA11",
            "0xcA11bde05977b3631167028862bE2a173976CAxx",
            r"local\.toml: multicall3: not an address",
        ),
        (
            "0xcA11bde05977b3631167028862bE2a173976CA11",
            "0xcA11bde05977b3631167028862bE2a173976CA1",
            r"local\.toml: multicall3: not an address",
        ),
        ("[eip1559]\nbase_fee_max_change_denominator = 8\n", "", r"eip1559: missing required key"),
    ],
)
def test_bad_chain_file(configs: Path, old: str, new: str, expected: str) -> None:
    text = CHAIN_HEAD + V2_VENUE
    assert old in text
    with pytest.raises(ConfigError, match=expected):
        load_chain_config(_chain(configs, text.replace(old, new, 1)))


def test_lowercase_address_is_checksummed(configs: Path) -> None:
    text = (CHAIN_HEAD + V2_VENUE).replace(
        'kind = "v2"', 'kind = "v2"\nfactory = "0x5c69bee701ef814a2b6a3edd4b1652cb9cc5aa6f"'
    )
    chain = load_chain_config(_chain(configs, text))
    assert chain.venues[0].factory == "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"


def _v3(tiers: str | None = "[{ fee_pips = 500, tick_spacing = 10 }]", extra: str = "") -> str:
    body = f'\n[[venues]]\nname = "uniswap_v3"\nkind = "v3"\ninit_code_hash = "{UNIV3_INIT}"\n'
    if tiers is not None:
        body += f"fee_tiers = {tiers}\n"
    return body + extra


@pytest.mark.parametrize(
    ("venue", "expected"),
    [
        (_v3(None), r"venues\[1\]\.fee_tiers: missing required key"),
        (_v3("[]"), r"venues\[1\]\.fee_tiers: a v3 venue needs at least one fee tier"),
        (_v3(extra="fee_pips = 3000\n"), r"venues\[1\]\.fee_pips: a v3 venue has fee_tiers"),
        (
            _v3("[{ fee_pips = 500, tick_spacing = 0 }]"),
            r"venues\[1\]\.fee_tiers\[0\]\.tick_spacing: must be >= 1",
        ),
        (
            _v3("[{ fee_pips = 500, tick_spacing = 16384 }]"),
            r"venues\[1\]\.fee_tiers\[0\]\.tick_spacing: must be <= 16383",
        ),
        (
            _v3("[{ fee_pips = 500, tick_spacing = 10, x = 1 }]"),
            r"venues\[1\]\.fee_tiers\[0\]\.x: unknown key",
        ),
        (
            _v3("[{ fee_pips = 500, tick_spacing = 10 }, { fee_pips = 500, tick_spacing = 60 }]"),
            r"venues\[1\]\.fee_tiers: fee_pips repeated",
        ),
        (V2_VENUE, r"venues\[1\]\.name: duplicate name 'uniswap_v2'"),
        (
            '\n[[routers]]\nname = "r"\nkind = "v3_router"\naddress = "0x' + "0" * 40 + '"\n',
            r"routers\[0\]\.kind: must be one of",
        ),
    ],
)
def test_bad_venues(configs: Path, venue: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"local\.toml: " + expected):
        load_chain_config(_chain(configs, CHAIN_HEAD + V2_VENUE + venue))


def test_no_venues(configs: Path) -> None:
    with pytest.raises(ConfigError, match=r"local\.toml: venues: missing required key"):
        load_chain_config(_chain(configs, CHAIN_HEAD))


def test_secret_in_chain_file(configs: Path) -> None:
    with pytest.raises(ConfigError, match=r"local\.toml: eip1559\.api_secret: secrets never live"):
        load_chain_config(_chain(configs, CHAIN_HEAD + 'api_secret = "x"\n' + V2_VENUE))


# -- manifest ----------------------------------------------------------------------------------


@pytest.fixture
def local_chain() -> ChainConfig:
    return load_chain_config(REPO_CONFIGS / "chains" / "local.toml")


def test_manifest_fills_addresses(local_chain: ChainConfig) -> None:
    chain = resolve_with_manifest(local_chain, _manifest())
    assert chain.wrapped_native == _addr(1)
    assert chain.multicall3 == _addr(2)
    assert chain.venue("uniswap_v2").factory == _addr(10)
    assert chain.venue("sushiswap").factory == _addr(12)
    assert chain.venue("uniswap_v3").factory == _addr(14)
    assert [(r.name, r.kind, r.address) for r in chain.routers] == [
        ("uniswap_v2_router02", "v2_router02", _addr(11))
    ]
    assert local_chain.wrapped_native is None  # the input is untouched


def test_manifest_lowercase_addresses_are_checksummed(local_chain: ChainConfig) -> None:
    manifest = _manifest()
    manifest["contracts"]["weth"] = WETH.lower()
    assert resolve_with_manifest(local_chain, manifest).wrapped_native == WETH


def _bad_venue_factory() -> dict[str, Any]:
    manifest = _manifest()
    manifest["venues"]["sushiswap"]["factory"] = "0x1234"
    return manifest


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (_bad_venue_factory(), r"manifest\.json: venues\.sushiswap\.factory: not an address"),
        (_manifest(chain_id=1), r"manifest\.json: chain_id: manifest is for chain 1"),
        (_manifest(format=2), r"manifest\.json: format: unsupported manifest format 2"),
        (_manifest(contracts={}), r"manifest\.json: contracts\.weth: missing required key"),
        (
            _manifest(contracts={"weth": WETH[:2] + WETH[2:].swapcase()}),
            r"manifest\.json: contracts\.weth: bad EIP-55 checksum",
        ),
        (
            _manifest(venues={"uniswap_v2": {"factory": _addr(10)}}),
            r"manifest\.json: venues\.sushiswap: venue of the chain file missing",
        ),
        (
            _manifest(routers=[{"name": "r", "kind": "v2_router02", "address": "0x1"}]),
            r"manifest\.json: routers\[0\]\.address: not an address",
        ),
        (
            _manifest(routers=[{"name": "r", "kind": "nope", "address": _addr(1)}]),
            r"manifest\.json: routers\[0\]\.kind: must be one of",
        ),
    ],
)
def test_bad_manifest(local_chain: ChainConfig, manifest: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        resolve_with_manifest(local_chain, manifest, path=Path("manifest.json"))


def test_manifest_disagreeing_with_chain_file(local_chain: ChainConfig) -> None:
    resolved = resolve_with_manifest(local_chain, _manifest())
    manifest = _manifest()
    manifest["venues"]["uniswap_v3"]["factory"] = _addr(99)
    with pytest.raises(ConfigError, match=r"venues\.uniswap_v3\.factory: differs"):
        resolve_with_manifest(resolved, manifest, path=Path("manifest.json"))


def test_profile_reads_existing_manifest(configs: Path) -> None:
    _write(configs.parent / ".world/default/manifest.json", json.dumps(_manifest()))
    profile = load_profile(_write(configs / "p.toml", LOCAL_PROFILE))
    assert profile.chain.wrapped_native == _addr(1)
    assert profile.chain.venue("uniswap_v2").factory == _addr(10)


def test_profile_names_a_broken_manifest(configs: Path) -> None:
    _write(configs.parent / ".world/default/manifest.json", "{not json")
    with pytest.raises(ConfigError, match=r"^\.world/default/manifest\.json: invalid JSON"):
        load_profile(_write(configs / "p.toml", LOCAL_PROFILE))
    _write(configs.parent / ".world/default/manifest.json", json.dumps(_manifest(chain_id=5)))
    with pytest.raises(ConfigError, match=r"^\.world/default/manifest\.json: chain_id: manifest"):
        load_profile(_write(configs / "p.toml", LOCAL_PROFILE))


# -- property: any injected unknown key is refused by name --------------------------------------

_KNOWN = {
    None: {"chain", "endpoints", "world", "strategy", "risk", "relays", "paths", "live"},
    "world": {"spec", "manifest"},
    "strategy": {"base_tokens", "max_hops", "min_profit_wei", "tip_share_bps", "priority_fee_wei"},
    "risk": {
        "max_input_wei",
        "max_gas_price_wei",
        "max_gas_units",
        "max_bundles_per_block",
        "max_loss_per_hour_wei",
        "max_loss_per_day_wei",
        "max_consecutive_failures",
        "max_tip_share_bps",
        "max_token_exposure_wei",
        "token_allow",
        "token_deny",
        "kill_switch_file",
        "state_file",
    },
    "relays": {"urls"},
    "paths": {"data_dir"},
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    section=st.sampled_from(list(_KNOWN)),
    value=st.sampled_from(["1", '"x"', "true", "[1, 2]", "{ a = 1 }", "1.5"]),
)
def test_injected_unknown_key_is_named(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, section: str | None, value: str
) -> None:
    key = data.draw(
        st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True).filter(
            lambda k: k not in _KNOWN[section]
        )
    )
    root = tmp_path_factory.mktemp("configs")
    shutil.copytree(REPO_CONFIGS / "chains", root / "chains")
    if section is None:
        text = f"{key} = {value}\n" + LOCAL_PROFILE
        dotted = key
    else:
        header = f"[{section}]\n"
        text = LOCAL_PROFILE.replace(header, f"{header}{key} = {value}\n", 1)
        dotted = f"{section}.{key}"
    path = _write(root / "p.toml", text)
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert info.value.key == dotted
    assert f"p.toml: {dotted}: " in str(info.value)


def test_registry_section_feeds_the_liquidity_filter() -> None:
    from chains.config import RegistryConfig, load_profile
    from chains.registry_discovery import LiquidityFilter

    profile = load_profile(REPO_CONFIGS / "local.toml")
    assert profile.registry == RegistryConfig(start_block=0, min_v2_reserve=1000)
    flt = LiquidityFilter.from_config(profile.registry)
    assert flt.min_v2_reserve == 1000 and flt.min_v3_liquidity == 1


def test_registry_section_rejects_bad_values(tmp_path: Path) -> None:
    text = (REPO_CONFIGS / "local.toml").read_text()
    configs = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS, configs)
    bad = configs / "bad.toml"
    bad.write_text(text.replace("min_v2_reserve = 1_000", "min_v2_reserve = -1"))
    with pytest.raises(ConfigError, match="min_v2_reserve"):
        load_profile(bad)
    bad.write_text(text.replace("min_v3_liquidity = 1 ", "min_v3_liquidty = 1 "))
    with pytest.raises(ConfigError, match="min_v3_liquidty"):
        load_profile(bad)

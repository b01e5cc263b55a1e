"""load_world_spec: the shipped world loads, and every bad spec names its file and key."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chains.artifacts import repo_root
from chains.toml_reader import ConfigError
from sim.world_spec import (
    V3_TICK_SPACING_BY_FEE_PIPS,
    PoolSpec,
    PositionSpec,
    TokenSpec,
    WorldSpec,
    load_world_spec,
)

HEADER = """\
seed = 7
chain_id = 31337
users = 2
user_eth = 10.0
user_token_value_eth = 1.0
max_skew_bps = 50
v2_venues = ["uniswap_v2", "sushiswap"]
v3_venue = "uniswap_v3"
"""

TOKENS = """\
[[tokens]]
symbol = "USDC"
decimals = 6
price_eth = 0.0004

[[tokens]]
symbol = "DAI"
decimals = 18
price_eth = 0.0004
"""

POSITIONS = """\
[[v3_positions]]
lower = -6
upper = 6
share = 0.5

[[v3_positions]]
lower = 2
upper = 14
share = 0.5
"""

POOLS = """\
[[pools]]
venue = "uniswap_v2"
tokens = ["WETH", "USDC"]
depth_eth = 10.0

[[pools]]
venue = "uniswap_v3"
fee_pips = 500
tokens = ["WETH", "USDC"]
depth_eth = 20.0
skew_bps = -30
"""


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path so error messages show the spec file by its bare name."""
    monkeypatch.chdir(tmp_path)


def _write(
    tmp_path: Path,
    *,
    header: str = HEADER,
    tokens: str = TOKENS,
    positions: str = POSITIONS,
    pools: str = POOLS,
    name: str = "world.toml",
) -> Path:
    path = tmp_path / name
    path.write_text("\n".join((header, tokens, positions, pools)))
    return path


def _refused(path: Path, key: str, message: str = "") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_world_spec(path)
    error = info.value
    assert error.path == path
    assert error.key == key
    where = f"{path.name}: {key}: " if key else f"{path.name}: "
    assert str(error).startswith(where), str(error)
    assert message in error.message, error.message
    return error


# -- the shipped world ----------------------------------------------------------------------


def test_default_world_loads() -> None:
    path = repo_root() / "configs" / "world" / "default.toml"
    spec = load_world_spec(path)
    assert isinstance(spec, WorldSpec)
    assert spec.path == path.resolve()
    assert spec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert spec.seed == 20261121
    assert spec.chain_id == 31337
    assert spec.users == 8
    assert spec.v2_venues == ("uniswap_v2", "sushiswap")
    assert spec.v3_venue == "uniswap_v3"
    assert spec.tokens[0] == TokenSpec(symbol="WETH", decimals=18, price_eth=1.0)
    assert [t.symbol for t in spec.tokens] == ["WETH", "USDC", "USDT", "DAI", "WBTC", "LINK", "UNI"]
    assert len(spec.pools) == 24
    assert len(spec.v3_positions) == 5
    assert spec.v3_positions[0] == PositionSpec(lower_spacings=-6, upper_spacings=6, share=0.30)
    assert sum(p.share for p in spec.v3_positions) == pytest.approx(1.0)
    assert spec.pools[0] == PoolSpec(
        venue="uniswap_v2", tokens=("WETH", "USDC"), fee_pips=None, depth_eth=400.0, skew_bps=None
    )
    symbols = {t.symbol for t in spec.tokens}
    for pool in spec.pools:
        assert set(pool.tokens) <= symbols
        if pool.venue == spec.v3_venue:
            assert pool.fee_pips in V3_TICK_SPACING_BY_FEE_PIPS
        else:
            assert pool.venue in spec.v2_venues
            assert pool.fee_pips is None


def test_token_lookup() -> None:
    spec = load_world_spec(repo_root() / "configs" / "world" / "default.toml")
    assert spec.token("WETH") == TokenSpec(symbol="WETH", decimals=18, price_eth=1.0)
    assert spec.token("USDC") == TokenSpec(symbol="USDC", decimals=6, price_eth=0.0004)
    assert spec.token("WBTC").decimals == 8
    with pytest.raises(KeyError):
        spec.token("usdc")
    with pytest.raises(KeyError):
        spec.token("SHIB")


# -- a small valid spec ---------------------------------------------------------------------


def test_small_spec_loads(tmp_path: Path) -> None:
    spec = load_world_spec(_write(tmp_path))
    assert [t.symbol for t in spec.tokens] == ["WETH", "USDC", "DAI"]
    assert spec.pools == (
        PoolSpec(
            venue="uniswap_v2",
            tokens=("WETH", "USDC"),
            fee_pips=None,
            depth_eth=10.0,
            skew_bps=None,
        ),
        PoolSpec(
            venue="uniswap_v3", tokens=("WETH", "USDC"), fee_pips=500, depth_eth=20.0, skew_bps=-30
        ),
    )
    assert spec.v3_positions[1] == PositionSpec(lower_spacings=2, upper_spacings=14, share=0.5)


def test_same_pair_on_other_venue_or_fee_is_another_pool(tmp_path: Path) -> None:
    pools = (
        POOLS
        + """
[[pools]]
venue = "sushiswap"
tokens = ["USDC", "WETH"]
depth_eth = 1.0

[[pools]]
venue = "uniswap_v3"
fee_pips = 3000
tokens = ["USDC", "WETH"]
depth_eth = 1.0
"""
    )
    assert len(load_world_spec(_write(tmp_path, pools=pools)).pools) == 4


def test_sha256_follows_the_bytes(tmp_path: Path) -> None:
    first = load_world_spec(_write(tmp_path, name="a.toml"))
    second = load_world_spec(_write(tmp_path, header=HEADER + "# comment\n", name="b.toml"))
    assert first.sha256 != second.sha256
    assert first.pools == second.pools


# -- refusals -------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.toml", "", "file not found")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    _refused(_write(tmp_path, header=HEADER + "userz = 3\n"), "userz", "unknown key")


def test_unknown_key_in_pool(tmp_path: Path) -> None:
    pools = POOLS + '\n[[pools]]\nvenue = "sushiswap"\ntokens = ["WETH", "DAI"]\n'
    pools += "depth_eth = 1.0\nfee = 3000\n"
    _refused(_write(tmp_path, pools=pools), "pools[2].fee", "unknown key")


def test_unknown_key_in_token(tmp_path: Path) -> None:
    tokens = TOKENS + '\n[[tokens]]\nsymbol = "X"\ndecimals = 18\nprice_eth = 1.0\nname = "x"\n'
    _refused(_write(tmp_path, tokens=tokens), "tokens[2].name", "unknown key")


def test_unknown_key_in_position(tmp_path: Path) -> None:
    positions = POSITIONS.replace("share = 0.5\n", "share = 0.5\nweight = 1\n", 1)
    _refused(_write(tmp_path, positions=positions), "v3_positions[0].weight", "unknown key")


def test_unknown_venue(tmp_path: Path) -> None:
    pools = POOLS.replace('venue = "uniswap_v2"', 'venue = "pancake"')
    _refused(_write(tmp_path, pools=pools), "pools[0].venue", "unknown venue 'pancake'")


def test_v2_pool_with_fee(tmp_path: Path) -> None:
    pools = POOLS.replace('venue = "uniswap_v2"\n', 'venue = "uniswap_v2"\nfee_pips = 3000\n')
    _refused(_write(tmp_path, pools=pools), "pools[0].fee_pips", "fixed fee")


@pytest.mark.parametrize("fee", ["fee_pips = 2500\n", "fee_pips = 0\n", ""])
def test_v3_pool_with_unsupported_or_missing_fee(tmp_path: Path, fee: str) -> None:
    pools = POOLS.replace("fee_pips = 500\n", fee)
    _refused(_write(tmp_path, pools=pools), "pools[1].fee_pips", "fee tier")


def test_unknown_token_in_pool(tmp_path: Path) -> None:
    pools = POOLS.replace('tokens = ["WETH", "USDC"]', 'tokens = ["WETH", "SHIB"]', 1)
    _refused(_write(tmp_path, pools=pools), "pools[0].tokens", "unknown token 'SHIB'")


@pytest.mark.parametrize(
    "tokens", ['["USDC", "USDC"]', '["WETH"]', '["WETH", "USDC", "DAI"]', "[]"]
)
def test_pool_needs_two_different_tokens(tmp_path: Path, tokens: str) -> None:
    pools = POOLS.replace('tokens = ["WETH", "USDC"]', f"tokens = {tokens}", 1)
    _refused(_write(tmp_path, pools=pools), "pools[0].tokens", "two different tokens")


def test_duplicated_pool(tmp_path: Path) -> None:
    pools = POOLS + '\n[[pools]]\nvenue = "uniswap_v2"\ntokens = ["USDC", "WETH"]\n'
    pools += "depth_eth = 3.0\n"
    _refused(_write(tmp_path, pools=pools), "pools[2]", "listed twice")


def test_duplicated_v3_pool_same_fee(tmp_path: Path) -> None:
    pools = POOLS + '\n[[pools]]\nvenue = "uniswap_v3"\nfee_pips = 500\n'
    pools += 'tokens = ["USDC", "WETH"]\ndepth_eth = 3.0\n'
    _refused(_write(tmp_path, pools=pools), "pools[2]", "listed twice")


def test_duplicated_token_symbol(tmp_path: Path) -> None:
    tokens = TOKENS + '\n[[tokens]]\nsymbol = "DAI"\ndecimals = 18\nprice_eth = 0.001\n'
    _refused(_write(tmp_path, tokens=tokens), "tokens", "unique")


def test_weth_is_implicit_and_cannot_be_declared(tmp_path: Path) -> None:
    tokens = TOKENS + '\n[[tokens]]\nsymbol = "WETH"\ndecimals = 18\nprice_eth = 1.0\n'
    _refused(_write(tmp_path, tokens=tokens), "tokens", "WETH is implicit")


@pytest.mark.parametrize(("lower", "upper"), [(6, 6), (7, 6), (0, -1)])
def test_position_lower_not_below_upper(tmp_path: Path, lower: int, upper: int) -> None:
    positions = POSITIONS.replace("lower = -6\nupper = 6", f"lower = {lower}\nupper = {upper}")
    _refused(_write(tmp_path, positions=positions), "v3_positions[0].lower", "below upper")


@pytest.mark.parametrize("share", ["0.0", "-0.1", "1.5"])
def test_position_share_out_of_range(tmp_path: Path, share: str) -> None:
    positions = POSITIONS.replace("share = 0.5", f"share = {share}", 1)
    _refused(_write(tmp_path, positions=positions), "v3_positions[0].share", "(0, 1]")


def test_position_share_of_one_is_accepted(tmp_path: Path) -> None:
    positions = POSITIONS.replace("share = 0.5", "share = 1.0", 1)
    assert load_world_spec(_write(tmp_path, positions=positions)).v3_positions[0].share == 1.0


def test_position_bound_out_of_range(tmp_path: Path) -> None:
    positions = POSITIONS.replace("upper = 6", "upper = 10001")
    _refused(_write(tmp_path, positions=positions), "v3_positions[0].upper", "<= 10000")


@pytest.mark.parametrize("price", ["-0.0004", "0.0", "0"])
def test_token_price_must_be_positive(tmp_path: Path, price: str) -> None:
    tokens = TOKENS.replace("price_eth = 0.0004", f"price_eth = {price}", 1)
    _refused(_write(tmp_path, tokens=tokens), "tokens[0].price_eth", "> 0")


def test_token_price_must_be_finite(tmp_path: Path) -> None:
    tokens = TOKENS.replace("price_eth = 0.0004", "price_eth = inf", 1)
    _refused(_write(tmp_path, tokens=tokens), "tokens[0].price_eth", "finite")


def test_token_decimals_out_of_range(tmp_path: Path) -> None:
    tokens = TOKENS.replace("decimals = 6", "decimals = 37")
    _refused(_write(tmp_path, tokens=tokens), "tokens[0].decimals", "<= 36")


@pytest.mark.parametrize("depth", ["0.0", "-5.0"])
def test_pool_depth_must_be_positive(tmp_path: Path, depth: str) -> None:
    pools = POOLS.replace("depth_eth = 10.0", f"depth_eth = {depth}")
    _refused(_write(tmp_path, pools=pools), "pools[0].depth_eth", "> 0")


def test_pool_skew_out_of_range(tmp_path: Path) -> None:
    pools = POOLS.replace("skew_bps = -30", "skew_bps = -5001")
    _refused(_write(tmp_path, pools=pools), "pools[1].skew_bps", ">= -5000")


@pytest.mark.parametrize(
    "key",
    ["seed", "chain_id", "users", "user_eth", "user_token_value_eth", "max_skew_bps", "v3_venue"],
)
def test_missing_required_top_level_key(tmp_path: Path, key: str) -> None:
    header = "".join(line + "\n" for line in HEADER.splitlines() if not line.startswith(key))
    _refused(_write(tmp_path, header=header), key, "missing required key")


def test_missing_required_pool_key(tmp_path: Path) -> None:
    pools = POOLS.replace("depth_eth = 10.0\n", "")
    _refused(_write(tmp_path, pools=pools), "pools[0].depth_eth", "missing required key")


def test_missing_required_token_key(tmp_path: Path) -> None:
    tokens = TOKENS.replace("decimals = 6\n", "")
    _refused(_write(tmp_path, tokens=tokens), "tokens[0].decimals", "missing required key")


def test_missing_tokens_table(tmp_path: Path) -> None:
    _refused(_write(tmp_path, tokens=""), "tokens", "missing required key")


def test_wrong_type(tmp_path: Path) -> None:
    header = HEADER.replace("users = 2", 'users = "2"')
    _refused(_write(tmp_path, header=header), "users", "expected an integer")


def test_users_out_of_range(tmp_path: Path) -> None:
    header = HEADER.replace("users = 2", "users = 0")
    _refused(_write(tmp_path, header=header), "users", ">= 1")


@pytest.mark.parametrize(
    "venues",
    ["[]", '["uniswap_v2", "uniswap_v2"]', '["uniswap_v2", "uniswap_v3"]'],
)
def test_bad_v2_venues(tmp_path: Path, venues: str) -> None:
    header = HEADER.replace('v2_venues = ["uniswap_v2", "sushiswap"]', f"v2_venues = {venues}")
    _refused(_write(tmp_path, header=header), "v2_venues", "distinct")


def test_v3_positions_key_is_required(tmp_path: Path) -> None:
    _refused(_write(tmp_path, positions=""), "v3_positions", "missing required key")


def test_v3_pools_need_positions(tmp_path: Path) -> None:
    header = HEADER + "v3_positions = []\n"
    _refused(_write(tmp_path, header=header, positions=""), "v3_positions", "at least one")


def test_v2_only_world_needs_no_positions(tmp_path: Path) -> None:
    pools = POOLS.split("\n\n")[0] + "\n"
    header = HEADER + "v3_positions = []\n"
    spec = load_world_spec(_write(tmp_path, header=header, positions="", pools=pools))
    assert spec.v3_positions == ()
    assert len(spec.pools) == 1


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("seed = = 1\n")
    _refused(path, "", "invalid TOML")

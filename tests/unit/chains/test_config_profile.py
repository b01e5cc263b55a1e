"""Profile strategy and risk keys: bids, tip and exposure caps, token lists, risk files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from chains.config import ConfigError, Profile, configs_dir, load_profile

REPO_CONFIGS = configs_dir()

BASE = """\
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
max_input_wei = "100_000_000_000_000_000_000"
max_gas_price_wei = 500_000_000_000
max_gas_units = 1_500_000
max_bundles_per_block = 4
max_loss_per_hour_wei = 1_000
max_loss_per_day_wei = 5_000
max_consecutive_failures = 5

[paths]
data_dir = "../.cache"
"""


def _addr(n: int) -> str:
    return to_checksum_address(f"0x{n:040x}")


@pytest.fixture
def configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "configs"
    shutil.copytree(REPO_CONFIGS / "chains", root / "chains")
    return root


def _load(configs: Path, text: str) -> Profile:
    path = configs / "p.toml"
    path.write_text(text)
    return load_profile(path)


def _with_risk(extra: str) -> str:
    return BASE.replace("max_consecutive_failures = 5\n", f"max_consecutive_failures = 5\n{extra}")


def test_new_keys_default_when_absent(configs: Path) -> None:
    profile = _load(configs, BASE)
    assert profile.strategy.priority_fee_wei == 0
    risk = profile.risk
    assert risk.max_tip_share_bps == 10_000
    assert risk.max_token_exposure_wei == risk.max_input_wei == 10**20
    assert risk.token_allow == () and risk.token_deny == ()
    data_dir = (configs.parent / ".cache").resolve()
    assert risk.kill_switch_file == data_dir / "KILL"
    assert risk.state_file == data_dir / "risk_state.json"


def test_new_keys_are_read(configs: Path) -> None:
    text = _with_risk(
        "max_tip_share_bps = 9000\n"
        'max_token_exposure_wei = "123_000_000_000_000_000_000_000"\n'
        f'token_allow = ["{_addr(1).lower()}", "{_addr(2)}"]\n'
        f'token_deny = ["{_addr(3)}"]\n'
        'kill_switch_file = "run/STOP"\n'
        'state_file = "/abs/risk.json"\n'
    ).replace("tip_share_bps = 5000", "tip_share_bps = 5000\npriority_fee_wei = 2_000_000_000")
    profile = _load(configs, text)
    assert profile.strategy.priority_fee_wei == 2 * 10**9
    risk = profile.risk
    assert risk.max_tip_share_bps == 9000
    assert risk.max_token_exposure_wei == 123 * 10**21
    assert risk.token_allow == (_addr(1), _addr(2))  # checksummed
    assert risk.token_deny == (_addr(3),)
    assert risk.kill_switch_file == (configs / "run" / "STOP").resolve()
    assert risk.state_file == Path("/abs/risk.json")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("max_tip_share_bps = 10001\n", r"p\.toml: risk\.max_tip_share_bps: must be <= 10000"),
        ("max_tip_share_bps = -1\n", r"risk\.max_tip_share_bps: must be >= 0"),
        ('max_token_exposure_wei = "1_"\n', r"risk\.max_token_exposure_wei: expected decimal"),
        ("max_token_exposure_wei = 0\n", r"risk\.max_token_exposure_wei: must be >= 1"),
        ('token_allow = ["0x12"]\n', r"p\.toml: risk\.token_allow\[0\]: not an address"),
        ("token_deny = [1]\n", r"risk\.token_deny\[0\]: expected a string"),
        ('token_deny = "x"\n', r"risk\.token_deny: expected an array of strings"),
        (f'token_deny = ["{_addr(4)}", "{_addr(4).lower()}"]\n', r"token_deny\[1\]: repeated"),
        (
            f'token_allow = ["{_addr(4)}"]\ntoken_deny = ["{_addr(4)}"]\n',
            r"risk\.token_deny: .* is also in token_allow",
        ),
        ('kill_switch_file = ""\n', r"risk\.kill_switch_file: empty path"),
        ("state_file = 3\n", r"risk\.state_file: expected a string"),
        ('state_fil = "x"\n', r"risk\.state_fil: unknown key \(did you mean 'state_file'\?"),
        ("max_tip_share_bps = 4000\n", r"strategy\.tip_share_bps: 5000 exceeds risk\.max_tip"),
    ],
)
def test_bad_risk_keys(configs: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        _load(configs, _with_risk(extra))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"-1"', r"strategy\.priority_fee_wei: expected decimal"),
        ("1.5", r"strategy\.priority_fee_wei: expected an integer or a string"),
        ('"500_000_000_001"', r"strategy\.priority_fee_wei: 500000000001 exceeds risk\.max_gas"),
    ],
)
def test_bad_priority_fee(configs: Path, value: str, expected: str) -> None:
    text = BASE.replace("tip_share_bps = 5000", f"tip_share_bps = 5000\npriority_fee_wei = {value}")
    with pytest.raises(ConfigError, match=expected):
        _load(configs, text)


def test_shipped_local_profile_sets_every_risk_key() -> None:
    text = (REPO_CONFIGS / "local.toml").read_text()
    for key in (
        "priority_fee_wei",
        "max_tip_share_bps",
        "max_token_exposure_wei",
        "token_allow",
        "token_deny",
        "kill_switch_file",
        "state_file",
    ):
        assert f"\n{key} = " in text, key
    profile = load_profile(REPO_CONFIGS / "local.toml")
    assert profile.strategy.tip_share_bps <= profile.risk.max_tip_share_bps
    assert profile.risk.kill_switch_file.parent == profile.paths.data_dir
    assert profile.risk.state_file.parent == profile.paths.data_dir
    assert "share of the profit left after gas" in text

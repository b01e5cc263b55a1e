"""Keys come from a keystore or an environment variable, and the variables are scrubbed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from bot.keys import KeyLoadError, env_names, load_key

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


def _no_prompt(_: str) -> str:
    raise AssertionError("the prompt must not be used")


def test_hex_key_from_the_environment_is_scrubbed() -> None:
    env = {"ARBLOOP_EXECUTOR_KEY": "0x" + KEY.hex()}
    assert load_key("executor", environ=env, prompt=_no_prompt) == KEY
    assert "ARBLOOP_EXECUTOR_KEY" not in env


def test_keystore_with_password_variable(tmp_path: Path) -> None:
    path = tmp_path / "relay.json"
    path.write_text(json.dumps(Account.encrypt(KEY, "pw", iterations=2)))
    env = {"ARBLOOP_RELAY_KEYSTORE": str(path), "ARBLOOP_RELAY_KEYSTORE_PASSWORD": "pw"}
    assert load_key("relay", environ=env, prompt=_no_prompt) == KEY
    assert "ARBLOOP_RELAY_KEYSTORE_PASSWORD" not in env


def test_keystore_password_from_the_prompt(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(Account.encrypt(KEY, "secret-pw", iterations=2)))
    env = {"ARBLOOP_EXECUTOR_KEYSTORE": str(path)}
    assert load_key("executor", environ=env, prompt=lambda _: "secret-pw") == KEY


def test_wrong_password_names_the_file_not_the_password(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(json.dumps(Account.encrypt(KEY, "right", iterations=2)))
    env = {"ARBLOOP_EXECUTOR_KEYSTORE": str(path), "ARBLOOP_EXECUTOR_KEYSTORE_PASSWORD": "pw-9f3k"}
    with pytest.raises(KeyLoadError, match="did not decrypt") as info:
        load_key("executor", environ=env, prompt=_no_prompt)
    assert "pw-9f3k" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "set ARBLOOP_EXECUTOR_KEYSTORE"),
        ({"ARBLOOP_EXECUTOR_KEY": "zz"}, "not hex"),
        ({"ARBLOOP_EXECUTOR_KEY": "00" * 32}, "valid secp256k1"),
        ({"ARBLOOP_EXECUTOR_KEY": "ff" * 32}, "valid secp256k1"),
        ({"ARBLOOP_EXECUTOR_KEY": "11" * 31}, "valid secp256k1"),
        ({"ARBLOOP_EXECUTOR_KEYSTORE": "/nonexistent/k.json"}, "cannot read keystore"),
    ],
)
def test_errors_name_variables_never_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(KeyLoadError, match=message) as info:
        load_key("executor", environ=dict(env), prompt=_no_prompt)
    for value in env.values():
        if len(value) >= 32:
            assert value not in str(info.value)


def test_roles_are_checked() -> None:
    assert env_names("relay")[2] == "ARBLOOP_RELAY_KEY"
    with pytest.raises(ValueError, match="unknown key role"):
        env_names("owner")

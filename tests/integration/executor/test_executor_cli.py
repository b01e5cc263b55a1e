"""`arbloop executor deploy|verify|fund|withdraw` against the world's anvil."""

from __future__ import annotations

import re
from typing import Any

import eth_abi
import pytest
from eth_utils import keccak

from bot.cli import main

pytestmark = pytest.mark.integration


def _weth_balance(rpc: Any, weth: str, owner: str) -> int:
    data = keccak(text="balanceOf(address)")[:4] + eth_abi.encode(["address"], [owner])
    return int(rpc.call("eth_call", {"to": weth, "data": "0x" + data.hex()}, "latest"), 16)


def _deploy(world: Any, owner: str, capsys: pytest.CaptureFixture[str]) -> str:
    url = world.node.http_url
    weth = world.manifest.contracts["weth"]
    assert main(["executor", "deploy", "--rpc", url, "--from", owner, "--weth", weth]) == 0
    found = re.search(r"0x[0-9a-fA-F]{40}", capsys.readouterr().out)
    assert found is not None
    return found.group(0)


def test_deploy_verify_fund_withdraw(world: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rpc, url = world.rpc, world.node.http_url
    owner, other = rpc.call("eth_accounts")[1:3]
    weth = world.manifest.contracts["weth"]
    executor = _deploy(world, owner, capsys)
    assert main(["executor", "verify", "--rpc", url, "--executor", executor]) == 0
    assert "matches" in capsys.readouterr().out
    # the world's WETH is not an ArbExecutor: verify fails with exit code 1
    assert main(["executor", "verify", "--rpc", url, "--executor", weth]) == 1
    args = ["--rpc", url, "--from", owner, "--executor", executor]
    assert main(["executor", "fund", *args, "--eth", "2.5"]) == 0
    assert _weth_balance(rpc, weth, executor) == 25 * 10**17
    withdraw = ["executor", "withdraw", *args, "--token", weth, "--to", other]
    assert main([*withdraw, "--amount", "1"]) == 0
    assert _weth_balance(rpc, weth, executor) == 15 * 10**17
    assert _weth_balance(rpc, weth, other) >= 10**18
    capsys.readouterr()
    # only the owner may withdraw
    stranger = ["--rpc", url, "--from", other, "--executor", executor, "--token", weth]
    with pytest.raises(Exception, match="reverted"):
        main(["executor", "withdraw", *stranger, "--amount", "1"])


def test_low_gas_balance_warns(world: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rpc, url = world.rpc, world.node.http_url
    owner = rpc.call("eth_accounts")[1]
    executor = _deploy(world, owner, capsys)
    poor = "0x00000000000000000000000000000000000b0b01"
    args = ["executor", "verify", "--rpc", url, "--executor", executor, "--bot", poor]
    assert main(args) == 0
    assert "below the floor" in capsys.readouterr().out
    assert main([*args, "--min-gas-balance-eth", "0"]) == 0
    assert "below the floor" not in capsys.readouterr().out


def test_sender_must_be_unlocked(world: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = world.node.http_url
    weth = world.manifest.contracts["weth"]
    locked = "0x00000000000000000000000000000000000b0b02"
    with pytest.raises(Exception, match="keystore"):
        main(["executor", "deploy", "--rpc", url, "--from", locked, "--weth", weth])

"""The transfer probe on the local world: ordinary tokens pass, hostile ones show what they do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.risk import RiskGate, RiskLimits
from bot.token_probe import (
    PROBE_ADDRESS,
    PROBE_RECIPIENT,
    TransferProbeResult,
    deny_if_lossy,
    probe_token,
)
from chains import abi
from chains.abi_fn import AbiFunction
from sim.hostile import (
    REBASE,
    HostilePool,
    HostileTokens,
    create_hostile_pools,
    deploy_hostile_tokens,
)
from sim.txs import Call, UnlockedSender
from tests.integration.conftest import WorldNode

pytestmark = pytest.mark.integration

ETH = 10**18
FEE_BPS = 300
V3_SLOT0 = AbiFunction("slot0()", "(uint160,int24,uint16,uint16,uint16,uint8,bool)")


def _view(world: WorldNode, to: str, fn: AbiFunction, *args: Any) -> tuple[Any, ...]:
    out = world.rpc.call("eth_call", {"to": to, "data": "0x" + fn.encode(*args).hex()}, "latest")
    return fn.decode_output(bytes.fromhex(out[2:]))


def _balance(world: WorldNode, token: str, holder: str) -> int:
    return int(_view(world, token, abi.ERC20_BALANCE_OF, holder)[0])


def _gate(tmp_path: Path) -> RiskGate:
    limits = RiskLimits(
        min_net_profit_wei=ETH // 100,
        max_input_wei=10 * ETH,
        max_gas_price_wei=100 * 10**9,
        max_gas_units=1_000_000,
        max_tip_share_bps=9_000,
        max_bundles_per_block=2,
        max_loss_per_hour_wei=ETH // 10,
        max_loss_per_day_wei=ETH // 4,
        max_consecutive_failures=3,
        max_token_exposure_wei=15 * ETH,
    )
    return RiskGate(limits, state_path=tmp_path / "risk.json", kill_switch_path=tmp_path / "KILL")


def _hostile(world: WorldNode) -> tuple[UnlockedSender, HostileTokens, list[HostilePool]]:
    owner = UnlockedSender(world.rpc, world.manifest.deployer)
    tokens = deploy_hostile_tokens(owner, fee_bps=FEE_BPS, lie_bps=5_000)
    return owner, tokens, create_hostile_pools(owner, world.manifest, tokens)


def _probe(world: WorldNode, token: str, pool: str, kind: str, amount: int) -> TransferProbeResult:
    return probe_token(world.rpc, token, pool, kind, amount=amount)


def _pool_state(world: WorldNode, pool: str, kind: str) -> tuple[Any, ...]:
    if kind == "v2":
        return _view(world, pool, abi.V2_PAIR_GET_RESERVES)
    return _view(world, pool, V3_SLOT0)


def _chain_fingerprint(world: WorldNode, watched: list[tuple[str, str]]) -> tuple[Any, ...]:
    """Return the head block, the probe addresses' code and nonces and watched balances."""
    latest = world.rpc.call("eth_getBlockByNumber", "latest", False)
    return (
        latest["number"],
        latest["hash"],
        world.rpc.call("eth_getCode", PROBE_ADDRESS, "latest"),
        world.rpc.call("eth_getTransactionCount", PROBE_ADDRESS, "latest"),
        tuple(_balance(world, token, holder) for token, holder in watched),
    )


def test_every_world_token_passes_in_every_pool(world: WorldNode) -> None:
    kinds_seen = set()
    symbols_seen = set()
    for pool in world.manifest.pools:
        for token in (pool.token0, pool.token1):
            amount = _balance(world, token, pool.address) // 10_000
            assert amount > 0

            result = _probe(world, token, pool.address, pool.kind, amount)

            assert result.ok, (pool.address, token, result)
            assert result.measured and result.reason is None
            assert not result.transfer_reverted
            assert result.requested == amount
            assert result.received_from_pool == amount
            assert result.forwarded == amount
            assert result.received_by_next == amount
            assert result.debited == amount
            kinds_seen.add(pool.kind)
            symbols_seen.add(world.manifest.token_by_address(token).symbol)
    assert kinds_seen == {"v2", "v3"}
    assert symbols_seen == {t.symbol for t in world.manifest.tokens}
    assert "WETH" in symbols_seen


def test_probing_changes_no_state(world: WorldNode) -> None:
    pools = world.manifest.pools
    watched = [(t, p.address) for p in pools for t in (p.token0, p.token1)]
    watched += [(t.address, PROBE_RECIPIENT) for t in world.manifest.tokens]
    watched += [(t.address, PROBE_ADDRESS) for t in world.manifest.tokens]
    before = _chain_fingerprint(world, watched)
    states = [_pool_state(world, p.address, p.kind) for p in pools]

    for pool in pools:
        amount = _balance(world, pool.token0, pool.address) // 1_000
        assert _probe(world, pool.token0, pool.address, pool.kind, amount).ok

    assert _chain_fingerprint(world, watched) == before
    assert [_pool_state(world, p.address, p.kind) for p in pools] == states
    assert before[2] == "0x"  # the probe's address never holds code outside the call


def test_fee_on_transfer_token_is_denied(world: WorldNode, tmp_path: Path) -> None:
    _, tokens, pools = _hostile(world)
    gate = _gate(tmp_path)
    amount = 10**18
    fee = amount * FEE_BPS // 10_000
    for pool in (p for p in pools if p.symbol == "FOT"):
        result = _probe(world, tokens.fee_on_transfer, pool.address, pool.kind, amount)

        assert result.measured and not result.ok
        assert result.requested == amount
        assert result.received_from_pool == amount - fee
        assert result.forwarded == amount - fee
        assert result.received_by_next == result.forwarded - result.forwarded * FEE_BPS // 10_000
        assert result.reason == "pool transfer delivered 97.0% (fee on transfer)"
        assert deny_if_lossy(gate, result)
    denied = gate.denied_tokens
    assert denied == {
        tokens.fee_on_transfer.lower(): "pool transfer delivered 97.0% (fee on transfer)"
    }


def test_honeypot_token_is_denied(world: WorldNode, tmp_path: Path) -> None:
    _, tokens, pools = _hostile(world)
    gate = _gate(tmp_path)
    amount = 10**18
    for pool in (p for p in pools if p.symbol == "HONEY"):
        result = _probe(world, tokens.honeypot, pool.address, pool.kind, amount)

        # the whitelisted pool pays out in full; the buyer can move nothing on
        assert result.measured and not result.ok
        assert result.received_from_pool == amount
        assert result.transfer_reverted
        assert result.received_by_next == 0 and result.debited == 0
        assert result.reason is not None
        assert result.reason.startswith("transfer reverts for an ordinary holder")
        assert deny_if_lossy(gate, result)
    assert set(gate.denied_tokens) == {tokens.honeypot.lower()}


def test_lying_token_passes_because_balances_are_true(world: WorldNode, tmp_path: Path) -> None:
    _, tokens, pools = _hostile(world)
    gate = _gate(tmp_path)
    amount = 10**18
    for pool in (p for p in pools if p.symbol == "LIAR"):
        result = _probe(world, tokens.lying, pool.address, pool.kind, amount)

        # its Transfer events overstate by 50%, but balanceOf moves exactly: the probe reads
        # balances, so it sees exact transfers (event decoding is guarded elsewhere)
        assert result.ok, result
        assert result.received_from_pool == result.received_by_next == amount
        assert not deny_if_lossy(gate, result)
    assert gate.denied_tokens == {}


def test_rebasing_token_is_exact_at_rest_and_rounds_up_after_a_rebase(
    world: WorldNode, tmp_path: Path
) -> None:
    owner, tokens, pools = _hostile(world)
    gate = _gate(tmp_path)
    rebasing = [p for p in pools if p.symbol == "REBASE"]
    amount = 10**18  # not a multiple of 3: the share rounding shows after rebase(3, 1)
    delivered = -(-amount // 3) * 3  # ceil(amount / 3) shares, 3 units each
    for pool in rebasing:
        assert _probe(world, tokens.rebasing, pool.address, pool.kind, amount).ok

    owner.send(Call(to=tokens.rebasing, data=REBASE.encode(3, 1), label="rebase"))

    for pool in rebasing:
        result = _probe(world, tokens.rebasing, pool.address, pool.kind, amount)
        # a transfer moves ceil(amount / 3) shares: worth up to 2 units more than sent
        assert result.measured and not result.ok
        assert result.requested == amount
        assert result.received_from_pool == delivered
        assert result.received_by_next == result.forwarded == delivered
        assert result.reason == (
            f"pool transfer delivered {delivered} of {amount} (more than sent: rebasing or minting)"
        )
        assert deny_if_lossy(gate, result)
    assert set(gate.denied_tokens) == {tokens.rebasing.lower()}


def test_probe_against_a_non_pool_fails_cleanly(world: WorldNode, tmp_path: Path) -> None:
    gate = _gate(tmp_path)
    weth = world.manifest.contracts["weth"]
    user = world.manifest.users[0]
    pool = world.manifest.pools[0]
    other = next(
        t.address for t in world.manifest.tokens if t.address not in {pool.token0, pool.token1}
    )
    cases = [
        (weth, user, "v2", "not a pool"),  # an account without code
        (weth, weth, "v3", "not a pool"),  # a contract without token0()
        (other, pool.address, pool.kind, "token is not in the pool"),
    ]
    for token, address, kind, reason in cases:
        result = _probe(world, token, address, kind, 10**15)

        assert not result.measured and not result.ok
        assert result.reason is not None and result.reason.startswith(reason)
        assert not deny_if_lossy(gate, result)
    # more than a V2 pair holds: the pair itself refuses, before any callback
    pair = next(p for p in world.manifest.pools if p.kind == "v2")
    too_much = _balance(world, pair.token0, pair.address) + 1
    result = _probe(world, pair.token0, pair.address, "v2", too_much)
    assert not result.measured
    assert result.reason is not None
    assert result.reason.startswith("pool swap reverted before the callback")
    assert not deny_if_lossy(gate, result)
    assert gate.denied_tokens == {}

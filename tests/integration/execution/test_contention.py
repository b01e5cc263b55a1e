"""Money is right under contention: search -> risk -> sign -> audit -> simulate -> builder.

On the world (anvil mining only when the local builder builds a block, FIFO order), with
traffic whose swaps compete for the same pools and a competing searcher who sometimes lands
the same arbitrage first, the bot's candidates go block by block through the executor:
risk gate, signing, the audit log, eth_callBundle at the builder, eth_sendBundle. Backruns of
decoded pending swaps go as [victim, ours]. Checked at the end:

- every bundle is either included contiguous and in its order, or absent;
- at least one was invalidated by the competitor and left out;
- none of our transactions reverted on chain;
- the executor's WETH balance change equals, to the wei, the sum over included bundles of
  (exact predicted profit - tip);
- the audit log holds a verdict for every candidate and a final state for every bundle.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import eth_abi
import numpy as np
import pytest
from eth_account import Account
from eth_utils import keccak

from bot.audit import AuditLog
from bot.executor import Executor, FeeQuote, RelaySimulator, SendResult
from bot.nonce import NonceManager
from bot.relay import RelayClient
from bot.risk import RiskGate, RiskLimits
from bot.settlement import Settlement
from bot.tx_sign import TxSigner
from chains import abi_routers
from chains.arb_executor import deploy_executor, fund_executor_weth, set_executor
from chains.artifacts import repo_root
from chains.config_chain import load_chain_config, resolve_with_manifest
from chains.gas_model import load_gas_model
from chains.mempool import MempoolDecoder
from chains.registry import registry_from_manifest
from chains.rpc import HttpRpc
from chains.snapshot import PoolRef, snapshot_pools
from graph.actions import Candidate
from graph.cycles import build_cycles
from graph.gas import gas_units_table, next_base_fee_from_header
from graph.pending import PendingSwapSpec, ScratchState
from graph.reprice import PricingContext, Repricer
from graph.search import CycleSearch, SearchParams, base_values
from graph.state import PoolTable
from sim.anvil_config import AnvilConfig
from sim.builder import LocalBuilder
from sim.traffic import Traffic, TrafficConfig
from sim.txs import UnlockedSender
from sim.world_cache import WorldCache, start_world_node
from sim.world_routers import router_table
from tests.integration.conftest import WORLD_SPEC

pytestmark = pytest.mark.integration

BUNDLES_WANTED = 50
MAX_BLOCKS = 160
PRIORITY_FEE_WEI = 10**9
INVENTORY_WEI = 200 * 10**18
DEADLINE = 2**40
EXECUTED_TOPIC = keccak(text="Executed(uint256,uint256)")


@dataclass
class Bot:
    rpc: HttpRpc
    manifest: Any
    weth: str
    executor_address: str
    executor: Executor
    settlement: Settlement
    audit: AuditLog
    risk: RiskGate
    relay: RelayClient
    competitor: str
    builder: LocalBuilder
    secrets: tuple[bytes, ...]
    files: tuple[Path, ...]


@pytest.fixture(scope="module")
def bot(world_cache: WorldCache, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    node, manifest, _ = start_world_node(WORLD_SPEC, world_cache, config=AnvilConfig(order="fifo"))
    tmp = Path(tmp_path_factory.mktemp("contention"))
    with node, node.rpc() as rpc:
        accounts = rpc.call("eth_accounts")
        owner = UnlockedSender(rpc, accounts[1])
        weth = manifest.contracts["weth"]
        signer_key = os.urandom(32)
        relay_key = os.urandom(32)
        signer = TxSigner(signer_key)
        rpc.call("anvil_setBalance", signer.address, hex(100 * 10**18))
        executor_address = deploy_executor(owner, weth)
        set_executor(owner, executor_address, signer.address, True)
        fund_executor_weth(owner, weth, executor_address, INVENTORY_WEI)
        node.set_automine(False)
        limits = RiskLimits(
            min_net_profit_wei=0,
            max_input_wei=10**24,
            max_gas_price_wei=10**12,
            max_gas_units=2_000_000,
            max_tip_share_bps=10_000,
            max_bundles_per_block=8,
            max_loss_per_hour_wei=10**18,
            max_loss_per_day_wei=10**18,
            max_consecutive_failures=1_000,
            max_token_exposure_wei=10**24,
            token_allow=(),
            token_deny=(),
        )
        risk = RiskGate(limits, state_path=tmp / "risk.json", kill_switch_path=tmp / "kill-switch")
        audit = AuditLog(tmp / "audit.sqlite")
        head = int(rpc.call("eth_blockNumber"), 16)
        nonces = NonceManager(
            signer.address,
            chain_nonce=int(rpc.call("eth_getTransactionCount", signer.address, "latest"), 16),
            head_block=head,
        )
        with LocalBuilder(node.http_url) as builder:
            relay = RelayClient([builder.url], relay_key)
            executor = Executor(
                signer=signer,
                chain_id=manifest.chain_id,
                executor_address=executor_address,
                weth=weth,
                nonces=nonces,
                risk=risk,
                audit=audit,
                relay=relay,
                simulator=RelaySimulator(relay),
            )
            yield Bot(
                rpc=rpc,
                manifest=manifest,
                weth=weth,
                executor_address=executor_address,
                executor=executor,
                settlement=Settlement(audit, risk, nonces),
                audit=audit,
                risk=risk,
                relay=relay,
                competitor=accounts[4],
                builder=builder,
                secrets=(signer_key, relay_key),
                files=(tmp / "audit.sqlite", tmp / "risk.json"),
            )
        audit.close()


def _balance(rpc: HttpRpc, token: str, owner: str) -> int:
    data = keccak(text="balanceOf(address)")[:4] + eth_abi.encode(["address"], [owner])
    return int(rpc.call("eth_call", {"to": token, "data": "0x" + data.hex()}, "latest"), 16)


def _competitor_raw(bot: Bot, candidate: Candidate, key: bytes, nonce: int) -> bytes | None:
    """A rival's swap through the candidate's first V2 pair, buying what our first hop buys."""
    first = candidate.hops[0]
    if first.is_v3 or first.token_in != bot.weth.lower():
        return None
    venue = next((p.venue for p in bot.manifest.pools if p.address.lower() == first.pool), None)
    router = bot.manifest.venues[venue]["router"]
    amount = candidate.amount_in
    params = (0, [bot.weth, first.token_out], Account.from_key(key).address, DEADLINE)
    call = abi_routers.R02_SWAP_EXACT_ETH_FOR_TOKENS.encode(*params)
    tx = {
        "type": 2,
        "chainId": bot.manifest.chain_id,
        "nonce": nonce,
        "to": router,
        "value": amount,
        "data": call,
        "gas": 300_000,
        "maxFeePerGas": 10**12,
        "maxPriorityFeePerGas": 10**10,
    }
    return bytes(Account.sign_transaction(tx, key).raw_transaction)


def test_money_is_right_under_contention(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        asyncio.run(_contention(bot))
    # no key in any log line, exception text, audit row or risk state of the whole run
    texts = [caplog.text.lower(), *(r.getMessage().lower() for r in caplog.records)]
    blobs = [path.read_bytes() for path in bot.files]
    for key in bot.secrets:
        assert key.hex() not in "".join(texts)
        assert all(key not in blob and key.hex().encode() not in blob for blob in blobs)


async def _contention(bot: Bot) -> None:
    rpc, manifest = bot.rpc, bot.manifest
    chain = resolve_with_manifest(
        load_chain_config(repo_root() / "configs" / "chains" / "local.toml"), manifest.to_json()
    )
    registry = registry_from_manifest(chain, manifest)
    refs = [
        PoolRef(p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing) for p in registry.pools
    ]
    tokens, cycles = build_cycles(
        [(p.pool_id, p.token0, p.token1) for p in registry.pools], [bot.weth], max_hops=3
    )
    weth_id = tokens.get(bot.weth)
    search = CycleSearch(cycles)
    repricer = Repricer(cycles, tokens)
    model = load_gas_model(repo_root() / "configs" / "gas" / "local.toml")
    decoder = MempoolDecoder(router_table(manifest), registry.pool_id_of, weth=bot.weth)
    traffic = Traffic(rpc, manifest, TrafficConfig(seed=41, new_pool_probability=0.0))
    rival_key = os.urandom(32)
    rpc.call("anvil_setBalance", Account.from_key(rival_key).address, hex(10**24))
    rival_nonce = 0
    start_balance = _balance(rpc, bot.weth, bot.executor_address)
    results: list[SendResult] = []
    candidates_seen = 0
    rival_blocks = 0
    our_hashes: set[str] = set()

    async def submit(c: Candidate, fees: FeeQuote, parent: bytes, victim: bytes | None) -> None:
        nonlocal candidates_seen
        candidates_seen += 1
        result = await bot.executor.submit(
            c, fees=fees, parent_hash=parent, input_value_wei=c.amount_in, victim_raw=victim
        )
        results.append(result)
        if result.signed is not None:
            our_hashes.add(result.signed.hash_hex)

    for block in range(MAX_BLOCKS):
        if sum(r.outcome == "sent" for r in results) >= BUNDLES_WANTED:
            break
        sent = traffic.step(mine=False) or []
        pending = [tx for tx in traffic.in_flight]
        head = rpc.call("eth_getBlockByNumber", "latest", False)
        head_number = int(head["number"], 16)
        parent = bytes.fromhex(head["hash"][2:])
        fees = FeeQuote(
            next_base_fee_wei=next_base_fee_from_header(head, chain.eip1559),
            priority_fee_wei=PRIORITY_FEE_WEI,
        )
        table = PoolTable()
        table.load_snapshot(snapshot_pools(rpc, refs))
        values = base_values(table, cycles, weth_id, cycles.base_tokens)
        gas_price = fees.next_base_fee_wei + PRIORITY_FEE_WEI
        params = SearchParams(
            gas_coeffs=gas_units_table(model, True), gas_price_wei=gas_price, tip_share_bps=3000
        )
        ctx = PricingContext(
            block_number=head_number,
            block_hash=head["hash"],
            target_block=head_number + 1,
            gas_model=model,
            gas_price_wei=gas_price,
            tip_share_bps=3000,
            min_net_profit_wei=0,
            base_value_wei=values,
            inventory={weth_id: INVENTORY_WEI // 4},
        )
        jobs: list[tuple[Candidate, bytes | None]] = []
        evaluation = search.evaluate(table, np.arange(cycles.n_cycles), values, params)
        for screened in search.top(evaluation, params)[:3]:
            candidate = repricer.reprice(table, screened.cycle_id, screened.amount_in_f, ctx)
            if candidate is not None:
                jobs.append((candidate, None))
        # backruns of the pending swaps
        for tx in pending[:4]:
            swaps = decoder.decode_raw(tx.raw)
            if len(swaps) != 1:
                continue
            swap = swaps[0]
            spec = PendingSwapSpec(
                tx_hash=swap.tx_hash,
                hops=swap.hops,
                exact_output=swap.exact_output,
                amount_in=swap.amount_in,
                amount_out=swap.amount_out,
                amount_unknown=swap.amount_unknown,
                fee_on_transfer=swap.fee_on_transfer,
                exact_out_paid_forward=swap.exact_out_paid_forward,
            )
            scratch = ScratchState(table)
            if scratch.apply(spec) is not None:
                continue
            backrun_ctx = dataclasses.replace(ctx, pending_tx=swap.tx_hash)
            touched = search.touched(scratch, scratch.changed_pools, values, params)
            for screened in search.top(touched, params)[:1]:
                candidate = repricer.reprice(
                    scratch, screened.cycle_id, screened.amount_in_f, backrun_ctx
                )
                if candidate is not None:
                    jobs.append((candidate, tx.raw))
        # a rival lands the best plain candidate's first swap first, now and then
        if jobs and block % 4 == 1:
            raw = _competitor_raw(bot, jobs[0][0], rival_key, rival_nonce)
            if raw is not None:
                rival = RelayClient([bot.builder.url], os.urandom(32))
                replies = await rival.send_bundle(["0x" + raw.hex()], head_number + 1)
                await rival.close()
                assert all(r.ok for r in replies[:1]), replies
                rival_nonce += 1
                rival_blocks += 1

        # one executor EOA: one bundle per block can land (its nonce), so send the best one
        if jobs:
            candidate, victim = max(jobs, key=lambda job: job[0].net_profit_wei)
            await submit(candidate, fees, parent, victim)
        report = bot.builder.build_block()
        traffic.settle()
        checks = bot.settlement.hashes_to_check()
        receipts = {h: rpc.call("eth_getTransactionReceipt", h) for h in checks}
        chain_nonce = int(
            rpc.call("eth_getTransactionCount", bot.executor.signer_address, "latest"), 16
        )
        bot.settlement.on_block(report.block_number, chain_nonce=chain_nonce, receipts=receipts)
        del sent

    sent_results = [r for r in results if r.outcome == "sent"]
    assert len(sent_results) >= BUNDLES_WANTED, (len(sent_results), len(results))
    # settle the last block's bundles: mine two more blocks
    for _ in range(2):
        report = bot.builder.build_block()
        checks = bot.settlement.hashes_to_check()
        receipts = {h: rpc.call("eth_getTransactionReceipt", h) for h in checks}
        chain_nonce = int(
            rpc.call("eth_getTransactionCount", bot.executor.signer_address, "latest"), 16
        )
        bot.settlement.on_block(report.block_number, chain_nonce=chain_nonce, receipts=receipts)
    assert bot.audit.in_flight() == []

    included_profit = 0
    mismatches: list[tuple[str | None, int]] = []
    included = left_out = 0
    for result in sent_results:
        intent = bot.audit.intent(result.intent_id)
        assert intent is not None
        state = bot.audit.last_state(result.intent_id)
        hashes = list(intent.tx_hashes)
        receipts = [rpc.call("eth_getTransactionReceipt", h) for h in hashes]
        ours = receipts[-1]
        if state == "included":
            included += 1
            assert ours is not None and int(ours["status"], 16) == 1
            # contiguous and in order within one block
            blocks = {r["blockNumber"] for r in receipts}
            assert len(blocks) == 1, hashes
            indexes = [int(r["transactionIndex"], 16) for r in receipts]
            assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), indexes
            included_profit += intent.candidate.profit - intent.candidate.tip_wei
            executed = [
                log for log in ours["logs"] if log["topics"][0] == "0x" + EXECUTED_TOPIC.hex()
            ]
            assert len(executed) == 1
            realized = int(executed[0]["data"][2:66], 16)
            if realized != intent.candidate.profit:
                mismatches.append((intent.candidate.pending_tx, realized - intent.candidate.profit))
        else:
            assert state == "expired", state
            left_out += 1
            assert ours is None, "a bundle left out must not have our transaction mined"
    for tx_hash in our_hashes:
        receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
        assert receipt is None or int(receipt["status"], 16) == 1, tx_hash
    assert mismatches == []
    end_balance = _balance(rpc, bot.weth, bot.executor_address)
    assert end_balance - start_balance == included_profit
    assert included > 0 and left_out > 0
    assert rival_blocks > 0
    # the audit log accounts for every candidate
    verdicts = bot.audit.verdicts()
    assert len(verdicts) == candidates_seen
    await bot.relay.close()
    print(
        f"candidates {candidates_seen}, bundles sent {len(sent_results)}, included {included}, "
        f"left out {left_out}, rival blocks {rival_blocks}, "
        f"profit {included_profit / 1e18:.6f} WETH"
    )

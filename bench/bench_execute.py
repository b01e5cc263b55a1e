"""Benchmark: a proven Candidate to a signed bundle, and signing against eth-account.

- candidate -> signed bundle: `Executor.build` (the executor plan, ArbExecutor calldata, an
  EIP-1559 transaction, a libsecp256k1 signature), timed per call for p50/p99;
- the audit intent write that precedes every send (SQLite WAL, synchronous=FULL: an fsync);
- signing alone: `bot.tx_sign.TxSigner.sign` beside eth-account's `Account.sign_transaction`
  (its default backend) and beside eth-keys' pure-Python `NativeECCBackend` signing the same
  transaction hash (what eth-account costs without coincurve).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from eth_account import Account
from eth_keys import KeyAPI
from eth_keys.backends import NativeECCBackend

from bench import harness
from bench.harness import Report, Sample, measure
from bot.audit import AuditLog
from bot.executor import Executor, FeeQuote
from bot.nonce import NonceManager
from bot.risk import RiskGate, RiskLimits
from bot.tx_sign import TxSigner
from graph.actions import Candidate, CandidateHop

_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
_WETH = "0x" + "c0" * 20
_EXECUTOR = "0x" + "ee" * 20
_FEES = FeeQuote(next_base_fee_wei=12 * 10**9, priority_fee_wei=10**9)
_PARENT = bytes(range(32))


def _candidate(cycle_id: int = 1, target_block: int = 101) -> Candidate:
    a, b, c = "0x" + "aa" * 20, "0x" + "bb" * 20, _WETH
    amounts = (10**18, 3_000 * 10**6, 2_990 * 10**15, 10**18 + 10**16)
    hops = tuple(
        CandidateHop(
            pool_id=i,
            pool=f"0x{i + 1:040x}",
            is_v3=i == 1,
            zero_for_one=i % 2 == 0,
            fee_pips=3000 if i != 1 else 500,
            token_in=t_in,
            token_out=t_out,
            amount_in=amounts[i],
            amount_out=amounts[i + 1],
        )
        for i, (t_in, t_out) in enumerate(((c, a), (a, b), (b, c)))
    )
    profit = amounts[-1] - amounts[0]
    gas_units, gas_price = 250_000, 13 * 10**9
    tip = (profit - gas_units * gas_price) // 2
    return Candidate(
        cycle_id=cycle_id,
        base_token=_WETH,
        hops=hops,
        amount_in=amounts[0],
        profit=profit,
        profit_wei=profit,
        gas_units=gas_units,
        gas_price_wei=gas_price,
        tip_wei=tip,
        net_profit_wei=profit - gas_units * gas_price - tip,
        flash=True,
        block_number=target_block - 1,
        block_hash="0x" + "12" * 32,
        target_block=target_block,
    )


def _limits() -> RiskLimits:
    return RiskLimits(
        min_net_profit_wei=0,
        max_input_wei=10**24,
        max_gas_price_wei=10**12,
        max_gas_units=2_000_000,
        max_tip_share_bps=10_000,
        max_bundles_per_block=10**6,
        max_loss_per_hour_wei=10**24,
        max_loss_per_day_wei=10**24,
        max_consecutive_failures=10**6,
        max_token_exposure_wei=10**30,
    )


def _per_call(fn: object, n: int) -> Sample:
    clock = time.perf_counter_ns
    times = []
    for _ in range(n):
        start = clock()
        fn()  # type: ignore[operator]
        times.append((clock() - start) / 1e9)
    return Sample.from_times(times)


def run(report: Report) -> None:
    n = report.pick(3000, 300)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        signer = TxSigner(_KEY)
        audit = AuditLog(root / "audit.sqlite")
        risk = RiskGate(_limits(), state_path=root / "risk.json", kill_switch_path=root / "KILL")
        executor = Executor(
            signer=signer,
            chain_id=1,
            executor_address=_EXECUTOR,
            weth=_WETH,
            nonces=NonceManager(signer.address, chain_nonce=0, head_block=100),
            risk=risk,
            audit=audit,
            relay=None,  # type: ignore[arg-type]  # build() sends nothing
            simulator=None,  # type: ignore[arg-type]
        )
        candidate = _candidate()
        nonce = iter(range(10**9))
        build = _per_call(
            lambda: executor.build(candidate, nonce=next(nonce), fees=_FEES, parent_hash=_PARENT),
            n,
        )
        report.add("candidate -> signed bundle (plan, calldata, EIP-1559 tx, signature)", build)
        report.add_value("candidate -> signed bundle p50", build.percentile(50) * 1e6, "µs")
        report.add_value("candidate -> signed bundle p99", build.percentile(99) * 1e6, "µs")
        tx, signed = executor.build(candidate, nonce=0, fees=_FEES, parent_hash=_PARENT)
        ids = iter(range(10**9))

        def write_intent() -> None:
            audit.record_intent(
                intent_id=f"i{next(ids)}",
                candidate=candidate,
                raw_txs=[signed.raw],
                tx_hashes=[signed.hash_hex],
                nonce=0,
                signer=signer.address,
                bundle_uuid=None,
                limits=risk.limits,
            )

        intents = _per_call(write_intent, report.pick(300, 30))
        report.add("audit intent write (fsync)", intents)
        report.add_value("audit intent write p99", intents.percentile(99) * 1e6, "µs")
        audit.close()

    tx_dict = {
        "type": 2,
        "chainId": tx.chain_id,
        "nonce": tx.nonce,
        "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
        "maxFeePerGas": tx.max_fee_per_gas,
        "gas": tx.gas,
        "to": Account.from_key(_KEY).address,
        "value": 0,
        "data": tx.data,
        "accessList": [],
    }
    native = KeyAPI(NativeECCBackend)
    native_key = native.PrivateKey(_KEY)
    digest = tx.signing_hash()
    repeats = report.pick(15, 3)
    report.add(
        "sign, eth-keys NativeECCBackend (pure Python)",
        measure(lambda: native.ecdsa_sign(digest, native_key), repeats=repeats, inner=20),
    )
    report.add(
        "sign, eth-account Account.sign_transaction (default backend)",
        measure(lambda: Account.sign_transaction(tx_dict, _KEY), repeats=repeats, inner=200),
        baseline="sign, eth-keys NativeECCBackend (pure Python)",
    )
    report.add(
        "sign, TxSigner (libsecp256k1, RLP + keccak included)",
        measure(lambda: signer.sign(tx), repeats=repeats, inner=2000),
        baseline="sign, eth-keys NativeECCBackend (pure Python)",
    )


if __name__ == "__main__":
    harness.main(run)

"""Gas calibration: execute 2- and 3-hop cycles of every venue kind on the world, fit the model.

Traffic dislocates the world's pools; each round an exactly priced profitable cycle is
executed through ArbExecutor (flash swap and inventory alternately, the shape run least so
far first, sometimes at the largest profitable size so V3 hops cross initialized ticks).
Each execution records its shape and state (`Measurement`) and its receipt's gasUsed; the
model (`chains.gas_model`) is fitted by least squares. Every other execution of each funding
mode pays a small builder tip (a tenth of its minimum profit, at least 1 wei): the executor
unwraps it from WETH and sends it to the coinbase, the `tip_paid` term. Executions carry no
guard: a constant add-on.

What traces of these executions show (debug_traceTransaction, per SSTORE and per call):
- hop kind, funding mode and where each output goes fix the token transfers; a transfer to
  the executor of a token it does not hold is a fresh SSTORE, refunded when it pays the token
  on (parked hops; a flash starting with two V2 hops forwards hop 0's output once more);
- a V3 hop that moves the tick writes an oracle observation; one that leaves it does not;
- a V3 hop crossing ticks reads the oracle once and writes the in-range liquidity; each
  crossing updates three tick slots, and a feeGrowthOutside slot going from zero to nonzero
  (a tick initialized above the price, crossed for the first time) costs 17100 gas more
  than an update, one going back to zero earns a 4800 refund; `fee_slot_flips` reads them
  from the node before each execution;
- a V3 swap step ending at a bitmap word boundary reads one more (cold) bitmap word.
Block timestamps advance 12 s per block during calibration, so every swap writes its pool's
oracle as on a real chain; the world's pools are seasoned at deployment
(`sim.world.season_pools`), so none pays the first write of its cumulative prices or fee
growth globals that a pool with a trading history has long paid.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import eth_abi
import numpy as np
from eth_utils import keccak

from amm_math.uniswap_v3.pool_state import V3PoolState
from chains import abi, abi_routers
from chains.abi_fn import AbiFunction
from chains.arb_executor import (
    Hop,
    Plan,
    deploy_executor,
    execute_calldata,
    fund_executor_weth,
    set_executor,
)
from chains.gas_model import GasModel
from chains.snapshot import PoolSnapshot, snapshot_pools
from sim.traffic import Traffic, TrafficConfig
from sim.txs import UnlockedSender, wait_receipt
from sim.world_cycles import CycleQuote, Leg, find_cycles, legs_by_token, quote_cycle

__all__ = [
    "Measurement",
    "crossed_ticks",
    "fee_slot_flips",
    "fit_gas_model",
    "predict_measurement",
    "prediction_errors_pct",
    "run_calibration",
]

_AMOUNTS = tuple(10**15 * 2**k for k in range(18))  # 0.001 .. ~131 WETH
_INVENTORY_WEI = 500 * 10**18
_EXECUTE_GAS = 1_500_000
_WARMUP = 4
_DISLOCATE_EVERY = 3
_DEADLINE = 2**40
_FEE_GROWTH_GLOBAL = (
    AbiFunction("feeGrowthGlobal0X128()", "(uint256)"),
    AbiFunction("feeGrowthGlobal1X128()", "(uint256)"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One calibration execution: its shape, its state-dependent counts, its receipt's gasUsed.

    The fields after `gas_used` are the `GasModel.predict` terms of the same names.
    """

    flash: bool
    n_v2: int
    n_v3: int
    ticks_crossed: int
    parked_hops: int
    word_steps: int
    gas_used: int
    crossing_hops: int = 0
    fee_slots_set: int = 0
    fee_slots_cleared: int = 0
    still_v3_hops: int = 0
    flash_forwards: int = 0
    tip_paid: bool = False


def crossed_ticks(before: V3PoolState, after: V3PoolState, zero_for_one: bool) -> list[int]:
    """Return the initialized ticks a swap from `before` to `after` crossed, in crossing order."""
    if zero_for_one:
        # moving down, crossing tick t leaves the pool at t - 1
        return sorted((t for t in before.ticks if after.tick < t <= before.tick), reverse=True)
    return sorted(t for t in before.ticks if before.tick < t <= after.tick)


def _call(rpc: Any, to: str, fn: AbiFunction, *args: Any) -> tuple[Any, ...]:
    data = "0x" + fn.encode(*args).hex()
    raw = rpc.call("eth_call", {"to": to, "data": data}, "latest")
    return fn.decode_output(bytes.fromhex(raw[2:]))


def fee_slot_flips(
    rpc: Any, snap: PoolSnapshot, cycle: tuple[Leg, ...], quote: CycleQuote
) -> tuple[int, int, int]:
    """Return (crossing hops, fee slots set, fee slots cleared) of a cycle, read from the node.

    Crossing a tick writes outside = global - outside for each token's fee growth. A slot that
    goes from zero to nonzero costs a fresh SSTORE (a tick initialized above the price, crossed
    for the first time); one that goes back to zero earns a refund. The input token's global
    grows by this swap's fees before any crossing, so its new value is taken as nonzero.
    """
    hops = set_slots = cleared = total = 0
    for leg in cycle:
        if not leg.is_v3:
            continue
        ticks = crossed_ticks(
            snap.v3_states[leg.pool_id], quote.v3_states[leg.pool_id], leg.zero_for_one
        )
        total += len(ticks)
        if not ticks:
            continue
        hops += 1
        globals_x128 = [_call(rpc, leg.address, fn)[0] for fn in _FEE_GROWTH_GLOBAL]
        token_in = 0 if leg.zero_for_one else 1
        for tick in ticks:
            info = _call(rpc, leg.address, abi.V3_POOL_TICKS, tick)
            for token in (0, 1):
                old = info[2 + token]
                new_is_zero = token != token_in and globals_x128[token] == old
                set_slots += old == 0 and not new_is_zero
                cleared += old != 0 and new_is_zero
    if total != quote.ticks_crossed:
        raise RuntimeError(f"{total} crossed ticks found, the quote crossed {quote.ticks_crossed}")
    return hops, set_slots, cleared


def _profitable_sizes(snap: PoolSnapshot, cycle: tuple[Leg, ...], cap_wei: int) -> list[CycleQuote]:
    """Return the quote of every profitable size of the doubling scan."""
    sizes = []
    for amount in _AMOUNTS:
        if amount > cap_wei:
            break
        q = quote_cycle(snap, cycle, amount)
        if q is None or q.profit <= 0:
            if sizes or (q is not None and amount == _AMOUNTS[0]):
                break
            continue
        sizes.append(q)
    return sizes


def _balance(rpc: Any, token: str, owner: str) -> int:
    data = keccak(text="balanceOf(address)")[:4] + eth_abi.encode(["address"], [owner])
    return int(rpc.call("eth_call", {"to": token, "data": "0x" + data.hex()}, "latest"), 16)


def run_calibration(
    rpc: Any,
    manifest: Any,
    *,
    executions: int,
    seed: int = 7,
    warmup: int = _WARMUP,
    max_rounds: int = 2000,
) -> list[Measurement]:
    """Execute profitable cycles on an automining world node; return `executions` measurements.

    The first `warmup` executions are not measured: a fresh executor writes storage slots
    for the first time (zero to nonzero), which a running executor has long done; the coinbase
    receives its first tip among them (executions 2 and 3 tip).
    """
    accounts = rpc.call("eth_accounts")
    owner, bot = UnlockedSender(rpc, accounts[1]), accounts[2]
    weth = manifest.contracts["weth"]
    executor = deploy_executor(owner, weth)
    set_executor(owner, executor, bot, True)
    fund_executor_weth(owner, weth, executor, _INVENTORY_WEI)
    cycles = find_cycles(legs_by_token(manifest), weth.lower())
    refs = [
        (i, p.address, p.kind, p.fee_pips, p.tick_spacing) for i, p in enumerate(manifest.pools)
    ]
    # every block 12 s after its parent, as on mainnet: pools then always write their oracle
    # (V2 cumulative prices, V3 observations), instead of only when the wall clock ticked
    rpc.call("anvil_setBlockTimestampInterval", 12)
    traffic = Traffic(rpc, manifest, TrafficConfig(seed=seed, new_pool_probability=0.0))
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    out: list[Measurement] = []
    rounds = 0
    for _ in range(max_rounds):
        if len(out) >= executions + warmup:
            break
        traffic.step()
        if rounds % _DISLOCATE_EVERY == 0:
            _dislocate_v3(rpc, manifest, accounts[3], rng)
        rounds += 1
        snap = snapshot_pools(rpc, refs)
        flash = len(out) % 2 == 0
        # funding modes alternate; within each, every other execution tips
        tipped = len(out) // 2 % 2 == 1
        cap = 10**24 if flash else _balance(rpc, weth, executor)
        options = [(c, s) for c in cycles if (s := _profitable_sizes(snap, c, cap))]
        if not options:
            continue
        shapes = {c: "-".join("v3" if leg.is_v3 else "v2" for leg in c) for c, _ in options}
        fewest = min(counts[s] for s in shapes.values())
        cycle, sizes = rng.choice([o for o in options if counts[shapes[o[0]]] == fewest])
        quote = sizes[-1] if rng.random() < 0.7 else rng.choice(sizes)
        amount_in, outs = quote.amount_in, quote.outs
        crossing_hops, fee_set, fee_cleared = fee_slot_flips(rpc, snap, cycle, quote)
        min_profit = outs[-1] - amount_in
        plan = Plan(
            base_token=weth,
            amount_in=amount_in,
            min_profit_wei=min_profit,
            tip_wei=max(1, min_profit // 10) if tipped else 0,
            flash=flash,
            hops=tuple(
                Hop(
                    pool=leg.address,
                    zero_for_one=leg.zero_for_one,
                    is_v3=leg.is_v3,
                    fee_pips=0 if leg.is_v3 else leg.fee_pips,
                    amount_out=got,
                )
                for leg, got in zip(cycle, outs, strict=True)
            ),
        )
        params = {
            "from": bot,
            "to": executor,
            "data": "0x" + execute_calldata(plan).hex(),
            "gas": hex(_EXECUTE_GAS),
        }
        receipt = wait_receipt(rpc, rpc.call("eth_sendTransaction", params), timeout_s=10.0)
        if receipt is None or int(receipt["status"], 16) != 1:
            raise RuntimeError(f"calibration execution reverted: {receipt}")
        n_v3 = sum(leg.is_v3 for leg in cycle)
        still = sum(
            snap.v3_states[leg.pool_id].tick == quote.v3_states[leg.pool_id].tick
            for leg in cycle
            if leg.is_v3
        )
        out.append(
            Measurement(
                flash=flash,
                n_v2=len(cycle) - n_v3,
                n_v3=n_v3,
                ticks_crossed=quote.ticks_crossed,
                parked_hops=sum(leg.is_v3 for leg in cycle[1:]),
                word_steps=quote.word_steps,
                gas_used=int(receipt["gasUsed"], 16),
                crossing_hops=crossing_hops,
                fee_slots_set=fee_set,
                fee_slots_cleared=fee_cleared,
                still_v3_hops=still,
                flash_forwards=int(flash and not cycle[0].is_v3 and not cycle[1].is_v3),
                tip_paid=tipped,
            )
        )
        counts[shapes[cycle]] += 1
    return out[warmup:]


def _dislocate_v3(rpc: Any, manifest: Any, sender: str, rng: random.Random) -> None:
    """Sell a large ETH amount into a WETH-paired V3 pool, so the way back crosses ticks."""
    weth = manifest.contracts["weth"]
    pools = [p for p in manifest.pools if p.kind == "v3" and weth in (p.token0, p.token1)]
    pool = rng.choice(pools)
    token_out = pool.token1 if pool.token0 == weth else pool.token0
    amount = int(_balance(rpc, weth, pool.address) * rng.uniform(0.05, 0.6))
    if amount <= 0:
        return
    params = (weth, token_out, pool.fee_pips, sender, _DEADLINE, amount, 0, 0)
    call = {
        "from": sender,
        "to": manifest.contracts["swap_router"],
        "data": "0x" + abi_routers.SR_EXACT_INPUT_SINGLE.encode(params).hex(),
        "value": hex(amount),
        "gas": hex(1_000_000),
    }
    wait_receipt(rpc, rpc.call("eth_sendTransaction", call), timeout_s=10.0)


# GasModel fields in design-matrix column order; the sign says how the term enters predict
_TERMS = (
    ("base_flash_gas", 1),
    ("base_inventory_gas", 1),
    ("per_v2_hop_gas", 1),
    ("per_v3_hop_gas", 1),
    ("per_tick_crossed_gas", 1),
    ("per_parked_hop_gas", 1),
    ("per_word_step_gas", 1),
    ("per_crossing_hop_gas", 1),
    ("per_fee_slot_set_gas", 1),
    ("per_fee_slot_cleared_refund_gas", -1),
    ("per_still_v3_hop_saving_gas", -1),
    ("per_flash_forward_gas", 1),
    ("per_tip_gas", 1),
)
# a term the training executions never exercise keeps this value: EIP-3529 refunds 4800 gas
# for a storage slot cleared to zero; every other unexercised term is 0
_UNEXERCISED_GAS = {"per_fee_slot_cleared_refund_gas": 4800}


def _counts(m: Measurement) -> list[int]:
    return [
        int(m.flash),
        int(not m.flash),
        m.n_v2,
        m.n_v3,
        m.ticks_crossed,
        m.parked_hops,
        m.word_steps,
        m.crossing_hops,
        m.fee_slots_set,
        m.fee_slots_cleared,
        m.still_v3_hops,
        m.flash_forwards,
        int(m.tip_paid),
    ]


def fit_gas_model(measurements: list[Measurement]) -> GasModel:
    """Fit the model by least squares over measured gasUsed; integer gas units out.

    One stage over all executions: with the state-dependent costs of tick crossings as their
    own terms (fee growth slots set from or cleared to zero, the oracle read and liquidity
    write of a crossing swap), crossings no longer bend the hop terms. A term no training
    execution exercises keeps its default (`_UNEXERCISED_GAS`); negative fits clip to 0.
    """
    if not measurements:
        raise ValueError("no measurements to fit")
    signs = np.array([sign for _, sign in _TERMS], dtype=np.float64)
    x = np.array([_counts(m) for m in measurements], dtype=np.float64) * signs
    y = np.array([m.gas_used for m in measurements], dtype=np.float64)
    exercised = np.abs(x).sum(axis=0) > 0
    fixed = np.array([_UNEXERCISED_GAS.get(name, 0) for name, _ in _TERMS], dtype=np.float64)
    c = np.where(exercised, 0.0, fixed)
    rest = y - x[:, ~exercised] @ c[~exercised]
    c[exercised], *_ = np.linalg.lstsq(x[:, exercised], rest, rcond=None)
    values = {name: max(0, round(float(v))) for (name, _), v in zip(_TERMS, c, strict=True)}
    model = GasModel(**values, samples=len(measurements))
    worst = max((abs(e) for e in prediction_errors_pct(model, measurements)), default=0.0)
    return dataclasses.replace(model, max_abs_error_pct=worst)


def predict_measurement(model: GasModel, m: Measurement) -> int:
    """Return the model's gasUsed prediction for the shape and state of one execution."""
    return model.predict(
        flash=m.flash,
        n_v2=m.n_v2,
        n_v3=m.n_v3,
        ticks_crossed=m.ticks_crossed,
        parked_hops=m.parked_hops,
        word_steps=m.word_steps,
        crossing_hops=m.crossing_hops,
        fee_slots_set=m.fee_slots_set,
        fee_slots_cleared=m.fee_slots_cleared,
        still_v3_hops=m.still_v3_hops,
        flash_forwards=m.flash_forwards,
        tip_paid=m.tip_paid,
    )


def prediction_errors_pct(model: GasModel, measurements: list[Measurement]) -> list[float]:
    """Return (predicted - measured) / measured in percent for each measurement."""
    return [100.0 * (predict_measurement(model, m) - m.gas_used) / m.gas_used for m in measurements]

"""Gas calibration: execute 2- and 3-hop cycles of every venue kind on the world, fit the model.

Traffic dislocates the world's pools; each round an exactly priced profitable cycle is
executed through ArbExecutor (flash swap and inventory alternately, the shape run least so
far first, sometimes at the largest profitable size so V3 hops cross initialized ticks).
Each execution records (flash, V2 hops, V3 hops, ticks crossed, gasUsed); the model is fitted
by least squares. Executions carry no tip and no guard: those are constant add-ons.

Terms beyond the hop counts, found necessary by the fit:
- parked hops: a hop followed by a V3 hop sends its output to the executor (a V3 pool is
  paid in its callback), which costs one more token transfer than sending it straight to
  the next V2 pair;
- word steps: a V3 swap loop step that ends at a tick-bitmap word boundary without an
  initialized tick (one more bitmap read and price step);
- block timestamps advance 12 s per block during calibration, so every swap writes its
  pool's oracle (V2 cumulative prices, V3 observation) as on a real chain.
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

from chains import abi_routers
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
from sim.world_cycles import Leg, find_cycles, legs_by_token, quote_cycle

__all__ = [
    "Measurement",
    "fit_gas_model",
    "prediction_errors_pct",
    "run_calibration",
]

_AMOUNTS = tuple(10**15 * 2**k for k in range(18))  # 0.001 .. ~131 WETH
_INVENTORY_WEI = 500 * 10**18
_EXECUTE_GAS = 1_500_000
_WARMUP = 4
_DISLOCATE_EVERY = 3
_DEADLINE = 2**40


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One calibration execution: its shape and the gasUsed of its receipt."""

    flash: bool
    n_v2: int
    n_v3: int
    ticks_crossed: int
    parked_hops: int
    word_steps: int
    gas_used: int


def _profitable_sizes(
    snap: PoolSnapshot, cycle: tuple[Leg, ...], cap_wei: int
) -> list[tuple[int, tuple[int, ...], int, int]]:
    """Return (amount_in, outs, ticks, words) for every profitable size of the doubling scan."""
    sizes = []
    for amount in _AMOUNTS:
        if amount > cap_wei:
            break
        q = quote_cycle(snap, cycle, amount)
        if q is None or q.profit <= 0:
            if sizes or (q is not None and amount == _AMOUNTS[0]):
                break
            continue
        sizes.append((amount, q.outs, q.ticks_crossed, q.word_steps))
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
    for the first time (zero to nonzero), which a running executor has long done.
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
        cap = 10**24 if flash else _balance(rpc, weth, executor)
        options = [(c, s) for c in cycles if (s := _profitable_sizes(snap, c, cap))]
        if not options:
            continue
        shapes = {c: "-".join("v3" if leg.is_v3 else "v2" for leg in c) for c, _ in options}
        fewest = min(counts[s] for s in shapes.values())
        cycle, sizes = rng.choice([o for o in options if counts[shapes[o[0]]] == fewest])
        amount_in, outs, crossed, words = sizes[-1] if rng.random() < 0.7 else rng.choice(sizes)
        plan = Plan(
            base_token=weth,
            amount_in=amount_in,
            min_profit_wei=outs[-1] - amount_in,
            tip_wei=0,
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
        out.append(
            Measurement(
                flash=flash,
                n_v2=len(cycle) - n_v3,
                n_v3=n_v3,
                ticks_crossed=crossed,
                parked_hops=sum(leg.is_v3 for leg in cycle[1:]),
                word_steps=words,
                gas_used=int(receipt["gasUsed"], 16),
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


def _design(measurements: list[Measurement]) -> np.ndarray:
    return np.array(
        [
            [m.flash, not m.flash, m.n_v2, m.n_v3, m.ticks_crossed, m.parked_hops, m.word_steps]
            for m in measurements
        ],
        dtype=np.float64,
    )


def fit_gas_model(measurements: list[Measurement]) -> GasModel:
    """Fit the model by least squares over measured gasUsed; integer gas units out.

    Two stages, so the state-dependent cost of tick crossings (fee growth slots flipping
    between zero and nonzero) does not bend the hop terms: base and hop terms from the
    executions that stay within one tick range, then the tick and word terms from the
    residuals of the others.
    """
    x = _design(measurements)
    y = np.array([m.gas_used for m in measurements], dtype=np.float64)
    plain = (x[:, 4] == 0) & (x[:, 6] == 0)
    hop_cols = [0, 1, 2, 3, 5]
    c = np.zeros(7)
    c[hop_cols], *_ = np.linalg.lstsq(x[plain][:, hop_cols], y[plain], rcond=None)
    if (~plain).any():
        rest = y[~plain] - x[~plain][:, hop_cols] @ c[hop_cols]
        c[[4, 6]], *_ = np.linalg.lstsq(x[~plain][:, [4, 6]], rest, rcond=None)
    g = [max(0, round(float(v))) for v in c]
    model = GasModel(
        base_flash_gas=g[0],
        base_inventory_gas=g[1],
        per_v2_hop_gas=g[2],
        per_v3_hop_gas=g[3],
        per_tick_crossed_gas=g[4],
        per_parked_hop_gas=g[5],
        per_word_step_gas=g[6],
        samples=len(measurements),
    )
    worst = max((abs(e) for e in prediction_errors_pct(model, measurements)), default=0.0)
    return dataclasses.replace(model, max_abs_error_pct=worst)


def prediction_errors_pct(model: GasModel, measurements: list[Measurement]) -> list[float]:
    """Return (predicted - measured) / measured in percent for each measurement."""
    return [
        100.0
        * (
            model.predict(
                flash=m.flash,
                n_v2=m.n_v2,
                n_v3=m.n_v3,
                ticks_crossed=m.ticks_crossed,
                parked_hops=m.parked_hops,
                word_steps=m.word_steps,
            )
            - m.gas_used
        )
        / m.gas_used
        for m in measurements
    ]

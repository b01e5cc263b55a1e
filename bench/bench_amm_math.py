"""Benchmark: exact AMM quotes and their numba mirrors against asking the real contract.

Baseline, measured in the same run: what a user does today to check a quote, an `eth_call`
to the deployed contract on anvil (Router02.getAmountOut for V2; a V3 pool's swap through
V3PoolHarness, reverted by the call, for V3). The V3 pool is the real UniswapV3Pool with 41
narrow positions around its price, so a chosen input crosses exactly 0 or 10 initialized ticks.
"""

from __future__ import annotations

import eth_abi
import numpy as np

from amm_math.uniswap_v2 import get_amount_out
from amm_math.uniswap_v2_nb import get_amount_out_f, get_amount_out_many
from amm_math.uniswap_v3.pool import V3PoolState, swap
from amm_math.uniswap_v3.swap_nb import swap_exact_in_f
from amm_math.uniswap_v3.tick_math import MIN_SQRT_RATIO, get_sqrt_ratio_at_tick
from amm_math.uniswap_v3.ticks_csr import csr_of
from bench import harness
from bench.harness import Report, measure
from chains.abi_fn import AbiFunction
from chains.artifacts import load_npm_artifact
from sim.anvil import AnvilConfig, AnvilProcess
from sim.txs import Call, UnlockedSender
from sim.v3_lab import PositionOp, V3Lab

GET_AMOUNT_OUT = AbiFunction("getAmountOut(uint256,uint256,uint256)", "(uint256)")
RESERVE_IN = 1_234_567_890_123_456_789_012
RESERVE_OUT = 987_654_321_098
AMOUNT_IN = 3_000_000_000_000_000_000
SPACING = 60


def _amount_crossing(state: V3PoolState, ticks: int) -> int:
    """Return the smallest exact input (token0) whose swap crosses `ticks` initialized ticks."""
    low, high = 1, 1
    while swap(state, True, high).ticks_crossed < ticks:
        high *= 2
    while low < high:
        mid = (low + high) // 2
        if swap(state, True, mid).ticks_crossed < ticks:
            low = mid + 1
        else:
            high = mid
    return low + low // 100  # a little past the crossing, well before the next tick


def run(report: Report) -> None:
    repeats = report.pick(7, 3)
    inner_rpc = report.pick(200, 40)
    inner_py = report.pick(2000, 200)
    with AnvilProcess.start(AnvilConfig()) as node, node.rpc() as rpc:
        sender = UnlockedSender(rpc, rpc.call("eth_accounts")[0])
        router_code = load_npm_artifact("UniswapV2Router02").bytecode
        args = eth_abi.encode(["address", "address"], ["0x" + "11" * 20, "0x" + "22" * 20])
        receipt = sender.send(Call(to=None, data=router_code + args, gas_units=8_000_000))
        router = receipt["contractAddress"]
        v2_call = GET_AMOUNT_OUT.encode(AMOUNT_IN, RESERVE_IN, RESERVE_OUT)
        params = {"to": router, "data": "0x" + v2_call.hex()}
        expected = get_amount_out(AMOUNT_IN, RESERVE_IN, RESERVE_OUT)
        assert int(rpc.call("eth_call", params, "latest"), 16) == expected

        lab = V3Lab.deploy(rpc)
        pool = lab.create_pool(3000, get_sqrt_ratio_at_tick(SPACING // 2))  # mid-range
        ops = [
            PositionOp(
                kind="mint",
                tick_lower=i * SPACING,
                tick_upper=(i + 1) * SPACING,
                liquidity=10**21 + i * 10**18,
            )
            for i in range(-20, 21)
        ]
        lab.modify(pool, ops)
        state = lab.read_state(pool, ticks_between=(-30 * SPACING, 30 * SPACING)).to_pool_state()
        small = 10**15
        ten = _amount_crossing(state, 10)
        assert swap(state, True, small).ticks_crossed == 0
        assert swap(state, True, ten).ticks_crossed == 10
        for amount in (small, ten):
            exact = swap(state, True, amount)
            assert lab.quote_swap(pool, True, amount, MIN_SQRT_RATIO + 1) == (
                exact.amount0,
                exact.amount1,
            )

        def rate(sample_name: str, fn, inner: int, baseline: str | None = None) -> None:
            report.add(
                sample_name,
                measure(fn, repeats=repeats, inner=inner),
                baseline=baseline,
                work_per_call=1,
                work_unit="calls",
            )

        rate(
            "v2 quote: eth_call Router02.getAmountOut",
            lambda: rpc.call("eth_call", params, "latest"),
            inner_rpc,
        )
        rate(
            "v3 swap 0 ticks: eth_call pool",
            lambda: lab.quote_swap(pool, True, small, 4295128740),
            inner_rpc,
        )
        rate(
            "v3 swap 10 ticks: eth_call pool",
            lambda: lab.quote_swap(pool, True, ten, 4295128740),
            inner_rpc,
        )
        rate(
            "v2 quote: amm_math exact",
            lambda: get_amount_out(AMOUNT_IN, RESERVE_IN, RESERVE_OUT),
            inner_py * 10,
            "v2 quote: eth_call Router02.getAmountOut",
        )
        rate(
            "v3 swap 0 ticks: amm_math exact",
            lambda: swap(state, True, small),
            inner_py,
            "v3 swap 0 ticks: eth_call pool",
        )
        rate(
            "v3 swap 10 ticks: amm_math exact",
            lambda: swap(state, True, ten),
            inner_py // 4,
            "v3 swap 10 ticks: eth_call pool",
        )
        rate(
            "v2 quote: numba float (from Python)",
            lambda: get_amount_out_f(float(AMOUNT_IN), float(RESERVE_IN), float(RESERVE_OUT), 3000),
            inner_py * 10,
            "v2 quote: eth_call Router02.getAmountOut",
        )
        n = 100_000
        amounts = np.full(n, float(AMOUNT_IN))
        r_in = np.full(n, float(RESERVE_IN))
        r_out = np.full(n, float(RESERVE_OUT))
        fees = np.full(n, 3000, dtype=np.int64)
        out = np.empty(n)
        report.add(
            "v2 quotes: numba float, batch of 100k",
            measure(lambda: get_amount_out_many(amounts, r_in, r_out, fees, out), repeats=repeats),
            work_per_call=n,
            work_unit="quotes",
        )
        csr = csr_of(state)
        start, end = csr.bounds(0)
        sqrt_price = state.sqrt_price_x96 / 2**96

        def nb_swap(amount: float) -> None:
            swap_exact_in_f(
                sqrt_price,
                float(state.liquidity),
                state.tick,
                3000,
                csr.ticks,
                csr.liquidity_net,
                csr.sqrt_price_at_tick,
                start,
                end,
                True,
                amount,
            )

        rate(
            "v3 swap 10 ticks: numba float (from Python)",
            lambda: nb_swap(float(ten)),
            inner_py,
            "v3 swap 10 ticks: eth_call pool",
        )


if __name__ == "__main__":
    harness.main(run)

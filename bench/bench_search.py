"""Benchmark: the cycle search, a full pass over 1M V2 3-cycles and incremental after a block.

Part 1, full evaluation: a V2-only graph (`search_graphs.v2_dense_graph`, about 1M WETH-based
3-cycles) evaluated over every cycle id by `CycleSearch.evaluate` and by the kernels it runs
(`fill_records` + `evaluate_cycles`) with preallocated outputs. Baselines in the same run: the
closed form in Python floats on a sample of cycles, and a bare closed-form numba kernel (no
state, kind, gas or net bookkeeping). Every entry is time per cycle, so ratios compare
per-cycle costs.

Part 2, incremental: a mainnet-shaped graph (`search_graphs.mainnet_graph`, 50k pools, bases
WETH and USDC, max_hops 3) and 200 changed pools per block, drawn uniformly or by activity
(probability proportional to the geometric mean of the pool's two token degrees, so hub pools
are touched most). Each run is `CycleSearch.touched` on a fresh draw, `touching` included;
`CycleSet.touching` is also timed alone. The kernel's cost is split over the touched cycles
by what they need: screened out at marginal rates, profitable within the current V3 ranges,
or crossing ticks at the optimum. Baselines on the same graph: networkx `negative_edge_cycle`
on -log best rates per direction, and the Python closed form on the touched cycles (in-range
V3 only, so it underestimates Python's cost where a V3 optimum crosses ticks). Also:
`full_pass` (numba Bellman-Ford, stopping at the first round that yields a negative cycle),
CycleSet construction and `add_pool`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fractions import Fraction

import networkx as nx
import numba
import numpy as np

from bench import harness
from bench.harness import Report, Sample, measure
from bench.search_graphs import SyntheticGraph, mainnet_graph, v2_dense_graph
from graph.cycles import CycleSet
from graph.search import CycleSearch, SearchParams, base_values
from graph.search_kernels import (
    KIND_V2,
    KIND_V3,
    MAX_HOPS,
    RECORD_WIDTH,
    evaluate_cycles,
    fill_records,
    pack_hops,
)
from graph.state import PoolTable

CHANGED_POOLS = 200
GOAL_FULL_CYCLES_PER_S = 30e6
GOAL_UNIFORM_P50_S = 1e-3
GOAL_ACTIVITY_CYCLES_PER_S = 30e6
# literal gas coefficients [base, per V2 hop, per V3 hop, per tick, per parked hop]: the
# screen's cost does not depend on their values
_PARAMS = SearchParams(
    gas_coeffs=np.array([21_000.0, 60_000.0, 95_000.0, 22_000.0, 4_000.0]),
    gas_price_wei=20 * 10**9,
    tip_share_bps=5_000,
)
_FEE_DENOMINATOR = 1_000_000.0


# --------------------------------------------------------------------------------------------
# Kernels for comparison
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _bare_v2_closed_form(cycle_ids, cyc_pools, cyc_zfo, cyc_len, fee_pips, r0, r1, out_a, out_p):
    """Closed-form optimum of V2 cycles only: no state, kind, gas or net bookkeeping."""
    found = 0
    for i in range(cycle_ids.shape[0]):
        c = cycle_ids[i]
        p_acc = 1.0
        q_acc = 1.0
        r_acc = 0.0
        for h in range(cyc_len[c]):
            pool = cyc_pools[c, h]
            g = (_FEE_DENOMINATOR - fee_pips[pool]) / _FEE_DENOMINATOR
            if cyc_zfo[c, h]:
                p, q = g * r1[pool], r0[pool]
            else:
                p, q = g * r0[pool], r1[pool]
            r_acc = q * r_acc + g * p_acc
            p_acc *= p
            q_acc *= q
        if p_acc > q_acc:
            root_p = math.sqrt(p_acc)
            root_q = math.sqrt(q_acc)
            out_a[i] = root_q * (root_p - root_q) / r_acc
            out_p[i] = (root_p - root_q) * (root_p - root_q) / r_acc
            found += 1
        else:
            out_a[i] = 0.0
            out_p[i] = 0.0
    return found


def _python_closed_form(
    rows: list[list[int]],
    zfos: list[list[bool]],
    kind: list[int],
    fee_pips: list[int],
    r0: list[float],
    r1: list[float],
    sqrt_price: list[float],
    liquidity: list[float],
) -> int:
    """Closed-form optimum of each cycle in Python floats (V3 in range); return profitable."""
    found = 0
    for pools, zfo in zip(rows, zfos, strict=True):
        p_acc, q_acc, r_acc = 1.0, 1.0, 0.0
        for pool, zero_for_one in zip(pools, zfo, strict=False):
            if pool < 0:
                break
            g = (_FEE_DENOMINATOR - fee_pips[pool]) / _FEE_DENOMINATOR
            if kind[pool] == KIND_V2:
                p, q = (g * r1[pool], r0[pool]) if zero_for_one else (g * r0[pool], r1[pool])
            else:
                s, liq = sqrt_price[pool], liquidity[pool]
                p, q = (g * liq * s, liq / s) if zero_for_one else (g * liq / s, liq * s)
            r_acc = q * r_acc + g * p_acc
            p_acc *= p
            q_acc *= q
        if p_acc > q_acc:
            root_p, root_q = math.sqrt(p_acc), math.sqrt(q_acc)
            amount_in = root_q * (root_p - root_q) / r_acc
            profit = (root_p - root_q) ** 2 / r_acc
            found += amount_in > 0.0 and profit > 0.0
    return found


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _load(graph: SyntheticGraph) -> PoolTable:
    table = PoolTable(capacity=graph.n_pools)
    table.load_snapshot(graph.snapshot)
    table.csr()
    return table


def _kernel_run(
    cycles: CycleSet, table: PoolTable, values: np.ndarray
) -> Callable[[np.ndarray, tuple[np.ndarray, ...]], int]:
    """Return a function running `fill_records` + `evaluate_cycles` on ids into outputs.

    The records are filled for the given ids at a fresh epoch each run, as
    `CycleSearch.evaluate` does, into scratch of the same layout (hop codes, 64-byte aligned
    pool records).
    """
    csr = table.csr()
    n_pools = cycles.n_pools
    hops = np.empty((cycles.n_cycles, MAX_HOPS), dtype=np.int32)
    pack_hops(cycles.pools, cycles.zero_for_one, cycles.length, 0, cycles.n_cycles, hops)
    buffer = np.full(n_pools * RECORD_WIDTH + 8, np.nan)
    offset = (-buffer.ctypes.data % 64) // 8
    records = buffer[offset : offset + n_pools * RECORD_WIDTH].reshape(n_pools, RECORD_WIDTH)
    columns = (
        table.kind,
        table.fee_pips,
        table.has_state,
        table.reserve0_f,
        table.reserve1_f,
        table.sqrt_price_f,
        table.liquidity_f,
    )
    rest = (
        table.tick,
        csr.ticks,
        csr.liquidity_net,
        csr.sqrt_price_at_tick,
        csr.pool_tick_start,
        values,
        np.ascontiguousarray(_PARAMS.gas_coeffs, dtype=np.float64),
        float(_PARAMS.gas_price_wei),
        _PARAMS.tip_share_bps / 10_000.0,
    )
    epoch = [0.0]

    def run(ids: np.ndarray, out: tuple[np.ndarray, ...]) -> int:
        epoch[0] += 1.0
        all_pools = ids.shape[0] > n_pools / 16
        head = [c[:n_pools] for c in columns]
        fill_records(epoch[0], records, all_pools, ids, hops, *head)
        return int(
            evaluate_cycles(ids, hops, cycles.base, records, epoch[0], *columns, *rest, *out)
        )

    return run


def _outputs(n: int) -> tuple[np.ndarray, ...]:
    return np.empty(n), np.empty(n), np.empty(n, dtype=np.int64), np.empty(n), np.empty(n)


def _per_cycle(sample: Sample, n_cycles: int) -> Sample:
    return Sample.from_times(t / n_cycles for t in sample.times_s)


def _python_per_cycle(
    cycles: CycleSet, table: PoolTable, ids: np.ndarray, repeats: int
) -> tuple[Sample, int]:
    """Time the Python closed form over `ids`; return (per-cycle sample, profitable)."""
    columns = (
        table.kind.tolist(),
        table.fee_pips.tolist(),
        table.reserve0_f.tolist(),
        table.reserve1_f.tolist(),
        table.sqrt_price_f.tolist(),
        table.liquidity_f.tolist(),
    )
    rows = cycles.pools[ids].tolist()
    zfos = cycles.zero_for_one[ids].tolist()

    def run() -> int:
        return _python_closed_form(rows, zfos, *columns)

    sample = measure(run, repeats=repeats, warmup=0)
    return _per_cycle(sample, ids.shape[0]), run()


def _add_per_cycle(
    report: Report, name: str, sample: Sample, baseline: str | None = None, note: str = ""
) -> None:
    report.add(name, sample, baseline=baseline, work_per_call=1, work_unit="cycles", note=note)


# --------------------------------------------------------------------------------------------
# Part 1: full evaluation of ~1M V2 3-cycles
# --------------------------------------------------------------------------------------------


def _full_evaluation(report: Report) -> None:
    n_tokens = report.pick(510, 130)
    repeats = report.pick(11, 3)
    graph = v2_dense_graph(n_tokens)
    table = _load(graph)
    cycles = CycleSet(graph.token0, graph.token1, graph.n_tokens, [0], max_hops=3)
    n = cycles.n_cycles
    three_hop = int(np.count_nonzero(cycles.length == 3))
    ids = np.arange(n, dtype=np.int64)
    values = np.zeros(cycles.n_tokens)
    values[0] = 1.0
    search = CycleSearch(cycles)
    kernel_run = _kernel_run(cycles, table, values)
    weth_value = {0: Fraction(1)}

    rng = np.random.default_rng(7)
    sample_ids = rng.choice(n, size=min(n, report.pick(20_000, 2_000)), replace=False)
    py_sample, _ = _python_per_cycle(cycles, table, sample_ids, report.pick(3, 1))

    out_a, out_p = np.empty(n), np.empty(n)
    bare = measure(
        lambda: _bare_v2_closed_form(
            ids, cycles.pools, cycles.zero_for_one, cycles.length, table.fee_pips,
            table.reserve0_f, table.reserve1_f, out_a, out_p,
        ),
        repeats=repeats,
    )  # fmt: skip
    kernel_out = _outputs(n)
    kernel = measure(lambda: kernel_run(ids, kernel_out), repeats=repeats)
    evaluation = search.evaluate(table, ids, weth_value, _PARAMS)
    searched = measure(lambda: search.evaluate(table, ids, weth_value, _PARAMS), repeats=repeats)

    # every variant computes the same optimum (the bare kernel's per-hop r differs in rounding)
    assert np.array_equal(kernel_out[1], evaluation.profit_f)
    assert np.array_equal(kernel_out[4], evaluation.net_wei_f)
    assert np.allclose(out_p, kernel_out[1], rtol=1e-12, atol=0.0)

    py_name = "full: python closed form (sample)"
    bare_name = "full: bare numba closed form"
    _add_per_cycle(
        report, py_name, py_sample, note=f"{sample_ids.shape[0]:,} cycles sampled, per cycle"
    )
    _add_per_cycle(report, bare_name, _per_cycle(bare, n), py_name, "no bookkeeping")
    _add_per_cycle(
        report,
        "full: evaluate_cycles kernel",
        _per_cycle(kernel, n),
        bare_name,
        "fill_records + evaluate_cycles, prealloc out",
    )
    _add_per_cycle(report, "full: CycleSearch.evaluate", _per_cycle(searched, n), bare_name)
    report.add_value("full: cycles evaluated", n, "cycles", f"{three_hop:,} of them 3-hop")
    report.add_value("full: profitable (gross)", evaluation.profitable, "cycles")
    report.add_value(
        "full: evaluate_cycles at median",
        n / kernel.median_s,
        "cycles/s",
        f"goal >= {GOAL_FULL_CYCLES_PER_S / 1e6:g}M cycles/s",
    )


# --------------------------------------------------------------------------------------------
# Part 2: incremental search on a mainnet-shaped graph
# --------------------------------------------------------------------------------------------


def _best_rate_digraph(graph: SyntheticGraph, table: PoolTable) -> nx.DiGraph:
    """Return token -> token edges weighted -log(best marginal rate after fee)."""
    best: dict[tuple[int, int], float] = {}
    kind, fee = table.kind, table.fee_pips
    for pool in range(graph.n_pools):
        if not table.has_state[pool]:
            continue
        g = 1.0 - fee[pool] / _FEE_DENOMINATOR
        if kind[pool] == KIND_V2:
            rate = table.reserve1_f[pool] / table.reserve0_f[pool]
        else:
            rate = table.sqrt_price_f[pool] ** 2
        t0, t1 = int(graph.token0[pool]), int(graph.token1[pool])
        for edge, r in (((t0, t1), g * rate), ((t1, t0), g / rate)):
            if r > best.get(edge, 0.0):
                best[edge] = r
    digraph = nx.DiGraph()
    digraph.add_weighted_edges_from((u, v, -math.log(r)) for (u, v), r in best.items())
    return digraph


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter_ns()
    result = fn()
    return (time.perf_counter_ns() - start) / 1e9, result


def _incremental(report: Report) -> None:
    n_pools = report.pick(50_000, 5_000)
    runs = report.pick(50, 12)
    build_s, graph = _timed(lambda: mainnet_graph(n_pools))
    load_s, table = _timed(lambda: _load(graph))
    weth, usdc = graph.hub_ids["WETH"], graph.hub_ids["USDC"]
    bases = [weth, usdc]

    def build() -> CycleSet:
        return CycleSet(graph.token0, graph.token1, graph.n_tokens, bases, max_hops=3)

    cycles = build()
    cycle_set_sample = measure(build, repeats=report.pick(2, 1), warmup=0)
    n_cycles, n_two_hop = cycles.n_cycles, int(np.count_nonzero(cycles.length == 2))
    search = CycleSearch(cycles)
    values = base_values(table, cycles, weth, bases)
    assert set(values) == set(bases)

    nx_build_s, digraph = _timed(lambda: _best_rate_digraph(graph, table))
    nx_sample = measure(
        lambda: nx.negative_edge_cycle(digraph, weight="weight"),
        repeats=report.pick(5, 1),
        warmup=0,
    )
    negative = search.full_pass(table)  # also the warm-up: a pass takes seconds at 50k pools
    full_pass_sample = measure(lambda: search.full_pass(table), repeats=report.pick(2, 1), warmup=0)

    degrees = graph.token_degrees().astype(np.float64)
    activity = np.sqrt(degrees[graph.token0] * degrees[graph.token1])
    draws = {
        "uniform": None,
        "activity": activity / activity.sum(),
    }
    rng = np.random.default_rng(11)
    per_draw: dict[str, tuple[Sample, list[int], Sample, Sample]] = {}
    profiles: dict[str, tuple[Sample, dict[str, Sample], str]] = {}
    for label, weights in draws.items():

        def draw(weights: np.ndarray | None = weights) -> np.ndarray:
            return rng.choice(graph.n_pools, size=CHANGED_POOLS, replace=False, p=weights)

        for _ in range(3):  # warm-up: compilation, first touches of the arrays
            search.touched(table, draw(), values, _PARAMS)
        times: list[float] = []
        touching_times: list[float] = []
        counts: list[int] = []
        union: list[np.ndarray] = []
        for _ in range(runs):
            changed = draw()
            elapsed, evaluation = _timed(
                lambda c=changed: search.touched(table, c, values, _PARAMS)
            )
            touching_times.append(_timed(lambda c=changed: cycles.touching(c))[0])
            times.append(elapsed)
            counts.append(len(evaluation))  # type: ignore[arg-type]
            if len(union) < 5:
                union.append(evaluation.cycle_ids)  # type: ignore[attr-defined]
        touched_ids = np.unique(np.concatenate(union))
        sample_ids = rng.choice(
            touched_ids, size=min(touched_ids.shape[0], report.pick(20_000, 2_000)), replace=False
        )
        py_sample, _ = _python_per_cycle(cycles, table, sample_ids, report.pick(3, 1))
        per_draw[label] = (
            Sample.from_times(times),
            counts,
            py_sample,
            Sample.from_times(touching_times),
        )
        profiles[label] = _profile_touched(report, search, table, values, touched_ids)

    nx_name = "networkx negative_edge_cycle"
    report.add(nx_name, nx_sample, note=f"{digraph.number_of_edges():,} best-rate edges")
    report.add(
        "full_pass (numba Bellman-Ford)",
        full_pass_sample,
        baseline=nx_name,
        note=f"{len(negative)} negative cycles reported",
    )
    for label, (sample, counts, py_sample, touching_sample) in per_draw.items():
        cycles_total = sum(counts)
        report.add(
            f"touched {CHANGED_POOLS} {label}: per block",
            sample,
            baseline=nx_name,
            note=f"{sample.n} draws, touching included",
        )
        report.add(
            f"touching {CHANGED_POOLS} {label}: CycleSet.touching",
            touching_sample,
            note="the touched cycle ids alone, same draws",
        )
        py_name = f"touched {label}: python closed form (sample)"
        _add_per_cycle(report, py_name, py_sample, note="per cycle, V3 in range only")
        pairs = zip(sample.times_s, counts, strict=True)
        per_cycle = Sample.from_times(t / k for t, k in pairs if k)
        _add_per_cycle(report, f"touched {label}: numba per cycle", per_cycle, py_name)
        kernel_pc, by_need, mix = profiles[label]
        kernel_name = f"touched {label}: evaluate_cycles on 5 draws' cycles"
        _add_per_cycle(report, kernel_name, kernel_pc, py_name, mix)
        for need, need_sample in by_need.items():
            _add_per_cycle(
                report,
                f"touched {label}: kernel per cycle, {need}",
                need_sample,
                kernel_name,
                "the 5 draws' cycles of this kind alone",
            )
        report.add_value(f"touched {label}: p50", sample.percentile(50), "s")
        report.add_value(f"touched {label}: p99", sample.percentile(99), "s")
        c = np.array(counts)
        report.add_value(
            f"touched {label}: cycles evaluated (median)",
            float(np.median(c)),
            "cycles",
            f"min {c.min():,}, p99 {np.percentile(c, 99):,.0f}, max {c.max():,}",
        )
        report.add_value(
            f"touched {label}: cycles/s over all draws",
            cycles_total / math.fsum(sample.times_s),
            "cycles/s",
        )
        report.add_value(
            f"touched {label}: python, est. per block (median)",
            py_sample.median_s * float(np.median(c)),
            "s",
            "per-cycle median x median cycles",
        )
    report.add_value(
        "goal: uniform p50",
        per_draw["uniform"][0].percentile(50),
        "s",
        f"goal < {GOAL_UNIFORM_P50_S * 1e3:g} ms",
    )
    activity_counts = per_draw["activity"][1]
    report.add_value(
        "goal: activity cycles/s",
        sum(activity_counts) / math.fsum(per_draw["activity"][0].times_s),
        "cycles/s",
        f"goal >= {GOAL_ACTIVITY_CYCLES_PER_S / 1e6:g}M cycles/s",
    )

    report.add("CycleSet construction", cycle_set_sample, note=f"{cycles.n_cycles:,} cycles")
    _add_pool_samples(report, graph, cycles)
    v3 = int(np.count_nonzero(graph.is_v3))
    report.add_value("graph: pools", graph.n_pools, "pools", f"{v3:,} V3")
    report.add_value("graph: tokens", graph.n_tokens, "tokens")
    report.add_value("graph: cycles", n_cycles, "cycles", f"{n_two_hop:,} 2-hop")
    report.add_value("graph: V3 initialized ticks", int(table.csr().ticks.shape[0]), "ticks")
    report.add_value("graph: generate", build_s, "s")
    report.add_value("graph: PoolTable load + csr", load_s, "s")
    report.add_value("graph: networkx DiGraph build", nx_build_s, "s")


def _profile_touched(
    report: Report,
    search: CycleSearch,
    table: PoolTable,
    values: dict[int, Fraction],
    ids: np.ndarray,
) -> tuple[Sample, dict[str, Sample], str]:
    """Time the kernels on `ids` and on each kind of cycle among them; describe the mix."""
    cycles = search.cycles
    dense = np.zeros(cycles.n_tokens)
    for token, value in values.items():
        dense[token] = float(value)
    kernel_run = _kernel_run(cycles, table, dense)
    n = ids.shape[0]
    repeats = report.pick(5, 2)
    kernel_out = _outputs(n)
    kernel = measure(lambda: kernel_run(ids, kernel_out), repeats=repeats)
    profitable = kernel_out[1] > 0.0
    crossing = kernel_out[2] > 0
    by_need: dict[str, Sample] = {}
    for need, mask in (
        ("screened out", ~profitable),
        ("profitable in range", profitable & ~crossing),
        ("crossing ticks", crossing),
    ):
        subset = np.ascontiguousarray(ids[mask])
        if subset.shape[0] == 0:
            continue
        out = _outputs(subset.shape[0])
        sample = measure(lambda s=subset, o=out: kernel_run(s, o), repeats=repeats)
        by_need[need] = _per_cycle(sample, subset.shape[0])
    with_v3 = (table.kind[np.maximum(cycles.pools[ids], 0)] == KIND_V3) & (cycles.pools[ids] >= 0)
    has_v3 = with_v3.any(axis=1)
    mix = (
        f"{n:,} cycles: {has_v3.mean():.0%} with a V3 hop, {profitable.mean():.1%} profitable "
        f"gross, {crossing.mean():.1%} crossing ticks at the optimum"
    )
    return _per_cycle(kernel, n), by_need, mix


def _add_pool_samples(report: Report, graph: SyntheticGraph, cycles: CycleSet) -> None:
    """Time `add_pool` (the CycleSet grows; nothing is searched after this)."""
    rng = np.random.default_rng(5)
    n = report.pick(40, 10)
    weth = graph.hub_ids["WETH"]
    next_pool = cycles.n_pools
    times_new_token: list[float] = []
    for _ in range(n):
        token = cycles.add_token()
        elapsed, _ = _timed(lambda p=next_pool, t=token: cycles.add_pool(p, weth, t))
        times_new_token.append(elapsed)
        next_pool += 1
    times_venue: list[float] = []
    added: list[int] = []
    for _ in range(n):
        template = int(rng.integers(graph.n_pools))
        t0, t1 = int(graph.token0[template]), int(graph.token1[template])
        elapsed, n_new = _timed(lambda p=next_pool, a=t0, b=t1: cycles.add_pool(p, a, b))
        times_venue.append(elapsed)
        added.append(int(n_new))  # type: ignore[call-overload]
        next_pool += 1
    report.add(
        "add_pool: new token / WETH",
        Sample.from_times(times_new_token),
        note="0 new cycles each",
    )
    report.add(
        "add_pool: new venue of an existing pair",
        Sample.from_times(times_venue),
        note=f"new cycles per pool: median {int(np.median(added)):,}, max {max(added):,}",
    )


def run(report: Report) -> None:
    _full_evaluation(report)
    _incremental(report)


if __name__ == "__main__":
    harness.main(run)

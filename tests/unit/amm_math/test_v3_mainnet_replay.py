"""A day of real Uniswap V3 swaps (2024-01-05) replayed to the wei by `pool.swap`.

Data: `<repo>/../shared/data/mainnet-v3/*.raw.csv`, every log of three pools over blocks
18,937,382-18,944,480, decoded by `sim.v3_replay_data` (and checked against the project's
own decoded `*.pool.tick.csv`). There is no tick map, so a swap is replayed only when its
start state is known and no initialized tick changed its liquidity: the previous Swap/Mint/
Burn event of the pool, in (block, log index) order, must be a Swap, and the swap's
liquidity after must equal that swap's. It then starts from the previous swap's sqrtPrice,
tick and liquidity with an empty tick map (the swap still steps at bitmap word boundaries,
as the pool does where no tick is initialized). Every other swap is excluded with a reason.

The log does not say how a swap was specified, so three readings are tried in turn, and the
first one that reproduces amount0, amount1, sqrtPrice, tick and liquidity is recorded:
exact input of the amount paid in; exact output of the amount paid out; exact input of the
amount paid in stopped by a price limit equal to the sqrtPrice after (the user's limit ended
the swap before its amount was used up).

The third pool, 0x82c427ad..., has fee 3000 (tick spacing 60): of the four fee tiers the
factory enables (100/1, 500/10, 3000/60, 10000/200) only 3000 reproduces its swaps, and it
reproduces all of them; its Mint/Burn ticks (28,320 and 28,380) are multiples of 60 and not
of 200. Spacing 60 is what the factory assigns to fee 3000.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from amm_math.errors import EvmRevert
from amm_math.uniswap_v3.pool import V3PoolState, swap
from sim.v3_replay_data import V3LiquidityLog, V3PoolLogs, V3SwapLog, read_v3_pool_logs

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
DATA = ROOT.parent / "shared" / "data" / "mainnet-v3"
DAY = "2024-01-05"

FIRST = "first swap of the day (no earlier event in the log)"
AFTER_MINT = "previous event is a Mint"
AFTER_BURN = "previous event is a Burn"
CROSSED = "liquidity differs from the previous swap's (an initialized tick was crossed)"

EXACT_IN = "exact input"
EXACT_OUT = "exact output"
LIMITED = "exact input, stopped by its price limit"
MODES = (EXACT_IN, EXACT_OUT, LIMITED)

FEE_TIERS = ((100, 1), (500, 10), (3000, 60), (10000, 200))


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolCase:
    """One pool of the day and what its replay is known to give."""

    address: str
    name: str
    fee_pips: int
    tick_spacing: int
    swaps: int
    mints: int
    burns: int
    modes: dict[str, int]
    excluded: dict[str, int]


POOLS = (
    PoolCase(
        address="0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640",
        name="USDC/WETH 0.05%",
        fee_pips=500,
        tick_spacing=10,
        swaps=6046,
        mints=54,
        burns=69,
        modes={EXACT_IN: 4685, EXACT_OUT: 566, LIMITED: 123},
        excluded={FIRST: 1, AFTER_MINT: 54, AFTER_BURN: 61, CROSSED: 556},
    ),
    PoolCase(
        address="0x8ad599c3a0ff1de082011efddc58f1908eb6e6d8",
        name="USDC/WETH 0.30%",
        fee_pips=3000,
        tick_spacing=60,
        swaps=267,
        mints=4,
        burns=17,
        modes={EXACT_IN: 202, EXACT_OUT: 11, LIMITED: 18},
        excluded={FIRST: 1, AFTER_MINT: 4, AFTER_BURN: 11, CROSSED: 20},
    ),
    PoolCase(
        address="0x82c427adfdf2d245ec51d8046b41c4ee87f0d29c",
        name="0x82c427ad 0.30%",
        fee_pips=3000,
        tick_spacing=60,
        swaps=41,
        mints=1,
        burns=1,
        modes={EXACT_IN: 11, EXACT_OUT: 1, LIMITED: 0},
        excluded={FIRST: 1, AFTER_MINT: 1, AFTER_BURN: 1, CROSSED: 26},
    ),
)
USDC_WETH_005 = POOLS[0]
POOL_0X82C4 = POOLS[2]


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    """What replaying one pool's day gave: the mode of every reproduced swap, the rest."""

    matched: tuple[tuple[int, int, str], ...]
    excluded: tuple[tuple[int, int, str], ...]
    mismatches: tuple[str, ...]

    def mode_counts(self) -> dict[str, int]:
        """Return how many swaps each reading reproduced (every mode listed)."""
        counts = Counter(mode for _, _, mode in self.matched)
        return {mode: counts[mode] for mode in MODES}

    def exclusion_counts(self) -> dict[str, int]:
        """Return how many swaps each exclusion reason took."""
        return dict(Counter(reason for _, _, reason in self.excluded))


def _csv(address: str, kind: str) -> Path:
    path = DATA / f"ethereum-{address}-{DAY}.{kind}.csv"
    if not path.is_file():
        pytest.fail(f"shared test data missing: {path} (expected ../shared beside {ROOT})")
    return path


@cache
def _logs(address: str) -> V3PoolLogs:
    return read_v3_pool_logs(_csv(address, "raw"))


def _exclusion(previous: V3SwapLog | V3LiquidityLog | None, event: V3SwapLog) -> str | None:
    if previous is None:
        return FIRST
    if isinstance(previous, V3LiquidityLog):
        return AFTER_MINT if previous.kind == "mint" else AFTER_BURN
    if previous.liquidity != event.liquidity:
        return CROSSED
    return None


def _reproduce(
    previous: V3SwapLog, event: V3SwapLog, fee_pips: int, tick_spacing: int
) -> tuple[str | None, list[str]]:
    """Return the first reading that reproduces the event (None if none) and every attempt."""
    state = V3PoolState(
        sqrt_price_x96=previous.sqrt_price_x96,
        tick=previous.tick,
        liquidity=previous.liquidity,
        fee_pips=fee_pips,
        tick_spacing=tick_spacing,
        ticks={},
    )
    zero_for_one = event.zero_for_one
    paid_in, paid_out = (
        (event.amount0, event.amount1) if zero_for_one else (event.amount1, event.amount0)
    )
    expected = (
        event.amount0,
        event.amount1,
        event.sqrt_price_x96,
        event.tick,
        event.liquidity,
    )
    attempts = []
    for mode, amount, limit in (
        (EXACT_IN, paid_in, None),
        (EXACT_OUT, paid_out, None),
        (LIMITED, paid_in, event.sqrt_price_x96),
    ):
        try:
            r = swap(state, zero_for_one, amount, limit)
        except EvmRevert as exc:
            attempts.append(f"{mode}({amount}, limit {limit}): reverts {exc!r}")
            continue
        got = (r.amount0, r.amount1, r.sqrt_price_x96, r.tick, r.liquidity)
        if got == expected:
            return mode, attempts
        attempts.append(f"{mode}({amount}, limit {limit}): {got}")
    return None, attempts


@cache
def _replay(address: str, fee_pips: int, tick_spacing: int) -> Replay:
    matched: list[tuple[int, int, str]] = []
    excluded: list[tuple[int, int, str]] = []
    mismatches: list[str] = []
    previous: V3SwapLog | V3LiquidityLog | None = None
    for event in _logs(address).events:
        if isinstance(event, V3SwapLog):
            where = (event.block_number, event.log_index)
            reason = _exclusion(previous, event)
            if reason is not None:
                excluded.append((*where, reason))
            else:
                assert isinstance(previous, V3SwapLog)
                mode, attempts = _reproduce(previous, event, fee_pips, tick_spacing)
                if mode is not None:
                    matched.append((*where, mode))
                else:
                    mismatches.append(
                        f"block {event.block_number} log {event.log_index} "
                        f"tx {event.transaction_hash}\n"
                        f"  previous: sqrtPriceX96 {previous.sqrt_price_x96} tick "
                        f"{previous.tick} liquidity {previous.liquidity}\n"
                        f"  event: amount0 {event.amount0} amount1 {event.amount1} "
                        f"sqrtPriceX96 {event.sqrt_price_x96} tick {event.tick} "
                        f"liquidity {event.liquidity}\n  " + "\n  ".join(attempts)
                    )
        previous = event
    return Replay(matched=tuple(matched), excluded=tuple(excluded), mismatches=tuple(mismatches))


def _table(case: PoolCase, replay: Replay) -> str:
    modes = replay.mode_counts()
    lines = [
        f"{case.name} {case.address} (fee {case.fee_pips}, spacing {case.tick_spacing}): "
        f"{case.swaps} swaps",
        f"  reproduced {len(replay.matched):5d}, mismatches {len(replay.mismatches)}",
        *(f"    {mode:<40} {modes[mode]:5d}" for mode in MODES),
        f"  excluded   {len(replay.excluded):5d}",
        *(f"    {reason:<76} {n:5d}" for reason, n in replay.exclusion_counts().items()),
    ]
    return "\n".join(lines)


@pytest.mark.parametrize("case", POOLS, ids=lambda c: c.address[:10])
def test_decoded_logs_match_the_decoded_csv(case: PoolCase) -> None:
    """The raw logs, decoded here, agree with the `*.pool.tick.csv` the data set ships."""
    logs = _logs(case.address)
    by_position = {(e.block_number, e.log_index): e for e in logs.events}
    with _csv(case.address, "pool.tick").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["tx_type"] in ("SWAP", "MINT", "BURN")]
    assert len(rows) == len(logs.events)
    for row in rows:
        event = by_position[int(row["block_number"]), int(row["log_index"])]
        if row["tx_type"] == "SWAP":
            assert isinstance(event, V3SwapLog)
            decoded = (
                int(row["amount0"]),
                int(row["amount1"]),
                int(row["sqrtPriceX96"]),
                int(float(row["current_tick"])),
                int(row["total_liquidity"]),
            )
            assert decoded == (
                event.amount0,
                event.amount1,
                event.sqrt_price_x96,
                event.tick,
                event.liquidity,
            )
        else:
            assert isinstance(event, V3LiquidityLog)
            assert event.kind == row["tx_type"].lower()
            assert (
                int(float(row["tick_lower"])),
                int(float(row["tick_upper"])),
                int(row["liquidity"]),
            ) == (event.tick_lower, event.tick_upper, event.liquidity)
    kinds = Counter(getattr(e, "kind", "swap") for e in logs.events)
    assert (kinds["swap"], kinds["mint"], kinds["burn"]) == (case.swaps, case.mints, case.burns)
    # exactly one side is paid in, so the direction is never ambiguous
    assert all((s.amount0 > 0) != (s.amount1 > 0) for s in logs.swaps)


@pytest.mark.parametrize("case", POOLS, ids=lambda c: c.address[:10])
def test_every_eligible_swap_is_reproduced(case: PoolCase) -> None:
    replay = _replay(case.address, case.fee_pips, case.tick_spacing)
    print("\n" + _table(case, replay))
    assert replay.mismatches == (), "\n".join(replay.mismatches)
    assert len(replay.matched) + len(replay.excluded) == case.swaps
    assert replay.exclusion_counts() == case.excluded
    assert replay.mode_counts() == case.modes


def test_usdc_weth_005_replays_5000_plus_swaps() -> None:
    case = USDC_WETH_005
    replay = _replay(case.address, case.fee_pips, case.tick_spacing)
    assert len(replay.matched) >= 5000
    assert replay.mismatches == ()


def test_fee_tier_of_0x82c427ad_is_the_one_that_replays() -> None:
    """Only fee 3000 reproduces the eligible swaps of 0x82c427ad, and it reproduces all."""
    reproduced = {}
    for fee_pips, tick_spacing in FEE_TIERS:
        replay = _replay(POOL_0X82C4.address, fee_pips, tick_spacing)
        reproduced[fee_pips] = (len(replay.matched), len(replay.mismatches))
    assert reproduced == {100: (0, 12), 500: (0, 12), 3000: (12, 0), 10000: (0, 12)}


@pytest.mark.parametrize("case", POOLS, ids=lambda c: c.address[:10])
def test_liquidity_ticks_fit_the_tick_spacing(case: PoolCase) -> None:
    ticks = {
        tick
        for e in _logs(case.address).events
        if isinstance(e, V3LiquidityLog)
        for tick in (e.tick_lower, e.tick_upper)
    }
    assert ticks
    assert all(tick % case.tick_spacing == 0 for tick in ticks)
    if case is POOL_0X82C4:
        assert ticks == {28320, 28380}
        assert any(tick % 200 for tick in ticks)

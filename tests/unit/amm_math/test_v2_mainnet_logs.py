"""Every V2-style swap of 51 mainnet blocks replayed through swap_reserves, to the wei.

Data: ../shared/data/mainnet/ethereum__logs__18426253_to_18426303.parquet (cryo logs of blocks
18,426,253-18,426,303). A V2 pair emits Sync(reserve0, reserve1) and then Swap(sender, amount0In,
amount1In, amount0Out, amount1Out, to) from the same `swap` call, so in log order
(block_number, log_index):

- the reserves before a swap are the pair's previous Sync (mint, burn, swap and sync all emit
  one, so nothing moves the reserves in between);
- the reserves after it are the Sync logged just before the Swap, in the same transaction.

For each swap this checks (a) the constant-product K check of UniswapV2Pair.swap at the pair's
fee and (b) that the reserves swap_reserves computes equal that Sync. A pair's fee is the first
of CANDIDATE_FEES_PIPS that every one of its swaps passes: passing K at a fee implies passing
at every lower fee, so the candidates run downwards from the V2 fee. Passing at 0.30% does not
rule out a higher fee; the summary lists the pools whose swaps would all pass at >= 0.31% too.

`summarize()` is the whole analysis and `V2SwapSummary.render()` its report, for scripts:
`python tests/unit/amm_math/test_v2_mainnet_logs.py` prints it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import get_amount_out, swap_reserves

LOGS_FILE = "data/mainnet/ethereum__logs__18426253_to_18426303.parquet"
SWAP_TOPIC = bytes.fromhex("d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822")
SYNC_TOPIC = bytes.fromhex("1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1")
CANDIDATE_FEES_PIPS = (3000, 2500, 2000, 1000, 500, 300, 100, 0)
# a pool whose swaps all pass at this fee is not pinned to 0.30% by this window
HIGHER_FEE_PIPS = 3100

NO_EARLIER_SYNC = "no earlier Sync of the pair in the window: reserves before the swap unknown"
NO_SYNC_WITH_SWAP = "no Sync of the pair just before the Swap in the same tx: not a V2 pair"
BAD_DATA = "Swap data is not four uint256 words"


def shared_dir() -> Path:
    """Return <repo root>/../shared, the repo root being the nearest parent with pyproject.toml."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            shared = parent.parent / "shared"
            if not (shared / LOGS_FILE).is_file():
                raise FileNotFoundError(f"mainnet logs missing: {shared / LOGS_FILE}")
            return shared
    raise FileNotFoundError(f"no pyproject.toml above {here}")


@dataclass(frozen=True, slots=True)
class ObservedSwap:
    """One Swap log with the pair's reserves before it and the Sync emitted with it."""

    pool: str
    block_number: int
    log_index: int
    transaction_hash: str
    reserves_before: tuple[int, int]
    amounts: tuple[int, int, int, int]  # amount0In, amount1In, amount0Out, amount1Out
    reserves_after: tuple[int, int]

    @property
    def where(self) -> str:
        return f"{self.pool} block {self.block_number} log {self.log_index}"


@dataclass(slots=True)
class V2SwapSummary:
    """What replaying the window's V2-style swaps found."""

    swaps_seen: int = 0
    checked: list[ObservedSwap] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    fee_by_pool: dict[str, int] = field(default_factory=dict)
    max_fee_by_pool: dict[str, int] = field(default_factory=dict)  # largest fee all swaps pass
    mismatches: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    exact_quotes: int = 0  # swaps whose output is getAmountOut of their input, to the wei
    two_sided_inputs: list[str] = field(default_factory=list)

    @property
    def pools(self) -> int:
        return len(self.fee_by_pool)

    @property
    def pools_per_fee(self) -> dict[int, int]:
        return dict(sorted(Counter(self.fee_by_pool.values()).items(), reverse=True))

    @property
    def non_default_fees(self) -> dict[str, int]:
        return {pool: fee for pool, fee in self.fee_by_pool.items() if fee != 3000}

    @property
    def not_pinned(self) -> dict[str, int]:
        return {pool: fee for pool, fee in self.max_fee_by_pool.items() if fee >= HIGHER_FEE_PIPS}

    def render(self) -> str:
        """Return the summary as text."""
        reasons = Counter(reason for _, reason in self.excluded)
        lines = [
            f"V2 Swap logs: {self.swaps_seen}; checked: {len(self.checked)} in {self.pools} pools",
            f"pools per fee (pips): {self.pools_per_fee}",
            f"pools needing a fee other than 3000 pips: {self.non_default_fees or 'none'}",
            f"swaps whose output is getAmountOut to the wei: {self.exact_quotes}",
            f"pools whose swaps also pass at >= {HIGHER_FEE_PIPS} pips (largest fee passing):",
            *(f"  {pool}: {fee}" for pool, fee in sorted(self.not_pinned.items())),
            "swaps with input on both sides (the output token paid back into the pair):",
            *(f"  {where}" for where in self.two_sided_inputs),
            f"excluded: {len(self.excluded)}",
            *(f"  {count} x {reason}" for reason, count in reasons.most_common()),
            f"mismatches: {len(self.mismatches)}",
            *(f"  {where}: {reason}" for where, reason in self.mismatches),
        ]
        return "\n".join(lines)


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]


def observe_swaps(path: Path) -> tuple[int, list[ObservedSwap], list[tuple[str, str]]]:
    """Return (Swap logs seen, swaps with known reserves before and after, excluded swaps)."""
    columns = ["block_number", "log_index", "transaction_hash", "address", "topic0", "data"]
    logs = pq.read_table(path, columns=columns).to_pylist()
    logs.sort(key=lambda log: (log["block_number"], log["log_index"]))
    last_sync: dict[bytes, dict] = {}
    sync_before_last: dict[bytes, dict] = {}
    observed: list[ObservedSwap] = []
    excluded: list[tuple[str, str]] = []
    seen = 0
    for log in logs:
        address = log["address"]
        if log["topic0"] == SYNC_TOPIC:
            if len(log["data"]) != 64:
                continue  # not Sync(uint112, uint112); its Swaps are reported as not V2
            if address in last_sync:
                sync_before_last[address] = last_sync[address]
            last_sync[address] = log
            continue
        if log["topic0"] != SWAP_TOPIC:
            continue
        seen += 1
        pool = "0x" + address.hex()
        where = f"{pool} block {log['block_number']} log {log['log_index']}"
        if len(log["data"]) != 128:
            excluded.append((where, BAD_DATA))
            continue
        sync = last_sync.get(address)
        if (
            sync is None
            or sync["transaction_hash"] != log["transaction_hash"]
            or sync["log_index"] != log["log_index"] - 1
        ):
            excluded.append((where, NO_SYNC_WITH_SWAP))
            continue
        before = sync_before_last.get(address)
        if before is None:
            excluded.append((where, NO_EARLIER_SYNC))
            continue
        reserve0_before, reserve1_before = _words(before["data"])
        reserve0_after, reserve1_after = _words(sync["data"])
        amount0_in, amount1_in, amount0_out, amount1_out = _words(log["data"])
        observed.append(
            ObservedSwap(
                pool=pool,
                block_number=log["block_number"],
                log_index=log["log_index"],
                transaction_hash="0x" + log["transaction_hash"].hex(),
                reserves_before=(reserve0_before, reserve1_before),
                amounts=(amount0_in, amount1_in, amount0_out, amount1_out),
                reserves_after=(reserve0_after, reserve1_after),
            )
        )
    return seen, observed, excluded


def check_swap(swap: ObservedSwap, fee_pips: int) -> str | None:
    """Return why the swap is inconsistent with a V2 pair at fee_pips, or None if it is not."""
    try:
        reserves = swap_reserves(*swap.reserves_before, *swap.amounts, fee_pips)
    except EvmRevert as revert:
        return f"reverts {revert.code!r} at {fee_pips} pips"
    if reserves != swap.reserves_after:
        return f"reserves after {reserves} differ from the Sync {swap.reserves_after}"
    return None


def max_fee_passing(swap: ObservedSwap) -> int:
    """Return the largest fee in pips at which the swap passes, -1 if none does."""
    if check_swap(swap, 0) is not None:
        return -1
    low, high = 0, 1_000_000  # passes at low, fails at high (a 100% fee takes every input)
    while high - low > 1:
        middle = (low + high) // 2
        if check_swap(swap, middle) is None:
            low = middle
        else:
            high = middle
    return low


def is_exact_quote(swap: ObservedSwap, fee_pips: int) -> bool:
    """Return whether a one-sided swap took exactly getAmountOut of its input."""
    amount0_in, amount1_in, amount0_out, amount1_out = swap.amounts
    reserve0, reserve1 = swap.reserves_before
    if amount0_in > 0 and amount1_in == 0 and amount1_out > 0 and amount0_out == 0:
        return amount1_out == get_amount_out(amount0_in, reserve0, reserve1, fee_pips)
    if amount1_in > 0 and amount0_in == 0 and amount0_out > 0 and amount1_out == 0:
        return amount0_out == get_amount_out(amount1_in, reserve1, reserve0, fee_pips)
    return False


def pool_fee(swaps: list[ObservedSwap]) -> int | None:
    """Return the first candidate fee (pips) every swap passes at, None if there is none."""
    for fee in CANDIDATE_FEES_PIPS:
        if all(check_swap(swap, fee) is None for swap in swaps):
            return fee
    return None


def summarize(path: Path | None = None) -> V2SwapSummary:
    """Replay every V2-style swap of the mainnet window and return what was found."""
    seen, observed, excluded = observe_swaps(path or shared_dir() / LOGS_FILE)
    summary = V2SwapSummary(swaps_seen=seen, excluded=excluded)
    by_pool: dict[str, list[ObservedSwap]] = defaultdict(list)
    for swap in observed:
        by_pool[swap.pool].append(swap)
    for pool, swaps in sorted(by_pool.items()):
        fee = pool_fee(swaps)
        if fee is None:
            for swap in swaps:
                reason = check_swap(swap, CANDIDATE_FEES_PIPS[-1]) or "fails with the pool's others"
                summary.mismatches.append((swap.where, reason))
            continue
        summary.fee_by_pool[pool] = fee
        summary.max_fee_by_pool[pool] = min(max_fee_passing(swap) for swap in swaps)
        for swap in swaps:
            summary.checked.append(swap)
            summary.exact_quotes += is_exact_quote(swap, fee)
            if swap.amounts[0] > 0 and swap.amounts[1] > 0:
                summary.two_sided_inputs.append(f"{swap.where} tx {swap.transaction_hash}")
    return summary


@pytest.fixture(scope="module")
def summary() -> V2SwapSummary:
    result = summarize()
    print("\n" + result.render())
    return result


def test_every_swap_with_known_reserves_is_checked(summary: V2SwapSummary) -> None:
    assert summary.swaps_seen == 1287
    assert len(summary.checked) == 927
    assert summary.pools == 163
    assert len(summary.checked) + len(summary.excluded) + len(summary.mismatches) == 1287
    # the only swaps left out are each pool's first in the window
    assert Counter(reason for _, reason in summary.excluded) == {NO_EARLIER_SYNC: 360}


def test_every_checked_swap_passes_k_and_lands_on_the_sync(summary: V2SwapSummary) -> None:
    assert summary.mismatches == []
    for swap in summary.checked:
        fee = summary.fee_by_pool[swap.pool]
        assert check_swap(swap, fee) is None, swap.where
        assert swap_reserves(*swap.reserves_before, *swap.amounts, fee) == swap.reserves_after


def test_fees_found(summary: V2SwapSummary) -> None:
    # every pool of this window takes its swaps at 0.30%
    assert summary.non_default_fees == {}
    assert summary.pools_per_fee == {3000: 163}
    # most swaps are router quotes to the wei, which a lower-fee pool would not produce
    assert summary.exact_quotes == 815
    # three pools saw only swaps that left output behind: they would pass a higher fee too
    assert summary.not_pinned == {
        "0x2ff4123ddee3a17c499136f699fc4aa9f110d5ed": 5492,
        "0x659e36b0700d9addb259eba18fa88173656ef054": 12851,
        "0xe219a14e355c1cb3f43594655a63488da154e8eb": 168899,
    }
    assert all(fee >= 3000 for fee in summary.max_fee_by_pool.values())


def test_two_sided_inputs_are_token_taxes_paid_back_into_the_pair(
    summary: V2SwapSummary,
) -> None:
    # 0x659e36b0... takes 1% of its token1 output back into the pair on every sell;
    # 0x57b8d6d0... receives dust of its output token (a reflection token) during the swap
    pools = {where.split()[0] for where in summary.two_sided_inputs}
    assert pools == {
        "0x659e36b0700d9addb259eba18fa88173656ef054",
        "0x57b8d6d008ae245610dbfca0bfc1f805d3d19c64",
    }
    for swap in summary.checked:
        if swap.pool == "0x659e36b0700d9addb259eba18fa88173656ef054" and swap.amounts[3] > 0:
            assert swap.amounts[1] * 100 == swap.amounts[3] - swap.amounts[3] % 100


def test_k_refuses_one_wei_more_than_each_router_quote(summary: V2SwapSummary) -> None:
    tightened = 0
    for swap in summary.checked:
        if not is_exact_quote(swap, 3000):
            continue
        amount0_in, amount1_in, amount0_out, amount1_out = swap.amounts
        greedy = (
            amount0_in,
            amount1_in,
            amount0_out + (amount0_out > 0),
            amount1_out + (amount1_out > 0),
        )
        with pytest.raises(EvmRevert, match="UniswapV2: K"):
            swap_reserves(*swap.reserves_before, *greedy, 3000)
        tightened += 1
    assert tightened == summary.exact_quotes


def test_a_lower_fee_pool_is_recognized() -> None:
    reserves = (12282455599528885, 22045620)
    swaps = []
    for log_index, amount_in in enumerate((10**15, 10**16)):
        amount_out = get_amount_out(amount_in, *reserves, 2500)
        swaps.append(
            ObservedSwap(
                pool="0x" + "ab" * 20,
                block_number=1,
                log_index=log_index,
                transaction_hash="0x" + "cd" * 32,
                reserves_before=reserves,
                amounts=(amount_in, 0, 0, amount_out),
                reserves_after=(reserves[0] + amount_in, reserves[1] - amount_out),
            )
        )
    assert check_swap(swaps[0], 3000) == "reverts 'UniswapV2: K' at 3000 pips"
    assert pool_fee(swaps) == 2500
    # a Sync that disagrees with the amounts is reported, not passed
    skewed = replace(swaps[0], reserves_after=reserves)
    assert check_swap(skewed, 2500) == (
        f"reserves after {swaps[0].reserves_after} differ from the Sync {reserves}"
    )
    assert pool_fee([skewed]) is None


if __name__ == "__main__":
    print(summarize().render())

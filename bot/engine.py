"""The engine: record batches in, priced actions out. Strategy code: no I/O at all.

`Engine.on_records(records)` applies a batch from the ring to the pool table and answers with
`Action`s (a Candidate with the fees and guard it is to be sent with, and for a backrun the
victim's raw-transaction location in the byte ring) plus a `BlockReport` per block closed:

- pool events, heads and reorgs go to `graph.state.PoolTable.apply`; new pools
  (PairCreated/PoolCreated) join the cycle set at once, new tokens too; a batch holding
  several heads (a reader that fell behind) is taken head by head, each with its report, and
  only the last head's actions are handed out (the earlier heads' target blocks are mined);
- when the batch moved the head or changed pools, the cycles through every pool changed since
  the last search are screened (`graph.search`), the best re-priced exactly
  (`graph.reprice`) against the head's state, for the next block, at its exact EIP-1559 base
  fee (from the head's header fields) plus the configured priority fee;
- a pending swap (PENDING_SWAP record) is applied to a scratch copy of the table
  (`graph.pending`); the cycles through the pools it moves are searched there, and the best
  becomes a backrun action `[victim, ours]`.

One executor account can land one bundle per block (its nonce), so actions come in two lanes,
each meant for its own executor account: `block` (cycles found after a head) and `backrun`
(pending swaps); each lane hands out at most `bundles_per_block` actions per target block,
the best first. Two lanes touching one pool in one block are sorted out by the builder: the
later bundle fails its simulation there and is left out whole. Every decision is counted in
the block's report (found, priced, dropped and why, actions), which the caller writes to the
audit log and metrics.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from chains.config_chain import Eip1559Params
from chains.gas_model import GasModel
from chains.records import Kind, get_value
from graph.actions import Candidate
from graph.cycles import build_cycles
from graph.gas import gas_units_table, next_base_fee
from graph.pending import PendingSwapSpec, ScratchState
from graph.reprice import PricingContext, Repricer
from graph.search import CycleSearch, Evaluation, SearchParams, base_values
from graph.state import PoolTable

__all__ = ["Action", "BlockReport", "Engine", "EngineConfig", "Head", "PoolInfoLike", "Victim"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    """The strategy's settings (from the profile's [strategy] section and the chain)."""

    weth: str
    base_tokens: tuple[str, ...]
    max_hops: int
    tip_share_bps: int
    min_net_profit_wei: int
    priority_fee_wei: int
    eip1559: Eip1559Params
    top_k: int = 8
    bundles_per_block: int = 1
    inventory: Mapping[str, int] = field(default_factory=dict)  # base token -> raw units held
    max_amount_in: Mapping[str, int] = field(default_factory=dict)  # base token -> cap


class PoolInfoLike:
    """What the engine reads of a registry pool (chains.registry.PoolInfo has it)."""

    pool_id: int
    address: str
    kind: str
    token0: str
    token1: str
    fee_pips: int
    tick_spacing: int


@dataclass(frozen=True, slots=True)
class Head:
    """The newest block the table holds and what its header says about the next one."""

    number: int
    block_hash: bytes
    parent_hash: bytes
    timestamp: int
    base_fee_wei: int
    gas_used: int
    gas_limit: int
    recv_ns: int


@dataclass(frozen=True, slots=True)
class Victim:
    """A backrun's victim: its hash and where its signed raw bytes sit in the byte ring."""

    tx_hash: str
    raw_offset: int
    raw_len: int


@dataclass(frozen=True, slots=True)
class Action:
    """Send this candidate (after the risk gate) for its target block, guarded by parent."""

    candidate: Candidate
    next_base_fee_wei: int
    priority_fee_wei: int
    parent_hash: bytes
    input_value_wei: int
    victim: Victim | None = None
    recv_ns: int = 0  # when the record that triggered it arrived (latency accounting)

    @property
    def lane(self) -> str:
        """Return the executor lane: "backrun" with a victim, else "block"."""
        return "block" if self.victim is None else "backrun"


@dataclass(slots=True)
class BlockReport:
    """What the engine found and decided for one head."""

    number: int
    block_hash: str
    changed_pools: int = 0
    cycles_evaluated: int = 0
    profitable: int = 0
    screened: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    actions: list[Action] = field(default_factory=list)
    pending_seen: int = 0
    pending_skipped: Counter[str] = field(default_factory=Counter)
    stage_ns: dict[str, int] = field(default_factory=dict)


class Engine:
    """Owns the pool table, the cycle set and the search; turns records into actions."""

    def __init__(
        self,
        *,
        table: PoolTable,
        pools: Iterable[PoolInfoLike],
        gas_model: GasModel,
        config: EngineConfig,
    ) -> None:
        self.table = table
        self.config = config
        self.gas_model = gas_model
        pool_list = list(pools)
        self.tokens, self.cycles = build_cycles(
            [(p.pool_id, p.token0, p.token1) for p in pool_list],
            config.base_tokens,
            max_hops=config.max_hops,
        )
        self.search = CycleSearch(self.cycles)
        self.repricer = Repricer(self.cycles, self.tokens)
        self._weth_id = self.tokens.id_of(config.weth)
        self._coeffs_flash = gas_units_table(gas_model, True, tipped=config.tip_share_bps > 0)
        self.head: Head | None = None
        self._dirty: set[int] = set()
        # actions handed out per (target block, lane), and the pools each one moves (its own
        # hops and a backrun's victim's): two of our bundles in one block never share a pool,
        # so each realizes exactly what it was priced at
        self._sent_for: Counter[tuple[int, str]] = Counter()
        self._pools_for: dict[int, dict[str, frozenset[int]]] = {}
        self.reports: list[BlockReport] = []
        self.totals: Counter[str] = Counter()

    # -- input -----------------------------------------------------------------------------

    def mark_all_changed(self) -> None:
        """Search every cycle at the next head (after a snapshot load or a resync)."""
        self._dirty.update(range(self.cycles.n_pools))

    def on_records(self, records: np.ndarray) -> tuple[list[Action], list[BlockReport]]:
        """Apply one ring batch; return the actions to send and the reports of new heads."""
        if records.shape[0] == 0:
            return [], []
        kinds = records["kind"]
        pending_mask = kinds == Kind.PENDING_SWAP
        state_records = records[~pending_mask] if pending_mask.any() else records
        actions: list[Action] = []
        reports: list[BlockReport] = []
        parts = _per_head(state_records)
        for i, part in enumerate(parts):
            report = self._on_state(part)
            if report is None:
                continue
            reports.append(report)
            if i < len(parts) - 1:
                # a later head of this batch is the chain's: this one's target block is mined
                for action in report.actions:
                    self.not_sent(action)
                report.dropped["head_superseded"] += len(report.actions)
                report.actions.clear()
            actions += report.actions
        if pending_mask.any() and self.head is not None:
            report = self.reports[-1] if self.reports else None
            for record in records[pending_mask]:
                action = self._backrun(record, report)
                if action is not None:
                    actions.append(action)
        return actions, reports

    def _on_state(self, records: np.ndarray) -> BlockReport | None:
        """Apply one head's state records; search when the head moved or pools changed."""
        start = time.perf_counter_ns()
        self._grow_graph(records)
        self._dirty |= self.table.apply(records)
        applied_ns = time.perf_counter_ns() - start
        new_head = False
        heads = records[records["kind"] == Kind.BLOCK_HEAD]
        if heads.shape[0]:
            self.head = _head_of(heads[-1])
            new_head = True
        if (records["kind"] == Kind.REORG).any():
            self._dirty.update(range(self.cycles.n_pools))
            new_head = True
        # search when the head moved or the batch changed pools (a block's logs may
        # arrive over more than one batch: each part is searched as it lands)
        if not (new_head or self._dirty) or self.head is None:
            return None
        report = self._search_head(int(records["recv_ns"].max()))
        report.stage_ns["state"] = applied_ns
        return report

    def _grow_graph(self, records: np.ndarray) -> None:
        """Add pools created in this batch (and their tokens) to the cycle set."""
        created = records[
            (records["kind"] == Kind.PAIR_CREATED) | (records["kind"] == Kind.POOL_CREATED)
        ]
        for record in created:
            pool_id = int(record["pool_id"])
            if pool_id < self.cycles.n_pools and self.cycles.pool_token0[pool_id] >= 0:
                continue
            ids = []
            for word in (0, 1):
                address = f"0x{get_value(record, word):040x}"
                known = self.tokens.get(address)
                if known is None:
                    known = self.tokens.id_of(address)
                    self.cycles.add_token()
                ids.append(known)
            self.cycles.add_pool(pool_id, ids[0], ids[1])

    def not_sent(self, action: Action) -> None:
        """Give an action's block slot back: the gate refused it or its simulation failed."""
        key = (action.candidate.target_block, action.lane)
        if self._sent_for[key] > 0:
            self._sent_for[key] -= 1
        self._pools_for.get(action.candidate.target_block, {}).pop(
            action.candidate.candidate_id, None
        )

    # -- search ----------------------------------------------------------------------------

    def _pricing(self, head: Head) -> tuple[int, int, SearchParams]:
        next_base = next_base_fee(
            head.base_fee_wei, head.gas_used, head.gas_limit, self.config.eip1559
        )
        gas_price = next_base + self.config.priority_fee_wei
        params = SearchParams(
            gas_coeffs=self._coeffs_flash,
            gas_price_wei=gas_price,
            tip_share_bps=self.config.tip_share_bps,
            min_net_profit_wei=self.config.min_net_profit_wei,
            top_k=self.config.top_k,
        )
        return next_base, gas_price, params

    def _context(
        self, head: Head, gas_price: int, values: dict, pending: str | None
    ) -> PricingContext:
        ids = {self.tokens.get(t): v for t, v in self.config.inventory.items()}
        caps = {self.tokens.get(t): v for t, v in self.config.max_amount_in.items()}
        return PricingContext(
            block_number=head.number,
            block_hash="0x" + head.block_hash.hex(),
            target_block=head.number + 1,
            gas_model=self.gas_model,
            gas_price_wei=gas_price,
            tip_share_bps=self.config.tip_share_bps,
            min_net_profit_wei=self.config.min_net_profit_wei,
            base_value_wei=values,
            inventory={k: v for k, v in ids.items() if k is not None},
            max_amount_in={k: v for k, v in caps.items() if k is not None},
            pending_tx=pending,
            weth_id=self._weth_id,
        )

    def _search_head(self, recv_ns: int) -> BlockReport:
        head = self.head
        assert head is not None
        report = BlockReport(number=head.number, block_hash="0x" + head.block_hash.hex())
        changed = sorted(self._dirty)
        self._dirty.clear()
        report.changed_pools = len(changed)
        next_base, gas_price, params = self._pricing(head)
        values = base_values(self.table, self.cycles, self._weth_id, self.cycles.base_tokens)
        start = time.perf_counter_ns()
        evaluation = self.search.touched(self.table, changed, values, params)
        report.stage_ns["search"] = time.perf_counter_ns() - start
        self._price(
            report,
            evaluation,
            self.table,
            head,
            next_base,
            gas_price,
            params,
            values,
            None,
            recv_ns,
        )
        self.reports.append(report)
        del self.reports[:-64]
        self.totals["blocks"] += 1
        return report

    def _price(
        self,
        report: BlockReport,
        evaluation: Evaluation,
        view: PoolTable | ScratchState,
        head: Head,
        next_base: int,
        gas_price: int,
        params: SearchParams,
        values: dict,
        victim: Victim | None,
        recv_ns: int,
        moved_pools: frozenset[int] = frozenset(),
    ) -> None:
        report.cycles_evaluated += len(evaluation)
        report.profitable += evaluation.profitable
        screened = self.search.top(evaluation, params)
        report.screened += len(screened)
        ctx = self._context(head, gas_price, values, None if victim is None else victim.tx_hash)
        start = time.perf_counter_ns()
        before = Counter(self.repricer.dropped)
        candidates = []
        for s in screened:
            candidate = self.repricer.reprice(view, s.cycle_id, s.amount_in_f, ctx)
            if candidate is not None:
                candidates.append(candidate)
        report.stage_ns["reprice"] = report.stage_ns.get("reprice", 0) + (
            time.perf_counter_ns() - start
        )
        report.dropped.update(self.repricer.dropped - before)
        report.candidates += candidates
        self.totals["candidates"] += len(candidates)
        target = head.number + 1
        in_use = self._pools_for.setdefault(target, {})
        for candidate in sorted(candidates, key=lambda c: -c.net_profit_wei):
            key = (target, "block" if victim is None else "backrun")
            if self._sent_for[key] >= self.config.bundles_per_block:
                report.dropped["block_budget_used"] += 1
                continue
            moves = frozenset(candidate.pools) | moved_pools
            if any(moves & pools for pools in in_use.values()):
                report.dropped["pool_in_use"] += 1
                continue
            self._sent_for[key] += 1
            in_use[candidate.candidate_id] = moves
            value = values.get(self.tokens.id_of(candidate.base_token))
            input_value = (
                candidate.amount_in
                if value is None
                else candidate.amount_in * value.numerator // value.denominator
            )
            report.actions.append(
                Action(
                    candidate=candidate,
                    next_base_fee_wei=next_base,
                    priority_fee_wei=self.config.priority_fee_wei,
                    parent_hash=head.block_hash,
                    input_value_wei=input_value,
                    victim=victim,
                    recv_ns=recv_ns,
                )
            )
        for old in [k for k in self._sent_for if k[0] < target - 2]:
            del self._sent_for[old]
        for old_target in [t for t in self._pools_for if t < target - 2]:
            del self._pools_for[old_target]

    def _backrun(self, record: np.void, report: BlockReport | None) -> Action | None:
        head = self.head
        assert head is not None
        if report is None or report.number != head.number:
            report = BlockReport(number=head.number, block_hash="0x" + head.block_hash.hex())
            self.reports.append(report)
        report.pending_seen += 1
        self.totals["pending_seen"] += 1
        spec = PendingSwapSpec.from_record(record)
        scratch = ScratchState(self.table)
        reason = scratch.apply(spec)
        if reason is not None:
            report.pending_skipped[reason] += 1
            return None
        next_base, gas_price, params = self._pricing(head)
        values = base_values(scratch, self.cycles, self._weth_id, self.cycles.base_tokens)
        evaluation = self.search.touched(scratch, scratch.changed_pools, values, params)
        victim = Victim(
            tx_hash=spec.tx_hash,
            raw_offset=int(record["raw_offset"]),
            raw_len=int(record["raw_len"]),
        )
        before = len(report.actions)
        self._price(
            report,
            evaluation,
            scratch,
            head,
            next_base,
            gas_price,
            params,
            values,
            victim,
            int(record["recv_ns"]),
            frozenset(scratch.changed_pools),
        )
        if len(report.actions) > before:
            self.totals["backruns"] += 1
            return report.actions[-1]
        return None


def _per_head(records: np.ndarray) -> list[np.ndarray]:
    """Split state records before each block head (a reorg record goes with the head after it).

    A batch holding several heads (a reader that fell behind) is searched head by head, as
    if each block had come alone: every head gets its report, and the candidates of a block
    do not depend on how the ring happened to batch it (a backtest replays block by block).
    """
    if records.shape[0] == 0:
        return []
    kinds = records["kind"]
    cuts = set()
    for at in np.flatnonzero(kinds == Kind.BLOCK_HEAD).tolist():
        if at > 0 and kinds[at - 1] == Kind.REORG:
            at -= 1
        if at > 0:
            cuts.add(at)
    return np.split(records, sorted(cuts)) if cuts else [records]


def _head_of(record: np.void) -> Head:
    return Head(
        number=int(record["block_number"]),
        block_hash=bytes(record["block_hash"]),
        parent_hash=bytes(record["tx_hash"]),
        timestamp=get_value(record, 0),
        base_fee_wei=get_value(record, 1),
        gas_used=get_value(record, 2),
        gas_limit=get_value(record, 3),
        recv_ns=int(record["recv_ns"]),
    )


def pools_of(registry_pools: Sequence[PoolInfoLike]) -> list[tuple[int, str, str, int, int]]:
    """Return PoolTable pool tuples (id, address, kind, fee, spacing) of registry pools."""
    return [(p.pool_id, p.address, p.kind, p.fee_pips, p.tick_spacing) for p in registry_pools]

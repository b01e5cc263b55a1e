"""The world's block driver for fork-mode runs: traffic, a pause for searchers, a built block.

Each call of `WorldDriver.tick()` does nothing until the block time has passed; then it sends
one block of traffic (signed router swaps wait in anvil's pool, where a bot's mempool feed
sees them), waits `search_window_s` so searchers can answer with bundles (a backrun
`[victim, ours]` included), asks the local builder to build the block (bundles first, then the
public transactions, FIFO), and reads the traffic's receipts.
"""

from __future__ import annotations

import time

from chains.rpc import HttpRpc
from sim.builder import BlockReport, LocalBuilder
from sim.traffic import Traffic, TrafficConfig
from sim.world_manifest import Manifest

__all__ = ["WorldDriver"]


class WorldDriver:
    """Traffic plus the local builder, one block per block time."""

    def __init__(
        self,
        rpc: HttpRpc,
        manifest: Manifest,
        builder: LocalBuilder,
        *,
        block_time_s: float,
        search_window_s: float,
        traffic: TrafficConfig,
    ) -> None:
        if not 0 <= search_window_s < block_time_s:
            raise ValueError("the search window must be shorter than the block time")
        self.traffic = Traffic(rpc, manifest, traffic)
        self.builder = builder
        self.block_time_s = block_time_s
        self.search_window_s = search_window_s
        self.reports: list[BlockReport] = []
        self._next = time.monotonic() + block_time_s
        self._sent_at: float | None = None

    def tick(self) -> None:
        """Advance the block cycle if its time has come (call it often)."""
        now = time.monotonic()
        if self._sent_at is None:
            if now >= self._next - self.search_window_s:
                self.traffic.step(mine=False)
                self._sent_at = now
            return
        if now >= self._sent_at + self.search_window_s:
            self.reports.append(self.builder.build_block())
            self.traffic.settle()
            self._sent_at = None
            self._next = max(self._next + self.block_time_s, now + self.search_window_s)

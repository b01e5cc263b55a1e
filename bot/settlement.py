"""Settlement: what became of each sent bundle, booked in the audit log, the risk gate and nonces.

After every block the caller looks up the receipts of our in-flight transactions
(`hashes_to_check`) and hands them in with the account nonce (`on_block`); nothing here does
I/O. For each in-flight intent:

- our transaction mined with status 1: `included`, PnL = exact profit in wei - tip - gas paid
  (gasUsed x effectiveGasPrice);
- mined with status 0: `failed`, the gas paid is a loss;
- not mined and its last valid block (target + 1) is in: `expired`, nothing lost.

A reorg that removes blocks (`on_reorg`) turns every intent settled in them back: the audit
log gets `reorged_out` (which subtracts its PnL), the risk gate rolls its accounting back, and
the nonce manager accepts the lower account nonce. The transactions may land again; the next
`on_block` books them anew.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.audit import AuditLog, Intent
from bot.nonce import NonceManager
from bot.risk import RiskGate

__all__ = ["Settled", "Settlement"]


@dataclass(frozen=True, slots=True)
class Settled:
    """One intent's outcome as booked."""

    intent_id: str
    outcome: str  # included | failed | expired
    block_number: int
    pnl_wei: int
    loss_wei: int


class Settlement:
    """Books outcomes of sent intents; keeps the audit log, risk gate and nonces in step."""

    def __init__(self, audit: AuditLog, risk: RiskGate, nonces: NonceManager) -> None:
        self._audit = audit
        self._risk = risk
        self._nonces = nonces
        self._settled_at: dict[str, int] = {}  # intent id -> block it was settled in
        self.totals = {"included": 0, "failed": 0, "expired": 0, "reorged_out": 0}

    def hashes_to_check(self) -> dict[str, str]:
        """Return {our tx hash: intent id} of every in-flight intent (ours is the last tx)."""
        return {intent.tx_hashes[-1]: intent.intent_id for intent in self._in_flight()}

    def _in_flight(self) -> list[Intent]:
        signer = self._nonces.signer.lower()
        return [i for i in self._audit.in_flight() if i.signer.lower() == signer]

    def on_block(
        self,
        block_number: int,
        *,
        chain_nonce: int,
        receipts: Mapping[str, Mapping[str, Any] | None],
    ) -> list[Settled]:
        """Book every in-flight intent whose fate block `block_number` decided."""
        booked = []
        for intent in self._in_flight():
            receipt = receipts.get(intent.tx_hashes[-1])
            if receipt is not None:
                booked.append(self._mined(intent, receipt))
            elif block_number >= intent.target_block + 1:
                self._audit.record_state(intent.intent_id, "expired", block_number=block_number)
                self._settle(intent.intent_id, "expired", 0, 0, block_number)
                booked.append(Settled(intent.intent_id, "expired", block_number, 0, 0))
        self._nonces.reconcile(chain_nonce=chain_nonce, head_block=block_number)
        return booked

    def _mined(self, intent: Intent, receipt: Mapping[str, Any]) -> Settled:
        block = _int(receipt["blockNumber"])
        gas_paid = _int(receipt["gasUsed"]) * _int(receipt["effectiveGasPrice"])
        candidate = intent.candidate
        if _int(receipt["status"]) == 1:
            pnl = candidate.profit_wei - candidate.tip_wei - gas_paid
            self._audit.record_state(
                intent.intent_id,
                "included",
                block_number=block,
                detail={"pnl_wei": pnl, "gas_paid_wei": gas_paid},
            )
            self._settle(intent.intent_id, "included", 0, pnl, block)
            return Settled(intent.intent_id, "included", block, pnl, 0)
        self._audit.record_state(
            intent.intent_id,
            "failed",
            block_number=block,
            detail={"gas_paid_wei": gas_paid, "reverted": True},
        )
        self._settle(intent.intent_id, "reverted", gas_paid, -gas_paid, block)
        return Settled(intent.intent_id, "failed", block, -gas_paid, gas_paid)

    def _settle(self, intent_id: str, outcome: str, loss: int, pnl: int, block: int) -> None:
        self._risk.settle(intent_id, outcome=outcome, loss_wei=loss, pnl_wei=pnl, at_block=block)
        self._settled_at[intent_id] = block
        key = "failed" if outcome == "reverted" else outcome
        self.totals[key] += 1

    def on_reorg(self, *, first_removed_block: int, chain_nonce: int, head_block: int) -> list[str]:
        """Undo every settlement booked in blocks >= first_removed_block; return their ids."""
        undone = []
        for intent_id, block in sorted(self._settled_at.items(), key=lambda kv: -kv[1]):
            if block < first_removed_block:
                continue
            state = self._audit.last_state(intent_id)
            if state in ("included", "failed"):
                self._audit.record_state(intent_id, "reorged_out", block_number=block)
                self._risk.rollback(intent_id)
                self.totals["reorged_out"] += 1
                undone.append(intent_id)
            del self._settled_at[intent_id]
        self._nonces.rewind(chain_nonce=chain_nonce, head_block=head_block)
        return undone


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)

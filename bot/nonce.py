"""Nonces of the executor EOA: one nonce per signed content while it can land, chain-reconciled.

A bundle's transaction can land in its target block or the next one (the relay sends it for
both). While it can, its nonce is bound to its intent: `assign` gives the same intent the same
nonce (so a retry re-signs identical bytes, never a second transaction) and never gives that
nonce to different content. A nonce is freed again only when the chain proves the content can
no longer land: the head is past the intent's last valid block and the account's nonce is
still at or below it (nothing with that nonce was mined). A nonce the chain consumed is never
handed out again. `reconcile` takes the chain's view (account nonce, head) and applies both
rules; it runs at start (with the audit log's in-flight intents) and after every block.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Binding", "NonceError", "NonceManager"]


class NonceError(RuntimeError):
    """A nonce request that would break the one-nonce-one-content rule."""


@dataclass(frozen=True, slots=True)
class Binding:
    """A nonce held by an intent until `valid_through_block` has passed."""

    intent_id: str
    nonce: int
    valid_through_block: int


class NonceManager:
    """Hands out nonces of one signer; see the module docstring for the rules."""

    def __init__(
        self,
        signer: str,
        *,
        chain_nonce: int,
        head_block: int,
        in_flight: Iterable[Binding] = (),
    ) -> None:
        if chain_nonce < 0:
            raise ValueError(f"chain_nonce must not be negative: {chain_nonce}")
        self.signer = signer
        self._chain_nonce = chain_nonce
        self._head = head_block
        self._by_nonce: dict[int, Binding] = {}
        self._by_intent: dict[str, Binding] = {}
        for binding in in_flight:
            other = self._by_nonce.get(binding.nonce)
            if other is not None and other.intent_id != binding.intent_id:
                raise NonceError(
                    f"nonce {binding.nonce} is held by intents {other.intent_id} and "
                    f"{binding.intent_id}"
                )
            self._bind(binding)
        self.reconcile(chain_nonce=chain_nonce, head_block=head_block)

    def _bind(self, binding: Binding) -> None:
        self._by_nonce[binding.nonce] = binding
        self._by_intent[binding.intent_id] = binding

    def _unbind(self, binding: Binding) -> None:
        self._by_nonce.pop(binding.nonce, None)
        self._by_intent.pop(binding.intent_id, None)

    @property
    def chain_nonce(self) -> int:
        """Return the account nonce last reported by the chain."""
        return self._chain_nonce

    def binding(self, intent_id: str) -> Binding | None:
        """Return the intent's binding, if it holds a nonce."""
        return self._by_intent.get(intent_id)

    def bindings(self) -> tuple[Binding, ...]:
        """Return every live binding, by nonce."""
        return tuple(self._by_nonce[n] for n in sorted(self._by_nonce))

    def assign(self, intent_id: str, *, valid_through_block: int) -> int:
        """Return the intent's nonce: its existing one, else the lowest free one."""
        existing = self._by_intent.get(intent_id)
        if existing is not None:
            if valid_through_block != existing.valid_through_block:
                raise NonceError(
                    f"intent {intent_id} is bound through block "
                    f"{existing.valid_through_block}, not {valid_through_block}"
                )
            return existing.nonce
        if valid_through_block <= self._head:
            raise NonceError(
                f"intent {intent_id} is valid through block {valid_through_block}, "
                f"but the head is already {self._head}"
            )
        nonce = self._chain_nonce
        while nonce in self._by_nonce:
            nonce += 1
        self._bind(Binding(intent_id, nonce, valid_through_block))
        return nonce

    def release_unsent(self, intent_id: str) -> None:
        """Free the nonce of an intent whose transaction was never sent (e.g. failed simulation).

        Only the caller knows nothing left the process; the audit log records it as cancelled.
        """
        binding = self._by_intent.get(intent_id)
        if binding is not None:
            self._unbind(binding)

    def reconcile(self, *, chain_nonce: int, head_block: int) -> list[Binding]:
        """Apply the chain's account nonce and head; return the bindings that ended.

        A binding below the chain nonce was consumed (its content or, if something else used
        the nonce, that: the caller tells from receipts). One at or above it whose last valid
        block has been mined (head >= valid_through_block) expired unmined, and its nonce is
        free again.
        """
        if chain_nonce < self._chain_nonce:
            raise NonceError(
                f"the chain nonce went back from {self._chain_nonce} to {chain_nonce} "
                "(a reorg removed our transactions: reconcile the audit log first)"
            )
        self._chain_nonce = chain_nonce
        self._head = max(self._head, head_block)
        ended = [
            b
            for b in self._by_nonce.values()
            if b.nonce < chain_nonce or b.valid_through_block <= self._head
        ]
        for binding in ended:
            self._unbind(binding)
        return ended

    def rewind(self, *, chain_nonce: int, head_block: int) -> None:
        """Accept a lower chain nonce after a reorg removed mined transactions of ours."""
        self._chain_nonce = chain_nonce
        self._head = head_block

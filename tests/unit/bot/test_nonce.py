"""Nonce manager: one nonce per content while it can land, freed only when the chain says so."""

from __future__ import annotations

import pytest

from bot.nonce import Binding, NonceError, NonceManager

SIGNER = "0x" + "11" * 20


def _manager(chain_nonce: int = 5, head: int = 100, **kw: object) -> NonceManager:
    return NonceManager(SIGNER, chain_nonce=chain_nonce, head_block=head, **kw)  # type: ignore[arg-type]


def test_same_intent_same_nonce_and_different_intents_different_nonces() -> None:
    nonces = _manager()
    a = nonces.assign("a", valid_through_block=102)
    assert a == 5
    assert nonces.assign("a", valid_through_block=102) == 5
    assert nonces.assign("b", valid_through_block=102) == 6
    with pytest.raises(NonceError, match="bound through"):
        nonces.assign("a", valid_through_block=103)


def test_a_nonce_is_free_again_only_after_its_content_expired_unmined() -> None:
    nonces = _manager()
    nonces.assign("a", valid_through_block=102)
    # block 101 mined without it: still valid for 102, still bound
    assert nonces.reconcile(chain_nonce=5, head_block=101) == []
    assert nonces.assign("b", valid_through_block=103) == 6
    # block 102 mined, account nonce still 5: "a" can no longer land, 5 is free
    ended = nonces.reconcile(chain_nonce=5, head_block=102)
    assert [b.intent_id for b in ended] == ["a"]
    assert nonces.assign("c", valid_through_block=104) == 5


def test_a_consumed_nonce_is_never_handed_out_again() -> None:
    nonces = _manager()
    nonces.assign("a", valid_through_block=102)
    ended = nonces.reconcile(chain_nonce=6, head_block=101)
    assert [b.intent_id for b in ended] == ["a"]
    assert nonces.assign("b", valid_through_block=103) == 6
    with pytest.raises(NonceError, match="went back"):
        nonces.reconcile(chain_nonce=5, head_block=103)


def test_restart_restores_in_flight_bindings() -> None:
    flight = [Binding("a", 5, 102), Binding("b", 6, 102)]
    nonces = _manager(in_flight=flight)
    assert nonces.assign("a", valid_through_block=102) == 5
    assert nonces.assign("c", valid_through_block=103) == 7
    with pytest.raises(NonceError, match="held by intents"):
        _manager(in_flight=[Binding("a", 5, 102), Binding("x", 5, 102)])


def test_restart_drops_bindings_the_chain_ended() -> None:
    nonces = _manager(
        chain_nonce=6, head=103, in_flight=[Binding("a", 5, 102), Binding("b", 6, 104)]
    )
    assert nonces.binding("a") is None
    assert nonces.binding("b") == Binding("b", 6, 104)


def test_release_unsent_and_stale_requests() -> None:
    nonces = _manager()
    nonces.assign("a", valid_through_block=102)
    nonces.release_unsent("a")
    assert nonces.assign("b", valid_through_block=102) == 5
    with pytest.raises(NonceError, match="head is already"):
        nonces.assign("c", valid_through_block=100)
    with pytest.raises(ValueError):
        _manager(chain_nonce=-1)

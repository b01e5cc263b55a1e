"""Live mode is refused unless the acknowledgment, the code and the endpoints all fit."""

from __future__ import annotations

import dataclasses

import pytest

from bot.live_guard import EndpointHead, LiveRefused, check_live, expected_acknowledgment
from chains.config_profile import LiveAck

CHAIN = 1
EXECUTOR = "0x" + "aa" * 20
SIGNER = "0x" + "bb" * 20
GOOD = LiveAck(
    chain_id=CHAIN,
    executor=EXECUTOR,
    signer=SIGNER,
    acknowledgment=expected_acknowledgment(CHAIN, EXECUTOR, SIGNER),
)
TWO = (EndpointHead("a", CHAIN, 100), EndpointHead("b", CHAIN, 101))


def _check(ack: LiveAck | None = GOOD, **kw: object) -> None:
    args: dict[str, object] = {
        "chain_id": CHAIN,
        "executor": EXECUTOR,
        "signer": SIGNER,
        "executor_code_matches": True,
        "endpoints": TWO,
    }
    args.update(kw)
    check_live(ack, **args)  # type: ignore[arg-type]


def test_a_fitting_acknowledgment_passes() -> None:
    _check()


def test_missing_section_says_what_it_must_contain() -> None:
    with pytest.raises(LiveRefused, match=r"\[live\]") as info:
        _check(None)
    assert expected_acknowledgment(CHAIN, EXECUTOR, SIGNER) in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chain_id": 10}, "chain_id is 10"),
        ({"executor": "0x" + "cc" * 20}, "executor is"),
        ({"signer": "0x" + "dd" * 20}, "signer is"),
        ({"acknowledgment": "yes, go"}, "sentence"),
        (
            {"acknowledgment": expected_acknowledgment(5, EXECUTOR, SIGNER)},
            "sentence",
        ),
    ],
)
def test_wrong_or_stale_acknowledgments_are_refused(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(LiveRefused, match=message) as info:
        _check(dataclasses.replace(GOOD, **change))  # type: ignore[arg-type]
    assert expected_acknowledgment(CHAIN, EXECUTOR, SIGNER) in str(info.value)


def test_code_mismatch_is_refused() -> None:
    with pytest.raises(LiveRefused, match="executor verify"):
        _check(executor_code_matches=False)


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ((EndpointHead("a", CHAIN, 100),), "at least two"),
        ((EndpointHead("a", CHAIN, 100), EndpointHead("b", None, None)), "at least two"),
        ((EndpointHead("a", CHAIN, 100), EndpointHead("b", 5, 100)), "disagree on the chain"),
        ((EndpointHead("a", CHAIN, 100), EndpointHead("b", CHAIN, 110)), "heads differ"),
    ],
)
def test_endpoints_must_agree(endpoints: tuple[EndpointHead, ...], message: str) -> None:
    with pytest.raises(LiveRefused, match=message):
        _check(endpoints=endpoints)

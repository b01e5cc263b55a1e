"""EvmRevert: the revert code is the exception's identity and its text."""

from __future__ import annotations

import pickle

import pytest

from amm_math.errors import EvmRevert


def test_code_and_str() -> None:
    exc = EvmRevert("SPL")
    assert exc.code == "SPL"
    assert str(exc) == "SPL"
    assert isinstance(exc, Exception)


def test_bare_require_has_an_empty_code() -> None:
    exc = EvmRevert("", "FullMath.mulDiv: denominator is 0")
    assert exc.code == ""
    assert str(exc) == "revert: FullMath.mulDiv: denominator is 0"
    assert str(EvmRevert()) == "revert without a reason string"
    assert str(EvmRevert("LO", "tick 60")) == "LO: tick 60"


def test_pickles_with_its_code() -> None:
    exc = pickle.loads(pickle.dumps(EvmRevert("T", "tick 900000")))
    assert (exc.code, exc.detail) == ("T", "tick 900000")


def test_raises_as_usual() -> None:
    with pytest.raises(EvmRevert, match=r"^AS$"):
        raise EvmRevert("AS")

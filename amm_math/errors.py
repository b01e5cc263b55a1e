"""The one exception type of amm_math: a failed `require` of the contract being mirrored.

`EvmRevert.code` carries the contract's revert string ("T", "R", "LS", "SPL", ...), or ""
for a bare `require(cond)` and for checked arithmetic that reverts without a reason string;
`detail` optionally says which check failed. `str(exc)` starts with the code.
"""

from __future__ import annotations

__all__ = ["EvmRevert"]


class EvmRevert(Exception):
    """A revert of the mirrored contract; `code` is its revert string ("" when it has none)."""

    code: str
    detail: str

    def __init__(self, code: str = "", detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        if not self.detail:
            return self.code or "revert without a reason string"
        return f"{self.code}: {self.detail}" if self.code else f"revert: {self.detail}"

    def __repr__(self) -> str:
        return f"EvmRevert(code={self.code!r}, detail={self.detail!r})"

    def __reduce__(self) -> tuple[type[EvmRevert], tuple[str, str]]:
        return (EvmRevert, (self.code, self.detail))

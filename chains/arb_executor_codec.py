"""The one encoder of ArbExecutor plans: packed calldata, validated ranges, and its decoder.

Plan layout (packed, big-endian), mirrored in the header of contracts/src/ArbExecutor.sol:

    offset size  field
    0      1     version (= 1)
    1      1     flags: bit0 flash (borrow through hop 0's pool), bit1 guard present
    2      1     hop count n (2..4)
    3      20    base token (the cycle starts and ends in it)
    23     16    amount_in (uint128, base token units, input of hop 0)
    39     16    min_profit (uint128, base token units)
    55     16    tip_wei (uint128; unwrapped from WETH, so tip > 0 needs base == WETH)
    71     40    [guard only] target block number (uint64) + parent hash (bytes32)
    then n hops of 40 bytes: pool (20), hop flags (1: bit0 zero_for_one, bit1 V3),
                             V2 fee in pips (uint24), amount_out (uint128)
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address

__all__ = [
    "EXECUTE_SELECTOR",
    "GUARD_BYTES",
    "HEADER_BYTES",
    "HOP_BYTES",
    "MAX_HOPS",
    "MIN_HOPS",
    "PLAN_VERSION",
    "Hop",
    "Plan",
    "PlanError",
    "decode_plan",
    "encode_plan",
    "execute_calldata",
]

PLAN_VERSION = 1
HEADER_BYTES = 71
GUARD_BYTES = 40
HOP_BYTES = 40
MIN_HOPS = 2
MAX_HOPS = 4
EXECUTE_SELECTOR = keccak(text="execute(bytes)")[:4]

_FLAG_FLASH = 1
_FLAG_GUARD = 2
_HOP_ZERO_FOR_ONE = 1
_HOP_V3 = 2
_MAX_UINT24 = (1 << 24) - 1
_MAX_UINT64 = (1 << 64) - 1
_MAX_UINT128 = (1 << 128) - 1


class PlanError(ValueError):
    """A plan is out of range or its bytes are malformed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """One swap: pool, direction, venue kind, V2 fee (pips) and the exact predicted output."""

    pool: str
    zero_for_one: bool
    is_v3: bool
    fee_pips: int
    amount_out: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """One cycle for ArbExecutor.execute; guard is (block_number, parent_hash) or None."""

    base_token: str
    amount_in: int
    min_profit_wei: int
    tip_wei: int
    flash: bool
    hops: tuple[Hop, ...]
    guard: tuple[int, bytes] | None = None


def _address_bytes(value: str, what: str) -> bytes:
    """Return the 20 bytes of a 0x address, raising PlanError if it is not one."""
    raw = value.removeprefix("0x")
    if len(raw) != 40:
        raise PlanError(f"{what}: {value!r} is not a 20-byte address")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise PlanError(f"{what}: {value!r} is not hex") from None


def _uint(value: int, max_value: int, what: str) -> int:
    """Check an unsigned range (Python ints do not overflow, so the EVM width is checked here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= max_value:
        raise PlanError(f"{what}: {value!r} is outside 0..{max_value}")
    return value


def encode_plan(plan: Plan) -> bytes:
    """Encode a plan into the packed layout ArbExecutor.execute reads."""
    if not MIN_HOPS <= len(plan.hops) <= MAX_HOPS:
        raise PlanError(f"hop count {len(plan.hops)} is outside {MIN_HOPS}..{MAX_HOPS}")
    if plan.tip_wei > plan.min_profit_wei:
        raise PlanError("tip_wei exceeds min_profit_wei: the tip would come out of inventory")
    flags = (_FLAG_FLASH if plan.flash else 0) | (_FLAG_GUARD if plan.guard is not None else 0)
    out = bytearray((PLAN_VERSION, flags, len(plan.hops)))
    out += _address_bytes(plan.base_token, "base_token")
    if _uint(plan.amount_in, _MAX_UINT128, "amount_in") == 0:
        raise PlanError("amount_in must be positive")
    out += plan.amount_in.to_bytes(16, "big")
    out += _uint(plan.min_profit_wei, _MAX_UINT128, "min_profit_wei").to_bytes(16, "big")
    out += _uint(plan.tip_wei, _MAX_UINT128, "tip_wei").to_bytes(16, "big")
    if plan.guard is not None:
        block_number, parent_hash = plan.guard
        out += _uint(block_number, _MAX_UINT64, "guard block_number").to_bytes(8, "big")
        if not isinstance(parent_hash, bytes) or len(parent_hash) != 32:
            raise PlanError("guard parent_hash must be 32 bytes")
        out += parent_hash
    for i, hop in enumerate(plan.hops):
        out += _address_bytes(hop.pool, f"hop {i} pool")
        out.append((_HOP_ZERO_FOR_ONE if hop.zero_for_one else 0) | (_HOP_V3 if hop.is_v3 else 0))
        out += _uint(hop.fee_pips, _MAX_UINT24, f"hop {i} fee_pips").to_bytes(3, "big")
        if _uint(hop.amount_out, _MAX_UINT128, f"hop {i} amount_out") == 0:
            raise PlanError(f"hop {i} amount_out must be positive")
        out += hop.amount_out.to_bytes(16, "big")
    return bytes(out)


def decode_plan(data: bytes) -> Plan:
    """Decode packed plan bytes (as encode_plan writes them) back into a Plan."""
    if len(data) < HEADER_BYTES:
        raise PlanError(f"plan is {len(data)} bytes, shorter than the {HEADER_BYTES}-byte header")
    version, flags, count = data[0], data[1], data[2]
    if version != PLAN_VERSION or flags > (_FLAG_FLASH | _FLAG_GUARD):
        raise PlanError(f"unknown plan version {version} or flags {flags:#x}")
    guarded = bool(flags & _FLAG_GUARD)
    expected = HEADER_BYTES + (GUARD_BYTES if guarded else 0) + count * HOP_BYTES
    if not MIN_HOPS <= count <= MAX_HOPS or len(data) != expected:
        raise PlanError(f"{count} hops need {expected} bytes, got {len(data)}")
    guard = None
    offset = HEADER_BYTES
    if guarded:
        guard = (int.from_bytes(data[71:79], "big"), bytes(data[79:111]))
        offset += GUARD_BYTES
    hops = []
    for _ in range(count):
        hop_flags = data[offset + 20]
        hops.append(
            Hop(
                pool=to_checksum_address(data[offset : offset + 20]),
                zero_for_one=bool(hop_flags & _HOP_ZERO_FOR_ONE),
                is_v3=bool(hop_flags & _HOP_V3),
                fee_pips=int.from_bytes(data[offset + 21 : offset + 24], "big"),
                amount_out=int.from_bytes(data[offset + 24 : offset + 40], "big"),
            )
        )
        offset += HOP_BYTES
    return Plan(
        base_token=to_checksum_address(data[3:23]),
        amount_in=int.from_bytes(data[23:39], "big"),
        min_profit_wei=int.from_bytes(data[39:55], "big"),
        tip_wei=int.from_bytes(data[55:71], "big"),
        flash=bool(flags & _FLAG_FLASH),
        hops=tuple(hops),
        guard=guard,
    )


def execute_calldata(plan: Plan) -> bytes:
    """Return calldata for ArbExecutor.execute(bytes) carrying the encoded plan."""
    packed = encode_plan(plan)
    padded = packed + b"\x00" * (-len(packed) % 32)
    return EXECUTE_SELECTOR + (32).to_bytes(32, "big") + len(packed).to_bytes(32, "big") + padded

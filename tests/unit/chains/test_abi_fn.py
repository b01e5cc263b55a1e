"""AbiFunction and AbiEvent: selectors, encoding round trips, log decoding, signature parsing."""

from __future__ import annotations

from typing import Any

import eth_abi
import pytest
from eth_utils import keccak

from chains.abi_fn import AbiEvent, AbiFunction, split_types

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
TOKEN_A = "0x" + "0a" * 20
TOKEN_B = "0x" + "0b" * 20

V2_SWAP = AbiEvent(
    "Swap(address,uint256,uint256,uint256,uint256,address)",
    (True, False, False, False, False, True),
)


def _topic_address(address: str) -> bytes:
    return eth_abi.encode(["address"], [address])


# -- selectors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signature", "selector"),
    [
        ("transfer(address,uint256)", "a9059cbb"),
        ("approve(address,uint256)", "095ea7b3"),
        ("balanceOf(address)", "70a08231"),
        ("transferFrom(address,address,uint256)", "23b872dd"),
        ("deposit()", "d0e30db0"),
        ("getReserves()", "0902f1ac"),
    ],
)
def test_known_selectors(signature: str, selector: str) -> None:
    assert AbiFunction(signature).selector.hex() == selector


def test_parsed_fields() -> None:
    fn = AbiFunction("swap(uint256,(address,uint24)[],bytes)", "(uint256,bool)")
    assert fn.name == "swap"
    assert fn.arg_types == ("uint256", "(address,uint24)[]", "bytes")
    assert fn.return_types == ("uint256", "bool")
    assert fn.selector == keccak(text="swap(uint256,(address,uint24)[],bytes)")[:4]


def test_whitespace_in_signature_is_not_part_of_the_selector() -> None:
    spaced = AbiFunction("transfer(address, uint256)", "( bool )")
    assert spaced.selector.hex() == "a9059cbb"
    assert spaced.arg_types == ("address", "uint256")
    assert spaced.return_types == ("bool",)


def test_no_arguments_and_no_returns() -> None:
    fn = AbiFunction("deposit()")
    assert fn.arg_types == ()
    assert fn.return_types == ()
    assert fn.encode() == fn.selector
    assert fn.decode_input(fn.selector) == ()
    assert fn.decode_output(b"") == ()


# -- encoding and decoding ------------------------------------------------------------------


def test_encode_is_selector_plus_eth_abi_encoding() -> None:
    fn = AbiFunction("transfer(address,uint256)", "(bool)")
    data = fn.encode(BOB, 10**18)
    assert data[:4].hex() == "a9059cbb"
    assert data[4:] == eth_abi.encode(["address", "uint256"], [BOB, 10**18])
    assert len(data) == 4 + 64


@pytest.mark.parametrize(
    ("signature", "args"),
    [
        ("transfer(address,uint256)", (BOB, 123)),
        (
            "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)",
            (10**18, 0, (TOKEN_A, TOKEN_B, ALICE), BOB, 2**40),
        ),
        (
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))",
            ((TOKEN_A, TOKEN_B, 500, ALICE, 10**6, 1, 0),),
        ),
        (
            "exactInput((bytes,address,uint256,uint256))",
            ((b"\x01" * 43, ALICE, 5, 6),),
        ),
        ("multicall(uint256,bytes[])", (2**40, (b"\xaa\xbb", b"", b"\x01" * 100))),
        ("nested(((int24,int24)[],bool),string,int256)", ((((-60, 60), (-1, 1)), True), "hé", -7)),
        ("fixed(uint8[3],address[2][])", ((1, 2, 3), ((ALICE, BOB), (BOB, ALICE)))),
    ],
)
def test_encode_decode_input_round_trip(signature: str, args: tuple[Any, ...]) -> None:
    fn = AbiFunction(signature)
    data = fn.encode(*args)
    assert data[:4] == fn.selector
    assert fn.decode_input(data) == _normalise(args)


def _normalise(value: Any) -> Any:
    """Lower-case address strings (eth_abi decodes addresses lower case)."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    if isinstance(value, tuple | list):
        return tuple(_normalise(v) for v in value)
    return value


def test_decode_input_refuses_another_selector() -> None:
    transfer = AbiFunction("transfer(address,uint256)")
    approve = AbiFunction("approve(address,uint256)")
    with pytest.raises(ValueError, match="selector mismatch"):
        transfer.decode_input(approve.encode(BOB, 1))
    with pytest.raises(ValueError, match="selector mismatch"):
        transfer.decode_input(b"")


def test_decode_output() -> None:
    reserves = AbiFunction("getReserves()", "(uint112,uint112,uint32)")
    data = eth_abi.encode(["uint112", "uint112", "uint32"], [2**100, 7, 1_700_000_000])
    assert reserves.decode_output(data) == (2**100, 7, 1_700_000_000)

    amounts = AbiFunction("swap()", "(uint256[])")
    assert amounts.decode_output(eth_abi.encode(["uint256[]"], [[1, 2, 3]])) == ((1, 2, 3),)

    slot0 = AbiFunction("slot0()", "(uint160,int24,uint16,uint16,uint16,uint8,bool)")
    values = (2**96, -887272, 1, 2, 3, 0, True)
    types = ["uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool"]
    assert slot0.decode_output(eth_abi.encode(types, list(values))) == values

    multicall = AbiFunction("multicall(bytes[])", "(bytes[])")
    data = eth_abi.encode(["bytes[]"], [[b"\x01", b"\x02\x03"]])
    assert multicall.decode_output(data) == ((b"\x01", b"\x02\x03"),)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_wrong_argument_count_is_a_type_error(count: int) -> None:
    fn = AbiFunction("transfer(address,uint256)")
    with pytest.raises(TypeError, match=r"transfer\(address,uint256\): .* arguments given"):
        fn.encode(*[BOB, 1, 2][:count])


def test_tuple_argument_counts_as_one() -> None:
    fn = AbiFunction("collect((uint256,address,uint128,uint128))")
    with pytest.raises(TypeError):
        fn.encode(1, ALICE, 2, 3)
    assert fn.decode_input(fn.encode((1, ALICE, 2, 3))) == ((1, ALICE.lower(), 2, 3),)


# -- split_types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inner", "expected"),
    [
        ("", ()),
        ("uint256", ("uint256",)),
        ("address,uint256", ("address", "uint256")),
        (" address , uint256 ", ("address", "uint256")),
        ("address[],uint256[2][]", ("address[]", "uint256[2][]")),
        ("(address,uint24),bool", ("(address,uint24)", "bool")),
        ("bytes,(address,(uint256,int24)[],bool)[3],uint8", (
            "bytes", "(address,(uint256,int24)[],bool)[3]", "uint8",
        )),
        ("((uint8,(bool,bytes)),string)", ("((uint8,(bool,bytes)),string)",)),
        ("()", ("()",)),
    ],
)  # fmt: skip
def test_split_types(inner: str, expected: tuple[str, ...]) -> None:
    assert split_types(inner) == expected


@pytest.mark.parametrize(
    "inner",
    ["(uint256", "uint256)", "((a,b)", "a,(b", "a)(b", "uint256,"],
)
def test_split_types_refuses_malformed_lists(inner: str) -> None:
    with pytest.raises(ValueError, match=r"unbalanced parentheses|empty type"):
        split_types(inner)


@pytest.mark.parametrize("inner", [",uint256", "uint256,,address", " , "])
def test_split_types_refuses_empty_types_anywhere(inner: str) -> None:
    with pytest.raises(ValueError, match="empty type"):
        split_types(inner)


@pytest.mark.parametrize(
    "signature",
    [
        "transfer",
        "transfer(address,uint256",
        "transferaddress,uint256)",
        "(address,uint256)",
        "1transfer(address)",
        "trans fer(address)",
        "transfer (address)",
        "transfer(address))",
        "transfer((address)",
        "transfer(address,)",
        "transfer(address)extra",
        "",
    ],
)
def test_malformed_function_signature(signature: str) -> None:
    with pytest.raises(ValueError):
        AbiFunction(signature)


@pytest.mark.parametrize("signature", ["transfer(,uint256)", "transfer(address,,uint256)"])
def test_empty_argument_type_in_signature(signature: str) -> None:
    with pytest.raises(ValueError, match="empty type"):
        AbiFunction(signature)


@pytest.mark.parametrize("returns", ["bool", "(bool", "bool)", "", "(bool,)"])
def test_malformed_returns(returns: str) -> None:
    with pytest.raises(ValueError):
        AbiFunction("transfer(address,uint256)", returns)


def test_abi_function_is_frozen() -> None:
    fn = AbiFunction("deposit()")
    with pytest.raises(AttributeError):
        fn.selector = b"\x00" * 4  # type: ignore[misc]


# -- events ---------------------------------------------------------------------------------


def test_event_fields() -> None:
    assert V2_SWAP.name == "Swap"
    assert V2_SWAP.indexed == (True, False, False, False, False, True)
    assert isinstance(V2_SWAP.indexed, tuple)
    assert V2_SWAP.topic0 == keccak(text="Swap(address,uint256,uint256,uint256,uint256,address)")
    assert V2_SWAP.topic0.hex() == (
        "d78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"
    )


def test_event_with_list_of_indexed_flags() -> None:
    event = AbiEvent("Transfer(address,address,uint256)", [True, True, False])
    assert event.indexed == (True, True, False)
    assert event.topic0.hex() == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def test_event_indexed_flags_must_match_arguments() -> None:
    with pytest.raises(ValueError, match="indexed flags"):
        AbiEvent("Transfer(address,address,uint256)", (True, True))
    with pytest.raises(ValueError):
        AbiEvent("Transfer(address,address", (True, True))


def _v2_swap_log(values: tuple[str, int, int, int, int, str]) -> tuple[list[bytes], bytes]:
    sender, a0_in, a1_in, a0_out, a1_out, to = values
    topics = [V2_SWAP.topic0, _topic_address(sender), _topic_address(to)]
    data = eth_abi.encode(["uint256"] * 4, [a0_in, a1_in, a0_out, a1_out])
    return topics, data


def test_decode_v2_swap_log_in_signature_order() -> None:
    values = (ALICE, 10**18, 0, 0, 2_999_000_000, BOB)
    topics, data = _v2_swap_log(values)
    assert V2_SWAP.decode(topics, data) == (ALICE.lower(), 10**18, 0, 0, 2_999_000_000, BOB.lower())


def test_decode_interleaved_indexed_arguments() -> None:
    event = AbiEvent(
        "Mint(address,address,int24,int24,uint128,uint256,uint256)",
        (False, True, True, True, False, False, False),
    )
    topics = [
        event.topic0,
        _topic_address(BOB),
        eth_abi.encode(["int24"], [-120]),
        eth_abi.encode(["int24"], [60]),
    ]
    data = eth_abi.encode(["address", "uint128", "uint256", "uint256"], [ALICE, 10**20, 5, 6])
    assert event.decode(topics, data) == (ALICE.lower(), BOB.lower(), -120, 60, 10**20, 5, 6)


def test_decode_event_without_indexed_arguments() -> None:
    sync = AbiEvent("Sync(uint112,uint112)", (False, False))
    data = eth_abi.encode(["uint112", "uint112"], [2**111, 1])
    assert sync.decode([sync.topic0], data) == (2**111, 1)


def test_decode_refuses_topic0_mismatch() -> None:
    topics, data = _v2_swap_log((ALICE, 1, 0, 0, 1, BOB))
    other = AbiEvent("Sync(uint112,uint112)", (False, False))
    with pytest.raises(ValueError, match="topic0 mismatch"):
        V2_SWAP.decode([other.topic0, *topics[1:]], data)
    with pytest.raises(ValueError, match="topic0 mismatch"):
        V2_SWAP.decode([], data)


@pytest.mark.parametrize("count", [1, 2, 4])
def test_decode_refuses_wrong_topic_count(count: int) -> None:
    topics, data = _v2_swap_log((ALICE, 1, 0, 0, 1, BOB))
    padded = [*topics, _topic_address(ALICE)]
    with pytest.raises(ValueError, match=f"{count} topics"):
        V2_SWAP.decode(padded[:count], data)

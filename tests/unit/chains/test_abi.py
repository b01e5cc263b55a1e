"""The protocol constants in chains.abi and chains.abi_routers, pinned to the real contracts.

Every AbiFunction and AbiEvent must exist, with the same canonical signature (and the same
return types, and for events the same indexed flags), in the ABI of the npm artifact of the
contract it is called on. The UniversalRouter command bytes are read from Commands.sol.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from chains import abi, abi_routers
from chains.abi_fn import AbiEvent, AbiFunction
from chains.artifacts import load_npm_artifact, load_project_artifact, node_modules_dir

# constant name -> artifacts whose ABI must hold it
ARTIFACTS_OF: Mapping[str, tuple[str, ...]] = {
    # ERC20 (the V2 pair is an ERC20; so are the project's test token and WETH9)
    "ERC20_BALANCE_OF": ("UniswapV2Pair", "TestERC20", "WETH9"),
    "ERC20_ALLOWANCE": ("UniswapV2Pair", "TestERC20", "WETH9"),
    "ERC20_APPROVE": ("UniswapV2Pair", "TestERC20", "WETH9"),
    "ERC20_TRANSFER": ("UniswapV2Pair", "TestERC20", "WETH9"),
    "ERC20_DECIMALS": ("UniswapV2Pair", "TestERC20", "WETH9"),
    "ERC20_TRANSFER_EVENT": ("UniswapV2Pair", "TestERC20", "WETH9"),
    "TEST_ERC20_MINT": ("TestERC20",),
    "WETH_DEPOSIT": ("WETH9",),
    "WETH_WITHDRAW": ("WETH9",),
    # Uniswap V2 core
    "V2_FACTORY_CREATE_PAIR": ("UniswapV2Factory",),
    "V2_FACTORY_GET_PAIR": ("UniswapV2Factory",),
    "V2_FACTORY_ALL_PAIRS_LENGTH": ("UniswapV2Factory",),
    "V2_PAIR_CREATED": ("UniswapV2Factory",),
    "V2_PAIR_GET_RESERVES": ("UniswapV2Pair",),
    "V2_PAIR_TOKEN0": ("UniswapV2Pair",),
    "V2_PAIR_TOKEN1": ("UniswapV2Pair",),
    "V2_SYNC": ("UniswapV2Pair",),
    "V2_SWAP": ("UniswapV2Pair",),
    "V2_MINT": ("UniswapV2Pair",),
    "V2_BURN": ("UniswapV2Pair",),
    # Uniswap V3 core
    "V3_FACTORY_CREATE_POOL": ("UniswapV3Factory",),
    "V3_FACTORY_GET_POOL": ("UniswapV3Factory",),
    "V3_FACTORY_ENABLE_FEE_AMOUNT": ("UniswapV3Factory",),
    "V3_POOL_CREATED": ("UniswapV3Factory",),
    "V3_POOL_INITIALIZE": ("UniswapV3Pool",),
    "V3_POOL_SLOT0": ("UniswapV3Pool",),
    "V3_POOL_LIQUIDITY": ("UniswapV3Pool",),
    "V3_POOL_TICKS": ("UniswapV3Pool",),
    "V3_POOL_TICK_BITMAP": ("UniswapV3Pool",),
    "V3_INITIALIZE": ("UniswapV3Pool",),
    "V3_SWAP": ("UniswapV3Pool",),
    "V3_MINT": ("UniswapV3Pool",),
    "V3_BURN": ("UniswapV3Pool",),
    # Uniswap V2 Router02
    "R02_SWAP_EXACT_TOKENS_FOR_TOKENS": ("UniswapV2Router02",),
    "R02_SWAP_TOKENS_FOR_EXACT_TOKENS": ("UniswapV2Router02",),
    "R02_SWAP_EXACT_ETH_FOR_TOKENS": ("UniswapV2Router02",),
    "R02_SWAP_ETH_FOR_EXACT_TOKENS": ("UniswapV2Router02",),
    "R02_SWAP_EXACT_TOKENS_FOR_ETH": ("UniswapV2Router02",),
    "R02_SWAP_EXACT_TOKENS_FOR_TOKENS_FOT": ("UniswapV2Router02",),
    "R02_ADD_LIQUIDITY": ("UniswapV2Router02",),
    "R02_ADD_LIQUIDITY_ETH": ("UniswapV2Router02",),
    "R02_REMOVE_LIQUIDITY": ("UniswapV2Router02",),
    # Uniswap V3 SwapRouter
    "SR_EXACT_INPUT_SINGLE": ("SwapRouter",),
    "SR_EXACT_OUTPUT_SINGLE": ("SwapRouter",),
    "SR_EXACT_INPUT": ("SwapRouter",),
    "SR_EXACT_OUTPUT": ("SwapRouter",),
    "SR_MULTICALL": ("SwapRouter",),
    # SwapRouter02
    "SR02_EXACT_INPUT_SINGLE": ("SwapRouter02",),
    "SR02_EXACT_OUTPUT_SINGLE": ("SwapRouter02",),
    "SR02_EXACT_INPUT": ("SwapRouter02",),
    "SR02_SWAP_EXACT_TOKENS_FOR_TOKENS": ("SwapRouter02",),
    "SR02_SWAP_TOKENS_FOR_EXACT_TOKENS": ("SwapRouter02",),
    "SR02_MULTICALL_DEADLINE": ("SwapRouter02",),
    # UniversalRouter
    "UR_EXECUTE": ("UniversalRouter",),
    # NonfungiblePositionManager
    "NPM_CREATE_AND_INIT": ("NonfungiblePositionManager",),
    "NPM_MINT": ("NonfungiblePositionManager",),
    "NPM_DECREASE_LIQUIDITY": ("NonfungiblePositionManager",),
    "NPM_COLLECT": ("NonfungiblePositionManager",),
    "NPM_BURN": ("NonfungiblePositionManager",),
    "NPM_POSITIONS": ("NonfungiblePositionManager",),
}

# UniversalRouter command constant -> name in Commands.sol
UR_COMMANDS: Mapping[str, str] = {
    "UR_V3_SWAP_EXACT_IN": "V3_SWAP_EXACT_IN",
    "UR_V3_SWAP_EXACT_OUT": "V3_SWAP_EXACT_OUT",
    "UR_SWEEP": "SWEEP",
    "UR_V2_SWAP_EXACT_IN": "V2_SWAP_EXACT_IN",
    "UR_V2_SWAP_EXACT_OUT": "V2_SWAP_EXACT_OUT",
    "UR_WRAP_ETH": "WRAP_ETH",
    "UR_UNWRAP_WETH": "UNWRAP_WETH",
}

_COMMAND_RE = re.compile(r"uint256\s+constant\s+([A-Z0-9_]+)\s*=\s*(0x[0-9a-fA-F]+)\s*;")


def _abi_of(artifact: str) -> tuple[dict[str, Any], ...]:
    if artifact == "TestERC20":
        return load_project_artifact("TestERC20").abi
    return load_npm_artifact(artifact).abi


def canonical_type(param: Mapping[str, Any]) -> str:
    """Return the canonical type of one ABI parameter: tuples expanded, array suffixes kept."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def canonical_signature(entry: Mapping[str, Any]) -> str:
    """Return name(type,...) of an ABI function or event entry."""
    types = ",".join(canonical_type(p) for p in entry.get("inputs", []))
    return f"{entry['name']}({types})"


def canonical_returns(entry: Mapping[str, Any]) -> str:
    """Return (type,...) of an ABI function entry's outputs."""
    return "(" + ",".join(canonical_type(p) for p in entry.get("outputs", [])) + ")"


def _constants() -> dict[str, AbiFunction | AbiEvent]:
    found: dict[str, AbiFunction | AbiEvent] = {}
    for module in (abi, abi_routers):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, AbiFunction | AbiEvent):
                found[name] = value
    return found


CONSTANTS = _constants()


def _entries(artifact: str, kind: str, name: str) -> list[dict[str, Any]]:
    return [e for e in _abi_of(artifact) if e.get("type") == kind and e.get("name") == name]


def _entry_matching(artifact: str, constant: AbiFunction | AbiEvent) -> dict[str, Any]:
    kind = "event" if isinstance(constant, AbiEvent) else "function"
    canonical = f"{constant.name}({','.join(constant.arg_types)})"
    candidates = _entries(artifact, kind, constant.name)
    assert candidates, f"{artifact} has no {kind} named {constant.name!r}"
    matching = [e for e in candidates if canonical_signature(e) == canonical]
    assert matching, (
        f"{artifact}: no {kind} {canonical}; the ABI has "
        f"{sorted(canonical_signature(e) for e in candidates)}"
    )
    assert len(matching) == 1
    return matching[0]


# -- canonical signatures --------------------------------------------------------------------


def test_canonical_signature_of_abi_entries() -> None:
    entry = {
        "type": "function",
        "name": "f",
        "inputs": [
            {"type": "uint256", "name": "a"},
            {
                "type": "tuple[]",
                "name": "b",
                "components": [
                    {"type": "address", "name": "x"},
                    {
                        "type": "tuple[2]",
                        "name": "y",
                        "components": [{"type": "int24"}, {"type": "bytes[]"}],
                    },
                ],
            },
            {"type": "tuple", "components": []},
        ],
        "outputs": [{"type": "bool"}, {"type": "tuple", "components": [{"type": "uint8"}]}],
    }
    assert canonical_signature(entry) == "f(uint256,(address,(int24,bytes[])[2])[],())"
    assert canonical_returns(entry) == "(bool,(uint8))"
    assert canonical_signature({"type": "function", "name": "g"}) == "g()"
    assert canonical_returns({"type": "function", "name": "g"}) == "()"


# -- the table covers every constant --------------------------------------------------------


def test_every_constant_is_mapped_to_an_artifact() -> None:
    assert set(CONSTANTS) == set(ARTIFACTS_OF)


def test_every_command_constant_is_mapped() -> None:
    commands = {n for n in abi_routers.__all__ if n.startswith("UR_") and n != "UR_EXECUTE"}
    assert commands == set(UR_COMMANDS)


# -- functions and events against the real ABIs ---------------------------------------------


_PAIRS = [(name, artifact) for name, arts in ARTIFACTS_OF.items() for artifact in arts]


@pytest.mark.parametrize(("name", "artifact"), _PAIRS, ids=[f"{n}-{a}" for n, a in _PAIRS])
def test_constant_matches_the_real_abi(name: str, artifact: str) -> None:
    constant = CONSTANTS[name]
    entry = _entry_matching(artifact, constant)
    if isinstance(constant, AbiEvent):
        flags = tuple(bool(p.get("indexed", False)) for p in entry["inputs"])
        assert constant.indexed == flags, f"{name}: indexed {constant.indexed} != {flags}"
        assert not entry.get("anonymous", False)
    else:
        returns = f"({','.join(constant.return_types)})"
        assert returns == canonical_returns(entry), f"{name}: returns differ"


def test_universal_router_execute_is_the_three_argument_overload() -> None:
    overloads = sorted(
        canonical_signature(e) for e in _entries("UniversalRouter", "function", "execute")
    )
    assert overloads == ["execute(bytes,bytes[])", "execute(bytes,bytes[],uint256)"]
    assert abi_routers.UR_EXECUTE.arg_types == ("bytes", "bytes[]", "uint256")


def test_swap_router02_multicall_overloads() -> None:
    overloads = sorted(
        canonical_signature(e) for e in _entries("SwapRouter02", "function", "multicall")
    )
    assert "multicall(uint256,bytes[])" in overloads
    assert abi_routers.SR02_MULTICALL_DEADLINE.signature in overloads


def test_well_known_topics_and_selectors() -> None:
    assert abi.ERC20_TRANSFER.selector.hex() == "a9059cbb"
    assert abi.ERC20_APPROVE.selector.hex() == "095ea7b3"
    assert abi.ERC20_BALANCE_OF.selector.hex() == "70a08231"
    assert abi.V2_SYNC.topic0.hex() == (
        "1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"
    )
    assert abi.V3_SWAP.topic0.hex() == (
        "c42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67"
    )
    assert abi.ERC20_TRANSFER_EVENT.topic0.hex() == (
        "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    )


def test_topics_and_selectors_are_unique_per_contract() -> None:
    for artifact in {a for arts in ARTIFACTS_OF.values() for a in arts}:
        names = [n for n, arts in ARTIFACTS_OF.items() if artifact in arts]
        keys = [
            CONSTANTS[n].topic0 if isinstance(CONSTANTS[n], AbiEvent) else CONSTANTS[n].selector
            for n in names
        ]
        assert len(set(keys)) == len(keys), artifact


# -- UniversalRouter command bytes ----------------------------------------------------------


def _solidity_commands() -> dict[str, int]:
    path = node_modules_dir() / "@uniswap/universal-router/contracts/libraries/Commands.sol"
    found = {m.group(1): int(m.group(2), 16) for m in _COMMAND_RE.finditer(path.read_text())}
    assert found, f"no command constants parsed from {path}"
    return found


@pytest.mark.parametrize(("constant", "solidity_name"), sorted(UR_COMMANDS.items()))
def test_universal_router_command(constant: str, solidity_name: str) -> None:
    commands = _solidity_commands()
    assert solidity_name in commands, f"Commands.sol has no {solidity_name}"
    assert getattr(abi_routers, constant) == commands[solidity_name]


def test_commands_parser_reads_the_known_layout() -> None:
    commands = _solidity_commands()
    assert commands["V3_SWAP_EXACT_IN"] == 0x00
    assert commands["V2_SWAP_EXACT_IN"] == 0x08
    assert commands["EXECUTE_SUB_PLAN"] == 0x21
    assert all(0 <= value < 0x80 for value in commands.values())  # 0x80 is the allow-revert flag


# -- encode_v3_path -------------------------------------------------------------------------

TOKENS = [
    "0x1111111111111111111111111111111111111111",
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
    "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
    "0x2222222222222222222222222222222222222222",
]


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_encode_v3_path_layout(hops: int) -> None:
    fees = [500, 3000, 10000][:hops]
    tokens = TOKENS[: hops + 1]
    path = abi_routers.encode_v3_path(tokens, fees)
    assert len(path) == 20 + 23 * hops
    assert path[:20] == bytes.fromhex(tokens[0][2:])
    for i in range(hops):
        at = 20 + 23 * i
        assert int.from_bytes(path[at : at + 3], "big") == fees[i]
        assert path[at + 3 : at + 23] == bytes.fromhex(tokens[i + 1][2:])


def test_encode_v3_path_exact_bytes() -> None:
    path = abi_routers.encode_v3_path([TOKENS[0], TOKENS[3]], [3000])
    assert path.hex() == "11" * 20 + "000bb8" + "22" * 20
    assert abi_routers.encode_v3_path([TOKENS[0], TOKENS[3]], [100])[20:23].hex() == "000064"


def test_encode_v3_path_fits_the_swap_router_struct() -> None:
    path = abi_routers.encode_v3_path(TOKENS[:3], [500, 3000])
    data = abi_routers.SR02_EXACT_INPUT.encode((path, TOKENS[3], 10**18, 1))
    decoded = abi_routers.SR02_EXACT_INPUT.decode_input(data)
    assert decoded[0][0] == path


@pytest.mark.parametrize(
    ("tokens", "fees"),
    [
        ([], []),
        ([TOKENS[0]], []),
        (TOKENS[:2], []),
        (TOKENS[:2], [500, 3000]),
        (TOKENS[:3], [500]),
        (TOKENS[:1], [500]),
    ],
)
def test_encode_v3_path_refuses_mismatched_lengths(tokens: list[str], fees: list[int]) -> None:
    with pytest.raises(ValueError, match="n\\+1 tokens for n fees"):
        abi_routers.encode_v3_path(tokens, fees)


def test_encode_v3_path_refuses_a_fee_wider_than_three_bytes() -> None:
    with pytest.raises(OverflowError):
        abi_routers.encode_v3_path(TOKENS[:2], [2**24])

"""amm_math's Uniswap V2 quotes against the real UniswapV2Pair bytecode on anvil, to the wei.

Every hypothesis example creates a pair of two test tokens (6, 8 or 18 decimals) on the real
factory, adds random reserves (transfer + `mint`), then runs 1..4 swaps the way a router
does: transfer the input to the pair, then `pair.swap(amount0Out, amount1Out, to, "")`.

- exact input: `get_amount_out`'s output must pass, and one wei more must revert with
  "UniswapV2: K" (or "UniswapV2: INSUFFICIENT_LIQUIDITY" when that wei is the last one);
- exact output: `get_amount_in`'s input must buy the output, and one wei less must be
  judged as `swap_reserves` judges it;
- the reserves after each swap equal the Python reserves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import eth_abi
import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amm_math.errors import EvmRevert
from amm_math.uniswap_v2 import MAX_UINT112, get_amount_in, get_amount_out, swap_reserves
from chains import abi
from chains.abi_fn import AbiFunction
from chains.artifacts import load_npm_artifact, load_project_artifact
from chains.rpc import HttpRpc, RpcResponseError
from sim.anvil import AnvilProcess
from sim.txs import Call, UnlockedSender, decode_revert, send_unlocked_blocks

pytestmark = pytest.mark.integration

EXAMPLES = 250
"""Pairs per run, each with 1..4 swaps."""
MIN_SWAPS = 300

TOKEN_DECIMALS = (6, 8, 18, 18)
_PAIR_MINT = AbiFunction("mint(address)", "(uint256)")
_PAIR_SWAP = AbiFunction("swap(uint256,uint256,address,bytes)")
_PAIR_SYNC = AbiFunction("sync()")
_MINIMUM_RESERVE = 10**4  # the first mint must leave sqrt(r0 * r1) > MINIMUM_LIQUIDITY (1000)


@dataclass(slots=True)
class V2Lab:
    node: AnvilProcess
    rpc: HttpRpc
    sender: UnlockedSender
    factory: str
    tokens: tuple[tuple[str, int], ...]  # (address, decimals)


def _deploy(sender: UnlockedSender, init_code: bytes) -> str:
    receipt = sender.send(Call(to=None, data=init_code, gas_units=6_000_000, label="deploy"))
    return to_checksum_address(receipt["contractAddress"])


@pytest.fixture(scope="module")
def v2_lab(anvil_session: AnvilProcess) -> Iterator[V2Lab]:
    """The real V2 factory and four test tokens on the shared anvil, removed afterwards."""
    snapshot = anvil_session.snapshot()
    with anvil_session.rpc() as rpc:
        sender = UnlockedSender(rpc, rpc.call("eth_accounts")[0])
        factory = _deploy(
            sender,
            load_npm_artifact("UniswapV2Factory").bytecode
            + eth_abi.encode(["address"], [sender.address]),
        )
        erc20 = load_project_artifact("TestERC20")
        tokens = []
        for i, decimals in enumerate(TOKEN_DECIMALS):
            args = eth_abi.encode(["string", "string", "uint8"], [f"V2 {i}", f"T{i}", decimals])
            token = _deploy(sender, erc20.bytecode + args)
            sender.send(Call(to=token, data=abi.TEST_ERC20_MINT.encode(sender.address, 1 << 200)))
            tokens.append((token, decimals))
        yield V2Lab(
            node=anvil_session, rpc=rpc, sender=sender, factory=factory, tokens=tuple(tokens)
        )
    assert anvil_session.revert(snapshot), "evm_revert refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class V2Swap:
    zero_for_one: bool
    exact_input: bool
    share_q32: int  # exact input: of reserve_in; exact output: of reserve_out - 1
    scale: int  # exact input: times 2**scale (capped by uint112); exact output: 2**-|scale|


@dataclass(frozen=True, slots=True, kw_only=True)
class V2Case:
    token_a: int
    token_b: int
    reserve_a: int
    reserve_b: int
    swaps: tuple[V2Swap, ...]


@st.composite
def _reserve(draw: st.DrawFn, decimals: int) -> int:
    """A raw reserve from 10**4 wei up to a trillion tokens, sometimes at the uint112 edge."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.integers(MAX_UINT112 >> 4, MAX_UINT112 >> 1))
    exponent = draw(st.integers(5, decimals + 12))
    return draw(st.integers(max(10 ** (exponent - 1), _MINIMUM_RESERVE), 10**exponent))


@st.composite
def v2_cases(draw: st.DrawFn) -> V2Case:
    token_a, token_b = draw(
        st.lists(st.integers(0, len(TOKEN_DECIMALS) - 1), min_size=2, max_size=2, unique=True)
    )
    swaps = draw(
        st.lists(
            st.builds(
                V2Swap,
                zero_for_one=st.booleans(),
                exact_input=st.booleans(),
                share_q32=st.integers(1, 1 << 32),
                scale=st.integers(-40, 12),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return V2Case(
        token_a=token_a,
        token_b=token_b,
        reserve_a=draw(_reserve(TOKEN_DECIMALS[token_a])),
        reserve_b=draw(_reserve(TOKEN_DECIMALS[token_b])),
        swaps=tuple(swaps),
    )


def _call(to: str, data: bytes, label: str) -> Call:
    return Call(to=to, data=data, gas_units=3_000_000, label=label)


def _eth_call_reason(lab: V2Lab, to: str, data: bytes) -> str | None:
    """eth_call from the lab's account; return the revert reason, or None if it succeeds."""
    params = {"from": lab.sender.address, "to": to, "data": "0x" + data.hex()}
    try:
        lab.rpc.call("eth_call", params, "latest")
    except RpcResponseError as exc:
        data_hex = exc.data
        if isinstance(data_hex, str) and data_hex.startswith("0x"):
            return decode_revert(bytes.fromhex(data_hex[2:]))
        return exc.message
    return None


def _python_reason(
    reserves: tuple[int, int], amounts_in: tuple[int, int], out: tuple[int, int]
) -> str | None:
    """Return swap_reserves' revert code for these amounts, or None if the swap passes."""
    try:
        swap_reserves(*reserves, *amounts_in, *out)
    except EvmRevert as exc:
        return exc.code
    return None


def _reserves(lab: V2Lab, pair: str) -> tuple[int, int]:
    out = lab.rpc.call(
        "eth_call", {"to": pair, "data": "0x" + abi.V2_PAIR_GET_RESERVES.encode().hex()}, "latest"
    )
    reserve0, reserve1, _ = abi.V2_PAIR_GET_RESERVES.decode_output(bytes.fromhex(out[2:]))
    return reserve0, reserve1


@dataclass(slots=True)
class PairOnChain:
    address: str
    token0: str
    token1: str
    reserves: tuple[int, int]  # as the Python side tracks them


def _create_pair(lab: V2Lab, case: V2Case) -> PairOnChain:
    """Create the pair and add the case's reserves with transfer + mint, in one block."""
    me = lab.sender.address
    (address_a, _), (address_b, _) = lab.tokens[case.token_a], lab.tokens[case.token_b]
    create = abi.V2_FACTORY_CREATE_PAIR.encode(address_a, address_b)
    out = lab.rpc.call(
        "eth_call", {"from": me, "to": lab.factory, "data": "0x" + create.hex()}, "latest"
    )
    (address,) = abi.V2_FACTORY_CREATE_PAIR.decode_output(bytes.fromhex(out[2:]))
    address = to_checksum_address(address)
    a_is_token0 = int(address_a, 16) < int(address_b, 16)
    token0, token1 = (address_a, address_b) if a_is_token0 else (address_b, address_a)
    reserves = (case.reserve_a, case.reserve_b) if a_is_token0 else (case.reserve_b, case.reserve_a)
    send_unlocked_blocks(
        lab.rpc,
        [
            (me, _call(lab.factory, create, "createPair")),
            (me, _call(token0, abi.ERC20_TRANSFER.encode(address, reserves[0]), "fund token0")),
            (me, _call(token1, abi.ERC20_TRANSFER.encode(address, reserves[1]), "fund token1")),
            (me, _call(address, _PAIR_MINT.encode(me), "mint")),
        ],
    )
    assert _reserves(lab, address) == reserves
    return PairOnChain(address=address, token0=token0, token1=token1, reserves=reserves)


def _pay(lab: V2Lab, token: str, pair: str, amount: int) -> None:
    transfer = _call(token, abi.ERC20_TRANSFER.encode(pair, amount), "pay the pair")
    send_unlocked_blocks(lab.rpc, [(lab.sender.address, transfer)])


def _check_swap(lab: V2Lab, pair: PairOnChain, step: V2Swap, stats: Counter[str]) -> None:
    """Run one swap the way a router does, checking the quote and its one-wei neighbour."""
    me = lab.sender.address
    token_in = pair.token0 if step.zero_for_one else pair.token1
    reserve_in, reserve_out = pair.reserves if step.zero_for_one else pair.reserves[::-1]
    outs = _out_amounts(step.zero_for_one)
    ins = _out_amounts(not step.zero_for_one)  # the input sits on the other side
    if step.exact_input:
        if reserve_in == MAX_UINT112:
            stats["exact inputs with a full uint112 reserve, skipped"] += 1
            return
        amount_in = reserve_in * step.share_q32 >> 32
        amount_in = amount_in << step.scale if step.scale >= 0 else amount_in >> -step.scale
        amount_in = min(max(1, amount_in), MAX_UINT112 - reserve_in)
        amount_out = get_amount_out(amount_in, reserve_in, reserve_out)
        _pay(lab, token_in, pair.address, amount_in)
        # one wei more than the quote fails the K check (or takes the last wei)
        more = _PAIR_SWAP.encode(*outs(amount_out + 1), me, b"")
        reason = _eth_call_reason(lab, pair.address, more)
        expected = _python_reason(pair.reserves, ins(amount_in), outs(amount_out + 1))
        assert reason == expected, f"one wei more: pool {reason!r}, Python {expected!r}"
        assert reason in ("UniswapV2: K", "UniswapV2: INSUFFICIENT_LIQUIDITY"), reason
        stats[f"one wei more reverted {reason}"] += 1
        if amount_out == 0:
            # the input buys nothing: it stays in the pair as a donation
            send_unlocked_blocks(lab.rpc, [(me, _call(pair.address, _PAIR_SYNC.encode(), "sync"))])
            pair.reserves = _donation(pair.reserves, ins(amount_in))
            assert _reserves(lab, pair.address) == pair.reserves
            stats["inputs too small to buy a wei"] += 1
            return
    else:
        amount_out = max(1, (reserve_out - 1) * step.share_q32 >> 32 >> abs(step.scale))
        amount_in = get_amount_in(amount_out, reserve_in, reserve_out)
        if reserve_in + amount_in > MAX_UINT112:
            stats["exact outputs beyond uint112, skipped"] += 1
            return
        # one wei short of the quote: the pool and swap_reserves must judge it alike
        _pay(lab, token_in, pair.address, amount_in - 1)
        exact = _PAIR_SWAP.encode(*outs(amount_out), me, b"")
        reason = _eth_call_reason(lab, pair.address, exact)
        expected = _python_reason(pair.reserves, ins(amount_in - 1), outs(amount_out))
        assert reason == expected, f"one wei short: pool {reason!r}, Python {expected!r}"
        stats[f"one wei short: {reason or 'passes'}"] += 1
        _pay(lab, token_in, pair.address, 1)
    expected_reserves = swap_reserves(*pair.reserves, *ins(amount_in), *outs(amount_out))
    swap_call = _call(pair.address, _PAIR_SWAP.encode(*outs(amount_out), me, b""), "swap")
    send_unlocked_blocks(lab.rpc, [(me, swap_call)])
    pair.reserves = _reserves(lab, pair.address)
    assert pair.reserves == expected_reserves
    stats["swaps"] += 1
    stats["exact input" if step.exact_input else "exact output"] += 1


def _donation(reserves: tuple[int, int], amounts_in: tuple[int, int]) -> tuple[int, int]:
    """Return the reserves after tokens were sent to the pair and `sync` was called."""
    return reserves[0] + amounts_in[0], reserves[1] + amounts_in[1]


def _out_amounts(zero_for_one: bool) -> Callable[[int], tuple[int, int]]:
    """Return amount -> (amount0, amount1) with the amount on token1's side if zero_for_one."""
    if zero_for_one:
        return lambda amount: (0, amount)
    return lambda amount: (amount, 0)


def test_v2_swaps_match_the_pair(v2_lab: V2Lab) -> None:
    stats: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=v2_cases())
    def check(case: V2Case) -> None:
        snapshot = v2_lab.node.snapshot()
        try:
            pair = _create_pair(v2_lab, case)
            for step in case.swaps:
                _check_swap(v2_lab, pair, step, stats)
        finally:
            assert v2_lab.node.revert(snapshot), "evm_revert refused"

    check()
    print("\nV2 differential:", ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())))
    assert stats["swaps"] >= MIN_SWAPS, stats
    assert stats["one wei more reverted UniswapV2: K"] > 0, stats
    assert stats["exact output"] > 0, stats

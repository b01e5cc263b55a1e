"""A Uniswap V3 laboratory on anvil: the real factory, two test tokens and V3PoolHarness.

`V3Lab.deploy` puts the npm `UniswapV3Factory` (with fee 100 / tick spacing 1 enabled), two
18-decimal `TestERC20` tokens and `contracts/src/test/V3PoolHarness.sol` on a node, and mints
both tokens to the harness. Pools are then cheap: `create_pool` makes and initializes one,
`modify` mints and burns positions owned by the harness, `quote_swap` reads a swap's amounts
(or its revert reason) with `eth_call`, `swap` sends it (quoting first by default) and reads
slot0 and liquidity after it, and `read_state` reads price, tick, liquidity and every
initialized tick, so the pool can be compared with an `amm_math` V3PoolState.

Differential tests use it; benchmarks can. Transactions come from one unlocked account and
are mined explicitly (`evm_mine`), one block per swap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import eth_abi
from eth_utils import to_checksum_address

from amm_math.uniswap_v3.pool import V3PoolState
from amm_math.uniswap_v3.tick_math import MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK
from chains import abi
from chains.abi_fn import AbiFunction
from chains.artifacts import load_npm_artifact, load_project_artifact
from chains.rpc import HttpRpc, RpcResponseError
from sim.txs import Call, TxReverted, UnlockedSender, decode_revert, hex_int, send_unlocked_blocks

__all__ = [
    "TICK_SPACING_BY_FEE_PIPS",
    "PoolSlot",
    "PositionOp",
    "SwapOutcome",
    "V3ChainState",
    "V3Lab",
    "tick_word",
]

TICK_SPACING_BY_FEE_PIPS = MappingProxyType({100: 1, 500: 10, 3000: 60, 10000: 200})
"""The fee tiers the lab's factory accepts: fee in pips -> tick spacing."""

TOKEN_BALANCE_WEI = 2**200
"""What the harness holds of each token: far above any swap a V3 pool can settle."""

HARNESS_MINT = AbiFunction("mint(address,int24,int24,uint128)", "(uint256,uint256)")
HARNESS_BURN = AbiFunction("burn(address,int24,int24,uint128)", "(uint256,uint256)")
HARNESS_SWAP = AbiFunction("swap(address,bool,int256,uint160)", "(int256,int256)")
HARNESS_POOL_STATE = AbiFunction("poolState(address)", "(uint160,int24,uint128)")
HARNESS_INITIALIZED_TICKS = AbiFunction(
    "initializedTicks(address,int16,int16)", "(int24[],uint128[],int128[])"
)

_WORDS_PER_CALL = 4096  # a full scan at tick spacing 1 (6,932 words) takes two calls
_DEPLOY_GAS_UNITS = 12_000_000
_CREATE_POOL_GAS_UNITS = 6_000_000
_POSITION_GAS_UNITS = 1_000_000
_MAX_CALL_GAS_UNITS = 1_000_000_000


def tick_word(tick: int, tick_spacing: int) -> int:
    """Return the tickBitmap word holding `tick` (TickBitmap.position: floor division)."""
    return (tick // tick_spacing) >> 8


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSlot:
    """slot0's price and tick and the in-range liquidity of a pool."""

    sqrt_price_x96: int
    tick: int
    liquidity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class V3ChainState:
    """A pool as read from the chain: slot0, liquidity and every initialized tick."""

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee_pips: int
    tick_spacing: int
    liquidity_net: dict[int, int]  # initialized tick -> liquidityNet
    liquidity_gross: dict[int, int]  # initialized tick -> liquidityGross (> 0)

    def to_pool_state(self) -> V3PoolState:
        """Return the amm_math state this chain state describes."""
        return V3PoolState(
            sqrt_price_x96=self.sqrt_price_x96,
            tick=self.tick,
            liquidity=self.liquidity,
            fee_pips=self.fee_pips,
            tick_spacing=self.tick_spacing,
            ticks=dict(self.liquidity_net),
            liquidity_gross=dict(self.liquidity_gross),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionOp:
    """Mint or burn `liquidity` of the harness's position [tick_lower, tick_upper)."""

    kind: Literal["mint", "burn"]
    tick_lower: int
    tick_upper: int
    liquidity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SwapOutcome:
    """A sent swap: the pool-side signed amounts and the pool's slot0/liquidity after it."""

    amount0: int
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    gas_used: int


@dataclass(slots=True)
class V3Lab:
    """Handles to a deployed lab; build it with `V3Lab.deploy`."""

    rpc: HttpRpc
    deployer: UnlockedSender
    factory: str
    token0: str
    token1: str
    harness: str
    call_gas_units: int
    pools: dict[str, tuple[int, int]]  # pool -> (fee_pips, tick_spacing)

    @classmethod
    def deploy(cls, rpc: HttpRpc, *, deployer: str | None = None) -> V3Lab:
        """Deploy the factory, two tokens and the harness from `deployer` (default: account 0)."""
        if deployer is None:
            deployer = rpc.call("eth_accounts")[0]
        sender = UnlockedSender(rpc, deployer)
        factory = _deploy(sender, load_npm_artifact("UniswapV3Factory").bytecode, "factory")
        sender.send(
            Call(
                to=factory,
                data=abi.V3_FACTORY_ENABLE_FEE_AMOUNT.encode(100, TICK_SPACING_BY_FEE_PIPS[100]),
                gas_units=100_000,
                label="enableFeeAmount(100, 1)",
            )
        )
        erc20 = load_project_artifact("TestERC20")
        tokens = [
            _deploy(
                sender,
                erc20.bytecode + eth_abi.encode(["string", "string", "uint8"], [f"Lab {s}", s, 18]),
                f"token {s}",
            )
            for s in ("LA", "LB")
        ]
        token0, token1 = sorted(tokens, key=lambda a: int(a, 16))
        harness = _deploy(sender, load_project_artifact("V3PoolHarness").bytecode, "harness")
        for token in (token0, token1):
            sender.send(
                Call(
                    to=token,
                    data=abi.TEST_ERC20_MINT.encode(harness, TOKEN_BALANCE_WEI),
                    gas_units=100_000,
                    label="mint to harness",
                )
            )
        block = rpc.call("eth_getBlockByNumber", "latest", False)
        gas_units = min(hex_int(block["gasLimit"]), _MAX_CALL_GAS_UNITS)
        return cls(
            rpc=rpc,
            deployer=sender,
            factory=factory,
            token0=token0,
            token1=token1,
            harness=harness,
            call_gas_units=gas_units,
            pools={},
        )

    def create_pool(self, fee_pips: int, sqrt_price_x96: int) -> str:
        """Create the token0/token1 pool of this fee tier and initialize it; return its address."""
        spacing = TICK_SPACING_BY_FEE_PIPS[fee_pips]
        create = abi.V3_FACTORY_CREATE_POOL.encode(self.token0, self.token1, fee_pips)
        (pool,) = abi.V3_FACTORY_CREATE_POOL.decode_output(self._eth_call(self.factory, create))
        pool = to_checksum_address(pool)
        me = self.deployer.address
        send_unlocked_blocks(
            self.rpc,
            [
                (me, Call(to=self.factory, data=create, gas_units=_CREATE_POOL_GAS_UNITS)),
                (
                    me,
                    Call(
                        to=pool,
                        data=abi.V3_POOL_INITIALIZE.encode(sqrt_price_x96),
                        gas_units=200_000,
                        label=f"initialize({sqrt_price_x96})",
                    ),
                ),
            ],
        )
        self.pools[pool] = (fee_pips, spacing)
        return pool

    def modify(self, pool: str, ops: Sequence[PositionOp]) -> list[tuple[int, int]]:
        """Apply mints and burns in order, packed into blocks; return each (amount0, amount1).

        The amounts are those of the pool's Mint and Burn events. A reverting op raises
        TxReverted (after the ops before it have landed).
        """
        items = []
        for op in ops:
            fn = HARNESS_MINT if op.kind == "mint" else HARNESS_BURN
            data = fn.encode(pool, op.tick_lower, op.tick_upper, op.liquidity)
            label = f"{op.kind} [{op.tick_lower}, {op.tick_upper}) {op.liquidity}"
            items.append(
                (
                    self.deployer.address,
                    Call(to=self.harness, data=data, gas_units=_POSITION_GAS_UNITS, label=label),
                )
            )
        receipts = send_unlocked_blocks(self.rpc, items, block_gas_units=self.call_gas_units)
        return [_position_amounts(pool, op, r) for op, r in zip(ops, receipts, strict=True)]

    def mint(self, pool: str, tick_lower: int, tick_upper: int, liquidity: int) -> tuple[int, int]:
        """Mint liquidity to the harness's position; return the (amount0, amount1) paid."""
        op = PositionOp(
            kind="mint", tick_lower=tick_lower, tick_upper=tick_upper, liquidity=liquidity
        )
        return self.modify(pool, [op])[0]

    def burn(self, pool: str, tick_lower: int, tick_upper: int, liquidity: int) -> tuple[int, int]:
        """Burn liquidity of the harness's position and collect; return the burn amounts."""
        op = PositionOp(
            kind="burn", tick_lower=tick_lower, tick_upper=tick_upper, liquidity=liquidity
        )
        return self.modify(pool, [op])[0]

    def quote_swap(
        self, pool: str, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> tuple[int, int]:
        """eth_call the harness swap; return (amount0, amount1) or raise TxReverted(reason)."""
        data = HARNESS_SWAP.encode(pool, zero_for_one, amount_specified, sqrt_price_limit_x96)
        try:
            out = self._eth_call(self.harness, data)
        except RpcResponseError as exc:
            raise TxReverted("swap", _revert_reason(exc)) from None
        amount0, amount1 = HARNESS_SWAP.decode_output(out)
        return int(amount0), int(amount1)

    def swap(
        self,
        pool: str,
        zero_for_one: bool,
        amount_specified: int,
        sqrt_price_limit_x96: int | None = None,
        *,
        quote_first: bool = True,
    ) -> SwapOutcome:
        """Swap through the harness (None limit: MIN+1 or MAX-1, like the pool's extremes).

        With `quote_first`, eth_call the swap first: a revert raises TxReverted with the
        pool's reason and sends nothing, and the sent swap must move what was quoted.
        Without it the swap is sent at once, so the EVM runs it once (a sweep across every
        bitmap word at tick spacing 1 takes a quarter of a second); a revert then lands as a
        failed transaction and raises TxReverted with the reason of its replay. The amounts
        are the pool's Swap event's; slot0 and liquidity are read after the swap.
        """
        if sqrt_price_limit_x96 is None:
            sqrt_price_limit_x96 = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
        quoted = None
        if quote_first:
            quoted = self.quote_swap(pool, zero_for_one, amount_specified, sqrt_price_limit_x96)
        data = HARNESS_SWAP.encode(pool, zero_for_one, amount_specified, sqrt_price_limit_x96)
        call = Call(to=self.harness, data=data, gas_units=self.call_gas_units, label="swap")
        # mined explicitly (evm_mine answers once the block is sealed): waiting for an
        # automined receipt costs several milliseconds of polling per swap
        (receipt,) = send_unlocked_blocks(
            self.rpc, [(self.deployer.address, call)], block_gas_units=self.call_gas_units
        )
        swaps = [
            abi.V3_SWAP.decode(
                [bytes.fromhex(t[2:]) for t in log["topics"]], bytes.fromhex(log["data"][2:])
            )
            for log in receipt["logs"]
            if int(log["address"], 16) == int(pool, 16)
            and log["topics"]
            and bytes.fromhex(log["topics"][0][2:]) == abi.V3_SWAP.topic0
        ]
        if len(swaps) != 1:
            raise RuntimeError(f"swap tx {receipt['transactionHash']}: {len(swaps)} Swap events")
        _, _, amount0, amount1, event_sqrt, event_liquidity, event_tick = swaps[0]
        if quoted is not None and (amount0, amount1) != quoted:
            raise RuntimeError(
                f"swap tx {receipt['transactionHash']} moved {(amount0, amount1)}, "
                f"its eth_call quoted {quoted}"
            )
        slot = self.pool_slot(pool)
        if (slot.sqrt_price_x96, slot.tick, slot.liquidity) != (
            event_sqrt,
            event_tick,
            event_liquidity,
        ):
            raise RuntimeError(f"pool {pool}: state {slot} differs from its Swap event")
        return SwapOutcome(
            amount0=amount0,
            amount1=amount1,
            sqrt_price_x96=slot.sqrt_price_x96,
            tick=slot.tick,
            liquidity=slot.liquidity,
            gas_used=hex_int(receipt["gasUsed"]),
        )

    def pool_slot(self, pool: str) -> PoolSlot:
        """Read slot0's price and tick and the liquidity of `pool` in one call."""
        out = self._eth_call(self.harness, HARNESS_POOL_STATE.encode(pool))
        sqrt_price_x96, tick, liquidity = HARNESS_POOL_STATE.decode_output(out)
        return PoolSlot(sqrt_price_x96=sqrt_price_x96, tick=tick, liquidity=liquidity)

    def read_state(
        self, pool: str, *, ticks_between: tuple[int, int] | None = None
    ) -> V3ChainState:
        """Read slot0, liquidity and the initialized ticks of `pool` in one batch.

        `ticks_between` (lowest, highest tick) narrows the bitmap scan to the words holding
        them; by default every word from MIN_TICK to MAX_TICK is scanned.
        """
        fee_pips, spacing = self.pools[pool]
        low, high = (MIN_TICK, MAX_TICK) if ticks_between is None else ticks_between
        first, last = tick_word(low, spacing), tick_word(high, spacing)
        calls: list[tuple[str, list[Any]]] = [self._call_params(HARNESS_POOL_STATE.encode(pool))]
        for start in range(first, last + 1, _WORDS_PER_CALL):
            end = min(start + _WORDS_PER_CALL - 1, last)
            calls.append(self._call_params(HARNESS_INITIALIZED_TICKS.encode(pool, start, end)))
        results = self.rpc.batch(calls)
        sqrt_price_x96, tick, liquidity = HARNESS_POOL_STATE.decode_output(_hex(results[0]))
        net: dict[int, int] = {}
        gross: dict[int, int] = {}
        for result in results[1:]:
            ticks, gross_values, net_values = HARNESS_INITIALIZED_TICKS.decode_output(_hex(result))
            for t, g, n in zip(ticks, gross_values, net_values, strict=True):
                net[t] = n
                gross[t] = g
        return V3ChainState(
            sqrt_price_x96=sqrt_price_x96,
            tick=tick,
            liquidity=liquidity,
            fee_pips=fee_pips,
            tick_spacing=spacing,
            liquidity_net=net,
            liquidity_gross=gross,
        )

    def _call_params(self, data: bytes) -> tuple[str, list[Any]]:
        params = {
            "from": self.deployer.address,
            "to": self.harness,
            "data": "0x" + data.hex(),
            "gas": hex(self.call_gas_units),
        }
        return ("eth_call", [params, "latest"])

    def _eth_call(self, to: str, data: bytes) -> bytes:
        params = {
            "from": self.deployer.address,
            "to": to,
            "data": "0x" + data.hex(),
            "gas": hex(self.call_gas_units),
        }
        return _hex(self.rpc.call("eth_call", params, "latest"))


def _deploy(sender: UnlockedSender, init_code: bytes, label: str) -> str:
    receipt = sender.send(
        Call(to=None, data=init_code, gas_units=_DEPLOY_GAS_UNITS, label=f"deploy {label}")
    )
    return to_checksum_address(receipt["contractAddress"])


def _position_amounts(pool: str, op: PositionOp, receipt: dict[str, Any]) -> tuple[int, int]:
    """Return (amount0, amount1) of the pool's Mint or Burn event in `receipt`."""
    event = abi.V3_MINT if op.kind == "mint" else abi.V3_BURN
    for log in receipt["logs"]:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        if int(log["address"], 16) != int(pool, 16) or not topics or topics[0] != event.topic0:
            continue
        values = event.decode(topics, bytes.fromhex(log["data"][2:]))
        return int(values[-2]), int(values[-1])
    raise RuntimeError(f"{op.kind} tx {receipt['transactionHash']}: no {event.name} event")


def _revert_reason(exc: RpcResponseError) -> str:
    data = exc.data
    if isinstance(data, str) and data.startswith("0x"):
        return decode_revert(bytes.fromhex(data[2:]))
    return exc.message


def _hex(value: str) -> bytes:
    return bytes.fromhex(value[2:])

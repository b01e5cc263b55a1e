"""Traffic: the world's users trading through the real routers, block after block.

A seeded random stream of V2/V3 swaps (exact in and exact out, multi-hop) through Router02,
SwapRouter, SwapRouter02 and UniversalRouter, V3 mints and burns through the position
manager, V2 liquidity adds and removes, and now and then a new pool. Transactions are signed
locally (the node sees raw bytes, as from a real wallet) and wait in the mempool until a block
is mined. Every receipt is read back and counted: what was sent, what landed, what reverted,
and which pool events it produced.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from chains import abi
from chains import abi_routers as r
from chains.rpc import HttpRpc, RpcResponseError
from sim.traffic_actions import ACTIONS, NPM_MULTICALL, Action, Market, Position
from sim.txs import Call, RawSigner, hex_int
from sim.world import user_key
from sim.world_liquidity import align_tick, sqrt_price_x96_of, tick_of_price
from sim.world_manifest import Manifest, PoolEntry
from sim.world_spec import V3_TICK_SPACING_BY_FEE_PIPS

__all__ = ["SentTx", "Traffic", "TrafficConfig", "TrafficStats"]

DEFAULT_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("v2_exact_in", 3.0),
    ("v2_exact_out", 1.5),
    ("v2_multihop", 1.0),
    ("v2_eth_in", 1.0),
    ("v3_exact_in", 3.0),
    ("v3_exact_out", 1.5),
    ("v3_multihop", 1.0),
    ("v3_swap", 2.0),
    ("v2_swap", 1.0),
    ("eth_in_swap", 1.5),
    ("v3_mint", 1.0),
    ("v3_burn", 0.8),
    ("v2_add", 0.6),
    ("v2_remove", 0.4),
)

_INCREASE_LIQUIDITY = abi.AbiEvent(
    "IncreaseLiquidity(uint256,uint128,uint256,uint256)", (True, False, False, False)
)
_EVENT_NAMES = {
    abi.V2_SWAP.topic0: "v2_swap",
    abi.V2_SYNC.topic0: "v2_sync",
    abi.V2_MINT.topic0: "v2_mint",
    abi.V2_BURN.topic0: "v2_burn",
    abi.V3_SWAP.topic0: "v3_swap",
    abi.V3_MINT.topic0: "v3_mint",
    abi.V3_BURN.topic0: "v3_burn",
    abi.V3_INITIALIZE.topic0: "v3_initialize",
    abi.V2_PAIR_CREATED.topic0: "pair_created",
    abi.V3_POOL_CREATED.topic0: "pool_created",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficConfig:
    """How busy the world's users are."""

    seed: int = 1
    txs_per_block: int = 8
    weights: tuple[tuple[str, float], ...] = DEFAULT_WEIGHTS
    new_pool_probability: float = 0.05  # per block
    priority_fee_wei: tuple[int, int] = (1_000_000_000, 3_000_000_000)
    new_pool_depth_eth: float = 5.0

    def __post_init__(self) -> None:
        known = {a.name for a in ACTIONS}
        for name, weight in self.weights:
            if name not in known:
                raise ValueError(f"unknown traffic action {name!r}; known: {sorted(known)}")
            if weight < 0:
                raise ValueError(f"negative weight for {name!r}")
        if self.txs_per_block < 0:
            raise ValueError("txs_per_block must be >= 0")
        if not 0 <= self.new_pool_probability <= 1:
            raise ValueError("new_pool_probability must be in [0, 1]")


@dataclass(slots=True)
class SentTx:
    """A signed user transaction and what became of it."""

    tx_hash: str
    raw: bytes
    sender: str
    nonce: int
    action: str
    router: str
    status: str = "pending"  # pending | success | reverted | rejected
    block_number: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class TrafficStats:
    """Counts of what the traffic did."""

    blocks: int = 0
    by_action: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    new_pools: list[PoolEntry] = field(default_factory=list)

    def count(self, router: str, action: str, outcome: str) -> None:
        self.by_action[(router, action, outcome)] += 1

    def total(self, outcome: str) -> int:
        """Return how many transactions ended with this outcome."""
        return sum(n for (_, _, o), n in self.by_action.items() if o == outcome)

    def by_router(self) -> dict[str, Counter[str]]:
        """Return outcome counts per router."""
        out: dict[str, Counter[str]] = {}
        for (router, _action, outcome), n in self.by_action.items():
            out.setdefault(router, Counter())[outcome] += n
        return out


class Traffic:
    """Seeded users acting through the world's routers; signs and sends, then reads receipts."""

    def __init__(self, rpc: HttpRpc, manifest: Manifest, config: TrafficConfig) -> None:
        self.rpc = rpc
        self.manifest = manifest
        self.config = config
        self.rng = random.Random(config.seed)
        self.users = [
            RawSigner(user_key(manifest.seed, i), manifest.chain_id)
            for i in range(len(manifest.users))
        ]
        for signer, address in zip(self.users, manifest.users, strict=True):
            if signer.address != address:
                raise ValueError("manifest users do not match the world's seed")
        self.market = Market(manifest=manifest, pools=list(manifest.pools))
        self.stats = TrafficStats()
        self.in_flight: list[SentTx] = []
        self.sent: list[SentTx] = []
        self._nonces: dict[str, int] = {}
        self._actions = {a.name: a for a in ACTIONS}
        self._factories = {v["factory"].lower(): name for name, v in manifest.venues.items()}

    # -- what users see ------------------------------------------------------------------

    def refresh(self) -> None:
        """Read pool balances, V3 ticks and user nonces from the chain (one batch)."""
        calls: list[tuple[str, list[Any]]] = []
        for pool in self.market.pools:
            for token in (pool.token0, pool.token1):
                data = abi.ERC20_BALANCE_OF.encode(pool.address)
                calls.append(("eth_call", [{"to": token, "data": "0x" + data.hex()}, "latest"]))
        v3 = [p for p in self.market.pools if p.kind == "v3"]
        for pool in v3:
            data = abi.V3_POOL_SLOT0.encode()
            calls.append(("eth_call", [{"to": pool.address, "data": "0x" + data.hex()}, "latest"]))
        for user in self.users:
            calls.append(("eth_getTransactionCount", [user.address, "pending"]))
        results = iter(self.rpc.batch(calls))
        for pool in self.market.pools:
            b0 = hex_int(next(results))
            b1 = hex_int(next(results))
            self.market.pool_balances[pool.address] = (b0, b1)
        for pool in v3:
            slot0 = abi.V3_POOL_SLOT0.decode_output(bytes.fromhex(next(results)[2:]))
            self.market.v3_ticks[pool.address] = int(slot0[1])
        for user in self.users:
            self._nonces[user.address] = hex_int(next(results))

    # -- building a block's transactions -------------------------------------------------

    def _pick_action(self) -> Action:
        names = [n for n, _ in self.config.weights]
        weights = [w for _, w in self.config.weights]
        return self._actions[self.rng.choices(names, weights)[0]]

    def build_block(self) -> list[SentTx]:
        """Choose, build and sign this block's user transactions (nothing is sent yet)."""
        latest = self.rpc.call("eth_getBlockByNumber", "latest", False)
        base_fee = hex_int(latest.get("baseFeePerGas", "0x0"))
        txs: list[SentTx] = []
        if self.rng.random() < self.config.new_pool_probability:
            user = self.rng.choice(self.users)
            built = self._new_pool_call(user.address)
            if built is not None:
                call, meta = built
                txs.append(self._sign(user, call, "new_pool", "factory", base_fee, meta))
        attempts = 0
        while len(txs) < self.config.txs_per_block and attempts < 4 * self.config.txs_per_block:
            attempts += 1
            action = self._pick_action()
            user = self.rng.choice(self.users)
            built = action.build(self.market, user.address, self.rng)
            if built is None:
                continue
            calls = built if isinstance(built, list) else [built]
            for i, call in enumerate(calls):
                # calls before the last prepare it (an approval); only the last is the action
                last = i == len(calls) - 1
                name, router = (
                    (action.name, action.router) if last else (f"{action.name}_prep", "token")
                )
                txs.append(self._sign(user, call, name, router, base_fee, {}))
        return txs

    def _sign(
        self,
        user: RawSigner,
        call: Call,
        action: str,
        router: str,
        base_fee_wei: int,
        meta: dict[str, Any],
    ) -> SentTx:
        nonce = self._nonces[user.address]
        self._nonces[user.address] = nonce + 1
        low, high = self.config.priority_fee_wei
        tip = self.rng.randint(low, high)
        raw, tx_hash = user.sign(
            call,
            nonce=nonce,
            max_fee_per_gas_wei=2 * base_fee_wei + tip,
            max_priority_fee_per_gas_wei=tip,
        )
        return SentTx(
            tx_hash=tx_hash,
            raw=raw,
            sender=user.address,
            nonce=nonce,
            action=action,
            router=router,
            meta=meta,
        )

    def _new_pool_call(self, user: str) -> tuple[Call, dict[str, Any]] | None:
        """Return a call that creates a pool that does not exist yet, with liquidity."""
        m = self.market
        existing = {(p.venue, frozenset((p.token0, p.token1)), p.fee_pips) for p in m.pools}
        prices = self.manifest.extra.get("prices_eth", {})
        tokens = [t for t in self.manifest.tokens if t.symbol in prices]
        v2_venues = [n for n, v in self.manifest.venues.items() if v["kind"] == "v2"]
        v3_venues = [n for n, v in self.manifest.venues.items() if v["kind"] == "v3"]
        options: list[tuple[str, int, Any, Any]] = []
        for a, b in itertools.combinations(tokens, 2):
            pair = frozenset((a.address, b.address))
            for venue in v2_venues:
                if (venue, pair, 3000) not in existing:
                    options.append((venue, 3000, a, b))
            for venue in v3_venues:
                for fee in sorted(V3_TICK_SPACING_BY_FEE_PIPS):
                    if (venue, pair, fee) not in existing:
                        options.append((venue, fee, a, b))
        if not options:
            return None
        venue, fee, a, b = self.rng.choice(options)
        if int(a.address, 16) > int(b.address, 16):
            a, b = b, a
        depth = self.config.new_pool_depth_eth
        amount0 = int(depth / prices[a.symbol] * 10**a.decimals)
        amount1 = int(depth / prices[b.symbol] * 10**b.decimals)
        meta = {"venue": venue, "fee_pips": fee, "token0": a.address, "token1": b.address}
        if venue in v2_venues:
            data = r.R02_ADD_LIQUIDITY.encode(
                a.address, b.address, amount0, amount1, 0, 0, user, 2**40
            )
            router = self.manifest.contracts[f"{venue}_router02"]
            return Call(to=router, data=data, gas_units=3_500_000), meta
        price = amount1 / amount0
        spacing = V3_TICK_SPACING_BY_FEE_PIPS[fee]
        tick = align_tick(tick_of_price(price), spacing)
        lower, upper = tick - 50 * spacing, tick + 50 * spacing
        create = r.NPM_CREATE_AND_INIT.encode(a.address, b.address, fee, sqrt_price_x96_of(price))
        mint = r.NPM_MINT.encode(
            (a.address, b.address, fee, lower, upper, amount0, amount1, 0, 0, user, 2**40)
        )
        npm = self.manifest.contracts["nonfungible_position_manager"]
        return Call(to=npm, data=NPM_MULTICALL.encode([create, mint]), gas_units=7_000_000), meta

    # -- sending and settling ------------------------------------------------------------

    def send(self, txs: list[SentTx]) -> None:
        """Send signed transactions to the node's mempool (one batch)."""
        if not txs:
            return
        calls = [("eth_sendRawTransaction", ["0x" + tx.raw.hex()]) for tx in txs]
        try:
            self.rpc.batch(calls)
            results: list[Any] = [None] * len(txs)
        except RpcResponseError:
            # one refusal fails the whole batch: resend one by one to learn which
            results = []
            for method, params in calls:
                try:
                    self.rpc.call(method, *params)
                    results.append(None)
                except RpcResponseError as exc:
                    results.append(exc)
        for tx, error in zip(txs, results, strict=True):
            self.sent.append(tx)
            if error is None:
                self.in_flight.append(tx)
            else:
                tx.status = "rejected"
                tx.meta["error"] = str(error)
                self.stats.count(tx.router, tx.action, "rejected")
                self._nonces.pop(tx.sender, None)

    def settle(self) -> list[SentTx]:
        """Read receipts of in-flight transactions; record outcomes; return those settled."""
        if not self.in_flight:
            return []
        receipts = self.rpc.batch(
            [("eth_getTransactionReceipt", [tx.tx_hash]) for tx in self.in_flight]
        )
        settled: list[SentTx] = []
        still: list[SentTx] = []
        for tx, receipt in zip(self.in_flight, receipts, strict=True):
            if receipt is None:
                still.append(tx)
                continue
            tx.block_number = hex_int(receipt["blockNumber"])
            ok = hex_int(receipt["status"]) == 1
            tx.status = "success" if ok else "reverted"
            self.stats.count(tx.router, tx.action, tx.status)
            self._apply_receipt(tx, receipt, ok)
            settled.append(tx)
        self.in_flight = still
        return settled

    def _apply_receipt(self, tx: SentTx, receipt: dict[str, Any], ok: bool) -> None:
        logs = receipt.get("logs", [])
        names = []
        for log in logs:
            topic0 = bytes.fromhex(log["topics"][0][2:]) if log["topics"] else b""
            name = _EVENT_NAMES.get(topic0)
            if name is not None:
                self.stats.events[name] += 1
                names.append(name)
        tx.meta["events"] = names
        tx.meta["gas_used"] = hex_int(receipt["gasUsed"])
        if tx.action == "v3_burn":
            token_id = tx.meta.get("token_id")
            for position in list(self.market.positions):
                if position.owner == tx.sender and position.closing:
                    if ok and (token_id is None or position.token_id == token_id):
                        self.market.positions.remove(position)
                        break
                    if not ok:
                        position.closing = False
        if not ok:
            return
        for log in logs:
            topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
            data = bytes.fromhex(log["data"][2:])
            address = to_checksum_address(log["address"])
            if (
                topics
                and topics[0] == _INCREASE_LIQUIDITY.topic0
                and tx.action
                in (
                    "v3_mint",
                    "new_pool",
                )
            ):
                token_id, liquidity, _, _ = _INCREASE_LIQUIDITY.decode(topics, data)
                pool = self._pool_of_mint(logs)
                if pool is not None:
                    self.market.positions.append(
                        Position(owner=tx.sender, token_id=token_id, pool=pool, liquidity=liquidity)
                    )
            elif topics and topics[0] == abi.ERC20_TRANSFER_EVENT.topic0 and tx.action == "v2_add":
                if len(topics) == 3 and int.from_bytes(topics[1], "big") == 0:
                    to = to_checksum_address(topics[2][12:])
                    if to == tx.sender:
                        key = (tx.sender, address)
                        value = int.from_bytes(data[:32], "big")
                        self.market.v2_lp[key] = self.market.v2_lp.get(key, 0) + value
            elif topics and topics[0] == abi.V2_PAIR_CREATED.topic0:
                token0, token1, pair, _ = abi.V2_PAIR_CREATED.decode(topics, data)
                self._add_pool(address, pair, token0, token1, 3000, 0, tx)
            elif topics and topics[0] == abi.V3_POOL_CREATED.topic0:
                token0, token1, fee, spacing, pool = abi.V3_POOL_CREATED.decode(topics, data)
                self._add_pool(address, pool, token0, token1, fee, spacing, tx)

    def _pool_of_mint(self, logs: list[dict[str, Any]]) -> PoolEntry | None:
        for log in logs:
            if log["topics"] and bytes.fromhex(log["topics"][0][2:]) == abi.V3_MINT.topic0:
                address = to_checksum_address(log["address"])
                for pool in self.market.pools:
                    if pool.address == address:
                        return pool
        return None

    def _add_pool(
        self,
        factory: str,
        pool: str,
        token0: str,
        token1: str,
        fee_pips: int,
        tick_spacing: int,
        tx: SentTx,
    ) -> None:
        venue = self._factories.get(factory.lower())
        if venue is None:
            return
        kind = self.manifest.venues[venue]["kind"]
        entry = PoolEntry(
            address=to_checksum_address(pool),
            venue=venue,
            kind=kind,
            token0=to_checksum_address(token0),
            token1=to_checksum_address(token1),
            fee_pips=fee_pips,
            tick_spacing=tick_spacing,
            created_block=tx.block_number or 0,
        )
        self.market.pools.append(entry)
        self.stats.new_pools.append(entry)

    # -- driving blocks ------------------------------------------------------------------

    def step(self, *, mine: bool = True) -> list[SentTx]:
        """Run one block: read the market, build, sign and send, mine if asked, settle."""
        self.refresh()
        txs = self.build_block()
        self.send(txs)
        if mine:
            self.rpc.call("evm_mine")
        self.stats.blocks += 1
        return self.settle()

    def run(self, blocks: int, *, mine: bool = True) -> TrafficStats:
        """Run several blocks of traffic and return the counts."""
        for _ in range(blocks):
            self.step(mine=mine)
        return self.stats

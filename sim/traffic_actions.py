"""What the world's users do: each action builds one router (or position manager) call.

Actions are pure: they take the user, a view of the pools and a random source and return a
`Call` (or None when the action has no sensible target right now). `sim.traffic` signs and
sends them and records what happened.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import eth_abi

from chains import abi
from chains import abi_routers as r
from sim.txs import Call
from sim.world_liquidity import MAX_TICK, MIN_TICK, align_tick
from sim.world_manifest import Manifest, PoolEntry

__all__ = ["ACTIONS", "Action", "Market", "Position"]

DEADLINE = 2**40
MAX_IN = 2**128  # exact-output users accept any input up to their balance


@dataclass(slots=True)
class Position:
    """A V3 position a user opened through the NonfungiblePositionManager."""

    owner: str
    token_id: int
    pool: PoolEntry
    liquidity: int
    closing: bool = False  # a burn of it is in flight


@dataclass(slots=True)
class Market:
    """What users see before a block: pools, their token balances, V3 ticks, positions."""

    manifest: Manifest
    pools: list[PoolEntry]
    pool_balances: dict[str, tuple[int, int]] = field(default_factory=dict)
    v3_ticks: dict[str, int] = field(default_factory=dict)
    positions: list[Position] = field(default_factory=list)
    v2_lp: dict[tuple[str, str], int] = field(default_factory=dict)  # (user, pair) -> LP

    def contract(self, name: str) -> str:
        return self.manifest.contracts[name]

    def weth(self) -> str:
        return self.manifest.contracts["weth"]


def _amount_in(m: Market, pool: PoolEntry, zero_for_one: bool, rng: random.Random) -> int:
    balance0, balance1 = m.pool_balances.get(pool.address, (0, 0))
    reserve_in = balance0 if zero_for_one else balance1
    return max(1, int(reserve_in * rng.uniform(0.0005, 0.012)))


def _amount_out(m: Market, pool: PoolEntry, zero_for_one: bool, rng: random.Random) -> int:
    balance0, balance1 = m.pool_balances.get(pool.address, (0, 0))
    reserve_out = balance1 if zero_for_one else balance0
    return max(1, int(reserve_out * rng.uniform(0.0005, 0.01)))


def _pick(pools: list[PoolEntry], rng: random.Random) -> PoolEntry | None:
    return rng.choice(pools) if pools else None


def _v2_pools(m: Market, venue: str | None = None) -> list[PoolEntry]:
    return [
        p
        for p in m.pools
        if p.kind == "v2" and (venue is None or p.venue == venue) and p.address in m.pool_balances
    ]


def _v3_pools(m: Market) -> list[PoolEntry]:
    return [p for p in m.pools if p.kind == "v3" and p.address in m.pool_balances]


def _direction(pool: PoolEntry, rng: random.Random) -> tuple[bool, str, str]:
    zero_for_one = rng.random() < 0.5
    if zero_for_one:
        return True, pool.token0, pool.token1
    return False, pool.token1, pool.token0


def _v2_venue(m: Market, rng: random.Random) -> str:
    return rng.choice(_v2_venue_names(m))


def _v2_venue_names(m: Market) -> list[str]:
    return [name for name, v in m.manifest.venues.items() if v["kind"] == "v2"]


def _two_hop(
    pools: list[PoolEntry], rng: random.Random
) -> tuple[PoolEntry, PoolEntry, list[str]] | None:
    """Return two pools and a token path a -> b -> c through them (a != c)."""
    pools = list(pools)
    rng.shuffle(pools)
    for first in pools:
        _, a, b = _direction(first, rng)
        for second in pools:
            if second is first or b not in (second.token0, second.token1):
                continue
            c = second.token1 if second.token0 == b else second.token0
            if c != a:
                return first, second, [a, b, c]
    return None


def router02_exact_in(m: Market, user: str, rng: random.Random) -> Call | None:
    venue = _v2_venue(m, rng)
    pool = _pick(_v2_pools(m, venue), rng)
    if pool is None:
        return None
    z, t_in, t_out = _direction(pool, rng)
    data = r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(
        _amount_in(m, pool, z, rng), 0, [t_in, t_out], user, DEADLINE
    )
    return Call(to=m.contract(f"{venue}_router02"), data=data, gas_units=300_000)


def router02_exact_out(m: Market, user: str, rng: random.Random) -> Call | None:
    venue = _v2_venue(m, rng)
    pool = _pick(_v2_pools(m, venue), rng)
    if pool is None:
        return None
    z, t_in, t_out = _direction(pool, rng)
    data = r.R02_SWAP_TOKENS_FOR_EXACT_TOKENS.encode(
        _amount_out(m, pool, z, rng), MAX_IN, [t_in, t_out], user, DEADLINE
    )
    return Call(to=m.contract(f"{venue}_router02"), data=data, gas_units=300_000)


def router02_multihop(m: Market, user: str, rng: random.Random) -> Call | None:
    venue = _v2_venue(m, rng)
    route = _two_hop(_v2_pools(m, venue), rng)
    if route is None:
        return None
    first, _, path = route
    amount = _amount_in(m, first, first.token0 == path[0], rng)
    data = r.R02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(amount, 0, path, user, DEADLINE)
    return Call(to=m.contract(f"{venue}_router02"), data=data, gas_units=450_000)


def router02_eth_in(m: Market, user: str, rng: random.Random) -> Call | None:
    venue = _v2_venue(m, rng)
    weth = m.weth()
    pools = [p for p in _v2_pools(m, venue) if weth in (p.token0, p.token1)]
    pool = _pick(pools, rng)
    if pool is None:
        return None
    z = pool.token0 == weth
    t_out = pool.token1 if z else pool.token0
    value = _amount_in(m, pool, z, rng)
    data = r.R02_SWAP_EXACT_ETH_FOR_TOKENS.encode(0, [weth, t_out], user, DEADLINE)
    return Call(to=m.contract(f"{venue}_router02"), data=data, value_wei=value, gas_units=300_000)


def swap_router_exact_in_single(m: Market, user: str, rng: random.Random) -> Call | None:
    pool = _pick(_v3_pools(m), rng)
    if pool is None:
        return None
    z, t_in, t_out = _direction(pool, rng)
    params = (t_in, t_out, pool.fee_pips, user, DEADLINE, _amount_in(m, pool, z, rng), 0, 0)
    data = r.SR_EXACT_INPUT_SINGLE.encode(params)
    return Call(to=m.contract("swap_router"), data=data, gas_units=600_000)


def swap_router_exact_out_single(m: Market, user: str, rng: random.Random) -> Call | None:
    pool = _pick(_v3_pools(m), rng)
    if pool is None:
        return None
    z, t_in, t_out = _direction(pool, rng)
    params = (t_in, t_out, pool.fee_pips, user, DEADLINE, _amount_out(m, pool, z, rng), MAX_IN, 0)
    data = r.SR_EXACT_OUTPUT_SINGLE.encode(params)
    return Call(to=m.contract("swap_router"), data=data, gas_units=600_000)


def swap_router_multihop(m: Market, user: str, rng: random.Random) -> Call | None:
    route = _two_hop(_v3_pools(m), rng)
    if route is None:
        return None
    first, last, tokens = route
    fees = [first.fee_pips, last.fee_pips]
    if rng.random() < 0.5:
        amount = _amount_in(m, first, first.token0 == tokens[0], rng)
        params = (r.encode_v3_path(tokens, fees), user, DEADLINE, amount, 0)
        data = r.SR_EXACT_INPUT.encode(params)
    else:
        amount = _amount_out(m, last, last.token0 == tokens[1], rng)
        # exact output paths are encoded from the output token back to the input
        path = r.encode_v3_path(tokens[::-1], fees[::-1])
        data = r.SR_EXACT_OUTPUT.encode((path, user, DEADLINE, amount, MAX_IN))
    return Call(to=m.contract("swap_router"), data=data, gas_units=900_000)


def swap_router02_v3(m: Market, user: str, rng: random.Random) -> Call | None:
    pool = _pick(_v3_pools(m), rng)
    if pool is None:
        return None
    z, t_in, t_out = _direction(pool, rng)
    if rng.random() < 0.6:
        params = (t_in, t_out, pool.fee_pips, user, _amount_in(m, pool, z, rng), 0, 0)
        inner = r.SR02_EXACT_INPUT_SINGLE.encode(params)
    else:
        params = (t_in, t_out, pool.fee_pips, user, _amount_out(m, pool, z, rng), MAX_IN, 0)
        inner = r.SR02_EXACT_OUTPUT_SINGLE.encode(params)
    # half of the calls carry a deadline through multicall(uint256,bytes[])
    data = inner if rng.random() < 0.5 else r.SR02_MULTICALL_DEADLINE.encode(DEADLINE, [inner])
    return Call(to=m.contract("swap_router02"), data=data, gas_units=600_000)


def swap_router02_v2(m: Market, user: str, rng: random.Random) -> Call | None:
    # SwapRouter02's V2 half is bound to the first V2 factory it was deployed with
    venue = _v2_venue_names(m)[0]
    pool = _pick(_v2_pools(m, venue), rng)
    if pool is None:
        return None
    z, t_in, t_out = _direction(pool, rng)
    if rng.random() < 0.6:
        data = r.SR02_SWAP_EXACT_TOKENS_FOR_TOKENS.encode(
            _amount_in(m, pool, z, rng), 0, [t_in, t_out], user
        )
    else:
        data = r.SR02_SWAP_TOKENS_FOR_EXACT_TOKENS.encode(
            _amount_out(m, pool, z, rng), MAX_IN, [t_in, t_out], user
        )
    return Call(to=m.contract("swap_router02"), data=data, gas_units=400_000)


_UR_ADDRESS_THIS = "0x" + "00" * 19 + "02"  # ActionConstants.ADDRESS_THIS


def universal_router_eth_in(m: Market, user: str, rng: random.Random) -> Call | None:
    """ETH in: WRAP_ETH to the router, then a V2 or V3 swap paid by the router."""
    weth = m.weth()
    pools = [p for p in m.pools if weth in (p.token0, p.token1) and p.address in m.pool_balances]
    first_v2 = _v2_venue_names(m)[0]
    # the router's V2 half is bound to the first V2 factory
    pools = [p for p in pools if p.kind == "v3" or p.venue == first_v2]
    pool = _pick(pools, rng)
    if pool is None:
        return None
    z = pool.token0 == weth
    t_out = pool.token1 if z else pool.token0
    value = _amount_in(m, pool, z, rng)
    wrap = eth_abi.encode(["address", "uint256"], [_UR_ADDRESS_THIS, value])
    if pool.kind == "v3":
        command = r.UR_V3_SWAP_EXACT_IN
        path = r.encode_v3_path([weth, t_out], [pool.fee_pips])
        swap = eth_abi.encode(
            ["address", "uint256", "uint256", "bytes", "bool"], [user, value, 0, path, False]
        )
    else:
        command = r.UR_V2_SWAP_EXACT_IN
        swap = eth_abi.encode(
            ["address", "uint256", "uint256", "address[]", "bool"],
            [user, value, 0, [weth, t_out], False],
        )
    data = r.UR_EXECUTE.encode(bytes([r.UR_WRAP_ETH, command]), [wrap, swap], DEADLINE)
    return Call(to=m.contract("universal_router"), data=data, value_wei=value, gas_units=500_000)


def v3_mint(m: Market, user: str, rng: random.Random) -> Call | None:
    pool = _pick([p for p in _v3_pools(m) if p.address in m.v3_ticks], rng)
    if pool is None:
        return None
    spacing = pool.tick_spacing
    tick = m.v3_ticks[pool.address]
    lower = align_tick(tick + rng.randint(-40, 10) * spacing, spacing)
    upper = lower + rng.randint(1, 40) * spacing
    lowest = align_tick(MIN_TICK + spacing, spacing)
    highest = align_tick(MAX_TICK, spacing)
    lower, upper = max(lower, lowest), min(upper, highest)
    if lower >= upper:
        return None
    balance0, balance1 = m.pool_balances[pool.address]
    share = rng.uniform(0.001, 0.01)
    amount0, amount1 = int(balance0 * share), int(balance1 * share)
    params = (
        pool.token0,
        pool.token1,
        pool.fee_pips,
        lower,
        upper,
        amount0,
        amount1,
        0,
        0,
        user,
        DEADLINE,
    )
    data = r.NPM_MINT.encode(params)
    return Call(to=m.contract("nonfungible_position_manager"), data=data, gas_units=800_000)


NPM_MULTICALL = r.SR_MULTICALL  # multicall(bytes[]) is the same function on the position manager


def v3_burn(m: Market, user: str, rng: random.Random) -> Call | None:
    mine = [p for p in m.positions if p.owner == user and not p.closing]
    if not mine:
        return None
    position = rng.choice(mine)
    position.closing = True  # no second burn of it is generated before this one settles
    decrease = r.NPM_DECREASE_LIQUIDITY.encode(
        (position.token_id, position.liquidity, 0, 0, DEADLINE)
    )
    collect = r.NPM_COLLECT.encode((position.token_id, user, 2**128 - 1, 2**128 - 1))
    data = NPM_MULTICALL.encode([decrease, collect])
    return Call(to=m.contract("nonfungible_position_manager"), data=data, gas_units=600_000)


def v2_add_liquidity(m: Market, user: str, rng: random.Random) -> Call | None:
    pool = _pick(_v2_pools(m), rng)
    if pool is None:
        return None
    balance0, balance1 = m.pool_balances[pool.address]
    share = rng.uniform(0.001, 0.01)
    data = r.R02_ADD_LIQUIDITY.encode(
        pool.token0,
        pool.token1,
        int(balance0 * share),
        int(balance1 * share),
        0,
        0,
        user,
        DEADLINE,
    )
    return Call(to=m.contract(f"{pool.venue}_router02"), data=data, gas_units=300_000)


def v2_remove_liquidity(m: Market, user: str, rng: random.Random) -> list[Call] | None:
    held = [(pair, lp) for (owner, pair), lp in m.v2_lp.items() if owner == user and lp > 0]
    if not held:
        return None
    pair_address, lp = rng.choice(held)
    pool = next(p for p in m.pools if p.address == pair_address)
    m.v2_lp[(user, pair_address)] = 0
    data = r.R02_REMOVE_LIQUIDITY.encode(pool.token0, pool.token1, lp, 0, 0, user, DEADLINE)
    remove = Call(to=m.contract(f"{pool.venue}_router02"), data=data, gas_units=300_000)
    return [approve_lp(m, pair_address, pool.venue), remove]


def approve_lp(m: Market, pair: str, venue: str) -> Call:
    """Approve a pair's LP token to its venue's router (before removing liquidity)."""
    data = abi.ERC20_APPROVE.encode(m.contract(f"{venue}_router02"), 2**256 - 1)
    return Call(to=pair, data=data, gas_units=80_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """A named user action, the router it goes through, and how to build it."""

    name: str
    router: str
    build: Callable[[Market, str, random.Random], Call | list[Call] | None]


ACTIONS: tuple[Action, ...] = (
    Action(name="v2_exact_in", router="router02", build=router02_exact_in),
    Action(name="v2_exact_out", router="router02", build=router02_exact_out),
    Action(name="v2_multihop", router="router02", build=router02_multihop),
    Action(name="v2_eth_in", router="router02", build=router02_eth_in),
    Action(name="v3_exact_in", router="swap_router", build=swap_router_exact_in_single),
    Action(name="v3_exact_out", router="swap_router", build=swap_router_exact_out_single),
    Action(name="v3_multihop", router="swap_router", build=swap_router_multihop),
    Action(name="v3_swap", router="swap_router02", build=swap_router02_v3),
    Action(name="v2_swap", router="swap_router02", build=swap_router02_v2),
    Action(name="eth_in_swap", router="universal_router", build=universal_router_eth_in),
    Action(name="v3_mint", router="position_manager", build=v3_mint),
    Action(name="v3_burn", router="position_manager", build=v3_burn),
    Action(name="v2_add", router="router02", build=v2_add_liquidity),
    Action(name="v2_remove", router="router02", build=v2_remove_liquidity),
)

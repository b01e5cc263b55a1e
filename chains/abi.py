"""Protocol facts as data: the functions and events of ERC20, WETH and Uniswap V2/V3 core.

Router functions live in `chains.abi_routers`. Event topic0 values are the keccak of the
canonical signature; a test pins them against the real contracts' ABIs.
"""

from __future__ import annotations

from chains.abi_fn import AbiEvent, AbiFunction

__all__ = [
    "ERC20_ALLOWANCE",
    "ERC20_APPROVE",
    "ERC20_BALANCE_OF",
    "ERC20_DECIMALS",
    "ERC20_TRANSFER",
    "ERC20_TRANSFER_EVENT",
    "TEST_ERC20_MINT",
    "V2_BURN",
    "V2_FACTORY_ALL_PAIRS_LENGTH",
    "V2_FACTORY_CREATE_PAIR",
    "V2_FACTORY_GET_PAIR",
    "V2_MINT",
    "V2_PAIR_CREATED",
    "V2_PAIR_GET_RESERVES",
    "V2_PAIR_TOKEN0",
    "V2_PAIR_TOKEN1",
    "V2_SWAP",
    "V2_SYNC",
    "V3_BURN",
    "V3_FACTORY_CREATE_POOL",
    "V3_FACTORY_ENABLE_FEE_AMOUNT",
    "V3_FACTORY_GET_POOL",
    "V3_INITIALIZE",
    "V3_MINT",
    "V3_POOL_CREATED",
    "V3_POOL_INITIALIZE",
    "V3_POOL_LIQUIDITY",
    "V3_POOL_SLOT0",
    "V3_POOL_TICKS",
    "V3_POOL_TICK_BITMAP",
    "V3_SWAP",
    "WETH_DEPOSIT",
    "WETH_WITHDRAW",
]

# ERC20 and WETH9
ERC20_BALANCE_OF = AbiFunction("balanceOf(address)", "(uint256)")
ERC20_ALLOWANCE = AbiFunction("allowance(address,address)", "(uint256)")
ERC20_APPROVE = AbiFunction("approve(address,uint256)", "(bool)")
ERC20_TRANSFER = AbiFunction("transfer(address,uint256)", "(bool)")
ERC20_DECIMALS = AbiFunction("decimals()", "(uint8)")
ERC20_TRANSFER_EVENT = AbiEvent("Transfer(address,address,uint256)", (True, True, False))
TEST_ERC20_MINT = AbiFunction("mint(address,uint256)")
WETH_DEPOSIT = AbiFunction("deposit()")
WETH_WITHDRAW = AbiFunction("withdraw(uint256)")

# Uniswap V2 factory and pair
V2_FACTORY_CREATE_PAIR = AbiFunction("createPair(address,address)", "(address)")
V2_FACTORY_GET_PAIR = AbiFunction("getPair(address,address)", "(address)")
V2_FACTORY_ALL_PAIRS_LENGTH = AbiFunction("allPairsLength()", "(uint256)")
V2_PAIR_GET_RESERVES = AbiFunction("getReserves()", "(uint112,uint112,uint32)")
V2_PAIR_TOKEN0 = AbiFunction("token0()", "(address)")
V2_PAIR_TOKEN1 = AbiFunction("token1()", "(address)")
V2_PAIR_CREATED = AbiEvent(
    "PairCreated(address,address,address,uint256)", (True, True, False, False)
)
V2_SYNC = AbiEvent("Sync(uint112,uint112)", (False, False))
V2_SWAP = AbiEvent(
    "Swap(address,uint256,uint256,uint256,uint256,address)",
    (True, False, False, False, False, True),
)
V2_MINT = AbiEvent("Mint(address,uint256,uint256)", (True, False, False))
V2_BURN = AbiEvent("Burn(address,uint256,uint256,address)", (True, False, False, True))

# Uniswap V3 factory and pool
V3_FACTORY_CREATE_POOL = AbiFunction("createPool(address,address,uint24)", "(address)")
V3_FACTORY_GET_POOL = AbiFunction("getPool(address,address,uint24)", "(address)")
V3_FACTORY_ENABLE_FEE_AMOUNT = AbiFunction("enableFeeAmount(uint24,int24)")
V3_POOL_INITIALIZE = AbiFunction("initialize(uint160)")
V3_POOL_SLOT0 = AbiFunction("slot0()", "(uint160,int24,uint16,uint16,uint16,uint8,bool)")
V3_POOL_LIQUIDITY = AbiFunction("liquidity()", "(uint128)")
V3_POOL_TICKS = AbiFunction(
    "ticks(int24)", "(uint128,int128,uint256,uint256,int56,uint160,uint32,bool)"
)
V3_POOL_TICK_BITMAP = AbiFunction("tickBitmap(int16)", "(uint256)")
V3_POOL_CREATED = AbiEvent(
    "PoolCreated(address,address,uint24,int24,address)", (True, True, True, False, False)
)
V3_INITIALIZE = AbiEvent("Initialize(uint160,int24)", (False, False))
V3_SWAP = AbiEvent(
    "Swap(address,address,int256,int256,uint160,uint128,int24)",
    (True, True, False, False, False, False, False),
)
V3_MINT = AbiEvent(
    "Mint(address,address,int24,int24,uint128,uint256,uint256)",
    (False, True, True, True, False, False, False),
)
V3_BURN = AbiEvent(
    "Burn(address,int24,int24,uint128,uint256,uint256)",
    (True, True, True, False, False, False),
)

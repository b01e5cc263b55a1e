"""Protocol facts as data: the router and position-manager functions users call.

Router02 (Uniswap V2 periphery), SwapRouter (V3 periphery), SwapRouter02
(swap-router-contracts), UniversalRouter command bytes, and the NonfungiblePositionManager.
"""

from __future__ import annotations

from chains.abi_fn import AbiFunction

__all__ = [
    "NPM_BURN",
    "NPM_COLLECT",
    "NPM_CREATE_AND_INIT",
    "NPM_DECREASE_LIQUIDITY",
    "NPM_MINT",
    "NPM_POSITIONS",
    "R02_ADD_LIQUIDITY",
    "R02_ADD_LIQUIDITY_ETH",
    "R02_REMOVE_LIQUIDITY",
    "R02_SWAP_ETH_FOR_EXACT_TOKENS",
    "R02_SWAP_EXACT_ETH_FOR_TOKENS",
    "R02_SWAP_EXACT_TOKENS_FOR_ETH",
    "R02_SWAP_EXACT_TOKENS_FOR_TOKENS",
    "R02_SWAP_EXACT_TOKENS_FOR_TOKENS_FOT",
    "R02_SWAP_TOKENS_FOR_EXACT_TOKENS",
    "SR02_EXACT_INPUT",
    "SR02_EXACT_INPUT_SINGLE",
    "SR02_EXACT_OUTPUT_SINGLE",
    "SR02_MULTICALL_DEADLINE",
    "SR02_SWAP_EXACT_TOKENS_FOR_TOKENS",
    "SR02_SWAP_TOKENS_FOR_EXACT_TOKENS",
    "SR_EXACT_INPUT",
    "SR_EXACT_INPUT_SINGLE",
    "SR_EXACT_OUTPUT",
    "SR_EXACT_OUTPUT_SINGLE",
    "SR_MULTICALL",
    "UR_EXECUTE",
    "UR_SWEEP",
    "UR_UNWRAP_WETH",
    "UR_V2_SWAP_EXACT_IN",
    "UR_V2_SWAP_EXACT_OUT",
    "UR_V3_SWAP_EXACT_IN",
    "UR_V3_SWAP_EXACT_OUT",
    "UR_WRAP_ETH",
    "encode_v3_path",
]

# Uniswap V2 Router02
R02_SWAP_EXACT_TOKENS_FOR_TOKENS = AbiFunction(
    "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)", "(uint256[])"
)
R02_SWAP_TOKENS_FOR_EXACT_TOKENS = AbiFunction(
    "swapTokensForExactTokens(uint256,uint256,address[],address,uint256)", "(uint256[])"
)
R02_SWAP_EXACT_ETH_FOR_TOKENS = AbiFunction(
    "swapExactETHForTokens(uint256,address[],address,uint256)", "(uint256[])"
)
R02_SWAP_ETH_FOR_EXACT_TOKENS = AbiFunction(
    "swapETHForExactTokens(uint256,address[],address,uint256)", "(uint256[])"
)
R02_SWAP_EXACT_TOKENS_FOR_ETH = AbiFunction(
    "swapExactTokensForETH(uint256,uint256,address[],address,uint256)", "(uint256[])"
)
R02_SWAP_EXACT_TOKENS_FOR_TOKENS_FOT = AbiFunction(
    "swapExactTokensForTokensSupportingFeeOnTransferTokens"
    "(uint256,uint256,address[],address,uint256)"
)
R02_ADD_LIQUIDITY = AbiFunction(
    "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
    "(uint256,uint256,uint256)",
)
R02_ADD_LIQUIDITY_ETH = AbiFunction(
    "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
    "(uint256,uint256,uint256)",
)
R02_REMOVE_LIQUIDITY = AbiFunction(
    "removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)",
    "(uint256,uint256)",
)

# Uniswap V3 SwapRouter: structs carry a deadline
SR_EXACT_INPUT_SINGLE = AbiFunction(
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
    "(uint256)",
)
SR_EXACT_OUTPUT_SINGLE = AbiFunction(
    "exactOutputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
    "(uint256)",
)
SR_EXACT_INPUT = AbiFunction("exactInput((bytes,address,uint256,uint256,uint256))", "(uint256)")
SR_EXACT_OUTPUT = AbiFunction("exactOutput((bytes,address,uint256,uint256,uint256))", "(uint256)")
SR_MULTICALL = AbiFunction("multicall(bytes[])", "(bytes[])")

# SwapRouter02: V3 structs without a deadline, V2 swaps without one, deadline via multicall
SR02_EXACT_INPUT_SINGLE = AbiFunction(
    "exactInputSingle((address,address,uint24,address,uint256,uint256,uint160))", "(uint256)"
)
SR02_EXACT_OUTPUT_SINGLE = AbiFunction(
    "exactOutputSingle((address,address,uint24,address,uint256,uint256,uint160))", "(uint256)"
)
SR02_EXACT_INPUT = AbiFunction("exactInput((bytes,address,uint256,uint256))", "(uint256)")
SR02_SWAP_EXACT_TOKENS_FOR_TOKENS = AbiFunction(
    "swapExactTokensForTokens(uint256,uint256,address[],address)", "(uint256)"
)
SR02_SWAP_TOKENS_FOR_EXACT_TOKENS = AbiFunction(
    "swapTokensForExactTokens(uint256,uint256,address[],address)", "(uint256)"
)
SR02_MULTICALL_DEADLINE = AbiFunction("multicall(uint256,bytes[])", "(bytes[])")

# UniversalRouter: execute(commands, inputs, deadline); one command byte per input
UR_EXECUTE = AbiFunction("execute(bytes,bytes[],uint256)")
UR_V3_SWAP_EXACT_IN = (
    0x00  # (address recipient, uint256 amountIn, uint256 minOut, bytes path, bool payerIsUser)
)
UR_V3_SWAP_EXACT_OUT = 0x01  # (recipient, amountOut, maxIn, path (reversed), payerIsUser)
UR_SWEEP = 0x04  # (address token, address recipient, uint256 amountMin)
UR_V2_SWAP_EXACT_IN = 0x08  # (recipient, amountIn, minOut, address[] path, payerIsUser)
UR_V2_SWAP_EXACT_OUT = 0x09  # (recipient, amountOut, maxIn, address[] path, payerIsUser)
UR_WRAP_ETH = 0x0B  # (address recipient, uint256 amount)
UR_UNWRAP_WETH = 0x0C  # (address recipient, uint256 amountMin)

# NonfungiblePositionManager
NPM_CREATE_AND_INIT = AbiFunction(
    "createAndInitializePoolIfNecessary(address,address,uint24,uint160)", "(address)"
)
NPM_MINT = AbiFunction(
    "mint((address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256))",
    "(uint256,uint128,uint256,uint256)",
)
NPM_DECREASE_LIQUIDITY = AbiFunction(
    "decreaseLiquidity((uint256,uint128,uint256,uint256,uint256))", "(uint256,uint256)"
)
NPM_COLLECT = AbiFunction("collect((uint256,address,uint128,uint128))", "(uint256,uint256)")
NPM_BURN = AbiFunction("burn(uint256)")
NPM_POSITIONS = AbiFunction(
    "positions(uint256)",
    "(uint96,address,address,address,uint24,int24,int24,uint128,uint256,uint256,uint128,uint128)",
)


def encode_v3_path(tokens: list[str], fees_pips: list[int]) -> bytes:
    """Encode a V3 path: token (20 bytes), then fee (3 bytes) and token for each hop."""
    if len(tokens) != len(fees_pips) + 1 or not fees_pips:
        raise ValueError("a V3 path needs n+1 tokens for n fees (n >= 1)")
    for token in tokens:
        if len(token) != 42 or not token.startswith("0x"):
            raise ValueError(f"not a 0x address: {token!r}")
    out = bytes.fromhex(tokens[0][2:])
    for fee, token in zip(fees_pips, tokens[1:], strict=True):
        out += fee.to_bytes(3, "big") + bytes.fromhex(token[2:])
    return out

"""Protocol facts as data for the mempool decoder: router functions and constants it needs.

`chains.abi_routers` holds what the world's traffic sends; this adds the other swap and
multicall overloads the real routers expose (read from the npm artifacts' ABIs), the
non-swap functions that share a multicall with a swap, and the routers' sentinel values.
"""

from __future__ import annotations

from chains.abi_fn import AbiFunction

__all__ = [
    "ADDRESS_THIS",
    "MSG_SENDER",
    "NON_SWAP_SELECTORS",
    "R02_SWAP_EXACT_ETH_FOR_TOKENS_FOT",
    "R02_SWAP_EXACT_TOKENS_FOR_ETH_FOT",
    "R02_SWAP_TOKENS_FOR_EXACT_ETH",
    "SR02_CONTRACT_BALANCE",
    "SR02_EXACT_OUTPUT",
    "SR02_MULTICALL_PREVIOUS_BLOCKHASH",
    "SR_UNWRAP_SELECTORS",
    "UR_ALLOW_REVERT",
    "UR_COMMAND_TYPE_MASK",
    "UR_CONTRACT_BALANCE",
    "UR_EXECUTE_NO_DEADLINE",
    "UR_EXECUTE_SUB_PLAN",
    "UR_NON_SWAP_COMMANDS",
    "UR_V2_ALREADY_PAID",
    "UR_V4_SWAP",
    "ZERO_ADDRESS",
]

# Uniswap V2 Router02: the variants abi_routers leaves out
R02_SWAP_TOKENS_FOR_EXACT_ETH = AbiFunction(
    "swapTokensForExactETH(uint256,uint256,address[],address,uint256)", "(uint256[])"
)
R02_SWAP_EXACT_ETH_FOR_TOKENS_FOT = AbiFunction(
    "swapExactETHForTokensSupportingFeeOnTransferTokens(uint256,address[],address,uint256)"
)
R02_SWAP_EXACT_TOKENS_FOR_ETH_FOT = AbiFunction(
    "swapExactTokensForETHSupportingFeeOnTransferTokens(uint256,uint256,address[],address,uint256)"
)

# SwapRouter02 (swap-router-contracts)
SR02_EXACT_OUTPUT = AbiFunction("exactOutput((bytes,address,uint256,uint256))", "(uint256)")
SR02_MULTICALL_PREVIOUS_BLOCKHASH = AbiFunction("multicall(bytes32,bytes[])", "(bytes[])")
SR02_CONTRACT_BALANCE = 0  # Constants.CONTRACT_BALANCE: amountIn 0 swaps the router's balance

# Unwrapping WETH inside a multicall turns a swap to the router into a native-ETH output
SR_UNWRAP_SELECTORS: frozenset[bytes] = frozenset(
    AbiFunction(signature).selector
    for signature in (
        "unwrapWETH9(uint256,address)",
        "unwrapWETH9(uint256)",
        "unwrapWETH9WithFee(uint256,address,uint256,address)",
        "unwrapWETH9WithFee(uint256,uint256,address)",
    )
)

# Recipient constants shared by SwapRouter02 and UniversalRouter; SwapRouter reads
# address(0) as itself
ZERO_ADDRESS = "0x" + "00" * 20
MSG_SENDER = "0x" + "00" * 19 + "01"
ADDRESS_THIS = "0x" + "00" * 19 + "02"

# UniversalRouter (2.x, v1 is a subset): execute without a deadline, command byte masks
UR_EXECUTE_NO_DEADLINE = AbiFunction("execute(bytes,bytes[])")
UR_ALLOW_REVERT = 0x80  # Commands.FLAG_ALLOW_REVERT
UR_COMMAND_TYPE_MASK = 0x7F  # Commands.COMMAND_TYPE_MASK
UR_V4_SWAP = 0x10
UR_EXECUTE_SUB_PLAN = 0x21  # (bytes commands, bytes[] inputs): a nested plan
UR_CONTRACT_BALANCE = 1 << 255  # ActionConstants.CONTRACT_BALANCE: swap the router's balance
UR_V2_ALREADY_PAID = 0  # Constants.ALREADY_PAID: the pair already holds the input
# PERMIT2_TRANSFER_FROM, PERMIT2_PERMIT_BATCH, SWEEP, TRANSFER, PAY_PORTION, PERMIT2_PERMIT,
# WRAP_ETH, UNWRAP_WETH, PERMIT2_TRANSFER_FROM_BATCH, BALANCE_CHECK_ERC20, position-manager
# permits and calls, V4_INITIALIZE_POOL: none of them moves a pool price
UR_NON_SWAP_COMMANDS: frozenset[int] = frozenset(
    (0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x11, 0x12, 0x13, 0x14)
)

# Functions of each router (from the npm artifacts' ABIs) that move no pool price: counted
# as non-swaps rather than unknown selectors
_NON_SWAP_SIGNATURES: dict[str, tuple[str, ...]] = {
    "v2_router02": (
        "addLiquidity(address,address,uint256,uint256,uint256,uint256,address,uint256)",
        "addLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
        "removeLiquidity(address,address,uint256,uint256,uint256,address,uint256)",
        "removeLiquidityETH(address,uint256,uint256,uint256,address,uint256)",
        "removeLiquidityETHSupportingFeeOnTransferTokens"
        "(address,uint256,uint256,uint256,address,uint256)",
        "removeLiquidityETHWithPermit"
        "(address,uint256,uint256,uint256,address,uint256,bool,uint8,bytes32,bytes32)",
        "removeLiquidityETHWithPermitSupportingFeeOnTransferTokens"
        "(address,uint256,uint256,uint256,address,uint256,bool,uint8,bytes32,bytes32)",
        "removeLiquidityWithPermit"
        "(address,address,uint256,uint256,uint256,address,uint256,bool,uint8,bytes32,bytes32)",
    ),
    "swap_router": (
        "refundETH()",
        "selfPermit(address,uint256,uint256,uint8,bytes32,bytes32)",
        "selfPermitAllowed(address,uint256,uint256,uint8,bytes32,bytes32)",
        "selfPermitAllowedIfNecessary(address,uint256,uint256,uint8,bytes32,bytes32)",
        "selfPermitIfNecessary(address,uint256,uint256,uint8,bytes32,bytes32)",
        "sweepToken(address,uint256,address)",
        "sweepTokenWithFee(address,uint256,address,uint256,address)",
        "unwrapWETH9(uint256,address)",
        "unwrapWETH9WithFee(uint256,address,uint256,address)",
    ),
    "swap_router02": (
        "approveMax(address)",
        "approveMaxMinusOne(address)",
        "approveZeroThenMax(address)",
        "approveZeroThenMaxMinusOne(address)",
        "callPositionManager(bytes)",
        "increaseLiquidity((address,address,uint256,uint256,uint256))",
        "mint((address,address,uint24,int24,int24,uint256,uint256,address))",
        "pull(address,uint256)",
        "refundETH()",
        "selfPermit(address,uint256,uint256,uint8,bytes32,bytes32)",
        "selfPermitAllowed(address,uint256,uint256,uint8,bytes32,bytes32)",
        "selfPermitAllowedIfNecessary(address,uint256,uint256,uint8,bytes32,bytes32)",
        "selfPermitIfNecessary(address,uint256,uint256,uint8,bytes32,bytes32)",
        "sweepToken(address,uint256,address)",
        "sweepToken(address,uint256)",
        "sweepTokenWithFee(address,uint256,uint256,address)",
        "sweepTokenWithFee(address,uint256,address,uint256,address)",
        "unwrapWETH9(uint256,address)",
        "unwrapWETH9(uint256)",
        "unwrapWETH9WithFee(uint256,address,uint256,address)",
        "unwrapWETH9WithFee(uint256,uint256,address)",
        "wrapETH(uint256)",
    ),
    "universal_router": (),
}
NON_SWAP_SELECTORS: dict[str, frozenset[bytes]] = {
    kind: frozenset(AbiFunction(s).selector for s in signatures)
    for kind, signatures in _NON_SWAP_SIGNATURES.items()
}

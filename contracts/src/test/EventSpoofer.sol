// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title EventSpoofer
/// @notice Emits byte-exact Uniswap V2/V3 pool and factory events with caller-chosen values,
///         from an address that is neither a pool nor a factory (ingestion must ignore it).
contract EventSpoofer {
    // Uniswap V2 pair and factory
    event Sync(uint112 reserve0, uint112 reserve1);
    event Swap(
        address indexed sender,
        uint256 amount0In,
        uint256 amount1In,
        uint256 amount0Out,
        uint256 amount1Out,
        address indexed to
    );
    event PairCreated(address indexed token0, address indexed token1, address pair, uint256);

    // Uniswap V3 pool and factory
    event Swap(
        address indexed sender,
        address indexed recipient,
        int256 amount0,
        int256 amount1,
        uint160 sqrtPriceX96,
        uint128 liquidity,
        int24 tick
    );
    event Mint(
        address sender,
        address indexed owner,
        int24 indexed tickLower,
        int24 indexed tickUpper,
        uint128 amount,
        uint256 amount0,
        uint256 amount1
    );
    event Burn(
        address indexed owner,
        int24 indexed tickLower,
        int24 indexed tickUpper,
        uint128 amount,
        uint256 amount0,
        uint256 amount1
    );
    event PoolCreated(
        address indexed token0,
        address indexed token1,
        uint24 indexed fee,
        int24 tickSpacing,
        address pool
    );

    function emitV2Sync(uint112 reserve0, uint112 reserve1) external {
        emit Sync(reserve0, reserve1);
    }

    function emitV2Swap(
        address sender,
        uint256 amount0In,
        uint256 amount1In,
        uint256 amount0Out,
        uint256 amount1Out,
        address to
    ) external {
        emit Swap(sender, amount0In, amount1In, amount0Out, amount1Out, to);
    }

    function emitPairCreated(address token0, address token1, address pair, uint256 count)
        external
    {
        emit PairCreated(token0, token1, pair, count);
    }

    function emitV3Swap(
        address sender,
        address recipient,
        int256 amount0,
        int256 amount1,
        uint160 sqrtPriceX96,
        uint128 liquidity,
        int24 tick
    ) external {
        emit Swap(sender, recipient, amount0, amount1, sqrtPriceX96, liquidity, tick);
    }

    function emitV3Mint(
        address sender,
        address owner,
        int24 tickLower,
        int24 tickUpper,
        uint128 amount,
        uint256 amount0,
        uint256 amount1
    ) external {
        emit Mint(sender, owner, tickLower, tickUpper, amount, amount0, amount1);
    }

    function emitV3Burn(
        address owner,
        int24 tickLower,
        int24 tickUpper,
        uint128 amount,
        uint256 amount0,
        uint256 amount1
    ) external {
        emit Burn(owner, tickLower, tickUpper, amount, amount0, amount1);
    }

    function emitPoolCreated(
        address token0,
        address token1,
        uint24 fee,
        int24 tickSpacing,
        address pool
    ) external {
        emit PoolCreated(token0, token1, fee, tickSpacing, pool);
    }

    /// @notice Emit any log: up to four topics and raw data.
    function emitRaw(bytes32[] calldata topics, bytes calldata data) external {
        bytes memory body = data;
        uint256 n = topics.length;
        require(n <= 4, "EventSpoofer: at most 4 topics");
        bytes32 t0 = n > 0 ? topics[0] : bytes32(0);
        bytes32 t1 = n > 1 ? topics[1] : bytes32(0);
        bytes32 t2 = n > 2 ? topics[2] : bytes32(0);
        bytes32 t3 = n > 3 ? topics[3] : bytes32(0);
        assembly {
            let p := add(body, 32)
            let len := mload(body)
            switch n
            case 0 { log0(p, len) }
            case 1 { log1(p, len, t0) }
            case 2 { log2(p, len, t0, t1) }
            case 3 { log3(p, len, t0, t1, t2) }
            default { log4(p, len, t0, t1, t2, t3) }
        }
    }
}

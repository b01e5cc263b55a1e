// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The part of UniswapV3Pool the harness calls (v3-core is pinned to 0.7.6, so no import).
interface IV3PoolMinimal {
    function token0() external view returns (address);

    function token1() external view returns (address);

    function tickSpacing() external view returns (int24);

    function slot0()
        external
        view
        returns (
            uint160 sqrtPriceX96,
            int24 tick,
            uint16 observationIndex,
            uint16 observationCardinality,
            uint16 observationCardinalityNext,
            uint8 feeProtocol,
            bool unlocked
        );

    function liquidity() external view returns (uint128);

    function ticks(int24 tick)
        external
        view
        returns (
            uint128 liquidityGross,
            int128 liquidityNet,
            uint256 feeGrowthOutside0X128,
            uint256 feeGrowthOutside1X128,
            int56 tickCumulativeOutside,
            uint160 secondsPerLiquidityOutsideX128,
            uint32 secondsOutside,
            bool initialized
        );

    function tickBitmap(int16 wordPosition) external view returns (uint256);

    function mint(address recipient, int24 tickLower, int24 tickUpper, uint128 amount, bytes calldata data)
        external
        returns (uint256 amount0, uint256 amount1);

    function burn(int24 tickLower, int24 tickUpper, uint128 amount)
        external
        returns (uint256 amount0, uint256 amount1);

    function collect(
        address recipient,
        int24 tickLower,
        int24 tickUpper,
        uint128 amount0Requested,
        uint128 amount1Requested
    ) external returns (uint128 amount0, uint128 amount1);

    function swap(
        address recipient,
        bool zeroForOne,
        int256 amountSpecified,
        uint160 sqrtPriceLimitX96,
        bytes calldata data
    ) external returns (int256 amount0, int256 amount1);
}

interface IERC20Minimal {
    function transfer(address to, uint256 amount) external returns (bool);
}

/// @title V3PoolHarness
/// @notice Mints, burns and swaps directly on Uniswap V3 pools, paying from its own token
///         balances, and reads pool state in one call; for differential tests on test chains.
/// @dev Every pool call records the pool it targets first, and each callback proves that
///      msg.sender is that pool. Pool reverts (e.g. "SPL", "AS") bubble up unchanged.
contract V3PoolHarness {
    address public immutable owner;

    /// @dev The pool whose callback is expected; zero outside a pool call.
    address private _activePool;

    error NotOwner(address caller);
    error UnexpectedCallback(address caller);
    error TransferFailed(address token);
    error BadWordRange(int16 wordLower, int16 wordUpper);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor() {
        owner = msg.sender;
    }

    /// @notice Add `amount` liquidity to the harness's position [tickLower, tickUpper).
    function mint(IV3PoolMinimal pool, int24 tickLower, int24 tickUpper, uint128 amount)
        external
        onlyOwner
        returns (uint256 amount0, uint256 amount1)
    {
        _activePool = address(pool);
        (amount0, amount1) = pool.mint(address(this), tickLower, tickUpper, amount, "");
        _activePool = address(0);
    }

    /// @notice Remove `amount` liquidity and collect everything owed; returns the burn amounts.
    function burn(IV3PoolMinimal pool, int24 tickLower, int24 tickUpper, uint128 amount)
        external
        onlyOwner
        returns (uint256 amount0, uint256 amount1)
    {
        (amount0, amount1) = pool.burn(tickLower, tickUpper, amount);
        pool.collect(address(this), tickLower, tickUpper, type(uint128).max, type(uint128).max);
    }

    /// @notice Swap on `pool` with the pool's own semantics; returns the pool-side amounts.
    /// @dev amountSpecified > 0 is exact input, < 0 exact output; the output stays here.
    function swap(IV3PoolMinimal pool, bool zeroForOne, int256 amountSpecified, uint160 sqrtPriceLimitX96)
        external
        onlyOwner
        returns (int256 amount0, int256 amount1)
    {
        _activePool = address(pool);
        (amount0, amount1) = pool.swap(address(this), zeroForOne, amountSpecified, sqrtPriceLimitX96, "");
        _activePool = address(0);
    }

    function uniswapV3MintCallback(uint256 amount0Owed, uint256 amount1Owed, bytes calldata) external {
        IV3PoolMinimal pool = _callingPool();
        if (amount0Owed > 0) _pay(pool.token0(), address(pool), amount0Owed);
        if (amount1Owed > 0) _pay(pool.token1(), address(pool), amount1Owed);
    }

    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata) external {
        IV3PoolMinimal pool = _callingPool();
        if (amount0Delta > 0) _pay(pool.token0(), address(pool), uint256(amount0Delta));
        if (amount1Delta > 0) _pay(pool.token1(), address(pool), uint256(amount1Delta));
    }

    /// @notice Return slot0's price and tick and the in-range liquidity of `pool`.
    function poolState(IV3PoolMinimal pool)
        external
        view
        returns (uint160 sqrtPriceX96, int24 tick, uint128 liquidity)
    {
        (sqrtPriceX96, tick,,,,,) = pool.slot0();
        liquidity = pool.liquidity();
    }

    /// @notice Return every initialized tick whose bitmap word lies in [wordLower, wordUpper],
    ///         ascending, with its gross and net liquidity.
    function initializedTicks(IV3PoolMinimal pool, int16 wordLower, int16 wordUpper)
        external
        view
        returns (int24[] memory tickIndexes, uint128[] memory liquidityGross, int128[] memory liquidityNet)
    {
        if (wordLower > wordUpper) revert BadWordRange(wordLower, wordUpper);
        (int16[] memory words, uint256[] memory bitmaps, uint256 count) = _nonEmptyWords(pool, wordLower, wordUpper);
        int24 spacing = pool.tickSpacing();
        tickIndexes = new int24[](count);
        liquidityGross = new uint128[](count);
        liquidityNet = new int128[](count);
        uint256 k;
        for (uint256 i; i < words.length; ++i) {
            uint256 bitmap = bitmaps[i];
            for (uint256 bit; bitmap >> bit != 0; ++bit) {
                if ((bitmap >> bit) & 1 == 0) continue;
                int24 tick = int24((int256(words[i]) * 256 + int256(bit)) * int256(spacing));
                tickIndexes[k] = tick;
                (liquidityGross[k], liquidityNet[k]) = _tickLiquidity(pool, tick);
                ++k;
            }
        }
    }

    /// @dev The non-zero bitmap words in [wordLower, wordUpper] and their total number of set bits.
    function _nonEmptyWords(IV3PoolMinimal pool, int16 wordLower, int16 wordUpper)
        private
        view
        returns (int16[] memory words, uint256[] memory bitmaps, uint256 count)
    {
        uint256 span = uint256(int256(wordUpper) - int256(wordLower)) + 1;
        words = new int16[](span);
        bitmaps = new uint256[](span);
        uint256 nonEmpty;
        for (int256 w = wordLower; w <= wordUpper; ++w) {
            uint256 bitmap = pool.tickBitmap(int16(w));
            if (bitmap != 0) {
                words[nonEmpty] = int16(w);
                bitmaps[nonEmpty] = bitmap;
                ++nonEmpty;
                count += _popcount(bitmap);
            }
        }
        // shrink both arrays to the words found (memory arrays keep their length in word 0)
        assembly ("memory-safe") {
            mstore(words, nonEmpty)
            mstore(bitmaps, nonEmpty)
        }
    }

    function _tickLiquidity(IV3PoolMinimal pool, int24 tick) private view returns (uint128 gross, int128 net) {
        (gross, net,,,,,,) = pool.ticks(tick);
    }

    function _callingPool() private view returns (IV3PoolMinimal) {
        address expected = _activePool;
        if (expected == address(0) || msg.sender != expected) revert UnexpectedCallback(msg.sender);
        return IV3PoolMinimal(expected);
    }

    function _pay(address token, address to, uint256 amount) private {
        if (!IERC20Minimal(token).transfer(to, amount)) revert TransferFailed(token);
    }

    function _popcount(uint256 x) private pure returns (uint256 n) {
        while (x != 0) {
            x &= x - 1;
            ++n;
        }
    }
}

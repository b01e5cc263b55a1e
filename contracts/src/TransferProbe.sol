// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title TransferProbe
/// @notice Measures what a token transfer really delivers, inside one eth_call, without
///         knowing the token's storage layout. Never deployed: its runtime code is injected at
///         a fresh address by an eth_call state override.
/// @dev probe(pool, v3, token, amount, next) flash-borrows `amount` of `token` from a Uniswap
///      V2 pair (swap to itself with callback data) or a V3 pool (exact-output swap to itself).
///      The callback measures, by balanceOf only:
///        1. what arrived here from the pool (vs what the pool sent),
///        2. what arrived at `next` (a second fresh address) when everything received is
///           transferred on, and what this contract holds afterwards;
///      and then reverts with ProbeMeasured(...), so nothing is ever repaid. A transfer that
///      reverts or returns false is caught and reported by a flag plus its revert data.
///      probe() itself never reverts: it returns the revert data of an inner self-call, which is
///      ProbeMeasured, ProbeFailed(stage, reason) when the measurement could not be made, or
///      empty when the pool returned without calling back.
contract TransferProbe {
    // ProbeFailed stages
    uint8 internal constant NOT_A_POOL = 1; // token0()/token1() unreadable
    uint8 internal constant TOKEN_NOT_IN_POOL = 2;
    uint8 internal constant SWAP_REVERTED = 3; // the pool reverted before the callback
    uint8 internal constant NO_CALLBACK = 4; // the pool returned without calling back
    uint8 internal constant BALANCE_UNREADABLE = 5; // token.balanceOf reverted or is malformed
    uint8 internal constant WRONG_CALLER = 6; // a callback not from the probed pool

    // TickMath.MIN_SQRT_RATIO + 1 and MAX_SQRT_RATIO - 1: no price limit
    uint160 internal constant MIN_SQRT_RATIO_PLUS_ONE = 4295128740;
    uint160 internal constant MAX_SQRT_RATIO_MINUS_ONE =
        1461446703485210103287273052203988822378723970341;

    /// @notice Every measurement of one probe (amounts in token units).
    /// @param poolSent what the pool says it sent (V2 amountOut, V3 -delta)
    /// @param balanceBefore this contract's balance before the swap
    /// @param balanceAfterReceive this contract's balance in the callback
    /// @param forwarded what this contract transferred to `next` (everything it received)
    /// @param nextBefore `next`'s balance before the transfer
    /// @param nextAfter `next`'s balance after the transfer
    /// @param balanceAfterForward this contract's balance after the transfer
    /// @param transferSucceeded the transfer neither reverted nor returned false
    /// @param transferError the transfer's revert data (empty when it returned false)
    error ProbeMeasured(
        uint256 poolSent,
        uint256 balanceBefore,
        uint256 balanceAfterReceive,
        uint256 forwarded,
        uint256 nextBefore,
        uint256 nextAfter,
        uint256 balanceAfterForward,
        bool transferSucceeded,
        bytes transferError
    );

    /// @notice The probe could not measure; `reason` is the failing call's revert data.
    error ProbeFailed(uint8 stage, bytes reason);

    /// @notice Run the probe; return the revert data that carries its outcome (never reverts).
    function probe(address pool, bool v3, address token, uint256 amount, address next)
        external
        returns (bytes memory outcome)
    {
        try this.run(pool, v3, token, amount, next) {
            return "";
        } catch (bytes memory data) {
            return data;
        }
    }

    /// @notice Borrow from the pool and measure in the callback; always reverts.
    function run(address pool, bool v3, address token, uint256 amount, address next) external {
        (bool ok0, address token0) = _readAddress(pool, 0x0dfe1681); // token0()
        (bool ok1, address token1) = _readAddress(pool, 0xd21220a7); // token1()
        if (!ok0 || !ok1) revert ProbeFailed(NOT_A_POOL, "");
        if (token != token0 && token != token1) revert ProbeFailed(TOKEN_NOT_IN_POOL, "");
        bool isToken0 = token == token0;
        uint256 before = _balanceOf(token, address(this));
        bytes memory data = abi.encode(pool, token, isToken0, before, next);
        bool success;
        bytes memory ret;
        if (v3) {
            // exact output of `amount` of token: pay with the other token (never paid)
            (success, ret) = pool.call(
                abi.encodeWithSelector(
                    0x128acb08, // swap(address,bool,int256,uint160,bytes)
                    address(this),
                    !isToken0,
                    -int256(amount),
                    isToken0 ? MAX_SQRT_RATIO_MINUS_ONE : MIN_SQRT_RATIO_PLUS_ONE,
                    data
                )
            );
        } else {
            (success, ret) = pool.call(
                abi.encodeWithSelector(
                    0x022c0d9f, // swap(uint256,uint256,address,bytes)
                    isToken0 ? amount : 0,
                    isToken0 ? 0 : amount,
                    address(this),
                    data
                )
            );
        }
        if (success) revert ProbeFailed(NO_CALLBACK, ret);
        // a measurement travels up through the pool unchanged; anything else failed the swap
        if (ret.length >= 4 && bytes4(ret) == ProbeMeasured.selector) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        if (ret.length >= 4 && bytes4(ret) == ProbeFailed.selector) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        revert ProbeFailed(SWAP_REVERTED, ret);
    }

    /// @notice IUniswapV2Callee: the pair has sent amount0 / amount1 to this contract.
    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data)
        external
    {
        if (sender != address(this)) revert ProbeFailed(WRONG_CALLER, "");
        _measure(data, amount0 + amount1);
    }

    /// @notice IUniswapV3SwapCallback: the pool has sent the negative delta to this contract.
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata data)
        external
    {
        (,, bool isToken0,,) = abi.decode(data, (address, address, bool, uint256, address));
        int256 delta = isToken0 ? amount0Delta : amount1Delta;
        _measure(data, delta < 0 ? uint256(-delta) : 0);
    }

    function _measure(bytes calldata data, uint256 poolSent) internal {
        (address pool, address token,, uint256 before, address next) =
            abi.decode(data, (address, address, bool, uint256, address));
        if (msg.sender != pool) revert ProbeFailed(WRONG_CALLER, "");
        uint256 afterReceive = _balanceOf(token, address(this));
        uint256 forwarded = afterReceive > before ? afterReceive - before : 0;
        uint256 nextBefore = _balanceOf(token, next);
        (bool ok, bytes memory ret) =
            token.call(abi.encodeWithSelector(0xa9059cbb, next, forwarded)); // transfer
        // a malformed bool (not 0/1) would make abi.decode(ret, (bool)) revert: read a word
        bool transferSucceeded =
            ok && (ret.length == 0 || (ret.length >= 32 && abi.decode(ret, (uint256)) != 0));
        revert ProbeMeasured(
            poolSent,
            before,
            afterReceive,
            forwarded,
            nextBefore,
            _balanceOf(token, next),
            _balanceOf(token, address(this)),
            transferSucceeded,
            ok ? bytes("") : ret
        );
    }

    function _balanceOf(address token, address holder) internal view returns (uint256) {
        (bool ok, bytes memory ret) =
            token.staticcall(abi.encodeWithSelector(0x70a08231, holder)); // balanceOf
        if (!ok || ret.length < 32) revert ProbeFailed(BALANCE_UNREADABLE, ret);
        return abi.decode(ret, (uint256));
    }

    function _readAddress(address target, bytes4 selector) internal view returns (bool, address) {
        if (target.code.length == 0) return (false, address(0));
        (bool ok, bytes memory ret) = target.staticcall(abi.encodeWithSelector(selector));
        if (!ok || ret.length < 32) return (false, address(0));
        uint256 word = abi.decode(ret, (uint256));
        if (word >> 160 != 0) return (false, address(0));
        return (true, address(uint160(word)));
    }
}

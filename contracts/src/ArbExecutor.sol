// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ArbExecutor
/// @notice Executes one cycle of Uniswap V2-style and V3 hops atomically from a compact plan.
/// Capital comes from a flash swap on the first pool or from the contract's own inventory.
/// After the last hop the base token balance must have grown by at least minProfit (measured
/// by balanceOf, never by amounts a token claims); only then is the builder tip paid, last.
///
/// Plan layout (packed, big-endian):
///   offset size  field
///   0      1     version (= 1)
///   1      1     flags: bit0 flash (borrow through hop 0's pool), bit1 guard present
///   2      1     hop count n (2..4)
///   3      20    base token (the token the cycle starts and ends in)
///   23     16    amountIn (uint128, base token units, input of hop 0)
///   39     16    minProfit (uint128, base token units)
///   55     16    tipWei (uint128; paid in ETH by unwrapping WETH, so tip > 0 needs base == WETH)
///   71     40    [guard only] target block number (uint64) + parent hash (bytes32)
///   then n hops of 40 bytes each:
///     +0   20    pool
///     +20  1     hop flags: bit0 zeroForOne, bit1 V3
///     +21  3     V2 fee in pips (uint24, informational; ignored for V3)
///     +24  16    amountOut (uint128): the exact output the off-chain math predicts
/// Hop i's input is hop i-1's amountOut (hop 0: amountIn). V2 hops call pair.swap with
/// amountOut; V3 hops swap exact input and require an output of at least amountOut.
contract ArbExecutor {
    uint8 internal constant VERSION = 1;
    uint256 internal constant HEADER_BYTES = 71;
    uint256 internal constant GUARD_BYTES = 40;
    uint256 internal constant HOP_BYTES = 40;
    uint160 internal constant MIN_SQRT_RATIO = 4295128739;
    uint160 internal constant MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342;
    /// Transient slot holding the pool whose callback is expected next (EIP-1153).
    uint256 internal constant EXPECTED_POOL_SLOT = 0x6172626c6f6f702e6578706563746564;

    address public owner;
    address public weth;
    mapping(address => bool) public isExecutor;

    event Executed(uint256 profit, uint256 tip);
    event ExecutorSet(address indexed account, bool allowed);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner();
    error NotExecutor();
    error BadPlan();
    error GuardFailed();
    error UnexpectedCallback();
    error InsufficientOutput(uint256 hop, uint256 got, uint256 want);
    error NotProfitable(uint256 before, uint256 after_);
    error TransferFailed();
    error TipFailed();
    error EthRejected();

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    constructor(address weth_) {
        owner = msg.sender;
        // storage, not immutable: the runtime code stays equal to the artifact's
        weth = weth_;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    receive() external payable {
        if (msg.sender != weth && msg.sender != owner) revert EthRejected();
    }

    function setExecutor(address account, bool allowed) external onlyOwner {
        isExecutor[account] = allowed;
        emit ExecutorSet(account, allowed);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert BadPlan();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Send `amount` of `token` (address(0): ETH) to `to`.
    function withdraw(address token, address payable to, uint256 amount) external onlyOwner {
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            _transfer(token, to, amount);
        }
    }

    /// @notice Run one cycle described by `plan` (layout in the contract header).
    function execute(bytes calldata plan) external {
        if (!isExecutor[msg.sender]) revert NotExecutor();
        uint256 flags = _u(plan, 1, 8);
        uint256 n = _u(plan, 2, 8);
        bool guarded = flags & 2 != 0;
        if (
            _u(plan, 0, 8) != VERSION || flags > 3 || n < 2 || n > 4
                || plan.length != HEADER_BYTES + (guarded ? GUARD_BYTES : 0) + n * HOP_BYTES
        ) revert BadPlan();
        address base = address(uint160(_u(plan, 3, 160)));
        uint256 minProfit = _u(plan, 39, 128);
        uint256 tip = _u(plan, 55, 128);
        if (tip > minProfit || (tip != 0 && base != weth)) revert BadPlan();
        if (guarded) {
            if (
                block.number != _u(plan, HEADER_BYTES, 64)
                    || blockhash(block.number - 1) != bytes32(_u(plan, HEADER_BYTES + 8, 256))
            ) revert GuardFailed();
        }
        uint256 before = _balanceOf(base);
        if (flags & 1 != 0) {
            _runFirstHopFlash(plan);
        } else {
            _runHops(plan, 0);
        }
        uint256 after_ = _balanceOf(base);
        if (after_ < before + minProfit) revert NotProfitable(before, after_);
        emit Executed(after_ - before, tip);
        if (tip != 0) {
            IWETH(base).withdraw(tip);
            (bool ok,) = block.coinbase.call{value: tip}("");
            if (!ok) revert TipFailed();
        }
    }

    /// @notice V2 flash callback: run hops 1.. and repay hop 0's pair its input.
    function uniswapV2Call(address sender, uint256 amount0, uint256, bytes calldata plan)
        external
    {
        _consumeExpected();
        if (sender != address(this)) revert UnexpectedCallback();
        // the pair calls back its recipient, so hop 0's output is here: forward it to a V2 hop 1
        uint256 next = _hopOffset(plan, 1);
        if (_u(plan, next + 20, 8) & 2 == 0) {
            IPool pair = IPool(msg.sender);
            address tokenOut = amount0 > 0 ? pair.token0() : pair.token1();
            // hop 0's amountOut sits in the 16 bytes just before hop 1
            _transfer(tokenOut, address(uint160(_u(plan, next, 160))), _u(plan, next - 16, 128));
        }
        _runHops(plan, 1);
        _transfer(address(uint160(_u(plan, 3, 160))), msg.sender, _u(plan, 23, 128));
    }

    /// @notice V3 callback: pay the positive delta; a non-empty plan first runs hops 1.. (flash).
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata plan)
        external
    {
        _consumeExpected();
        if (plan.length != 0) _runHops(plan, 1);
        if (amount0Delta > 0) {
            _transfer(IPool(msg.sender).token0(), msg.sender, uint256(amount0Delta));
        } else if (amount1Delta > 0) {
            _transfer(IPool(msg.sender).token1(), msg.sender, uint256(amount1Delta));
        }
    }

    /// Borrow through hop 0's pool; its callback runs the rest of the cycle and repays.
    function _runFirstHopFlash(bytes calldata plan) internal {
        uint256 off = _hopOffset(plan, 0);
        address pool = address(uint160(_u(plan, off, 160)));
        uint256 hopFlags = _u(plan, off + 20, 8);
        uint256 amountOut = _u(plan, off + 24, 128);
        _expect(pool);
        if (hopFlags & 2 == 0) {
            // a V2 pair calls back its recipient, so the flash output must come here
            _swapV2(pool, hopFlags & 1 != 0, amountOut, address(this), plan);
        } else {
            address to = _recipient(plan, 0);
            _swapV3(pool, hopFlags & 1 != 0, _u(plan, 23, 128), amountOut, to, plan, 0);
        }
        _clearExpected();
    }

    /// Run hops `first`..n-1; hop 0 in inventory mode pays its input from the contract.
    function _runHops(bytes calldata plan, uint256 first) internal {
        uint256 n = _u(plan, 2, 8);
        uint256 amountIn = first == 0
            ? _u(plan, 23, 128)
            : _u(plan, _hopOffset(plan, first - 1) + 24, 128);
        for (uint256 i = first; i < n; ++i) {
            uint256 off = _hopOffset(plan, i);
            address pool = address(uint160(_u(plan, off, 160)));
            uint256 hopFlags = _u(plan, off + 20, 8);
            uint256 amountOut = _u(plan, off + 24, 128);
            address to = _recipient(plan, i);
            _expect(pool);
            if (hopFlags & 2 == 0) {
                // a V2 pair is paid up front: by the previous hop's recipient choice, or here
                if (i == 0) _transfer(address(uint160(_u(plan, 3, 160))), pool, amountIn);
                _swapV2(pool, hopFlags & 1 != 0, amountOut, to, "");
            } else {
                _swapV3(pool, hopFlags & 1 != 0, amountIn, amountOut, to, "", i);
            }
            _clearExpected();
            amountIn = amountOut;
        }
    }

    function _swapV2(address pool, bool zeroForOne, uint256 amountOut, address to, bytes memory d)
        internal
    {
        IPool(pool).swap(zeroForOne ? 0 : amountOut, zeroForOne ? amountOut : 0, to, d);
    }

    function _swapV3(
        address pool,
        bool zeroForOne,
        uint256 amountIn,
        uint256 amountOut,
        address to,
        bytes memory d,
        uint256 hop
    ) internal {
        (int256 a0, int256 a1) = IPool(pool).swap(
            to,
            zeroForOne,
            int256(amountIn),
            zeroForOne ? MIN_SQRT_RATIO + 1 : MAX_SQRT_RATIO - 1,
            d
        );
        int256 outDelta = zeroForOne ? a1 : a0;
        // pool-side deltas: the output is negative; a surplus over amountOut stays where it went
        uint256 got = outDelta < 0 ? uint256(-outDelta) : 0;
        if (got < amountOut) revert InsufficientOutput(hop, got, amountOut);
    }

    /// Hop i sends its output straight to the next V2 pair, else to this contract.
    function _recipient(bytes calldata plan, uint256 i) internal view returns (address) {
        if (i + 1 == _u(plan, 2, 8)) return address(this);
        uint256 next = _hopOffset(plan, i + 1);
        if (_u(plan, next + 20, 8) & 2 != 0) return address(this);
        return address(uint160(_u(plan, next, 160)));
    }

    function _hopOffset(bytes calldata plan, uint256 i) internal pure returns (uint256) {
        return HEADER_BYTES + (_u(plan, 1, 8) & 2 != 0 ? GUARD_BYTES : 0) + i * HOP_BYTES;
    }

    /// Read a `bits`-wide big-endian unsigned integer at byte `off` of `plan`.
    function _u(bytes calldata plan, uint256 off, uint256 bits) internal pure returns (uint256 v) {
        assembly {
            v := shr(sub(256, bits), calldataload(add(plan.offset, off)))
        }
    }

    function _expect(address pool) internal {
        assembly {
            tstore(EXPECTED_POOL_SLOT, pool)
        }
    }

    function _clearExpected() internal {
        assembly {
            tstore(EXPECTED_POOL_SLOT, 0)
        }
    }

    /// Require the caller to be the pool this contract is calling right now; single use.
    function _consumeExpected() internal {
        address expected;
        assembly {
            expected := tload(EXPECTED_POOL_SLOT)
        }
        if (expected == address(0) || msg.sender != expected) revert UnexpectedCallback();
        _clearExpected();
    }

    function _balanceOf(address token) internal view returns (uint256) {
        (bool ok, bytes memory ret) =
            token.staticcall(abi.encodeWithSelector(IERC20.balanceOf.selector, address(this)));
        if (!ok || ret.length < 32) revert TransferFailed();
        return abi.decode(ret, (uint256));
    }

    function _transfer(address token, address to, uint256 amount) internal {
        (bool ok, bytes memory ret) =
            token.call(abi.encodeWithSelector(IERC20.transfer.selector, to, amount));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed();
    }
}

interface IERC20 {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
}

interface IWETH {
    function withdraw(uint256 amount) external;
}

/// The V2 pair and V3 pool functions this contract calls (swap is overloaded by signature).
interface IPool {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data)
        external;
    function swap(
        address recipient,
        bool zeroForOne,
        int256 amountSpecified,
        uint160 sqrtPriceLimitX96,
        bytes calldata data
    ) external returns (int256 amount0, int256 amount1);
}

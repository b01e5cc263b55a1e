// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title FeeOnTransferToken
/// @notice Owner-mintable ERC20 that takes `feeBps` of every transfer: the recipient gets less.
/// @dev Rule: a transfer of `amount` from `from` to `to` moves `fee = amount * feeBps / 10000`
///      to `feeRecipient` (burned when it is address(0)) and `amount - fee` to `to`, unless
///      `from` or `to` is fee-exempt (the owner is exempt from construction, so it can seed
///      pools exactly). Transfer events show the real amounts: one event for the net amount
///      to `to` and one for the fee. An allowance of type(uint256).max is never decremented.
contract FeeOnTransferToken {
    string public name;
    string public symbol;
    uint8 public decimals;
    uint256 public totalSupply;
    address public owner;
    uint16 public feeBps;
    address public feeRecipient;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public feeExempt;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error OwnableUnauthorizedAccount(address account);
    error FeeTooHigh(uint256 feeBps);

    modifier onlyOwner() {
        if (msg.sender != owner) revert OwnableUnauthorizedAccount(msg.sender);
        _;
    }

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint16 feeBps_) {
        if (feeBps_ > 10_000) revert FeeTooHigh(feeBps_);
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        feeBps = feeBps_;
        owner = msg.sender;
        feeExempt[msg.sender] = true;
    }

    function setFee(uint16 feeBps_, address feeRecipient_) external onlyOwner {
        if (feeBps_ > 10_000) revert FeeTooHigh(feeBps_);
        feeBps = feeBps_;
        feeRecipient = feeRecipient_;
    }

    function setFeeExempt(address account, bool exempt) external onlyOwner {
        feeExempt[account] = exempt;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < amount) revert ERC20InsufficientAllowance(msg.sender, allowed, amount);
            unchecked {
                allowance[from][msg.sender] = allowed - amount;
            }
        }
        _transfer(from, to, amount);
        return true;
    }

    function mint(address to, uint256 amount) external onlyOwner {
        totalSupply += amount;
        unchecked {
            balanceOf[to] += amount;
        }
        emit Transfer(address(0), to, amount);
    }

    /// @notice The fee a transfer of `amount` from `from` to `to` pays.
    function feeOf(address from, address to, uint256 amount) public view returns (uint256) {
        if (feeExempt[from] || feeExempt[to]) return 0;
        return (amount * feeBps) / 10_000;
    }

    function _transfer(address from, address to, uint256 amount) internal {
        uint256 balance = balanceOf[from];
        if (balance < amount) revert ERC20InsufficientBalance(from, balance, amount);
        uint256 fee = feeOf(from, to, amount);
        unchecked {
            balanceOf[from] = balance - amount;
            balanceOf[to] += amount - fee;
        }
        emit Transfer(from, to, amount - fee);
        if (fee != 0) {
            address sink = feeRecipient;
            if (sink == address(0)) {
                unchecked {
                    totalSupply -= fee;
                }
            } else {
                unchecked {
                    balanceOf[sink] += fee;
                }
            }
            emit Transfer(from, sink, fee);
        }
    }
}

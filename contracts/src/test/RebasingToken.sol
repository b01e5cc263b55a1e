// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title RebasingToken
/// @notice Owner-mintable ERC20 whose balances are shares times a global index.
/// @dev balanceOf(a) = sharesOf[a] * indexNumerator / indexDenominator. The owner's
///      rebase(numerator, denominator) changes every balance at once with no Transfer event,
///      so a pool's balance can fall below (or rise above) its recorded reserves. A transfer of
///      `amount` moves ceil(amount * denominator / numerator) shares, so the recipient's
///      balance grows by at least `amount`. Rebase(numerator, denominator) is emitted.
contract RebasingToken {
    string public name;
    string public symbol;
    uint8 public decimals;
    address public owner;
    uint256 public totalShares;
    uint256 public indexNumerator = 1;
    uint256 public indexDenominator = 1;

    mapping(address => uint256) public sharesOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Rebase(uint256 numerator, uint256 denominator);

    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error OwnableUnauthorizedAccount(address account);
    error InvalidIndex(uint256 numerator, uint256 denominator);

    modifier onlyOwner() {
        if (msg.sender != owner) revert OwnableUnauthorizedAccount(msg.sender);
        _;
    }

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        owner = msg.sender;
    }

    function balanceOf(address account) public view returns (uint256) {
        return (sharesOf[account] * indexNumerator) / indexDenominator;
    }

    function totalSupply() external view returns (uint256) {
        return (totalShares * indexNumerator) / indexDenominator;
    }

    function rebase(uint256 numerator, uint256 denominator) external onlyOwner {
        if (numerator == 0 || denominator == 0) revert InvalidIndex(numerator, denominator);
        indexNumerator = numerator;
        indexDenominator = denominator;
        emit Rebase(numerator, denominator);
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
        uint256 shares = _sharesOf(amount);
        totalShares += shares;
        sharesOf[to] += shares;
        emit Transfer(address(0), to, amount);
    }

    function _sharesOf(uint256 amount) internal view returns (uint256) {
        uint256 num = indexNumerator;
        return (amount * indexDenominator + num - 1) / num;
    }

    function _transfer(address from, address to, uint256 amount) internal {
        uint256 shares = _sharesOf(amount);
        uint256 held = sharesOf[from];
        if (held < shares) revert ERC20InsufficientBalance(from, balanceOf(from), amount);
        unchecked {
            sharesOf[from] = held - shares;
            sharesOf[to] += shares;
        }
        emit Transfer(from, to, amount);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice A weird ERC-20 whose `transfer` and `transferFrom` move nothing and return false: SafeERC20 must turn
/// that into a revert instead of crediting collateral that never arrived.
contract FalseToken {
    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address, uint256) external pure returns (bool) {
        return false;
    }

    function transferFrom(address, address, uint256) external pure returns (bool) {
        return false;
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title ComputeToken
/// @notice The unit of payment of the compute market: a plain ERC-20 with EIP-2612 permit, so that a consumer
/// can escrow a job's price in one transaction (`JobMarket.postJobWithPermit`). The whole supply is minted once
/// at deployment (the devnet deploy mints to Anvil's dev accounts); there is no owner and no later minting.
contract ComputeToken is ERC20, ERC20Permit {
    /// @notice The constructor was given no holders.
    error ComputeToken_NoHolders();

    /// @notice A holder address was zero.
    /// @param index Position of the zero address in `holders`.
    error ComputeToken_ZeroHolder(uint256 index);

    /// @notice Deploys the token and mints `each` tokens to every address in `holders`.
    /// @dev Emits one {Transfer} from the zero address per holder.
    /// Requirements: `holders` is non-empty and contains no zero address.
    /// @param holders Initial holders (duplicates receive `each` once per occurrence).
    /// @param each Amount minted to each holder, in the smallest unit (18 decimals).
    constructor(address[] memory holders, uint256 each)
        ERC20("Compute Token", "CCT")
        ERC20Permit("Compute Token")
    {
        if (holders.length == 0) revert ComputeToken_NoHolders();
        for (uint256 i = 0; i < holders.length; ++i) {
            if (holders[i] == address(0)) revert ComputeToken_ZeroHolder(i);
            _mint(holders[i], each);
        }
    }
}

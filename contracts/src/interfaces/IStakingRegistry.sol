// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IStakingRegistry
/// @notice What the job market needs from the staking registry: who may accept jobs, the enumerable set of
/// drawable verifiers, and slashing.
interface IStakingRegistry {
    /// @notice Whether `account` is a registered provider with at least the minimum provider stake.
    function isProvider(address account) external view returns (bool);

    /// @notice Whether `account` is in the drawable verifier set.
    function isVerifier(address account) external view returns (bool);

    /// @notice Number of drawable verifiers.
    function verifierCount() external view returns (uint256);

    /// @notice The drawable verifier at `index` (order changes on removal: swap-and-pop).
    function verifierAt(uint256 index) external view returns (address);

    /// @notice Takes up to `amount` of `account`'s stake (active first, then unbonding) and sends it to `to`.
    /// @return slashed The amount actually taken (less than `amount` when the stake is smaller).
    function slash(address account, uint256 amount, address to) external returns (uint256 slashed);
}

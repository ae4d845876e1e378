// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IStakingRegistry
/// @notice What the job market and the capacity registry need from the staking registry: who may accept jobs,
/// the stake-weighted sortition of verifiers (`sample`), slashing, and the duty counter that keeps a staker's
/// tokens in place while they may still slash it.
interface IStakingRegistry {
    /// @notice Whether `account` is a registered provider with at least the minimum provider stake.
    function isProvider(address account) external view returns (bool);

    /// @notice Whether `account` is in the drawable verifier set.
    function isVerifier(address account) external view returns (bool);

    /// @notice Draw number `j` of the sortition with `seed`: a drawable verifier picked with probability
    /// proportional to its active stake as it stood at the end of block `snapshot` (zero address when nobody
    /// was drawable then). Draws with different `j` are independent. The pick may have left the set or lost
    /// stake since `snapshot`; callers that need a live verifier check `isVerifier` and draw again.
    /// @dev Requirements: `snapshot` < block.number (weights of the current block can still change).
    /// @param seed The randomness.
    /// @param j The draw's number.
    /// @param snapshot The block whose closing weights count.
    /// @return The verifier drawn.
    function sample(bytes32 seed, uint256 j, uint256 snapshot) external view returns (address);

    /// @notice Takes up to `amount` of `account`'s stake (active first, then unbonding) and sends it to `to`.
    /// @return slashed The amount actually taken (less than `amount` when the stake is smaller).
    function slash(address account, uint256 amount, address to) external returns (uint256 slashed);

    /// @notice Records that `account` was drawn for a duty (an audit or a contest panel) that may still end in
    /// a slash or needs its stake behind its vote: `withdraw` is refused while any duty is open.
    /// @dev Emits {DutiesChanged}. Requirements: the caller is the market or the capacity registry.
    /// @param account The drawn staker.
    function openDuty(address account) external;

    /// @notice Records that one of `account`'s duties ended (its job reached a terminal state).
    /// @dev Emits {DutiesChanged}. Requirements: the caller is the market or the capacity registry; `account` has an open duty.
    /// @param account The staker.
    function closeDuty(address account) external;

    /// @notice Number of open duties of `account`; `withdraw` is refused while it is non-zero.
    /// @param account The staker.
    /// @return The count.
    function dutiesOf(address account) external view returns (uint256);

    /// @notice The open duties of `account` changed.
    /// @param account The staker.
    /// @param openDuties The count afterwards.
    event DutiesChanged(address indexed account, uint256 openDuties);
}

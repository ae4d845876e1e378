// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IJobMarket
/// @notice The part of the job market that other contracts call. `CapacityClaims` redeems a claim by opening a
/// prepaid job with the claim's provider; the provider's collateral for that job comes out of the claims
/// contract's locked series collateral. The job then runs the same commit / audit / contest life cycle as any
/// job: an honest provider gets the collateral back, a provider that defaults or is caught cheating loses it to
/// the consumer (the claim holder) and the verifiers.
interface IJobMarket {
    /// @notice Life cycle of a job. Terminal states: Cancelled, Completed, Defaulted, Slashed.
    enum Status {
        None, // no such job
        Open, // posted, price escrowed, waiting for a provider
        Accepted, // provider posted collateral, must commit before `commitBy`
        Committed, // Merkle root on chain, waiting for `drawAudit` in a later block
        Auditing, // a verifier was drawn and must attest before the deadline
        Failed, // the verifier attested fail; the provider may contest before the deadline
        Contested, // the provider posted a bond; waiting for `drawPanel` in a later block
        Voting, // a panel was drawn and votes before the deadline
        Cancelled, // consumer took the escrow back before any provider accepted
        Completed, // provider paid, collateral returned
        Defaulted, // provider never committed: price and collateral went to the consumer
        Slashed // fail stood: price and collateral went to the consumer and the verifiers
    }

    /// @notice A prepaid job was opened for a redeemed capacity claim.
    /// @param jobId The new job.
    /// @param consumer The claim holder who receives the result (and the collateral on failure).
    /// @param provider The provider that must commit a result.
    /// @param specHash keccak256 of the canonical job spec.
    /// @param collateral Tokens pulled from the claims contract as the provider's collateral.
    /// @param commitBy Unix time after which the provider is in default.
    event PrepaidJobOpened(
        uint256 indexed jobId,
        address indexed consumer,
        address indexed provider,
        bytes32 specHash,
        uint256 collateral,
        uint64 commitBy
    );

    /// @notice Opens a job that is already paid for (price 0) and already accepted by `provider`.
    /// @dev Pulls `collateral` tokens from the caller with `transferFrom`: the caller must approve the market.
    /// Emits {PrepaidJobOpened}.
    /// Requirements:
    /// - the caller is the claims contract set once with `setClaims`;
    /// - `consumer` and `provider` are non-zero and distinct; `specHash` is non-zero;
    /// - the caller has approved at least `collateral` tokens to the market.
    /// @param consumer The claim holder.
    /// @param provider The series' provider.
    /// @param specHash keccak256 of the canonical job spec.
    /// @param collateral The provider collateral backing this job (may be 0).
    /// @return jobId The id of the new job (in the Accepted state).
    function openPrepaidJob(address consumer, address provider, bytes32 specHash, uint256 collateral)
        external
        returns (uint256 jobId);

    /// @notice The current state of a job.
    /// @param jobId The job.
    /// @return The job's status (`None` for an unknown id).
    function statusOf(uint256 jobId) external view returns (Status);
}

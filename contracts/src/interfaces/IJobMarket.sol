// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IJobMarket
/// @notice Types, events and errors of the job market, and the part other contracts call. `CapacityClaims`
/// redeems a claim by opening a prepaid job with the claim's provider (`openPrepaidJob`); the provider's
/// collateral for that job comes out of the claims contract's locked series collateral. The job then runs the
/// same commit / audit / contest life cycle as any job: an honest provider gets the collateral back, a provider
/// that defaults or is caught cheating loses it to the consumer (the claim holder) and the verifiers.
interface IJobMarket {
    /// @notice Life cycle of a job. Terminal states: Cancelled, Completed, Defaulted, Slashed.
    enum Status {
        None, // no such job
        Open, // posted, price escrowed, waiting for a provider
        Accepted, // provider posted collateral, must commit before `commitBy`
        Committed, // Merkle root on chain; the consumer, then the provider reveal their secrets (the audit draw)
        Auditing, // a verifier was drawn and must attest before the deadline
        Failed, // the verifier attested fail; the provider may contest before the deadline
        Contested, // (unused since panels are drawn in `contest`; kept so that status numbers stay stable)
        Voting, // the provider contested; the panel commits ballots, then reveals them
        Cancelled, // consumer took the escrow back before any provider accepted
        Completed, // provider paid, collateral returned
        Defaulted, // provider never committed: price and collateral went to the consumer
        Slashed // fail stood: price and collateral went to the consumer and the verifiers
    }

    /// @notice How a contest ended.
    enum Outcome {
        Overturned, // panel majority found the provider honest: accuser slashed, provider paid, bond back
        Upheld, // panel majority confirmed the fail: bond forfeited to the majority, provider slashed
        NoQuorum // no majority by the deadline: the fail stands, the bond goes back to the provider
    }

    /// @notice A panel member's ballot.
    enum Ballot {
        None, // not on the panel
        Pending, // on the panel, has not committed a ballot
        Committed, // committed a ballot hash, not revealed yet
        Honest, // revealed: the provider's result is correct
        Cheated // revealed: the fail stands
    }

    /// @notice Deployment parameters of the market.
    /// @param auditProbabilityBps Probability (basis points) that a committed job is audited.
    /// @param protocolFeeBps Share of the price (bps) paid to the auditing verifier, or to the reward pool.
    /// @param accuserRewardBps Share (bps) of a cheating provider's collateral paid to the accusing verifier;
    /// the rest goes to the consumer.
    /// @param poolShareBps Share (bps) of the reward pool paid on top to a verifier whose verdict stands.
    /// @param samplesK Units sampled per audit (k = min(samplesK, nUnits)).
    /// @param panelSize Seats of a contest panel (each seat an independent stake-weighted draw).
    /// @param attestWindow Seconds a drawn verifier has to attest.
    /// @param contestWindow Seconds a failed provider has to contest.
    /// @param voteWindow Seconds a panel has to commit its ballots.
    /// @param revealWindow Seconds for each reveal step: the consumer's secret, then the provider's secret (after
    /// the consumer revealed or its window passed), and the panel's ballots after the vote window.
    /// @param contestBond Tokens a provider posts to contest.
    /// @param falseAccuserSlash Stake slashed from a verifier whose fail the panel overturns.
    /// @param absentVerifierSlash Stake slashed from a drawn verifier that does not attest in time, and per seat
    /// from a panel member that does not reveal a ballot.
    /// @param minFee Least protocol fee of a job (what pays its auditor); a posted job's price * protocolFeeBps /
    /// 10000 must reach it, a prepaid job's whole price is its fee.
    /// @param minCollateral Least provider collateral of a job.
    struct Params {
        uint16 auditProbabilityBps;
        uint16 protocolFeeBps;
        uint16 accuserRewardBps;
        uint16 poolShareBps;
        uint16 samplesK;
        uint16 panelSize;
        uint32 attestWindow;
        uint32 contestWindow;
        uint32 voteWindow;
        uint32 revealWindow;
        uint256 contestBond;
        uint256 falseAccuserSlash;
        uint256 absentVerifierSlash;
        uint256 minFee;
        uint256 minCollateral;
    }

    /// @notice What a consumer asks for when posting a job.
    /// @param specHash keccak256 of the canonical job spec.
    /// @param price Tokens escrowed now and paid to an honest provider (minus the protocol fee).
    /// @param collateral Tokens the accepting provider must lock.
    /// @param minUnits Least number of units the commitment may have (0: at least 1).
    /// @param maxUnits Most units the commitment may have (0: no upper bound).
    /// @param acceptBy Unix time after which no provider may accept.
    /// @param commitBy Unix time after which an accepted provider is in default.
    /// @param secretHash keccak256(abi.encode(secret)) of the consumer's audit secret, revealed after the
    /// provider's commitment (see `revealConsumerSecret`). A fresh random 32-byte secret per job.
    struct JobTerms {
        bytes32 specHash;
        uint256 price;
        uint256 collateral;
        uint64 minUnits;
        uint64 maxUnits;
        uint64 acceptBy;
        uint64 commitBy;
        bytes32 secretHash;
    }

    /// @notice A job's full record.
    /// @param consumer Who pays and receives refunds.
    /// @param provider Who accepted (zero while Open).
    /// @param verifier The drawn auditor (zero when not audited).
    /// @param status Where the job is in its life cycle.
    /// @param prepaid Opened by the claims contract (price 0).
    /// @param acceptBy Acceptance deadline.
    /// @param commitBy Commit deadline.
    /// @param deadline Deadline of the current step: the consumer's reveal (Committed; the provider's reveal
    /// ends revealWindow later), attest, contest, or ballot commits (Voting; reveals end revealWindow later).
    /// @param consumerRevealed Whether the consumer revealed its secret.
    /// @param minUnits Lower bound on nUnits.
    /// @param maxUnits Upper bound on nUnits (0: none).
    /// @param nUnits Units in the committed tree.
    /// @param snapshotBlock The block before the commitment: the verifier stakes of its end weight every draw.
    /// @param specHash keccak256 of the canonical job spec.
    /// @param root Committed Merkle root.
    /// @param consumerSecret The consumer's secret hash, replaced by the secret once revealed.
    /// @param providerSecret The provider's secret hash (given with the commitment).
    /// @param seed Audit seed keccak256(abi.encode(consumer secret or 0, provider secret, jobId)); zero until the
    /// provider reveals.
    /// @param evidenceHash The verifier's evidence for a fail.
    /// @param price Escrowed price.
    /// @param collateral Provider collateral (required while Open, locked afterwards).
    /// @param bond Contest bond posted.
    struct Job {
        address consumer;
        address provider;
        address verifier;
        Status status;
        bool prepaid;
        bool consumerRevealed;
        uint64 acceptBy;
        uint64 commitBy;
        uint64 deadline;
        uint64 minUnits;
        uint64 maxUnits;
        uint64 nUnits;
        uint64 snapshotBlock;
        bytes32 specHash;
        bytes32 root;
        bytes32 consumerSecret;
        bytes32 providerSecret;
        bytes32 seed;
        bytes32 evidenceHash;
        uint256 price;
        uint256 collateral;
        uint256 bond;
    }

    /// @notice A consumer posted a job and escrowed its price.
    event JobPosted(
        uint256 indexed jobId, address indexed consumer, bytes32 specHash, uint256 price, uint256 collateral
    );
    /// @notice The consumer took back the escrow of a job nobody accepted.
    event JobCancelled(uint256 indexed jobId);
    /// @notice A provider accepted a job and locked its collateral.
    event JobAccepted(uint256 indexed jobId, address indexed provider, uint64 commitBy);
    /// @notice A prepaid job was opened for a redeemed capacity claim.
    /// @param jobId The new job.
    /// @param consumer The claim holder who receives the result (and the collateral on failure).
    /// @param provider The provider that must commit a result.
    /// @param specHash keccak256 of the canonical job spec.
    /// @param collateral Tokens pulled from the claims contract as the provider's collateral.
    /// @param price The auditor's fee, pulled from the claims contract (the claims themselves paid the work).
    /// @param commitBy Unix time after which the provider is in default.
    event PrepaidJobOpened(
        uint256 indexed jobId,
        address indexed consumer,
        address indexed provider,
        bytes32 specHash,
        uint256 price,
        uint256 collateral,
        uint64 commitBy
    );
    /// @notice The provider committed the Merkle root of its unit outputs (and the hash of its audit secret);
    /// the consumer may reveal its secret until `revealBy`.
    event ResultCommitted(uint256 indexed jobId, bytes32 root, uint64 nUnits, uint64 revealBy);
    /// @notice The consumer revealed its audit secret; the provider reveals its own until `revealBy`.
    event ConsumerRevealed(uint256 indexed jobId, bytes32 secret, uint64 revealBy);
    /// @notice The provider revealed its secret and so fixed the seed: whether the job is audited and by whom.
    /// `verifier` is zero when the job is not audited (or nobody was drawable).
    event AuditDrawn(uint256 indexed jobId, bytes32 seed, bool audited, address indexed verifier);
    /// @notice The provider did not reveal its secret in time: treated as a default.
    event RevealTimedOut(uint256 indexed jobId, uint256 consumerPaid);
    /// @notice The drawn verifier attested.
    event Attested(uint256 indexed jobId, address indexed verifier, bool passed, bytes32 evidenceHash);
    /// @notice The drawn verifier missed its deadline and was slashed `slashed` tokens (to the reward pool).
    event AttestationTimedOut(uint256 indexed jobId, address indexed verifier, uint256 slashed);
    /// @notice The provider contested a fail and posted `bond`.
    event Contested(uint256 indexed jobId, uint256 bond);
    /// @notice A contest panel was drawn from `seed`: one address per seat (a member may hold several seats).
    /// Ballot commits are due by `voteBy`, reveals revealWindow later.
    event PanelDrawn(uint256 indexed jobId, bytes32 seed, address[] panel, uint64 voteBy);
    /// @notice A panel member committed a ballot hash.
    event BallotCommitted(uint256 indexed jobId, address indexed member);
    /// @notice A panel member revealed its ballot (it counts once per seat the member holds).
    event Voted(uint256 indexed jobId, address indexed member, bool providerHonest);
    /// @notice A panel member that revealed no ballot was slashed `slashed` tokens (to the reward pool).
    event BallotMissing(uint256 indexed jobId, address indexed member, uint256 slashed);
    /// @notice A contest was resolved.
    event ContestResolved(uint256 indexed jobId, Outcome outcome, uint256 honestVotes, uint256 cheatedVotes);
    /// @notice The job ended with the provider paid.
    event JobCompleted(uint256 indexed jobId, uint256 providerPaid);
    /// @notice The provider never committed; price and collateral went to the consumer.
    event JobDefaulted(uint256 indexed jobId, uint256 consumerPaid);
    /// @notice The fail stood; the provider's collateral refunded the consumer and rewarded the accuser.
    event JobSlashed(uint256 indexed jobId, uint256 consumerPaid, uint256 accuserPaid);
    /// @notice Tokens left the market for `to` in the course of job `jobId`.
    event Paid(uint256 indexed jobId, address indexed to, uint256 amount);
    /// @notice The verifier reward pool grew by `amount` during job `jobId`.
    event PoolFunded(uint256 indexed jobId, uint256 amount);
    /// @notice The claims contract was set.
    event ClaimsSet(address indexed claims);

    /// @notice A deployment parameter is out of range.
    error JobMarket_InvalidParams(string field);
    /// @notice A zero address was given.
    error JobMarket_ZeroAddress();
    /// @notice A zero amount was given where a positive one is needed.
    error JobMarket_ZeroAmount();
    /// @notice A zero hash was given.
    error JobMarket_ZeroHash();
    /// @notice The caller is not the deployer.
    error JobMarket_NotDeployer(address caller);
    /// @notice The claims contract was already set.
    error JobMarket_ClaimsAlreadySet(address claims);
    /// @notice The caller is not the claims contract.
    error JobMarket_NotClaims(address caller);
    /// @notice Consumer and provider are the same account.
    error JobMarket_SelfDealing(address account);
    /// @notice The acceptance / commit deadlines are not in the future and in order.
    error JobMarket_InvalidDeadlines(uint64 acceptBy, uint64 commitBy);
    /// @notice The unit bounds are inconsistent.
    error JobMarket_InvalidUnitBounds(uint64 minUnits, uint64 maxUnits);
    /// @notice The job is not in the state this call needs.
    error JobMarket_WrongStatus(uint256 jobId, Status actual, Status expected);
    /// @notice The step's deadline has passed.
    error JobMarket_DeadlinePassed(uint256 jobId, uint64 deadline);
    /// @notice The step's deadline has not passed yet.
    error JobMarket_DeadlineNotReached(uint256 jobId, uint64 deadline);
    /// @notice The step may not happen yet (a reveal before the other party's, a ballot reveal in the commit
    /// phase); it may from `from` on.
    error JobMarket_TooEarly(uint256 jobId, uint64 from);
    /// @notice A revealed secret or ballot does not match its committed hash.
    error JobMarket_WrongPreimage(uint256 jobId, address caller);
    /// @notice The job's fee (price * protocolFeeBps / 10000, or a prepaid job's price) is below `minFee`.
    error JobMarket_FeeTooLow(uint256 fee, uint256 minFee);
    /// @notice The job's collateral is below `minCollateral`.
    error JobMarket_CollateralTooLow(uint256 collateral, uint256 minCollateral);
    /// @notice The caller is not the job's consumer.
    error JobMarket_NotConsumer(uint256 jobId, address caller);
    /// @notice The caller is not the job's provider.
    error JobMarket_NotProvider(uint256 jobId, address caller);
    /// @notice The caller is not the job's drawn verifier.
    error JobMarket_NotVerifier(uint256 jobId, address caller);
    /// @notice The caller is not a staked, registered provider.
    error JobMarket_NotStakedProvider(address caller);
    /// @notice The caller is not on the job's panel.
    error JobMarket_NotPanelMember(uint256 jobId, address caller);
    /// @notice The panel member already voted.
    error JobMarket_AlreadyVoted(uint256 jobId, address member);
    /// @notice The committed unit count is outside the job's bounds.
    error JobMarket_InvalidUnits(uint256 jobId, uint64 nUnits, uint64 minUnits, uint64 maxUnits);
    /// @notice A unit index at or past the committed unit count.
    error JobMarket_IndexOutOfRange(uint256 jobId, uint256 index, uint64 nUnits);
    /// @notice The audit seed has not been drawn.
    error JobMarket_NoSeed(uint256 jobId);

    /// @notice Opens a job whose work is already paid for (by the claims) and already accepted by `provider`.
    /// `terms.price` is the auditor's fee (all of it is fee), `terms.collateral` the provider's collateral; both
    /// are pulled from the caller. `terms.acceptBy` is ignored; `terms.commitBy` is set by the claims contract
    /// from the work redeemed.
    /// @dev Pulls `terms.price + terms.collateral` tokens from the caller with `transferFrom`.
    /// Emits {PrepaidJobOpened}.
    /// Requirements:
    /// - the caller is the claims contract set once with `setClaims`;
    /// - `consumer` and `provider` are non-zero and distinct; `terms.specHash` and `terms.secretHash` non-zero;
    /// - `terms.price` >= minFee, `terms.collateral` >= minCollateral; commitBy in the future; unit bounds valid;
    /// - the caller has approved the tokens to the market.
    /// @param consumer The claim holder.
    /// @param provider The series' provider.
    /// @param terms The job's terms (see above).
    /// @return jobId The id of the new job (in the Accepted state).
    function openPrepaidJob(address consumer, address provider, JobTerms calldata terms)
        external
        returns (uint256 jobId);

    /// @notice The deployment parameters.
    /// @return The parameters.
    function params() external view returns (Params memory);

    /// @notice The current state of a job.
    /// @param jobId The job.
    /// @return The job's status (`None` for an unknown id).
    function statusOf(uint256 jobId) external view returns (Status);
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";
import {Commitment} from "./libraries/Commitment.sol";

/// @title JobMarket
/// @notice Escrow and settlement of compute jobs with optimistic audits that no party can steer.
///
/// Life cycle: a consumer posts a job, escrows the price and commits to a secret (`terms.secretHash`); a staked
/// provider accepts with collateral; the provider commits the Merkle root of its unit outputs together with the
/// hash of a secret of its own. Then the consumer reveals its secret (`revealConsumerSecret`, within
/// `revealWindow`), then the provider reveals its own (`revealProviderSecret`, within the next `revealWindow`;
/// it may start once the consumer revealed or the consumer's window passed). The provider's reveal fixes the seed
/// `keccak256(abi.encode(consumerSecret or 0, providerSecret, jobId))` and in the same transaction decides
/// whether the job is audited (`uint256(seed) % 10000 < auditProbabilityBps`) and by whom.
///
/// Why nobody can steer it (threat model and bounds in contracts/README.md): before the root is on chain the
/// provider knows only its own secret and the consumer only its own, so nobody knows the sampled units or the
/// auditor; block producers contribute nothing to the seed (no `prevrandao`, no block hash), so the semantics of
/// Ethereum L1, OP-stack or Arbitrum do not matter. The consumer reveals first, knowing nothing of the provider's
/// secret, so withholding gains it nothing (its secret then counts as 0). The provider reveals last: it knows the
/// seed before revealing, and its only option is to withhold, which defaults it exactly like being caught
/// (price and collateral to the consumer). There is no draw to time: the outcome is fixed by the two secrets.
/// Verifiers are drawn from the registry's stake-weighted sortition (`IStakingRegistry.sample`) with the
/// stakes as they stood in the block before the commitment, so staking, registering or unbonding after anyone
/// could know the seed changes nothing; each draw is independent (`j`), a pick that is a party to the job or no
/// longer drawable is replaced by the next independent draw (no skip-to-neighbour). A provider and consumer
/// that collude (one owner) can choose the seed and so audit themselves with a Sybil verifier; the pool share
/// that verifier takes is capped by the job's own fee, which bounds (but does not stop) what they can take from
/// the pool per job: see "Bounds" in contracts/README.md.
///
/// A fail is optimistic: the provider may contest with a bond, which draws a panel of `panelSize` seats from the
/// same seed and snapshot (each seat an independent stake-weighted draw; never the provider, the consumer or the
/// accuser). Members commit ballot hashes within `voteWindow`, then reveal within `revealWindow`; a member that
/// reveals nothing is slashed `absentVerifierSlash` per seat. A decision needs a strict majority of all seats.
///
/// Duties: a drawn verifier and every panel seat get a duty in the registry (`openDuty`) that ends when the job
/// reaches a terminal state (`closeDuty`); the registry refuses `withdraw` while a duty is open.
///
/// Payouts (fee = price * protocolFeeBps / 10000, a prepaid job's price is all fee; pool share = min(rewardPool *
/// poolShareBps / 10000, fee)):
/// - not audited, or no drawable verifier: provider gets price - fee + collateral; the fee funds the reward pool;
/// - pass: provider gets price - fee + collateral; the verifier gets the fee plus the pool share;
/// - verifier misses its deadline: it is slashed absentVerifierSlash (to the pool) and the job completes as if
///   not audited;
/// - fail stands (uncontested, upheld, or no quorum): the consumer gets the price back plus the collateral minus
///   accuserRewardBps of it, which goes to the accuser together with the pool share; an upheld contest forfeits
///   the bond to the majority's seats; without quorum the bond goes back to the provider;
/// - fail overturned: the accuser is slashed falseAccuserSlash; the provider gets price - fee + collateral + bond;
///   the fee and the slashed stake are split among the majority's seats;
/// - nobody accepts: the consumer cancels; the provider never commits, or never reveals: anyone triggers the
///   default and the consumer gets price and collateral.
/// Rounding dust of panel splits goes to the reward pool (overturn) or to the consumer (upheld).
///
/// Accounting: `totalOwed` = escrowed prices + locked collateral + bonds + reward pool, updated on every token
/// movement; it equals the market's token balance (invariant-tested).
contract JobMarket is IJobMarket, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;
    /// @notice Largest allowed panel (bounds the loops that draw and pay a panel).
    uint256 public constant MAX_PANEL_SIZE = 31;
    /// @notice Largest allowed sample count (bounds the `sampledIndices` view).
    uint256 public constant MAX_SAMPLES = 256;
    /// @notice Independent sortition draws tried for the auditor before the job counts as "nobody drawable".
    uint256 public constant MAX_AUDITOR_DRAWS = 16;
    /// @notice Independent sortition draws tried per panel seat (bounds the panel loop).
    uint256 public constant MAX_DRAWS_PER_SEAT = 4;

    /// @notice The payment token.
    IERC20 public immutable token;
    /// @notice Where providers and verifiers are staked.
    IStakingRegistry public immutable registry;
    /// @notice The deployer, allowed to call `setClaims` once.
    address public immutable deployer;

    /// @notice The claims contract allowed to open prepaid jobs (zero until set).
    address public claims;
    /// @notice Tokens the market owes; equals its token balance.
    uint256 public totalOwed;
    /// @notice Verifier reward pool (fees of unaudited jobs, stakes of absent verifiers).
    uint256 public rewardPool;
    /// @notice Number of jobs created; job ids are 1..jobCount.
    uint256 public jobCount;

    /// @dev Storage form of {IJobMarket-Job}, the same fields packed into 12 slots instead of 14: each address
    /// shares its slot with a 64-bit time or the flags, and price and collateral (at most 2^128 - 1 each) share
    /// one. A job's life cycle then fills two fresh slots less (about 38k gas per job). `jobOf` returns the
    /// {IJobMarket-Job} form.
    struct JobRecord {
        address consumer;
        uint64 acceptBy;
        Status status;
        bool prepaid;
        bool consumerRevealed;
        address provider;
        uint64 commitBy;
        address verifier;
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
        uint128 price;
        uint128 collateral;
        uint256 bond;
    }

    Params private _params;
    mapping(uint256 jobId => JobRecord) private _jobs;
    mapping(uint256 jobId => address[] members) private _panels;
    mapping(uint256 jobId => mapping(address member => Ballot)) private _ballots;
    mapping(uint256 jobId => mapping(address member => bytes32 ballotHash)) private _ballotHashes;
    mapping(uint256 jobId => uint256 seats) private _committedSeats;
    mapping(uint256 jobId => uint256 seats) private _honestVotes;
    mapping(uint256 jobId => uint256 seats) private _cheatedVotes;

    /// @notice Deploys the market.
    /// @dev Requirements: non-zero token and registry; bps values <= 10000; 1 <= samplesK <= MAX_SAMPLES;
    /// 1 <= panelSize <= MAX_PANEL_SIZE; every window > 0; minFee > 0 (every audit must pay its auditor).
    /// @param token_ The payment token (the registry's staking token).
    /// @param registry_ The staking registry (whose `setMarket` must then be called with this market).
    /// @param params_ Deployment parameters.
    constructor(IERC20 token_, IStakingRegistry registry_, Params memory params_) {
        if (address(token_) == address(0) || address(registry_) == address(0)) {
            revert JobMarket_ZeroAddress();
        }
        if (params_.auditProbabilityBps > BPS) revert JobMarket_InvalidParams("auditProbabilityBps");
        if (params_.protocolFeeBps > BPS) revert JobMarket_InvalidParams("protocolFeeBps");
        if (params_.accuserRewardBps > BPS) revert JobMarket_InvalidParams("accuserRewardBps");
        if (params_.poolShareBps > BPS) revert JobMarket_InvalidParams("poolShareBps");
        if (params_.samplesK == 0 || params_.samplesK > MAX_SAMPLES) {
            revert JobMarket_InvalidParams("samplesK");
        }
        if (params_.panelSize == 0 || params_.panelSize > MAX_PANEL_SIZE) {
            revert JobMarket_InvalidParams("panelSize");
        }
        if (
            params_.attestWindow == 0 || params_.contestWindow == 0 || params_.voteWindow == 0
                || params_.revealWindow == 0
        ) revert JobMarket_InvalidParams("window");
        if (params_.minFee == 0) revert JobMarket_InvalidParams("minFee");
        token = token_;
        registry = registry_;
        deployer = msg.sender;
        _params = params_;
    }

    // ------------------------------------------------------------------ setup

    /// @notice Sets the claims contract allowed to open prepaid jobs. Callable once, by the deployer.
    /// @dev Emits {ClaimsSet}.
    /// Requirements: caller is the deployer; not set yet; `claims_` non-zero.
    /// @param claims_ The CapacityClaims contract.
    function setClaims(address claims_) external {
        if (msg.sender != deployer) revert JobMarket_NotDeployer(msg.sender);
        if (claims != address(0)) revert JobMarket_ClaimsAlreadySet(claims);
        if (claims_ == address(0)) revert JobMarket_ZeroAddress();
        claims = claims_;
        emit ClaimsSet(claims_);
    }

    // ------------------------------------------------------------------ posting and accepting

    /// @notice Posts a job and escrows its price (pulled with `transferFrom`; approve first).
    /// @dev Emits {JobPosted}.
    /// Requirements: non-zero specHash, secretHash and price; fee >= minFee; minCollateral <= collateral; price
    /// and collateral below 2^128; block.timestamp <= acceptBy < commitBy; minUnits <= maxUnits unless maxUnits
    /// is 0.
    /// @param terms What is asked for and on which terms.
    /// @return jobId The new job's id.
    function postJob(JobTerms calldata terms) external nonReentrant returns (uint256 jobId) {
        jobId = _post(terms);
    }

    /// @notice `postJob` with an EIP-2612 permit for the price, in one transaction.
    /// @dev A failing permit is ignored (it may have been front-run); the transfer then needs an allowance.
    /// Emits {JobPosted}.
    /// Requirements: those of `postJob`; a valid permit for `terms.price` or an existing allowance.
    /// @param terms What is asked for and on which terms.
    /// @param permitDeadline The permit's deadline.
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    /// @return jobId The new job's id.
    function postJobWithPermit(JobTerms calldata terms, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        returns (uint256 jobId)
    {
        try IERC20Permit(address(token))
            .permit(msg.sender, address(this), terms.price, permitDeadline, v, r, s) {}
            catch {} // solhint-disable-line no-empty-blocks
        jobId = _post(terms);
    }

    /// @notice The consumer takes back the escrow of a job that no provider has accepted.
    /// @dev Emits {JobCancelled}, {Paid}.
    /// Requirements: the job is Open; the caller is its consumer.
    /// @param jobId The job.
    function cancelJob(uint256 jobId) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Open);
        if (msg.sender != job.consumer) revert JobMarket_NotConsumer(jobId, msg.sender);
        job.status = Status.Cancelled;
        emit JobCancelled(jobId);
        _pay(jobId, job.consumer, job.price);
    }

    /// @notice A staked provider accepts an open job and locks the collateral (pulled with `transferFrom`).
    /// @dev Emits {JobAccepted}.
    /// Requirements: the job is Open; block.timestamp <= acceptBy; the caller is a staked provider and not the
    /// consumer; the caller approved the collateral.
    /// @param jobId The job.
    function acceptJob(uint256 jobId) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Open);
        if (block.timestamp > job.acceptBy) revert JobMarket_DeadlinePassed(jobId, job.acceptBy);
        if (!registry.isProvider(msg.sender)) revert JobMarket_NotStakedProvider(msg.sender);
        if (msg.sender == job.consumer) revert JobMarket_SelfDealing(msg.sender);
        job.provider = msg.sender;
        job.status = Status.Accepted;
        emit JobAccepted(jobId, msg.sender, job.commitBy);
        _pull(msg.sender, job.collateral);
    }

    /// @inheritdoc IJobMarket
    function openPrepaidJob(address consumer, address provider, JobTerms calldata terms)
        external
        nonReentrant
        returns (uint256 jobId)
    {
        if (msg.sender != claims || claims == address(0)) revert JobMarket_NotClaims(msg.sender);
        if (consumer == address(0) || provider == address(0)) revert JobMarket_ZeroAddress();
        if (consumer == provider) revert JobMarket_SelfDealing(consumer);
        if (terms.commitBy <= block.timestamp) {
            revert JobMarket_InvalidDeadlines(uint64(block.timestamp), terms.commitBy);
        }
        _checkTerms(terms, terms.price);
        jobId = ++jobCount;
        JobRecord storage job = _jobs[jobId];
        _record(job, consumer, terms);
        job.provider = provider;
        job.status = Status.Accepted;
        job.prepaid = true;
        job.acceptBy = uint64(block.timestamp);
        emit PrepaidJobOpened(
            jobId, consumer, provider, terms.specHash, terms.price, terms.collateral, terms.commitBy
        );
        _pull(msg.sender, terms.price + terms.collateral);
    }

    // ------------------------------------------------------------------ commit and audit

    /// @notice The provider commits the Merkle root over its `nUnits` unit outputs (v1 commitment rules) and the
    /// hash of its audit secret. The verifier stakes at the end of the previous block become the job's snapshot.
    /// @dev Emits {ResultCommitted}.
    /// Requirements: the job is Accepted; the caller is its provider; block.timestamp <= commitBy; `root` and
    /// `secretHash` are non-zero; minUnits <= nUnits (and >= 1) and nUnits <= maxUnits unless maxUnits is 0.
    /// @param jobId The job.
    /// @param root The Merkle root.
    /// @param nUnits Number of leaves.
    /// @param secretHash keccak256(abi.encode(secret)) of a fresh random 32-byte secret.
    function commitResult(uint256 jobId, bytes32 root, uint64 nUnits, bytes32 secretHash) external {
        JobRecord storage job = _expect(jobId, Status.Accepted);
        if (msg.sender != job.provider) revert JobMarket_NotProvider(jobId, msg.sender);
        if (block.timestamp > job.commitBy) revert JobMarket_DeadlinePassed(jobId, job.commitBy);
        if (root == bytes32(0) || secretHash == bytes32(0)) revert JobMarket_ZeroHash();
        if (nUnits == 0 || nUnits < job.minUnits || (job.maxUnits != 0 && nUnits > job.maxUnits)) {
            revert JobMarket_InvalidUnits(jobId, nUnits, job.minUnits, job.maxUnits);
        }
        uint64 revealBy = uint64(block.timestamp) + _params.revealWindow;
        job.root = root;
        job.nUnits = nUnits;
        job.providerSecret = secretHash;
        job.snapshotBlock = uint64(block.number - 1);
        job.deadline = revealBy;
        job.status = Status.Committed;
        emit ResultCommitted(jobId, root, nUnits, revealBy);
    }

    /// @notice The consumer reveals its audit secret, after the provider's commitment. Anyone may send it (the
    /// preimage is the authorization), so a consumer can hand it to a relay.
    /// @dev Emits {ConsumerRevealed}.
    /// Requirements: the job is Committed; the consumer has not revealed; block.timestamp <= the reveal deadline;
    /// keccak256(abi.encode(secret)) equals the committed hash.
    /// @param jobId The job.
    /// @param secret The consumer's secret.
    function revealConsumerSecret(uint256 jobId, bytes32 secret) external {
        JobRecord storage job = _expect(jobId, Status.Committed);
        if (job.consumerRevealed) revert JobMarket_WrongStatus(jobId, job.status, Status.Committed);
        if (block.timestamp > job.deadline) revert JobMarket_DeadlinePassed(jobId, job.deadline);
        if (keccak256(abi.encode(secret)) != job.consumerSecret) {
            revert JobMarket_WrongPreimage(jobId, msg.sender);
        }
        uint64 revealBy = uint64(block.timestamp) + _params.revealWindow;
        job.consumerSecret = secret;
        job.consumerRevealed = true;
        job.deadline = revealBy;
        emit ConsumerRevealed(jobId, secret, revealBy);
    }

    /// @notice The provider reveals its audit secret, which fixes the seed and draws the audit: rolled against
    /// auditProbabilityBps and, if audited, a verifier drawn by stake at the job's snapshot (never the provider
    /// or the consumer). Not audited (or nobody drawable): the job completes at once. Audited: the verifier gets
    /// a duty in the registry until the job ends. Anyone may send the preimage.
    /// @dev Emits {AuditDrawn}; when not audited also {PoolFunded}, {JobCompleted}, {Paid}; when audited the
    /// registry emits {IStakingRegistry-DutiesChanged}.
    /// Requirements: the job is Committed; the consumer revealed or its reveal deadline passed; block.timestamp
    /// <= the provider's reveal deadline; keccak256(abi.encode(secret)) equals the committed hash.
    /// @param jobId The job.
    /// @param secret The provider's secret.
    function revealProviderSecret(uint256 jobId, bytes32 secret) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Committed);
        (uint64 from, uint64 until) = _providerRevealSpan(job);
        if (block.timestamp < from) revert JobMarket_TooEarly(jobId, from);
        if (block.timestamp > until) revert JobMarket_DeadlinePassed(jobId, until);
        if (keccak256(abi.encode(secret)) != job.providerSecret) {
            revert JobMarket_WrongPreimage(jobId, msg.sender);
        }
        bytes32 consumerSecret = job.consumerRevealed ? job.consumerSecret : bytes32(0);
        bytes32 seed = keccak256(abi.encode(consumerSecret, secret, jobId));
        job.providerSecret = secret;
        job.seed = seed;
        bool audited = uint256(seed) % BPS < _params.auditProbabilityBps;
        address verifier = audited ? _drawAuditor(job, seed) : address(0);
        emit AuditDrawn(jobId, seed, audited, verifier);
        if (verifier == address(0)) {
            _complete(jobId, job, false);
            return;
        }
        job.verifier = verifier;
        job.status = Status.Auditing;
        job.deadline = uint64(block.timestamp) + _params.attestWindow;
        registry.openDuty(verifier);
    }

    /// @notice Anyone ends a committed job whose provider did not reveal its secret in time: a provider that
    /// withholds is treated as one caught cheating without an accuser, and the consumer gets price and collateral.
    /// @dev Emits {RevealTimedOut}, {Paid}.
    /// Requirements: the job is Committed; block.timestamp > the provider's reveal deadline.
    /// @param jobId The job.
    function claimRevealTimeout(uint256 jobId) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Committed);
        (, uint64 until) = _providerRevealSpan(job);
        if (block.timestamp <= until) revert JobMarket_DeadlineNotReached(jobId, until);
        job.status = Status.Defaulted;
        uint256 amount = uint256(job.price) + job.collateral;
        emit RevealTimedOut(jobId, amount);
        _pay(jobId, job.consumer, amount);
    }

    /// @notice Anyone ends an accepted job whose provider did not commit in time: the consumer gets the price
    /// and the provider's collateral.
    /// @dev Emits {JobDefaulted}, {Paid}.
    /// Requirements: the job is Accepted; block.timestamp > commitBy.
    /// @param jobId The job.
    function claimCommitTimeout(uint256 jobId) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Accepted);
        if (block.timestamp <= job.commitBy) revert JobMarket_DeadlineNotReached(jobId, job.commitBy);
        job.status = Status.Defaulted;
        uint256 amount = uint256(job.price) + job.collateral;
        emit JobDefaulted(jobId, amount);
        _pay(jobId, job.consumer, amount);
    }

    /// @notice The drawn verifier attests the audit's verdict.
    /// @dev Emits {Attested}; on pass also {JobCompleted}, {Paid}.
    /// Requirements: the job is Auditing; the caller is its verifier; block.timestamp <= the attest deadline; a
    /// fail carries a non-zero evidence hash.
    /// @param jobId The job.
    /// @param passed Whether every sampled unit checked out.
    /// @param evidenceHash Hash of the audit report (required for a fail).
    function attest(uint256 jobId, bool passed, bytes32 evidenceHash) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Auditing);
        if (msg.sender != job.verifier) revert JobMarket_NotVerifier(jobId, msg.sender);
        if (block.timestamp > job.deadline) revert JobMarket_DeadlinePassed(jobId, job.deadline);
        if (!passed && evidenceHash == bytes32(0)) revert JobMarket_ZeroHash();
        job.evidenceHash = evidenceHash;
        emit Attested(jobId, msg.sender, passed, evidenceHash);
        if (passed) {
            _complete(jobId, job, true);
            registry.closeDuty(msg.sender);
        } else {
            job.status = Status.Failed;
            job.deadline = uint64(block.timestamp) + _params.contestWindow;
        }
    }

    /// @notice Anyone ends an audit whose verifier missed its deadline: the verifier is slashed (to the reward
    /// pool), its duty ends, and the job completes as if not audited.
    /// @dev Emits {AttestationTimedOut}, {PoolFunded}, {JobCompleted}, {Paid}.
    /// Requirements: the job is Auditing; block.timestamp > the attest deadline.
    /// @param jobId The job.
    function claimAttestTimeout(uint256 jobId) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Auditing);
        if (block.timestamp <= job.deadline) revert JobMarket_DeadlineNotReached(jobId, job.deadline);
        address verifier = job.verifier;
        _complete(jobId, job, false);
        uint256 slashed = _slashInto(verifier, _params.absentVerifierSlash);
        rewardPool += slashed;
        emit AttestationTimedOut(jobId, verifier, slashed);
        if (slashed > 0) emit PoolFunded(jobId, slashed);
        registry.closeDuty(verifier);
    }

    // ------------------------------------------------------------------ fail and contest

    /// @notice Anyone settles an uncontested fail once the contest window has passed; the accuser's duty ends.
    /// @dev Emits {JobSlashed}, {Paid}.
    /// Requirements: the job is Failed; block.timestamp > the contest deadline.
    /// @param jobId The job.
    function finalizeFail(uint256 jobId) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Failed);
        if (block.timestamp <= job.deadline) revert JobMarket_DeadlineNotReached(jobId, job.deadline);
        _slashProvider(jobId, job, 0);
        registry.closeDuty(job.verifier);
    }

    /// @notice The accused provider contests a fail by posting the contest bond (pulled with `transferFrom`),
    /// which draws the panel: `panelSize` seats, each an independent stake-weighted draw from the job's seed and
    /// snapshot, never the provider, the consumer or the accuser, nor an account that left the verifier set since.
    /// Each seat gets a duty until the contest is resolved.
    /// @dev Emits {Contested}, {PanelDrawn}; the registry emits {IStakingRegistry-DutiesChanged} per seat.
    /// Requirements: the job is Failed; the caller is its provider; block.timestamp <= the contest deadline; the
    /// caller approved the bond.
    /// @param jobId The job.
    function contest(uint256 jobId) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Failed);
        if (msg.sender != job.provider) revert JobMarket_NotProvider(jobId, msg.sender);
        if (block.timestamp > job.deadline) revert JobMarket_DeadlinePassed(jobId, job.deadline);
        uint256 bond = _params.contestBond;
        job.bond = bond;
        job.status = Status.Voting;
        uint64 voteBy = uint64(block.timestamp) + _params.voteWindow;
        job.deadline = voteBy;
        emit Contested(jobId, bond);
        bytes32 seed = keccak256(abi.encode(job.seed, "panel"));
        address[] storage panel = _panels[jobId];
        uint256 size = _params.panelSize;
        uint256 tries = size * MAX_DRAWS_PER_SEAT;
        for (uint256 j = 0; j < tries && panel.length < size; ++j) {
            address member = registry.sample(seed, j, job.snapshotBlock);
            if (member == address(0)) break;
            if (member == job.provider || member == job.verifier || member == job.consumer) continue;
            if (!registry.isVerifier(member)) continue;
            panel.push(member);
            _ballots[jobId][member] = Ballot.Pending;
        }
        emit PanelDrawn(jobId, seed, panel, voteBy);
        for (uint256 i = 0; i < panel.length; ++i) {
            registry.openDuty(panel[i]);
        }
        _pull(msg.sender, bond);
    }

    /// @notice A panel member commits its ballot: keccak256(abi.encode(jobId, member, providerHonest, salt)).
    /// Ballots stay hidden until the vote window ends, so nobody can copy the majority without re-running the
    /// audit. A member holding several seats commits once; its ballot counts once per seat.
    /// @dev Emits {BallotCommitted}.
    /// Requirements: the job is Voting; block.timestamp <= the vote deadline; the caller is on the panel and has
    /// not committed; `ballotHash` is non-zero.
    /// @param jobId The job.
    /// @param ballotHash The ballot's hash.
    function commitVote(uint256 jobId, bytes32 ballotHash) external {
        JobRecord storage job = _expect(jobId, Status.Voting);
        if (block.timestamp > job.deadline) revert JobMarket_DeadlinePassed(jobId, job.deadline);
        Ballot ballot = _ballots[jobId][msg.sender];
        if (ballot == Ballot.None) revert JobMarket_NotPanelMember(jobId, msg.sender);
        if (ballot != Ballot.Pending) revert JobMarket_AlreadyVoted(jobId, msg.sender);
        if (ballotHash == bytes32(0)) revert JobMarket_ZeroHash();
        _ballots[jobId][msg.sender] = Ballot.Committed;
        _ballotHashes[jobId][msg.sender] = ballotHash;
        _committedSeats[jobId] += _seatsOf(jobId, msg.sender);
        emit BallotCommitted(jobId, msg.sender);
    }

    /// @notice A panel member reveals its committed ballot, once the vote window is over or every seat has
    /// committed (then no ballot can change any more, so nothing is left to copy).
    /// @dev Emits {Voted}.
    /// Requirements: the job is Voting; the vote deadline passed or every seat committed; the reveal deadline
    /// (revealWindow after the vote deadline) has not passed; the caller committed and has not revealed; the
    /// ballot and salt match the committed hash.
    /// @param jobId The job.
    /// @param providerHonest True when the member's own audit found the provider's units correct.
    /// @param salt The ballot's random salt.
    function revealVote(uint256 jobId, bool providerHonest, bytes32 salt) external {
        JobRecord storage job = _expect(jobId, Status.Voting);
        uint64 voteBy = job.deadline;
        if (block.timestamp <= voteBy && _committedSeats[jobId] < _panels[jobId].length) {
            revert JobMarket_TooEarly(jobId, voteBy + 1);
        }
        uint64 revealBy = voteBy + _params.revealWindow;
        if (block.timestamp > revealBy) revert JobMarket_DeadlinePassed(jobId, revealBy);
        Ballot ballot = _ballots[jobId][msg.sender];
        if (ballot == Ballot.None) revert JobMarket_NotPanelMember(jobId, msg.sender);
        if (ballot != Ballot.Committed) revert JobMarket_AlreadyVoted(jobId, msg.sender);
        if (
            keccak256(abi.encode(jobId, msg.sender, providerHonest, salt)) != _ballotHashes[jobId][msg.sender]
        ) {
            revert JobMarket_WrongPreimage(jobId, msg.sender);
        }
        uint256 seats = _seatsOf(jobId, msg.sender);
        if (providerHonest) {
            _ballots[jobId][msg.sender] = Ballot.Honest;
            _honestVotes[jobId] += seats;
        } else {
            _ballots[jobId][msg.sender] = Ballot.Cheated;
            _cheatedVotes[jobId] += seats;
        }
        emit Voted(jobId, msg.sender, providerHonest);
    }

    /// @notice Anyone resolves a contest once every seat revealed or the reveal deadline passed. A strict
    /// majority of all seats (not of the ballots revealed) decides; otherwise there is no quorum and the fail
    /// stands. Members that revealed nothing are slashed absentVerifierSlash per seat (to the reward pool). The
    /// duties of the accuser and of every seat end.
    /// @dev Emits {BallotMissing} per silent member, {ContestResolved}, then {JobCompleted} or {JobSlashed}, and
    /// {Paid} for each payout; the registry emits {IStakingRegistry-DutiesChanged} per duty closed.
    /// Requirements: the job is Voting; all seats revealed or block.timestamp > the reveal deadline.
    /// @param jobId The job.
    function resolveContest(uint256 jobId) external nonReentrant {
        JobRecord storage job = _expect(jobId, Status.Voting);
        uint256 size = _panels[jobId].length;
        uint256 honest = _honestVotes[jobId];
        uint256 cheated = _cheatedVotes[jobId];
        uint64 revealBy = job.deadline + _params.revealWindow;
        if (honest + cheated < size && block.timestamp <= revealBy) {
            revert JobMarket_DeadlineNotReached(jobId, revealBy);
        }
        if (honest + cheated < size) _slashSilentMembers(jobId);
        if (2 * honest > size) {
            emit ContestResolved(jobId, Outcome.Overturned, honest, cheated);
            _overturn(jobId, job);
        } else if (2 * cheated > size) {
            emit ContestResolved(jobId, Outcome.Upheld, honest, cheated);
            _slashProvider(jobId, job, job.bond);
        } else {
            emit ContestResolved(jobId, Outcome.NoQuorum, honest, cheated);
            uint256 bond = job.bond;
            _slashProvider(jobId, job, 0);
            _pay(jobId, job.provider, bond);
        }
        _closeContestDuties(jobId, job.verifier);
    }

    // ------------------------------------------------------------------ views

    /// @notice The full record of a job (all zero for an unknown id).
    /// @param jobId The job.
    /// @return job The job.
    function jobOf(uint256 jobId) external view returns (Job memory job) {
        JobRecord storage r = _jobs[jobId];
        job.consumer = r.consumer;
        job.provider = r.provider;
        job.verifier = r.verifier;
        job.status = r.status;
        job.prepaid = r.prepaid;
        job.consumerRevealed = r.consumerRevealed;
        job.acceptBy = r.acceptBy;
        job.commitBy = r.commitBy;
        job.deadline = r.deadline;
        job.minUnits = r.minUnits;
        job.maxUnits = r.maxUnits;
        job.nUnits = r.nUnits;
        job.snapshotBlock = r.snapshotBlock;
        job.specHash = r.specHash;
        job.root = r.root;
        job.consumerSecret = r.consumerSecret;
        job.providerSecret = r.providerSecret;
        job.seed = r.seed;
        job.evidenceHash = r.evidenceHash;
        job.price = r.price;
        job.collateral = r.collateral;
        job.bond = r.bond;
    }

    /// @inheritdoc IJobMarket
    function statusOf(uint256 jobId) external view returns (Status) {
        return _jobs[jobId].status;
    }

    /// @notice The deployment parameters.
    /// @return The parameters.
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @notice The contest panel of a job (empty before `drawPanel`).
    /// @param jobId The job.
    /// @return The members in draw order.
    function panelOf(uint256 jobId) external view returns (address[] memory) {
        return _panels[jobId];
    }

    /// @notice The window in which the provider may reveal its secret (meaningful while the job is Committed).
    /// @param jobId The job.
    /// @return from First second it may reveal (the consumer revealed, or the consumer's window passed).
    /// @return until Last second it may reveal.
    function providerRevealSpan(uint256 jobId) external view returns (uint64 from, uint64 until) {
        return _providerRevealSpan(_jobs[jobId]);
    }

    /// @notice A panel member's ballot.
    /// @param jobId The job.
    /// @param member The member.
    /// @return The ballot (None when not on the panel).
    function ballotOf(uint256 jobId, address member) external view returns (Ballot) {
        return _ballots[jobId][member];
    }

    /// @notice Seats whose ballots were revealed so far.
    /// @param jobId The job.
    /// @return honest Seats that found the provider honest.
    /// @return cheated Seats that found the fail standing.
    function tallyOf(uint256 jobId) external view returns (uint256 honest, uint256 cheated) {
        return (_honestVotes[jobId], _cheatedVotes[jobId]);
    }

    /// @notice Tokens the market currently holds for a job: escrowed price, locked collateral and bond (zero once
    /// the job is terminal). Summed over all jobs plus `rewardPool`, this is `totalOwed`.
    /// @param jobId The job.
    /// @return The amount held.
    function heldFor(uint256 jobId) external view returns (uint256) {
        JobRecord storage job = _jobs[jobId];
        Status status = job.status;
        if (status == Status.None || uint8(status) >= uint8(Status.Cancelled)) return 0;
        if (status == Status.Open) return job.price;
        return uint256(job.price) + job.collateral + job.bond;
    }

    /// @notice The unit indices the audit of `jobId` must check: k = min(samplesK, nUnits) distinct indices by the
    /// v1 rule from the recorded seed.
    /// @dev Requirements: the seed was drawn.
    /// @param jobId The job.
    /// @return The indices, in draw order.
    function sampledIndices(uint256 jobId) external view returns (uint256[] memory) {
        JobRecord storage job = _jobs[jobId];
        if (job.seed == bytes32(0)) revert JobMarket_NoSeed(jobId);
        uint256 k = _params.samplesK < job.nUnits ? _params.samplesK : job.nUnits;
        return Commitment.sampleIndices(job.seed, jobId, job.nUnits, k);
    }

    /// @notice Whether unit `index` with these hashes is under the job's committed root.
    /// @dev Requirements: the job has a committed root; index < nUnits.
    /// @param jobId The job.
    /// @param index The unit index.
    /// @param metaHash Hash of the unit's dtype and shape.
    /// @param dataHash SHA-256 of the unit's output bytes.
    /// @param proof Sibling hashes, bottom first.
    /// @return True when the proof checks out.
    function verifyUnit(
        uint256 jobId,
        uint256 index,
        bytes32 metaHash,
        bytes32 dataHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        JobRecord storage job = _jobs[jobId];
        if (job.root == bytes32(0)) revert JobMarket_WrongStatus(jobId, job.status, Status.Committed);
        if (index >= job.nUnits) revert JobMarket_IndexOutOfRange(jobId, index, job.nUnits);
        return Commitment.verify(job.root, index, metaHash, dataHash, proof);
    }

    // ------------------------------------------------------------------ internals

    function _post(JobTerms calldata terms) private returns (uint256 jobId) {
        if (terms.acceptBy < block.timestamp || terms.commitBy <= terms.acceptBy) {
            revert JobMarket_InvalidDeadlines(terms.acceptBy, terms.commitBy);
        }
        _checkTerms(terms, terms.price * _params.protocolFeeBps / BPS);
        jobId = ++jobCount;
        JobRecord storage job = _jobs[jobId];
        _record(job, msg.sender, terms);
        job.status = Status.Open;
        job.acceptBy = terms.acceptBy;
        emit JobPosted(jobId, msg.sender, terms.specHash, terms.price, terms.collateral);
        _pull(msg.sender, terms.price);
    }

    function _checkTerms(JobTerms calldata terms, uint256 fee) private view {
        if (terms.specHash == bytes32(0) || terms.secretHash == bytes32(0)) revert JobMarket_ZeroHash();
        if (terms.price == 0) revert JobMarket_ZeroAmount();
        if (fee < _params.minFee) revert JobMarket_FeeTooLow(fee, _params.minFee);
        if (terms.collateral < _params.minCollateral) {
            revert JobMarket_CollateralTooLow(terms.collateral, _params.minCollateral);
        }
        if (terms.maxUnits != 0 && terms.minUnits > terms.maxUnits) {
            revert JobMarket_InvalidUnitBounds(terms.minUnits, terms.maxUnits);
        }
    }

    function _record(JobRecord storage job, address consumer, JobTerms calldata terms) private {
        job.consumer = consumer;
        job.commitBy = terms.commitBy;
        job.minUnits = terms.minUnits;
        job.maxUnits = terms.maxUnits;
        job.specHash = terms.specHash;
        job.consumerSecret = terms.secretHash;
        job.price = SafeCast.toUint128(terms.price);
        job.collateral = SafeCast.toUint128(terms.collateral);
    }

    function _expect(uint256 jobId, Status expected) private view returns (JobRecord storage job) {
        job = _jobs[jobId];
        if (job.status != expected) revert JobMarket_WrongStatus(jobId, job.status, expected);
    }

    /// @dev The consumer's reveal window, then the provider's: it opens early once the consumer revealed.
    function _providerRevealSpan(JobRecord storage job) private view returns (uint64 from, uint64 until) {
        if (job.consumerRevealed) return (0, job.deadline);
        return (job.deadline + 1, job.deadline + _params.revealWindow);
    }

    /// @dev Independent stake-weighted draws at the job's snapshot until one is neither the provider nor the
    /// consumer (who could fail an honest job to get its price back) and is still drawable; zero when
    /// MAX_AUDITOR_DRAWS draws found nobody.
    function _drawAuditor(JobRecord storage job, bytes32 seed) private view returns (address) {
        bytes32 auditSeed = keccak256(abi.encode(seed, "audit"));
        for (uint256 j = 0; j < MAX_AUDITOR_DRAWS; ++j) {
            address candidate = registry.sample(auditSeed, j, job.snapshotBlock);
            if (candidate == address(0)) return address(0);
            if (candidate != job.provider && candidate != job.consumer && registry.isVerifier(candidate)) {
                return candidate;
            }
        }
        return address(0);
    }

    function _feeOf(JobRecord storage job) private view returns (uint256) {
        return job.prepaid ? job.price : uint256(job.price) * _params.protocolFeeBps / BPS;
    }

    function _seatsOf(uint256 jobId, address member) private view returns (uint256 seats) {
        address[] storage panel = _panels[jobId];
        for (uint256 i = 0; i < panel.length; ++i) {
            if (panel[i] == member) ++seats;
        }
    }

    /// @dev Slashes every seat whose member revealed no ballot, into the reward pool.
    function _slashSilentMembers(uint256 jobId) private {
        address[] storage panel = _panels[jobId];
        for (uint256 i = 0; i < panel.length; ++i) {
            address member = panel[i];
            Ballot ballot = _ballots[jobId][member];
            if (ballot == Ballot.Honest || ballot == Ballot.Cheated) continue;
            uint256 slashed = _slashInto(member, _params.absentVerifierSlash);
            rewardPool += slashed;
            emit BallotMissing(jobId, member, slashed);
            if (slashed > 0) emit PoolFunded(jobId, slashed);
        }
    }

    /// @dev Pays an honest provider. `verified`: the fee (plus a pool share) goes to the job's verifier;
    /// otherwise the fee funds the reward pool.
    function _complete(uint256 jobId, JobRecord storage job, bool verified) private {
        uint256 fee = _feeOf(job);
        uint256 providerPaid = uint256(job.price) - fee + job.collateral;
        job.status = Status.Completed;
        uint256 verifierPaid = 0;
        if (verified) {
            verifierPaid = fee + _takePoolShare(fee);
        } else {
            rewardPool += fee;
            if (fee > 0) emit PoolFunded(jobId, fee);
        }
        emit JobCompleted(jobId, providerPaid);
        _pay(jobId, job.provider, providerPaid);
        _pay(jobId, job.verifier, verifierPaid);
    }

    /// @dev The fail stands: the consumer gets the price and the collateral minus the accuser's reward; a
    /// forfeited `bond` is split among the majority ("cheated") voters, dust to the consumer.
    function _slashProvider(uint256 jobId, JobRecord storage job, uint256 bond) private {
        uint256 accuserPaid = uint256(job.collateral) * _params.accuserRewardBps / BPS;
        uint256 consumerPaid = uint256(job.price) + job.collateral - accuserPaid;
        accuserPaid += _takePoolShare(_feeOf(job));
        job.status = Status.Slashed;
        uint256 members = bond == 0 ? 0 : _cheatedVotes[jobId];
        uint256 share = members == 0 ? 0 : bond / members;
        consumerPaid += bond - share * members;
        emit JobSlashed(jobId, consumerPaid, accuserPaid);
        _pay(jobId, job.consumer, consumerPaid);
        _pay(jobId, job.verifier, accuserPaid);
        if (share > 0) _payPanel(jobId, Ballot.Cheated, share);
    }

    /// @dev The panel found the provider honest: slash the accuser, pay the provider (bond back), split the fee
    /// and the slashed stake among the majority ("honest") voters, dust to the reward pool.
    function _overturn(uint256 jobId, JobRecord storage job) private {
        uint256 fee = _feeOf(job);
        uint256 providerPaid = uint256(job.price) - fee + job.collateral + job.bond;
        job.status = Status.Completed;
        uint256 slashed = _slashInto(job.verifier, _params.falseAccuserSlash);
        uint256 members = _honestVotes[jobId];
        uint256 share = (fee + slashed) / members;
        uint256 dust = fee + slashed - share * members;
        rewardPool += dust;
        if (dust > 0) emit PoolFunded(jobId, dust);
        emit JobCompleted(jobId, providerPaid);
        _pay(jobId, job.provider, providerPaid);
        if (share > 0) _payPanel(jobId, Ballot.Honest, share);
    }

    /// @dev Ends the duties of the accuser and of every panel member, after the slashes and payouts, so that no
    /// duty is closed while a slash of the same resolution is still to come.
    function _closeContestDuties(uint256 jobId, address accuser) private {
        registry.closeDuty(accuser);
        address[] storage panel = _panels[jobId];
        for (uint256 i = 0; i < panel.length; ++i) {
            registry.closeDuty(panel[i]);
        }
    }

    /// @dev Pays `share` per seat held by a member whose ballot is `side`.
    function _payPanel(uint256 jobId, Ballot side, uint256 share) private {
        address[] storage panel = _panels[jobId];
        for (uint256 i = 0; i < panel.length; ++i) {
            if (_ballots[jobId][panel[i]] == side) _pay(jobId, panel[i], share);
        }
    }

    /// @dev The pool share of a verifier whose verdict stands, capped by its job's own fee: a dust job takes dust
    /// (see "Bounds" in contracts/README.md for what a colluding owner can still take).
    function _takePoolShare(uint256 fee) private returns (uint256 share) {
        share = rewardPool * _params.poolShareBps / BPS;
        if (share > fee) share = fee;
        rewardPool -= share;
    }

    /// @dev Slashes `account` into this contract and counts the tokens as owed (the caller assigns them).
    function _slashInto(address account, uint256 amount) private returns (uint256 slashed) {
        if (amount == 0) return 0;
        slashed = registry.slash(account, amount, address(this));
        totalOwed += slashed;
    }

    function _pull(address from, uint256 amount) private {
        if (amount == 0) return;
        totalOwed += amount;
        token.safeTransferFrom(from, address(this), amount);
    }

    function _pay(uint256 jobId, address to, uint256 amount) private {
        if (amount == 0) return;
        totalOwed -= amount;
        emit Paid(jobId, to, amount);
        token.safeTransfer(to, amount);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";
import {Commitment} from "./libraries/Commitment.sol";

/// @title JobMarket
/// @notice Escrow and settlement of compute jobs with optimistic, randomly drawn audits.
///
/// Life cycle: a consumer posts a job and escrows the price; a staked provider accepts with collateral and commits
/// the Merkle root of its unit outputs; in a later block anyone calls `drawAudit`, which fixes the seed
/// `keccak256(abi.encode(block.prevrandao, jobId))`. A draw within `drawWindowBlocks` blocks of the commit block
/// rolls the probability: the job is audited iff `uint256(seed) % 10000 < auditProbabilityBps`. A later draw is
/// audited with certainty: `prevrandao` is known one block ahead, so a provider that could hold its draw back
/// until the seed says "not audited" would otherwise dodge every audit. The committer's node should therefore call
/// `drawAudit` right after its commit (anyone may). The verifier is
/// `verifierAt(uint256(keccak256(abi.encode(seed, "verifier"))) % n)` of the registry's drawable set, moving to
/// the next index (at most twice) while that is the provider or the consumer. The verifier checks the units of
/// `sampledIndices(jobId)` and attests. A fail is optimistic: the provider may contest with a bond, which (in a
/// later block) draws a panel that votes by majority.
///
/// Duties: a drawn verifier and every panel member get a duty in the registry (`openDuty`) that ends when the job
/// reaches a terminal state (`closeDuty`); the registry refuses `withdraw` while a duty is open, so a verifier
/// cannot unbond its way out of a false-accuser or absent-verifier slash, nor vote with stake it already took out.
///
/// Payouts (fee = price * protocolFeeBps / 10000):
/// - not audited, or no drawable verifier: provider gets price - fee + collateral; the fee funds the reward pool;
/// - pass: provider gets price - fee + collateral; the verifier gets the fee plus poolShareBps of the pool;
/// - verifier misses its deadline: it is slashed absentVerifierSlash (to the pool) and the job completes as if
///   not audited (the provider is not punished for an absent auditor);
/// - fail stands (uncontested, upheld, or no quorum): the consumer gets the price back plus the collateral minus
///   accuserRewardBps of it, which goes to the accuser together with poolShareBps of the pool; an upheld contest
///   forfeits the bond to the majority voters; without quorum the bond goes back to the provider;
/// - fail overturned: the accuser is slashed falseAccuserSlash; the provider gets price - fee + collateral + bond;
///   the fee and the slashed stake are split among the majority voters;
/// - nobody accepts: the consumer cancels and gets the price back; provider never commits: anyone triggers the
///   default and the consumer gets price and collateral.
/// Draws have no deadline: anyone may call `drawAudit` / `drawPanel` at any later block, and each party that
/// is owed money has a reason to (a late `drawAudit` only means a certain audit). Rounding dust of panel splits goes to the reward pool (overturn) or to the
/// consumer (upheld).
///
/// Accounting: `totalOwed` = escrowed prices + locked collateral + bonds + reward pool, updated on every token
/// movement; it equals the market's token balance (invariant-tested).
contract JobMarket is IJobMarket, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;
    /// @notice Largest allowed panel (bounds the loops that draw and pay a panel).
    uint256 public constant MAX_PANEL_SIZE = 31;
    /// @notice Largest allowed sample count (bounds the `sampledIndices` view).
    uint256 public constant MAX_SAMPLES = 256;

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

    Params private _params;
    mapping(uint256 jobId => Job) private _jobs;
    mapping(uint256 jobId => address[] members) private _panels;
    mapping(uint256 jobId => mapping(address member => Ballot)) private _ballots;
    mapping(uint256 jobId => uint256 count) private _honestVotes;
    mapping(uint256 jobId => uint256 count) private _cheatedVotes;

    /// @notice Deploys the market.
    /// @dev Requirements: non-zero token and registry; bps values <= 10000; 1 <= samplesK <= MAX_SAMPLES;
    /// 1 <= panelSize <= MAX_PANEL_SIZE; every window > 0 (drawWindowBlocks included).
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
                || params_.prepaidCommitWindow == 0
        ) revert JobMarket_InvalidParams("window");
        if (params_.drawWindowBlocks == 0) revert JobMarket_InvalidParams("drawWindowBlocks");
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
    /// Requirements: non-zero specHash and price; block.timestamp <= acceptBy < commitBy; minUnits <= maxUnits
    /// unless maxUnits is 0.
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
        Job storage job = _expect(jobId, Status.Open);
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
        Job storage job = _expect(jobId, Status.Open);
        if (block.timestamp > job.acceptBy) revert JobMarket_DeadlinePassed(jobId, job.acceptBy);
        if (!registry.isProvider(msg.sender)) revert JobMarket_NotStakedProvider(msg.sender);
        if (msg.sender == job.consumer) revert JobMarket_SelfDealing(msg.sender);
        job.provider = msg.sender;
        job.status = Status.Accepted;
        emit JobAccepted(jobId, msg.sender, job.commitBy);
        _pull(msg.sender, job.collateral);
    }

    /// @inheritdoc IJobMarket
    function openPrepaidJob(address consumer, address provider, bytes32 specHash, uint256 collateral)
        external
        nonReentrant
        returns (uint256 jobId)
    {
        if (msg.sender != claims || claims == address(0)) revert JobMarket_NotClaims(msg.sender);
        if (consumer == address(0) || provider == address(0)) revert JobMarket_ZeroAddress();
        if (consumer == provider) revert JobMarket_SelfDealing(consumer);
        if (specHash == bytes32(0)) revert JobMarket_ZeroHash();
        jobId = ++jobCount;
        Job storage job = _jobs[jobId];
        uint64 commitBy = uint64(block.timestamp) + _params.prepaidCommitWindow;
        job.consumer = consumer;
        job.provider = provider;
        job.status = Status.Accepted;
        job.prepaid = true;
        job.acceptBy = uint64(block.timestamp);
        job.commitBy = commitBy;
        job.specHash = specHash;
        job.collateral = collateral;
        emit PrepaidJobOpened(jobId, consumer, provider, specHash, collateral, commitBy);
        _pull(msg.sender, collateral);
    }

    // ------------------------------------------------------------------ commit and audit

    /// @notice The provider commits the Merkle root over its `nUnits` unit outputs (v1 commitment rules).
    /// @dev Emits {ResultCommitted}.
    /// Requirements: the job is Accepted; the caller is its provider; block.timestamp <= commitBy; `root` is
    /// non-zero; minUnits <= nUnits (and >= 1) and nUnits <= maxUnits unless maxUnits is 0.
    /// @param jobId The job.
    /// @param root The Merkle root.
    /// @param nUnits Number of leaves.
    function commitResult(uint256 jobId, bytes32 root, uint64 nUnits) external {
        Job storage job = _expect(jobId, Status.Accepted);
        if (msg.sender != job.provider) revert JobMarket_NotProvider(jobId, msg.sender);
        if (block.timestamp > job.commitBy) revert JobMarket_DeadlinePassed(jobId, job.commitBy);
        if (root == bytes32(0)) revert JobMarket_ZeroHash();
        if (nUnits == 0 || nUnits < job.minUnits || (job.maxUnits != 0 && nUnits > job.maxUnits)) {
            revert JobMarket_InvalidUnits(jobId, nUnits, job.minUnits, job.maxUnits);
        }
        job.root = root;
        job.nUnits = nUnits;
        job.pendingBlock = uint64(block.number);
        job.status = Status.Committed;
        emit ResultCommitted(jobId, root, nUnits);
    }

    /// @notice Anyone ends an accepted job whose provider did not commit in time: the consumer gets the price
    /// and the provider's collateral.
    /// @dev Emits {JobDefaulted}, {Paid}.
    /// Requirements: the job is Accepted; block.timestamp > commitBy.
    /// @param jobId The job.
    function claimCommitTimeout(uint256 jobId) external nonReentrant {
        Job storage job = _expect(jobId, Status.Accepted);
        if (block.timestamp <= job.commitBy) revert JobMarket_DeadlineNotReached(jobId, job.commitBy);
        job.status = Status.Defaulted;
        uint256 amount = job.price + job.collateral;
        emit JobDefaulted(jobId, amount);
        _pay(jobId, job.consumer, amount);
    }

    /// @notice Anyone fixes the audit seed of a committed job, in a block after the commit, and so decides
    /// whether it is audited and by whom. Within `drawWindowBlocks` blocks of the commit block the audit
    /// probability is rolled from the seed; a later draw is audited with certainty (the verifier is still drawn
    /// from the seed). Not audited (or nobody drawable): the job completes at once. Audited: the verifier gets a
    /// duty in the registry until the job ends.
    /// @dev Emits {AuditDrawn}; when not audited also {PoolFunded}, {JobCompleted}, {Paid}; when audited the
    /// registry emits {IStakingRegistry-DutiesChanged}.
    /// Requirements: the job is Committed; block.number > the commit block.
    /// @param jobId The job.
    function drawAudit(uint256 jobId) external nonReentrant {
        Job storage job = _expect(jobId, Status.Committed);
        if (block.number <= job.pendingBlock) revert JobMarket_TooEarly(jobId, job.pendingBlock);
        bytes32 seed = keccak256(abi.encode(block.prevrandao, jobId));
        job.seed = seed;
        bool prompt = block.number - job.pendingBlock <= _params.drawWindowBlocks;
        bool audited = !prompt || uint256(seed) % BPS < _params.auditProbabilityBps;
        address verifier = audited ? _drawVerifier(seed, job.provider, job.consumer) : address(0);
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

    /// @notice The drawn verifier attests the audit's verdict.
    /// @dev Emits {Attested}; on pass also {JobCompleted}, {Paid}.
    /// Requirements: the job is Auditing; the caller is its verifier; block.timestamp <= the attest deadline; a
    /// fail carries a non-zero evidence hash.
    /// @param jobId The job.
    /// @param passed Whether every sampled unit checked out.
    /// @param evidenceHash Hash of the audit report (required for a fail).
    function attest(uint256 jobId, bool passed, bytes32 evidenceHash) external nonReentrant {
        Job storage job = _expect(jobId, Status.Auditing);
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
        Job storage job = _expect(jobId, Status.Auditing);
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
        Job storage job = _expect(jobId, Status.Failed);
        if (block.timestamp <= job.deadline) revert JobMarket_DeadlineNotReached(jobId, job.deadline);
        _slashProvider(jobId, job, 0);
        registry.closeDuty(job.verifier);
    }

    /// @notice The accused provider contests a fail by posting the contest bond (pulled with `transferFrom`).
    /// @dev Emits {Contested}.
    /// Requirements: the job is Failed; the caller is its provider; block.timestamp <= the contest deadline; the
    /// caller approved the bond.
    /// @param jobId The job.
    function contest(uint256 jobId) external nonReentrant {
        Job storage job = _expect(jobId, Status.Failed);
        if (msg.sender != job.provider) revert JobMarket_NotProvider(jobId, msg.sender);
        if (block.timestamp > job.deadline) revert JobMarket_DeadlinePassed(jobId, job.deadline);
        uint256 bond = _params.contestBond;
        job.bond = bond;
        job.status = Status.Contested;
        job.pendingBlock = uint64(block.number);
        emit Contested(jobId, bond);
        _pull(msg.sender, bond);
    }

    /// @notice Anyone draws the contest panel, in a block after the contest: up to panelSize drawable verifiers
    /// other than the provider, the accuser and the consumer, walking the set from `uint256(seed) % n` where
    /// seed = keccak256(abi.encode(block.prevrandao, jobId, "panel")). Each member gets a duty until the contest
    /// is resolved.
    /// @dev Emits {PanelDrawn}; the registry emits {IStakingRegistry-DutiesChanged} per member.
    /// Requirements: the job is Contested; block.number > the contest block.
    /// @param jobId The job.
    function drawPanel(uint256 jobId) external nonReentrant {
        Job storage job = _expect(jobId, Status.Contested);
        if (block.number <= job.pendingBlock) revert JobMarket_TooEarly(jobId, job.pendingBlock);
        bytes32 seed = keccak256(abi.encode(block.prevrandao, jobId, "panel"));
        uint256 n = registry.verifierCount();
        uint256 size = _params.panelSize;
        address[] storage panel = _panels[jobId];
        uint256 start = n == 0 ? 0 : uint256(seed) % n;
        for (uint256 i = 0; i < n && panel.length < size; ++i) {
            address member = registry.verifierAt((start + i) % n);
            if (member == job.provider || member == job.verifier || member == job.consumer) continue;
            panel.push(member);
            _ballots[jobId][member] = Ballot.Pending;
        }
        job.status = Status.Voting;
        job.deadline = uint64(block.timestamp) + _params.voteWindow;
        emit PanelDrawn(jobId, seed, panel);
        for (uint256 i = 0; i < panel.length; ++i) {
            registry.openDuty(panel[i]);
        }
    }

    /// @notice A panel member votes on a contested fail.
    /// @dev Emits {Voted}.
    /// Requirements: the job is Voting; block.timestamp <= the vote deadline; the caller is on the panel and has
    /// not voted.
    /// @param jobId The job.
    /// @param providerHonest True when the member's own audit found the provider's units correct.
    function vote(uint256 jobId, bool providerHonest) external {
        Job storage job = _expect(jobId, Status.Voting);
        if (block.timestamp > job.deadline) revert JobMarket_DeadlinePassed(jobId, job.deadline);
        Ballot ballot = _ballots[jobId][msg.sender];
        if (ballot == Ballot.None) revert JobMarket_NotPanelMember(jobId, msg.sender);
        if (ballot != Ballot.Pending) revert JobMarket_AlreadyVoted(jobId, msg.sender);
        if (providerHonest) {
            _ballots[jobId][msg.sender] = Ballot.Honest;
            ++_honestVotes[jobId];
        } else {
            _ballots[jobId][msg.sender] = Ballot.Cheated;
            ++_cheatedVotes[jobId];
        }
        emit Voted(jobId, msg.sender, providerHonest);
    }

    /// @notice Anyone resolves a contest once every panel member voted or the vote deadline passed. A strict
    /// majority of the panel (not of the votes) decides; otherwise there is no quorum and the fail stands. The
    /// duties of the accuser and of every panel member end.
    /// @dev Emits {ContestResolved}, then {JobCompleted} or {JobSlashed}, and {Paid} for each payout; the
    /// registry emits {IStakingRegistry-DutiesChanged} per duty closed.
    /// Requirements: the job is Voting; all members voted or block.timestamp > the vote deadline.
    /// @param jobId The job.
    function resolveContest(uint256 jobId) external nonReentrant {
        Job storage job = _expect(jobId, Status.Voting);
        uint256 size = _panels[jobId].length;
        uint256 honest = _honestVotes[jobId];
        uint256 cheated = _cheatedVotes[jobId];
        if (honest + cheated < size && block.timestamp <= job.deadline) {
            revert JobMarket_DeadlineNotReached(jobId, job.deadline);
        }
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
    /// @return The job.
    function jobOf(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
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

    /// @notice A panel member's ballot.
    /// @param jobId The job.
    /// @param member The member.
    /// @return The ballot (None when not on the panel).
    function ballotOf(uint256 jobId, address member) external view returns (Ballot) {
        return _ballots[jobId][member];
    }

    /// @notice Votes cast so far.
    /// @param jobId The job.
    /// @return honest Votes that the provider is honest.
    /// @return cheated Votes that the fail stands.
    function tallyOf(uint256 jobId) external view returns (uint256 honest, uint256 cheated) {
        return (_honestVotes[jobId], _cheatedVotes[jobId]);
    }

    /// @notice Tokens the market currently holds for a job: escrowed price, locked collateral and bond (zero once
    /// the job is terminal). Summed over all jobs plus `rewardPool`, this is `totalOwed`.
    /// @param jobId The job.
    /// @return The amount held.
    function heldFor(uint256 jobId) external view returns (uint256) {
        Job storage job = _jobs[jobId];
        Status status = job.status;
        if (status == Status.None || uint8(status) >= uint8(Status.Cancelled)) return 0;
        if (status == Status.Open) return job.price;
        return job.price + job.collateral + job.bond;
    }

    /// @notice The unit indices the audit of `jobId` must check: k = min(samplesK, nUnits) distinct indices by the
    /// v1 rule from the recorded seed.
    /// @dev Requirements: the seed was drawn.
    /// @param jobId The job.
    /// @return The indices, in draw order.
    function sampledIndices(uint256 jobId) external view returns (uint256[] memory) {
        Job storage job = _jobs[jobId];
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
        Job storage job = _jobs[jobId];
        if (job.root == bytes32(0)) revert JobMarket_WrongStatus(jobId, job.status, Status.Committed);
        if (index >= job.nUnits) revert JobMarket_IndexOutOfRange(jobId, index, job.nUnits);
        return Commitment.verify(job.root, index, metaHash, dataHash, proof);
    }

    // ------------------------------------------------------------------ internals

    function _post(JobTerms calldata terms) private returns (uint256 jobId) {
        if (terms.specHash == bytes32(0)) revert JobMarket_ZeroHash();
        if (terms.price == 0) revert JobMarket_ZeroAmount();
        if (terms.acceptBy < block.timestamp || terms.commitBy <= terms.acceptBy) {
            revert JobMarket_InvalidDeadlines(terms.acceptBy, terms.commitBy);
        }
        if (terms.maxUnits != 0 && terms.minUnits > terms.maxUnits) {
            revert JobMarket_InvalidUnitBounds(terms.minUnits, terms.maxUnits);
        }
        jobId = ++jobCount;
        Job storage job = _jobs[jobId];
        job.consumer = msg.sender;
        job.status = Status.Open;
        job.acceptBy = terms.acceptBy;
        job.commitBy = terms.commitBy;
        job.minUnits = terms.minUnits;
        job.maxUnits = terms.maxUnits;
        job.specHash = terms.specHash;
        job.price = terms.price;
        job.collateral = terms.collateral;
        emit JobPosted(jobId, msg.sender, terms.specHash, terms.price, terms.collateral);
        _pull(msg.sender, terms.price);
    }

    function _expect(uint256 jobId, Status expected) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status != expected) revert JobMarket_WrongStatus(jobId, job.status, expected);
    }

    /// @dev Uniform pick from the drawable set; the provider and the consumer (who could fail an honest job to
    /// get its price back) are skipped by moving to the next index.
    function _drawVerifier(bytes32 seed, address provider, address consumer) private view returns (address) {
        uint256 n = registry.verifierCount();
        uint256 index = n == 0 ? 0 : uint256(keccak256(abi.encode(seed, "verifier"))) % n;
        uint256 tries = n < 3 ? n : 3;
        for (uint256 t = 0; t < tries; ++t) {
            address candidate = registry.verifierAt((index + t) % n);
            if (candidate != provider && candidate != consumer) return candidate;
        }
        return address(0);
    }

    /// @dev Pays an honest provider. `verified`: the fee (plus a pool share) goes to the job's verifier;
    /// otherwise the fee funds the reward pool.
    function _complete(uint256 jobId, Job storage job, bool verified) private {
        uint256 fee = job.price * _params.protocolFeeBps / BPS;
        uint256 providerPaid = job.price - fee + job.collateral;
        job.status = Status.Completed;
        uint256 verifierPaid = 0;
        if (verified) {
            verifierPaid = fee + _takePoolShare();
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
    function _slashProvider(uint256 jobId, Job storage job, uint256 bond) private {
        uint256 accuserPaid = job.collateral * _params.accuserRewardBps / BPS;
        uint256 consumerPaid = job.price + job.collateral - accuserPaid;
        accuserPaid += _takePoolShare();
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
    function _overturn(uint256 jobId, Job storage job) private {
        uint256 fee = job.price * _params.protocolFeeBps / BPS;
        uint256 providerPaid = job.price - fee + job.collateral + job.bond;
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

    function _payPanel(uint256 jobId, Ballot side, uint256 share) private {
        address[] storage panel = _panels[jobId];
        for (uint256 i = 0; i < panel.length; ++i) {
            if (_ballots[jobId][panel[i]] == side) _pay(jobId, panel[i], share);
        }
    }

    function _takePoolShare() private returns (uint256 share) {
        share = rewardPool * _params.poolShareBps / BPS;
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

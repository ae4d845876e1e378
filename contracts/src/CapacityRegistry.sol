// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ICapacityRegistry} from "./interfaces/ICapacityRegistry.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";

/// @title CapacityRegistry
/// @notice Verified GPU capacity on chain: the results of capacity challenges (a random matmul with a deadline,
/// checked by Freivalds; `node/capacity/challenge.py`), attested by staked verifiers, posted with a bond and open
/// to dispute, like an audit. `CapacityClaims` caps a provider's claim issuance by the capacity in force here.
///
/// Protocol:
/// - `attest`: a staked verifier (not the provider) posts (provider, GPU class, GPUs, measured GFLOP/s per GPU,
///   H100e ppm per GPU, evidence hash), the hash of a fresh random secret, and locks `bond`. `gpus == 0` records a
///   failed challenge.
/// - Kinds: an attestation in which nothing rises against the figure in force when it is posted (a failed
///   challenge, fewer GPUs, a slower GPU) is *immediate*: it stands AT ONCE, so a provider caught short stops
///   minting immediately (fail-safe), and keeps standing unless it is overturned. Any other attestation is a
///   *raise*: it stands only once final (`disputeWindow` seconds without a dispute). A DISPUTED RAISE NEVER
///   APPLIES, whatever the panel finds (doubt never raises capacity; the panel only settles the bonds): an
///   attester and a disputer controlled by one party know both secrets before the dispute and could grind the
///   disputer's secret until their Sybils hold the panel, so a panel's "upheld" must not be able to raise
///   capacity. An honest raise disputed in bad faith costs the disputer its bond and is simply attested again.
/// - Capacity in force: the figure of the NEWEST STANDING attestation of the (provider, class) (highest id), or
///   nothing (0 GPUs) when none stands. It is recomputed from the attestations still standing whenever one
///   stops standing (an overturned immediate attestation), never "restored" from a predecessor: two overturned
///   lowerings bring back the last figure that still stands. A raise that becomes final while a newer
///   attestation stands does not apply (the newer measurement wins, and the provider can dispute it in its
///   window); if that newer one is later overturned, the raise is the newest standing and applies then. So a
///   later lowering never cancels an earlier raise for good: it only outranks it while it stands.
/// - `dispute`: during the window anyone but the attester locks the same bond with the hash of its own secret.
///   Nobody chooses the panel: the attester reveals its secret (`revealAttesterSecret`, within `revealWindow`;
///   one that does not counts as 0), then the disputer reveals (`revealDisputerSecret`, within `revealWindow`
///   of the attester's reveal or of its deadline), which fixes the seed
///   `keccak256(abi.encode(attester secret or 0, disputer secret, id))` and draws the panel: `panelSize` seats,
///   each an independent stake-weighted draw `registry.sample(seed, j, snapshot)` with `snapshot` the block
///   before the dispute, redrawn (at most MAX_DRAWS_PER_SEAT tries a seat) when it hits the attester, the
///   disputer, the provider or an account no longer drawable. A member may hold several seats; its ballot
///   counts once per seat. Every seat opens a duty in the staking registry (no withdrawal mid-vote).
/// - A disputer that does not reveal in time forfeits: its bond goes to the attester as if upheld, and the
///   attestation ends `Forfeited`, which counts like `Void` for capacity (an immediate one keeps standing, a raise
///   never applies): otherwise a provider's Sybil could dispute its own false raise, stay silent and get it
///   applied without a panel. The disputer reveals last and could withhold after seeing the panel: that option
///   costs its whole bond and never applies a raise.
/// - Ballots: members commit `keccak256(abi.encode(id, member, uphold, salt))` until `voteWindow` after the draw,
///   then reveal within `revealWindow`. A decision needs a strict majority of all seats (a quorum), not of the
///   ballots revealed. Every seat whose member revealed nothing is slashed `absentSlash` stake.
/// - `finalize` (anyone, once): undisputed after the window: `Final`, the bond goes back. Upheld: the attester
///   gets its bond back and half the disputer's. Overturned: the disputer gets its bond back and half the
///   attester's. The other half of the loser's bond, plus the stake slashed from silent members, is shared per
///   seat by the majority (the remainder of the division goes to the winner). No quorum (or no seat drawn):
///   `Void`, both bonds go back and what silent members lost is shared per seat by those who revealed (all of it
///   to the attester if nobody did).
///
/// Limits (documented, not hidden): a panel is drawn by stake, so a cartel holding most verifier stake at the
/// snapshot decides disputes; one dispute per attestation, so a party that attests a false lowering and disputes
/// it itself at once (grinding its own panel) keeps honest disputers out: the lowering then stands until a newer
/// attestation (the provider's remedy is a fresh challenge, whose raise applies once final); the walk that recomputes capacity passes over pending raises of the same
/// (provider, class), each of which keeps a bond locked (dead attestations are unlinked as the walk meets them).
///
/// Freshness: a figure in force lasts `reattestPeriod` seconds from the moment its attestation was posted
/// (`attestedAt`, the measurement); after that it is stale (`capacityOf` gives its `expiresAt`; `CapacityClaims`
/// refuses new series on a stale figure) and counts as nothing: a new attestation of the same figure is then a
/// raise, final only after its dispute window. Re-attesting before expiry (same or lower figure) stands at once and
/// restarts the period, so a provider is re-challenged at least once a period (the periodic checks of the networks
/// that sell verified capacity).
///
/// GPU ids (declared, not proven): `attest` carries the dtype challenged, the hash of the provider's signed advert
/// (whose NVML facts name the GPUs: name, UUID, memory, clocks, power limit) and `gpuIds`, keccak256 of each NVML
/// UUID the advert declares (at most one per GPU verified, strictly increasing, none for a CPU or a failed
/// challenge). An id is *held* by the provider of the newest attestation that carried it while that attestation
/// is not dead, verifies GPUs, is fresh, its provider is still staked and (once it stands) the provider's figure in
/// force is not zero; `attest` refuses ({CapacityRegistry_GpuHeld}) an id another provider holds and frees it
/// otherwise. A UUID is whatever the provider's daemon reports: the attester checks the advert's signature and that
/// the UUIDs are those the daemon reported in the challenge, not that they are real. So this stops one GPU counted
/// twice by honest software, and a copied advert; it does not stop a provider that invents UUIDs. A squatter that
/// declares another provider's UUID first blocks it at most until its own figure fails or expires, and only by
/// passing a challenge of the class every `reattestPeriod` (real capacity, a bond, a staked provider); the victim's
/// remedies are a failed challenge of the squatter (an immediate lowering frees the id) or waiting for the expiry.
///
/// Invariant: `token.balanceOf(address(this)) == totalOwed()`, the bonds of every attestation not finalized.
contract CapacityRegistry is ICapacityRegistry, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Where an attestation stands. Numbers 0-6 are those of the first version; new states come after.
    enum Status {
        None,
        Pending, // in its dispute window
        Disputed, // disputed: the attester, then the disputer reveal their secrets
        Final, // not disputed
        Upheld, // the panel's majority found it right
        Overturned, // the panel's majority found it wrong
        Void, // no quorum, or no seat could be drawn
        Voting, // the panel commits, then reveals its ballots
        Forfeited // the disputer did not reveal its secret
    }

    /// @notice A panel member's ballot.
    enum Ballot {
        None, // not on the panel
        Pending, // drawn, no ballot committed
        Committed, // committed, not revealed
        Uphold, // revealed: the attestation is right
        Overturn // revealed: it is wrong
    }

    /// @notice One attested capacity-challenge result.
    /// @param verifier Who attested and bonded.
    /// @param disputeEnd First second at which it can no longer be disputed.
    /// @param gpus GPUs verified (0 = failed challenge).
    /// @param provider The provider measured.
    /// @param deadline Deadline of the current step: the attester's reveal (Disputed; after the attester revealed,
    /// the disputer's reveal), the ballot commits (Voting; reveals end `revealWindow` later).
    /// @param ppmPerGpu H100e-hours per GPU-hour, in millionths.
    /// @param disputer Who disputed (zero if nobody).
    /// @param status Where it stands.
    /// @param immediate Nothing rose against the figure in force when posted: it stood at once.
    /// @param attesterRevealed Whether the attester revealed its secret.
    /// @param seats Panel seats drawn.
    /// @param upholdVotes Seats whose revealed ballot upholds it.
    /// @param overturnVotes Seats whose revealed ballot overturns it.
    /// @param gflopsPerGpu Measured throughput per GPU in the challenge dtype (evidence for people, not used).
    /// @param snapshotBlock The block before the dispute: its closing stakes weight the panel draw.
    /// @param olderId The previous attestation of the same (provider, class) still linked (0: none).
    /// @param dtype The dtype challenged, ASCII left-aligned (e.g. "float32", "bfloat16").
    /// @param gpuClass GPU class id.
    /// @param evidence Hash of the challenge transcript the verifier keeps (seed, size, timing, result digest).
    /// @param attesterSecret The attester's secret hash, replaced by the secret once revealed.
    /// @param disputerSecret The disputer's secret hash, replaced by the secret once revealed.
    /// @param seed The panel seed (zero until the disputer revealed).
    struct Attestation {
        address verifier;
        uint64 disputeEnd;
        uint32 gpus;
        address provider;
        uint64 deadline;
        uint32 ppmPerGpu;
        address disputer;
        Status status;
        bool immediate;
        bool attesterRevealed;
        uint8 seats;
        uint8 upholdVotes;
        uint8 overturnVotes;
        uint64 gflopsPerGpu;
        uint64 snapshotBlock;
        uint64 olderId;
        bytes8 dtype;
        bytes32 gpuClass;
        bytes32 evidence;
        bytes32 attesterSecret;
        bytes32 disputerSecret;
        bytes32 seed;
    }

    /// @notice The capacity in force for one (provider, class).
    /// @param gpus GPUs verified.
    /// @param ppmPerGpu H100e ppm per GPU-hour.
    /// @param attestationId The attestation that set it (0 = none stands).
    /// @param latestId The newest attestation of the (provider, class) (0 = never attested).
    /// @param attestedAt When the attestation in force was posted (its measurement); stale `reattestPeriod` later.
    struct Capacity {
        uint32 gpus;
        uint32 ppmPerGpu;
        uint64 attestationId;
        uint64 latestId;
        uint64 attestedAt;
    }

    /// @notice Who declared a GPU id last (see "GPU ids" in the contract's notes).
    /// @param provider The provider whose attestation carried it.
    /// @param attestationId That attestation.
    struct Holder {
        address provider;
        uint64 attestationId;
    }

    /// @notice Most panel seats drawn for one dispute.
    uint256 public constant MAX_PANEL = 15;
    /// @notice Draws tried per seat before the panel is left short.
    uint256 public constant MAX_DRAWS_PER_SEAT = 4;
    /// @notice Most GPU ids one attestation may carry.
    uint256 public constant MAX_GPU_IDS = 256;

    /// @notice The bond token (ComputeToken).
    IERC20 public immutable token;
    /// @notice Who counts as a staked verifier; draws the panels, slashes silent members.
    IStakingRegistry public immutable registry;
    /// @notice What an attester, and a disputer, lock.
    uint256 public immutable bond;
    /// @notice Stake slashed per seat from a panel member that reveals no ballot.
    uint256 public immutable absentSlash;
    /// @notice Seconds an attestation can be disputed.
    uint64 public immutable disputeWindow;
    /// @notice Seconds the panel has to commit its ballots.
    uint64 public immutable voteWindow;
    /// @notice Seconds of each reveal step (attester's secret, disputer's secret, ballots).
    uint64 public immutable revealWindow;
    /// @notice Panel seats per dispute (fewer when draws keep hitting excluded accounts).
    uint8 public immutable panelSize;
    /// @notice Seconds a figure stays fresh after its attestation was posted.
    uint64 public immutable reattestPeriod;

    uint256 private _count;
    uint256 private _totalOwed;
    mapping(uint256 attestationId => Attestation) private _attestations;
    mapping(address provider => mapping(bytes32 gpuClass => Capacity)) private _capacity;
    /// @dev One entry per seat, in draw order (a member holding several seats appears several times).
    mapping(uint256 attestationId => address[]) private _members;
    mapping(uint256 attestationId => mapping(address member => Ballot)) private _ballots;
    mapping(uint256 attestationId => mapping(address member => bytes32 ballotHash)) private _ballotHashes;
    mapping(bytes32 gpuId => Holder) private _holders;

    /// @notice A verifier attested a capacity-challenge result and locked its bond.
    /// @param id The attestation.
    /// @param provider The provider measured.
    /// @param gpuClass GPU class id.
    /// @param verifier The attester.
    /// @param gpus GPUs verified (0 = failed).
    /// @param gflopsPerGpu Measured throughput per GPU.
    /// @param ppmPerGpu H100e ppm per GPU-hour.
    /// @param evidence Hash of the challenge transcript.
    /// @param disputeEnd End of the dispute window.
    event CapacityAttested(
        uint256 indexed id,
        address indexed provider,
        bytes32 indexed gpuClass,
        address verifier,
        uint32 gpus,
        uint64 gflopsPerGpu,
        uint32 ppmPerGpu,
        bytes32 evidence,
        uint64 disputeEnd
    );

    /// @notice What an attestation measured: the dtype, the provider's signed advert and the GPU ids it declares.
    /// @param id The attestation.
    /// @param dtype The dtype challenged.
    /// @param advertHash Hash of the provider's signed advert (its NVML facts).
    /// @param gpuIds keccak256 of each NVML UUID declared.
    event AttestedAdvert(uint256 indexed id, bytes8 dtype, bytes32 advertHash, bytes32[] gpuIds);

    /// @notice The capacity in force changed.
    /// @param provider The provider.
    /// @param gpuClass GPU class id.
    /// @param gpus GPUs now in force.
    /// @param ppmPerGpu H100e ppm per GPU-hour now in force.
    /// @param attestationId The attestation that set it (0 when none stands any more).
    event CapacityChanged(
        address indexed provider,
        bytes32 indexed gpuClass,
        uint32 gpus,
        uint32 ppmPerGpu,
        uint256 attestationId
    );

    /// @notice An attestation was disputed; the attester reveals its secret until `revealBy`.
    /// @param id The attestation.
    /// @param disputer Who disputed.
    /// @param snapshotBlock The block whose closing stakes weight the panel draw.
    /// @param revealBy The attester's reveal deadline.
    event CapacityDisputed(
        uint256 indexed id, address indexed disputer, uint64 snapshotBlock, uint64 revealBy
    );

    /// @notice The attester revealed its secret; the disputer reveals its own until `revealBy`.
    /// @param id The attestation.
    /// @param secret The attester's secret.
    /// @param revealBy The disputer's reveal deadline.
    event AttesterRevealed(uint256 indexed id, bytes32 secret, uint64 revealBy);

    /// @notice The disputer revealed its secret, which fixed the seed and drew the panel (one address per seat).
    /// Ballot commits are due by `voteEnd`, reveals `revealWindow` later.
    /// @param id The attestation.
    /// @param seed The panel seed.
    /// @param panel The members, one per seat, in draw order.
    /// @param voteEnd The ballot-commit deadline.
    event PanelDrawn(uint256 indexed id, bytes32 seed, address[] panel, uint64 voteEnd);

    /// @notice A panel member committed its ballot hash.
    /// @param id The attestation.
    /// @param member The member.
    event BallotCommitted(uint256 indexed id, address indexed member);

    /// @notice A panel member revealed its ballot (it counts once per seat the member holds).
    /// @param id The attestation.
    /// @param member The voter.
    /// @param uphold True if the attestation is right.
    event PanelVoted(uint256 indexed id, address indexed member, bool uphold);

    /// @notice A panel member revealed no ballot in time and was slashed for one seat.
    /// @param id The attestation.
    /// @param member The member.
    /// @param slashed Stake taken (to this contract, paid out with the dispute).
    event BallotMissing(uint256 indexed id, address indexed member, uint256 slashed);

    /// @notice An attestation reached its final status and its bonds were paid out.
    /// @param id The attestation.
    /// @param status Final, Upheld, Overturned, Void or Forfeited.
    event AttestationFinalized(uint256 indexed id, Status status);

    /// @notice A constructor argument is zero or out of range.
    /// @param index 0 = token, 1 = registry, 2 = bond, 3 = panel size, 4 = reveal window, 5 = re-attest period.
    error CapacityRegistry_BadParameter(uint256 index);
    /// @notice The caller is not a drawable staked verifier.
    /// @param caller The caller.
    error CapacityRegistry_NotVerifier(address caller);
    /// @notice A verifier cannot attest its own capacity.
    /// @param account The provider and caller.
    error CapacityRegistry_SelfAttestation(address account);
    /// @notice The provider address, GPU class, dtype, advert hash, evidence hash or a secret hash was zero.
    error CapacityRegistry_ZeroField();
    /// @notice A passing attestation (gpus > 0) must give a non-zero normalized figure.
    error CapacityRegistry_ZeroThroughput();
    /// @notice The GPU ids are more than the GPUs verified (or MAX_GPU_IDS), zero, or not strictly increasing.
    /// @param index The first offending entry (the length when there are too many).
    error CapacityRegistry_BadGpuIds(uint256 index);
    /// @notice Another provider holds this GPU id (see "GPU ids" in the contract's notes).
    /// @param gpuId The id.
    /// @param holder The provider holding it.
    error CapacityRegistry_GpuHeld(bytes32 gpuId, address holder);
    /// @notice No attestation with this id.
    /// @param id The id asked for.
    error CapacityRegistry_UnknownAttestation(uint256 id);
    /// @notice The attestation is not in the status the call needs.
    /// @param id The attestation.
    /// @param status Its status.
    error CapacityRegistry_WrongStatus(uint256 id, Status status);
    /// @notice The dispute window is over.
    /// @param id The attestation.
    /// @param disputeEnd End of its window.
    error CapacityRegistry_DisputeWindowOver(uint256 id, uint64 disputeEnd);
    /// @notice The attester cannot dispute itself.
    /// @param id The attestation.
    error CapacityRegistry_SelfDispute(uint256 id);
    /// @notice The caller is not on the panel.
    /// @param id The attestation.
    /// @param caller The caller.
    error CapacityRegistry_NotOnPanel(uint256 id, address caller);
    /// @notice The member already committed (commit step) or already revealed / never committed (reveal step).
    /// @param id The attestation.
    /// @param member The member.
    error CapacityRegistry_AlreadyVoted(uint256 id, address member);
    /// @notice The step's deadline has passed.
    /// @param id The attestation.
    /// @param deadline The deadline.
    error CapacityRegistry_DeadlinePassed(uint256 id, uint64 deadline);
    /// @notice Too early for this step; it may happen from `from` on.
    /// @param id The attestation.
    /// @param from First second at which it may.
    error CapacityRegistry_TooEarly(uint256 id, uint64 from);
    /// @notice A revealed secret or ballot does not match its committed hash.
    /// @param id The attestation.
    /// @param caller The caller.
    error CapacityRegistry_WrongPreimage(uint256 id, address caller);

    /// @notice Sets the token, the staking registry and the dispute parameters. The deployer must then call
    /// `StakingRegistry.setCapacityRegistry(address(this))`, or no panel member can be slashed or given a duty
    /// (disputes could not reach a panel).
    /// @dev Requirements: non-zero token, registry, bond and reveal window; 1 <= panelSize_ <= MAX_PANEL;
    /// reattestPeriod_ > disputeWindow_ (a raise must still be fresh when it becomes final).
    /// @param token_ The bond token.
    /// @param registry_ The staking registry (who is a verifier, panel draws, slashing).
    /// @param bond_ Bond of an attestation and of a dispute.
    /// @param disputeWindow_ Seconds to dispute.
    /// @param voteWindow_ Seconds for the panel to commit its ballots.
    /// @param revealWindow_ Seconds for each reveal step.
    /// @param panelSize_ Panel seats per dispute.
    /// @param absentSlash_ Stake slashed per seat from a member that reveals no ballot.
    /// @param reattestPeriod_ Seconds a figure stays fresh after its attestation was posted.
    constructor(
        IERC20 token_,
        IStakingRegistry registry_,
        uint256 bond_,
        uint64 disputeWindow_,
        uint64 voteWindow_,
        uint64 revealWindow_,
        uint8 panelSize_,
        uint256 absentSlash_,
        uint64 reattestPeriod_
    ) {
        if (address(token_) == address(0)) revert CapacityRegistry_BadParameter(0);
        if (address(registry_) == address(0)) revert CapacityRegistry_BadParameter(1);
        if (bond_ == 0) revert CapacityRegistry_BadParameter(2);
        if (panelSize_ == 0 || panelSize_ > MAX_PANEL) revert CapacityRegistry_BadParameter(3);
        if (revealWindow_ == 0) revert CapacityRegistry_BadParameter(4);
        if (reattestPeriod_ <= disputeWindow_) revert CapacityRegistry_BadParameter(5);
        token = token_;
        registry = registry_;
        bond = bond_;
        disputeWindow = disputeWindow_;
        voteWindow = voteWindow_;
        revealWindow = revealWindow_;
        panelSize = panelSize_;
        absentSlash = absentSlash_;
        reattestPeriod = reattestPeriod_;
    }

    /// @notice Posts a capacity-challenge result for `provider` with the hash of the attester's secret, and locks
    /// `bond`.
    /// @dev Emits {CapacityAttested} and {AttestedAdvert}; {CapacityChanged} when nothing in the figure rises
    /// against the fresh figure in force (a stale one counts as nothing), so it stands at once.
    /// Requirements: the caller is a drawable verifier and not `provider`; `provider`, `gpuClass`, `dtype`,
    /// `advertHash`, `evidence` and `secretHash` are non-zero; `ppmPerGpu > 0` when `gpus > 0`; `gpuIds` at most
    /// `gpus` (and MAX_GPU_IDS) non-zero, strictly increasing ids none of which another provider holds; the caller
    /// approved `bond`.
    /// @param provider The provider challenged.
    /// @param gpuClass GPU class id.
    /// @param gpus GPUs verified; 0 records a failed challenge.
    /// @param gflopsPerGpu Measured GFLOP/s per GPU in the challenge dtype.
    /// @param ppmPerGpu H100e-hours per GPU-hour in millionths (`tokenomics.normalized`).
    /// @param dtype The dtype challenged, ASCII left-aligned.
    /// @param advertHash Hash of the provider's signed advert whose figure and NVML facts were challenged.
    /// @param gpuIds keccak256 of each NVML UUID the advert declares (empty: none, e.g. a CPU).
    /// @param evidence Hash of the challenge transcript.
    /// @param secretHash keccak256(abi.encode(secret)) of a fresh random 32-byte secret, revealed only if the
    /// attestation is disputed (`revealAttesterSecret`).
    /// @return id The attestation id, counting from 1.
    function attest(
        address provider,
        bytes32 gpuClass,
        uint32 gpus,
        uint64 gflopsPerGpu,
        uint32 ppmPerGpu,
        bytes8 dtype,
        bytes32 advertHash,
        bytes32[] calldata gpuIds,
        bytes32 evidence,
        bytes32 secretHash
    ) external nonReentrant returns (uint256 id) {
        if (!registry.isVerifier(msg.sender)) {
            revert CapacityRegistry_NotVerifier(msg.sender);
        }
        if (msg.sender == provider) revert CapacityRegistry_SelfAttestation(provider);
        if (
            provider == address(0) || gpuClass == bytes32(0) || dtype == bytes8(0) || advertHash == bytes32(0)
                || evidence == bytes32(0) || secretHash == bytes32(0)
        ) {
            revert CapacityRegistry_ZeroField();
        }
        if (gpus > 0 && ppmPerGpu == 0) revert CapacityRegistry_ZeroThroughput();
        if (gpus == 0) ppmPerGpu = 0;

        id = ++_count;
        _claimGpus(provider, id, gpus, gpuIds);
        Attestation storage a = _attestations[id];
        a.verifier = msg.sender;
        a.gpus = gpus;
        a.provider = provider;
        a.ppmPerGpu = ppmPerGpu;
        a.gflopsPerGpu = gflopsPerGpu;
        a.dtype = dtype;
        a.gpuClass = gpuClass;
        a.evidence = evidence;
        a.attesterSecret = secretHash;
        _open(id, a);
        emit AttestedAdvert(id, dtype, advertHash, gpuIds);

        token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice Disputes a pending attestation with the hash of the disputer's secret and locks `bond`. The verifier
    /// stakes at the end of the previous block will weight the panel draw.
    /// @dev Emits {CapacityDisputed}.
    /// Requirements: the attestation is pending and its dispute window open; the caller is not its attester;
    /// `secretHash` is non-zero; the caller approved `bond`.
    /// @param id The attestation.
    /// @param secretHash keccak256(abi.encode(secret)) of a fresh random 32-byte secret (`revealDisputerSecret`).
    function dispute(uint256 id, bytes32 secretHash) external nonReentrant {
        Attestation storage a = _existing(id);
        if (a.status != Status.Pending) revert CapacityRegistry_WrongStatus(id, a.status);
        if (block.timestamp >= a.disputeEnd) revert CapacityRegistry_DisputeWindowOver(id, a.disputeEnd);
        if (msg.sender == a.verifier) revert CapacityRegistry_SelfDispute(id);
        if (secretHash == bytes32(0)) revert CapacityRegistry_ZeroField();

        uint64 revealBy = uint64(block.timestamp) + revealWindow;
        uint64 snapshot = uint64(block.number - 1);
        a.disputer = msg.sender;
        a.status = Status.Disputed;
        a.deadline = revealBy;
        a.snapshotBlock = snapshot;
        a.disputerSecret = secretHash;
        _totalOwed += bond;

        emit CapacityDisputed(id, msg.sender, snapshot, revealBy);

        token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice The attester reveals its secret after a dispute. Anyone may send it (the preimage is the
    /// authorization).
    /// @dev Emits {AttesterRevealed}.
    /// Requirements: the attestation is disputed; the attester has not revealed; block.timestamp <= the reveal
    /// deadline; keccak256(abi.encode(secret)) equals the committed hash.
    /// @param id The attestation.
    /// @param secret The attester's secret.
    function revealAttesterSecret(uint256 id, bytes32 secret) external {
        Attestation storage a = _existing(id);
        if (a.status != Status.Disputed || a.attesterRevealed) {
            revert CapacityRegistry_WrongStatus(id, a.status);
        }
        if (block.timestamp > a.deadline) revert CapacityRegistry_DeadlinePassed(id, a.deadline);
        if (keccak256(abi.encode(secret)) != a.attesterSecret) {
            revert CapacityRegistry_WrongPreimage(id, msg.sender);
        }
        uint64 revealBy = uint64(block.timestamp) + revealWindow;
        a.attesterSecret = secret;
        a.attesterRevealed = true;
        a.deadline = revealBy;
        emit AttesterRevealed(id, secret, revealBy);
    }

    /// @notice The disputer reveals its secret, which fixes the seed and draws the panel (see the contract's
    /// notes); every seat gets a duty in the staking registry until `finalize`. With no seat drawn the attestation
    /// is finalized `Void` at once. Anyone may send the preimage.
    /// @dev Emits {PanelDrawn} (and the registry {IStakingRegistry-DutiesChanged} per seat); with an empty panel
    /// {AttestationFinalized} (and {CapacityChanged} if the figure in force changes) instead.
    /// Requirements: the attestation is disputed; the attester revealed or its reveal deadline passed;
    /// block.timestamp <= the disputer's reveal deadline; keccak256(abi.encode(secret)) equals the committed hash.
    /// @param id The attestation.
    /// @param secret The disputer's secret.
    function revealDisputerSecret(uint256 id, bytes32 secret) external nonReentrant {
        Attestation storage a = _existing(id);
        if (a.status != Status.Disputed) revert CapacityRegistry_WrongStatus(id, a.status);
        (uint64 from, uint64 until) = _disputerRevealSpan(a);
        if (block.timestamp < from) revert CapacityRegistry_TooEarly(id, from);
        if (block.timestamp > until) revert CapacityRegistry_DeadlinePassed(id, until);
        if (keccak256(abi.encode(secret)) != a.disputerSecret) {
            revert CapacityRegistry_WrongPreimage(id, msg.sender);
        }
        bytes32 attesterSecret = a.attesterRevealed ? a.attesterSecret : bytes32(0);
        bytes32 seed = keccak256(abi.encode(attesterSecret, secret, id));
        a.disputerSecret = secret;
        a.seed = seed;
        address[] storage members = _members[id];
        _drawPanel(id, a, seed, members);
        uint256 seats = members.length;
        if (seats == 0) {
            _end(id, a, Status.Void);
            _refundBoth(a);
            return;
        }
        uint64 voteEnd = uint64(block.timestamp) + voteWindow;
        a.status = Status.Voting;
        a.deadline = voteEnd;
        // At most MAX_PANEL (15) seats: fits in uint8.
        a.seats = uint8(seats);
        emit PanelDrawn(id, seed, members, voteEnd);
        for (uint256 i = 0; i < seats; ++i) {
            registry.openDuty(members[i]);
        }
    }

    /// @notice A panel member commits its ballot: keccak256(abi.encode(id, member, uphold, salt)). Ballots stay
    /// hidden until the commit step ends, so nobody can copy the majority. A member holding several seats commits
    /// once.
    /// @dev Emits {BallotCommitted}.
    /// Requirements: the attestation is in its vote; block.timestamp <= the commit deadline; the caller is on
    /// the panel and has not committed; `ballotHash` is non-zero.
    /// @param id The attestation.
    /// @param ballotHash The ballot's hash.
    function commitVote(uint256 id, bytes32 ballotHash) external {
        Attestation storage a = _existing(id);
        if (a.status != Status.Voting) revert CapacityRegistry_WrongStatus(id, a.status);
        if (block.timestamp > a.deadline) revert CapacityRegistry_DeadlinePassed(id, a.deadline);
        Ballot ballot = _ballots[id][msg.sender];
        if (ballot == Ballot.None) revert CapacityRegistry_NotOnPanel(id, msg.sender);
        if (ballot != Ballot.Pending) revert CapacityRegistry_AlreadyVoted(id, msg.sender);
        if (ballotHash == bytes32(0)) revert CapacityRegistry_ZeroField();
        _ballots[id][msg.sender] = Ballot.Committed;
        _ballotHashes[id][msg.sender] = ballotHash;
        emit BallotCommitted(id, msg.sender);
    }

    /// @notice A panel member reveals its committed ballot, after the commit step.
    /// @dev Emits {PanelVoted}.
    /// Requirements: the attestation is in its vote; the commit deadline passed and the reveal deadline
    /// (`revealWindow` later) has not; the caller committed and has not revealed; ballot and salt match the hash.
    /// @param id The attestation.
    /// @param uphold True if the member's own re-check found the attested figure right.
    /// @param salt The ballot's random salt.
    function revealVote(uint256 id, bool uphold, bytes32 salt) external {
        Attestation storage a = _existing(id);
        if (a.status != Status.Voting) revert CapacityRegistry_WrongStatus(id, a.status);
        uint64 voteEnd = a.deadline;
        if (block.timestamp <= voteEnd) revert CapacityRegistry_TooEarly(id, voteEnd + 1);
        uint64 revealBy = voteEnd + revealWindow;
        if (block.timestamp > revealBy) revert CapacityRegistry_DeadlinePassed(id, revealBy);
        Ballot ballot = _ballots[id][msg.sender];
        if (ballot == Ballot.None) revert CapacityRegistry_NotOnPanel(id, msg.sender);
        if (ballot != Ballot.Committed) revert CapacityRegistry_AlreadyVoted(id, msg.sender);
        if (keccak256(abi.encode(id, msg.sender, uphold, salt)) != _ballotHashes[id][msg.sender]) {
            revert CapacityRegistry_WrongPreimage(id, msg.sender);
        }
        // At most MAX_PANEL seats: the tallies fit in uint8.
        uint8 seats = uint8(_seatsOf(id, msg.sender));
        if (uphold) {
            _ballots[id][msg.sender] = Ballot.Uphold;
            a.upholdVotes += seats;
        } else {
            _ballots[id][msg.sender] = Ballot.Overturn;
            a.overturnVotes += seats;
        }
        emit PanelVoted(id, msg.sender, uphold);
    }

    /// @notice Ends an attestation: pays the bonds, slashes silent panel members, closes the panel's duties and
    /// recomputes the capacity in force (see the contract's notes). Anyone may call it, so no bond is ever stuck.
    /// @dev Emits {AttestationFinalized}; {BallotMissing} per silent seat; {CapacityChanged} when the figure in
    /// force changes; the registry emits {IStakingRegistry-Slashed} and {IStakingRegistry-DutiesChanged}.
    /// Requirements: pending with its dispute window over; disputed with the disputer's reveal deadline passed;
    /// or voting with every seat revealed or the ballot reveal deadline passed.
    /// @param id The attestation.
    /// @return status The final status.
    function finalize(uint256 id) external nonReentrant returns (Status status) {
        Attestation storage a = _existing(id);
        Status current = a.status;
        if (current == Status.Pending) {
            if (block.timestamp < a.disputeEnd) revert CapacityRegistry_TooEarly(id, a.disputeEnd);
            _end(id, a, Status.Final);
            _totalOwed -= bond;
            token.safeTransfer(a.verifier, bond);
            return Status.Final;
        }
        if (current == Status.Disputed) {
            (, uint64 until) = _disputerRevealSpan(a);
            if (block.timestamp <= until) revert CapacityRegistry_TooEarly(id, until + 1);
            _end(id, a, Status.Forfeited);
            _totalOwed -= 2 * bond;
            token.safeTransfer(a.verifier, 2 * bond);
            return Status.Forfeited;
        }
        if (current != Status.Voting) revert CapacityRegistry_WrongStatus(id, current);
        uint256 seats = a.seats;
        uint256 up = a.upholdVotes;
        uint256 down = a.overturnVotes;
        uint64 revealBy = a.deadline + revealWindow;
        if (up + down < seats && block.timestamp <= revealBy) {
            revert CapacityRegistry_TooEarly(id, revealBy + 1);
        }
        uint256 slashed = up + down < seats ? _slashSilent(id) : 0;
        if (2 * up > seats) status = Status.Upheld;
        else if (2 * down > seats) status = Status.Overturned;
        else status = Status.Void;
        _end(id, a, status);
        if (status == Status.Void) _payVoid(id, a, slashed);
        else _payDispute(id, a, status == Status.Upheld, slashed);
        _closeDuties(id);
    }

    // ---------------------------------------------------------------------------------------------- views

    /// @inheritdoc ICapacityRegistry
    function capacityOf(address provider, bytes32 gpuClass)
        external
        view
        returns (uint32 gpus, uint32 ppmPerGpu, uint64 expiresAt)
    {
        Capacity storage c = _capacity[provider][gpuClass];
        if (c.attestationId == 0) return (0, 0, 0);
        return (c.gpus, c.ppmPerGpu, c.attestedAt + reattestPeriod);
    }

    /// @notice Who holds a GPU id now (see "GPU ids" in the contract's notes).
    /// @param gpuId keccak256 of an NVML UUID.
    /// @return holder The provider holding it (zero: free).
    function gpuHolder(bytes32 gpuId) external view returns (address holder) {
        holder = _holders[gpuId].provider;
        if (holder != address(0) && !_holds(_holders[gpuId])) holder = address(0);
    }

    /// @notice The capacity in force with the attestation that set it.
    /// @param provider The provider.
    /// @param gpuClass GPU class id.
    /// @return The record (all zero if never attested).
    function capacity(address provider, bytes32 gpuClass) external view returns (Capacity memory) {
        return _capacity[provider][gpuClass];
    }

    /// @notice One attestation.
    /// @param id The attestation.
    /// @return The record (all zero for an unknown id).
    function attestation(uint256 id) external view returns (Attestation memory) {
        return _attestations[id];
    }

    /// @notice The panel drawn for a disputed attestation: one entry per seat.
    /// @param id The attestation.
    /// @return The members, in draw order (empty before the disputer's reveal).
    function panel(uint256 id) external view returns (address[] memory) {
        return _members[id];
    }

    /// @notice A panel member's ballot.
    /// @param id The attestation.
    /// @param member The member.
    /// @return The ballot (None when not on the panel).
    function ballotOf(uint256 id, address member) external view returns (Ballot) {
        return _ballots[id][member];
    }

    /// @notice The window in which the disputer may reveal (meaningful while the attestation is Disputed).
    /// @param id The attestation.
    /// @return from First second it may reveal (the attester revealed, or the attester's window passed).
    /// @return until Last second it may reveal.
    function disputerRevealSpan(uint256 id) external view returns (uint64 from, uint64 until) {
        return _disputerRevealSpan(_attestations[id]);
    }

    /// @notice Attestations posted; ids run from 1 to this value.
    /// @return The count.
    function attestationCount() external view returns (uint256) {
        return _count;
    }

    /// @notice The bonds held: those of every attestation (and its dispute) not finalized.
    /// @return Always equal to `token.balanceOf(address(this))` (tokens sent here by mistake aside).
    function totalOwed() external view returns (uint256) {
        return _totalOwed;
    }

    // ---------------------------------------------------------------------------------------------- internals

    function _existing(uint256 id) private view returns (Attestation storage a) {
        a = _attestations[id];
        if (a.status == Status.None) revert CapacityRegistry_UnknownAttestation(id);
    }

    function _disputerRevealSpan(Attestation storage a) private view returns (uint64 from, uint64 until) {
        if (a.attesterRevealed) return (0, a.deadline);
        return (a.deadline + 1, a.deadline + revealWindow);
    }

    /// @dev Whether `a` stands (counts for the capacity in force): an immediate one unless overturned, a raise
    /// once final (undisputed).
    function _standing(Attestation storage a) private view returns (bool) {
        Status s = a.status;
        if (a.immediate) return s != Status.Overturned;
        return s == Status.Final;
    }

    /// @dev Whether `a` can never stand again: an overturned immediate one, a raise that was disputed and ended.
    function _dead(Attestation storage a) private view returns (bool) {
        Status s = a.status;
        if (a.immediate) return s == Status.Overturned;
        return uint8(s) > uint8(Status.Final) && s != Status.Voting;
    }

    /// @dev Sets the final status and updates the capacity in force: a raise that now stands and is newer than
    /// the attestation in force applies; an attestation in force that stops standing makes way for the newest
    /// one still standing.
    function _end(uint256 id, Attestation storage a, Status status) private {
        a.status = status;
        emit AttestationFinalized(id, status);
        Capacity storage c = _capacity[a.provider][a.gpuClass];
        if (_standing(a)) {
            if (id > c.attestationId) _setInForce(c, a, id);
        } else if (c.attestationId == id) {
            _recompute(c, a);
        }
    }

    function _setInForce(Capacity storage c, Attestation storage a, uint256 id) private {
        c.gpus = a.gpus;
        c.ppmPerGpu = a.ppmPerGpu;
        c.attestationId = uint64(id);
        c.attestedAt = a.disputeEnd - disputeWindow;
        emit CapacityChanged(a.provider, a.gpuClass, a.gpus, a.ppmPerGpu, id);
    }

    /// @dev The attestation `from` (in force until now) stopped standing: walks the older attestations of its
    /// (provider, class) to the newest that stands, unlinking dead ones on the way, and puts it in force (nothing
    /// when none stands). Every attestation newer than `from` is a raise not yet standing (else it would be the one
    /// in force), so the newest standing one is older.
    function _recompute(Capacity storage c, Attestation storage from) private {
        Attestation storage link = from;
        uint256 cursor = from.olderId;
        while (cursor != 0) {
            Attestation storage o = _attestations[cursor];
            if (_standing(o)) {
                _setInForce(c, o, cursor);
                return;
            }
            if (_dead(o)) {
                link.olderId = o.olderId;
            } else {
                link = o;
            }
            cursor = o.olderId;
        }
        c.gpus = 0;
        c.ppmPerGpu = 0;
        c.attestationId = 0;
        c.attestedAt = 0;
        emit CapacityChanged(from.provider, from.gpuClass, 0, 0, 0);
    }

    /// @dev Opens the dispute window of the new attestation `a` (its figures already written), links it to its
    /// (provider, class) and puts it in force at once when nothing in it rises against the fresh figure in force.
    function _open(uint256 id, Attestation storage a) private {
        uint64 disputeEnd = uint64(block.timestamp) + disputeWindow;
        address provider = a.provider;
        bytes32 gpuClass = a.gpuClass;
        uint32 gpus = a.gpus;
        Capacity storage c = _capacity[provider][gpuClass];
        bool fresh = block.timestamp < uint256(c.attestedAt) + reattestPeriod;
        a.disputeEnd = disputeEnd;
        a.status = Status.Pending;
        a.immediate = gpus == 0 || (fresh && gpus <= c.gpus && a.ppmPerGpu <= c.ppmPerGpu);
        a.olderId = c.latestId;
        // Ids count up from 1 by one per attestation: 2^64 of them is out of reach.
        c.latestId = uint64(id);
        _totalOwed += bond;
        emit CapacityAttested(
            id, provider, gpuClass, a.verifier, gpus, a.gflopsPerGpu, a.ppmPerGpu, a.evidence, disputeEnd
        );
        if (a.immediate) _setInForce(c, a, id);
    }

    /// @dev Checks `gpuIds` (at most `gpus` and MAX_GPU_IDS, non-zero, strictly increasing), refuses one that
    /// another provider holds and records `provider`'s attestation `id` as the holder of each.
    function _claimGpus(address provider, uint256 id, uint32 gpus, bytes32[] calldata gpuIds) private {
        uint256 count = gpuIds.length;
        if (count > gpus || count > MAX_GPU_IDS) revert CapacityRegistry_BadGpuIds(count);
        bytes32 previous = bytes32(0);
        for (uint256 i = 0; i < count; ++i) {
            bytes32 gpuId = gpuIds[i];
            if (gpuId <= previous) revert CapacityRegistry_BadGpuIds(i);
            previous = gpuId;
            Holder storage h = _holders[gpuId];
            address holder = h.provider;
            if (holder != address(0) && holder != provider && _holds(h)) {
                revert CapacityRegistry_GpuHeld(gpuId, holder);
            }
            h.provider = provider;
            h.attestationId = uint64(id);
        }
    }

    /// @dev Whether `h` still holds its GPU id: its attestation is not dead, verifies GPUs and is fresh, its
    /// provider is still staked, and (once the attestation stands) the provider's figure in force is not zero.
    function _holds(Holder storage h) private view returns (bool) {
        Attestation storage a = _attestations[h.attestationId];
        if (a.gpus == 0 || _dead(a)) return false;
        if (block.timestamp >= uint256(a.disputeEnd) - disputeWindow + reattestPeriod) return false;
        if (!registry.isProvider(h.provider)) return false;
        return !_standing(a) || _capacity[h.provider][a.gpuClass].gpus > 0;
    }

    /// @dev Independent stake-weighted draws at the dispute's snapshot, up to MAX_DRAWS_PER_SEAT tries a seat;
    /// a draw that is the attester, the disputer, the provider or no longer drawable is thrown away.
    function _drawPanel(uint256 id, Attestation storage a, bytes32 seed, address[] storage members) private {
        uint256 want = panelSize;
        uint256 tries = want * MAX_DRAWS_PER_SEAT;
        uint256 snapshot = a.snapshotBlock;
        for (uint256 j = 0; j < tries && members.length < want; ++j) {
            address m = registry.sample(seed, j, snapshot);
            if (m == address(0)) break;
            if (m == a.verifier || m == a.disputer || m == a.provider || !registry.isVerifier(m)) continue;
            members.push(m);
            _ballots[id][m] = Ballot.Pending;
        }
    }

    function _seatsOf(uint256 id, address member) private view returns (uint256 seats) {
        address[] storage members = _members[id];
        for (uint256 i = 0; i < members.length; ++i) {
            if (members[i] == member) ++seats;
        }
    }

    /// @dev Slashes `absentSlash` per seat whose member revealed no ballot, into this contract.
    function _slashSilent(uint256 id) private returns (uint256 total) {
        uint256 amount = absentSlash;
        address[] storage members = _members[id];
        for (uint256 i = 0; i < members.length; ++i) {
            address m = members[i];
            Ballot ballot = _ballots[id][m];
            if (ballot == Ballot.Uphold || ballot == Ballot.Overturn) continue;
            uint256 slashed = amount == 0 ? 0 : registry.slash(m, amount, address(this));
            total += slashed;
            emit BallotMissing(id, m, slashed);
        }
        _totalOwed += total;
    }

    function _closeDuties(uint256 id) private {
        address[] storage members = _members[id];
        for (uint256 i = 0; i < members.length; ++i) {
            registry.closeDuty(members[i]);
        }
    }

    function _refundBoth(Attestation storage a) private {
        _totalOwed -= 2 * bond;
        token.safeTransfer(a.verifier, bond);
        token.safeTransfer(a.disputer, bond);
    }

    /// @dev Winner: its bond back plus half the loser's; the other half and the silent members' slashed stake
    /// shared per seat by the majority, the remainder to the winner.
    function _payDispute(uint256 id, Attestation storage a, bool upheld, uint256 slashed) private {
        address winner = upheld ? a.verifier : a.disputer;
        Ballot side = upheld ? Ballot.Uphold : Ballot.Overturn;
        uint256 seats = upheld ? a.upholdVotes : a.overturnVotes;
        uint256 pool = bond / 2 + slashed;
        uint256 each = pool / seats;
        _totalOwed -= 2 * bond + slashed;
        _payPanel(id, side, side, each);
        token.safeTransfer(winner, 2 * bond + slashed - each * seats);
    }

    /// @dev No quorum: both bonds back; the silent members' slashed stake shared per seat by those who revealed,
    /// the remainder (all of it when nobody revealed) to the attester.
    function _payVoid(uint256 id, Attestation storage a, uint256 slashed) private {
        uint256 seats = uint256(a.upholdVotes) + a.overturnVotes;
        uint256 each = seats == 0 ? 0 : slashed / seats;
        _totalOwed -= 2 * bond + slashed;
        _payPanel(id, Ballot.Uphold, Ballot.Overturn, each);
        token.safeTransfer(a.verifier, bond + slashed - each * seats);
        token.safeTransfer(a.disputer, bond);
    }

    /// @dev Pays `each` per seat whose member's ballot is `sideA` or `sideB`.
    function _payPanel(uint256 id, Ballot sideA, Ballot sideB, uint256 each) private {
        if (each == 0) return;
        address[] storage members = _members[id];
        for (uint256 i = 0; i < members.length; ++i) {
            Ballot ballot = _ballots[id][members[i]];
            if (ballot == sideA || ballot == sideB) token.safeTransfer(members[i], each);
        }
    }
}

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
/// Protocol (the simplest form that keeps one verifier from deciding alone):
/// - `attest`: a staked verifier (not the provider) posts (provider, GPU class, GPUs, measured GFLOP/s per GPU,
///   H100e ppm per GPU, evidence hash) and locks `bond`. `gpus == 0` records a failed challenge.
/// - Effect: a figure in which nothing rises (no component above the one in force: a failed challenge, fewer
///   GPUs, a slower GPU) takes effect AT ONCE, so a provider caught short stops minting immediately (fail-safe).
///   A raise takes effect only at `finalize`, after `disputeWindow` seconds without a dispute.
/// - `dispute`: during the window anyone but the attester locks the same bond; `panelSize` verifiers (never the
///   attester, the disputer or the provider) are drawn from the staking registry with `block.prevrandao`, and
///   vote within `voteWindow` (re-running the challenge off chain against the same evidence).
/// - `finalize` (anyone, once): undisputed after the window: the bond goes back, a raise applies. Disputed, after
///   the vote window or once every panel member voted: the majority wins. Upheld: the attester gets its bond
///   back and half the disputer's; a raise applies. Overturned: the disputer gets its bond back and half the
///   attester's; a lowering that is still the figure in force is rolled back to the one before it. The other
///   half of the loser's bond is shared by the majority's voters (the remainder of the division goes to the
///   winner). A tie (no votes included) voids the attestation: both bonds go back, a raise never applies, a
///   lowering stays (doubt never raises capacity).
/// - Order: attestations apply in id order; an older one finalizing after a newer one applied changes nothing.
///
/// Limits (documented, not hidden): panel members who do not vote lose nothing (only the job market may slash
/// stake); a panel is drawn from whoever is staked, so a cartel holding most verifier stake decides disputes.
///
/// Invariant: `token.balanceOf(address(this)) == totalOwed()`, the bonds of every attestation not finalized.
contract CapacityRegistry is ICapacityRegistry, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Where an attestation stands.
    enum Status {
        None,
        Pending,
        Disputed,
        Final,
        Upheld,
        Overturned,
        Void
    }

    /// @notice One attested capacity-challenge result.
    /// @param verifier Who attested and bonded.
    /// @param disputeEnd First second at which it can no longer be disputed.
    /// @param gpus GPUs verified (0 = failed challenge).
    /// @param ppmPerGpu H100e-hours per GPU-hour, in millionths.
    /// @param provider The provider measured.
    /// @param voteEnd First second after the panel's vote (disputed only).
    /// @param gflopsPerGpu Measured throughput per GPU in the challenge dtype (evidence for people, not used).
    /// @param disputer Who disputed (zero if nobody).
    /// @param status Where it stands.
    /// @param panelSize Panel members drawn.
    /// @param upholdVotes Votes that the attestation is right.
    /// @param overturnVotes Votes that it is wrong.
    /// @param applied Whether its figure was put in force.
    /// @param prevGpus, prevPpm, prevId The figure in force before this one applied (for a rollback).
    /// @param gpuClass GPU class id.
    /// @param evidence Hash of the challenge transcript the verifier keeps (seed, size, timing, result digest).
    struct Attestation {
        address verifier;
        uint64 disputeEnd;
        uint32 gpus;
        address provider;
        uint64 voteEnd;
        uint32 ppmPerGpu;
        address disputer;
        Status status;
        uint8 panelSize;
        uint8 upholdVotes;
        uint8 overturnVotes;
        bool applied;
        uint32 prevGpus;
        uint32 prevPpm;
        uint64 prevId;
        uint64 gflopsPerGpu;
        bytes32 gpuClass;
        bytes32 evidence;
    }

    /// @notice The capacity in force for one (provider, class).
    /// @param gpus GPUs verified.
    /// @param ppmPerGpu H100e ppm per GPU-hour.
    /// @param attestationId The attestation that set it (0 = never).
    struct Capacity {
        uint32 gpus;
        uint32 ppmPerGpu;
        uint64 attestationId;
    }

    /// @notice Most panel members drawn for one dispute.
    uint256 public constant MAX_PANEL = 15;

    /// @notice The bond token (ComputeToken).
    IERC20 public immutable token;
    /// @notice Who counts as a staked verifier.
    IStakingRegistry public immutable registry;
    /// @notice What an attester, and a disputer, lock.
    uint256 public immutable bond;
    /// @notice Seconds an attestation can be disputed.
    uint64 public immutable disputeWindow;
    /// @notice Seconds the panel has to vote.
    uint64 public immutable voteWindow;
    /// @notice Panel members drawn per dispute (fewer when fewer verifiers are eligible).
    uint8 public immutable panelSize;

    uint256 private _count;
    uint256 private _totalOwed;
    mapping(uint256 attestationId => Attestation) private _attestations;
    mapping(address provider => mapping(bytes32 gpuClass => Capacity)) private _capacity;
    /// @dev 1 = drawn, 2 = drawn and voted.
    mapping(uint256 attestationId => mapping(address member => uint8 state)) private _panel;
    mapping(uint256 attestationId => address[]) private _members;
    mapping(uint256 attestationId => mapping(address member => bool uphold)) private _votedFor;

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

    /// @notice The capacity in force changed.
    /// @param provider The provider.
    /// @param gpuClass GPU class id.
    /// @param gpus GPUs now in force.
    /// @param ppmPerGpu H100e ppm per GPU-hour now in force.
    /// @param attestationId The attestation that set it (0 after a rollback to nothing).
    event CapacityChanged(
        address indexed provider,
        bytes32 indexed gpuClass,
        uint32 gpus,
        uint32 ppmPerGpu,
        uint256 attestationId
    );

    /// @notice An attestation was disputed and a panel drawn.
    /// @param id The attestation.
    /// @param disputer Who disputed.
    /// @param panel The members drawn.
    /// @param voteEnd End of the vote.
    event CapacityDisputed(uint256 indexed id, address indexed disputer, address[] panel, uint64 voteEnd);

    /// @notice A panel member voted.
    /// @param id The attestation.
    /// @param member The voter.
    /// @param uphold True if the attestation is right.
    event PanelVoted(uint256 indexed id, address indexed member, bool uphold);

    /// @notice An attestation reached its final status and its bonds were paid out.
    /// @param id The attestation.
    /// @param status Final, Upheld, Overturned or Void.
    event AttestationFinalized(uint256 indexed id, Status status);

    /// @notice A constructor argument is zero or out of range.
    /// @param index 0 = token, 1 = registry, 2 = bond, 3 = panel size.
    error CapacityRegistry_BadParameter(uint256 index);
    /// @notice The caller is not a drawable staked verifier.
    /// @param caller The caller.
    error CapacityRegistry_NotVerifier(address caller);
    /// @notice A verifier cannot attest its own capacity.
    /// @param account The provider and caller.
    error CapacityRegistry_SelfAttestation(address account);
    /// @notice The provider address or GPU class was zero, or the evidence hash was zero.
    error CapacityRegistry_ZeroField();
    /// @notice A passing attestation (gpus > 0) must give a non-zero normalized figure.
    error CapacityRegistry_ZeroThroughput();
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
    /// @notice No verifier is eligible for the panel, so the dispute could not be decided.
    /// @param id The attestation.
    error CapacityRegistry_NoPanel(uint256 id);
    /// @notice The caller is not on the panel, or voted already.
    /// @param id The attestation.
    /// @param caller The caller.
    error CapacityRegistry_NotOnPanel(uint256 id, address caller);
    /// @notice The vote window is over.
    /// @param id The attestation.
    /// @param voteEnd End of the vote.
    error CapacityRegistry_VoteOver(uint256 id, uint64 voteEnd);
    /// @notice Too early to finalize: the dispute or vote window is still open.
    /// @param id The attestation.
    /// @param until First second at which it can be finalized.
    error CapacityRegistry_TooEarly(uint256 id, uint64 until);

    /// @notice Sets the token, the staking registry and the dispute parameters.
    /// @dev Requirements: non-zero token, registry and bond; 1 <= panelSize_ <= MAX_PANEL.
    /// @param token_ The bond token.
    /// @param registry_ The staking registry (who is a verifier).
    /// @param bond_ Bond of an attestation and of a dispute.
    /// @param disputeWindow_ Seconds to dispute.
    /// @param voteWindow_ Seconds for the panel to vote.
    /// @param panelSize_ Panel members per dispute.
    constructor(
        IERC20 token_,
        IStakingRegistry registry_,
        uint256 bond_,
        uint64 disputeWindow_,
        uint64 voteWindow_,
        uint8 panelSize_
    ) {
        if (address(token_) == address(0)) revert CapacityRegistry_BadParameter(0);
        if (address(registry_) == address(0)) revert CapacityRegistry_BadParameter(1);
        if (bond_ == 0) revert CapacityRegistry_BadParameter(2);
        if (panelSize_ == 0 || panelSize_ > MAX_PANEL) revert CapacityRegistry_BadParameter(3);
        token = token_;
        registry = registry_;
        bond = bond_;
        disputeWindow = disputeWindow_;
        voteWindow = voteWindow_;
        panelSize = panelSize_;
    }

    /// @notice Posts a capacity-challenge result for `provider` and locks `bond`.
    /// @dev Emits {CapacityAttested}; {CapacityChanged} when nothing in the figure rises, so it applies at once.
    /// Requirements: the caller is a drawable verifier and not `provider`; `provider`, `gpuClass` and `evidence`
    /// are non-zero; `ppmPerGpu > 0` when `gpus > 0`; the caller approved `bond`.
    /// @param provider The provider challenged.
    /// @param gpuClass GPU class id.
    /// @param gpus GPUs verified; 0 records a failed challenge.
    /// @param gflopsPerGpu Measured GFLOP/s per GPU in the challenge dtype.
    /// @param ppmPerGpu H100e-hours per GPU-hour in millionths (`tokenomics.normalized`).
    /// @param evidence Hash of the challenge transcript.
    /// @return id The attestation id, counting from 1.
    function attest(
        address provider,
        bytes32 gpuClass,
        uint32 gpus,
        uint64 gflopsPerGpu,
        uint32 ppmPerGpu,
        bytes32 evidence
    ) external nonReentrant returns (uint256 id) {
        if (!registry.isVerifier(msg.sender)) {
            revert CapacityRegistry_NotVerifier(msg.sender);
        }
        if (msg.sender == provider) revert CapacityRegistry_SelfAttestation(provider);
        if (provider == address(0) || gpuClass == bytes32(0) || evidence == bytes32(0)) {
            revert CapacityRegistry_ZeroField();
        }
        if (gpus > 0 && ppmPerGpu == 0) revert CapacityRegistry_ZeroThroughput();
        if (gpus == 0) ppmPerGpu = 0;

        id = ++_count;
        uint64 disputeEnd = uint64(block.timestamp) + disputeWindow;
        Attestation storage a = _attestations[id];
        a.verifier = msg.sender;
        a.disputeEnd = disputeEnd;
        a.gpus = gpus;
        a.provider = provider;
        a.ppmPerGpu = ppmPerGpu;
        a.status = Status.Pending;
        a.gflopsPerGpu = gflopsPerGpu;
        a.gpuClass = gpuClass;
        a.evidence = evidence;
        _totalOwed += bond;

        emit CapacityAttested(
            id, provider, gpuClass, msg.sender, gpus, gflopsPerGpu, ppmPerGpu, evidence, disputeEnd
        );

        Capacity storage c = _capacity[provider][gpuClass];
        if (gpus <= c.gpus && ppmPerGpu <= c.ppmPerGpu) _apply(id, a);

        token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice Disputes a pending attestation, locks `bond` and draws the panel that decides.
    /// @dev Emits {CapacityDisputed}.
    /// Requirements: the attestation is pending and its dispute window open; the caller is not its attester; at
    /// least one verifier other than the attester, the caller and the provider is drawable; the caller approved
    /// `bond`.
    /// @param id The attestation.
    function dispute(uint256 id) external nonReentrant {
        Attestation storage a = _existing(id);
        if (a.status != Status.Pending) revert CapacityRegistry_WrongStatus(id, a.status);
        if (block.timestamp >= a.disputeEnd) revert CapacityRegistry_DisputeWindowOver(id, a.disputeEnd);
        if (msg.sender == a.verifier) revert CapacityRegistry_SelfDispute(id);

        address[] storage members = _members[id];
        _drawPanel(id, a, members);
        if (members.length == 0) revert CapacityRegistry_NoPanel(id);
        uint64 voteEnd = uint64(block.timestamp) + voteWindow;
        a.disputer = msg.sender;
        a.status = Status.Disputed;
        a.voteEnd = voteEnd;
        // At most MAX_PANEL (15) members: fits in uint8.
        a.panelSize = uint8(members.length);
        _totalOwed += bond;

        emit CapacityDisputed(id, msg.sender, members, voteEnd);

        token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice A panel member's vote on a disputed attestation.
    /// @dev Emits {PanelVoted}.
    /// Requirements: the attestation is disputed, its vote open, the caller drawn for it and not yet voted.
    /// @param id The attestation.
    /// @param uphold True if the attested figure is right.
    function vote(uint256 id, bool uphold) external {
        Attestation storage a = _existing(id);
        if (a.status != Status.Disputed) revert CapacityRegistry_WrongStatus(id, a.status);
        if (block.timestamp >= a.voteEnd) revert CapacityRegistry_VoteOver(id, a.voteEnd);
        if (_panel[id][msg.sender] != 1) revert CapacityRegistry_NotOnPanel(id, msg.sender);
        _panel[id][msg.sender] = 2;
        _votedFor[id][msg.sender] = uphold;
        if (uphold) ++a.upholdVotes;
        else ++a.overturnVotes;
        emit PanelVoted(id, msg.sender, uphold);
    }

    /// @notice Ends an attestation: pays the bonds and puts its figure in force or rolls it back (see the
    /// contract's notes). Anyone may call it, so no bond is ever stuck.
    /// @dev Emits {AttestationFinalized}; {CapacityChanged} when the figure in force changes.
    /// Requirements: pending with its dispute window over, or disputed with its vote over (or every member voted).
    /// @param id The attestation.
    /// @return status The final status.
    function finalize(uint256 id) external nonReentrant returns (Status status) {
        Attestation storage a = _existing(id);
        if (a.status == Status.Pending) {
            if (block.timestamp < a.disputeEnd) revert CapacityRegistry_TooEarly(id, a.disputeEnd);
            status = Status.Final;
        } else if (a.status == Status.Disputed) {
            uint256 voted = uint256(a.upholdVotes) + a.overturnVotes;
            if (block.timestamp < a.voteEnd && voted < a.panelSize) {
                revert CapacityRegistry_TooEarly(id, a.voteEnd);
            }
            if (a.upholdVotes > a.overturnVotes) status = Status.Upheld;
            else if (a.overturnVotes > a.upholdVotes) status = Status.Overturned;
            else status = Status.Void;
        } else {
            revert CapacityRegistry_WrongStatus(id, a.status);
        }
        a.status = status;
        uint256 owed = status == Status.Final ? bond : 2 * bond;
        _totalOwed -= owed;

        if ((status == Status.Final || status == Status.Upheld) && !a.applied) {
            if (id > _capacity[a.provider][a.gpuClass].attestationId) _apply(id, a);
        } else if (status == Status.Overturned && a.applied) {
            _rollback(id, a);
        }
        emit AttestationFinalized(id, status);

        if (status == Status.Final) {
            token.safeTransfer(a.verifier, bond);
        } else if (status == Status.Void) {
            token.safeTransfer(a.verifier, bond);
            token.safeTransfer(a.disputer, bond);
        } else {
            _payDispute(id, a, status == Status.Upheld);
        }
    }

    // ---------------------------------------------------------------------------------------------- views

    /// @inheritdoc ICapacityRegistry
    function capacityOf(address provider, bytes32 gpuClass)
        external
        view
        returns (uint32 gpus, uint32 ppmPerGpu)
    {
        Capacity storage c = _capacity[provider][gpuClass];
        return (c.gpus, c.ppmPerGpu);
    }

    /// @notice The capacity in force with the attestation that set it.
    /// @param provider The provider.
    /// @param gpuClass GPU class id.
    /// @return The record (all zero if never verified).
    function capacity(address provider, bytes32 gpuClass) external view returns (Capacity memory) {
        return _capacity[provider][gpuClass];
    }

    /// @notice One attestation.
    /// @param id The attestation.
    /// @return The record (all zero for an unknown id).
    function attestation(uint256 id) external view returns (Attestation memory) {
        return _attestations[id];
    }

    /// @notice The panel drawn for a disputed attestation.
    /// @param id The attestation.
    /// @return The members, in draw order.
    function panel(uint256 id) external view returns (address[] memory) {
        return _members[id];
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

    function _apply(uint256 id, Attestation storage a) private {
        Capacity storage c = _capacity[a.provider][a.gpuClass];
        a.applied = true;
        a.prevGpus = c.gpus;
        a.prevPpm = c.ppmPerGpu;
        a.prevId = c.attestationId;
        c.gpus = a.gpus;
        c.ppmPerGpu = a.ppmPerGpu;
        // Ids count up from 1 by one per attestation: 2^64 of them is out of reach.
        c.attestationId = uint64(id);
        emit CapacityChanged(a.provider, a.gpuClass, a.gpus, a.ppmPerGpu, id);
    }

    /// @dev Restores the figure in force before `id` applied, unless a newer attestation applied since.
    function _rollback(uint256 id, Attestation storage a) private {
        Capacity storage c = _capacity[a.provider][a.gpuClass];
        if (c.attestationId != id) return;
        c.gpus = a.prevGpus;
        c.ppmPerGpu = a.prevPpm;
        c.attestationId = a.prevId;
        emit CapacityChanged(a.provider, a.gpuClass, a.prevGpus, a.prevPpm, a.prevId);
    }

    function _drawPanel(uint256 id, Attestation storage a, address[] storage members) private {
        uint256 count = registry.verifierCount();
        uint256 want = panelSize;
        uint256 tries = want * 4 + 8;
        bytes32 seed = keccak256(abi.encode(block.prevrandao, id, msg.sender));
        for (uint256 j = 0; j < tries && members.length < want && count > 0; ++j) {
            address m = registry.verifierAt(uint256(keccak256(abi.encode(seed, j))) % count);
            if (m == a.verifier || m == msg.sender || m == a.provider || _panel[id][m] != 0) continue;
            _panel[id][m] = 1;
            members.push(m);
        }
    }

    /// @dev Winner: its bond back plus half the loser's; the other half shared by the majority's voters.
    function _payDispute(uint256 id, Attestation storage a, bool upheld) private {
        address winner = upheld ? a.verifier : a.disputer;
        uint256 voters = upheld ? a.upholdVotes : a.overturnVotes;
        uint256 pool = bond / 2;
        uint256 each = pool / voters;
        uint256 toWinner = bond + (bond - pool) + (pool - each * voters);
        address[] storage members = _members[id];
        for (uint256 i = 0; i < members.length; ++i) {
            address m = members[i];
            if (_panel[id][m] != 2 || each == 0) continue;
            if (_votedFor[id][m] == upheld) token.safeTransfer(m, each);
        }
        token.safeTransfer(winner, toWinner);
    }
}

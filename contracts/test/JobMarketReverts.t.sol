// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MarketBase} from "./MarketBase.t.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice Every bad input and wrong caller / state / time gets its named custom error.
contract JobMarketRevertsTest is MarketBase {
    address internal stranger;

    function setUp() public override {
        super.setUp();
        stranger = makeAddr("stranger");
    }

    function _wrong(uint256 jobId, IJobMarket.Status actual, IJobMarket.Status expected)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(IJobMarket.JobMarket_WrongStatus.selector, jobId, actual, expected);
    }

    function _badParams(IJobMarket.Params memory p, string memory field) internal {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_InvalidParams.selector, field));
        new JobMarket(IERC20(address(token)), IStakingRegistry(address(registry)), p);
    }

    function test_RevertWhen_ParamsOutOfRange() public {
        IJobMarket.Params memory p = _defaultParams();
        p.auditProbabilityBps = 10_001;
        _badParams(p, "auditProbabilityBps");
        p = _defaultParams();
        p.protocolFeeBps = 10_001;
        _badParams(p, "protocolFeeBps");
        p = _defaultParams();
        p.accuserRewardBps = 10_001;
        _badParams(p, "accuserRewardBps");
        p = _defaultParams();
        p.poolShareBps = 10_001;
        _badParams(p, "poolShareBps");
        p = _defaultParams();
        p.samplesK = 0;
        _badParams(p, "samplesK");
        p = _defaultParams();
        p.samplesK = 257;
        _badParams(p, "samplesK");
        p = _defaultParams();
        p.panelSize = 0;
        _badParams(p, "panelSize");
        p = _defaultParams();
        p.panelSize = 32;
        _badParams(p, "panelSize");
        p = _defaultParams();
        p.voteWindow = 0;
        _badParams(p, "window");
        p = _defaultParams();
        p.revealWindow = 0;
        _badParams(p, "window");
        p = _defaultParams();
        p.attestWindow = 0;
        _badParams(p, "window");
        p = _defaultParams();
        p.minFee = 0;
        _badParams(p, "minFee");
    }

    function test_RevertWhen_ConstructorZeroAddress() public {
        vm.expectRevert(IJobMarket.JobMarket_ZeroAddress.selector);
        new JobMarket(IERC20(address(0)), IStakingRegistry(address(registry)), _defaultParams());
        vm.expectRevert(IJobMarket.JobMarket_ZeroAddress.selector);
        new JobMarket(IERC20(address(token)), IStakingRegistry(address(0)), _defaultParams());
    }

    function test_RevertWhen_SetClaimsTwiceOrByStranger() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_ClaimsAlreadySet.selector, claims));
        market.setClaims(stranger);
        JobMarket fresh =
            new JobMarket(IERC20(address(token)), IStakingRegistry(address(registry)), _defaultParams());
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotDeployer.selector, stranger));
        fresh.setClaims(stranger);
        vm.expectRevert(IJobMarket.JobMarket_ZeroAddress.selector);
        fresh.setClaims(address(0));
    }

    function test_RevertWhen_PostZeroSpecOrPrice() public {
        IJobMarket.JobTerms memory t = _terms();
        t.specHash = bytes32(0);
        vm.prank(consumer);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.postJob(t);
        t = _terms();
        t.price = 0;
        vm.prank(consumer);
        vm.expectRevert(IJobMarket.JobMarket_ZeroAmount.selector);
        market.postJob(t);
    }

    function test_RevertWhen_PostZeroSecretHash() public {
        IJobMarket.JobTerms memory t = _terms();
        t.secretHash = bytes32(0);
        vm.prank(consumer);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.postJob(t);
    }

    function test_RevertWhen_PostBelowMinFeeOrMinCollateral() public {
        IJobMarket.JobTerms memory t = _terms();
        t.price = 1; // fee rounds to 0
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_FeeTooLow.selector, 0, MIN_FEE));
        market.postJob(t);
        t.price = 20 ether - 1; // fee 5% = 1 ether - 1 wei
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_FeeTooLow.selector, 1 ether - 1, MIN_FEE));
        market.postJob(t);
        t.price = 20 ether; // fee exactly minFee: accepted
        t.collateral = MIN_COLLATERAL - 1;
        vm.prank(consumer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket_CollateralTooLow.selector, MIN_COLLATERAL - 1, MIN_COLLATERAL
            )
        );
        market.postJob(t);
        t.collateral = MIN_COLLATERAL;
        vm.prank(consumer);
        uint256 jobId = market.postJob(t);
        assertEq(market.jobOf(jobId).price, 20 ether, "the minimum job is accepted");
    }

    function test_RevertWhen_PriceOrCollateralAbove128Bits() public {
        IJobMarket.JobTerms memory t = _terms();
        t.price = uint256(type(uint128).max) + 1;
        vm.prank(consumer);
        vm.expectRevert(
            abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 128, t.price)
        );
        market.postJob(t);
        t = _terms();
        t.collateral = uint256(type(uint128).max) + 1;
        vm.prank(consumer);
        vm.expectRevert(
            abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 128, t.collateral)
        );
        market.postJob(t);
        assertEq(market.jobCount(), 0, "no job recorded");
    }

    function test_RevertWhen_PrepaidBelowMinFeeOrMinCollateral() public {
        IJobMarket.JobTerms memory t = _prepaidTerms(30 ether);
        t.price = MIN_FEE - 1;
        vm.prank(claims);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_FeeTooLow.selector, MIN_FEE - 1, MIN_FEE));
        market.openPrepaidJob(consumer, provider, t);
        t = _prepaidTerms(MIN_COLLATERAL - 1);
        vm.prank(claims);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket_CollateralTooLow.selector, MIN_COLLATERAL - 1, MIN_COLLATERAL
            )
        );
        market.openPrepaidJob(consumer, provider, t);
        t = _prepaidTerms(30 ether);
        t.commitBy = uint64(block.timestamp);
        vm.prank(claims);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket_InvalidDeadlines.selector,
                uint64(block.timestamp),
                uint64(block.timestamp)
            )
        );
        market.openPrepaidJob(consumer, provider, t);
    }

    function test_RevertWhen_PostBadDeadlines() public {
        vm.warp(1000);
        IJobMarket.JobTerms memory t = _terms();
        t.acceptBy = 999;
        vm.prank(consumer);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_InvalidDeadlines.selector, 999, t.commitBy)
        );
        market.postJob(t);
        t = _terms();
        t.commitBy = t.acceptBy;
        vm.prank(consumer);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_InvalidDeadlines.selector, t.acceptBy, t.commitBy)
        );
        market.postJob(t);
    }

    function test_RevertWhen_PostBadUnitBounds() public {
        IJobMarket.JobTerms memory t = _terms();
        t.minUnits = 10;
        t.maxUnits = 9;
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_InvalidUnitBounds.selector, 10, 9));
        market.postJob(t);
    }

    function test_RevertWhen_PostWithoutFunds() public {
        vm.prank(stranger);
        vm.expectRevert();
        market.postJob(_terms());
        assertEq(market.jobCount(), 0, "no job recorded");
    }

    function test_RevertWhen_PermitInvalidAndNoAllowance() public {
        vm.prank(stranger);
        vm.expectRevert();
        market.postJobWithPermit(_terms(), block.timestamp, 27, bytes32(0), bytes32(0));
        assertEq(market.jobCount(), 0, "no job recorded");
    }

    function test_RevertWhen_UnknownJob() public {
        vm.expectRevert(_wrong(42, IJobMarket.Status.None, IJobMarket.Status.Open));
        market.acceptJob(42);
        vm.expectRevert(_wrong(42, IJobMarket.Status.None, IJobMarket.Status.Committed));
        market.revealProviderSecret(42, bytes32(uint256(1)));
        vm.expectRevert(_wrong(42, IJobMarket.Status.None, IJobMarket.Status.Committed));
        market.revealConsumerSecret(42, bytes32(uint256(1)));
        vm.expectRevert(_wrong(42, IJobMarket.Status.None, IJobMarket.Status.Committed));
        market.claimRevealTimeout(42);
    }

    function test_RevertWhen_CancelByStrangerOrAfterAccept() public {
        uint256 jobId = _post();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotConsumer.selector, jobId, stranger));
        market.cancelJob(jobId);
        vm.prank(provider);
        market.acceptJob(jobId);
        vm.prank(consumer);
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Accepted, IJobMarket.Status.Open));
        market.cancelJob(jobId);
    }

    function test_RevertWhen_AcceptAfterDeadline() public {
        uint256 jobId = _post();
        uint64 acceptBy = market.jobOf(jobId).acceptBy;
        vm.warp(acceptBy + 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, acceptBy));
        market.acceptJob(jobId);
    }

    function test_RevertWhen_AcceptByUnstakedOrSelf() public {
        uint256 jobId = _post();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotStakedProvider.selector, stranger));
        market.acceptJob(jobId);
        vm.prank(consumer);
        registry.stakeAndRegister(MIN_PROVIDER, 1, hex"0033", keccak256("a"));
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_SelfDealing.selector, consumer));
        market.acceptJob(jobId);
    }

    function test_RevertWhen_AcceptTwice() public {
        uint256 jobId = _accepted();
        vm.prank(provider);
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Accepted, IJobMarket.Status.Open));
        market.acceptJob(jobId);
    }

    function test_RevertWhen_PrepaidByStranger() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotClaims.selector, stranger));
        market.openPrepaidJob(consumer, provider, _prepaidTerms(1 ether));
    }

    function test_RevertWhen_PrepaidBeforeClaimsSet() public {
        JobMarket fresh =
            new JobMarket(IERC20(address(token)), IStakingRegistry(address(registry)), _defaultParams());
        vm.prank(address(0));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotClaims.selector, address(0)));
        fresh.openPrepaidJob(consumer, provider, _prepaidTerms(1 ether));
    }

    function test_RevertWhen_PrepaidBadArguments() public {
        vm.startPrank(claims);
        IJobMarket.JobTerms memory t = _prepaidTerms(1 ether);
        vm.expectRevert(IJobMarket.JobMarket_ZeroAddress.selector);
        market.openPrepaidJob(address(0), provider, t);
        vm.expectRevert(IJobMarket.JobMarket_ZeroAddress.selector);
        market.openPrepaidJob(consumer, address(0), t);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_SelfDealing.selector, provider));
        market.openPrepaidJob(provider, provider, t);
        t.specHash = bytes32(0);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.openPrepaidJob(consumer, provider, t);
        t = _prepaidTerms(1 ether);
        t.secretHash = bytes32(0);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.openPrepaidJob(consumer, provider, t);
        vm.stopPrank();
    }

    function test_RevertWhen_CommitByStrangerOrLate() public {
        uint256 jobId = _accepted();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotProvider.selector, jobId, stranger));
        market.commitResult(jobId, ROOT, 8, _hash(providerSecretOf(jobId)));
        uint64 commitBy = market.jobOf(jobId).commitBy;
        vm.warp(commitBy + 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, commitBy));
        market.commitResult(jobId, ROOT, 8, _hash(providerSecretOf(jobId)));
    }

    function test_RevertWhen_CommitBadRootOrUnits() public {
        uint256 jobId = _accepted();
        vm.startPrank(provider);
        bytes32 h = _hash(providerSecretOf(jobId));
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.commitResult(jobId, bytes32(0), 8, h);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.commitResult(jobId, ROOT, 8, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_InvalidUnits.selector, jobId, 0, 1, 64));
        market.commitResult(jobId, ROOT, 0, h);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_InvalidUnits.selector, jobId, 65, 1, 64));
        market.commitResult(jobId, ROOT, 65, h);
        vm.stopPrank();
    }

    function test_RevertWhen_CommitBelowMinUnits() public {
        IJobMarket.JobTerms memory t = _terms();
        t.minUnits = 4;
        vm.prank(consumer);
        uint256 jobId = market.postJob(t);
        vm.startPrank(provider);
        market.acceptJob(jobId);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_InvalidUnits.selector, jobId, 3, 4, 64));
        market.commitResult(jobId, ROOT, 3, _hash(providerSecretOf(jobId)));
        vm.stopPrank();
    }

    function test_RevertWhen_CommitTimeoutTooEarly() public {
        uint256 jobId = _accepted();
        uint64 commitBy = market.jobOf(jobId).commitBy;
        vm.warp(commitBy);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_DeadlineNotReached.selector, jobId, commitBy)
        );
        market.claimCommitTimeout(jobId);
    }

    function test_RevertWhen_ConsumerRevealWrongTwiceOrLate() public {
        uint256 jobId = _committed();
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_WrongPreimage.selector, jobId, stranger));
        vm.prank(stranger);
        market.revealConsumerSecret(jobId, keccak256("guess"));
        uint64 deadline = market.jobOf(jobId).deadline;
        uint256 snap = vm.snapshotState();
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, deadline));
        market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
        vm.revertToState(snap);
        vm.prank(stranger); // anyone may relay the preimage
        market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Committed, IJobMarket.Status.Committed));
        market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
    }

    function test_RevertWhen_ConsumerRevealBeforeCommit() public {
        uint256 jobId = _accepted();
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Accepted, IJobMarket.Status.Committed));
        market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
    }

    function test_RevertWhen_ProviderRevealEarlyWrongOrLate() public {
        uint256 jobId = _committed();
        uint64 consumerBy = market.jobOf(jobId).deadline;
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_TooEarly.selector, jobId, consumerBy + 1));
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
        _revealConsumer(jobId);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_WrongPreimage.selector, jobId, provider));
        market.revealProviderSecret(jobId, keccak256("other"));
        (, uint64 until) = market.providerRevealSpan(jobId);
        vm.warp(until + 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, until));
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
    }

    function test_RevertWhen_RevealTimeoutTooEarlyOrAfterReveal() public {
        uint256 jobId = _committed();
        (, uint64 until) = market.providerRevealSpan(jobId);
        vm.warp(until);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_DeadlineNotReached.selector, jobId, until)
        );
        market.claimRevealTimeout(jobId);
        vm.prank(stranger); // anyone may relay the provider's preimage too, up to the last second
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
        vm.warp(until + 1);
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Auditing, IJobMarket.Status.Committed));
        market.claimRevealTimeout(jobId);
    }

    function test_RevertWhen_RevealTwice() public {
        (uint256 jobId,) = _auditing();
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Auditing, IJobMarket.Status.Committed));
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
    }

    function test_RevertWhen_AttestByStrangerLateOrWithoutEvidence() public {
        (uint256 jobId, address verifier) = _auditing();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotVerifier.selector, jobId, stranger));
        market.attest(jobId, true, bytes32(0));
        vm.prank(verifier);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.attest(jobId, false, bytes32(0));
        uint64 deadline = market.jobOf(jobId).deadline;
        vm.warp(deadline + 1);
        vm.prank(verifier);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, deadline));
        market.attest(jobId, true, bytes32(0));
    }

    function test_RevertWhen_AttestTimeoutTooEarly() public {
        (uint256 jobId,) = _auditing();
        uint64 deadline = market.jobOf(jobId).deadline;
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_DeadlineNotReached.selector, jobId, deadline)
        );
        market.claimAttestTimeout(jobId);
    }

    function test_RevertWhen_FinalizeFailTooEarly() public {
        (uint256 jobId,) = _failed();
        uint64 deadline = market.jobOf(jobId).deadline;
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_DeadlineNotReached.selector, jobId, deadline)
        );
        market.finalizeFail(jobId);
    }

    function test_RevertWhen_ContestByStrangerOrLate() public {
        (uint256 jobId,) = _failed();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotProvider.selector, jobId, stranger));
        market.contest(jobId);
        uint64 deadline = market.jobOf(jobId).deadline;
        vm.warp(deadline + 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, deadline));
        market.contest(jobId);
    }

    function test_RevertWhen_ContestAPass() public {
        (uint256 jobId, address verifier) = _auditing();
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        vm.prank(provider);
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Completed, IJobMarket.Status.Failed));
        market.contest(jobId);
    }

    function test_RevertWhen_CommitVoteByStrangerTwiceZeroOrLate() public {
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        vm.prank(accuser);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotPanelMember.selector, jobId, accuser));
        market.commitVote(jobId, keccak256("b"));
        vm.prank(panel[0]);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.commitVote(jobId, bytes32(0));
        _commitVote(jobId, panel[0], true);
        vm.prank(panel[0]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_AlreadyVoted.selector, jobId, panel[0]));
        market.commitVote(jobId, keccak256("again"));
        uint64 deadline = market.jobOf(jobId).deadline;
        vm.warp(deadline + 1);
        address late = panel[panel.length - 1] == panel[0] ? panel[1] : panel[panel.length - 1];
        vm.prank(late);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, deadline));
        market.commitVote(jobId, keccak256("late"));
    }

    function test_RevertWhen_RevealVoteEarlyWrongUncommittedTwiceOrLate() public {
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        address m = panel[0];
        _commitVote(jobId, m, true);
        uint64 voteBy = market.jobOf(jobId).deadline;
        vm.prank(m);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_TooEarly.selector, jobId, voteBy + 1));
        market.revealVote(jobId, true, _saltOf(jobId, m));
        vm.warp(voteBy + 1);
        vm.prank(m);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_WrongPreimage.selector, jobId, m));
        market.revealVote(jobId, false, _saltOf(jobId, m)); // the other ballot than committed
        vm.prank(m);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_WrongPreimage.selector, jobId, m));
        market.revealVote(jobId, true, keccak256("wrong salt"));
        vm.prank(accuser);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotPanelMember.selector, jobId, accuser));
        market.revealVote(jobId, true, bytes32(0));
        address[] memory members = _members(panel);
        if (members.length > 1) {
            vm.prank(members[1]); // on the panel but never committed
            vm.expectRevert(
                abi.encodeWithSelector(IJobMarket.JobMarket_AlreadyVoted.selector, jobId, members[1])
            );
            market.revealVote(jobId, true, _saltOf(jobId, members[1]));
        }
        _revealVote(jobId, m, true);
        vm.prank(m);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_AlreadyVoted.selector, jobId, m));
        market.revealVote(jobId, true, _saltOf(jobId, m));
        uint64 revealBy = voteBy + REVEAL_WINDOW;
        vm.warp(revealBy + 1);
        vm.prank(m);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, revealBy));
        market.revealVote(jobId, true, _saltOf(jobId, m));
    }

    function test_RevertWhen_ResolveBeforeRevealsOrDeadline() public {
        (uint256 jobId,, address[] memory panel) = _voting();
        _commitVote(jobId, panel[0], true);
        uint64 revealBy = market.jobOf(jobId).deadline + REVEAL_WINDOW;
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_DeadlineNotReached.selector, jobId, revealBy)
        );
        market.resolveContest(jobId);
        _toRevealPhase(jobId);
        _revealVote(jobId, panel[0], true);
        vm.warp(revealBy);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_DeadlineNotReached.selector, jobId, revealBy)
        );
        market.resolveContest(jobId);
    }

    function test_RevertWhen_SampledIndicesBeforeDraw() public {
        uint256 jobId = _committed();
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NoSeed.selector, jobId));
        market.sampledIndices(jobId);
    }

    function test_RevertWhen_VerifyUnitOutOfRangeOrUncommitted() public {
        uint256 jobId = _accepted();
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Accepted, IJobMarket.Status.Committed));
        market.verifyUnit(jobId, 0, bytes32(0), bytes32(0), new bytes32[](0));
        vm.prank(provider);
        market.commitResult(jobId, ROOT, 8, _hash(providerSecretOf(jobId)));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_IndexOutOfRange.selector, jobId, 8, 8));
        market.verifyUnit(jobId, 8, bytes32(0), bytes32(0), new bytes32[](0));
    }

    function testFuzz_RevertWhen_VerifyUnitIndexTooLarge(uint256 index) public {
        uint256 jobId = _committed();
        index = bound(index, 8, type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_IndexOutOfRange.selector, jobId, index, 8)
        );
        market.verifyUnit(jobId, index, bytes32(0), bytes32(0), new bytes32[](0));
    }
}

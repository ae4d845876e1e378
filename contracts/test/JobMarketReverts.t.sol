// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MarketBase} from "./MarketBase.t.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

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
        p.drawWindowBlocks = 0;
        _badParams(p, "drawWindowBlocks");
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
        market.drawAudit(42);
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
        market.openPrepaidJob(consumer, provider, SPEC, 1 ether);
    }

    function test_RevertWhen_PrepaidBeforeClaimsSet() public {
        JobMarket fresh =
            new JobMarket(IERC20(address(token)), IStakingRegistry(address(registry)), _defaultParams());
        vm.prank(address(0));
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotClaims.selector, address(0)));
        fresh.openPrepaidJob(consumer, provider, SPEC, 1 ether);
    }

    function test_RevertWhen_PrepaidBadArguments() public {
        vm.startPrank(claims);
        vm.expectRevert(IJobMarket.JobMarket_ZeroAddress.selector);
        market.openPrepaidJob(address(0), provider, SPEC, 1 ether);
        vm.expectRevert(IJobMarket.JobMarket_ZeroAddress.selector);
        market.openPrepaidJob(consumer, address(0), SPEC, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_SelfDealing.selector, provider));
        market.openPrepaidJob(provider, provider, SPEC, 1 ether);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.openPrepaidJob(consumer, provider, bytes32(0), 1 ether);
        vm.stopPrank();
    }

    function test_RevertWhen_CommitByStrangerOrLate() public {
        uint256 jobId = _accepted();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotProvider.selector, jobId, stranger));
        market.commitResult(jobId, ROOT, 8);
        uint64 commitBy = market.jobOf(jobId).commitBy;
        vm.warp(commitBy + 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, commitBy));
        market.commitResult(jobId, ROOT, 8);
    }

    function test_RevertWhen_CommitBadRootOrUnits() public {
        uint256 jobId = _accepted();
        vm.startPrank(provider);
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        market.commitResult(jobId, bytes32(0), 8);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_InvalidUnits.selector, jobId, 0, 1, 64));
        market.commitResult(jobId, ROOT, 0);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_InvalidUnits.selector, jobId, 65, 1, 64));
        market.commitResult(jobId, ROOT, 65);
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
        market.commitResult(jobId, ROOT, 3);
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

    function test_RevertWhen_DrawInCommitBlock() public {
        uint256 jobId = _committed();
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_TooEarly.selector, jobId, uint64(block.number))
        );
        market.drawAudit(jobId);
    }

    function test_RevertWhen_DrawTwice() public {
        (uint256 jobId,) = _auditing();
        vm.roll(block.number + 1);
        vm.expectRevert(_wrong(jobId, IJobMarket.Status.Auditing, IJobMarket.Status.Committed));
        market.drawAudit(jobId);
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

    function test_RevertWhen_DrawPanelInContestBlock() public {
        (uint256 jobId,) = _failed();
        vm.prank(provider);
        market.contest(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_TooEarly.selector, jobId, uint64(block.number))
        );
        market.drawPanel(jobId);
    }

    function test_RevertWhen_VoteByStrangerTwiceOrLate() public {
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        vm.prank(accuser);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotPanelMember.selector, jobId, accuser));
        market.vote(jobId, false);
        vm.prank(panel[0]);
        market.vote(jobId, true);
        vm.prank(panel[0]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_AlreadyVoted.selector, jobId, panel[0]));
        market.vote(jobId, false);
        uint64 deadline = market.jobOf(jobId).deadline;
        vm.warp(deadline + 1);
        vm.prank(panel[1]);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, deadline));
        market.vote(jobId, true);
    }

    function test_RevertWhen_ResolveBeforeVotesOrDeadline() public {
        (uint256 jobId,, address[] memory panel) = _voting();
        vm.prank(panel[0]);
        market.vote(jobId, true);
        uint64 deadline = market.jobOf(jobId).deadline;
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_DeadlineNotReached.selector, jobId, deadline)
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
        market.commitResult(jobId, ROOT, 8);
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

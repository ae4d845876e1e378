// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MarketBase} from "./MarketBase.t.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {Commitment} from "../src/libraries/Commitment.sol";

/// @notice The two hardening rules: (1) a `drawAudit` later than `drawWindowBlocks` after the commit is audited
/// with certainty, so a provider cannot hold its draw back for a friendly `prevrandao`; (2) a verifier drawn for
/// an audit or a panel has an open duty in the registry until the job ends, and cannot withdraw before, so it
/// cannot unbond its way out of a slash.
contract JobMarketHardeningTest is MarketBase {
    uint16 internal constant HALF = 5000;

    /// @dev An unbond delay far shorter than attest + contest + vote windows: the setting in which a drawn
    /// verifier could leave before its slash if nothing but the delay held it.
    function setUp() public override {
        unbondDelay = 10 minutes;
        super.setUp();
    }

    function _deployWith(uint16 pBps, uint32 window) internal {
        IJobMarket.Params memory p = _defaultParams();
        p.auditProbabilityBps = pBps;
        p.drawWindowBlocks = window;
        _deploy(p);
    }

    /// @dev Draws `blocksAfterCommit` blocks after the job's commit block, with a given prevrandao.
    function _drawAt(uint256 jobId, uint256 blocksAfterCommit, bytes32 randao) internal {
        vm.roll(market.jobOf(jobId).pendingBlock + blocksAfterCommit);
        vm.prevrandao(randao);
        market.drawAudit(jobId);
    }

    function _seed(bytes32 randao, uint256 jobId) internal pure returns (bytes32) {
        return keccak256(abi.encode(randao, jobId));
    }

    function _expectedVerifier(bytes32 seed) internal view returns (address) {
        uint256 n = registry.verifierCount();
        return registry.verifierAt(uint256(keccak256(abi.encode(seed, "verifier"))) % n);
    }

    /// @dev The first randao (by counter) whose seed for `jobId` says audited (`wantAudited`) at p = HALF.
    function _randaoWhere(uint256 jobId, bool wantAudited) internal pure returns (bytes32 randao) {
        for (uint256 i = 0;; ++i) {
            randao = keccak256(abi.encode("randao", i));
            if ((uint256(_seed(randao, jobId)) % 10_000 < HALF) == wantAudited) return randao;
        }
    }

    function _withdrawRevertsWithDuties(address who, uint256 duties) internal {
        vm.prank(who);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_OpenDuties.selector, duties));
        registry.withdraw();
    }

    // ------------------------------------------------------------------ (1) audit dodging

    function testFuzz_LateDrawIsAlwaysAudited(bytes32 randao, uint16 pBps, uint32 window, uint256 lateBy)
        public
    {
        uint16 p = uint16(bound(pBps, 0, 9999));
        uint32 w = uint32(bound(window, 1, 64));
        _deployWith(p, w);
        uint256 jobId = _committed();
        uint256 after_ = w + bound(lateBy, 1, 10_000);
        _drawAt(jobId, after_, randao);
        bytes32 seed = _seed(randao, jobId);
        IJobMarket.Job memory job = market.jobOf(jobId);
        assertEq(
            uint8(job.status), uint8(IJobMarket.Status.Auditing), "a late draw is audited whatever the seed"
        );
        assertEq(job.seed, seed, "the seed is still keccak(prevrandao, jobId)");
        assertEq(job.verifier, _expectedVerifier(seed), "the verifier is still drawn from the seed");
        assertEq(registry.dutiesOf(job.verifier), 1, "the drawn verifier is on duty");
        _assertSolvent("after a late draw");
    }

    function testFuzz_PromptDrawRollsProbability(bytes32 randao, uint16 pBps, uint32 window, uint256 delay)
        public
    {
        uint16 p = uint16(bound(pBps, 0, 10_000));
        uint32 w = uint32(bound(window, 1, 64));
        _deployWith(p, w);
        uint256 jobId = _committed();
        _drawAt(jobId, bound(delay, 1, w), randao);
        bool audited = uint256(_seed(randao, jobId)) % 10_000 < p;
        assertEq(
            market.statusOf(jobId) == IJobMarket.Status.Auditing,
            audited,
            "inside the window: audited iff seed % 10000 < p"
        );
        assertEq(market.jobOf(jobId).seed, _seed(randao, jobId), "seed recorded");
        _assertSolvent("after a prompt draw");
    }

    function test_WindowEdgeRollsAndOneBlockLaterIsCertain() public {
        _deployWith(0, 3);
        uint256 onEdge = _committed();
        _drawAt(onEdge, 3, keccak256("edge"));
        assertEq(
            uint8(market.statusOf(onEdge)),
            uint8(IJobMarket.Status.Completed),
            "p = 0 and drawn exactly drawWindowBlocks after: not audited"
        );
        uint256 late = _committed();
        _drawAt(late, 4, keccak256("edge"));
        assertEq(
            uint8(market.statusOf(late)),
            uint8(IJobMarket.Status.Auditing),
            "p = 0 but one block past the window: audited"
        );
    }

    function test_LateDrawEmitsSeedAndKeepsSamplingRule() public {
        _deployWith(0, 1);
        uint256 jobId = _committed();
        bytes32 randao = keccak256("late randao");
        bytes32 seed = _seed(randao, jobId);
        address expected = _expectedVerifier(seed);
        vm.roll(block.number + 2);
        vm.prevrandao(randao);
        vm.expectEmit(true, true, false, true);
        emit IJobMarket.AuditDrawn(jobId, seed, true, expected);
        market.drawAudit(jobId);
        assertEq(
            market.sampledIndices(jobId),
            Commitment.sampleIndices(seed, jobId, 8, 4),
            "sampled indices follow the v1 rule from the recorded seed"
        );
    }

    function test_LateDrawWithNobodyDrawableCompletesUnaudited() public {
        _deployWith(0, 1);
        for (uint256 i = 0; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            registry.requestUnbond(1 ether);
        }
        uint256 before = token.balanceOf(provider);
        uint256 jobId = _committed();
        _drawAt(jobId, 5, keccak256("r"));
        IJobMarket.Job memory job = market.jobOf(jobId);
        assertEq(uint8(job.status), uint8(IJobMarket.Status.Completed), "no verifier: completes");
        assertEq(job.verifier, address(0), "nobody drawn");
        assertTrue(job.seed != bytes32(0), "seed recorded");
        assertEq(token.balanceOf(provider), before + PRICE - _fee(), "provider paid as unaudited");
        _assertSolvent("after a late draw with nobody drawable");
    }

    /// @dev The attack: the provider sees that the next block's prevrandao means "audited", holds its draw back
    /// one block for a value that means "not audited" and draws then. Under the window rule it is audited anyway.
    function test_HoldingTheDrawBackDoesNotDodgeTheAudit() public {
        _deployWith(HALF, 1);
        uint256 jobId = _committed();
        bytes32 audits = _randaoWhere(jobId, true);
        bytes32 spares = _randaoWhere(jobId, false);
        assertTrue(uint256(_seed(audits, jobId)) % 10_000 < HALF, "next block's value would audit");
        assertTrue(uint256(_seed(spares, jobId)) % 10_000 >= HALF, "the later value would not");
        _drawAt(jobId, 2, spares);
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Auditing), "audited despite waiting");
        uint256 prompt = _committed();
        _drawAt(prompt, 1, _randaoWhere(prompt, false));
        assertEq(
            uint8(market.statusOf(prompt)),
            uint8(IJobMarket.Status.Completed),
            "a prompt lucky draw is not audited"
        );
    }

    // ------------------------------------------------------------------ (2) duties block withdraw

    function test_DrawnVerifierCannotWithdrawUntilItAttests() public {
        (uint256 jobId, address verifier) = _auditing();
        assertEq(registry.dutiesOf(verifier), 1, "duty opened by the draw");
        vm.prank(verifier);
        registry.requestUnbond(MIN_VERIFIER);
        vm.warp(block.timestamp + unbondDelay);
        _withdrawRevertsWithDuties(verifier, 1);
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        assertEq(registry.dutiesOf(verifier), 0, "duty closed by the verdict");
        uint256 before = token.balanceOf(verifier);
        vm.prank(verifier);
        registry.withdraw();
        assertEq(token.balanceOf(verifier), before + MIN_VERIFIER, "whole stake back after the duty");
        _assertSolvent("after withdraw");
    }

    function test_AbsentVerifierCannotUnbondPastItsSlash() public {
        (uint256 jobId, address verifier) = _auditing();
        vm.prank(verifier);
        registry.requestUnbond(MIN_VERIFIER);
        vm.warp(block.timestamp + unbondDelay);
        _withdrawRevertsWithDuties(verifier, 1);
        vm.warp(market.jobOf(jobId).deadline + 1);
        market.claimAttestTimeout(jobId);
        assertEq(registry.dutiesOf(verifier), 0, "duty closed by the timeout");
        uint256 before = token.balanceOf(verifier);
        vm.prank(verifier);
        registry.withdraw();
        assertEq(token.balanceOf(verifier), before + MIN_VERIFIER - 5 ether, "slashed from unbonding first");
        _assertSolvent("after the timeout");
    }

    function test_AccusedVerifierCannotWithdrawBeforeResolution() public {
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        vm.prank(accuser);
        registry.requestUnbond(MIN_VERIFIER);
        for (uint256 i = 0; i < panel.length; ++i) {
            vm.prank(panel[i]);
            market.vote(jobId, true);
        }
        vm.warp(block.timestamp + unbondDelay);
        _withdrawRevertsWithDuties(accuser, 1);
        market.resolveContest(jobId);
        assertEq(registry.dutiesOf(accuser), 0, "accuser's duty closed at resolution");
        uint256 before = token.balanceOf(accuser);
        vm.prank(accuser);
        registry.withdraw();
        assertEq(
            token.balanceOf(accuser),
            before + MIN_VERIFIER - 20 ether,
            "false accuser slashed before it could leave, the rest withdrawn"
        );
        _assertSolvent("after the overturn");
    }

    function test_UncontestedAccuserWithdrawsAfterFinalize() public {
        (uint256 jobId, address accuser) = _failed();
        vm.prank(accuser);
        registry.requestUnbond(MIN_VERIFIER);
        vm.warp(block.timestamp + unbondDelay);
        _withdrawRevertsWithDuties(accuser, 1);
        vm.warp(market.jobOf(jobId).deadline + 1);
        market.finalizeFail(jobId);
        vm.prank(accuser);
        registry.withdraw();
        assertEq(registry.stakerOf(accuser).unbonding, 0, "withdrawn once the fail stood");
        _assertSolvent("after finalize");
    }

    function test_PanelMembersAreOnDutyUntilResolution() public {
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        assertEq(panel.length, 3, "full panel");
        for (uint256 i = 0; i < panel.length; ++i) {
            assertEq(registry.dutiesOf(panel[i]), 1, "panel member on duty");
        }
        vm.prank(panel[0]);
        registry.requestUnbond(1 ether);
        vm.warp(block.timestamp + unbondDelay);
        _withdrawRevertsWithDuties(panel[0], 1);
        vm.prank(panel[1]);
        market.vote(jobId, false);
        vm.prank(panel[2]);
        market.vote(jobId, false);
        vm.warp(market.jobOf(jobId).deadline + 1);
        market.resolveContest(jobId);
        for (uint256 i = 0; i < panel.length; ++i) {
            assertEq(registry.dutiesOf(panel[i]), 0, "duty closed at resolution");
        }
        assertEq(registry.dutiesOf(accuser), 0, "upheld accuser's duty closed");
        vm.prank(panel[0]);
        registry.withdraw();
        _assertSolvent("after upheld contest");
    }

    function test_DutiesCountAcrossJobs() public {
        address only = verifiers[0];
        for (uint256 i = 1; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            registry.requestUnbond(1 ether);
        }
        uint256 a = _committed();
        _draw(a, keccak256("a"));
        uint256 b = _committed();
        _draw(b, keccak256("b"));
        assertEq(market.jobOf(a).verifier, only, "only drawable verifier drawn for a");
        assertEq(market.jobOf(b).verifier, only, "and for b");
        assertEq(registry.dutiesOf(only), 2, "two open duties");
        vm.prank(only);
        registry.requestUnbond(1 ether);
        assertEq(registry.verifierCount(), 0, "an unbonding verifier on duty is no longer drawable");
        vm.warp(block.timestamp + unbondDelay);
        vm.prank(only);
        market.attest(a, true, bytes32(0));
        _withdrawRevertsWithDuties(only, 1);
        vm.prank(only);
        market.attest(b, true, bytes32(0));
        vm.prank(only);
        registry.withdraw();
        assertEq(registry.dutiesOf(only), 0, "no duty left");
    }

    function test_DrawEmitsDutyOpened() public {
        uint256 jobId = _committed();
        vm.roll(block.number + 1);
        bytes32 randao = keccak256("randao");
        vm.prevrandao(randao);
        address expected = _expectedVerifier(_seed(randao, jobId));
        vm.expectEmit(true, false, false, true);
        emit IStakingRegistry.DutiesChanged(expected, 1);
        market.drawAudit(jobId);
    }
}

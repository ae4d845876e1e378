// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MarketBase} from "./MarketBase.t.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";

/// @notice The hardening rules: (1) the audit outcome is fixed by the two committed secrets and the stakes at the
/// snapshot, so neither the block nor the time of a reveal nor stake moves after the commitment change it, and
/// withholding a reveal never helps the one who withholds; (2) a verifier drawn for an audit or a panel has an open
/// duty in the registry until the job ends, and cannot withdraw before, so it cannot unbond its way out of a slash.
contract JobMarketHardeningTest is MarketBase {
    uint16 internal constant HALF = 5000;

    /// @dev An unbond delay far shorter than attest + contest + vote windows: the setting in which a drawn
    /// verifier could leave before its slash if nothing but the delay held it.
    function setUp() public override {
        unbondDelay = 10 minutes;
        super.setUp();
    }

    function _deployWith(uint16 pBps) internal {
        IJobMarket.Params memory p = _defaultParams();
        p.auditProbabilityBps = pBps;
        _deploy(p);
    }

    function _expectedAuditor(uint256 jobId, bytes32 seed) internal view returns (address) {
        IJobMarket.Job memory job = market.jobOf(jobId);
        bytes32 auditSeed = keccak256(abi.encode(seed, "audit"));
        for (uint256 j = 0; j < 16; ++j) {
            address c = registry.sample(auditSeed, j, job.snapshotBlock);
            if (c == address(0)) return c;
            if (c != job.provider && c != job.consumer && registry.isVerifier(c)) return c;
        }
        return address(0);
    }

    function _withdrawRevertsWithDuties(address who, uint256 duties) internal {
        vm.prank(who);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_OpenDuties.selector, duties));
        registry.withdraw();
    }

    // ------------------------------------------------------------------ (1) nothing to time, nothing to steer

    /// @dev Whatever block and second inside the windows the reveals land in, the seed, the audit decision and
    /// the auditor are the same.
    function testFuzz_RevealTimingChangesNothing(
        bytes32 providerSecret,
        uint256 blocks,
        uint256 secs,
        uint16 pBps
    ) public {
        _deployWith(uint16(bound(pBps, 0, 10_000)));
        uint256 jobId = _accepted();
        _commit(jobId, 8, providerSecret);
        uint256 snap = vm.snapshotState();
        _revealWith(jobId, providerSecret);
        IJobMarket.Job memory prompt = market.jobOf(jobId);
        vm.revertToState(snap);
        vm.roll(block.number + bound(blocks, 1, 100_000));
        vm.warp(block.timestamp + bound(secs, 0, REVEAL_WINDOW));
        _revealConsumer(jobId);
        vm.roll(block.number + bound(blocks, 1, 100_000) / 3 + 1);
        vm.warp(block.timestamp + bound(secs, 0, REVEAL_WINDOW));
        vm.prevrandao(keccak256(abi.encode(blocks, secs)));
        vm.prank(provider);
        market.revealProviderSecret(jobId, providerSecret);
        IJobMarket.Job memory late = market.jobOf(jobId);
        assertEq(late.seed, prompt.seed, "same seed");
        assertEq(uint8(late.status), uint8(prompt.status), "same audit decision");
        assertEq(late.verifier, prompt.verifier, "same auditor");
        _assertSolvent("after a late reveal");
    }

    /// @dev A verifier that stakes (or a Sybil that registers) after the commitment is not in the snapshot: the
    /// auditor is the one the snapshot's stakes give, and the newcomer is never drawn.
    function testFuzz_StakeAfterCommitIsNotInTheDraw(bytes32 providerSecret) public {
        address sybil = makeAddr("late sybil");
        vm.prank(consumer);
        token.transfer(sybil, 5000 ether);
        vm.prank(sybil);
        token.approve(address(registry), type(uint256).max);
        uint256 jobId = _accepted();
        _commit(jobId, 8, providerSecret);
        vm.prank(sybil);
        registry.stakeAndRegister(5000 ether, 2, hex"0066", bytes32(0)); // 20x all other verifiers together
        vm.prank(verifiers[0]);
        registry.stake(1000 ether);
        vm.roll(block.number + 1);
        _revealConsumer(jobId);
        bytes32 seed = _seedOf(jobId, consumerSecretOf(jobId), providerSecret);
        vm.prank(provider);
        market.revealProviderSecret(jobId, providerSecret);
        address auditor = market.jobOf(jobId).verifier;
        assertTrue(auditor != sybil, "staked after the commitment: never drawn");
        assertEq(auditor, _expectedAuditor(jobId, seed), "drawn by the snapshot's stakes");
        assertEq(
            registry.totalWeightAt(market.jobOf(jobId).snapshotBlock), 5 * MIN_VERIFIER, "snapshot weights"
        );
    }

    /// @dev A drawn pick that left the verifier set after the snapshot is replaced by the next independent draw
    /// (`j + 1`), not by its neighbour in any list.
    function test_PickThatLeftIsReplacedByNextIndependentDraw() public {
        uint256 jobId = _committed();
        _revealConsumer(jobId);
        bytes32 seed = _seedOf(jobId, consumerSecretOf(jobId), providerSecretOf(jobId));
        bytes32 auditSeed = keccak256(abi.encode(seed, "audit"));
        uint64 snapshot = market.jobOf(jobId).snapshotBlock;
        address first = registry.sample(auditSeed, 0, snapshot);
        vm.prank(first);
        registry.requestUnbond(1);
        address next = address(0);
        for (uint256 j = 1; next == address(0); ++j) {
            address c = registry.sample(auditSeed, j, snapshot);
            if (c != first) next = c;
        }
        vm.prank(provider);
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
        assertEq(market.jobOf(jobId).verifier, next, "the next independent draw audits");
        assertEq(registry.dutiesOf(first), 0, "the unbonding pick got no duty");
    }

    /// @dev Withholding: the consumer's silence only takes its own secret out of the seed (0 instead), the
    /// provider's silence defaults it (price and collateral to the consumer) exactly like being caught.
    function test_WithholdingNeverPaysTheWithholder() public {
        uint256 providerBefore = token.balanceOf(provider);
        uint256 jobId = _committed();
        _revealConsumer(jobId);
        (, uint64 until) = market.providerRevealSpan(jobId);
        vm.warp(until + 1);
        market.claimRevealTimeout(jobId);
        assertEq(
            token.balanceOf(provider), providerBefore - COLLATERAL, "withholding provider loses collateral"
        );
        uint256 jobId2 = _committed();
        vm.warp(market.jobOf(jobId2).deadline + 1);
        vm.prank(provider);
        market.revealProviderSecret(jobId2, providerSecretOf(jobId2));
        assertEq(
            market.jobOf(jobId2).seed,
            _seedOf(jobId2, bytes32(0), providerSecretOf(jobId2)),
            "withheld consumer secret counts as zero"
        );
        _assertSolvent("after withholding");
    }

    /// @dev The seed is keccak(consumer secret, provider secret, jobId): no block value enters it, so the same
    /// secrets on another chain's semantics (prevrandao constant 1 as on Arbitrum, or any other) give the same
    /// audit.
    function test_PrevrandaoDoesNotEnterTheSeed() public {
        uint256 jobId = _committed();
        uint256 snap = vm.snapshotState();
        vm.prevrandao(bytes32(uint256(1)));
        _reveal(jobId);
        IJobMarket.Job memory a = market.jobOf(jobId);
        vm.revertToState(snap);
        vm.prevrandao(keccak256("another randao"));
        _reveal(jobId);
        IJobMarket.Job memory b = market.jobOf(jobId);
        assertEq(a.seed, b.seed, "same seed");
        assertEq(a.verifier, b.verifier, "same auditor");
        assertEq(a.seed, _seedOf(jobId, consumerSecretOf(jobId), providerSecretOf(jobId)), "documented rule");
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
        (uint256 jobId, address accuser,) = _voting();
        vm.prank(accuser);
        registry.requestUnbond(MIN_VERIFIER);
        _allVote(jobId, true);
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
            assertEq(registry.dutiesOf(panel[i]), _seats(panel, panel[i]), "panel member on duty per seat");
        }
        vm.prank(panel[0]);
        registry.requestUnbond(1 ether);
        vm.warp(block.timestamp + unbondDelay);
        _withdrawRevertsWithDuties(panel[0], _seats(panel, panel[0]));
        _allVote(jobId, false);
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
        _reveal(a);
        uint256 b = _committed();
        _reveal(b);
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

    function test_RevealEmitsDutyOpened() public {
        uint256 jobId = _committed();
        _revealConsumer(jobId);
        address expected =
            _expectedAuditor(jobId, _seedOf(jobId, consumerSecretOf(jobId), providerSecretOf(jobId)));
        vm.expectEmit(true, false, false, true);
        emit IStakingRegistry.DutiesChanged(expected, 1);
        vm.prank(provider);
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MarketBase} from "./MarketBase.t.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {Commitment} from "../src/libraries/Commitment.sol";

/// @notice Every path of the job life cycle, including each timeout, with balances checked.
contract JobMarketTest is MarketBase {
    function test_PostEscrowsPrice() public {
        uint256 before = token.balanceOf(consumer);
        uint256 jobId = _post();
        assertEq(jobId, 1, "first job id");
        assertEq(token.balanceOf(consumer), before - PRICE, "price pulled");
        assertEq(market.heldFor(jobId), PRICE, "price held for the job");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Open), "open");
        _assertSolvent("after post");
    }

    function test_CancelOpenJobRefundsConsumer() public {
        uint256 before = token.balanceOf(consumer);
        uint256 jobId = _post();
        vm.prank(consumer);
        market.cancelJob(jobId);
        assertEq(token.balanceOf(consumer), before, "escrow returned");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Cancelled), "cancelled");
        assertEq(market.totalOwed(), 0, "nothing owed");
        _assertSolvent("after cancel");
    }

    function test_CancelAfterAcceptDeadlineStillRefunds() public {
        uint256 jobId = _post();
        vm.warp(block.timestamp + 3 hours);
        vm.prank(consumer);
        market.cancelJob(jobId);
        assertEq(market.heldFor(jobId), 0, "nothing held once cancelled");
    }

    function test_AcceptLocksCollateral() public {
        uint256 before = token.balanceOf(provider);
        uint256 jobId = _accepted();
        assertEq(token.balanceOf(provider), before - COLLATERAL, "collateral pulled");
        assertEq(market.jobOf(jobId).provider, provider, "provider recorded");
        assertEq(market.heldFor(jobId), PRICE + COLLATERAL, "price + collateral held");
        _assertSolvent("after accept");
    }

    function test_CommitTimeoutPaysConsumerPriceAndCollateral() public {
        uint256 before = token.balanceOf(consumer);
        uint256 jobId = _accepted();
        vm.warp(block.timestamp + 2 hours + 1);
        market.claimCommitTimeout(jobId);
        assertEq(token.balanceOf(consumer), before + COLLATERAL, "consumer gets price back plus collateral");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Defaulted), "defaulted");
        _assertSolvent("after default");
    }

    function test_HonestUnauditedJobPaysProviderFeeToPool() public {
        IJobMarket.Params memory p = _defaultParams();
        p.auditProbabilityBps = 0;
        _deploy(p);
        uint256 before = token.balanceOf(provider);
        uint256 jobId = _committed();
        _reveal(jobId);
        IJobMarket.Job memory job = market.jobOf(jobId);
        assertEq(uint8(job.status), uint8(IJobMarket.Status.Completed), "completed at the draw");
        assertEq(job.verifier, address(0), "no verifier");
        assertEq(token.balanceOf(provider), before + PRICE - _fee(), "provider paid price - fee");
        assertEq(market.rewardPool(), _fee(), "fee funds the pool");
        assertEq(market.totalOwed(), _fee(), "only the pool is owed");
        _assertSolvent("after unaudited completion");
    }

    function _expectedAuditor(uint256 jobId, bytes32 seed) internal view returns (address) {
        IJobMarket.Job memory job = market.jobOf(jobId);
        bytes32 auditSeed = keccak256(abi.encode(seed, "audit"));
        for (uint256 j = 0; j < 16; ++j) {
            address c = registry.sample(auditSeed, j, job.snapshotBlock);
            if (c != job.provider && c != job.consumer && registry.isVerifier(c)) return c;
        }
        return address(0);
    }

    function test_ProviderRevealRecordsSeedInEvent() public {
        uint256 jobId = _committed();
        _revealConsumer(jobId);
        bytes32 seed = _seedOf(jobId, consumerSecretOf(jobId), providerSecretOf(jobId));
        address expected = _expectedAuditor(jobId, seed);
        assertTrue(expected != address(0), "someone drawable");
        vm.expectEmit(true, true, false, true);
        emit IJobMarket.AuditDrawn(jobId, seed, true, expected);
        vm.prank(provider);
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
        IJobMarket.Job memory job = market.jobOf(jobId);
        assertEq(job.seed, seed, "seed = keccak(consumer secret, provider secret, jobId)");
        assertEq(job.verifier, expected, "verifier drawn by the documented rule");
        assertEq(job.consumerSecret, consumerSecretOf(jobId), "consumer secret recorded");
        assertEq(job.providerSecret, providerSecretOf(jobId), "provider secret recorded");
        assertEq(uint8(job.status), uint8(IJobMarket.Status.Auditing), "auditing");
        assertEq(
            market.sampledIndices(jobId),
            Commitment.sampleIndices(seed, jobId, 8, 4),
            "sampled indices follow the v1 rule with k = samplesK"
        );
    }

    function test_CommitRecordsSnapshotAndOpensConsumerReveal() public {
        uint256 jobId = _accepted();
        vm.expectEmit(true, false, false, true);
        emit IJobMarket.ResultCommitted(jobId, ROOT, 8, uint64(block.timestamp) + REVEAL_WINDOW);
        _commit(jobId, 8, providerSecretOf(jobId));
        IJobMarket.Job memory job = market.jobOf(jobId);
        assertEq(job.snapshotBlock, block.number - 1, "snapshot: the block before the commitment");
        assertEq(job.providerSecret, _hash(providerSecretOf(jobId)), "provider secret hash recorded");
        assertEq(job.deadline, block.timestamp + REVEAL_WINDOW, "consumer reveal deadline");
        assertEq(job.seed, bytes32(0), "no seed before the reveals");
        (uint64 from, uint64 until) = market.providerRevealSpan(jobId);
        assertEq(from, job.deadline + 1, "provider waits for the consumer's window");
        assertEq(until, job.deadline + REVEAL_WINDOW, "then has one window");
        _revealConsumer(jobId);
        (from, until) = market.providerRevealSpan(jobId);
        assertEq(from, 0, "consumer revealed: the provider may reveal at once");
        assertEq(until, block.timestamp + REVEAL_WINDOW, "for one window from the consumer's reveal");
    }

    function test_ConsumerWithholdsSecretCountsAsZero() public {
        uint256 jobId = _committed();
        uint64 consumerBy = market.jobOf(jobId).deadline;
        vm.warp(consumerBy + 1);
        vm.prank(provider);
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
        bytes32 seed = _seedOf(jobId, bytes32(0), providerSecretOf(jobId));
        assertEq(market.jobOf(jobId).seed, seed, "withheld consumer secret counts as zero");
        assertTrue(market.jobOf(jobId).verifier != address(0), "still audited at p = 100%");
    }

    function test_ProviderWithholdsRevealDefaultsToConsumer() public {
        uint256 before = token.balanceOf(consumer);
        uint256 providerBefore = token.balanceOf(provider);
        uint256 jobId = _committed();
        _revealConsumer(jobId);
        (, uint64 until) = market.providerRevealSpan(jobId);
        vm.warp(until + 1);
        vm.expectEmit(true, false, false, true);
        emit IJobMarket.RevealTimedOut(jobId, PRICE + COLLATERAL);
        market.claimRevealTimeout(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Defaulted), "defaulted");
        assertEq(token.balanceOf(consumer), before + COLLATERAL, "consumer gets price and collateral");
        assertEq(token.balanceOf(provider), providerBefore - COLLATERAL, "provider loses its collateral");
        _assertSolvent("after reveal timeout");
    }

    function test_NeitherRevealsDefaultsAfterBothWindows() public {
        uint256 jobId = _committed();
        (, uint64 until) = market.providerRevealSpan(jobId);
        assertEq(until, block.timestamp + 2 * REVEAL_WINDOW, "two windows");
        vm.warp(until + 1);
        market.claimRevealTimeout(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Defaulted), "defaulted");
        _assertSolvent("after double withholding");
    }

    function test_AuditedPassEmitsSettlementEvents() public {
        (uint256 jobId, address verifier) = _auditing();
        vm.expectEmit(true, true, false, true);
        emit IJobMarket.Attested(jobId, verifier, true, bytes32(0));
        vm.expectEmit(true, false, false, true);
        emit IJobMarket.JobCompleted(jobId, PRICE - _fee() + COLLATERAL);
        vm.expectEmit(true, true, false, true);
        emit IJobMarket.Paid(jobId, provider, PRICE - _fee() + COLLATERAL);
        vm.expectEmit(true, true, false, true);
        emit IJobMarket.Paid(jobId, verifier, _fee());
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
    }

    function test_SampledIndicesCapAtUnitCount() public {
        uint256 jobId = _accepted();
        _commit(jobId, 2, providerSecretOf(jobId));
        _reveal(jobId);
        assertEq(market.sampledIndices(jobId).length, 2, "k = min(samplesK, nUnits)");
    }

    function test_HonestAuditedJobPaysProviderAndVerifier() public {
        uint256 providerBefore = token.balanceOf(provider);
        (uint256 jobId, address verifier) = _auditing();
        uint256 verifierBefore = token.balanceOf(verifier);
        assertTrue(verifier != address(0), "a verifier was drawn");
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        assertEq(token.balanceOf(provider), providerBefore + PRICE - _fee(), "provider paid price - fee");
        assertEq(token.balanceOf(verifier), verifierBefore + _fee(), "verifier paid the fee");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Completed), "completed");
        assertEq(market.totalOwed(), 0, "nothing owed");
        _assertSolvent("after audited pass");
    }

    function test_AttestTimeoutSlashesVerifierAndCompletes() public {
        uint256 providerBefore = token.balanceOf(provider);
        (uint256 jobId, address verifier) = _auditing();
        vm.warp(block.timestamp + 1 hours + 1);
        market.claimAttestTimeout(jobId);
        assertEq(
            token.balanceOf(provider),
            providerBefore + PRICE - _fee(),
            "provider paid despite absent verifier"
        );
        assertEq(registry.stakerOf(verifier).active, MIN_VERIFIER - 5 ether, "absent verifier slashed");
        assertEq(market.rewardPool(), _fee() + 5 ether, "fee and slash fund the pool");
        assertFalse(registry.isVerifier(verifier), "slashed below minimum: out of the set");
        _assertSolvent("after attest timeout");
    }

    function test_AuditedPassPaysPoolShare() public {
        // Fund the pool through an attest timeout, then a second audited pass takes 10% of it.
        (uint256 first,) = _auditing();
        vm.warp(block.timestamp + 1 hours + 1);
        market.claimAttestTimeout(first);
        uint256 pool = market.rewardPool();
        (uint256 jobId, address verifier) = _auditing();
        uint256 before = token.balanceOf(verifier);
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        assertEq(token.balanceOf(verifier), before + _fee() + pool / 10, "fee plus 10% of the pool");
        assertEq(market.rewardPool(), pool - pool / 10, "pool reduced by the share");
        _assertSolvent("after pool share");
    }

    function test_NoDrawableVerifierCompletesUnaudited() public {
        for (uint256 i = 0; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            registry.requestUnbond(1);
        }
        assertEq(registry.verifierCount(), 0, "nobody drawable");
        uint256 jobId = _committed();
        _reveal(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Completed), "completed without audit");
        assertEq(market.rewardPool(), _fee(), "fee to pool");
        _assertSolvent("after no-verifier completion");
    }

    function test_DrawSkipsProviderWhoIsAlsoVerifier() public {
        for (uint256 i = 1; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            registry.requestUnbond(1);
        }
        vm.prank(provider);
        registry.register(3, hex"0011", keccak256("advert"));
        assertEq(registry.verifierCount(), 2, "provider and verifier0 drawable");
        for (uint256 r = 0; r < 8; ++r) {
            uint256 jobId = _accepted();
            _commit(jobId, 8, keccak256(abi.encode(r)));
            _revealWith(jobId, keccak256(abi.encode(r)));
            assertEq(market.jobOf(jobId).verifier, verifiers[0], "provider never audits itself");
        }
    }

    function test_DrawSkipsConsumerAndProviderWhoAreVerifiers() public {
        for (uint256 i = 1; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            registry.requestUnbond(1);
        }
        vm.prank(provider);
        registry.register(3, hex"0011", keccak256("advert"));
        vm.prank(consumer);
        registry.stakeAndRegister(MIN_VERIFIER, 2, hex"0055", bytes32(0));
        assertEq(registry.verifierCount(), 3, "provider, consumer and verifier0 drawable");
        for (uint256 r = 0; r < 8; ++r) {
            uint256 jobId = _accepted();
            _commit(jobId, 8, keccak256(abi.encode("c", r)));
            _revealWith(jobId, keccak256(abi.encode("c", r)));
            assertEq(market.jobOf(jobId).verifier, verifiers[0], "neither party audits its own job");
        }
    }

    function test_PanelExcludesConsumer() public {
        vm.prank(consumer);
        registry.stakeAndRegister(MIN_VERIFIER, 2, hex"0055", bytes32(0));
        (uint256 jobId,, address[] memory panel) = _voting();
        for (uint256 i = 0; i < panel.length; ++i) {
            assertTrue(panel[i] != consumer, "consumer not on panel");
        }
        assertEq(
            uint8(market.ballotOf(jobId, consumer)), uint8(IJobMarket.Ballot.None), "consumer has no ballot"
        );
    }

    function test_OnlyProviderDrawableMeansNoAudit() public {
        for (uint256 i = 0; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            registry.requestUnbond(1);
        }
        vm.prank(provider);
        registry.register(3, hex"0011", keccak256("advert"));
        uint256 jobId = _committed();
        _reveal(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Completed), "completed unaudited");
    }

    function test_UncontestedFailRefundsConsumerAndRewardsAccuser() public {
        uint256 consumerBefore = token.balanceOf(consumer);
        (uint256 jobId, address accuser) = _failed();
        uint256 accuserBefore = token.balanceOf(accuser);
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Failed), "failed");
        assertEq(market.jobOf(jobId).evidenceHash, EVIDENCE, "evidence recorded");
        vm.warp(block.timestamp + 1 hours + 1);
        market.finalizeFail(jobId);
        assertEq(
            token.balanceOf(consumer), consumerBefore + COLLATERAL / 2, "price back plus half the collateral"
        );
        assertEq(token.balanceOf(accuser), accuserBefore + COLLATERAL / 2, "accuser gets half the collateral");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Slashed), "slashed");
        _assertSolvent("after uncontested fail");
    }

    function test_PanelExcludesProviderAndAccuser() public {
        vm.prank(provider);
        registry.register(3, hex"0011", keccak256("advert"));
        vm.roll(block.number + 1);
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        assertEq(panel.length, 3, "full panel: one address per seat");
        for (uint256 i = 0; i < panel.length; ++i) {
            assertTrue(panel[i] != provider, "provider not on panel");
            assertTrue(panel[i] != accuser, "accuser not on panel");
            assertEq(
                uint8(market.ballotOf(jobId, panel[i])), uint8(IJobMarket.Ballot.Pending), "pending ballot"
            );
            assertEq(registry.dutiesOf(panel[i]), _seats(panel, panel[i]), "one duty per seat");
        }
        assertEq(market.heldFor(jobId), PRICE + COLLATERAL + BOND, "bond held");
        assertEq(
            market.jobOf(jobId).deadline, block.timestamp + 1 hours, "ballots due within the vote window"
        );
        _assertSolvent("while voting");
    }

    function test_PanelDrawnFromSeedAndSnapshot() public {
        (uint256 jobId, address accuser) = _failed();
        IJobMarket.Job memory job = market.jobOf(jobId);
        bytes32 seed = keccak256(abi.encode(job.seed, "panel"));
        address[] memory expected = new address[](3);
        uint256 n = 0;
        for (uint256 j = 0; n < 3; ++j) {
            address m = registry.sample(seed, j, job.snapshotBlock);
            if (m == provider || m == accuser || m == consumer) continue;
            expected[n++] = m;
        }
        vm.expectEmit(true, false, false, true);
        emit IJobMarket.PanelDrawn(jobId, seed, expected, uint64(block.timestamp + 1 hours));
        vm.prank(provider);
        market.contest(jobId);
    }

    function _voteSeats(uint256 jobId, address[] memory members, bool[] memory honest) internal {
        for (uint256 i = 0; i < members.length; ++i) {
            _commitVote(jobId, members[i], honest[i]);
        }
        _toRevealPhase(jobId);
        for (uint256 i = 0; i < members.length; ++i) {
            _revealVote(jobId, members[i], honest[i]);
        }
    }

    function test_ContestOverturnedSlashesAccuserAndPaysProvider() public {
        uint256 providerBefore = token.balanceOf(provider);
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        address[] memory members = _members(panel);
        uint256[] memory before = new uint256[](members.length);
        for (uint256 i = 0; i < members.length; ++i) {
            before[i] = token.balanceOf(members[i]);
        }
        _allVote(jobId, true);
        (uint256 honest, uint256 cheated) = market.tallyOf(jobId);
        assertEq(honest, 3, "every seat counted");
        assertEq(cheated, 0, "no cheated seat");
        vm.expectEmit(true, false, false, true);
        emit IJobMarket.ContestResolved(jobId, IJobMarket.Outcome.Overturned, 3, 0);
        market.resolveContest(jobId);
        assertEq(token.balanceOf(provider), providerBefore + PRICE - _fee(), "provider paid, bond back");
        assertEq(registry.stakerOf(accuser).active, MIN_VERIFIER - 20 ether, "false accuser slashed");
        uint256 share = (_fee() + 20 ether) / 3;
        for (uint256 i = 0; i < members.length; ++i) {
            assertEq(
                token.balanceOf(members[i]),
                before[i] + share * _seats(panel, members[i]),
                "majority seats rewarded per seat"
            );
        }
        assertEq(market.rewardPool(), _fee() + 20 ether - 3 * share, "dust to the pool");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Completed), "completed");
        _assertSolvent("after overturn");
    }

    function test_ContestSplitVoteMajorityOfSeatsDecides() public {
        // Five verifiers, panel of 3: find a panel with three distinct members, two vote honest, one cheated.
        (uint256 jobId,, address[] memory panel) = _voting();
        address[] memory members = _members(panel);
        bool[] memory votes = new bool[](members.length);
        uint256 honestSeats = 0;
        for (uint256 i = 0; i < members.length; ++i) {
            votes[i] = i == 0;
            if (votes[i]) honestSeats += _seats(panel, members[i]);
        }
        _voteSeats(jobId, members, votes);
        market.resolveContest(jobId);
        IJobMarket.Status want = 2 * honestSeats > 3 ? IJobMarket.Status.Completed : IJobMarket.Status.Slashed;
        assertEq(uint8(market.statusOf(jobId)), uint8(want), "majority of seats decides");
        _assertSolvent("after split vote");
    }

    function test_ContestUpheldForfeitsBondToMajority() public {
        uint256 consumerBefore = token.balanceOf(consumer);
        uint256 providerBefore = token.balanceOf(provider);
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        uint256 accuserBefore = token.balanceOf(accuser);
        uint256 p0 = token.balanceOf(panel[0]);
        _allVote(jobId, false);
        market.resolveContest(jobId); // all revealed: no need to wait for the reveal deadline
        uint256 share = BOND / 3;
        assertEq(token.balanceOf(panel[0]), p0 + share * _seats(panel, panel[0]), "bond split per seat");
        assertEq(
            token.balanceOf(consumer), consumerBefore + COLLATERAL / 2 + (BOND - 3 * share), "consumer + dust"
        );
        assertEq(token.balanceOf(accuser), accuserBefore + COLLATERAL / 2, "accuser rewarded");
        assertEq(
            token.balanceOf(provider), providerBefore - COLLATERAL - BOND, "provider lost collateral and bond"
        );
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Slashed), "slashed");
        _assertSolvent("after upheld");
    }

    function test_ContestWithoutQuorumLetsFailStandAndReturnsBond() public {
        uint256 providerBefore = token.balanceOf(provider);
        (uint256 jobId,, address[] memory panel) = _voting();
        address only = address(0);
        for (uint256 i = 0; i < panel.length && only == address(0); ++i) {
            if (_seats(panel, panel[i]) == 1) only = panel[i];
        }
        assertTrue(only != address(0), "a member with one seat");
        _commitVote(jobId, only, true);
        _toRevealPhase(jobId);
        _revealVote(jobId, only, true);
        vm.warp(market.jobOf(jobId).deadline + REVEAL_WINDOW + 1);
        market.resolveContest(jobId);
        assertEq(
            token.balanceOf(provider),
            providerBefore - COLLATERAL,
            "one honest seat of three is no quorum: bond back, collateral lost"
        );
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Slashed), "fail stands");
        _assertSolvent("after no quorum");
    }

    function test_SilentMembersAreSlashedPerSeat() public {
        (uint256 jobId,, address[] memory panel) = _voting();
        address[] memory members = _members(panel);
        uint256[] memory before = new uint256[](members.length);
        for (uint256 i = 0; i < members.length; ++i) {
            before[i] = registry.stakerOf(members[i]).active;
        }
        uint256 pool = market.rewardPool();
        vm.warp(market.jobOf(jobId).deadline + REVEAL_WINDOW + 1);
        market.resolveContest(jobId);
        for (uint256 i = 0; i < members.length; ++i) {
            assertEq(
                registry.stakerOf(members[i]).active,
                before[i] - 5 ether * _seats(panel, members[i]),
                "absentVerifierSlash per silent seat"
            );
            assertEq(registry.dutiesOf(members[i]), 0, "duties closed");
        }
        uint256 accuserShare = (pool + 15 ether) / 10; // poolShareBps 10% of the pool, below the 5-token fee
        assertEq(
            market.rewardPool(),
            pool + 15 ether - accuserShare,
            "slashes fund the pool, the accuser's share out"
        );
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Slashed), "no quorum: fail stands");
        _assertSolvent("after a silent panel");
    }

    function test_EmptyPanelResolvesWithoutQuorumAfterDeadline() public {
        (uint256 jobId, address accuser) = _failed();
        for (uint256 i = 0; i < verifiers.length; ++i) {
            if (verifiers[i] != accuser) {
                vm.prank(verifiers[i]);
                registry.requestUnbond(1);
            }
        }
        vm.prank(provider);
        market.contest(jobId);
        assertEq(market.panelOf(jobId).length, 0, "nobody eligible");
        vm.warp(market.jobOf(jobId).deadline + REVEAL_WINDOW + 1);
        market.resolveContest(jobId);
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Slashed), "fail stands");
        _assertSolvent("after empty panel");
    }

    function test_PrepaidHonestJobReturnsCollateralAndPaysVerifier() public {
        uint256 providerBefore = token.balanceOf(provider);
        uint256 claimsBefore = token.balanceOf(claims);
        uint256 jobId = _openPrepaid(30 ether);
        IJobMarket.Job memory job = market.jobOf(jobId);
        assertEq(uint8(job.status), uint8(IJobMarket.Status.Accepted), "starts accepted");
        assertTrue(job.prepaid, "prepaid flag");
        assertEq(job.commitBy, block.timestamp + 1 days, "commitBy from the claims contract");
        assertEq(token.balanceOf(address(market)), 30 ether + PREPAID_FEE, "collateral and fee pulled");
        assertEq(token.balanceOf(claims), claimsBefore - 30 ether - PREPAID_FEE, "from the claims contract");
        _commit(jobId, 4, providerSecretOf(jobId));
        _reveal(jobId);
        address verifier = market.jobOf(jobId).verifier;
        uint256 vBefore = token.balanceOf(verifier);
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        assertEq(token.balanceOf(provider), providerBefore + 30 ether, "collateral to the honest provider");
        assertEq(token.balanceOf(verifier), vBefore + PREPAID_FEE, "the prepaid job pays its verifier");
        _assertSolvent("after prepaid pass");
    }

    function test_PrepaidDefaultPaysHolder() public {
        uint256 before = token.balanceOf(consumer);
        uint256 jobId = _openPrepaid(30 ether);
        vm.warp(block.timestamp + 1 days + 1);
        market.claimCommitTimeout(jobId);
        assertEq(token.balanceOf(consumer), before + 30 ether + PREPAID_FEE, "holder gets collateral and fee");
        _assertSolvent("after prepaid default");
    }

    function test_PrepaidCheatPaysHolderAndAccuser() public {
        uint256 before = token.balanceOf(consumer);
        uint256 jobId = _openPrepaid(30 ether);
        _commit(jobId, 4, providerSecretOf(jobId));
        _reveal(jobId);
        address verifier = market.jobOf(jobId).verifier;
        uint256 vBefore = token.balanceOf(verifier);
        vm.prank(verifier);
        market.attest(jobId, false, EVIDENCE);
        vm.warp(block.timestamp + 1 hours + 1);
        market.finalizeFail(jobId);
        assertEq(
            token.balanceOf(consumer),
            before + 15 ether + PREPAID_FEE,
            "holder gets half the collateral + fee"
        );
        assertEq(token.balanceOf(verifier), vBefore + 15 ether, "accuser gets half");
        _assertSolvent("after prepaid cheat");
    }

    function test_VerifyUnitAgainstVectorTree() public {
        string memory json = vm.readFile("../tests/vectors/commitment-v1.json");
        bytes32 root = vm.parseJsonBytes32(json, "$.merkle[2].root");
        bytes32 meta = vm.parseJsonBytes32(json, "$.merkle[2].meta_hash");
        bytes32[] memory data = vm.parseJsonBytes32Array(json, "$.merkle[2].data_hashes");
        uint256 jobId = _accepted();
        vm.prank(provider);
        market.commitResult(jobId, root, 5, _hash(providerSecretOf(jobId)));
        for (uint256 i = 0; i < 5; ++i) {
            bytes32[] memory proof =
                vm.parseJsonBytes32Array(json, string.concat("$.merkle[2].proofs[", vm.toString(i), "]"));
            assertTrue(market.verifyUnit(jobId, i, meta, data[i], proof), "vector unit verifies on chain");
            assertFalse(market.verifyUnit(jobId, i, meta, bytes32(uint256(1)), proof), "tampered unit fails");
        }
    }

    function test_PostJobWithPermit() public {
        uint256 key = 0xC0FFEE;
        address signer = vm.addr(key);
        vm.prank(consumer);
        token.transfer(signer, PRICE);
        uint256 deadline = block.timestamp + 1;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                signer,
                address(market),
                PRICE,
                token.nonces(signer),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
        vm.prank(signer);
        uint256 jobId = market.postJobWithPermit(_terms(), deadline, v, r, s);
        assertEq(market.jobOf(jobId).consumer, signer, "signer is the consumer");
        assertEq(token.balanceOf(signer), 0, "price pulled through the permit");
        _assertSolvent("after permit post");
    }

    function testFuzz_AuditDecisionFollowsProbability(uint16 pBps, bytes32 providerSecret) public {
        vm.assume(providerSecret != bytes32(0));
        IJobMarket.Params memory p = _defaultParams();
        p.auditProbabilityBps = uint16(bound(pBps, 0, 10_000));
        _deploy(p);
        uint256 jobId = _accepted();
        _commit(jobId, 8, providerSecret);
        _revealWith(jobId, providerSecret);
        bytes32 seed = _seedOf(jobId, consumerSecretOf(jobId), providerSecret);
        bool audited = uint256(seed) % 10_000 < p.auditProbabilityBps;
        assertEq(
            market.statusOf(jobId) == IJobMarket.Status.Auditing, audited, "audited iff seed % 10000 < p"
        );
        _assertSolvent("after fuzzed draw");
    }

    function testFuzz_HonestPayoutConservesTokens(uint256 price, uint256 collateral, uint16 feeBps) public {
        IJobMarket.Params memory p = _defaultParams();
        p.protocolFeeBps = uint16(bound(feeBps, 100, 10_000));
        _deploy(p);
        // The fee price * feeBps / 10000 must reach MIN_FEE.
        price = bound(price, (MIN_FEE * 10_000 + p.protocolFeeBps - 1) / p.protocolFeeBps, 1000 ether);
        collateral = bound(collateral, MIN_COLLATERAL, 1000 ether);
        IJobMarket.JobTerms memory t = _terms();
        t.price = price;
        t.collateral = collateral;
        uint256 total = token.balanceOf(consumer) + token.balanceOf(provider);
        vm.prank(consumer);
        uint256 jobId = market.postJob(t);
        vm.prank(provider);
        market.acceptJob(jobId);
        vm.roll(block.number + 1);
        _commit(jobId, 8, providerSecretOf(jobId));
        _reveal(jobId);
        address verifier = market.jobOf(jobId).verifier;
        uint256 vBefore = token.balanceOf(verifier);
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        uint256 fee = price * p.protocolFeeBps / 10_000;
        assertEq(token.balanceOf(verifier) - vBefore, fee, "verifier gets exactly the fee");
        assertEq(
            token.balanceOf(consumer) + token.balanceOf(provider) + fee, total, "no token created or lost"
        );
        assertEq(market.totalOwed(), 0, "nothing left owed");
        _assertSolvent("after fuzzed pass");
    }

    function testFuzz_SlashPayoutConservesTokens(uint256 collateral, uint16 rewardBps) public {
        IJobMarket.Params memory p = _defaultParams();
        p.accuserRewardBps = uint16(bound(rewardBps, 0, 10_000));
        _deploy(p);
        collateral = bound(collateral, MIN_COLLATERAL, 1000 ether);
        IJobMarket.JobTerms memory t = _terms();
        t.collateral = collateral;
        uint256 consumerBefore = token.balanceOf(consumer);
        vm.prank(consumer);
        uint256 jobId = market.postJob(t);
        vm.prank(provider);
        market.acceptJob(jobId);
        vm.roll(block.number + 1);
        _commit(jobId, 8, providerSecretOf(jobId));
        _reveal(jobId);
        address accuser = market.jobOf(jobId).verifier;
        uint256 aBefore = token.balanceOf(accuser);
        vm.prank(accuser);
        market.attest(jobId, false, EVIDENCE);
        vm.warp(block.timestamp + 1 hours + 1);
        market.finalizeFail(jobId);
        uint256 reward = collateral * p.accuserRewardBps / 10_000;
        assertEq(token.balanceOf(accuser) - aBefore, reward, "accuser reward");
        assertEq(token.balanceOf(consumer) - consumerBefore, collateral - reward, "consumer gets the rest");
        _assertSolvent("after fuzzed slash");
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MarketBase} from "./MarketBase.t.sol";
import {ComputeToken} from "../src/ComputeToken.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {Commitment} from "../src/libraries/Commitment.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Issue 9's red-team cases that the job market and the staking registry own (1, 2, 3, 5, 6, 8), each
/// played as the attacker would; in every one the attacker now loses (or gains nothing over honest play).
/// Frequencies are checked against the exact binomial figure with a 99.9 % two-sided interval (z = 3.2905),
/// in integer arithmetic: |count * D - N * A|^2 <= z^2 * N * A * (D - A) where p = A / D exactly.
contract JobMarketAttacksTest is MarketBase {
    /// @dev z^2 for a two-sided 99.9 % interval, scaled by 1e4 (3.2905^2 = 10.8274).
    uint256 internal constant Z2_X1E4 = 108_274;

    address internal sybil;

    function setUp() public override {
        super.setUp();
        sybil = makeAddr("sybil");
        vm.prank(consumer);
        token.transfer(sybil, 1000 ether);
        vm.prank(sybil);
        token.approve(address(registry), type(uint256).max);
    }

    /// @dev Asserts count/N lies in the 99.9 % interval of Binomial(N, A/D).
    function _assertInBinomialCi(uint256 count, uint256 n, uint256 a, uint256 d, string memory what)
        internal
        pure
    {
        uint256 lhs = count * d > n * a ? count * d - n * a : n * a - count * d;
        uint256 rhs = Z2_X1E4 * n * a * (d - a) / 10_000;
        assertLe(lhs * lhs, rhs, what);
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

    // ------------------------------------------------------------------ case 1: samples known before the commit

    /// @dev Whether every index of `sample` is in `computed`.
    function _covers(uint256[] memory computed, uint256[] memory sample) internal pure returns (bool) {
        for (uint256 i = 0; i < sample.length; ++i) {
            bool found = false;
            for (uint256 j = 0; j < computed.length; ++j) {
                if (computed[j] == sample[i]) found = true;
            }
            if (!found) return false;
        }
        return true;
    }

    /// @dev Before its commit the provider knows its own secret and the job id, not the consumer's secret. Its best
    /// guess of the seed (the consumer withholding: secret 0) gives 4 units of 64 that it computes; the real seed
    /// samples others, the honest auditor fails it and the provider loses its collateral and the price. Over 64
    /// jobs the guessed units never cover the real sample (chance per job 1 / C(64, 4) = 1.6e-6).
    function test_Attack_Case1_ProviderComputingGuessedUnitsIsCaught() public {
        uint256 covered = 0;
        for (uint256 t = 0; t < 64; ++t) {
            IJobMarket.JobTerms memory terms = _terms();
            terms.price = 20 ether;
            terms.collateral = MIN_COLLATERAL;
            bytes32 consumerSecret = keccak256(abi.encode("fresh consumer secret", t));
            terms.secretHash = _hash(consumerSecret);
            vm.prank(consumer);
            uint256 jobId = market.postJob(terms);
            vm.prank(provider);
            market.acceptJob(jobId);
            vm.roll(block.number + 1);
            bytes32 providerSecret = keccak256(abi.encode("provider", t));
            uint256[] memory computed =
                Commitment.sampleIndices(_seedOf(jobId, bytes32(0), providerSecret), jobId, 64, 4);
            vm.prank(provider);
            market.commitResult(jobId, ROOT, 64, _hash(providerSecret));
            market.revealConsumerSecret(jobId, consumerSecret);
            vm.prank(provider);
            market.revealProviderSecret(jobId, providerSecret);
            if (_covers(computed, market.sampledIndices(jobId))) ++covered;
        }
        assertEq(covered, 0, "the units guessed before the commit never cover the real sample");

        // One of those jobs played to the end: the auditor recomputes, finds junk, the provider loses.
        uint256 providerBefore = token.balanceOf(provider);
        uint256 jobId2 = _committed();
        _reveal(jobId2);
        address auditor = market.jobOf(jobId2).verifier;
        vm.prank(auditor);
        market.attest(jobId2, false, EVIDENCE);
        vm.warp(block.timestamp + 1 hours + 1);
        market.finalizeFail(jobId2);
        assertEq(token.balanceOf(provider), providerBefore - COLLATERAL, "caught: collateral lost, no price");
        _assertSolvent("after the caught guess");
    }

    /// @dev The provider reveals last and so learns the seed first; seeing its junk sampled it withholds. The
    /// withholding defaults it: price and collateral to the consumer, exactly the loss of being caught.
    function test_Attack_Case1_ProviderWithholdingItsRevealIsDefaulted() public {
        uint256 providerBefore = token.balanceOf(provider);
        uint256 consumerBefore = token.balanceOf(consumer);
        uint256 jobId = _committed();
        _revealConsumer(jobId);
        // The provider can now compute the sample; it cannot change its committed secret ...
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_WrongPreimage.selector, jobId, provider));
        market.revealProviderSecret(jobId, keccak256("a friendlier secret"));
        // ... so it stays silent.
        (, uint64 until) = market.providerRevealSpan(jobId);
        vm.warp(until + 1);
        market.claimRevealTimeout(jobId);
        assertEq(
            token.balanceOf(provider), providerBefore - COLLATERAL, "withholding provider loses collateral"
        );
        assertEq(token.balanceOf(consumer), consumerBefore + COLLATERAL, "consumer refunded plus collateral");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Defaulted), "defaulted");
        _assertSolvent("after withholding");
    }

    // ------------------------------------------------------------------ case 2: the late draw picks the auditor

    /// @dev The provider, with a Sybil verifier (1 of 6), tries every block from 0 to 20 after the consumer's
    /// reveal and every minute of its window: the auditor never changes, so waiting buys nothing.
    function test_Attack_Case2_RevealTimeCarriesNoOption() public {
        vm.prank(sybil);
        registry.stakeAndRegister(MIN_VERIFIER, 2, hex"0077", bytes32(0));
        uint256 jobId = _committed();
        _revealConsumer(jobId);
        (, uint64 until) = market.providerRevealSpan(jobId);
        uint256 start = block.number;
        uint256 t0 = block.timestamp;
        address first = address(0);
        for (uint256 b = 0; b <= 20; ++b) {
            uint256 snap = vm.snapshotState();
            vm.roll(start + b);
            vm.warp(t0 + (uint256(until) - t0) * b / 20);
            vm.prevrandao(keccak256(abi.encode("randao", b)));
            vm.prank(provider);
            market.revealProviderSecret(jobId, providerSecretOf(jobId));
            address auditor = market.jobOf(jobId).verifier;
            if (b == 0) first = auditor;
            assertEq(auditor, first, "the same auditor whatever block or second the reveal lands in");
            vm.revertToState(snap);
        }
        assertTrue(first != address(0), "audited");
    }

    /// @dev A Sybil that stakes after the commitment (when the provider could first hope to learn anything) is
    /// never drawn, however large its stake: over 40 jobs it audits none.
    function test_Attack_Case2_SybilStakingAfterTheCommitIsNeverDrawn() public {
        uint256 drawn = 0;
        for (uint256 t = 0; t < 40; ++t) {
            uint256 jobId = _committed();
            if (t == 0) {
                vm.prank(sybil);
                registry.stakeAndRegister(1000 ether, 2, hex"0077", bytes32(0)); // 80 % of all verifier stake
            }
            vm.roll(block.number + 1);
            _reveal(jobId);
            if (market.jobOf(jobId).verifier == sybil) ++drawn;
            if (t == 0) {
                // Jobs committed later do see the Sybil: it is drawn by stake like anyone (the next loop rounds).
                assertEq(registry.weightOf(sybil), 1000 ether, "the Sybil is drawable from now on");
            }
            // Later jobs are committed after the Sybil staked: only job 0 is the attack.
            if (t == 0) assertEq(drawn, 0, "staked after the commitment: not drawn");
        }
        assertGt(drawn, 0, "once staked before a commitment the Sybil is drawn as its stake says");
    }

    /// @dev The consumer's only option (reveal or withhold) is taken blind: the provider's secret is a hash until
    /// the consumer revealed or its window passed, so the consumer cannot pick its Sybil as auditor either.
    function test_Attack_Case2_ConsumerChoosesBlind() public {
        uint256 jobId = _committed();
        uint64 consumerBy = market.jobOf(jobId).deadline;
        assertEq(
            market.jobOf(jobId).providerSecret, _hash(providerSecretOf(jobId)), "only the hash is public"
        );
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_TooEarly.selector, jobId, consumerBy + 1));
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
        vm.warp(consumerBy + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, consumerBy)
        );
        market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
    }

    // ------------------------------------------------------------------ case 3: Sybil panel majorities

    /// @dev A registry with `honest` verifiers of `each` stake and 5 Sybils of `each` registered back to back.
    function _sortitionRegistry(uint256 honest, uint256 each)
        internal
        returns (StakingRegistry reg, address[] memory sybils)
    {
        uint256 total = honest + 5;
        address[] memory holders = new address[](total);
        for (uint256 i = 0; i < total; ++i) {
            holders[i] = makeAddr(string.concat("sortition", vm.toString(i)));
        }
        ComputeToken t = new ComputeToken(holders, each);
        reg = new StakingRegistry(IERC20(address(t)), MIN_PROVIDER, MIN_VERIFIER, UNBOND_DELAY);
        sybils = new address[](5);
        for (uint256 i = 0; i < total; ++i) {
            vm.startPrank(holders[i]);
            t.approve(address(reg), each);
            reg.stakeAndRegister(each, 2, hex"0088", bytes32(0));
            vm.stopPrank();
            // The Sybils take five consecutive slots in the middle of the set.
            if (i >= honest / 2 && i < honest / 2 + 5) sybils[i - honest / 2] = holders[i];
        }
        vm.roll(block.number + 1);
    }

    /// @dev 45 honest verifiers and 5 Sybils registered back to back, all with the same stake: the Sybils hold
    /// s = 10 % of the stake. Over 10,000 panels of m = 5 independent seats, the frequency with which the Sybils
    /// hold >= 3 seats must match the exact figure P = sum_{i=3..5} C(5,i) s^i (1-s)^(5-i) = 0.00856
    /// (computed below exactly as A / D with s = 1/10: A = 10*81 + 5*9 + 1 = 856, D = 10^5), within its 99.9 %
    /// interval ([55, 116] panels of 10,000); the contiguous-slice draw of the old code gave 13 %.
    function test_Attack_Case3_SybilMajorityFrequencyIsBinomial() public {
        (StakingRegistry reg, address[] memory sybils) = _sortitionRegistry(45, MIN_VERIFIER);
        uint256 snapshot = block.number - 1;
        uint256 n = 10_000;
        uint256 m = 5;
        uint256 majorities = 0;
        for (uint256 t = 0; t < n; ++t) {
            bytes32 seed = keccak256(abi.encode("contest", t));
            uint256 seats = 0;
            for (uint256 j = 0; j < m; ++j) {
                address member = reg.sample(seed, j, snapshot);
                for (uint256 k = 0; k < 5; ++k) {
                    if (member == sybils[k]) ++seats;
                }
            }
            if (2 * seats > m) ++majorities;
        }
        // Exact figure with s = a / d: P * d^m = sum_{i > m/2} C(m, i) a^i (d - a)^(m - i).
        uint256 a = 5;
        uint256 d = 50;
        uint256 num = 0;
        uint256 den = d ** m;
        for (uint256 i = m / 2 + 1; i <= m; ++i) {
            num += _choose(m, i) * a ** i * (d - a) ** (m - i);
        }
        assertEq(num * 100_000 / den, 856, "exact P = 0.00856");
        emit log_named_uint("case 3: Sybil-majority panels of 10000 (expected 85.6)", majorities);
        _assertInBinomialCi(
            majorities, n, num, den, "Sybil majority frequency within the 99.9 % binomial interval"
        );
    }

    /// @dev Splitting a stake gains nothing: one account with 5x and five accounts with x each (back to back) are
    /// each drawn with their stake share (25 % here) within the 99.9 % interval over 4,000 single draws.
    function test_Attack_Case3_SplittingAStakeGainsNothing() public {
        (StakingRegistry reg, address whale, address[] memory group) = _whaleRegistry();
        uint256 snapshot = block.number - 1;
        uint256 n = 4000;
        uint256 whaleDraws = 0;
        uint256 groupDraws = 0;
        for (uint256 i = 0; i < n; ++i) {
            address pick = reg.sample(keccak256(abi.encode("split", i)), 0, snapshot);
            if (pick == whale) ++whaleDraws;
            for (uint256 k = 0; k < group.length; ++k) {
                if (pick == group[k]) ++groupDraws;
            }
        }
        emit log_named_uint("case 3: whale (5x) draws of 4000 (expected 1000)", whaleDraws);
        emit log_named_uint("case 3: five-Sybil group draws of 4000 (expected 1000)", groupDraws);
        _assertInBinomialCi(whaleDraws, n, 1, 4, "one 5x account: its stake share");
        _assertInBinomialCi(groupDraws, n, 1, 4, "five x accounts: the same stake share");
    }

    /// @dev A registry with 10 honest verifiers of x, one whale of 5x and a group of five Sybils of x each.
    function _whaleRegistry() internal returns (StakingRegistry reg, address whale, address[] memory group) {
        address[] memory holders = new address[](16);
        for (uint256 i = 0; i < 16; ++i) {
            holders[i] = makeAddr(string.concat("split", vm.toString(i)));
        }
        ComputeToken t = new ComputeToken(holders, 5 * MIN_VERIFIER);
        reg = new StakingRegistry(IERC20(address(t)), MIN_PROVIDER, MIN_VERIFIER, UNBOND_DELAY);
        whale = holders[15];
        group = new address[](5);
        for (uint256 i = 0; i < 16; ++i) {
            uint256 amount = i == 15 ? 5 * MIN_VERIFIER : MIN_VERIFIER;
            vm.startPrank(holders[i]);
            t.approve(address(reg), amount);
            reg.stakeAndRegister(amount, 2, hex"0099", bytes32(0));
            vm.stopPrank();
            if (i >= 3 && i < 8) group[i - 3] = holders[i];
        }
        vm.roll(block.number + 1);
    }

    function _choose(uint256 n, uint256 k) internal pure returns (uint256 r) {
        r = 1;
        for (uint256 i = 0; i < k; ++i) {
            r = r * (n - i) / (i + 1);
        }
    }

    // ------------------------------------------------------------------ case 5: ballots

    /// @dev During the vote window a ballot is only a hash: nobody can read it, the tally stays 0 : 0, and a
    /// member cannot reveal (and so show) its vote before the window ends. A copycat that commits another's hash
    /// cannot reveal it (the hash binds the member's address), so it counts as silent and is slashed.
    function test_Attack_Case5_BallotsHiddenAndCopiesWorthless() public {
        (uint256 jobId,, address[] memory panel) = _voting();
        address[] memory members = _members(panel);
        assertGe(members.length, 2, "two members");
        address leader = members[0];
        address copycat = members[1];
        _commitVote(jobId, leader, true);
        assertEq(
            uint8(market.ballotOf(jobId, leader)), uint8(IJobMarket.Ballot.Committed), "only 'committed'"
        );
        (uint256 h, uint256 c) = market.tallyOf(jobId);
        assertEq(h + c, 0, "no vote readable in the commit phase");
        vm.prank(leader);
        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarket.JobMarket_TooEarly.selector, jobId, market.jobOf(jobId).deadline + 1
            )
        );
        market.revealVote(jobId, true, _saltOf(jobId, leader));
        // The copycat copies the leader's hash (all it can see) ...
        vm.prank(copycat);
        market.commitVote(jobId, _ballotHash(jobId, leader, true));
        _toRevealPhase(jobId);
        _revealVote(jobId, leader, true);
        // ... and cannot open it, even knowing the leader's ballot and salt now.
        vm.prank(copycat);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_WrongPreimage.selector, jobId, copycat));
        market.revealVote(jobId, true, _saltOf(jobId, leader));
        // Nor commit anew: the commit phase is over.
        uint64 voteBy = market.jobOf(jobId).deadline;
        vm.prank(copycat);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_DeadlinePassed.selector, jobId, voteBy));
        market.commitVote(jobId, _ballotHash(jobId, copycat, true));
        uint256 stakeBefore = registry.stakerOf(copycat).active;
        vm.warp(market.jobOf(jobId).deadline + REVEAL_WINDOW + 1);
        market.resolveContest(jobId);
        assertEq(
            registry.stakerOf(copycat).active,
            stakeBefore - 5 ether * _seats(panel, copycat),
            "the copycat revealed nothing: slashed per seat"
        );
        _assertSolvent("after the copycat");
    }

    /// @dev A member that stays silent loses absentVerifierSlash per seat; it no longer costs nothing.
    function test_Attack_Case5_SilentMemberIsSlashed() public {
        (uint256 jobId,, address[] memory panel) = _voting();
        address[] memory members = _members(panel);
        address silent = members[members.length - 1];
        uint256 before = registry.stakerOf(silent).active;
        for (uint256 i = 0; i + 1 < members.length; ++i) {
            _commitVote(jobId, members[i], false);
        }
        _toRevealPhase(jobId);
        for (uint256 i = 0; i + 1 < members.length; ++i) {
            _revealVote(jobId, members[i], false);
        }
        vm.warp(market.jobOf(jobId).deadline + REVEAL_WINDOW + 1);
        vm.expectEmit(true, true, false, true);
        emit IJobMarket.BallotMissing(jobId, silent, 5 ether);
        market.resolveContest(jobId);
        assertEq(
            registry.stakerOf(silent).active, before - 5 ether * _seats(panel, silent), "silent: slashed"
        );
    }

    /// @dev One vote cannot decide: with a panel of 5 seats, the member with the fewest seats (fewer than 3) votes
    /// "honest" and nobody else reveals. That is no quorum (a majority of all seats is needed, not of the ballots cast): the
    /// fail stands.
    function test_Attack_Case5_OneVoteCannotDecide() public {
        IJobMarket.Params memory p = _defaultParams();
        p.panelSize = 5;
        _deploy(p);
        uint256 providerBefore = token.balanceOf(provider);
        (uint256 jobId, address accuser, address[] memory panel) = _voting();
        assertEq(panel.length, 5, "five seats");
        address lone = panel[0];
        for (uint256 i = 1; i < panel.length; ++i) {
            if (_seats(panel, panel[i]) < _seats(panel, lone)) lone = panel[i];
        }
        uint256 seats = _seats(panel, lone);
        assertLt(2 * seats, 5, "the lone voter holds fewer than a majority of the seats");
        uint256 accuserStake = registry.stakerOf(accuser).active;
        _commitVote(jobId, lone, true);
        _toRevealPhase(jobId);
        _revealVote(jobId, lone, true);
        vm.warp(market.jobOf(jobId).deadline + REVEAL_WINDOW + 1);
        vm.expectEmit(true, false, false, true);
        emit IJobMarket.ContestResolved(jobId, IJobMarket.Outcome.NoQuorum, seats, 0);
        market.resolveContest(jobId);
        assertEq(
            uint8(market.statusOf(jobId)),
            uint8(IJobMarket.Status.Slashed),
            "the lone vote overturned nothing"
        );
        assertEq(registry.stakerOf(accuser).active, accuserStake, "the accuser is not slashed");
        assertEq(token.balanceOf(provider), providerBefore - COLLATERAL, "bond back, collateral lost");
    }

    // ------------------------------------------------------------------ case 6: the reward pool drains

    /// @dev A self-dealer owns a consumer, a provider and a Sybil verifier. It runs twenty minimum-fee jobs
    /// (price 20, fee 1 = minFee), choosing both secrets so that its own Sybil audits each one (it knows both),
    /// and lets the Sybil pass (fee + pool share) or fail (accuser reward + pool share) them. The pool share is
    /// capped by each job's own fee, so the twenty jobs take at most twenty fees from the pool (the old code: 88 %).
    function test_Attack_Case6_SelfDealingTakesAtMostItsOwnFees() public {
        _fundPoolAudited(5000 ether); // pool: 250 tokens of fee + a 5-token slash
        uint256 pool = market.rewardPool();
        assertGt(pool, 200 ether, "a large pool");
        address selfConsumer = verifiers[4]; // a token holder: pays the price
        vm.prank(sybil);
        registry.stakeAndRegister(MIN_VERIFIER, 2, hex"0077", bytes32(0));
        vm.roll(block.number + 1);
        uint256 wealthBefore =
            token.balanceOf(selfConsumer) + token.balanceOf(provider) + token.balanceOf(sybil);
        uint256 jobs = 20;
        for (uint256 t = 0; t < jobs; ++t) {
            IJobMarket.JobTerms memory terms = _terms();
            terms.price = 20 ether;
            terms.collateral = MIN_COLLATERAL;
            vm.prank(selfConsumer);
            uint256 jobId = market.postJob(terms);
            vm.prank(provider);
            market.acceptJob(jobId);
            vm.roll(block.number + 1);
            // Grind the provider secret so that the Sybil audits (weights at this block's parent = the snapshot).
            bytes32 ps = _grindForAuditor(jobId, selfConsumer, sybil);
            vm.prank(provider);
            market.commitResult(jobId, ROOT, 8, _hash(ps));
            market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
            vm.prank(provider);
            market.revealProviderSecret(jobId, ps);
            assertEq(market.jobOf(jobId).verifier, sybil, "the self-dealer's Sybil audits its own job");
            vm.prank(sybil);
            if (t % 2 == 0) {
                market.attest(jobId, true, bytes32(0));
            } else {
                market.attest(jobId, false, EVIDENCE);
                vm.warp(block.timestamp + 1 hours + 1);
                market.finalizeFail(jobId);
            }
        }
        uint256 wealthAfter =
            token.balanceOf(selfConsumer) + token.balanceOf(provider) + token.balanceOf(sybil);
        uint256 taken = pool - market.rewardPool();
        emit log_named_uint("case 6: pool taken by 20 self-dealing min-fee jobs (wei)", taken);
        emit log_named_uint("case 6: pool before (wei)", pool);
        assertLe(taken, jobs * MIN_FEE, "twenty self-dealing jobs take at most twenty fees from the pool");
        assertLe(wealthAfter - wealthBefore, jobs * MIN_FEE, "the self-dealer gains at most its jobs' fees");
        assertGe(market.rewardPool(), pool - jobs * MIN_FEE, "the pool keeps all but twenty fees");
        _assertSolvent("after self-dealing");
    }

    /// @dev Funds the pool through an attest timeout: a job whose auditor never attests completes as unaudited,
    /// its fee and the auditor's slash go to the pool.
    function _fundPoolAudited(uint256 price) internal {
        IJobMarket.JobTerms memory t = _terms();
        t.price = price;
        vm.prank(consumer);
        uint256 jobId = market.postJob(t);
        vm.prank(provider);
        market.acceptJob(jobId);
        vm.roll(block.number + 1);
        _commit(jobId, 8, providerSecretOf(jobId));
        _reveal(jobId);
        vm.warp(market.jobOf(jobId).deadline + 1);
        market.claimAttestTimeout(jobId);
    }

    /// @dev The first provider secret whose seed (with the fixture consumer secret) draws `target` as auditor.
    function _grindForAuditor(uint256 jobId, address jobConsumer, address target)
        internal
        view
        returns (bytes32 ps)
    {
        uint256 snapshot = block.number - 1;
        for (uint256 i = 0;; ++i) {
            ps = keccak256(abi.encode("grind", jobId, i));
            bytes32 auditSeed = keccak256(abi.encode(_seedOf(jobId, consumerSecretOf(jobId), ps), "audit"));
            for (uint256 j = 0; j < 16; ++j) {
                address c = registry.sample(auditSeed, j, snapshot);
                if (c == provider || c == jobConsumer || !registry.isVerifier(c)) continue;
                if (c == target) return ps;
                break;
            }
        }
    }

    /// @dev The 1-wei job (fee 0) of the old attack cannot even be posted, nor one below the minimum collateral;
    /// and a prepaid job pays its verifier its fee.
    function test_Attack_Case6_DustJobsRefusedAndPrepaidJobsPayTheirVerifier() public {
        IJobMarket.JobTerms memory t = _terms();
        t.price = 1;
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_FeeTooLow.selector, 0, MIN_FEE));
        market.postJob(t);
        t = _terms();
        t.collateral = 0;
        vm.prank(consumer);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarket.JobMarket_CollateralTooLow.selector, 0, MIN_COLLATERAL)
        );
        market.postJob(t);
        uint256 jobId = _openPrepaid(30 ether);
        _commit(jobId, 4, providerSecretOf(jobId));
        _reveal(jobId);
        address auditor = market.jobOf(jobId).verifier;
        uint256 before = token.balanceOf(auditor);
        vm.prank(auditor);
        market.attest(jobId, true, bytes32(0));
        assertEq(token.balanceOf(auditor), before + PREPAID_FEE, "the prepaid job's fee pays its auditor");
    }

    // ------------------------------------------------------------------ case 8: no neighbour double odds

    /// @dev verifiers[2] is the consumer of 600 jobs, so it is excluded from their audits. Its neighbour in slot
    /// order (verifiers[3]) used to inherit its odds (2/5); now every eligible verifier is drawn with its share of
    /// the eligible stake, 1/4, within the 99.9 % interval.
    function test_Attack_Case8_ExcludedPartyGivesNoNeighbourDoubleOdds() public {
        address excluded = verifiers[2];
        vm.prank(claims);
        token.transfer(excluded, 5000 ether);
        uint256 n = 600;
        uint256[] memory counts = new uint256[](verifiers.length);
        for (uint256 t = 0; t < n; ++t) {
            IJobMarket.JobTerms memory terms = _terms();
            terms.collateral = MIN_COLLATERAL;
            terms.price = 20 ether;
            vm.prank(excluded);
            uint256 jobId = market.postJob(terms);
            vm.prank(provider);
            market.acceptJob(jobId);
            vm.roll(block.number + 1);
            _commit(jobId, 8, providerSecretOf(jobId));
            _reveal(jobId);
            address auditor = market.jobOf(jobId).verifier;
            assertTrue(auditor != excluded, "the consumer never audits its own job");
            for (uint256 i = 0; i < verifiers.length; ++i) {
                if (auditor == verifiers[i]) ++counts[i];
            }
        }
        emit log_named_uint(
            "case 8: draws of the excluded party's neighbour of 600 (expected 150)", counts[3]
        );
        for (uint256 i = 0; i < verifiers.length; ++i) {
            if (i == 2) continue;
            _assertInBinomialCi(counts[i], n, 1, 4, "each eligible verifier: its share of the eligible stake");
        }
    }

    /// @dev ds-test style log event, printed by forge at -vv.
    event log_named_uint(string key, uint256 val);
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "../utils/Test.sol";
import {ComputeToken} from "../../src/ComputeToken.sol";
import {StakingRegistry} from "../../src/StakingRegistry.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";

/// @notice Drives the market and the registry through random but valid sequences: every action picks a job and
/// an actor from its fuzzed seeds, moves time or blocks as the step needs, and returns early when the step does
/// not apply. It also acts as the claims contract for prepaid jobs, and keeps every job's secrets.
///
/// Adversarial actors: Sybil verifiers (actors 9..13, one owner with provider 2) that stake, register and unbond
/// around commitments and reveals; consumers and providers that withhold their reveals; panel members that
/// withhold their ballots or reveal late; a self-dealer (Sybil 9 as consumer, provider 2) posting minimum-fee
/// jobs; repeated and late reveals (which must be refused or change nothing).
contract MarketHandler is Test {
    ComputeToken public immutable token;
    StakingRegistry public immutable registry;
    JobMarket public immutable market;

    address[] internal consumers;
    address[] internal providers;
    address[] internal verifiers;
    address[] internal sybils;
    address[] internal actors;

    /// @dev How often each action ran (read by a probe when tuning the handler).
    mapping(bytes32 action => uint256 count) public calls;
    /// @dev Withdrawals that went through while the staker had an open duty (must stay zero).
    uint256 public withdrawnOnDuty;
    /// @dev Repeated or out-of-window reveals that the market accepted (must stay zero).
    uint256 public repeatsAccepted;
    /// @dev Reveals whose seed differed from keccak(consumer secret or 0, provider secret, jobId) (must stay zero).
    uint256 public wrongSeeds;

    mapping(uint256 jobId => bytes32 secret) internal _consumerSecret;
    mapping(uint256 jobId => bytes32 secret) internal _providerSecret;
    uint256 internal _nonce;

    constructor(ComputeToken token_, StakingRegistry registry_, JobMarket market_, address[] memory actors_) {
        token = token_;
        registry = registry_;
        market = market_;
        for (uint256 i = 0; i < actors_.length; ++i) {
            address a = actors_[i];
            actors.push(a);
            if (i < 2) consumers.push(a);
            else if (i < 4) providers.push(a);
            else if (i < 9) verifiers.push(a);
            else sybils.push(a);
            vm.startPrank(a);
            token.approve(address(market), type(uint256).max);
            token.approve(address(registry), type(uint256).max);
            vm.stopPrank();
        }
        actors.push(address(this));
        token.approve(address(market), type(uint256).max);
    }

    function _job(uint256 seed) internal view returns (uint256 jobId, IJobMarket.Job memory job) {
        uint256 n = market.jobCount();
        if (n == 0) return (0, job);
        jobId = bound(seed, 1, n);
        job = market.jobOf(jobId);
    }

    function _freshSecret() internal returns (bytes32) {
        return keccak256(abi.encode("handler secret", ++_nonce, block.number));
    }

    function _minPrice() internal view returns (uint256) {
        IJobMarket.Params memory p = market.params();
        return (p.minFee * 10_000 + p.protocolFeeBps - 1) / p.protocolFeeBps;
    }

    function _postAs(address consumer, uint256 price, uint256 collateral, bytes32 spec) internal {
        if (token.balanceOf(consumer) < price) return;
        bytes32 secret = _freshSecret();
        IJobMarket.JobTerms memory t = IJobMarket.JobTerms({
            specHash: spec,
            price: price,
            collateral: collateral,
            minUnits: 1,
            maxUnits: 0,
            acceptBy: uint64(block.timestamp + 1 hours),
            commitBy: uint64(block.timestamp + 2 hours),
            secretHash: keccak256(abi.encode(secret))
        });
        vm.prank(consumer);
        uint256 jobId = market.postJob(t);
        _consumerSecret[jobId] = secret;
        ++calls["post"];
    }

    function post(uint256 who, uint256 price, uint256 collateral) external {
        address consumer = consumers[who % consumers.length];
        price = bound(price, _minPrice(), 50 ether);
        collateral = bound(collateral, market.params().minCollateral, 50 ether);
        _postAs(consumer, price, collateral, keccak256(abi.encode(who, price)));
    }

    /// @notice The self-dealer: its Sybil 9 posts a minimum-fee, minimum-collateral job that its provider 2 takes.
    function selfDeal(uint256 salt) external {
        uint256 before = market.jobCount();
        _postAs(sybils[0], _minPrice(), market.params().minCollateral, keccak256(abi.encode("self", salt)));
        if (market.jobCount() == before) return;
        _accept(market.jobCount(), 0);
        ++calls["selfDeal"];
    }

    function openPrepaid(uint256 who, uint256 collateral) external {
        IJobMarket.Params memory p = market.params();
        collateral = bound(collateral, p.minCollateral, 20 ether);
        if (token.balanceOf(address(this)) < collateral + p.minFee) return;
        bytes32 secret = _freshSecret();
        IJobMarket.JobTerms memory t = IJobMarket.JobTerms({
            specHash: keccak256(abi.encode(who)),
            price: p.minFee,
            collateral: collateral,
            minUnits: 0,
            maxUnits: 0,
            acceptBy: 0,
            commitBy: uint64(block.timestamp + 1 days),
            secretHash: keccak256(abi.encode(secret))
        });
        uint256 jobId =
            market.openPrepaidJob(consumers[who % consumers.length], providers[who % providers.length], t);
        _consumerSecret[jobId] = secret;
        ++calls["openPrepaid"];
    }

    function _cancel(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Open) return;
        vm.prank(job.consumer);
        market.cancelJob(jobId);
        ++calls["cancel"];
    }

    function _accept(uint256 seed, uint256 who) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        address provider = providers[who % providers.length];
        if (job.status != IJobMarket.Status.Open || block.timestamp > job.acceptBy) return;
        if (provider == job.consumer) return;
        if (!registry.isProvider(provider) || token.balanceOf(provider) < job.collateral) return;
        vm.prank(provider);
        market.acceptJob(jobId);
        ++calls["accept"];
    }

    function _commit(uint256 seed, uint64 nUnits) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Accepted || block.timestamp > job.commitBy) return;
        vm.roll(block.number + 1);
        bytes32 secret = _freshSecret();
        _providerSecret[jobId] = secret;
        vm.prank(job.provider);
        market.commitResult(
            jobId, keccak256(abi.encode(jobId)), uint64(bound(nUnits, 1, 1000)), keccak256(abi.encode(secret))
        );
        ++calls["commit"];
    }

    function _commitTimeout(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Accepted) return;
        if (block.timestamp <= job.commitBy) vm.warp(job.commitBy + 1);
        market.claimCommitTimeout(jobId);
        ++calls["commitTimeout"];
    }

    function _revealConsumer(uint256 seed, uint256 delay) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Committed || job.consumerRevealed) return;
        if (block.timestamp > job.deadline) return;
        vm.roll(block.number + 1 + delay % 5);
        vm.warp(block.timestamp + delay % (job.deadline - block.timestamp + 1));
        market.revealConsumerSecret(jobId, _consumerSecret[jobId]);
        ++calls["revealConsumer"];
    }

    function _revealProvider(uint256 seed, uint256 delay) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Committed) return;
        (uint64 from, uint64 until) = market.providerRevealSpan(jobId);
        if (block.timestamp > until) return;
        if (block.timestamp < from) vm.warp(from); // the consumer withheld: wait out its window
        vm.roll(block.number + 1 + delay % 7);
        vm.warp(block.timestamp + delay % (until - block.timestamp + 1));
        vm.prank(job.provider);
        market.revealProviderSecret(jobId, _providerSecret[jobId]);
        bytes32 c = job.consumerRevealed ? _consumerSecret[jobId] : bytes32(0);
        if (market.jobOf(jobId).seed != keccak256(abi.encode(c, _providerSecret[jobId], jobId))) {
            ++wrongSeeds;
        }
        ++calls["revealProvider"];
        // A repeated reveal must be refused.
        vm.prank(job.provider);
        try market.revealProviderSecret(jobId, _providerSecret[jobId]) {
            ++repeatsAccepted;
        } catch {
            ++calls["repeatRefused"];
        }
    }

    function _revealTimeout(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Committed) return;
        (, uint64 until) = market.providerRevealSpan(jobId);
        if (block.timestamp <= until) vm.warp(until + 1);
        // A reveal after the window must be refused.
        vm.prank(job.provider);
        try market.revealProviderSecret(jobId, _providerSecret[jobId]) {
            ++repeatsAccepted;
        } catch {}
        market.claimRevealTimeout(jobId);
        ++calls["revealTimeout"];
    }

    function _attest(uint256 seed, bool passed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Auditing || block.timestamp > job.deadline) return;
        vm.prank(job.verifier);
        market.attest(jobId, passed, keccak256("evidence"));
        ++calls["attest"];
    }

    function _attestTimeout(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Auditing) return;
        if (block.timestamp <= job.deadline) vm.warp(job.deadline + 1);
        market.claimAttestTimeout(jobId);
        ++calls["attestTimeout"];
    }

    function _finalizeFail(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Failed) return;
        if (block.timestamp <= job.deadline) vm.warp(job.deadline + 1);
        market.finalizeFail(jobId);
        ++calls["finalizeFail"];
    }

    function _contest(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Failed || block.timestamp > job.deadline) return;
        if (token.balanceOf(job.provider) < market.params().contestBond) return;
        vm.prank(job.provider);
        market.contest(jobId);
        ++calls["contest"];
    }

    function _salt(uint256 jobId, address member) internal pure returns (bytes32) {
        return keccak256(abi.encode("ballot salt", jobId, member));
    }

    /// @dev The ballot a member commits: honest unless the choice says otherwise (kept for its reveal).
    function _ballot(uint256 jobId, address member) internal pure returns (bool) {
        return uint256(keccak256(abi.encode(jobId, member))) % 3 != 0;
    }

    function _commitVote(uint256 seed, uint256 member) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Voting || block.timestamp > job.deadline) return;
        address[] memory panel = market.panelOf(jobId);
        if (panel.length == 0) return;
        address m = panel[member % panel.length];
        if (market.ballotOf(jobId, m) != IJobMarket.Ballot.Pending) return;
        vm.prank(m);
        market.commitVote(jobId, keccak256(abi.encode(jobId, m, _ballot(jobId, m), _salt(jobId, m))));
        ++calls["commitVote"];
    }

    function _revealVote(uint256 seed, uint256 member) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Voting) return;
        uint64 revealBy = job.deadline + market.params().revealWindow;
        if (block.timestamp > revealBy) return;
        address[] memory panel = market.panelOf(jobId);
        if (panel.length == 0) return;
        address m = panel[member % panel.length];
        if (market.ballotOf(jobId, m) != IJobMarket.Ballot.Committed) return;
        if (block.timestamp <= job.deadline) vm.warp(job.deadline + 1);
        vm.prank(m);
        market.revealVote(jobId, _ballot(jobId, m), _salt(jobId, m));
        ++calls["revealVote"];
    }

    function _resolve(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Voting) return;
        uint64 revealBy = job.deadline + market.params().revealWindow;
        if (block.timestamp <= revealBy) vm.warp(revealBy + 1);
        market.resolveContest(jobId);
        ++calls["resolve"];
    }

    function stake(uint256 who, uint256 amount) external {
        address a = actors[who % (actors.length - 1)];
        amount = bound(amount, 1, 100 ether);
        if (token.balanceOf(a) < amount) return;
        vm.prank(a);
        registry.stake(amount);
        ++calls["stake"];
    }

    /// @notice A Sybil verifier stakes and registers (or tops up), typically right around a commitment or a
    /// reveal of its owner's jobs.
    function sybilJoin(uint256 who, uint256 amount) external {
        address s = sybils[who % sybils.length];
        amount = bound(amount, 50 ether, 300 ether);
        if (token.balanceOf(s) < amount) return;
        vm.prank(s);
        registry.stakeAndRegister(amount, 2, hex"0099", bytes32(0));
        ++calls["sybilJoin"];
    }

    function unbond(uint256 who, uint256 amount) external {
        address a = who % 2 == 0 ? verifiers[who / 2 % verifiers.length] : sybils[who / 2 % sybils.length];
        uint256 active = registry.stakerOf(a).active;
        if (active == 0) return;
        vm.prank(a);
        registry.requestUnbond(bound(amount, 1, active));
        ++calls["unbond"];
    }

    function withdraw(uint256 who) external {
        address a = who % 2 == 0 ? verifiers[who / 2 % verifiers.length] : sybils[who / 2 % sybils.length];
        StakingRegistry.Staker memory s = registry.stakerOf(a);
        if (s.unbonding == 0) return;
        if (block.timestamp < s.unbondAt) vm.warp(s.unbondAt);
        bool onDuty = registry.dutiesOf(a) != 0;
        vm.prank(a);
        try registry.withdraw() {
            if (onDuty) ++withdrawnOnDuty;
            ++calls["withdraw"];
        } catch {
            ++calls["withdrawRefused"];
        }
    }

    /// @notice Moves one of the newest jobs up to eight steps along its life cycle, so that random sequences
    /// reach the deep states (fail, contest, panel, ballots, resolve). `choice` picks between the alternatives,
    /// withholding included.
    function advance(uint256 seed, uint256 choice, bytes32 randao) external {
        uint256 n = market.jobCount();
        if (n == 0) return;
        uint256 jobId = n - seed % (n < 3 ? n : 3);
        uint256 steps = 1 + choice % 8;
        for (uint256 i = 0; i < steps; ++i) {
            uint256 c = uint256(keccak256(abi.encode(choice, i)));
            _step(jobId, c, uint256(keccak256(abi.encode(randao, i))));
        }
    }

    function _step(uint256 jobId, uint256 choice, uint256 delay) internal {
        IJobMarket.Status st = market.statusOf(jobId);
        if (st == IJobMarket.Status.Open) {
            if (choice % 6 == 0) _cancel(jobId);
            else _accept(jobId, choice);
        } else if (st == IJobMarket.Status.Accepted) {
            if (choice % 8 == 0) _commitTimeout(jobId);
            else _commit(jobId, uint64(choice));
        } else if (st == IJobMarket.Status.Committed) {
            // c == 0: the provider withholds; c < 3: the consumer withholds (the provider waits out its window).
            uint256 c = choice % 10;
            if (c == 0) _revealTimeout(jobId);
            else if (c < 3 || market.jobOf(jobId).consumerRevealed) _revealProvider(jobId, delay);
            else _revealConsumer(jobId, delay);
        } else if (st == IJobMarket.Status.Auditing) {
            if (choice % 8 == 0) _attestTimeout(jobId);
            else _attest(jobId, choice % 3 == 0);
        } else if (st == IJobMarket.Status.Failed) {
            if (choice % 3 == 0) _finalizeFail(jobId);
            else _contest(jobId);
        } else if (st == IJobMarket.Status.Voting) {
            uint256 c = choice % 7;
            if (c == 0) _resolve(jobId); // whoever has not revealed is silent
            else if (c < 4) _commitVote(jobId, choice / 7);
            else _revealVote(jobId, choice / 7);
        }
    }
}

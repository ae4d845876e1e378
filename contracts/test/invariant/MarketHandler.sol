// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "../utils/Test.sol";
import {ComputeToken} from "../../src/ComputeToken.sol";
import {StakingRegistry} from "../../src/StakingRegistry.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";

/// @notice Drives the market and the registry through random but valid sequences: every action picks a job and
/// an actor from its fuzzed seeds, moves time or blocks as the step needs, and returns early when the step does
/// not apply. It also acts as the claims contract for prepaid jobs.
contract MarketHandler is Test {
    ComputeToken public immutable token;
    StakingRegistry public immutable registry;
    JobMarket public immutable market;

    address[] internal consumers;
    address[] internal providers;
    address[] internal verifiers;
    address[] internal actors;

    /// @dev How often each action ran (read by a probe when tuning the handler).
    mapping(bytes32 action => uint256 count) public calls;
    /// @dev Withdrawals that went through while the staker had an open duty (must stay zero).
    uint256 public withdrawnOnDuty;

    constructor(ComputeToken token_, StakingRegistry registry_, JobMarket market_, address[] memory actors_) {
        token = token_;
        registry = registry_;
        market = market_;
        for (uint256 i = 0; i < actors_.length; ++i) {
            address a = actors_[i];
            actors.push(a);
            if (i < 2) consumers.push(a);
            else if (i < 4) providers.push(a);
            else verifiers.push(a);
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

    function _nextBlock(bytes32 randao) internal {
        vm.roll(block.number + 1);
        vm.prevrandao(randao);
    }

    function post(uint256 who, uint256 price, uint256 collateral) external {
        address consumer = consumers[who % consumers.length];
        price = bound(price, 1, 50 ether);
        if (token.balanceOf(consumer) < price) return;
        IJobMarket.JobTerms memory t = IJobMarket.JobTerms({
            specHash: keccak256(abi.encode(who, price)),
            price: price,
            collateral: bound(collateral, 0, 50 ether),
            minUnits: 1,
            maxUnits: 0,
            acceptBy: uint64(block.timestamp + 1 hours),
            commitBy: uint64(block.timestamp + 2 hours)
        });
        vm.prank(consumer);
        market.postJob(t);
        ++calls["post"];
    }

    function openPrepaid(uint256 who, uint256 collateral) external {
        collateral = bound(collateral, 0, 20 ether);
        if (token.balanceOf(address(this)) < collateral) return;
        market.openPrepaidJob(
            consumers[who % consumers.length],
            providers[who % providers.length],
            keccak256(abi.encode(who)),
            collateral
        );
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
        if (!registry.isProvider(provider) || token.balanceOf(provider) < job.collateral) return;
        vm.prank(provider);
        market.acceptJob(jobId);
        ++calls["accept"];
    }

    function _commit(uint256 seed, uint64 nUnits) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Accepted || block.timestamp > job.commitBy) return;
        vm.prank(job.provider);
        market.commitResult(jobId, keccak256(abi.encode(jobId)), uint64(bound(nUnits, 1, 1000)));
        ++calls["commit"];
    }

    function _commitTimeout(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Accepted) return;
        if (block.timestamp <= job.commitBy) vm.warp(job.commitBy + 1);
        market.claimCommitTimeout(jobId);
        ++calls["commitTimeout"];
    }

    function _drawAudit(uint256 seed, bytes32 randao) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Committed) return;
        // One to three blocks later: with drawWindowBlocks = 1 some draws are late (audited for certain).
        vm.roll(block.number + 1 + uint256(randao) % 3);
        vm.prevrandao(randao);
        market.drawAudit(jobId);
        ++calls["drawAudit"];
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

    function _drawPanel(uint256 seed, bytes32 randao) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Contested) return;
        _nextBlock(randao);
        market.drawPanel(jobId);
        ++calls["drawPanel"];
    }

    function _vote(uint256 seed, uint256 member, bool honest) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Voting || block.timestamp > job.deadline) return;
        address[] memory panel = market.panelOf(jobId);
        if (panel.length == 0) return;
        address m = panel[member % panel.length];
        if (market.ballotOf(jobId, m) != IJobMarket.Ballot.Pending) return;
        vm.prank(m);
        market.vote(jobId, honest);
        ++calls["vote"];
    }

    function _resolve(uint256 seed) internal {
        (uint256 jobId, IJobMarket.Job memory job) = _job(seed);
        if (job.status != IJobMarket.Status.Voting) return;
        if (block.timestamp <= job.deadline) vm.warp(job.deadline + 1);
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

    function unbond(uint256 who, uint256 amount) external {
        address a = verifiers[who % verifiers.length];
        uint256 active = registry.stakerOf(a).active;
        if (active == 0) return;
        vm.prank(a);
        registry.requestUnbond(bound(amount, 1, active));
        ++calls["unbond"];
    }

    function withdraw(uint256 who) external {
        address a = verifiers[who % verifiers.length];
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
    /// reach the deep states (fail, contest, panel, vote, resolve). `choice` picks between the alternatives.
    function advance(uint256 seed, uint256 choice, bytes32 randao) external {
        uint256 n = market.jobCount();
        if (n == 0) return;
        uint256 jobId = n - seed % (n < 3 ? n : 3);
        uint256 steps = 1 + choice % 8;
        for (uint256 i = 0; i < steps; ++i) {
            uint256 c = uint256(keccak256(abi.encode(choice, i)));
            _step(jobId, c, keccak256(abi.encode(randao, i)));
        }
    }

    function _step(uint256 jobId, uint256 choice, bytes32 randao) internal {
        IJobMarket.Status st = market.statusOf(jobId);
        if (st == IJobMarket.Status.Open) {
            if (choice % 6 == 0) _cancel(jobId);
            else _accept(jobId, choice);
        } else if (st == IJobMarket.Status.Accepted) {
            if (choice % 8 == 0) _commitTimeout(jobId);
            else _commit(jobId, uint64(choice));
        } else if (st == IJobMarket.Status.Committed) {
            _drawAudit(jobId, randao);
        } else if (st == IJobMarket.Status.Auditing) {
            if (choice % 8 == 0) _attestTimeout(jobId);
            else _attest(jobId, choice % 3 == 0);
        } else if (st == IJobMarket.Status.Failed) {
            if (choice % 3 == 0) _finalizeFail(jobId);
            else _contest(jobId);
        } else if (st == IJobMarket.Status.Contested) {
            _drawPanel(jobId, randao);
        } else if (st == IJobMarket.Status.Voting) {
            if (choice % 5 == 0) _resolve(jobId);
            else _vote(jobId, choice / 5, choice % 2 == 0);
        }
    }
}

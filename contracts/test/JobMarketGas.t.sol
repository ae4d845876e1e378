// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MarketBase} from "./MarketBase.t.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";

/// @dev The part of forge's cheatcodes that reads the gas of the last call (not in the shared Vm.sol).
interface VmGas {
    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    function lastCallGas() external view returns (Gas memory);
}

/// @notice Whole job life cycles for gas measurement (`scripts/bench gas`). Every market or registry call is
/// followed by `_gas(name)`, which logs the call's gas and adds it to the life cycle's total; run with
/// `forge test --isolate -vv` so that each call is its own transaction (cold storage, intrinsic gas included).
/// Each test also checks its outcome.
contract JobMarketGasTest is MarketBase {
    /// @dev ds-test style log events, printed by forge at -vv.
    event log_named_uint(string key, uint256 val);

    VmGas private constant VM_GAS = VmGas(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 private _total;

    function _gas(string memory name) internal {
        uint256 used = VM_GAS.lastCallGas().gasTotalUsed;
        _total += used;
        emit log_named_uint(string.concat("op ", name), used);
    }

    function _lifecycle(string memory name) internal {
        emit log_named_uint(string.concat("lifecycle ", name), _total);
        _total = 0;
    }

    function _postG() internal returns (uint256 jobId) {
        IJobMarket.JobTerms memory t = _terms();
        vm.prank(consumer);
        jobId = market.postJob(t);
        _gas("postJob");
        vm.prank(provider);
        market.acceptJob(jobId);
        _gas("acceptJob");
        vm.roll(block.number + 1);
        _commitG(jobId);
    }

    function _commitG(uint256 jobId) internal {
        vm.prank(provider);
        market.commitResult(jobId, ROOT, 8, _hash(providerSecretOf(jobId)));
        _gas("commitResult");
    }

    /// @dev Both reveals; the provider's draws the audit.
    function _revealG(uint256 jobId, string memory name) internal returns (address verifier) {
        vm.roll(block.number + 1);
        vm.prank(consumer);
        market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
        _gas("revealConsumerSecret");
        vm.prank(provider);
        market.revealProviderSecret(jobId, providerSecretOf(jobId));
        _gas(name);
        verifier = market.jobOf(jobId).verifier;
    }

    function _failG() internal returns (uint256 jobId) {
        jobId = _postG();
        address verifier = _revealG(jobId, "revealProviderSecret(audited)");
        vm.prank(verifier);
        market.attest(jobId, false, EVIDENCE);
        _gas("attest(fail)");
    }

    function _contestG(uint256 jobId, bool honest) internal {
        vm.prank(provider);
        market.contest(jobId);
        _gas("contest(draws panel)");
        address[] memory members = _members(market.panelOf(jobId));
        for (uint256 i = 0; i < members.length; ++i) {
            vm.prank(members[i]);
            market.commitVote(jobId, _ballotHash(jobId, members[i], honest));
            _gas("commitVote");
        }
        _toRevealPhase(jobId);
        for (uint256 i = 0; i < members.length; ++i) {
            vm.prank(members[i]);
            market.revealVote(jobId, honest, _saltOf(jobId, members[i]));
            _gas("revealVote");
        }
    }

    function test_GasLifecycleHonestUnaudited() public {
        IJobMarket.Params memory p = _defaultParams();
        p.auditProbabilityBps = 0;
        _deploy(p);
        uint256 jobId = _postG();
        _revealG(jobId, "revealProviderSecret(not audited, pays)");
        _lifecycle("honest, not audited");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Completed), "completed unaudited");
    }

    function _honestAuditedG(string memory name) internal returns (uint256 jobId, uint256 total) {
        jobId = _postG();
        address verifier = _revealG(jobId, "revealProviderSecret(audited)");
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        _gas("attest(pass, pays)");
        total = _total;
        _lifecycle(name);
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Completed), "completed audited");
    }

    /// @dev The first job of a fresh market also pays one-time costs (jobCount, totalOwed and the market's token
    /// balance go from zero to non-zero); the second is what a job costs on a running market.
    function test_GasLifecycleHonestAudited() public {
        (, uint256 first) = _honestAuditedG("honest, audited (first job of a fresh market)");
        vm.roll(block.number + 1);
        (, uint256 steady) = _honestAuditedG("honest, audited");
        assertLt(steady, first, "one-time costs paid by the first job only");
        assertLt(first, 700_000, "the honest audited job stays under 700k gas (issue 9), even the first one");
    }

    function test_GasLifecycleCheatSlashed() public {
        uint256 jobId = _failG();
        vm.warp(block.timestamp + 1 hours + 1);
        market.finalizeFail(jobId);
        _gas("finalizeFail");
        _lifecycle("cheat, slashed (uncontested)");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Slashed), "slashed");
    }

    function test_GasLifecycleContestUpheld() public {
        uint256 jobId = _failG();
        _contestG(jobId, false);
        market.resolveContest(jobId);
        _gas("resolveContest(upheld)");
        _lifecycle("cheat, contest lost");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Slashed), "contest lost");
    }

    function test_GasLifecycleContestOverturned() public {
        uint256 jobId = _failG();
        _contestG(jobId, true);
        market.resolveContest(jobId);
        _gas("resolveContest(overturned)");
        _lifecycle("false accusation, contest won");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Completed), "contest won");
    }

    function test_GasLifecycleDefault() public {
        IJobMarket.JobTerms memory t = _terms();
        vm.prank(consumer);
        uint256 jobId = market.postJob(t);
        _gas("postJob");
        vm.prank(provider);
        market.acceptJob(jobId);
        _gas("acceptJob");
        vm.warp(block.timestamp + 2 hours + 1);
        market.claimCommitTimeout(jobId);
        _gas("claimCommitTimeout");
        _lifecycle("provider never commits");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Defaulted), "defaulted");
    }

    function test_GasLifecycleRevealWithheld() public {
        uint256 jobId = _postG();
        vm.prank(consumer);
        market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
        _gas("revealConsumerSecret");
        (, uint64 until) = market.providerRevealSpan(jobId);
        vm.warp(until + 1);
        market.claimRevealTimeout(jobId);
        _gas("claimRevealTimeout");
        _lifecycle("provider withholds its reveal");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Defaulted), "defaulted");
    }

    function test_GasLifecyclePrepaidHonest() public {
        IJobMarket.JobTerms memory t = _prepaidTerms(30 ether);
        vm.prank(claims);
        uint256 jobId = market.openPrepaidJob(consumer, provider, t);
        _gas("openPrepaidJob");
        vm.roll(block.number + 1);
        _commitG(jobId);
        address verifier = _revealG(jobId, "revealProviderSecret(audited)");
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        _gas("attest(pass, pays)");
        _lifecycle("prepaid (claim), honest, audited");
        assertEq(uint8(market.statusOf(jobId)), uint8(IJobMarket.Status.Completed), "prepaid completed");
    }

    function test_GasStakeUnbondWithdraw() public {
        address who = makeAddr("newcomer");
        vm.prank(consumer);
        token.transfer(who, MIN_VERIFIER);
        vm.prank(who);
        token.approve(address(registry), MIN_VERIFIER);
        vm.prank(who);
        registry.stakeAndRegister(MIN_VERIFIER, 2, hex"0044", bytes32(0));
        _gas("stakeAndRegister");
        vm.prank(who);
        registry.requestUnbond(MIN_VERIFIER);
        _gas("requestUnbond");
        vm.warp(block.timestamp + UNBOND_DELAY);
        vm.prank(who);
        registry.withdraw();
        _gas("withdraw");
        _lifecycle("verifier stake, unbond, withdraw");
        assertEq(token.balanceOf(who), MIN_VERIFIER, "stake returned");
    }
}

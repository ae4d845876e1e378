// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {ComputeToken} from "../src/ComputeToken.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Shared fixture: a token, a registry, a market with p = 100% and a handful of staked actors, and
/// helpers for the commit-reveal life cycle. Secrets are deterministic: the consumer's is `consumerSecretOf(jobId)`
/// (its hash goes into the posted terms), the provider's `providerSecretOf(jobId)` unless a test passes its own.
abstract contract MarketBase is Test {
    uint256 internal constant MIN_PROVIDER = 100 ether;
    uint256 internal constant MIN_VERIFIER = 50 ether;
    uint64 internal constant UNBOND_DELAY = 7 days;
    uint256 internal constant PRICE = 100 ether;
    uint256 internal constant COLLATERAL = 200 ether;
    uint256 internal constant BOND = 10 ether;
    uint256 internal constant MIN_FEE = 1 ether;
    uint256 internal constant MIN_COLLATERAL = 1 ether;
    uint256 internal constant PREPAID_FEE = 2 ether;
    uint32 internal constant REVEAL_WINDOW = 30 minutes;
    bytes32 internal constant SPEC = keccak256("spec");
    bytes32 internal constant ROOT = keccak256("root");
    bytes32 internal constant EVIDENCE = keccak256("evidence");

    ComputeToken internal token;
    StakingRegistry internal registry;
    JobMarket internal market;

    address internal consumer;
    address internal provider;
    address internal claims;
    address[] internal verifiers;
    address[] internal everyone;
    /// @dev The registry's unbond delay at the next `_deploy` (a test may shorten it before `setUp`).
    uint64 internal unbondDelay = UNBOND_DELAY;

    function _defaultParams() internal pure returns (IJobMarket.Params memory p) {
        p = IJobMarket.Params({
            auditProbabilityBps: 10_000,
            protocolFeeBps: 500,
            accuserRewardBps: 5000,
            poolShareBps: 1000,
            samplesK: 4,
            panelSize: 3,
            attestWindow: 1 hours,
            contestWindow: 1 hours,
            voteWindow: 1 hours,
            revealWindow: REVEAL_WINDOW,
            contestBond: BOND,
            falseAccuserSlash: 20 ether,
            absentVerifierSlash: 5 ether,
            minFee: MIN_FEE,
            minCollateral: MIN_COLLATERAL
        });
    }

    function setUp() public virtual {
        consumer = makeAddr("consumer");
        provider = makeAddr("provider");
        claims = makeAddr("claims");
        for (uint256 i = 0; i < 5; ++i) {
            verifiers.push(makeAddr(string.concat("verifier", vm.toString(i))));
        }
        everyone.push(consumer);
        everyone.push(provider);
        everyone.push(claims);
        for (uint256 i = 0; i < verifiers.length; ++i) {
            everyone.push(verifiers[i]);
        }
        token = new ComputeToken(everyone, 10_000 ether);
        _deploy(_defaultParams());
    }

    /// @dev (Re)deploys registry and market with `p`, stakes the provider and all verifiers, approves, and moves
    /// to the next block so that the stakes are in every later snapshot.
    function _deploy(IJobMarket.Params memory p) internal {
        registry = new StakingRegistry(IERC20(address(token)), MIN_PROVIDER, MIN_VERIFIER, unbondDelay);
        market = new JobMarket(IERC20(address(token)), IStakingRegistry(address(registry)), p);
        registry.setMarket(address(market));
        market.setClaims(claims);
        for (uint256 i = 0; i < everyone.length; ++i) {
            vm.startPrank(everyone[i]);
            token.approve(address(market), type(uint256).max);
            token.approve(address(registry), type(uint256).max);
            vm.stopPrank();
        }
        vm.prank(provider);
        registry.stakeAndRegister(MIN_PROVIDER, 1, hex"0011", keccak256("advert"));
        for (uint256 i = 0; i < verifiers.length; ++i) {
            vm.prank(verifiers[i]);
            registry.stakeAndRegister(MIN_VERIFIER, 2, hex"0022", bytes32(0));
        }
        vm.roll(block.number + 1);
    }

    // ------------------------------------------------------------------ secrets

    function _hash(bytes32 secret) internal pure returns (bytes32) {
        return keccak256(abi.encode(secret));
    }

    /// @dev One consumer secret for every fixture job (the seed still differs per job id and provider secret);
    /// a pure function so that `_terms()` can be built inside a `vm.prank` without consuming it.
    function consumerSecretOf(uint256) internal pure returns (bytes32) {
        return keccak256("consumer secret");
    }

    function providerSecretOf(uint256 jobId) internal pure returns (bytes32) {
        return keccak256(abi.encode("provider secret", jobId));
    }

    /// @dev The seed the market derives once both secrets are revealed (zero: the consumer withheld).
    function _seedOf(uint256 jobId, bytes32 consumerSecret, bytes32 providerSecret)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(consumerSecret, providerSecret, jobId));
    }

    function _saltOf(uint256 jobId, address member) internal pure returns (bytes32) {
        return keccak256(abi.encode("salt", jobId, member));
    }

    function _ballotHash(uint256 jobId, address member, bool honest) internal pure returns (bytes32) {
        return keccak256(abi.encode(jobId, member, honest, _saltOf(jobId, member)));
    }

    // ------------------------------------------------------------------ life cycle

    /// @dev Terms of the next posted job.
    function _terms() internal view returns (IJobMarket.JobTerms memory) {
        return IJobMarket.JobTerms({
            specHash: SPEC,
            price: PRICE,
            collateral: COLLATERAL,
            minUnits: 1,
            maxUnits: 64,
            acceptBy: uint64(block.timestamp + 1 hours),
            commitBy: uint64(block.timestamp + 2 hours),
            secretHash: _hash(consumerSecretOf(0))
        });
    }

    /// @dev Terms of the next prepaid job: the fee is its price, commitBy one day ahead.
    function _prepaidTerms(uint256 collateral) internal view returns (IJobMarket.JobTerms memory t) {
        t = _terms();
        t.price = PREPAID_FEE;
        t.collateral = collateral;
        t.acceptBy = 0;
        t.commitBy = uint64(block.timestamp + 1 days);
    }

    function _openPrepaid(uint256 collateral) internal returns (uint256 jobId) {
        IJobMarket.JobTerms memory t = _prepaidTerms(collateral);
        vm.prank(claims);
        jobId = market.openPrepaidJob(consumer, provider, t);
        vm.roll(block.number + 1);
    }

    function _post() internal returns (uint256 jobId) {
        IJobMarket.JobTerms memory t = _terms();
        vm.prank(consumer);
        jobId = market.postJob(t);
    }

    /// @dev Posted and accepted; the commit will land in the next block.
    function _accepted() internal returns (uint256 jobId) {
        jobId = _post();
        vm.prank(provider);
        market.acceptJob(jobId);
        vm.roll(block.number + 1);
    }

    function _commit(uint256 jobId, uint64 nUnits, bytes32 providerSecret) internal {
        vm.prank(provider);
        market.commitResult(jobId, ROOT, nUnits, _hash(providerSecret));
    }

    function _committed() internal returns (uint256 jobId) {
        jobId = _accepted();
        _commit(jobId, 8, providerSecretOf(jobId));
    }

    function _revealConsumer(uint256 jobId) internal {
        vm.prank(consumer);
        market.revealConsumerSecret(jobId, consumerSecretOf(jobId));
    }

    /// @dev Both reveals, the consumer's first: the provider's reveal draws the audit.
    function _reveal(uint256 jobId) internal {
        _revealWith(jobId, providerSecretOf(jobId));
    }

    function _revealWith(uint256 jobId, bytes32 providerSecret) internal {
        _revealConsumer(jobId);
        vm.prank(provider);
        market.revealProviderSecret(jobId, providerSecret);
    }

    function _auditing() internal returns (uint256 jobId, address verifier) {
        jobId = _committed();
        _reveal(jobId);
        verifier = market.jobOf(jobId).verifier;
    }

    function _failed() internal returns (uint256 jobId, address accuser) {
        (jobId, accuser) = _auditing();
        vm.prank(accuser);
        market.attest(jobId, false, EVIDENCE);
    }

    function _voting() internal returns (uint256 jobId, address accuser, address[] memory panel) {
        (jobId, accuser) = _failed();
        vm.prank(provider);
        market.contest(jobId);
        panel = market.panelOf(jobId);
    }

    /// @dev Distinct members of a panel, in first-seat order.
    function _members(address[] memory panel) internal pure returns (address[] memory members) {
        address[] memory tmp = new address[](panel.length);
        uint256 n = 0;
        for (uint256 i = 0; i < panel.length; ++i) {
            bool seen = false;
            for (uint256 j = 0; j < n; ++j) {
                if (tmp[j] == panel[i]) seen = true;
            }
            if (!seen) tmp[n++] = panel[i];
        }
        members = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            members[i] = tmp[i];
        }
    }

    function _seats(address[] memory panel, address member) internal pure returns (uint256 seats) {
        for (uint256 i = 0; i < panel.length; ++i) {
            if (panel[i] == member) ++seats;
        }
    }

    function _commitVote(uint256 jobId, address member, bool honest) internal {
        vm.prank(member);
        market.commitVote(jobId, _ballotHash(jobId, member, honest));
    }

    function _revealVote(uint256 jobId, address member, bool honest) internal {
        vm.prank(member);
        market.revealVote(jobId, honest, _saltOf(jobId, member));
    }

    /// @dev Moves past the ballot-commit window into the reveal phase.
    function _toRevealPhase(uint256 jobId) internal {
        uint64 voteBy = market.jobOf(jobId).deadline;
        if (block.timestamp <= voteBy) vm.warp(voteBy + 1);
    }

    /// @dev Every distinct member commits then reveals `honest`.
    function _allVote(uint256 jobId, bool honest) internal {
        address[] memory members = _members(market.panelOf(jobId));
        for (uint256 i = 0; i < members.length; ++i) {
            _commitVote(jobId, members[i], honest);
        }
        _toRevealPhase(jobId);
        for (uint256 i = 0; i < members.length; ++i) {
            _revealVote(jobId, members[i], honest);
        }
    }

    function _assertSolvent(string memory where) internal view {
        assertEq(
            token.balanceOf(address(market)),
            market.totalOwed(),
            string.concat(where, ": market balance == owed")
        );
        assertEq(
            token.balanceOf(address(registry)),
            registry.totalStaked(),
            string.concat(where, ": registry == staked")
        );
    }

    function _fee() internal view returns (uint256) {
        return PRICE * market.params().protocolFeeBps / 10_000;
    }
}

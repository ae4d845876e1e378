// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {ComputeToken} from "../src/ComputeToken.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Shared fixture: a token, a registry, a market with p = 100% and a handful of staked actors.
abstract contract MarketBase is Test {
    uint256 internal constant MIN_PROVIDER = 100 ether;
    uint256 internal constant MIN_VERIFIER = 50 ether;
    uint64 internal constant UNBOND_DELAY = 7 days;
    uint256 internal constant PRICE = 100 ether;
    uint256 internal constant COLLATERAL = 200 ether;
    uint256 internal constant BOND = 10 ether;
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
            prepaidCommitWindow: 1 days,
            drawWindowBlocks: 1,
            contestBond: BOND,
            falseAccuserSlash: 20 ether,
            absentVerifierSlash: 5 ether
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

    /// @dev (Re)deploys registry and market with `p`, stakes the provider and all verifiers, approves.
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
    }

    function _terms() internal view returns (IJobMarket.JobTerms memory) {
        return IJobMarket.JobTerms({
            specHash: SPEC,
            price: PRICE,
            collateral: COLLATERAL,
            minUnits: 1,
            maxUnits: 64,
            acceptBy: uint64(block.timestamp + 1 hours),
            commitBy: uint64(block.timestamp + 2 hours)
        });
    }

    function _post() internal returns (uint256 jobId) {
        vm.prank(consumer);
        jobId = market.postJob(_terms());
    }

    function _accepted() internal returns (uint256 jobId) {
        jobId = _post();
        vm.prank(provider);
        market.acceptJob(jobId);
    }

    function _committed() internal returns (uint256 jobId) {
        jobId = _accepted();
        vm.prank(provider);
        market.commitResult(jobId, ROOT, 8);
    }

    /// @dev Moves to the next block with a given prevrandao and draws the audit.
    function _draw(uint256 jobId, bytes32 randao) internal {
        vm.roll(block.number + 1);
        vm.prevrandao(randao);
        market.drawAudit(jobId);
    }

    function _auditing() internal returns (uint256 jobId, address verifier) {
        jobId = _committed();
        _draw(jobId, keccak256("randao"));
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
        vm.roll(block.number + 1);
        vm.prevrandao(keccak256("panel randao"));
        market.drawPanel(jobId);
        panel = market.panelOf(jobId);
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

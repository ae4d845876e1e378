// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @dev A token that, once armed, calls back into a target on every transfer and records how that call ended.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bytes4 public lastError;
    uint256 public attempts;

    constructor(address holder) ERC20("Reentrant", "RE") {
        _mint(holder, 1_000_000 ether);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (target != address(0)) {
            address t = target;
            target = address(0);
            ++attempts;
            (bool ok, bytes memory reason) = t.call(payload);
            if (!ok && reason.length >= 4) lastError = bytes4(reason);
        }
    }
}

/// @dev A token whose transfers report failure without reverting.
contract FalseToken is ERC20 {
    constructor(address holder) ERC20("False", "NO") {
        _mint(holder, 1_000_000 ether);
    }

    function transfer(address, uint256) public pure override returns (bool) {
        return false;
    }

    function transferFrom(address, address, uint256) public pure override returns (bool) {
        return false;
    }
}

contract JobMarketWeirdTokensTest is Test {
    address internal consumer;

    function setUp() public {
        consumer = makeAddr("consumer");
    }

    function _params() internal pure returns (IJobMarket.Params memory) {
        return IJobMarket.Params({
            auditProbabilityBps: 10_000,
            protocolFeeBps: 500,
            accuserRewardBps: 5000,
            poolShareBps: 1000,
            samplesK: 4,
            panelSize: 3,
            attestWindow: 1 hours,
            contestWindow: 1 hours,
            voteWindow: 1 hours,
            revealWindow: 30 minutes,
            contestBond: 1 ether,
            falseAccuserSlash: 1 ether,
            absentVerifierSlash: 1 ether,
            minFee: 0.1 ether,
            minCollateral: 0
        });
    }

    function _market(IERC20 token) internal returns (JobMarket market) {
        StakingRegistry registry = new StakingRegistry(token, 1 ether, 1 ether, 1 days);
        market = new JobMarket(token, IStakingRegistry(address(registry)), _params());
        registry.setMarket(address(market));
    }

    function _terms() internal view returns (IJobMarket.JobTerms memory) {
        return IJobMarket.JobTerms({
            specHash: keccak256("spec"),
            price: 10 ether,
            collateral: 0,
            minUnits: 0,
            maxUnits: 0,
            acceptBy: uint64(block.timestamp + 1 hours),
            commitBy: uint64(block.timestamp + 2 hours),
            secretHash: keccak256(abi.encode(keccak256("consumer secret")))
        });
    }

    function test_ReentrantRefundIsBlockedAndPaidOnce() public {
        ReentrantToken token = new ReentrantToken(consumer);
        JobMarket market = _market(IERC20(address(token)));
        vm.startPrank(consumer);
        token.approve(address(market), type(uint256).max);
        uint256 jobId = market.postJob(_terms());
        vm.stopPrank();
        token.arm(address(market), abi.encodeCall(JobMarket.cancelJob, (jobId)));
        vm.prank(consumer);
        market.cancelJob(jobId);
        assertEq(token.attempts(), 1, "the token tried to reenter");
        assertEq(
            token.lastError(),
            ReentrancyGuard.ReentrancyGuardReentrantCall.selector,
            "reentrant call stopped by the guard"
        );
        assertEq(token.balanceOf(consumer), 1_000_000 ether, "refunded exactly once");
        assertEq(token.balanceOf(address(market)), market.totalOwed(), "still solvent");
    }

    function test_ReentrantPostDuringPullIsBlocked() public {
        ReentrantToken token = new ReentrantToken(consumer);
        JobMarket market = _market(IERC20(address(token)));
        vm.prank(consumer);
        token.approve(address(market), type(uint256).max);
        token.arm(address(market), abi.encodeCall(JobMarket.postJob, (_terms())));
        vm.prank(consumer);
        market.postJob(_terms());
        assertEq(
            token.lastError(),
            ReentrancyGuard.ReentrancyGuardReentrantCall.selector,
            "nested post stopped by the guard"
        );
        assertEq(market.jobCount(), 1, "only the outer job exists");
        assertEq(token.balanceOf(address(market)), market.totalOwed(), "still solvent");
    }

    function test_RevertWhen_TokenReturnsFalse() public {
        FalseToken token = new FalseToken(consumer);
        JobMarket market = _market(IERC20(address(token)));
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        market.postJob(_terms());
        assertEq(market.totalOwed(), 0, "nothing counted as owed");
    }

    function test_RevertWhen_StakeWithTokenReturningFalse() public {
        FalseToken token = new FalseToken(consumer);
        StakingRegistry registry = new StakingRegistry(IERC20(address(token)), 1, 1, 1);
        vm.prank(consumer);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(token)));
        registry.stake(1 ether);
        assertEq(registry.totalStaked(), 0, "nothing counted as staked");
    }
}

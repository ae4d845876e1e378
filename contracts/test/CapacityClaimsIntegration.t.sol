// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "./utils/Test.sol";
import {CapacityClaims} from "../src/CapacityClaims.sol";
import {CapacityRegistry} from "../src/CapacityRegistry.sol";
import {ICapacityRegistry} from "../src/interfaces/ICapacityRegistry.sol";
import {ComputeToken} from "../src/ComputeToken.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {JobMarket} from "../src/JobMarket.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";

/// @notice CapacityClaims wired to the real ComputeToken, StakingRegistry and JobMarket: a claim bought with a
/// signed order and redeemed becomes a prepaid job whose outcome (honest, default, slash) moves the collateral
/// to the provider or the holder, the holder's fee pays the auditing verifier, the job's commit deadline is the
/// end of its scheduled work, and every contract still holds exactly what it owes.
contract CapacityClaimsIntegrationTest is Test {
    uint256 internal constant FUNDS = 10_000 ether;
    uint256 internal constant CPT = 20 ether;
    uint256 internal constant PRICE = 5 ether;
    uint256 internal constant STAKE = 100 ether;
    uint256 internal constant T0 = 1_000_000;
    uint64 internal constant START = uint64(T0 + 1 days);
    uint64 internal constant END = uint64(T0 + 3 days);
    bytes32 internal constant SPEC = keccak256("spec");
    bytes32 internal constant ROOT = keccak256("root");
    uint256 internal constant PROVIDER_KEY = 0xB0B1;
    uint256 internal constant FEE = 0.5 ether;
    bytes32 internal constant HOLDER_SECRET = keccak256("holder secret");
    bytes32 internal constant PROVIDER_SECRET = keccak256("provider secret");

    ComputeToken internal token;
    StakingRegistry internal registry;
    JobMarket internal market;
    CapacityClaims internal claims;
    CapacityRegistry internal capacity;
    address internal provider;
    address internal alice;
    address internal verifier;
    uint256 internal id;

    function setUp() public {
        vm.warp(T0);
        provider = vm.addr(PROVIDER_KEY);
        alice = makeAddr("alice");
        verifier = makeAddr("verifier");
        address[] memory holders = new address[](3);
        holders[0] = provider;
        holders[1] = alice;
        holders[2] = verifier;
        token = new ComputeToken(holders, FUNDS);
        registry = new StakingRegistry(IERC20(address(token)), STAKE, 50 ether, 7 days);
        market = new JobMarket(IERC20(address(token)), IStakingRegistry(address(registry)), _params());
        registry.setMarket(address(market));
        capacity = new CapacityRegistry(
            IERC20(address(token)),
            IStakingRegistry(address(registry)),
            1 ether,
            1 hours,
            1 hours,
            30 minutes,
            3,
            5 ether,
            30 days
        );
        registry.setCapacityRegistry(address(capacity));
        claims = new CapacityClaims(
            IERC20(address(token)),
            IStakingRegistry(address(registry)),
            IJobMarket(address(market)),
            ICapacityRegistry(address(capacity))
        );
        market.setClaims(address(claims));
        for (uint256 i = 0; i < holders.length; ++i) {
            vm.startPrank(holders[i]);
            token.approve(address(registry), type(uint256).max);
            token.approve(address(claims), type(uint256).max);
            token.approve(address(market), type(uint256).max);
            token.approve(address(capacity), type(uint256).max);
            vm.stopPrank();
        }
        vm.prank(provider);
        registry.stakeAndRegister(STAKE, 1, hex"0011", keccak256("advert"));
        vm.prank(verifier);
        registry.stakeAndRegister(50 ether, 2, hex"0022", bytes32(0));
        // The verifier attests the provider's capacity (8 GPUs) before the provider can sell any of it.
        vm.warp(T0 - 1 hours);
        vm.prank(verifier);
        uint256 aid = capacity.attest(
            provider,
            keccak256("H100-SXM-80GB"),
            8,
            60_000,
            1_000_000,
            bytes8("float32"),
            keccak256("advert"),
            new bytes32[](0),
            keccak256("ev"),
            keccak256(abi.encode(bytes32("attester secret")))
        );
        vm.warp(T0);
        capacity.finalize(aid);

        vm.prank(provider);
        id = claims.createSeries(keccak256("H100-SXM-80GB"), 60_000, bytes8("EU"), START, END, 10, CPT);
        CapacityClaims.SellOrder memory o = CapacityClaims.SellOrder({
            seller: provider, seriesId: id, amount: 4, pricePerToken: PRICE, nonce: 0, expiry: T0 + 1 hours
        });
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PROVIDER_KEY, claims.orderHash(o));
        vm.prank(alice);
        claims.fill(o, abi.encodePacked(r, s, v), 4);
        vm.roll(block.number + 1); // the stakes above are in a past block for every draw
    }

    function _params() internal pure returns (IJobMarket.Params memory) {
        return IJobMarket.Params({
            auditProbabilityBps: 10_000, // every job audited: the outcome is up to the verifier
            protocolFeeBps: 500,
            accuserRewardBps: 5000,
            poolShareBps: 1000,
            samplesK: 4,
            panelSize: 1,
            attestWindow: 1 hours,
            contestWindow: 1 hours,
            voteWindow: 1 hours,
            revealWindow: 30 minutes,
            contestBond: 10 ether,
            falseAccuserSlash: 20 ether,
            absentVerifierSlash: 5 ether,
            minFee: FEE,
            minCollateral: 10 ether
        });
    }

    function _redeem(uint256 amount) internal returns (uint256 jobId) {
        vm.warp(START);
        vm.prank(alice);
        jobId = claims.redeem(id, amount, SPEC, 1, 8, keccak256(abi.encode(HOLDER_SECRET)));
    }

    /// @dev Redeems, the provider commits, the holder and then the provider reveal their secrets: the audit is
    /// drawn (every job is audited, the verifier is the only one staked).
    function _redeemAndCommit(uint256 amount) internal returns (uint256 jobId) {
        jobId = _redeem(amount);
        vm.prank(provider);
        market.commitResult(jobId, ROOT, 8, keccak256(abi.encode(PROVIDER_SECRET)));
        vm.prank(alice);
        market.revealConsumerSecret(jobId, HOLDER_SECRET);
        vm.prank(provider);
        market.revealProviderSecret(jobId, PROVIDER_SECRET);
        assertEq(market.jobOf(jobId).verifier, verifier, "the verifier audits");
    }

    function _assertBooks() internal view {
        assertEq(token.balanceOf(address(claims)), claims.totalOwed(), "claims: balance == owed");
        assertEq(token.balanceOf(address(market)), market.totalOwed(), "market: balance == owed");
    }

    function test_RedeemOpensPrepaidJob() public {
        uint256 jobId = _redeem(3);
        assertEq(
            uint256(market.statusOf(jobId)),
            uint256(IJobMarket.Status.Accepted),
            "prepaid job starts Accepted"
        );
        IJobMarket.Job memory job = market.jobOf(jobId);
        // 10 GPU-hours over two days reserve 1 GPU: 3 GPU-hours are due 3 hours later, plus the commit slack.
        assertEq(
            uint256(job.commitBy), START + 3 hours + claims.COMMIT_SLACK(), "deadline scales with the work"
        );
        assertEq(job.price, FEE, "the holder's fee is the job's price");
        assertEq(uint256(job.minUnits), 1, "unit bounds on chain");
        assertEq(uint256(job.maxUnits), 8, "unit bounds on chain");
        assertEq(
            token.balanceOf(address(market)), 3 * CPT + FEE, "market holds the redeemed collateral and fee"
        );
        assertEq(claims.totalOwed(), 7 * CPT, "claims owes the rest");
        _assertBooks();
    }

    function test_HonestJobReturnsCollateralToProvider() public {
        uint256 jobId = _redeemAndCommit(3);
        vm.prank(verifier);
        market.attest(jobId, true, bytes32(0));
        assertEq(uint256(market.statusOf(jobId)), uint256(IJobMarket.Status.Completed), "completed");
        vm.warp(END);
        claims.releaseCollateral(id);
        assertEq(
            token.balanceOf(provider), FUNDS - STAKE + 4 * PRICE, "provider: all collateral back plus sales"
        );
        assertEq(token.balanceOf(alice), FUNDS - 4 * PRICE - FEE, "holder paid the price and the audit fee");
        assertEq(token.balanceOf(verifier), FUNDS - 50 ether + FEE, "the fee paid the auditor");
        _assertBooks();
    }

    function test_DefaultedJobPaysHolderFromCollateral() public {
        uint256 jobId = _redeem(2);
        vm.warp(market.jobOf(jobId).commitBy + 1);
        market.claimCommitTimeout(jobId);
        assertEq(uint256(market.statusOf(jobId)), uint256(IJobMarket.Status.Defaulted), "defaulted");
        assertEq(token.balanceOf(alice), FUNDS - 4 * PRICE + 2 * CPT, "holder got the collateral and its fee");
        vm.warp(END);
        assertEq(claims.releaseCollateral(id), 8 * CPT, "unredeemed collateral released");
        assertEq(
            token.balanceOf(provider), FUNDS - STAKE + 4 * PRICE - 2 * CPT, "provider lost the defaulted part"
        );
        _assertBooks();
    }

    function test_SlashedJobPaysHolderAndVerifier() public {
        uint256 jobId = _redeemAndCommit(2);
        vm.prank(verifier);
        market.attest(jobId, false, keccak256("evidence"));
        vm.warp(block.timestamp + 1 hours + 1);
        market.finalizeFail(jobId);
        assertEq(uint256(market.statusOf(jobId)), uint256(IJobMarket.Status.Slashed), "slashed");
        uint256 accuser = 2 * CPT / 2; // accuserRewardBps = 5000, empty reward pool
        assertEq(
            token.balanceOf(alice), FUNDS - 4 * PRICE + 2 * CPT - accuser, "holder refunded from collateral"
        );
        assertEq(token.balanceOf(verifier), FUNDS - 50 ether + accuser, "verifier rewarded");
        assertEq(token.balanceOf(address(market)), market.totalOwed(), "market: nothing else held");
        _assertBooks();
    }

    function test_RevertWhen_MarketTrustsAnotherClaimsContract() public {
        JobMarket other =
            new JobMarket(IERC20(address(token)), IStakingRegistry(address(registry)), _params());
        other.setClaims(makeAddr("someone else"));
        CapacityClaims stray = new CapacityClaims(
            IERC20(address(token)),
            IStakingRegistry(address(registry)),
            IJobMarket(address(other)),
            ICapacityRegistry(address(capacity))
        );
        vm.prank(provider);
        token.approve(address(stray), type(uint256).max);
        vm.prank(provider);
        uint256 sid = stray.createSeries(keccak256("H100-SXM-80GB"), 60_000, bytes8("EU"), START, END, 1, CPT);
        vm.prank(provider);
        stray.safeTransferFrom(provider, alice, sid, 1, "");
        vm.prank(alice);
        token.approve(address(stray), FEE);
        vm.warp(START);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_NotClaims.selector, address(stray)));
        stray.redeem(sid, 1, SPEC, 0, 0, keccak256(abi.encode(HOLDER_SECRET)));
    }
}

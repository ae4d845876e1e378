// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors, IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {CapacityClaims} from "../src/CapacityClaims.sol";
import {ICapacityRegistry} from "../src/interfaces/ICapacityRegistry.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {ClaimsBase} from "./claims/ClaimsBase.sol";
import {MockJobMarket} from "./claims/MockJobMarket.sol";
import {FalseToken} from "./claims/FalseToken.sol";

/// @notice Unit tests of CapacityClaims: series creation, collateral release, and every revert of both.
contract CapacityClaimsSeriesTest is ClaimsBase {
    function test_RevertWhen_ConstructorGetsZeroAddress() public {
        IERC20 t = IERC20(address(token));
        IStakingRegistry r = IStakingRegistry(address(registry));
        IJobMarket m = IJobMarket(address(market));
        ICapacityRegistry c = ICapacityRegistry(address(capacity));
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_ZeroAddress.selector, 0));
        new CapacityClaims(IERC20(address(0)), r, m, c);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_ZeroAddress.selector, 1));
        new CapacityClaims(t, IStakingRegistry(address(0)), m, c);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_ZeroAddress.selector, 2));
        new CapacityClaims(t, r, IJobMarket(address(0)), c);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_ZeroAddress.selector, 3));
        new CapacityClaims(t, r, m, ICapacityRegistry(address(0)));
    }

    function test_Eip712DomainAndTypeHash() public view {
        (bytes1 fields, string memory name, string memory version, uint256 chainId, address verifying,,) =
            claims.eip712Domain();
        assertEq(uint256(uint8(fields)), 0x0f, "name, version, chainId, verifyingContract");
        assertEq(keccak256(bytes(name)), keccak256("CapacityClaims"), "domain name");
        assertEq(keccak256(bytes(version)), keccak256("1"), "domain version");
        assertEq(chainId, block.chainid, "domain chain id");
        assertEq(verifying, address(claims), "verifying contract");
        assertEq(
            claims.ORDER_TYPEHASH(),
            keccak256(
                "SellOrder(address seller,uint256 seriesId,uint256 amount,uint256 pricePerToken,uint256 nonce,uint256 expiry)"
            ),
            "documented type string"
        );
        CapacityClaims.SellOrder memory o = _order(alice, 1, 5, 3 ether, 7, T0 + 1 hours);
        assertEq(claims.orderHash(o), _digest(o, block.chainid), "orderHash is the standard EIP-712 digest");
    }

    function test_CreateSeries() public {
        vm.expectEmit();
        emit CapacityClaims.SeriesCreated(1, provider, GPU, REGION, FLOOR, START, END, 10, PPM, CPT);
        uint256 id = _create(10);
        assertEq(id, 1, "first id is 1");
        assertEq(claims.seriesCount(), 1, "count");
        assertEq(claims.balanceOf(provider, id), 10, "supply minted to provider");
        assertEq(token.balanceOf(address(claims)), 10 * CPT, "collateral pulled");
        assertEq(claims.totalOwed(), 10 * CPT, "totalOwed");
        assertEq(claims.lockedCollateral(id), 10 * CPT, "locked");
        CapacityClaims.Series memory s = claims.series(id);
        assertEq(s.provider, provider, "provider");
        assertEq(s.gpuClass, GPU, "gpu class");
        assertEq(uint256(s.floor), uint256(FLOOR), "floor");
        assertEq(uint256(s.windowStart), uint256(START), "start");
        assertEq(uint256(s.windowEnd), uint256(END), "end");
        assertEq(s.supply, 10, "supply");
        assertEq(s.redeemed, 0, "redeemed");
        assertEq(s.collateralPerToken, CPT, "cpt");
        assertFalse(s.released, "not released");

        uint256 id2 = _create(3);
        assertEq(id2, 2, "ids increment");
        assertEq(claims.totalOwed(), 13 * CPT, "totalOwed sums series");
    }

    function test_CreateSeriesStartingNow() public {
        vm.prank(provider);
        uint256 id = claims.createSeries(GPU, FLOOR, bytes8("EU"), uint64(T0), uint64(T0 + 1 hours), 1, CPT);
        assertEq(claims.balanceOf(provider, id), 1, "a window starting in the creating block is allowed");
    }

    function test_RevertWhen_WindowStartsInThePast() public {
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowInPast.selector, uint64(T0 - 1), T0)
        );
        claims.createSeries(GPU, FLOOR, bytes8("EU"), uint64(T0 - 1), uint64(T0 + 1), 1, CPT);
        assertEq(claims.seriesCount(), 0, "a window that already started is refused");
    }

    function test_RevertWhen_CreatorIsNotProvider() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_NotProvider.selector, alice));
        claims.createSeries(GPU, FLOOR, bytes8("EU"), START, END, 1, CPT);
    }

    function test_RevertWhen_GpuClassIsZero() public {
        vm.prank(provider);
        vm.expectRevert(CapacityClaims.CapacityClaims_ZeroGpuClass.selector);
        claims.createSeries(bytes32(0), FLOOR, bytes8("EU"), START, END, 1, CPT);
    }

    function test_RevertWhen_WindowInvalid() public {
        vm.startPrank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidWindow.selector, END, END, T0)
        );
        claims.createSeries(GPU, FLOOR, bytes8("EU"), END, END, 1, CPT);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidWindow.selector, END, START, T0)
        );
        claims.createSeries(GPU, FLOOR, bytes8("EU"), END, START, 1, CPT);
        uint64 past = uint64(T0);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidWindow.selector, past - 10, past, T0)
        );
        claims.createSeries(GPU, FLOOR, bytes8("EU"), past - 10, past, 1, CPT);
        vm.stopPrank();
    }

    function test_RevertWhen_SupplyOrCollateralIsZero() public {
        vm.startPrank(provider);
        vm.expectRevert(CapacityClaims.CapacityClaims_ZeroAmount.selector);
        claims.createSeries(GPU, FLOOR, bytes8("EU"), START, END, 0, CPT);
        vm.expectRevert(CapacityClaims.CapacityClaims_ZeroCollateral.selector);
        claims.createSeries(GPU, FLOOR, bytes8("EU"), START, END, 1, 0);
        vm.stopPrank();
    }

    function test_RevertWhen_CollateralNotApproved() public {
        vm.startPrank(provider);
        token.approve(address(claims), CPT - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(claims), CPT - 1, CPT
            )
        );
        claims.createSeries(GPU, FLOOR, bytes8("EU"), START, END, 1, CPT);
        vm.stopPrank();
        assertEq(claims.seriesCount(), 0, "nothing created");
    }

    function test_RevertWhen_TokenReturnsFalse() public {
        FalseToken bad = new FalseToken();
        CapacityClaims c = new CapacityClaims(
            IERC20(address(bad)),
            IStakingRegistry(address(registry)),
            IJobMarket(address(market)),
            ICapacityRegistry(address(capacity))
        );
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(bad)));
        c.createSeries(GPU, FLOOR, bytes8("EU"), START, END, 5, CPT);
        assertEq(c.totalOwed(), 0, "no collateral credited");
    }

    function test_ReleaseCollateral() public {
        uint256 id = _create(10);
        vm.prank(provider);
        claims.safeTransferFrom(provider, alice, id, 4, "");
        vm.warp(START);
        vm.prank(alice);
        claims.redeem(id, 3, SPEC, 0, 0, _hash(SECRET));
        vm.warp(END);
        uint256 before = token.balanceOf(provider);
        vm.expectEmit();
        emit CapacityClaims.CollateralReleased(id, provider, 7 * CPT);
        vm.prank(carol); // anyone may trigger it; the tokens go to the provider
        uint256 amount = claims.releaseCollateral(id);
        assertEq(amount, 7 * CPT, "unredeemed supply x cpt");
        assertEq(token.balanceOf(provider) - before, 7 * CPT, "provider paid");
        assertEq(claims.totalOwed(), 0, "nothing owed");
        assertEq(token.balanceOf(address(claims)), 0, "contract empty");
        assertEq(claims.lockedCollateral(id), 0, "locked after release");
        assertTrue(claims.series(id).released, "released flag");
        assertEq(claims.balanceOf(alice, id), 1, "worthless tokens stay where they are");
    }

    function test_ReleaseCollateralWhenAllRedeemed() public {
        uint256 id = _create(2);
        vm.prank(provider);
        claims.safeTransferFrom(provider, alice, id, 2, "");
        vm.warp(START);
        vm.prank(alice);
        claims.redeem(id, 2, SPEC, 0, 0, _hash(SECRET));
        vm.warp(END + 1);
        assertEq(claims.releaseCollateral(id), 0, "nothing left to release");
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_AlreadyReleased.selector, id));
        claims.releaseCollateral(id);
    }

    function test_RevertWhen_ReleaseBeforeWindowEnd() public {
        uint256 id = _create(1);
        vm.warp(END - 1);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowNotEnded.selector, id, END)
        );
        claims.releaseCollateral(id);
    }

    function test_RevertWhen_ReleasedTwice() public {
        uint256 id = _create(5);
        vm.warp(END);
        claims.releaseCollateral(id);
        uint256 balance = token.balanceOf(provider);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_AlreadyReleased.selector, id));
        claims.releaseCollateral(id);
        assertEq(token.balanceOf(provider), balance, "no second payout");
    }

    function test_RevertWhen_SeriesUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_UnknownSeries.selector, 42));
        claims.releaseCollateral(42);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_UnknownSeries.selector, 0));
        claims.redeem(0, 1, SPEC, 0, 0, _hash(SECRET));
    }
}

/// @notice Unit tests of redemption into prepaid jobs.
contract CapacityClaimsRedeemTest is ClaimsBase {
    uint256 internal id;

    function setUp() public override {
        super.setUp();
        id = _create(10);
        vm.prank(provider);
        claims.safeTransferFrom(provider, alice, id, 6, "");
    }

    function test_Redeem() public {
        vm.warp(START);
        // 10 GPU-hours over one day reserve 1 GPU: 4 GPU-hours take 4 hours of it.
        uint64 commitBy = START + 4 hours + claims.COMMIT_SLACK();
        assertEq(claims.redemptionDeadline(id, 4), commitBy, "quoted deadline");
        uint256 aliceBefore = token.balanceOf(alice);
        vm.expectEmit();
        emit IJobMarket.PrepaidJobOpened(1, alice, provider, SPEC, FEE, 4 * CPT, commitBy);
        vm.expectEmit();
        emit CapacityClaims.Redeemed(id, alice, 4, SPEC, 1, 4 * CPT, FEE, commitBy);
        vm.prank(alice);
        uint256 jobId = claims.redeem(id, 4, SPEC, 2, 64, _hash(SECRET));
        assertEq(jobId, 1, "job id from the market");
        MockJobMarket.Call memory c = market.callOf(jobId);
        assertEq(c.consumer, alice, "holder is the consumer");
        assertEq(c.provider, provider, "series provider runs the job");
        assertEq(c.specHash, SPEC, "spec hash passed");
        assertEq(c.collateral, 4 * CPT, "collateral for 4 GPU-hours");
        assertEq(c.fee, FEE, "the auditor fee is the market's minimum");
        assertEq(uint256(c.commitBy), uint256(commitBy), "deadline scales with the work");
        assertEq(uint256(c.minUnits), 2, "unit bounds passed");
        assertEq(uint256(c.maxUnits), 64, "unit bounds passed");
        assertEq(c.secretHash, _hash(SECRET), "holder's secret hash passed");
        assertEq(token.balanceOf(alice), aliceBefore - FEE, "the holder paid the fee");
        assertEq(claims.busyUntil(id), START + 4 hours, "the series' GPU is busy for 4 hours");
        assertEq(token.balanceOf(address(market)), 4 * CPT + FEE, "market pulled the collateral and fee");
        assertEq(claims.balanceOf(alice, id), 2, "tokens burnt");
        assertEq(claims.series(id).redeemed, 4, "redeemed counted");
        assertEq(claims.totalOwed(), 6 * CPT, "owed drops by what the market took");
        assertEq(token.balanceOf(address(claims)), claims.totalOwed(), "balance == owed");
        assertEq(token.allowance(address(claims), address(market)), 0, "no allowance left behind");
    }

    function test_RedeemAtLastSecondOfWindow() public {
        // The last second at which one GPU-hour on the series' one GPU still ends by windowEnd.
        vm.warp(END - 1 hours);
        vm.prank(alice);
        assertEq(claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET)), 1, "redeemable at windowEnd - 1 hour");
        assertEq(uint256(market.callOf(1).commitBy), uint256(END + claims.COMMIT_SLACK()), "due at the end");
    }

    function test_RevertWhen_WorkCannotEndInWindow() public {
        vm.warp(END - 1);
        assertEq(claims.redemptionDeadline(id, 1), 0, "quoted as impossible");
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_WorkExceedsWindow.selector, id, uint256(END) - 1 + 1 hours, END
            )
        );
        claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
        assertEq(claims.balanceOf(alice, id), 6, "nothing burnt");
    }

    function test_RedemptionsQueueOnTheReservedGpus() public {
        vm.warp(START + 1 hours); // the first hour passed unused
        _redeem(alice, id, 3);
        assertEq(uint256(market.callOf(1).commitBy), START + 4 hours + claims.COMMIT_SLACK(), "hours 1-4");
        vm.warp(START + 2 hours);
        vm.prank(provider);
        claims.safeTransferFrom(provider, bob, id, 4, "");
        _redeem(bob, id, 2);
        assertEq(uint256(market.callOf(2).commitBy), START + 6 hours + claims.COMMIT_SLACK(), "queued: 4-6");
        vm.warp(START + 10 hours); // idle again from hour 6 to 10
        _redeem(alice, id, 1);
        assertEq(uint256(market.callOf(3).commitBy), START + 11 hours + claims.COMMIT_SLACK(), "hours 10-11");
    }

    function test_RevertWhen_CollateralBelowMarketMinimum() public {
        market.setMinimums(FEE, 3 * CPT);
        vm.warp(START);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_CollateralTooLow.selector, 2 * CPT, 3 * CPT)
        );
        claims.redeem(id, 2, SPEC, 0, 0, _hash(SECRET));
        _redeem(alice, id, 3); // three tokens reach the minimum
        assertEq(market.callOf(1).collateral, 3 * CPT, "redeemed together");
    }

    function test_RevertWhen_FeeNotApproved() public {
        vm.prank(alice);
        token.approve(address(claims), FEE - 1);
        vm.warp(START);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(claims), FEE - 1, FEE
            )
        );
        claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
        assertEq(claims.balanceOf(alice, id), 6, "nothing burnt");
    }

    function test_RevertWhen_UnitBoundsOrSecretInvalid() public {
        vm.warp(START);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarket_InvalidUnitBounds.selector, 5, 4));
        claims.redeem(id, 1, SPEC, 5, 4, _hash(SECRET));
        vm.expectRevert(IJobMarket.JobMarket_ZeroHash.selector);
        claims.redeem(id, 1, SPEC, 0, 0, bytes32(0));
        vm.stopPrank();
        assertEq(claims.busyUntil(id), START, "a refused redemption books nothing");
    }

    function test_RevertWhen_RedeemBeforeWindow() public {
        vm.warp(START - 1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowNotStarted.selector, id, START)
        );
        claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
    }

    function test_RevertWhen_RedeemAfterWindow() public {
        vm.warp(END);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowEnded.selector, id, END));
        claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
    }

    function test_RevertWhen_RedeemZeroAmountOrSpec() public {
        vm.warp(START);
        vm.startPrank(alice);
        vm.expectRevert(CapacityClaims.CapacityClaims_ZeroAmount.selector);
        claims.redeem(id, 0, SPEC, 0, 0, _hash(SECRET));
        vm.expectRevert(CapacityClaims.CapacityClaims_ZeroSpecHash.selector);
        claims.redeem(id, 1, bytes32(0), 0, 0, _hash(SECRET));
        vm.stopPrank();
    }

    function test_RevertWhen_RedeemMoreThanHeld() public {
        vm.warp(START);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, alice, 6, 7, id)
        );
        claims.redeem(id, 7, SPEC, 0, 0, _hash(SECRET));
    }

    function test_RevertWhen_ProviderRedeemsOwnSeries() public {
        vm.warp(START);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_ProviderRedeem.selector, id));
        claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
    }

    function test_RevertWhen_MarketTakesWrongCollateral() public {
        market.setPullShort(true);
        vm.warp(START);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_CollateralMismatch.selector, 2 * CPT + FEE, 2 * CPT + FEE - 1
            )
        );
        claims.redeem(id, 2, SPEC, 0, 0, _hash(SECRET));
        assertEq(claims.balanceOf(alice, id), 6, "nothing burnt");
    }
}

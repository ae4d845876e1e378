// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors, IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {CapacityClaims} from "../src/CapacityClaims.sol";
import {ICapacityRegistry} from "../src/interfaces/ICapacityRegistry.sol";
import {IJobMarket} from "../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {ClaimsBase} from "./claims/ClaimsBase.sol";
import {ContractSeller} from "./claims/ContractSeller.sol";
import {ReenteringBuyer} from "./claims/ReenteringBuyer.sol";

/// @notice Unit tests of EIP-712 sell orders: fills, partial fills, resale, cancellation, replay, expiry,
/// signatures, and re-entrancy through the ERC-1155 receiver hook.
contract CapacityClaimsOrdersTest is ClaimsBase {
    uint256 internal constant PRICE = 5 ether;
    uint256 internal id;
    uint256 internal expiry;

    function setUp() public override {
        super.setUp();
        id = _create(10);
        expiry = T0 + 1 hours;
    }

    function _sell(uint256 amount)
        internal
        view
        returns (CapacityClaims.SellOrder memory o, bytes memory sig)
    {
        o = _order(provider, id, amount, PRICE, 0, expiry);
        sig = _sign(PROVIDER_KEY, o);
    }

    function test_Fill() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(4);
        bytes32 h = claims.orderHash(o);
        uint256 aliceBefore = token.balanceOf(alice);
        uint256 providerBefore = token.balanceOf(provider);
        vm.expectEmit();
        emit CapacityClaims.OrderFilled(h, provider, alice, id, 4, 4 * PRICE);
        vm.prank(alice);
        uint256 paid = claims.fill(o, sig, 4);
        assertEq(paid, 4 * PRICE, "payment returned");
        assertEq(aliceBefore - token.balanceOf(alice), 4 * PRICE, "buyer paid");
        assertEq(token.balanceOf(provider) - providerBefore, 4 * PRICE, "seller paid");
        assertEq(claims.balanceOf(alice, id), 4, "buyer got tokens");
        assertEq(claims.balanceOf(provider, id), 6, "seller gave tokens");
        assertEq(claims.filled(h), 4, "filled tracked");
        assertEq(claims.totalOwed(), 10 * CPT, "trading does not touch collateral");
    }

    function test_PartialFills() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(5);
        bytes32 h = claims.orderHash(o);
        vm.prank(alice);
        claims.fill(o, sig, 2);
        vm.prank(bob);
        claims.fill(o, sig, 3);
        assertEq(claims.filled(h), 5, "fully filled by two buyers");
        assertEq(claims.balanceOf(alice, id), 2, "alice share");
        assertEq(claims.balanceOf(bob, id), 3, "bob share");
    }

    function test_RevertWhen_Overfilled() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(5);
        bytes32 h = claims.orderHash(o);
        vm.prank(alice);
        claims.fill(o, sig, 3);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_Overfill.selector, h, 3, 2));
        claims.fill(o, sig, 3);
        assertEq(claims.filled(h), 3, "failed fill leaves state");
    }

    function test_RevertWhen_Replayed() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(2);
        bytes32 h = claims.orderHash(o);
        vm.prank(alice);
        claims.fill(o, sig, 2);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_Overfill.selector, h, 1, 0));
        claims.fill(o, sig, 1);
        assertEq(claims.balanceOf(alice, id), 2, "replay moved nothing");
    }

    function test_RevertWhen_FillAmountZero() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(2);
        vm.prank(alice);
        vm.expectRevert(CapacityClaims.CapacityClaims_ZeroAmount.selector);
        claims.fill(o, sig, 0);
    }

    function test_FillAtExpiryThenRevertWhen_Expired() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(2);
        vm.warp(expiry);
        vm.prank(alice);
        claims.fill(o, sig, 1);
        assertEq(claims.balanceOf(alice, id), 1, "fillable at its expiry second");
        vm.warp(expiry + 1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_OrderExpired.selector, claims.orderHash(o), expiry
            )
        );
        claims.fill(o, sig, 1);
    }

    function test_RevertWhen_SignedByAnotherKey() public {
        CapacityClaims.SellOrder memory o = _order(provider, id, 2, PRICE, 0, expiry);
        bytes memory sig = _sign(ALICE_KEY, o);
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidSignature.selector, provider)
        );
        claims.fill(o, sig, 1);
    }

    function test_RevertWhen_OrderTampered() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(2);
        o.pricePerToken = 1; // the buyer lowers the price after the seller signed
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidSignature.selector, provider)
        );
        claims.fill(o, sig, 1);
    }

    function test_RevertWhen_SignatureMalformed() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(2);
        bytes memory shortSig = new bytes(64);
        for (uint256 i = 0; i < 64; ++i) {
            shortSig[i] = sig[i];
        }
        vm.startPrank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidSignature.selector, provider)
        );
        claims.fill(o, shortSig, 1);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidSignature.selector, provider)
        );
        claims.fill(o, "", 1);
        bytes memory badV = sig;
        badV[64] = bytes1(uint8(5));
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidSignature.selector, provider)
        );
        claims.fill(o, badV, 1);
        vm.stopPrank();
    }

    function test_RevertWhen_WrongChainId() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(2);
        uint256 original = block.chainid;
        vm.chainId(original + 1);
        assertEq(claims.orderHash(o), _digest(o, original + 1), "domain follows the chain id");
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidSignature.selector, provider)
        );
        claims.fill(o, sig, 1);

        bytes memory forked = _sign(PROVIDER_KEY, o); // signed for the new chain id: valid there
        vm.prank(alice);
        claims.fill(o, forked, 1);
        assertEq(claims.balanceOf(alice, id), 1, "signature for this chain works");
    }

    function test_RevertWhen_ReplayedOnAnotherDeployment() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(2);
        CapacityClaims other = new CapacityClaims(
            IERC20(address(token)),
            IStakingRegistry(address(registry)),
            IJobMarket(address(market)),
            ICapacityRegistry(address(capacity))
        );
        vm.prank(provider);
        token.approve(address(other), type(uint256).max);
        vm.prank(provider);
        other.createSeries(GPU, FLOOR, bytes8("EU"), START, END, 10, CPT);
        vm.prank(alice);
        token.approve(address(other), type(uint256).max);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidSignature.selector, provider)
        );
        other.fill(o, sig, 1);
    }

    function test_CancelOrder() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(4);
        bytes32 h = claims.orderHash(o);
        vm.prank(alice);
        claims.fill(o, sig, 1);
        vm.expectEmit();
        emit CapacityClaims.OrderCancelled(h, provider);
        vm.prank(provider);
        claims.cancelOrder(o);
        assertTrue(claims.cancelled(h), "cancelled flag");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_OrderCancelled.selector, h));
        claims.fill(o, sig, 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_OrderCancelled.selector, h));
        claims.cancelOrder(o);
    }

    function test_RevertWhen_CancelByOther() public {
        (CapacityClaims.SellOrder memory o,) = _sell(4);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_NotSeller.selector, alice, provider)
        );
        claims.cancelOrder(o);
        assertFalse(claims.cancelled(claims.orderHash(o)), "not cancelled");
    }

    function test_CancelAllBefore() public {
        CapacityClaims.SellOrder memory old = _order(provider, id, 2, PRICE, 4, expiry);
        CapacityClaims.SellOrder memory fresh = _order(provider, id, 2, PRICE, 5, expiry);
        bytes memory oldSig = _sign(PROVIDER_KEY, old);
        bytes memory freshSig = _sign(PROVIDER_KEY, fresh);
        vm.expectEmit();
        emit CapacityClaims.NoncesCancelled(provider, 5);
        vm.prank(provider);
        claims.cancelAllBefore(5);
        assertEq(claims.minNonce(provider), 5, "min nonce raised");
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_NonceCancelled.selector, claims.orderHash(old), 4, 5
            )
        );
        claims.fill(old, oldSig, 1);
        vm.prank(alice);
        claims.fill(fresh, freshSig, 1);
        assertEq(claims.balanceOf(alice, id), 1, "orders at the new minimum still fill");
    }

    function test_RevertWhen_NonceNotIncreasing() public {
        vm.startPrank(provider);
        claims.cancelAllBefore(3);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_NonceNotIncreasing.selector, 3, 3)
        );
        claims.cancelAllBefore(3);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_NonceNotIncreasing.selector, 3, 2)
        );
        claims.cancelAllBefore(2);
        vm.stopPrank();
    }

    function test_Resale() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(4);
        vm.prank(alice);
        claims.fill(o, sig, 4);
        CapacityClaims.SellOrder memory resale = _order(alice, id, 3, 7 ether, 0, expiry);
        bytes memory resaleSig = _sign(ALICE_KEY, resale);
        uint256 aliceBefore = token.balanceOf(alice);
        vm.prank(bob);
        claims.fill(resale, resaleSig, 3);
        assertEq(claims.balanceOf(bob, id), 3, "bob bought from alice");
        assertEq(claims.balanceOf(alice, id), 1, "alice kept one");
        assertEq(token.balanceOf(alice) - aliceBefore, 21 ether, "alice earned the resale price");
        vm.warp(START);
        vm.prank(bob);
        claims.redeem(id, 3, SPEC, 0, 0, _hash(SECRET));
        assertEq(market.callOf(1).consumer, bob, "the reseller's buyer redeems");
    }

    function test_FillAtPriceZero() public {
        CapacityClaims.SellOrder memory o = _order(provider, id, 1, 0, 0, expiry);
        bytes memory sig = _sign(PROVIDER_KEY, o);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        assertEq(claims.fill(o, sig, 1), 0, "no payment");
        assertEq(token.balanceOf(alice), before, "buyer paid nothing");
        assertEq(claims.balanceOf(alice, id), 1, "gift delivered");
    }

    function test_RevertWhen_SellerLacksTokens() public {
        CapacityClaims.SellOrder memory o = _order(alice, id, 1, PRICE, 0, expiry);
        bytes memory sig = _sign(ALICE_KEY, o);
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, alice, 0, 1, id)
        );
        claims.fill(o, sig, 1);
    }

    function test_RevertWhen_BuyerLacksAllowance() public {
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(1);
        vm.prank(carol);
        token.approve(address(claims), 0);
        vm.prank(carol);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(claims), 0, PRICE
            )
        );
        claims.fill(o, sig, 1);
    }

    function test_RevertWhen_FillAfterWindow() public {
        CapacityClaims.SellOrder memory o = _order(provider, id, 1, PRICE, 0, END + 10 days);
        bytes memory sig = _sign(PROVIDER_KEY, o);
        vm.warp(END);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowEnded.selector, id, END));
        claims.fill(o, sig, 1);
    }

    function test_RevertWhen_FillUnknownSeries() public {
        CapacityClaims.SellOrder memory o = _order(provider, 99, 1, PRICE, 0, expiry);
        bytes memory sig = _sign(PROVIDER_KEY, o);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CapacityClaims.CapacityClaims_UnknownSeries.selector, 99));
        claims.fill(o, sig, 1);
    }

    function test_ContractSellerSignsWithErc1271() public {
        ContractSeller wallet = new ContractSeller(carol);
        vm.prank(provider);
        claims.safeTransferFrom(provider, address(wallet), id, 3, "");
        CapacityClaims.SellOrder memory o = _order(address(wallet), id, 3, PRICE, 0, expiry);
        bytes memory sig = _sign(CAROL_KEY, o);
        vm.prank(alice);
        claims.fill(o, sig, 2);
        assertEq(claims.balanceOf(alice, id), 2, "ERC-1271 signature accepted");
        assertEq(token.balanceOf(address(wallet)), 2 * PRICE, "wallet paid");
        bytes memory wrong = _sign(BOB_KEY, o);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_InvalidSignature.selector, address(wallet))
        );
        claims.fill(o, wrong, 1);
    }

    // ------------------------------------------------------------------------------------ re-entrancy

    function _attacker() internal returns (ReenteringBuyer b) {
        b = new ReenteringBuyer(claims, IERC20(address(token)));
        vm.prank(alice);
        token.transfer(address(b), 100 ether);
    }

    function test_RevertWhen_ReceiverReentersFill() public {
        ReenteringBuyer b = _attacker();
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(4);
        b.arm(ReenteringBuyer.Attack.Fill, false, o, sig, 1);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        b.buy(o, sig, 1);
        assertEq(claims.filled(claims.orderHash(o)), 0, "outer fill undone");
        assertEq(claims.balanceOf(address(b), id), 0, "no tokens");
        assertEq(token.balanceOf(address(b)), 100 ether, "no payment");
    }

    function test_ReentrantFillIsHarmlessWhenSwallowed() public {
        ReenteringBuyer b = _attacker();
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(4);
        b.arm(ReenteringBuyer.Attack.Fill, true, o, sig, 1);
        b.buy(o, sig, 1);
        assertEq(b.reentries(), 1, "hook ran once");
        assertEq(
            b.lastError(), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector, "reentry refused"
        );
        assertEq(claims.filled(claims.orderHash(o)), 1, "only the outer fill counted");
        assertEq(claims.balanceOf(address(b), id), 1, "one token");
        assertEq(token.balanceOf(address(b)), 100 ether - PRICE, "paid once");
    }

    function test_RevertWhen_ReceiverReentersRedeem() public {
        vm.warp(START);
        ReenteringBuyer b = _attacker();
        CapacityClaims.SellOrder memory o = _order(provider, id, 4, PRICE, 0, END);
        bytes memory sig = _sign(PROVIDER_KEY, o);
        b.arm(ReenteringBuyer.Attack.Redeem, false, o, sig, 1);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        b.buy(o, sig, 1);

        b.arm(ReenteringBuyer.Attack.Redeem, true, o, sig, 1);
        b.buy(o, sig, 1);
        assertEq(
            b.lastError(), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector, "redeem refused"
        );
        assertEq(claims.balanceOf(address(b), id), 1, "token kept, not redeemed");
        assertEq(market.jobCount(), 0, "no job opened");
        assertEq(claims.totalOwed(), 10 * CPT, "collateral untouched");
    }

    function test_ReentrantCreateAndReleaseRefused() public {
        ReenteringBuyer b = _attacker();
        (CapacityClaims.SellOrder memory o, bytes memory sig) = _sell(4);
        b.arm(ReenteringBuyer.Attack.CreateSeries, true, o, sig, 1);
        b.buy(o, sig, 1);
        assertEq(
            b.lastError(), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector, "create refused"
        );
        b.arm(ReenteringBuyer.Attack.Release, true, o, sig, 1);
        b.buy(o, sig, 1);
        assertEq(
            b.lastError(), ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector, "release refused"
        );
        assertEq(claims.seriesCount(), 1, "no series created by the attacker");
        assertFalse(claims.series(id).released, "collateral not released");
    }
}

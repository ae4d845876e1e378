// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CapacityClaims} from "../src/CapacityClaims.sol";
import {ClaimsBase} from "./claims/ClaimsBase.sol";

/// @notice Fuzz tests: partial fills never sell more than the order, window and expiry boundaries are exact, and
/// collateral is conserved across redemption and release.
contract CapacityClaimsFuzzTest is ClaimsBase {
    function testFuzz_PartialFillsNeverExceedOrder(
        uint256 orderAmount,
        uint256[6] memory fills,
        uint256 price
    ) public {
        uint256 id = _create(1000);
        orderAmount = bound(orderAmount, 1, 1000);
        price = bound(price, 0, 100 ether);
        CapacityClaims.SellOrder memory o = _order(provider, id, orderAmount, price, 0, T0 + 1 days);
        bytes memory sig = _sign(PROVIDER_KEY, o);
        bytes32 h = claims.orderHash(o);
        uint256 sum;
        for (uint256 i = 0; i < fills.length; ++i) {
            uint256 amount = bound(fills[i], 1, 600);
            uint256 remaining = orderAmount - sum;
            vm.prank(alice);
            if (amount > remaining) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        CapacityClaims.CapacityClaims_Overfill.selector, h, amount, remaining
                    )
                );
                claims.fill(o, sig, amount);
            } else {
                claims.fill(o, sig, amount);
                sum += amount;
            }
            assertEq(claims.filled(h), sum, "filled tracks accepted fills");
            assertLe(claims.filled(h), orderAmount, "never more than the order");
        }
        assertEq(claims.balanceOf(alice, id), sum, "buyer holds what was filled");
        assertEq(claims.balanceOf(provider, id), 1000 - sum, "seller gave exactly that");
        assertEq(FUNDS - token.balanceOf(alice), sum * price, "buyer paid price x filled");
    }

    function testFuzz_RedeemOnlyInsideWindow(uint256 startOffset, uint256 length, uint256 t) public {
        uint64 start = uint64(T0 + bound(startOffset, 0, 30 days));
        uint64 end = start + uint64(bound(length, 1, 30 days));
        vm.prank(provider);
        uint256 id = claims.createSeries(GPU, FLOOR, bytes8("EU"), start, end, 5, CPT);
        vm.prank(provider);
        claims.safeTransferFrom(provider, alice, id, 5, "");

        t = bound(t, T0, uint256(end) + 30 days);
        vm.warp(t);
        vm.prank(alice);
        if (t < start) {
            vm.expectRevert(
                abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowNotStarted.selector, id, start)
            );
            claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
            assertEq(claims.balanceOf(alice, id), 5, "nothing burnt before the window");
        } else if (t >= end) {
            vm.expectRevert(
                abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowEnded.selector, id, end)
            );
            claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
            assertEq(claims.balanceOf(alice, id), 5, "nothing burnt after the window");
        } else if (t + (3600 + _gpusOf(start, end) - 1) / _gpusOf(start, end) > end) {
            // Inside the window, but one GPU-hour on the series' reserved GPUs no longer ends by windowEnd.
            uint256 finish = t + (3600 + _gpusOf(start, end) - 1) / _gpusOf(start, end);
            vm.expectRevert(
                abi.encodeWithSelector(
                    CapacityClaims.CapacityClaims_WorkExceedsWindow.selector, id, finish, end
                )
            );
            claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
            assertEq(claims.balanceOf(alice, id), 5, "nothing burnt when the work cannot end in the window");
        } else {
            claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
            assertEq(claims.balanceOf(alice, id), 4, "burnt inside the window");
        }
    }

    /// @dev GPUs a 5-GPU-hour series over [start, end) reserves.
    function _gpusOf(uint64 start, uint64 end) internal pure returns (uint256) {
        return (5 * 3600 + (end - start) - 1) / (end - start);
    }

    function testFuzz_ReleaseOnlyFromWindowEnd(uint256 length, uint256 t) public {
        uint64 end = START + uint64(bound(length, 1, 30 days));
        vm.prank(provider);
        uint256 id = claims.createSeries(GPU, FLOOR, bytes8("EU"), START, end, 3, CPT);
        t = bound(t, T0, uint256(end) + 30 days);
        vm.warp(t);
        if (t < end) {
            vm.expectRevert(
                abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowNotEnded.selector, id, end)
            );
            claims.releaseCollateral(id);
            assertEq(claims.totalOwed(), 3 * CPT, "still locked");
        } else {
            assertEq(claims.releaseCollateral(id), 3 * CPT, "released at or after windowEnd");
            assertEq(claims.totalOwed(), 0, "nothing owed");
        }
    }

    function testFuzz_FillRespectsExpiry(uint256 expiry, uint256 t) public {
        uint256 id = _create(2);
        expiry = bound(expiry, T0, END - 1);
        t = bound(t, T0, END - 1);
        CapacityClaims.SellOrder memory o = _order(provider, id, 1, 1 ether, 0, expiry);
        bytes memory sig = _sign(PROVIDER_KEY, o);
        bytes32 h = claims.orderHash(o);
        vm.warp(t);
        vm.prank(alice);
        if (t > expiry) {
            vm.expectRevert(
                abi.encodeWithSelector(CapacityClaims.CapacityClaims_OrderExpired.selector, h, expiry)
            );
            claims.fill(o, sig, 1);
            assertEq(claims.filled(h), 0, "expired order unfilled");
        } else {
            claims.fill(o, sig, 1);
            assertEq(claims.filled(h), 1, "live order filled");
        }
    }

    function testFuzz_CollateralConserved(uint256 supply, uint256 cpt, uint256 redeemAmount) public {
        supply = bound(supply, 1, 10_000);
        cpt = bound(cpt, 1, 10 ether);
        redeemAmount = bound(redeemAmount, 0, supply);
        market.setMinimums(FEE, 1); // any redemption reaches the minimum collateral
        vm.prank(provider);
        uint256 id = claims.createSeries(GPU, FLOOR, bytes8("EU"), START, END, supply, cpt);
        assertEq(token.balanceOf(address(claims)), supply * cpt, "locked supply x cpt");
        vm.prank(provider);
        claims.safeTransferFrom(provider, alice, id, supply, "");
        vm.warp(START);
        if (redeemAmount > 0) {
            vm.prank(alice);
            claims.redeem(id, redeemAmount, SPEC, 0, 0, _hash(SECRET));
        }
        assertEq(
            token.balanceOf(address(market)),
            redeemAmount * cpt + (redeemAmount > 0 ? FEE : 0),
            "market got redeemed collateral and the fee"
        );
        assertEq(token.balanceOf(address(claims)), claims.totalOwed(), "balance == owed after redeem");
        vm.warp(END);
        uint256 released = claims.releaseCollateral(id);
        assertEq(released, (supply - redeemAmount) * cpt, "released the unredeemed rest");
        assertEq(released + redeemAmount * cpt, supply * cpt, "every locked token accounted for");
        assertEq(token.balanceOf(address(claims)), 0, "claims contract empty");
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CapacityClaims} from "../src/CapacityClaims.sol";
import {ClaimsBase} from "./claims/ClaimsBase.sol";

/// @notice The redemption schedule (issue 9 case 7): a series' redemptions queue on the GPUs it reserves, each
/// job's commit deadline scales with its work, racing holders are served one after another, and nothing is due
/// that the reserved GPUs cannot deliver before the window ends.
contract CapacityClaimsScheduleTest is ClaimsBase {
    uint256 internal constant SUPPLY = 384; // GPU-hours
    uint64 internal constant WINDOW = 24 hours; // 384 GPU-hours over 24 hours reserve 16 GPUs

    uint256 internal id;

    function setUp() public override {
        super.setUp();
        vm.prank(provider);
        id = claims.createSeries(GPU, FLOOR, REGION, START, START + WINDOW, SUPPLY, CPT);
        assertEq(claims.reservedGpus(id), 16, "16 GPUs reserved");
        vm.prank(provider);
        claims.safeTransferFrom(provider, alice, id, SUPPLY / 2, "");
        vm.prank(provider);
        claims.safeTransferFrom(provider, bob, id, SUPPLY / 2, "");
    }

    /// @dev Issue 9 case 7: one redemption of 384 GPU-hours used to open a job due in a fixed 120 s, forcing the
    /// honest provider into default. Now its deadline is the 24 hours 16 GPUs need, plus the commit slack.
    function test_Attack_OneBigRedemptionGetsADeadlineForItsWork() public {
        vm.prank(bob);
        claims.safeTransferFrom(bob, alice, id, SUPPLY / 2, "");
        vm.warp(START);
        uint256 jobId = _redeem(alice, id, SUPPLY);
        uint64 commitBy = market.callOf(jobId).commitBy;
        assertEq(uint256(commitBy), START + WINDOW + claims.COMMIT_SLACK(), "due when 16 GPUs can finish it");
        assertGe(uint256(commitBy) - START, SUPPLY * 3600 / 16, "never faster than the reserved GPUs");
    }

    /// @dev Two holders redeeming in the same block are queued: the second's work starts when the first's ends,
    /// so the GPU-hours due in any hour never exceed what 16 GPUs deliver.
    function test_Attack_RacingRedemptionsAreQueued() public {
        vm.warp(START);
        uint256 first = _redeem(alice, id, 192);
        uint256 second = _redeem(bob, id, 192);
        uint64 slack = claims.COMMIT_SLACK();
        assertEq(uint256(market.callOf(first).commitBy), START + 12 hours + slack, "first: hours 0-12");
        assertEq(uint256(market.callOf(second).commitBy), START + 24 hours + slack, "second: hours 12-24");
        assertEq(claims.busyUntil(id), START + WINDOW, "fully booked");
    }

    /// @dev A holder that waited cannot compress the whole series into what is left of the window.
    function test_Attack_LateOverRedemptionIsRefused() public {
        vm.warp(START + 23 hours);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_WorkExceedsWindow.selector,
                id,
                uint256(START) + 23 hours + 12 hours,
                START + WINDOW
            )
        );
        claims.redeem(id, 192, SPEC, 0, 0, _hash(SECRET));
        _redeem(alice, id, 16); // the last hour of 16 GPUs still fits
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_WorkExceedsWindow.selector,
                id,
                uint256(START) + WINDOW + 225, // 1 GPU-hour on 16 GPUs
                START + WINDOW
            )
        );
        vm.prank(bob);
        claims.redeem(id, 1, SPEC, 0, 0, _hash(SECRET));
        vm.warp(START + WINDOW);
        assertEq(
            claims.releaseCollateral(id), (SUPPLY - 16) * CPT, "the provider gets the unserved part back"
        );
    }

    /// @dev Random redemptions at random times: each is accepted exactly when an independent model of the queue
    /// says its work ends by the window's end, its deadline is the model's, and consecutive jobs never overlap.
    function testFuzz_ScheduleMatchesModel(uint256 seed) public {
        uint256 frontier; // GPU-seconds since START
        uint256 lastFinish = START;
        uint256 t = START;
        for (uint256 k = 0; k < 12; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            t += r % 4 hours;
            if (t >= START + WINDOW) break;
            vm.warp(t);
            address holder = r >> 128 & 1 == 0 ? alice : bob;
            uint256 held = claims.balanceOf(holder, id);
            if (held == 0) continue;
            uint256 amount = 1 + (r >> 64) % held;
            uint256 begin = frontier > (t - START) * 16 ? frontier : (t - START) * 16;
            uint256 end = begin + amount * 3600;
            uint256 finish = START + (end + 15) / 16;
            vm.prank(holder);
            try claims.redeem(id, amount, SPEC, 0, 0, _hash(SECRET)) returns (uint256 jobId) {
                assertLe(finish, START + WINDOW, "accepted only when the work ends in the window");
                assertEq(
                    uint256(market.callOf(jobId).commitBy), finish + claims.COMMIT_SLACK(), "model deadline"
                );
                assertGe(START + begin / 16, lastFinish > t ? lastFinish - 1 : t, "jobs never overlap");
                frontier = end;
                lastFinish = finish;
            } catch (bytes memory reason) {
                assertGt(finish, START + WINDOW, "refused only when the work would not end in the window");
                assertEq(
                    bytes32(bytes4(reason)),
                    bytes32(CapacityClaims.CapacityClaims_WorkExceedsWindow.selector),
                    "refused with the named error"
                );
            }
        }
        assertEq(claims.scheduledGpuSeconds(id), frontier, "frontier == model");
        assertLe(frontier, uint256(16) * WINDOW, "never more than the reserved GPU-seconds");
    }
}

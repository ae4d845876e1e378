// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CapacityClaims} from "../src/CapacityClaims.sol";
import {ClaimsBase} from "./claims/ClaimsBase.sol";

/// @notice The issuance cap of CapacityClaims: a provider sells at most what its verified GPUs can deliver in
/// every window, a provider whose capacity falls (failed challenge) mints nothing new, and the cap agrees with an
/// independent hour-by-hour model for fuzzed windows and overlaps.
contract CapacityClaimsCapTest is ClaimsBase {
    uint32 internal constant GPUS = 20;

    function setUp() public override {
        super.setUp();
        // The verifier lowers the provider to GPUS GPUs: a lowering applies at once.
        vm.prank(verifier);
        capacity.attest(
            provider,
            GPU,
            GPUS,
            60_000,
            PPM,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            keccak256("down to 20"),
            _hash(ATTESTER_SECRET)
        );
    }

    function _createAt(uint64 start, uint64 end, uint256 supply) internal returns (uint256) {
        vm.prank(provider);
        return claims.createSeries(GPU, FLOOR, REGION, start, end, supply, CPT);
    }

    function test_SeriesStatesGpuHoursAndNormalizedUnits() public {
        vm.prank(verifier);
        capacity.attest(
            provider,
            GPU,
            GPUS,
            30_000,
            500_000,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            keccak256("half an H100"),
            _hash(ATTESTER_SECRET)
        );
        uint256 id = _createAt(START, START + 10 hours, 40);
        CapacityClaims.Series memory s = claims.series(id);
        assertEq(s.supply, 40, "40 GPU-hours");
        assertEq(uint256(s.ppmPerGpu), 500_000, "0.5 H100e per GPU-hour, from the verified capacity");
        assertEq(claims.normalizedSupply(id), 20 * 1e6, "20 H100e-hours, in millionths");
        assertEq(s.region, REGION, "declared region stored");
        assertEq(claims.reservedGpus(id), 4, "40 GPU-hours over 10 hours reserve 4 GPUs");
    }

    function test_RevertWhen_ProviderOversells() public {
        // 20 GPUs x 10 hours = 200 GPU-hours fit; 201 do not.
        _createAt(START, START + 10 hours, 150); // reserves 15 GPUs
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_CapacityExceeded.selector,
                provider,
                GPU,
                START + 5 hours,
                15,
                6,
                20
            )
        );
        _createAt(START + 5 hours, START + 15 hours, 51); // would reserve 6 more from hour 5
        uint256 ok = _createAt(START + 5 hours, START + 15 hours, 50); // 5 more: exactly 20
        assertEq(claims.reservedAt(provider, GPU, START + 6 hours), 20, "fully sold at hour 6");
        assertEq(claims.reservedGpus(ok), 5, "the second series reserves 5");
        // A window that does not overlap is free again.
        _createAt(START + 15 hours, START + 25 hours, 200);
    }

    function test_RevertWhen_CapacityFellAfterFailedChallenge() public {
        _createAt(START, END, 24);
        vm.prank(verifier);
        capacity.attest(
            provider,
            GPU,
            0,
            0,
            0,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            keccak256("failed challenge"),
            _hash(ATTESTER_SECRET)
        );
        (uint32 gpus,,) = capacity.capacityOf(provider, GPU);
        assertEq(uint256(gpus), 0, "a failed challenge applies at once");
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_NoVerifiedCapacity.selector, provider, GPU)
        );
        _createAt(START, END, 1);
        assertEq(claims.balanceOf(provider, 1), 24, "series created before the fall keep their tokens");
    }

    function test_RevertWhen_CapacityLoweredBelowWhatIsSold() public {
        _createAt(START, START + 1 hours, 15);
        vm.prank(verifier);
        capacity.attest(
            provider,
            GPU,
            10,
            60_000,
            PPM,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            keccak256("only 10 GPUs"),
            _hash(ATTESTER_SECRET)
        );
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_CapacityExceeded.selector, provider, GPU, START, 15, 1, 10
            )
        );
        _createAt(START, START + 1 hours, 1);
    }

    function test_RevertWhen_NeverVerified() public {
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_NoVerifiedCapacity.selector, provider, keccak256("A100")
            )
        );
        claims.createSeries(keccak256("A100"), FLOOR, REGION, START, END, 1, CPT);
    }

    function test_EndedSeriesFreeTheirCapacityAndLeaveTheList() public {
        _createAt(uint64(T0), uint64(T0 + 1 hours), 20);
        vm.warp(T0 + 1 hours);
        _createAt(uint64(T0 + 1 hours), uint64(T0 + 2 hours), 20);
        assertEq(claims.liveSeries(provider, GPU).length, 1, "the ended series was dropped");
    }

    /// @dev Issue 9 case 7: with 1 verified GPU, a series back-dated by 277 hours spread 278 GPU-hours over
    /// time already gone and sold them all for the next hour. Now a window cannot start in the past, and the
    /// same GPU-hours in a window that starts now exceed the cap.
    function test_Attack_BackDatedSeriesCannotSellThePast() public {
        vm.prank(verifier);
        capacity.attest(
            provider,
            GPU,
            1,
            60_000,
            PPM,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            keccak256("one GPU"),
            _hash(ATTESTER_SECRET)
        );
        uint64 start = uint64(T0 - 277 hours);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_WindowInPast.selector, start, T0)
        );
        _createAt(start, uint64(T0 + 1 hours), 278);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_CapacityExceeded.selector, provider, GPU, T0, 0, 278, 1
            )
        );
        _createAt(uint64(T0), uint64(T0 + 1 hours), 278);
        uint256 id = _createAt(uint64(T0), uint64(T0 + 1 hours), 1);
        assertEq(claims.reservedGpus(id), 1, "one GPU sells one GPU-hour per hour");
    }

    function test_PastPartOfAWindowDoesNotCount() public {
        // A series over [T0, T0 + 2h) sold 20 GPUs; once it has ended, a new window over the next hours fits.
        _createAt(uint64(T0), uint64(T0 + 2 hours), 40);
        vm.warp(T0 + 1 hours);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_CapacityExceeded.selector,
                provider,
                GPU,
                T0 + 1 hours,
                20,
                20,
                20
            )
        );
        _createAt(uint64(T0 + 1 hours), uint64(T0 + 3 hours), 40);
        vm.warp(T0 + 2 hours);
        _createAt(uint64(T0 + 2 hours), uint64(T0 + 4 hours), 40);
    }

    function test_RevertWhen_TooManyLiveSeries() public {
        vm.prank(verifier);
        capacity.attest(
            provider, GPU, 0, 0, 0, DTYPE, ADVERT, _noGpuIds(), keccak256("reset"), _hash(ATTESTER_SECRET)
        );
        _verify(provider, 1000, PPM);
        for (uint256 i = 0; i < claims.MAX_LIVE_SERIES(); ++i) {
            _createAt(START, END, 1);
        }
        vm.expectRevert(
            abi.encodeWithSelector(CapacityClaims.CapacityClaims_TooManySeries.selector, provider, GPU)
        );
        _createAt(START, END, 1);
    }

    /// @dev Up to eight creation attempts with fuzzed hour-aligned windows and supplies; each must succeed
    /// exactly when an hour-by-hour model (ceil(supply / hours) GPUs in every hour of the window) fits in GPUS.
    function testFuzz_CapMatchesHourlyModel(uint256 seed) public {
        uint256[48] memory used;
        for (uint256 k = 0; k < 8; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint256 startH = r % 40;
            uint256 lenH = 1 + (r >> 8) % 8;
            uint256 supply = 1 + (r >> 16) % (GPUS * lenH + 10);
            uint256 perHour = (supply + lenH - 1) / lenH;
            bool fits = true;
            for (uint256 h = startH; h < startH + lenH; ++h) {
                if (used[h] + perHour > GPUS) fits = false;
            }
            uint64 start = START + uint64(startH) * 1 hours;
            uint64 end = start + uint64(lenH) * 1 hours;
            vm.prank(provider);
            try claims.createSeries(GPU, FLOOR, REGION, start, end, supply, CPT) {
                assertTrue(fits, "the contract sold beyond the model's capacity");
                for (uint256 h = startH; h < startH + lenH; ++h) {
                    used[h] += perHour;
                }
            } catch (bytes memory reason) {
                assertFalse(fits, "the contract refused a series that fits");
                assertEq(
                    bytes32(bytes4(reason)),
                    bytes32(CapacityClaims.CapacityClaims_CapacityExceeded.selector),
                    "refused with the named error"
                );
            }
        }
        for (uint256 h = 0; h < 48; ++h) {
            assertLe(
                claims.reservedAt(provider, GPU, START + uint64(h) * 1 hours), GPUS, "never above verified"
            );
            assertEq(
                claims.reservedAt(provider, GPU, START + uint64(h) * 1 hours), used[h], "model == contract"
            );
        }
    }

    /// @dev Fuzzed second-granular windows: whatever is created, the reserved GPUs at every window start (where
    /// the step function rises) stay within the verified GPUs.
    function testFuzz_CapHoldsForArbitraryWindows(uint256 seed) public {
        uint64[] memory starts = new uint64[](6);
        for (uint256 k = 0; k < 6; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint64 start = START + uint64(r % 2 days);
            uint64 end = start + 1 + uint64((r >> 64) % 1 days);
            uint256 supply = 1 + (r >> 128) % 500;
            starts[k] = start;
            vm.prank(provider);
            try claims.createSeries(GPU, FLOOR, REGION, start, end, supply, CPT) {} catch {}
        }
        for (uint256 k = 0; k < 6; ++k) {
            assertLe(
                claims.reservedAt(provider, GPU, starts[k]), GPUS, "reserved <= verified at a window start"
            );
        }
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CapacityClaims} from "../src/CapacityClaims.sol";
import {CapacityRegistry} from "../src/CapacityRegistry.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {CapacityBase} from "./claims/CapacityBase.sol";

/// @notice Capacity that stays true: a figure expires `reattestPeriod` after it was attested unless re-attested,
/// series creation needs a fresh figure, only a staked verifier (not the provider, not a stranger) can refresh it,
/// and a GPU id declared in one provider's attested advert cannot be declared by another while it is held (the
/// squatter's bound: until its own figure fails or expires, or it leaves).
contract CapacityFreshnessTest is CapacityBase {
    bytes32 internal constant ID1 = keccak256("GPU-11111111-2222-3333-4444-555555555555");
    bytes32 internal constant ID2 = keccak256("GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    uint64 internal constant HOUR = 1 hours;

    /// @dev Alice becomes a second staked provider.
    function _aliceProvides() internal {
        vm.startPrank(alice);
        token.approve(address(registry), type(uint256).max);
        registry.stakeAndRegister(MIN_PROVIDER, 1, hex"0024080112205555", keccak256("alice advert"));
        vm.stopPrank();
    }

    function _ids(bytes32 a) internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](1);
        ids[0] = a;
    }

    function _ids(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory ids) {
        ids = new bytes32[](2);
        ids[0] = a;
        ids[1] = b;
    }

    function _attest(address who, uint32 gpus, bytes32[] memory ids) internal returns (uint256) {
        vm.prank(verifier);
        return capacity.attest(
            who,
            GPU,
            gpus,
            60_000,
            gpus == 0 ? 0 : PPM,
            DTYPE,
            ADVERT,
            ids,
            keccak256(abi.encode("ev", who, gpus, block.timestamp)),
            _hash(ATTESTER_SECRET)
        );
    }

    function _expiresAt(address who) internal view returns (uint64 expiresAt) {
        (,, expiresAt) = capacity.capacityOf(who, GPU);
    }

    /// @dev A one-token series starting an hour from now.
    function _createNow() internal returns (uint256) {
        uint64 start = uint64(block.timestamp + HOUR);
        vm.prank(provider);
        return claims.createSeries(GPU, FLOOR, REGION, start, start + 2 * HOUR, 1, CPT);
    }

    function _expectStale(uint64 expiresAt) internal {
        uint64 start = uint64(block.timestamp + HOUR);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityClaims.CapacityClaims_StaleCapacity.selector, provider, GPU, expiresAt
            )
        );
        claims.createSeries(GPU, FLOOR, REGION, start, start + 2 * HOUR, 1, CPT);
    }

    // ------------------------------------------------------------------------------------------ freshness

    function test_RevertWhen_PeriodNotLongerThanDisputeWindow() public {
        IERC20 t = IERC20(address(token));
        IStakingRegistry r = IStakingRegistry(address(registry));
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 5));
        new CapacityRegistry(t, r, 1, HOUR, 1, 1, 1, 0, HOUR);
        CapacityRegistry ok = new CapacityRegistry(t, r, 1, HOUR, 1, 1, 1, 0, HOUR + 1);
        assertEq(ok.reattestPeriod(), HOUR + 1, "period kept");
    }

    function test_FigureRecordsWhenItWasAttestedAndExpires() public view {
        // setUp verified the provider at T0 (a raise, final after the dispute window, measured at T0).
        CapacityRegistry.Capacity memory c = capacity.capacity(provider, GPU);
        assertEq(c.attestedAt, T0, "attestedAt is when the measurement was posted, not when it became final");
        assertEq(_expiresAt(provider), T0 + REATTEST_PERIOD, "expires a period after the measurement");
        (uint32 none,, uint64 never) = capacity.capacityOf(alice, GPU);
        assertEq(none, 0, "never verified");
        assertEq(never, 0, "no figure, no expiry");
    }

    function test_RevertWhen_SeriesOnStaleFigure() public {
        uint64 expiresAt = _expiresAt(provider);
        vm.warp(expiresAt - 1);
        _createNow(); // the last fresh second
        vm.warp(expiresAt);
        _expectStale(expiresAt);
        vm.warp(expiresAt + 365 days);
        _expectStale(expiresAt);
    }

    function test_ReattestBeforeExpiryStandsAtOnceAndRestartsThePeriod() public {
        uint64 first = _expiresAt(provider);
        vm.warp(first - 1 days);
        uint256 id = _attest(provider, VERIFIED_GPUS, _noGpuIds());
        assertTrue(capacity.attestation(id).immediate, "the same figure, fresh: nothing rises");
        assertEq(capacity.capacity(provider, GPU).attestationId, id, "the re-attestation is in force");
        assertEq(_expiresAt(provider), first - 1 days + REATTEST_PERIOD, "the period restarts");
        vm.warp(first + 1 days);
        _createNow();
    }

    function test_ReattestAfterExpiryIsARaise() public {
        uint64 first = _expiresAt(provider);
        vm.warp(first + 1);
        uint256 id = _attest(provider, VERIFIED_GPUS, _noGpuIds());
        assertFalse(
            capacity.attestation(id).immediate, "a stale figure counts as nothing: the same figure rises"
        );
        _expectStale(first); // still the stale figure in force during the dispute window
        vm.warp(first + 1 + DISPUTE_WINDOW);
        capacity.finalize(id);
        assertEq(_expiresAt(provider), first + 1 + REATTEST_PERIOD, "fresh from the measurement");
        _createNow();
    }

    function test_FailedChallengeStandsAtOnceEvenOnAStaleFigure() public {
        vm.warp(_expiresAt(provider) + 1);
        uint256 id = _attest(provider, 0, _noGpuIds());
        assertTrue(capacity.attestation(id).immediate, "a failure never waits");
        assertEq(_gpus(provider), 0, "no GPU in force");
    }

    function test_RevertWhen_ReattestByNonAttester() public {
        uint64 first = _expiresAt(provider);
        vm.warp(first - 1);
        // A stranger (not a staked verifier) cannot refresh the figure.
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_NotVerifier.selector, bob));
        capacity.attest(
            provider, GPU, VERIFIED_GPUS, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET)
        );
        // Nor can the provider, even once staked as a verifier too.
        _stakeVerifier(provider, 50 ether);
        vm.prank(provider);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_SelfAttestation.selector, provider)
        );
        capacity.attest(
            provider, GPU, VERIFIED_GPUS, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET)
        );
        assertEq(_expiresAt(provider), first, "nothing refreshed");
    }

    function test_RevertWhen_DtypeOrAdvertZero() public {
        vm.startPrank(verifier);
        vm.expectRevert(CapacityRegistry.CapacityRegistry_ZeroField.selector);
        capacity.attest(
            provider, GPU, 1, 60_000, PPM, bytes8(0), ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET)
        );
        vm.expectRevert(CapacityRegistry.CapacityRegistry_ZeroField.selector);
        capacity.attest(
            provider, GPU, 1, 60_000, PPM, DTYPE, bytes32(0), _noGpuIds(), EV, _hash(ATTESTER_SECRET)
        );
        vm.stopPrank();
    }

    function test_AttestCarriesDtypeAdvertAndGpuIds() public {
        vm.expectEmit();
        emit CapacityRegistry.AttestedAdvert(
            capacity.attestationCount() + 1, bytes8("bfloat16"), ADVERT, _ids(ID1)
        );
        vm.prank(verifier);
        uint256 id = capacity.attest(
            provider, GPU, 1, 60_000, PPM, bytes8("bfloat16"), ADVERT, _ids(ID1), EV, _hash(ATTESTER_SECRET)
        );
        assertEq(bytes32(capacity.attestation(id).dtype), bytes32(bytes8("bfloat16")), "dtype stored");
        assertEq(capacity.gpuHolder(ID1), provider, "the provider holds its GPU");
    }

    // ------------------------------------------------------------------------------------------ GPU ids

    function test_RevertWhen_GpuIdsMalformed() public {
        vm.startPrank(verifier);
        // More ids than GPUs verified (a failed challenge verifies none).
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadGpuIds.selector, 2));
        capacity.attest(
            provider, GPU, 1, 60_000, PPM, DTYPE, ADVERT, _ids(ID1, ID2), EV, _hash(ATTESTER_SECRET)
        );
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadGpuIds.selector, 1));
        capacity.attest(provider, GPU, 0, 0, 0, DTYPE, ADVERT, _ids(ID1), EV, _hash(ATTESTER_SECRET));
        // One GPU counted twice, out of order, or a zero id.
        (bytes32 lo, bytes32 hi) = ID1 < ID2 ? (ID1, ID2) : (ID2, ID1);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadGpuIds.selector, 1));
        capacity.attest(
            provider, GPU, 2, 60_000, PPM, DTYPE, ADVERT, _ids(lo, lo), EV, _hash(ATTESTER_SECRET)
        );
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadGpuIds.selector, 1));
        capacity.attest(
            provider, GPU, 2, 60_000, PPM, DTYPE, ADVERT, _ids(hi, lo), EV, _hash(ATTESTER_SECRET)
        );
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadGpuIds.selector, 0));
        capacity.attest(
            provider, GPU, 1, 60_000, PPM, DTYPE, ADVERT, _ids(bytes32(0)), EV, _hash(ATTESTER_SECRET)
        );
        // Sorted, distinct ids pass.
        capacity.attest(
            provider, GPU, 2, 60_000, PPM, DTYPE, ADVERT, _ids(lo, hi), EV, _hash(ATTESTER_SECRET)
        );
        vm.stopPrank();
        assertEq(capacity.gpuHolder(lo), provider, "first GPU held");
        assertEq(capacity.gpuHolder(hi), provider, "second GPU held");
    }

    function test_RevertWhen_GpuIdHeldByAnotherProvider() public {
        _aliceProvides();
        _attest(provider, VERIFIED_GPUS, _ids(ID1));
        _attest(provider, VERIFIED_GPUS, _ids(ID1)); // its holder may declare it again
        vm.prank(verifier);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_GpuHeld.selector, ID1, provider)
        );
        capacity.attest(alice, GPU, 1, 60_000, PPM, DTYPE, ADVERT, _ids(ID1), EV, _hash(ATTESTER_SECRET));
        assertEq(capacity.gpuHolder(ID1), provider, "the holder keeps it");
    }

    function test_GpuIdFreedWhenHolderFigureExpires() public {
        _aliceProvides();
        _attest(provider, VERIFIED_GPUS, _ids(ID1));
        vm.warp(_expiresAt(provider));
        assertEq(capacity.gpuHolder(ID1), address(0), "a stale figure holds nothing");
        _attest(alice, 1, _ids(ID1));
        assertEq(capacity.gpuHolder(ID1), alice, "freed for alice");
    }

    function test_GpuIdFreedWhenHolderFailsAChallenge() public {
        _aliceProvides();
        _attest(provider, VERIFIED_GPUS, _ids(ID1));
        _attest(provider, 0, _noGpuIds()); // the newest figure verifies no GPU
        assertEq(capacity.gpuHolder(ID1), address(0), "a failure holds nothing");
        _attest(alice, 1, _ids(ID1));
        assertEq(capacity.gpuHolder(ID1), alice, "freed for alice");
    }

    function test_GpuIdFreedWhenHolderLeaves() public {
        _aliceProvides();
        _attest(provider, VERIFIED_GPUS, _ids(ID1));
        vm.prank(provider);
        registry.requestUnbond(MIN_PROVIDER);
        assertEq(capacity.gpuHolder(ID1), address(0), "no longer a staked provider");
        _attest(alice, 1, _ids(ID1));
        assertEq(capacity.gpuHolder(ID1), alice, "freed for alice");
    }

    /// @dev The griefer declares the honest provider's UUID first. It holds it while its own raise is pending and
    /// once it stands, and no longer than its figure: when it expires (or a challenge of it fails) the owner gets
    /// its id. The bound is documented in the contract's notes.
    function test_SquatterHoldsAtMostUntilItsFigureExpiresOrFails() public {
        _aliceProvides();
        uint256 squat = _attest(alice, 1, _ids(ID1)); // a raise: pending
        assertFalse(capacity.attestation(squat).immediate, "the squat is a raise");
        vm.prank(verifier);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_GpuHeld.selector, ID1, alice)
        );
        capacity.attest(provider, GPU, 1, 60_000, PPM, DTYPE, ADVERT, _ids(ID1), EV, _hash(ATTESTER_SECRET));
        vm.warp(block.timestamp + DISPUTE_WINDOW);
        capacity.finalize(squat);
        assertEq(capacity.gpuHolder(ID1), alice, "held while its figure stands and is fresh");
        // A failed challenge of the squatter frees the id at once.
        _attest(alice, 0, _noGpuIds());
        _attest(provider, VERIFIED_GPUS, _ids(ID1));
        assertEq(capacity.gpuHolder(ID1), provider, "the owner gets its GPU back");
    }

    function test_SquatterThatKeepsPassingHoldsUntilExpiry() public {
        _aliceProvides();
        uint256 squat = _attest(alice, 1, _ids(ID1));
        uint256 t = block.timestamp;
        vm.warp(t + DISPUTE_WINDOW);
        capacity.finalize(squat);
        vm.warp(t + REATTEST_PERIOD - 1);
        vm.prank(verifier);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_GpuHeld.selector, ID1, alice)
        );
        capacity.attest(provider, GPU, 1, 60_000, PPM, DTYPE, ADVERT, _ids(ID1), EV, _hash(ATTESTER_SECRET));
        vm.warp(t + REATTEST_PERIOD);
        _attest(provider, 1, _ids(ID1));
        assertEq(capacity.gpuHolder(ID1), provider, "the owner gets its GPU after expiry");
        _owedMatches();
    }
}


// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ICapacityRegistry
/// @notice What `CapacityClaims` needs from the verified-capacity registry: how many GPUs of a class a provider
/// was verified to run, how many normalized units (H100e, in millionths) one of its GPU-hours is worth, and until
/// when that figure is fresh.
interface ICapacityRegistry {
    /// @notice The verified capacity in force for `provider` on `gpuClass`.
    /// @param provider The provider.
    /// @param gpuClass GPU class id (keccak256 of the upper-case class name).
    /// @return gpus GPUs verified (0: never verified, or the last challenge failed).
    /// @return ppmPerGpu H100e-hours per GPU-hour of this provider, in millionths (1_000_000 = one H100).
    /// @return expiresAt First second at which the figure is stale unless re-attested (0: none in force).
    function capacityOf(address provider, bytes32 gpuClass)
        external
        view
        returns (uint32 gpus, uint32 ppmPerGpu, uint64 expiresAt);
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Commitment
/// @notice The v1 commitment rules shared with the Python `verifier` package (tests/vectors/commitment-v1.json):
/// - leaf(i) = keccak256(abi.encode(uint256 i, bytes32 metaHash, bytes32 dataHash));
/// - inner nodes are keccak256 of the sorted pair (OpenZeppelin `MerkleProof`); levels are built pairwise left
///   to right and an odd last node is carried up unchanged;
/// - sampled indices: for j = 0, 1, 2, ...: uint256(keccak256(abi.encode(seed, jobId, j))) % n, skipping values
///   already drawn, until k distinct ones (k <= n).
library Commitment {
    /// @notice `k` exceeds `n`, or `n` is zero.
    /// @param n Number of units.
    /// @param k Number of samples asked for.
    error Commitment_InvalidSampleSize(uint256 n, uint256 k);

    /// @notice The leaf that binds unit `index` to its output hashes.
    function leaf(uint256 index, bytes32 metaHash, bytes32 dataHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(index, metaHash, dataHash));
    }

    /// @notice Whether unit `index` with these hashes is under `merkleRoot`.
    function verify(
        bytes32 merkleRoot,
        uint256 index,
        bytes32 metaHash,
        bytes32 dataHash,
        bytes32[] memory proof
    ) internal pure returns (bool) {
        return MerkleProof.verify(proof, merkleRoot, leaf(index, metaHash, dataHash));
    }

    /// @notice The root of a tree over `leaves` by the v1 rules (used by tests and off-chain tools; O(n) memory).
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        if (n == 0) return bytes32(0);
        bytes32[] memory level = leaves;
        while (n > 1) {
            uint256 next = (n + 1) / 2;
            bytes32[] memory up = new bytes32[](next);
            for (uint256 i = 0; i < n / 2; ++i) {
                up[i] = _hashPair(level[2 * i], level[2 * i + 1]);
            }
            if (n % 2 == 1) up[next - 1] = level[n - 1];
            level = up;
            n = next;
        }
        return level[0];
    }

    /// @notice The `k` distinct unit indices in [0, n) that the v1 rule draws from `seed` for `jobId`.
    /// @dev Cost grows like the coupon collector when `k` is close to `n`; callers bound `k` by a parameter.
    function sampleIndices(bytes32 seed, uint256 jobId, uint256 n, uint256 k)
        internal
        pure
        returns (uint256[] memory indices)
    {
        if (n == 0 || k > n) revert Commitment_InvalidSampleSize(n, k);
        indices = new uint256[](k);
        uint256 drawn = 0;
        for (uint256 j = 0; drawn < k; ++j) {
            uint256 x = uint256(keccak256(abi.encode(seed, jobId, j))) % n;
            bool seen = false;
            for (uint256 i = 0; i < drawn; ++i) {
                if (indices[i] == x) {
                    seen = true;
                    break;
                }
            }
            if (!seen) {
                indices[drawn] = x;
                ++drawn;
            }
        }
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }
}

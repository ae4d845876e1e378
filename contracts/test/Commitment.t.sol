// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {Commitment} from "../src/libraries/Commitment.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @dev External wrapper so reverts of the internal library functions can be expected.
contract CommitmentHarness {
    function sampleIndices(bytes32 seed, uint256 jobId, uint256 n, uint256 k)
        external
        pure
        returns (uint256[] memory)
    {
        return Commitment.sampleIndices(seed, jobId, n, k);
    }
}

/// @notice Reproduces every vector of tests/vectors/commitment-v1.json through the Commitment library.
contract CommitmentVectorsTest is Test {
    string internal json;
    CommitmentHarness internal harness;

    function setUp() public {
        json = vm.readFile("../tests/vectors/commitment-v1.json");
        harness = new CommitmentHarness();
    }

    function _key(string memory prefix, uint256 i, string memory suffix)
        internal
        pure
        returns (string memory)
    {
        return string.concat(prefix, vm.toString(i), suffix);
    }

    function test_MerkleVectors() public view {
        uint256 cases = 4;
        for (uint256 c = 0; c < cases; ++c) {
            string memory base = _key("$.merkle[", c, "]");
            uint256 n = vm.parseJsonUint(json, string.concat(base, ".n_units"));
            bytes32 meta = vm.parseJsonBytes32(json, string.concat(base, ".meta_hash"));
            bytes32[] memory data = vm.parseJsonBytes32Array(json, string.concat(base, ".data_hashes"));
            bytes32[] memory leaves = vm.parseJsonBytes32Array(json, string.concat(base, ".leaves"));
            bytes32 expectedRoot = vm.parseJsonBytes32(json, string.concat(base, ".root"));
            assertEq(data.length, n, "data hashes per unit");
            assertEq(leaves.length, n, "leaves per unit");
            for (uint256 i = 0; i < n; ++i) {
                assertEq(Commitment.leaf(i, meta, data[i]), leaves[i], "leaf matches vector");
            }
            assertEq(Commitment.root(leaves), expectedRoot, "root matches vector");
            for (uint256 i = 0; i < n; ++i) {
                bytes32[] memory proof =
                    vm.parseJsonBytes32Array(json, string.concat(base, _key(".proofs[", i, "]")));
                assertTrue(
                    MerkleProof.verify(proof, expectedRoot, leaves[i]), "OZ MerkleProof accepts vector proof"
                );
                assertTrue(
                    Commitment.verify(expectedRoot, i, meta, data[i], proof),
                    "Commitment.verify accepts vector"
                );
                assertFalse(
                    Commitment.verify(expectedRoot, i, meta, keccak256(abi.encode(data[i])), proof),
                    "a different data hash is rejected"
                );
                if (n > 1) {
                    assertFalse(
                        Commitment.verify(expectedRoot, (i + 1) % n, meta, data[i], proof),
                        "wrong index rejected"
                    );
                }
            }
        }
    }

    function test_SamplingVectors() public view {
        uint256 cases = 4;
        for (uint256 c = 0; c < cases; ++c) {
            string memory base = _key("$.sampling[", c, "]");
            bytes32 seed = vm.parseJsonBytes32(json, string.concat(base, ".seed"));
            uint256 jobId = vm.parseJsonUint(json, string.concat(base, ".job_id"));
            uint256 n = vm.parseJsonUint(json, string.concat(base, ".n_units"));
            uint256 k = vm.parseJsonUint(json, string.concat(base, ".k"));
            uint256[] memory expected = vm.parseJsonUintArray(json, string.concat(base, ".indices"));
            assertEq(Commitment.sampleIndices(seed, jobId, n, k), expected, "sampled indices match vector");
        }
    }

    function test_RevertWhen_SampleMoreThanUnits() public {
        vm.expectRevert(abi.encodeWithSelector(Commitment.Commitment_InvalidSampleSize.selector, 3, 4));
        harness.sampleIndices(bytes32(0), 1, 3, 4);
    }

    function test_RevertWhen_SampleFromZeroUnits() public {
        vm.expectRevert(abi.encodeWithSelector(Commitment.Commitment_InvalidSampleSize.selector, 0, 0));
        harness.sampleIndices(bytes32(0), 1, 0, 0);
    }

    function test_RootOfNothingIsZero() public pure {
        assertEq(Commitment.root(new bytes32[](0)), bytes32(0), "empty tree has zero root");
    }

    function testFuzz_SamplesAreDistinctAndInRange(bytes32 seed, uint256 jobId, uint256 n, uint256 k)
        public
        pure
    {
        n = bound(n, 1, 200);
        k = bound(k, 0, n < 32 ? n : 32);
        uint256[] memory idx = Commitment.sampleIndices(seed, jobId, n, k);
        assertEq(idx.length, k, "k indices");
        for (uint256 i = 0; i < k; ++i) {
            assertLt(idx[i], n, "index in range");
            for (uint256 j = 0; j < i; ++j) {
                assertNotEq(idx[i], idx[j], "indices distinct");
            }
        }
    }
}

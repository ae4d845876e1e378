// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "./Test.sol";

contract TestUtilsTest is Test {
    function test_WarpMovesTime() public {
        vm.warp(1_000_000);
        assertEq(block.timestamp, 1_000_000, "warp sets block.timestamp");
    }

    function testFuzz_BoundStaysInRange(uint256 x) public pure {
        uint256 y = bound(x, 10, 20);
        assertGe(y, 10, "bound lower");
        assertLe(y, 20, "bound upper");
    }

    function test_RevertWhen_ExpectRevertSeesCustomError() public {
        Reverter r = new Reverter();
        vm.expectRevert(abi.encodeWithSelector(Reverter.Reverter_No.selector, 7));
        r.no(7);
    }

    function test_SignRecovers() public pure {
        uint256 key = 0xA11CE;
        bytes32 digest = keccak256("x");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        assertEq(ecrecover(digest, v, r, s), vm.addr(key), "ecrecover(sign(k)) == addr(k)");
    }
}

contract Reverter {
    error Reverter_No(uint256 x);

    function no(uint256 x) external pure {
        revert Reverter_No(x);
    }
}

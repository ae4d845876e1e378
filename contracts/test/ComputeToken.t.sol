// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {ComputeToken} from "../src/ComputeToken.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

contract ComputeTokenTest is Test {
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    ComputeToken internal token;
    uint256 internal aliceKey = 0xA11CE;
    address internal alice;
    address internal bob;

    function setUp() public {
        alice = vm.addr(aliceKey);
        bob = makeAddr("bob");
        address[] memory holders = new address[](2);
        holders[0] = alice;
        holders[1] = bob;
        token = new ComputeToken(holders, 1000 ether);
    }

    function test_ConstructorMintsToEachHolder() public view {
        assertEq(token.balanceOf(alice), 1000 ether, "alice minted");
        assertEq(token.balanceOf(bob), 1000 ether, "bob minted");
        assertEq(token.totalSupply(), 2000 ether, "supply = holders * each");
        assertEq(token.decimals(), 18, "18 decimals");
    }

    function test_RevertWhen_NoHolders() public {
        vm.expectRevert(ComputeToken.ComputeToken_NoHolders.selector);
        new ComputeToken(new address[](0), 1);
    }

    function test_RevertWhen_ZeroHolder() public {
        address[] memory holders = new address[](2);
        holders[0] = alice;
        vm.expectRevert(abi.encodeWithSelector(ComputeToken.ComputeToken_ZeroHolder.selector, 1));
        new ComputeToken(holders, 1);
    }

    function _permitSig(uint256 key, address owner, address spender, uint256 value, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        bytes32 structHash = keccak256(
            abi.encode(PERMIT_TYPEHASH, owner, spender, value, token.nonces(owner), deadline)
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(key, digest);
    }

    function test_PermitSetsAllowance() public {
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(aliceKey, alice, bob, 5 ether, block.timestamp + 1);
        token.permit(alice, bob, 5 ether, block.timestamp + 1, v, r, s);
        assertEq(token.allowance(alice, bob), 5 ether, "permit sets allowance");
        assertEq(token.nonces(alice), 1, "nonce consumed");
        vm.prank(bob);
        token.transferFrom(alice, bob, 5 ether);
        assertEq(token.balanceOf(bob), 1005 ether, "spender pulled the permitted amount");
    }

    function test_RevertWhen_PermitExpired() public {
        vm.warp(1000);
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(aliceKey, alice, bob, 5 ether, 999);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, 999));
        token.permit(alice, bob, 5 ether, 999, v, r, s);
    }

    function test_RevertWhen_PermitReplayed() public {
        (uint8 v, bytes32 r, bytes32 s) = _permitSig(aliceKey, alice, bob, 5 ether, block.timestamp + 1);
        token.permit(alice, bob, 5 ether, block.timestamp + 1, v, r, s);
        vm.expectRevert();
        token.permit(alice, bob, 5 ether, block.timestamp + 1, v, r, s);
        assertEq(token.nonces(alice), 1, "replay did not consume a nonce");
    }

    function testFuzz_TransferMovesExactAmount(uint256 amount) public {
        amount = bound(amount, 0, 1000 ether);
        vm.prank(alice);
        token.transfer(bob, amount);
        assertEq(token.balanceOf(alice), 1000 ether - amount, "sender debited");
        assertEq(token.balanceOf(bob), 1000 ether + amount, "receiver credited");
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CapacityRegistry} from "../src/CapacityRegistry.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {ClaimsBase} from "./claims/ClaimsBase.sol";

/// @notice Capacity attestations: posted by staked verifiers with a bond, raises wait out the dispute window,
/// lowerings apply at once, disputes go to a drawn panel whose majority moves the bonds, and the registry always
/// holds exactly the bonds it owes.
contract CapacityRegistryTest is ClaimsBase {
    bytes32 internal constant EV = keccak256("transcript");
    address[] internal extra;

    function setUp() public override {
        super.setUp();
        // Four more staked verifiers, so that a panel of 3 can be drawn around attester and disputer.
        for (uint256 i = 0; i < 4; ++i) {
            address v = vm.addr(0x5000 + i);
            extra.push(v);
            vm.prank(alice);
            token.transfer(v, 100 ether);
            vm.startPrank(v);
            token.approve(address(registry), type(uint256).max);
            token.approve(address(capacity), type(uint256).max);
            registry.stakeAndRegister(50 ether, 2, abi.encodePacked(bytes32(uint256(0x77 + i))), bytes32(0));
            vm.stopPrank();
        }
    }

    function _owedMatches() internal view {
        assertEq(token.balanceOf(address(capacity)), capacity.totalOwed(), "balance == bonds owed");
    }

    function test_RevertWhen_ConstructorParametersBad() public {
        IERC20 t = IERC20(address(token));
        IStakingRegistry r = IStakingRegistry(address(registry));
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 0));
        new CapacityRegistry(IERC20(address(0)), r, 1, 1, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 1));
        new CapacityRegistry(t, IStakingRegistry(address(0)), 1, 1, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 2));
        new CapacityRegistry(t, r, 0, 1, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 3));
        new CapacityRegistry(t, r, 1, 1, 1, 16);
    }

    function test_RevertWhen_AttesterIsNotAVerifier() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_NotVerifier.selector, alice));
        capacity.attest(provider, GPU, 8, 60_000, PPM, EV);
    }

    function test_RevertWhen_SelfAttestOrZeroFields() public {
        vm.prank(verifier);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_SelfAttestation.selector, verifier)
        );
        capacity.attest(verifier, GPU, 8, 60_000, PPM, EV);
        vm.prank(verifier);
        vm.expectRevert(CapacityRegistry.CapacityRegistry_ZeroField.selector);
        capacity.attest(provider, GPU, 8, 60_000, PPM, bytes32(0));
        vm.prank(verifier);
        vm.expectRevert(CapacityRegistry.CapacityRegistry_ZeroThroughput.selector);
        capacity.attest(provider, GPU, 8, 60_000, 0, EV);
    }

    function test_RaiseWaitsForTheDisputeWindow() public {
        address p = makeAddr("new provider");
        vm.prank(verifier);
        uint256 id = capacity.attest(p, GPU, 8, 60_000, PPM, EV);
        (uint32 gpus,) = capacity.capacityOf(p, GPU);
        assertEq(uint256(gpus), 0, "a raise is not in force during the window");
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_TooEarly.selector, id, T0 + DISPUTE_WINDOW
            )
        );
        capacity.finalize(id);
        _owedMatches();
        uint256 before = token.balanceOf(verifier);
        vm.warp(T0 + DISPUTE_WINDOW);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Final), "final");
        (gpus,) = capacity.capacityOf(p, GPU);
        assertEq(uint256(gpus), 8, "in force after the window");
        assertEq(token.balanceOf(verifier), before + BOND, "bond back");
        _owedMatches();
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_WrongStatus.selector, id, CapacityRegistry.Status.Final
            )
        );
        capacity.finalize(id);
    }

    function test_OlderRaiseDoesNotOverrideNewerLowering() public {
        address p = makeAddr("p");
        vm.prank(verifier);
        uint256 raise = capacity.attest(p, GPU, 8, 60_000, PPM, EV);
        vm.prank(extra[0]);
        capacity.attest(p, GPU, 0, 0, 0, keccak256("failed")); // nothing rises: applies now
        vm.warp(T0 + DISPUTE_WINDOW);
        capacity.finalize(raise);
        (uint32 gpus,) = capacity.capacityOf(p, GPU);
        assertEq(uint256(gpus), 0, "the newer failed challenge stays in force");
    }

    function _disputeLowering() internal returns (uint256 id, address[] memory members) {
        vm.prank(verifier);
        id = capacity.attest(provider, GPU, 0, 0, 0, keccak256("claims a failure"));
        (uint32 gpus,) = capacity.capacityOf(provider, GPU);
        assertEq(uint256(gpus), 0, "lowering applied at once");
        vm.prank(provider);
        token.approve(address(capacity), type(uint256).max);
        vm.prank(provider);
        capacity.dispute(id);
        members = capacity.panel(id);
        assertEq(members.length, 3, "three drawn");
        for (uint256 i = 0; i < members.length; ++i) {
            assertTrue(members[i] != verifier && members[i] != provider, "attester and provider never drawn");
        }
        _owedMatches();
    }

    function test_OverturnedLoweringIsRolledBackAndAttesterPays() public {
        (uint256 id, address[] memory members) = _disputeLowering();
        uint256 providerBefore = token.balanceOf(provider);
        uint256 verifierBefore = token.balanceOf(verifier);
        vm.prank(members[0]);
        capacity.vote(id, false);
        vm.prank(members[1]);
        capacity.vote(id, false);
        vm.prank(members[2]);
        capacity.vote(id, true);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Overturned), "overturned");
        (uint32 gpus,) = capacity.capacityOf(provider, GPU);
        assertEq(uint256(gpus), VERIFIED_GPUS, "capacity before the false failure restored");
        assertEq(token.balanceOf(verifier), verifierBefore, "attester lost its bond");
        uint256 each = BOND / 2 / 2;
        assertEq(token.balanceOf(provider), providerBefore + BOND + BOND - BOND / 2, "disputer: bond + half");
        assertEq(token.balanceOf(members[0]), 50 ether + each, "majority voter paid");
        assertEq(token.balanceOf(members[2]), 50 ether, "minority voter not paid");
        _owedMatches();
        vm.prank(provider);
        claims.createSeries(GPU, FLOOR, REGION, START, END, 1, CPT);
    }

    function test_UpheldAttestationPaysAttester() public {
        (uint256 id, address[] memory members) = _disputeLowering();
        uint256 verifierBefore = token.balanceOf(verifier);
        vm.prank(members[1]);
        capacity.vote(id, true);
        vm.warp(T0 + VOTE_WINDOW);
        vm.prank(members[0]);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_VoteOver.selector, id, T0 + VOTE_WINDOW)
        );
        capacity.vote(id, false);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Upheld), "upheld");
        (uint32 gpus,) = capacity.capacityOf(provider, GPU);
        assertEq(uint256(gpus), 0, "the failure stands");
        assertEq(token.balanceOf(verifier), verifierBefore + BOND + BOND - BOND / 2, "attester: bond + half");
        assertEq(token.balanceOf(members[1]), 50 ether + BOND / 2, "the one majority voter gets the pool");
        _owedMatches();
    }

    function test_TieVoidsAndRefunds() public {
        (uint256 id,) = _disputeLowering();
        uint256 providerBefore = token.balanceOf(provider);
        uint256 verifierBefore = token.balanceOf(verifier);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_TooEarly.selector, id, T0 + VOTE_WINDOW)
        );
        capacity.finalize(id);
        vm.warp(T0 + VOTE_WINDOW);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Void), "no votes: void");
        assertEq(token.balanceOf(provider), providerBefore + BOND, "disputer refunded");
        assertEq(token.balanceOf(verifier), verifierBefore + BOND, "attester refunded");
        (uint32 gpus,) = capacity.capacityOf(provider, GPU);
        assertEq(uint256(gpus), 0, "doubt never raises capacity: the lowering stays");
        _owedMatches();
    }

    function test_RevertWhen_DisputeRulesBroken() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(makeAddr("p"), GPU, 8, 60_000, PPM, EV);
        vm.prank(verifier);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_SelfDispute.selector, id));
        capacity.dispute(id);
        vm.prank(extra[0]);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_WrongStatus.selector, id, CapacityRegistry.Status.Pending
            )
        );
        capacity.vote(id, true);
        vm.warp(T0 + DISPUTE_WINDOW);
        vm.prank(extra[0]);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_DisputeWindowOver.selector, id, T0 + DISPUTE_WINDOW
            )
        );
        capacity.dispute(id);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_UnknownAttestation.selector, 99)
        );
        capacity.finalize(99);
    }

    function test_DisputedRaiseOverturnedNeverApplies() public {
        address p = makeAddr("p");
        vm.prank(verifier);
        uint256 id = capacity.attest(p, GPU, 64, 60_000, PPM, EV);
        vm.prank(extra[0]);
        capacity.dispute(id);
        address[] memory members = capacity.panel(id);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_NotOnPanel.selector, id, alice)
        );
        capacity.vote(id, true);
        for (uint256 i = 0; i < members.length; ++i) {
            vm.prank(members[i]);
            capacity.vote(id, false);
        }
        capacity.finalize(id); // every member voted: no need to wait
        (uint32 gpus,) = capacity.capacityOf(p, GPU);
        assertEq(uint256(gpus), 0, "an overturned raise never applies");
        _owedMatches();
    }
}

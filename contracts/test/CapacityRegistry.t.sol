// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CapacityRegistry} from "../src/CapacityRegistry.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {CapacityBase} from "./claims/CapacityBase.sol";
import {CapacityHandler} from "./claims/CapacityHandler.sol";

/// @notice Capacity attestations: posted by staked verifiers with a bond and a committed secret, raises wait out
/// the dispute window, lowerings apply at once, disputes go to a panel drawn from both parties' secrets whose
/// committed-then-revealed ballots decide by a quorum of seats, and the registry always holds exactly the bonds
/// it owes.
contract CapacityRegistryTest is CapacityBase {
    function test_RevertWhen_ConstructorParametersBad() public {
        IERC20 t = IERC20(address(token));
        IStakingRegistry r = IStakingRegistry(address(registry));
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 0));
        new CapacityRegistry(IERC20(address(0)), r, 1, 1, 1, 1, 1, 0, 2);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 1));
        new CapacityRegistry(t, IStakingRegistry(address(0)), 1, 1, 1, 1, 1, 0, 2);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 2));
        new CapacityRegistry(t, r, 0, 1, 1, 1, 1, 0, 2);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 3));
        new CapacityRegistry(t, r, 1, 1, 1, 1, 16, 0, 2);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_BadParameter.selector, 4));
        new CapacityRegistry(t, r, 1, 1, 1, 0, 1, 0, 2);
    }

    function test_RevertWhen_AttesterIsNotAVerifier() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_NotVerifier.selector, alice));
        capacity.attest(provider, GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET));
    }

    function test_RevertWhen_SelfAttestOrZeroFields() public {
        vm.prank(verifier);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_SelfAttestation.selector, verifier)
        );
        capacity.attest(verifier, GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET));
        vm.prank(verifier);
        vm.expectRevert(CapacityRegistry.CapacityRegistry_ZeroField.selector);
        capacity.attest(
            provider, GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), bytes32(0), _hash(ATTESTER_SECRET)
        );
        vm.prank(verifier);
        vm.expectRevert(CapacityRegistry.CapacityRegistry_ZeroField.selector);
        capacity.attest(provider, GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, bytes32(0));
        vm.prank(verifier);
        vm.expectRevert(CapacityRegistry.CapacityRegistry_ZeroThroughput.selector);
        capacity.attest(provider, GPU, 8, 60_000, 0, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET));
    }

    function test_RaiseWaitsForTheDisputeWindow() public {
        address p = makeAddr("new provider");
        vm.prank(verifier);
        uint256 id =
            capacity.attest(p, GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET));
        assertEq(_gpus(p), 0, "a raise is not in force during the window");
        assertFalse(capacity.attestation(id).immediate, "a raise");
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
        assertEq(_gpus(p), 8, "in force after the window");
        assertEq(uint256(capacity.capacity(p, GPU).attestationId), id, "set by the raise");
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
        uint256 raise =
            capacity.attest(p, GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET));
        vm.prank(extra[0]);
        capacity.attest(
            p, GPU, 0, 0, 0, DTYPE, ADVERT, _noGpuIds(), keccak256("failed"), _hash(ATTESTER_SECRET)
        ); // nothing rises
        vm.warp(T0 + DISPUTE_WINDOW);
        capacity.finalize(raise);
        assertEq(_gpus(p), 0, "the newer failed challenge stays in force");
    }

    function _disputeLowering() internal returns (uint256 id, address[] memory members) {
        vm.prank(verifier);
        id = capacity.attest(
            provider,
            GPU,
            0,
            0,
            0,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            keccak256("claims a failure"),
            _hash(ATTESTER_SECRET)
        );
        assertEq(_gpus(provider), 0, "lowering applied at once");
        members = _disputeAndDraw(id, provider);
        assertEq(members.length, 3, "three drawn");
        for (uint256 i = 0; i < members.length; ++i) {
            assertTrue(members[i] != verifier && members[i] != provider, "attester and provider never drawn");
            assertEq(registry.dutiesOf(members[i]), 1, "a duty per seat");
        }
        _owedMatches();
    }

    function test_OverturnedLoweringIsRolledBackAndAttesterPays() public {
        (uint256 id, address[] memory members) = _disputeLowering();
        uint256 providerBefore = token.balanceOf(provider);
        uint256 verifierBefore = token.balanceOf(verifier);
        _vote(id, members, _votes(false, false, true));
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Overturned), "overturned");
        assertEq(_gpus(provider), VERIFIED_GPUS, "capacity before the false failure restored");
        assertEq(token.balanceOf(verifier), verifierBefore, "attester lost its bond");
        uint256 each = BOND / 2 / 2;
        assertEq(token.balanceOf(provider), providerBefore + BOND + BOND - BOND / 2, "disputer: bond + half");
        assertEq(token.balanceOf(members[0]), 50 ether + each, "majority voter paid");
        assertEq(token.balanceOf(members[2]), 50 ether, "minority voter not paid");
        for (uint256 i = 0; i < members.length; ++i) {
            assertEq(registry.dutiesOf(members[i]), 0, "duties closed");
        }
        _owedMatches();
        vm.prank(provider);
        claims.createSeries(GPU, FLOOR, REGION, START, END, 1, CPT);
    }

    function test_UpheldAttestationPaysAttester() public {
        (uint256 id, address[] memory members) = _disputeLowering();
        uint256 verifierBefore = token.balanceOf(verifier);
        uint256 silentStake = registry.stakerOf(members[2]).active;
        _vote(id, members, _votes(true, true));
        vm.prank(members[2]);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_DeadlinePassed.selector, id, T0 + VOTE_WINDOW
            )
        );
        capacity.commitVote(id, keccak256("late"));
        vm.warp(T0 + VOTE_WINDOW + REVEAL_WINDOW + 1);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Upheld), "upheld");
        assertEq(_gpus(provider), 0, "the failure stands");
        assertEq(token.balanceOf(verifier), verifierBefore + BOND + BOND - BOND / 2, "attester: bond + half");
        uint256 each = (BOND / 2 + ABSENT_SLASH) / 2;
        assertEq(
            token.balanceOf(members[1]), 50 ether + each, "the majority shares half a bond and the slash"
        );
        assertEq(registry.stakerOf(members[2]).active, silentStake - ABSENT_SLASH, "silent member slashed");
        assertEq(token.balanceOf(members[2]), 50 ether, "silent member not paid");
        _owedMatches();
    }

    function test_NoBallotsVoidsAndRefunds() public {
        (uint256 id, address[] memory members) = _disputeLowering();
        uint256 providerBefore = token.balanceOf(provider);
        uint256 verifierBefore = token.balanceOf(verifier);
        uint256 revealBy = T0 + VOTE_WINDOW + REVEAL_WINDOW;
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_TooEarly.selector, id, revealBy + 1)
        );
        capacity.finalize(id);
        vm.warp(revealBy + 1);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Void), "no quorum: void");
        assertEq(token.balanceOf(provider), providerBefore + BOND, "disputer refunded");
        assertEq(
            token.balanceOf(verifier),
            verifierBefore + BOND + 3 * ABSENT_SLASH,
            "attester refunded (+ slashes)"
        );
        for (uint256 i = 0; i < members.length; ++i) {
            assertEq(
                registry.stakerOf(members[i]).active, 50 ether - ABSENT_SLASH, "every silent seat slashed"
            );
        }
        assertEq(_gpus(provider), 0, "doubt never raises capacity: the lowering stays");
        _owedMatches();
    }

    function test_RevertWhen_DisputeRulesBroken() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(
            makeAddr("p"), GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET)
        );
        vm.prank(verifier);
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_SelfDispute.selector, id));
        capacity.dispute(id, _hash("x"));
        vm.prank(extra[0]);
        vm.expectRevert(CapacityRegistry.CapacityRegistry_ZeroField.selector);
        capacity.dispute(id, bytes32(0));
        vm.prank(extra[0]);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_WrongStatus.selector, id, CapacityRegistry.Status.Pending
            )
        );
        capacity.commitVote(id, keccak256("ballot"));
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_WrongStatus.selector, id, CapacityRegistry.Status.Pending
            )
        );
        capacity.revealAttesterSecret(id, ATTESTER_SECRET);
        vm.warp(T0 + DISPUTE_WINDOW);
        vm.prank(extra[0]);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_DisputeWindowOver.selector, id, T0 + DISPUTE_WINDOW
            )
        );
        capacity.dispute(id, _hash("x"));
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_UnknownAttestation.selector, 99)
        );
        capacity.finalize(99);
    }

    function test_RevealOrderAndPreimages() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(
            makeAddr("p"), GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET)
        );
        bytes32 secret = keccak256("d");
        vm.prank(extra[0]);
        capacity.dispute(id, _hash(secret));
        (uint64 from, uint64 until) = capacity.disputerRevealSpan(id);
        assertEq(uint256(from), T0 + REVEAL_WINDOW + 1, "the disputer waits for the attester");
        assertEq(uint256(until), T0 + 2 * REVEAL_WINDOW, "then has one window");
        vm.expectRevert(abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_TooEarly.selector, id, from));
        capacity.revealDisputerSecret(id, secret);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_WrongPreimage.selector, id, address(this)
            )
        );
        capacity.revealAttesterSecret(id, keccak256("wrong"));
        vm.warp(T0 + 10);
        capacity.revealAttesterSecret(id, ATTESTER_SECRET);
        (from, until) = capacity.disputerRevealSpan(id);
        assertEq(uint256(until), T0 + 10 + REVEAL_WINDOW, "the disputer's window starts at the reveal");
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_WrongStatus.selector, id, CapacityRegistry.Status.Disputed
            )
        );
        capacity.revealAttesterSecret(id, ATTESTER_SECRET);
        vm.expectRevert(
            abi.encodeWithSelector(
                CapacityRegistry.CapacityRegistry_WrongPreimage.selector, id, address(this)
            )
        );
        capacity.revealDisputerSecret(id, keccak256("another secret chosen after seeing the attester's"));
        capacity.revealDisputerSecret(id, secret);
        CapacityRegistry.Attestation memory a = capacity.attestation(id);
        assertEq(
            a.seed, keccak256(abi.encode(ATTESTER_SECRET, secret, id)), "seed of both secrets and the id"
        );
        assertEq(uint256(a.status), uint256(CapacityRegistry.Status.Voting), "voting");
    }

    function test_SilentAttesterCountsAsZero() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(
            makeAddr("p"), GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET)
        );
        bytes32 secret = keccak256("d");
        vm.prank(extra[0]);
        capacity.dispute(id, _hash(secret));
        vm.warp(T0 + REVEAL_WINDOW + 1);
        capacity.revealDisputerSecret(id, secret);
        assertEq(capacity.attestation(id).seed, keccak256(abi.encode(bytes32(0), secret, id)), "attester = 0");
    }

    function test_DisputedRaiseOverturnedNeverApplies() public {
        address p = makeAddr("p");
        vm.prank(verifier);
        uint256 id =
            capacity.attest(p, GPU, 64, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET));
        address[] memory members = _disputeAndDraw(id, extra[0]);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_NotOnPanel.selector, id, alice)
        );
        capacity.commitVote(id, keccak256("ballot"));
        _vote(id, members, _votes(false, false, false));
        capacity.finalize(id); // every seat revealed: no need to wait
        assertEq(_gpus(p), 0, "an overturned raise never applies");
        _owedMatches();
    }

    function test_EmptyPanelVoids() public {
        // A provider whose only possible panel members are the attester and the disputer.
        CapacityRegistry lone = new CapacityRegistry(
            IERC20(address(token)),
            IStakingRegistry(address(registry)),
            BOND,
            DISPUTE_WINDOW,
            VOTE_WINDOW,
            REVEAL_WINDOW,
            1,
            ABSENT_SLASH,
            REATTEST_PERIOD
        );
        // Every verifier but `verifier` and extra[0] leaves the drawable set.
        for (uint256 i = 1; i < extra.length; ++i) {
            vm.prank(extra[i]);
            registry.requestUnbond(50 ether);
        }
        vm.roll(block.number + 1);
        vm.prank(verifier);
        token.approve(address(lone), type(uint256).max);
        vm.prank(verifier);
        uint256 id = lone.attest(
            makeAddr("p"), GPU, 8, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), EV, _hash(ATTESTER_SECRET)
        );
        vm.prank(extra[0]);
        token.approve(address(lone), type(uint256).max);
        vm.prank(extra[0]);
        lone.dispute(id, _hash("d"));
        lone.revealAttesterSecret(id, ATTESTER_SECRET);
        uint256 before = token.balanceOf(extra[0]);
        lone.revealDisputerSecret(id, "d");
        assertEq(
            uint256(lone.attestation(id).status), uint256(CapacityRegistry.Status.Void), "no panel: void"
        );
        assertEq(token.balanceOf(extra[0]), before + BOND, "disputer refunded");
        assertEq(token.balanceOf(address(lone)), lone.totalOwed(), "balance == owed");
    }
}

/// @notice Issue 9 cases 4, 5 and the rollback part of 7, each played by the attacker, who now loses.
contract CapacityRegistryAttackTest is CapacityBase {
    address internal sybil1;
    address internal sybil2;

    function setUp() public override {
        super.setUp();
        // 11 verifiers: the attester, 4 extras, 4 more honest ones and the provider's 2 Sybils.
        for (uint256 i = 0; i < 4; ++i) {
            _stakeVerifier(vm.addr(0x6000 + i), 50 ether);
        }
        sybil1 = vm.addr(0x5B1);
        sybil2 = vm.addr(0x5B2);
        _stakeVerifier(sybil1, 50 ether);
        _stakeVerifier(sybil2, 50 ether);
        vm.roll(block.number + 1);
        assertEq(registry.verifierCount(), 11, "11 verifiers");
        vm.prank(provider);
        token.approve(address(capacity), type(uint256).max);
    }

    function _panelHash(uint256 id) internal view returns (bytes32) {
        return keccak256(abi.encode(capacity.panel(id)));
    }

    /// @dev Case 4: the dispute seed used to include the disputer's address, so the provider ground addresses
    /// off chain until its Sybils held the panel. Now the panel is a function of the two committed secrets and
    /// the id only: every address the attacker tries gets the same panel, and the attester's secret is hidden
    /// when the disputer commits.
    function test_Attack_DisputerCannotGrindThePanel() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(
            provider, GPU, 0, 0, 0, DTYPE, ADVERT, _noGpuIds(), keccak256("0 GPUs"), _hash(ATTESTER_SECRET)
        );
        bytes32 secret = keccak256("attacker secret");
        bytes32 first;
        for (uint256 k = 0; k < 8; ++k) {
            address disputer = vm.addr(0xD000 + k);
            vm.prank(alice);
            token.transfer(disputer, BOND);
            uint256 snap = vm.snapshotState();
            vm.startPrank(disputer);
            token.approve(address(capacity), BOND);
            capacity.dispute(id, _hash(secret));
            vm.stopPrank();
            capacity.revealAttesterSecret(id, ATTESTER_SECRET);
            capacity.revealDisputerSecret(id, secret);
            if (k == 0) first = _panelHash(id);
            else assertEq(_panelHash(id), first, "the disputer's address does not move the panel");
            vm.revertToState(snap);
        }
        // The attacker plays it out: the panel re-checks, the Sybils vote to overturn, the honest seats uphold.
        vm.prank(provider);
        capacity.dispute(id, _hash(secret));
        capacity.revealAttesterSecret(id, ATTESTER_SECRET);
        capacity.revealDisputerSecret(id, secret);
        address[] memory members = capacity.panel(id);
        uint256 sybilSeats;
        for (uint256 i = 0; i < members.length; ++i) {
            if (members[i] == sybil1 || members[i] == sybil2) ++sybilSeats;
        }
        assertLt(2 * sybilSeats, members.length, "the Sybils' 2/11 of the stake hold no majority here");
        for (uint256 i = 0; i < members.length; ++i) {
            bool sybil = members[i] == sybil1 || members[i] == sybil2;
            if (capacity.ballotOf(id, members[i]) == CapacityRegistry.Ballot.Pending) {
                _commit(id, members[i], !sybil);
            }
        }
        vm.warp(capacity.attestation(id).deadline + 1);
        for (uint256 i = 0; i < members.length; ++i) {
            bool sybil = members[i] == sybil1 || members[i] == sybil2;
            if (capacity.ballotOf(id, members[i]) == CapacityRegistry.Ballot.Committed) {
                _revealBallot(id, members[i], !sybil);
            }
        }
        uint256 verifierBefore = token.balanceOf(verifier);
        assertEq(
            uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Upheld), "honest failure upheld"
        );
        assertGe(
            token.balanceOf(verifier), verifierBefore + BOND + BOND / 2, "honest attester keeps its bond"
        );
        assertEq(_gpus(provider), 0, "the 0-GPU result stands");
        _owedMatches();
    }

    /// @dev Case 4, the remaining option: the disputer reveals last and can withhold once it sees the panel.
    /// Withholding forfeits its bond to the attester and never changes the capacity.
    function test_Attack_DisputerWithholdingLosesItsBond() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(
            provider, GPU, 0, 0, 0, DTYPE, ADVERT, _noGpuIds(), keccak256("0 GPUs"), _hash(ATTESTER_SECRET)
        );
        uint256 providerBefore = token.balanceOf(provider);
        uint256 verifierBefore = token.balanceOf(verifier);
        vm.prank(provider);
        capacity.dispute(id, _hash("withheld"));
        capacity.revealAttesterSecret(id, ATTESTER_SECRET);
        (, uint64 until) = capacity.disputerRevealSpan(id);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_TooEarly.selector, id, until + 1)
        );
        capacity.finalize(id);
        vm.warp(until + 1);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Forfeited), "forfeited");
        assertEq(token.balanceOf(provider), providerBefore - BOND, "the disputer lost its bond");
        assertEq(token.balanceOf(verifier), verifierBefore + 2 * BOND, "to the attester");
        assertEq(_gpus(provider), 0, "the failure stands");
        _owedMatches();
    }

    /// @dev A provider's Sybil disputing the provider's own false raise and staying silent (to get it "upheld"
    /// without a panel) gains nothing: a forfeited raise never applies.
    function test_Attack_SelfDisputedRaiseNeverApplies() public {
        vm.prank(sybil1);
        uint256 id = capacity.attest(
            provider,
            GPU,
            2 * VERIFIED_GPUS,
            60_000,
            PPM,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            EV,
            _hash(ATTESTER_SECRET)
        );
        vm.prank(sybil2);
        capacity.dispute(id, _hash("silent"));
        vm.warp(T0 + 2 * REVEAL_WINDOW + 1);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Forfeited), "forfeited");
        assertEq(_gpus(provider), VERIFIED_GPUS, "the false raise never applies");
    }

    /// @dev Case 4, collusion: an attester and a disputer of one party know both secrets before the dispute, so
    /// they can grind the disputer's secret until their other Sybils hold the panel and "uphold" a false raise.
    /// A disputed raise never applies, so the ground panel wins them nothing.
    function test_Attack_ColludingDisputerCannotPushARaise() public {
        address sybil3 = vm.addr(0x5B3);
        address sybil4 = vm.addr(0x5B4);
        _stakeVerifier(sybil3, 50 ether);
        _stakeVerifier(sybil4, 50 ether);
        vm.roll(block.number + 1);
        vm.prank(sybil1);
        uint256 id = capacity.attest(
            provider,
            GPU,
            2 * VERIFIED_GPUS,
            60_000,
            PPM,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            EV,
            _hash(ATTESTER_SECRET)
        );
        bytes32 ground;
        for (uint256 k = 0; k < 1000 && ground == bytes32(0); ++k) {
            bytes32 candidate = keccak256(abi.encode("ground", k));
            address[] memory m = _predictPanel(id, ATTESTER_SECRET, candidate, sybil2);
            uint256 sybilSeats;
            for (uint256 i = 0; i < m.length; ++i) {
                if (m[i] == sybil3 || m[i] == sybil4) ++sybilSeats;
            }
            if (m.length == 3 && 2 * sybilSeats > m.length) ground = candidate;
        }
        assertTrue(ground != bytes32(0), "the colluders found a Sybil-majority panel off chain");
        vm.prank(sybil2);
        capacity.dispute(id, _hash(ground));
        capacity.revealAttesterSecret(id, ATTESTER_SECRET);
        capacity.revealDisputerSecret(id, ground);
        address[] memory members = capacity.panel(id);
        for (uint256 i = 0; i < members.length; ++i) {
            if (capacity.ballotOf(id, members[i]) == CapacityRegistry.Ballot.Pending) {
                _commit(id, members[i], true);
            }
        }
        vm.warp(capacity.attestation(id).deadline + 1);
        for (uint256 i = 0; i < members.length; ++i) {
            if (capacity.ballotOf(id, members[i]) == CapacityRegistry.Ballot.Committed) {
                _revealBallot(id, members[i], true);
            }
        }
        assertEq(
            uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Upheld), "their panel upholds"
        );
        assertEq(_gpus(provider), VERIFIED_GPUS, "but a disputed raise never applies");
        _owedMatches();
    }

    /// @dev Case 5: ballots were public, so a member could copy the majority. Now a committed ballot shows
    /// nothing, and nobody can reveal before the commit step ends.
    function test_Attack_CopycatSeesNoBallot() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(
            provider, GPU, 0, 0, 0, DTYPE, ADVERT, _noGpuIds(), keccak256("0 GPUs"), _hash(ATTESTER_SECRET)
        );
        address[] memory members = _disputeAndDraw(id, provider);
        _commit(id, members[0], true);
        assertEq(
            uint256(capacity.ballotOf(id, members[0])),
            uint256(CapacityRegistry.Ballot.Committed),
            "only committed"
        );
        CapacityRegistry.Attestation memory a = capacity.attestation(id);
        assertEq(uint256(a.upholdVotes) + a.overturnVotes, 0, "no tally during the commit step");
        vm.prank(members[0]);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_TooEarly.selector, id, a.deadline + 1)
        );
        capacity.revealVote(id, true, SALT);
        _commit(id, members[1], false);
        vm.warp(a.deadline + 1);
        vm.prank(members[1]);
        vm.expectRevert(
            abi.encodeWithSelector(CapacityRegistry.CapacityRegistry_WrongPreimage.selector, id, members[1])
        );
        capacity.revealVote(id, true, SALT); // switching to the side revealed first is impossible
    }

    /// @dev Case 5: one vote decided a panel. Now one revealed ballot of three seats is no quorum: void, the
    /// lowering stays, and the two silent members are slashed (their stake goes to the one who revealed).
    function test_Attack_OneVoteCannotDecide() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(
            provider, GPU, 0, 0, 0, DTYPE, ADVERT, _noGpuIds(), keccak256("0 GPUs"), _hash(ATTESTER_SECRET)
        );
        address[] memory members = _disputeAndDraw(id, provider);
        bool[] memory one = new bool[](1);
        one[0] = false;
        _vote(id, members, one);
        vm.warp(T0 + VOTE_WINDOW + REVEAL_WINDOW + 1);
        assertEq(uint256(capacity.finalize(id)), uint256(CapacityRegistry.Status.Void), "no quorum");
        assertEq(_gpus(provider), 0, "the lowering stays");
        assertEq(token.balanceOf(members[0]), 50 ether + 2 * ABSENT_SLASH, "the voter gets the slashes");
        assertEq(registry.stakerOf(members[1]).active, 50 ether - ABSENT_SLASH, "silent member slashed");
        _owedMatches();
    }

    /// @dev Case 5: absent members lost nothing and could leave. Now a drawn member holds a duty until the
    /// attestation is finalized, so its stake stays slashable however long finalize waits.
    function test_Attack_SilentMemberCannotWithdrawMidVote() public {
        vm.prank(verifier);
        uint256 id = capacity.attest(
            provider, GPU, 0, 0, 0, DTYPE, ADVERT, _noGpuIds(), keccak256("0 GPUs"), _hash(ATTESTER_SECRET)
        );
        address[] memory members = _disputeAndDraw(id, provider);
        address m = members[0];
        vm.prank(m);
        registry.requestUnbond(50 ether);
        vm.warp(T0 + 8 days);
        vm.prank(m);
        vm.expectRevert(abi.encodeWithSignature("StakingRegistry_OpenDuties(uint256)", 1));
        registry.withdraw();
        capacity.finalize(id);
        assertEq(registry.stakerOf(m).unbonding, 50 ether - ABSENT_SLASH, "slashed from its unbonding stake");
        vm.prank(m);
        registry.withdraw();
    }

    /// @dev Case 7: two overturned lowerings left capacity at 0 (a rollback restored an overturned predecessor).
    /// Now the capacity is recomputed from the attestations still standing.
    function test_Attack_TwoOverturnedLoweringsKeepStandingCapacity() public {
        vm.prank(sybil1);
        uint256 l1 = capacity.attest(
            provider, GPU, 4, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), keccak256("4"), _hash(ATTESTER_SECRET)
        );
        vm.prank(sybil2);
        uint256 l2 = capacity.attest(
            provider, GPU, 0, 0, 0, DTYPE, ADVERT, _noGpuIds(), keccak256("0"), _hash(ATTESTER_SECRET)
        );
        assertEq(_gpus(provider), 0, "both lowerings applied at once");
        address[] memory m1 = _disputeAndDraw(l1, provider);
        address[] memory m2 = _disputeAndDraw(l2, provider);
        for (uint256 i = 0; i < 3; ++i) {
            _commit(l1, m1[i], false);
            _commit(l2, m2[i], false);
        }
        vm.warp(capacity.attestation(l1).deadline + 1);
        for (uint256 i = 0; i < 3; ++i) {
            _revealBallot(l1, m1[i], false);
            _revealBallot(l2, m2[i], false);
        }
        capacity.finalize(l1); // the older one first: the newer still stands
        assertEq(_gpus(provider), 0, "the newer lowering still stands");
        capacity.finalize(l2);
        assertEq(_gpus(provider), VERIFIED_GPUS, "back to the last figure that stands");
        _owedMatches();
    }

    /// @dev Case 7: a later lowering cancelled an earlier pending raise for good. Now the raise stands once
    /// final and applies as soon as the newer lowering is overturned.
    function test_Attack_LaterLoweringDoesNotCancelEarlierRaise() public {
        vm.prank(verifier);
        uint256 raise = capacity.attest(
            provider,
            GPU,
            VERIFIED_GPUS + 8,
            60_000,
            PPM,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            EV,
            _hash(ATTESTER_SECRET)
        );
        vm.prank(sybil1);
        uint256 lowering = capacity.attest(
            provider, GPU, 1, 60_000, PPM, DTYPE, ADVERT, _noGpuIds(), keccak256("1"), _hash(ATTESTER_SECRET)
        );
        assertEq(_gpus(provider), 1, "the lowering applies at once");
        address[] memory members = _disputeAndDraw(lowering, provider);
        vm.warp(T0 + DISPUTE_WINDOW);
        capacity.finalize(raise);
        assertEq(_gpus(provider), 1, "the newer lowering outranks the raise while it stands");
        _vote(lowering, members, _votes(false, false, false));
        capacity.finalize(lowering);
        assertEq(_gpus(provider), VERIFIED_GPUS + 8, "the raise applies once the lowering falls");
        assertEq(uint256(capacity.capacity(provider, GPU).attestationId), raise, "set by the raise");
        _owedMatches();
    }
}

/// @notice Invariants of CapacityRegistry under random attest / dispute / reveal / vote / finalize sequences with
/// Sybil verifiers and withheld reveals (see CapacityHandler): the registry holds exactly the bonds it owes, the
/// capacity in force is always the newest standing attestation, and every drawn seat holds one duty exactly while
/// its vote is open.
contract CapacityRegistryInvariantTest is CapacityBase {
    CapacityHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory vs = new address[](8);
        for (uint256 i = 0; i < vs.length; ++i) {
            vs[i] = vm.addr(0x8000 + i);
            _stakeVerifier(vs[i], 200 ether);
        }
        address[] memory ps = new address[](2);
        for (uint256 i = 0; i < ps.length; ++i) {
            ps[i] = vm.addr(0x9000 + i);
            vm.prank(alice);
            token.transfer(ps[i], 1000 ether);
            vm.prank(ps[i]);
            token.approve(address(capacity), type(uint256).max);
        }
        vm.roll(block.number + 1);
        handler = new CapacityHandler(capacity, IERC20(address(token)), vs, ps);
        targetContract(address(handler));
    }

    function invariant_BondsOwedAndCapacityFromStandingAttestations() public view {
        _owedMatches();
        uint256 n = capacity.attestationCount();
        uint256 owed;
        for (uint256 id = 1; id <= n; ++id) {
            CapacityRegistry.Status s = capacity.attestation(id).status;
            if (s == CapacityRegistry.Status.Pending) owed += BOND;
            if (s == CapacityRegistry.Status.Disputed || s == CapacityRegistry.Status.Voting) {
                owed += 2 * BOND;
            }
        }
        // Before the handler's first call, ClaimsBase's own attestation is final.
        assertEq(capacity.totalOwed(), owed, "owed == bonds of unfinished attestations");
        for (uint256 i = 0; i < handler.providerCount(); ++i) {
            _checkNewestStanding(handler.providers(i), n);
        }
    }

    function _checkNewestStanding(address p, uint256 n) internal view {
        uint256 newest;
        for (uint256 id = n; id >= 1 && newest == 0; --id) {
            CapacityRegistry.Attestation memory a = capacity.attestation(id);
            if (a.provider != p || a.gpuClass != GPU) continue;
            bool standing = a.immediate
                ? a.status != CapacityRegistry.Status.Overturned
                : a.status == CapacityRegistry.Status.Final;
            if (standing) newest = id;
        }
        CapacityRegistry.Capacity memory c = capacity.capacity(p, GPU);
        assertEq(uint256(c.attestationId), newest, "in force: the newest standing attestation");
        if (newest == 0) {
            assertEq(uint256(c.gpus), 0, "nothing stands: no capacity");
        } else {
            CapacityRegistry.Attestation memory a = capacity.attestation(newest);
            assertEq(uint256(c.gpus), uint256(a.gpus), "its GPUs");
            assertEq(uint256(c.ppmPerGpu), uint256(a.ppmPerGpu), "its throughput");
        }
    }

    function invariant_DutiesFollowOpenVotes() public view {
        uint256 n = capacity.attestationCount();
        for (uint256 id = 1; id <= n; ++id) {
            address[] memory panel = capacity.panel(id);
            for (uint256 i = 0; i < panel.length; ++i) {
                uint256 open;
                for (uint256 other = 1; other <= n; ++other) {
                    if (capacity.attestation(other).status != CapacityRegistry.Status.Voting) continue;
                    address[] memory seats = capacity.panel(other);
                    for (uint256 j = 0; j < seats.length; ++j) {
                        if (seats[j] == panel[i]) ++open;
                    }
                }
                assertEq(registry.dutiesOf(panel[i]), open, "one duty per seat of an open vote");
            }
        }
    }

    /// @dev The handler really exercises the registry (its calls are not all early returns). A plain test: a
    /// short campaign run may legitimately hold no attestation among the handler's eight actions.
    function test_HandlerAttestsAndWarps() public {
        uint256 before = capacity.attestationCount();
        handler.attest(0, 0, 4, true);
        handler.warp(1);
        assertEq(handler.calls("attest"), 1, "an attestation was posted");
        assertEq(capacity.attestationCount(), before + 1, "the registry holds it");
        assertEq(handler.calls("warp"), 1, "time moved");
    }
}

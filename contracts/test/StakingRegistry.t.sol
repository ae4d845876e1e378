// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {ComputeToken} from "../src/ComputeToken.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {IStakingRegistry} from "../src/interfaces/IStakingRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

contract StakingRegistryTest is Test {
    uint256 internal constant MIN_PROVIDER = 100 ether;
    uint256 internal constant MIN_VERIFIER = 50 ether;
    uint64 internal constant DELAY = 7 days;
    bytes internal constant PEER = hex"0024080112201234";
    bytes32 internal constant ADVERT = keccak256("advert");

    ComputeToken internal token;
    StakingRegistry internal registry;
    address internal market;
    address internal alice;
    address internal bob;
    address internal carol;

    function setUp() public {
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        carol = makeAddr("carol");
        market = makeAddr("market");
        address[] memory holders = new address[](3);
        holders[0] = alice;
        holders[1] = bob;
        holders[2] = carol;
        token = new ComputeToken(holders, 1000 ether);
        registry = new StakingRegistry(IERC20(address(token)), MIN_PROVIDER, MIN_VERIFIER, DELAY);
        registry.setMarket(market);
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(holders[i]);
            token.approve(address(registry), type(uint256).max);
        }
    }

    function _verifier(address who, uint256 amount) internal {
        vm.prank(who);
        registry.stakeAndRegister(amount, 2, PEER, bytes32(0));
    }

    function test_StakeAndRegisterProvider() public {
        vm.prank(alice);
        registry.stakeAndRegister(MIN_PROVIDER, 1, PEER, ADVERT);
        StakingRegistry.Staker memory s = registry.stakerOf(alice);
        assertEq(s.active, MIN_PROVIDER, "active stake");
        assertEq(s.roles, 1, "provider role");
        assertEq(s.advertHash, ADVERT, "advert bound");
        assertEq(registry.peerIdOf(alice), PEER, "peer id bound");
        assertTrue(registry.isProvider(alice), "is provider");
        assertFalse(registry.isVerifier(alice), "provider-only is not drawable");
        assertEq(token.balanceOf(address(registry)), MIN_PROVIDER, "tokens pulled");
        assertEq(registry.totalStaked(), MIN_PROVIDER, "totalStaked tracks");
    }

    function test_StakeThenRegisterBothRoles() public {
        vm.startPrank(alice);
        registry.stake(MIN_PROVIDER);
        registry.register(3, PEER, ADVERT);
        vm.stopPrank();
        assertTrue(registry.isProvider(alice), "provider");
        assertTrue(registry.isVerifier(alice), "verifier");
        assertEq(registry.verifierCount(), 1, "one drawable");
        assertEq(registry.verifierAt(0), alice, "alice at 0");
    }

    function test_UnbondLeavesVerifierSetAndWithdrawsAfterDelay() public {
        _verifier(alice, MIN_VERIFIER);
        _verifier(bob, MIN_VERIFIER);
        _verifier(carol, MIN_VERIFIER);
        vm.prank(alice);
        registry.requestUnbond(1 ether);
        assertFalse(registry.isVerifier(alice), "unbonding verifier is not drawable");
        assertEq(registry.verifierCount(), 2, "swap-and-pop shrinks the set");
        assertEq(registry.verifierAt(0), carol, "last moved into the hole");
        assertTrue(registry.isVerifier(carol), "moved verifier still indexed");
        vm.warp(block.timestamp + DELAY - 1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                StakingRegistry.StakingRegistry_StillBonded.selector, uint64(block.timestamp + 1)
            )
        );
        registry.withdraw();
        vm.warp(block.timestamp + 1);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        registry.withdraw();
        assertEq(token.balanceOf(alice), before + 1 ether, "unbonded tokens returned");
        assertEq(registry.totalStaked(), 3 * MIN_VERIFIER - 1 ether, "totalStaked after withdraw");
        assertFalse(registry.isVerifier(alice), "below minimum after partial exit");
    }

    function test_WithdrawRejoinsWhenStillAboveMinimum() public {
        _verifier(alice, MIN_VERIFIER + 1 ether);
        vm.prank(alice);
        registry.requestUnbond(1 ether);
        vm.warp(block.timestamp + DELAY);
        vm.prank(alice);
        registry.withdraw();
        assertTrue(registry.isVerifier(alice), "drawable again once nothing is unbonding");
    }

    function test_SlashTakesActiveThenUnbonding() public {
        _verifier(alice, 60 ether);
        vm.prank(alice);
        registry.requestUnbond(20 ether);
        vm.prank(market);
        uint256 slashed = registry.slash(alice, 50 ether, carol);
        assertEq(slashed, 50 ether, "full amount slashed");
        StakingRegistry.Staker memory s = registry.stakerOf(alice);
        assertEq(s.active, 0, "active taken first");
        assertEq(s.unbonding, 10 ether, "rest from unbonding");
        assertEq(token.balanceOf(carol), 1050 ether, "recipient credited");
        assertEq(registry.totalStaked(), 10 ether, "totalStaked after slash");
    }

    function test_SlashCapsAtStakeAndLeavesSet() public {
        _verifier(alice, MIN_VERIFIER);
        vm.prank(market);
        uint256 slashed = registry.slash(alice, 1000 ether, market);
        assertEq(slashed, MIN_VERIFIER, "capped at stake");
        assertFalse(registry.isVerifier(alice), "slashed below minimum leaves set");
        assertEq(registry.verifierCount(), 0, "set empty");
    }

    function test_SlashOfUnknownAccountIsZero() public {
        vm.prank(market);
        uint256 slashed = registry.slash(bob, 1 ether, market);
        assertEq(slashed, 0, "nothing to slash");
    }

    function test_RevertWhen_SlashByNonMarket() public {
        _verifier(alice, MIN_VERIFIER);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_NotMarket.selector, bob));
        registry.slash(alice, 1, bob);
    }

    function test_RevertWhen_SlashToZero() public {
        vm.prank(market);
        vm.expectRevert(StakingRegistry.StakingRegistry_ZeroAddress.selector);
        registry.slash(alice, 1, address(0));
    }

    function test_RevertWhen_SetMarketTwice() public {
        vm.expectRevert(
            abi.encodeWithSelector(StakingRegistry.StakingRegistry_MarketAlreadySet.selector, market)
        );
        registry.setMarket(alice);
    }

    function test_RevertWhen_SetMarketByStranger() public {
        StakingRegistry fresh = new StakingRegistry(IERC20(address(token)), 1, 1, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_NotDeployer.selector, alice));
        fresh.setMarket(alice);
    }

    function test_RevertWhen_SetMarketZero() public {
        StakingRegistry fresh = new StakingRegistry(IERC20(address(token)), 1, 1, 1);
        vm.expectRevert(StakingRegistry.StakingRegistry_ZeroAddress.selector);
        fresh.setMarket(address(0));
    }

    function test_RevertWhen_TokenZero() public {
        vm.expectRevert(StakingRegistry.StakingRegistry_ZeroAddress.selector);
        new StakingRegistry(IERC20(address(0)), 1, 1, 1);
    }

    function test_RevertWhen_StakeZero() public {
        vm.prank(alice);
        vm.expectRevert(StakingRegistry.StakingRegistry_ZeroAmount.selector);
        registry.stake(0);
    }

    function test_RevertWhen_StakeWithoutAllowance() public {
        address dave = makeAddr("dave");
        vm.prank(dave);
        vm.expectRevert();
        registry.stake(1 ether);
        assertEq(registry.totalStaked(), 0, "nothing recorded");
    }

    function test_RevertWhen_RegisterBelowMinimum() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                StakingRegistry.StakingRegistry_StakeBelowMinimum.selector,
                uint8(1),
                MIN_PROVIDER - 1,
                MIN_PROVIDER
            )
        );
        registry.stakeAndRegister(MIN_PROVIDER - 1, 1, PEER, ADVERT);
    }

    function test_RevertWhen_RegisterVerifierBelowMinimum() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                StakingRegistry.StakingRegistry_StakeBelowMinimum.selector, uint8(2), 1 ether, MIN_VERIFIER
            )
        );
        registry.stakeAndRegister(1 ether, 2, PEER, bytes32(0));
    }

    function test_RevertWhen_RegisterInvalidRoles() public {
        vm.startPrank(alice);
        registry.stake(MIN_PROVIDER);
        vm.expectRevert(
            abi.encodeWithSelector(StakingRegistry.StakingRegistry_InvalidRoles.selector, uint8(0))
        );
        registry.register(0, PEER, ADVERT);
        vm.expectRevert(
            abi.encodeWithSelector(StakingRegistry.StakingRegistry_InvalidRoles.selector, uint8(4))
        );
        registry.register(4, PEER, ADVERT);
        vm.stopPrank();
    }

    function test_RevertWhen_RegisterBadPeerId() public {
        vm.startPrank(alice);
        registry.stake(MIN_PROVIDER);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_InvalidPeerId.selector, 0));
        registry.register(1, "", ADVERT);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_InvalidPeerId.selector, 129));
        registry.register(1, new bytes(129), ADVERT);
        vm.stopPrank();
    }

    function test_RevertWhen_ProviderWithoutAdvert() public {
        vm.prank(alice);
        vm.expectRevert(StakingRegistry.StakingRegistry_ZeroAdvertHash.selector);
        registry.stakeAndRegister(MIN_PROVIDER, 1, PEER, bytes32(0));
    }

    function test_RevertWhen_UnbondZero() public {
        vm.prank(alice);
        vm.expectRevert(StakingRegistry.StakingRegistry_ZeroAmount.selector);
        registry.requestUnbond(0);
    }

    function test_RevertWhen_UnbondMoreThanActive() public {
        _verifier(alice, MIN_VERIFIER);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                StakingRegistry.StakingRegistry_InsufficientStake.selector, MIN_VERIFIER + 1, MIN_VERIFIER
            )
        );
        registry.requestUnbond(MIN_VERIFIER + 1);
    }

    function test_DutyBlocksWithdrawUntilClosed() public {
        _verifier(alice, MIN_VERIFIER);
        vm.prank(market);
        vm.expectEmit(true, false, false, true);
        emit IStakingRegistry.DutiesChanged(alice, 1);
        registry.openDuty(alice);
        vm.prank(market);
        registry.openDuty(alice);
        assertEq(registry.dutiesOf(alice), 2, "two duties open");
        vm.prank(alice);
        registry.requestUnbond(MIN_VERIFIER);
        assertFalse(registry.isVerifier(alice), "unbonding on duty is allowed and leaves the set");
        vm.warp(block.timestamp + DELAY);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_OpenDuties.selector, 2));
        registry.withdraw();
        vm.prank(market);
        registry.closeDuty(alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_OpenDuties.selector, 1));
        registry.withdraw();
        vm.prank(market);
        vm.expectEmit(true, false, false, true);
        emit IStakingRegistry.DutiesChanged(alice, 0);
        registry.closeDuty(alice);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        registry.withdraw();
        assertEq(token.balanceOf(alice), before + MIN_VERIFIER, "withdrawn once every duty closed");
    }

    function test_DutyStillLetsTheMarketSlashUnbondingStake() public {
        _verifier(alice, MIN_VERIFIER);
        vm.prank(market);
        registry.openDuty(alice);
        vm.prank(alice);
        registry.requestUnbond(MIN_VERIFIER);
        vm.warp(block.timestamp + DELAY);
        vm.prank(market);
        uint256 slashed = registry.slash(alice, 10 ether, market);
        assertEq(slashed, 10 ether, "unbonding stake slashed");
        vm.prank(market);
        registry.closeDuty(alice);
        vm.prank(alice);
        registry.withdraw();
        assertEq(registry.totalStaked(), 0, "the rest withdrawn");
    }

    function test_RevertWhen_DutyChangedByNonMarket() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_NotMarket.selector, alice));
        registry.openDuty(alice);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_NotMarket.selector, alice));
        registry.closeDuty(alice);
    }

    function test_RevertWhen_ClosingADutyNeverOpened() public {
        vm.prank(market);
        vm.expectRevert(abi.encodeWithSelector(StakingRegistry.StakingRegistry_NoOpenDuty.selector, bob));
        registry.closeDuty(bob);
    }

    function test_RevertWhen_WithdrawNothing() public {
        vm.prank(alice);
        vm.expectRevert(StakingRegistry.StakingRegistry_NothingToWithdraw.selector);
        registry.withdraw();
    }

    function testFuzz_SwapAndPopKeepsIndexConsistent(uint256 seed, uint8 count) public {
        uint256 n = bound(count, 1, 12);
        address[] memory who = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            who[i] = address(uint160(0x1000 + i));
            vm.prank(alice);
            token.transfer(who[i], MIN_VERIFIER);
            vm.startPrank(who[i]);
            token.approve(address(registry), MIN_VERIFIER);
            registry.stakeAndRegister(MIN_VERIFIER, 2, PEER, bytes32(0));
            vm.stopPrank();
        }
        uint256 removed = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (uint256(keccak256(abi.encode(seed, i))) % 2 == 0) {
                vm.prank(who[i]);
                registry.requestUnbond(1);
                ++removed;
            }
        }
        assertEq(registry.verifierCount(), n - removed, "count = joined - left");
        for (uint256 i = 0; i < registry.verifierCount(); ++i) {
            assertTrue(registry.isVerifier(registry.verifierAt(i)), "every listed account is indexed");
        }
        for (uint256 i = 0; i < n; ++i) {
            bool listed = false;
            for (uint256 j = 0; j < registry.verifierCount(); ++j) {
                if (registry.verifierAt(j) == who[i]) listed = true;
            }
            assertEq(listed, registry.isVerifier(who[i]), "isVerifier agrees with the array");
        }
    }
}

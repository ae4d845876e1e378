// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {ComputeToken} from "../src/ComputeToken.sol";
import {StakingRegistry} from "../src/StakingRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice The registry's stake-weighted sortition (`sample`) over checkpointed weights, and the second slasher
/// (the capacity registry).
contract StakingRegistrySortitionTest is Test {
    uint256 internal constant MIN_PROVIDER = 100 ether;
    uint256 internal constant MIN_VERIFIER = 50 ether;
    uint64 internal constant DELAY = 1 days;
    bytes internal constant PEER = hex"0024080112201234";

    ComputeToken internal token;
    StakingRegistry internal registry;
    address internal market;
    address[] internal accounts;

    function setUp() public {
        market = makeAddr("market");
        for (uint256 i = 0; i < 12; ++i) {
            accounts.push(makeAddr(string.concat("account", vm.toString(i))));
        }
        token = new ComputeToken(accounts, 10_000 ether);
        registry = new StakingRegistry(IERC20(address(token)), MIN_PROVIDER, MIN_VERIFIER, DELAY);
        registry.setMarket(market);
        for (uint256 i = 0; i < accounts.length; ++i) {
            vm.prank(accounts[i]);
            token.approve(address(registry), type(uint256).max);
        }
    }

    function _verifier(address who, uint256 amount) internal {
        vm.prank(who);
        registry.stakeAndRegister(amount, 2, PEER, bytes32(0));
    }

    /// @dev The draw by a linear scan over `order` (slot order) with weights `w`: what the Fenwick descent must give.
    function _linear(bytes32 seed, uint256 j, address[] memory order, uint256[] memory w)
        internal
        pure
        returns (address)
    {
        uint256 total = 0;
        for (uint256 i = 0; i < w.length; ++i) {
            total += w[i];
        }
        if (total == 0) return address(0);
        uint256 rest = uint256(keccak256(abi.encode(seed, j))) % total;
        for (uint256 i = 0; i < w.length; ++i) {
            if (rest < w[i]) return order[i];
            rest -= w[i];
        }
        revert("unreachable");
    }

    function test_RevertWhen_SnapshotNotPast() public {
        _verifier(accounts[0], MIN_VERIFIER);
        vm.expectRevert(
            abi.encodeWithSelector(
                StakingRegistry.StakingRegistry_SnapshotNotPast.selector, block.number, block.number
            )
        );
        registry.sample(bytes32(0), 0, block.number);
        vm.expectRevert(
            abi.encodeWithSelector(
                StakingRegistry.StakingRegistry_SnapshotNotPast.selector, block.number + 5, block.number
            )
        );
        registry.sample(bytes32(0), 0, block.number + 5);
    }

    function test_SampleIsZeroWhenNobodyWasDrawable() public {
        vm.roll(10);
        assertEq(registry.sample(keccak256("s"), 0, 9), address(0), "nobody staked yet");
        _verifier(accounts[0], MIN_VERIFIER);
        assertEq(registry.sample(keccak256("s"), 0, 9), address(0), "staked after the snapshot");
        vm.roll(11);
        assertEq(registry.sample(keccak256("s"), 0, 10), accounts[0], "the only verifier at block 10");
        vm.prank(accounts[1]);
        registry.stakeAndRegister(MIN_PROVIDER, 1, PEER, keccak256("advert"));
        assertEq(registry.weightOf(accounts[1]), 0, "a provider-only account has no sortition weight");
    }

    /// @dev The weights of block `snapshot` decide: the same draws before and after any later change (stake,
    /// new Sybils, unbond, slash, withdraw).
    function test_ChangesAfterTheSnapshotChangeNothing() public {
        for (uint256 i = 0; i < 4; ++i) {
            _verifier(accounts[i], MIN_VERIFIER * (i + 1));
        }
        vm.roll(block.number + 1);
        uint256 snapshot = block.number - 1;
        address[] memory before = new address[](64);
        for (uint256 t = 0; t < 64; ++t) {
            before[t] = registry.sample(keccak256(abi.encode(t)), t % 3, snapshot);
        }
        uint256 totalBefore = registry.totalWeightAt(snapshot);
        assertEq(totalBefore, 10 * MIN_VERIFIER, "total weight at the snapshot");
        // Later blocks: a whale Sybil set, an extra stake, an unbond, a slash, a withdraw.
        for (uint256 i = 4; i < 9; ++i) {
            _verifier(accounts[i], 1000 ether);
        }
        vm.prank(accounts[0]);
        registry.stake(500 ether);
        vm.prank(accounts[1]);
        registry.requestUnbond(1 ether);
        vm.prank(market);
        registry.slash(accounts[3], 100 ether, market);
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + DELAY);
        vm.prank(accounts[1]);
        registry.withdraw();
        vm.roll(block.number + 1);
        for (uint256 t = 0; t < 64; ++t) {
            assertEq(registry.sample(keccak256(abi.encode(t)), t % 3, snapshot), before[t], "same draw");
        }
        assertEq(registry.totalWeightAt(snapshot), totalBefore, "same total at the snapshot");
        assertEq(
            registry.totalWeightAt(block.number),
            (MIN_VERIFIER + 500 ether) + (2 * MIN_VERIFIER - 1 ether) + (3 * MIN_VERIFIER)
                + (4 * MIN_VERIFIER - 100 ether) + 5 * 1000 ether,
            "current total: account 0 topped up, 1 back after its withdraw, 3 slashed, the five newcomers"
        );
    }

    /// @dev Weights at several past snapshots: each lookup gives that block's stakes, and the draw agrees with a
    /// linear scan over the slots in registration order.
    function test_WeightsAtPastSnapshots() public {
        _verifier(accounts[0], 100 ether);
        _verifier(accounts[1], 300 ether);
        vm.roll(block.number + 1);
        uint256 s1 = block.number - 1;
        _verifier(accounts[2], 600 ether);
        vm.prank(accounts[0]);
        registry.requestUnbond(1 ether); // leaves the set: weight 0 from this block
        vm.roll(block.number + 1);
        uint256 s2 = block.number - 1;
        assertEq(registry.totalWeightAt(s1), 400 ether, "block s1: accounts 0 and 1");
        assertEq(registry.totalWeightAt(s2), 900 ether, "block s2: accounts 1 and 2");
        address[] memory order = new address[](3);
        order[0] = accounts[0];
        order[1] = accounts[1];
        order[2] = accounts[2];
        uint256[] memory w1 = new uint256[](3);
        w1[0] = 100 ether;
        w1[1] = 300 ether;
        uint256[] memory w2 = new uint256[](3);
        w2[1] = 300 ether;
        w2[2] = 600 ether;
        for (uint256 t = 0; t < 100; ++t) {
            bytes32 seed = keccak256(abi.encode("w", t));
            assertEq(registry.sample(seed, t, s1), _linear(seed, t, order, w1), "s1 draw = linear scan");
            assertEq(registry.sample(seed, t, s2), _linear(seed, t, order, w2), "s2 draw = linear scan");
        }
    }

    /// @dev A slot stays with its account: leaving and coming back does not move it, and nobody else takes it.
    function test_SlotIsPermanent() public {
        _verifier(accounts[0], 100 ether);
        _verifier(accounts[1], 100 ether);
        _verifier(accounts[2], 100 ether);
        vm.prank(accounts[1]);
        registry.requestUnbond(100 ether);
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + DELAY);
        vm.prank(accounts[1]);
        registry.withdraw();
        _verifier(accounts[3], 100 ether); // a newcomer: a new slot 4, not the empty slot 2
        vm.prank(accounts[1]);
        registry.stake(200 ether); // account 1 comes back into its own slot 2
        vm.roll(block.number + 1);
        uint256 snapshot = block.number - 1;
        address[] memory order = new address[](4);
        uint256[] memory w = new uint256[](4);
        order[0] = accounts[0];
        order[1] = accounts[1];
        order[2] = accounts[2];
        order[3] = accounts[3];
        w[0] = 100 ether;
        w[1] = 200 ether;
        w[2] = 100 ether;
        w[3] = 100 ether;
        for (uint256 t = 0; t < 100; ++t) {
            bytes32 seed = keccak256(abi.encode("slot", t));
            assertEq(registry.sample(seed, 0, snapshot), _linear(seed, 0, order, w), "slot order kept");
        }
    }

    /// @dev Any set of stakes, joins and leaves: the Fenwick draw equals the linear scan and the total weight
    /// equals the sum of `weightOf`.
    function testFuzz_SampleMatchesLinearScan(uint256 seedIn, uint8 count, uint256 stakes) public {
        uint256 n = bound(count, 1, accounts.length);
        address[] memory order = new address[](n);
        uint256[] memory w = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 amount = MIN_VERIFIER + uint256(keccak256(abi.encode(stakes, i))) % (500 ether);
            _verifier(accounts[i], amount);
            order[i] = accounts[i];
            w[i] = amount;
            if (uint256(keccak256(abi.encode(stakes, i, "leave"))) % 4 == 0) {
                vm.prank(accounts[i]);
                registry.requestUnbond(1);
                w[i] = 0;
            }
            if (i % 3 == 2) vm.roll(block.number + 1);
        }
        vm.roll(block.number + 1);
        uint256 sum = 0;
        for (uint256 i = 0; i < n; ++i) {
            assertEq(registry.weightOf(accounts[i]), w[i], "weight: active stake while drawable, else 0");
            sum += w[i];
        }
        assertEq(registry.totalWeightAt(block.number), sum, "total weight == sum of weights");
        for (uint256 j = 0; j < 8; ++j) {
            bytes32 seed = keccak256(abi.encode(seedIn, j));
            assertEq(
                registry.sample(seed, j, block.number - 1), _linear(seed, j, order, w), "Fenwick == linear"
            );
        }
    }

    // ------------------------------------------------------------------ the capacity registry as second slasher

    function test_SetCapacityRegistryOnceByDeployer() public {
        address capacity = makeAddr("capacity");
        vm.prank(accounts[0]);
        vm.expectRevert(
            abi.encodeWithSelector(StakingRegistry.StakingRegistry_NotDeployer.selector, accounts[0])
        );
        registry.setCapacityRegistry(capacity);
        vm.expectRevert(StakingRegistry.StakingRegistry_ZeroAddress.selector);
        registry.setCapacityRegistry(address(0));
        vm.expectEmit(true, false, false, false);
        emit StakingRegistry.CapacityRegistrySet(capacity);
        registry.setCapacityRegistry(capacity);
        assertEq(registry.capacityRegistry(), capacity, "set");
        vm.expectRevert(
            abi.encodeWithSelector(
                StakingRegistry.StakingRegistry_CapacityRegistryAlreadySet.selector, capacity
            )
        );
        registry.setCapacityRegistry(accounts[1]);
    }

    function test_CapacityRegistryMaySlashAndOpenDuties() public {
        address capacity = makeAddr("capacity");
        registry.setCapacityRegistry(capacity);
        _verifier(accounts[0], MIN_VERIFIER);
        vm.startPrank(capacity);
        registry.openDuty(accounts[0]);
        assertEq(registry.dutiesOf(accounts[0]), 1, "duty opened by the capacity registry");
        uint256 slashed = registry.slash(accounts[0], 10 ether, capacity);
        registry.closeDuty(accounts[0]);
        vm.stopPrank();
        assertEq(slashed, 10 ether, "slashed by the capacity registry");
        assertEq(token.balanceOf(capacity), 10 ether, "sent to the recipient");
        assertEq(registry.dutiesOf(accounts[0]), 0, "duty closed");
        assertEq(registry.weightOf(accounts[0]), 0, "below the minimum: out of the draw");
        assertEq(token.balanceOf(address(registry)), registry.totalStaked(), "registry == staked");
        vm.prank(accounts[1]);
        vm.expectRevert(
            abi.encodeWithSelector(StakingRegistry.StakingRegistry_NotMarket.selector, accounts[1])
        );
        registry.openDuty(accounts[0]);
        vm.prank(accounts[1]);
        vm.expectRevert(
            abi.encodeWithSelector(StakingRegistry.StakingRegistry_NotMarket.selector, accounts[1])
        );
        registry.slash(accounts[0], 1, accounts[1]);
    }
}

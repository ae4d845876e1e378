// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "../utils/Test.sol";
import {ComputeToken} from "../../src/ComputeToken.sol";
import {StakingRegistry} from "../../src/StakingRegistry.sol";
import {JobMarket} from "../../src/JobMarket.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";
import {IStakingRegistry} from "../../src/interfaces/IStakingRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MarketHandler} from "./MarketHandler.sol";

/// @notice Solvency of the market and the registry under random action sequences with adversarial actors (see
/// MarketHandler): every token held is owed to someone, the owed sum is the sum of per-job holdings plus the
/// reward pool, duties match live assignments, and the sortition tree's total weight is the sum of the drawable
/// stakes.
contract MarketInvariantTest is Test {
    ComputeToken internal token;
    StakingRegistry internal registry;
    JobMarket internal market;
    MarketHandler internal handler;
    address[] internal actors;

    function setUp() public {
        // 0-1 consumers, 2-3 providers (and verifiers), 4-8 verifiers, 9-13 Sybils of provider 2's owner.
        for (uint256 i = 0; i < 14; ++i) {
            actors.push(makeAddr(string.concat("actor", vm.toString(i))));
        }
        address[] memory holders = new address[](15);
        for (uint256 i = 0; i < 14; ++i) {
            holders[i] = actors[i];
        }
        // The handler's address is not known yet: mint it its share afterwards from actor 0.
        holders[14] = actors[0];
        token = new ComputeToken(holders, 10_000 ether);
        registry = new StakingRegistry(IERC20(address(token)), 100 ether, 50 ether, 1 days);
        IJobMarket.Params memory p = IJobMarket.Params({
            auditProbabilityBps: 7000,
            protocolFeeBps: 500,
            accuserRewardBps: 3000,
            poolShareBps: 2000,
            samplesK: 8,
            panelSize: 3,
            attestWindow: 1 hours,
            contestWindow: 1 hours,
            voteWindow: 1 hours,
            revealWindow: 30 minutes,
            contestBond: 5 ether,
            falseAccuserSlash: 20 ether,
            absentVerifierSlash: 5 ether,
            minFee: 0.5 ether,
            minCollateral: 1 ether
        });
        market = new JobMarket(IERC20(address(token)), IStakingRegistry(address(registry)), p);
        registry.setMarket(address(market));
        handler = new MarketHandler(token, registry, market, actors);
        market.setClaims(address(handler));
        vm.prank(actors[0]);
        token.transfer(address(handler), 10_000 ether);
        for (uint256 i = 2; i < 9; ++i) {
            // actors 2-3 are providers (and verifiers), 4-8 verifiers
            vm.prank(actors[i]);
            registry.stakeAndRegister(150 ether, i < 4 ? 3 : 2, hex"0011", keccak256("advert"));
        }
        vm.roll(block.number + 1);
        targetContract(address(handler));
    }

    /// @dev Guards the handler itself: its `advance` must be able to carry a job all the way through a contest
    /// with committed and revealed ballots.
    function test_HandlerDrivesAJobThroughTheContest() public {
        for (uint256 j = 1; j <= 40 && handler.calls("resolve") == 0; ++j) {
            handler.post(j, 10 ether, 10 ether);
            uint256 id = market.jobCount();
            for (
                uint256 i = 0;
                i < 24 && uint8(market.statusOf(id)) < uint8(IJobMarket.Status.Cancelled);
                ++i
            ) {
                handler.advance(0, 8 * i + j, keccak256(abi.encode(i, j)));
            }
        }
        assertGe(handler.calls("contest"), 1, "a panel was drawn");
        assertGe(handler.calls("commitVote"), 1, "a ballot was committed");
        assertGe(handler.calls("resolve"), 1, "a contest was resolved");
        assertEq(token.balanceOf(address(market)), market.totalOwed(), "solvent after the drive");
    }

    /// @dev Guards the adversarial actions: the self-dealer and the Sybils act, reveals are withheld.
    function test_HandlerAdversariesAct() public {
        for (uint256 j = 1; j <= 30; ++j) {
            handler.sybilJoin(j, 60 ether);
            handler.selfDeal(j);
            uint256 id = market.jobCount();
            for (
                uint256 i = 0;
                i < 12 && uint8(market.statusOf(id)) < uint8(IJobMarket.Status.Cancelled);
                ++i
            ) {
                handler.advance(0, 8 * i + 3 * j, keccak256(abi.encode("adv", i, j)));
            }
            handler.unbond(2 * j + 1, 1 ether);
        }
        assertGe(handler.calls("selfDeal"), 1, "self-dealing jobs");
        assertGe(handler.calls("sybilJoin"), 1, "Sybils joined");
        assertGe(handler.calls("revealTimeout"), 1, "a provider withheld its reveal");
        assertGe(handler.calls("repeatRefused"), 1, "a repeated reveal was refused");
        assertEq(handler.repeatsAccepted(), 0, "no repeated or late reveal accepted");
        assertEq(handler.wrongSeeds(), 0, "every seed follows the rule");
    }

    function invariant_MarketBalanceEqualsOwed() public view {
        assertEq(token.balanceOf(address(market)), market.totalOwed(), "market balance == totalOwed");
    }

    function invariant_OwedIsJobHoldingsPlusPool() public view {
        uint256 sum = market.rewardPool();
        uint256 n = market.jobCount();
        for (uint256 id = 1; id <= n; ++id) {
            sum += market.heldFor(id);
        }
        assertEq(sum, market.totalOwed(), "sum(heldFor) + rewardPool == totalOwed");
    }

    function invariant_RegistryBalanceEqualsStakes() public view {
        uint256 sum = 0;
        for (uint256 i = 0; i < actors.length; ++i) {
            StakingRegistry.Staker memory s = registry.stakerOf(actors[i]);
            sum += s.active + s.unbonding;
        }
        assertEq(sum, registry.totalStaked(), "sum of stakes == totalStaked");
        assertEq(
            token.balanceOf(address(registry)), registry.totalStaked(), "registry balance == totalStaked"
        );
    }

    function invariant_NoTokenCreatedOrLost() public view {
        uint256 sum = token.balanceOf(address(market)) + token.balanceOf(address(registry))
            + token.balanceOf(address(handler));
        for (uint256 i = 0; i < actors.length; ++i) {
            sum += token.balanceOf(actors[i]);
        }
        assertEq(sum, token.totalSupply(), "every token is with an actor, the market or the registry");
    }

    /// @dev Every actor's open duties are exactly its live assignments: the verifier of a job that is Auditing,
    /// Failed or Voting, and one per panel seat of Voting jobs.
    function invariant_DutiesMatchLiveAssignments() public view {
        uint256 n = market.jobCount();
        for (uint256 i = 0; i < actors.length; ++i) {
            address a = actors[i];
            uint256 expected = 0;
            for (uint256 id = 1; id <= n; ++id) {
                IJobMarket.Status st = market.statusOf(id);
                if (st < IJobMarket.Status.Auditing || st > IJobMarket.Status.Voting) continue;
                if (market.jobOf(id).verifier == a) ++expected;
                if (st == IJobMarket.Status.Voting) {
                    address[] memory panel = market.panelOf(id);
                    for (uint256 k = 0; k < panel.length; ++k) {
                        if (panel[k] == a) ++expected;
                    }
                }
            }
            assertEq(registry.dutiesOf(a), expected, "duties == live audit and panel assignments");
        }
    }

    function invariant_NoWithdrawWhileOnDuty() public view {
        assertEq(handler.withdrawnOnDuty(), 0, "no staker withdrew with an open duty");
    }

    function invariant_RevealsFollowTheRules() public view {
        assertEq(handler.repeatsAccepted(), 0, "no repeated or late reveal accepted");
        assertEq(
            handler.wrongSeeds(), 0, "every seed is keccak(consumer secret or 0, provider secret, jobId)"
        );
    }

    /// @dev The sortition tree's total at the current block is the sum of the drawable stakes: weightOf is the
    /// active stake of every drawable verifier and 0 for everyone else.
    function invariant_SortitionTotalIsSumOfWeights() public view {
        uint256 sum = 0;
        for (uint256 i = 0; i < actors.length; ++i) {
            address a = actors[i];
            uint256 w = registry.weightOf(a);
            assertEq(w, registry.isVerifier(a) ? registry.stakerOf(a).active : 0, "weight == drawable stake");
            sum += w;
        }
        assertEq(registry.totalWeightAt(block.number), sum, "totalWeightAt(now) == sum of weightOf");
    }

    function invariant_VerifierSetIsConsistent() public view {
        uint256 n = registry.verifierCount();
        for (uint256 i = 0; i < n; ++i) {
            address v = registry.verifierAt(i);
            assertTrue(registry.isVerifier(v), "listed verifier is indexed");
            StakingRegistry.Staker memory s = registry.stakerOf(v);
            assertGe(s.active, registry.minVerifierStake(), "drawable verifier meets the minimum");
            assertEq(s.unbonding, 0, "drawable verifier is not unbonding");
        }
    }
}

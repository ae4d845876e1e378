// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "../utils/Test.sol";
import {CapacityClaims} from "../../src/CapacityClaims.sol";
import {ComputeToken} from "../../src/ComputeToken.sol";
import {StakingRegistry} from "../../src/StakingRegistry.sol";
import {IStakingRegistry} from "../../src/interfaces/IStakingRegistry.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";
import {MockJobMarket} from "./MockJobMarket.sol";

/// @notice Shared set-up for the CapacityClaims suites: a real ComputeToken and StakingRegistry (the provider is
/// staked), the JobMarket test double, funded and approved accounts with known keys, and order-signing helpers.
abstract contract ClaimsBase is Test {
    uint256 internal constant T0 = 1_000_000;
    uint256 internal constant FUNDS = 1_000_000 ether;
    uint256 internal constant MIN_PROVIDER = 100 ether;
    uint256 internal constant CPT = 2 ether; // collateral per token
    uint64 internal constant FLOOR = 60_000; // 60 TFLOP/s fp32 x 1000
    bytes32 internal constant GPU = keccak256("H100-SXM-80GB");
    bytes32 internal constant SPEC = keccak256("spec");
    uint64 internal constant START = uint64(T0 + 1 days);
    uint64 internal constant END = uint64(T0 + 2 days);

    uint256 internal constant PROVIDER_KEY = 0xB0B1;
    uint256 internal constant ALICE_KEY = 0xA11CE;
    uint256 internal constant BOB_KEY = 0xB0B;
    uint256 internal constant CAROL_KEY = 0xCA201;

    address internal provider;
    address internal alice;
    address internal bob;
    address internal carol;

    ComputeToken internal token;
    StakingRegistry internal registry;
    MockJobMarket internal market;
    CapacityClaims internal claims;

    function setUp() public virtual {
        vm.warp(T0);
        provider = vm.addr(PROVIDER_KEY);
        alice = vm.addr(ALICE_KEY);
        bob = vm.addr(BOB_KEY);
        carol = vm.addr(CAROL_KEY);
        vm.label(provider, "provider");
        vm.label(alice, "alice");
        vm.label(bob, "bob");
        vm.label(carol, "carol");

        address[] memory holders = new address[](4);
        holders[0] = provider;
        holders[1] = alice;
        holders[2] = bob;
        holders[3] = carol;
        token = new ComputeToken(holders, FUNDS);
        registry = new StakingRegistry(IERC20(address(token)), MIN_PROVIDER, 50 ether, 7 days);
        market = new MockJobMarket(IERC20(address(token)));
        claims = new CapacityClaims(
            IERC20(address(token)), IStakingRegistry(address(registry)), IJobMarket(address(market))
        );

        vm.startPrank(provider);
        token.approve(address(registry), type(uint256).max);
        registry.stakeAndRegister(MIN_PROVIDER, 1, hex"0024080112201234", keccak256("advert"));
        vm.stopPrank();
        for (uint256 i = 0; i < holders.length; ++i) {
            vm.prank(holders[i]);
            token.approve(address(claims), type(uint256).max);
        }
    }

    function _create(uint256 supply) internal returns (uint256 id) {
        vm.prank(provider);
        id = claims.createSeries(GPU, FLOOR, START, END, supply, CPT);
    }

    function _order(address seller, uint256 id, uint256 amount, uint256 price, uint256 nonce, uint256 expiry)
        internal
        pure
        returns (CapacityClaims.SellOrder memory)
    {
        return CapacityClaims.SellOrder({
            seller: seller, seriesId: id, amount: amount, pricePerToken: price, nonce: nonce, expiry: expiry
        });
    }

    function _sign(uint256 key, CapacityClaims.SellOrder memory order) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, claims.orderHash(order));
        return abi.encodePacked(r, s, v);
    }

    /// @dev The digest computed independently of the contract, from the documented EIP-712 type and domain.
    function _digest(CapacityClaims.SellOrder memory order, uint256 chainId) internal view returns (bytes32) {
        bytes32 typeHash = keccak256(
            "SellOrder(address seller,uint256 seriesId,uint256 amount,uint256 pricePerToken,uint256 nonce,uint256 expiry)"
        );
        bytes32 structHash = keccak256(
            abi.encode(
                typeHash,
                order.seller,
                order.seriesId,
                order.amount,
                order.pricePerToken,
                order.nonce,
                order.expiry
            )
        );
        bytes32 domain = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("CapacityClaims"),
                keccak256("1"),
                chainId,
                address(claims)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }
}

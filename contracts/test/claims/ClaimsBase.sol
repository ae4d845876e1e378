// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "../utils/Test.sol";
import {CapacityClaims} from "../../src/CapacityClaims.sol";
import {CapacityRegistry} from "../../src/CapacityRegistry.sol";
import {ICapacityRegistry} from "../../src/interfaces/ICapacityRegistry.sol";
import {ComputeToken} from "../../src/ComputeToken.sol";
import {StakingRegistry} from "../../src/StakingRegistry.sol";
import {IStakingRegistry} from "../../src/interfaces/IStakingRegistry.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";
import {MockJobMarket} from "./MockJobMarket.sol";

/// @notice Shared set-up for the CapacityClaims suites: a real ComputeToken and StakingRegistry (the provider is
/// staked and verified for VERIFIED_GPUS GPUs of the class in a real CapacityRegistry), the JobMarket test double, funded and approved accounts with known keys, and order-signing helpers.
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
    uint256 internal constant VERIFIER_KEY = 0x7E21F;
    uint256 internal constant BOND = 5 ether;
    uint64 internal constant DISPUTE_WINDOW = 1 hours;
    uint64 internal constant VOTE_WINDOW = 1 hours;
    uint64 internal constant REVEAL_WINDOW = 30 minutes;
    uint256 internal constant ABSENT_SLASH = 10 ether;
    uint256 internal constant FEE = 0.1 ether; // the mock market's minFee
    bytes32 internal constant SECRET = keccak256("holder secret");
    bytes32 internal constant ATTESTER_SECRET = keccak256("attester secret");
    uint32 internal constant VERIFIED_GPUS = 1_000_000;
    uint32 internal constant PPM = 1_000_000; // one H100e per GPU-hour
    bytes8 internal constant REGION = bytes8("EU");
    bytes8 internal constant DTYPE = bytes8("float32");
    bytes32 internal constant ADVERT = keccak256("signed advert");
    uint64 internal constant REATTEST_PERIOD = 30 days; // longer than any claims test's clock moves

    address internal provider;
    address internal alice;
    address internal bob;
    address internal carol;
    address internal verifier;

    ComputeToken internal token;
    StakingRegistry internal registry;
    MockJobMarket internal market;
    CapacityClaims internal claims;
    CapacityRegistry internal capacity;

    function setUp() public virtual {
        vm.warp(T0);
        provider = vm.addr(PROVIDER_KEY);
        alice = vm.addr(ALICE_KEY);
        bob = vm.addr(BOB_KEY);
        carol = vm.addr(CAROL_KEY);
        verifier = vm.addr(VERIFIER_KEY);
        vm.label(provider, "provider");
        vm.label(alice, "alice");
        vm.label(bob, "bob");
        vm.label(carol, "carol");
        vm.label(verifier, "verifier");

        address[] memory holders = new address[](5);
        holders[0] = provider;
        holders[1] = alice;
        holders[2] = bob;
        holders[3] = carol;
        holders[4] = verifier;
        token = new ComputeToken(holders, FUNDS);
        registry = new StakingRegistry(IERC20(address(token)), MIN_PROVIDER, 50 ether, 7 days);
        market = new MockJobMarket(IERC20(address(token)));
        capacity = new CapacityRegistry(
            IERC20(address(token)),
            IStakingRegistry(address(registry)),
            BOND,
            DISPUTE_WINDOW,
            VOTE_WINDOW,
            REVEAL_WINDOW,
            3,
            ABSENT_SLASH,
            REATTEST_PERIOD
        );
        registry.setCapacityRegistry(address(capacity));
        claims = new CapacityClaims(
            IERC20(address(token)),
            IStakingRegistry(address(registry)),
            IJobMarket(address(market)),
            ICapacityRegistry(address(capacity))
        );
        vm.startPrank(verifier);
        token.approve(address(registry), type(uint256).max);
        token.approve(address(capacity), type(uint256).max);
        registry.stakeAndRegister(50 ether, 2, hex"0024080112207777", bytes32(0));
        vm.stopPrank();

        vm.startPrank(provider);
        token.approve(address(registry), type(uint256).max);
        registry.stakeAndRegister(MIN_PROVIDER, 1, hex"0024080112201234", keccak256("advert"));
        vm.stopPrank();
        for (uint256 i = 0; i < holders.length; ++i) {
            vm.prank(holders[i]);
            token.approve(address(claims), type(uint256).max);
        }
        _verify(provider, VERIFIED_GPUS, PPM);
    }

    /// @dev The verifier attests `who`'s capacity and, for a raise, lets the dispute window pass and finalizes;
    /// the clock is back where it was afterwards. Returns the attestation id.
    function _verify(address who, uint32 gpus, uint32 ppm) internal returns (uint256 aid) {
        uint256 t = block.timestamp;
        vm.prank(verifier);
        aid = capacity.attest(
            who,
            GPU,
            gpus,
            60_000,
            ppm,
            DTYPE,
            ADVERT,
            _noGpuIds(),
            keccak256(abi.encode("evidence", who, gpus, t)),
            _hash(ATTESTER_SECRET)
        );
        vm.warp(t + DISPUTE_WINDOW);
        capacity.finalize(aid);
        vm.warp(t);
    }

    /// @dev No GPU ids (a CPU, or ids not declared).
    function _noGpuIds() internal pure returns (bytes32[] memory) {
        return new bytes32[](0);
    }

    /// @dev keccak256(abi.encode(secret)): the commitment to a secret, as the contracts check it.
    function _hash(bytes32 secret) internal pure returns (bytes32) {
        return keccak256(abi.encode(secret));
    }

    /// @dev `holder` redeems `amount` tokens of series `id` for SPEC, no unit bounds, the holder secret SECRET.
    function _redeem(address holder, uint256 id, uint256 amount) internal returns (uint256 jobId) {
        vm.prank(holder);
        jobId = claims.redeem(id, amount, SPEC, 0, 0, _hash(SECRET));
    }

    function _create(uint256 supply) internal returns (uint256 id) {
        vm.prank(provider);
        id = claims.createSeries(GPU, FLOOR, REGION, START, END, supply, CPT);
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

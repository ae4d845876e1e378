// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ICapacityRegistry} from "./interfaces/ICapacityRegistry.sol";
import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";

/// @title CapacityClaims
/// @notice Tokenized future GPU capacity (ERC-1155). A *series* is one provider's promise of GPU-hours on one GPU
/// class (with a measured-throughput floor) inside one time window; token id = series id, 1 token = 1 GPU-hour.
/// The provider locks `collateralPerToken` ComputeToken per token when it creates the series.
///
/// Commodity terms: each series states its GPU-hours (`supply`) and its normalized units, H100e-hours
/// (`supply * ppmPerGpu / 1e6`), where `ppmPerGpu` is the provider's verified H100e per GPU-hour in the
/// `CapacityRegistry` at creation; and a `region` (jurisdiction code, ASCII left-aligned, e.g. "DE", "US-CA",
/// "EU") that the provider declares by signing the creating transaction. A region is declared, not proven.
///
/// No reservation in the past: `windowStart` must not be before the creating block's timestamp
/// ({CapacityClaims_WindowInPast}), so a series cannot spread its GPU-hours over time already gone.
///
/// Issuance cap: a series reserves `ceil(supply * 3600 / (windowEnd - windowStart))` GPUs over its whole window
/// (its GPU-hours spread evenly). `createSeries` refuses ({CapacityClaims_CapacityExceeded}) when, at any future
/// instant of the new window, the GPUs reserved by the provider's live series of the class plus the new series'
/// exceed the GPUs verified for it in the `CapacityRegistry`; and refuses
/// ({CapacityClaims_NoVerifiedCapacity}) a provider with no verified GPUs of the class (never verified, or its
/// last challenge failed), and ({CapacityClaims_StaleCapacity}) one whose figure was not re-attested within the
/// registry's `reattestPeriod`. Series already created keep their collateral behind them when capacity falls or
/// goes stale.
///
/// Life cycle of a series:
/// - `createSeries`: the staked provider with verified capacity receives `supply` tokens and locks
///   `supply * collateralPerToken`.
/// - Sale and resale: any holder signs an EIP-712 `SellOrder` off chain (gossiped by the nodes); a buyer calls
///   `fill` on chain, paying in ComputeToken; orders are partially fillable, cancellable one by one
///   (`cancelOrder`) or in bulk (`cancelAllBefore`), expire, and cannot be replayed (filled amount per order
///   hash, chain id and this contract in the EIP-712 domain).
/// - `redeem` during `[windowStart, windowEnd)`: burns tokens and opens a prepaid job with the provider in the
///   JobMarket, handing it `amount * collateralPerToken` as the job's provider collateral. The market returns it
///   to the provider on an honest result and pays it to the holder (and verifiers) when the provider fails. The
///   redeemer pays the job's auditor fee, `market.params().minFee`, on top (approved to this contract): the
///   claims paid for the work, the fee pays the verifier that audits it. A redemption whose collateral is below
///   `market.params().minCollateral` is refused ({CapacityClaims_CollateralTooLow}); redeem more tokens at once.
///
/// Schedule (no redemption is due faster than the reserved GPUs can deliver it): a series reserves
/// `g = reservedGpus` GPUs over its window, i.e. `g * (windowEnd - windowStart)` GPU-seconds. Its redemptions
/// are served one after another on those g GPUs: the series keeps a frontier `F` of GPU-seconds since
/// `windowStart` already promised (or let idle). A redemption of `x` GPU-hours at time `t` starts at
/// `max(F, (t - windowStart) * g)` (capacity left idle in the past is gone) and ends `x * 3600` GPU-seconds
/// later; its job's `commitBy` is `windowStart + ceil(end / g) + COMMIT_SLACK` (the slack is the time to build
/// and commit the Merkle root after the compute). So the GPU-hours due from all redemptions in any interval never
/// exceed what g GPUs deliver in it, and one redemption of many GPU-hours gets a deadline that scales with its
/// work. A redemption whose work cannot end by `windowEnd` is refused ({CapacityClaims_WorkExceedsWindow}): a
/// holder that waits lets reserved GPU-time pass unused and can no longer redeem all of it (like any
/// reservation); the provider gets the collateral of unredeemed tokens back after the window.
/// - `releaseCollateral` from `windowEnd` on: unredeemed tokens are worthless and the collateral still locked
///   goes back to the provider, once.
///
/// Invariant: `token.balanceOf(address(this)) == totalOwed()`, the sum of the collateral of all unreleased series
/// minus what redemptions handed to the market.
///
/// EIP-712: domain `{name: "CapacityClaims", version: "1", chainId, verifyingContract: this}`, primary type
/// `SellOrder(address seller,uint256 seriesId,uint256 amount,uint256 pricePerToken,uint256 nonce,uint256 expiry)`
/// (see {ORDER_TYPEHASH}). `expiry` is the last unix second at which the order can be filled.
contract CapacityClaims is ERC1155, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice One series of capacity claims.
    /// @param provider Who sells the capacity, receives the collateral back and runs the redeemed jobs.
    /// @param floor Measured-throughput floor of the GPU class (e.g. fp32 TFLOP/s x 1000).
    /// @param released Whether the remaining collateral went back to the provider after the window.
    /// @param windowStart First unix second at which tokens can be redeemed.
    /// @param windowEnd First unix second at which tokens can no longer be redeemed (the window is half open).
    /// @param region Declared jurisdiction code, ASCII left-aligned (zero: none declared).
    /// @param ppmPerGpu H100e-hours per token (GPU-hour) in millionths, from the verified capacity at creation.
    /// @param gpuClass GPU class id, e.g. keccak256("H100-SXM-80GB").
    /// @param supply Tokens minted at creation.
    /// @param redeemed Tokens burnt by redemption so far.
    /// @param collateralPerToken ComputeToken locked per token.
    struct Series {
        address provider;
        uint64 floor;
        bool released;
        uint64 windowStart;
        uint64 windowEnd;
        bytes8 region;
        uint32 ppmPerGpu;
        bytes32 gpuClass;
        uint256 supply;
        uint256 redeemed;
        uint256 collateralPerToken;
    }

    /// @notice An offer to sell claims of one series, signed off chain by the holder (EIP-712).
    /// @param seller The holder who signs and whose tokens move.
    /// @param seriesId The series (= ERC-1155 token id).
    /// @param amount Most tokens this order may sell in total over all its fills.
    /// @param pricePerToken ComputeToken the buyer pays the seller per token.
    /// @param nonce Any value at or above the seller's `minNonce`; lets the seller cancel orders in bulk.
    /// @param expiry Last unix second at which the order can be filled.
    struct SellOrder {
        address seller;
        uint256 seriesId;
        uint256 amount;
        uint256 pricePerToken;
        uint256 nonce;
        uint256 expiry;
    }

    /// @notice EIP-712 type hash of {SellOrder}:
    /// `keccak256("SellOrder(address seller,uint256 seriesId,uint256 amount,uint256 pricePerToken,uint256 nonce,uint256 expiry)")`.
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "SellOrder(address seller,uint256 seriesId,uint256 amount,uint256 pricePerToken,uint256 nonce,uint256 expiry)"
    );

    /// @notice The payment and collateral token (ComputeToken).
    IERC20 public immutable token;

    /// @notice The registry that says who is a staked provider.
    IStakingRegistry public immutable registry;

    /// @notice The market in which redeemed claims become prepaid jobs.
    IJobMarket public immutable market;

    /// @notice The verified capacity that caps issuance.
    ICapacityRegistry public immutable capacity;

    /// @notice Most live (window not ended) series one provider may have on one GPU class: bounds the gas of
    /// the cap check, which looks at each of them.
    uint256 public constant MAX_LIVE_SERIES = 64;

    /// @notice Seconds a redeemed job's provider has after its scheduled compute ends to commit the result
    /// (Merkle tree, transaction inclusion): `commitBy` = end of the scheduled work + COMMIT_SLACK.
    uint64 public constant COMMIT_SLACK = 10 minutes;

    uint256 private _seriesCount;
    uint256 private _totalOwed;

    mapping(uint256 seriesId => Series) private _series;
    mapping(bytes32 orderHash => uint256 amount) private _filled;
    mapping(bytes32 orderHash => bool) private _cancelled;
    mapping(address seller => uint256 nonce) private _minNonce;
    mapping(address provider => mapping(bytes32 gpuClass => uint256[] seriesIds)) private _live;
    /// @dev GPU-seconds of the series' reserved GPU-time, counted from windowStart, promised to redemptions or
    /// passed unused (the schedule frontier F, see the contract notes).
    mapping(uint256 seriesId => uint256 gpuSeconds) private _scheduled;

    /// @notice A provider created a series and locked its collateral.
    /// @param seriesId The new series (= token id).
    /// @param provider The provider that received the tokens.
    /// @param gpuClass GPU class id.
    /// @param region Declared jurisdiction code.
    /// @param floor Measured-throughput floor.
    /// @param windowStart First second of the redemption window.
    /// @param windowEnd First second after the redemption window.
    /// @param supply Tokens (GPU-hours) minted.
    /// @param ppmPerGpu H100e-hours per token, in millionths.
    /// @param collateralPerToken Collateral locked per token.
    event SeriesCreated(
        uint256 indexed seriesId,
        address indexed provider,
        bytes32 indexed gpuClass,
        bytes8 region,
        uint64 floor,
        uint64 windowStart,
        uint64 windowEnd,
        uint256 supply,
        uint32 ppmPerGpu,
        uint256 collateralPerToken
    );

    /// @notice A sell order was (partly) filled.
    /// @param orderHash EIP-712 digest of the order.
    /// @param seller The seller.
    /// @param buyer The buyer.
    /// @param seriesId The series traded.
    /// @param amount Tokens moved in this fill.
    /// @param payment ComputeToken paid by the buyer to the seller in this fill.
    event OrderFilled(
        bytes32 indexed orderHash,
        address indexed seller,
        address indexed buyer,
        uint256 seriesId,
        uint256 amount,
        uint256 payment
    );

    /// @notice A seller cancelled one order.
    /// @param orderHash EIP-712 digest of the order.
    /// @param seller The seller.
    event OrderCancelled(bytes32 indexed orderHash, address indexed seller);

    /// @notice A seller cancelled all its orders with a nonce below `minNonce`.
    /// @param seller The seller.
    /// @param minNonce The new lowest valid nonce.
    event NoncesCancelled(address indexed seller, uint256 minNonce);

    /// @notice A holder redeemed claims for a prepaid job.
    /// @param seriesId The series redeemed.
    /// @param holder The holder whose tokens were burnt (the job's consumer).
    /// @param amount Tokens burnt.
    /// @param specHash keccak256 of the canonical job spec.
    /// @param jobId The prepaid job opened in the market.
    /// @param collateral Collateral handed to the market for the job.
    /// @param fee Auditor fee paid by the holder (the job's price).
    /// @param commitBy The job's commit deadline: end of its scheduled work + COMMIT_SLACK.
    event Redeemed(
        uint256 indexed seriesId,
        address indexed holder,
        uint256 amount,
        bytes32 specHash,
        uint256 indexed jobId,
        uint256 collateral,
        uint256 fee,
        uint64 commitBy
    );

    /// @notice The collateral of a finished series went back to its provider.
    /// @param seriesId The series.
    /// @param provider The provider paid.
    /// @param amount Collateral returned (unredeemed supply x collateralPerToken).
    event CollateralReleased(uint256 indexed seriesId, address indexed provider, uint256 amount);

    /// @notice A constructor argument was the zero address.
    /// @param index 0 = token, 1 = registry, 2 = market, 3 = capacity registry.
    error CapacityClaims_ZeroAddress(uint256 index);

    /// @notice The caller is not a staked provider in the registry.
    /// @param caller The caller.
    error CapacityClaims_NotProvider(address caller);

    /// @notice The GPU class id was zero.
    error CapacityClaims_ZeroGpuClass();

    /// @notice The provider has no verified GPUs of this class (never verified, or its last challenge failed).
    /// @param provider The provider.
    /// @param gpuClass The class.
    error CapacityClaims_NoVerifiedCapacity(address provider, bytes32 gpuClass);
    /// @notice The provider's verified capacity of the class was not re-attested within the registry's
    /// `reattestPeriod`: a fresh capacity challenge must pass first.
    /// @param provider The provider.
    /// @param gpuClass The GPU class.
    /// @param expiresAt When its figure went stale.
    error CapacityClaims_StaleCapacity(address provider, bytes32 gpuClass, uint64 expiresAt);

    /// @notice The new series would oversell: at `at`, the GPUs reserved by the provider's live series of the
    /// class plus the new series' exceed its verified GPUs.
    /// @param provider The provider.
    /// @param gpuClass The class.
    /// @param at The first instant (unix second) at which the cap is exceeded.
    /// @param reserved GPUs already reserved at `at`.
    /// @param requested GPUs the new series reserves.
    /// @param verified GPUs verified.
    error CapacityClaims_CapacityExceeded(
        address provider, bytes32 gpuClass, uint256 at, uint256 reserved, uint256 requested, uint256 verified
    );

    /// @notice The provider already has MAX_LIVE_SERIES live series of this class.
    /// @param provider The provider.
    /// @param gpuClass The class.
    error CapacityClaims_TooManySeries(address provider, bytes32 gpuClass);

    /// @notice The window is empty or already over.
    /// @param windowStart Requested start.
    /// @param windowEnd Requested end.
    /// @param nowTime Current block time.
    error CapacityClaims_InvalidWindow(uint64 windowStart, uint64 windowEnd, uint256 nowTime);

    /// @notice The window starts before the current block's timestamp: no reservation in the past.
    /// @param windowStart Requested start.
    /// @param nowTime Current block time.
    error CapacityClaims_WindowInPast(uint64 windowStart, uint256 nowTime);

    /// @notice The redemption's work, scheduled after the series' earlier redemptions on its reserved GPUs, would
    /// not end by the window's end.
    /// @param seriesId The series.
    /// @param finish When the work would end.
    /// @param windowEnd First second after the window.
    error CapacityClaims_WorkExceedsWindow(uint256 seriesId, uint256 finish, uint64 windowEnd);

    /// @notice The redeemed tokens' collateral is below the market's minimum job collateral.
    /// @param collateral amount x collateralPerToken.
    /// @param minCollateral `market.params().minCollateral`.
    error CapacityClaims_CollateralTooLow(uint256 collateral, uint256 minCollateral);

    /// @notice A token amount (supply, fill or redemption) was zero.
    error CapacityClaims_ZeroAmount();

    /// @notice The collateral per token was zero.
    error CapacityClaims_ZeroCollateral();

    /// @notice No series with this id exists.
    /// @param seriesId The id asked for.
    error CapacityClaims_UnknownSeries(uint256 seriesId);

    /// @notice The order's expiry has passed.
    /// @param orderHash The order.
    /// @param expiry Its last valid second.
    error CapacityClaims_OrderExpired(bytes32 orderHash, uint256 expiry);

    /// @notice The order was cancelled by its seller.
    /// @param orderHash The order.
    error CapacityClaims_OrderCancelled(bytes32 orderHash);

    /// @notice The order's nonce is below the seller's minimum (bulk-cancelled).
    /// @param orderHash The order.
    /// @param nonce Its nonce.
    /// @param minNonce The seller's lowest valid nonce.
    error CapacityClaims_NonceCancelled(bytes32 orderHash, uint256 nonce, uint256 minNonce);

    /// @notice The signature is not the seller's signature of this order on this chain and contract.
    /// @param seller The order's seller.
    error CapacityClaims_InvalidSignature(address seller);

    /// @notice The fill would sell more than the order offers.
    /// @param orderHash The order.
    /// @param requested Tokens asked for.
    /// @param remaining Tokens still available in the order.
    error CapacityClaims_Overfill(bytes32 orderHash, uint256 requested, uint256 remaining);

    /// @notice The series' window has ended: its tokens are worthless and no longer traded or redeemed.
    /// @param seriesId The series.
    /// @param windowEnd First second after its window.
    error CapacityClaims_WindowEnded(uint256 seriesId, uint64 windowEnd);

    /// @notice The series' window has not started: tokens cannot be redeemed yet.
    /// @param seriesId The series.
    /// @param windowStart First second of its window.
    error CapacityClaims_WindowNotStarted(uint256 seriesId, uint64 windowStart);

    /// @notice The series' window has not ended: its collateral is still locked.
    /// @param seriesId The series.
    /// @param windowEnd First second after its window.
    error CapacityClaims_WindowNotEnded(uint256 seriesId, uint64 windowEnd);

    /// @notice The series' collateral was already released.
    /// @param seriesId The series.
    error CapacityClaims_AlreadyReleased(uint256 seriesId);

    /// @notice The caller is not the seller of the order it tries to cancel.
    /// @param caller The caller.
    /// @param seller The order's seller.
    error CapacityClaims_NotSeller(address caller, address seller);

    /// @notice `cancelAllBefore` must raise the seller's minimum nonce.
    /// @param current The current minimum.
    /// @param requested The value given.
    error CapacityClaims_NonceNotIncreasing(uint256 current, uint256 requested);

    /// @notice The provider cannot redeem its own series (a job needs a distinct consumer).
    /// @param seriesId The series.
    error CapacityClaims_ProviderRedeem(uint256 seriesId);

    /// @notice The job spec hash was zero.
    error CapacityClaims_ZeroSpecHash();

    /// @notice The market did not take exactly the collateral of the redeemed claims plus the fee.
    /// @param expected Collateral plus fee that should have left this contract.
    /// @param taken What actually left.
    error CapacityClaims_CollateralMismatch(uint256 expected, uint256 taken);

    /// @notice Wires the claims contract to its token, registry and market.
    /// @dev The market must then call back nobody but this contract (`JobMarket.setClaims(address(this))`).
    /// Requirements: no argument is the zero address.
    /// @param token_ The ComputeToken used for payment and collateral.
    /// @param registry_ The staking registry (providers must be staked to create a series).
    /// @param market_ The job market that runs redeemed jobs.
    /// @param capacity_ The verified-capacity registry that caps issuance.
    constructor(IERC20 token_, IStakingRegistry registry_, IJobMarket market_, ICapacityRegistry capacity_)
        ERC1155("")
        EIP712("CapacityClaims", "1")
    {
        if (address(token_) == address(0)) revert CapacityClaims_ZeroAddress(0);
        if (address(registry_) == address(0)) revert CapacityClaims_ZeroAddress(1);
        if (address(market_) == address(0)) revert CapacityClaims_ZeroAddress(2);
        if (address(capacity_) == address(0)) revert CapacityClaims_ZeroAddress(3);
        token = token_;
        registry = registry_;
        market = market_;
        capacity = capacity_;
    }

    // ---------------------------------------------------------------------------------------------- series

    /// @notice Creates a series, mints `supply` tokens to the caller and locks its collateral.
    /// @dev Emits {SeriesCreated} and {TransferSingle} (mint).
    /// Requirements:
    /// - the caller is a staked provider (`registry.isProvider`);
    /// - `gpuClass` is non-zero, `supply` and `collateralPerToken` are non-zero;
    /// - `block.timestamp <= windowStart < windowEnd`;
    /// - the caller has verified GPUs of the class and the series fits under the cap (see the contract notes),
    ///   with fewer than MAX_LIVE_SERIES live series of the class;
    /// - the caller has approved `supply * collateralPerToken` ComputeToken to this contract;
    /// - a contract caller accepts ERC-1155 tokens.
    /// @param gpuClass GPU class id, e.g. keccak256("H100-SXM-80GB").
    /// @param floor Measured-throughput floor of the class (e.g. fp32 TFLOP/s x 1000).
    /// @param region Declared jurisdiction code, ASCII left-aligned (zero: none).
    /// @param windowStart First unix second of the redemption window.
    /// @param windowEnd First unix second after the redemption window.
    /// @param supply GPU-hours (tokens) offered.
    /// @param collateralPerToken ComputeToken locked per token.
    /// @return seriesId The new series id (= ERC-1155 token id), counting from 1.
    function createSeries(
        bytes32 gpuClass,
        uint64 floor,
        bytes8 region,
        uint64 windowStart,
        uint64 windowEnd,
        uint256 supply,
        uint256 collateralPerToken
    ) external nonReentrant returns (uint256 seriesId) {
        if (!registry.isProvider(msg.sender)) {
            revert CapacityClaims_NotProvider(msg.sender);
        }
        if (gpuClass == bytes32(0)) revert CapacityClaims_ZeroGpuClass();
        if (windowStart >= windowEnd || windowEnd <= block.timestamp) {
            revert CapacityClaims_InvalidWindow(windowStart, windowEnd, block.timestamp);
        }
        if (windowStart < block.timestamp) revert CapacityClaims_WindowInPast(windowStart, block.timestamp);
        if (supply == 0) revert CapacityClaims_ZeroAmount();
        if (collateralPerToken == 0) revert CapacityClaims_ZeroCollateral();
        uint256 collateral = supply * collateralPerToken;
        uint32 ppm = _checkCap(msg.sender, gpuClass, windowStart, windowEnd, supply);

        seriesId = ++_seriesCount;
        _series[seriesId] = Series({
            provider: msg.sender,
            floor: floor,
            released: false,
            windowStart: windowStart,
            windowEnd: windowEnd,
            region: region,
            ppmPerGpu: ppm,
            gpuClass: gpuClass,
            supply: supply,
            redeemed: 0,
            collateralPerToken: collateralPerToken
        });
        _live[msg.sender][gpuClass].push(seriesId);
        _totalOwed += collateral;

        _emitCreated(seriesId);

        token.safeTransferFrom(msg.sender, address(this), collateral);
        _mint(msg.sender, seriesId, supply, "");
    }

    /// @notice Returns the collateral still locked for a finished series to its provider.
    /// @dev Anyone may call it: the tokens can only go to the provider, so nothing is ever stuck.
    /// Emits {CollateralReleased}.
    /// Requirements:
    /// - the series exists, its window has ended (`block.timestamp >= windowEnd`);
    /// - its collateral was not released before.
    /// @param seriesId The series.
    /// @return amount Collateral returned: (supply - redeemed) x collateralPerToken.
    function releaseCollateral(uint256 seriesId) external nonReentrant returns (uint256 amount) {
        Series storage s = _existing(seriesId);
        if (block.timestamp < s.windowEnd) revert CapacityClaims_WindowNotEnded(seriesId, s.windowEnd);
        if (s.released) revert CapacityClaims_AlreadyReleased(seriesId);

        amount = (s.supply - s.redeemed) * s.collateralPerToken;
        s.released = true;
        _totalOwed -= amount;

        emit CollateralReleased(seriesId, s.provider, amount);

        token.safeTransfer(s.provider, amount);
    }

    // ---------------------------------------------------------------------------------------------- orders

    /// @notice Buys `amount` tokens from a signed sell order.
    /// @dev The seller's signature authorizes the move of its tokens (no `setApprovalForAll` needed).
    /// Emits {OrderFilled} and {TransferSingle}.
    /// Requirements:
    /// - `amount` is non-zero and at most what is left of the order;
    /// - the order has not expired (`block.timestamp <= expiry`), was not cancelled, and its nonce is at or above
    ///   the seller's minimum;
    /// - `signature` is the seller's EIP-712 signature of the order (ECDSA, or ERC-1271 for a contract seller)
    ///   under this chain id and contract;
    /// - the series exists and its window has not ended;
    /// - the seller still holds `amount` tokens; the buyer approved `amount * pricePerToken` ComputeToken to this
    ///   contract and, if a contract, accepts ERC-1155 tokens.
    /// @param order The signed order.
    /// @param signature The seller's signature of `orderHash(order)`.
    /// @param amount Tokens to buy in this fill.
    /// @return payment ComputeToken paid to the seller.
    function fill(SellOrder calldata order, bytes calldata signature, uint256 amount)
        external
        nonReentrant
        returns (uint256 payment)
    {
        if (amount == 0) revert CapacityClaims_ZeroAmount();
        bytes32 hash = orderHash(order);
        if (block.timestamp > order.expiry) revert CapacityClaims_OrderExpired(hash, order.expiry);
        if (_cancelled[hash]) revert CapacityClaims_OrderCancelled(hash);
        uint256 lowestNonce = _minNonce[order.seller];
        if (order.nonce < lowestNonce) revert CapacityClaims_NonceCancelled(hash, order.nonce, lowestNonce);
        Series storage s = _existing(order.seriesId);
        if (block.timestamp >= s.windowEnd) revert CapacityClaims_WindowEnded(order.seriesId, s.windowEnd);
        if (!SignatureChecker.isValidSignatureNow(order.seller, hash, signature)) {
            revert CapacityClaims_InvalidSignature(order.seller);
        }
        uint256 alreadyFilled = _filled[hash];
        // `_filled[hash] <= order.amount` always holds: every fill is checked against what remains.
        uint256 remaining = order.amount - alreadyFilled;
        if (amount > remaining) revert CapacityClaims_Overfill(hash, amount, remaining);
        payment = amount * order.pricePerToken;

        _filled[hash] = alreadyFilled + amount;

        emit OrderFilled(hash, order.seller, msg.sender, order.seriesId, amount, payment);

        if (payment != 0) token.safeTransferFrom(msg.sender, order.seller, payment);
        _safeTransferFrom(order.seller, msg.sender, order.seriesId, amount, "");
    }

    /// @notice Cancels one order for good.
    /// @dev Emits {OrderCancelled}.
    /// Requirements: the caller is the order's seller; the order was not cancelled before.
    /// @param order The order to cancel.
    function cancelOrder(SellOrder calldata order) external {
        if (msg.sender != order.seller) revert CapacityClaims_NotSeller(msg.sender, order.seller);
        bytes32 hash = orderHash(order);
        if (_cancelled[hash]) revert CapacityClaims_OrderCancelled(hash);
        _cancelled[hash] = true;
        emit OrderCancelled(hash, msg.sender);
    }

    /// @notice Cancels every order of the caller with a nonce below `newMinNonce`.
    /// @dev Emits {NoncesCancelled}.
    /// Requirements: `newMinNonce` is above the caller's current minimum.
    /// @param newMinNonce The new lowest valid nonce for the caller's orders.
    function cancelAllBefore(uint256 newMinNonce) external {
        uint256 current = _minNonce[msg.sender];
        if (newMinNonce <= current) revert CapacityClaims_NonceNotIncreasing(current, newMinNonce);
        _minNonce[msg.sender] = newMinNonce;
        emit NoncesCancelled(msg.sender, newMinNonce);
    }

    // ---------------------------------------------------------------------------------------------- redeem

    /// @notice Burns `amount` of the caller's claims and opens a prepaid job with the series' provider, scheduled
    /// on the series' reserved GPUs after its earlier redemptions (see the contract notes).
    /// @dev Pulls the auditor fee `market.params().minFee` from the caller and hands it, with
    /// `amount * collateralPerToken` as the job's provider collateral, to the market (which pulls both with
    /// `transferFrom`). Emits {TransferSingle} (burn) and {Redeemed}; the market emits
    /// {IJobMarket-PrepaidJobOpened}. {Redeemed} is emitted after the market call because it carries the job id;
    /// the call is to the trusted market and the function is `nonReentrant`.
    /// Requirements:
    /// - `amount` is non-zero and at most the caller's balance; `specHash` and `secretHash` are non-zero;
    /// - the series exists and `windowStart <= block.timestamp < windowEnd`;
    /// - the caller is not the series' provider;
    /// - the work fits: it ends by `windowEnd` after the series' earlier redemptions;
    /// - `amount * collateralPerToken >= market.params().minCollateral`;
    /// - `minUnits <= maxUnits` unless `maxUnits` is 0 (checked by the market);
    /// - the caller approved `market.params().minFee` ComputeToken to this contract.
    /// @param seriesId The series to redeem.
    /// @param amount GPU-hours (tokens) to redeem.
    /// @param specHash keccak256 of the canonical job spec the holder wants run.
    /// @param minUnits Least number of units the provider's commitment may have (0: at least 1).
    /// @param maxUnits Most units the commitment may have (0: no upper bound).
    /// @param secretHash keccak256(abi.encode(secret)) of the holder's fresh random audit secret, revealed after
    /// the provider's commitment (`JobMarket.revealConsumerSecret`).
    /// @return jobId The prepaid job opened in the market.
    function redeem(
        uint256 seriesId,
        uint256 amount,
        bytes32 specHash,
        uint64 minUnits,
        uint64 maxUnits,
        bytes32 secretHash
    ) external nonReentrant returns (uint256 jobId) {
        if (amount == 0) revert CapacityClaims_ZeroAmount();
        if (specHash == bytes32(0)) revert CapacityClaims_ZeroSpecHash();
        Series storage s = _existing(seriesId);
        if (block.timestamp < s.windowStart) revert CapacityClaims_WindowNotStarted(seriesId, s.windowStart);
        if (block.timestamp >= s.windowEnd) revert CapacityClaims_WindowEnded(seriesId, s.windowEnd);
        if (msg.sender == s.provider) revert CapacityClaims_ProviderRedeem(seriesId);
        IJobMarket.Params memory p = market.params();
        IJobMarket.JobTerms memory terms;
        terms.specHash = specHash;
        terms.price = p.minFee;
        terms.collateral = amount * s.collateralPerToken;
        if (terms.collateral < p.minCollateral) {
            revert CapacityClaims_CollateralTooLow(terms.collateral, p.minCollateral);
        }
        terms.commitBy = _schedule(seriesId, s, amount);
        terms.minUnits = minUnits;
        terms.maxUnits = maxUnits;
        terms.secretHash = secretHash;

        _burn(msg.sender, seriesId, amount);
        s.redeemed += amount;
        _totalOwed -= terms.collateral;

        jobId = _openJob(s.provider, terms);

        emit Redeemed(
            seriesId, msg.sender, amount, specHash, jobId, terms.collateral, terms.price, terms.commitBy
        );
    }

    /// @dev Pulls the fee from the redeemer and opens the prepaid job; checks that the market took exactly the
    /// fee and the collateral.
    function _openJob(address provider, IJobMarket.JobTerms memory terms) private returns (uint256 jobId) {
        IERC20 token_ = token;
        uint256 due = terms.price + terms.collateral;
        if (terms.price != 0) token_.safeTransferFrom(msg.sender, address(this), terms.price);
        uint256 before = token_.balanceOf(address(this));
        token_.forceApprove(address(market), due);
        jobId = market.openPrepaidJob(msg.sender, provider, terms);
        uint256 taken = before - token_.balanceOf(address(this));
        if (taken != due) revert CapacityClaims_CollateralMismatch(due, taken);
    }

    /// @dev Books `amount` GPU-hours on the series' schedule and returns the job's commit deadline.
    function _schedule(uint256 seriesId, Series storage s, uint256 amount) private returns (uint64 commitBy) {
        uint256 finish;
        (_scheduled[seriesId], finish) = _plan(seriesId, s, amount);
        if (finish > s.windowEnd) revert CapacityClaims_WorkExceedsWindow(seriesId, finish, s.windowEnd);
        // finish <= windowEnd, a uint64.
        return uint64(finish) + COMMIT_SLACK;
    }

    /// @dev The frontier after a redemption of `amount` now, and the second at which its work ends.
    function _plan(uint256 seriesId, Series storage s, uint256 amount)
        private
        view
        returns (uint256 frontier, uint256 finish)
    {
        uint256 gpus = _reserve(s.supply, s.windowStart, s.windowEnd);
        uint256 elapsed = block.timestamp > s.windowStart ? (block.timestamp - s.windowStart) * gpus : 0;
        frontier = _scheduled[seriesId];
        if (elapsed > frontier) frontier = elapsed;
        frontier += amount * 3600;
        finish = s.windowStart + Math.ceilDiv(frontier, gpus);
    }

    // ---------------------------------------------------------------------------------------------- views

    /// @notice The EIP-712 digest of an order: what the seller signs and the key of its fill and cancel state.
    /// @param order The order.
    /// @return The digest under this contract's domain (includes the current chain id).
    function orderHash(SellOrder calldata order) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ORDER_TYPEHASH,
                    order.seller,
                    order.seriesId,
                    order.amount,
                    order.pricePerToken,
                    order.nonce,
                    order.expiry
                )
            )
        );
    }

    /// @notice Tokens already sold through an order.
    /// @param hash The order's digest (`orderHash`).
    /// @return The filled amount.
    function filled(bytes32 hash) external view returns (uint256) {
        return _filled[hash];
    }

    /// @notice Whether an order was cancelled with `cancelOrder`.
    /// @param hash The order's digest (`orderHash`).
    /// @return True if cancelled.
    function cancelled(bytes32 hash) external view returns (bool) {
        return _cancelled[hash];
    }

    /// @notice The lowest nonce a seller's orders may carry (raised by `cancelAllBefore`).
    /// @param seller The seller.
    /// @return The minimum valid nonce.
    function minNonce(address seller) external view returns (uint256) {
        return _minNonce[seller];
    }

    /// @notice The EIP-712 domain separator for the current chain.
    /// @return The separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice A series' parameters and state.
    /// @param seriesId The series.
    /// @return The series (all zero for an unknown id).
    function series(uint256 seriesId) external view returns (Series memory) {
        return _series[seriesId];
    }

    /// @notice The number of series created; ids run from 1 to this value.
    /// @return The count.
    function seriesCount() external view returns (uint256) {
        return _seriesCount;
    }

    /// @notice Collateral still locked for a series (zero once released).
    /// @param seriesId The series.
    /// @return (supply - redeemed) x collateralPerToken, or 0 after release or for an unknown id.
    function lockedCollateral(uint256 seriesId) external view returns (uint256) {
        Series storage s = _series[seriesId];
        if (s.released) return 0;
        return (s.supply - s.redeemed) * s.collateralPerToken;
    }

    /// @notice A series' normalized size: H100e-hours in millionths (`supply * ppmPerGpu`).
    /// @param seriesId The series.
    /// @return Micro-H100e-hours (0 for an unknown id).
    function normalizedSupply(uint256 seriesId) external view returns (uint256) {
        Series storage s = _series[seriesId];
        return s.supply * s.ppmPerGpu;
    }

    /// @notice GPUs a series reserves over its whole window: `ceil(supply * 3600 / (windowEnd - windowStart))`.
    /// @param seriesId The series.
    /// @return The GPUs (0 for an unknown id).
    function reservedGpus(uint256 seriesId) external view returns (uint256) {
        Series storage s = _series[seriesId];
        if (s.provider == address(0)) return 0;
        return _reserve(s.supply, s.windowStart, s.windowEnd);
    }

    /// @notice GPUs of `gpuClass` reserved by `provider`'s live series at the instant `at`.
    /// @param provider The provider.
    /// @param gpuClass The class.
    /// @param at A unix second.
    /// @return The sum of `reservedGpus` over the live series whose window contains `at`.
    function reservedAt(address provider, bytes32 gpuClass, uint64 at) external view returns (uint256) {
        return _reservedAt(_live[provider][gpuClass], at);
    }

    /// @notice The provider's series of a class kept for the cap (ended ones are dropped at its next creation).
    /// @param provider The provider.
    /// @param gpuClass The class.
    /// @return The series ids.
    function liveSeries(address provider, bytes32 gpuClass) external view returns (uint256[] memory) {
        return _live[provider][gpuClass];
    }

    /// @notice When the series' reserved GPUs are free again: the end of the work already scheduled (never before
    /// now, since unused past capacity is gone). A redemption now starts there.
    /// @param seriesId The series.
    /// @return The unix second (0 for an unknown id).
    function busyUntil(uint256 seriesId) external view returns (uint64) {
        Series storage s = _series[seriesId];
        if (s.provider == address(0)) return 0;
        (, uint256 finish) = _plan(seriesId, s, 0);
        // finish <= max(now, windowEnd): fits in uint64.
        return uint64(finish);
    }

    /// @notice The commit deadline a redemption of `amount` tokens of the series would get now.
    /// @param seriesId The series.
    /// @param amount GPU-hours to redeem.
    /// @return commitBy End of its scheduled work + COMMIT_SLACK; 0 when the series is unknown or the work would
    /// not end by `windowEnd`.
    function redemptionDeadline(uint256 seriesId, uint256 amount) external view returns (uint64 commitBy) {
        Series storage s = _series[seriesId];
        if (s.provider == address(0)) return 0;
        (, uint256 finish) = _plan(seriesId, s, amount);
        if (finish > s.windowEnd) return 0;
        return uint64(finish) + COMMIT_SLACK;
    }

    /// @notice GPU-seconds of the series' reserved GPU-time, counted from `windowStart`, promised to redemptions
    /// or passed unused before the last redemption (the schedule frontier).
    /// @param seriesId The series.
    /// @return The GPU-seconds.
    function scheduledGpuSeconds(uint256 seriesId) external view returns (uint256) {
        return _scheduled[seriesId];
    }

    /// @notice The ComputeToken this contract owes: the locked collateral of every unreleased series.
    /// @return Always equal to `token.balanceOf(address(this))` (tokens sent here by mistake aside).
    function totalOwed() external view returns (uint256) {
        return _totalOwed;
    }

    // ---------------------------------------------------------------------------------------------- internals

    /// @dev The issuance cap (see the contract notes); drops the provider's ended series from its live list and
    /// returns the verified H100e ppm per GPU-hour that the new series carries.
    function _checkCap(
        address provider,
        bytes32 gpuClass,
        uint64 windowStart,
        uint64 windowEnd,
        uint256 supply
    ) private returns (uint32 ppm) {
        (uint32 gpus, uint32 ppmPerGpu, uint64 expiresAt) = capacity.capacityOf(provider, gpuClass);
        if (gpus == 0) revert CapacityClaims_NoVerifiedCapacity(provider, gpuClass);
        if (block.timestamp >= expiresAt) revert CapacityClaims_StaleCapacity(provider, gpuClass, expiresAt);
        uint256[] storage live = _live[provider][gpuClass];
        for (uint256 i = live.length; i > 0; --i) {
            if (_series[live[i - 1]].windowEnd <= block.timestamp) {
                live[i - 1] = live[live.length - 1];
                live.pop();
            }
        }
        if (live.length >= MAX_LIVE_SERIES) revert CapacityClaims_TooManySeries(provider, gpuClass);
        uint256 requested = _reserve(supply, windowStart, windowEnd);
        // The reserved GPUs are a step function that only rises at a window start: its maximum over the future
        // part of the new window is at that part's first second or at a live series' start inside it.
        uint64 from = windowStart > block.timestamp ? windowStart : uint64(block.timestamp);
        _checkAt(provider, gpuClass, live, from, requested, gpus);
        for (uint256 i = 0; i < live.length; ++i) {
            uint64 t = _series[live[i]].windowStart;
            if (t > from && t < windowEnd) _checkAt(provider, gpuClass, live, t, requested, gpus);
        }
        return ppmPerGpu;
    }

    function _checkAt(
        address provider,
        bytes32 gpuClass,
        uint256[] storage live,
        uint64 at,
        uint256 requested,
        uint256 verified
    ) private view {
        uint256 reserved = _reservedAt(live, at);
        if (reserved + requested > verified) {
            revert CapacityClaims_CapacityExceeded(provider, gpuClass, at, reserved, requested, verified);
        }
    }

    function _reservedAt(uint256[] storage live, uint64 at) private view returns (uint256 reserved) {
        for (uint256 i = 0; i < live.length; ++i) {
            Series storage s = _series[live[i]];
            if (s.windowStart <= at && at < s.windowEnd) {
                reserved += _reserve(s.supply, s.windowStart, s.windowEnd);
            }
        }
    }

    function _reserve(uint256 supply, uint64 windowStart, uint64 windowEnd) private pure returns (uint256) {
        return Math.ceilDiv(supply * 3600, windowEnd - windowStart);
    }

    function _emitCreated(uint256 seriesId) private {
        Series storage s = _series[seriesId];
        emit SeriesCreated(
            seriesId,
            s.provider,
            s.gpuClass,
            s.region,
            s.floor,
            s.windowStart,
            s.windowEnd,
            s.supply,
            s.ppmPerGpu,
            s.collateralPerToken
        );
    }

    function _existing(uint256 seriesId) private view returns (Series storage s) {
        s = _series[seriesId];
        if (s.provider == address(0)) revert CapacityClaims_UnknownSeries(seriesId);
    }
}

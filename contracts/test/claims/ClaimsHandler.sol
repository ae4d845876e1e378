// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "../utils/Vm.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {CapacityClaims} from "../../src/CapacityClaims.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";
import {MockJobMarket} from "./MockJobMarket.sol";

/// @notice Invariant handler: drives CapacityClaims through random sequences of series creation, signed-order
/// fills, plain transfers, redemptions, releases, cancellations and time jumps, with inputs bounded so that most
/// calls are valid. It keeps ghost totals that the invariant suite compares with the contract's books.
/// Adversarial actors: providers that try back-dated series (must always be refused), holders that over-redeem
/// (more than the series' reserved GPUs can deliver before the window ends, or below the market's minimum
/// collateral: must be refused exactly when an independent schedule model says so) and holders that race
/// (several redemptions of one series in one block: each must be queued after the other).
contract ClaimsHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    CapacityClaims public immutable claims;
    IERC20 public immutable token;
    uint256[] internal _keys; // actor private keys; the first `_providers` are staked providers
    uint256 internal immutable _providers;

    uint256 public ghostLocked; // collateral locked by creation
    uint256 public ghostToMarket; // collateral handed to the market by redemption
    uint256 public ghostReleased; // collateral returned to providers after windows
    uint256 public ghostPayments; // ComputeToken moved buyer -> seller by fills
    uint256 public ghostFees; // auditor fees paid by redeemers to the market

    bool public overfillAccepted; // set if a fill beyond an order's amount ever succeeded
    bool public backdatedAccepted; // set if a series with a window starting in the past was ever created
    bool public scheduleMismatch; // set if a redemption's deadline or acceptance differs from the model
    bool public overbooked; // set if a redemption's work does not end by its series' window end

    /// @dev Independent model of each series' schedule frontier (GPU-seconds since windowStart).
    mapping(uint256 seriesId => uint256 gpuSeconds) public modelFrontier;
    /// @dev GPU-seconds of work handed out by redemptions of each series.
    mapping(uint256 seriesId => uint256 gpuSeconds) public workRedeemed;

    bytes32[] public orderHashes;
    mapping(bytes32 orderHash => uint256 amount) public orderAmount;
    mapping(bytes32 name => uint256 count) public calls;

    constructor(CapacityClaims claims_, IERC20 token_, uint256[] memory keys, uint256 providers) {
        claims = claims_;
        token = token_;
        _keys = keys;
        _providers = providers;
    }

    function actorCount() external view returns (uint256) {
        return _keys.length;
    }

    function actor(uint256 i) public view returns (address) {
        return vm.addr(_keys[i]);
    }

    function orderCount() external view returns (uint256) {
        return orderHashes.length;
    }

    function createSeries(uint256 who, uint256 startIn, uint256 length, uint256 supply, uint256 cpt)
        external
    {
        address p = actor(who % _providers);
        uint64 start = uint64(block.timestamp + _bound(startIn, 0, 12 hours));
        uint64 end = start + uint64(_bound(length, 1 hours, 2 days));
        supply = _bound(supply, 1, 50);
        cpt = _bound(cpt, 1, 5 ether);
        vm.prank(p);
        claims.createSeries(keccak256("H100-SXM-80GB"), 60_000, bytes8("EU"), start, end, supply, cpt);
        ghostLocked += supply * cpt;
        ++calls["create"];
    }

    function fill(
        uint256 seriesSeed,
        uint256 sellerSeed,
        uint256 buyerSeed,
        uint256 amount,
        uint256 take,
        uint256 price
    ) external {
        uint256 n = claims.seriesCount();
        if (n == 0) return;
        uint256 id = 1 + seriesSeed % n;
        if (block.timestamp >= claims.series(id).windowEnd) return;
        (bool found, uint256 si) = _holder(id, sellerSeed, address(0));
        if (!found) return;
        amount = _bound(amount, 1, claims.balanceOf(actor(si), id));
        (CapacityClaims.SellOrder memory o, bytes memory sig) =
            _signed(si, id, amount, _bound(price, 0, 3 ether));
        _fillTwice(o, sig, actor(buyerSeed % _keys.length), _bound(take, 1, amount));
    }

    /// @dev Fills `take`, then tries one token more than what is left, which must always be refused.
    function _fillTwice(CapacityClaims.SellOrder memory o, bytes memory sig, address buyer, uint256 take)
        private
    {
        bytes32 h = claims.orderHash(o);
        if (claims.filled(h) != 0) return; // the same order was drawn twice in one block
        vm.prank(buyer);
        claims.fill(o, sig, take);
        if (orderAmount[h] == 0) orderHashes.push(h);
        orderAmount[h] = o.amount;
        ghostPayments += take * o.pricePerToken;
        vm.prank(buyer);
        try claims.fill(o, sig, o.amount - take + 1) {
            overfillAccepted = true;
        } catch {}
        ++calls["fill"];
    }

    function _signed(uint256 si, uint256 id, uint256 amount, uint256 price)
        private
        view
        returns (CapacityClaims.SellOrder memory o, bytes memory sig)
    {
        address seller = actor(si);
        o = CapacityClaims.SellOrder({
            seller: seller,
            seriesId: id,
            amount: amount,
            pricePerToken: price,
            nonce: claims.minNonce(seller),
            expiry: block.timestamp + 1 hours
        });
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[si], claims.orderHash(o));
        sig = abi.encodePacked(r, s, v);
    }

    function transfer(uint256 seriesSeed, uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        uint256 n = claims.seriesCount();
        if (n == 0) return;
        uint256 id = 1 + seriesSeed % n;
        (bool found, uint256 fi) = _holder(id, fromSeed, address(0));
        if (!found) return;
        address from = actor(fi);
        uint256 held = claims.balanceOf(from, id);
        vm.prank(from);
        claims.safeTransferFrom(from, actor(toSeed % _keys.length), id, _bound(amount, 1, held), "");
        ++calls["transfer"];
    }

    /// @dev A provider tries a series whose window starts in the past (the issue's back-dated reservation).
    function createBackdated(uint256 who, uint256 back, uint256 length, uint256 supply) external {
        address p = actor(who % _providers);
        uint256 ago = _bound(back, 1, 3 days);
        if (ago > block.timestamp) return;
        uint64 start = uint64(block.timestamp - ago);
        uint64 end = uint64(block.timestamp + _bound(length, 1, 2 hours));
        vm.prank(p);
        try claims.createSeries(
            keccak256("H100-SXM-80GB"), 60_000, bytes8("EU"), start, end, _bound(supply, 1, 500), 1 ether
        ) {
            backdatedAccepted = true;
        } catch {}
        ++calls["backdated"];
    }

    function redeem(uint256 seriesSeed, uint256 holderSeed, uint256 amount) external {
        _redeemOne(seriesSeed, holderSeed, amount);
    }

    /// @dev Two holders redeem the same series in one block: the second's work must queue after the first's.
    function raceRedeem(uint256 seriesSeed, uint256 holderSeed, uint256 a1, uint256 a2) external {
        _redeemOne(seriesSeed, holderSeed, a1);
        _redeemOne(seriesSeed, holderSeed / 2 + 1, a2);
        ++calls["race"];
    }

    /// @dev A holder tries to redeem everything it holds at once, however late in the window.
    function overRedeem(uint256 seriesSeed, uint256 holderSeed) external {
        _redeemOne(seriesSeed, holderSeed, type(uint256).max);
        ++calls["overRedeem"];
    }

    /// @dev Redeems from the first series from the seed on whose window is open and that a non-provider holds,
    /// and checks acceptance and deadline against the schedule model.
    function _redeemOne(uint256 seriesSeed, uint256 holderSeed, uint256 amount) private {
        uint256 n = claims.seriesCount();
        for (uint256 k = 0; k < n; ++k) {
            uint256 id = 1 + (seriesSeed % n + k) % n;
            CapacityClaims.Series memory s = claims.series(id);
            if (block.timestamp < s.windowStart || block.timestamp >= s.windowEnd) continue;
            (bool found, uint256 hi) = _holder(id, holderSeed, s.provider);
            if (!found) continue;
            _tryRedeem(id, actor(hi), amount);
            return;
        }
    }

    function _tryRedeem(uint256 id, address holder, uint256 amount) private {
        CapacityClaims.Series memory s = claims.series(id);
        uint256 held = claims.balanceOf(holder, id);
        amount = amount == type(uint256).max ? held : _bound(amount, 1, held);
        (bool fits, uint256 frontier, uint256 finish) = _model(id, s, amount);
        bytes32 spec = keccak256(abi.encode("job", id, amount));
        vm.prank(holder);
        try claims.redeem(id, amount, spec, 0, 0, keccak256("s")) returns (uint256 jobId) {
            if (!fits) scheduleMismatch = true;
            _booked(id, s, amount, frontier, finish, jobId);
        } catch {
            if (fits) scheduleMismatch = true;
            ++calls["redeemRefused"];
        }
    }

    function _model(uint256 id, CapacityClaims.Series memory s, uint256 amount)
        private
        view
        returns (bool fits, uint256 frontier, uint256 finish)
    {
        uint256 gpus = Math.ceilDiv(s.supply * 3600, s.windowEnd - s.windowStart);
        frontier = modelFrontier[id];
        uint256 elapsed = (block.timestamp - s.windowStart) * gpus;
        if (elapsed > frontier) frontier = elapsed;
        frontier += amount * 3600;
        finish = s.windowStart + Math.ceilDiv(frontier, gpus);
        IJobMarket.Params memory p = IJobMarket(address(claims.market())).params();
        fits = finish <= s.windowEnd && amount * s.collateralPerToken >= p.minCollateral;
    }

    function _booked(
        uint256 id,
        CapacityClaims.Series memory s,
        uint256 amount,
        uint256 frontier,
        uint256 finish,
        uint256 jobId
    ) private {
        MockJobMarket market = MockJobMarket(address(claims.market()));
        IJobMarket.Params memory p = market.params();
        modelFrontier[id] = frontier;
        workRedeemed[id] += amount * 3600;
        if (finish > s.windowEnd) overbooked = true;
        if (claims.scheduledGpuSeconds(id) != frontier) scheduleMismatch = true;
        if (claims.busyUntil(id) != finish) scheduleMismatch = true;
        ghostToMarket += amount * s.collateralPerToken;
        ghostFees += p.minFee;
        if (market.callOf(jobId).commitBy != finish + claims.COMMIT_SLACK()) scheduleMismatch = true;
        ++calls["redeem"];
    }

    function release(uint256 seriesSeed) external {
        uint256 n = claims.seriesCount();
        if (n == 0) return;
        uint256 id = 1 + seriesSeed % n;
        CapacityClaims.Series memory s = claims.series(id);
        if (block.timestamp < s.windowEnd || s.released) return;
        ghostReleased += claims.releaseCollateral(id);
        ++calls["release"];
    }

    function cancelAllBefore(uint256 who) external {
        address seller = actor(who % _keys.length);
        uint256 next = claims.minNonce(seller) + 1;
        vm.prank(seller);
        claims.cancelAllBefore(next);
        ++calls["cancelAll"];
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + _bound(dt, 1, 12 hours));
        ++calls["warp"];
    }

    /// @dev The first actor from `seed` on (cyclically) that holds tokens of `id` and is not `exclude`.
    function _holder(uint256 id, uint256 seed, address exclude)
        private
        view
        returns (bool found, uint256 index)
    {
        uint256 n = _keys.length;
        for (uint256 k = 0; k < n; ++k) {
            index = (seed % n + k) % n;
            address a = actor(index);
            if (a != exclude && claims.balanceOf(a, id) > 0) return (true, index);
        }
        return (false, 0);
    }

    function _bound(uint256 x, uint256 min, uint256 max) private pure returns (uint256) {
        return min + x % (max - min + 1);
    }
}

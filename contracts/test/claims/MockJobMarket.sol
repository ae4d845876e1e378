// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";

/// @notice Test double of the JobMarket side that CapacityClaims calls: `openPrepaidJob` pulls the fee and the
/// collateral with `transferFrom` (as the real market does), checks the minimums like the market, and records the
/// call. `pullShort` makes it take one token less than asked, to exercise the claims contract's check.
contract MockJobMarket is IJobMarket {
    struct Call {
        address consumer;
        address provider;
        bytes32 specHash;
        uint256 collateral;
        uint256 fee;
        uint64 commitBy;
        uint64 minUnits;
        uint64 maxUnits;
        bytes32 secretHash;
        uint256 openedAt;
    }

    IERC20 public immutable token;
    bool public pullShort;
    uint256 public jobCount;
    uint256 public collateralHeld;
    uint256 public feesHeld;
    Params private _params;
    mapping(uint256 jobId => Call) private _calls;

    constructor(IERC20 token_) {
        token = token_;
        _params.minFee = 0.1 ether;
        _params.minCollateral = 1 ether;
    }

    function setPullShort(bool value) external {
        pullShort = value;
    }

    function setMinimums(uint256 minFee, uint256 minCollateral) external {
        _params.minFee = minFee;
        _params.minCollateral = minCollateral;
    }

    function params() external view returns (Params memory) {
        return _params;
    }

    function openPrepaidJob(address consumer, address provider, JobTerms calldata terms)
        external
        returns (uint256 jobId)
    {
        if (terms.commitBy <= block.timestamp) {
            revert JobMarket_InvalidDeadlines(uint64(block.timestamp), terms.commitBy);
        }
        if (terms.specHash == bytes32(0) || terms.secretHash == bytes32(0)) revert JobMarket_ZeroHash();
        if (terms.price < _params.minFee) revert JobMarket_FeeTooLow(terms.price, _params.minFee);
        if (terms.collateral < _params.minCollateral) {
            revert JobMarket_CollateralTooLow(terms.collateral, _params.minCollateral);
        }
        if (terms.maxUnits != 0 && terms.minUnits > terms.maxUnits) {
            revert JobMarket_InvalidUnitBounds(terms.minUnits, terms.maxUnits);
        }
        uint256 due = terms.price + terms.collateral;
        uint256 pulled = pullShort ? due - 1 : due;
        require(token.transferFrom(msg.sender, address(this), pulled), "pull failed");
        collateralHeld += terms.collateral;
        feesHeld += terms.price;
        jobId = ++jobCount;
        _calls[jobId] = Call(
            consumer,
            provider,
            terms.specHash,
            terms.collateral,
            terms.price,
            terms.commitBy,
            terms.minUnits,
            terms.maxUnits,
            terms.secretHash,
            block.timestamp
        );
        emit PrepaidJobOpened(
            jobId, consumer, provider, terms.specHash, terms.price, terms.collateral, terms.commitBy
        );
    }

    function statusOf(uint256 jobId) external view returns (Status) {
        return jobId != 0 && jobId <= jobCount ? Status.Accepted : Status.None;
    }

    function callOf(uint256 jobId) external view returns (Call memory) {
        return _calls[jobId];
    }
}

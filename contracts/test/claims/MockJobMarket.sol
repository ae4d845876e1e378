// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IJobMarket} from "../../src/interfaces/IJobMarket.sol";

/// @notice Test double of the JobMarket side that CapacityClaims calls: `openPrepaidJob` pulls the collateral
/// with `transferFrom` (as the real market does) and records the call. `pullShort` makes it take one token
/// less than asked, to exercise the claims contract's collateral check.
contract MockJobMarket is IJobMarket {
    struct Call {
        address consumer;
        address provider;
        bytes32 specHash;
        uint256 collateral;
    }

    IERC20 public immutable token;
    bool public pullShort;
    uint256 public jobCount;
    uint256 public collateralHeld;
    mapping(uint256 jobId => Call) private _calls;

    constructor(IERC20 token_) {
        token = token_;
    }

    function setPullShort(bool value) external {
        pullShort = value;
    }

    function openPrepaidJob(address consumer, address provider, bytes32 specHash, uint256 collateral)
        external
        returns (uint256 jobId)
    {
        uint256 pulled = pullShort && collateral > 0 ? collateral - 1 : collateral;
        require(token.transferFrom(msg.sender, address(this), pulled), "pull failed");
        collateralHeld += pulled;
        jobId = ++jobCount;
        _calls[jobId] = Call(consumer, provider, specHash, collateral);
        emit PrepaidJobOpened(
            jobId, consumer, provider, specHash, collateral, uint64(block.timestamp + 1 hours)
        );
    }

    function statusOf(uint256 jobId) external view returns (Status) {
        return jobId != 0 && jobId <= jobCount ? Status.Accepted : Status.None;
    }

    function callOf(uint256 jobId) external view returns (Call memory) {
        return _calls[jobId];
    }
}

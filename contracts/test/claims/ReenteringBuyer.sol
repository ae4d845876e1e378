// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {CapacityClaims} from "../../src/CapacityClaims.sol";

/// @notice A malicious buyer: when CapacityClaims hands it tokens (the ERC-1155 receiver hook) it calls back into
/// `fill` or `redeem`. With `swallow` false the reentrant call's revert bubbles up and fails the outer call;
/// with `swallow` true it catches the revert, records its selector and accepts the tokens, so a test can show
/// that the reentry changed nothing.
contract ReenteringBuyer is IERC1155Receiver {
    enum Attack {
        None,
        Fill,
        Redeem,
        CreateSeries,
        Release
    }

    CapacityClaims public immutable claims;
    Attack public attack;
    bool public swallow;
    CapacityClaims.SellOrder internal _order;
    bytes internal _signature;
    uint256 internal _amount;
    uint256 public reentries;
    bytes4 public lastError;

    constructor(CapacityClaims claims_, IERC20 token) {
        claims = claims_;
        token.approve(address(claims_), type(uint256).max);
    }

    function arm(
        Attack attack_,
        bool swallow_,
        CapacityClaims.SellOrder calldata order,
        bytes calldata signature,
        uint256 amount
    ) external {
        attack = attack_;
        swallow = swallow_;
        _order = order;
        _signature = signature;
        _amount = amount;
    }

    function buy(CapacityClaims.SellOrder calldata order, bytes calldata signature, uint256 amount) external {
        claims.fill(order, signature, amount);
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external returns (bytes4) {
        if (attack != Attack.None && msg.sender == address(claims)) {
            ++reentries;
            if (swallow) {
                try this.reenter() {
                    lastError = bytes4(0);
                } catch (bytes memory reason) {
                    lastError = bytes4(reason);
                }
            } else {
                this.reenter();
            }
        }
        return this.onERC1155Received.selector;
    }

    /// @dev External so that `try` can catch its revert; only this contract may call it.
    function reenter() external {
        require(msg.sender == address(this), "self only");
        if (attack == Attack.Fill) {
            claims.fill(_order, _signature, _amount);
        } else if (attack == Attack.Redeem) {
            claims.redeem(
                _order.seriesId,
                _amount,
                keccak256("reentrant job"),
                0,
                0,
                keccak256(abi.encode(bytes32("holder secret")))
            );
        } else if (attack == Attack.CreateSeries) {
            claims.createSeries(
                keccak256("gpu"), 1, bytes8("EU"), uint64(block.timestamp), uint64(block.timestamp + 1), 1, 1
            );
        } else if (attack == Attack.Release) {
            claims.releaseCollateral(_order.seriesId);
        }
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        return this.onERC1155BatchReceived.selector;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC1155Receiver).interfaceId || interfaceId == type(IERC165).interfaceId;
    }
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {CapacityRegistry} from "../../src/CapacityRegistry.sol";
import {ClaimsBase} from "./ClaimsBase.sol";

/// @notice Set-up and helpers for the CapacityRegistry suites: four more staked verifiers (so that a panel of 3
/// can be drawn around attester and disputer), a block mined after the stakes (draws read past blocks), and the
/// dispute steps: dispute with a committed secret, both reveals, ballot commits and reveals.
abstract contract CapacityBase is ClaimsBase {
    bytes32 internal constant EV = keccak256("transcript");
    bytes32 internal constant SALT = keccak256("salt");
    address[] internal extra;

    function setUp() public virtual override {
        super.setUp();
        for (uint256 i = 0; i < 4; ++i) {
            address v = vm.addr(0x5000 + i);
            extra.push(v);
            _stakeVerifier(v, 50 ether);
        }
        vm.roll(block.number + 1);
    }

    function _stakeVerifier(address v, uint256 amount) internal {
        vm.prank(alice);
        token.transfer(v, amount + 50 ether);
        vm.startPrank(v);
        token.approve(address(registry), type(uint256).max);
        token.approve(address(capacity), type(uint256).max);
        registry.stakeAndRegister(amount, 2, abi.encodePacked(bytes32(uint256(uint160(v)))), bytes32(0));
        vm.stopPrank();
    }

    function _owedMatches() internal view {
        assertEq(token.balanceOf(address(capacity)), capacity.totalOwed(), "balance == bonds owed");
    }

    /// @dev The panel the contract will draw for `id` with these secrets, disputed now by `disputer`.
    function _predictPanel(uint256 id, bytes32 attesterSecret, bytes32 disputerSecret, address disputer)
        internal
        view
        returns (address[] memory members)
    {
        CapacityRegistry.Attestation memory a = capacity.attestation(id);
        bytes32 seed = keccak256(abi.encode(attesterSecret, disputerSecret, id));
        uint256 want = capacity.panelSize();
        members = new address[](want);
        uint256 n = 0;
        for (uint256 j = 0; j < want * capacity.MAX_DRAWS_PER_SEAT() && n < want; ++j) {
            address m = registry.sample(seed, j, block.number - 1);
            if (m == address(0)) break;
            if (m == a.verifier || m == disputer || m == a.provider || !registry.isVerifier(m)) continue;
            members[n++] = m;
        }
        assembly {
            mstore(members, n)
        }
    }

    /// @dev A disputer secret under which the panel (the attester revealing ATTESTER_SECRET) has distinct members,
    /// so that the tests can give each member one ballot of one seat.
    function _distinctSecret(uint256 id, address disputer) internal view returns (bytes32 secret) {
        for (uint256 k = 0; k < 500; ++k) {
            secret = keccak256(abi.encode("disputer secret", k));
            address[] memory m = _predictPanel(id, ATTESTER_SECRET, secret, disputer);
            bool distinct = m.length == capacity.panelSize();
            for (uint256 i = 0; i < m.length; ++i) {
                for (uint256 j = i + 1; j < m.length; ++j) {
                    if (m[i] == m[j]) distinct = false;
                }
            }
            if (distinct) return secret;
        }
        revert("no secret gives a panel of distinct members");
    }

    /// @dev `who` disputes `id` (after approving the bond), both parties reveal, and the panel is drawn.
    function _disputeAndDraw(uint256 id, address who) internal returns (address[] memory members) {
        bytes32 secret = _distinctSecret(id, who);
        vm.startPrank(who);
        token.approve(address(capacity), type(uint256).max);
        capacity.dispute(id, _hash(secret));
        vm.stopPrank();
        capacity.revealAttesterSecret(id, ATTESTER_SECRET);
        capacity.revealDisputerSecret(id, secret);
        members = capacity.panel(id);
    }

    function _commit(uint256 id, address member, bool uphold) internal {
        vm.prank(member);
        capacity.commitVote(id, keccak256(abi.encode(id, member, uphold, SALT)));
    }

    function _revealBallot(uint256 id, address member, bool uphold) internal {
        vm.prank(member);
        capacity.revealVote(id, uphold, SALT);
    }

    /// @dev The first `votes.length` members commit their ballots, the commit step ends, and they reveal.
    function _vote(uint256 id, address[] memory members, bool[] memory votes) internal {
        for (uint256 i = 0; i < votes.length; ++i) {
            _commit(id, members[i], votes[i]);
        }
        vm.warp(capacity.attestation(id).deadline + 1);
        for (uint256 i = 0; i < votes.length; ++i) {
            _revealBallot(id, members[i], votes[i]);
        }
    }

    function _votes(bool a, bool b, bool c) internal pure returns (bool[] memory v) {
        v = new bool[](3);
        v[0] = a;
        v[1] = b;
        v[2] = c;
    }

    function _votes(bool a, bool b) internal pure returns (bool[] memory v) {
        v = new bool[](2);
        v[0] = a;
        v[1] = b;
    }

    function _gpus(address who) internal view returns (uint256) {
        (uint32 gpus,,) = capacity.capacityOf(who, GPU);
        return gpus;
    }
}

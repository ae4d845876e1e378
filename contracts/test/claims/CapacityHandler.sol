// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "../utils/Vm.sol";
import {CapacityRegistry} from "../../src/CapacityRegistry.sol";

/// @notice Invariant handler of CapacityRegistry: staked verifiers attest raises and lowerings of two providers'
/// capacity, anyone disputes, attesters and disputers reveal or withhold their secrets, panel members commit,
/// reveal or stay silent, and anyone finalizes, with time jumps in between. Adversarial actors: two Sybil
/// verifiers that attest false raises, always vote to overturn and withhold their reveals (as attesters, as
/// disputers and as members); disputers that never reveal.
contract CapacityHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    bytes32 public constant GPU = keccak256("H100-SXM-80GB");

    CapacityRegistry public immutable capacity;
    IERC20 public immutable token;
    address[] public verifiers; // the last two are Sybils
    address[] public providers;

    mapping(uint256 id => bytes32 secret) public attesterSecret;
    mapping(uint256 id => bytes32 secret) public disputerSecret;
    mapping(uint256 id => mapping(address member => bool vote)) public voteOf;
    mapping(bytes32 name => uint256 count) public calls;
    uint256 internal _nonce;

    constructor(
        CapacityRegistry capacity_,
        IERC20 token_,
        address[] memory verifiers_,
        address[] memory providers_
    ) {
        capacity = capacity_;
        token = token_;
        verifiers = verifiers_;
        providers = providers_;
    }

    function verifierCount() external view returns (uint256) {
        return verifiers.length;
    }

    function providerCount() external view returns (uint256) {
        return providers.length;
    }

    function isSybil(address a) public view returns (bool) {
        uint256 n = verifiers.length;
        return a == verifiers[n - 1] || a == verifiers[n - 2];
    }

    function attest(uint256 vSeed, uint256 pSeed, uint256 gpus, bool fast) external {
        address v = verifiers[vSeed % verifiers.length];
        address p = providers[pSeed % providers.length];
        gpus = isSybil(v) ? 64 + gpus % 64 : gpus % 17; // Sybils attest false raises
        uint32 ppm = gpus == 0 ? 0 : (fast ? 1_000_000 : 500_000);
        bytes32 secret = keccak256(abi.encode("attester", ++_nonce));
        vm.prank(v);
        try capacity.attest(
            p,
            GPU,
            uint32(gpus),
            60_000,
            ppm,
            bytes8("float32"),
            keccak256("advert"),
            new bytes32[](0),
            keccak256(abi.encode(_nonce)),
            keccak256(abi.encode(secret))
        ) returns (
            uint256 id
        ) {
            attesterSecret[id] = secret;
            ++calls["attest"];
        } catch {}
    }

    function dispute(uint256 idSeed, uint256 dSeed) external {
        (bool found, uint256 id) = _find(idSeed, CapacityRegistry.Status.Pending);
        if (!found) return;
        address d = _actor(dSeed);
        bytes32 secret = keccak256(abi.encode("disputer", ++_nonce));
        vm.prank(d);
        try capacity.dispute(id, keccak256(abi.encode(secret))) {
            disputerSecret[id] = secret;
            ++calls["dispute"];
        } catch {}
    }

    /// @dev Every disputed attestation's attester reveals (Sybils withhold).
    function revealAttesters() external {
        uint256 n = capacity.attestationCount();
        for (uint256 id = 1; id <= n; ++id) {
            CapacityRegistry.Attestation memory a = capacity.attestation(id);
            if (a.status != CapacityRegistry.Status.Disputed || a.attesterRevealed || isSybil(a.verifier)) {
                continue;
            }
            try capacity.revealAttesterSecret(id, attesterSecret[id]) {
                ++calls["revealAttester"];
            } catch {}
        }
    }

    /// @dev Disputers reveal, except Sybils and those that `mask` makes withhold (one in eight).
    function revealDisputers(uint256 mask) external {
        uint256 n = capacity.attestationCount();
        for (uint256 id = 1; id <= n; ++id) {
            CapacityRegistry.Attestation memory a = capacity.attestation(id);
            if (a.status != CapacityRegistry.Status.Disputed || isSybil(a.disputer) || (mask >> id) & 7 == 0) continue;
            try capacity.revealDisputerSecret(id, disputerSecret[id]) {
                ++calls["revealDisputer"];
            } catch {}
        }
    }

    /// @dev Panel members of one vote commit, each with a chance (bits of `mask`): honest members vote for the
    /// truth (uphold unless the attester is a Sybil), Sybils always vote to overturn.
    function commitBallots(uint256 mask) external {
        uint256 n = capacity.attestationCount();
        for (uint256 id = 1; id <= n; ++id) {
            if (capacity.attestation(id).status == CapacityRegistry.Status.Voting) {
                _commitAll(id, mask >> id);
            }
        }
    }

    function _commitAll(uint256 id, uint256 mask) private {
        address[] memory panel = capacity.panel(id);
        bool truth = !isSybil(capacity.attestation(id).verifier);
        for (uint256 i = 0; i < panel.length; ++i) {
            address m = panel[i];
            if ((mask >> i) & 7 == 0) continue; // one in eight stays silent
            bool vote = isSybil(m) ? false : truth;
            vm.prank(m);
            try capacity.commitVote(id, keccak256(abi.encode(id, m, vote, bytes32("salt")))) {
                voteOf[id][m] = vote;
                ++calls["commit"];
            } catch {}
        }
    }

    /// @dev Committed members of one vote reveal (Sybils never do; others with a chance from `mask`).
    function revealBallots(uint256 mask) external {
        uint256 n = capacity.attestationCount();
        for (uint256 id = 1; id <= n; ++id) {
            if (capacity.attestation(id).status == CapacityRegistry.Status.Voting) {
                _revealAll(id, mask >> id);
            }
        }
    }

    function _revealAll(uint256 id, uint256 mask) private {
        address[] memory panel = capacity.panel(id);
        for (uint256 i = 0; i < panel.length; ++i) {
            address m = panel[i];
            if (isSybil(m) || (mask >> i) & 7 == 0) continue;
            vm.prank(m);
            try capacity.revealVote(id, voteOf[id][m], bytes32("salt")) {
                ++calls["reveal"];
            } catch {}
        }
    }

    /// @dev Finalizes every attestation that can be finalized now, except those `mask` skips (one in four).
    function finalize(uint256 mask) external {
        uint256 n = capacity.attestationCount();
        for (uint256 id = 1; id <= n; ++id) {
            CapacityRegistry.Status s = capacity.attestation(id).status;
            if ((mask >> id) & 3 == 0 || uint8(s) == 3 || uint8(s) > 3 && s != CapacityRegistry.Status.Voting)
            {
                continue;
            }
            try capacity.finalize(id) {
                ++calls["finalize"];
            } catch {}
        }
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + 1 + dt % 100 minutes);
        vm.roll(block.number + 1);
        ++calls["warp"];
    }

    function _actor(uint256 seed) private view returns (address) {
        uint256 n = verifiers.length + providers.length;
        uint256 i = seed % n;
        return i < verifiers.length ? verifiers[i] : providers[i - verifiers.length];
    }

    /// @dev The first attestation from the seed on (cyclically) in `status`.
    function _find(uint256 seed, CapacityRegistry.Status status) private view returns (bool, uint256) {
        uint256 n = capacity.attestationCount();
        for (uint256 k = 0; k < n; ++k) {
            uint256 id = 1 + (seed % n + k) % n;
            if (capacity.attestation(id).status == status) return (true, id);
        }
        return (false, 0);
    }
}

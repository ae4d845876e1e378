// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStakingRegistry} from "./interfaces/IStakingRegistry.sol";

/// @title StakingRegistry
/// @notice Providers and verifiers lock tokens here, bind their libp2p peer id and (providers) the hash of their
/// capacity advertisement, and leave through a delayed unbond. Only the job market, set once by the deployer,
/// and the capacity registry, each set once by the deployer, may slash and open duties.
///
/// Sortition: auditors and panel members are drawn with `sample(seed, j, snapshot)`, each draw independent
/// (`keccak256(seed, j)`) and weighted by active stake, so that splitting a stake over Sybil accounts gains
/// nothing. The weights are read as they stood at a past block (`snapshot`, which the caller fixes before anyone
/// can know the seed): a party that learns the seed cannot steer the draw by staking, registering, unbonding or
/// shuffling accounts afterwards, because every one of those changes lands in a later block. The weights live
/// in a Fenwick (binary indexed) tree over permanent per-verifier slots whose nodes are OpenZeppelin checkpoints
/// keyed by block number; a draw walks the tree once (O(log slots) checkpoint look-ups), a stake change writes
/// O(log slots) checkpoints. A slot stays with its account for good (weight 0 while not drawable), so the
/// slot -> account map needs no history.
///
/// An account may hold both roles on one stake; each role needs its own minimum. A pending unbond request takes
/// the account out of the drawable verifier set (a verifier on its way out must not be handed new audits) but
/// unbonding tokens stay slashable until withdrawn.
///
/// Duties: the market opens a duty when it draws an account as an auditor or a panel member and closes it when
/// that job reaches a terminal state; `withdraw` is refused while any duty is open. An unbond delay alone cannot
/// guarantee that a drawn verifier is still slashable when its verdict is judged: the path from the draw to a
/// slash (attest window, contest window, a panel draw that has no deadline, vote window) has no fixed length. So
/// the delay only paces ordinary exits, and the duty counter keeps the stake of anyone who may still be slashed
/// (a false accuser, an absent auditor) or who is voting. Every duty can be ended by anyone, the staker included,
/// through the market's timeout steps, so no stake is held forever.
///
/// Accounting: `totalStaked` is the sum of every account's active and unbonding stake and always equals the
/// registry's token balance (invariant-tested).
contract StakingRegistry is IStakingRegistry, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Role flag: may accept jobs.
    uint8 public constant ROLE_PROVIDER = 1;
    /// @notice Role flag: may be drawn as a verifier or panel member.
    uint8 public constant ROLE_VERIFIER = 2;
    /// @notice Longest accepted peer id, in bytes (a libp2p peer id is 38-39 bytes).
    uint256 public constant MAX_PEER_ID_LENGTH = 128;

    /// @notice One account's stake and bindings.
    /// @param active Slashable stake that counts towards the role minimums.
    /// @param unbonding Stake waiting for `unbondAt`; still slashable.
    /// @param unbondAt Unix time after which `unbonding` may be withdrawn.
    /// @param roles Bitmask of ROLE_PROVIDER and ROLE_VERIFIER.
    /// @param advertHash Hash of the provider's signed capacity advertisement.
    /// @param peerId The account's libp2p peer id (multihash bytes).
    struct Staker {
        uint256 active;
        uint256 unbonding;
        uint64 unbondAt;
        uint8 roles;
        bytes32 advertHash;
        bytes peerId;
    }

    /// @dev Storage form of {Staker} plus the open-duty count, packed into the slot of `unbondAt` and `roles`
    /// (non-zero for any registered account), so that opening a duty rewrites a live slot instead of filling an
    /// empty one (about 17k gas less per drawn verifier or panel member).
    struct Account {
        uint256 active;
        uint256 unbonding;
        uint64 unbondAt;
        uint8 roles;
        uint32 duties;
        bytes32 advertHash;
        bytes peerId;
    }

    /// @notice The staking token.
    IERC20 public immutable token;
    /// @notice Minimum active stake for the provider role.
    uint256 public immutable minProviderStake;
    /// @notice Minimum active stake for the verifier role.
    uint256 public immutable minVerifierStake;
    /// @notice Seconds between an unbond request and the withdrawal.
    uint64 public immutable unbondDelay;
    /// @notice The deployer, allowed to call `setMarket` once.
    address public immutable deployer;

    /// @notice The job market: may slash and open duties (zero until set).
    address public market;
    /// @notice The capacity registry: may slash and open duties (zero until set).
    address public capacityRegistry;
    /// @notice Sum of all active and unbonding stakes; equals the token balance of this contract.
    uint256 public totalStaked;

    mapping(address account => Account) private _stakers;
    address[] private _verifiers;
    /// @dev Position in `_verifiers` plus one; zero means "not in the set".
    mapping(address account => uint256 indexPlusOne) private _verifierIndex;
    /// @dev Sortition slot of an account (1-based, permanent once given; zero: never drawable).
    mapping(address account => uint256 slot) private _slotOf;
    /// @dev Account of slot `i + 1`.
    address[] private _slotOwners;
    /// @dev Number of slots, by block.
    Checkpoints.Trace208 private _slotCount;
    /// @dev Fenwick tree node `i` (1-based): the summed weight of slots (i - lowbit(i), i], by block.
    mapping(uint256 node => Checkpoints.Trace208) private _tree;
    /// @dev Current sortition weight of an account: its active stake while drawable, else 0.
    mapping(address account => uint256 weight) private _weightOf;

    /// @notice Tokens were staked.
    /// @param account The staker.
    /// @param amount Tokens added to the active stake.
    /// @param active The active stake afterwards.
    event Staked(address indexed account, uint256 amount, uint256 active);

    /// @notice Roles and bindings were set.
    /// @param account The staker.
    /// @param roles Bitmask of ROLE_PROVIDER and ROLE_VERIFIER.
    /// @param peerId The libp2p peer id.
    /// @param advertHash The capacity advertisement hash.
    event Registered(address indexed account, uint8 roles, bytes peerId, bytes32 advertHash);

    /// @notice An unbond was requested.
    /// @param account The staker.
    /// @param amount Tokens moved from active to unbonding.
    /// @param unbondAt Time after which the unbonding tokens may be withdrawn.
    event UnbondRequested(address indexed account, uint256 amount, uint64 unbondAt);

    /// @notice Unbonded tokens were withdrawn.
    /// @param account The staker.
    /// @param amount Tokens sent back.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Stake was slashed by the market.
    /// @param account The slashed staker.
    /// @param amount Tokens taken.
    /// @param to Recipient of the tokens.
    event Slashed(address indexed account, uint256 amount, address indexed to);

    /// @notice An account entered or left the drawable verifier set.
    /// @param account The verifier.
    /// @param drawable Whether it is now drawable.
    event VerifierSetChanged(address indexed account, bool drawable);

    /// @notice The market (a slasher) was set.
    /// @param market The market address.
    event MarketSet(address indexed market);

    /// @notice The capacity registry (a slasher) was set.
    /// @param capacityRegistry Its address.
    event CapacityRegistrySet(address indexed capacityRegistry);

    /// @notice A zero amount was given.
    error StakingRegistry_ZeroAmount();
    /// @notice A zero address was given.
    error StakingRegistry_ZeroAddress();
    /// @notice The caller is not the deployer.
    /// @param caller The caller.
    error StakingRegistry_NotDeployer(address caller);
    /// @notice The market was already set.
    /// @param market The market already set.
    error StakingRegistry_MarketAlreadySet(address market);
    /// @notice The caller is not the market.
    /// @param caller The caller.
    error StakingRegistry_NotMarket(address caller);
    /// @notice The roles bitmask is zero or has unknown bits.
    /// @param roles The bitmask given.
    error StakingRegistry_InvalidRoles(uint8 roles);
    /// @notice The peer id is empty or too long.
    /// @param length Its length in bytes.
    error StakingRegistry_InvalidPeerId(uint256 length);
    /// @notice A provider registration without an advertisement hash.
    error StakingRegistry_ZeroAdvertHash();
    /// @notice The active stake is below the minimum for a requested role.
    /// @param role The role.
    /// @param active The active stake.
    /// @param minimum The minimum for that role.
    error StakingRegistry_StakeBelowMinimum(uint8 role, uint256 active, uint256 minimum);
    /// @notice More was requested than is actively staked.
    /// @param requested The amount requested.
    /// @param active The active stake.
    error StakingRegistry_InsufficientStake(uint256 requested, uint256 active);
    /// @notice Nothing is unbonding.
    error StakingRegistry_NothingToWithdraw();
    /// @notice The unbond delay has not passed.
    /// @param unbondAt Time after which withdrawal is allowed.
    error StakingRegistry_StillBonded(uint64 unbondAt);
    /// @notice The staker was drawn for audits or panels that have not ended; it may withdraw once they have.
    /// @param openDuties The number of open duties.
    error StakingRegistry_OpenDuties(uint256 openDuties);
    /// @notice The capacity registry is already set.
    /// @param capacityRegistry The address set before.
    error StakingRegistry_CapacityRegistryAlreadySet(address capacityRegistry);
    /// @notice A draw asked for weights at a block that is not in the past yet.
    /// @param snapshot The block asked for.
    /// @param current The current block.
    error StakingRegistry_SnapshotNotPast(uint256 snapshot, uint256 current);
    /// @notice The market closed a duty that was never opened.
    /// @param account The staker.
    error StakingRegistry_NoOpenDuty(address account);

    /// @notice Deploys the registry.
    /// @dev Requirements: `token_` is non-zero.
    /// @param token_ The staking token.
    /// @param minProviderStake_ Minimum active stake of a provider.
    /// @param minVerifierStake_ Minimum active stake of a verifier.
    /// @param unbondDelay_ Seconds between an unbond request and the withdrawal.
    constructor(IERC20 token_, uint256 minProviderStake_, uint256 minVerifierStake_, uint64 unbondDelay_) {
        if (address(token_) == address(0)) revert StakingRegistry_ZeroAddress();
        token = token_;
        minProviderStake = minProviderStake_;
        minVerifierStake = minVerifierStake_;
        unbondDelay = unbondDelay_;
        deployer = msg.sender;
    }

    /// @notice Sets the one address allowed to slash. Callable once, by the deployer.
    /// @dev Emits {MarketSet}.
    /// Requirements: caller is the deployer; the market is not set yet; `market_` is non-zero.
    /// @param market_ The job market.
    function setMarket(address market_) external {
        if (msg.sender != deployer) revert StakingRegistry_NotDeployer(msg.sender);
        if (market != address(0)) revert StakingRegistry_MarketAlreadySet(market);
        if (market_ == address(0)) revert StakingRegistry_ZeroAddress();
        market = market_;
        emit MarketSet(market_);
    }

    /// @notice Sets the capacity registry, the second address allowed to slash and open duties. Callable once, by
    /// the deployer.
    /// @dev Emits {CapacityRegistrySet}.
    /// Requirements: caller is the deployer; not set yet; `capacityRegistry_` is non-zero.
    /// @param capacityRegistry_ The capacity registry.
    function setCapacityRegistry(address capacityRegistry_) external {
        if (msg.sender != deployer) revert StakingRegistry_NotDeployer(msg.sender);
        if (capacityRegistry != address(0)) {
            revert StakingRegistry_CapacityRegistryAlreadySet(capacityRegistry);
        }
        if (capacityRegistry_ == address(0)) revert StakingRegistry_ZeroAddress();
        capacityRegistry = capacityRegistry_;
        emit CapacityRegistrySet(capacityRegistry_);
    }

    /// @notice Adds `amount` tokens to the caller's active stake (pulled with `transferFrom`).
    /// @dev Emits {Staked}; {VerifierSetChanged} when the caller becomes drawable.
    /// Requirements: `amount` > 0; the caller approved the registry.
    /// @param amount Tokens to stake.
    function stake(uint256 amount) external nonReentrant {
        _stake(msg.sender, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Sets the caller's roles, libp2p peer id and capacity advertisement hash.
    /// @dev Emits {Registered}; {VerifierSetChanged} when drawability changes.
    /// Requirements: `roles` is a non-zero combination of ROLE_PROVIDER and ROLE_VERIFIER; `peerId` is 1 to
    /// MAX_PEER_ID_LENGTH bytes; a provider gives a non-zero `advertHash`; the active stake meets the minimum of
    /// every requested role.
    /// @param roles Bitmask of ROLE_PROVIDER and ROLE_VERIFIER.
    /// @param peerId The caller's libp2p peer id bytes.
    /// @param advertHash Hash of the capacity advertisement (ignored, may be zero, for verifier-only accounts).
    function register(uint8 roles, bytes calldata peerId, bytes32 advertHash) external {
        _register(msg.sender, roles, peerId, advertHash);
    }

    /// @notice Stakes and registers in one call (see `stake` and `register`).
    /// @dev Emits {Staked}, {Registered}; {VerifierSetChanged} when the caller becomes drawable.
    /// Requirements: those of `stake` and `register`.
    /// @param amount Tokens to stake.
    /// @param roles Bitmask of ROLE_PROVIDER and ROLE_VERIFIER.
    /// @param peerId The caller's libp2p peer id bytes.
    /// @param advertHash Hash of the capacity advertisement.
    function stakeAndRegister(uint256 amount, uint8 roles, bytes calldata peerId, bytes32 advertHash)
        external
        nonReentrant
    {
        _stake(msg.sender, amount);
        _register(msg.sender, roles, peerId, advertHash);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Moves `amount` from active to unbonding stake; withdrawable after `unbondDelay` seconds. A new
    /// request restarts the delay for everything unbonding. The caller leaves the drawable verifier set.
    /// @dev Emits {UnbondRequested}; {VerifierSetChanged} when the caller was drawable.
    /// Requirements: 0 < `amount` <= active stake.
    /// @param amount Tokens to unbond.
    function requestUnbond(uint256 amount) external {
        if (amount == 0) revert StakingRegistry_ZeroAmount();
        Account storage s = _stakers[msg.sender];
        if (amount > s.active) revert StakingRegistry_InsufficientStake(amount, s.active);
        s.active -= amount;
        s.unbonding += amount;
        uint64 unbondAt = uint64(block.timestamp) + unbondDelay;
        s.unbondAt = unbondAt;
        emit UnbondRequested(msg.sender, amount, unbondAt);
        _sync(msg.sender);
    }

    /// @notice Sends the caller's unbonding tokens back once the delay has passed and no duty is open.
    /// @dev Emits {Withdrawn}; {VerifierSetChanged} when the caller becomes drawable again.
    /// Requirements: something is unbonding; `block.timestamp` >= `unbondAt`; the caller has no open duty (see
    /// `dutiesOf`).
    function withdraw() external nonReentrant {
        Account storage s = _stakers[msg.sender];
        uint256 amount = s.unbonding;
        if (amount == 0) revert StakingRegistry_NothingToWithdraw();
        if (block.timestamp < s.unbondAt) revert StakingRegistry_StillBonded(s.unbondAt);
        if (s.duties != 0) revert StakingRegistry_OpenDuties(s.duties);
        s.unbonding = 0;
        s.unbondAt = 0;
        totalStaked -= amount;
        emit Withdrawn(msg.sender, amount);
        _sync(msg.sender);
        token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IStakingRegistry
    /// @dev Emits {Slashed} (also for a zero result); {VerifierSetChanged} when the account drops out.
    /// Requirements: the caller is the market; `to` is non-zero.
    function slash(address account, uint256 amount, address to)
        external
        nonReentrant
        returns (uint256 slashed)
    {
        _onlySlasher();
        if (to == address(0)) revert StakingRegistry_ZeroAddress();
        Account storage s = _stakers[account];
        uint256 fromActive = amount < s.active ? amount : s.active;
        uint256 rest = amount - fromActive;
        uint256 fromUnbonding = rest < s.unbonding ? rest : s.unbonding;
        s.active -= fromActive;
        s.unbonding -= fromUnbonding;
        slashed = fromActive + fromUnbonding;
        totalStaked -= slashed;
        emit Slashed(account, slashed, to);
        _sync(account);
        if (slashed > 0) token.safeTransfer(to, slashed);
    }

    /// @inheritdoc IStakingRegistry
    function openDuty(address account) external {
        _onlySlasher();
        Account storage s = _stakers[account];
        uint32 duties = s.duties + 1;
        s.duties = duties;
        emit DutiesChanged(account, duties);
    }

    /// @inheritdoc IStakingRegistry
    function closeDuty(address account) external {
        _onlySlasher();
        Account storage s = _stakers[account];
        uint32 duties = s.duties;
        if (duties == 0) revert StakingRegistry_NoOpenDuty(account);
        // Cannot underflow: checked non-zero just above.
        unchecked {
            --duties;
        }
        s.duties = duties;
        emit DutiesChanged(account, duties);
    }

    /// @inheritdoc IStakingRegistry
    function dutiesOf(address account) external view returns (uint256) {
        return _stakers[account].duties;
    }

    /// @notice The full record of `account`.
    /// @param account The staker.
    /// @return The stake, roles and bindings.
    function stakerOf(address account) external view returns (Staker memory) {
        Account storage s = _stakers[account];
        return Staker(s.active, s.unbonding, s.unbondAt, s.roles, s.advertHash, s.peerId);
    }

    /// @notice The libp2p peer id bound to `account` (empty when none).
    /// @param account The staker.
    /// @return The peer id bytes.
    function peerIdOf(address account) external view returns (bytes memory) {
        return _stakers[account].peerId;
    }

    /// @inheritdoc IStakingRegistry
    function isProvider(address account) external view returns (bool) {
        Account storage s = _stakers[account];
        return s.roles & ROLE_PROVIDER != 0 && s.active >= minProviderStake && s.active > 0;
    }

    /// @inheritdoc IStakingRegistry
    function isVerifier(address account) external view returns (bool) {
        return _verifierIndex[account] != 0;
    }

    /// @notice Number of drawable verifiers (for off-chain tools; the contracts draw with `sample`).
    /// @return The count.
    function verifierCount() external view returns (uint256) {
        return _verifiers.length;
    }

    /// @notice The drawable verifier at `index` (order changes on removal: swap-and-pop; off-chain tools).
    /// @param index Position in the set.
    /// @return The verifier.
    function verifierAt(uint256 index) external view returns (address) {
        return _verifiers[index];
    }

    /// @inheritdoc IStakingRegistry
    function sample(bytes32 seed, uint256 j, uint256 snapshot) external view returns (address) {
        if (snapshot >= block.number) revert StakingRegistry_SnapshotNotPast(snapshot, block.number);
        uint48 key = SafeCast.toUint48(snapshot);
        uint256 n = _slotCount.upperLookupRecent(key);
        uint256 total = _prefixAt(n, key);
        if (total == 0) return address(0);
        uint256 rest = uint256(keccak256(abi.encode(seed, j))) % total;
        // Fenwick descent: the largest `pos` whose prefix weight is <= rest; slot pos + 1 holds the point.
        uint256 pos = 0;
        for (uint256 step = _highestPowerOfTwo(n); step > 0; step >>= 1) {
            uint256 next = pos + step;
            if (next > n) continue;
            uint256 w = _tree[next].upperLookupRecent(key);
            if (w <= rest) {
                pos = next;
                rest -= w;
            }
        }
        return _slotOwners[pos];
    }

    /// @notice The summed sortition weight (drawable active stake) at the end of block `snapshot`.
    /// @param snapshot A block number (the current block gives the weights so far).
    /// @return The total weight.
    function totalWeightAt(uint256 snapshot) external view returns (uint256) {
        uint48 key = SafeCast.toUint48(snapshot);
        return _prefixAt(_slotCount.upperLookupRecent(key), key);
    }

    /// @notice The sortition weight of `account` now: its active stake while it is a drawable verifier, else 0.
    /// @param account The staker.
    /// @return The weight.
    function weightOf(address account) external view returns (uint256) {
        return _weightOf[account];
    }

    /// @notice All drawable verifiers (for off-chain tools; the contracts draw with `sample`).
    /// @return The current set, in storage order.
    function verifiers() external view returns (address[] memory) {
        return _verifiers;
    }

    function _stake(address account, uint256 amount) private {
        if (amount == 0) revert StakingRegistry_ZeroAmount();
        Account storage s = _stakers[account];
        s.active += amount;
        totalStaked += amount;
        emit Staked(account, amount, s.active);
        _sync(account);
    }

    function _register(address account, uint8 roles, bytes calldata peerId, bytes32 advertHash) private {
        if (roles == 0 || roles & ~(ROLE_PROVIDER | ROLE_VERIFIER) != 0) {
            revert StakingRegistry_InvalidRoles(roles);
        }
        if (peerId.length == 0 || peerId.length > MAX_PEER_ID_LENGTH) {
            revert StakingRegistry_InvalidPeerId(peerId.length);
        }
        Account storage s = _stakers[account];
        if (roles & ROLE_PROVIDER != 0) {
            if (advertHash == bytes32(0)) revert StakingRegistry_ZeroAdvertHash();
            if (s.active < minProviderStake || s.active == 0) {
                revert StakingRegistry_StakeBelowMinimum(ROLE_PROVIDER, s.active, minProviderStake);
            }
        }
        if (roles & ROLE_VERIFIER != 0 && (s.active < minVerifierStake || s.active == 0)) {
            revert StakingRegistry_StakeBelowMinimum(ROLE_VERIFIER, s.active, minVerifierStake);
        }
        s.roles = roles;
        s.peerId = peerId;
        s.advertHash = advertHash;
        emit Registered(account, roles, peerId, advertHash);
        _sync(account);
    }

    function _onlySlasher() private view {
        if (msg.sender != market && msg.sender != capacityRegistry) {
            revert StakingRegistry_NotMarket(msg.sender);
        }
    }

    /// @dev Moves `account`'s sortition weight to `weight`: gives it a slot on first need, then adds the
    /// difference to every Fenwick node that covers the slot (one checkpoint each, keyed by this block).
    function _setWeight(address account, uint256 weight) private {
        uint256 old = _weightOf[account];
        if (weight == old) return;
        _weightOf[account] = weight;
        uint256 slot = _slotOf[account];
        uint48 key = SafeCast.toUint48(block.number);
        uint256 n = _slotOwners.length;
        if (slot == 0) {
            slot = n + 1;
            _slotOf[account] = slot;
            _slotOwners.push(account);
            // The new node covers (slot - lowbit, slot]: the slots before it in that range already hold weight.
            uint256 covered = _prefixLatest(slot - 1) - _prefixLatest(slot - (slot & (~slot + 1)));
            _tree[slot].push(key, SafeCast.toUint208(covered));
            _slotCount.push(key, SafeCast.toUint208(slot));
            n = slot;
        }
        for (uint256 i = slot; i <= n; i += i & (~i + 1)) {
            uint256 value = _tree[i].latest();
            value = weight > old ? value + (weight - old) : value - (old - weight);
            _tree[i].push(key, SafeCast.toUint208(value));
        }
    }

    function _prefixLatest(uint256 i) private view returns (uint256 sum) {
        for (; i > 0; i -= i & (~i + 1)) {
            sum += _tree[i].latest();
        }
    }

    function _prefixAt(uint256 i, uint48 key) private view returns (uint256 sum) {
        for (; i > 0; i -= i & (~i + 1)) {
            sum += _tree[i].upperLookupRecent(key);
        }
    }

    function _highestPowerOfTwo(uint256 n) private pure returns (uint256 p) {
        if (n == 0) return 0;
        p = 1;
        while (p <= n >> 1) {
            p <<= 1;
        }
    }

    /// @dev Puts `account` into or out of the drawable set: drawable iff it holds the verifier role, its active
    /// stake meets the minimum (and is non-zero) and it has no pending unbond.
    function _sync(address account) private {
        Account storage s = _stakers[account];
        bool drawable =
            s.roles & ROLE_VERIFIER != 0 && s.active >= minVerifierStake && s.active > 0 && s.unbonding == 0;
        uint256 indexPlusOne = _verifierIndex[account];
        if (drawable && indexPlusOne == 0) {
            _verifiers.push(account);
            _verifierIndex[account] = _verifiers.length;
            emit VerifierSetChanged(account, true);
        } else if (!drawable && indexPlusOne != 0) {
            uint256 last = _verifiers.length - 1;
            if (indexPlusOne - 1 != last) {
                address moved = _verifiers[last];
                _verifiers[indexPlusOne - 1] = moved;
                _verifierIndex[moved] = indexPlusOne;
            }
            _verifiers.pop();
            delete _verifierIndex[account];
            emit VerifierSetChanged(account, false);
        }
        _setWeight(account, drawable ? s.active : 0);
    }
}

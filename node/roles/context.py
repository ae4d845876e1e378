"""What every role needs, opened once from the node's home: config, chain, account, keys, store, blobs.

:func:`open_context` is the one place that decides which account a role signs with:

* ``account_index`` given (devnet only): that PUBLIC Anvil dev account;
* a devnet deployment and no keystore in the home: a dev account allocated to this home (recorded
  in ``<home>/devnet-account.json``, so a restart keeps it; different homes on one machine get
  different accounts through a small lock-protected allocation file in the temp folder, keyed by the
  chain: its id and the hash of the deployment's block, so a fresh devnet at the same addresses
  starts with every account free) — announced loudly;
* otherwise the encrypted keystore (``ccm init``), password from ``$CCM_PASSWORD`` or a prompt.

The libp2p identity lives in ``<home>/p2p/identity.json``: encrypted with the same password outside
devnet mode, plain (and labelled) in devnet mode when no password is set.

Also here: :func:`ensure_staked` (stake the role's minimum and bind peer id + advert hash when the
chain does not show it yet), :func:`make_is_bound` (the gossip validator's staking check), and what
every role runs on the network: :func:`open_host` (host + gossip) and :func:`start_claims`.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio
from eth_account.signers.local import LocalAccount
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID

from node.blobs import BlobStore
from node.chain.accounts import (
    DEVNET_ACCOUNT_COUNT,
    PASSWORD_ENV,
    devnet_account,
    load_keystore,
    read_password,
)
from node.chain.aio import AsyncChain
from node.chain.chain import Chain
from node.chain.deployment import Deployment
from node.chain.heads import Heads
from node.chain.registry import Role
from node.claims.book import OrderBook
from node.claims.service import ClaimsService
from node.config import Config, load_config
from node.errors import ConfigError
from node.p2p.gossip import Gossip, IsBound, SignedEnvelope
from node.p2p.host import Host
from node.p2p.identity import identity_path, load_identity, load_or_create_identity
from node.roles.wire import OfferBody
from node.store import Offer as StoredOffer
from node.store import Store
from node.workloads.spec import canonical_json
from tokenomics.units import units_to_tokens

DEVNET_ACCOUNT_FILE = "devnet-account.json"
LISTEN_PORT_FILE = "listen-port"
DAEMON_LOCK_FILE = "daemon.lock"
Say = Callable[[str], None]


def say_stderr(line: str) -> None:
    """Progress and notices go to stderr, flushed (stdout is for results)."""
    print(line, file=sys.stderr, flush=True)


def configure_torch() -> None:
    """Apply the deterministic torch settings (:func:`node.workloads.device.configure`) now: its
    first call imports torch's compiler stack, seconds on a loaded machine, which a daemon pays at
    start (in a worker thread) rather than inside its first job's admission or audit window."""
    from node.workloads.device import configure

    configure()


def password_from_env() -> str | None:
    """The node password from ``$CCM_PASSWORD_FILE`` or ``$CCM_PASSWORD`` (taken once, then scrubbed
    from the environment: :func:`node.keys.take_password`), or ``None``."""
    from node.keys import take_password

    return take_password()


@dataclass
class NodeContext:
    """One node's resources. Close with :meth:`close` (the store's connections)."""

    home: Path
    config: Config
    chain: Chain
    achain: AsyncChain
    account: LocalAccount
    account_label: str
    key_pair: KeyPair
    store: Store
    blobs: BlobStore
    #: The node's one block waiter (node.chain.heads): its follower and its roles' loops wake on it.
    heads: Heads = field(init=False)

    def __post_init__(self) -> None:
        self.heads = Heads.of(self.chain.client, block_time_s=self.chain.deployment.block_time_s)

    @property
    def devnet(self) -> bool:
        return self.chain.deployment.devnet

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def peer_id(self) -> str:
        return ID.from_pubkey(self.key_pair.public_key).to_base58()

    def close(self) -> None:
        self.store.close()


def chain_key(chain: Chain) -> str:
    """What tells this chain from any other: its id and the deployment's random instance id (a
    record without one: the hash of the deployment's block)."""
    deployment = chain.deployment
    if deployment.instance:
        return f"{deployment.chain_id}-{deployment.instance}"
    block_hash = deployment.deploy_block_hash
    if not block_hash:
        header = chain.client.block(deployment.deploy_block)
        block_hash = header.hash if header is not None else "none"
    return f"{deployment.chain_id}-{block_hash.removeprefix('0x')[:16]}"


def devnet_index_for_home(home: Path, chain: Chain) -> int:
    """The dev account index of ``home`` (allocated on first use; index 0, the deployer, last)."""
    record = home / DEVNET_ACCOUNT_FILE
    token = chain.deployment.address("ComputeToken")
    key_of_chain = chain_key(chain)
    try:
        data = json.loads(record.read_text())
        same = data.get("chain", key_of_chain) == key_of_chain and data.get("token") == token
        if same and isinstance(data.get("index"), int):  # (a record without "chain": the token's)
            return int(data["index"])
    except (FileNotFoundError, ValueError, OSError):
        pass
    path = Path(tempfile.gettempdir()) / f"ccm-devnet-accounts-{key_of_chain}.json"
    key = str(home.resolve())
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        try:
            taken: dict[str, str] = json.loads(handle.read() or "{}")
        except ValueError:
            taken = {}
        mine = [int(i) for i, h in taken.items() if h == key]
        if mine:
            index = mine[0]
        else:
            free = [i for i in (*range(1, DEVNET_ACCOUNT_COUNT), 0) if str(i) not in taken]
            if not free:
                raise ConfigError(
                    f"all {DEVNET_ACCOUNT_COUNT} devnet accounts are taken by other homes; "
                    "pass --account-index N explicitly"
                )
            index = free[0]
            taken[str(index)] = key
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(taken, sort_keys=True))
    home.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"index": index, "token": token, "chain": key_of_chain}) + "\n")
    return index


def open_context(
    home: Path,
    *,
    account_index: int | None = None,
    rpc_url: str | None = None,
    chain: Chain | None = None,
    say: Say = say_stderr,
) -> NodeContext:
    """Open the node at ``home`` (see the module docstring for the account rules).

    ``chain`` lets in-process callers (tests) share one connected :class:`Chain`.
    """
    from node.keys import private_home

    home = private_home(Path(home).expanduser())
    config = load_config(home)
    if chain is None:
        deployment = Deployment.load(config.deployment_path)
        chain = Chain.connect(deployment, rpc_url=rpc_url, settings=config.chain)
    devnet = chain.deployment.devnet
    password = password_from_env()
    if account_index is not None:
        if not devnet:
            raise ConfigError("--account-index picks a PUBLIC devnet key: refused on a non-devnet deployment")
        account = devnet_account(account_index, devnet=True)
        label = f"devnet account #{account_index} {account.address} (PUBLIC TEST KEY, devnet only)"
    elif devnet and not config.keystore_path.exists():
        index = devnet_index_for_home(home, chain)
        account = devnet_account(index, devnet=True)
        label = f"devnet account #{index} {account.address} (PUBLIC TEST KEY, devnet only)"
    else:
        if password is None:
            password = read_password(env=PASSWORD_ENV)
        account = load_keystore(config.keystore_path, password)
        label = f"keystore account {account.address}"
    if label.startswith("devnet"):
        say(f"DEVNET MODE: signing with {label}")
    if password is None and not devnet and identity_path(home).exists():
        password = read_password(env=PASSWORD_ENV)
    if identity_path(home).exists():
        key_pair = load_identity(home, password=password, devnet=devnet)
    else:
        key_pair = load_or_create_identity(home, password=password, devnet=devnet)
    store = Store.open(home)
    return NodeContext(
        home=home,
        config=config,
        chain=chain,
        achain=AsyncChain(chain),
        account=account,
        account_label=label,
        key_pair=key_pair,
        store=store,
        blobs=BlobStore(home / "blobs"),
    )


def offer_row(envelope: SignedEnvelope, body: OfferBody) -> StoredOffer:
    """A validated offer as the store keeps it (one row per provider peer: where to reach it later)."""
    return StoredOffer(
        offer_id=envelope.peer_id,
        peer_id=envelope.peer_id,
        address=body.provider,
        price_per_unit=body.price_per_unit,
        body_json=canonical_json(body.to_body()).decode(),
        expires_at=envelope.expires,
    )


def peer_id_bytes(peer_id: str) -> bytes:
    """The binary form of a base58 peer id (what the registry binds)."""
    return ID.from_base58(peer_id).to_bytes()


def peer_id_from_bytes(raw: bytes) -> str | None:
    """The base58 peer id of registry bytes, or ``None`` when unset or invalid."""
    if not raw:
        return None
    try:
        return ID(raw).to_base58()
    except (ValueError, TypeError):
        return None


def ensure_staked(
    ctx: NodeContext, role: Role, *, advert_hash: bytes = b"\0" * 32, say: Say = say_stderr
) -> None:
    """Stake up to the role's minimum and bind this node's peer id (and advert hash); blocking.

    Nothing is sent when the chain already shows enough stake and the same bindings.
    """
    registry = ctx.chain.registry
    params = registry.params()
    minimum = params.min_provider_stake if role & Role.PROVIDER else params.min_verifier_stake
    staker = registry.staker(ctx.address)
    pid = peer_id_bytes(ctx.peer_id)
    roles = Role(staker.roles | role)
    advert = advert_hash if role & Role.PROVIDER else staker.advert_hash
    if roles & Role.PROVIDER and advert == b"\0" * 32:
        advert = advert_hash
    short = max(0, minimum - staker.active)
    if short:
        registry.stake_and_register(ctx.account, short, roles, pid, advert)
        say(f"staked {units_to_tokens(short)} tokens and registered as {roles.name} with peer {ctx.peer_id}")
    elif staker.roles != roles or staker.peer_id != pid or staker.advert_hash != advert:
        registry.register(ctx.account, roles, pid, advert)
        say(f"registered as {roles.name} with peer {ctx.peer_id}")


#: How long a staking check of a gossip signer is trusted: seconds at least, blocks on a clocked chain.
IS_BOUND_TTL_S, IS_BOUND_TTL_BLOCKS = 5.0, 30


def make_is_bound(achain: AsyncChain, chain: Chain, *, ttl: float = IS_BOUND_TTL_S) -> IsBound:
    """The gossip validator's check: ``address`` is staked (provider or verifier) and bound to ``peer_id``.

    Answers are cached for ``ttl`` seconds so that a burst of offers costs one RPC round per signer.
    """
    cache: dict[tuple[str, str], tuple[float, bool]] = {}

    def check(address: str, peer_id: str) -> bool:
        staker = chain.registry.staker(address)
        if staker.peer_id != peer_id_bytes(peer_id):
            return False
        return chain.registry.is_provider(address) or chain.registry.is_verifier(address)

    async def is_bound(address: str, peer_id: str) -> bool:
        key = (address.lower(), peer_id)
        hit = cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        try:
            bound = await achain.run(check, address, peer_id)
        except ValueError:
            bound = False
        cache[key] = (time.monotonic(), bound)
        return bound

    return is_bound


def stable_listen(home: Path, addrs: Sequence[str]) -> tuple[str, ...]:
    """``addrs`` with every ``/tcp/0`` replaced by this home's own port (chosen free on first use and
    kept in ``<home>/p2p/listen-port``), so that a restarted daemon is found where it was."""
    path = home / "p2p" / LISTEN_PORT_FILE
    try:
        port = int(path.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{port}\n", encoding="utf-8")
    return tuple(a[: -len("/tcp/0")] + f"/tcp/{port}" if a.endswith("/tcp/0") else a for a in addrs)


class HomeLocked(ConfigError):
    """Another daemon already runs on this home."""


@contextmanager
def daemon_lock(home: Path) -> Iterator[None]:
    """Hold ``<home>/daemon.lock`` (fcntl) while a role daemon runs: one daemon per home."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / DAEMON_LOCK_FILE
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise HomeLocked(f"another ccm daemon (pid {holder}) already runs on home {home}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def open_host(
    ctx: NodeContext,
    *,
    listen: Sequence[str] | None = None,
    bootstrap: Sequence[str] | None = None,
    stable: bool = False,
) -> tuple[Host, Gossip]:
    """A role's libp2p host (not started) with the node's gossip router, validated by :func:`make_is_bound`.

    ``listen`` replaces the config's ``p2p.listen`` when given and not empty; ``bootstrap`` replaces
    ``p2p.bootstrap`` when given (an empty list: dial nobody). ``stable`` (the daemons): a ``tcp/0``
    listen address becomes this home's own port (:func:`stable_listen`), the same after a restart.
    """
    p2p = ctx.config.p2p
    # Staking changes only with blocks: on a chain with a block time the answer is kept for
    # IS_BOUND_TTL_BLOCKS blocks (an idle node's gossip then costs a request a minute, not twelve).
    ttl = max(IS_BOUND_TTL_S, IS_BOUND_TTL_BLOCKS * ctx.chain.deployment.block_time_s)
    gossip = Gossip(is_bound=make_is_bound(ctx.achain, ctx.chain, ttl=ttl), max_per_second=p2p.gossip_rate)
    addrs = tuple(listen) if listen else p2p.listen
    host = Host(
        ctx.key_pair,
        listen_addrs=stable_listen(ctx.home, addrs) if stable else addrs,
        bootstrap=tuple(bootstrap) if bootstrap is not None else p2p.bootstrap,
        gossip=gossip,
        request_timeout=p2p.request_timeout_s,
    )
    return host, gossip


async def start_claims(nursery: trio.Nursery, ctx: NodeContext, host: Host, gossip: Gossip) -> ClaimsService:
    """Start the claims market (:mod:`node.claims`) beside a running ``host`` in ``nursery``.

    It ingests gossiped orders into this home's book and gossips the book's outbox, signed by the
    context's account. Returns the service once it serves.
    """
    service = ClaimsService(
        book=OrderBook(ctx.store),
        chain=ctx.chain,
        host=host,
        gossip=gossip,
        account=ctx.account,
        achain=ctx.achain,
    )
    started: ClaimsService = await nursery.start(service.run)
    return started

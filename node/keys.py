"""``ccm init``: a node's keys — its Ethereum account (encrypted keystore) and libp2p identity.

Outside devnet mode both are encrypted with the node password (``$CCM_PASSWORD``, else a prompt
with confirmation); no private key is ever written in plain text or taken from a process argument.
In devnet mode (the home holds a devnet ``deployment.json``) no keystore is made: the roles sign
with a PUBLIC Anvil dev account and say so loudly; the libp2p identity is stored unencrypted and
labelled unless a password is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from node.chain.accounts import PASSWORD_ENV, create_keystore, read_password
from node.chain.deployment import Deployment
from node.chain.errors import DeploymentMissingError
from node.config import CONFIG_FILE, load_config, write_default_config
from node.errors import ConfigError
from node.p2p.identity import create_identity, identity_path, peer_id_of


@dataclass(frozen=True)
class InitResult:
    """What ``ccm init`` made: the account address (``None`` in devnet mode), the peer id, the files."""

    home: Path
    devnet: bool
    address: str | None
    peer_id: str
    keystore: Path | None
    identity: Path
    config: Path


def is_devnet_home(home: Path) -> bool:
    """Whether ``home`` holds a devnet deployment record."""
    try:
        return Deployment.load(load_config(home).deployment_path).devnet
    except DeploymentMissingError:
        return False


def init_node(home: Path, *, password: str | None, devnet: bool | None = None) -> InitResult:
    """Create the config (if missing), the keystore (outside devnet mode) and the libp2p identity.

    Refuses to replace an existing keystore or identity (that would change the node's address or
    peer id). ``devnet`` defaults to what the home's deployment record says.
    """
    home = Path(home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    devnet = is_devnet_home(home) if devnet is None else devnet
    if not (home / CONFIG_FILE).exists():
        write_default_config(home)
    config = load_config(home)
    if identity_path(home).exists():
        raise ConfigError(f"{identity_path(home)} exists: this home is already initialised")
    if password is None and not devnet:
        password = read_password(env=PASSWORD_ENV, confirm=True)
    address = None
    keystore = None
    if not devnet:
        assert password is not None
        keystore = config.keystore_path
        address = str(create_keystore(keystore, password).address)
    key_pair = create_identity(home, password=password, devnet=devnet)
    return InitResult(
        home=home,
        devnet=devnet,
        address=address,
        peer_id=peer_id_of(key_pair),
        keystore=keystore,
        identity=identity_path(home),
        config=home / CONFIG_FILE,
    )

"""``ccm init``: a node's keys — its Ethereum account (encrypted keystore) and libp2p identity.

Outside devnet mode both are encrypted with the node password (``$CCM_PASSWORD``, else a prompt
with confirmation); no private key is ever written in plain text or taken from a process argument.
In devnet mode (the home holds a devnet ``deployment.json``) no keystore is made: the roles sign
with a PUBLIC Anvil dev account and say so loudly; the libp2p identity is stored unencrypted and
labelled unless a password is set.

Secrets at run time (:func:`take_password`): the password is taken once per process, from the file
named by ``$CCM_PASSWORD_FILE`` or from ``$CCM_PASSWORD``, and then removed from the environment:
from ``os.environ`` (no child process inherits it) and, on Linux, from the process's original
environment block too (what ``/proc/<pid>/environ`` shows), whose bytes are overwritten.
:func:`private_home` makes a home readable by its owner only (0700; the node sets umask 077, so
what it writes inside, database, keystore and blobs, is 0600).
"""

from __future__ import annotations

import ctypes
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from node.chain.accounts import PASSWORD_ENV, create_keystore, read_password
from node.chain.deployment import Deployment
from node.chain.errors import DeploymentMissingError
from node.config import CONFIG_FILE, load_config, write_default_config
from node.errors import ConfigError
from node.p2p.identity import create_identity, identity_path, peer_id_of

PASSWORD_FILE_ENV = "CCM_PASSWORD_FILE"
_taken: list[str | None] = []


def take_password() -> str | None:
    """The node password from ``$CCM_PASSWORD_FILE`` (first line of that file) or ``$CCM_PASSWORD``,
    read once per process and scrubbed from the environment; ``None`` when neither is set."""
    if _taken:
        return _taken[0]
    password: str | None = None
    path = os.environ.get(PASSWORD_FILE_ENV)
    if path:
        try:
            password = Path(path).expanduser().read_text(encoding="utf-8").splitlines()[0] or None
        except (OSError, IndexError) as exc:
            raise ConfigError(f"${PASSWORD_FILE_ENV}: cannot read a password from {path}: {exc}") from None
    value = os.environ.get(PASSWORD_ENV)
    if password is None and value:
        password = value
    if value is not None:
        _scrub_environ_block(PASSWORD_ENV)
        os.environ.pop(PASSWORD_ENV, None)
    _taken.append(password)
    return password


def _scrub_environ_block(name: str) -> None:
    """Overwrite ``name=value`` in the C ``environ`` strings (the memory ``/proc/self/environ`` shows)."""
    try:
        libc = ctypes.CDLL(None)
        environ = ctypes.POINTER(ctypes.c_char_p).in_dll(libc, "environ")
    except (OSError, ValueError, AttributeError):
        return
    prefix = name.encode() + b"="
    i = 0
    while environ[i] is not None:
        entry = environ[i]
        assert entry is not None
        if entry.startswith(prefix):
            address = ctypes.cast(environ, ctypes.POINTER(ctypes.c_void_p))[i]
            if address:
                ctypes.memset(address + len(prefix), ord("x"), len(entry) - len(prefix))
        i += 1


def private_home(home: Path) -> Path:
    """Create ``home`` (and parents) if needed and make it 0700; set the process umask to 077."""
    os.umask(0o077)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(home.stat().st_mode) != 0o700:
        home.chmod(0o700)
    return home


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
    home = private_home(Path(home).expanduser())
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

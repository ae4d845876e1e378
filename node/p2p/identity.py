"""The node's persistent libp2p identity: an Ed25519 key in ``<home>/p2p/identity.json``.

The file is JSON so that a person can see what it is. Outside devnet mode the 32-byte key seed is
encrypted with AES-256-GCM under a key derived from the caller's password with scrypt
(N=2^15, r=8, p=1); the header fields (version, kdf parameters, peer id) are bound as associated
data, so editing any of them makes decryption fail. Devnet mode may store the seed in plain hex,
and the file says so in a ``warning`` field; loading such a file outside devnet mode is refused.

Error handling: a missing, unreadable, corrupt or tampered file, a wrong password, or a key that
does not match its recorded peer id raises :class:`node.errors.ConfigError` with one clear line.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from libp2p.crypto.ed25519 import Ed25519PrivateKey, create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID

from node.errors import ConfigError

IDENTITY_FILE = Path("p2p") / "identity.json"
FORMAT_VERSION = 1
SCRYPT_N = 1 << 15
SCRYPT_R = 8
SCRYPT_P = 1
MAX_SCRYPT_N = 1 << 20
DEVNET_WARNING = "DEVNET ONLY: this libp2p identity key is stored UNENCRYPTED"


def identity_path(home: Path) -> Path:
    """Where the identity of the node at ``home`` is kept."""
    return Path(home) / IDENTITY_FILE


def peer_id_of(key_pair: KeyPair) -> str:
    """The base58 libp2p peer id of ``key_pair``."""
    return ID.from_pubkey(key_pair.public_key).to_base58()


def generate_key_pair() -> KeyPair:
    """A fresh Ed25519 key pair (not persisted; see :func:`create_identity` for that)."""
    return create_new_key_pair()


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _key_pair_from_seed(seed: bytes) -> KeyPair:
    private = Ed25519PrivateKey.from_bytes(seed)
    return KeyPair(private, private.get_public_key())


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".identity-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_identity(
    home: Path,
    *,
    password: str | None,
    devnet: bool = False,
    overwrite: bool = False,
    scrypt_n: int = SCRYPT_N,
) -> KeyPair:
    """Create a new identity at ``home`` and return it.

    ``password`` is required unless ``devnet`` (then ``None`` stores the key unencrypted, labelled).
    An existing identity is never replaced unless ``overwrite``: it would change the node's peer id.
    """
    path = identity_path(home)
    if path.exists() and not overwrite:
        raise ConfigError(f"an identity already exists at {path}; refusing to replace it")
    if password is None and not devnet:
        raise ConfigError("a password is required to encrypt the libp2p identity (outside devnet mode)")
    if password is not None and not password:
        raise ConfigError("the identity password must not be empty")
    key_pair = generate_key_pair()
    seed = key_pair.private_key.to_bytes()
    peer_id = peer_id_of(key_pair)
    doc: dict[str, Any]
    if password is None:
        doc = {
            "version": FORMAT_VERSION,
            "type": "ed25519",
            "encrypted": False,
            "warning": DEVNET_WARNING,
            "peer_id": peer_id,
            "seed": seed.hex(),
        }
    else:
        salt = secrets.token_bytes(16)
        header: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "type": "ed25519",
            "encrypted": True,
            "kdf": {"name": "scrypt", "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()},
            "cipher": "aes-256-gcm",
            "peer_id": peer_id,
        }
        key = _derive(password, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(key).encrypt(nonce, seed, _aad(header))
        doc = {**header, "nonce": nonce.hex(), "ciphertext": ciphertext.hex()}
    _write_private(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return key_pair


def load_identity(home: Path, *, password: str | None, devnet: bool = False) -> KeyPair:
    """Load and decrypt the identity at ``home``; raise :class:`ConfigError` on any problem."""
    path = identity_path(home)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no libp2p identity at {path} (run `ccm init`)") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"libp2p identity {path} is unreadable or corrupt: {err}") from None
    try:
        return _decode(doc, password=password, devnet=devnet, path=path)
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"libp2p identity {path} is corrupt ({type(err).__name__}: {err})") from None


def _decode(doc: Any, *, password: str | None, devnet: bool, path: Path) -> KeyPair:
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if doc["version"] != FORMAT_VERSION or doc["type"] != "ed25519":
        raise ConfigError(f"libp2p identity {path} has an unsupported format")
    if doc["encrypted"] is False:
        if not devnet:
            raise ConfigError(
                f"libp2p identity {path} is unencrypted (devnet only); refusing outside devnet mode"
            )
        seed = bytes.fromhex(doc["seed"])
    else:
        if password is None:
            raise ConfigError(f"libp2p identity {path} is encrypted: a password is required")
        header = {k: doc[k] for k in ("version", "type", "encrypted", "kdf", "cipher", "peer_id")}
        kdf = header["kdf"]
        if kdf["name"] != "scrypt" or header["cipher"] != "aes-256-gcm":
            raise ConfigError(f"libp2p identity {path}: unsupported kdf or cipher")
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        if n > MAX_SCRYPT_N or r * p > 64:
            raise ConfigError(f"libp2p identity {path}: scrypt parameters too large")
        key = _derive(password, bytes.fromhex(kdf["salt"]), n, r, p)
        try:
            nonce, ciphertext = bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["ciphertext"])
            seed = AESGCM(key).decrypt(nonce, ciphertext, _aad(header))
        except InvalidTag:
            raise ConfigError(
                f"cannot decrypt libp2p identity {path}: wrong password or tampered file"
            ) from None
    if len(seed) != 32:
        raise ValueError(f"key seed of {len(seed)} bytes, expected 32")
    key_pair = _key_pair_from_seed(seed)
    if peer_id_of(key_pair) != doc["peer_id"]:
        raise ConfigError(f"libp2p identity {path}: key does not match its recorded peer id")
    return key_pair


def load_or_create_identity(home: Path, *, password: str | None, devnet: bool = False) -> KeyPair:
    """Load the identity at ``home``, creating it on first use (the node's peer id never changes)."""
    if identity_path(home).exists():
        return load_identity(home, password=password, devnet=devnet)
    return create_identity(home, password=password, devnet=devnet)

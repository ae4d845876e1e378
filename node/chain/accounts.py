"""Signing accounts: an encrypted keystore for real chains, Anvil's well-known keys for the devnet.

DEVNET ONLY: :data:`DEVNET_MNEMONIC` is the public "test test ... junk" mnemonic every Foundry and
Hardhat install ships with. Anyone can spend from these accounts on any chain; they exist here so a
devnet works with no set-up, and :func:`devnet_accounts` refuses to hand them out unless the caller
says it is in devnet mode.

Real chains: an eth-account (Web3 Secret Storage v3) keystore file in the home folder, decrypted with
a password taken from an environment variable or an interactive prompt, never from process
arguments (those are visible to every user through ``ps``).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.exceptions import ValidationError

from node.chain.errors import KeystoreError
from node.errors import ConfigError

#: DEVNET ONLY — public test mnemonic; never fund these addresses on a real network.
DEVNET_MNEMONIC = "test test test test test test test test test test test junk"
#: Number of dev accounts Anvil funds by default (and the devnet deploy mints to).
DEVNET_ACCOUNT_COUNT = 10
#: Environment variable the keystore password is read from.
PASSWORD_ENV = "CCM_PASSWORD"  # the one node password: keystore and libp2p identity

Account.enable_unaudited_hdwallet_features()


@dataclass(frozen=True)
class DevAccount:
    """One of Anvil's well-known accounts, labelled so nobody mistakes it for a real key."""

    index: int
    account: LocalAccount

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def label(self) -> str:
        return f"devnet-{self.index} (PUBLIC TEST KEY, devnet only)"


def devnet_accounts(*, devnet: bool, count: int = DEVNET_ACCOUNT_COUNT) -> tuple[DevAccount, ...]:
    """Anvil's dev accounts ``m/44'/60'/0'/0/i``; raises ConfigError unless ``devnet`` is True."""
    if not devnet:
        raise ConfigError("devnet accounts are public test keys: refused outside devnet mode")
    return tuple(DevAccount(i, a) for i, a in enumerate(mnemonic_accounts(DEVNET_MNEMONIC, count)))


def mnemonic_accounts(phrase: str, count: int) -> tuple[LocalAccount, ...]:
    """The accounts ``m/44'/60'/0'/0/i`` (i < ``count``) of a BIP-39 mnemonic; ConfigError if it is
    not one."""
    try:
        return tuple(
            Account.from_mnemonic(phrase.strip(), account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)
        )
    except (ValueError, ValidationError):  # (the phrase itself is never echoed: it is a secret)
        raise ConfigError(f"not a usable BIP-39 mnemonic ({len(phrase.split())} words)") from None


def devnet_account(index: int, *, devnet: bool) -> LocalAccount:
    """One dev account by index (see :func:`devnet_accounts`)."""
    if not 0 <= index < DEVNET_ACCOUNT_COUNT:
        raise ConfigError(f"devnet account index {index} out of range 0..{DEVNET_ACCOUNT_COUNT - 1}")
    return devnet_accounts(devnet=devnet, count=index + 1)[index].account


def read_password(*, env: str = PASSWORD_ENV, prompt: bool = True, confirm: bool = False) -> str:
    """The keystore password from ``$env``, else an interactive prompt (if allowed and a TTY)."""
    value = os.environ.get(env)
    if value:
        return value
    if not prompt or not sys.stdin.isatty():
        raise KeystoreError(f"no keystore password: set ${env} or run interactively")
    password = getpass.getpass("keystore password: ")
    if confirm and getpass.getpass("repeat password: ") != password:
        raise KeystoreError("passwords differ")
    if not password:
        raise KeystoreError("empty keystore password")
    return password


def create_keystore(path: Path, password: str, *, private_key: bytes | None = None) -> LocalAccount:
    """Write a new encrypted keystore (a fresh key unless ``private_key``); refuses to overwrite."""
    if path.exists():
        raise KeystoreError(f"keystore {path} already exists: refusing to overwrite")
    account: LocalAccount = Account.from_key(private_key) if private_key else Account.create()
    encrypted = Account.encrypt(account.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(encrypted, handle)
    return account


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt the keystore at ``path``; raises KeystoreError (missing, malformed, wrong password)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"keystore {path} unreadable: {type(exc).__name__}") from None
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise KeystoreError(f"keystore {path}: wrong password or corrupt file") from None
    except (KeyError, TypeError):
        raise KeystoreError(f"keystore {path}: not an eth-account keystore") from None
    account: LocalAccount = Account.from_key(key)
    return account


def load_signer(
    *, devnet: bool, keystore: Path, devnet_index: int | None = None, password_env: str = PASSWORD_ENV
) -> LocalAccount:
    """The account a role signs with.

    In devnet mode with ``devnet_index`` set: that PUBLIC dev account. Otherwise the keystore,
    its password from ``$password_env`` or a prompt. ``devnet_index`` outside devnet mode is refused.
    """
    if devnet_index is not None:
        return devnet_account(devnet_index, devnet=devnet)
    return load_keystore(keystore, read_password(env=password_env))

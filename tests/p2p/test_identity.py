"""The persistent libp2p identity: encrypted at rest, stable across restarts, clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from node.errors import ConfigError
from node.p2p.host import Host
from node.p2p.identity import (
    DEVNET_WARNING,
    create_identity,
    identity_path,
    load_identity,
    load_or_create_identity,
    peer_id_of,
)
from tests.p2p.conftest import running

FAST = 1 << 12  # scrypt cost for tests; the default (2**15) is exercised by load_or_create below


def test_encrypted_identity_roundtrip(tmp_path: Path) -> None:
    kp = create_identity(tmp_path, password="hunter2", scrypt_n=FAST)
    path = identity_path(tmp_path)
    doc = json.loads(path.read_text())
    assert doc["encrypted"] is True and "seed" not in doc
    assert kp.private_key.to_bytes().hex() not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_identity(tmp_path, password="hunter2")
    assert peer_id_of(again) == peer_id_of(kp) == doc["peer_id"]


def test_wrong_password_is_a_clear_config_error(tmp_path: Path) -> None:
    create_identity(tmp_path, password="right", scrypt_n=FAST)
    with pytest.raises(ConfigError, match="wrong password"):
        load_identity(tmp_path, password="wrong")
    with pytest.raises(ConfigError, match="password is required"):
        load_identity(tmp_path, password=None)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "\x00\xff garbage",
        lambda text: "[]",
        lambda text: json.dumps({**json.loads(text), "ciphertext": "zz"}),
        lambda text: json.dumps({**json.loads(text), "kdf": {**json.loads(text)["kdf"], "n": 1 << 30}}),
        lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "nonce"}),
    ],
)
def test_corrupt_identity_is_a_clear_config_error(tmp_path: Path, damage: object) -> None:
    create_identity(tmp_path, password="pw", scrypt_n=FAST)
    path = identity_path(tmp_path)
    path.write_text(damage(path.read_text()))  # type: ignore[operator]
    with pytest.raises(ConfigError, match="identity"):
        load_identity(tmp_path, password="pw")


def test_tampered_peer_id_fails_authentication(tmp_path: Path) -> None:
    create_identity(tmp_path, password="pw", scrypt_n=FAST)
    other = create_identity(tmp_path / "other", password="pw", scrypt_n=FAST)
    path = identity_path(tmp_path)
    doc = json.loads(path.read_text())
    doc["peer_id"] = peer_id_of(other)
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="wrong password or tampered"):
        load_identity(tmp_path, password="pw")


def test_devnet_identity_is_unencrypted_labelled_and_refused_outside_devnet(tmp_path: Path) -> None:
    kp = create_identity(tmp_path, password=None, devnet=True)
    doc = json.loads(identity_path(tmp_path).read_text())
    assert doc["encrypted"] is False and doc["warning"] == DEVNET_WARNING
    assert peer_id_of(load_identity(tmp_path, password=None, devnet=True)) == peer_id_of(kp)
    with pytest.raises(ConfigError, match="unencrypted"):
        load_identity(tmp_path, password="pw")


def test_password_required_outside_devnet_and_no_silent_replace(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="password is required"):
        create_identity(tmp_path, password=None)
    create_identity(tmp_path, password="pw", scrypt_n=FAST)
    with pytest.raises(ConfigError, match="already exists"):
        create_identity(tmp_path, password="pw")


def test_missing_identity_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ccm init"):
        load_identity(tmp_path, password="pw")


async def test_peer_id_survives_host_restart(tmp_path: Path) -> None:
    seen = []
    for _ in range(2):
        key_pair = load_or_create_identity(tmp_path, password="pw")
        host = Host(key_pair)
        async with running(host):
            seen.append(host.addrs[0].rsplit("/p2p/", 1)[1])
            assert host.peer_id == seen[-1]
    assert seen[0] == seen[1]

"""Secrets at run time: the password taken once and scrubbed, homes and their files private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.roles.test_cli import _ccm

PROBE = """
import os
from node.keys import take_password
first = take_password()
second = take_password()
raw = open("/proc/self/environ", "rb").read()
print(first, second, "CCM_PASSWORD" in os.environ, b"hunter2-secret" in raw)
"""


def _python(code: str, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CCM_PASSWORD")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**base, **env}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_password_is_read_once_and_leaves_the_process_environment() -> None:
    # Read, kept for the process, gone from os.environ and from what /proc/<pid>/environ shows.
    assert _python(PROBE, {"CCM_PASSWORD": "hunter2-secret"}) == "hunter2-secret hunter2-secret False False"


def test_password_file_is_read_instead_of_the_variable(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-the-file\n", encoding="utf-8")
    secret.chmod(0o600)
    out = _python(PROBE.replace("hunter2-secret", "from-the-file"), {"CCM_PASSWORD_FILE": str(secret)})
    assert out == "from-the-file from-the-file False False"


def test_init_makes_a_private_home(tmp_path: Path) -> None:
    home = tmp_path / "new" / "node"
    done = _ccm("init", "--home", str(home), env={"CCM_PASSWORD": "correct horse"})
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for path in (home / "keystore.json", home / "p2p" / "identity.json", home / "config.toml"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path

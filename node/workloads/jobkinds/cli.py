"""What the kinds' ``ccm job new`` arguments share: files read as blobs, seeds, ``key=value`` lists.

Each kind module adds its own arguments (``add_new_arguments``) and builds its section
(``new_section``); these helpers keep them short and their errors alike: a file that cannot be read
or a malformed value is a :class:`~node.errors.JobSpecError` naming the option. No torch here.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from node.errors import JobSpecError


def read_file(path: Path, option: str) -> bytes:
    """The bytes of ``path`` given to ``option``; :class:`JobSpecError` naming the option if unreadable."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise JobSpecError(option, f"cannot read {path}: {exc.strerror or exc}") from None


def file_or_seed(
    path: Path | None, seed: int, option: str, blobs: dict[str, bytes]
) -> dict[str, Any]:
    """``{"blob": sha256}`` of the file at ``path`` (added to ``blobs``), else ``{"seed": seed}``."""
    if path is None:
        return {"seed": seed}
    data = read_file(path, option)
    digest = hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"blob": digest}


def key_values(text: str, option: str) -> dict[str, int]:
    """``"d_in=16,d_hidden=32"`` → ``{"d_in": 16, "d_hidden": 32}``."""
    out: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key or not value.strip().lstrip("-").isdigit():
            raise JobSpecError(option, f"expected KEY=INTEGER[,KEY=INTEGER…], got {item!r}")
        out[key.strip()] = int(value)
    return out


def add_seed(parser: argparse.ArgumentParser, what: str) -> None:
    """``--seed S``: the seed of the seeded sources (each source its own seed after it)."""
    parser.add_argument("--seed", type=int, default=1, help=f"seed of {what} not given as files (default 1)")

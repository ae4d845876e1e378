"""Fixtures for the commodity tests: node homes holding the session deployment (as in the role tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.chain.chain import Chain
from tests.roles.conftest import Nodes


@pytest.fixture
def nodes(tmp_path: Path, chain: Chain) -> Iterator[Nodes]:
    made = Nodes(tmp_path, chain)
    try:
        yield made
    finally:
        for ctx in made.opened:
            ctx.close()

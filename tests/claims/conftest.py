"""Fixtures for the claims tests: node homes (as the role tests make them) and a tiny probe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.capacity.probe import ProbeResult, probe
from node.chain.chain import Chain
from tests.roles.conftest import Nodes


@pytest.fixture(scope="session")
def probe_result() -> ProbeResult:
    return probe(device="cpu", quick=True, sizes=(64,), dtypes=("float32",), budget_s=0.3)


@pytest.fixture
def nodes(tmp_path: Path, chain: Chain) -> Iterator[Nodes]:
    made = Nodes(tmp_path, chain)
    try:
        yield made
    finally:
        for ctx in made.opened:
            ctx.close()

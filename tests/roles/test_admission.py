"""Admission from a spec's numbers (no workload built): the limits and the time estimate."""

from __future__ import annotations

import pytest

from node.roles.admission import UNIT_OVERHEAD_S, Refused, admit, check_spec
from node.workloads.runner import ProviderCaps
from node.workloads.spec import parse_spec
from tests.roles.conftest import matmul_spec

CAPS = ProviderCaps(max_units=64, max_bytes=1 << 20, max_seconds=10, max_memory_bytes=1 << 20)


def test_time_is_estimated_from_the_arithmetic_and_the_speed_of_the_kind() -> None:
    spec = parse_spec(matmul_spec(n=64, k=32, m=16, rows=8))  # 8 units of 2 * 8 * 32 * 16 = 8192 FLOP
    fast = admit(spec, {}, caps=CAPS, flops_per_s=8192.0)  # one second of arithmetic a unit
    assert (fast.n_units, fast.unit_s) == (8, pytest.approx(1.0 + UNIT_OVERHEAD_S))
    slow = r"needs about 16\.0 s here \(8 units of 2\.005 s\), over the time limit of 10 s"
    with pytest.raises(Refused, match=slow):
        admit(spec, {}, caps=CAPS, flops_per_s=4096.0)


def test_a_huge_spec_is_refused_from_its_numbers() -> None:
    # B alone would be 65536 x 65536 float32 (16 GiB): nothing of it is made to find that out.
    spec = parse_spec(matmul_spec(n=8, k=1 << 16, m=1 << 16, rows=8))
    over = r"over a limit: job needs \d+ bytes of inputs and outputs, limit is 1048576"
    with pytest.raises(Refused, match=over):
        check_spec(spec, caps=CAPS)
    wide = parse_spec(matmul_spec(n=64, k=32, m=16, rows=64))
    roomy = ProviderCaps(max_memory_bytes=1024)
    # (64 rows of A + B + the 64 x 16 block of C) x 4 bytes, with float32 staging copies: 28672
    with pytest.raises(Refused, match=r"a unit needs about 28672 bytes of working memory, limit is 1024"):
        check_spec(wide, caps=roomy)

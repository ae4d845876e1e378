"""The capacity probe on this machine's device (the CPU here, a GPU where one is lent), and its JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from node.capacity.errors import ProbeError
from node.capacity.probe import (
    SCHEMA,
    HostInfo,
    MatmulFigure,
    ProbeResult,
    measure_bandwidth,
    measure_matmul,
    probe,
    read_gpu,
    select_device,
)
from node.cli import main

HAS_CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def quick() -> ProbeResult:
    lines: list[str] = []
    result = probe(device="auto", quick=True, budget_s=1.5, sizes=(64, 128), progress=lines.append)
    assert any("matmul float32 n=64" in line for line in lines)
    return result


def test_quick_probe_is_plausible(quick: ProbeResult) -> None:
    assert quick.schema == SCHEMA and quick.quick
    if HAS_CUDA:
        assert quick.device == "cuda" and quick.no_gpu_reason is None and quick.h2d_mbps
    else:
        assert quick.device == "cpu" and quick.gpu is None
        _, nvml_reason = read_gpu()
        assert quick.no_gpu_reason  # said plainly, in NVML's words when NVML is the reason
        if nvml_reason is not None:
            assert quick.no_gpu_reason == nvml_reason
        assert quick.h2d_mbps is None and quick.d2h_mbps is None
    for dtype in ("float32", "bfloat16", "float16"):
        assert any(m.dtype == dtype and m.n == 64 for m in quick.matmul)
    assert all(m.mflops > 0 for m in quick.matmul)
    assert 0 <= quick.best_gflops("float32") < 10**7  # below 10 PFLOP/s: plausible for one device
    assert quick.best_size("float32") in (64, 128)
    assert 100 < quick.memory_bandwidth_mbps < 10**8  # 0.1 GB/s .. 100 TB/s
    assert quick.host.logical_cpus >= 1 and quick.host.torch_version == torch.__version__
    assert 0 < quick.duration_ms < 15_000


def test_json_round_trip_and_stable_hash(quick: ProbeResult) -> None:
    text = quick.to_json()
    assert " " not in text.replace(quick.host.cpu_model, "").replace(quick.host.os, "").replace(
        quick.device_name, "").replace(str(quick.no_gpu_reason), "")
    again = ProbeResult.from_json(text)
    assert again == quick
    assert again.advert_hash() == quick.advert_hash() and len(quick.advert_hash()) == 32
    assert dataclasses.replace(quick, memory_bandwidth_mbps=quick.memory_bandwidth_mbps + 1).advert_hash() \
        != quick.advert_hash()


def test_advert_hash_is_pinned() -> None:
    """A change in the canonical form changes every advert on chain: it must be deliberate."""
    fixed = ProbeResult(
        device="cpu", device_name="Test CPU", gpu=None, no_gpu_reason="NVML Shared Library Not Found",
        host=HostInfo("Test CPU", 2, 2, 1 << 30, "Linux 6", "2.13.0+cpu", None),
        matmul=(MatmulFigure("float32", 256, 150_000), MatmulFigure("bfloat16", 256, 400_000)),
        memory_bandwidth_mbps=20_000, h2d_mbps=None, d2h_mbps=None, quick=True, duration_ms=2500,
        measured_at=1_700_000_000,
    )
    assert fixed.to_json().startswith('{"d2h_mbps":null,"device":"cpu",')
    assert fixed.advert_hash().hex() == PINNED


PINNED = "ab4b492d0b3848be7e288965f85fb34b74b8d47924bd17274e4c88d5adedb4c0"


def test_figure_at_a_challenge_size_is_the_one_measured_there() -> None:
    """A 2048 challenge is judged against the figure measured at 2048, not a cache-sized best."""
    sweep = ProbeResult(
        device="cpu", device_name="Test CPU", gpu=None, no_gpu_reason="no GPU",
        host=HostInfo("Test CPU", 2, 2, 1 << 30, "Linux 6", "2.13.0+cpu", None),
        matmul=(MatmulFigure("float32", 256, 228_000), MatmulFigure("float32", 2048, 97_000),
                MatmulFigure("bfloat16", 256, 250_000)),
        memory_bandwidth_mbps=20_000, h2d_mbps=None, d2h_mbps=None, quick=True, duration_ms=2500,
        measured_at=1_700_000_000,
    )
    assert sweep.best_gflops("float32") == 228
    assert [sweep.gflops_at("float32", n) for n in (128, 256, 1024, 2048, 4096)] == [228, 228, 228, 97, 97]
    assert sweep.gflops_at("bfloat16", 2048) == 250 and sweep.gflops_at("float16", 2048) == 0


def test_float32_at_the_challenge_size_is_measured_even_out_of_budget() -> None:
    """The largest float32 size is the one a challenge is judged at: a budget too small to reach it
    (as on a loaded machine, where the small size's figure predicts a slow large call) still measures
    it; the other dtypes' large sizes are skipped as before."""
    result = probe(device="cpu", sizes=(64, 512), dtypes=("float32", "bfloat16"), budget_s=0.001)
    assert {(m.dtype, m.n) for m in result.matmul} >= {("float32", 512)}
    assert ("bfloat16", 512) not in {(m.dtype, m.n) for m in result.matmul}
    assert result.gflops_at("float32", 512) > 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["matmul"][0].update(n=-5), "matmul[0].n"),
        (lambda d: d["matmul"][0].update(n=0), "matmul[0].n"),
        (lambda d: d["matmul"][0].update(mflops=1.5), "matmul[0].mflops"),
        (lambda d: d["matmul"][0].update(dtype="int4"), "matmul[0].dtype"),
        (lambda d: d.update(device="tpu"), "device"),
        (lambda d: d.update(memory_bandwidth_mbps=-1), "memory_bandwidth_mbps"),
        (lambda d: d.update(quick="yes"), "quick"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.pop("host"), "host"),
        (lambda d: d["host"].update(logical_cpus=True), "host.logical_cpus"),
        (lambda d: d.update(schema="ccm-probe/0"), "schema"),
        (lambda d: d.update(matmul={}), "matmul"),
    ],
)
def test_malformed_probe_documents_name_the_field(quick: ProbeResult, mutate: object, field: str) -> None:
    data = json.loads(quick.to_json())
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ProbeError) as info:
        ProbeResult.from_json(json.dumps(data))
    assert info.value.field == field


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", b"\xff\xfe"])
def test_not_json_or_not_an_object(text: str | bytes) -> None:
    with pytest.raises(ProbeError):
        ProbeResult.from_json(text)


def test_bad_arguments_are_clear_errors() -> None:
    cpu = torch.device("cpu")
    with pytest.raises(ProbeError, match="positive"):
        measure_matmul(cpu, "float32", -4, seconds=0.01)
    with pytest.raises(ProbeError, match="unknown dtype"):
        measure_matmul(cpu, "float8", 16, seconds=0.01)
    with pytest.raises(ProbeError, match="positive"):
        measure_bandwidth(cpu, 0, seconds=0.01)
    with pytest.raises(ProbeError, match="sizes"):
        probe(sizes=(64, -1), budget_s=0.5)
    with pytest.raises(ProbeError, match="budget"):
        probe(budget_s=-1)
    with pytest.raises(ProbeError, match="unknown device"):
        select_device("tpu")


@pytest.mark.skipif(HAS_CUDA, reason="this machine can run CUDA")
def test_explicit_cuda_without_a_gpu_says_why() -> None:
    with pytest.raises(ProbeError, match="cannot use cuda:0"):
        select_device("cuda:0")


def test_cli_probe_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "probe.json"
    assert main(["provider", "probe", "--quick", "--json", "--device", "cpu", "--home", str(tmp_path),
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown["device"] == "cpu" and shown["no_gpu_reason"]
    assert "matmul float32" in captured.err  # progress goes to stderr
    saved = ProbeResult.from_json(out.read_text())
    assert shown["advert_hash"] == "0x" + saved.advert_hash().hex()


def test_cli_bad_device_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.toml").write_text('[provider]\ndevice = "gpu"\n')
    assert main(["provider", "probe", "--quick", "--home", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "provider.device" in err and err.count("\n") == 1

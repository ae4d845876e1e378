"""``ccm econ``: JSON shapes, bad input as one line, and the PNG plots."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from node.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["econ", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, "not a PNG"
    assert data[12:16] == b"IHDR"
    assert len(data) > 10_000, "suspiciously small PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("gpu", ["A100", "H100", "H200", "B200"])
def test_forward_json_curve(capsys: pytest.CaptureFixture[str], gpu: str) -> None:
    doc = _json(capsys, "forward", "--gpu-class", gpu, "--months", "1,3,6,12")
    curve = doc["curve"]
    assert [p["months_ahead"] for p in curve] == [1, 3, 6, 12]
    prices = [p["price"] for p in curve]
    assert all(isinstance(p, float) and p > 0 for p in prices)
    assert prices == sorted(prices, reverse=True) and len(set(prices)) == 4
    assert doc["gpu_class"] == gpu


def test_simulate_json_strategies(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _json(capsys, "simulate", "--seed", "5")
    strategies = doc["strategies"]
    assert strategies["honest"]["profit"] > 0
    cheats = {n: s for n, s in strategies.items() if "cheat" in n}
    assert len(cheats) >= 2 and all(s["profit"] < 0 for s in cheats.values())
    assert all(isinstance(s["profit"], int) for s in strategies.values())
    assert doc["params"]["seed"] == 5 and len(doc["epochs"]) == 52
    assert {"price_usd", "utilization"} <= set(doc["epochs"][0])


def test_other_commands_json(capsys: pytest.CaptureFixture[str]) -> None:
    dep = _json(capsys, "depreciation", "--gpu-class", "B200", "--years", "4")
    assert {"A100", "H100", "H200", "B200"} <= set(dep["classes"])
    assert dep["curve"][0]["straight_line_usd"] > dep["curve"][-1]["straight_line_usd"]
    be = _json(capsys, "breakeven", "--electricity", "0.2")
    be_cheap = _json(capsys, "breakeven", "--electricity", "0.05")
    assert be["break_even_usd_per_hour"] > be_cheap["break_even_usd_per_hour"]
    assert be["marginal_usd_per_hour"] < be["reserve_usd_per_hour"] < be["break_even_usd_per_hour"]
    audit = _json(capsys, "audit", "--price", "100", "--compute-cost", "60", "--collateral", "500")
    assert audit["cheating_unprofitable"] is True
    assert audit["terms"]["samples"] == 88  # plan_samples: 5 % of 2000 units at 99 %
    assert audit["min_collateral"] == 145 * 10**18 + 1
    low = _json(capsys, "audit", "--collateral", "100")
    assert low["cheating_unprofitable"] is False and any(r["profitable"] for r in low["cheats"])


def test_text_output_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["depreciation"],
        ["forward", "--gpu-class", "H100"],
        ["breakeven"],
        ["audit"],
        ["simulate"],
    ):
        code, out, err = _run(capsys, *argv)
        assert code == 0 and err == "" and len(out.splitlines()) >= 4, argv


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["forward", "--gpu-class", "X999"], "unknown GPU class 'X999'"),
        (["forward", "--gpu-class", "H100", "--months=-1,3"], "months"),
        (["forward", "--gpu-class", "H100", "--months", "-1"], "months"),
        (["forward", "--gpu-class", "H100", "--months", "abc"], "months"),
        (["forward", "--gpu-class", "H100", "--discount-rate", "nan"], "--discount-rate"),
        (["forward", "--gpu-class", "H100", "--step", "0.5"], "--step"),
        (["forward", "--gpu-class", "H100", "--mode", "wiggly"], "mode"),
        (["depreciation", "--years", "-3"], "--years"),
        (["breakeven", "--utilization", "0"], "--utilization"),
        (["breakeven", "--window-start", "6", "--window-end", "3"], "--window-end"),
        (["audit", "--price", "-5"], "--price"),
        (["audit", "--units", "10", "--samples", "11"], "--samples"),
        (["audit", "--min-cheat-fraction", "2"], "min_cheat_fraction"),
        (["audit", "--audit-probability", "1.5"], "--audit-probability"),
        (["simulate", "--seed", "-1"], "--seed"),
        (["simulate", "--epochs", "0"], "--epochs"),
        (["simulate", "--epochs", "1e3"], "--epochs"),
        (["simulate", "--plot", "/nonexistent-dir/x.png"], "folder does not exist"),
        (["simulate", "--plot", "out.txt"], "PNG"),
    ],
)
def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccm: error:") and message in lines[0], err
    assert "Traceback" not in err


def test_real_cli_bad_class_no_traceback() -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ccm"), "econ", "forward", "--gpu-class", "nope", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().startswith("ccm: error: unknown GPU class") and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["depreciation"],
        ["forward", "--gpu-class", "H200", "--months", "0,1,2,3,6,9,12,18,24"],
        ["breakeven"],
        ["audit"],
        ["simulate", "--epochs", "20"],
    ],
)
def test_plots_are_png_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / f"{argv[0]}.png"
    code, out, err = _run(capsys, *argv, "--plot", str(path))
    assert code == 0, err
    assert f"plot: {path}" in out
    width, height = _png_size(path)
    assert width >= 600 and height >= 400

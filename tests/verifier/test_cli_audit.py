"""``ccm audit plan`` / ``ccm audit table`` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from node.cli import main
from verifier.detection import plan_samples

CCM = Path(sys.executable).with_name("ccm")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["audit", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(
        capsys, "plan", "--units", "1000", "--min-cheat-fraction", "0.05", "--confidence", "0.99", "--json"
    )
    assert rc == 0 and err == ""
    doc = json.loads(out)
    assert doc["k"] == 86 and doc["n_bad"] == 50 and doc["n_units"] == 1000
    assert doc["detection_probability"] == pytest.approx(0.9901041736455127, rel=1e-12)
    assert doc["detection_probability"] >= 0.99


def test_plan_text_agrees_with_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(
        capsys, "plan", "--units", "5000", "--min-cheat-fraction", "0.05", "--confidence", "0.99"
    )
    plan = plan_samples(n_units=5000, min_cheat_fraction="0.05", confidence="0.99")
    assert rc == 0
    assert f"k = {plan.k} of 5,000" in out and "0.990" in out


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "table", "--confidence", "0.99")
    assert rc == 0 and "86 (8.6%)" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--units", "abc", "--min-cheat-fraction", "0.05", "--confidence", "0.99"], "--units"),
        (["--units", "0", "--min-cheat-fraction", "0.05", "--confidence", "0.99"], "--units"),
        (["--units", "-5", "--min-cheat-fraction", "0.05", "--confidence", "0.99"], "--units"),
        (["--units", "1e400", "--min-cheat-fraction", "0.05", "--confidence", "0.99"], "--units"),
        (["--units", "10.5", "--min-cheat-fraction", "0.05", "--confidence", "0.99"], "--units"),
        (["--units", "100", "--min-cheat-fraction", "nan", "--confidence", "0.99"], "--min-cheat-fraction"),
        (["--units", "100", "--min-cheat-fraction", "0", "--confidence", "0.99"], "--min-cheat-fraction"),
        (["--units", "100", "--min-cheat-fraction", "1.5", "--confidence", "0.99"], "--min-cheat-fraction"),
        (["--units", "100", "--min-cheat-fraction", "-0.1", "--confidence", "0.99"], "--min-cheat-fraction"),
        (["--units", "100", "--min-cheat-fraction", "inf", "--confidence", "0.99"], "--min-cheat-fraction"),
        (["--units", "100", "--min-cheat-fraction", "0.05", "--confidence", "1"], "--confidence"),
        (["--units", "100", "--min-cheat-fraction", "0.05", "--confidence", "0"], "--confidence"),
        (["--units", "100", "--min-cheat-fraction", "0.05", "--confidence", "1e400"], "--confidence"),
        (["--units", "100", "--min-cheat-fraction", "0.05", "--confidence", "abc"], "--confidence"),
        (["--units", "100", "--min-cheat-fraction", "0.05"], "--confidence"),
        (["--min-cheat-fraction", "0.05", "--confidence", "0.9"], "--units"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    rc, out, err = _run(capsys, "plan", *argv)
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("ccm: error: ") and needle in err
    assert len(err) < 300


def test_the_installed_command_line(tmp_path: Path) -> None:
    ok = subprocess.run(
        [
            str(CCM),
            "audit",
            "plan",
            "--units",
            "1000",
            "--min-cheat-fraction",
            "0.05",
            "--confidence",
            "0.99",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"CCM_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["k"] == 86
    bad = subprocess.run(
        [str(CCM), "audit", "plan", "--units", "nan", "--min-cheat-fraction", "0.05", "--confidence", "0.99"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"CCM_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0

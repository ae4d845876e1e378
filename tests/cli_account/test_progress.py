"""node.progress: plain lines when the stream is not a terminal, a rich live display when it is."""

from __future__ import annotations

import io

import pytest

from node.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_progress_is_plain_lines() -> None:
    out = io.StringIO()
    with Progress("copying", total=20, stream=out) as p:
        p.step("first chunk")
        for _ in range(20):
            p.advance()
    lines = out.getvalue().splitlines()
    assert lines[0] == "copying…" and lines[1] == "copying: first chunk"
    counts = [line for line in lines if "%" in line]
    assert counts == [f"copying: {2 * k}/20 ({10 * k}%)" for k in range(1, 11)]  # one line per tenth
    assert lines[-1].startswith("copying: done in ") and lines[-1].endswith(" s")
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_counter_callback_and_failure_line() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress("fetching", stream=out) as p:
        report = p.counter()
        report(50, 100)
        raise RuntimeError("peer went away")
    lines = out.getvalue().splitlines()
    assert "fetching: 50/100 (50%)" in lines
    assert lines[-1].startswith("fetching: failed after ")


def test_terminal_progress_is_a_live_bar() -> None:
    out = _Terminal()
    with Progress("probing", total=4, stream=out) as p:
        assert p.live
        p.step("fp32 n=256")
        p.update(4)
    text = out.getvalue()
    assert "probing" in text and "fp32 n=256" in text and "4/4" in text
    assert "done in" not in text  # the bar itself shows completion and time

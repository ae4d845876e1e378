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


def test_byte_counts_read_as_sizes_and_a_grown_total_counts_its_tenths_anew() -> None:
    out = io.StringIO()
    with Progress("job 3: 2 inputs", unit="bytes", stream=out) as p:
        p.update(1 << 20, 1 << 20)  # the first blob announced 1 MiB and arrived
        p.update((1 << 20) + 1024, 4 << 20)  # the second announced 3 MiB: now a quarter of the whole
        p.update(3 << 20, 4 << 20)
        p.update(4 << 20, 4 << 20)
    lines = out.getvalue().splitlines()
    assert lines[1:-1] == [
        "job 3: 2 inputs: 1.0 MiB/1.0 MiB (100%)",
        "job 3: 2 inputs: 3.0 MiB/4.0 MiB (70%)",
        "job 3: 2 inputs: 4.0 MiB/4.0 MiB (100%)",
    ], lines


def test_a_progress_inside_a_live_one_is_a_second_bar_of_the_same_display() -> None:
    out = _Terminal()
    with Progress("matmul job of 8 units", stream=out) as outer:
        with Progress("job 1: 8 outputs", total=4096, unit="bytes", stream=out) as inner:
            assert inner._rich is outer._rich  # one live display (rich allows no second one)
            inner.update(4096)
        outer.step("job 1: completed")
    text = out.getvalue()
    assert "job 1: completed" in text and "done in" not in text
    with Progress("next", stream=out) as after:  # the display ended with the outer one
        assert after._rich is not outer._rich

"""Every ``ccm`` command in README.md's shell blocks is one the CLI accepts: its subcommand, options and
arguments parse (placeholders such as ``ID`` or ``$JOB`` stand for a value, ``[--opt]`` is taken as
given, ``a|b`` alternatives each, ``…`` elided). The quick start block also runs for real
(``test_quickstart``)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from node.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _segments(line: str) -> list[str]:
    """The ``ccm …`` commands of one shell line (comments, redirections and ``&`` cut off)."""
    line = re.split(r"\s#", " " + line)[0].strip()
    out = []
    for part in re.split(r";|&&", line):
        part = re.split(r"\s(?:\d?>|&\s|&$)", part.strip() + " ")[0].strip()
        if part.startswith("ccm "):
            out.append(part)
    return out


def _expand(command: str) -> list[list[str]]:
    """argv lists for ``command`` (without ``ccm``): brackets dropped, placeholders filled, ``|`` and
    ``a|b`` alternatives expanded."""
    head, *more = [c.strip() for c in command.split(" | ")]
    words = head.replace("[", " ").replace("]", " ").split()[1:]
    variants = [words] + [[*words[:1], *m.split()] for m in more]  # `ccm stake add 1 | unbond 2`
    argvs = []
    for variant in variants:
        alternatives = [[w] if "|" not in w or w.startswith("-") else w.split("|") for w in variant]
        for chosen in _product(alternatives):
            argvs.append([_fill(w.replace("…", "x")) for w in shlex.split(" ".join(chosen)) if w != "…"])
    return argvs


def _product(options: list[list[str]]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for choice in options:
        out = [[*o, c] for o in out for c in choice]
    return out


def _fill(word: str) -> str:
    if word.startswith("$") or re.fullmatch(r"[A-Z][A-Z_0-9]*", word):
        return "1"
    return word


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if not line.lstrip().startswith("#"):
                commands.extend(_segments(line))
    return commands


def test_readme_has_the_commands_this_test_reads() -> None:
    found = _readme_commands()
    assert len(found) >= 40, found
    assert "ccm devnet advance --seconds 120 --home ~/.ccm/dev" in found
    assert _expand("ccm stake add 150 | unbond 50 | withdraw") == [
        ["stake", "add", "150"], ["stake", "unbond", "50"], ["stake", "withdraw"]
    ]


@pytest.mark.parametrize("command", _readme_commands())
def test_every_readme_command_parses(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for argv in _expand(command):
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"README: `{command}` as {argv}: {capsys.readouterr().err.strip()}")
        assert callable(args.func), argv

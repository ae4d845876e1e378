"""Running ``ccm`` in the test's own process, for tests of the CLI's answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from node.cli import main


def ccm_json(capsys: pytest.CaptureFixture[str], home: Path | None, *argv: str) -> Any:
    """``ccm ARGV [--home HOME] --json`` in this process: its JSON answer (exit status 0 asserted,
    stderr shown when it is not)."""
    code = main([*argv, *(["--home", str(home)] if home is not None else []), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)

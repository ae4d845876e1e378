"""``ccm claims`` in-process against the session Anvil: the trade as a user types it, and bad input
as one line on stderr with exit code 1 (never a traceback)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from node.chain.chain import Chain
from node.chain.token import TOKEN
from node.claims.capacity import devnet_verify
from node.claims.errors import ClaimsInputError
from node.claims.timespec import parse_amount, parse_money, parse_time
from node.cli import main
from tests.chain.helpers import Roles, register_roles
from tests.roles.conftest import Nodes
from tokenomics.units import units_to_tokens

PROVIDER, BUYER = "2", "1"  # dev account indexes (see tests.chain.helpers.Roles)


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    """Staked roles; the provider's H100 capacity (64 GPUs) attested by the verifier and in force."""
    roles = register_roles(chain, dev_accounts, verifiers=1)
    devnet_verify(
        chain,
        roles.verifiers[0],
        provider=roles.provider.address,
        gpu_class="H200",
        gpus=64,
        gflops_per_gpu=60_000,
    )
    return roles


def _run(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["claims", *argv, "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(err: str) -> str:
    """The single error line of stderr (besides the loud devnet-account notice)."""
    lines = [line for line in err.splitlines() if not line.startswith("DEVNET MODE: ")]
    assert len(lines) == 1 and lines[0].startswith("ccm: error: ") and "Traceback" not in err, err
    return lines[0]


def _json(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> Any:
    code, out, err = _run(capsys, home, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_create_list_buy_sell_cancel(
    capsys: pytest.CaptureFixture[str], nodes: Nodes, chain: Chain, roles: Roles
) -> None:
    home = nodes.home("cli")
    created = _json(
        capsys,
        home,
        "create",
        "--gpu-class",
        "H200",
        "--window-start",
        "+1h",
        "--window-end",
        "+1d",
        "--supply",
        "8",
        "--account-index",
        PROVIDER,
    )
    assert created["provider"] == roles.provider.address and created["basis"] in ("forward", "reserve")
    price = created["price_per_token"]
    assert isinstance(price, int) and price > 0 and created["collateral"] == 8 * price
    assert created["confirmations"] == 1  # every answer that sent transactions says how deep they are
    sid = str(created["series"])

    listed = _json(capsys, home, "list")
    (series,) = listed["series"]
    assert (series["series"], series["gpu_class"], series["best_price"]) == (int(sid), "H200", price)
    assert [o["order"] for o in listed["orders"]] == [created["order"]]

    bought = _json(
        capsys, home, "buy", sid, "--amount", "5", "--max-price", str(price), "--account-index", BUYER
    )
    assert (bought["bought"], bought["paid"], bought["balance"]) == (5, 5 * price, 5)
    assert bought["confirmations"] == 1

    resale = _json(capsys, home, "sell", sid, "--amount", "2", "--price", "0.5tok", "--account-index", BUYER)
    assert resale["price_per_token"] == TOKEN // 2 and resale["live"] is True
    assert resale["confirmations"] is None  # a resale order is only signed: no transaction
    listed = _json(capsys, home, "list", "--series", sid)
    assert [(o["order"], o["remaining"]) for o in listed["orders"]] == [
        (resale["order"], 2),
        (created["order"], 3),
    ]  # best price first

    code, _, err = _run(capsys, home, "cancel", str(resale["order"]), "--account-index", PROVIDER)
    assert code == 1 and "belongs to" in _one_error(err)
    assert _json(capsys, home, "cancel", str(resale["order"]), "--account-index", BUYER)["cancelled"] is True
    listed = _json(capsys, home, "list")
    assert [o["order"] for o in listed["orders"]] == [created["order"]]

    code, out, err = _run(capsys, home, "list")
    assert code == 0 and "H200" in out and created["order"][:18] in out
    assert units_to_tokens(price) in out and str(price) not in out  # people read tokens, not base units

    spec = home / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "version": 1,
                "kind": "matmul",
                "dtype": "float32",
                "tolerance": "1e-5",
                "limits": {
                    "max_units": 16,
                    "max_bytes": 1 << 30,
                    "max_seconds": 60,
                    "max_memory_bytes": 1 << 30,
                },
                "matmul": {"n": 16, "k": 8, "m": 4, "rows_per_unit": 8, "a": {"seed": 1}, "b": {"seed": 2}},
            }
        )
    )
    code, _, err = _run(
        capsys, home, "redeem", sid, "--amount", "1", "--job", str(spec), "--account-index", BUYER
    )
    assert code == 1 and "window opens at" in _one_error(err)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "create",
                "--gpu-class",
                "H100",
                "--window-start",
                "tomorrow",
                "--window-end",
                "+2d",
                "--supply",
                "1",
            ],
            "--window-start: 'tomorrow' is not unix seconds",
        ),
        (
            [
                "create",
                "--gpu-class",
                "H100",
                "--window-start",
                "+1h",
                "--window-end",
                "+2d",
                "--supply",
                "0",
            ],
            "--supply: '0' is not a positive whole number",
        ),
        (
            [
                "create",
                "--gpu-class",
                "H100",
                "--window-start",
                "+1h",
                "--window-end",
                "+2d",
                "--supply",
                "1",
                "--price",
                "-5",
            ],
            "--price: '-5' is not an integer",
        ),
        (
            ["create", "--gpu-class", "Z9", "--window-start", "+1h", "--window-end", "+2d", "--supply", "1"],
            "unknown GPU class 'Z9'",
        ),
        (
            [
                "create",
                "--gpu-class",
                "H100",
                "--window-start",
                "+2d",
                "--window-end",
                "+1h",
                "--supply",
                "1",
            ],
            "--window-end: the window must end after it starts",
        ),
        (["buy", "abc", "--amount", "1"], "SERIES: 'abc' is not a positive whole number"),
        (["buy", "1", "--amount", "1"], "series 1: no live order in the book"),
        (["sell", "1", "--amount", "1", "--price", "1.5"], "--price: '1.5' is not an integer"),
        (["cancel", "0x12"], "ORDER: '0x12' is not an order id"),
        (["redeem", "1", "--amount", "1", "--job", "/nonexistent/spec.json"], "cannot read spec"),
    ],
)
def test_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], nodes: Nodes, roles: Roles, argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, nodes.home("bad"), *argv, "--account-index", PROVIDER)
    assert code == 1 and out == ""
    assert message in _one_error(err)


def test_list_without_a_deployment_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, tmp_path, "list")
    assert code == 1 and "run `ccm devnet up`" in _one_error(err)


def test_time_and_money_forms() -> None:
    now = 1_700_000_000
    assert parse_time("+90s", now=now, field="t") == now + 90
    assert parse_time("+2h", now=now, field="t") == now + 7200
    assert parse_time("+30d", now=now, field="t") == now + 30 * 86_400
    assert parse_time("1767225600", now=now, field="t") == 1_767_225_600
    assert parse_time("2026-01-01", now=now, field="t") == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert parse_time("2026-01-01T02:00:00+02:00", now=now, field="t") == parse_time(
        "2026-01-01", now=now, field="t"
    )
    for bad in ("", "+1y", "-1h", "2026-13-01", "soon"):
        with pytest.raises(ClaimsInputError):
            parse_time(bad, now=now, field="t")
    assert parse_money("2tok", field="p") == 2 * TOKEN
    assert parse_money("0.000000000000000001tok", field="p") == 1
    assert parse_money("123", field="p") == 123
    for bad in ("0", "1e18", "0.0000000000000000001tok", "tok", "-1", str(2**256)):
        with pytest.raises(ClaimsInputError):
            parse_money(bad, field="p")
    assert parse_amount("3", field="a") == 3
    with pytest.raises(ClaimsInputError):
        parse_amount("3.5", field="a")

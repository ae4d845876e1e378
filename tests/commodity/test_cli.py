"""``ccm capacity attest|finalize|show`` and ``ccm claims create|list|buy --region`` through main(), as the
demo runs them: a verifier attests, the provider sells under the cap, a buyer filters by region."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from node.chain.chain import Chain
from node.cli import main
from tests.chain.helpers import Roles, register_roles
from tests.cli import ccm_json
from tests.roles.conftest import Nodes

CONSUMER, PROVIDER, VERIFIER = "1", "2", "3"


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    return register_roles(chain, dev_accounts, verifiers=1)


def _err(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> str:
    code = main([*argv, "--home", str(home)])
    out, err = capsys.readouterr()
    lines = [x for x in err.splitlines() if not x.startswith("DEVNET MODE: ")]
    assert code == 1 and out == "" and len(lines) == 1 and lines[0].startswith("ccm: error: "), err
    return lines[0]


def test_attest_finalize_sell_under_the_cap_and_filter_by_region(
    capsys: pytest.CaptureFixture[str], chain: Chain, nodes: Nodes, roles: Roles
) -> None:
    home = nodes.home("cli")
    provider = roles.provider.address
    create = [
        "claims",
        "create",
        "--gpu-class",
        "H100",
        "--window-start",
        "+1h",
        "--window-end",
        "+3h",
        "--price",
        "2tok",
        "--region",
        "de",
        "--account-index",
        PROVIDER,
    ]
    # never verified: refused before any transaction
    assert "no verified H100 capacity" in _err(capsys, home, *create, "--supply", "1")
    attested = ccm_json(
        capsys,
        home,
        "capacity",
        "attest",
        provider,
        "--gpu-class",
        "H100",
        "--gpus",
        "4",
        "--gflops",
        "33500",
        "--account-index",
        VERIFIER,
    )
    assert (attested["ppm_per_gpu"], attested["applied"]) == (500_000, False)
    assert "CapacityRegistry_TooEarly" in _err(
        capsys, home, "capacity", "finalize", str(attested["attestation_id"]), "--account-index", VERIFIER
    )
    chain.increase_time(61)
    done = ccm_json(
        capsys, home, "capacity", "finalize", str(attested["attestation_id"]), "--account-index", VERIFIER
    )
    assert done == {"id": attested["attestation_id"], "status": "final", "applied": True, "confirmations": 1}
    shown = ccm_json(capsys, home, "capacity", "show", provider, "--gpu-class", "H100")
    assert (shown["gpus"], shown["h100e_per_gpu_hour"]) == (4, 0.5)
    created = ccm_json(capsys, home, *create, "--supply", "8")  # 4 GPUs x 2 hours: all of it
    assert created["region"] == "DE"
    assert "CapacityClaims_CapacityExceeded" in _err(capsys, home, *create, "--supply", "1")
    listed = ccm_json(capsys, home, "claims", "list", "--region", "DE")
    (series,) = listed["series"]
    assert (series["region"], series["gpu_hours"], series["normalized_units"]) == ("DE", 8, 4.0)
    assert series["best_price_per_unit"] == 4 * 10**18  # 2 tokens per GPU-hour at 0.5 H100e
    assert ccm_json(capsys, home, "claims", "list", "--region", "FR")["series"] == []
    sid = str(created["series"])
    assert "declares region DE, not FR" in _err(
        capsys,
        home,
        "claims",
        "buy",
        sid,
        "--amount",
        "1",
        "--region",
        "FR",
        "--account-index",
        CONSUMER,
    )
    bought = ccm_json(
        capsys,
        home,
        "claims",
        "buy",
        sid,
        "--amount",
        "3",
        "--region",
        "DE",
        "--account-index",
        CONSUMER,
    )
    assert bought["bought"] == 3
    # the verifier's next challenge fails: no new series
    ccm_json(
        capsys,
        home,
        "capacity",
        "attest",
        provider,
        "--gpu-class",
        "H100",
        "--gflops",
        "0",
        "--failed",
        "--account-index",
        VERIFIER,
    )
    assert "no verified H100 capacity" in _err(capsys, home, *create, "--supply", "1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["capacity", "attest", "0x12", "--gpu-class", "H100", "--gflops", "1"],
            "PROVIDER: '0x12' is not an address",
        ),
        (
            [
                "capacity",
                "attest",
                "0x" + "11" * 20,
                "--gpu-class",
                "H100",
                "--gflops",
                "1",
                "--evidence",
                "zz",
            ],
            "--evidence: must be 0x + 64 hex digits",
        ),
        (
            [
                "capacity",
                "attest",
                "0x" + "11" * 20,
                "--gpu-class",
                "H100",
                "--gflops",
                "100",
                "--dtype",
                "int4",
            ],
            "no reference throughput for 'int4'",
        ),
        (
            ["capacity", "attest", "0x" + "11" * 20, "--gpu-class", "H100", "--gflops", "100"],
            "--advert-hash: must be a non-zero 32-byte hash (none registered on chain)",
        ),
        (
            [
                "capacity",
                "attest",
                "0x" + "11" * 20,
                "--gpu-class",
                "H100",
                "--gflops",
                "100",
                "--advert-hash",
                "0x" + "22" * 32,
            ],
            "CapacityRegistry_NotVerifier",
        ),
        (["claims", "list", "--region", "not a region"], "--region"),
    ],
)
def test_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], nodes: Nodes, roles: Roles, argv: list[str], message: str
) -> None:
    extra = ["--account-index", CONSUMER] if argv[0] == "capacity" else []
    assert message in _err(capsys, nodes.home("bad"), *argv, *extra)

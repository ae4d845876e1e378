"""The public price index on a devnet with trades: computed from the chain's events, it matches an
independent recomputation from the raw logs; the CLI prints it (table, JSON) and plots it beside the
forward curve; bad input is one line."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.token import TOKEN
from node.claims import market
from node.claims.book import OrderBook
from node.cli import main
from node.query.index import collect_trades, compute_index, market_index
from tests.chain.helpers import Roles
from tests.claims.helpers import verified_roles
from tests.roles.conftest import Nodes

DAY = 86_400
SERIES_CREATED = keccak(
    text="SeriesCreated(uint256,address,bytes32,bytes8,uint64,uint64,uint64,uint256,uint32,uint256)"
)
ORDER_FILLED = keccak(text="OrderFilled(bytes32,address,address,uint256,uint256,uint256)")


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    # 53.6 TFLOP/s fp32 verified per GPU = 0.8 H100e per GPU-hour
    return verified_roles(chain, dev_accounts, gpus=100, gflops_per_gpu=53600)



def _series(
    chain: Chain,
    book: OrderBook,
    roles: Roles,
    *,
    start_in: int,
    hours: int,
    supply: int,
    price: int,
    region: str,
) -> int:
    now = chain.client.timestamp()
    created = market.create_series(
        chain,
        book,
        roles.provider,
        gpu_class="H100",
        window_start=now + start_in,
        window_end=now + start_in + hours * 3600,
        supply=supply,
        price=price,
        region=region,
    )
    return created.series_id


def _trade(chain: Chain, book: OrderBook, roles: Roles) -> dict[str, int]:
    """Spot and forward trades on two days; a resale at another price."""
    spot = _series(chain, book, roles, start_in=3600, hours=10, supply=50, price=2 * TOKEN, region="DE")
    month = _series(chain, book, roles, start_in=30 * DAY, hours=24, supply=100, price=TOKEN, region="EU")
    quarter = _series(
        chain, book, roles, start_in=90 * DAY, hours=24, supply=100, price=TOKEN // 2, region="EU"
    )
    market.buy(chain, book, roles.consumer, series_id=spot, amount=10)
    market.buy(chain, book, roles.outsider, series_id=spot, amount=5)
    market.sell(chain, book, roles.consumer, series_id=spot, amount=4, price=3 * TOKEN // 2)
    market.buy(chain, book, roles.outsider, series_id=spot, amount=4, max_price=3 * TOKEN // 2)
    market.buy(chain, book, roles.consumer, series_id=quarter, amount=20)
    chain.increase_time(DAY)
    market.buy(chain, book, roles.consumer, series_id=month, amount=30)
    market.buy(chain, book, roles.outsider, series_id=month, amount=7)
    return {"spot": spot, "1m": month, "3m": quarter}


def _independent(chain: Chain) -> list[dict[str, Any]]:
    """The index recomputed from raw logs with eth_abi, without node.chain's decoder or node.query.index."""
    w3 = chain.client.w3
    logs = w3.eth.get_logs(
        {"address": chain.claims.address, "fromBlock": chain.deployment.deploy_block, "toBlock": "latest"}
    )
    series: dict[int, tuple[bytes, int, int]] = {}
    groups: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for log in logs:
        topic0 = bytes(log["topics"][0])
        if topic0 == SERIES_CREATED:
            sid = int.from_bytes(bytes(log["topics"][1]), "big")
            _region, _floor, start, _end, _supply, ppm, _cpt = abi_decode(
                ["bytes8", "uint64", "uint64", "uint64", "uint256", "uint32", "uint256"], bytes(log["data"])
            )
            series[sid] = (bytes(log["topics"][3]), start, ppm)
        elif topic0 == ORDER_FILLED:
            sid, amount, payment = abi_decode(["uint256", "uint256", "uint256"], bytes(log["data"]))
            gpu, start, ppm = series[sid]
            ts = w3.eth.get_block(log["blockNumber"])["timestamp"]
            lead = start - ts
            window = (
                "spot"
                if lead < 15 * DAY
                else "1m"
                if lead < 60 * DAY
                else "3m"
                if lead < 135 * DAY
                else "6m+"
            )
            assert gpu == keccak(b"H100")
            day = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
            groups[("H100", window, day)].append((payment, amount * ppm))
    order = ["spot", "1m", "3m"]
    return [
        {
            "gpu_class": c,
            "window": w,
            "day": d,
            "price": sum(p for p, _ in g) * 10**6 // sum(m for _, m in g),
            "volume_micro": sum(m for _, m in g),
            "trades": len(g),
            "thin": len(g) < 3,
        }
        for (c, w, d), g in sorted(groups.items(), key=lambda kv: (order.index(kv[0][1]), kv[0][2]))
    ]


def test_index_matches_an_independent_recomputation(chain: Chain, book: OrderBook, roles: Roles) -> None:
    _trade(chain, book, roles)
    points = market_index(chain)
    got = [
        {k: p.to_json()[k] for k in ("gpu_class", "window", "day", "price", "volume_micro", "trades", "thin")}
        for p in points
    ]
    assert got == _independent(chain)
    by_window = {p.window: p for p in points}
    # spot: 10 + 5 GPU-hours at 2 tokens and a resale of 4 at 1.5 tokens, each GPU-hour 0.8 H100e
    spot = by_window["spot"]
    assert (spot.trades, spot.thin, spot.volume) == (3, False, pytest.approx(19 * 0.8))
    assert spot.payment == 36 * TOKEN
    assert spot.price == 36 * TOKEN * 10**6 // (19 * 800_000)
    assert by_window["1m"].trades == 2 and by_window["1m"].thin
    assert by_window["3m"].price == TOKEN // 2 * 10**6 // 800_000  # 0.625 tokens per H100e-hour
    # filters
    assert [p.window for p in compute_index(collect_trades(chain), window="3m")] == ["3m"]
    assert {p.window for p in compute_index(collect_trades(chain), region="DE")} == {"spot"}
    assert compute_index(collect_trades(chain), gpu_class="A100") == []


def test_cli_prints_and_plots_the_index(
    capsys: pytest.CaptureFixture[str],
    chain: Chain,
    book: OrderBook,
    roles: Roles,
    nodes: Nodes,
    tmp_path: Path,
) -> None:
    _trade(chain, book, roles)
    home = nodes.home("index")
    plot = tmp_path / "index.png"
    code = main(
        ["market", "index", "--home", str(home), "--json", "--gpu-class", "h100", "--plot", str(plot)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    body = json.loads(out)
    assert body["unit"] == "H100e-hour" and body["plot"] == str(plot)
    assert [p["window"] for p in body["points"]] == ["spot", "1m", "3m"]
    assert body["points"] == [p.to_json() for p in market_index(chain)]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    assert main(["market", "index", "--home", str(home)]) == 0
    table = capsys.readouterr().out
    assert "spot" in table and "thin" in table and "H100e-hour" in table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--window", "2m"], "--window: '2m' is not one of spot, 1m, 3m, 6m, 12m"),
        (["--plot", "x.png"], "--plot needs --gpu-class"),
        (["--gpu-class", "H100", "--plot", "x.txt"], "--plot: give a path ending in .png"),
        (["--gpu-class", "Z9", "--plot", "/tmp/x.png"], "unknown GPU class 'Z9'"),
    ],
)
def test_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], chain: Chain, nodes: Nodes, argv: list[str], message: str
) -> None:
    code = main(["market", "index", "--home", str(nodes.home("bad")), *argv])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.strip().startswith("ccm: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_no_deployment_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["market", "index", "--home", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ccm: error: ") and "deployment" in err and len(err.strip().splitlines()) == 1

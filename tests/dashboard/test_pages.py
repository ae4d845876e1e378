"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

A small market runs first on the session's Anvil with real daemons (provider, verifier, consumer on
libp2p over 127.0.0.1; one audited job), then a verifier attests the provider's capacity and the
provider sells claims that the consumer buys. ``ccm dashboard`` then serves the three homes and
every page's figures are read from the browser and compared with the chain and the stores. A home
with an encrypted keystore and identity shows that no secret reaches any page.
"""

from __future__ import annotations

import functools
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from eth_account import Account

from node.capacity.probe import ProbeResult
from node.chain.accounts import create_keystore
from node.chain.chain import Chain
from node.chain.token import TOKEN
from node.claims import market as claims_market
from node.claims.book import OrderBook
from node.claims.capacity import devnet_verify
from node.p2p.identity import create_identity
from node.query.index import collect_trades, compute_index
from node.roles.consumer import Consumer, rank_offers
from node.roles.context import NodeContext
from node.roles.provider import ProviderDaemon
from node.roles.runtime import PROBE_FILE
from node.workloads.spec import parse_spec
from tests.dashboard.helpers import PAGES, browser, devnet_account_record, running_dashboard, screenshots
from tests.roles.conftest import PRICE_PER_UNIT, Nodes, matmul_spec, start_verifier
from tokenomics.units import units_to_tokens as tok

GPUS, GFLOPS_PER_GPU = 4, 53_600


@dataclass(frozen=True)
class Market:
    root: Path
    provider: NodeContext
    consumer: NodeContext
    verifier: NodeContext
    job_id: int
    series_id: int


async def _run_market(chain: Chain, nodes: Nodes, probe_result: ProbeResult) -> Market:
    provider_ctx = nodes("nodes/provider", 2)
    consumer_ctx = nodes("nodes/consumer", 1)
    verifier_ctx = nodes("nodes/verifier", 3)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            daemon = ProviderDaemon(
                provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.5
            )
            provider = await nursery.start(daemon.run)
            await start_verifier(nursery, verifier_ctx, provider)
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
            offers = await consumer.discover(peers=[provider.addrs[0]])
            job_id = await consumer.submit(
                parse_spec(matmul_spec()), rank_offers(offers, kind="matmul", n_units=8)[0]
            )
            report = await consumer.follow(job_id, timeout=90, poll=0.2)
            nursery.cancel_scope.cancel()
    assert report.status == "completed" and report.verdict == "pass"
    devnet_verify(
        chain,
        verifier_ctx.account,
        provider=provider_ctx.address,
        gpu_class="H100",
        gpus=GPUS,
        gflops_per_gpu=GFLOPS_PER_GPU,
    )
    book = OrderBook(provider_ctx.store)
    now = chain.client.timestamp()
    created = claims_market.create_series(
        chain,
        book,
        provider_ctx.account,
        gpu_class="H100",
        window_start=now + 3600,
        window_end=now + 11 * 3600,
        supply=10,
        price=2 * TOKEN,
        region="EU",
    )
    claims_market.buy(chain, book, consumer_ctx.account, series_id=created.series_id, amount=3)
    claims_market.buy(chain, book, consumer_ctx.account, series_id=created.series_id, amount=2)
    token = chain.token.address
    for ctx, index in ((provider_ctx, 2), (consumer_ctx, 1), (verifier_ctx, 3)):
        devnet_account_record(ctx.home, index, token)
    (provider_ctx.home / PROBE_FILE).write_text(probe_result.to_json() + "\n")
    return Market(nodes.root, provider_ctx, consumer_ctx, verifier_ctx, job_id, created.series_id)


def _text(page: Any, testid: str) -> str:
    return str(page.get_by_test_id(testid).first.inner_text()).strip()


def _check_pages(url: str, m: Market, chain: Chain, probe: ProbeResult, shots: Path) -> None:
    token, registry, market = chain.token, chain.registry, chain.market
    job = market.job(m.job_id)
    fee = job.price * market.params().protocol_fee_bps // 10_000
    sampled = ", ".join(str(i) for i in market.sampled_indices(m.job_id))
    with browser() as page:
        # Node page of the provider: identity, balances, stake, settled job, probe, capacity.
        page.goto(url + "?node=provider")
        assert page.title().startswith("Node")
        assert _text(page, "address") == m.provider.address
        assert _text(page, "token-balance") == tok(token.balance_of(m.provider.address))
        assert _text(page, "active-stake") == tok(registry.staker(m.provider.address).active)
        assert _text(page, "earned") == tok(job.price - fee)
        assert _text(page, "fees") == tok(fee)
        assert _text(page, "slashed") == "0"
        assert _text(page, "duties") == str(registry.duties_of(m.provider.address))
        assert _text(page, "probe-fp32") == f"{probe.best_gflops()} GFLOP/s"
        capacity = chain.capacity.capacity_of(m.provider.address, _class_id("H100"))
        assert _text(page, "cap-gpus") == str(capacity.gpus) == str(GPUS)
        assert page.get_by_test_id("ledger-row").count() >= 4  # mint, stake, collateral, payment, series…

        # Jobs page of the consumer: the job, its verdict and the units the chain sampled.
        page.goto(url + "jobs?node=consumer")
        rows = page.locator(f'[data-testid="job-row"][data-job-id="{m.job_id}"]')
        assert rows.count() == 1
        assert _text(rows, "job-status") == "completed"
        assert _text(rows, "job-verdict") == "pass"
        assert _text(rows, "job-sampled") == sampled
        assert _text(rows, "job-price") == tok(job.price)
        timeline = page.locator(f'[data-testid="timeline"][data-job-id="{m.job_id}"]')
        events = timeline.get_by_test_id("step").all_inner_texts()
        for name in (
            "JobPosted",
            "JobAccepted",
            "ResultCommitted",
            "AuditDrawn",
            "Attested",
            "JobCompleted",
            "Paid",
        ):
            assert any(name in e for e in events), (name, events)

        # Audits page of the verifier: its store's audit, the same units, attested on chain.
        page.goto(url + "audits?node=verifier")
        audit = page.locator(f'[data-testid="audit-row"][data-job-id="{m.job_id}"]')
        assert audit.count() == 1
        stored = m.verifier.store.get_audit(str(m.job_id), m.verifier.address)
        assert stored is not None
        assert _text(audit, "audit-indices") == ", ".join(str(i) for i in stored.indices)
        assert sorted(stored.indices) == sorted(market.sampled_indices(m.job_id))
        assert _text(audit, "audit-attested") == "pass"

        # Claims: the consumer holds what it bought; the provider's series locks its collateral.
        series = chain.claims.series(m.series_id)
        page.goto(url + "claims?node=consumer")
        row = page.locator(f'[data-testid="series-row"][data-series-id="{m.series_id}"]')
        assert _text(row, "series-supply") == str(series.supply)
        assert (
            _text(row, "series-held") == str(chain.claims.balance_of(m.consumer.address, m.series_id)) == "5"
        )
        assert _text(page, "holdings") == "5"
        page.goto(url + "claims?node=provider")
        assert _text(page, "collateral-locked") == tok(chain.claims.locked_collateral(m.series_id))
        assert _text(page, "holdings") == "5"  # the 5 unsold of 10

        # Market: the offer the consumer heard, the staked provider, the index from the fills.
        page.goto(url + "market?node=consumer")
        assert _text(page, "offer-claimed") == str(probe.best_gflops())
        providers = (
            page.get_by_test_id("provider-address")
            .locator("span")
            .evaluate_all("els => els.map(e => e.dataset.address)")
        )
        assert m.provider.address in providers
        points = compute_index(collect_trades(chain))
        index_rows = page.get_by_test_id("index-row")
        assert index_rows.count() == len(points) >= 1
        assert page.get_by_test_id("index-price").all_inner_texts() == [tok(p.price) for p in points]
        assert page.get_by_test_id("index-trades").all_inner_texts() == [str(p.trades) for p in points]
        assert page.get_by_test_id("charts").locator("svg").count() == 2

        taken = screenshots(page, url, shots, node="provider")
        assert [p.name for p in taken] == [f"{n or 'node'}.png" for n in PAGES]
        assert all(p.stat().st_size > 10_000 for p in taken)


def _class_id(name: str) -> bytes:
    from node.claims.pricing import gpu_class_id

    return gpu_class_id(name)


async def test_pages_show_the_chain_and_the_stores(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult, tmp_path: Path
) -> None:
    m = await _run_market(chain, nodes, probe_result)

    def check() -> None:
        with running_dashboard(m.root, "--node", "provider") as url:
            assert url.startswith("http://127.0.0.1:") and url.endswith("/")
            _check_pages(url, m, chain, probe_result, tmp_path / "shots")

    await trio.to_thread.run_sync(check)


def test_no_secret_on_any_page(chain: Chain, nodes: Nodes, tmp_path: Path) -> None:
    """A home with a password-encrypted keystore and identity: no page shows the password, the key,
    the keystore's or the identity's ciphertext."""
    home = nodes.home("keyed")
    password = "correct horse battery staple 7f3a"
    private_key = bytes(range(1, 33))
    create_keystore(home / "keystore.json", password, private_key=private_key)
    create_identity(home, password=password)
    keystore = json.loads((home / "keystore.json").read_text())
    identity = json.loads((home / "p2p" / "identity.json").read_text())
    secrets = [
        password,
        private_key.hex(),
        keystore["crypto"]["ciphertext"],
        keystore["crypto"]["kdfparams"]["salt"],
        identity["ciphertext"],
        identity["nonce"],
    ]
    address = Account.from_key(private_key).address
    with running_dashboard(home) as url, browser() as page:
        for name in (*PAGES, "jobs/1"):
            response = page.goto(url + name)
            html = page.content()
            if name != "jobs/1":
                assert response is not None and response.status == 200, name
            for secret in secrets:
                assert secret.lower() not in html.lower(), (name, secret[:6])
        page.goto(url)
        assert _text(page, "address") == address
        assert _text(page, "peer-id") == identity["peer_id"]
        assert _text(page, "account-source") == "keystore keystore.json"


def test_loopback_only_and_read_only(chain: Chain, nodes: Nodes) -> None:
    home = nodes.home("plain")
    devnet_account_record(home, 4, chain.token.address)
    with running_dashboard(home) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "market") as ok:
            assert ok.status == 200 and b"Providers staked on chain" in ok.read()
        for method, path, status in (
            ("POST", "", 405),
            ("GET", "?node=elsewhere", 404),
            ("GET", "jobs/999", 404),
        ):
            request = urllib.request.Request(
                url + path, method=method, data=b"" if method == "POST" else None
            )
            try:
                urllib.request.urlopen(request)
                raise AssertionError(f"{method} {path} answered 200")
            except urllib.error.HTTPError as exc:
                assert exc.code == status, (method, path, exc.code)

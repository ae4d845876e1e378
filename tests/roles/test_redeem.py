"""A claim holder's whole path, as typed: ``ccm claims redeem`` hands the prepaid job to the provider
through the consumer role, the provider runs it and a verifier audits it, and ``ccm job result``
later fetches the verified outputs from the home alone (the provider's peer is kept with the job).
The holder waits (``--wait``): its node reveals its audit secret once the provider has committed."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import trio

from node.capacity.probe import ProbeResult
from node.chain.accounts import devnet_account
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.claims import market
from node.claims.book import OrderBook
from node.claims.capacity import devnet_verify
from node.cli import main
from tests.roles.conftest import Nodes, matmul_spec, start_provider, start_verifier


async def test_redeemed_claim_runs_and_the_holder_gets_verified_outputs(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider_ctx, verifier_ctx = nodes("provider", 2), nodes("verifier", 3)
    holder_home = nodes.home("holder")
    spec_file = holder_home / "job.json"
    spec_file.write_text(json.dumps(matmul_spec(seed=77)), encoding="utf-8")
    out = tmp_path / "outputs"

    def ccm(*argv: str) -> dict[str, object]:
        code = main([*argv, "--home", str(holder_home), "--account-index", "1"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return json.loads(captured.out) if captured.out.startswith("{") else {"text": captured.out}

    with trio.fail_after(150):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            await start_verifier(nursery, verifier_ctx, provider)
            await trio.to_thread.run_sync(
                functools.partial(
                    devnet_verify, chain, verifier_ctx.account, provider=provider_ctx.address,
                    gpu_class="A100", gpus=16, gflops_per_gpu=19_500,
                )
            )
            now = chain.client.timestamp()
            book = OrderBook(provider_ctx.store)
            created = await trio.to_thread.run_sync(
                functools.partial(
                    market.create_series, chain, book, provider_ctx.account, gpu_class="A100",
                    window_start=now + 120, window_end=now + 7200, supply=4,
                )
            )
            await trio.to_thread.run_sync(
                functools.partial(
                    market.buy, chain, book, devnet_account(1, devnet=True),
                    series_id=created.series_id, amount=2,
                )
            )
            await trio.to_thread.run_sync(chain.increase_time, 121)
            redeemed = await trio.to_thread.run_sync(
                lambda: ccm(
                    "claims", "redeem", str(created.series_id), "--amount", "2", "--job", str(spec_file),
                    "--peer", provider.addrs[0], "--wait", "--json",
                )
            )
            job_id = int(str(redeemed["job_id"]))
            with trio.fail_after(60):
                while not chain.market.status_of(job_id).terminal:
                    await trio.sleep(0.2)
            written = await trio.to_thread.run_sync(
                lambda: ccm("job", "result", str(job_id), "--out", str(out))
            )
            nursery.cancel_scope.cancel()
    assert redeemed["delivered"] is True
    job = chain.market.job(job_id)
    assert job.status == JobStatus.COMPLETED and job.prepaid and job.verifier == verifier_ctx.address
    assert "checked against root 0x" + job.root.hex() in str(written["text"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["root"] == "0x" + job.root.hex() and len(manifest["units"]) == job.n_units == 8
    assert all((out / u["file"]).stat().st_size == 8 * 16 * 4 for u in manifest["units"])


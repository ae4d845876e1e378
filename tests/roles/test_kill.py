"""The provider as a separate process (``ccm provider start``), killed with SIGKILL mid-job.

Restarted on the same home it resumes the job from SQLite and the chain and gets paid; never
restarted, the consumer takes price and collateral after the commit deadline (the timeout outcome).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.roles.consumer import Consumer, rank_offers
from node.roles.runtime import PROBE_FILE
from node.workloads.spec import parse_spec
from tests.roles.conftest import Nodes, matmul_spec

CCM = str(Path(sys.executable).parent / "ccm")
# Big enough that input generation plus compute take over a second here, so the kill lands mid-job.
SLOW = {"n": 4096, "k": 4096, "m": 2048, "rows": 512}


def _start_provider(home: Path, index: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            CCM,
            "provider",
            "start",
            "--home",
            str(home),
            "--account-index",
            str(index),
            "--offer-interval",
            "1",
            "--device",
            "cpu",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        proc.wait(5)
        pytest.fail(f"provider did not start: {line!r}")
    return proc, line.removeprefix("listening on ").strip()


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


async def _wait_status(chain: Chain, job_id: int, status: JobStatus, *, timeout: float = 60.0) -> None:
    with trio.fail_after(timeout):
        while await trio.to_thread.run_sync(chain.market.status_of, job_id) != status:
            await trio.sleep(0.05)


@pytest.mark.parametrize("restart", [True, False], ids=["resumes", "refund"])
async def test_provider_killed_mid_job(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult, restart: bool
) -> None:
    home = nodes.home("provider-process")
    (home / PROBE_FILE).write_text(probe_result.to_json() + "\n")
    consumer_ctx = nodes("consumer", 1)
    token = chain.token
    consumer_before = token.balance_of(consumer_ctx.address)
    spec = parse_spec(matmul_spec(**SLOW))
    proc, addr = await trio.to_thread.run_sync(_start_provider, home, 6)
    try:
        with trio.fail_after(150):
            async with trio.open_nursery() as nursery:
                consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
                offers = await consumer.discover(peers=[addr])
                job_id = await consumer.submit(spec, rank_offers(offers, kind="matmul", n_units=8)[0])
                await _wait_status(chain, job_id, JobStatus.ACCEPTED)
                _kill(proc)
                assert chain.market.status_of(job_id) == JobStatus.ACCEPTED, (
                    "killed too late: already committed"
                )
                if restart:
                    proc, addr = await trio.to_thread.run_sync(_start_provider, home, 6)
                    await consumer.offer_from(addr)  # same peer id, new port
                else:
                    commit_by = chain.market.job(job_id).commit_by
                    await trio.to_thread.run_sync(
                        chain.increase_time, commit_by - chain.client.timestamp() + 1
                    )
                report = await consumer.follow(job_id, timeout=120, poll=0.2)
                nursery.cancel_scope.cancel()
    finally:
        _kill(proc)
    job = chain.market.job(job_id)
    if restart:
        assert report.status == "completed" and report.outputs_verified
        assert token.balance_of(consumer_ctx.address) == consumer_before - job.price
    else:
        assert report.status == "defaulted"
        assert token.balance_of(consumer_ctx.address) == consumer_before + job.collateral

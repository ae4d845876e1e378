"""Crash tests: the provider and the verifier, as separate ``ccm`` processes, SIGKILLed at random points
of several jobs and restarted each time with the same command on the same home; and the consumer's
``ccm job submit --wait`` killed at random points and run again.

Every job must end Completed (audited, passed), nobody honest slashed, and each contract must hold
exactly what it owes. The default run is small (3 kills each of provider and verifier over 2 jobs, 2
of the consumer); ``CCM_CRASH_KILLS=30``, ``CCM_CRASH_JOBS``, ``CCM_CRASH_CONSUMER_KILLS`` and
``CCM_CRASH_SEED`` make it as long and as varied as wanted.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from node.capacity.probe import ProbeResult
from node.chain.accounts import devnet_account
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.errors import CcmError
from node.roles.consumer import Consumer, rank_offers
from node.roles.provider import ProviderDaemon
from node.roles.runtime import PROBE_FILE
from node.roles.verifier import VerifierDaemon
from node.store import Store
from node.workloads.spec import parse_spec
from tests.roles.conftest import Nodes, matmul_spec

CCM = str(Path(sys.executable).parent / "ccm")
KILLS = int(os.environ.get("CCM_CRASH_KILLS", "3"))
JOBS = int(os.environ.get("CCM_CRASH_JOBS", "2"))
CONSUMER_KILLS = int(os.environ.get("CCM_CRASH_CONSUMER_KILLS", "2"))


class Daemon:
    """``ccm ROLE start --home HOME --account-index I`` as a child process, restartable."""

    def __init__(self, role: str, home: Path, index: int, *extra: str) -> None:
        self.argv = [CCM, role, "start", "--home", str(home), "--account-index", str(index), *extra]
        self.log = home.parent / f"{role}.log"
        self.proc: subprocess.Popen[str] | None = None
        self.addr = ""
        self.kills = 0

    def start(self) -> str:
        with self.log.open("a") as log:
            log.write(f"--- start (after {self.kills} kills)\n")
            log.flush()
            self.proc = subprocess.Popen(
                self.argv, stdout=subprocess.PIPE, stderr=log, text=True, stdin=subprocess.DEVNULL
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            pytest.fail(f"{self.argv[1]} did not start: {line!r}")
        address = line.removeprefix("listening on ").strip()
        assert not self.addr or address == self.addr, "a restart must keep the address"
        self.addr = address
        return address

    def kill(self) -> None:
        self.stop()
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


async def _killer(daemon: Daemon, rng: random.Random, *, kills: int, done: trio.Event) -> None:
    while daemon.kills < kills and not done.is_set():
        await trio.sleep(rng.uniform(0.5, 4.0))
        await trio.to_thread.run_sync(daemon.kill)
        await trio.to_thread.run_sync(daemon.start)


async def test_provider_and_verifier_killed_at_random_points_every_job_completes(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    provider_home, verifier_home = nodes.home("provider"), nodes.home("verifier")
    (provider_home / PROBE_FILE).write_text(probe_result.to_json() + "\n")
    consumer_ctx = nodes("consumer", 1)
    provider = Daemon("provider", provider_home, 2)
    registry, market, token = chain.registry, chain.market, chain.token
    rng = random.Random(int(os.environ.get("CCM_CRASH_SEED", "11")))
    reports = []
    try:
        await trio.to_thread.run_sync(provider.start)
        verifier = Daemon("verifier", verifier_home, 3, "--bootstrap", provider.addr)  # as in the README
        await trio.to_thread.run_sync(verifier.start)
        with trio.fail_after(120 + 60 * JOBS + 20 * KILLS):
            async with trio.open_nursery() as nursery:
                consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
                done = trio.Event()
                nursery.start_soon(functools.partial(_killer, provider, rng, kills=KILLS, done=done))
                nursery.start_soon(functools.partial(_killer, verifier, rng, kills=KILLS, done=done))
                for i in range(JOBS):
                    spec = parse_spec(matmul_spec(n=256, k=256, m=128, rows=32, seed=300 + i))
                    while True:  # a proposal that meets a dead provider is cancelled: post again
                        try:
                            offers = await consumer.discover(peers=[provider.addr])
                            best = rank_offers(offers, kind="matmul", n_units=8)[0]
                            job_id = await consumer.submit(spec, best)
                            break
                        except (CcmError, IndexError):  # the provider is down right now: again
                            await trio.sleep(0.5)
                    reports.append(await consumer.follow(job_id, timeout=180, poll=0.3))
                # Every kill happened (the killers finish their count) before the books are checked.
                while provider.kills < KILLS or verifier.kills < KILLS:
                    await trio.sleep(0.5)
                done.set()
                nursery.cancel_scope.cancel()
    finally:
        provider.stop()
        if "verifier" in locals():
            verifier.stop()
    assert [r.status for r in reports] == ["completed"] * JOBS, reports
    assert all(r.verdict == "pass" and r.outputs_verified for r in reports), reports
    assert provider.kills == verifier.kills == KILLS
    params = registry.params()
    provider_address = market.job(reports[0].job_id).provider
    verifier_address = market.job(reports[0].job_id).verifier
    assert registry.staker(provider_address).active == params.min_provider_stake  # not slashed
    assert registry.staker(verifier_address).active == params.min_verifier_stake  # not slashed
    assert all(market.status_of(r.job_id) == JobStatus.COMPLETED for r in reports)
    assert token.balance_of(market.address) == market.total_owed()
    assert token.balance_of(chain.deployment.address("StakingRegistry")) == registry.total_staked()


async def test_consumer_killed_at_random_points_leaves_nothing_stuck(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult
) -> None:
    """``ccm job submit --wait`` SIGKILLed at random points, then the README's commands again: every
    job it posted ends Completed (the provider and verifier finish it; ``ccm job result`` fetches the
    outputs) or, never accepted, Cancelled by the restarted consumer with the escrow back."""
    provider_ctx, verifier_ctx = nodes("provider", 2), nodes("verifier", 3)
    consumer_home = nodes.home("consumer")
    spec_file = consumer_home / "job.json"
    spec_file.write_text(json.dumps(matmul_spec(n=256, k=256, m=128, rows=32, seed=400)), encoding="utf-8")
    market, token, registry = chain.market, chain.token, chain.registry
    consumer_address = devnet_account(1, devnet=True).address
    before = token.balance_of(consumer_address)
    rng = random.Random(int(os.environ.get("CCM_CRASH_SEED", "11")))
    kills = max(1, CONSUMER_KILLS)

    def submit(addr: str, *, kill_after: float | None) -> subprocess.CompletedProcess[str] | None:
        argv = [CCM, "job", "submit", str(spec_file), "--home", str(consumer_home), "--account-index", "1",
                "--peer", addr, "--wait", "--json"]
        if kill_after is None:
            return subprocess.run(argv, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        return None

    with trio.fail_after(150 + 60 * kills):
        async with trio.open_nursery() as nursery:
            provider = await nursery.start(
                functools.partial(ProviderDaemon(provider_ctx, probe=probe_result, offer_interval=1.0).run)
            )
            await nursery.start(
                functools.partial(VerifierDaemon(verifier_ctx, bootstrap=[provider.addrs[0]], poll=0.3).run)
            )
            for _ in range(kills):
                await trio.to_thread.run_sync(
                    functools.partial(submit, provider.addrs[0], kill_after=rng.uniform(2.0, 12.0))
                )
            # What the killed consumers left goes on without them: accepted jobs end; Open ones wait.
            with trio.fail_after(120):
                while not all(
                    market.status_of(j).terminal or market.status_of(j) == JobStatus.OPEN
                    for j in _posted_by(chain, consumer_address)
                ):
                    await trio.sleep(0.5)
            # Time passes: acceptance deadlines (and the store's 'posted' rows) are old now.
            with Store.open(consumer_home) as store:
                for job in store.list_jobs(role="consumer", statuses=("posted",)):
                    store.put_job(dataclasses.replace(job, created_at=job.created_at - 3600))
            await trio.to_thread.run_sync(chain.increase_time, 121)
            done = await trio.to_thread.run_sync(
                functools.partial(submit, provider.addrs[0], kill_after=None)
            )
            assert done is not None and done.returncode == 0, done.stderr if done else ""
            posted = _posted_by(chain, consumer_address)
            with trio.fail_after(120):
                while not all(market.status_of(j).terminal for j in posted):
                    await trio.sleep(0.5)
            completed = [j for j in posted if market.status_of(j) == JobStatus.COMPLETED]
            for job_id in completed:  # the killed consumer's outputs, fetched later from its home
                got = await trio.to_thread.run_sync(
                    lambda j=job_id: subprocess.run(
                        [CCM, "job", "result", str(j), "--home", str(consumer_home), "--account-index", "1",
                         "--out", str(consumer_home / f"out-{j}")],
                        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                    )
                )
                assert got.returncode == 0, got.stderr
            nursery.cancel_scope.cancel()
    statuses = {j: market.status_of(j) for j in posted}
    assert set(statuses.values()) <= {JobStatus.COMPLETED, JobStatus.CANCELLED}, statuses
    assert completed, statuses
    paid = sum(market.job(j).price for j in completed)
    assert token.balance_of(consumer_address) == before - paid  # every cancelled escrow came back
    assert registry.staker(provider_ctx.address).active == registry.params().min_provider_stake
    assert registry.staker(verifier_ctx.address).active == registry.params().min_verifier_stake
    assert token.balance_of(market.address) == market.total_owed()


def _posted_by(chain: Chain, consumer: str) -> list[int]:
    return [
        int(e.args["jobId"])
        for e in chain.event_watcher().poll()
        if e.name == "JobPosted" and str(e.args["consumer"]).lower() == consumer.lower()
    ]

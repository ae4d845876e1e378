"""The market end to end on other chains than the automining Anvil (``scripts/test --slow``):
Hardhat 3's EDR node (a second EVM implementation, pinned in package-lock.json; it refuses a
reverting transaction at send) and Anvil mining a block every 2 seconds. Real role daemons, libp2p,
torch and SQLite: a job is bought, audited and paid; nobody is slashed; the market owes what it holds;
then a claims trade (capacity attested, a series, a signed order filled, an over-fill refused).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trio
from eth_utils import keccak

from node.capacity.probe import ProbeResult
from node.chain.accounts import devnet_accounts
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.claims import SellOrder
from node.chain.client import ChainClient
from node.chain.confirm import deploy_confirmed
from node.chain.deploy import DeployParams
from node.chain.errors import ContractRevert
from node.chain.hardhat import HardhatProcess
from node.chain.market import commitment
from node.chain.token import TOKEN
from node.roles.consumer import Consumer, rank_offers
from node.roles.provider import ProviderDaemon
from node.roles.verifier import VerifierDaemon
from node.workloads.spec import parse_spec
from tests.chain.helpers import register_roles
from tests.roles.conftest import PRICE_PER_UNIT, Nodes, matmul_spec

pytestmark = pytest.mark.slow


@contextmanager
def _chain_on(rpc_url: str, block_time_s: float) -> Iterator[Chain]:
    accounts = [a.account for a in devnet_accounts(devnet=True)]
    client = ChainClient(rpc_url, block_time_s=block_time_s)
    deployment, _ = deploy_confirmed(
        client,
        accounts[0],
        holders=[a.address for a in accounts],
        params=DeployParams(),
        devnet=True,
        confirmations=1,
        block_time_s=block_time_s,
    )
    yield Chain.connect(deployment)


async def _one_job(chain: Chain, root: Path, probe_result: ProbeResult, *, timeout: float) -> None:
    nodes = Nodes(root, chain)
    provider_ctx, consumer_ctx, verifier_ctx = (
        nodes("provider", 2),
        nodes("consumer", 1),
        nodes("verifier", 3),
    )
    try:
        with trio.fail_after(timeout):
            async with trio.open_nursery() as nursery:
                daemon = ProviderDaemon(
                    provider_ctx, probe=probe_result, price_per_unit=PRICE_PER_UNIT, offer_interval=0.5
                )
                provider = await nursery.start(functools.partial(daemon.run))
                verifier = VerifierDaemon(verifier_ctx, bootstrap=[provider.addrs[0]], poll=0.5)
                await nursery.start(functools.partial(verifier.run))
                consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
                offers = await consumer.discover(peers=[provider.addrs[0]])
                before = chain.token.balance_of(provider_ctx.address)
                job_id = await consumer.submit(
                    parse_spec(matmul_spec()), rank_offers(offers, kind="matmul", n_units=8)[0]
                )
                report = await consumer.follow(job_id, timeout=timeout - 30, poll=0.5)
                nursery.cancel_scope.cancel()
        assert report.status == "completed" and report.audited and report.verdict == "pass"
        assert report.outputs_verified
        price = 8 * PRICE_PER_UNIT
        fee = price * chain.market.params().protocol_fee_bps // 10_000
        assert chain.token.balance_of(provider_ctx.address) == before + price - fee
        minimums = (DeployParams().min_provider_stake, DeployParams().min_verifier_stake)
        for ctx, minimum in zip((provider_ctx, verifier_ctx), minimums, strict=True):
            assert chain.registry.staker(ctx.address).active == minimum  # staked once, nothing slashed
        assert chain.token.balance_of(chain.market.address) == chain.market.contract.call("totalOwed")
    finally:
        for ctx in nodes.opened:
            ctx.close()


def _claims_trade(chain: Chain) -> None:
    """Capacity attested and in force, a series created, a signed order filled in two parts."""
    accounts = tuple(a.account for a in devnet_accounts(devnet=True))
    roles = register_roles(chain, accounts, verifiers=1)
    gpu = keccak(b"nvidia-h100-80gb")
    attestation = chain.capacity.attest(
        roles.verifiers[0],
        provider=roles.provider.address,
        gpu_class=gpu,
        gpus=512,
        gflops_per_gpu=60_000,
        ppm_per_gpu=895_522,
        dtype="float32",
        advert_hash=keccak(b"signed advert"),
        evidence=keccak(b"challenge transcript"),
        secret_hash=commitment(keccak(b"attester secret")),
    )
    chain.increase_time(chain.capacity.dispute_window() + 1)
    chain.capacity.finalize(roles.verifiers[0], attestation)
    now = chain.client.timestamp()
    series_id = chain.claims.create_series(
        roles.provider,
        gpu_class=gpu,
        floor=400,
        window_start=now + 3_600,
        window_end=now + 7_200,
        supply=10,
        collateral_per_token=5 * TOKEN,
    )
    order = SellOrder(
        seller=roles.provider.address,
        series_id=series_id,
        amount=6,
        price_per_token=2 * TOKEN,
        nonce=0,
        expiry=now + 600,
    )
    signed = chain.claims.sign_order(roles.provider, order)
    before = chain.token.balance_of(roles.provider.address)
    assert chain.claims.fill(roles.consumer, signed, 4) == 8 * TOKEN
    assert chain.claims.fill(roles.consumer, signed, 2) == 4 * TOKEN
    assert chain.claims.balance_of(roles.consumer.address, series_id) == 6
    assert chain.token.balance_of(roles.provider.address) == before + 12 * TOKEN
    with pytest.raises(ContractRevert) as info:  # over-fill: refused (Hardhat at send, Anvil mined)
        chain.claims.fill(roles.consumer, signed, 1)
    assert info.value.error_name.startswith("CapacityClaims_")


async def test_job_lifecycle_and_claims_trade_on_hardhat(tmp_path: Path, probe_result: ProbeResult) -> None:
    with HardhatProcess() as hardhat, _chain_on(hardhat.rpc_url, 0.0) as chain:
        await _one_job(chain, tmp_path, probe_result, timeout=180)
        _claims_trade(chain)


async def test_job_lifecycle_and_claims_trade_on_anvil_with_2_second_blocks(
    tmp_path: Path, probe_result: ProbeResult
) -> None:
    with AnvilProcess(extra_args=("--block-time", "2")) as anvil, _chain_on(anvil.rpc_url, 2.0) as chain:
        await _one_job(chain, tmp_path, probe_result, timeout=240)
        _claims_trade(chain)

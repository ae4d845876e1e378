"""The capacity-claims flow on a real Anvil: series, Python-signed orders, fills, resale, redeem,
provider default paid from collateral, expiry and release, and the bad inputs (wrong chain id,
replay, over-fill, expiry, cancelled orders, unauthorized callers)."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.claims import SellOrder
from node.chain.eip712 import Eip712Domain
from node.chain.errors import ContractRevert
from node.chain.market import JobStatus, commitment
from node.chain.token import TOKEN
from tests.chain.helpers import Roles, register_roles

SUPPLY = 10
CPT = 5 * TOKEN  # collateral per token
PRICE = 2 * TOKEN
GPU = keccak(b"nvidia-h100-80gb")
HOLDER_HASH = commitment(keccak(b"holder secret"))


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    """Staked roles, and the provider's capacity (512 GPUs of the class: the expiry test sells 10
    GPU-hours in a 100-second window) attested and in force."""
    roles = register_roles(chain, dev_accounts, verifiers=2)
    attestation = chain.capacity.attest(
        roles.verifiers[0],
        provider=roles.provider.address,
        gpu_class=GPU,
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
    return roles


def _series(chain: Chain, roles: Roles, *, start_in: int = 100, length: int = 3600) -> int:
    now = chain.client.timestamp()
    return chain.claims.create_series(
        roles.provider,
        gpu_class=GPU,
        floor=400,
        window_start=now + start_in,
        window_end=now + start_in + length,
        supply=SUPPLY,
        collateral_per_token=CPT,
    )


def _order(chain: Chain, seller: LocalAccount, series_id: int, amount: int, *, nonce: int = 0) -> SellOrder:
    return SellOrder(
        seller=seller.address,
        series_id=series_id,
        amount=amount,
        price_per_token=PRICE,
        nonce=nonce,
        expiry=chain.client.timestamp() + 600,
    )


def test_create_sell_resell_redeem(chain: Chain, roles: Roles) -> None:
    buyer, third = roles.consumer, roles.outsider
    series_id = _series(chain, roles)
    series = chain.claims.series(series_id)
    assert (series.provider, series.supply, series.gpu_class, series.floor) == (
        roles.provider.address,
        SUPPLY,
        GPU,
        400,
    )
    assert chain.claims.balance_of(roles.provider.address, series_id) == SUPPLY
    assert chain.claims.locked_collateral(series_id) == SUPPLY * CPT

    order = _order(chain, roles.provider, series_id, 6)
    signed = chain.claims.sign_order(roles.provider, order)
    assert chain.claims.order_signer(signed) == roles.provider.address
    assert chain.claims.order_digest(order) == chain.claims.order_hash(order)
    provider_before = chain.token.balance_of(roles.provider.address)
    assert chain.claims.fill(buyer, signed, 4) == 4 * PRICE  # partial fill
    assert chain.claims.fill(buyer, signed, 2) == 2 * PRICE
    assert chain.claims.filled(chain.claims.order_hash(order)) == 6
    assert chain.token.balance_of(roles.provider.address) == provider_before + 6 * PRICE
    assert chain.claims.balance_of(buyer.address, series_id) == 6

    resale = _order(chain, buyer, series_id, 3)
    chain.claims.fill(third, chain.claims.sign_order(buyer, resale), 3)
    assert chain.claims.balance_of(third.address, series_id) == 3
    assert chain.claims.balance_of(buyer.address, series_id) == 3

    chain.increase_time(101)  # into the window
    redemption = chain.claims.redeem(third, series_id, 2, keccak(b"job spec"), secret_hash=HOLDER_HASH)
    assert redemption.collateral == 2 * CPT
    job = chain.market.job(redemption.job_id)
    assert (job.consumer, job.provider, job.prepaid, job.status) == (
        third.address,
        roles.provider.address,
        True,
        JobStatus.ACCEPTED,
    )
    assert chain.claims.balance_of(third.address, series_id) == 1
    assert chain.claims.series(series_id).redeemed == 2


def test_provider_default_on_redeemed_job_pays_holder_from_collateral(chain: Chain, roles: Roles) -> None:
    series_id = _series(chain, roles, start_in=10)
    chain.claims.fill(
        roles.consumer,
        chain.claims.sign_order(roles.provider, _order(chain, roles.provider, series_id, 2)),
        2,
    )
    chain.increase_time(11)
    redemption = chain.claims.redeem(roles.consumer, series_id, 2, keccak(b"spec"), secret_hash=HOLDER_HASH)
    before = chain.token.balance_of(roles.consumer.address)
    # 2 GPU-hours on 512 reserved GPUs: the commit deadline is the work's own time after the schedule.
    assert redemption.commit_by == chain.market.job(redemption.job_id).commit_by
    assert redemption.fee == chain.market.params().min_fee == chain.market.job(redemption.job_id).price
    chain.increase_time(redemption.commit_by - chain.client.timestamp() + 1)
    result = chain.market.claim_commit_timeout(roles.outsider, redemption.job_id)
    assert result.status is JobStatus.DEFAULTED
    assert chain.token.balance_of(roles.consumer.address) == before + 2 * CPT + redemption.fee


def test_expiry_releases_unredeemed_collateral(chain: Chain, roles: Roles) -> None:
    series_id = _series(chain, roles, start_in=10, length=100)
    with pytest.raises(ContractRevert) as info:
        chain.claims.release_collateral(roles.outsider, series_id)
    assert info.value.error_name == "CapacityClaims_WindowNotEnded"
    chain.claims.fill(
        roles.consumer,
        chain.claims.sign_order(roles.provider, _order(chain, roles.provider, series_id, 3)),
        3,
    )
    chain.increase_time(111)
    with pytest.raises(ContractRevert) as info:  # worthless after the window
        chain.claims.redeem(roles.consumer, series_id, 1, keccak(b"spec"), secret_hash=HOLDER_HASH)
    assert info.value.error_name == "CapacityClaims_WindowEnded"
    before = chain.token.balance_of(roles.provider.address)
    assert chain.claims.release_collateral(roles.outsider, series_id) == SUPPLY * CPT
    assert chain.token.balance_of(roles.provider.address) == before + SUPPLY * CPT
    with pytest.raises(ContractRevert) as info:
        chain.claims.release_collateral(roles.outsider, series_id)
    assert info.value.error_name == "CapacityClaims_AlreadyReleased"
    assert chain.claims.total_owed() == 0


def test_order_signed_for_another_chain_is_rejected(chain: Chain, roles: Roles) -> None:
    series_id = _series(chain, roles)
    real = chain.claims.domain()
    wrong = Eip712Domain(real.name, real.version, real.chain_id + 1, real.verifying_contract)
    signed = chain.claims.sign_order(
        roles.provider, _order(chain, roles.provider, series_id, 1), domain=wrong
    )
    with pytest.raises(ContractRevert) as info:
        chain.claims.fill(roles.consumer, signed, 1)
    assert str(info.value) == (
        f"CapacityClaims.fill reverted: CapacityClaims_InvalidSignature(seller={roles.provider.address})"
    )


def test_replayed_and_overfilled_orders_are_rejected(chain: Chain, roles: Roles) -> None:
    series_id = _series(chain, roles)
    order = _order(chain, roles.provider, series_id, 2)
    signed = chain.claims.sign_order(roles.provider, order)
    chain.claims.fill(roles.consumer, signed, 2)
    with pytest.raises(ContractRevert) as info:  # replay of a fully filled order
        chain.claims.fill(roles.consumer, signed, 1)
    assert info.value.error_name == "CapacityClaims_Overfill"
    assert info.value.error_args["remaining"] == 0
    with pytest.raises(ContractRevert) as info:
        chain.claims.fill(
            roles.consumer,
            chain.claims.sign_order(roles.provider, _order(chain, roles.provider, series_id, 2, nonce=1)),
            3,
        )
    assert info.value.error_name == "CapacityClaims_Overfill"
    with pytest.raises(ContractRevert) as info:
        chain.claims.fill(roles.consumer, signed, 0)
    assert info.value.error_name == "CapacityClaims_ZeroAmount"


def test_cancelled_and_expired_orders_are_rejected(chain: Chain, roles: Roles) -> None:
    series_id = _series(chain, roles)
    order = _order(chain, roles.provider, series_id, 2)
    signed = chain.claims.sign_order(roles.provider, order)
    with pytest.raises(ContractRevert) as info:
        chain.claims.cancel_order(roles.consumer, order)
    assert info.value.error_name == "CapacityClaims_NotSeller"
    chain.claims.cancel_order(roles.provider, order)
    assert chain.claims.cancelled(chain.claims.order_hash(order))
    with pytest.raises(ContractRevert) as info:
        chain.claims.fill(roles.consumer, signed, 1)
    assert info.value.error_name == "CapacityClaims_OrderCancelled"

    bulk = chain.claims.sign_order(roles.provider, _order(chain, roles.provider, series_id, 2, nonce=3))
    chain.claims.cancel_all_before(roles.provider, 4)
    with pytest.raises(ContractRevert) as info:
        chain.claims.fill(roles.consumer, bulk, 1)
    assert info.value.error_name == "CapacityClaims_NonceCancelled"

    late = chain.claims.sign_order(roles.provider, _order(chain, roles.provider, series_id, 2, nonce=9))
    chain.increase_time(601)
    with pytest.raises(ContractRevert) as info:
        chain.claims.fill(roles.consumer, late, 1)
    assert info.value.error_name == "CapacityClaims_OrderExpired"


def test_unauthorized_series_and_redeem_are_rejected(chain: Chain, roles: Roles) -> None:
    now = chain.client.timestamp()
    with pytest.raises(ContractRevert) as info:
        chain.claims.create_series(
            roles.outsider,
            gpu_class=GPU,
            floor=1,
            window_start=now,
            window_end=now + 10,
            supply=1,
            collateral_per_token=1,
        )
    assert info.value.error_name == "CapacityClaims_NotProvider"
    series_id = _series(chain, roles)
    with pytest.raises(ContractRevert) as info:  # window not started
        chain.claims.redeem(roles.provider, series_id, 1, keccak(b"spec"), secret_hash=HOLDER_HASH)
    assert info.value.error_name == "CapacityClaims_WindowNotStarted"
    chain.increase_time(101)
    with pytest.raises(ContractRevert) as info:
        chain.claims.redeem(roles.provider, series_id, 1, keccak(b"spec"), secret_hash=HOLDER_HASH)
    assert info.value.error_name == "CapacityClaims_ProviderRedeem"
    with pytest.raises(ContractRevert) as info:  # holds no claims
        chain.claims.redeem(roles.consumer, series_id, 1, keccak(b"spec"), secret_hash=HOLDER_HASH)
    assert info.value.error_name == "ERC1155InsufficientBalance"
    with pytest.raises(ValueError, match="seller"):
        chain.claims.sign_order(roles.consumer, _order(chain, roles.provider, series_id, 1))

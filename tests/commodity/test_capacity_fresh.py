"""Capacity that stays true, on a real Anvil: a verified figure expires ``capacity_reattest_period``
after its attestation (series refused while stale, ``ccm capacity show`` says so), an attestation
binds the dtype, the advert and the GPU UUIDs, and a UUID another provider holds is refused."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.chain.chain import Chain
from node.chain.errors import ContractRevert
from node.chain.registry import Role
from node.claims.capacity import attest_capacity, devnet_verify
from node.claims.pricing import gpu_class_id
from node.cli import main
from tests.chain.helpers import STAKE, Roles, register_roles
from tests.cli import ccm_json
from tests.roles.conftest import Nodes

UUID = "GPU-4f0c8e2a-0000-1111-2222-333344445555"
PROVIDER, VERIFIER = "2", "3"


@pytest.fixture
def roles(chain: Chain, dev_accounts: tuple[LocalAccount, ...]) -> Roles:
    return register_roles(chain, dev_accounts, verifiers=1)


def _series(chain: Chain, provider: LocalAccount) -> int:
    now = chain.client.timestamp()
    return chain.claims.create_series(
        provider, gpu_class=gpu_class_id("H100"), floor=400, window_start=now + 3600,
        window_end=now + 7200, supply=1, collateral_per_token=10**18,
    )  # fmt: skip


def test_figure_expires_and_a_fresh_one_is_needed_for_series(chain: Chain, roles: Roles) -> None:
    period = chain.capacity.reattest_period()
    assert period == 30 * 86_400  # the devnet's (DeployParams.capacity_reattest_period)
    verified = devnet_verify(
        chain, roles.verifiers[0], provider=roles.provider.address, gpu_class="H100", gpus=2,
        gflops_per_gpu=60_000,
    )  # fmt: skip
    assert verified.expires_at == verified.attested_at + period
    assert verified.fresh(chain.client.timestamp())
    _series(chain, roles.provider)
    chain.increase_time(period)
    stale = chain.capacity.capacity_of(roles.provider.address, gpu_class_id("H100"))
    assert stale.gpus == 2 and not stale.fresh(chain.client.timestamp())
    with pytest.raises(ContractRevert) as refused:
        _series(chain, roles.provider)
    assert refused.value.error_name == "CapacityClaims_StaleCapacity"
    assert refused.value.error_args["expiresAt"] == verified.expires_at
    # The same figure re-attested after expiry is a raise: it applies after the dispute window.
    again = devnet_verify(
        chain, roles.verifiers[0], provider=roles.provider.address, gpu_class="H100", gpus=2,
        gflops_per_gpu=60_000,
    )  # fmt: skip
    assert again.attestation_id != verified.attestation_id and again.fresh(chain.client.timestamp())
    _series(chain, roles.provider)


def test_attestation_binds_dtype_advert_and_gpu_uuid(chain: Chain, roles: Roles) -> None:
    attested = attest_capacity(
        chain, roles.verifiers[0], provider=roles.provider.address, gpu_class="H100", gpus=1,
        gflops_per_gpu=400_000, evidence=keccak(b"transcript"), dtype="bfloat16", gpu_uuids=[UUID],
    )  # fmt: skip
    record = chain.capacity.attestation(attested.attestation_id)
    assert record.dtype == "bfloat16"
    # The advert defaults to the one the provider registered on chain.
    assert attested.advert_hash == "0x" + chain.registry.staker(roles.provider.address).advert_hash.hex()
    assert attested.gpu_uuids == (UUID,)
    assert chain.capacity.gpu_holder(UUID) == roles.provider.address
    # Another provider declaring the same UUID is refused while the holder's figure is fresh.
    squatter = roles.outsider
    chain.registry.stake_and_register(
        squatter, STAKE, Role.PROVIDER, b"peer-squatter", keccak(b"copied advert")
    )
    with pytest.raises(ContractRevert) as held:
        attest_capacity(
            chain, roles.verifiers[0], provider=squatter.address, gpu_class="H100", gpus=1,
            gflops_per_gpu=400_000, evidence=keccak(b"copy"), dtype="bfloat16", gpu_uuids=[UUID],
        )  # fmt: skip
    assert held.value.error_name == "CapacityRegistry_GpuHeld"
    assert held.value.error_args["holder"] == roles.provider.address
    # Once that figure is stale the UUID is free (the holder was not re-challenged).
    chain.increase_time(chain.capacity.reattest_period())
    assert chain.capacity.gpu_holder(UUID) is None
    attest_capacity(
        chain, roles.verifiers[0], provider=squatter.address, gpu_class="H100", gpus=1,
        gflops_per_gpu=400_000, evidence=keccak(b"own"), dtype="bfloat16", gpu_uuids=[UUID],
    )  # fmt: skip
    assert chain.capacity.gpu_holder(UUID) == squatter.address


def test_ccm_capacity_show_and_attest_with_uuid(
    capsys: pytest.CaptureFixture[str], chain: Chain, nodes: Nodes, roles: Roles
) -> None:
    home = nodes.home("cli")
    provider = roles.provider.address
    advert = "0x" + keccak(b"the advert challenged").hex()
    attested = ccm_json(
        capsys, home, "capacity", "attest", provider, "--gpu-class", "H100", "--gflops", "60000",
        "--dtype", "float32", "--advert-hash", advert, "--gpu-uuid", UUID, "--account-index", VERIFIER,
    )  # fmt: skip
    assert (attested["advert_hash"], attested["gpu_uuids"], attested["dtype"]) == (advert, [UUID], "float32")
    chain.increase_time(61)
    attestation = str(attested["attestation_id"])
    ccm_json(capsys, home, "capacity", "finalize", attestation, "--account-index", VERIFIER)
    shown = ccm_json(capsys, home, "capacity", "show", provider, "--gpu-class", "H100")
    assert shown["fresh"] is True and shown["expires_at"] == shown["attested_at"] + 30 * 86_400
    assert main(["capacity", "show", provider, "--gpu-class", "H100", "--home", str(home)]) == 0
    assert "fresh until" in capsys.readouterr().out
    chain.increase_time(30 * 86_400)
    assert ccm_json(capsys, home, "capacity", "show", provider, "--gpu-class", "H100")["fresh"] is False
    assert main(["capacity", "show", provider, "--gpu-class", "H100", "--home", str(home)]) == 0
    assert "STALE since" in capsys.readouterr().out
    # Too many UUIDs for the GPUs verified: refused before any transaction, in one line.
    code = main([
        "capacity", "attest", provider, "--gpu-class", "H100", "--gflops", "60000", "--gpu-uuid", UUID,
        "--gpu-uuid", "GPU-other", "--account-index", VERIFIER, "--home", str(home),
    ])  # fmt: skip
    assert code == 1 and "--gpu-uuid: 2 GPU UUIDs for 1 GPUs verified" in capsys.readouterr().err

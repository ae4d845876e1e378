"""Deploying the five contracts from Python (web3 + the Forge artifacts): the one deploy path.

Order: ComputeToken (minted to the given holders) → StakingRegistry → JobMarket →
``registry.setMarket`` → CapacityRegistry → ``registry.setCapacityRegistry`` → CapacityClaims →
``market.setClaims``. The deployer
must be the account that sends every step (the one-shot setters check it).

:class:`DeployParams` holds every parameter with its default; the defaults are devnet values
(every job audited, windows of a minute) so a demo runs in seconds. A real deployment passes its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from eth_account.signers.local import LocalAccount

from node.chain.artifacts import load_artifact
from node.chain.client import ChainClient
from node.chain.contract import BoundContract
from node.chain.deployment import Deployment
from node.chain.token import TOKEN


@dataclass(frozen=True, kw_only=True)
class DeployParams:
    """Deployment parameters; money in the token's smallest unit, durations in seconds.

    Token:
      ``mint_per_holder`` — minted to each holder (devnet: each of Anvil's 10 dev accounts).
    Registry:
      ``min_provider_stake`` / ``min_verifier_stake`` — stake needed for each role;
      ``unbond_delay`` — seconds from unbond request to withdrawal; a staker drawn for an audit or a
      panel cannot withdraw before that job ends whatever the delay (the registry's duty counter).
    Market (``IJobMarket.Params``):
      ``audit_probability_bps`` — 10_000 = every committed job is audited (devnet default);
      ``protocol_fee_bps`` — share of the price paid to the auditing verifier (or the pool);
      ``accuser_reward_bps`` — share of a cheater's collateral paid to the accusing verifier;
      ``pool_share_bps`` — share of the reward pool paid to a verifier whose verdict stands;
      ``samples_k`` — units sampled per audit; ``panel_size`` — verifiers drawn for a contest;
      ``attest_window`` / ``contest_window`` / ``vote_window`` — step deadlines (a panel commits its
      ballots within ``vote_window``);
      ``reveal_window`` — seconds for each reveal: the consumer's audit secret after the commitment,
      then the provider's (which draws the audit), then the panel's ballots after the vote window;
      ``contest_bond`` — what a provider posts to contest a fail;
      ``false_accuser_slash`` — stake taken from a verifier whose fail is overturned;
      ``absent_verifier_slash`` — stake taken from a drawn verifier that never attests, and per seat
      from a panel member that reveals no ballot;
      ``min_fee`` — least protocol fee of a job (what pays its auditor; a redeemed claim's job pays it
      as its whole price); ``min_collateral`` — least provider collateral of a job.
    Capacity registry (verified capacity that caps claim issuance):
      ``capacity_bond`` — what an attester, and a disputer, lock;
      ``capacity_dispute_window`` — seconds before a raise of verified capacity applies;
      ``capacity_vote_window`` — seconds a dispute panel commits its ballots; ``capacity_reveal_window``
      — seconds for each reveal step of a dispute (secrets, then ballots); ``capacity_panel_size`` — its
      seats; ``capacity_absent_slash`` — stake taken per seat from a member that reveals no ballot;
      ``capacity_reattest_period`` — seconds a verified figure stays fresh after its attestation
      (longer than ``capacity_dispute_window``): claim series need a fresh figure.
    """

    mint_per_holder: int = 1_000_000 * TOKEN
    min_provider_stake: int = 100 * TOKEN
    min_verifier_stake: int = 100 * TOKEN
    unbond_delay: int = 600
    audit_probability_bps: int = 10_000
    protocol_fee_bps: int = 500
    accuser_reward_bps: int = 2_000
    pool_share_bps: int = 1_000
    samples_k: int = 4
    panel_size: int = 3
    attest_window: int = 60
    contest_window: int = 60
    vote_window: int = 60
    reveal_window: int = 60
    contest_bond: int = 10 * TOKEN
    false_accuser_slash: int = 50 * TOKEN
    absent_verifier_slash: int = 10 * TOKEN
    min_fee: int = TOKEN // 100_000
    min_collateral: int = TOKEN // 100_000
    capacity_bond: int = 10 * TOKEN
    capacity_dispute_window: int = 60
    capacity_vote_window: int = 60
    capacity_reveal_window: int = 60
    capacity_panel_size: int = 3
    capacity_absent_slash: int = 10 * TOKEN
    capacity_reattest_period: int = 30 * 86_400

    def market_params(self) -> tuple[int, ...]:
        """The ``IJobMarket.Params`` tuple, in struct order."""
        return (
            self.audit_probability_bps,
            self.protocol_fee_bps,
            self.accuser_reward_bps,
            self.pool_share_bps,
            self.samples_k,
            self.panel_size,
            self.attest_window,
            self.contest_window,
            self.vote_window,
            self.reveal_window,
            self.contest_bond,
            self.false_accuser_slash,
            self.absent_verifier_slash,
            self.min_fee,
            self.min_collateral,
        )


def deploy_all(
    client: ChainClient,
    deployer: LocalAccount,
    *,
    holders: Sequence[str],
    params: DeployParams,
    devnet: bool,
) -> Deployment:
    """Deploy and wire the five contracts; returns the deployment record (not yet saved)."""
    first_block = client.block_number() + 1
    token = client.deploy(deployer, load_artifact("ComputeToken"), list(holders), params.mint_per_holder)
    token_addr = token.contract_address
    registry = client.deploy(
        deployer,
        load_artifact("StakingRegistry"),
        token_addr,
        params.min_provider_stake,
        params.min_verifier_stake,
        params.unbond_delay,
    )
    registry_addr = registry.contract_address
    market = client.deploy(
        deployer, load_artifact("JobMarket"), token_addr, registry_addr, params.market_params()
    )
    market_addr = market.contract_address
    assert token_addr and registry_addr and market_addr  # deploy() raises otherwise
    BoundContract.named(client, "StakingRegistry", registry_addr).transact(deployer, "setMarket", market_addr)
    capacity = client.deploy(
        deployer,
        load_artifact("CapacityRegistry"),
        token_addr,
        registry_addr,
        params.capacity_bond,
        params.capacity_dispute_window,
        params.capacity_vote_window,
        params.capacity_reveal_window,
        params.capacity_panel_size,
        params.capacity_absent_slash,
        params.capacity_reattest_period,
    )
    capacity_addr = capacity.contract_address
    assert capacity_addr
    BoundContract.named(client, "StakingRegistry", registry_addr).transact(
        deployer, "setCapacityRegistry", capacity_addr
    )
    claims = client.deploy(
        deployer, load_artifact("CapacityClaims"), token_addr, registry_addr, market_addr, capacity_addr
    )
    claims_addr = claims.contract_address
    assert claims_addr and capacity_addr
    BoundContract.named(client, "JobMarket", market_addr).transact(deployer, "setClaims", claims_addr)
    return Deployment(
        chain_id=client.chain_id,
        rpc_url=client.rpc_url,
        contracts={
            "ComputeToken": token_addr,
            "StakingRegistry": registry_addr,
            "JobMarket": market_addr,
            "CapacityRegistry": capacity_addr,
            "CapacityClaims": claims_addr,
        },
        deploy_block=first_block,
        devnet=devnet,
        params=asdict(params),
    )

"""Confirmations: how deep a block is, waiting until it is deep enough, and the confirmed deploy.

Counting follows the usual convention: a transaction in the head block has 1 confirmation, so
``confirmations = 1`` (the config default) acts on inclusion and suits a chain that mines on demand;
a real chain wants more (``[chain] confirmations``). A block is *confirmed* at depth ``c`` when
``head - block + 1 >= c`` and its hash is still the one the caller saw: a reorg that replaced it
raises :class:`~node.chain.errors.NotConfirmed` rather than counting the new block's depth.

:func:`deploy_confirmed` is what ``ccm chain deploy`` and ``ccm devnet up`` call: the one deploy
path (:func:`node.chain.deploy.deploy_all`), then a wait for the confirmations, then a check that
every contract has code and the record of the chain it was deployed on (block hash, block time).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Sequence

from eth_account.signers.local import LocalAccount

from node.chain.client import ChainClient, Receipt
from node.chain.deploy import DeployParams, deploy_all
from node.chain.deployment import Deployment
from node.chain.errors import ChainReset, NotConfirmed, TxDropped

#: Pause between head checks while waiting on a chain that mines on demand (block time 0).
ON_DEMAND_POLL_S = 0.2


def confirmations_of(client: ChainClient, block: int, *, head: int | None = None) -> int:
    """How many confirmations ``block`` has (0 if it is above the head)."""
    head = client.block_number() if head is None else head
    return max(0, head - block + 1)


def wait_confirmed(
    client: ChainClient,
    block: int,
    block_hash: str,
    *,
    confirmations: int,
    block_time_s: float,
    timeout: float,
) -> int:
    """Wait until ``block`` (whose hash was ``block_hash``) has ``confirmations``; returns the count.

    Polls once per block time. Raises NotConfirmed when the time runs out or the block at that
    height is no longer ``block_hash`` (a reorg dropped it).
    """
    deadline = time.monotonic() + timeout
    pause = block_time_s if block_time_s > 0 else ON_DEMAND_POLL_S
    while True:
        seen = confirmations_of(client, block)
        if seen >= confirmations:
            now = client.block(block)
            if now is None or now.hash != block_hash:
                raise NotConfirmed(
                    f"block {block} was replaced by a reorg before {confirmations} confirmations",
                    block=block,
                    wanted=confirmations,
                    seen=0,
                )
            return seen
        if time.monotonic() >= deadline:
            raise NotConfirmed(
                f"block {block} has {seen} of {confirmations} confirmations after {timeout:g} s",
                block=block,
                wanted=confirmations,
                seen=seen,
            )
        time.sleep(pause)


def wait_receipts(
    client: ChainClient,
    receipts: Sequence[Receipt],
    *,
    confirmations: int,
    block_time_s: float,
    timeout: float | None = None,
) -> int | None:
    """Wait until every one of ``receipts`` has ``confirmations``; the fewest seen (``None``: no
    receipts, nothing to wait for).

    A transaction a reorg moved to another block is followed there (its new block counts) unless it
    reverted there; one the chain no longer holds is waited for while the endpoint still knows it
    (back in its pool). Either way of losing it raises :class:`TxDropped`: what it did is not on the
    chain. ``timeout``
    defaults to 10 blocks more than needed (at least 60 s); NotConfirmed when it runs out.
    """
    if not receipts:
        return None
    if timeout is None:
        timeout = max(60.0, (confirmations + 10) * block_time_s)
    deadline = time.monotonic() + timeout
    pause = block_time_s if block_time_s > 0 else ON_DEMAND_POLL_S
    current = list(receipts)
    while True:
        head = client.block_number()
        pending = False
        for n, receipt in enumerate(current):
            header = client.block(receipt.block_number)
            if header is not None and header.hash == receipt.block_hash:
                continue
            moved = client.receipt(receipt.tx_hash)
            if moved is not None and not moved.succeeded:
                raise TxDropped(
                    f"transaction {receipt.tx_hash} was mined again after a reorg (block "
                    f"{moved.block_number}) and reverted there: what it did is not on the chain",
                    tx_hash=receipt.tx_hash,
                    block=receipt.block_number,
                    wanted=confirmations,
                )
            if moved is not None:
                current[n] = moved
            elif client.known(receipt.tx_hash):
                pending = True  # back in the pool: it may be mined again
            else:
                raise TxDropped(
                    f"transaction {receipt.tx_hash} (block {receipt.block_number}) was dropped by a "
                    "reorg: the chain no longer has what it did",
                    tx_hash=receipt.tx_hash,
                    block=receipt.block_number,
                    wanted=confirmations,
                )
        seen = 0 if pending else min(confirmations_of(client, r.block_number, head=head) for r in current)
        if seen >= confirmations:
            return seen
        if time.monotonic() >= deadline:
            raise NotConfirmed(
                f"the transactions have {seen} of {confirmations} confirmations after {timeout:g} s",
                block=max(r.block_number for r in current),
                wanted=confirmations,
                seen=seen,
            )
        time.sleep(pause)


def check_deploy_block(client: ChainClient, deployment: Deployment) -> None:
    """Raise ChainReset when the endpoint's ``deploy_block`` is not the recorded one (no-op for a
    record without a hash)."""
    if not deployment.deploy_block_hash:
        return
    block = client.block(deployment.deploy_block)
    actual = block.hash if block is not None else "0x(none)"
    if actual != deployment.deploy_block_hash:
        raise ChainReset(block=deployment.deploy_block, expected=deployment.deploy_block_hash, actual=actual)


def deploy_confirmed(
    client: ChainClient,
    deployer: LocalAccount,
    *,
    holders: Sequence[str],
    params: DeployParams,
    devnet: bool,
    confirmations: int,
    block_time_s: float,
    timeout: float | None = None,
) -> tuple[Deployment, int]:
    """Deploy through :func:`deploy_all`, wait for ``confirmations`` on the last step, check the code.

    Returns ``(deployment, confirmations seen)``; the record carries the deploy block's hash,
    ``block_time_s`` and a random ``instance`` id. ``timeout`` defaults to a generous 10 blocks more
    than needed (at least 60 s).
    """
    deployment = deploy_all(client, deployer, holders=holders, params=params, devnet=devnet)
    last = client.block("latest")
    assert last is not None
    if timeout is None:
        timeout = max(60.0, (confirmations + 10) * block_time_s)
    seen = wait_confirmed(
        client,
        last.number,
        last.hash,
        confirmations=confirmations,
        block_time_s=block_time_s,
        timeout=timeout,
    )
    for name, address in deployment.contracts.items():
        if not client.code_at(address):
            raise NotConfirmed(
                f"{name} at {address} has no code after {seen} confirmations (dropped by a reorg?)",
                block=last.number,
                wanted=confirmations,
                seen=seen,
            )
    first = client.block(deployment.deploy_block)
    assert first is not None
    record = dataclasses.replace(
        deployment, deploy_block_hash=first.hash, block_time_s=block_time_s, instance=secrets.token_hex(8)
    )
    return record, seen

"""``ccm chain deploy``: deploy the contracts to any EVM chain by its URL and write the record.

The same deploy path as ``ccm devnet up`` (:func:`node.chain.confirm.deploy_confirmed`): the five
contracts, then a wait for ``[chain] confirmations``, then the record (chain id, addresses, deploy
block and its hash, block time, every parameter) in ``<home>/deployment.json`` or ``--out``. Copy
that file into each node's home (``[chain] deployment``) to run the roles against the chain.

Parameters: the production preset (:mod:`node.chain.params`) with its windows derived from the
chain's block time, measured over the last blocks unless ``--block-time`` says it; ``--params FILE``
overrides any of them. The signer is the keystore (``--keystore``, default ``[chain] keystore``;
password from ``$CCM_PASSWORD`` or a prompt), or ``--dev-account N`` — a PUBLIC Anvil/Hardhat key,
accepted only on chain id 31337 or with ``[node] devnet = true``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from node.cli._output import emit_json, table
from node.cli._parsers import command_group

#: The chain id Anvil and Hardhat use for a local chain; the only one dev keys are taken for.
LOCAL_CHAIN_ID = 31337


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    sub = command_group(subparsers, "chain", parents=parents, help="deploy to an EVM chain", metavar="ACTION")
    dep = sub.add_parser("deploy", parents=parents, help="deploy the contracts and write deployment.json")
    dep.add_argument("--rpc-url", help="JSON-RPC endpoint (default: [chain] rpc_url)")
    dep.add_argument("--keystore", type=Path, help="deployer keystore (default: [chain] keystore)")
    dep.add_argument("--dev-account", type=int, help="sign with the PUBLIC dev key N (local chains only)")
    dep.add_argument("--params", type=Path, help="params file (TOML or JSON) over the production preset")
    dep.add_argument("--block-time", type=float, help="seconds per block (default: measured on the chain)")
    dep.add_argument("--holder", action="append", help="who gets the initial supply (default: deployer)")
    dep.add_argument("--confirmations", type=int, help="blocks to wait (default: [chain] confirmations)")
    dep.add_argument("--out", type=Path, help="where to write the record (default: [chain] deployment)")
    dep.add_argument("--force", action="store_true", help="overwrite an existing record")
    dep.add_argument("--json", action="store_true", help="print one JSON object")
    dep.set_defaults(func=_deploy)


def _deploy(args: argparse.Namespace) -> int:
    from node.chain.accounts import devnet_account, load_keystore, read_password
    from node.chain.client import ChainClient
    from node.chain.confirm import deploy_confirmed
    from node.chain.params import load_params_file, measure_block_time, production_params
    from node.config import load_config
    from node.errors import ConfigError

    config = load_config(args.home)
    rpc_url = args.rpc_url or config.chain.rpc_url
    if not rpc_url:
        raise ConfigError("no chain endpoint: pass --rpc-url or set [chain] rpc_url")
    out = args.out if args.out is not None else config.deployment_path
    if out.exists() and not args.force:
        raise ConfigError(f"{out} exists: pass --force to replace it, or --out another file")
    confirmations = config.chain.confirmations if args.confirmations is None else args.confirmations
    if confirmations < 1:
        raise ConfigError(f"--confirmations must be at least 1, got {confirmations}")
    client = ChainClient.from_config(config.chain, rpc_url=rpc_url)
    chain_id = client.chain_id
    if args.dev_account is not None:
        if chain_id != LOCAL_CHAIN_ID and not config.node.devnet:
            raise ConfigError(
                f"--dev-account is a PUBLIC key: refused on chain {chain_id} (set [node] devnet = true "
                "for a private test chain)"
            )
        deployer = devnet_account(args.dev_account, devnet=True)
    else:
        keystore = args.keystore if args.keystore is not None else config.keystore_path
        deployer = load_keystore(keystore, read_password())
    measured = measure_block_time(client) if args.block_time is None else args.block_time
    if args.params is not None:
        params, block_time = load_params_file(args.params, block_time_s=measured)
    else:
        params, block_time = production_params(measured), measured
    holders = args.holder or [str(deployer.address)]
    if not args.json:
        print(f"deploying to chain {chain_id} at {rpc_url} from {deployer.address}", file=sys.stderr)
    deployment, seen = deploy_confirmed(
        client,
        deployer,
        holders=holders,
        params=params,
        devnet=False,
        confirmations=confirmations,
        block_time_s=block_time,
    )
    deployment.save(out)
    if args.json:
        emit_json({**deployment.to_json(), "confirmations": seen, "out": str(out)})
        return 0
    print(f"deployed on chain {chain_id} ({seen} confirmations), block time {block_time:g} s; wrote {out}")
    rows = [[n, a] for n, a in sorted(deployment.contracts.items())]
    print(table(["contract", "address"], rows))
    return 0

"""``ccm capacity …``: verified capacity on chain (``CapacityRegistry``), which caps claim issuance.

- ``attest PROVIDER --gpu-class C --gpus N --gflops G [--dtype float32] [--evidence 0x…]
  [--advert-hash 0x…] [--gpu-uuid UUID]… [--failed]``: a staked verifier posts a capacity-challenge
  result with its bond. ``--gflops`` is the measured figure per GPU in ``--dtype`` (``ccm market
  challenge`` prints it, with the advert hash and GPU UUIDs of the offer it challenged); the H100e
  factor is computed with ``tokenomics.normalized``. ``--advert-hash`` defaults to the advert the
  provider registered on chain; each ``--gpu-uuid`` (NVML UUID, as ``ccm provider probe`` prints it)
  is bound to this provider in the registry while its figure is fresh. ``--failed`` posts a failed
  challenge (0 GPUs), which applies at once. A raise applies after the dispute window: ``finalize``.
- ``finalize ID``: ends an attestation once its dispute window (or its panel's vote) is over.
- ``show PROVIDER --gpu-class C``: the capacity in force, until when it is fresh (a stale figure backs
  no new series until re-attested) and the GPUs already reserved now.

Signing account: as for every role (``--account-index N`` on a devnet, else this home's account).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from node.cli._confirm import add_confirmations_option, confirm_sent, confirmations_text
from node.cli._output import emit_json
from node.cli._parsers import command_group


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``ccm capacity`` and its subcommands."""
    sub = command_group(
        subparsers, "capacity", parents=parents, help="verified capacity on chain (caps claims)"
    )

    def common(p: argparse.ArgumentParser, *, signer: bool = True) -> None:
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--rpc-url", help="override the deployment's RPC endpoint")
        if signer:
            p.add_argument("--account-index", type=int, help="devnet only: sign with this PUBLIC dev account")
            add_confirmations_option(p)

    p = sub.add_parser("attest", parents=parents, help="verifier: post a capacity-challenge result, bonded")
    p.add_argument("provider", help="the provider's address (0x…)")
    p.add_argument("--gpu-class", required=True, help="GPU class, e.g. H100")
    p.add_argument("--gpus", type=int, default=1, help="GPUs verified (default 1)")
    p.add_argument("--gflops", type=int, required=True, help="measured GFLOP/s per GPU")
    p.add_argument("--dtype", default="float32", help="dtype of the measurement (default float32)")
    p.add_argument("--evidence", help="0x hash of the challenge transcript (default: hash of these figures)")
    p.add_argument("--advert-hash", help="0x hash of the advert challenged (default: the one on chain)")
    p.add_argument("--gpu-uuid", action="append", default=[], help="an NVML UUID of the advert (repeatable)")
    p.add_argument("--failed", action="store_true", help="the challenge failed: post 0 GPUs")
    common(p)
    p.set_defaults(func=_attest)

    p = sub.add_parser("finalize", parents=parents, help="end an attestation after its dispute window")
    p.add_argument("id", type=int, help="attestation id")
    common(p)
    p.set_defaults(func=_finalize)

    p = sub.add_parser("show", parents=parents, help="capacity in force for a provider and class")
    p.add_argument("provider", help="the provider's address (0x…)")
    p.add_argument("--gpu-class", required=True, help="GPU class, e.g. H100")
    common(p, signer=False)
    p.set_defaults(func=_show)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _address(text: str) -> str:
    from eth_utils import is_address, to_checksum_address

    from node.claims.errors import ClaimsInputError

    if not is_address(text):
        raise ClaimsInputError("PROVIDER", f"{text!r} is not an address")
    return str(to_checksum_address(text))


def _attest(args: argparse.Namespace) -> int:
    from eth_utils import keccak

    from node.claims.capacity import attest_capacity
    from node.roles.context import open_context

    provider = _address(args.provider)
    gpus = 0 if args.failed else args.gpus
    if args.evidence is None:
        evidence = keccak(f"{provider} {args.gpu_class} {gpus} {args.gflops} {args.dtype}".encode())
    else:
        evidence = _hash32(args.evidence, "--evidence")
    advert = None if args.advert_hash is None else _hash32(args.advert_hash, "--advert-hash")
    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=_say)
    try:
        attested = attest_capacity(
            ctx.chain,
            ctx.account,
            provider=provider,
            gpu_class=args.gpu_class,
            gpus=gpus,
            gflops_per_gpu=args.gflops,
            evidence=evidence,
            dtype=args.dtype,
            advert_hash=advert,
            gpu_uuids=args.gpu_uuid,
            store=ctx.store,
        )
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
    finally:
        ctx.close()
    if args.json:
        emit_json({**attested.to_json(), "verifier": ctx.address, "confirmations": seen})
    else:
        state = (
            "in force now"
            if attested.applied
            else f"applies after {attested.dispute_end} (ccm capacity finalize)"
        )
        print(
            f"attestation {attested.attestation_id}: {provider} {gpus} x {attested.gpu_class} at "
            f"{attested.ppm_per_gpu / 1e6:g} H100e per GPU-hour; {state}" + confirmations_text(seen)
        )
    return 0


def _hash32(text: str, option: str) -> bytes:
    from node.claims.errors import ClaimsInputError

    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ClaimsInputError(option, "must be 0x + 64 hex digits")
    return raw


def _finalize(args: argparse.Namespace) -> int:
    from node.claims.capacity import finalize
    from node.roles.context import open_context

    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=_say)
    try:
        status = finalize(ctx.chain, ctx.account, args.id)
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
        record = ctx.chain.capacity.attestation(args.id)
    finally:
        ctx.close()
    result = {"id": args.id, "status": status.name.lower(), "applied": record.applied, "confirmations": seen}
    if args.json:
        emit_json(result)
    else:
        print(
            f"attestation {args.id}: {result['status']}"
            + (" (in force)" if record.applied else "")
            + confirmations_text(seen)
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from node.chain.chain import Chain
    from node.claims.pricing import gpu_class_id
    from node.cli.account import when

    provider = _address(args.provider)
    chain = Chain.from_home(args.home, rpc_url=args.rpc_url)
    class_id = gpu_class_id(args.gpu_class)
    cap = chain.capacity.capacity_of(provider, class_id)
    now = chain.client.timestamp()
    reserved = chain.claims.reserved_at(provider, class_id, now)
    result = {
        "provider": provider,
        "gpu_class": args.gpu_class.strip().upper(),
        "gpus": cap.gpus,
        "ppm_per_gpu": cap.ppm_per_gpu,
        "h100e_per_gpu_hour": cap.ppm_per_gpu / 1e6,
        "attestation": cap.attestation_id,
        "attested_at": cap.attested_at,
        "expires_at": cap.expires_at,
        "fresh": cap.fresh(now),
        "reserved_now": reserved,
    }
    if args.json:
        emit_json(result)
    else:
        if cap.attestation_id == 0:
            freshness = "never verified"
        elif cap.expires_at > now:
            freshness = f"fresh until {when(cap.expires_at)} (re-attest within {_span(cap.expires_at - now)})"
        else:
            freshness = f"STALE since {when(cap.expires_at)}: no new series until re-attested"
        print(
            f"{provider} {result['gpu_class']}: {cap.gpus} GPUs verified at {cap.ppm_per_gpu / 1e6:g} "
            f"H100e per GPU-hour (attestation {cap.attestation_id}); {freshness}; {reserved} reserved now"
        )
    return 0


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"

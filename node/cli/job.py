"""``ccm job …``: validate, hash and run job specs locally; buy them on the market.

- ``ccm job new KIND [--out SPEC] [--dtype D] [--tolerance T] [--max-… N] [--json] KIND-OPTIONS``: write
  a spec and put the blobs it names (model files, prompts, input files) into the home's blob store, so
  nobody hand-writes hashes; without ``--out`` the spec goes to stdout. The kind's own options come
  from its module in the kind registry (``ccm job new llm --help``), e.g. ``ccm job new llm --model
  DIR --prompts FILE [--max-new-tokens N]``.
- ``ccm job validate SPEC.json``: check the spec against the v1 schema (one line naming the bad field).
- ``ccm job hash SPEC.json``: print the keccak256 ``specHash`` of its canonical JSON.
- ``ccm job run SPEC.json --local [--device auto|cpu|cuda] [--blob FILE …] [--json]``: run every unit
  here and print the Merkle root, unit count and timings; progress goes to stderr. Blobs not given
  with ``--blob`` are read from the home's blob store (where ``ccm job new`` put them).

- ``ccm job submit SPEC.json [--max-price P] [--provider PEERID] [--peer ADDR …] [--blob FILE …]
  [--challenge] [--wait] [--json]``: find offers (``--challenge``: check each one's claimed capacity
  first; an offer that fails ranks last), pick the cheapest fitting one (then the best verified capacity),
  escrow the price on chain, have the provider accept; with ``--wait`` follow the job until it is
  final (outputs fetched and checked against the committed root, due chain steps taken). Progress on
  stderr; ``--json`` prints one JSON object (the job report) on stdout. ``--max-price`` and
  ``--collateral`` take base units or tokens (``2.5tok``).
- ``ccm job status ID [--json]``: the job's report from the chain (taking any step that is due).
- ``ccm job cancel ID``: take back the escrow of this home's job while no provider has accepted it.
- ``ccm job result ID [--out PATH]``: write the verified outputs, fetching them first if needed. An
  ``llm`` job: its completions as JSONL, one line a prompt ``{"tokens": [...]}`` (plus ``"text"`` when
  the spec named a ``tokenizer.json``), to ``--out FILE`` or stdout. Any other kind: one
  ``unit-NNNNN.bin`` per unit plus ``manifest.json`` (dtype, shape, hashes) in ``--out DIR``.

Blobs named by the spec are given as files (``--blob path``); each is keyed by its SHA-256, so a file
whose bytes do not match the digest in the spec is reported as a missing blob for that field.

Amounts: people read tokens (``units_to_tokens``); ``--json`` keeps every amount exact in base units
(10**18 per token), as ``ccm account`` does.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.cli._confirm import add_confirmations_option, confirm_sent, confirmations_text
from node.cli._output import emit_json, table
from node.cli._parsers import add_node_options, command_group
from node.errors import ConfigError, JobSpecError

if TYPE_CHECKING:  # node.workloads imports torch: only the handlers that need it import it
    from collections.abc import Callable, Sequence

    from node.blobs import BlobStore
    from node.roles.wire import UnitRef
    from node.workloads.spec import JobSpec


def _read_spec(path: Path) -> JobSpec:
    from node.workloads.spec import load_spec

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read spec {path}: {exc.strerror or exc}") from None
    return load_spec(data)


def _cmd_new(args: argparse.Namespace) -> int:
    import json

    from node.blobs import BlobStore
    from node.workloads import jobkinds
    from node.workloads.spec import DEFAULT_LIMITS, default_tolerance, parse_spec, spec_hash, to_dict

    kind = jobkinds.get(args.kind, field="KIND")
    p = argparse.ArgumentParser(
        prog=f"ccm job new {kind.name}", description=f"Write a {kind.name} job spec; store its blobs."
    )
    p.add_argument("--home", type=Path, default=args.home, help="node home whose blob store gets the blobs")
    p.add_argument("--out", type=Path, help="spec file to write (default: stdout)")
    p.add_argument("--json", action="store_true", help="print one JSON object (spec file, hash, blobs)")
    p.add_argument("--dtype", choices=kind.dtypes, default=kind.dtypes[0], help=f"default {kind.dtypes[0]}")
    p.add_argument("--tolerance", help="decimal string or rational (default: the dtype's recommended one)")
    for name, value in DEFAULT_LIMITS.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=value, help=f"default {value}")
    kind.add_new_arguments(p)
    ns = p.parse_args(args.rest)
    section, blobs = kind.new_section(ns)
    spec = parse_spec(
        {
            "version": 1,
            "kind": kind.name,
            "dtype": ns.dtype,
            "tolerance": ns.tolerance or default_tolerance(kind.name, ns.dtype),
            "limits": {name: getattr(ns, name) for name in DEFAULT_LIMITS},
            kind.name: section,
        }
    )
    store = BlobStore(ns.home / "blobs")
    for data in blobs.values():
        store.put(data)
    text = json.dumps(to_dict(spec), indent=2, sort_keys=True) + "\n"
    digest = "0x" + spec_hash(spec).hex()
    if ns.out is None:
        print(text, end="")
        return 0
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(text, encoding="utf-8")
    if ns.json:
        emit_json({"spec": str(ns.out), "kind": kind.name, "spec_hash": digest, "blobs": sorted(blobs)})
    else:
        print(f"{kind.name} spec written to {ns.out} (specHash {digest}); {len(blobs)} blob(s) stored")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from node.workloads.spec import spec_hash

    spec = _read_spec(args.spec)
    if args.json:
        emit_json({"valid": True, "kind": spec.kind, "spec_hash": "0x" + spec_hash(spec).hex()})
    else:
        print(f"valid {spec.kind} job spec (v{spec.version})")
    return 0


def _cmd_hash(args: argparse.Namespace) -> int:
    from node.workloads.spec import spec_hash

    digest = "0x" + spec_hash(_read_spec(args.spec)).hex()
    if args.json:
        emit_json({"spec_hash": digest})
    else:
        print(digest)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from node.workloads.runner import run_job

    if not args.local:
        raise JobSpecError("", "only local runs exist so far: pass --local")
    from node.blobs import BlobStore
    from node.workloads.spec import blob_fields

    spec = _read_spec(args.spec)
    blobs: dict[str, bytes] = {}
    for path in args.blob:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read blob {path}: {exc.strerror or exc}") from None
        blobs[hashlib.sha256(data).hexdigest()] = data
    store = BlobStore(args.home / "blobs") if (args.home / "blobs").is_dir() else None
    for digest in blob_fields(spec).values():
        if digest not in blobs and store is not None and store.has(digest):
            blobs[digest] = store.get(digest)

    from node.progress import Progress

    if args.json:
        result = run_job(spec, device=args.device, blobs=blobs, progress=None)
    else:
        with Progress(f"running {spec.kind} units locally") as shown:
            result = run_job(spec, device=args.device, blobs=blobs, progress=shown.counter())
    t = result.timings
    summary: dict[str, Any] = {
        "spec_hash": "0x" + result.spec_hash.hex(),
        "root": "0x" + result.root.hex(),
        "nUnits": result.n_units,
        "device": result.device,
        "output_bytes": sum(len(o[2]) for o in result.outputs),
        "timings": {"compute_s": t.compute_s, "hash_s": t.hash_s, "tree_s": t.tree_s, "wall_s": t.wall_s},
    }
    if args.json:
        emit_json(summary)
    else:
        rows = [
            ["specHash", summary["spec_hash"]],
            ["root", summary["root"]],
            ["nUnits", result.n_units],
            ["device", result.device],
            ["output bytes", summary["output_bytes"]],
            ["compute", f"{t.compute_s:.3f} s"],
            ["hashing (overlapped)", f"{t.hash_s:.3f} s"],
            ["tree", f"{t.tree_s:.4f} s"],
            ["wall", f"{t.wall_s:.3f} s"],
        ]
        print(table(["field", "value"], rows))
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    import functools

    import trio

    from node.claims.timespec import parse_money
    from node.roles.consumer import Consumer, NoOfferError, llm_model_card, rank_offers
    from node.roles.context import open_context, say_stderr
    from node.roles.outputs import unit_count
    from node.roles.runtime import run_trio, setup_logging
    from tokenomics.units import units_to_tokens as tok

    setup_logging("warning", debug=args.debug)
    spec = _read_spec(args.spec)
    wanted = (
        None if args.max_price is None else parse_money(args.max_price, field="--max-price", allow_zero=True)
    )
    collateral = None if args.collateral is None else parse_money(args.collateral, field="--collateral")
    say: Callable[[str], None] = say_stderr  # the steps go through a Progress once the job starts
    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=say)
    max_price = ctx.config.consumer.max_price if wanted is None else wanted
    wait_s = (
        args.offer_wait
        if args.offer_wait is not None
        else (0.0 if args.peer else ctx.config.consumer.offer_wait_s)
    )
    n_units = unit_count(spec)
    model = llm_model_card(spec, ctx.blobs, args.blob)
    try:

        async def main() -> dict[str, Any]:
            async with trio.open_nursery() as nursery:
                consumer = await nursery.start(
                    functools.partial(
                        Consumer(ctx, listen=args.listen, bootstrap=args.bootstrap, say=say).run
                    )
                )
                offers = await consumer.discover(peers=args.peer, wait_s=wait_s, challenge=args.challenge)
                ranked = rank_offers(
                    offers,
                    kind=spec.kind,
                    n_units=n_units,
                    max_price=max_price,
                    provider=args.provider,
                    prefer_verified=ctx.config.consumer.prefer_verified,
                    model=model,
                )
                if not ranked:
                    raise NoOfferError(
                        f"none of {len(offers)} live offers fits this {spec.kind} job of {n_units} units"
                        + (f" at most {tok(max_price)} tokens" if max_price else "")
                    )
                best = ranked[0]
                say(
                    f"chose {best.body.provider} at {tok(best.body.price_per_unit)} tokens per unit"
                    f" ({len(offers)} offers)"
                )
                job_id = await consumer.submit(spec, best, blob_files=args.blob, collateral=collateral)
                if args.wait:
                    report = await consumer.follow(job_id, timeout=args.timeout)
                else:
                    report = await consumer.report(job_id)
                nursery.cancel_scope.cancel()
            return report.to_dict()

        from node.progress import Progress

        with Progress(f"{spec.kind} job of {n_units} units") as shown:
            say = shown  # main() reads it when it runs: steps above a live bar on a terminal
            report = run_trio(main)
        report["confirmations"] = confirm_sent(ctx.chain, ctx.config, args.confirmations)
    finally:
        ctx.close()
    _print_report(report, as_json=args.json)
    return 0


REPORT_AMOUNTS = ("price", "collateral")
"""Fields of a job report in base units: printed in tokens for people, kept exact in ``--json``."""


def _print_report(report: dict[str, Any], *, as_json: bool) -> None:
    from tokenomics.units import units_to_tokens as tok

    if as_json:
        emit_json(report)
    else:
        rows = [[k, f"{tok(v)} tokens" if k in REPORT_AMOUNTS else v] for k, v in report.items()]
        print(table(["field", "value"], rows))


def _cmd_status(args: argparse.Namespace) -> int:
    from node.query.jobs import job_report
    from node.roles.context import open_context
    from node.roles.settle import advance

    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=lambda _l: None)
    try:
        if ctx.store.get_job(str(args.job_id)) is not None:
            advance(ctx.chain, ctx.account, args.job_id, store=ctx.store)
        report = job_report(ctx, args.job_id).to_dict()
    finally:
        ctx.close()
    _print_report(report, as_json=args.json)
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    from node.roles.consumer import Consumer
    from node.roles.context import open_context
    from node.roles.runtime import run_trio, setup_logging

    setup_logging("warning", debug=args.debug)
    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=lambda _l: None)
    try:
        job = ctx.chain.market.job(args.job_id)
        if job.consumer.lower() != ctx.address.lower():
            raise JobSpecError("", f"job {args.job_id} is not this node's ({ctx.address}) to cancel")

        async def main() -> bool:
            return await Consumer(ctx).cancel(args.job_id)

        cancelled = run_trio(main)
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
        status = ctx.chain.market.status_of(args.job_id).name.lower()
    finally:
        ctx.close()
    if args.json:
        emit_json({"job_id": args.job_id, "cancelled": cancelled, "status": status, "confirmations": seen})
    elif cancelled:
        print(f"job {args.job_id} cancelled; its escrow is back" + confirmations_text(seen))
    else:
        raise JobSpecError("", f"job {args.job_id} is {status}, not open: it cannot be cancelled")
    return 0


def _cmd_result(args: argparse.Namespace) -> int:
    import functools

    import trio

    from node.roles.consumer import Consumer
    from node.roles.context import open_context
    from node.roles.outputs import load_manifest
    from node.roles.runtime import run_trio, setup_logging
    from node.workloads.spec import load_spec

    setup_logging("warning", debug=args.debug)
    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=lambda _l: None)
    try:
        if load_manifest(ctx.home, args.job_id) is None:

            async def main() -> bool:
                async with trio.open_nursery() as nursery:
                    consumer = await nursery.start(functools.partial(Consumer(ctx, listen=args.listen).run))
                    ok = await consumer.fetch_outputs(args.job_id)
                    nursery.cancel_scope.cancel()
                return ok

            if not run_trio(main):
                raise JobSpecError(
                    "", f"job {args.job_id}: the provider's outputs do not match the committed root"
                )
        manifest = load_manifest(ctx.home, args.job_id)
        assert manifest is not None
        root, units = manifest
        record = ctx.store.get_job(str(args.job_id))
        spec = load_spec(record.spec_json) if record is not None else None
        if spec is not None and spec.kind == "llm":
            where = _write_completions(ctx.blobs, spec, units, args.out)
        else:
            where = _write_units(ctx.blobs, args.job_id, root, units, args.out, spec)
    finally:
        ctx.close()
    print(
        f"{len(units)} units of job {args.job_id} written to {where} (checked against root 0x{root.hex()})",
        file=sys.stderr if args.out is None else sys.stdout,
    )
    return 0


def _write_units(
    blobs: BlobStore,
    job_id: int,
    root: bytes,
    units: Sequence[UnitRef],
    out: Path | None,
    spec: JobSpec | None,
) -> str:
    """One ``unit-NNNNN.bin`` per unit plus ``manifest.json`` in the folder ``out``."""
    import json

    if out is None:
        kind = spec.kind if spec is not None else "this"
        raise JobSpecError("--out", f"a folder is needed for the unit files of {kind} job {job_id}")
    out.mkdir(parents=True, exist_ok=True)
    for i, unit in enumerate(units):
        (out / f"unit-{i:05d}.bin").write_bytes(blobs.get(unit.data_hash.hex()))
    doc = {
        "job_id": job_id,
        "root": "0x" + root.hex(),
        "units": [
            {
                "file": f"unit-{i:05d}.bin",
                "dtype": u.dtype,
                "shape": list(u.shape),
                "sha256": u.data_hash.hex(),
            }
            for i, u in enumerate(units)
        ],
    }
    (out / "manifest.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return str(out)


def _write_completions(blobs: BlobStore, spec: JobSpec, units: Sequence[UnitRef], out: Path | None) -> str:
    """An llm job's completions as JSONL (text too when the spec names a tokenizer.json) to ``out``
    or stdout."""
    import json

    from node.workloads.jobkinds.llm import LlmSpec
    from node.workloads.llm import completions

    assert isinstance(spec.body, LlmSpec)
    tokenizer = spec.body.file_map().get("tokenizer.json")
    if tokenizer is not None and not blobs.has(tokenizer):
        raise JobSpecError("llm.model.tokenizer.json", f"blob {tokenizer} is not in this home's blob store")
    lines = completions(
        [(u.dtype, u.shape, blobs.get(u.data_hash.hex())) for u in units],
        blobs.get(tokenizer) if tokenizer is not None else None,
    )
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    if out is None:
        sys.stdout.write(text)
        return "stdout"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return str(out)


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``ccm job`` and its subcommands."""
    sub = command_group(subparsers, "job", parents=parents, help="validate, hash and run job specs")

    p = sub.add_parser("new", parents=parents, help="write a spec, store its blobs (ccm job new KIND --help)")
    p.add_argument("kind", metavar="KIND", help="matmul, inference, train or llm")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the kind's options (ccm job new KIND --help)")
    p.set_defaults(func=_cmd_new)

    p = sub.add_parser("validate", parents=parents, help="check a spec against the v1 schema")
    p.add_argument("spec", type=Path, help="job spec JSON file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("hash", parents=parents, help="print the keccak256 specHash of a spec")
    p.add_argument("spec", type=Path, help="job spec JSON file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_hash)

    p = sub.add_parser("run", parents=parents, help="run a job and print its Merkle root")
    p.add_argument("spec", type=Path, help="job spec JSON file")
    p.add_argument("--local", action="store_true", help="run on this machine (required for now)")
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run (default auto)"
    )
    p.add_argument(
        "--blob", type=Path, action="append", default=[], help="a blob file the spec names (repeatable)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("submit", parents=parents, help="buy a job on the market")
    p.add_argument("spec", type=Path, help="job spec JSON file")
    add_node_options(p)
    p.add_argument(
        "--max-price",
        help="most to pay for the whole job: base units, or tokens as 2.5tok (default consumer.max_price)",
    )
    p.add_argument("--provider", help="only this provider (peer id or address)")
    p.add_argument("--peer", action="append", default=[], help="a provider's multiaddr to ask directly")
    p.add_argument("--blob", type=Path, action="append", default=[], help="an input blob file (repeatable)")
    p.add_argument(
        "--collateral",
        help="provider collateral to require: base units or tokens as 2.5tok (default: the price)",
    )
    p.add_argument("--offer-wait", type=float, help="seconds to collect gossiped offers")
    p.add_argument(
        "--challenge", action="store_true",
        help="put each offer's claimed capacity to a challenge before choosing (failed offers rank last)",
    )
    p.add_argument("--wait", action="store_true", help="follow the job until it is final")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds --wait may take (default 600)")
    p.add_argument("--json", action="store_true", help="print one JSON object (amounts in base units)")
    add_confirmations_option(p)
    p.set_defaults(func=_cmd_submit)

    p = sub.add_parser("status", parents=parents, help="a submitted job's state")
    p.add_argument("job_id", type=int, help="on-chain job id")
    p.add_argument("--account-index", type=int, help="DEVNET: use Anvil's PUBLIC dev account N")
    p.add_argument("--rpc-url", help="chain endpoint (default: the one in deployment.json)")
    p.add_argument("--json", action="store_true", help="print one JSON object (amounts in base units)")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("cancel", parents=parents, help="take back the escrow of a job nobody accepted")
    p.add_argument("job_id", type=int, help="on-chain job id")
    p.add_argument("--account-index", type=int, help="DEVNET: use Anvil's PUBLIC dev account N")
    p.add_argument("--rpc-url", help="chain endpoint (default: the one in deployment.json)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_confirmations_option(p)
    p.set_defaults(func=_cmd_cancel)

    p = sub.add_parser("result", parents=parents, help="write a job's verified outputs")
    p.add_argument("job_id", type=int, help="on-chain job id")
    p.add_argument(
        "--out", type=Path,
        help="llm: JSONL file of the completions (default stdout); other kinds: folder for the unit files",
    )  # fmt: skip
    p.add_argument("--account-index", type=int, help="DEVNET: use Anvil's PUBLIC dev account N")
    p.add_argument("--rpc-url", help="chain endpoint (default: the one in deployment.json)")
    p.add_argument("--listen", action="append", help="multiaddr to listen on")
    p.set_defaults(func=_cmd_result)

"""``ccm market offers [--challenge] [--json]``: the live offers table; ``ccm market challenge PEER``.

Offers come from gossip (heard for ``--wait`` seconds, default ``consumer.offer_wait_s``) and,
directly, from each ``--peer`` multiaddr; every one is checked like the gossip validator checks it
(signature, expiry, stake bound to the peer). Next to each provider's claimed fp32 figure stands
the figure its capacity challenges verified (from this node's store), and a failed challenge is
shown plainly. Rows are in the order ``ccm job submit`` chooses from (failed challenge last, then
price; :func:`node.roles.consumer.order_offers`). ``--challenge`` first puts every offer's claimed
figure to a capacity challenge.

``ccm market challenge MULTIADDR [--n N] [--threshold T] [--dtype D] [--json]`` asks that provider for
its offer, challenges the claimed figure in ``D`` (default fp32; any dtype the offer's signed probe
advertises) with a random matmul and a deadline (:mod:`node.roles.capacity`) and keeps an fp32
result in this home's store, where ``ccm market offers`` and ``ccm job submit`` find it. The JSON
answer carries what ``ccm capacity attest`` binds: ``dtype``, ``advert_hash`` and ``gpu_uuids``. A
failed challenge is a result (printed plainly, ``"passed": false``), not an error: exit 0.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from node.cli._market_index import add_index_parser
from node.cli._output import emit_json, table
from node.cli._parsers import add_node_options, command_group

if TYPE_CHECKING:
    from node.roles.consumer import FoundOffer


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    sub = command_group(subparsers, "market", parents=parents, help="what the market offers")
    offers = sub.add_parser("offers", parents=parents, help="live capacity offers with verified figures")
    add_node_options(offers)
    offers.add_argument("--peer", action="append", default=[], help="ask this provider directly (multiaddr)")
    offers.add_argument(
        "--wait", type=float, help="seconds to listen to gossip (default: consumer.offer_wait_s)"
    )
    offers.add_argument(
        "--challenge", action="store_true", help="challenge every offer's claimed capacity first"
    )
    offers.add_argument("--json", action="store_true", help="print one JSON object (amounts in base units)")
    offers.set_defaults(func=_offers)
    add_index_parser(sub, parents)

    challenge = sub.add_parser(
        "challenge", parents=parents, help="check a provider's claimed capacity with a timed matmul"
    )
    challenge.add_argument("peer", help="the provider's full multiaddr (with /p2p/<peer id>)")
    add_node_options(challenge)
    challenge.add_argument("--n", type=int, help="matrix size (default: about 0.5 s at the claimed speed)")
    challenge.add_argument(
        "--max-n", type=int, help="largest default size (default: verifier.challenge_n)"
    )
    challenge.add_argument(
        "--threshold", type=float, help="achieved/claimed to pass (default: verifier.challenge_threshold)"
    )
    challenge.add_argument(
        "--dtype", default="float32", help="dtype to challenge: any its probe advertises (default float32)"
    )
    challenge.add_argument("--json", action="store_true", help="print one JSON object")
    challenge.set_defaults(func=_challenge)


def _offers(args: argparse.Namespace) -> int:
    import functools

    import trio

    from node.roles.consumer import Consumer
    from node.roles.context import open_context
    from node.roles.runtime import run_trio, setup_logging

    setup_logging("warning", debug=args.debug)
    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=lambda _l: None)
    wait = ctx.config.consumer.offer_wait_s if args.wait is None else args.wait
    try:

        async def main() -> list[FoundOffer]:
            async with trio.open_nursery() as nursery:
                consumer = await nursery.start(
                    functools.partial(Consumer(ctx, listen=args.listen, bootstrap=args.bootstrap).run)
                )
                found = await consumer.discover(peers=args.peer, wait_s=wait, challenge=args.challenge)
                nursery.cancel_scope.cancel()
            return found

        found = run_trio(main)
    finally:
        ctx.close()
    from node.query.market import offer_rows

    rows = offer_rows(found, prefer_verified=ctx.config.consumer.prefer_verified)
    if args.json:
        emit_json({"offers": rows})
        return 0
    if not rows:
        print("no live offers")
        return 0
    from node.query.market import models_label
    from tokenomics.units import units_to_tokens as tok

    headers = [
        "provider", "peer", "tokens/unit", "device", "claimed GFLOP/s", "verified", "llm models", "expires in"
    ]  # fmt: skip
    print(
        table(
            headers,
            [
                [
                    r["provider"],
                    r["peer_id"][-12:],
                    tok(r["price_per_unit"]),
                    r["device"],
                    r["claimed_gflops"],
                    r["verified_label"],
                    models_label(r["llm"]),
                    f"{r['expires_in_s']} s",
                ]
                for r in rows
            ],
        )
    )
    return 0


def _challenge(args: argparse.Namespace) -> int:
    import functools

    import trio

    from node.roles.consumer import Consumer
    from node.roles.context import open_context, say_stderr
    from node.roles.runtime import run_trio, setup_logging

    setup_logging("warning", debug=args.debug)
    ctx = open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=lambda _l: None)
    say = (lambda _l: None) if args.json else say_stderr
    try:

        async def main() -> tuple[Any, Any]:
            async with trio.open_nursery() as nursery:
                node = Consumer(ctx, listen=args.listen, bootstrap=args.bootstrap, say=say)
                consumer = await nursery.start(functools.partial(node.run))
                offer = await consumer.offer_from(args.peer)
                given = {"max_n": args.max_n, "threshold": args.threshold}  # else the config's
                result = await consumer.challenge(
                    offer, dtype=args.dtype, n=args.n, **{k: v for k, v in given.items() if v is not None}
                )
                nursery.cancel_scope.cancel()
            return offer, result

        from node.progress import Progress

        if args.json:
            offer, result = run_trio(main)
        else:
            with Progress(f"capacity challenge of {args.peer.rsplit('/', 1)[-1][-12:]}"):
                offer, result = run_trio(main)
        figure = ctx.store.verified_figure(offer.peer_id)
    finally:
        ctx.close()
    doc = {
        "provider": offer.body.provider,
        "peer_id": offer.peer_id,
        "dtype": args.dtype,
        "claimed_gflops": result.advertised_gflops,
        "advert_hash": "0x" + offer.body.advert_hash.hex(),
        "gpu_uuids": list(offer.gpu_uuids()),
        "n": result.n,
        "achieved_gflops": result.achieved_gflops,
        "ratio": round(result.ratio, 4),
        "correct": result.correct,
        "in_time": result.in_time,
        "passed": result.passed,
        "reason": result.reason,
        "elapsed_s": round(result.elapsed_s, 4),
        "verified_label": figure.label,
    }
    if args.json:
        emit_json(doc)
    else:
        verdict = "PASSED" if result.passed else f"FAILED: {result.reason}"
        print(
            f"{offer.body.provider} (peer {offer.peer_id}): claimed {doc['claimed_gflops']} GFLOP/s, "
            f"achieved {result.achieved_gflops} GFLOP/s on a {result.n}x{result.n} {args.dtype} matmul "
            f"in {result.elapsed_s:.3f} s: {verdict}"
        )
        print(f"verified figure now: {figure.label}")
    return 0


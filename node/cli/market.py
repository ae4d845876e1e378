"""``ccm market offers [--json]``: the live offers table.

Offers come from gossip (heard for ``--wait`` seconds, default ``consumer.offer_wait_s``) and,
directly, from each ``--peer`` multiaddr; every one is checked like the gossip validator checks it
(signature, expiry, stake bound to the peer). Next to each provider's claimed fp32 figure stands
the figure its capacity challenges verified (from this node's store), and a failed challenge is
shown plainly.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from node.cli._output import emit_json, table
from node.cli.provider import add_node_options


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("market", parents=parents, help="what the market offers")
    sub = group.add_subparsers(dest="market_command", metavar="SUBCOMMAND")
    sub.required = True
    offers = sub.add_parser("offers", parents=parents, help="live capacity offers with verified figures")
    add_node_options(offers)
    offers.add_argument("--peer", action="append", default=[], help="ask this provider directly (multiaddr)")
    offers.add_argument(
        "--wait", type=float, help="seconds to listen to gossip (default: consumer.offer_wait_s)"
    )
    offers.add_argument("--json", action="store_true", help="print one JSON object")
    offers.set_defaults(func=_offers)


def _offers(args: argparse.Namespace) -> int:
    import functools

    import trio

    from node.roles.consumer import Consumer, FoundOffer
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
                found = await consumer.discover(peers=args.peer, wait_s=wait)
                nursery.cancel_scope.cancel()
            return found

        found = run_trio(main)
    finally:
        ctx.close()
    rows = [offer_row(o) for o in sorted(found, key=lambda o: (o.body.price_per_unit, o.peer_id))]
    if args.json:
        emit_json({"offers": rows})
        return 0
    if not rows:
        print("no live offers")
        return 0
    headers = ["provider", "peer", "price/unit", "device", "claimed GFLOP/s", "verified", "expires in"]
    print(
        table(
            headers,
            [
                [
                    r["provider"],
                    r["peer_id"][-12:],
                    r["price_per_unit"],
                    r["device"],
                    r["claimed_gflops"],
                    r["verified_label"],
                    f"{r['expires_in_s']} s",
                ]
                for r in rows
            ],
        )
    )
    return 0


def offer_row(offer: Any) -> dict[str, Any]:
    """One offer as a JSON-able row (claimed and verified capacity side by side)."""
    v = offer.verified
    return {
        "provider": offer.body.provider,
        "peer_id": offer.peer_id,
        "addrs": list(offer.body.addrs),
        "price_per_unit": offer.body.price_per_unit,
        "device": offer.body.device,
        "device_name": offer.body.device_name,
        "claimed_gflops": offer.body.gflops,
        "verified_gflops": v.verified_gflops,
        "challenges": v.challenges,
        "challenge_failed": v.failed,
        "verified_label": v.label,
        "max_units": offer.body.max_units,
        "kinds": list(offer.body.kinds),
        "expires_in_s": max(0, int(offer.envelope.expires - time.time())),
    }

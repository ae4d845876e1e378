"""``ccm claims …``: the forward-capacity claims market (ERC-1155 GPU-hours, EIP-712 sell orders).

- ``create --gpu-class C --window-start T --window-end T --supply N [--price P]
  [--collateral-per-token C] [--floor F] [--expiry T]``: provider; prices the series with tokenomics
  (forward curve floored at the reserve price; see ``node.claims.pricing``) unless ``--price``,
  locks the collateral (default: the price per token), mints, signs one order for the whole supply.
- ``list [--series ID] [--all]``: series (from the contract) and their live orders, best price first.
- ``buy SERIES --amount N [--max-price P]``: fills the cheapest live orders up to N.
- ``sell SERIES --amount N --price P [--expiry T]``: resale; signs an order.
- ``cancel ORDER``: cancels one of your orders on chain (ORDER is its 0x id from ``list``).
- ``redeem SERIES --amount N --job SPEC.json [--wait]``: during the window, burns claims for a
  prepaid job with the series' provider and hands it the spec over libp2p.

Where orders go: every order lands in this node's book (``<home>/node.db``); a running node on the
same home gossips it (its ``ClaimsService``). ``--peer MULTIADDR`` (repeatable; default: the
config's ``p2p.bootstrap``) pushes new orders to those peers now (create/sell), or fetches their
books first (list/buy). ``list`` and ``buy`` never trust the book: every order is checked against
the chain (signature, expiry, fills, cancellations, the seller's balance, the window).

Times: unix seconds, ISO dates (UTC unless a zone is given) or ``+30m``/``+1h``/``+30d`` from the
chain's current time. Money in: integers in the token's smallest unit, or ``2.5tok``; money out: tokens for
people, base units in ``--json`` (as ``ccm account``).
Signing account: as for every role (``node.roles.context``): ``--account-index N`` on a devnet, else
this home's devnet account or its keystore.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.cli._confirm import add_confirmations_option, confirm_sent, confirmations_text
from node.cli._output import emit_json, table
from node.cli._parsers import command_group
from tokenomics.units import units_to_tokens as tok

if TYPE_CHECKING:
    from node.chain.chain import Chain
    from node.chain.market import JobStatus
    from node.claims.book import OrderBook, OrderState
    from node.claims.orders import OrderMessage
    from node.roles.context import NodeContext
    from node.workloads.spec import JobSpec

# Heavy modules (web3, libp2p, tokenomics' numpy) are imported inside the handlers: every CLI module
# is imported for every command.


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``ccm claims`` and its subcommands."""
    sub = command_group(subparsers, "claims", parents=parents, help="trade and redeem future GPU-hours")

    def common(p: argparse.ArgumentParser, *, signer: bool = True, peers: bool = True) -> None:
        p.add_argument("--json", action="store_true", help="print one JSON object (amounts in base units)")
        p.add_argument("--rpc-url", help="override the deployment's RPC endpoint")
        if signer:
            p.add_argument("--account-index", type=int, help="devnet only: sign with this PUBLIC dev account")
            add_confirmations_option(p)
        if peers:
            p.add_argument(
                "--peer",
                action="append",
                default=None,
                metavar="MULTIADDR",
                help="peer to push orders to / fetch orders from (repeatable; default: p2p.bootstrap)",
            )

    p = sub.add_parser("create", parents=parents, help="provider: create a series and list it")
    p.add_argument("--gpu-class", required=True, help="GPU class, e.g. H100 (see `ccm econ forward`)")
    p.add_argument("--window-start", required=True, help="first second of the window (time forms above)")
    p.add_argument("--window-end", required=True, help="first second after the window")
    p.add_argument("--supply", required=True, help="GPU-hours (tokens) to mint")
    p.add_argument("--price", help="price per token (default: the tokenomics forward/reserve quote)")
    p.add_argument("--collateral-per-token", help="collateral locked per token (default: the price)")
    p.add_argument("--floor", type=int, default=0, help="measured-throughput floor of the class (default 0)")
    p.add_argument("--expiry", help="last second the order can be filled (default: end of the window)")
    p.add_argument(
        "--region", default="", help="declared jurisdiction code, e.g. DE, US-CA, EU (declared, not proven)"
    )
    common(p)
    p.set_defaults(func=_create)

    p = sub.add_parser("list", parents=parents, help="series and live orders, best price first")
    p.add_argument("--series", type=int, help="only this series")
    p.add_argument("--all", action="store_true", help="include series whose window has ended")
    p.add_argument("--region", help="only series that declare this region")
    common(p, signer=False)
    p.set_defaults(func=_list)

    p = sub.add_parser("buy", parents=parents, help="fill the cheapest live orders of a series")
    p.add_argument("series", help="series id")
    p.add_argument("--amount", required=True, help="claims (GPU-hours) to buy")
    p.add_argument("--max-price", help="highest price per token to pay")
    p.add_argument("--region", help="refuse the series unless it declares this region")
    common(p)
    p.set_defaults(func=_buy)

    p = sub.add_parser("sell", parents=parents, help="sign a (re)sale order for claims you hold")
    p.add_argument("series", help="series id")
    p.add_argument("--amount", required=True, help="claims to offer")
    p.add_argument("--price", required=True, help="price per token")
    p.add_argument("--expiry", help="last second the order can be filled (default: end of the window)")
    common(p)
    p.set_defaults(func=_sell)

    p = sub.add_parser("cancel", parents=parents, help="cancel one of your orders on chain")
    p.add_argument("order", help="order id (0x…, from `ccm claims list`)")
    common(p, peers=False)
    p.set_defaults(func=_cancel)

    p = sub.add_parser("redeem", parents=parents, help="during the window: claims -> a prepaid job")
    p.add_argument("series", help="series id")
    p.add_argument("--amount", required=True, help="claims to burn")
    p.add_argument("--job", required=True, type=Path, help="job spec JSON file")
    p.add_argument("--wait", action="store_true", help="wait until the job is final on chain")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits (default 600)")
    common(p)
    p.set_defaults(func=_redeem)


# --- helpers ------------------------------------------------------------------------------------


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _series_arg(text: str) -> int:
    from node.claims.timespec import parse_amount

    return parse_amount(text, field="SERIES")


def _context(args: argparse.Namespace) -> NodeContext:
    from node.roles.context import open_context

    return open_context(args.home, account_index=args.account_index, rpc_url=args.rpc_url, say=_say)


def _peers(args: argparse.Namespace, home: Path) -> list[str]:
    from node.config import load_config

    if args.peer:
        return list(args.peer)
    return list(load_config(home).p2p.bootstrap)


def _with_host(fn: Any) -> Any:
    """Run ``await fn(host)`` on a throw-away libp2p host (fresh key, loopback, no gossip)."""
    import functools

    import trio

    from node.p2p.host import Host
    from node.p2p.identity import generate_key_pair

    async def main() -> Any:
        host = Host(generate_key_pair())
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(host.run))
            try:
                return await fn(host)
            finally:
                nursery.cancel_scope.cancel()

    return trio.run(main)


def _push(orders: list[OrderMessage], peers: list[str]) -> dict[str, Any]:
    """Submit ``orders`` to each peer; a peer that cannot be reached is reported, not fatal."""
    from node.claims.service import submit_orders
    from node.errors import ProtocolError

    async def run(host: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for addr in peers:
            try:
                verdicts = await submit_orders(host, addr, orders)
                out[addr] = {v.order_hash: v.reason or "kept" for v in verdicts}
            except ProtocolError as err:
                out[addr] = {"error": str(err)}
                _say(f"peer {addr}: {err}")
        return out

    return _with_host(run) if peers and orders else {}


def _pull(book: OrderBook, chain: Chain, peers: list[str], series_id: int | None) -> int:
    """Fetch the peers' books and keep their live orders in ours; how many were new."""
    from node.claims.book import ChainView, check_order
    from node.claims.service import fetch_book
    from node.errors import ProtocolError

    async def run(host: Any) -> list[OrderMessage]:
        got: list[OrderMessage] = []
        for addr in peers:
            try:
                got.extend(await fetch_book(host, addr, series_id=series_id))
            except ProtocolError as err:
                _say(f"peer {addr}: {err}")
        return got

    if not peers:
        return 0
    view = ChainView(chain)
    new = 0
    for message in _with_host(run):
        state = check_order(view, message)
        if state.live and book.add(state.order_hash, message, source="peer", published=True):
            new += 1
    return new


def _order_row(o: OrderState) -> list[Any]:
    seller, expiry = o.message.seller, o.message.expiry
    return [o.order_hash[:18] + "…", o.series_id, tok(o.price), o.remaining, seller, expiry]


# --- handlers -----------------------------------------------------------------------------------


def _create(args: argparse.Namespace) -> int:
    from node.claims import market
    from node.claims.book import OrderBook
    from node.claims.timespec import parse_amount, parse_money, parse_time

    supply = parse_amount(args.supply, field="--supply")
    price = None if args.price is None else parse_money(args.price, field="--price")
    cpt = (
        None
        if args.collateral_per_token is None
        else parse_money(args.collateral_per_token, field="--collateral-per-token")
    )
    ctx = _context(args)
    try:
        now = ctx.chain.client.timestamp()
        start = parse_time(args.window_start, now=now, field="--window-start")
        end = parse_time(args.window_end, now=now, field="--window-end")
        expiry = None if args.expiry is None else parse_time(args.expiry, now=now, field="--expiry")
        book = OrderBook(ctx.store)
        created = market.create_series(
            ctx.chain,
            book,
            ctx.account,
            gpu_class=args.gpu_class,
            window_start=start,
            window_end=end,
            supply=supply,
            price=price,
            collateral_per_token=cpt,
            floor=args.floor,
            expiry=expiry,
            region=args.region,
        )
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
        pushed = _push([created.order.message], _peers(args, ctx.home))
    finally:
        ctx.close()
    q = created.quote
    result = {
        "series": created.series_id,
        "provider": ctx.address,
        "gpu_class": q.gpu_class,
        "window_start": start,
        "window_end": end,
        "supply": supply,
        "region": args.region.strip().upper(),
        "price_per_token": q.price_per_token,
        "basis": q.basis,
        "forward_usd": q.forward_usd,
        "reserve_usd": q.reserve_usd,
        "collateral_per_token": created.collateral_per_token,
        "collateral": supply * created.collateral_per_token,
        "order": created.order.order_hash,
        "pushed": pushed,
        "confirmations": seen,
    }
    if args.json:
        emit_json(result)
    else:
        print(
            f"series {created.series_id}: {supply} GPU-hours of {q.gpu_class}, window {start}..{end}"
            + confirmations_text(seen)
        )
        print(
            f"price {tok(q.price_per_token)} tokens per claim ({q.basis}), "
            f"collateral locked {tok(result['collateral'])} tokens"
        )
        print(
            f"order {created.order.order_hash} in the book"
            + (f"; pushed to {len(pushed)} peer(s)" if pushed else "")
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    from node.chain.chain import Chain
    from node.claims import market
    from node.claims.book import OrderBook
    from node.store import Store

    chain = Chain.from_home(args.home, rpc_url=args.rpc_url)
    store = Store.open(args.home)
    try:
        book = OrderBook(store)
        fetched = _pull(book, chain, _peers(args, args.home), args.series)
        infos = market.list_series(chain, book, include_ended=args.all, region=args.region)
    finally:
        store.close()
    if args.series is not None:
        infos = [i for i in infos if i.series.series_id == args.series]
    orders = sorted((o for i in infos for o in i.orders), key=lambda o: (o.price, o.order_hash))
    if args.json:
        emit_json(
            {
                "series": [i.to_json() for i in infos],
                "orders": [o.to_json() for o in orders],
                "fetched": fetched,
            }
        )
        return 0
    if not infos:
        print("no series" + (" (with --all: also ended ones)" if not args.all else ""))
        return 0
    print(
        table(
            [
                "series",
                "class",
                "region",
                "provider",
                "window start",
                "window end",
                "supply",
                "H100e-h",
                "redeemed",
                "best price (tokens)",
            ],
            [
                [
                    i.series.series_id,
                    i.gpu_class,
                    i.series.region_code or "-",
                    i.series.provider,
                    i.series.window_start,
                    i.series.window_end,
                    i.series.supply,
                    f"{i.series.normalized_micro / 1e6:g}",
                    i.series.redeemed,
                    "-" if i.best_price is None else tok(i.best_price),
                ]
                for i in infos
            ],
        )
    )
    print()
    if orders:
        print(
            table(
                ["order", "series", "price (tokens)", "remaining", "seller", "expiry"],
                [_order_row(o) for o in orders],
            )
        )
    else:
        print("no live orders")
    return 0


def _buy(args: argparse.Namespace) -> int:
    from node.claims import market
    from node.claims.book import OrderBook
    from node.claims.timespec import parse_amount, parse_money

    series_id = _series_arg(args.series)
    amount = parse_amount(args.amount, field="--amount")
    max_price = (
        None if args.max_price is None else parse_money(args.max_price, field="--max-price", allow_zero=True)
    )
    ctx = _context(args)
    try:
        book = OrderBook(ctx.store)
        _pull(book, ctx.chain, _peers(args, ctx.home), series_id)
        purchase = market.buy(
            ctx.chain,
            book,
            ctx.account,
            series_id=series_id,
            amount=amount,
            max_price=max_price,
            region=args.region,
        )
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
        balance = ctx.chain.claims.balance_of(ctx.address, series_id)
    finally:
        ctx.close()
    result = {
        "series": series_id,
        "buyer": ctx.address,
        "requested": amount,
        "bought": purchase.bought,
        "paid": purchase.paid,
        "balance": balance,
        "confirmations": seen,
        "fills": [
            {
                "order": f.order_hash,
                "seller": f.seller,
                "amount": f.amount,
                "price_per_token": f.price_per_token,
                "payment": f.payment,
            }
            for f in purchase.fills
        ],
    }
    if args.json:
        emit_json(result)
    else:
        paid = tok(purchase.paid)
        print(
            f"bought {purchase.bought} of {amount} claims of series {series_id} for {paid} tokens"
            + confirmations_text(seen)
        )
        print(
            table(
                ["order", "seller", "amount", "price (tokens)", "payment (tokens)"],
                [
                    [f.order_hash[:18] + "…", f.seller, f.amount, tok(f.price_per_token), tok(f.payment)]
                    for f in purchase.fills
                ],
            )
        )
    return 0


def _sell(args: argparse.Namespace) -> int:
    from node.claims import market
    from node.claims.book import OrderBook
    from node.claims.timespec import parse_amount, parse_money, parse_time

    series_id = _series_arg(args.series)
    amount = parse_amount(args.amount, field="--amount")
    price = parse_money(args.price, field="--price")
    ctx = _context(args)
    try:
        now = ctx.chain.client.timestamp()
        expiry = None if args.expiry is None else parse_time(args.expiry, now=now, field="--expiry")
        book = OrderBook(ctx.store)
        state = market.sell(
            ctx.chain, book, ctx.account, series_id=series_id, amount=amount, price=price, expiry=expiry
        )
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
        pushed = _push([state.message], _peers(args, ctx.home))
    finally:
        ctx.close()
    if args.json:
        emit_json({**state.to_json(), "pushed": pushed, "confirmations": seen})
    else:
        print(
            f"order {state.order_hash}: {amount} claims of series {series_id} at {tok(price)} tokens each, "
            f"until {state.message.expiry}"
            + (f"; pushed to {len(pushed)} peer(s)" if pushed else "")
            + confirmations_text(seen)
        )
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from node.claims import market
    from node.claims.book import OrderBook

    ctx = _context(args)
    try:
        message = market.cancel(ctx.chain, OrderBook(ctx.store), ctx.account, args.order)
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
    finally:
        ctx.close()
    if args.json:
        emit_json(
            {"order": args.order.lower(), "cancelled": True, "seller": message.seller, "confirmations": seen}
        )
    else:
        print(f"order {args.order.lower()} cancelled on chain" + confirmations_text(seen))
    return 0


def _redeem(args: argparse.Namespace) -> int:
    from node.chain.market import JobStatus
    from node.claims import market
    from node.claims.errors import ClaimsInputError
    from node.claims.timespec import parse_amount
    from node.errors import ConfigError
    from node.roles.outputs import unit_count
    from node.workloads.spec import blob_fields, canonical_json, load_spec, spec_hash, to_dict

    series_id = _series_arg(args.series)
    amount = parse_amount(args.amount, field="--amount")
    try:
        spec = load_spec(args.job.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read spec {args.job}: {exc.strerror or exc}") from None
    if blob_fields(spec):
        raise ClaimsInputError(
            "--job", "specs with blob inputs need a running consumer node; use seed inputs"
        )
    digest = spec_hash(spec)
    ctx = _context(args)
    try:
        redemption = market.redeem(
            ctx.chain,
            ctx.store,
            ctx.account,
            series_id=series_id,
            amount=amount,
            spec_json=canonical_json(to_dict(spec)).decode(),
            spec_hash=digest,
            kind=spec.kind,
            n_units=unit_count(spec),
        )
        _say(f"redeemed {amount} claims of series {series_id}: prepaid job {redemption.job_id}")
        delivered, status, outputs = _deliver(ctx, args, redemption.job_id, spec)
        seen = confirm_sent(ctx.chain, ctx.config, args.confirmations)
    finally:
        ctx.close()
    result = {
        "series": series_id,
        "amount": amount,
        "job_id": redemption.job_id,
        "collateral": redemption.collateral,
        "spec_hash": "0x" + digest.hex(),
        "delivered": delivered,
        "status": status.name.lower(),
        "completed": status == JobStatus.COMPLETED,
        "outputs_verified": outputs,
        "confirmations": seen,
    }
    if args.json:
        emit_json(result)
    else:
        print(
            f"job {redemption.job_id}: {status.name.lower()}; "
            f"collateral behind it {tok(redemption.collateral)} tokens"
            + ("" if delivered else " (spec not delivered: pass --peer with the provider's address)")
            + confirmations_text(seen)
        )
    return 0


def _deliver(
    ctx: NodeContext, args: argparse.Namespace, job_id: int, spec: JobSpec
) -> tuple[bool, JobStatus, bool]:
    """Hand the prepaid job to its provider through the consumer role (as ``ccm job submit`` does),
    then with ``--wait`` follow it to the end, outputs fetched and checked against the root.

    Returns ``(delivered, status, outputs_verified)``; the provider's peer is kept with the job, so
    ``ccm job result`` fetches the outputs later from this home.
    """
    import functools

    import trio

    from node.claims.errors import ClaimsInputError
    from node.roles.consumer import Consumer
    from node.roles.runtime import run_trio

    async def main() -> tuple[bool, JobStatus, bool]:
        async with trio.open_nursery() as nursery:
            consumer = await nursery.start(functools.partial(Consumer(ctx, say=_say).run))
            offer = await consumer.deliver(job_id, spec, _peers(args, ctx.home))
            outputs = False
            if offer is not None and args.wait:
                report = await consumer.follow(job_id, timeout=args.timeout)
                outputs = report.outputs_verified
            status = await ctx.achain.run(ctx.chain.market.status_of, job_id)
            nursery.cancel_scope.cancel()
        return offer is not None, status, outputs

    try:
        return run_trio(main)
    except trio.TooSlowError:
        raise ClaimsInputError("--timeout", f"job {job_id} not final after {args.timeout:g} s") from None

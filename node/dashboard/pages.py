"""The dashboard's pages as server-rendered HTML, from the read models of :mod:`node.query`.

Each ``*_page(source, ...)`` function reads what its page shows (blocking: chain RPC and SQLite; the
app runs it in a worker thread) and returns the HTML. Every value is escaped; amounts are printed
as exact token decimals (:func:`tokenomics.units.units_to_tokens`), so a test can compare a cell with
the chain's integer. Cells a test reads carry ``data-testid``.

No secret reaches a page: identities come from :func:`node.query.node.node_identity` (public fields
only), and nothing here opens a keystore or an identity file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from node.dashboard.charts import PALETTE, Series, bar_chart, line_chart
from node.dashboard.source import NodeSource
from tokenomics.units import units_to_float, units_to_tokens

PAGES = (("", "Node"), ("jobs", "Jobs"), ("audits", "Audits"), ("claims", "Claims"), ("market", "Market"))

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#f6f7f9}header{background:#1d2733;color:#fff;padding:10px 24px;display:flex;gap:24px;
align-items:center;flex-wrap:wrap}
header a{color:#cfe3ff;text-decoration:none;margin-right:14px}header a.on{color:#fff;font-weight:bold}
header .brand{font-weight:bold;font-size:18px}header .nodes a{font-size:13px;margin-right:8px}
main{padding:16px 24px;max-width:1600px}section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;
padding:12px 16px;margin-bottom:16px;overflow-x:auto}h1{font-size:20px;margin:4px 0 12px}
h2{font-size:16px;margin:4px 0 10px}
table{border-collapse:collapse;font-size:13px}th,td{padding:4px 10px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top;white-space:nowrap}td.wrap{white-space:normal;max-width:420px}
th{background:#fafbfc}td.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,Menlo,monospace;font-size:12px}.kv th{width:200px}.muted{color:#666}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}.grid{display:flex;gap:16px;flex-wrap:wrap}
footer{color:#666;font-size:12px;padding:0 24px 24px}
"""


def tok(units: int) -> str:
    return units_to_tokens(units)


def when(ts: int | float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


def short_time(ts: int | float | None) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) for table cells (the full time is in ``when``)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def addr(address: str, *, mine: str = "") -> str:
    """A short address with the full one in its title (and ``data-address`` for tests), marked when it
    is this node's."""
    if not address:
        return "-"
    me = " <b>(me)</b>" if mine and address.lower() == mine.lower() else ""
    return (
        f'<span class="mono" title="{escape(address)}" data-address="{escape(address)}">'
        f"{escape(address[:8])}…{escape(address[-6:])}</span>{me}"
    )


def tx(tx_hash: str) -> str:
    """A short transaction hash with the full one in its title."""
    if not tx_hash:
        return "-"
    return (
        f'<span class="mono" title="{escape(tx_hash)}">{escape(tx_hash[:10])}…{escape(tx_hash[-6:])}</span>'
    )


def _cell(
    value: Any, testid: str | None = None, *, num: bool = False, raw: bool = False, wrap: bool = False
) -> str:
    cls = "num" if num else "wrap" if wrap else ""
    attrs = (f' data-testid="{testid}"' if testid else "") + (f' class="{cls}"' if cls else "")
    return f"<td{attrs}>{value if raw else escape(str(value))}</td>"


def table(headers: Sequence[str], rows: Iterable[str], *, testid: str = "") -> str:
    """A table from pre-rendered ``<tr>`` rows (built with :func:`row`)."""
    body = "".join(rows)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    tid = f' data-testid="{testid}"' if testid else ""
    if not body:
        return f'<p class="muted"{tid}>none</p>'
    return f"<table{tid}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def row(*cells: str, testid: str = "", attrs: str = "") -> str:
    tid = f' data-testid="{testid}"' if testid else ""
    return f"<tr{tid}{attrs}>{''.join(cells)}</tr>"


def kv(pairs: Sequence[tuple[str, Any, str]]) -> str:
    """A two-column table of (label, value, testid)."""
    return (
        '<table class="kv">'
        + "".join(f"<tr><th>{escape(k)}</th>{_cell(v, t)}</tr>" for k, v, t in pairs)
        + "</table>"
    )


def layout(
    source: NodeSource, sources: Sequence[NodeSource], page: str, title: str, body: str, foot: str
) -> str:
    """The page frame: navigation (pages, and nodes when there are several), body, footer."""
    q = f"?node={escape(source.name)}" if len(sources) > 1 else ""
    nav = "".join(
        f'<a href="/{p}{q}" class="{"on" if p == page else ""}">{escape(label)}</a>' for p, label in PAGES
    )
    nodes = ""
    if len(sources) > 1:
        nodes = (
            '<span class="nodes">node: '
            + "".join(
                f'<a href="/{page}?node={escape(s.name)}" class="{"on" if s is source else ""}">'
                f"{escape(s.name)}</a>"
                for s in sources
            )
            + "</span>"
        )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)} · ccm {escape(source.name)}</title><style>{CSS}</style></head><body>"
        f'<header><span class="brand">ccm dashboard</span><nav>{nav}</nav>{nodes}</header>'
        f"<main><h1>{escape(title)} <span class=muted>· {escape(source.name)}</span></h1>{body}</main>"
        f"<footer>read-only view of {escape(str(source.home))}; {foot}</footer></body></html>"
    )


def _foot(block: int, chain_id: int) -> str:
    return f"chain {chain_id} at block {block}, read {when(datetime.now(UTC).timestamp())}"


def _verdict(v: str) -> str:
    cls = "pass" if v in ("pass", "overturned") else "fail" if v in ("fail", "timeout") else ""
    return f'<span class="{cls}">{escape(v)}</span>'


def node_page(source: NodeSource, sources: Sequence[NodeSource]) -> str:
    """Identity, balances, stake, settled earnings, probe figures, verified capacity, the ledger."""
    from node.query.account import account_view
    from node.query.node import probe_figures, verified_capacity
    from node.query.scan import EventScan

    chain, ident, _store, config = source.open()
    scan = EventScan.read(chain)
    acct = account_view(chain, ident.address, view=scan)
    probe = probe_figures(source.home, reprobe_s=config.provider.reprobe_s)
    caps = verified_capacity(scan, ident.address)
    identity = kv(
        [
            ("address", ident.address, "address"),
            ("account", ident.account_source, "account-source"),
            ("peer id", ident.peer_id or acct.peer_id or "-", "peer-id"),
            ("roles", ", ".join(acct.roles) or "none", "roles"),
            (
                "chain",
                f"{ident.chain_id} at {ident.rpc_url}" + (" (devnet)" if ident.devnet else ""),
                "chain",
            ),
        ]
    )
    balances = kv(
        [
            ("gas (ETH)", tok(acct.gas_wei), "gas"),
            ("tokens", tok(acct.token_balance), "token-balance"),
            ("active stake", tok(acct.active_stake), "active-stake"),
            (
                "unbonding",
                tok(acct.unbonding) + (f" until {when(acct.unbond_at)}" if acct.unbonding else ""),
                "unbonding",
            ),
            ("withdrawable", tok(acct.withdrawable), "withdrawable"),
            ("withdraw blocked by", acct.withdraw_blocked_by or "-", "withdraw-blocked"),
            ("open duties", acct.duties, "duties"),
            ("provider", "eligible" if acct.provider_eligible else "not eligible", "provider-eligible"),
            ("verifier", "drawable" if acct.verifier_drawable else "not drawable", "verifier-drawable"),
        ]
    )
    settled = kv(
        [
            ("earned", tok(acct.totals.earned), "earned"),
            ("slashed", tok(acct.totals.slashed), "slashed"),
            ("fees", tok(acct.totals.fees), "fees"),
        ]
    )
    days = [d.day for d in acct.days]
    chart = bar_chart(
        days,
        [
            ("earned", [units_to_float(d.earned) for d in acct.days], PALETTE[2]),
            ("slashed", [units_to_float(d.slashed) for d in acct.days], PALETTE[3]),
            ("fees", [units_to_float(d.fees) for d in acct.days], PALETTE[1]),
        ],
        title="settled jobs per day (tokens)",
        y_title="tokens",
    )
    if probe is None:
        probe_html = '<p class="muted" data-testid="probe">never probed (ccm provider probe)</p>'
    else:
        probe_html = kv(
            [
                ("device", f"{probe.device} {probe.device_name}", "probe-device"),
                ("best fp32", f"{probe.fp32_gflops} GFLOP/s", "probe-fp32"),
                ("memory bandwidth", f"{probe.memory_bandwidth_mbps} MB/s", "probe-bandwidth"),
                ("measured", when(probe.measured_at), "probe-measured"),
                ("re-measured after", when(probe.reprobe_at), "probe-expiry"),
            ]
            + ([("no GPU because", probe.no_gpu_reason, "probe-no-gpu")] if probe.no_gpu_reason else [])
        ) + table(
            ["dtype", "n", "GFLOP/s"],
            (row(_cell(d), _cell(n, num=True), _cell(f"{g:.1f}", num=True)) for d, n, g in probe.matmul),
        )
    cap_rows = (
        row(
            _cell(c.gpu_class),
            _cell(c.gpus, "cap-gpus", num=True),
            _cell(f"{c.ppm_per_gpu / 1e6:.6f}", "cap-h100e", num=True),
            _cell(c.gflops_per_gpu, num=True),
            _cell(c.attestation_id or "-", num=True),
            _cell(addr(c.verifier), raw=True),
            _cell(c.reserved_now, num=True),
            _cell(
                "; ".join(
                    f"#{p['id']} {p['gpus']} GPUs {p['status']} until {when(p['dispute_end'])}"
                    for p in c.pending
                )
                or "-"
            ),
            testid="capacity-row",
        )
        for c in caps
    )
    capacity = table(
        [
            "class",
            "GPUs",
            "H100e / GPU-h",
            "GFLOP/s / GPU",
            "attestation",
            "verifier",
            "reserved now",
            "pending",
        ],
        cap_rows,
        testid="capacity",
    )
    ledger_rows = (
        row(
            _cell(e.block, num=True),
            _cell(short_time(e.timestamp)),
            _cell(e.kind),
            _cell(tok(e.amount), num=True),
            _cell(("+" if e.delta > 0 else "") + tok(e.delta), num=True),
            _cell(
                f"job {e.job_id}"
                if e.job_id is not None
                else (f"series {e.series_id}" if e.series_id else "")
            ),
            _cell(tx(e.tx_hash), raw=True),
            testid="ledger-row",
        )
        for e in reversed(acct.ledger[-40:])
    )
    body = (
        f'<div class="grid"><section><h2>Identity</h2>{identity}</section>'
        f"<section><h2>Balances and stake</h2>{balances}</section>"
        f"<section><h2>Settled jobs</h2>{settled}{chart}</section></div>"
        f'<div class="grid"><section><h2>Probe</h2>{probe_html}</section>'
        f"<section><h2>Verified capacity (on chain)</h2>{capacity}</section></div>"
        f"<section><h2>Ledger ({min(40, len(acct.ledger))} latest of {len(acct.ledger)} lines)</h2>"
        + table(
            ["block", "time (UTC)", "what", "amount", "wallet", "for", "tx"], ledger_rows, testid="ledger"
        )
        + "</section>"
    )
    return layout(source, sources, "", "Node", body, _foot(scan.block, ident.chain_id))


def jobs_page(source: NodeSource, sources: Sequence[NodeSource]) -> str:
    """Every job this node took part in, each with its chain timeline and audit verdict."""
    from node.query.jobs import job_timelines
    from node.query.scan import EventScan

    chain, ident, store, _ = source.open()
    scan = EventScan.read(chain)
    timelines = job_timelines(scan, store, ident.address)
    q = f"&node={escape(source.name)}" if len(sources) > 1 else ""
    rows = (
        row(
            _cell(f'<a href="/jobs/{t.job_id}?{q[1:]}">{t.job_id}</a>', raw=True),
            _cell(t.kind or "-"),
            _cell(", ".join(t.roles) or "-"),
            _cell(t.status, "job-status"),
            _cell(_verdict(t.verdict), "job-verdict", raw=True),
            _cell(", ".join(str(i) for i in t.sampled) or "-", "job-sampled"),
            _cell(addr(t.provider, mine=ident.address), raw=True),
            _cell(addr(t.verifier, mine=ident.address), raw=True),
            _cell(tok(t.price), "job-price", num=True),
            _cell(t.n_units, num=True),
            _cell(len(t.steps), num=True),
            testid="job-row",
            attrs=f' data-job-id="{t.job_id}"',
        )
        for t in timelines
    )
    body = (
        "<section>"
        + table(
            [
                "job",
                "kind",
                "this node",
                "status",
                "verdict",
                "sampled units",
                "provider",
                "verifier",
                "price",
                "units",
                "chain steps",
            ],
            rows,
            testid="jobs",
        )
        + "</section>"
    )
    body += "".join(_timeline_html(t) for t in timelines[:20])
    return layout(source, sources, "jobs", "Jobs", body, _foot(scan.block, ident.chain_id))


def _timeline_html(t: Any) -> str:
    steps = (
        row(
            _cell(s.block, num=True),
            _cell(short_time(s.timestamp)),
            _cell(s.event),
            _cell(s.detail, wrap=True),
            _cell(tx(s.tx_hash), raw=True),
            testid="step",
        )
        for s in t.steps
    )
    audits = (
        row(
            _cell(addr(a.auditor), raw=True),
            _cell(a.status),
            _cell(_verdict(a.verdict or "-"), raw=True),
            _cell(", ".join(str(i) for i in a.indices) or "-", "audit-indices"),
            _cell(a.detail or "-", wrap=True),
        )
        for a in t.audits
    )
    audit_html = (
        f"<p>audit: {_verdict(t.verdict)}; sampled units "
        f'<span data-testid="timeline-sampled">{escape(", ".join(str(i) for i in t.sampled) or "-")}</span>'
        + (f"; panel {escape(', '.join(t.panel))}" if t.panel else "")
        + "</p>"
        + (table(["auditor", "status", "verdict", "units checked", "detail"], audits) if t.audits else "")
    )
    return (
        f'<section data-testid="timeline" data-job-id="{t.job_id}"><h2>Job {t.job_id} · {escape(t.status)}'
        f"{' (claim)' if t.prepaid else ''}</h2>{audit_html}"
        + table(["block", "time (UTC)", "event", "detail", "transaction"], steps)
        + "</section>"
    )


def job_page(source: NodeSource, sources: Sequence[NodeSource], job_id: int) -> str | None:
    """One job's timeline; ``None`` when this node has no such job."""
    from node.query.jobs import job_timelines
    from node.query.scan import EventScan

    chain, ident, store, _ = source.open()
    scan = EventScan.read(chain)
    found = [t for t in job_timelines(scan, store, ident.address) if t.job_id == job_id]
    if not found:
        return None
    return layout(
        source, sources, "jobs", f"Job {job_id}", _timeline_html(found[0]), _foot(scan.block, ident.chain_id)
    )


def audits_page(source: NodeSource, sources: Sequence[NodeSource]) -> str:
    """The audits this node performed (its store) with their attestations on chain."""
    from node.query.jobs import audits_performed
    from node.query.scan import EventScan

    chain, ident, store, _ = source.open()
    scan = EventScan.read(chain)
    audits = audits_performed(scan, store, ident.address)
    rows = (
        row(
            _cell(a.job_id, num=True),
            _cell(a.status),
            _cell(_verdict(a.verdict or "-"), "audit-verdict", raw=True),
            _cell(", ".join(str(i) for i in a.indices) or "-", "audit-indices"),
            _cell("-" if a.passed is None else ("pass" if a.passed else "fail"), "audit-attested"),
            _cell(a.attested_block or "-", num=True),
            _cell(tx(a.attested_tx), raw=True),
            _cell(a.detail or "-", wrap=True),
            testid="audit-row",
            attrs=f' data-job-id="{a.job_id}"',
        )
        for a in audits
    )
    passed = sum(1 for a in audits if a.passed)
    failed = sum(1 for a in audits if a.passed is False)
    body = (
        f'<section><p data-testid="audit-summary">{len(audits)} audits, {passed} attested pass, '
        f"{failed} attested fail</p>"
        + table(
            ["job", "status", "verdict", "units checked", "on chain", "block", "transaction", "detail"],
            rows,
            testid="audits",
        )
        + "</section>"
    )
    return layout(source, sources, "audits", "Audits performed", body, _foot(scan.block, ident.chain_id))


def claims_page(source: NodeSource, sources: Sequence[NodeSource]) -> str:
    """Series, live orders, this node's holdings and the collateral its series lock."""
    from node.query.node import claims_view

    chain, ident, store, _ = source.open()
    view = claims_view(chain, store, ident.address)
    block = chain.client.block_number()
    series = (
        row(
            _cell(s.series_id, num=True),
            _cell(s.gpu_class),
            _cell(s.region or "-"),
            _cell(addr(s.provider, mine=ident.address), raw=True),
            _cell(short_time(s.window_start)),
            _cell(short_time(s.window_end)),
            _cell(s.supply, "series-supply", num=True),
            _cell(f"{s.supply * s.ppm_per_gpu / 1e6:.6f}", num=True),
            _cell(s.redeemed, "series-redeemed", num=True),
            _cell(tok(s.collateral_per_token), num=True),
            _cell(tok(s.locked_collateral), "series-locked", num=True),
            _cell(s.held, "series-held", num=True),
            _cell(tok(s.best_price) if s.best_price is not None else "-", num=True),
            testid="series-row",
            attrs=f' data-series-id="{s.series_id}"',
        )
        for s in view.series
    )
    orders = (
        row(
            _cell(o.order_hash[:18] + "…"),
            _cell(o.series_id, num=True),
            _cell(addr(o.seller, mine=ident.address), raw=True),
            _cell(o.remaining, num=True),
            _cell(tok(o.price), num=True),
            _cell(short_time(o.expiry)),
            testid="order-row",
        )
        for o in view.orders
    )
    body = (
        "<section>"
        + kv(
            [
                ("claims held (GPU-hours)", view.holdings, "holdings"),
                ("collateral locked by this node's series", tok(view.collateral_locked), "collateral-locked"),
            ]
        )
        + "</section><section><h2>Series</h2>"
        + table(
            [
                "series",
                "class",
                "region",
                "provider",
                "window start",
                "window end",
                "GPU-hours",
                "H100e-hours",
                "redeemed",
                "collateral/token",
                "locked",
                "held here",
                "best ask",
            ],
            series,
            testid="series",
        )
        + "</section><section><h2>Live sell orders (this node's book)</h2>"
        + table(
            ["order", "series", "seller", "remaining", "price / token", "expires"], orders, testid="orders"
        )
        + "</section>"
    )
    return layout(source, sources, "claims", "Claims", body, _foot(block, ident.chain_id))


def market_page(source: NodeSource, sources: Sequence[NodeSource], *, gpu_class: str = "H100") -> str:
    """Live offers, registered providers, the price index (table and chart) and the forward curve."""
    from node.query.index import MIN_TRADES, WINDOW_MONTHS, WINDOW_NAMES, collect_trades, compute_index
    from node.query.market import forward_curve, providers, stored_offer_rows
    from node.query.scan import EventScan
    from tokenomics.normalized import UNIT_NAME

    chain, ident, store, _ = source.open()
    scan = EventScan.read(chain)
    offers = stored_offer_rows(store)
    provs = providers(scan)
    points = compute_index(collect_trades(chain))
    offer_rows = (
        row(
            _cell(addr(o["provider"]), raw=True),
            _cell(o["peer_id"][-16:]),
            _cell(tok(o["price_per_unit"]), num=True),
            _cell(f"{o['device']} {o['device_name']}"),
            _cell(o["claimed_gflops"], "offer-claimed", num=True),
            _cell(o["verified_label"]),
            _cell(f"{o['expires_in_s']} s", num=True),
            testid="offer-row",
        )
        for o in offers
    )
    prov_rows = (
        row(
            _cell(addr(p.address, mine=ident.address), "provider-address", raw=True),
            _cell(p.peer_id or "-"),
            _cell(tok(p.active_stake), "provider-stake", num=True),
            _cell("yes" if p.eligible else "no"),
            testid="provider-row",
        )
        for p in provs
    )
    index_rows = (
        row(
            _cell(p.gpu_class),
            _cell(p.window),
            _cell(p.day),
            _cell(tok(p.price), "index-price", num=True),
            _cell(f"{p.volume:.6g}", num=True),
            _cell(p.trades, "index-trades", num=True),
            _cell("thin" if p.thin else ""),
            testid="index-row",
        )
        for p in points
    )
    mine = [p for p in points if p.gpu_class.upper() == gpu_class.upper()]
    days = sorted({p.day for p in mine})
    day_x = {d: float(i) for i, d in enumerate(days)}
    by_day = [
        Series(
            w,
            [(day_x[p.day], units_to_float(p.price)) for p in mine if p.window == w],
            PALETTE[i % len(PALETTE)],
            hollow=[p.thin for p in mine if p.window == w],
            notes=[f"{w} {p.day}: {tok(p.price)} ({p.trades} trades)" for p in mine if p.window == w],
        )
        for i, w in enumerate(WINDOW_NAMES)
        if any(p.window == w for p in mine)
    ]
    index_chart = line_chart(
        by_day,
        title=f"{gpu_class} index from on-chain fills (hollow: < {MIN_TRADES} trades)",
        x_title="day (UTC)",
        y_title=f"tokens per {UNIT_NAME}",
        x_labels={v: k for k, v in day_x.items()},
    )
    curve = forward_curve(gpu_class)
    latest = {p.window: p for p in mine}
    curve_chart = line_chart(
        [
            Series(
                f"model forward ({gpu_class})",
                [(c.months_ahead, c.price_per_unit) for c in curve],
                "#888",
                markers=False,
            ),
            Series(
                "latest index by window",
                [(WINDOW_MONTHS[w], units_to_float(p.price)) for w, p in latest.items()],
                PALETTE[1],
                line=False,
                hollow=[p.thin for p in latest.values()],
                notes=[f"{w}: {tok(p.price)} ({p.trades} trades)" for w, p in latest.items()],
            ),
        ],
        title="forward curve vs the index",
        x_title="months ahead",
        y_title=f"tokens (USD) per {UNIT_NAME}",
    )
    body = (
        "<section><h2>Live offers heard by this node</h2>"
        + table(
            ["provider", "peer", "price / unit", "device", "claimed GFLOP/s", "verified", "expires in"],
            offer_rows,
            testid="offers",
        )
        + "</section><section><h2>Providers staked on chain</h2>"
        + table(["address", "peer id", "stake", "eligible"], prov_rows, testid="providers")
        + f"</section><section><h2>Price index (per {escape(UNIT_NAME)})</h2>"
        + '<div class="grid" data-testid="charts">'
        + index_chart
        + curve_chart
        + "</div>"
        + table(
            ["class", "window", "day", f"tokens / {UNIT_NAME}", f"{UNIT_NAME}s", "trades", ""],
            index_rows,
            testid="index",
        )
        + "</section>"
    )
    return layout(source, sources, "market", "Market", body, _foot(scan.block, ident.chain_id))

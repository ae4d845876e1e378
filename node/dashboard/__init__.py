"""The operator's dashboard: a read-only web view of a node, served on 127.0.0.1 only.

Pages (:mod:`node.dashboard.pages`): the node (identity, balances, stake, settled earnings, probe
figures, verified capacity and when it is re-measured, the ledger), jobs (each with its chain
transactions and audit verdict with the sampled units), audits performed, claims (series, orders,
holdings, collateral) and the market (live offers, providers, the price index chart and the forward
curve). Every figure comes from :mod:`node.query`, the read models the CLI's tables share.

Why Starlette under Hypercorn's trio worker: the node is a trio program (py-libp2p runs on trio),
so the dashboard should run on the node's own event loop — a daemon can start it in its nursery
like any other service, and it is cancelled with it — rather than beside it on a second loop
(asyncio) in another thread. Starlette is a small ASGI toolkit built on anyio, so it runs unchanged
under trio; Hypercorn is the ASGI server with a native trio worker (``hypercorn.trio.serve``) that
reports the address it bound through ``task_status``. Pages are rendered on the server (HTML and
inline SVG charts): no JavaScript, no build step, nothing fetched by the browser. Page handlers are
plain functions, which Starlette runs in worker threads, because the reads they make (web3's
synchronous client, SQLite) block.

Security: it binds 127.0.0.1 only (:data:`node.dashboard.serve.HOST`; there is no option to change
that), accepts GET and HEAD only, and shows no secret: addresses and peer ids are read from the
public fields of the keystore and identity files, which are never decrypted.
"""

"""Read models: what the CLI's tables, the demo's report and the dashboard show, computed in one place.

Every view here reads the chain through the typed wrappers of :mod:`node.chain` (never raw ABI
calls) and the node's store, and returns frozen dataclasses with integer amounts in token base
units; the callers format them (tokens for people, base-unit integers in JSON).

* :mod:`node.query.scan` — one pass over the deployment's events, with block times;
* :mod:`node.query.account` — an account's balances, stake, duties and its ledger of earnings,
  slashes and fees from the chain's events (``ccm account``, the demo's participant rows);
* :mod:`node.query.jobs` — a job's report and timeline (chain transactions, audit verdicts with the
  sampled units), audits performed (``ccm job status``);
* :mod:`node.query.market` — offer rows (``ccm market offers``), the forward curve;
* :mod:`node.query.index` — the public price index from the chain's fills (``ccm market index``);
* :mod:`node.query.node` — a node's identity, probe and verified capacity; its claims.

Importing this package imports nothing heavy; each submodule imports what it reads.
"""

"""The forward-capacity claims market in the node (issue 5): order book, pricing, gossip glue.

Public API:

* :mod:`node.claims.market` — ``create_series``, ``sell``, ``buy``, ``cancel``, ``redeem``,
  ``list_series`` (synchronous, on a :class:`node.chain.chain.Chain`); what ``ccm claims`` runs.
* :mod:`node.claims.book` — ``OrderBook`` (orders in the node's SQLite store), ``check_order`` /
  ``judge`` / ``live_orders``: an order is live only if the chain says so.
* :mod:`node.claims.orders` — ``OrderMessage``, the one wire and storage form of a signed order.
* :mod:`node.claims.pricing` — ``quote_series`` (tokenomics forward curve floored at the reserve
  price, one documented time and money conversion), ``gpu_class_id`` / ``class_name``.
* :mod:`node.claims.service` — ``ClaimsService``, the trio service a running node starts: ingests
  gossiped orders, gossips the local outbox, serves ``/ccm/claims/book`` and ``/ccm/claims/submit``;
  ``fetch_book`` / ``submit_orders`` are the client side used by ``--peer``.
* :mod:`node.claims.timespec` — the time and money forms the CLI accepts.

Imports: node.chain, node.p2p, node.store, tokenomics (pricing only). Nothing heavy at package import.
"""

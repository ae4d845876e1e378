"""The node's roles: provider daemon, consumer, verifier daemon, and what they share.

Public API::

    open_context(home, *, account_index=None, chain=None) -> NodeContext     node.roles.context
    ProviderDaemon(ctx, *, probe, price_per_unit, compute, contest_fails, ...).run  node.roles.provider
    Consumer(ctx).run / .discover / .submit / .follow / .fetch_outputs       node.roles.consumer
    Consumer.propose / .deliver (a redeemed claim) / .cancel / .recover      node.roles.consumer
    Consumer.challenge(offer, **opts) / .challenge_offers(offers, **opts)    node.roles.consumer
    rank_offers(offers, *, kind, n_units, max_price, provider)               node.roles.consumer
    order_offers(offers) -> the market's one ranking (failed challenge last)  node.roles.consumer
    CapacityServer(device=, lock=).register(host)                            node.roles.capacity
    challenge_peer(host, peer_id, *, advertised_gflops, n, max_n, threshold) node.roles.capacity
    VerifierDaemon(ctx, *, device, verdict, ...).run / .check                node.roles.verifier
    honest_compute, honest_verdict, Corrupting, Overriding (tests, demo)     node.roles.strategies
    admit, fits_deadline, fetch_inputs, ProposalLimiter (before acceptJob)   node.roles.admission
    advance(chain, account, job_id, *, contest) -> Step                      node.roles.settle

Each daemon is a trio service started with ``nursery.start``; chain calls, torch and disk I/O run
in worker threads so the event loop keeps answering peers. The wire messages the roles add on top
of :mod:`node.p2p` are in :mod:`node.roles.wire`; job outputs and manifests in
:mod:`node.roles.outputs`.
"""

from __future__ import annotations

import node.p2p  # noqa: F401  (silences py-libp2p's import-time deprecation warning before any use)

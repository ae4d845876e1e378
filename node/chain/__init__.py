"""The chain client: contracts from Python, Anvil managed by the node.

Public API (import from the submodules; this package imports nothing heavy on its own):

* :class:`node.chain.chain.Chain` — ``Chain.from_home(home, rpc_url=...)`` / ``Chain.connect(deployment)``;
  ``.token`` (:class:`~node.chain.token.Token`), ``.registry`` (:class:`~node.chain.registry.Registry`),
  ``.market`` (:class:`~node.chain.market.Market`), ``.claims`` (:class:`~node.chain.claims.Claims`),
  ``.event_watcher()``, devnet-only ``increase_time`` / ``mine`` / ``snapshot`` / ``revert``.
* :class:`node.chain.aio.AsyncChain` — the only bridge from trio: ``await achain.run(fn, *args)``,
  ``nursery.start(achain.watch_events, watcher)``.
* :mod:`node.chain.accounts` — ``load_signer``, keystores, Anvil's PUBLIC dev accounts (devnet only).
* :mod:`node.chain.devnet` — ``up`` / ``status`` / ``down`` behind ``ccm devnet``.
* :mod:`node.chain.deploy` — ``DeployParams`` and ``deploy_all`` (the one deploy path).
* :mod:`node.chain.errors` — ``ContractRevert`` (decoded custom errors) and friends.

Layering: artifacts → client (sync web3, nonces, reverts) → contract (BoundContract) → typed
wrappers → chain (bundle) → aio (trio). Only ``client`` and ``contract`` touch web3 objects.
"""

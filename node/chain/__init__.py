"""The chain client: contracts from Python, Anvil managed by the node.

Public API (import from the submodules; this package imports nothing heavy on its own):

* :class:`node.chain.chain.Chain` — ``Chain.from_home(home, rpc_url=...)`` / ``Chain.connect(deployment)``;
  ``.token`` (:class:`~node.chain.token.Token`), ``.registry`` (:class:`~node.chain.registry.Registry`),
  ``.market`` (:class:`~node.chain.market.Market`), ``.claims`` (:class:`~node.chain.claims.Claims`),
  ``.event_watcher()`` (a one-off scan), ``.follower(store)`` (the node's follower), devnet-only
  ``increase_time`` / ``mine`` / ``snapshot`` / ``revert``.
* :class:`node.chain.aio.AsyncChain` — the only bridge from trio: ``await achain.run(fn, *args)``.
* :mod:`node.chain.accounts` — ``load_signer``, keystores, Anvil's PUBLIC dev accounts (devnet only).
* :mod:`node.chain.devnet` — ``up`` / ``status`` / ``down`` behind ``ccm devnet``.
* :mod:`node.chain.deploy` — ``DeployParams`` and ``deploy_all`` (the one deploy path);
  :mod:`node.chain.confirm` — ``deploy_confirmed`` (deploy, wait for confirmations, record: what
  ``ccm chain deploy`` and ``ccm devnet up`` call), ``wait_confirmed``, ``check_deploy_block``;
  :mod:`node.chain.params` — the production preset (windows from the block time) and params files.
* :mod:`node.chain.follower` — ``Chain.follower(store)``: confirmed events with a persisted
  cursor, reorgs detected by block hash and undone, polls paced by the block time.
* :mod:`node.chain.heads` — ``Heads``: the node's one block waiter (a ``newHeads`` subscription on
  a ``ws://`` endpoint, else polls timed by the block time, only while someone waits).
* :mod:`node.chain.hardhat` — Hardhat 3's node (EDR), a second EVM implementation for the tests.
* :mod:`node.chain.errors` — ``ContractRevert`` (decoded custom errors) and friends.

Layering: artifacts → client (sync web3, nonces, reverts) → contract (BoundContract) → typed
wrappers → chain (bundle) → aio (trio). Only ``client`` and ``contract`` touch web3 objects.
"""

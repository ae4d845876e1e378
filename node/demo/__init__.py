"""The demo (README command 1): the whole market on one machine, balances read back from the chain.

Public API:

* ``scripts/demo`` / ``python -m node.demo`` — :func:`node.demo.main.main`;
* :func:`node.demo.main.run` — run it from Python, returns a :class:`node.demo.report.DemoReport`;
* :func:`node.demo.report.collect` — the report of any market run, from events and views at a block;
* :mod:`node.demo.specs` — the small job specs (one per kind) the demo and the p2p bench use.
"""

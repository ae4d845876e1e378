"""The node's P2P layer: libp2p host, wire codec, request/response protocols, blob transfer, gossip.

Modules: :mod:`~node.p2p.identity` (persistent encrypted key), :mod:`~node.p2p.codec` (the one wire
codec), :mod:`~node.p2p.messages` (protocol ids and message types), :mod:`~node.p2p.host` (the trio
service), :mod:`~node.p2p.reqresp` (request/response helper), :mod:`~node.p2p.blob` (blob transfer),
:mod:`~node.p2p.gossip` (signed offers and orders).
"""

from __future__ import annotations

import warnings

# py-libp2p 0.8.1 imports ``websockets.legacy`` at import time, which warns (DeprecationWarning).
# It is the library's business, not ours; silence exactly that warning once, here, so that test
# suites run with ``filterwarnings = error`` can import the node.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="websockets.legacy is deprecated", category=DeprecationWarning)
    import libp2p  # noqa: F401

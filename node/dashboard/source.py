"""Which node homes a dashboard shows, and their chain, identity and store, opened once.

``ccm dashboard --home H`` shows the node at ``H``. A home that holds other nodes' homes under
``H/nodes/<name>/`` (the demo's home) shows each of them, selectable with ``?node=<name>``. Each
:class:`NodeSource` opens its chain connection, public identity (:func:`node.query.node.node_identity`:
no password, nothing decrypted) and store on first use, under a lock (pages render in worker threads).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from node.errors import ConfigError

if TYPE_CHECKING:
    from node.chain.chain import Chain
    from node.config import Config
    from node.query.node import NodeIdentity
    from node.store import Store

NODES_DIR = "nodes"


@dataclass
class NodeSource:
    """One node home (see the module docstring)."""

    name: str
    home: Path
    account_index: int | None = None
    rpc_url: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _opened: tuple[Chain, NodeIdentity, Store, Config] | None = field(default=None, repr=False)

    def open(self) -> tuple[Chain, NodeIdentity, Store, Config]:
        with self._lock:
            if self._opened is None:
                from node.config import load_config
                from node.query.node import open_node
                from node.store import Store

                chain, ident = open_node(self.home, rpc_url=self.rpc_url, account_index=self.account_index)
                self._opened = (chain, ident, Store.open(self.home), load_config(self.home))
            return self._opened

    def close(self) -> None:
        with self._lock:
            if self._opened is not None:
                self._opened[2].close()
                self._opened = None


def discover(
    home: Path, *, account_index: int | None = None, rpc_url: str | None = None, first: str | None = None
) -> list[NodeSource]:
    """The homes to show: ``home/nodes/*`` that hold a deployment, else ``home`` itself.

    ``first`` names the node shown when none is asked for (it is moved to the front).
    """
    home = Path(home).expanduser().resolve()
    nested = sorted(p for p in (home / NODES_DIR).glob("*") if (p / "deployment.json").is_file())
    if nested:
        sources = [NodeSource(p.name, p, rpc_url=rpc_url) for p in nested]
    elif (home / "deployment.json").is_file() or (home / "config.toml").is_file():
        sources = [NodeSource(home.name or "node", home, account_index=account_index, rpc_url=rpc_url)]
    else:
        raise ConfigError(
            f"{home} is not a node home (no deployment.json): run `ccm devnet up` or `ccm init`"
        )
    if first is not None:
        chosen = [s for s in sources if s.name == first]
        if not chosen:
            raise ConfigError(f"--node {first}: not one of {', '.join(s.name for s in sources)}")
        sources = chosen + [s for s in sources if s.name != first]
    return sources

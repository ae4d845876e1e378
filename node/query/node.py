"""A node as its operator sees it: identity, probe figures, verified capacity, claims — no secrets.

Everything here is read without the node's password: the address comes from the keystore file's
public ``address`` field (or, in devnet mode, from the home's recorded dev account), the peer id
from the identity file's public ``peer_id`` field; nothing is decrypted, and no key material ever
enters a view (the dashboard serves these views to a browser).

* :func:`node_identity` — address, where it comes from, peer id, chain;
* :func:`probe_figures` — the saved probe (``<home>/probe.json``) and when the daemon measures again;
* :func:`verified_capacity` — the capacity in force per GPU class (``CapacityRegistry``), the
  attestation behind it, attestations still in their dispute window, GPUs reserved by live series;
* :func:`claims_view` — every series with its orders, the account's holdings, its orders and the
  collateral its series lock.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.errors import ConfigError
from node.query.scan import EventScan, checksum, same

if TYPE_CHECKING:
    from node.chain.chain import Chain
    from node.chain.deployment import Deployment
    from node.store import Store


@dataclass(frozen=True)
class NodeIdentity:
    """Who a home is on the network (public facts only)."""

    home: str
    address: str
    account_source: str
    peer_id: str
    devnet: bool
    rpc_url: str
    chain_id: int
    contracts: dict[str, str] = field(default_factory=dict)


def peer_id_text(raw: bytes) -> str:
    """The base58 peer id of the registry's bytes, ``""`` when unset."""
    if not raw:
        return ""
    from node.roles.context import peer_id_from_bytes

    return peer_id_from_bytes(raw) or "0x" + raw.hex()


def node_identity(home: Path, deployment: Deployment, *, account_index: int | None = None) -> NodeIdentity:
    """The address and peer id of ``home`` without decrypting anything (see the module docstring).

    ``account_index`` (devnet only) names the PUBLIC dev account, as ``--account-index`` does for roles.
    """
    from node.chain.accounts import devnet_accounts
    from node.config import load_config
    from node.p2p.identity import identity_path
    from node.roles.context import DEVNET_ACCOUNT_FILE

    home = Path(home).expanduser()
    config = load_config(home)
    address = ""
    source = ""
    if account_index is not None:
        if not deployment.devnet:
            raise ConfigError("--account-index picks a PUBLIC devnet key: refused on a non-devnet deployment")
        address = devnet_accounts(devnet=True)[account_index].address
        source = f"devnet account #{account_index} (PUBLIC TEST KEY)"
    elif config.keystore_path.exists():
        address = _json_field(config.keystore_path, "address")
        source = f"keystore {config.keystore_path.name}"
    elif deployment.devnet and (home / DEVNET_ACCOUNT_FILE).exists():
        index = int(_json_field(home / DEVNET_ACCOUNT_FILE, "index"))
        address = devnet_accounts(devnet=True)[index].address
        source = f"devnet account #{index} (PUBLIC TEST KEY)"
    if not address:
        raise ConfigError(f"no account in {home}: run `ccm init` (or, on a devnet, pass --account-index N)")
    peer = ""
    if identity_path(home).exists():
        peer = _json_field(identity_path(home), "peer_id")
    return NodeIdentity(
        home=str(home),
        address=checksum(address if address.startswith("0x") else "0x" + address),
        account_source=source,
        peer_id=peer,
        devnet=deployment.devnet,
        rpc_url=deployment.rpc_url,
        chain_id=deployment.chain_id,
        contracts=dict(deployment.contracts),
    )


def _json_field(path: Path, name: str) -> str:
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get(name)
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path} unreadable: {type(exc).__name__}") from None
    return "" if value is None else str(value)


@dataclass(frozen=True)
class ProbeFigures:
    """The saved probe: device, best fp32 figure, each measured (dtype, n, GFLOP/s), bandwidths, age."""

    device: str
    device_name: str
    no_gpu_reason: str | None
    fp32_gflops: int
    matmul: tuple[tuple[str, int, float], ...]
    memory_bandwidth_mbps: int
    h2d_mbps: int | None
    measured_at: int
    reprobe_at: int


def probe_figures(home: Path, *, reprobe_s: int) -> ProbeFigures | None:
    """``<home>/probe.json`` as figures, ``None`` when the node never probed or the file is unreadable.

    Read as plain JSON (the fields :class:`node.capacity.probe.ProbeResult` writes), so that a page
    showing it does not import torch.
    """
    from node.roles.runtime import PROBE_FILE

    try:
        doc = json.loads((Path(home) / PROBE_FILE).read_text(encoding="utf-8"))
        matmul = tuple((str(m["dtype"]), int(m["n"]), int(m["mflops"]) / 1000) for m in doc["matmul"])
        return ProbeFigures(
            device=str(doc["device"]),
            device_name=str(doc["device_name"]),
            no_gpu_reason=doc.get("no_gpu_reason"),
            fp32_gflops=int(max((g for d, _, g in matmul if d == "float32"), default=0)),
            matmul=matmul,
            memory_bandwidth_mbps=int(doc["memory_bandwidth_mbps"]),
            h2d_mbps=doc.get("h2d_mbps"),
            measured_at=int(doc["measured_at"]),
            reprobe_at=int(doc["measured_at"]) + reprobe_s,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class CapacityRow:
    """Verified capacity of one GPU class: in force, who attested it, what is still pending."""

    gpu_class: str
    gpus: int
    ppm_per_gpu: int
    attestation_id: int
    verifier: str
    gflops_per_gpu: int
    reserved_now: int
    pending: tuple[dict[str, Any], ...] = ()


def verified_capacity(view: EventScan, address: str) -> list[CapacityRow]:
    """One row per GPU class any verifier attested for ``address`` (see the module docstring)."""
    from node.chain.capacity import Status
    from node.claims.pricing import class_name

    chain = view.chain
    attested = [e for e in view.named("CapacityAttested") if same(e.args["provider"], address)]
    now = view.timestamp(view.block)
    rows = []
    for cls in dict.fromkeys(bytes(e.args["gpuClass"]) for e in attested):
        cap = chain.capacity.capacity_of(address, cls)
        current = chain.capacity.attestation(cap.attestation_id) if cap.attestation_id else None
        pending = []
        for e in attested:
            if bytes(e.args["gpuClass"]) != cls:
                continue
            a = chain.capacity.attestation(int(e.args["id"]))
            if a.status in (Status.PENDING, Status.DISPUTED):
                pending.append(
                    {
                        "id": a.attestation_id,
                        "gpus": a.gpus,
                        "gflops_per_gpu": a.gflops_per_gpu,
                        "status": a.status.name.lower(),
                        "dispute_end": a.dispute_end,
                    }
                )
        rows.append(
            CapacityRow(
                gpu_class=class_name(cls),
                gpus=cap.gpus,
                ppm_per_gpu=cap.ppm_per_gpu,
                attestation_id=cap.attestation_id,
                verifier=current.verifier if current else "",
                gflops_per_gpu=current.gflops_per_gpu if current else 0,
                reserved_now=chain.claims.reserved_at(address, cls, now),
                pending=tuple(pending),
            )
        )
    return rows


@dataclass(frozen=True)
class SeriesRow:
    """A series as the claims page shows it (amounts in base units; sizes in GPU-hours)."""

    series_id: int
    gpu_class: str
    region: str
    provider: str
    window_start: int
    window_end: int
    supply: int
    redeemed: int
    ppm_per_gpu: int
    collateral_per_token: int
    locked_collateral: int
    released: bool
    held: int
    best_price: int | None
    orders: int


@dataclass(frozen=True)
class OrderRow:
    """A live sell order of the local book."""

    order_hash: str
    series_id: int
    seller: str
    remaining: int
    price: int
    expiry: int
    mine: bool


@dataclass(frozen=True)
class ClaimsView:
    """Every series, the account's holdings and the collateral its own series lock."""

    series: tuple[SeriesRow, ...]
    orders: tuple[OrderRow, ...]
    holdings: int
    collateral_locked: int

    def to_json(self) -> dict[str, Any]:
        return {
            "series": [asdict(s) for s in self.series],
            "orders": [asdict(o) for o in self.orders],
            "holdings": self.holdings,
            "collateral_locked": str(self.collateral_locked),
        }


def claims_view(chain: Chain, store: Store, address: str) -> ClaimsView:
    """Series (ended ones too) with the local book's live orders, what ``address`` holds and locks."""
    from node.chain.claims import decode_region
    from node.claims import market
    from node.claims.book import OrderBook

    infos = market.list_series(chain, OrderBook(store), include_ended=True)
    rows = []
    orders = []
    for info in sorted(infos, key=lambda i: i.series.series_id):
        s = info.series
        rows.append(
            SeriesRow(
                series_id=s.series_id,
                gpu_class=info.gpu_class,
                region=decode_region(s.region),
                provider=s.provider,
                window_start=s.window_start,
                window_end=s.window_end,
                supply=s.supply,
                redeemed=s.redeemed,
                ppm_per_gpu=s.ppm_per_gpu,
                collateral_per_token=s.collateral_per_token,
                locked_collateral=chain.claims.locked_collateral(s.series_id),
                released=s.released,
                held=chain.claims.balance_of(address, s.series_id),
                best_price=info.best_price,
                orders=len(info.orders),
            )
        )
        for o in info.orders:
            orders.append(
                OrderRow(
                    order_hash=o.order_hash,
                    series_id=o.series_id,
                    seller=o.message.seller,
                    remaining=o.remaining,
                    price=o.price,
                    expiry=int(o.message.expiry),
                    mine=same(o.message.seller, address),
                )
            )
    return ClaimsView(
        series=tuple(rows),
        orders=tuple(orders),
        holdings=sum(r.held for r in rows),
        collateral_locked=sum(r.locked_collateral for r in rows if same(r.provider, address)),
    )


def open_node(
    home: Path, *, rpc_url: str | None = None, account_index: int | None = None
) -> tuple[Chain, NodeIdentity]:
    """The chain of ``home``'s deployment (``config.chain.deployment``) and the node's public identity."""
    from node.chain.chain import Chain
    from node.chain.deployment import Deployment
    from node.config import load_config

    deployment = Deployment.load(load_config(Path(home).expanduser()).deployment_path)
    chain = Chain.connect(deployment, rpc_url=rpc_url)
    return chain, node_identity(home, deployment, account_index=account_index)

"""The market as a node sees it: offers with claimed and verified capacity, providers, the forward curve.

* :func:`offer_rows` / :func:`offer_row` — offers found live (``ccm market offers``), in the
  market's one ranking (:func:`node.roles.consumer.order_offers`);
* :func:`stored_offer_rows` — the same rows for the unexpired offers this node's store heard
  (signature-checked on arrival), for pages that cannot wait for gossip;
* :func:`providers` — every account registered as a provider on chain, with its stake;
* :func:`forward_curve` — the economics' forward price per H100e-hour of a GPU class (one token =
  one USD, :mod:`tokenomics.units`), the curve the price index is drawn against.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from node.query.scan import EventScan, checksum

if TYPE_CHECKING:
    from node.roles.consumer import FoundOffer
    from node.store import Store


def offer_rows(offers: Iterable[FoundOffer], *, prefer_verified: bool = True) -> list[dict[str, Any]]:
    """The offers table's rows in the market's one ranking (:func:`node.roles.consumer.order_offers`)."""
    from node.roles.consumer import order_offers

    return [offer_row(o) for o in order_offers(offers, prefer_verified=prefer_verified)]


def offer_row(offer: Any) -> dict[str, Any]:
    """One offer as a JSON-able row (claimed and verified capacity side by side)."""
    v = offer.verified
    return {
        "provider": offer.body.provider,
        "peer_id": offer.peer_id,
        "addrs": list(offer.body.addrs),
        "price_per_unit": offer.body.price_per_unit,
        "device": offer.body.device,
        "device_name": offer.body.device_name,
        "claimed_gflops": offer.body.gflops,
        "verified_gflops": v.verified_gflops,
        "challenges": v.challenges,
        "challenge_failed": v.failed,
        "verified_label": v.label,
        "max_units": offer.body.max_units,
        "kinds": list(offer.body.kinds),
        "llm": _llm_dict(offer.body.llm),
        "expires_in_s": max(0, int(offer.envelope.expires - time.time())),
    }


def _llm_dict(served: Any) -> dict[str, Any] | None:
    """The offer's llm advert as JSON (``None`` when it serves no llm models)."""
    if served is None:
        return None
    return {"families": list(served.families), "max_params": served.max_params,
            "max_weight_bytes": served.max_weight_bytes}  # fmt: skip


def models_label(llm: dict[str, Any] | None) -> str:
    """``llama, qwen2 ≤ 7.3M params`` for the offers table (``-`` when no llm models are served)."""
    if not llm or not llm["families"]:
        return "-"
    return f"{', '.join(llm['families'])} ≤ {llm['max_params'] / 1e6:.1f}M params"


def stored_offer_rows(store: Store, *, now: int | None = None) -> list[dict[str, Any]]:
    """Rows (as :func:`offer_row`) of the unexpired offers in ``store``, newest per peer, cheapest first."""
    now = int(time.time()) if now is None else now
    latest: dict[str, Any] = {}
    for offer in store.live_offers(now=now):
        seen = latest.get(offer.peer_id)
        if seen is None or offer.received_at > seen.received_at:
            latest[offer.peer_id] = offer
    rows = []
    for offer in latest.values():
        body = json.loads(offer.body_json)
        v = store.verified_figure(offer.peer_id)
        rows.append(
            {
                "provider": checksum(offer.address),
                "peer_id": offer.peer_id,
                "addrs": list(body.get("addrs", [])),
                "price_per_unit": offer.price_per_unit,
                "device": body.get("device", ""),
                "device_name": body.get("device_name", ""),
                "claimed_gflops": int(body.get("gflops", 0)),
                "verified_gflops": v.verified_gflops,
                "challenges": v.challenges,
                "challenge_failed": v.failed,
                "verified_label": v.label,
                "max_units": int(body.get("max_units", 0)),
                "kinds": list(body.get("kinds", [])),
                "llm": body.get("llm"),
                "expires_in_s": max(0, offer.expires_at - now),
            }
        )
    return sorted(rows, key=lambda r: (r["challenge_failed"], r["price_per_unit"], r["peer_id"]))


@dataclass(frozen=True)
class ProviderRow:
    """An account registered with the provider role, as the registry shows it now."""

    address: str
    peer_id: str
    active_stake: int
    eligible: bool


def providers(scan: EventScan) -> list[ProviderRow]:
    """Every account that registered the provider role (``Registered`` events), with its stake now."""
    from node.chain.registry import Role
    from node.query.node import peer_id_text

    registry = scan.chain.registry
    seen = dict.fromkeys(
        checksum(e.args["account"]) for e in scan.named("Registered") if int(e.args["roles"]) & Role.PROVIDER
    )
    rows = []
    for address in seen:
        staker = registry.staker(address)
        rows.append(
            ProviderRow(address, peer_id_text(staker.peer_id), staker.active, registry.is_provider(address))
        )
    return rows


@dataclass(frozen=True)
class CurvePoint:
    """The model's forward price of a one-month window ``months_ahead`` from now, per H100e-hour."""

    months_ahead: float
    price_per_unit: float


def forward_curve(
    gpu_class: str, months: Iterable[float] = (0, 0.5, 1, 2, 3, 4.5, 6, 9, 12)
) -> list[CurvePoint]:
    """The economics' forward curve of ``gpu_class`` per H100e-hour (USD = tokens), for charts."""
    from tokenomics.depreciation import DepreciationModel
    from tokenomics.forward import ForwardTerms
    from tokenomics.forward import forward_curve as model_curve
    from tokenomics.market_data import load_market_data
    from tokenomics.normalized import PPM, class_ppm

    gpu = load_market_data().gpu_class(gpu_class.strip().upper())
    factor = class_ppm(gpu) / PPM
    curve = model_curve(gpu, list(months), model=DepreciationModel.defaults(), terms=ForwardTerms())
    return [CurvePoint(c.months_ahead, c.price / factor) for c in curve]

"""The public price index of the claims market, computed from the chain alone.

Input: the ``CapacityClaims`` events of the deployment (``SeriesCreated`` gives each series' GPU
class, window, region and verified H100e ppm per GPU-hour; ``OrderFilled`` each trade's amount and
payment) and the timestamps of their blocks. Nothing off chain: anyone with an RPC endpoint and the
deployment record gets the same numbers.

Method:

* a fill of ``amount`` GPU-hours of a series at ``ppm`` H100e per GPU-hour is ``amount * ppm``
  micro-H100e-hours (:mod:`tokenomics.normalized`), bought for ``payment`` token base units;
* its forward *window* is named by the lead time from the fill's block time to the series' window
  start: ``spot`` (< 15 days, or already started), ``1m`` (< 60 d), ``3m`` (< 135 d), ``6m``
  (< 270 d), ``12m`` (later) — see :data:`WINDOWS`;
* a point is one (GPU class, window, UTC day of the fill): price = volume-weighted price per
  H100e-hour = ``sum(payment) * 10**6 // sum(micro-H100e-hours)`` (integer base units, floor),
  volume = the H100e-hours traded, trades = the number of fills;
* a point backed by fewer than :data:`MIN_TRADES` fills is ``thin``: shown, never hidden, but
  marked, because one trade is a quote, not a market price.

Fills of a series that is not a ``SeriesCreated`` of the same contract cannot happen; a series with
``ppm == 0`` cannot exist (the cap refuses a provider without verified GPUs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.errors import CcmError

if TYPE_CHECKING:
    from node.chain.chain import Chain

DAY = 86_400
#: (name, lowest lead time in seconds, first lead time that no longer belongs), in order.
WINDOWS: tuple[tuple[str, int, int | None], ...] = (
    ("spot", -(2**63), 15 * DAY),
    ("1m", 15 * DAY, 60 * DAY),
    ("3m", 60 * DAY, 135 * DAY),
    ("6m", 135 * DAY, 270 * DAY),
    ("12m", 270 * DAY, None),
)
WINDOW_NAMES = tuple(w[0] for w in WINDOWS)
#: Months ahead each window stands for on a forward curve.
WINDOW_MONTHS = {"spot": 0.0, "1m": 1.0, "3m": 3.0, "6m": 6.0, "12m": 12.0}
MIN_TRADES = 3


class IndexInputError(CcmError):
    """A bad ``--window`` / ``--gpu-class`` / ``--plot`` value (one line for the CLI)."""


@dataclass(frozen=True)
class Trade:
    """One fill, joined with its series, as read from the chain."""

    block_number: int
    log_index: int
    tx_hash: str
    timestamp: int
    series_id: int
    gpu_class: str
    region: str
    window: str
    lead_s: int
    amount: int
    payment: int
    ppm_per_gpu: int
    seller: str
    buyer: str

    @property
    def micro_units(self) -> int:
        return self.amount * self.ppm_per_gpu


@dataclass(frozen=True)
class IndexPoint:
    """One point of the index (see the module docstring); ``price`` in token base units per H100e-hour."""

    gpu_class: str
    window: str
    day: str
    price: int
    volume: float
    volume_micro: int
    payment: int
    trades: int
    thin: bool

    def to_json(self) -> dict[str, Any]:
        from tokenomics.units import units_to_tokens

        return {
            "gpu_class": self.gpu_class,
            "window": self.window,
            "day": self.day,
            "price": self.price,
            "price_tokens": units_to_tokens(self.price),
            "volume": self.volume,
            "volume_micro": self.volume_micro,
            "trades": self.trades,
            "thin": self.thin,
        }


def window_of(lead_s: int) -> str:
    """The window name for a lead time (fill time to window start, seconds; negative = started)."""
    for name, low, high in WINDOWS:
        if lead_s >= low and (high is None or lead_s < high):
            return name
    raise AssertionError("the windows cover every lead time")  # pragma: no cover


def day_of(timestamp: int) -> str:
    """The UTC date of a unix time, ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


def collect_trades(chain: Chain, *, from_block: int | None = None) -> list[Trade]:
    """Every fill of the deployment's ``CapacityClaims``, joined with its series, in chain order."""
    from node.chain.claims import decode_region
    from node.claims.pricing import class_name

    claims_address = chain.claims.address.lower()
    series: dict[int, dict[str, Any]] = {}
    fills = []
    for event in chain.event_watcher(from_block=from_block).poll():
        if event.address.lower() != claims_address:
            continue
        if event.name == "SeriesCreated":
            series[int(event.args["seriesId"])] = dict(event.args)
        elif event.name == "OrderFilled":
            fills.append(event)
    times: dict[int, int] = {}
    trades = []
    for fill in fills:
        sid = int(fill.args["seriesId"])
        s = series[sid]
        if fill.block_number not in times:
            times[fill.block_number] = chain.client.timestamp(fill.block_number)
        ts = times[fill.block_number]
        lead = int(s["windowStart"]) - ts
        trades.append(
            Trade(
                block_number=fill.block_number,
                log_index=fill.log_index,
                tx_hash=fill.tx_hash,
                timestamp=ts,
                series_id=sid,
                gpu_class=class_name(bytes(s["gpuClass"])),
                region=decode_region(bytes(s["region"])),
                window=window_of(lead),
                lead_s=lead,
                amount=int(fill.args["amount"]),
                payment=int(fill.args["payment"]),
                ppm_per_gpu=int(s["ppmPerGpu"]),
                seller=str(fill.args["seller"]),
                buyer=str(fill.args["buyer"]),
            )
        )
    return trades


def compute_index(
    trades: Iterable[Trade],
    *,
    gpu_class: str | None = None,
    window: str | None = None,
    region: str | None = None,
    min_trades: int = MIN_TRADES,
) -> list[IndexPoint]:
    """The index points of ``trades`` (filtered by class, window and region), sorted by class,
    window (spot first) and day."""
    from tokenomics.normalized import PPM, micro_to_units

    if window is not None and window not in WINDOW_NAMES:
        raise IndexInputError(f"--window: {window!r} is not one of {', '.join(WINDOW_NAMES)}")
    wanted_class = gpu_class.strip().upper() if gpu_class else None
    wanted_region = region.strip().upper() if region is not None else None
    groups: dict[tuple[str, str, str], list[Trade]] = defaultdict(list)
    for t in trades:
        if wanted_class and t.gpu_class.upper() != wanted_class:
            continue
        if window and t.window != window:
            continue
        if wanted_region is not None and t.region != wanted_region:
            continue
        groups[(t.gpu_class, t.window, day_of(t.timestamp))].append(t)
    points = []
    for (cls, win, day), group in groups.items():
        micro = sum(t.micro_units for t in group)
        payment = sum(t.payment for t in group)
        points.append(
            IndexPoint(
                gpu_class=cls,
                window=win,
                day=day,
                price=payment * PPM // micro,
                volume=micro_to_units(micro),
                volume_micro=micro,
                payment=payment,
                trades=len(group),
                thin=len(group) < min_trades,
            )
        )
    return sorted(points, key=lambda p: (p.gpu_class, WINDOW_NAMES.index(p.window), p.day))


def market_index(
    chain: Chain, *, gpu_class: str | None = None, window: str | None = None, region: str | None = None
) -> list[IndexPoint]:
    """The index of the deployment, from its events (see the module docstring)."""
    return compute_index(collect_trades(chain), gpu_class=gpu_class, window=window, region=region)


def plot_index(path: Path, points: Sequence[IndexPoint], *, gpu_class: str) -> Path:
    """Draw the index of ``gpu_class`` beside the economics' forward curve (PNG).

    Left: the index per day, one line per window (thin points hollow). Right: the latest index
    point of each window at its months ahead, over the model's forward price per H100e-hour
    (:func:`tokenomics.forward.forward_curve` of the class, per GPU-hour, divided by the class's
    datasheet H100e factor :func:`tokenomics.normalized.class_ppm`); one token = one USD.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from tokenomics.depreciation import DepreciationModel
    from tokenomics.errors import TokenomicsError
    from tokenomics.forward import ForwardTerms, forward_curve
    from tokenomics.market_data import load_market_data
    from tokenomics.normalized import PPM, UNIT_NAME, class_ppm
    from tokenomics.units import units_to_float

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise IndexInputError(f"--plot: give a path ending in .png, got {str(path)!r}")
    if not path.parent.is_dir():
        raise IndexInputError(f"--plot: folder does not exist: {str(path.parent)!r}")
    cls = gpu_class.strip().upper()
    mine = [p for p in points if p.gpu_class.upper() == cls]
    try:
        gpu = load_market_data().gpu_class(cls)
        factor = class_ppm(gpu) / PPM
        months = [0.0, 0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 9.0, 12.0]
        curve = forward_curve(gpu, months, model=DepreciationModel.defaults(), terms=ForwardTerms())
    except TokenomicsError as exc:
        raise IndexInputError(f"--gpu-class: {exc}") from None

    fig = Figure(figsize=(11, 4.5))
    left, right = fig.subplots(1, 2)
    for win in WINDOW_NAMES:
        series = [p for p in mine if p.window == win]
        if not series:
            continue
        days = [p.day for p in series]
        prices = [units_to_float(p.price) for p in series]
        (line,) = left.plot(days, prices, marker="o", label=win)
        thin = [(d, y) for d, y, p in zip(days, prices, series, strict=True) if p.thin]
        if thin:
            left.scatter(
                [d for d, _ in thin],
                [y for _, y in thin],
                s=90,
                facecolors="white",
                edgecolors=line.get_color(),
                zorder=3,
            )
    left.set_title(f"{cls} index from on-chain fills (hollow = thin, < {MIN_TRADES} trades)")
    left.set_xlabel("day (UTC)")
    left.set_ylabel(f"tokens per {UNIT_NAME}")
    left.grid(alpha=0.3)
    if mine:
        left.legend()
    right.plot(
        [c.months_ahead for c in curve],
        [c.price / factor for c in curve],
        color="gray",
        label=f"model forward curve ({cls}, USD per {UNIT_NAME})",
    )
    for win in WINDOW_NAMES:
        latest = [p for p in mine if p.window == win][-1:]
        for p in latest:
            right.scatter(
                [WINDOW_MONTHS[win]],
                [units_to_float(p.price)],
                s=60 + 10 * p.trades,
                facecolors="white" if p.thin else "C1",
                edgecolors="C1",
                zorder=3,
            )
            right.annotate(
                f"{win} ({p.trades})",
                (WINDOW_MONTHS[win], units_to_float(p.price)),
                textcoords="offset points",
                xytext=(5, 5),
            )
    right.set_title("latest index by window vs the model")
    right.set_xlabel("months ahead")
    right.set_ylabel(f"price per {UNIT_NAME}")
    right.grid(alpha=0.3)
    right.legend()
    fig.tight_layout()
    FigureCanvasAgg(fig)
    try:
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise IndexInputError(f"--plot: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    return path

"""PNG plots of the models, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Each function writes one PNG file and returns its path. Floats only: plots are for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tokenomics.depreciation import DepreciationModel, DepreciationPoint
from tokenomics.errors import ParameterError
from tokenomics.forward import ForwardPoint
from tokenomics.market_data import GpuClass
from tokenomics.units import units_to_float


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ParameterError("plot", f"plots are PNG files; give a path ending in .png, got {str(path)!r}")
    if not path.parent.is_dir():
        raise ParameterError("plot", f"folder does not exist: {str(path.parent)!r}")
    FigureCanvasAgg(fig)
    try:
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise ParameterError("plot", f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    return path


def plot_depreciation(
    path: Path,
    *,
    classes: Sequence[GpuClass],
    model: DepreciationModel,
    horizon_years: float,
    focus: GpuClass,
    curve: Sequence[DepreciationPoint],
    life_years: float,
) -> Path:
    """Left: model hour price of each class over time. Right: ``focus``'s economic vs book values."""
    fig = Figure(figsize=(11, 4.5))
    left, right = fig.subplots(1, 2)
    n = 200
    ts = [horizon_years * i / (n - 1) for i in range(n)]
    for gpu in classes:
        left.plot(ts, [model.spot(gpu, t) for t in ts], label=gpu.name)
    left.set_title(f"GPU-hour price, {model.mode} model (step {model.step:g} per {model.cadence_years:g} y)")
    left.set_xlabel("years from now")
    left.set_ylabel("USD per GPU-hour")
    left.legend()
    left.grid(alpha=0.3)
    xs = [p.years for p in curve]
    right.plot(xs, [p.economic_value_usd for p in curve], label="economic value (PV of net rents)")
    right.plot(xs, [p.straight_line_usd for p in curve], label=f"straight-line, {life_years:g} y")
    right.plot(xs, [p.declining_balance_usd for p in curve], label=f"double-declining, {life_years:g} y")
    right.set_title(f"{focus.name}: value of one GPU")
    right.set_xlabel("years from now")
    right.set_ylabel("USD")
    right.legend()
    right.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_forward(path: Path, *, gpu: GpuClass, curve: Sequence[ForwardPoint]) -> Path:
    """Forward price today versus model spot at the window start, by months ahead."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    xs = [p.months_ahead for p in curve]
    ax.plot(xs, [p.price for p in curve], marker="o", label="forward price today")
    ax.plot(xs, [p.spot_at_start for p in curve], linestyle="--", label="model spot at window start")
    ax.set_title(f"{gpu.name}: price of a GPU-hour claim ({curve[0].window_months:g}-month window)")
    ax.set_xlabel("months ahead")
    ax.set_ylabel("USD per GPU-hour")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_simulation(path: Path, report: dict[str, Any]) -> Path:
    """Price, utilization and reward pool per epoch, and each strategy's profit (tokens), from
    :func:`tokenomics.simulation.run_simulation`."""
    fig = Figure(figsize=(16, 4.8))
    a, b, pool, c = fig.subplots(1, 4)
    epochs = report["epochs"]
    xs = [e["epoch"] for e in epochs]
    a.plot(xs, [e["price_usd"] for e in epochs], label="market price")
    a.plot(xs, [e["reference_usd"] for e in epochs], linestyle="--", label="model spot")
    a.set_title("price (USD per GPU-hour)")
    a.set_xlabel("epoch")
    a.legend()
    a.grid(alpha=0.3)
    b.plot(xs, [e["utilization"] for e in epochs])
    b.set_ylim(0, 1.05)
    b.set_title("utilization")
    b.set_xlabel("epoch")
    b.grid(alpha=0.3)
    pool.plot(xs, [units_to_float(e["reward_pool"]) for e in epochs])
    pool.set_title("verifier reward pool (tokens)")
    pool.set_xlabel("epoch")
    pool.grid(alpha=0.3)
    names = list(report["strategies"])
    profits = [units_to_float(report["strategies"][n]["profit"]) for n in names]
    colors = ["tab:green" if v >= 0 else "tab:red" for v in profits]
    c.bar(names, profits, color=colors)
    c.axhline(0, color="black", linewidth=0.8)
    c.set_title(f"profit by strategy (tokens), seed {report['params']['seed']}")
    c.tick_params(axis="x", labelrotation=35)
    for label in c.get_xticklabels():
        label.set_horizontalalignment("right")
    c.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, path)


def plot_breakeven(
    path: Path, *, gpu: GpuClass, points: Sequence[tuple[float, float]], spot_usd: float, reserve_usd: float
) -> Path:
    """Break-even price per GPU-hour against utilization, with today's spot and the reserve price."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    ax.plot([u for u, _ in points], [b for _, b in points], label="break-even price")
    ax.axhline(spot_usd, linestyle="--", color="tab:orange", label="spot today")
    ax.axhline(reserve_usd, linestyle=":", color="tab:gray", label="reserve (100 % utilization)")
    ax.set_title(f"{gpu.name}: break-even price by utilization")
    ax.set_xlabel("utilization (share of hours sold)")
    ax.set_ylabel("USD per GPU-hour")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_audit(path: Path, *, rows: Sequence[dict[str, Any]], title: str) -> Path:
    """Expected gain of cheating (tokens per job, vs honesty) against the corrupted fraction."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    xs = [r["cheat_fraction"] for r in rows]
    ax.plot(xs, [units_to_float(int(r["expected_gain"])) for r in rows], marker=".", label="gain vs honest")
    ax.plot(xs, [units_to_float(int(r["expected_profit"])) for r in rows], marker=".", label="profit per job")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_title(title)
    ax.set_xlabel("fraction of units corrupted")
    ax.set_ylabel("tokens per job (expected)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)

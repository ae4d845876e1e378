"""Charts as inline SVG: no JavaScript, no image files, nothing for the browser to fetch.

:func:`line_chart` draws numeric series on shared axes (markers, optional hollow markers for thin
points, optional lines); :func:`bar_chart` draws grouped bars per category. Both return an ``<svg>``
element as text with every label escaped. Values are floats: charts are for looking, the tables
beside them carry the exact integers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 64, 24, 50, 46
LEGEND_Y = 38


@dataclass(frozen=True)
class Series:
    """One series: ``points`` as (x, y); ``hollow[i]`` draws point i as an open circle."""

    label: str
    points: Sequence[tuple[float, float]]
    color: str = PALETTE[0]
    line: bool = True
    hollow: Sequence[bool] = field(default=())
    notes: Sequence[str] = field(default=())
    markers: bool = True


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10 * mag)
    ticks = [math.floor(lo / step) * step]
    while ticks[-1] < hi - 1e-12 * step:  # up to the first tick at or above ``hi``
        ticks.append(ticks[-1] + step)
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _frame(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" class="chart">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">'
        f"{escape(title)}</text>",
    ]


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_title: str,
    y_title: str,
    x_labels: dict[float, str] | None = None,
    width: int = 560,
    height: int = 300,
) -> str:
    """An SVG line/scatter chart of ``series`` (see the module docstring).

    The y axis turns logarithmic (powers of ten) when the positive values span more than a factor
    of 100, so a curve of a few tokens and points of thousands are both readable.
    """
    pts = [p for s in series for p in s.points]
    out = _frame(width, height, title)
    if not pts:
        out.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#666">no data</text></svg>'
        )
        return "".join(out)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    pad = (x_hi - x_lo) * 0.06  # points and labels clear of the frame
    x_lo, x_hi = x_lo - pad, x_hi + pad
    positive = [y for y in ys if y > 0]
    log_y = bool(positive) and min(ys) > 0 and max(positive) / min(positive) > 100
    if log_y:
        lo_exp, hi_exp = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
        y_ticks = [10.0**e for e in range(lo_exp, max(hi_exp, lo_exp + 1) + 1)]
    else:
        y_ticks = _ticks(min(0.0, min(ys)), max(ys) * 1.15 if max(ys) > 0 else 1.0)
    y_lo, y_hi = y_ticks[0], y_ticks[-1]
    pw, ph = width - MARGIN_L - MARGIN_R, height - MARGIN_T - MARGIN_B

    def sx(x: float) -> float:
        return MARGIN_L + (x - x_lo) / (x_hi - x_lo) * pw

    def sy(y: float) -> float:
        if log_y:
            return (
                MARGIN_T
                + ph
                - (math.log10(y) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)) * ph
            )
        return MARGIN_T + ph - (y - y_lo) / (y_hi - y_lo) * ph

    for t in y_ticks:
        out.append(
            f'<line x1="{MARGIN_L}" x2="{MARGIN_L + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#e5e5e5"/>'
            f'<text x="{MARGIN_L - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>'
        )
    x_ticks = sorted(x_labels) if x_labels else _ticks(x_lo, x_hi)
    for t in x_ticks:
        if t < x_lo - 1e-9 or t > x_hi + 1e-9:
            continue
        label = x_labels[t] if x_labels else _fmt(t)
        out.append(
            f'<text x="{sx(t):.1f}" y="{MARGIN_T + ph + 16}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    y_label = y_title + (" (log scale)" if log_y else "")
    out.append(
        f'<rect x="{MARGIN_L}" y="{MARGIN_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>'
        f'<text x="{MARGIN_L + pw / 2}" y="{height - 8}" text-anchor="middle" font-size="12">'
        f"{escape(x_title)}</text>"
        f'<text x="14" y="{MARGIN_T + ph / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {MARGIN_T + ph / 2})">{escape(y_label)}</text>'
    )
    legend_x = MARGIN_L
    for s in series:
        coords = [(sx(x), sy(y)) for x, y in s.points]
        if s.line and len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"/>')
        for i, (x, y) in enumerate(coords if s.markers else ()):
            hollow = i < len(s.hollow) and s.hollow[i]
            fill = "white" if hollow else s.color
            note = f"<title>{escape(s.notes[i])}</title>" if i < len(s.notes) else ""
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{fill}" stroke="{s.color}" '
                f'stroke-width="2">{note}</circle>'
            )
        out.append(
            f'<rect x="{legend_x}" y="{LEGEND_Y - 6}" width="12" height="4" fill="{s.color}"/>'
            f'<text x="{legend_x + 16}" y="{LEGEND_Y}" font-size="11">{escape(s.label)}</text>'
        )
        legend_x += 30 + 6 * len(s.label)
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    categories: Sequence[str],
    groups: Sequence[tuple[str, Sequence[float], str]],
    *,
    title: str,
    y_title: str,
    width: int = 560,
    height: int = 260,
) -> str:
    """Grouped bars: one group of bars per category, one bar per ``(label, values, color)``."""
    out = _frame(width, height, title)
    values = [v for _, vs, _ in groups for v in vs]
    if not categories or not values:
        out.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#666">no data</text></svg>'
        )
        return "".join(out)
    ticks = _ticks(0.0, max(values) * 1.1 if max(values) > 0 else 1.0)
    top = ticks[-1]
    pw, ph = width - MARGIN_L - MARGIN_R, height - MARGIN_T - MARGIN_B
    slot = pw / len(categories)
    bar = slot * 0.8 / max(1, len(groups))
    for t in ticks:
        y = MARGIN_T + ph - t / top * ph
        out.append(
            f'<line x1="{MARGIN_L}" x2="{MARGIN_L + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{MARGIN_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>'
        )
    for i, cat in enumerate(categories):
        x0 = MARGIN_L + i * slot + slot * 0.1
        for g, (label, vals, color) in enumerate(groups):
            v = vals[i]
            h = v / top * ph
            out.append(
                f'<rect x="{x0 + g * bar:.1f}" y="{MARGIN_T + ph - h:.1f}" width="{bar * 0.95:.1f}" '
                f'height="{h:.1f}" fill="{color}">'
                f"<title>{escape(label)} {escape(cat)}: {_fmt(v)}</title></rect>"
            )
        out.append(
            f'<text x="{MARGIN_L + (i + 0.5) * slot:.1f}" y="{MARGIN_T + ph + 16}" text-anchor="middle" '
            f'font-size="11">{escape(cat)}</text>'
        )
    out.append(
        f'<rect x="{MARGIN_L}" y="{MARGIN_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>'
        f'<text x="14" y="{MARGIN_T + ph / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {MARGIN_T + ph / 2})">{escape(y_title)}</text>'
    )
    for g, (label, _, color) in enumerate(groups):
        out.append(
            f'<rect x="{MARGIN_L + g * 90}" y="{LEGEND_Y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{MARGIN_L + 14 + g * 90}" y="{LEGEND_Y}" font-size="11">{escape(label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)

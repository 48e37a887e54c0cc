"""Charts as inline SVG text: a time-series line chart, horizontal bars, a
share bar. Every label is HTML-escaped here (keys come from logs); numbers are
formatted here. No scripts, no external references.

Each chart's ``<svg>`` carries ``data-chart`` (its kind) and ``data-points``
(how many values it draws); each drawn value is an element with class
``point`` or ``bar`` whose ``<title>`` shows the value on hover.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

#: series colours (colour-blind-safe, after Okabe and Ito)
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000")
FONT = 12
#: points drawn as circles up to this many per series (beyond, the line alone)
MAX_MARKERS = 160
#: status classes keep one colour each (2xx green ... 5xx red)
STATUS_COLOURS = {"1": "#56b4e9", "2": "#009e73", "3": "#0072b2", "4": "#e69f00", "5": "#d55e00"}
#: levels keep one colour each, whatever their case: errors red, warnings
#: amber, info blue, debug and trace grey (never a warning in green)
LEVEL_COLOURS = {
    **dict.fromkeys(("FATAL", "EMERG", "EMERGENCY", "ALERT", "CRITICAL", "CRIT"), "#8b1a1a"),
    **dict.fromkeys(("ERROR", "ERR", "SEVERE"), "#d62728"),
    **dict.fromkeys(("WARN", "WARNING"), "#f0a30a"),
    "NOTICE": "#56b4e9",
    **dict.fromkeys(("INFO", "INFORMATIONAL", "CONFIG"), "#1f6fb2"),
    **dict.fromkeys(("DEBUG", "FINE"), "#8c96a0"),
    **dict.fromkeys(("TRACE", "FINER", "FINEST"), "#c3c9cf"),
}
#: colours of the other parts of a share bar (none of the level or status
#: ones: a method or a kind never reads as an error)
OTHER_COLOURS = ("#0072b2", "#cc79a7", "#56b4e9", "#009e73", "#6a3d9a", "#999933", "#000000")


@dataclass
class Series:
    name: str
    values: Sequence[float | None]
    colour: str
    area: bool = False


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``high``."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def number(value: float) -> str:
    """A short label: 1,234 · 12.5k · 3.2M · 0.25."""
    if math.isnan(value):
        return "-"
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.3g}G"
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e4:
        return f"{value / 1e3:.3g}k"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    x_label: str = "window start",
    width: int = 900,
    height: int = 300,
    partial_last: bool = False,
) -> str:
    """A line chart of ``series`` over the ``labels`` (one label per x position).
    ``partial_last``: the last point is a window the log ends inside: drawn
    hollow, marked "partial", and said so in its title."""
    left, right, top, bottom = 64, 40, 30, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    ticks = nice_ticks(peak)
    y_max = ticks[-1] or 1.0
    n = len(labels)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / y_max

    drawn = sum(v is not None for s in series for v in s.values)
    out = [_open("line", width, height, title, drawn)]
    out.append(_grid(ticks, left, width - right, y))
    out.append(_axes(left, top, plot_w, plot_h, x_label=x_label, y_label=y_label, h=height))
    for i in _label_positions(n, max(plot_w // 110, 2)):
        out.append(
            f'<text class="tick" x="{x(i):.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{escape(_short_time(labels[i]))}</text>'
        )
    for s in series:
        points = [(x(i), y(v)) for i, v in enumerate(s.values) if v is not None]
        if not points:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        if s.area:
            base = top + plot_h
            out.append(
                f'<polygon points="{points[0][0]:.1f},{base} {path} {points[-1][0]:.1f},{base}" '
                f'fill="{s.colour}" fill-opacity="0.15" stroke="none"/>'
            )
        out.append(
            f'<polyline class="series" data-series="{escape(s.name)}" points="{path}" '
            f'fill="none" stroke="{s.colour}" stroke-width="2" stroke-linejoin="round"/>'
        )
        markers = len(points) <= MAX_MARKERS
        for i, v in enumerate(s.values):
            if v is None:
                continue
            radius = 3 if markers else 0
            partial = partial_last and i == n - 1
            look = (
                f'fill="#fff" stroke="{s.colour}" stroke-width="2"'
                if partial
                else f'fill="{s.colour}"'
            )
            note = " (partial window: the log ends inside it)" if partial else ""
            out.append(
                f'<circle class="point{" partial" * partial}" cx="{x(i):.1f}" cy="{y(v):.1f}" '
                f'r="{max(radius, 4) if partial else radius}" {look}><title>{escape(labels[i])} '
                f"{escape(s.name)}: {number(v)}{note}</title></circle>"
            )
    if partial_last and n:
        out.append(
            f'<text class="partial-label" x="{x(n - 1) - 4:.1f}" y="{top - 6}" '
            'text-anchor="end">last window partial</text>'
            f'<line class="partial-mark" x1="{x(n - 1):.1f}" y1="{top}" x2="{x(n - 1):.1f}" '
            f'y2="{top + plot_h}" stroke="#8795a3" stroke-dasharray="3 3"/>'
        )
    out.append(_legend([(s.name, s.colour) for s in series], left, 18))
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    x_label: str,
    colour: str = PALETTE[0],
    width: int = 900,
    label_chars: int = 48,
) -> str:
    """Horizontal bars, one per (label, value), in the order given."""
    bar_h, gap, top, bottom = 20, 6, 30, 44
    left = 14 + min(max((len(label) for label, _ in rows), default=4), label_chars) * 7
    left = min(max(left, 80), width // 2)
    height = top + bottom + len(rows) * (bar_h + gap)
    plot_w = width - left - 70
    ticks = nice_ticks(max((v for _, v in rows), default=0.0))
    x_max = ticks[-1] or 1.0
    out = [_open("bar", width, height, title, len(rows))]
    plot_bottom = top + len(rows) * (bar_h + gap)
    for tick in ticks:
        tx = left + plot_w * tick / x_max
        out.append(
            f'<line class="grid" x1="{tx:.1f}" y1="{top}" x2="{tx:.1f}" y2="{plot_bottom}"/>'
            f'<text class="tick" x="{tx:.1f}" y="{plot_bottom + 14}" '
            f'text-anchor="middle">{number(tick)}</text>'
        )
    for i, (label, value) in enumerate(rows):
        by = top + i * (bar_h + gap)
        bw = plot_w * value / x_max
        shown = shortened(label, label_chars)
        out.append(
            f'<text class="label" x="{left - 6}" y="{by + bar_h * 0.72:.1f}" '
            f'text-anchor="end">{escape(shown)}<title>{escape(label)}</title></text>'
            f'<rect class="bar" x="{left}" y="{by}" width="{max(bw, 1):.1f}" height="{bar_h}" '
            f'fill="{colour}"><title>{escape(label)}: {number(value)}</title></rect>'
            f'<text class="value" x="{left + bw + 5:.1f}" y="{by + bar_h * 0.72:.1f}">'
            f"{number(value)}</text>"
        )
    out.append(
        f'<text class="axis-label" x="{left + plot_w / 2:.1f}" y="{height - 8}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def share_bar(parts: Sequence[tuple[str, float]], *, title: str, width: int = 900) -> str:
    """One 100% bar split into ``parts``, with a legend of counts and shares."""
    total = sum(value for _, value in parts) or 1.0
    left, top, bar_h = 14, 30, 34
    columns = max(1, min(4, width // 220))
    legend_rows = math.ceil(len(parts) / columns)
    height = top + bar_h + 20 + legend_rows * 20 + 8
    out = [_open("share", width, height, title, len(parts))]
    plot_w = width - 2 * left
    at = float(left)
    for i, (label, value) in enumerate(parts):
        w = plot_w * value / total
        colour = share_colour(label, i)
        out.append(
            f'<rect class="bar" x="{at:.1f}" y="{top}" width="{w:.1f}" height="{bar_h}" '
            f'fill="{colour}"><title>{escape(label)}: {number(value)} '
            f"({100 * value / total:.1f}%)</title></rect>"
        )
        if w > 44:
            out.append(
                f'<text class="inbar" x="{at + w / 2:.1f}" y="{top + bar_h * 0.65:.1f}" '
                f'text-anchor="middle">{escape(shortened(label, max(int(w // 8), 4)))}'
                f"<title>{escape(label)}</title></text>"
            )
        at += w
    for i, (label, value) in enumerate(parts):
        lx = left + (i % columns) * (plot_w / columns)
        ly = top + bar_h + 22 + (i // columns) * 20
        out.append(
            f'<rect x="{lx:.1f}" y="{ly - 10}" width="12" height="12" '
            f'fill="{share_colour(label, i)}"/>'
            f'<text class="legend" x="{lx + 17:.1f}" y="{ly}">{escape(shortened(label, 28))}: '
            f"{number(value)} ({100 * value / total:.1f}%)<title>{escape(label)}</title></text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def share_colour(label: str, index: int) -> str:
    """Status codes and classes keep one colour each (2xx green ... 5xx red),
    levels theirs (``LEVEL_COLOURS``); others cycle through ``OTHER_COLOURS``."""
    if (
        len(label) == 3
        and label[0] in STATUS_COLOURS
        and (label[1:].isdigit() or label[1:] == "xx")
    ):
        return STATUS_COLOURS[label[0]]
    return LEVEL_COLOURS.get(label.upper(), OTHER_COLOURS[index % len(OTHER_COLOURS)])


def shortened(label: str, most: int) -> str:
    """``label`` in at most ``most`` characters: its middle cut out as ``…``
    (both ends of a path say the most: ``/api/v1/…/items/42``)."""
    if len(label) <= most:
        return label
    head = most // 2
    tail = most - 1 - head
    return label[:head] + "…" + (label[-tail:] if tail else "")


def _open(kind: str, width: int, height: int, title: str, points: int) -> str:
    return (
        f'<svg class="chart" data-chart="{kind}" data-points="{points}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"<title>{escape(title)}</title>"
    )


def _grid(ticks: list[float], x1: int, x2: int, place: Callable[[float], float]) -> str:
    return "".join(
        f'<line class="grid" x1="{x1}" y1="{place(t):.1f}" x2="{x2}" y2="{place(t):.1f}"/>'
        f'<text class="tick" x="{x1 - 6}" y="{place(t) + 4:.1f}" text-anchor="end">'
        f"{number(t)}</text>"
        for t in ticks
    )


def _axes(
    left: int, top: int, plot_w: int, plot_h: int, *, x_label: str, y_label: str, h: int
) -> str:
    return (
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>'
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>'
        f'<text class="axis-label" x="{left + plot_w / 2:.1f}" y="{h - 10}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="axis-label" transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )


def _legend(entries: list[tuple[str, str]], x: int, y: int) -> str:
    out, at = [], float(x)
    for name, colour in entries:
        out.append(
            f'<rect x="{at:.1f}" y="{y - 10}" width="14" height="4" fill="{colour}"/>'
            f'<text class="legend" x="{at + 19:.1f}" y="{y - 4}">{escape(name)}</text>'
        )
        at += 30 + 7.5 * len(name)
    return "".join(out)


def _label_positions(n: int, most: int) -> list[int]:
    if n <= 0:
        return []
    if n <= most:
        return list(range(n))
    step = math.ceil((n - 1) / (most - 1))
    positions = list(range(0, n, step))
    if positions[-1] != n - 1 and (n - 1 - positions[-1]) * 4 >= step * 3:
        positions.append(n - 1)
    return positions


def _short_time(label: str) -> str:
    """``2026-11-22T03:05:00Z`` → ``11-22 03:05`` (the full label is in each point's title)."""
    if len(label) >= 16 and label[10] == "T":
        return f"{label[5:10]} {label[11:16]}"
    return label

"""Charts as SVG text, drawn on the server (no script, no CDN). Pure.

Every label is escaped: county and agent names are typed by admins.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from cti.stats.report import Report

#: Stacked bar segments: (figure, colour).
SEGMENTS = (
    ("answered", "#2e7d32"),
    ("abandoned", "#c62828"),
    ("short_abandoned", "#ef9a9a"),
    ("timeout", "#f9a825"),
)
WIDTH, HEIGHT, PAD = 640, 240, 40


def stacked_bars(report: Report) -> str:
    """Offered calls per group as bars stacked answered / abandoned / short / timeout."""
    rows = report.rows or []
    top = max((f.offered for _, f in rows), default=0) or 1
    n = max(len(rows), 1)
    slot = (WIDTH - 2 * PAD) / n
    bar = max(slot * 0.7, 1)
    parts = [_open("Calls offered by " + report.by)]
    for i, (name, f) in enumerate(rows):
        x = PAD + i * slot + (slot - bar) / 2
        y = HEIGHT - PAD
        for field, colour in SEGMENTS:
            value = getattr(f, field)
            h = (HEIGHT - 2 * PAD) * value / top
            if value:
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{escape(name)}: {field} {value}</title></rect>'
                )
        parts.append(_label(x + bar / 2, HEIGHT - PAD + 14, name))
    parts.append(_legend([(f, c) for f, c in SEGMENTS]))
    parts.append(_axis(top))
    parts.append("</svg>")
    return "".join(parts)


def time_series(report: Report, field: str = "offered") -> str:
    """One figure per group as a line (meant for day / week / hour groupings)."""
    values: Sequence[tuple[str, float]] = [
        (name, float(getattr(f, field) or 0)) for name, f in report.rows
    ]
    top = max((v for _, v in values), default=0) or 1
    n = max(len(values) - 1, 1)
    step = (WIDTH - 2 * PAD) / n
    points = [
        (PAD + i * step, HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top)
        for i, (_, v) in enumerate(values)
    ]
    parts = [_open(f"{field} by {report.by}")]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>')
        for (x, y), (name, v) in zip(points, values, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1565c0">'
                f"<title>{escape(name)}: {v:g}</title></circle>"
            )
        every = max(len(values) // 8, 1)
        for i, (name, _) in enumerate(values):
            if i % every == 0:
                parts.append(_label(points[i][0], HEIGHT - PAD + 14, name))
    parts.append(_axis(top))
    parts.append("</svg>")
    return "".join(parts)


def _open(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" class="chart"><title>{escape(title)}</title>'
    )


def _label(x: float, y: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="middle">'
        f"{escape(text[:14])}</text>"
    )


def _axis(top: float) -> str:
    return (
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        f'stroke="#555"/><text x="{PAD - 4}" y="{PAD}" font-size="10" '
        f'text-anchor="end">{top:g}</text>'
    )


def _legend(items: Sequence[tuple[str, str]]) -> str:
    out = []
    for i, (name, colour) in enumerate(items):
        x = PAD + i * 130
        out.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="17" font-size="10">{escape(name.replace("_", " "))}</text>'
        )
    return "".join(out)


def bars(title: str, items: Sequence[tuple[str, float | None]], unit: str = "") -> str:
    """One bar per (label, value), e.g. tickets by category (``None`` draws no bar)."""
    values = [(name, float(v or 0)) for name, v in items]
    top = max((v for _, v in values), default=0) or 1
    n = max(len(values), 1)
    slot = (WIDTH - 2 * PAD) / n
    bar = max(slot * 0.7, 1)
    parts = [_open(title)]
    for i, (name, v) in enumerate(values):
        x = PAD + i * slot + (slot - bar) / 2
        h = (HEIGHT - 2 * PAD) * v / top
        parts.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="#1565c0"><title>{escape(name)}: {v:g}{escape(unit)}</title></rect>'
        )
        parts.append(_label(x + bar / 2, HEIGHT - PAD + 14, name))
    parts.append(_axis(top))
    parts.append("</svg>")
    return "".join(parts)

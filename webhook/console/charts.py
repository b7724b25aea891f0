"""Charts drawn on the server as SVG: no script, no external library, nothing to download,
and the Content-Security-Policy stays "self only" (colours come from classes in
console.css, never from inline styles). Each chart has its numbers in a table beside it."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP, RIGHT = 40, 28, 10, 8
SERIES_CLASSES = 10


def _nice(top: int) -> int:
    """A round upper bound for the axis (1, 2, 5 times a power of ten)."""
    if top <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if top <= m * step:
                return m * step
        step *= 10


def stacked_bars(days: list[str], series: dict[str, list[int]], title: str) -> Markup:
    """Bars per day, one colour per series, stacked; an accessible title and per-bar
    tooltips (``<title>``) with the numbers."""
    n = max(len(days), 1)
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    top = _nice(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar = max(slot * 0.72, 1.0)
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for frac in (0, 0.5, 1):
        y = TOP + plot_h * (1 - frac)
        value = top * frac
        label = (f'<text class="axis" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{int(value)}</text>'
                 if value == int(value) else "")          # no "0.5 bounces"
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>{label}')
    names = list(series)
    for i, day in enumerate(days):
        x = LEFT + slot * i + (slot - bar) / 2
        y = TOP + plot_h
        parts = []
        for k, name in enumerate(names):
            v = series[name][i]
            if not v:
                continue
            h = plot_h * v / top
            y -= h
            parts.append(f"{name}: {v}")
            out.append(f'<rect class="s{k % SERIES_CLASSES}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                       f'height="{h:.1f}"><title>{escape(day)} {escape(name)}: {v}</title></rect>')
        if i % max(1, n // 6) == 0 or i == n - 1:
            out.append(f'<text class="axis" x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                       f'{escape(day[5:])}</text>')
    out.append("</svg>")
    legend = "".join(f'<li><svg class="key" viewBox="0 0 10 10" aria-hidden="true"><rect class="s{k % SERIES_CLASSES}" '
                     f'width="10" height="10"/></svg>{escape(name)}</li>' for k, name in enumerate(names))
    return Markup("".join(out) + f'<ul class="legend">{legend}</ul>')

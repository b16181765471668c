"""Small inline SVG charts for the dashboard: stacked horizontal bars, readable without colour
(each segment has its number and a <title>), with the figures also in a table next to them."""

from __future__ import annotations

from markupsafe import Markup, escape

# Colour-blind-safe palette (Okabe-Ito), dark enough for white text at AA for large text.
PALETTE = {"ok": "#007a5a", "warn": "#b35900", "bad": "#b3261e", "info": "#0b5cad", "muted": "#5d6b82"}
ROW, LABEL_W, BAR_W = 30, 150, 420


def stacked_bars(rows: list[tuple[str, list[tuple[str, int, str]]]], *, title: str) -> Markup:
    """rows: (label, [(segment name, value, palette key), …]); bars scaled to the largest row."""
    biggest = max((sum(v for _, v, _ in segments) for _, segments in rows), default=0) or 1
    height = ROW * max(len(rows), 1) + 8
    parts = [f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {LABEL_W + BAR_W + 60} {height}" '
             f'width="100%" class="chart" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, segments) in enumerate(rows):
        y = 4 + i * ROW
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 18}" text-anchor="end" font-size="13" fill="#1d2433">'
                     f'{escape(label)}</text>')
        x = float(LABEL_W)
        for name, value, colour in segments:
            if value <= 0:
                continue
            width = BAR_W * value / biggest
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 8}" '
                         f'fill="{PALETTE.get(colour, colour)}"><title>{escape(name)}: {value}</title></rect>')
            if width > 22:
                parts.append(f'<text x="{x + width / 2:.1f}" y="{y + 16}" text-anchor="middle" font-size="12" '
                             f'fill="#fff">{value}</text>')
            x += width
        total = sum(v for _, v, _ in segments)
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 17}" font-size="12" fill="#1d2433">{total}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

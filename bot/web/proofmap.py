"""The proof of delivery's pictures on the tracking page: a small map as inline SVG (the drop pin against the
address pin, with a scale bar; no tiles, no script, so it shows even where map tiles are off) and the
photo's element, both built here with every value escaped."""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape

from bot.core.geo import distance_m

WIDTH, HEIGHT, MARGIN = 320, 180, 28
METRES_PER_DEGREE = 111_320
MIN_SPAN_M = 40.0
SCALES = (5, 10, 20, 50, 100, 200, 500, 1000)


def pin_map(address: tuple[float, float], drop: tuple[float, float] | None, *,
            recorded_m: int | None = None) -> dict[str, Any]:
    """The pins' places in the picture (pixels) and a scale bar, as plain data for the page and its JSON;
    the distance shown is the one recorded with the proof, where there is one."""
    if drop is None:
        return {"address": [WIDTH / 2, HEIGHT / 2], "drop": None, "metres": None, "scale": [20, 20.0]}
    metres = distance_m(address[0], address[1], drop[0], drop[1])
    lat0 = (address[0] + drop[0]) / 2
    lng0 = (address[1] + drop[1]) / 2

    def metres_from_centre(point: tuple[float, float]) -> tuple[float, float]:
        x = (point[1] - lng0) * METRES_PER_DEGREE * math.cos(math.radians(lat0))
        y = (point[0] - lat0) * METRES_PER_DEGREE
        return x, y

    span = max(metres * 1.25, MIN_SPAN_M)
    per_metre = min(WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN) / span

    def pixel(point: tuple[float, float]) -> list[float]:
        x, y = metres_from_centre(point)
        return [round(WIDTH / 2 + x * per_metre, 1), round(HEIGHT / 2 - y * per_metre, 1)]

    bar = next((s for s in SCALES if s * per_metre >= 40), SCALES[-1])
    return {"address": pixel(address), "drop": pixel(drop), "metres": recorded_m if recorded_m is not None else round(metres),
            "scale": [bar, round(bar * per_metre, 1)]}


def pin_map_svg(data: dict[str, Any], *, title: str, address_label: str, drop_label: str) -> Markup:
    """The map as an SVG element with ids the page's script moves (`pin-address`, `pin-drop`, `pin-line`)."""
    ax, ay = data["address"]
    drop = data.get("drop")
    dx, dy = drop if drop else (ax, ay)
    bar, bar_px = data["scale"]
    hidden = "" if drop else ' visibility="hidden"'
    parts = [
        f'<svg id="proof-map" role="img" aria-labelledby="proof-map-title" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" class="proof-map" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="proof-map-title">{escape(title)}</title>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#eef2f0"/>',
        *(f'<line x1="{x}" y1="0" x2="{x}" y2="{HEIGHT}" stroke="#dde5e1"/>' for x in range(0, WIDTH, 32)),
        *(f'<line x1="0" y1="{y}" x2="{WIDTH}" y2="{y}" stroke="#dde5e1"/>' for y in range(0, HEIGHT, 32)),
        f'<line id="pin-line" x1="{ax}" y1="{ay}" x2="{dx}" y2="{dy}" stroke="#475467" stroke-width="2" '
        f'stroke-dasharray="5 4"{hidden}/>',
        f'<g id="pin-address" transform="translate({ax} {ay})"><title>{escape(address_label)}</title>'
        '<path d="M0 0 L-9 -14 A11 11 0 1 1 9 -14 Z" fill="#f79009" stroke="#7a2e0e" stroke-width="2"/>'
        '<rect x="-4" y="-22" width="8" height="7" fill="#7a2e0e"/></g>',
        f'<g id="pin-drop" transform="translate({dx} {dy})"{hidden}><title>{escape(drop_label)}</title>'
        '<path d="M0 0 L-9 -14 A11 11 0 1 1 9 -14 Z" fill="#12b76a" stroke="#053321" stroke-width="2"/>'
        '<rect x="-5" y="-23" width="10" height="9" fill="#fff" stroke="#053321"/></g>',
        f'<g transform="translate(10 {HEIGHT - 12})"><line id="pin-scale" x1="0" y1="0" x2="{bar_px}" y2="0" '
        f'stroke="#1d2433" stroke-width="3"/><text id="pin-scale-text" x="0" y="-5" font-size="11" '
        f'fill="#1d2433">{int(bar)} m</text></g>',
        "</svg>",
    ]
    return Markup("".join(parts))


def photo_img(src: str | None, *, alt: str) -> Markup:
    """The photo's <img> (the page's script sets its `src` when the proof arrives later)."""
    return Markup('<img id="proof-photo" src="{}" alt="{}" width="320" height="240">').format(src or "", alt)

"""The kernels' logo, drawn here: three services and the messages between them.

One drawing, two renderings: SVG text, and PNG images rasterised by a few lines of
Python (shapes sampled 4x4 per pixel), so no image library is needed to install the
kernelspecs. Each Lua version's kernel has its own accent colour, so the launcher tells
them apart.
"""

from __future__ import annotations

import struct
import zlib

#: The canvas is 64 x 64 units.
SIZE = 64
BACKGROUND = "#1b2a41"
LINK = "#9fb3c8"
NOTEBOOK = "#ffffff"  # the service cells run in
#: accent colour of each Lua version's kernel
ACCENTS = {"5.4": "#f59e0b", "5.5": "#38bdf8"}

_NODES = ((18.0, 22.0), (46.0, 22.0), (32.0, 45.0))
_RADIUS = 7.0
_LINK_WIDTH = 3.0
_CORNER = 12.0


def svg(lua: str = "5.4") -> str:
    """The logo as SVG text."""
    accent = ACCENTS[lua]
    (ax, ay), (bx, by), (cx, cy) = _NODES
    lines = "".join(
        f'<line x1="{p[0]:g}" y1="{p[1]:g}" x2="{q[0]:g}" y2="{q[1]:g}"/>'
        for p, q in ((_NODES[0], _NODES[1]), (_NODES[0], _NODES[2]), (_NODES[1], _NODES[2])))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" '
        f'width="{SIZE}" height="{SIZE}">'
        f'<rect x="2" y="2" width="60" height="60" rx="{_CORNER:g}" fill="{BACKGROUND}"/>'
        f'<g stroke="{LINK}" stroke-width="{_LINK_WIDTH:g}" stroke-linecap="round">{lines}</g>'
        f'<circle cx="{ax:g}" cy="{ay:g}" r="{_RADIUS:g}" fill="{accent}"/>'
        f'<circle cx="{bx:g}" cy="{by:g}" r="{_RADIUS:g}" fill="{accent}"/>'
        f'<circle cx="{cx:g}" cy="{cy:g}" r="{_RADIUS:g}" fill="{NOTEBOOK}"/>'
        "</svg>\n")


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _in_rounded_square(x: float, y: float) -> bool:
    lo, hi = 2.0, 62.0
    if not (lo <= x <= hi and lo <= y <= hi):
        return False
    cx = min(max(x, lo + _CORNER), hi - _CORNER)
    cy = min(max(y, lo + _CORNER), hi - _CORNER)
    return (x - cx) ** 2 + (y - cy) ** 2 <= _CORNER ** 2


def _near_segment(x: float, y: float, p: tuple[float, float], q: tuple[float, float],
                  width: float) -> bool:
    dx, dy = q[0] - p[0], q[1] - p[1]
    t = max(0.0, min(1.0, ((x - p[0]) * dx + (y - p[1]) * dy) / (dx * dx + dy * dy)))
    ex, ey = p[0] + t * dx - x, p[1] + t * dy - y
    return ex * ex + ey * ey <= (width / 2) ** 2


def _color_at(x: float, y: float, accent: tuple[int, int, int]) -> tuple[int, ...] | None:
    """The colour at a point of the canvas (None: transparent), shapes painted in order."""
    for i, (nx, ny) in enumerate(_NODES):
        if (x - nx) ** 2 + (y - ny) ** 2 <= _RADIUS ** 2:
            return _rgb(NOTEBOOK) if i == 2 else accent
    a, b, c = _NODES
    for p, q in ((a, b), (a, c), (b, c)):
        if _near_segment(x, y, p, q, _LINK_WIDTH):
            return _rgb(LINK)
    if _in_rounded_square(x, y):
        return _rgb(BACKGROUND)
    return None


def pixels(size: int, lua: str = "5.4", samples: int = 4) -> list[list[tuple[int, ...]]]:
    """RGBA rows of the logo at size x size, each pixel averaged over samples^2 points."""
    accent = _rgb(ACCENTS[lua])
    scale = SIZE / size
    rows = []
    for py in range(size):
        row = []
        for px in range(size):
            r = g = b = a = 0
            for sy in range(samples):
                for sx in range(samples):
                    x = (px + (sx + 0.5) / samples) * scale
                    y = (py + (sy + 0.5) / samples) * scale
                    color = _color_at(x, y, accent)
                    if color is not None:
                        r, g, b, a = r + color[0], g + color[1], b + color[2], a + 1
            n = samples * samples
            # colour averaged over the covered samples; coverage is the alpha
            row.append((r // a, g // a, b // a, 255 * a // n) if a else (0, 0, 0, 0))
        rows.append(row)
    return rows


def png(size: int, lua: str = "5.4") -> bytes:
    """The logo as a PNG image (RGBA, 8 bits a channel) of size x size pixels."""
    raw = b"".join(b"\x00" + bytes(v for pixel in row for v in pixel)
                   for row in pixels(size, lua))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def files(lua: str = "5.4") -> dict[str, bytes]:
    """The logo files a kernelspec carries, by the names Jupyter looks for."""
    return {"logo-32x32.png": png(32, lua), "logo-64x64.png": png(64, lua),
            "logo-svg.svg": svg(lua).encode()}


__all__ = ["files", "png", "svg"]

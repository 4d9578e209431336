"""The code-cache generations view: a timeline of generations (files, bytes, the services
pinning each, current or stale), the cache's memory across clears as a hand-drawn SVG
chart, and clear / purge buttons that report what they did.

Data is plain: `snapshot()` returns {"generations": [...], "history": [(label, bytes)]}
as `skykernel.node.generations` describes them (dicts), and the actions return text.
The front end (views.js) draws the same data; the SVG here is the static fallback's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import MONO, Paths, View, ViewError, esc, plain


def fmt_bytes(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"


def svg_chart(history: list[tuple[str, int]], width: int = 420, height: int = 120) -> str:
    """A line chart of cache bytes per sample, drawn by hand (no plotting library)."""
    if not history:
        return "<svg class='sk-chart' width='0' height='0'></svg>"
    pad_l, pad_r, pad_t, pad_b = 52, 10, 10, 22
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    top = max(b for _, b in history) or 1
    n = len(history)

    def x(i: int) -> float:
        return pad_l + (w * i / (n - 1) if n > 1 else w / 2)

    def y(b: int) -> float:
        return pad_t + h - h * b / top

    points = " ".join(f"{x(i):.1f},{y(b):.1f}" for i, (_, b) in enumerate(history))
    dots = "".join(
        f"<circle cx='{x(i):.1f}' cy='{y(b):.1f}' r='3' fill='#1f6feb'>"
        f"<title>{esc(label)}: {fmt_bytes(b)}</title></circle>"
        for i, (label, b) in enumerate(history))
    step = max(1, n // 8)
    labels = "".join(
        f"<text x='{x(i):.1f}' y='{height - 6}' font-size='9' text-anchor='middle'>"
        f"{esc(label)}</text>" for i, (label, _) in enumerate(history) if i % step == 0)
    return (
        f"<svg class='sk-chart' xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{height}' style='background:#fafafa;border:1px solid #ddd'>"
        f"<line x1='{pad_l}' y1='{pad_t + h}' x2='{pad_l + w}' y2='{pad_t + h}' stroke='#999'/>"
        f"<line x1='{pad_l}' y1='{pad_t}' x2='{pad_l}' y2='{pad_t + h}' stroke='#999'/>"
        f"<text x='{pad_l - 4}' y='{pad_t + 8}' font-size='9' text-anchor='end'>"
        f"{fmt_bytes(top)}</text>"
        f"<text x='{pad_l - 4}' y='{pad_t + h}' font-size='9' text-anchor='end'>0</text>"
        f"<polyline points='{points}' fill='none' stroke='#1f6feb' stroke-width='2'/>"
        f"{dots}{labels}</svg>")


def generation_card(g: dict[str, Any]) -> str:
    current = g.get("current")
    pinned = g.get("services", [])
    state = "current" if current else ("stale, pinned" if pinned else "stale, free")
    color = "#1a7f37" if current else ("#b35900" if pinned else "#888")
    files = "".join(f"<li>{esc(f['filename'])} <span style='color:#777'>"
                    f"{fmt_bytes(f['bytes'])}</span></li>" for f in g.get("files", []))
    return (
        f"<div class='sk-generation' style='border:1px solid {color};border-radius:4px;"
        f"padding:4px 8px;margin:2px;min-width:150px;{MONO}'>"
        f"<b>generation {g['generation']}</b> <span style='color:{color}'>{state}</span><br>"
        f"{len(g.get('files', []))} files, {fmt_bytes(g.get('bytes', 0))}<br>"
        f"pinned by: {esc(' '.join(pinned) or 'nobody')}"
        f"<details><summary>files</summary><ul style='margin:0;padding-left:16px'>{files}"
        f"</ul></details></div>")


class GenerationsView(View):
    """The view; `snapshot()` reads the cache, `purge()` and `clear()` act and say what
    they did. The buttons are requests on the view's comm (`refresh`, `clear`, `purge`),
    answered with the new snapshot and that sentence."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]],
                 purge: Callable[[], str], clear: Callable[[], str],
                 paths: Paths | None = None) -> None:
        self.snapshot = snapshot
        self._purge = purge
        self._clear = clear
        self.paths = paths or Paths()
        self.cache = self.paths.data(self.snapshot())
        super().__init__("codecache", data=plain(self.cache))  # the comm opens with it

    def refresh(self) -> None:
        self.cache = self.paths.data(self.snapshot())
        self.data = plain(self.cache)

    def purge(self) -> str:
        text = self._purge()
        self.refresh()
        return text

    def clear(self) -> str:
        text = self._clear()
        self.refresh()
        return text

    async def handle(self, op: str, msg: dict[str, Any]) -> dict[str, Any] | None:
        actions = {"refresh": lambda: (self.refresh(), "read again")[1],
                   "clear": self.clear, "purge": self.purge}
        if op not in actions:
            raise ViewError(f"the code-cache view has no {op!r}")
        return {"status": actions[op]()}

    def _timeline_html(self) -> str:
        cards = "".join(generation_card(g) for g in self.cache.get("generations", []))
        return f"<div style='display:flex;flex-wrap:wrap;align-items:flex-start'>{cards}</div>"

    def text(self) -> str:
        rows = ["generation  state          files  bytes      pinned by"]
        for g in self.cache.get("generations", []):
            state = "current" if g.get("current") else (
                "stale,pinned" if g.get("services") else "stale,free")
            rows.append(f"{g['generation']:<10}  {state:<13}  {len(g.get('files', [])):<5}  "
                        f"{g.get('bytes', 0):<9}  {' '.join(g.get('services', []))}".rstrip())
        hist = ", ".join(f"{label}={b}" for label, b in self.cache.get("history", []))
        return "\n".join(rows) + (f"\nmemory: {hist}" if hist else "")

    def html(self) -> str:
        return (f"<div class='sk-codecache'><b>code cache generations</b>"
                f"{self._timeline_html()}{svg_chart(self.cache.get('history', []))}</div>")

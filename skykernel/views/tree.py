"""The upvalue explorer: a lazy tree over values in a service, one probe per expansion.

The tree knows nothing of Lua: `fetch(path, offset, limit)` returns one node's data (the
reply of `skykernel.upvalues.probe`) and the tree renders it. Expandable rows are buttons
(one cheap widget each, sharing one layout and style); leaf rows are grouped into HTML.
What changed since the last view (the same service and root, kept in a `TreeMemory`) is
highlighted, and the paths open then are opened again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from types import SimpleNamespace
from typing import Any

import ipywidgets as widgets

from .common import CSS_CHANGED, MONO, TYPE_COLORS, View, esc, small_button

Path = tuple[str, ...]
Fetch = Callable[[Path, int, int], Awaitable[dict[str, Any]]]

PAGE = 200


@cache
def _shared() -> SimpleNamespace:
    """Layouts and styles every row shares (one widget each, not one per row). Made on
    first use, inside a cell: a widget made at import time opens its comm outside any
    cell, and nbclient would not save its state."""
    mono = {"font_family": "monospace", "font_size": "12px"}
    return SimpleNamespace(
        row=widgets.Layout(width="auto", height="22px", margin="0", padding="0 4px"),
        plain=widgets.ButtonStyle(button_color="transparent", **mono),
        changed=widgets.ButtonStyle(button_color="#fff1a8", **mono),
        indent=widgets.Layout(margin="0 0 0 18px", align_items="flex-start"),
        level=widgets.Layout(align_items="flex-start"),
    )


def signature(row: dict[str, Any]) -> tuple[Any, ...]:
    """What must stay equal for a row to count as unchanged. A function's identity is
    part of it (a patch replaces the function); a table's is not, because inject builds
    `_U` and `_P` afresh on every run: a table's changes show in its own rows."""
    ident = row.get("id") if row.get("type") == "function" else None
    return (row.get("type"), ident, row.get("preview"), row.get("source"))


@dataclass
class TreeMemory:
    """What one explorer saw, for the next explorer of the same root: row signatures per
    opened path, and which paths were open."""

    seen: dict[Path, dict[str, tuple[Any, ...]]] = field(default_factory=dict)
    opened: set[Path] = field(default_factory=set)


@dataclass
class _Node:
    path: Path
    data: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    expanded: bool = False
    container: widgets.VBox | None = None
    error: str | None = None


def row_text(row: dict[str, Any], expanded: bool = False) -> str:
    mark = "" if not row.get("expandable") else ("▾ " if expanded else "▸ ")
    parts = [f"{mark}{row['key']}", row.get("type", ""), row.get("preview", "")]
    if row.get("type") == "function" and row.get("source"):
        parts[-1] = row["source"]
    if row.get("cycle"):
        parts.append("↺ cycle (not followed)")
    if row.get("shared"):
        parts.append("⇄ shared with " + ", ".join(row["shared"][:3])
                     + (" ..." if len(row["shared"]) > 3 else ""))
    if row.get("changed"):
        parts.append("● changed")
    return "  ".join(p for p in parts if p)


def row_html(row: dict[str, Any]) -> str:
    color = TYPE_COLORS.get(row.get("type", ""), "#555")
    cls = "sk-row sk-changed" if row.get("changed") else "sk-row"
    style = CSS_CHANGED if row.get("changed") else ""
    extra = ""
    if row.get("cycle"):
        extra += " <i style='color:#c00'>↺ cycle</i>"
    if row.get("shared"):
        extra += (" <span style='color:#8250df'>⇄ shared with "
                  f"{esc(', '.join(row['shared'][:3]))}</span>")
    if row.get("changed"):
        extra += " <b>● changed</b>"
    shown = row.get("source") if row.get("type") == "function" else row.get("preview")
    return (f"<div class='{cls}' style='{style}{MONO}white-space:pre'>"
            f"<b>{esc(row['key'])}</b>  <span style='color:{color}'>{esc(row.get('type'))}"
            f"</span>  {esc(shown)}{extra}</div>")


class UpvalueExplorer(View):
    def __init__(self, fetch: Fetch, *, title: str = "", memory: TreeMemory | None = None,
                 page: int = PAGE) -> None:
        self.fetch = fetch
        self.title = title
        self.memory = memory if memory is not None else TreeMemory()
        self.page = page
        self.nodes: dict[Path, _Node] = {}
        self._buttons: dict[Path, widgets.Button] = {}
        self.filter = widgets.Text(placeholder="filter (key, value, source)",
                                   layout=widgets.Layout(width="260px"))
        self.filter.observe(lambda change: self.soon(self.render_all), names="value")
        self.refresh_button = small_button("refresh", "probe every open node again")
        self.refresh_button.on_click(lambda _b: self.spawn(self.refresh, self.status))
        self.status = widgets.HTML()
        self.root = widgets.VBox(layout=_shared().level)
        head = widgets.HTML(f"<b>upvalues</b> <code>{esc(title)}</code>")
        super().__init__([head, widgets.HBox([self.filter, self.refresh_button, self.status]),
                          self.root])
        self.add_class("sk-upvalues")

    # --- loading ---------------------------------------------------------------------

    async def populate(self, depth: int = 1) -> None:
        """Load the root, then what was open in the last view, then `depth` levels."""
        await self._load((), 0)
        self.nodes[()].expanded = True
        remembered = sorted(self.memory.opened, key=len)
        for path in remembered:
            if path and self._row(path) is not None:
                await self._expand(path)
        frontier: list[Path] = [()]
        for _ in range(max(depth - 1, 0)):
            nxt = []
            for p in frontier:
                for r in self.nodes[p].rows:
                    cp = (*p, r["step"])
                    if r.get("expandable") and not r.get("cycle"):
                        await self._expand(cp)
                        nxt.append(cp)
            frontier = nxt
        self.render_all()

    async def _load(self, path: Path, offset: int, limit: int | None = None) -> _Node:
        node = self.nodes.setdefault(path, _Node(path))
        data = await self.fetch(path, offset, limit or self.page)
        if data.get("error"):
            node.error = data["error"]
            node.rows = []
            return node
        node.error = None
        node.data = data
        node.total = data.get("total", 0)
        rows = data.get("children", [])
        before = self.memory.seen.get(path)
        seen = self.memory.seen.setdefault(path, {}) if before is None else before
        for r in rows:
            sig = signature(r)
            if before is not None and before.get(r["step"], sig) != sig:
                r["changed"] = True
            elif before is not None and r["step"] not in before and offset == 0:
                r["changed"] = True
            seen[r["step"]] = sig
        node.rows = node.rows[:offset] + rows if offset else rows
        return node

    async def _expand(self, path: Path) -> None:
        node = self.nodes.get(path)
        if node is None or node.data is None:
            node = await self._load(path, 0)
        node.expanded = True
        self.memory.opened.add(path)

    def _row(self, path: Path) -> dict[str, Any] | None:
        parent = self.nodes.get(path[:-1])
        if parent is None or not parent.expanded:
            return None
        return next((r for r in parent.rows if r["step"] == path[-1]), None)

    # --- what the front end triggers -------------------------------------------------

    async def toggle(self, path: Path) -> None:
        node = self.nodes.get(path)
        if node is not None and node.expanded:
            node.expanded = False
            self.memory.opened.discard(path)
        else:
            await self._expand(path)
        self.render(path[:-1])

    async def more(self, path: Path) -> None:
        node = self.nodes[path]
        await self._load(path, len(node.rows))
        self.render(path)

    async def refresh(self) -> None:
        """Probe every open node again; rows that differ from before are highlighted."""
        for path in sorted((p for p, n in self.nodes.items() if n.expanded), key=len):
            if path and self._row(path) is None:
                self.nodes[path].expanded = False
                continue
            node = self.nodes[path]
            await self._load(path, 0, max(self.page, len(node.rows)))
        self.render_all()
        changed = sum(1 for n in self.nodes.values() if n.expanded
                      for r in n.rows if r.get("changed"))
        self.status.value = f"<span class='sk-status'>refreshed: {changed} changed</span>"

    # --- rendering -------------------------------------------------------------------

    def _match(self, row: dict[str, Any], path: Path) -> bool:
        needle = self.filter.value.strip().lower()
        if not needle:
            return True
        node = self.nodes.get(path)
        if node is not None and node.expanded:
            return True
        hay = f"{row['key']} {row.get('preview', '')} {row.get('source', '')}".lower()
        return needle in hay

    def _button(self, path: Path, row: dict[str, Any], expanded: bool) -> widgets.Button:
        b = self._buttons.get(path)
        if b is None:
            b = widgets.Button(layout=_shared().row, style=_shared().plain)
            b.on_click(lambda _b, p=path: self.spawn(lambda: self.toggle(p), self.status))
            b.add_class("sk-node")
            self._buttons[path] = b
        b.description = row_text(row, expanded)
        b.tooltip = f"{row['key']}: {row.get('preview', '')} {row.get('id', '')}".strip()
        changed = bool(row.get("changed"))
        b.style = _shared().changed if changed else _shared().plain
        if changed:
            b.add_class("sk-changed")
        else:
            b.remove_class("sk-changed")
        return b

    def render(self, path: Path) -> widgets.VBox:
        node = self.nodes[path]
        box = node.container
        if box is None:
            box = widgets.VBox(layout=_shared().indent if path else _shared().level)
            node.container = box
        items: list[widgets.Widget] = []
        if node.error:
            items.append(widgets.HTML(f"<i style='color:#c00'>{esc(node.error)}</i>"))
        if path == () and node.data is not None:
            items.append(widgets.HTML(f"<span style='{MONO}color:#555'>"
                                      f"{esc(node.data.get('preview'))}</span>"))
        if node.data and node.data.get("type") == "function" and path:
            src = node.data.get("source")
            items.append(widgets.HTML(f"<span style='{MONO}color:#555'>defined at "
                                      f"{esc(src)}</span>"))
        leaves: list[str] = []

        def flush() -> None:
            if leaves:
                items.append(widgets.HTML("".join(leaves)))
                leaves.clear()

        for r in node.rows:
            cp = (*path, r["step"])
            if not self._match(r, cp):
                continue
            if r.get("expandable") and not r.get("cycle"):
                flush()
                child = self.nodes.get(cp)
                open_ = child is not None and child.expanded
                items.append(self._button(cp, r, open_))
                if open_:
                    items.append(self.render(cp))
            else:
                leaves.append(row_html(r))
        flush()
        if node.total > len(node.rows):
            more = small_button(f"more ({node.total - len(node.rows)} left)")
            more.add_class("sk-more")
            more.on_click(lambda _b, p=path: self.spawn(lambda: self.more(p), self.status))
            items.append(more)
        box.children = items
        if path == ():
            self.root.children = (box,)
        return box

    def render_all(self) -> None:
        if () in self.nodes:
            self.render(())

    # --- fallbacks -------------------------------------------------------------------

    def _walk_text(self, path: Path, depth: int, out: list[str], as_html: bool) -> None:
        node = self.nodes.get(path)
        if node is None:
            return
        for r in node.rows:
            cp = (*path, r["step"])
            child = self.nodes.get(cp)
            open_ = child is not None and child.expanded
            if as_html:
                out.append(f"<div style='margin-left:{18 * depth}px'>{row_html(r)}</div>")
            else:
                out.append("  " * depth + row_text(r, open_))
            if open_:
                self._walk_text(cp, depth + 1, out, as_html)
        if node.total > len(node.rows):
            more = f"... {node.total - len(node.rows)} more"
            out.append(f"<div style='margin-left:{18 * depth}px'>{more}</div>" if as_html
                       else "  " * depth + more)

    def text(self) -> str:
        out = [f"upvalues {self.title}".rstrip()]
        self._walk_text((), 0, out, False)
        return "\n".join(out)

    def html(self) -> str:
        out = [f"<div class='sk-upvalues'><b>upvalues</b> <code>{esc(self.title)}</code>"]
        self._walk_text((), 0, out, True)
        out.append("</div>")
        return "".join(out)

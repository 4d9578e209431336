"""The upvalue explorer: a lazy tree over values in a service, one probe per expansion.

The tree knows nothing of Lua: `fetch(path, offset, limit)` returns one node's data (the
reply of `skykernel.upvalues.probe`) and the tree keeps it as plain data; the front end
(views.js) draws it and asks for more. Over a service's `_U` and `_P` the first probe
also says where the service's own code is (`focus`): its handler tables, each handler
open on its upvalues, drawn first, with skynet's internals folded below.

What changed since the last view (the same service and root, kept in a `TreeMemory`) is
marked, and the paths open then are opened again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .common import CSS_CHANGED, MONO, TYPE_COLORS, Paths, View, ViewError, esc, plain

Path = tuple[str, ...]
Fetch = Callable[..., Awaitable[dict[str, Any]]]
FetchMany = Callable[[list[Path]], Awaitable[list[dict[str, Any]]]]

PAGE = 200


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
    error: str | None = None


def _shown(row: dict[str, Any]) -> str:
    return (row.get("source") if row.get("type") == "function" else row.get("preview")) or ""


def row_text(row: dict[str, Any], expanded: bool = False) -> str:
    mark = "" if not row.get("expandable") or row.get("cycle") else ("▾ " if expanded else "▸ ")
    parts = [f"{mark}{row['key']}", row.get("type", ""), _shown(row)]
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
    return (f"<div class='{cls}' style='{style}{MONO}white-space:pre'>"
            f"<b>{esc(row['key'])}</b>  <span style='color:{color}'>{esc(row.get('type'))}"
            f"</span>  {esc(_shown(row))}{extra}</div>")


class Tree:
    """The explorer's state: the nodes probed so far, which are open, what changed.

    `fetch(path, offset, limit)` probes one node; with `focus`, the root's probe is asked
    for the service's own code too (`fetch((), 0, limit, focus=True)`); `fetch_many(paths)`,
    when given, probes several nodes in one go (the paths a view reopens)."""

    def __init__(self, fetch: Fetch, *, title: str = "", memory: TreeMemory | None = None,
                 page: int = PAGE, focus: bool = False, fetch_many: FetchMany | None = None,
                 paths: Paths | None = None) -> None:
        self.fetch = fetch
        self.fetch_many = fetch_many
        self.title = title
        self.memory = memory if memory is not None else TreeMemory()
        self.page = page
        self.want_focus = focus
        self.paths = paths or Paths()
        self.nodes: dict[Path, _Node] = {}
        #: where the service's own code is: [{proto, dispatch, items: [row + path]}]
        self.focus: list[dict[str, Any]] = []

    # --- loading ---------------------------------------------------------------------

    async def populate(self, depth: int = 1) -> None:
        """Load the root (and the service's own code), then what was open in the last
        view, then `depth` levels."""
        if self.want_focus:
            data = await self.fetch((), 0, self.page, focus=True)
        else:
            data = await self.fetch((), 0, self.page)
        self._accept((), data, 0)
        self.nodes[()].expanded = True
        focus = data.get("focus") or {}
        self.focus = focus.get("groups") or []
        for node in focus.get("nodes") or []:
            path = tuple(node.get("path") or ())
            self._accept(path, node, 0)
            self.nodes[path].expanded = True
        remembered = [p for p in sorted(self.memory.opened, key=len)
                      if p and (p not in self.nodes or self.nodes[p].data is None)]
        await self._load_many(remembered)
        for path in remembered:
            if path in self.nodes and self.nodes[path].data is not None:
                self.nodes[path].expanded = True
        frontier: list[Path] = [()]
        for _ in range(max(depth - 1, 0)):
            nxt = [(*p, r["step"]) for p in frontier for r in self.nodes[p].rows
                   if r.get("expandable") and not r.get("cycle")]
            await self._load_many([p for p in nxt if p not in self.nodes])
            for p in nxt:
                if p in self.nodes:
                    self.nodes[p].expanded = True
                    self.memory.opened.add(p)
            frontier = [p for p in nxt if p in self.nodes]

    async def _load_many(self, paths: list[Path]) -> None:
        if not paths:
            return
        if self.fetch_many is not None:
            for path, data in zip(paths, await self.fetch_many(paths), strict=False):
                self._accept(path, data, 0)
        else:
            for path in paths:
                await self._load(path, 0)

    async def _load(self, path: Path, offset: int, limit: int | None = None) -> _Node:
        return self._accept(path, await self.fetch(path, offset, limit or self.page), offset)

    def _accept(self, path: Path, data: dict[str, Any], offset: int) -> _Node:
        """Take one probe's reply for `path`: mark rows that differ from the last view."""
        node = self.nodes.setdefault(path, _Node(path))
        if data.get("error"):
            node.error = data["error"]
            node.rows = []
            return node
        data = self.paths.data({k: v for k, v in data.items() if k != "focus"})
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

    async def expand(self, path: Path) -> None:
        node = self.nodes.get(path)
        if node is None or node.data is None:
            node = await self._load(path, 0)
        node.expanded = node.error is None
        self.memory.opened.add(path)

    def collapse(self, path: Path) -> None:
        node = self.nodes.get(path)
        if node is not None:
            node.expanded = False
        self.memory.opened.discard(path)

    def _row(self, path: Path) -> dict[str, Any] | None:
        parent = self.nodes.get(path[:-1])
        if parent is None or not parent.expanded:
            return None
        return next((r for r in parent.rows if r["step"] == path[-1]), None)

    # --- what the front end asks -----------------------------------------------------

    async def toggle(self, path: Path) -> None:
        node = self.nodes.get(path)
        if node is not None and node.expanded:
            self.collapse(path)
        else:
            await self.expand(path)

    async def more(self, path: Path) -> None:
        node = self.nodes[path]
        await self._load(path, len(node.rows))

    async def refresh(self) -> int:
        """Probe every open node again (and, over a service, where its own code is);
        rows that differ from before are marked. Returns how many rows changed."""
        done: set[Path] = set()
        if self.want_focus:
            shown = len(self.nodes[()].rows) if () in self.nodes else 0
            data = await self.fetch((), 0, max(self.page, shown), focus=True)
            self._accept((), data, 0)
            self.nodes[()].expanded = True
            done.add(())
            focus = data.get("focus") or {}
            self.focus = focus.get("groups") or []
            for node in focus.get("nodes") or []:
                path = tuple(node.get("path") or ())
                was = self.nodes.get(path)
                closed = was is not None and was.data is not None and not was.expanded
                self._accept(path, node, 0)
                self.nodes[path].expanded = not closed
                done.add(path)
        tops = {tuple(i["path"]) for g in self.focus for i in g.get("items", [])}
        for path in sorted((p for p, n in self.nodes.items() if n.expanded), key=len):
            if path in done:
                continue
            if path and path not in tops and self._row(path) is None:
                self.nodes[path].expanded = False
                continue
            node = self.nodes[path]
            await self._load(path, 0, max(self.page, len(node.rows)))
        return sum(1 for n in self.nodes.values() if n.expanded
                   for r in n.rows if r.get("changed"))

    async def handle(self, op: str, msg: dict[str, Any]) -> dict[str, Any]:
        """A front-end request: expand, collapse, more, refresh. Answers with the nodes
        it touched (plain data), or the whole tree for a refresh."""
        path = tuple(str(s) for s in msg.get("path") or ())
        if op == "expand":
            await self.expand(path)
            node = self.nodes[path]
            if node.error:
                return {"error": node.error, "nodes": [self.node_json(path)]}
            return {"nodes": [self.node_json(path)]}
        if op == "collapse":
            self.collapse(path)
            return {}
        if op == "more":
            if path not in self.nodes:
                raise ViewError("that node is not loaded")
            await self.more(path)
            return {"nodes": [self.node_json(path)]}
        if op == "refresh":
            changed = await self.refresh()
            return {"tree": self.to_json(), "status": f"refreshed: {changed} changed"}
        raise ViewError(f"the explorer has no {op!r}")

    # --- plain data for the front end --------------------------------------------------

    def node_json(self, path: Path) -> dict[str, Any]:
        node = self.nodes[path]
        data = node.data or {}
        return {"path": list(path), "label": data.get("label"), "type": data.get("type"),
                "preview": data.get("preview"), "source": data.get("source"),
                "rows": node.rows, "total": node.total, "error": node.error,
                "expanded": node.expanded}

    def to_json(self) -> dict[str, Any]:
        return plain({"title": self.title, "focus": self.focus,
                      "nodes": [self.node_json(p) for p in self.nodes]})

    # --- fallbacks -------------------------------------------------------------------

    def _walk(self, path: Path, depth: int, out: list[str], as_html: bool) -> None:
        node = self.nodes.get(path)
        if node is None:
            return
        for r in node.rows:
            self._line((*path, r["step"]), r, depth, out, as_html)
        if node.total > len(node.rows):
            more = f"... {node.total - len(node.rows)} more"
            out.append(f"<div style='margin-left:{18 * depth}px'>{more}</div>" if as_html
                       else "  " * depth + more)

    def _line(self, path: Path, r: dict[str, Any], depth: int, out: list[str],
              as_html: bool) -> None:
        child = self.nodes.get(path)
        open_ = child is not None and child.expanded
        if as_html:
            out.append(f"<div style='margin-left:{18 * depth}px'>{row_html(r)}</div>")
        else:
            out.append("  " * depth + row_text(r, open_))
        if open_:
            self._walk(path, depth + 1, out, as_html)

    def _body(self, as_html: bool) -> list[str]:
        out: list[str] = []
        if not self.focus:
            self._walk((), 0, out, as_html)
            return out
        for g in self.focus:
            where = f" ({g['dispatch']})" if g.get("dispatch") else ""
            head = f"your code: {g.get('proto')} protocol{self.paths(where)}"
            out.append(f"<div><b>{esc(head)}</b></div>" if as_html else head)
            for item in g.get("items", []):
                self._line(tuple(item["path"]), self.paths.data(item), 0, out, as_html)
        head = "skynet internals"
        out.append(f"<div><b>{head}</b></div>" if as_html else head)
        self._walk((), 0, out, as_html)
        return out

    def text(self) -> str:
        return "\n".join([f"upvalues {self.title}".rstrip(), *self._body(False)])

    def html(self) -> str:
        return ("<div class='sk-upvalues'><b>upvalues</b> "
                f"<code>{esc(self.title)}</code>{''.join(self._body(True))}</div>")


class UpvalueExplorer(View):
    """The explorer as a view of its own (%upvalues). Given a `tree` already populated,
    its comm opens with the tree's data (no update follows)."""

    def __init__(self, fetch: Fetch | None = None, *, title: str = "",
                 memory: TreeMemory | None = None, page: int = PAGE, focus: bool = False,
                 fetch_many: FetchMany | None = None, paths: Paths | None = None,
                 tree: Tree | None = None) -> None:
        if tree is None:
            if fetch is None:
                raise TypeError("UpvalueExplorer needs fetch or tree")
            tree = Tree(fetch, title=title, memory=memory, page=page, focus=focus,
                        fetch_many=fetch_many, paths=paths)
        self.tree = tree
        super().__init__("upvalues", data=tree.to_json())

    # the tree's state, read by tests and benchmarks
    @property
    def nodes(self) -> dict[Path, _Node]:
        return self.tree.nodes

    @property
    def title(self) -> str:
        return self.tree.title

    async def populate(self, depth: int = 1) -> None:
        await self.tree.populate(depth)
        self.data = self.tree.to_json()

    async def toggle(self, path: Path) -> None:
        await self.tree.toggle(path)
        self.data = self.tree.to_json()

    async def more(self, path: Path) -> None:
        await self.tree.more(path)
        self.data = self.tree.to_json()

    async def refresh(self) -> None:
        await self.tree.refresh()
        self.data = self.tree.to_json()

    async def handle(self, op: str, msg: dict[str, Any]) -> dict[str, Any] | None:
        return await self.tree.handle(op, msg)

    def text(self) -> str:
        return self.tree.text()

    def html(self) -> str:
        return self.tree.html()

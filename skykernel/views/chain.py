"""The protocol dispatch chain view: entry point -> protocol dispatch -> handler table ->
handlers, with sources, code-cache generations and what was replaced since load.

Data: the reply of `skykernel.protocols.chains` plus `generations` (chunk filename ->
generation, from the node's records of what the service loaded). Messages served are
counted per dispatch function (skynet.handler_count) and per command name
(skynet.command_count), which is how a handler of a dispatch-by-name table is reached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as widgets

from .common import MONO, View, esc, html_table, small_button

Fetch = Callable[[], Awaitable[tuple[dict[str, Any], dict[str, int]]]]
PAGE = 200


def _gen(generations: dict[str, int], fn: dict[str, Any] | None) -> str:
    if not fn:
        return ""
    file = fn.get("file")
    if file in generations:
        return str(generations[file])
    return "runtime" if fn.get("what") == "C" else ("cell" if file and "/" not in file else "")


def _src(fn: dict[str, Any] | None) -> str:
    return fn.get("source", "") if fn else ""


class ProtocolChainView(View):
    def __init__(self, fetch: Fetch, *, title: str = "", page: int = PAGE) -> None:
        self.fetch = fetch
        self.title = title
        self.page = page
        self.data: dict[str, Any] = {}
        self.generations: dict[str, int] = {}
        self.shown: dict[tuple[str, str], int] = {}
        self.status = widgets.HTML()
        refresh = small_button("refresh", "probe the dispatch chains again")
        refresh.on_click(lambda _b: self.spawn(self.refresh, self.status))
        self.body = widgets.VBox()
        head = widgets.HTML(f"<b>protocol dispatch chains</b> <code>{esc(title)}</code>")
        super().__init__([head, widgets.HBox([refresh, self.status]), self.body])
        self.add_class("sk-protocols")

    async def refresh(self) -> None:
        self.data, self.generations = await self.fetch()
        self.render()

    def _handler_rows(self, proto: dict[str, Any], table: dict[str, Any], limit: int
                      ) -> tuple[list[tuple[str, ...]], list[str]]:
        rows = [("handler", "source", "generation", "replaced", "messages")]
        classes = []
        for h in table["handlers"][:limit]:
            rows.append((f"{table['name']}.{h['name']}", _src(h), _gen(self.generations, h),
                         h.get("replaced", ""), str(h.get("count", "n/a"))))
            classes.append("sk-handler sk-replaced" if h.get("replaced") else "sk-handler")
        return rows, classes

    def _entry_text(self) -> str:
        return " -> ".join(f"{e['name']} ({_src(e.get('fn'))})" for e in self.data.get("entry", []))

    def _proto_html(self, p: dict[str, Any]) -> str:
        d = p.get("dispatch")
        count = p.get("count")
        served = f", served {count} message{'s' if count != 1 else ''}" if count is not None else ""
        parts = [
            f"<div class='sk-proto' style='margin:6px 0;{MONO}'>"
            f"<b>{esc(p['name'])}</b> (id {esc(p.get('id'))}): "
            f"dispatch {esc(_src(d) or 'none')} [gen {esc(_gen(self.generations, d) or '-')}]"
            f"{esc(served)}<br>"
            f"<span style='color:#555'>pack {esc(_src(p.get('pack')) or '-')}; unpack "
            f"{esc(_src(p.get('unpack')) or '-')}</span>"
        ]
        for t in p.get("tables", []):
            limit = self.shown.get((p["name"], t["name"]), self.page)
            rows, classes = self._handler_rows(p, t, limit)
            via = f" via {t['via']}" if t.get("via") else ""
            replaced = sum(1 for h in t["handlers"] if h.get("replaced"))
            parts.append(
                f"<div style='margin-left:16px'>-> <b>{esc(t['name'])}</b>{esc(via)}: "
                f"{t['total']} handlers, {replaced} replaced{html_table(rows, classes)}</div>")
        parts.append("</div>")
        return "".join(parts)

    def render(self) -> None:
        items: list[widgets.Widget] = [widgets.HTML(
            f"<div style='{MONO}'>entry: {esc(self._entry_text())}</div>")]
        for p in self.data.get("protocols", []):
            items.append(widgets.HTML(self._proto_html(p)))
            for t in p.get("tables", []):
                key = (p["name"], t["name"])
                shown = self.shown.get(key, self.page)
                if len(t["handlers"]) > shown:
                    more = small_button(f"more {t['name']} ({len(t['handlers']) - shown} left)")
                    more.add_class("sk-more")
                    more.on_click(lambda _b, k=key: self.soon(lambda: self._more(k)))
                    items.append(more)
        note = ("messages: per dispatch function, and per handler the messages whose first "
                "argument names it (skynet's dispatch-by-name convention); n/a on a node "
                "that does not count (real skynet)")
        items.append(widgets.HTML(f"<small style='color:#777'>{note}</small>"))
        self.body.children = items

    def _more(self, key: tuple[str, str]) -> None:
        self.shown[key] = self.shown.get(key, self.page) + self.page
        self.render()

    def text(self) -> str:
        out = [f"protocol dispatch chains {self.title}".rstrip(), "entry: " + self._entry_text()]
        for p in self.data.get("protocols", []):
            d = p.get("dispatch")
            count = p.get("count")
            out.append(f"{p['name']} (id {p.get('id')}): dispatch {_src(d) or 'none'}"
                       f" gen {_gen(self.generations, d) or '-'}"
                       + (f" served {count}" if count is not None else ""))
            for t in p.get("tables", []):
                out.append(f"  -> {t['name']}: {t['total']} handlers")
                for h in t["handlers"][: self.page]:
                    mark = f"  REPLACED ({h['replaced']})" if h.get("replaced") else ""
                    served = f"  served {h['count']}" if "count" in h else ""
                    out.append(f"     {t['name']}.{h['name']}  {_src(h)}  "
                               f"gen {_gen(self.generations, h) or '-'}{mark}{served}")
        return "\n".join(out)

    def html(self) -> str:
        body = "".join(self._proto_html(p) for p in self.data.get("protocols", []))
        return (f"<div class='sk-protocols'><b>protocol dispatch chains</b> "
                f"<code>{esc(self.title)}</code><div style='{MONO}'>entry: "
                f"{esc(self._entry_text())}</div>{body}</div>")

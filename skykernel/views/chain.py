"""The protocol dispatch chain view: entry point -> protocol dispatch -> handler table ->
handlers, with sources, code-cache generations and what was replaced since load.

Data: the reply of `skykernel.protocols.chains` plus `generations` (chunk filename ->
generation, from the node's records of what the service loaded). The service's own
protocols come first (`lua -> CMD`); skynet's own (the debug protocol's `dbgcmd`, ...)
are folded below. Messages served are counted per dispatch function
(skynet.handler_count) and per command name (skynet.command_count), which is how a
handler of a dispatch-by-name table is reached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .common import MONO, Paths, View, ViewError, esc, html_table, plain

Fetch = Callable[[], Awaitable[tuple[dict[str, Any], dict[str, int]]]]
PAGE = 200

NOTE = ("messages: per dispatch function, and per handler the messages whose first "
        "argument names it (skynet's dispatch-by-name convention); n/a on a node "
        "that does not count (real skynet)")


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
    def __init__(self, fetch: Fetch, *, title: str = "", page: int = PAGE,
                 paths: Paths | None = None,
                 first: tuple[dict[str, Any], dict[str, int]] | None = None) -> None:
        """`first`: what `fetch` answered already, so the comm opens with it."""
        self.fetch = fetch
        self.title = title
        self.page = page
        self.paths = paths or Paths()
        self.chains: dict[str, Any] = {}
        self.generations: dict[str, int] = {}
        if first is not None:
            self._take(*first)
        super().__init__("protocols", data=self.to_json())

    def _take(self, data: dict[str, Any], generations: dict[str, int]) -> None:
        self.chains = self.paths.data(data)
        self.generations = {self.paths(f): g for f, g in generations.items()}

    async def refresh(self) -> None:
        self._take(*await self.fetch())
        self.data = self.to_json()

    async def handle(self, op: str, msg: dict[str, Any]) -> dict[str, Any] | None:
        if op == "refresh":
            await self.refresh()
            return {"status": "probed again"}
        raise ViewError(f"the chain view has no {op!r}")

    # --- plain data for the front end --------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The chains with each function's generation filled in, own protocols first."""
        def fn(f: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if not f else {**f, "gen": _gen(self.generations, f)}

        protocols = []
        for p in self.chains.get("protocols", []):
            tables = [{**t, "handlers": [fn(h) for h in t.get("handlers", [])]}
                      for t in p.get("tables", [])]
            protocols.append({**p, "dispatch": fn(p.get("dispatch")), "tables": tables})
        return plain({"title": self.title, "entry": self.chains.get("entry", []),
                      "protocols": protocols, "page": self.page, "note": NOTE})

    def _entry_text(self) -> str:
        return " -> ".join(f"{e['name']} ({_src(e.get('fn'))})"
                           for e in self.chains.get("entry", []))

    # --- fallbacks -------------------------------------------------------------------

    def _split(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        protos = self.chains.get("protocols", [])
        return [p for p in protos if p.get("own")], [p for p in protos if not p.get("own")]

    def _handler_rows(self, table: dict[str, Any], limit: int
                      ) -> tuple[list[tuple[str, ...]], list[str]]:
        rows = [("handler", "source", "generation", "replaced", "messages")]
        classes = []
        for h in table["handlers"][:limit]:
            rows.append((f"{table['name']}.{h['name']}", _src(h), _gen(self.generations, h),
                         h.get("replaced", ""), str(h.get("count", "n/a"))))
            classes.append("sk-handler sk-replaced" if h.get("replaced") else "sk-handler")
        return rows, classes

    def _proto_html(self, p: dict[str, Any]) -> str:
        d = p.get("dispatch")
        count = p.get("count")
        served = f", served {count} message{'s' if count != 1 else ''}" if count is not None else ""
        parts = [
            f"<div class='sk-proto' style='margin:6px 0;{MONO}'>"
            f"<b>{esc(p['name'])}</b> (id {esc(p.get('id'))}): "
            f"dispatch {esc(_src(d) or 'none')} [gen {esc(_gen(self.generations, d) or '-')}]"
            f"{esc(served)}"
        ]
        for t in p.get("tables", []):
            rows, classes = self._handler_rows(t, self.page)
            via = f" via {t['via']}" if t.get("via") else ""
            replaced = sum(1 for h in t["handlers"] if h.get("replaced"))
            more = t["total"] - min(len(t["handlers"]), self.page)
            rest = f"<div>... {more} more</div>" if more > 0 else ""
            parts.append(
                f"<div style='margin-left:16px'>-> <b>{esc(t['name'])}</b>{esc(via)}: "
                f"{t['total']} handlers, {replaced} replaced"
                f"{html_table(rows, classes, right={4})}{rest}</div>")
        parts.append("</div>")
        return "".join(parts)

    def _proto_text(self, p: dict[str, Any], out: list[str]) -> None:
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

    @staticmethod
    def _folded_summary(protos: list[dict[str, Any]]) -> str:
        parts = []
        for p in protos:
            n = sum(t.get("total", 0) for t in p.get("tables", []))
            parts.append(f"{p['name']}" + (f" ({n} handlers)" if n else ""))
        return "skynet's own protocols: " + ", ".join(parts)

    def text(self) -> str:
        own, rest = self._split()
        out = [f"protocol dispatch chains {self.title}".rstrip()]
        for p in own:
            self._proto_text(p, out)
        if rest:
            out.append(self._folded_summary(rest))
            for p in rest:
                self._proto_text(p, out)
        out.append("entry: " + self._entry_text())
        return "\n".join(out)

    def html(self) -> str:
        own, rest = self._split()
        body = "".join(self._proto_html(p) for p in own)
        if rest:
            body += (f"<details><summary>{esc(self._folded_summary(rest))}</summary>"
                     + "".join(self._proto_html(p) for p in rest) + "</details>")
        return (f"<div class='sk-protocols'><b>protocol dispatch chains</b> "
                f"<code>{esc(self.title)}</code>{body}<div style='{MONO}'>entry: "
                f"{esc(self._entry_text())}</div></div>")

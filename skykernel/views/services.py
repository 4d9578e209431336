"""The services view: one table (address, name, mqlen, messages, memory, generation,
registered names, file); a row's buttons make it the target (`%use`) or open its upvalue
explorer below the table, in the same view. The numbers come right after the name, so
they stay on screen in a narrow notebook; names and files, which can be long, come last.

`rows()` returns the table as plain dicts (see `HEADER` for the columns; `handle`, `lua`,
`note`, `current` and `file_full` besides), `use(handle)` retargets and returns a
sentence, `explore(handle)` returns a populated `Tree`.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from .common import View, ViewError, esc, html_table, plain, text_table
from .tree import Tree

#: (column, key in a row, a number?)
COLUMNS = (("address", "address", False), ("name", "name", False), ("mqlen", "mqlen", True),
           ("messages", "messages", True), ("memory", "memory", True), ("gen", "gen", True),
           ("registered", "registered", False), ("file", "file", False))
HEADER = tuple(c for c, _, _ in COLUMNS)
RIGHT = {i for i, (_, _, number) in enumerate(COLUMNS) if number}

Rows = Callable[[], list[dict[str, Any]]]


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple("" if row.get(key) is None else str(row.get(key)) for _, key, _ in COLUMNS)


class ServicesView(View):
    def __init__(self, rows: Rows, use: Callable[[int], str],
                 explore: Callable[[int], Awaitable[Tree]], *, title: str = "") -> None:
        self.rows_of = rows
        self.use = use
        self.explore = explore
        self.title = title
        self.rows: list[dict[str, Any]] = []
        self.trees: dict[str, Tree] = {}
        self._ids = itertools.count(1)
        self.rows = self.rows_of()
        super().__init__("services", data=self._data())  # the comm opens with the table

    def _data(self) -> dict[str, Any]:
        return plain({"title": self.title, "columns": [list(c) for c in COLUMNS],
                      "rows": self.rows})

    def refresh(self) -> None:
        self.rows = self.rows_of()
        self.data = self._data()

    async def handle(self, op: str, msg: dict[str, Any]) -> dict[str, Any] | None:
        if op == "refresh":
            self.rows = self.rows_of()
            return {"rows": plain(self.rows)}
        if op == "use":
            status = self.use(self._handle(msg))
            self.rows = self.rows_of()
            return {"status": status, "rows": plain(self.rows)}
        if op == "explore":
            handle = self._handle(msg)
            tree = await self.explore(handle)
            key = str(next(self._ids))
            self.trees = {key: tree}  # one explorer under the table at a time
            return {"explorer": key, "tree": tree.to_json()}
        if op.startswith("tree:"):
            tree = self.trees.get(str(msg.get("explorer")))
            if tree is None:
                raise ViewError("that explorer is closed: explore the service again")
            return await tree.handle(op[5:], msg)
        raise ViewError(f"the services view has no {op!r}")

    def _handle(self, msg: dict[str, Any]) -> int:
        handle = msg.get("handle")
        if not isinstance(handle, int) or not any(r.get("handle") == handle and r.get("lua")
                                                  for r in self.rows):
            raise ViewError(f"no Lua service {handle!r} in the table (refresh it)")
        return handle

    # --- fallbacks -------------------------------------------------------------------

    def _notes(self) -> list[str]:
        return [f"{r['name'].split()[0]}: {r['note']}" for r in self.rows if r.get("note")]

    def text(self) -> str:
        table = text_table([HEADER, *(_cells(r) for r in self.rows)], right=RIGHT)
        return "\n".join([table, *self._notes()])

    def html(self) -> str:
        notes = "".join(f"<div><small>{esc(n)}</small></div>" for n in self._notes())
        return (f"<div class='sk-services'>"
                f"{html_table([HEADER, *(_cells(r) for r in self.rows)], right=RIGHT)}"
                f"{notes}</div>")

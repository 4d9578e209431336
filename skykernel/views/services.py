"""The services view: a live table (address, name, file, generation, mqlen, memory,
messages); a row's buttons make it the target (`%use`) or open its upvalue explorer.

`rows()` returns the table as plain tuples (header first), `use(handle)` retargets and
returns a message, `explore(handle)` returns a widget to show under the table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as widgets

from .common import MONO, View, esc, small_button, text_table

HEADER = ("address", "name", "file", "gen", "mqlen", "memory", "messages")


class ServicesView(View):
    def __init__(self, rows: Callable[[], list[tuple[Any, ...]]],
                 use: Callable[[int], str],
                 explore: Callable[[int], Awaitable[widgets.Widget]],
                 interval: float = 1.0) -> None:
        self.rows_of = rows
        self.use = use
        self.explore = explore
        self.interval = interval
        self.rows: list[tuple[Any, ...]] = []
        self.table = widgets.VBox()
        self.detail = widgets.VBox()
        self.status = widgets.HTML()
        refresh = small_button("refresh")
        refresh.add_class("sk-refresh")
        refresh.on_click(lambda _b: self.soon(self.refresh))
        self.live = widgets.Checkbox(description="live", value=False, indent=False,
                                     layout=widgets.Layout(width="70px"))
        self.live.observe(lambda c: self.soon(lambda: self._on_live(c)), names="value")
        self._task: asyncio.Task[Any] | None = None
        super().__init__([widgets.HTML("<b>services</b>"),
                          widgets.HBox([refresh, self.live, self.status]),
                          self.table, self.detail])
        self.add_class("sk-services")
        self.refresh()

    def refresh(self) -> None:
        self.rows = self.rows_of()
        widths = [max(len(str(r[i])) for r in [HEADER, *self.rows]) for i in range(7)]
        header = widgets.HTML(self._line(HEADER, widths, bold=True))
        lines: list[widgets.Widget] = [header]
        for r in self.rows:
            handle = r[-1]
            use = small_button("use", f"%use {r[0]}")
            use.add_class("sk-use")
            use.on_click(lambda _b, h=handle: self.soon(lambda: self._use(h)))
            explore = small_button("explore", "open its upvalue explorer")
            explore.add_class("sk-explore")
            explore.on_click(lambda _b, h=handle: self.spawn(lambda: self._explore(h),
                                                             self.status))
            lines.append(widgets.HBox([use, explore, widgets.HTML(self._line(r, widths))]))
        self.table.children = lines

    @staticmethod
    def _line(r: tuple[Any, ...], widths: list[int], bold: bool = False) -> str:
        text = "  ".join(str(c).ljust(w) for c, w in zip(r[:7], widths, strict=False))
        pad = "" if not bold else "&nbsp;" * 22
        weight = "font-weight:bold;" if bold else ""
        return f"<span style='{MONO}{weight}white-space:pre'>{pad}{esc(text)}</span>"

    def _use(self, handle: int) -> None:
        self.status.value = f"<span class='sk-status'>{esc(self.use(handle))}</span>"

    async def _explore(self, handle: int) -> None:
        self.detail.children = (await self.explore(handle),)

    def _on_live(self, change: dict[str, Any]) -> None:
        if change["new"] and self._task is None:
            self._task = self.spawn(self._tick)
        elif not change["new"] and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _tick(self) -> None:
        while self.live.value:
            await asyncio.sleep(self.interval)
            self.refresh()

    def text(self) -> str:
        return text_table([HEADER, *(tuple(str(c) for c in r[:7]) for r in self.rows)])

    def html(self) -> str:
        from .common import html_table

        return html_table([HEADER, *(r[:7] for r in self.rows)])

"""What every view shares: the one front-end module, escaping, text tables, paths.

A view is one anywidget: one comm, one ES module (`views.js`, with `views.css`, shipped in
the wheel beside this file), and its data as one JSON trait (`data`). What the front end
asks (expand a node, use a service, purge the cache, refresh) arrives as a message on that
comm, `{"op": ..., "id": n, ...}`; the view's `handle` answers it with plain data, sent back
as `{"op": "reply", "id": n, ...}`. The front end never reaches Lua: it only sees what the
Python side (the view's runner, the target) sent it.

Each view also carries `text/plain` and `text/html` renderings of its data, so a notebook
viewer without a kernel or without widgets (nbconvert, GitHub) still shows it.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

HERE = Path(__file__).resolve().parent
ESM = (HERE / "views.js").read_text(encoding="utf-8")
CSS = (HERE / "views.css").read_text(encoding="utf-8")

CSS_CHANGED = "background:#fff1a8;"
CSS_REPLACED = "background:#ffd9d2;"
MONO = "font-family:var(--jp-code-font-family,monospace);font-size:12px;"
TYPE_COLORS = {"table": "#1f6feb", "function": "#8250df", "string": "#0a7f3f",
               "number": "#b35900", "boolean": "#b35900", "nil": "#777"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def text_table(rows: list[tuple[str, ...]], right: set[int] | None = None) -> str:
    """Columns padded to their widest cell, two spaces apart; columns in `right` (numbers)
    aligned right."""
    right = right or set()
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) if i in right else c.ljust(w)
                  for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
        for r in rows)


def html_table(rows: list[tuple[Any, ...]], classes: list[str] | None = None,
               right: set[int] | None = None) -> str:
    """A static table; the first row is the header. `classes` style each body row."""
    right = right or set()

    def align(i: int) -> str:
        return "right" if i in right else "left"

    head = "".join(f"<th style='text-align:{align(i)};padding:2px 8px'>{esc(c)}</th>"
                   for i, c in enumerate(rows[0]))
    body = []
    for n, r in enumerate(rows[1:]):
        cls = classes[n] if classes else ""
        style = CSS_REPLACED if "sk-replaced" in cls else ""
        cells = "".join(f"<td style='text-align:{align(i)};padding:1px 8px'>{esc(c)}</td>"
                        for i, c in enumerate(r))
        body.append(f"<tr class='{cls}' style='{style}'>{cells}</tr>")
    return (f"<table style='border-collapse:collapse;{MONO}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


class Paths:
    """File names as a learner reads them: relative to the notebook's folder, and the
    runtime's own files (skynet's library as skykernel ships it) as `runtime/...`.
    The full name stays in the data the front end shows as a tooltip."""

    def __init__(self, notebook: str | Path | None = None, runtime: str | Path | None = None
                 ) -> None:
        pairs = []
        if runtime is not None:
            pairs.append((str(Path(runtime).resolve()).rstrip("/") + "/", "runtime/"))
        if notebook is not None:
            pairs.append((str(Path(notebook).resolve()).rstrip("/") + "/", ""))
        self.pairs = [(a, b) for a, b in pairs if a != "/"]
        self._re = (re.compile("|".join(re.escape(a) for a, _ in self.pairs))
                    if self.pairs else None)
        self._to = dict(self.pairs)

    def __call__(self, text: str) -> str:
        if self._re is None or not isinstance(text, str):
            return text
        return self._re.sub(lambda m: self._to[m.group(0)], text)

    def data(self, value: Any, keep: frozenset[str] = frozenset({"path", "step", "id"})) -> Any:
        """Every string in plain data shortened, except under the keys in `keep` (paths
        and steps address values in the service and must stay as they are)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.data(v, keep) for v in value]
        if isinstance(value, dict):
            return {k: (v if k in keep else self.data(v, keep)) for k, v in value.items()}
        return value


def plain(value: Any) -> Any:
    """Data as JSON carries it (tuples become lists), for the `data` trait."""
    return json.loads(json.dumps(value))


class ViewError(Exception):
    """A front-end request the view cannot answer; the message is shown in the view."""


class View(anywidget.AnyWidget):
    """One view: one comm, `kind` picks the front end's renderer, `data` is what it shows.

    Front-end requests may arrive on another thread than the one the view (and the node)
    lives on: ipykernel 7 can handle a comm message on its shell-channel thread, with its
    own event loop. Every request therefore runs on the view's home loop (the loop that
    ran the magic), where the node runs and where its state may be touched."""

    _esm = ESM
    _css = CSS
    kind = traitlets.Unicode("").tag(sync=True)
    data = traitlets.Dict().tag(sync=True)
    # No Layout widget: a DOMWidget would open a second comm for it, and a view needs
    # none (its size is its content's, styled by views.css).
    layout = traitlets.Instance(ipywidgets.Layout, allow_none=True, default_value=None).tag(
        sync=True, **ipywidgets.widget_serialization)

    def __init__(self, kind: str, **kwargs: Any) -> None:
        try:
            self._home: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._home = None
        super().__init__(kind=kind, **kwargs)
        self.on_msg(self._on_front)

    # --- what subclasses provide ----------------------------------------------------

    def text(self) -> str:  # pragma: no cover - overridden
        return ""

    def html(self) -> str:  # pragma: no cover - overridden
        return f"<pre>{esc(self.text())}</pre>"

    async def handle(self, op: str, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Answer one front-end request (plain data for the reply)."""
        raise ViewError(f"this view has no {op!r}")

    # --- the mimebundle -------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, tuple):
            data = data[0]
        data = dict(data or {})
        data["text/plain"] = self.text()
        data["text/html"] = self.html()
        return data

    # --- requests from the front end ------------------------------------------------

    def _on_front(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("op"), str):
            return
        op, rid = content["op"], content.get("id")

        async def answer() -> None:
            try:
                reply = await self.handle(op, content) or {}
            except Exception as e:  # noqa: BLE001 - shown in the view, never raised
                reply = {"error": f"{type(e).__name__}: {e}"}
            self.send({"op": "reply", "id": rid, **reply})

        self.spawn(answer)

    def spawn(self, make: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any] | None:
        """Run a coroutine on the home loop (a task now, if this is it)."""
        home = self._home
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if home is None or home is here:
            if here is None:
                asyncio.run(make())
                return None
            return here.create_task(make())
        if home.is_closed():
            return None
        asyncio.run_coroutine_threadsafe(make(), home)
        return None

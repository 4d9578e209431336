"""What every view shares: escaping, small HTML pieces, text tables, async callbacks."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as widgets

CSS_CHANGED = "background:#fff1a8;"
CSS_REPLACED = "background:#ffd9d2;"
MONO = "font-family:var(--jp-code-font-family,monospace);font-size:12px;"
TYPE_COLORS = {"table": "#1f6feb", "function": "#8250df", "string": "#0a7f3f",
               "number": "#b35900", "boolean": "#b35900", "nil": "#777"}


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell, two spaces apart (the %services text form)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def html_table(rows: list[tuple[Any, ...]], classes: list[str] | None = None) -> str:
    """A static table; the first row is the header. `classes` style each body row."""
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{esc(c)}</th>"
                   for c in rows[0])
    body = []
    for i, r in enumerate(rows[1:]):
        cls = classes[i] if classes else ""
        style = CSS_REPLACED if "sk-replaced" in cls else ""
        cells = "".join(f"<td style='padding:1px 8px'>{esc(c)}</td>" for c in r)
        body.append(f"<tr class='{cls}' style='{style}'>{cells}</tr>")
    return (f"<table style='border-collapse:collapse;{MONO}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


class View(widgets.VBox):
    """A widget that also carries text/plain and text/html renderings of its data, so a
    notebook viewer without widgets (nbconvert, GitHub) still shows something useful.

    Front-end events may arrive on another thread than the one the view (and the node)
    lives on: ipykernel 7 can handle a comm message on its shell-channel thread, with its
    own event loop. Every callback therefore hops to the view's home loop first (the
    loop that ran the magic), where the node runs and where its state may be touched."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            self._home: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._home = None

    def text(self) -> str:  # pragma: no cover - overridden
        return ""

    def html(self) -> str:  # pragma: no cover - overridden
        return f"<pre>{esc(self.text())}</pre>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, tuple):
            data = data[0]
        data = dict(data or {})
        data["text/plain"] = self.text()
        data["text/html"] = self.html()
        return data

    # -- callbacks from the front end run as tasks on the kernel's loop --------------
    def spawn(self, make: Callable[[], Awaitable[Any]], status: widgets.HTML | None = None
              ) -> asyncio.Future[Any] | None:
        async def guarded() -> Any:
            try:
                return await make()
            except Exception as e:  # noqa: BLE001 - shown in the view, never raised
                if status is not None:
                    status.value = (f"<span style='color:#c00'>{esc(type(e).__name__)}: "
                                    f"{esc(e)}</span>")
                return None
        home = self._home
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if home is None or home is here:
            if here is None:
                return None
            return here.create_task(guarded())
        asyncio.run_coroutine_threadsafe(guarded(), home)
        return None

    def soon(self, fn: Callable[[], Any]) -> None:
        """Run a plain callback on the home loop (now, if this is it)."""
        home = self._home
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if home is None or home is here or home.is_closed():
            fn()
        else:
            home.call_soon_threadsafe(fn)


def small_button(description: str, tooltip: str = "", width: str = "auto") -> widgets.Button:
    return widgets.Button(description=description, tooltip=tooltip,
                          layout=widgets.Layout(width=width, height="22px", padding="0 6px",
                                                flex="0 0 auto"))

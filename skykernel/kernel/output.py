"""What a cell shows: streams, results, displays, log lines and errors, as Jupyter messages.

One place turns what a target answered (an `InjectResult`) and what a magic raised into
the kernel protocol's messages, for every target: a Lua error with its traceback cut to
the user's frames, an interrupt, a refusal. No Python traceback reaches a notebook user:
an unexpected exception is shown as its type and message, and its traceback goes to the
kernel's log.

Log lines (`skynet.error`, LAUNCH, KILL) are not errors: they are shown in a muted block
(display data with a text/plain and a text/html form) that grows while nothing else is
shown after it, so red stays for errors.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..luatext import clean_traceback
from ..node.inject import InjectResult

if TYPE_CHECKING:
    from ..node.logger import LogLine

#: Output beyond this is cut, so a runaway print cannot flood the browser.
MAX_OUTPUT = 1_000_000

#: A log block is closed and a new one started past this many lines or characters (each
#: line re-sends the block: this bounds what a chatty service costs the front end).
LOG_BLOCK_LINES = 200
LOG_BLOCK_CHARS = 50_000

#: How a log block looks: muted, the cell's code font, no box of its own.
LOG_STYLE = ("margin:0;padding:0;border:0;background:transparent;color:#777;"
             "white-space:pre-wrap;font-size:0.92em")

#: Errors that are answers, not faults: shown as `Type: message`, nothing more.
EXPECTED = ("MagicError", "TargetError", "RemoteError", "ReloadError", "UndoError",
            "ProbeError", "ConsoleError", "CallError")

Reply = dict[str, Any]


class LogCatch:
    """Log lines a magic takes for itself while it runs (`Output.catch_logs`)."""

    def __init__(self, wants: Callable[[LogLine], bool]) -> None:
        self.wants = wants
        self.lines: list[LogLine] = []


class _LogBlock:
    def __init__(self, parent: Any) -> None:
        self.parent = parent
        self.display_id = uuid.uuid4().hex
        self.lines: list[str] = []
        self.size = 0


class Output:
    """The current cell's output channel (a kernel's iopub socket)."""

    def __init__(self, kernel: Any) -> None:
        self._kernel = kernel
        #: told each execute_result's text (the kernel's history keeps it)
        self.on_result: Callable[[str], None] = lambda _text: None
        self._log_block: _LogBlock | None = None
        self._catches: list[LogCatch] = []

    def _send(self, msg_type: str, content: dict[str, Any], parent: Any = None,
              *, log: bool = False) -> None:
        kernel = self._kernel
        if not log:
            self._log_block = None  # what comes next goes after this, not into a block
        if parent is not None:
            kernel.session.send(kernel.iopub_socket, msg_type, content, parent=parent,
                                ident=kernel._topic(msg_type))
        else:
            kernel.send_response(kernel.iopub_socket, msg_type, content)

    # --- streams and data -----------------------------------------------------------

    def stream(self, name: str, text: str, parent: Any = None) -> None:
        if not text:
            return
        if len(text) > MAX_OUTPUT:
            cut = len(text) - MAX_OUTPUT
            text = text[:MAX_OUTPUT] + f"\n... (output truncated: {cut} more characters)\n"
        self._send("stream", {"name": name, "text": text}, parent)

    def print(self, text: str) -> None:
        """A line (or lines) of stdout."""
        self.stream("stdout", text if text.endswith("\n") else text + "\n")

    def warn(self, text: str) -> None:
        self.stream("stderr", text if text.endswith("\n") else text + "\n")

    def display(self, obj: Any) -> None:
        """Publish a widget or any object with a mimebundle into the current cell."""
        kernel = self._kernel
        if type(obj).__module__.startswith(("ipywidgets", "skykernel.views")):
            kernel.register_widget_targets()
        if hasattr(obj, "_repr_mimebundle_"):
            data = obj._repr_mimebundle_()
            if isinstance(data, tuple):
                data = data[0]
        else:
            data = {"text/plain": str(obj)}
        self.data(data)

    def data(self, data: dict[str, Any], metadata: dict[str, Any] | None = None,
             parent: Any = None) -> None:
        self._send("display_data", {"data": data, "metadata": metadata or {}}, parent)

    def bundle(self, text: str, parent: Any = None) -> None:
        """A display Lua made (`skykernel.display`: a mimebundle as JSON)."""
        data, metadata = read_bundle(text)
        self.data(data, metadata, parent)

    def clear_output(self, wait: bool = False) -> None:
        self._send("clear_output", {"wait": wait})

    def page(self, text: str) -> None:
        """Text for the pager, as `?` shows help in other kernels."""
        self._kernel.payload.append({"source": "page", "start": 0,
                                     "data": {"text/plain": text}})

    def next_input(self, text: str) -> None:
        """Replace the cell's text with `text` (the front end's set_next_input), as
        IPython's %load does."""
        self._kernel.payload.append({"source": "set_next_input", "text": text,
                                     "replace": True})

    def help(self, text: str) -> None:
        """Help text: in the cell (nbconvert, Voila and a saved notebook keep it)."""
        self.data({"text/plain": text})

    def result(self, text: str, data: dict[str, Any] | None = None) -> None:
        if len(text) > MAX_OUTPUT:
            cut = len(text) - MAX_OUTPUT
            text = text[:MAX_OUTPUT] + f"\n... (truncated: {cut} more characters)"
        self.on_result(text)
        kernel = self._kernel
        self._send("execute_result", {
            "execution_count": kernel.execution_count,
            "data": {"text/plain": text, **(data or {})},
            "metadata": {},
        })

    # --- log lines ------------------------------------------------------------------

    @contextmanager
    def catch_logs(self, wants: Callable[[LogLine], bool]) -> Iterator[LogCatch]:
        """Log lines `wants` picks are kept for the caller while the block runs, not shown
        (a failed %call shows its callee's error once, as the call's error)."""
        catch = LogCatch(wants)
        self._catches.append(catch)
        try:
            yield catch
        finally:
            self._catches.remove(catch)

    def log(self, line: LogLine, parent: Any) -> None:
        """A node's log line, under the cell parent names (the running one, or the last)."""
        for catch in self._catches:
            if catch.wants(line):
                catch.lines.append(line)
                return
        self.log_text(str(line), parent)

    def log_text(self, text: str, parent: Any) -> None:
        block = self._log_block
        if (block is None or block.parent is not parent or len(block.lines) >= LOG_BLOCK_LINES
                or block.size >= LOG_BLOCK_CHARS):
            block = _LogBlock(parent)
            msg_type = "display_data"
        else:
            msg_type = "update_display_data"
        block.lines.append(text)
        block.size += len(text)
        plain = "\n".join(block.lines)
        content = {
            "data": {"text/plain": plain,
                     "text/html": f'<pre class="sk-log" style="{LOG_STYLE}">'
                                  f"{html.escape(plain)}</pre>"},
            "metadata": {},
            "transient": {"display_id": block.display_id},
        }
        self._send(msg_type, content, parent, log=True)
        self._log_block = block

    # --- replies --------------------------------------------------------------------

    def error(self, ename: str, evalue: str, traceback: list[str] | None = None) -> Reply:
        content = {"ename": ename, "evalue": evalue,
                   "traceback": traceback if traceback is not None else [f"{ename}: {evalue}"]}
        kernel = self._kernel
        self._send("error", content)
        return {"status": "error", "execution_count": kernel.execution_count, **content}

    def events(self, text: str | None, parent: Any = None) -> None:
        """A cell's output in order (RUN's events: stdout, stderr, displays)."""
        try:
            flat = json.loads(text or "[]")
        except ValueError:
            flat = []
        if not isinstance(flat, list):
            flat = []
        for kind, payload in zip(flat[::2], flat[1::2], strict=False):
            if not isinstance(payload, str):
                continue
            if kind == "display":
                try:
                    self.bundle(payload, parent)
                except ValueError as e:
                    self.stream("stderr", f"display: {e}\n", parent)
            else:
                self.stream("stderr" if kind == "err" else "stdout", payload, parent)

    def lua(self, result: InjectResult) -> Reply | None:
        """A cell's result, from any target: what it printed, then its values or its error.
        None when it succeeded, else the error reply."""
        if result.events is not None:
            self.events(result.events)
        else:
            output = result.output
            if output and not output.endswith("\n"):
                output += "\n"  # RUN joins printed lines; a stream wants each line ended
            self.stream("stdout", output)
        for hint in result.hints:
            self.warn(hint)
        if not result.ok:
            message = result.error or "error"
            lines = clean_traceback(message) or [message]
            # the stop button ends a service's Lua with the error `interrupted`
            interrupted = "interrupted" in message.split("\n")[0]
            if not interrupted:
                lines = _with_hint(lines)
            return self.error("KeyboardInterrupt" if interrupted else "LuaError", lines[0],
                              lines)
        if result.values:
            self.result("\t".join(result.values))
        return None

    def failure(self, exc: BaseException, *, magic: bool, log: Any = None) -> Reply:
        """What a cell's part raised, as an error reply. A magic's refusal (its usage, or
        what the target cannot do) is a MagicError with the reason."""
        from .target import Interrupted

        if isinstance(exc, Interrupted):
            return self.error("KeyboardInterrupt", f"interrupted: {exc}" if magic
                              else "interrupted", [f"KeyboardInterrupt: {exc}"])
        name = type(exc).__name__
        if name in EXPECTED:
            if magic and name not in ("ConsoleError", "ProbeError", "CallError"):
                name = "MagicError"
        elif log is not None:
            log.error("%s in a cell", name, exc_info=exc)  # the traceback, for a bug report
        lines = getattr(exc, "lines", None) or [f"{name}: {exc}"]
        return self.error(name, str(exc), lines)


def read_bundle(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A mimebundle Lua encoded ({"data": ..., "metadata": ...}) as Jupyter takes it:
    JSON types as JSON values, metadata an object. ValueError when it is not one."""
    bundle = json.loads(text)
    if not isinstance(bundle, dict) or not isinstance(bundle.get("data"), dict):
        raise ValueError("not a mimebundle")
    data: dict[str, Any] = {}
    for mime, value in bundle["data"].items():
        if mime.endswith("json") and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError(f"{mime}: not JSON text") from None
        data[mime] = value
    metadata = bundle.get("metadata")
    return data, metadata if isinstance(metadata, dict) else {}


#: Modules a cell usually wants by the name it indexes (`skynet.call` with no `skynet`).
_MODULES = {"skynet": "skynet", "snax": "snax", "sharedata": "skynet.sharedata",
            "datacenter": "skynet.datacenter", "codecache": "skynet.codecache",
            "queue": "skynet.queue", "crypt": "skynet.crypt", "sproto": "sproto"}


def _with_hint(lines: list[str]) -> list[str]:
    """A nil global that names a module gets the line that would define it."""
    m = re.search(r"\(global '(\w+)'\)", lines[0])
    if m and m.group(1) in _MODULES:
        name = m.group(1)
        return [*lines, f'hint: `{name}` is not defined here: `local {name} = require '
                        f'"{_MODULES[name]}"` (a cell\'s top-level locals carry over to the '
                        f"next cells)"]
    return lines

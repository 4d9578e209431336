"""What a cell shows: streams, results, displays and errors, as Jupyter messages.

One place turns what a target answered (an `InjectResult`) and what a magic raised into
the kernel protocol's messages, for every target: a Lua error with its traceback cut to
the user's frames, an interrupt, a refusal. No Python traceback reaches a notebook user:
an unexpected exception is shown as its type and message, and its traceback goes to the
kernel's log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..luatext import clean_traceback
from ..node.inject import InjectResult

#: Output beyond this is cut, so a runaway print cannot flood the browser.
MAX_OUTPUT = 1_000_000

#: Errors that are answers, not faults: shown as `Type: message`, nothing more.
EXPECTED = ("MagicError", "TargetError", "RemoteError", "ReloadError", "UndoError",
            "ProbeError", "ConsoleError")

Reply = dict[str, Any]


class Output:
    """The current cell's output channel (a kernel's iopub socket)."""

    def __init__(self, kernel: Any) -> None:
        self._kernel = kernel
        #: told each execute_result's text (the kernel's history keeps it)
        self.on_result: Callable[[str], None] = lambda _text: None

    # --- streams and data -----------------------------------------------------------

    def stream(self, name: str, text: str, parent: Any = None) -> None:
        if not text:
            return
        if len(text) > MAX_OUTPUT:
            cut = len(text) - MAX_OUTPUT
            text = text[:MAX_OUTPUT] + f"\n... (output truncated: {cut} more characters)\n"
        kernel = self._kernel
        if parent is not None:
            kernel.session.send(kernel.iopub_socket, "stream", {"name": name, "text": text},
                                parent=parent, ident=kernel._topic("stream"))
        else:
            kernel.send_response(kernel.iopub_socket, "stream", {"name": name, "text": text})

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

    def data(self, data: dict[str, Any]) -> None:
        kernel = self._kernel
        kernel.send_response(kernel.iopub_socket, "display_data", {"data": data, "metadata": {}})

    def clear_output(self, wait: bool = False) -> None:
        kernel = self._kernel
        kernel.send_response(kernel.iopub_socket, "clear_output", {"wait": wait})

    def page(self, text: str) -> None:
        """Text for the pager, as `?` shows help in other kernels."""
        self._kernel.payload.append({"source": "page", "start": 0,
                                     "data": {"text/plain": text}})

    def result(self, text: str) -> None:
        if len(text) > MAX_OUTPUT:
            cut = len(text) - MAX_OUTPUT
            text = text[:MAX_OUTPUT] + f"\n... (truncated: {cut} more characters)"
        self.on_result(text)
        kernel = self._kernel
        kernel.send_response(kernel.iopub_socket, "execute_result", {
            "execution_count": kernel.execution_count,
            "data": {"text/plain": text},
            "metadata": {},
        })

    # --- replies --------------------------------------------------------------------

    def error(self, ename: str, evalue: str, traceback: list[str] | None = None) -> Reply:
        content = {"ename": ename, "evalue": evalue,
                   "traceback": traceback if traceback is not None else [f"{ename}: {evalue}"]}
        kernel = self._kernel
        kernel.send_response(kernel.iopub_socket, "error", content)
        return {"status": "error", "execution_count": kernel.execution_count, **content}

    def lua(self, result: InjectResult) -> Reply | None:
        """A cell's result, from any target: what it printed, then its values or its error.
        None when it succeeded, else the error reply."""
        output = result.output
        if output and not output.endswith("\n"):
            output += "\n"  # RUN joins printed lines; a stream wants each line ended
        self.stream("stdout", output)
        if not result.ok:
            message = result.error or "error"
            lines = clean_traceback(message) or [message]
            # the stop button ends a service's Lua with the error `interrupted`
            interrupted = "interrupted" in message.split("\n")[0]
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
            if magic and name not in ("ConsoleError", "ProbeError"):
                name = "MagicError"
        elif log is not None:
            log.error("%s in a cell", name, exc_info=exc)  # the traceback, for a bug report
        return self.error(name, str(exc), [f"{name}: {exc}"])

"""The `skynet` Jupyter kernel: a thin ipykernel wrapper around one node.

The kernel is just another client of the node, like the debug console: a cell becomes a
debug RUN message to the target service, and the reply becomes stream, result or error
messages. The node runs on the kernel's own asyncio loop, so timers fire between cells
and widget comms are served while a cell waits for a reply.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from ipykernel.kernelbase import Kernel

from .. import __version__
from ..node.handle import format_address, parse_address
from ..node.inject import inject
from .luasyntax import LuaSyntax, clean_traceback
from .magics import MAGICS, MagicError, Magics

if TYPE_CHECKING:
    from ..node.logger import LogLine
    from ..node.node import Node

#: The feature areas' magic groups, in lookup order (module, class). They are imported
#: when the first request that can use them arrives, not at start: a fresh kernel then
#: answers its first kernel_info as fast as ipykernel's own.
MAGIC_GROUPS = (
    ("skykernel.kernel.magics_remote", "RemoteMagics"),
    ("skykernel.kernel.magics_views", "ViewMagics"),
    ("skykernel.kernel.magics_reload", "ReloadMagics"),
)

#: Output beyond this is cut, so a runaway print cannot flood the browser.
MAX_OUTPUT = 1_000_000
DEFAULT_TARGET = "notebook"


def notebook_config(path: str | None = None, lua: str | None = None):
    """The in-process node's config: the notebook's `service/` and `lualib/` first. `lua`
    is the kernel's Lua version, for a config file that does not name one."""
    # The node (and lupa) load when the node boots, after the first kernel_info reply.
    from ..node.config import default_config, load_config

    if path:
        return load_config(path, lua=lua)
    return default_config(
        lua=lua,
        start=DEFAULT_TARGET,
        harbor="0",
        luaservice="./service/?.lua;./service/?/init.lua",
        lua_path="./lualib/?.lua;./lualib/?/init.lua;./?.lua",
        snax="./service/?.lua",
    )


class SkynetKernel(Kernel):
    implementation = "skykernel"
    implementation_version = __version__
    language = "lua"
    #: The Lua this kernel runs (its kernelspec's `--lua`); None: the default (5.4, or
    #: $SKYKERNEL_LUA). A `%boot` config that names another one wins while it runs.
    lua_version: str | None = None
    banner = (f"skykernel {__version__}: a skynet node in this kernel; "
              "cells are Lua injected into a service (%help)")
    help_links = [{"text": "skykernel magics", "url": "https://github.com/search?q=skykernel"}]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup_comms()
        self.node: Node | None = None
        self.target: int | None = None
        self.default_target: int | None = None
        self._syntax: LuaSyntax | None = None
        self.remote: Any = None  # set by RemoteMagics: remote nodes and a remote target
        self.magics = Magics(self)
        self._groups_loaded = False
        # Told around every part of every cell: objects with `async before(handle)` and
        # `async after(handle, token)`; handle is None around a magic. The patch log uses
        # this to notice handler swaps and code-cache clears a cell makes.
        self.cell_observers: list[Any] = []
        self._boot_lock: asyncio.Lock | None = None
        self._cell_parent: Any = None
        self._last_parent: Any = None
        self._cell_running = False
        self.interrupted = False
        self.cell_waiter: asyncio.Future[Any] | None = None
        self._main_thread = threading.get_ident()
        self.session_key = f"kernel-{os.getpid()}"

    @classmethod
    def speaking(cls, lua: str | None) -> type[SkynetKernel]:
        """The kernel class for Lua `lua` (None: the default)."""
        if lua is None:
            return cls

        class Kernel(cls):  # type: ignore[valid-type,misc]
            lua_version = lua

        return Kernel

    @property
    def lua(self) -> str:
        """The Lua version cells run in: the node's, or the one the next boot gets."""
        node = getattr(self, "node", None)
        if node is not None:
            return node.config.lua
        from ..node.luaversion import default_version

        return self.lua_version or default_version()

    @property
    def language_version(self) -> str:
        return self.lua

    @property
    def language_info(self) -> dict[str, Any]:
        return {
            "name": "lua",
            "version": self.lua,
            "mimetype": "text/x-lua",
            "file_extension": ".lua",
            "codemirror_mode": "lua",
            "pygments_lexer": "lua",
        }

    @property
    def kernel_info(self) -> dict[str, Any]:
        # ipykernel's version imports its debugger (debugpy) to list it as a feature: a
        # tenth of a second before the first reply, for a debugger this kernel lacks.
        from ipykernel._version import kernel_protocol_version

        return {
            "protocol_version": kernel_protocol_version,
            "implementation": self.implementation,
            "implementation_version": self.implementation_version,
            "language_info": self.language_info,
            "banner": self.banner,
            "help_links": self.help_links,
            "supported_features": [],
        }

    @property
    def syntax(self) -> LuaSyntax:
        if self._syntax is None or self._syntax.version != self.lua:
            self._syntax = LuaSyntax(self.lua)  # 5.5 has syntax 5.4 lacks, and the reverse
        return self._syntax

    def load_magic_groups(self) -> None:
        if self._groups_loaded:
            return
        self._groups_loaded = True
        import importlib

        for module, name in MAGIC_GROUPS:
            self.magics.add(getattr(importlib.import_module(module), name)(self))

    async def kernel_info_request(self, stream: Any, ident: Any, parent: Any) -> None:
        """Answer first, then get ready: boot the node and load the magic groups right
        after the first kernel_info, so the first cell finds them ready."""
        await super().kernel_info_request(stream, ident, parent)
        if self.node is None and not self._groups_loaded:
            # later, not at once: the reply is only flushed to its socket by the loop
            self.io_loop.call_later(0.1, self._get_ready)

    async def _get_ready(self) -> None:
        self.load_magic_groups()
        await self.ensure_node()

    # --- widgets in a wrapper kernel ---------------------------------------------------

    def _setup_comms(self) -> None:
        import comm

        self.comm_manager = comm.get_comm_manager()
        self._widget_targets = False
        self.shell_handlers["comm_open"] = self._comm_open
        for msg_type in ("comm_msg", "comm_close"):
            self.shell_handlers[msg_type] = getattr(self.comm_manager, msg_type)

    def register_widget_targets(self) -> None:
        """ipywidgets' comm targets, registered on first need: importing ipywidgets at
        start would delay a fresh kernel's first reply by about 150 ms."""
        if not self._widget_targets:
            import ipywidgets

            ipywidgets.register_comm_target()
            self._widget_targets = True

    def _comm_open(self, stream: Any, ident: Any, msg: Any) -> Any:
        target = msg.get("content", {}).get("target_name", "")
        if target.startswith("jupyter.widget"):
            self.register_widget_targets()
        return self.comm_manager.comm_open(stream, ident, msg)

    def display(self, obj: Any) -> None:
        """Publish a widget or any object with a mimebundle into the current cell."""
        if type(obj).__module__.startswith(("ipywidgets", "skykernel.views")):
            self.register_widget_targets()
        if hasattr(obj, "_repr_mimebundle_"):
            data = obj._repr_mimebundle_()
            if isinstance(data, tuple):
                data = data[0]
        else:
            data = {"text/plain": str(obj)}
        self.send_response(self.iopub_socket, "display_data", {"data": data, "metadata": {}})

    # --- the node ----------------------------------------------------------------------

    async def ensure_node(self) -> Node:
        if self._boot_lock is None:
            self._boot_lock = asyncio.Lock()
        async with self._boot_lock:
            if self.node is None or self.node.aborted:
                await self.boot(None)
        assert self.node is not None
        return self.node

    async def boot(self, config_path: str | None) -> Node:
        """(Re)boot the node. The new config is read and checked first: a config that
        cannot boot raises MagicError and leaves the running node as it was."""
        from ..node.config import ConfigError
        from ..node.logger import Logger
        from ..node.node import Node, check_bootable

        try:
            config = notebook_config(config_path, self.lua_version)
            check_bootable(config)
        except ConfigError as e:
            kept = " (the running node is untouched)" if self.node is not None else ""
            raise MagicError(f"cannot boot from {config_path}: {e}{kept}") from None
        if self.node is not None:
            await self.node.shutdown()
        logger = Logger()
        logger.sinks.append(self._on_log)
        node = Node(config, logger=logger)
        self.node = node
        await node.start()
        start = node.config.start
        handle = node.handles.resolve(f".{start}") if start else None
        if handle is None and start:
            found = [s.handle for s in node.services() if s.name == start]
            handle = found[0] if found else None
        if handle is None:
            handle = next((s.handle for s in reversed(node.services()) if s.kind == "snlua"), None)
        self.default_target = handle
        self.target = handle
        return node

    def resolve(self, text: str) -> int:
        """An address from `:0000000b`, `.name` or bare hex; unknown ones list the services."""
        assert self.node is not None
        address = parse_address(text)
        handle = self.node.handles.resolve(address)
        if handle is None:
            listing = ", ".join(
                f"{s.address} {s.name}" for s in self.node.services() if s.kind == "snlua"
            )
            raise MagicError(f"no service at {text}; services: {listing}")
        return handle

    def current_target(self) -> int:
        """The target, falling back to the default service if the target died."""
        assert self.node is not None
        if self.target is not None and self.node.handles.resolve(self.target) is not None:
            return self.target
        old = self.target
        if self.default_target is not None and self.node.handles.resolve(self.default_target):
            self.target = self.default_target
            if old is not None and old != self.target:
                self.stream(
                    "stderr",
                    f"target {format_address(old)} is gone; cells now run in the default "
                    f"service {format_address(self.target)}\n",
                )
            return self.target
        raise MagicError("no target service is alive; use %newservice and %use, or %boot")

    # --- output ------------------------------------------------------------------------

    def stream(self, name: str, text: str, parent: Any = None) -> None:
        if not text:
            return
        if len(text) > MAX_OUTPUT:
            cut = len(text) - MAX_OUTPUT
            text = text[:MAX_OUTPUT] + f"\n... (output truncated: {cut} more characters)\n"
        if parent is not None:
            self.session.send(self.iopub_socket, "stream", {"name": name, "text": text},
                              parent=parent, ident=self._topic("stream"))
        else:
            self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

    def _on_log(self, line: LogLine) -> None:
        """Log lines go to the running cell, else to the last cell's output (a live log)."""
        if threading.get_ident() != self._main_thread:
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(self._on_log, line)
            return
        parent = self._cell_parent if self._cell_running else self._last_parent
        if parent is None:
            return
        self.stream("stderr", f"{line}\n", parent)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return getattr(self, "_saved_loop", None)

    def clear_output(self, wait: bool = False) -> None:
        self.send_response(self.iopub_socket, "clear_output", {"wait": wait})

    def result(self, text: str) -> None:
        if len(text) > MAX_OUTPUT:
            cut = len(text) - MAX_OUTPUT
            text = text[:MAX_OUTPUT] + f"\n... (truncated: {cut} more characters)"
        self.magics.record_output(text)
        self.send_response(self.iopub_socket, "execute_result", {
            "execution_count": self.execution_count,
            "data": {"text/plain": text},
            "metadata": {},
        })

    def error_reply(self, ename: str, evalue: str, traceback: list[str]) -> dict[str, Any]:
        content = {"ename": ename, "evalue": evalue, "traceback": traceback}
        self.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    # --- shell messages ----------------------------------------------------------------

    async def shell_main(self, subshell_id: str | None, msg: Any) -> None:
        """Serve a comm message that arrives while a cell runs without touching the
        shell's parent afterwards.

        ipykernel serves such a message at once, in a copy of the shell's context, and
        then puts back the parent request it saw when the message arrived. When that cell
        ends and the next one starts before the comm is served (widgets talk while cells
        run), the put-back hands the new cell the old cell's parent: the new cell's output
        lands under the old cell and its idle status goes there too, so a front end shows
        the new cell running forever. The copy already keeps the comm's parent to itself,
        so nothing needs putting back."""
        lock = self._main_asyncio_lock if subshell_id is None else None
        if lock is not None and lock.locked() and _is_comm_message(self.session, msg):
            await asyncio.create_task(
                self.dispatch_shell(msg, subshell_id=subshell_id, concurrent=True),
                context=contextvars.copy_context())
            return
        await super().shell_main(subshell_id, msg)

    # --- interrupts --------------------------------------------------------------------

    def pre_handler_hook(self) -> None:
        # SIGINT must not raise inside the event loop: it interrupts the Lua that services
        # run and the cell's wait instead. It is ours between requests too (ipykernel
        # ignores it there): a loop a cell or a timer set off may run away after the cell.
        signal.signal(signal.SIGINT, self._on_sigint)

    def post_handler_hook(self) -> None:
        pass

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """The stop button: every running service's Lua stops with `interrupted` (a cell's
        RUN, a handler looping between cells), and the cell stops waiting. Services run
        on the node's worker threads, so this handler runs at once."""
        self.interrupted = True
        if self.node is not None:
            self.node.interrupt()
        task = self.cell_waiter
        if task is not None and not task.done():
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(task.cancel)

    # --- execution ---------------------------------------------------------------------

    async def do_execute(self, code: str, silent: bool, store_history: bool = True,
                         user_expressions: Any = None, allow_stdin: bool = False, *,
                         cell_meta: Any = None, cell_id: Any = None) -> dict[str, Any]:
        self._saved_loop = asyncio.get_running_loop()
        self.load_magic_groups()
        await self.ensure_node()
        self._cell_parent = self.get_parent()
        self._last_parent = self._cell_parent
        if store_history:
            self.magics.record(self.execution_count, code)
        self._cell_running = True
        self.interrupted = False
        self.payload: list[dict[str, Any]] = []
        try:
            for kind, body, arg in split_cell(code):
                if kind == "lua":
                    reply = await self.run_lua(body)
                elif kind == "cell":
                    reply = await self._observed(None, self.magics.run_cell_magic(arg, body))
                else:
                    reply = await self._observed(None, self.magics.run_line_magic(body))
                if reply is not None:
                    return reply
        except MagicError as e:
            return self.error_reply("MagicError", str(e), [f"MagicError: {e}"])
        except Exception as e:  # noqa: BLE001 - a cell must always get a reply
            import traceback

            return self.error_reply(type(e).__name__, str(e), traceback.format_exception(e))
        finally:
            self._cell_running = False
        return {"status": "ok", "execution_count": self.execution_count,
                "payload": self.payload, "user_expressions": {}}

    async def run_lua(self, source: str, address: int | None = None) -> dict[str, Any] | None:
        """Inject `source` into the target; None on success, an error reply otherwise."""
        if address is None and self.remote is not None and self.remote.has_target:
            return await self.remote.run(source)  # the target is on a remote node
        node = self.node
        assert node is not None
        handle = address if address is not None else self.current_target()
        return await self._observed(handle, self._inject_cell(node, handle, source))

    async def _observed(self, handle: int | None, work: Any) -> Any:
        tokens = [(obs, await obs.before(handle)) for obs in self.cell_observers]
        try:
            return await work
        finally:
            for obs, token in tokens:
                await obs.after(handle, token)

    async def _inject_cell(self, node: Node, handle: int, source: str) -> dict[str, Any] | None:
        source = self.syntax.as_expression(source)
        run = asyncio.ensure_future(
            inject(node, handle, source, session=self.session_key, returns=True)
        )
        # An interrupt cancels the wait, not the RUN: it has been sent, and what it set off
        # may still run (its answer is dropped when it comes).
        run.add_done_callback(_retrieve)
        self.cell_waiter = asyncio.ensure_future(asyncio.shield(run))
        try:
            result = await self.cell_waiter
        except asyncio.CancelledError:
            return self.error_reply("KeyboardInterrupt", "interrupted",
                                    ["KeyboardInterrupt: the cell was interrupted"])
        except Exception as e:  # noqa: BLE001 - a dead target, a refused call...
            if self.interrupted:
                return self.error_reply("KeyboardInterrupt", "interrupted",
                                        ["KeyboardInterrupt: the cell was interrupted"])
            return self.error_reply(type(e).__name__, str(e), [f"{type(e).__name__}: {e}"])
        finally:
            self.cell_waiter = None
        output = result.output
        if output and not output.endswith("\n"):
            output += "\n"  # RUN joins printed lines; a stream wants each line ended
        self.stream("stdout", output)
        if not result.ok:
            message = result.error or "error"
            lines = clean_traceback(message)
            ename = "KeyboardInterrupt" if "interrupted" in message.split("\n")[0] else "LuaError"
            return self.error_reply(ename, lines[0] if lines else message, lines)
        if result.values:
            self.result("\t".join(result.values))
        return None

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        status = self.syntax.is_complete(code)
        reply: dict[str, Any] = {"status": status}
        if status == "incomplete":
            reply["indent"] = "  "
        return reply

    async def do_complete(self, code: str, cursor_pos: int) -> dict[str, Any]:
        self.load_magic_groups()
        return await self.magics.complete(code, cursor_pos)

    async def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0,
                         omit_sections: Any = ()) -> dict[str, Any]:
        self.load_magic_groups()
        return await self.magics.inspect(code, cursor_pos)

    async def do_history(self, hist_access_type: str, output: bool, raw: bool,
                         session: Any = None, start: Any = None, stop: Any = None,
                         n: Any = None, pattern: Any = None, unique: bool = False
                         ) -> dict[str, Any]:
        history = self.magics.history(hist_access_type, output, n, pattern, session, start,
                                      stop, unique)
        return {"status": "ok", "history": history}

    async def do_debug_request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """There is no Lua debugger behind this kernel (yet): every request is refused,
        as the debug adapter protocol says, so a front end does not wait for a reply."""
        return {"type": "response", "request_seq": msg.get("seq", 0), "success": False,
                "command": msg.get("command", ""),
                "message": "the debugger is not available in skykernel"}

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        # ipykernel 7 answers shutdown_request on its control thread, in a loop of its own,
        # while the remote connections and the node live on the shell's main loop, and
        # asyncio objects work only on their own loop. So the closing is handed to the main
        # loop, and waited for a bounded time: the reply goes out even if that loop is stuck
        # (3 s: jupyter_client kills a kernel that has not exited 5 s after asking).
        wait = 3.0

        async def close() -> None:
            if self.remote is not None:
                await self.remote.shutdown()
            node, self.node = self.node, None
            if node is not None:
                await node.shutdown()

        main = getattr(self.io_loop, "asyncio_loop", None)
        try:
            if main is None or main is asyncio.get_running_loop() or not main.is_running():
                await asyncio.wait_for(close(), wait)
            else:
                done = asyncio.run_coroutine_threadsafe(close(), main)
                await asyncio.wait_for(asyncio.wrap_future(done), wait)
        except Exception as e:  # noqa: BLE001 - the reply must go out whatever happened
            self.log.warning("shutdown: closing the node and remote connections: %s: %s",
                             type(e).__name__, e)
        control = getattr(self, "_control_lock", None)  # held while a control message runs
        if main is not None and main is not asyncio.get_running_loop() and control is not None:
            main.call_soon_threadsafe(self._wait_for_control, control)
        return {"status": "ok", "restart": restart}

    @staticmethod
    def _wait_for_control(control: asyncio.Lock, limit: float = 2.0) -> None:
        """Hold the main thread, which stops and closes the app once the shutdown reply is
        sent, until the control thread has finished the request. After the reply that
        thread still flushes stdout and stderr and publishes its idle status through the
        IOPub thread; when the main thread had stopped IOPub first, each flush waited 10 s
        and the publish could hang the exit for good (jupyter_client kills a kernel still
        there after 5 s)."""
        import time

        deadline = time.monotonic() + limit
        while control.locked() and time.monotonic() < deadline:
            time.sleep(0.005)


def _retrieve(run: asyncio.Future[Any]) -> None:
    """Nobody may be waiting for a RUN's answer any more (an interrupted cell)."""
    if not run.cancelled():
        run.exception()


def _is_comm_message(session: Any, msg: Any) -> bool:
    try:
        _, frames = session.feed_identities(msg, copy=False)
        header = session.deserialize(frames, content=False, copy=False)["header"]
    except Exception:  # noqa: BLE001 - not ours to judge: ipykernel reports bad messages
        return False
    return header.get("msg_type") in ("comm_open", "comm_msg", "comm_close")


def split_cell(code: str) -> list[tuple[str, str, str]]:
    """Cut a cell into ('cell', body, magic line), ('line', magic) and ('lua', chunk) parts.

    A line starting with `%` is never Lua, so magics and Lua mix freely; `%%` on the
    first line makes the whole cell the magic's body.
    """
    stripped = code.lstrip("\n")
    if stripped.startswith("%%"):
        first, _, body = stripped.partition("\n")
        return [("cell", body, first[2:].strip())]
    parts: list[tuple[str, str, str]] = []
    lua: list[str] = []
    for line in code.splitlines():
        if line.lstrip().startswith("%"):
            if any(s.strip() for s in lua):
                parts.append(("lua", "\n".join(lua), ""))
            lua = [""] * (len(lua) + 1)  # keep line numbers of later Lua right
            parts.append(("line", line.strip()[1:], ""))
        else:
            lua.append(line)
    if any(s.strip() for s in lua):
        parts.append(("lua", "\n".join(lua), ""))
    return parts


__all__ = ["MAGICS", "SkynetKernel", "split_cell"]

"""The `skynet` Jupyter kernel: ipykernel's `do_*` methods over a target.

The kernel is a thin shell, as ipykernel's own are: a cell is cut into Lua parts and
magics (`split_cell`); a Lua part runs in the target (`target.py`: the in-process node's
service or a remote node's), a magic is found in this kernel's registry (`registry.py`)
and given the target; `output.py` turns what came back into Jupyter messages. The
in-process node runs on the kernel's own asyncio loop, so timers fire between cells and
widget comms are served while a cell waits for a reply.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import re
import signal
import threading
from typing import TYPE_CHECKING, Any

from ipykernel.kernelbase import Kernel

from .. import __version__
from .history import History
from .luasyntax import LuaSyntax
from .output import Output, Reply
from .registry import Context, Magics
from .target import Waiter
from .targets import Targets

if TYPE_CHECKING:
    from ..node.logger import LogLine
    from ..node.node import Node


class SkynetKernel(Kernel):
    implementation = "skykernel"
    implementation_version = __version__
    language = "lua"
    #: The Lua this kernel runs (its kernelspec's `--lua`); None: the default (5.4, or
    #: $SKYKERNEL_LUA). A `%boot` config that names another one wins while it runs.
    lua_version: str | None = None
    banner = (f"skykernel {__version__}: a skynet node in this kernel; "
              "cells are Lua injected into a service (%help)")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup_comms()
        self.session_key = f"kernel-{os.getpid()}"
        self.waiter = Waiter()
        self.out = Output(self)
        self.targets = Targets(self._on_log, self.waiter, self.session_key, self.out.warn,
                               self.lua_version)
        self.targets.local.frontend = self  # Lua reaches the notebook through `.jupyter`
        self.magics = Magics(self.context)
        self.history = History()
        self.out.on_result = self.history.record_output
        self.python_ns: dict[str, Any] = {"asyncio": asyncio, "kernel": self}
        self.payload: list[dict[str, Any]] = []
        self._syntax: LuaSyntax | None = None
        self._cell_parent: Any = None
        self._last_parent: Any = None
        self._cell_running = False
        self._cell_ident: Any = None
        self._cell_name = "cell"
        self._allow_stdin = False
        self._main_thread = threading.get_ident()

    # What the stop button (`_on_sigint`) reaches: the in-process node, the wait of the
    # cell, and the flag a cell's tracking reads.

    @property
    def node(self) -> Node | None:
        return self.targets.local.node

    @property
    def cell_waiter(self) -> asyncio.Future[Any] | None:
        return self.waiter.current

    @property
    def interrupted(self) -> bool:
        return self.waiter.interrupted

    @interrupted.setter
    def interrupted(self, value: bool) -> None:
        self.waiter.interrupted = value

    async def context(self) -> Context:
        """What a magic gets: the current target (the node boots on first need)."""
        target = await self.targets.current()
        return Context(target, self.targets, self.out, self.magics, self.python_ns,
                       run_code=self._run_code, cell_name=self._cell_name,
                       history=self.history.source)

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
    def help_links(self) -> list[dict[str, str]]:  # type: ignore[override]
        return help_links(self.lua)

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

    async def kernel_info_request(self, stream: Any, ident: Any, parent: Any) -> None:
        """Answer first, then get ready: boot the node and load the magics right after
        the first kernel_info, so the first cell finds them ready."""
        await super().kernel_info_request(stream, ident, parent)
        if self.node is None and not self.magics.loaded:
            # later, not at once: the reply is only flushed to its socket by the loop
            self.io_loop.call_later(0.1, self._get_ready)

    async def _get_ready(self) -> None:
        self.magics.load()
        await self.targets.local.ensure()

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

    # --- output ------------------------------------------------------------------------

    def stream(self, name: str, text: str, parent: Any = None) -> None:
        self.out.stream(name, text, parent)

    @property
    def _output_parent(self) -> Any:
        """Where output from outside a cell goes: the running cell, else the last one."""
        return self._cell_parent if self._cell_running else self._last_parent

    def _on_log(self, line: LogLine) -> None:
        """Log lines go to the running cell, else to the last cell's output (a live log)."""
        if threading.get_ident() != self._main_thread:
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(self._on_log, line)
            return
        parent = self._output_parent
        if parent is None:
            return
        self.out.log(line, parent)

    # --- what Lua asks of the notebook (the node's `.jupyter` service) ---------------

    def show_bundle(self, text: str) -> None:
        """A display a service made, shown where its log lines would be."""
        parent = self._output_parent
        if parent is None:
            return
        try:
            self.out.bundle(text, parent)
        except ValueError as e:
            self.out.stream("stderr", f"display: {e}\n", parent)

    async def read_input(self, prompt: str, pending: str) -> tuple[bool, str | None]:
        """A line from the front end for a cell's io.read (an input_request on the stdin
        channel), waited for without holding the loop: the node, timers and widgets go on,
        and the stop button ends the wait."""
        import zmq

        if not self._cell_running:
            return False, "no cell is running: only a cell can ask for input"
        parent = self._cell_parent
        self.out.events(pending, parent)  # what the cell printed so far comes first
        if not self._allow_stdin:
            return False, "this front end does not take input (the request says allow_stdin " \
                          "is off, as for nbconvert and nbclient)"
        socket = self.stdin_socket
        while True:  # stale replies first
            try:
                socket.recv_multipart(zmq.NOBLOCK)
            except zmq.ZMQError:
                break
        self.session.send(socket, "input_request", {"prompt": prompt, "password": False},
                          parent, ident=self._cell_ident)
        while True:
            if self.interrupted or not self._cell_running or parent is not self._cell_parent:
                return False, "interrupted"
            ident, reply = self.session.recv(socket, zmq.NOBLOCK)
            if reply is not None:
                break
            await asyncio.sleep(0.02)
        value = reply.get("content", {}).get("value", "")
        return True, None if value == "\x04" else str(value)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return getattr(self, "_saved_loop", None)

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
        self.magics.load()
        self._cell_parent = self.get_parent()
        self._cell_ident = self._parent_ident["shell"]
        self._last_parent = self._cell_parent
        self._allow_stdin = allow_stdin
        self._cell_name = f"cell[{self.execution_count}]"
        if store_history:
            self.history.record(self.execution_count, code)
        self._cell_running = True
        self.interrupted = False
        self.payload = []
        try:
            reply = await self._run_code(code)
            if reply is None and user_expressions:
                expressions = await self._user_expressions(user_expressions)
            else:
                expressions = {}
        finally:
            self._cell_running = False
        if reply is not None:
            return reply
        return {"status": "ok", "execution_count": self.execution_count,
                "payload": self.payload, "user_expressions": expressions}

    async def _run_code(self, code: str) -> Reply | None:
        """A cell's code, part after part (a help request `name?` is a part of its own);
        None when it all went well, else the first error's reply."""
        asked = help_request(code)
        if asked is not None:
            from . import completion

            return await completion.show_help(await self.context(), *asked)
        for kind, body, arg in split_cell(code):
            reply = await self._run_part(kind, body, arg)
            if reply is not None:
                return reply
        return None

    async def _run_part(self, kind: str, body: str, arg: str) -> Reply | None:
        """One part of a cell: Lua for the target, or a magic; None when it went well."""
        try:
            ctx = await self.context()
            if kind == "lua":
                return self.out.lua(await ctx.target.run_cell(body, name=self._cell_name))
            if kind == "cell":
                return await self.magics.run_cell(ctx, arg, body)
            return await self.magics.run_line(ctx, body)
        except Exception as e:  # noqa: BLE001 - a cell must always get a reply
            return self.out.failure(e, magic=kind != "lua", log=self.log)
        finally:
            self.targets.local.note_changes()

    async def _user_expressions(self, expressions: dict[str, str]) -> dict[str, Any]:
        """Each expression's value in the session (as a front end asks for), or its error."""
        found: dict[str, Any] = {}
        try:
            target = await self.targets.current()
        except Exception as e:  # noqa: BLE001 - every expression gets an answer
            target, why = None, f"{type(e).__name__}: {e}"
        for key, expr in expressions.items():
            if target is None:
                found[key] = _expression_error("TargetError", why)
                continue
            try:
                r = await target.inject(str(expr), session=self.session_key, expression=True,
                                        returns=True, filename="user_expression")
            except Exception as e:  # noqa: BLE001
                found[key] = _expression_error(type(e).__name__, str(e))
                continue
            if r.ok:
                found[key] = {"status": "ok", "metadata": {},
                              "data": {"text/plain": "\t".join(r.values) or "nil"}}
            else:
                message = (r.error or "error").split("\n")[0]
                found[key] = _expression_error("LuaError", message)
        return found

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        status = self.syntax.is_complete(code)
        reply: dict[str, Any] = {"status": status}
        if status == "incomplete":
            reply["indent"] = "  "
        return reply

    async def do_complete(self, code: str, cursor_pos: int) -> dict[str, Any]:
        from . import completion

        return await completion.complete(await self.context(), code, cursor_pos)

    async def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0,
                         omit_sections: Any = ()) -> dict[str, Any]:
        from . import completion

        return await completion.inspect(await self.context(), code, cursor_pos, detail_level)

    async def do_history(self, hist_access_type: str, output: bool, raw: bool,
                         session: Any = None, start: Any = None, stop: Any = None,
                         n: Any = None, pattern: Any = None, unique: bool = False
                         ) -> dict[str, Any]:
        history = self.history.query(hist_access_type, output, n, pattern, session, start,
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
            await self.targets.shutdown()

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


def _is_comm_message(session: Any, msg: Any) -> bool:
    try:
        _, frames = session.feed_identities(msg, copy=False)
        header = session.deserialize(frames, content=False, copy=False)["header"]
    except Exception:  # noqa: BLE001 - not ours to judge: ipykernel reports bad messages
        return False
    return header.get("msg_type") in ("comm_open", "comm_msg", "comm_close")


#: skykernel's docs as one page, beside the kernelspec (`skykernel install` writes it):
#: Jupyter's server serves a kernelspec's files, so the Help menu opens it offline.
DOCS_URL = "/kernelspecs/skynet/docs.html"


def _expression_error(ename: str, evalue: str) -> dict[str, Any]:
    return {"status": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"{ename}: {evalue}"]}


def help_links(lua: str) -> list[dict[str, str]]:
    """The kernel's Help menu: the manual of the Lua it runs, skynet's wiki, our docs."""
    return [
        {"text": f"Lua {lua} Reference Manual", "url": f"https://www.lua.org/manual/{lua}/"},
        {"text": "skynet wiki", "url": "https://github.com/cloudwu/skynet/wiki"},
        {"text": "skynet debug console", "url": "https://github.com/cloudwu/skynet/wiki/DebugConsole"},
        {"text": "skykernel docs", "url": DOCS_URL},
    ]


#: A help request: `name?` or `?name` (what it is), `name??` (its source too).
_HELP = re.compile(r"^\s*(\?*)\s*(%{0,2}[\w.:]+)\s*(\?*)\s*$")


def help_request(code: str) -> tuple[str, int] | None:
    """(name, detail) when the cell is only a help request, as in IPython: `skynet.call?`
    (0) or `skynet.call??` (1), `%call?`; None otherwise (Lua never has a `?`)."""
    m = _HELP.match(code)
    if m is None or not (m.group(1) or m.group(3)):
        return None
    marks = max(len(m.group(1)), len(m.group(3)))
    if marks > 2:
        return None
    return m.group(2), marks - 1


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


__all__ = ["SkynetKernel", "split_cell"]

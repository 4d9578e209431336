"""The in-process node as a target: cells are debug RUN messages to one of its services.

`InProcessNode` owns the node the kernel boots (from the notebook's folder, or a skynet
config with `%boot`) and knows its default service; `LocalTarget` is one service of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..node.handle import format_address, parse_address
from ..node.inject import InjectResult, inject
from ..reload._lua import Address, NodePlace
from .target import ConsoleAnswer, Table, Target, TargetError, Waiter

if TYPE_CHECKING:
    from ..node.logger import LogLine
    from ..node.node import Node
    from ..reload.patchlog import PatchLog

DEFAULT_SERVICE = "notebook"

#: The kernel's own service in the in-process node: how Lua reaches the notebook.
KERNEL_SERVICE = ".jupyter"

# Handler swaps a cell makes in _P / _U are found by a snapshot before it and a diff after.
_SNAPSHOT = "require('skykernel.swaps').snapshot(_U, _P)"
_DIFF = "print(require('skykernel.swaps').diff(_U, _P))"


def notebook_config(path: str | None = None, lua: str | None = None) -> Any:
    """The in-process node's config: the notebook's `service/` and `lualib/` first. `lua`
    is the kernel's Lua version, for a config file that does not name one."""
    # The node (and lupa) load when the node boots, after the first kernel_info reply.
    from ..node.config import default_config, load_config

    if path:
        return load_config(path, lua=lua)
    return default_config(
        lua=lua,
        start=DEFAULT_SERVICE,
        harbor="0",
        luaservice="./service/?.lua;./service/?/init.lua",
        lua_path="./lualib/?.lua;./lualib/?/init.lua;./?.lua",
        snax="./service/?.lua",
    )


class Frontend(Protocol):
    """What the kernel offers Lua through its service (`KernelService`)."""

    def show_bundle(self, text: str) -> None:
        """A display a service made (a mimebundle's JSON), under the current cell."""

    def read_input(self, prompt: str, pending: str) -> Awaitable[tuple[bool, str | None]]:
        """A line from the front end (input_request) after showing `pending` (a cell's
        output so far, RUN's events): (True, line or None at the end of input), or (False,
        why not)."""


class KernelService:
    """`.jupyter`: the kernel as a service of the in-process node, a Python service as the
    logger is. Lua sends it `display` (skykernel.display outside a cell) and calls it for
    `input` (a cell's io.read): the notebook is reached through the node's messages, and
    Lua never holds a Python object."""

    def __init__(self, node: Node, frontend: Frontend) -> None:
        from ..node.service import PyService

        self.node = node
        self.frontend = frontend
        self.loop = asyncio.get_running_loop()
        self.tasks: set[asyncio.Task[Any]] = set()
        # the top of the node's handle range, not the next handle: the services a notebook
        # starts keep the addresses skynet would give them
        handle = (node.handles.harbor << 24) | 0xFFFFFF
        self.service = PyService(node, handle, "jupyter", self._deliver)
        node.handles.register(handle, self.service)
        node.handles.bind_name(KERNEL_SERVICE, handle)

    def _deliver(self, source: int, ptype: int, session: int, msg: bytes) -> None:
        """On a worker: the kernel's objects belong to its loop."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._on_message, source, ptype, session, msg)

    def _on_message(self, source: int, ptype: int, session: int, msg: bytes) -> None:
        from ..node import seri
        from ..node.proto import PTYPE_LUA

        if ptype != PTYPE_LUA:
            return
        try:
            args = [a.decode("utf-8", "replace") if isinstance(a, bytes) else a
                    for a in seri.unpack(msg)]
        except Exception:  # noqa: BLE001 - a bad message is dropped; the caller hears why
            self._reply(source, session, False, "not a message in skynet's pack format")
            return
        command = args[0] if args else None
        if command == "display" and len(args) > 1 and isinstance(args[1], str):
            self.frontend.show_bundle(args[1])
        elif command == "input" and session:
            prompt = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            pending = args[2] if len(args) > 2 and isinstance(args[2], str) else ""
            task = self.loop.create_task(self._input(source, session, prompt, pending))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            self._reply(source, session, False, f"{KERNEL_SERVICE} knows display and input, "
                                                f"not {command!r}")

    async def _input(self, source: int, session: int, prompt: str, pending: str) -> None:
        try:
            ok, line = await self.frontend.read_input(prompt, pending)
        except Exception as e:  # noqa: BLE001 - the cell hears it as its io.read's error
            ok, line = False, f"{type(e).__name__}: {e}"
        self._reply(source, session, ok, line)

    def _reply(self, dest: int, session: int, *values: Any) -> None:
        from ..node import seri
        from ..node.proto import PTYPE_RESPONSE

        if session and not self.service.dead:
            self.node.scheduler.push(self.service.handle, dest, PTYPE_RESPONSE, session,
                                     seri.pack(*values))


class InProcessNode:
    """The node inside the kernel: booted on first need, rebooted by %boot."""

    def __init__(self, on_log: Callable[[LogLine], None], lua: str | None = None,
                 frontend: Frontend | None = None) -> None:
        self.on_log = on_log
        self.lua = lua  # the kernel's Lua version (None: the default)
        #: the kernel, offered to Lua as the service `.jupyter` (None: no such service)
        self.frontend = frontend
        self.node: Node | None = None
        self.default: int | None = None
        self._lock: asyncio.Lock | None = None
        self._generation = 0  # the code-cache generation last seen (clears are patches)

    async def ensure(self) -> Node:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.node is None or self.node.aborted:
                await self.boot(None)
        assert self.node is not None
        return self.node

    async def boot(self, config_path: str | None) -> Node:
        """(Re)boot the node. The new config is read and checked first: a config that
        cannot boot raises TargetError and leaves the running node as it was."""
        from ..node.config import ConfigError
        from ..node.logger import Logger
        from ..node.node import Node, check_bootable

        try:
            config = notebook_config(config_path, self.lua)
            check_bootable(config)
        except ConfigError as e:
            kept = " (the running node is untouched)" if self.node is not None else ""
            raise TargetError(f"cannot boot from {config_path}: {e}{kept}") from None
        if self.node is not None:
            await self.node.shutdown()
        logger = Logger()
        logger.sinks.append(self.on_log)
        node = Node(config, logger=logger)
        self.node = node
        await node.start()
        if self.frontend is not None:
            KernelService(node, self.frontend)
        self._generation = node.codecache.generation
        start = node.config.start
        handle = node.handles.resolve(f".{start}") if start else None
        if handle is None and start:
            found = [s.handle for s in node.services() if s.name == start]
            handle = found[0] if found else None
        if handle is None:
            handle = next((s.handle for s in reversed(node.services()) if s.kind == "snlua"), None)
        self.default = handle
        return node

    async def shutdown(self) -> None:
        node, self.node = self.node, None
        if node is not None:
            await node.shutdown()

    def alive(self, handle: int | None) -> bool:
        return (self.node is not None and handle is not None
                and self.node.handles.resolve(handle) is not None)

    def note_changes(self) -> None:
        """A code-cache clear (by a cell, a magic, Python) goes into the patch log."""
        node = self.node
        if node is not None and node.codecache.generation != self._generation:
            self._generation = node.codecache.generation
            NodePlace(node).patches.record(
                "codecache", "node", "codecache", "-",
                f"clear: generation {node.codecache.generation} starts")


class LocalTarget(Target):
    """A service of the in-process node."""

    def __init__(self, host: InProcessNode, handle: int, waiter: Waiter, session: str) -> None:
        super().__init__(waiter, session)
        self.host = host
        self.handle = handle

    # --- who it is ------------------------------------------------------------------

    @property
    def node(self) -> Node:
        if self.host.node is None:
            raise TargetError("the in-process node is not running; %boot starts it")
        return self.host.node

    @property
    def node_here(self) -> Node:
        return self.node

    @property
    def address(self) -> int:
        return self.handle

    @property
    def node_name(self) -> str:
        return "local"

    def label(self, address: Address | None = None) -> str:
        return format_address(self.handle if address is None else self.resolve(address))

    async def about(self) -> str:
        svc = self.node.handles.services.get(self.handle)
        return svc.name if svc is not None else "gone"

    def resolve(self, address: Address) -> int:
        return self.find(address)

    def find(self, text: Address) -> int:
        """A handle from `:0000000b`, `.name`, bare hex or a handle; unknown ones list the
        services."""
        node = self.node
        handle = node.handles.resolve(parse_address(text) if isinstance(text, str) else text)
        if handle is None:
            listing = ", ".join(f"{s.address} {s.name}" for s in node.services()
                                if s.kind == "snlua")
            shown = text if isinstance(text, str) else format_address(text)
            raise TargetError(f"no service at {shown}; services: {listing}")
        return handle

    async def at(self, text: str) -> LocalTarget:
        return LocalTarget(self.host, self.find(text), self.waiter, self.session)

    # --- the transport --------------------------------------------------------------

    async def inject(self, source: str, *, address: Address | None = None,
                     session: str | None = None, returns: bool = True,
                     expression: bool = False, nils: bool = True,
                     filename: str | None = None) -> InjectResult:
        from ..node.errors import CallError

        handle = self.handle if address is None else self.resolve(address)
        try:
            return await inject(self.node, handle, source, session=session, returns=returns,
                                expression=expression, nils=nils, filename=filename)
        except CallError as e:
            raise TargetError(str(e)) from None

    async def _quiet(self, handle: int, chunk: str) -> str | None:
        """Tracking must never break a cell: None when the chunk failed."""
        try:
            result = await self.inject(chunk, address=handle, returns=False)
        except TargetError:
            return None
        return result.output if result.ok else None

    async def _run_cell(self, source: str, address: Address, name: str | None
                        ) -> tuple[InjectResult, str]:
        from ..node.errors import CallError

        handle = self.resolve(address)
        tracked = await self._quiet(handle, _SNAPSHOT) is not None
        run = inject(self.node, handle, source, session=self.session, returns=True,
                     expression=True, repl=True, filename=name)
        try:
            # An interrupt ends the wait, not the RUN: it has been sent, and what it set
            # off may still run (its answer is dropped when it comes).
            result = await self.waiter.wait(run, "the cell was interrupted", keep_running=True)
        except CallError as e:  # a dead target, a refused call...
            if self.waiter.interrupted:
                return InjectResult(False, "", "interrupted"), ""
            raise TargetError(str(e)) from None
        swapped = ""
        if tracked and not self.waiter.interrupted:
            swapped = (await self._quiet(handle, _DIFF) or "").strip()
        return result, swapped

    async def services(self) -> Table:
        rows = service_rows(self.node)
        return Table(["address", "name", "file", "gen", "mqlen", "memory", "messages"],
                     [list(r[:-1]) for r in rows])

    async def console(self, command: str) -> ConsoleAnswer:
        from ..node.console import run_command

        lines = (await run_command(self.node, command)).split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        ok = bool(lines) and lines[-1] == "<CMD OK>"
        if lines and lines[-1] in ("<CMD OK>", "<CMD Error>"):
            lines.pop()
        return ConsoleAnswer(ok, lines)

    async def newservice(self, args: list[str]) -> str:
        try:
            handle = await self.node.newservice(*args)
        except Exception as e:  # noqa: BLE001 - the launcher's reason, from the log
            raise TargetError(f"newservice {args[0]} failed: {e} (see the log above)") from None
        return format_address(handle)

    async def kill(self, address: Address) -> None:
        self.node.kill(self.resolve(address))
        await self.node.settle()

    async def exit(self, address: Address) -> None:
        self.node.send(self.resolve(address), "debug", "EXIT")
        await self.node.settle()

    async def log(self, n: int) -> str:
        return "\n".join(str(line) for line in self.node.logger.tail(n)) or "(no log)"

    async def restart(self, address: Address, *, wait: bool) -> str:
        from ..reload.restart import RestartError, restart_service

        handle = self.resolve(address)
        try:
            info = await restart_service(self.node, handle, wait=wait)
        except RestartError as e:
            raise TargetError(f"restart refused, the old state keeps running: {e}") from None
        await self.node.settle()
        return (f"{format_address(handle)} reloaded in place: {info['queued']} queued "
                f"message(s) kept, {info['failed']} request(s) in flight failed, state "
                f"{'carried over' if info['carried'] else 'not carried (no skynet.migrate)'}")

    async def settle(self) -> None:
        await self.node.settle()

    @property
    def patches(self) -> PatchLog:
        return NodePlace(self.node).patches

    async def lua_services(self) -> list[Address]:
        return await NodePlace(self.node).lua_services()


def service_rows(node: Any) -> list[tuple[Any, ...]]:
    """(address, name, main file, its generation, mqlen, memory, messages, handle) for each
    live service: the %services table, as text or as a widget."""
    rows = []
    for s in node.services():
        main = next((f for f in s.generations if f.endswith(f"/{s.name}.lua")
                     or f.endswith(f"/{s.name}/init.lua")), "")
        gen = str(s.generations.get(main, "")) if main else ""
        mem = f"{s.memory / 1024:.1f} KB" if s.memory else ""
        names = " ".join(s.names)
        rows.append((s.address, f"{s.name} {names}".strip(), main, gen, str(s.mqlen), mem,
                     str(s.messages), s.handle))
    return rows


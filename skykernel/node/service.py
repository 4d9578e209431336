"""A service's context (skynet_server): its Lua state, its queue, its bridge to the node.

Every Lua service is its own lupa LuaRuntime (of the node's Lua version), so a crash, a
loop or a memory limit stays in one service and upvalues are really separate, as in skynet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .codecache import Chunk, CodeCacheError
from .command import COMMANDS
from .interrupt import Threads
from .luastate import new_state

if TYPE_CHECKING:
    from .node import Node

RUNTIME_CHUNKS = ("skynet/core.lua", "loader.lua")


class Service:
    """What the scheduler needs of any service: a queue and a way to deliver a batch."""

    kind = "python"

    # Slots, not a dict: a node holds thousands of services, and an instance dict is
    # the biggest Python object each one has.
    __slots__ = ("node", "handle", "args", "name", "queue", "qhead", "scheduled", "running",
                 "holding", "run_gen", "dead", "killed_running", "_failed", "booted",
                 "attention", "overload_at", "messages", "cpu", "started", "deliver",
                 "__weakref__")

    def __init__(self, node: Node, handle: int, args: str) -> None:
        self.node = node
        self.handle = handle
        self.args = args
        self.name = args.split()[0] if args else ""
        self.queue: list[Any] = []
        self.qhead = 0
        #: On the run queue or on a worker (skynet's in_global): never on two workers.
        self.scheduled = False
        #: The worker delivering to this service now, if any.
        self.running: Any = None
        #: Kept off the workers while > 0 (a reload swapping its state, a kill reading it).
        self.holding = 0
        #: Counts deliveries, so that a stop asked for one run never stops the next.
        self.run_gen = 0
        self.dead = False
        #: Killed while it ran: its worker fails the requests it was serving.
        self.killed_running = False
        self._failed: set[tuple[int, int]] | None = None
        #: The state is ready for messages (a Lua service builds it on its first run).
        self.booted = True
        #: after_run has work (an interrupt armed, threads to refresh): off the hot path.
        self.attention = False
        #: A queue longer than this (in frame values) is logged as an overload.
        self.overload_at = (1024 + 1) * 4
        self.messages = 0
        self.cpu = 0.0
        self.started = time.time()
        #: What the worker calls with a batch: (epoch, *frames) -> outbox. A Lua service
        #: gets its state's own entry once booted, so no Python frame sits between them.
        self.deliver: Callable[..., Any] = self._no_state

    @property
    def failed(self) -> set[tuple[int, int]]:
        """(source, session) of requests already failed for it (no caller hears twice)."""
        if self._failed is None:
            self._failed = set()
        return self._failed

    def _no_state(self, epoch: int, *frames: Any) -> Any:
        raise RuntimeError(f"service {self.handle:08x} has no state (not booted, or closed)")

    def mqlen(self) -> int:
        return (len(self.queue) - self.qhead) // 4

    def memory(self) -> int | None:
        return None

    def after_run(self) -> None:
        """Called by the worker after each delivery, before anyone else may run it."""

    def salvage(self) -> Any:
        """After a delivery raised: the outbox it left, as deliver returns one."""
        return 0

    def interrupt(self, reason: bytes) -> bool:
        """Stop the Lua it runs now with `reason` as the error; False if not running."""
        return False

    def close(self) -> None:
        self.dead = True


class PyService(Service):
    """A service written in Python: the logger, the harbor stand-in, Python clients."""

    def __init__(
        self,
        node: Node,
        handle: int,
        args: str,
        on_message: Callable[[int, int, int, bytes], None] | None = None,
    ) -> None:
        super().__init__(node, handle, args)
        self.on_message = on_message
        self.deliver = self._handle

    __slots__ = ("on_message",)

    def _handle(self, epoch: int, *frames: Any) -> int:
        handler = self.on_message
        for i in range(0, len(frames), 4):
            source, ptype, session, msg = frames[i : i + 4]
            if handler is not None:
                handler(source, ptype, session, msg)
        return 0


class LuaService(Service):
    """A `snlua` service: one Lua state running our skynet library and a service file."""

    kind = "snlua"

    __slots__ = ("lua", "core", "_drain", "chunks", "memlimit", "threads", "carry",
                 "base_memory")

    def __init__(self, node: Node, handle: int, args: str) -> None:
        super().__init__(node, handle, args)
        self.lua: Any = None
        self.core: Any = None
        self._drain: Any = None
        self.chunks: dict[str, Chunk] = {}
        self.memlimit = 0
        #: What the state held when it was made: lupa's count starts after that (the
        #: standard libraries, about 21 KB), skynet's (and Lua's own) includes it.
        self.base_memory = 0
        self.booted = False
        self.threads = Threads(node.config.lua)
        #: Data a service reload carries into this new state (skynet.restore reads it).
        self.carry: bytes | None = None

    # --- the bridge: what skynet.core's C functions would do --------------------------

    def _command(self, cmd: bytes, *args: Any) -> Any:
        own = _OWN_COMMANDS.get(cmd)
        if own is not None:
            return getattr(self, own)(*args)
        handler = COMMANDS.get(cmd)
        if handler is None:
            raise ValueError(f"unknown node command {cmd.decode(errors='replace')}")
        return handler(self.node, self, *args)

    def _log(self, text: bytes) -> None:
        self.node.logger.write(self.handle, text)

    def _load(self, filename: bytes, mode: bytes) -> tuple[bytes | None, bytes | None]:
        name = filename.decode("utf-8", "surrogateescape")
        try:
            chunk = self.node.codecache.load(name, mode)
        except CodeCacheError as e:
            return None, str(e).encode()
        self.chunks[name] = chunk
        return chunk.bytecode, None

    def _flush(self, n: int) -> None:
        frames = self._drain(n)
        self.node.scheduler.route_from(self.handle, frames, 0)

    def _alive(self, handle: int) -> bool:
        svc = self.node.handles.services.get(handle)
        return svc is not None and not svc.dead

    def _thread(self, co: Any) -> None:
        self.threads.add(co)
        if self.threads.crowded:
            self.attention = True

    def _stop(self) -> tuple[bytes | None, bool]:
        """STOP asks: why stop (None: a stale arm), and stay armed? A killed service
        stays armed and every instruction raises, until its delivery gives up."""
        if self.dead:
            return b"killed", True
        return self.threads.take_stop(self.run_gen), False

    # --- interruption (node/interrupt.py) ----------------------------------------------

    def interrupt(self, reason: bytes) -> bool:
        if self.running is None or self.core is None:
            return False
        self.threads.arm(self.run_gen, reason)
        self.attention = True
        return True

    def salvage(self) -> Any:
        take = self.core.take_outbox if self.core is not None else None
        return take() if take is not None else 0

    def after_run(self) -> None:
        self.attention = False
        if self.threads.crowded and self.core is not None and not self.dead:
            self._refresh_threads()
        self.threads.disarm()

    def _refresh_threads(self) -> None:
        """Let go of the threads Lua no longer holds: the node keeps every registered
        thread alive (so that arming one is always safe), so now and then it drops them
        all and takes back the ones a full collection leaves."""
        old = self.threads.swap_out()
        del old  # dropped here, on the worker that owns the state
        try:
            live = self.core.live_threads()
        except Exception:  # noqa: BLE001 - an interrupt or memory limit mid-collection
            live = ()
        if not isinstance(live, tuple):
            live = (live,)
        for co in live:
            self.threads.add(co)
        self.threads.limit = max(64, 2 * len(self.threads.live))

    # --- lifecycle ---------------------------------------------------------------------

    def boot(self) -> tuple[bool, str, tuple[Any, ...]]:
        """Build the state and run the loader; returns (ok, error, outbox frames)."""
        node = self.node
        lua = new_state(version=node.config.lua, max_memory=0)
        self.lua = lua
        self.base_memory = (int(lua.globals().collectgarbage(b"count") * 1024)
                            - lua.get_memory_used())
        if self.memlimit:  # set before the state existed (a reload carries the old one's)
            self.set_memlimit(self.memlimit)
        load = lua.globals().load
        core_main = load(node.runtime_code("skynet/core.lua"), b"=core", b"b")
        self.core = core_main(self.handle, node.lualib_dir.encode(), self._command, self._alive,
                              node.native_library)
        if self.carry is not None:
            self.core.carried = self.carry
        # the worker calls the Lua entry itself: no Python frame between them per batch
        self.deliver = self.core.deliver
        self._drain = self.core.drain
        loader = load(node.runtime_code("loader.lua"), b"=loader", b"b")
        result = self.core.run(
            loader,
            self.args.encode(),
            node.service_path.encode(),
            node.lua_path.encode(),
            (node.config.preload or "").encode(),
        )
        self.booted = True
        lua.globals().collectgarbage(b"restart")  # skynet/core.lua stopped it for the load
        ok, err, _n, *frames = result
        return bool(ok), err.decode("utf-8", "replace"), tuple(frames)

    def run(self, fn: Any, *args: Any) -> tuple[bool, str, tuple[Any, ...]]:
        ok, err, _n, *frames = self.core.run(fn, *args)
        return bool(ok), err.decode("utf-8", "replace"), tuple(frames)

    def memory(self) -> int | None:
        """The Lua heap in bytes, as skynet's allocator counts it (the whole state)."""
        if self.lua is None:
            return None
        return self.base_memory + self.lua.get_memory_used()

    def set_memlimit(self, limit: int) -> None:
        """skynet.memlimit: a limit on the whole heap (0: none); lupa's limit applies to
        what it counts, so the state's starting size comes off it."""
        self.memlimit = int(limit)
        if self.lua is not None:
            lupa_limit = max(1, self.memlimit - self.base_memory) if self.memlimit else 0
            self.lua.set_max_memory(lupa_limit)

    def inflight(self) -> list[tuple[int, int]]:
        """(address, session) of requests this service was serving, for a kill."""
        f = self.core.inflight if self.core is not None else None
        if f is None:
            return []
        flat = f()
        if not flat:
            return []
        items = list(flat.values())
        return [(items[i], items[i + 1]) for i in range(0, len(items), 2)]

    def close(self) -> None:
        """Drop the state. Its finalizers run now (lua_close): the bridge is cut first, so
        that none of them calls into a node that is letting go of this service."""
        super().close()
        core = self.core
        if core is not None:
            try:
                core.close()
            except Exception:  # noqa: BLE001 - a finalizer that raised, or looped and was cut
                pass
        dropped = self.threads.clear()
        del dropped
        self.core = None
        self.deliver = self._no_state  # the Lua entry goes with the state
        self._drain = None
        self.lua = None


#: Bridge commands about the service itself rather than the node: logging, loading code,
#: taking a full outbox, and its threads for interruption. They share `_command` with the
#: node's commands because every callable handed to Lua costs each service a wrapper on
#: both sides.
_OWN_COMMANDS = {b"LOG": "_log", b"LOAD": "_load", b"FLUSH": "_flush", b"THREAD": "_thread",
                 b"STOP": "_stop"}

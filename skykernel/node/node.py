"""The node: one skynet process, hosted on an asyncio loop.

Tests, the CLI and the kernel all drive a node through this API; none of it knows about
Jupyter. The node runs on the loop it was started on, so timers keep firing and other
tasks (widget comms) keep running between batches.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import native, seri
from .bytecode import thin
from .codecache import CodeCache
from .config import Config, ConfigError, default_config
from .env import Env
from .errors import CallError
from .handle import HandleRegistry, format_address
from .logger import Logger
from .monitor import Monitor
from .proto import PTYPE_ERROR, PTYPE_RESPONSE, PTYPE_TEXT, ptype_id
from .scheduler import Scheduler
from .service import RUNTIME_CHUNKS, LuaService, PyService, Service
from .timer import Timer

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
if not RUNTIME_DIR.is_dir():  # a source checkout: runtime/ sits beside the package
    RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"

#: Library files loaded without debug information (see CodeCache): leaf modules whose
#: functions never show up in _U/_P and whose errors carry no position anyway.
STRIPPED_LIBRARY = ("skynet/seri.lua", "skynet/require.lua", "skynet/datacenter.lua",
                    "sproto/core.lua")

#: Services the node itself runs; the node is done when nothing else is alive.
SYSTEM_SERVICES = {"logger", "bootstrap", "launcher", "cdummy", "harbor", "datacenterd",
                   "service_mgr"}


def check_bootable(config: Config) -> None:
    """Raise ConfigError unless a node could boot from config: its start service must be
    on the service path. A kernel checks this before it lets go of a running node."""
    start = config.start
    if not start:
        return
    name = start.split()[0]
    patterns = [*config.luaservice, str(RUNTIME_DIR / "service" / "?.lua")]
    if not any(os.path.isfile(p.replace("?", name)) for p in patterns):
        raise ConfigError(f"start service {name!r} is not on the service path "
                          f"({';'.join(config.luaservice)})")


@dataclass(frozen=True)
class ServiceInfo:
    handle: int
    address: str
    kind: str
    name: str
    args: str
    names: list[str]
    mqlen: int
    messages: int
    memory: int | None
    cpu: float
    generations: dict[str, int]


class Node:
    """One skynet process: services on `thread` worker threads, driven from asyncio.

    The node's own threads deliver messages; the asyncio loop it was started on is where
    Python clients wait for replies (`call`), where the debug console listens, and where
    `wait_idle` is told that nothing is left to do.
    """

    def __init__(self, config: Config | None = None, *, logger: Logger | None = None,
                 endless_seconds: float = 5.0, threads: int | None = None) -> None:
        self.config = config or default_config()
        self.logger = logger or Logger(self.config.logger)
        self.handles = HandleRegistry(harbor=0)
        self.timer = Timer()
        env = self.config.skynet_env()
        if self.config.start and "start" not in env:
            # bootstrap reads `start`; skynet's bootstrap.lua falls back to "main" itself
            env["start"] = self.config.start
        self.env = Env(env)
        self.codecache = CodeCache(
            stripped=frozenset(str(RUNTIME_DIR / "lualib" / name) for name in STRIPPED_LIBRARY),
            thinned=str(RUNTIME_DIR) + "/", lua=self.config.lua)
        self.scheduler = Scheduler(self, threads or self.config.thread)
        self.monitor = Monitor(self, endless_seconds)
        self.lualib_dir = str(RUNTIME_DIR / "lualib")
        #: The C for this node's Lua version (node/native: the pack format and the direct
        #: socket write), b"" where services pack in Lua and write through Python.
        self.native_library = (native.library(self.config.lua) or "").encode()
        own_services = str(RUNTIME_DIR / "service" / "?.lua")
        self.service_path = ";".join([*self.config.luaservice, own_services])
        self.lua_path = ";".join(self.config.lua_path)
        self.exit_code: int | None = None
        self.aborted = False
        self._runtime_code: dict[str, bytes] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: PyService | None = None
        self._client_session = 0
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._idle_waiters: list[asyncio.Future[None]] = []
        #: New states being started outside the workers (a service reload's trial run):
        #: an interrupt reaches them too.
        self.trials: set[Service] = set()
        #: What the node holds for its parts, each made by its owner on first use: the
        #: socket server (node/net/), the debug consoles listening (console.py), data
        #: services share (shared.py), sprotoloader's saved schemas (command.py), and the
        #: patch log of the hot-reload tools (reload/patchlog.py).
        self.net: Any = None
        self.consoles: list[Any] = []
        self.shared: Any = None
        self.sproto_slots: dict[int, bytes] = {}
        self.patches: Any = None
        self._started = False
        self._closed = False
        why = native.failure(self.config.lua)
        if why:
            self.logger.write(0, "skynet.pack runs in Lua and socket writes in Python:"
                                 f" the C did not build: {why}")
        for key in self.config.ignored:
            self.logger.write(0, f"config key {key} is ignored (it only matters to C skynet)")

    # --- runtime code ------------------------------------------------------------------

    def runtime_code(self, name: str) -> bytes:
        """Bytecode of the runtime's own prelude chunks, compiled once per node."""
        code = self._runtime_code.get(name)
        if code is None:
            path = RUNTIME_DIR / "lualib" / name
            # The prelude is the bridge's plumbing: every service carries it and no one
            # reads its line numbers, so they go too (upvalue names stay for _U).
            code = thin(self.codecache.compile(path.read_bytes(), str(path)), lines=False)
            self._runtime_code[name] = code
        return code

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def threads(self) -> int:
        return len(self.scheduler.workers)

    @property
    def running(self) -> bool:
        return self._started and not self._closed and not self.aborted

    async def start(self, bootstrap: str = "bootstrap") -> None:
        """Boot as skynet does: logger, then bootstrap, which launches the rest."""
        self._loop = asyncio.get_running_loop()
        # the prelude compiles once, here, rather than on the first worker that needs it
        for name in RUNTIME_CHUNKS:
            self.runtime_code(name)
        logger_svc = PyService(self, self.handles.allocate(), "logger", self._on_logger_message)
        self.handles.register(logger_svc.handle, logger_svc)
        self.scheduler.on_idle = self._on_idle
        self.launch(bootstrap)
        self.scheduler.start()
        self.monitor.start()
        self._started = True
        await self.wait_idle()

    def _on_idle(self) -> None:
        """A worker found nothing to do (the scheduler's lock is held)."""
        if self._idle_waiters and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake_idle_waiters)

    def _wake_idle_waiters(self) -> None:
        with self.scheduler.lock:
            if not (self.scheduler.idle or self._closed or self.aborted):
                return  # work came in meanwhile: a later idle moment will tell them
            waiters, self._idle_waiters = self._idle_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def call_soon(self, coroutine_function: Any, *args: Any) -> None:
        """Run an asyncio task on the node's loop, from any thread (a worker, mostly)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            raise CallError("node is not running on an event loop")
        loop.call_soon_threadsafe(lambda: loop.create_task(coroutine_function(*args)))

    def kick(self) -> None:
        """Wake a worker (work was queued from outside the scheduler)."""
        with self.scheduler.lock:
            self.scheduler.wake()

    async def wait_idle(self) -> None:
        """Wait until no message is queued and no service runs (timers may be pending).
        A service that never stops running keeps this waiting: bound it."""
        await asyncio.sleep(0)  # what was just scheduled on the loop goes first
        if self._closed or self.aborted:
            return
        fut = asyncio.get_running_loop().create_future()
        with self.scheduler.lock:
            if self.scheduler.idle:
                return
            self._idle_waiters.append(fut)
        await fut

    async def settle(self, timeout: float = 2.0) -> bool:
        """wait_idle, bounded: what a magic waits for so that the log lines its action
        caused show in its cell. False if something still runs (a service that loops)."""
        try:
            await asyncio.wait_for(self.wait_idle(), timeout)
        except TimeoutError:
            return False
        return True

    async def run_until_done(self) -> int:
        """Run until only system services remain and nothing is pending, or an abort."""
        while not self.aborted and not self._closed:
            await self.wait_idle()
            if self.aborted:
                break
            user = [s for s in self.handles.services.values()
                    if not s.dead and s.name not in SYSTEM_SERVICES and s is not self._client]
            if not user and not len(self.timer):
                break
            await asyncio.sleep(min(self.timer.seconds_to_next() or 0.05, 0.05))
        return self.exit_code or 0

    def abort(self) -> None:
        """End the node (skynet.abort): callers stop waiting, services stop being served."""
        self.aborted = True
        self._fail_waiters()

    def _fail_waiters(self) -> None:
        loop = self._loop
        if loop is None:
            return

        def fail() -> None:
            waiters, self._idle_waiters = self._idle_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            for fut in list(self._waiting.values()):
                if not fut.done():
                    fut.set_exception(CallError("node stopped"))
            self._waiting.clear()

        if loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fail()
        else:
            loop.call_soon_threadsafe(fail)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the workers, close every state; the node cannot be used afterwards.

        Services still running are interrupted first; a worker that still does not come
        back (a loop inside one C call) is left behind as a daemon thread, and its
        service's state with it."""
        if self._closed:
            return
        self._closed = True
        self.monitor.stop()
        for svc in self.scheduler.running():
            svc.interrupt(b"node shutting down")
        loop = asyncio.get_running_loop()
        stuck = await loop.run_in_executor(None, self.scheduler.stop, timeout)
        self._fail_waiters()
        from .console import close_all  # the console module builds on this one

        close_all(self)
        if self.net is not None:  # every socket closes and its thread ends
            self.net.stop()
        left = {w.service for w in stuck}
        for svc in list(self.handles.services.values()):
            if svc not in left:
                svc.close()
        self.handles.services.clear()
        self.codecache.close()
        self.logger.close()

    # --- services ----------------------------------------------------------------------

    def launch(self, args: str, *, wake: bool = True) -> int:
        """Create a service; its state is built when a worker first runs it (wake=False:
        by the calling worker when its delivery ends, see Scheduler.schedule)."""
        name = args.split()[0] if args.strip() else ""
        handle = self.handles.allocate()
        svc: Service
        if name == "harbor":
            svc = PyService(self, handle, args)
        else:
            svc = LuaService(self, handle, args)
        self.handles.register(handle, svc)
        kind = "snlua " if isinstance(svc, LuaService) else ""
        self.logger.write(handle, f"LAUNCH {kind}{args}")
        self.scheduler.schedule(svc, wake=wake)
        return handle

    def boot_service(self, svc: LuaService) -> None:
        """Build the state and run the loader (on a worker, which holds the service)."""
        try:
            ok, err, frames = svc.boot()
        except Exception as e:  # noqa: BLE001 - a state that cannot even start
            ok, err, frames = False, str(e), ()
        if frames:
            self.scheduler.route_from(svc.handle, frames, 0)
        if not ok:
            self.logger.write(svc.handle, f"lua loader error : {err}")
            # Tell the launcher, as a failed init does, so newservice raises.
            launcher = self.handles.names.get(".launcher")
            if launcher is not None and not svc.dead:
                self.scheduler.push(svc.handle, launcher, PTYPE_TEXT, 0, b"ERROR")
            self.exit_service(svc, log=False)

    def exit_service(self, svc: Service, *, log: bool = True) -> None:
        """The service is gone: its handle and names go, queued requests fail. A service
        that is running is closed by its worker when the delivery returns."""
        with self.scheduler.lock:
            if svc.dead:
                return
            if log:
                self.logger.write(svc.handle, "KILL self")
            self._retire(svc)
            closing_here = svc.running is None and not svc.holding
        if closing_here:
            self.reap(svc)

    def _retire(self, svc: Service) -> None:
        """The scheduler retires the service (the lock is held); its sockets close."""
        self.scheduler.retire(svc)
        if self.net is not None:  # queued to the socket thread
            self.net.owner_gone(svc.handle)

    def kill(self, handle: int, by: int = 0) -> bool:
        """skynet.kill: no Lua cleanup in the victim, but unlike skynet, the requests it
        was serving fail with `call failed` instead of waiting forever. A victim that is
        running stops at once: its Lua is interrupted (again and again, by the monitor,
        until its worker comes back), then the worker closes it."""
        sched = self.scheduler
        with sched.lock:
            svc = self.handles.services.get(handle)
            if svc is None or svc.dead:
                return False
            self.logger.write(by, f"KILL {format_address(handle)}")
            self._retire(svc)
            running = svc.running is not None
            if running:
                svc.killed_running = True  # its worker fails what it was serving
            else:
                svc.holding += 1  # no worker may pick it up while it is read and closed
            launcher = self.handles.names.get(".launcher")
            if launcher is not None and launcher != handle:
                sched.enqueue(0, launcher, ptype_id("lua"), 0,
                              seri.pack(b"REMOVE", handle, True))
                sched.wake()
        if running:
            svc.interrupt(b"killed")
            self.monitor.killed(svc)
        else:
            self.fail_inflight(svc)
            self.reap(svc)
        return True

    def fail_inflight(self, svc: Service) -> None:
        """The requests a dead service was serving fail (it is not running)."""
        if isinstance(svc, LuaService) and svc.core is not None:
            try:
                inflight = svc.inflight()
            except Exception:  # noqa: BLE001 - a broken state answers nothing
                inflight = []
            for address, session in inflight:
                if (address, session) not in svc.failed:
                    svc.failed.add((address, session))
                    self.scheduler.push(svc.handle, address, PTYPE_ERROR, session, b"")

    def reap(self, svc: Service) -> None:
        """Close a dead service's state (where no worker runs it)."""
        if svc.killed_running:
            self.fail_inflight(svc)
        svc.close()

    def service_crashed(self, svc: Service, error: BaseException) -> None:
        text = str(error) or type(error).__name__
        self.logger.write(svc.handle, f"service error (the service keeps running): {text}")

    def interrupt(self, reason: bytes = b"interrupted") -> list[int]:
        """Stop the Lua every running service runs now (the notebook's stop button,
        Ctrl-C); returns the handles interrupted."""
        running = [*self.scheduler.running(), *self.trials]
        return [svc.handle for svc in running if svc.interrupt(reason)]

    def signal(self, handle: int, sig: int = 0) -> bool:
        """skynet's `signal ADDR [sig]`: 0 breaks the Lua the service runs now with the
        error `signal 0`; 1 logs its memory. A service not running is left alone."""
        svc = self.handles.services.get(handle)
        if svc is None or svc.dead:
            return False
        self.logger.write(handle, f"recv a signal {sig}")
        if sig == 0:
            svc.interrupt(b"signal 0")
        elif sig == 1:
            self.logger.write(handle, f"Current Memory {(svc.memory() or 0) / 1024:.3f}K")
        return True

    def _on_logger_message(self, source: int, ptype: int, session: int, msg: bytes) -> None:
        self.logger.write(source, msg)

    # --- Python clients ----------------------------------------------------------------

    def _client_service(self) -> PyService:
        if self._client is None or self._client.dead:
            client = PyService(self, self.handles.allocate(), "python", self._client_message)
            self.handles.register(client.handle, client)
            self._client = client
        return self._client

    def _client_message(self, source: int, ptype: int, session: int, msg: bytes) -> None:
        """On a worker: the futures belong to the loop, so the answer goes there."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_client_message, source, ptype, session, msg)

    @property
    def client_address(self) -> int:
        return self._client_service().handle

    def _on_client_message(self, source: int, ptype: int, session: int, msg: bytes) -> None:
        if ptype == PTYPE_RESPONSE or ptype == PTYPE_ERROR:
            if ptype == PTYPE_ERROR and session == 0:
                failed = [s for s, f in self._waiting.items() if getattr(f, "dest", None) == source]
            else:
                failed = [session]
            for s in failed:
                fut = self._waiting.pop(s, None)
                if fut is None or fut.done():
                    continue
                if ptype == PTYPE_RESPONSE:
                    fut.set_result(msg)
                else:
                    fut.set_exception(CallError(f"call failed ({format_address(source)})"))

    def resolve(self, address: int | str) -> int:
        handle = self.handles.resolve(address)
        if handle is None:
            names = ", ".join(sorted(self.handles.names)) or "none"
            raise CallError(f"no service at {address!r} (known names: {names})")
        return handle

    def send(self, address: int | str, ptype: int | str, *args: Any) -> None:
        handle = self.resolve(address)
        self.scheduler.push(self.client_address, handle, ptype_id(ptype), 0, seri.pack(*args))

    async def rawcall(self, address: int | str, ptype: int | str, msg: bytes) -> bytes:
        if not self.running:
            raise CallError("node is not running (aborted, shut down or not started)")
        handle = self.resolve(address)
        client = self._client_service()
        self._client_session += 1
        session = self._client_session
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        fut.dest = handle  # type: ignore[attr-defined]
        self._waiting[session] = fut
        if not self.scheduler.push(client.handle, handle, ptype_id(ptype), session, msg):
            self._waiting.pop(session, None)
            raise CallError(f"call to invalid address {format_address(handle)}")
        return await fut

    async def call(self, address: int | str, ptype: int | str, *args: Any) -> tuple[Any, ...]:
        """skynet.call from Python: packs args, waits for the reply, unpacks it."""
        return seri.unpack(await self.rawcall(address, ptype, seri.pack(*args)))

    async def newservice(self, name: str, *args: Any) -> int:
        (handle,) = await self.call(".launcher", "lua", "LAUNCH", "snlua", name, *args)
        return handle

    # --- looking at the node -----------------------------------------------------------

    def services(self) -> list[ServiceInfo]:
        out = []
        for handle in sorted(self.handles.services):
            svc = self.handles.services[handle]
            if svc.dead:
                continue
            chunks = getattr(svc, "chunks", {})
            out.append(ServiceInfo(
                handle=handle, address=format_address(handle), kind=svc.kind, name=svc.name,
                args=svc.args, names=self.handles.names_of(handle), mqlen=svc.mqlen(),
                messages=svc.messages, memory=svc.memory(), cpu=svc.cpu,
                generations={f: c.generation for f, c in chunks.items()},
            ))
        return out

    def service(self, address: int | str) -> Service:
        return self.handles.services[self.resolve(address)]


__all__ = ["RUNTIME_DIR", "CallError", "Node", "ServiceInfo"]

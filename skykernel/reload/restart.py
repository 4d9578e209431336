"""Service reload in place: a new Lua state from the service's (new) source, same address
and names, queued messages kept.

The new state is built and its start function run *before* anything changes: if the
source does not load or `skynet.start`'s function raises, the new state is thrown away
and the old one keeps running, nothing lost. Then, in one step with no await:
  - requests the old state was serving fail with `call failed` (or, with wait=True, the
    reload first waits until none is in flight);
  - the queue moves to the new state; the handle and its names now lead there;
  - the new state's sessions start after the old state's, and answers to the old
    state's sessions (its calls, its timers) are dropped quietly.
Carrying state over: the old state's `skynet.migrate(function() return data end)` is
called and its result (packed, so plain data) is what `skynet.restore(function(data)
... end)` receives in the new state, before or during its start function.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ..node import seri
from ..node.handle import format_address
from ..node.node import RUNTIME_DIR
from ..node.proto import PTYPE_ERROR, PTYPE_RESPONSE
from ..node.service import LuaService
from .patchlog import patchlog

#: How far the new state's sessions start beyond the old state's last one.
SESSION_GAP = 1000

_DROP_OLD = """
local skynet = require "skynet"
local base = ...
local prev
prev = skynet.dispatch_unknown_response(function(session, ...)
	if session <= base then
		return -- an answer to the old state of this service
	end
	return prev(session, ...)
end)
"""


class RestartError(Exception):
    """The service was not reloaded (the old state keeps running); says why."""


class ReloadedService(LuaService):
    """A LuaService whose state replaced another one at the same address."""

    __slots__ = ("trial", "trial_failed")

    def __init__(self, node, handle: int, args: str) -> None:
        super().__init__(node, handle, args)
        self.trial = True
        self.trial_failed: str | None = None

    def _command(self, cmd: bytes, *args: Any) -> Any:
        if cmd == b"NAME":
            name, handle = args
            if self.node.handles.names.get(name.decode()) == handle:
                return None  # the old state registered it already: same address
        if self.trial and cmd == b"EXIT":
            self.trial_failed = self.trial_failed or "the new state exited while starting"
            return None
        return super()._command(cmd, *args)

    def _log(self, text: bytes) -> None:
        if self.trial and text.startswith(b"init service failed: "):
            self.trial_failed = text.decode("utf-8", "replace").split("\n")[0]
        super()._log(text)


def _own_files(svc: LuaService) -> list[str]:
    runtime = str(RUNTIME_DIR)
    return [f for f in svc.chunks if not f.startswith(runtime)]


def _start(node, new: ReloadedService, base: int) -> list[Any]:
    """Boot the new state and run its start function; returns the frames it sent."""
    new.running = True  # an interrupt (the stop button) reaches its Lua
    try:
        return _run_start(node, new, base)
    finally:
        new.running = None
        new.after_run()


def _run_start(node, new: ReloadedService, base: int) -> list[Any]:
    ok, err, frames = new.boot()
    if not ok:
        raise RestartError(f"the new source does not start: {err}")
    new.core.session_base(base + SESSION_GAP)
    new.lua.globals().load(_DROP_OLD.encode())(base + SESSION_GAP)
    launcher = node.handles.names.get(".launcher")
    quiet = {seri.pack(b"LAUNCHOK"), seri.pack(b"ERROR")}
    sent: list[Any] = []
    pending = list(frames)
    rounds = 0
    while pending and rounds < 100:
        rounds += 1
        now, pending = pending, []
        for i in range(0, len(now), 4):
            dest, ptype, session, msg = now[i:i + 4]
            if dest == 0 and ptype <= 0:  # skynet.timeout(0): the start function
                out = new.deliver(node.scheduler.epoch, 0, PTYPE_RESPONSE, session, b"")
                if out:
                    pending.extend(out[1:])
            elif dest == launcher and msg in quiet:
                continue  # the launcher knows this address already
            else:
                sent.extend((dest, ptype, session, msg))
    if new.trial_failed:
        raise RestartError(f"the new source does not start: {new.trial_failed}")
    return sent


async def restart_service(node, address: int | str, *, wait: bool = False,
                          timeout: float = 5.0) -> dict[str, Any]:
    """Reload the service at `address` from its source on disk; returns what happened."""
    handle = node.resolve(address)
    old = node.handles.services[handle]
    if not isinstance(old, LuaService) or old.core is None:
        raise RestartError(f"{format_address(handle)} is not a running Lua service")
    if threading.current_thread().name.startswith("skykernel-worker"):
        raise RestartError("a service reload cannot run from inside a service")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await _hold(node, old, deadline)
    while wait and old.inflight():
        # the requests it serves need the service to run: let it, then hold again
        node.scheduler.release(old)
        if loop.time() > deadline:
            raise RestartError(f"requests still in flight after {timeout}s; nothing changed")
        await asyncio.sleep(0.002)
        if old.dead:
            raise RestartError(f"{format_address(handle)} exited while waiting")
        await _hold(node, old, deadline)
    try:
        return await _swap(node, handle, old)
    finally:
        node.scheduler.release(old)


async def _hold(node, svc: LuaService, deadline: float) -> None:
    """Keep workers off svc; wait for a batch it runs to end (bounded)."""
    loop = asyncio.get_running_loop()
    node.scheduler.hold(svc)
    while svc.running is not None:
        if loop.time() > deadline:
            node.scheduler.release(svc)
            raise RestartError(f"{format_address(svc.handle)} kept running (a loop?); "
                               "interrupt it first; nothing changed")
        await asyncio.sleep(0.002)
    if svc.dead:
        node.scheduler.release(svc)
        raise RestartError(f"{format_address(svc.handle)} exited")


async def _swap(node, handle: int, old: LuaService) -> dict[str, Any]:
    # the service's own files are read again (the code cache entry is refreshed)
    for filename in _own_files(old):
        node.codecache.current.chunks.pop(filename, None)
    # skynet.migrate loads on first use: a service that never called it carries nothing
    export = old.core.migrate_export
    try:
        carry = export() if export is not None else None
    except Exception as e:  # noqa: BLE001 - the old state's migrate function raised
        raise RestartError(f"skynet.migrate's function raised: {e}") from None
    new = ReloadedService(node, handle, old.args)
    new.carry = carry
    new.set_memlimit(old.memlimit)
    base = old.core.session_base(0)
    # the new state starts on another thread, so that a start function that loops can be
    # interrupted (it counts as running) while the kernel stays responsive
    node.trials.add(new)
    try:
        sent = await asyncio.get_running_loop().run_in_executor(None, _start, node, new, base)
    except RestartError:
        new.close()
        raise
    except Exception as e:  # noqa: BLE001
        new.close()
        raise RestartError(f"the new source does not start: {e}") from None
    finally:
        node.trials.discard(new)
    new.trial = False
    failed = old.inflight()
    # --- commit, in one step under the scheduler's lock
    sched = node.scheduler
    with sched.lock:
        for source, session in failed:
            sched.enqueue(handle, source, PTYPE_ERROR, session, b"")
        new.queue, new.qhead = old.queue, old.qhead
        queued = new.mqlen()  # counted now: a worker takes them as soon as this ends
        old.queue, old.qhead = [], 0
        new.messages, new.cpu, new.started = old.messages, old.cpu, old.started
        node.handles.register(handle, new)
        old.dead = True
        if new.mqlen():
            new.scheduled = True
            sched.runq.append(new)
        if sent:
            sched.route(handle, sent, 0)
        sched.wake()
    old.close()
    what = (f"{queued} queued kept, {len(failed)} in flight failed, "
            f"state {'carried' if carry is not None else 'not carried'}")
    node.logger.write(handle, f"service reloaded in place: {what}")
    files = _own_files(new)
    chunk = new.chunks.get(files[0]) if files else None
    patchlog(node).record("restart", format_address(handle), old.args,
                          chunk.digest if chunk else "-", what)
    return {"queued": queued, "failed": len(failed), "carried": carry is not None}

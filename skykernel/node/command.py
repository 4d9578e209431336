"""The bridge's node commands: what skynet.core's C functions ask of the node.

skynet keeps its command table (`skynet_command`'s list) beside the context it acts on;
here the table is `COMMANDS`, and each handler is registered where it is written with
`@command("NAME")`: the node's own below, `SOCKET` in node/net/bridge.py. A handler takes
the node, the calling service and the arguments the Lua side sent (bytes for strings).
The calling service's own commands (LOG, LOAD, FLUSH, THREAD, STOP) are methods of
`LuaService` (service.py): they act on the service, not on the node.

A handler runs on the calling service's worker thread while that service's Lua waits
for the answer: it must not touch the caller's Lua objects (its state is mid-coroutine),
and what it changes in the node it changes under the scheduler's lock or through the
node's own methods, which take it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import seri, shared

if TYPE_CHECKING:
    from .node import Node
    from .service import LuaService

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)

#: name -> handler(node, service, *args); filled by @command where each is written.
COMMANDS: dict[bytes, Handler] = {}


def command(name: str) -> Callable[[H], H]:
    """Register the decorated function as the node command `name`."""
    key = name.encode()

    def register(fn: H) -> H:
        if key in COMMANDS:
            raise ValueError(f"node command {name} is registered twice")
        COMMANDS[key] = fn
        return fn

    return register


def _handle(node: Node, target: Any) -> int | None:
    """An address as Lua sends it: a handle, or a name as bytes."""
    return target if isinstance(target, int) else node.handles.resolve(target.decode())


# --- names, time and the environment -------------------------------------------------------

@command("QUERY")
def query(node: Node, svc: LuaService, name: bytes) -> int | None:
    return node.handles.resolve(name.decode())


@command("NAME")
def name(node: Node, svc: LuaService, name: bytes, handle: int) -> None:
    node.handles.bind_name(name.decode(), handle)


@command("NOW")
def now(node: Node, svc: LuaService) -> int:
    return node.timer.now()


@command("HPC")
def hpc(node: Node, svc: LuaService) -> int:
    return time.perf_counter_ns()


@command("STARTTIME")
def starttime(node: Node, svc: LuaService) -> int:
    return node.timer.starttime


@command("THREADTIME")
def threadtime(node: Node, svc: LuaService) -> float:
    """CPU seconds of the calling worker thread: the clock skynet's `stat "time"` and
    skynet.profile read, and which a service can only read here (os.clock counts every
    thread of the process)."""
    return time.thread_time()


@command("GETENV")
def getenv(node: Node, svc: LuaService, key: bytes) -> bytes | None:
    value = node.env.get(key.decode())
    return None if value is None else value.encode()


@command("SETENV")
def setenv(node: Node, svc: LuaService, key: bytes, value: bytes) -> None:
    node.env.set(key.decode(), value.decode())


# --- services: launch, exit, kill, signal, abort ---------------------------------------

@command("LAUNCH")
def launch(node: Node, svc: LuaService, args: bytes) -> int:
    text = args.decode()
    return node.launch(text[6:] if text.startswith("snlua ") else text, wake=False)


@command("EXIT")
def exit_(node: Node, svc: LuaService) -> None:
    node.exit_service(svc)


@command("KILL")
def kill(node: Node, svc: LuaService, target: Any) -> bool:
    handle = _handle(node, target)
    # The Lua side forgets its alive cache itself: the caller's Lua is never touched here.
    return handle is not None and node.kill(handle, svc.handle)


@command("SIGNAL")
def signal(node: Node, svc: LuaService, target: Any, sig: int = 0) -> bool:
    handle = _handle(node, target)
    return handle is not None and node.signal(handle, int(sig))


@command("ABORT")
def abort(node: Node, svc: LuaService) -> None:
    node.logger.write(svc.handle, "abort")
    if svc.name == "bootstrap":
        node.exit_code = 1  # bootstrap aborts only when the node cannot start
    node.abort()


@command("MEMLIMIT")
def memlimit(node: Node, svc: LuaService, limit: int) -> None:
    svc.set_memlimit(limit)


@command("STAT")
def stat(node: Node, svc: LuaService, what: bytes) -> Any:
    w = what.decode()
    if w == "mqlen":
        return svc.mqlen()
    if w == "message":
        return svc.messages
    if w == "cpu" or w == "time":
        return svc.cpu
    if w == "endless":
        return 1 if svc.handle in node.monitor.endless else 0
    return 0


# --- the code cache and the debug console --------------------------------------------

@command("CODECACHE")
def codecache(node: Node, svc: LuaService, op: bytes) -> Any:
    if op == b"clear":
        return node.codecache.clear()
    return node.codecache.generation


@command("GENERATIONS")
def generations(node: Node, svc: LuaService, op: bytes) -> bytes:
    from . import generations as held  # what the cache holds, by generation: rarely asked

    return seri.pack(held.as_lua(node, op.decode()))


@command("CONSOLE")
def console(node: Node, svc: LuaService, op: bytes, *args: Any) -> Any:
    from . import console as listener  # the debug console's listener: only it asks

    return listener.command(node, svc, op.decode(), *args)


# --- data the node holds for every service ---------------------------------------------

@command("SPROTO")
def sproto(node: Node, svc: LuaService, op: bytes, index: int, bin: bytes | None = None
           ) -> bytes | None:
    """sprotoloader's slots. skynet keeps saved schemas in a C array every service reads;
    here each service is its own Lua state, so the node holds the bytes per slot and each
    service builds its own object from them."""
    slots = node.sproto_slots
    if op == b"SAVE":
        if bin is None:
            slots.pop(index, None)  # a schema that failed to load empties the slot
        else:
            slots[index] = bin
        return None
    return slots.get(index)


@command("STM")
def stm(node: Node, svc: LuaService, op: bytes, *args: Any) -> Any:
    """skynet.stm's objects, held here for every service (node/shared.py)."""
    return shared.of(node).stm_command(svc.handle, op.decode(), *args)


@command("SHARED")
def shared_(node: Node, svc: LuaService, op: bytes, *args: Any) -> Any:
    """Versions of sharetable and datasheet data, by id (node/shared.py)."""
    return shared.of(node).blob_command(svc.handle, op.decode(), *args)


@command("DEBUGCHANNEL")
def debugchannel(node: Node, svc: LuaService, op: bytes, *args: Any) -> Any:
    """The remote debugger's channel: typed lines in, printed text out (shared.py)."""
    return shared.of(node).channel_command(svc.handle, op.decode(), *args)


@command("DEBUGHOOK")
def debughook(node: Node, svc: LuaService, thread: Any, mask: bytes) -> bool:
    """The debugger's pausing line hook on one of the caller's own coroutines."""
    from . import debughook as hook  # ctypes over the Lua C API: loaded when first used

    return hook.set_hook(thread, mask.decode(), node.config.lua)


from .net import bridge as _net_bridge  # noqa: E402, F401 - registers SOCKET

__all__ = ["COMMANDS", "command"]

"""Stopping a service's running Lua from another thread (skynet's `signal`).

Lua documents `lua_sethook` as safe to call from another thread or a signal handler; it
is how `lua.c` stops a script on Ctrl-C, and skynet's `signal` command breaks a looping
service the same way. lupa's extension exports the Lua C API, so the node calls it with
ctypes (which drops the GIL for the call).

Hooks belong to one Lua thread (a coroutine), and the one running is not known from
outside. So every thread of a service registers itself when it starts (skynet/core.lua
wraps `coroutine.create` and `coroutine.wrap`), with its Lua hook set to STOP but
disarmed (an empty mask): that costs nothing while no one interrupts. To interrupt, the
node arms a count hook of 1 on every registered thread; the running one calls STOP at its
next instruction, STOP disarms them all, asks the node why (a stale arm, left over from
a run that ended, gets no answer) and raises that reason as a Lua error where the code
was. A loop in a C function (a pathological `string.find`) stops only when it returns.

The address of each thread comes from the lupa object the node holds for it, never from
what Lua says, and the node keeps that object (so the thread cannot be freed) for as long
as the address is armable: no Lua code can make the node arm memory that is not a live
thread of that service.
"""

from __future__ import annotations

import ctypes
import re
import threading
from typing import Any

from . import luastate

LUA_MASKCOUNT = 8

_ADDRESS = re.compile(r" at (0x[0-9a-fA-F]+)>$")


def thread_address(obj: Any) -> int | None:
    """The lua_State* of a Lua thread that lupa handed to Python, or None if obj is not
    a thread. lupa's repr shows `lua_topointer` of the value it references, which for a
    thread is its state (metamethods play no part)."""
    if luastate.lua_type(obj) != "thread":
        return None
    m = _ADDRESS.search(repr(obj))
    return int(m.group(1), 16) if m else None


class _CApi:
    """One Lua version's C API (from its lupa extension) and its debug library's hook.

    Each extension carries its own Lua core, so a thread of a 5.5 state must be armed
    through lupa.lua55's `lua_sethook` with lupa.lua55's hook function, never 5.4's."""

    def __init__(self, version: str) -> None:
        lib = ctypes.CDLL(luastate.extension_file(version))
        lib.lua_sethook.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                    ctypes.c_int]
        lib.lua_sethook.restype = None
        lib.lua_gethook.argtypes = [ctypes.c_void_p]
        lib.lua_gethook.restype = ctypes.c_void_p
        self.sethook = lib.lua_sethook
        self.gethook = lib.lua_gethook
        self.hook = self._debug_library_hook(version)

    def _debug_library_hook(self, version: str) -> int:
        """The debug library's C hook (it calls the thread's Lua hook): the same function
        for every state of this Lua build, read back from a throwaway state."""
        lua = luastate.new_state(version=version)
        main = lua.eval("(coroutine.running())")
        lua.execute("debug.sethook(function() end, 'l')")
        address = thread_address(main)
        assert address is not None
        hook = self.gethook(address)
        lua.execute("debug.sethook()")
        if not hook:
            raise RuntimeError(f"cannot find the Lua {version} debug library's hook function")
        return hook


_apis: dict[str, _CApi] = {}
_apis_lock = threading.Lock()


def c_api(version: str | None = None) -> _CApi:
    """The C API of `version` (None: the default), opened the first time it is needed."""
    version = luastate.check_version(version or luastate.default_version())
    with _apis_lock:
        api = _apis.get(version)
        if api is None:
            api = _apis[version] = _CApi(version)
    return api


#: Held while addresses are armed or while a service swaps its set of threads, so that a
#: thread is never armed after the node let go of it.
_lock = threading.Lock()


class Threads:
    """The Lua threads of one service that an interrupt can reach, and its stop request."""

    __slots__ = ("api", "live", "main", "limit", "stop", "armed")

    def __init__(self, version: str | None = None) -> None:
        self.api = c_api(version)
        self.live: dict[int, Any] = {}  # address -> lupa object keeping the thread alive
        self.main: tuple[int, Any] | None = None
        self.limit = 64  # refresh the set when it grows past this
        self.stop: tuple[int, bytes] | None = None  # (run generation, reason)
        self.armed = False

    def add(self, obj: Any) -> None:
        address = thread_address(obj)
        if address is None:
            return
        if self.main is None:
            self.main = (address, obj)
        else:
            self.live[address] = obj

    @property
    def crowded(self) -> bool:
        return len(self.live) > self.limit

    def swap_out(self) -> dict[int, Any]:
        """Forget every thread but the main one (the caller drops the returned objects
        where it may touch the state, then registers the ones still alive)."""
        with _lock:
            old, self.live = self.live, {}
        return old

    def arm(self, generation: int, reason: bytes) -> None:
        """Stop whatever Lua this service runs now, with `reason` as the error."""
        with _lock:
            self.stop = (generation, reason)
            self.armed = True
            sethook, hook = self.api.sethook, self.api.hook
            if self.main is not None:
                sethook(self.main[0], hook, LUA_MASKCOUNT, 1)
            for address in list(self.live):
                sethook(address, hook, LUA_MASKCOUNT, 1)

    def disarm(self) -> None:
        """After the run: no armed hook may fire in a later one (STOP would only ask and
        find nothing, but every instruction would pay for it)."""
        with _lock:
            if not self.armed:
                return
            self.armed = False
            self.stop = None
            sethook = self.api.sethook
            if self.main is not None:
                sethook(self.main[0], None, 0, 0)
            for address in list(self.live):
                sethook(address, None, 0, 0)

    def take_stop(self, generation: int) -> bytes | None:
        """STOP's question: the reason to stop this run, once; None for a stale arm."""
        with _lock:
            stop, self.stop = self.stop, None
        if stop is not None and stop[0] == generation:
            return stop[1]
        return None

    def clear(self) -> list[Any]:
        """Forget every thread (the state is closing); the caller drops what is returned
        where it may touch the state."""
        with _lock:
            old = [*self.live.values(), *([self.main[1]] if self.main else [])]
            self.live = {}
            self.main = None
            self.stop = None
            self.armed = False
        return old


__all__ = ["Threads", "c_api", "thread_address"]

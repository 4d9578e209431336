"""A Lua hook that can pause a coroutine: the single-step debugger's (skynet.remotedebug).

skynet's debugger stops a service's coroutine at a line by yielding from inside a line
hook, which Lua allows only to a hook written in C (`lua_yield` with no values, from a
line or count event). The debug library's hook calls a Lua function and cannot yield, so
the node installs this one instead, on the threads a service asks for
(`skynet.debugchannel.sethook`), through the same C API node/interrupt.py uses.

At each event it calls the function the service keeps at
`registry["skynet.debugchannel"]` with (event code, line) under `lua_pcall`, so that no
Lua error can unwind through this Python frame, and yields the coroutine when that
function returns true for a line event and the coroutine can yield here.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

from . import luastate
from .interrupt import thread_address

#: LUA_REGISTRYINDEX of each version's default build: 5.4 puts it below its largest
#: stack (-LUAI_MAXSTACK - 1000), 5.5 at -(INT_MAX/2 + 1000). The wrong one reads past the
#: stack: a crash, not an error.
LUA_REGISTRYINDEX = {"5.4": -1_000_000 - 1000, "5.5": -((2**31 - 1) // 2 + 1000)}
LUA_HOOKLINE = 2
_KEY = b"skynet.debugchannel"


def _open(path: str) -> Any:
    """The Lua C API of one lupa extension, typed for what the hook calls."""
    lib = ctypes.CDLL(path)
    lib.lua_sethook.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.lua_sethook.restype = None
    lib.lua_getfield.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p]
    lib.lua_getfield.restype = ctypes.c_int
    lib.lua_pushinteger.argtypes = [ctypes.c_void_p, ctypes.c_longlong]
    lib.lua_pushinteger.restype = None
    lib.lua_pcallk.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                               ctypes.c_void_p, ctypes.c_void_p]
    lib.lua_pcallk.restype = ctypes.c_int
    lib.lua_toboolean.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.lua_toboolean.restype = ctypes.c_int
    lib.lua_settop.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.lua_settop.restype = None
    lib.lua_isyieldable.argtypes = [ctypes.c_void_p]
    lib.lua_isyieldable.restype = ctypes.c_int
    lib.lua_yieldk.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    lib.lua_yieldk.restype = ctypes.c_int
    return lib


class _Debug(ctypes.Structure):
    """The head of lua_Debug, the same in Lua 5.4 and 5.5 (the hook reads two fields)."""

    _fields_ = [("event", ctypes.c_int), ("name", ctypes.c_char_p),
                ("namewhat", ctypes.c_char_p), ("what", ctypes.c_char_p),
                ("source", ctypes.c_char_p), ("srclen", ctypes.c_size_t),
                ("currentline", ctypes.c_int)]


_HOOKFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Debug))


def _make_hook(lib: Any, registry: int) -> Any:
    """The pausing hook for states of one Lua build (each extension has its own core)."""

    def hook(L: int, ar: Any) -> None:
        event = ar.contents.event
        lib.lua_getfield(L, registry, _KEY)
        lib.lua_pushinteger(L, event)
        lib.lua_pushinteger(L, ar.contents.currentline)
        status = lib.lua_pcallk(L, 2, 1, 0, None, None)
        pause = status == 0 and lib.lua_toboolean(L, -1)
        lib.lua_settop(L, -2)
        if pause and event == LUA_HOOKLINE and lib.lua_isyieldable(L):
            lib.lua_yieldk(L, 0, None, None)  # from a hook this returns; Lua yields after

    return _HOOKFUNC(hook)


#: extension file -> (its C API, the hook; kept for as long as Lua may call it)
_hooks: dict[str, tuple[Any, Any]] = {}
_hooks_lock = threading.Lock()


def _hook_for(version: str | None) -> tuple[Any, int]:
    version = luastate.check_version(version or luastate.default_version())
    path = luastate.extension_file(version)
    with _hooks_lock:
        entry = _hooks.get(path)
        if entry is None:
            lib = _open(path)
            entry = _hooks[path] = (lib, _make_hook(lib, LUA_REGISTRYINDEX[version]))
    lib, hook = entry
    return lib, ctypes.cast(hook, ctypes.c_void_p).value


_MASKS = {"c": 1, "r": 2, "l": 4}


def mask_bits(mask: str) -> int:
    bits = 0
    for ch in mask:
        bits |= _MASKS.get(ch, 0)
    return bits


def set_hook(thread: Any, mask: str, version: str | None = None) -> bool:
    """Install the pausing hook on a Lua thread a service handed over (the lupa object
    of a coroutine of its own; `version`: its Lua's); the service has already set its
    Lua-side hook with the same mask through debug.sethook, which keeps the thread's
    hook table in order."""
    address = thread_address(thread)
    if address is None:
        return False
    lib, hook = _hook_for(version)
    bits = mask_bits(mask)
    lib.lua_sethook(address, hook if bits else None, bits, 0)
    return True


__all__ = ["mask_bits", "set_hook"]

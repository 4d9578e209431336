"""Every Lua state skykernel builds, and the one rule they share: Python is out of reach.

A service (so a notebook cell, or a file injected through a console) runs untrusted Lua
inside the kernel's process. It may use Lua's own `os` and `io`, as in skynet: the
boundary is Python, not the operating system. What crosses into a state from Python is
plain data (numbers, strings, booleans, nil) and a few callables (the bridge), and lupa
wraps those callables as userdata that index into Python attributes by default: from a
bound method, `.__self__` reaches the service, the node, and `lua.__class__()` builds a
fresh LuaRuntime with `python.eval` in it. So every state gets an attribute filter that
refuses every attribute, read or write: a Python object in Lua can be called and
printed, nothing else. An error a Python callable raises reaches Lua as such an object
too (its `tostring` is the message); behind the filter it carries nothing further.
"""

from __future__ import annotations

from typing import Any

from lupa import lua54

LuaRuntime = lua54.LuaRuntime
LuaError = lua54.LuaError
LuaMemoryError = lua54.LuaMemoryError
lua_type = lua54.lua_type
#: The extension file whose Lua C API (lua_sethook, ...) node/interrupt.py calls.
EXTENSION_FILE = lua54.__file__


def _refuse(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not reachable from Lua")


def new_state(*, encoding: str | None = None, max_memory: int | None = None,
              unpack_returned_tuples: bool = True) -> Any:
    """A Lua state with no `python` module, no eval, and no Python attribute access."""
    options: dict[str, Any] = {}
    if max_memory is not None:
        options["max_memory"] = max_memory
    return LuaRuntime(
        encoding=encoding,
        register_eval=False,
        register_builtins=False,
        attribute_filter=_refuse,
        unpack_returned_tuples=unpack_returned_tuples,
        **options,
    )


__all__ = ["LuaError", "LuaMemoryError", "LuaRuntime", "lua_type", "new_state"]

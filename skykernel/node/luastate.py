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

Two Lua versions are on offer, as skynet has them: 5.4 (skynet 1.8) and 5.5 (skynet
master). A node picks one (the config key `lua`) and every state it builds is of that
version; one process may hold nodes of both. Each version is its own lupa extension,
imported by name (`lupa.lua54`, `lupa.lua55`): the bare `lupa.LuaRuntime` is whichever
version lupa thinks newest, and nothing here may depend on that. Neither extension is
ever made RTLD_GLOBAL: both export the same `lua_*` names, and once one of them is
global the other one's states call into the wrong Lua core and the process dies.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from lupa import lua54, lua55

from .luaversion import (
    DEFAULT_VERSION,
    VERSION_ENV,
    VERSIONS,
    LuaVersionError,
    check_version,
    default_version,
)

#: The lupa extension of each Lua version a node can run.
MODULES: dict[str, ModuleType] = {"5.4": lua54, "5.5": lua55}

# Each extension has its own exception classes: code that catches errors from a state
# of either version catches these tuples.
LuaError = (lua54.LuaError, lua55.LuaError)
LuaMemoryError = (lua54.LuaMemoryError, lua55.LuaMemoryError)


def module(version: str | None = None) -> ModuleType:
    """The lupa extension of `version` (None: the default version)."""
    return MODULES[check_version(version or default_version())]


def extension_file(version: str | None = None) -> str:
    """The extension file whose Lua C API (lua_sethook, ...) node/interrupt.py calls."""
    return module(version).__file__ or ""


def lua_type(obj: Any) -> str | None:
    """Lua's type name of a value lupa handed to Python, of either version; None for a
    plain Python value."""
    for m in (lua54, lua55):
        kind = m.lua_type(obj)
        if kind is not None:
            return kind
    return None


def _refuse(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not reachable from Lua")


def new_state(*, version: str | None = None, encoding: str | None = None,
              max_memory: int | None = None, unpack_returned_tuples: bool = True) -> Any:
    """A Lua state of `version` (None: the default version) with no `python` module,
    no eval, and no Python attribute access."""
    options: dict[str, Any] = {}
    if max_memory is not None:
        options["max_memory"] = max_memory
    return module(version).LuaRuntime(
        encoding=encoding,
        register_eval=False,
        register_builtins=False,
        attribute_filter=_refuse,
        unpack_returned_tuples=unpack_returned_tuples,
        **options,
    )


__all__ = ["DEFAULT_VERSION", "VERSIONS", "VERSION_ENV", "LuaError", "LuaMemoryError",
           "LuaVersionError", "check_version", "default_version", "extension_file",
           "lua_type", "module", "new_state"]

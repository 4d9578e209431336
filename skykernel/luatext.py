"""Lua text written from Python: string literals, long brackets, table constructors, and
skykernel's Lua modules inlined into a chunk.

Every Python place that writes Lua (cells for remote nodes, the views' probes, the reload
chunks) builds it here, so quoting follows one set of rules:

- `lua_string` is exact for any text or bytes (escapes, never long brackets: Lua turns a
  `\\r\\n` inside a long bracket into `\\n`);
- `long_string` keeps source text readable (a chunk written to a file for `inject`), with a
  bracket level the text never closes;
- `lua_literal` writes plain Python data as a Lua constructor.

`preload` carries Lua modules inside a chunk (`package.preload`), with the skykernel
modules they require, so the chunk runs on a node that lacks skykernel's Lua library: a
real skynet node reached through its debug console. This module imports nothing of the
node (no lupa): the views and the remote client use it too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

#: Inlined under a key of their own: a real node has modules of these names (skynet's own
#: `snax.hotfix`, `skynet.inject`), which must neither be replaced nor be mistaken for ours.
OWN_PREFIX = "skykernel."

_REQUIRE = re.compile(r"""require\s*\(?\s*["'](skykernel\.[\w.]+)["']""")


def lua_string(text: str | bytes) -> str:
    """A quoted Lua string literal, exact for any text: quote, backslash, control and
    non-ASCII bytes are escaped (`\\ddd`, always three digits)."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    out = ['"']
    for b in data:
        if b in (0x22, 0x5C):  # " and \
            out.append("\\" + chr(b))
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    out.append('"')
    return "".join(out)


def long_string(text: str) -> str:
    """A long-bracket literal `[==[\\n...]==]` for source text, readable as written.

    The level is the lowest the text never closes; the newline after the opening bracket
    is skipped by Lua, so the value is the text exactly (line ends normalised to `\\n`)."""
    level = 0
    while f"]{'=' * level}]" in text or text.endswith("]" + "=" * level):
        level += 1
    eq = "=" * level
    return f"[{eq}[\n{text}]{eq}]"


def lua_literal(value: Any) -> str:
    """A Lua expression for plain Python data: None, bool, int, float, str, bytes, list,
    tuple (sequences) and dict (keys and values plain data too)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value == -(2 ** 63):
            return "math.mininteger"  # the literal 9223372036854775808 would be a float
        if not -(2 ** 63) < value < 2 ** 63:
            raise ValueError(f"{value} does not fit a Lua integer")
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "(0/0)"
        if math.isinf(value):
            return "math.huge" if value > 0 else "(-math.huge)"
        return repr(value)
    if isinstance(value, str | bytes):
        return lua_string(value)
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        items = ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


# --- skykernel's Lua modules, inlined --------------------------------------------------


def runtime_lualib() -> Path:
    """runtime/lualib, in the wheel (beside the package) or in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "runtime" / "lualib", here.parent / "runtime" / "lualib"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("skykernel's runtime/lualib not found")


@cache
def module_source(name: str) -> str:
    """The source of the runtime's Lua module `name` (`skykernel.pretty`, `snax.hotfix`)."""
    return (runtime_lualib() / Path(*name.split("."))).with_suffix(".lua").read_text()


def inline_key(name: str) -> str:
    """The `require` name of module `name` when it rides inside a chunk."""
    return name if name.startswith(OWN_PREFIX) else OWN_PREFIX + name


def require(name: str, *, inline: bool) -> str:
    """A Lua `require` expression for module `name`, inlined or the node's own."""
    return f"require({lua_string(inline_key(name) if inline else name)})"


def _with_dependencies(names: Iterable[str]) -> list[str]:
    """names and the skykernel modules they require, dependencies first."""
    ordered: list[str] = []

    def add(name: str, path: tuple[str, ...]) -> None:
        if name in ordered or name in path:
            return
        for dep in _REQUIRE.findall(module_source(name)):
            add(dep, (*path, name))
        ordered.append(name)

    for name in names:
        add(name, ())
    return ordered


def preload(names: Iterable[str]) -> str:
    """Lua lines that make `require(inline_key(name))` work for each module (and the
    skykernel modules it requires) without the node's own copy: each module is compiled
    from its source text the first time it is required. A module already loaded under
    that key (an earlier chunk, or the node's own skykernel library) is left as it is."""
    lines = []
    for name in _with_dependencies(names):
        key = lua_string(inline_key(name))
        chunkname = lua_string("=" + name.replace(".", "/") + ".lua")
        lines.append(
            f"if not package.loaded[{key}] then package.preload[{key}] = "
            f"assert(load({lua_string(module_source(name))}, {chunkname})) end")
    return "\n".join(lines) + "\n" if lines else ""


# --- reading Lua's tracebacks ----------------------------------------------------------

# Frames that belong to the runtime or to the machinery that ran the chunk, not to the
# user's code.
_RUNTIME_FRAME = re.compile(
    r"runtime/lualib/(skynet|skykernel|loader)|^\s*\[C\]: in (\w+ '(pcall|error)'|\?)"
    r"|^\s*\(\.\.\.tail calls\.\.\.\)"
)
#: Lua 5.4 says `in function 'xpcall'`, 5.5 `in upvalue 'xpcall'` (how it was reached).
_XPCALL = re.compile(r"^\s*\[C\]: in \w+ 'xpcall'")


def clean_traceback(text: str) -> list[str]:
    """A Lua error with its traceback, as lines, without the frames of the runtime and of
    the machinery that ran the chunk: everything from the outermost `xpcall` (the one
    that called the chunk) on, and the runtime's own frames within."""
    lines = text.splitlines()
    cut = max((i for i, ln in enumerate(lines) if _XPCALL.search(ln)), default=None)
    if cut is not None:
        lines = lines[:cut]
    # the message stays, even when the runtime raised it (`skynet.lua:447: call failed`)
    kept = [ln for i, ln in enumerate(lines) if i == 0 or not _RUNTIME_FRAME.search(ln)]
    while kept and kept[-1].strip() == "stack traceback:":
        kept.pop()
    return kept


__all__ = ["clean_traceback", "inline_key", "long_string", "lua_literal", "lua_string",
           "module_source", "preload", "require", "runtime_lualib"]

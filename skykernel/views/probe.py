"""Introspection chunks: the Lua text a view injects, and its JSON reply as plain data.

A chunk loads `skykernel.<kind>` and prints one line of JSON (`skykernel.json`). With
`inline=True` the module sources ride inside the chunk (`package.preload`), so the same
chunk works on a node that does not carry skykernel's Lua library, e.g. a real skynet
node reached through its debug console's `inject`. The chunk prints and returns
nothing, so it suits `inject(..., returns=False)` and the console alike.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

#: The Lua modules each kind of chunk needs (all self-contained: standard Lua + debug).
MODULES: dict[str, tuple[str, ...]] = {
    "upvalues": ("skykernel.json", "skykernel.upvalues"),
    "protocols": ("skykernel.json", "skykernel.protocols"),
}

DEFAULT_ROOT = "{_U = _U, _P = _P}"


class ProbeError(Exception):
    """The chunk did not compile, raised an error, or printed no JSON."""


def _lualib() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "runtime" / "lualib", here.parent / "runtime" / "lualib"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("skykernel's runtime/lualib not found")


@cache
def module_source(name: str) -> str:
    return (_lualib() / Path(*name.split("."))).with_suffix(".lua").read_text()


def lua_string(s: str) -> str:
    """A Lua string literal for any text (control and non-ASCII bytes as \\ddd)."""
    out = ['"']
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\{b:03d}")
    out.append('"')
    return "".join(out)


def lua_literal(value: Any) -> str:
    """A Lua constructor for plain Python data (None, bool, int, float, str, list, dict)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else "0/0"
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, list | tuple):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        items = ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def _preload(names: tuple[str, ...]) -> str:
    lines = []
    for name in names:
        src = module_source(name)
        chunkname = "=" + name.replace(".", "/") + ".lua"
        lines.append(
            f"if not package.loaded[{lua_string(name)}] then "
            f"package.preload[{lua_string(name)}] = assert(load({lua_string(src)}, "
            f"{lua_string(chunkname)})) end"
        )
    return "\n".join(lines) + "\n"


def introspection_chunk(kind: str, *, inline: bool = False, **params: Any) -> str:
    """The Lua chunk that prints the JSON of one introspection.

    kind "upvalues": params root (a Lua expression, default `{_U = _U, _P = _P}`), path
    (list of steps from a previous reply), offset, limit, label.
    kind "protocols": params limit (handlers per table).
    """
    if kind not in MODULES:
        raise ValueError(f"unknown introspection {kind!r}; kinds: {', '.join(MODULES)}")
    head = _preload(MODULES[kind]) if inline else ""
    if kind == "upvalues":
        root = params.get("root") or DEFAULT_ROOT
        opts = {k: params[k] for k in ("offset", "limit", "label") if params.get(k) is not None}
        body = (
            "local json = require 'skykernel.json'\n"
            "local up = require 'skykernel.upvalues'\n"
            f"local root = ({root})\n"
            f"print(json.encode(up.probe(root, {lua_literal(list(params.get('path') or []))}, "
            f"{lua_literal(opts)})))\n"
        )
    else:
        opts = {"limit": params["limit"]} if params.get("limit") else {}
        body = (
            "local json = require 'skykernel.json'\n"
            "local pr = require 'skykernel.protocols'\n"
            f"print(json.encode(pr.chains(_U, {lua_literal(opts)})))\n"
        )
    return "do\n" + head + body + "end\n"


def parse_reply(output: str) -> dict[str, Any]:
    """The JSON a chunk printed (its last line that parses)."""
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise ProbeError(output.strip() or "the probe printed nothing")


#: Runs a chunk in the target and returns what it printed (raising ProbeError on errors).
Runner = Callable[[str], Awaitable[str]]


def node_runner(node: Any, address: int, session: str | None = None) -> Runner:
    """A Runner for an in-process node: `inject(node, address, chunk, returns=False)`."""
    from ..node.inject import inject

    async def run(chunk: str) -> str:
        r = await inject(node, address, chunk, session=session, returns=False,
                         filename="probe")
        if not r.ok:
            raise ProbeError(r.error or r.output or "probe failed")
        return r.output

    return run


async def probe(run: Runner, kind: str, **params: Any) -> dict[str, Any]:
    """Run one introspection and return its data."""
    return parse_reply(await run(introspection_chunk(kind, **params)))


__all__ = ["DEFAULT_ROOT", "ProbeError", "Runner", "introspection_chunk", "lua_literal",
           "lua_string", "node_runner", "parse_reply", "probe"]

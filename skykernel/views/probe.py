"""Introspection chunks: the Lua text a view injects, and its JSON reply as plain data.

A chunk loads `skykernel.<kind>` and prints one line of JSON (`skykernel.json`). With
`inline=True` the module sources ride inside the chunk (`skykernel.luatext.preload`), so
the same chunk works on a node that does not carry skykernel's Lua library, e.g. a real
skynet node reached through its debug console's `inject`. The chunk prints and returns
nothing. Views get a `Runner` (chunk -> what it printed) from the kernel's target, the
same for the in-process node and a remote one.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from ..luatext import lua_literal, lua_string, preload

#: The Lua modules each kind of chunk needs (all self-contained: standard Lua + debug).
MODULES: dict[str, tuple[str, ...]] = {
    "upvalues": ("skykernel.json", "skykernel.upvalues"),
    "protocols": ("skykernel.json", "skykernel.protocols"),
}

DEFAULT_ROOT = "{_U = _U, _P = _P}"


class ProbeError(Exception):
    """The chunk did not compile, raised an error, or printed no JSON."""


def introspection_chunk(kind: str, *, inline: bool = False, **params: Any) -> str:
    """The Lua chunk that prints the JSON of one introspection.

    kind "upvalues": params root (a Lua expression, default `{_U = _U, _P = _P}`), path
    (list of steps from a previous reply), offset, limit, label; `focus` (at the root:
    where the service's own code is, its nodes opened); or `paths` (a list of paths: the
    reply is `{"nodes": [...]}`, one node each, sharing one search for "shared with").
    kind "protocols": params limit (handlers per table).
    """
    if kind not in MODULES:
        raise ValueError(f"unknown introspection {kind!r}; kinds: {', '.join(MODULES)}")
    head = preload(MODULES[kind]) if inline else ""
    if kind == "upvalues":
        root = params.get("root") or DEFAULT_ROOT
        opts = {k: params[k] for k in ("offset", "limit", "label", "focus")
                if params.get(k) is not None}
        if params.get("paths") is not None:
            paths = lua_literal([list(p) for p in params["paths"]])
            call = f"{{nodes = up.probe_many(root, {paths}, {lua_literal(opts)})}}"
        else:
            path = lua_literal(list(params.get("path") or []))
            call = f"up.probe(root, {path}, {lua_literal(opts)})"
        body = (
            "local json = require 'skykernel.json'\n"
            "local up = require 'skykernel.upvalues'\n"
            f"local root = ({root})\n"
            f"print(json.encode({call}))\n"
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

"""Magics that show views: %upvalues, %protocols, %services, %codecache, %probe.

The data comes from Lua introspection run in the target through its views Runner
(skykernel.views.probe), the same for the in-process node and a remote one; only what
the in-process node alone keeps (code-cache generations, live rows) uses it directly.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..luatext import lua_string
from ..remote import parse
from ..views.probe import ProbeError, probe
from .registry import Context, MagicError, line_magic
from .target import Target, TargetError
from .target_remote import CODECACHE_NOTE

if TYPE_CHECKING:
    from ..views.common import Paths
    from ..views.tree import Tree, TreeMemory


@dataclass
class ViewState:
    """What the views of one kernel remember between cells."""

    #: per (node, service, root): what the last explorer saw, to mark changes
    memories: dict[tuple[str, str, str], TreeMemory] = field(default_factory=dict)
    #: the code cache's size at each generation / purge, for the timeline
    cache_history: list[tuple[str, int]] = field(default_factory=list)


async def _service_and_rest(ctx: Context, rest: str) -> tuple[Target, str]:
    """An optional leading address (bare or NODE:ADDR), then the rest."""
    first, _, tail = rest.strip().partition(" ")
    looks_like_address = first and (
        first[0] in ":." or re.fullmatch(r"[0-9a-fA-F]+", first)
        or re.fullmatch(r"[\w-]+:\S+", first))
    if looks_like_address:
        try:
            return await ctx.targets.find(first, near=ctx.target), tail.strip()
        except TargetError:
            if first[0] in ":." or ":" in first:
                raise
    return ctx.target, rest.strip()


# --- %upvalues ---------------------------------------------------------------------------


def paths_of(target: Target) -> Paths:
    """How the view writes file names: for the in-process node, relative to the notebook's
    folder (the node's) and the runtime's as `runtime/...`; a remote node's as it says."""
    from ..views.common import Paths

    if target.node_here is None:
        return Paths()
    from ..luatext import runtime_lualib

    return Paths(notebook=os.getcwd(), runtime=runtime_lualib().parent)


def _tree_args(ctx: Context, target: Target, expr: str) -> dict[str, Any]:
    """What an upvalue tree over `expr` (default: the service's _U and _P) needs."""
    run = target.runner(target.address)

    async def fetch(path: tuple[str, ...], offset: int, limit: int, *,
                    focus: bool = False) -> dict[str, Any]:
        return await probe(run, "upvalues", inline=target.inline, root=expr or None,
                           path=list(path), offset=offset, limit=limit, label=expr,
                           focus=focus or None)

    async def fetch_many(paths: list[tuple[str, ...]]) -> list[dict[str, Any]]:
        data = await probe(run, "upvalues", inline=target.inline, root=expr or None,
                           paths=[list(p) for p in paths], label=expr)
        return data.get("nodes") or []

    from ..views.tree import TreeMemory

    key = (target.node_name, target.label(), expr)
    memory = ctx.state(ViewState).memories.setdefault(key, TreeMemory())
    return {"fetch": fetch, "fetch_many": fetch_many, "memory": memory,
            "title": f"{target.label()} {expr or '_U, _P'}", "focus": not expr,
            "paths": paths_of(target)}


def tree(ctx: Context, target: Target, expr: str = "") -> Tree:
    # Widget modules load on first use: importing ipywidgets costs a fresh kernel
    # about 150 ms before its first reply.
    from ..views.tree import Tree

    return Tree(**_tree_args(ctx, target, expr))


@line_magic
async def upvalues(ctx: Context, rest: str) -> None:
    """%upvalues [ADDR] [EXPR] [-d N]  explore upvalues (default _U and _P), lazily

    Without EXPR the view opens onto the service's own code: its handler tables (as
    `_P.lua.CMD`), each handler open on its upvalues (the service's state), with skynet's
    internals folded below. EXPR is Lua evaluated in the service (the session's globals
    too); -d opens N levels."""
    depth = 1
    m = re.search(r"(?:^|\s)-d\s*(\d+)\s*$", rest)
    if m:
        depth = min(int(m.group(1)), 4)
        rest = rest[: m.start()]
    target, expr = await _service_and_rest(ctx, rest)
    from .completion import upvalue_homes_note

    note = await upvalue_homes_note(target, expr)  # a bare name that only an upvalue has
    if note is not None:
        ctx.out.print(note)
        return
    explored = tree(ctx, target, expr)
    try:
        await explored.populate(depth)
    except (ProbeError, TargetError) as e:
        raise MagicError(f"%upvalues {target.label()}: {e}") from None
    from ..views.tree import UpvalueExplorer

    ctx.out.display(UpvalueExplorer(tree=explored))


# --- %protocols --------------------------------------------------------------------------


@line_magic
async def protocols(ctx: Context, rest: str) -> None:
    """%protocols [ADDR]          protocol dispatch chains down to each handler

    A real node keeps no code-cache generations: its handlers carry no generation."""
    target, _ = await _service_and_rest(ctx, rest)
    run = target.runner(target.address)

    async def fetch() -> tuple[dict[str, Any], dict[str, int]]:
        data = await probe(run, "protocols", inline=target.inline)
        node = target.node_here
        svc = node.handles.services.get(target.address) if node is not None else None
        chunks = getattr(svc, "chunks", {}) if svc is not None else {}
        return data, {f: c.generation for f, c in chunks.items()}

    from ..views.chain import ProtocolChainView

    try:
        first = await fetch()
    except (ProbeError, TargetError) as e:
        raise MagicError(f"%protocols {target.label()}: {e}") from None
    ctx.out.display(ProtocolChainView(fetch, title=target.label(), paths=paths_of(target),
                                      first=first))


@line_magic
async def probe_(ctx: Context, rest: str) -> None:
    """%probe upvalues|protocols [ADDR]  the raw data of an introspection, as JSON"""
    words = rest.split()
    if not words:
        raise probe_.magic.usage_error()
    kind = words[0]
    target = await ctx.targets.find(words[1], near=ctx.target) if len(words) > 1 else ctx.target
    if kind == "codecache" and target.node_here is None:
        ctx.out.print(f"{target.node_name}: "
                      + CODECACHE_NOTE.replace("NODE", target.node_name))
        return
    try:
        data = await probe(target.runner(target.address), kind, inline=target.inline)
    except ValueError as e:
        raise MagicError(str(e)) from None
    ctx.out.data({"application/json": data,
                  "text/plain": json.dumps(data, indent=1, sort_keys=True)})


# --- %services ---------------------------------------------------------------------------


@line_magic
async def services(ctx: Context, rest: str) -> None:
    """%services [NODE]           the services of the target's node (or NODE)

    The in-process node's is a live table (use / explore buttons); a remote node's joins
    its console's `list`, `mem` and `stat`."""
    target = await ctx.targets.node(rest, ctx.target)
    node = target.node_here
    if node is None:
        table = await target.services()
        remote = getattr(target, "node", None)
        where = f"{target.node_name} ({remote.address})" if remote is not None else ""
        ctx.out.print(f"{where}\n" + parse.format_table(table.header, table.rows))
        for note in table.notes:  # streams of their own: the table's may be cut for length
            ctx.out.print(note)
        return
    from ..views.services import ServicesView

    paths = paths_of(ctx.target)
    # the row marked as where cells run: the target now, then what `use` chose
    marked = {"handle": ctx.target.address if ctx.target.node_here is node else None}

    def use(handle: int) -> str:
        chosen = ctx.targets.local_target(handle)
        ctx.targets.use(chosen)
        marked["handle"] = handle
        svc = node.handles.services[handle]
        return f"cells now run in {chosen.label()} ({svc.args})"

    async def explore(handle: int) -> Tree:
        explored = tree(ctx, ctx.targets.local_target(handle))
        await explored.populate(1)
        return explored

    def rows() -> list[dict[str, Any]]:
        return service_rows(node, paths, marked["handle"])

    ctx.out.display(ServicesView(rows, use, explore))


#: What the node's Python services are, for a reader who meets them in the table.
PYTHON_SERVICES = {
    "logger": "the node's logger: skynet.error lines go to it",
    "harbor": "a single node's harbor: no other nodes to reach",
    "python": "the kernel's own client of the node: cells and views reach services "
              "as its messages",
}


def service_rows(node: Any, paths: Paths, current: Any = None) -> list[dict[str, Any]]:
    """The %services table as plain rows: every service named by its launch arguments
    (`snaxd sbank`), the numbers, the names it registered, then the file its code came
    from (a snax service's own file, not snaxd's), relative to the notebook."""
    rows = []
    for s in node.services():
        words = s.args.split()
        lua = s.kind != "python"
        # a snax service's code is its own file; snaxd is skynet's runner for it
        wanted = [w for w in (words[1:2] if s.name == "snaxd" else []) + [s.name] if w]
        main = next((f for w in wanted for f in s.generations
                     if f.endswith((f"/{w}.lua", f"/{w}/init.lua"))), "")
        rows.append({
            "handle": s.handle, "address": s.address, "lua": lua,
            "name": s.args or s.name, "registered": " ".join(s.names),
            "note": "" if lua else PYTHON_SERVICES.get(s.name, "a service written in Python"),
            "mqlen": s.mqlen, "messages": s.messages,
            "memory": f"{s.memory / 1024:.1f} KB" if s.memory else "",
            "gen": s.generations.get(main, "") if main else "",
            "file": paths(main), "file_full": main, "current": s.handle == current,
        })
    return rows


# --- %codecache --------------------------------------------------------------------------


def _sample(ctx: Context, node: Any, label: str | None = None) -> None:
    cache = node.codecache
    total = sum(g.bytes for g in cache.generations.values())
    label = label or f"g{cache.generation}"
    history = ctx.state(ViewState).cache_history
    if not history or history[-1] != (label, total):
        history.append((label, total))


def _purge(ctx: Context, node: Any) -> str:
    from ..node.generations import purge
    from ..node.handle import format_address

    r = purge(node)
    _sample(ctx, node, "purge")
    if r.freed:
        text = (f"purged generation{'s' if len(r.freed) > 1 else ''} "
                f"{', '.join(map(str, r.freed))}: {r.freed_bytes} bytes freed")
    else:
        text = "nothing to purge: 0 bytes freed"
    if r.pinned:
        kept = "; ".join(f"{g} (pinned by {' '.join(format_address(h) for h in hs)})"
                         for g, hs in sorted(r.pinned.items()))
        text += f"; kept {kept}"
    return text


def _clear(ctx: Context, node: Any) -> str:
    number = node.codecache.clear()
    _sample(ctx, node, f"clear g{number}")
    return f"code cache cleared: generation {number} starts"


def _snapshot(ctx: Context, node: Any) -> dict[str, Any]:
    from ..node.generations import list_generations
    from ..node.handle import format_address

    _sample(ctx, node)
    gens = [{"generation": g.number, "current": g.current, "bytes": g.bytes,
             "files": [{"filename": f.filename, "bytes": f.bytes} for f in g.files],
             "services": [format_address(h) for h in g.services]}
            for g in list_generations(node)]
    return {"generations": gens, "history": list(ctx.state(ViewState).cache_history)}


@line_magic
async def codecache(ctx: Context, rest: str) -> Any:
    """%codecache [mode X|clear|purge|text]  the code cache's generations, as a view

    `text` shows them as a table; `mode X` sets the target's cache mode
    (skynet.codecache.mode); `clear` starts a new generation; `purge` frees old
    generations no live service holds. A real node keeps no generations, and this says
    so."""
    words = rest.split()
    node = ctx.target.node_here
    if node is None:
        name = ctx.target.node_name
        ctx.out.print(f"{name}: {CODECACHE_NOTE.replace('NODE', name)}")
        return None
    if words[:1] == ["mode"]:
        mode = words[1].upper() if len(words) > 1 else ""
        arg = lua_string(mode) if mode else ""
        return ctx.out.lua(await ctx.target.run_cell(
            f"return require('skynet.codecache').mode({arg})"))
    if words[:1] == ["purge"]:
        ctx.out.print(_purge(ctx, node))
    elif words[:1] == ["clear"]:
        ctx.out.print(_clear(ctx, node))
    elif words == ["text"]:
        rows = [("generation", "files", "bytes")]
        for number, gen in sorted(node.codecache.generations.items()):
            rows.append((str(number), str(len(gen.chunks)), str(gen.bytes)))
        ctx.out.print(parse.format_table(list(rows[0]), [list(r) for r in rows[1:]]))
    elif words:
        raise codecache.magic.usage_error(f"no subcommand {words[0]!r}")
    else:
        from ..views.codecache import GenerationsView

        ctx.out.display(GenerationsView(lambda: _snapshot(ctx, node),
                                        lambda: _purge(ctx, node), lambda: _clear(ctx, node),
                                        paths=paths_of(ctx.target)))
    return None

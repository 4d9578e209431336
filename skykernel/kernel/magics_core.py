"""The everyday magics: where cells run, services, messages, the console, files, Python.

Wherever a magic takes an address, `:0000000b`, `.name` and bare hex all work, and
`NODE:ADDR` names a service of an attached node (skykernel/kernel/targets.py).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import re
import shlex
import textwrap
import traceback
from pathlib import Path
from typing import Any

from ..luatext import lua_string
from ..remote import parse
from .output import Reply
from .registry import Context, MagicError, cell_magic, line_magic
from .target import Target


def _usage(func: Any, why: str = "") -> MagicError:
    return func.magic.usage_error(why)


# --- where cells run ---------------------------------------------------------------------


@line_magic
async def use(ctx: Context, rest: str) -> None:
    """%use ADDR|.name|NODE:ADDR  run the next cells in this service

    A bare address names a service of the in-process node (so `%use .notebook` always
    comes back), NODE:ADDR one of a node attached with %connect (checked with `ping`)."""
    if not rest:
        raise _usage(use)
    target = await ctx.targets.find(rest, near=None)
    ctx.targets.use(target)
    ctx.out.print(f"cells now run in {target.label()} ({await target.about()})")


@cell_magic
async def inject(ctx: Context, rest: str, body: str) -> Reply | None:
    """%%inject ADDR|NODE:ADDR  run this one cell in another service

    Addresses as for %use: the cell is injected there, then cells run where they ran."""
    if not rest:
        raise _usage(inject)
    target = await ctx.targets.find(rest, near=None)
    return ctx.out.lua(await target.run_cell(body))


# --- services ----------------------------------------------------------------------------


@line_magic
async def newservice(ctx: Context, rest: str) -> None:
    """%newservice NAME [args]    start a service on the target's node (skynet.newservice)

    Remotely it is the console's `start`: the node finds NAME on its own service path."""
    args = shlex.split(rest)
    if not args:
        raise _usage(newservice)
    ctx.out.print(f"{await ctx.target.newservice(args)} {args[0]}")


@line_magic
async def kill(ctx: Context, rest: str) -> None:
    """%kill ADDR                 kill a service (skynet.kill)"""
    if not rest.strip():
        raise _usage(kill)
    target = await ctx.targets.find(rest, near=ctx.target)
    await target.kill(target.address)
    ctx.out.print(f"killed {target.label()}")


@line_magic
async def exit_(ctx: Context, rest: str) -> None:
    """%exit [ADDR]               make a service exit (debug EXIT; default: the target)"""
    target = await ctx.targets.find(rest, near=ctx.target) if rest.strip() else ctx.target
    await target.exit(target.address)


def _lua_address(dest: Target) -> str:
    """The destination as a Lua expression for skynet.send / skynet.call in its node."""
    address = dest.address
    if isinstance(address, int):
        return str(address)
    if address[:1] in ":." or not re.fullmatch(r"[0-9a-fA-F]+", address):
        return lua_string(address)  # skynet resolves `:hex`, `.name` and global names
    # bare hex is a handle of the node's own harbor, as the console reads it
    return f"(require('skynet').harbor(require('skynet').self()) << 24 | 0x{address})"


async def _from_target(ctx: Context, verb: str, rest: str) -> Reply | None:
    magic = call if verb == "call" else send
    parts = rest.split(None, 2)
    if len(parts) < 2:
        raise _usage(magic)
    dest = await ctx.targets.find(parts[0], near=ctx.target)
    if dest.node_name != ctx.target.node_name:
        raise MagicError(
            f"%{verb} runs from the target ({ctx.target.label()}), and {parts[0]} is on "
            f"node {dest.node_name}: %use a service there first"
            + (f", or `%console {dest.node_name} call ADDR ...`" if verb == "call" else ""))
    args = f", {parts[2]}" if len(parts) > 2 else ""
    verb_line = "return " if verb == "call" else ""
    src = (f"local skynet = require 'skynet'\n"
           f"{verb_line}skynet.{verb}({_lua_address(dest)}, {lua_string(parts[1])}{args})")
    return ctx.out.lua(await ctx.target.run_cell(src))


@line_magic
async def send(ctx: Context, rest: str) -> Reply | None:
    """%send ADDR PROTO args...   skynet.send from the target; args are Lua

    ADDR is a service of the target's node (a name, `:0000000b`, bare hex)."""
    return await _from_target(ctx, "send", rest)


@line_magic
async def call(ctx: Context, rest: str) -> Reply | None:
    """%call ADDR PROTO args...   skynet.call from the target; shows the reply

    ADDR is a service of the target's node (a name, `:0000000b`, bare hex)."""
    return await _from_target(ctx, "call", rest)


@line_magic
async def log(ctx: Context, rest: str) -> None:
    """%log [N]                   the last N log lines of the target's node (default 20)"""
    n = int(rest) if rest.strip().isdigit() else 20
    ctx.out.print(await ctx.target.log(n))


@line_magic
async def console(ctx: Context, rest: str) -> Reply | None:
    """%console [NODE] CMD...     a debug-console command (the target's node, or NODE)

    Tabular answers (`list`, `mem`, `stat`, `service`, any `key<TAB>k:v...`) are shown as
    tables; `<CMD Error>` is an error reply. NODE is `local` or an attached node's name."""
    first, _, cmd = rest.strip().partition(" ")
    if first in ctx.targets.names():
        if not cmd.strip():
            raise _usage(console, f"%console {first} needs a command (try help)")
        target = await ctx.targets.node(first, ctx.target)
    else:
        target, cmd = ctx.target, rest.strip()
    if not cmd.strip():
        raise _usage(console)
    answer = await target.console(cmd.strip())
    if not answer.ok:
        text = answer.text
        if text:
            ctx.out.warn(text)
        return ctx.out.error("ConsoleError", text.split("\n")[0] if text else "error",
                             [f"ConsoleError: {text or 'error'}"])
    shaped = parse.table(cmd, answer.lines)
    if shaped is not None:
        ctx.out.print(parse.format_table(*shaped))
        if answer.note:  # a stream of its own: the table's may be cut for length
            ctx.out.print(answer.note)
    elif answer.lines:
        ctx.out.print(answer.text)  # the note stands where the lines were cut
    return None


# --- files and the in-process node ------------------------------------------------------


def _save(folder: str, name: str, body: str, magic: Any) -> Path:
    if not re.fullmatch(r"[A-Za-z_][\w.]*", name or ""):
        raise _usage(magic, "a Lua name, dots for folders")
    path = Path(folder, *name.split(".")).with_suffix(".lua")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if body.endswith("\n") else body + "\n")
    return path


@cell_magic
async def service(ctx: Context, rest: str, body: str) -> None:
    """%%service NAME             save the cell as service/NAME.lua (beside the notebook)"""
    path = _save("service", rest, body, service)
    ctx.out.print(f"saved {path}; start it with %newservice {rest}")


@cell_magic
async def module(ctx: Context, rest: str, body: str) -> None:
    """%%module NAME              save the cell as lualib/NAME.lua (beside the notebook)"""
    path = _save("lualib", rest, body, module)
    ctx.out.print(f"saved {path}; require \"{rest}\" loads it")


@line_magic
async def boot(ctx: Context, rest: str) -> None:
    """%boot [CONFIG]             reboot the in-process node (from a skynet config file)

    Cells then run in its start service, whichever node they ran on before."""
    target = await ctx.targets.boot(rest or None)
    ctx.out.print(f"node booted; cells run in {target.label()}")


@cell_magic
async def python(ctx: Context, rest: str, body: str) -> Reply | None:
    """%%python                   run the cell as Python (node, target, kernel in scope)

    Top-level `await` works; `display(obj)` shows a widget or any object."""
    ns = ctx.python
    ns.update(node=ctx.targets.local.node, target=ctx.target, display=ctx.out.display,
              clear_output=ctx.out.clear_output)
    out = io.StringIO()
    try:
        code = compile(textwrap.dedent(body), "<cell>", "exec",
                       flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        with contextlib.redirect_stdout(out):
            result = eval(code, ns)  # noqa: S307 - the user's own cell
            if asyncio.iscoroutine(result):
                await result
    except Exception as e:  # noqa: BLE001 - the user's Python error, shown as Python shows it
        ctx.out.stream("stdout", out.getvalue())
        tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
        return ctx.out.error(type(e).__name__, str(e), traceback.format_exception(type(e), e, tb))
    ctx.out.stream("stdout", out.getvalue())
    return None


@line_magic
async def help_(ctx: Context, rest: str) -> None:
    """%help [NAME]               the magics (or one magic, in full), in the pager"""
    name = rest.strip().lstrip("%")
    if name:
        found = [m for m in ctx.magics.all() if m.name == name]
        if not found:
            raise MagicError(f"no magic %{name}; magics:\n{ctx.magics.listing()}")
        text = "\n\n".join(f"{m.usage}\n\n{m.doc}".strip() for m in found)
    else:
        text = "skykernel magics\n\n" + ctx.magics.listing()
    ctx.out.page(text)

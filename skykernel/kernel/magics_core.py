"""The everyday magics: where cells run, services, messages, the console, files, Python.

Wherever a magic takes an address, `:0000000b`, `.name` and bare hex all work, and
`NODE:ADDR` names a service of an attached node (skykernel/kernel/targets.py).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import os
import re
import shlex
import textwrap
import time
import traceback
from pathlib import Path
from typing import Any

from ..luatext import clean_traceback, lua_string
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
    return ctx.out.lua(await target.run_cell(body, name=ctx.cell_name))


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


class CallError(Exception):
    """A %call whose callee raised: its message, and its traceback as `lines`."""

    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__(message)
        self.lines = lines


#: How skynet logs a request whose handler raised (then the caller's call fails).
_CALLEE_ERROR = re.compile(r"^lua call \[[^\]]*\] error : ", re.S)


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
    # no locals: the cell's session keeps a cell's top-level locals
    src = f"{verb_line}require('skynet').{verb}({_lua_address(dest)}, {lua_string(parts[1])}{args})"
    handle = dest.address if isinstance(dest.address, int) else None
    with ctx.out.catch_logs(lambda line: line.source == handle
                            and _CALLEE_ERROR.match(line.text) is not None) as caught:
        result = await ctx.target.run_cell(src, name=f"%{verb}")
    first = (result.error or "").split("\n")[0]
    if verb == "call" and not result.ok and "call failed" in first:
        raise _call_failed(ctx, dest, parts, [line.text for line in caught.lines])
    if not result.ok and first.startswith(f"%{verb}:1:"):
        # the chunk is only the call: its own error is in the arguments
        raise MagicError(f"%{verb} {rest.strip()}: the arguments (Lua) fail: "
                         f"{first.split(':', 2)[2].strip()}")
    for line in caught.lines:  # not this call's: shown as they came
        ctx.out.log_text(str(line), None)
    return ctx.out.lua(result)


def _call_failed(ctx: Context, dest: Target, parts: list[str], logged: list[str]) -> CallError:
    """One error for a failed call: the callee's own message and traceback when its log
    line came (the in-process node), else what is known."""
    what = " ".join(parts)
    if logged:
        reason = _CALLEE_ERROR.sub("", logged[-1], count=1)
        lines = clean_traceback(reason) or [reason]
        return CallError(f"{what}: {lines[0]}", [f"CallError: {dest.label()} raised "
                                                 f"while handling {what}", *lines])
    where = f"; its log on {dest.node_name} says why" if dest.node_name != "local" else ""
    message = f"{what}: call failed (the service raised an error, or is gone{where})"
    return CallError(message, [f"CallError: {message}"])


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
    """%help [NAME]               the magics (or one magic, in full)

    Shown in the cell, so a saved or converted notebook keeps it. `NAME?` shows what a Lua
    name is (a function's parameters and where it is defined), `NAME??` its source too."""
    name = rest.strip().lstrip("%")
    if name:
        found = [m for m in ctx.magics.all() if m.name == name]
        if not found:
            raise ctx.magics.unknown(name, False)
        text = "\n\n".join(f"{m.usage}\n\n{m.doc}".strip() for m in found)
    else:
        text = ("skykernel magics (%help NAME for one; NAME? for a Lua name)\n\n"
                + ctx.magics.listing())
    ctx.out.help(text)


@line_magic
async def lsmagic(ctx: Context, rest: str) -> None:
    """%lsmagic                   the names of all magics, line and cell"""
    magics = ctx.magics.all()
    lines = " ".join(f"%{m.name}" for m in magics if not m.cell)
    cells = " ".join(f"%%{m.name}" for m in magics if m.cell)
    ctx.out.print(f"line magics:\n{textwrap.fill(lines, 88)}\n\n"
                  f"cell magics:\n{textwrap.fill(cells, 88)}\n\n"
                  "%help NAME explains one")


def _elapsed(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


async def _timed(ctx: Context, code: str) -> Reply | None:
    if ctx.run_code is None:
        raise MagicError("%time needs the kernel's cell runner")
    start = time.perf_counter()
    try:
        return await ctx.run_code(code)
    finally:
        ctx.out.print(f"Wall time: {_elapsed(time.perf_counter() - start)}")


@line_magic
async def time_(ctx: Context, rest: str) -> Reply | None:
    """%time CODE                 run CODE (Lua or a magic) and say how long it took

    Wall-clock time, from the kernel's side: the round trip to the target included."""
    if not rest.strip():
        raise _usage(time_)
    return await _timed(ctx, rest)


@cell_magic
async def time__(ctx: Context, rest: str, body: str) -> Reply | None:
    """%%time                     run the cell (Lua and magics) and say how long it took"""
    return await _timed(ctx, body)


@line_magic
async def env(ctx: Context, rest: str) -> None:
    """%env [NAME[=VALUE]]        the kernel's environment variables: list, get or set

    The in-process node runs in this process: Lua's os.getenv and a config's `$NAME` read
    them. (skynet.getenv / setenv are the node's own table, not these.) A remote node's
    environment is its own process's."""
    text = rest.strip()
    if not text:
        ctx.out.print("\n".join(f"{k}={v}" for k, v in sorted(os.environ.items())))
        return
    m = re.fullmatch(r"([A-Za-z_]\w*)\s*(?:=\s*|\s+)(.*)", text)
    if m:
        os.environ[m.group(1)] = m.group(2)
        ctx.out.print(f"env: {m.group(1)}={m.group(2)}")
        return
    if not re.fullmatch(r"[A-Za-z_]\w*", text):
        raise _usage(env)
    if text not in os.environ:
        raise MagicError(f"%env: {text} is not set")
    ctx.out.print(os.environ[text])


@line_magic
async def load(ctx: Context, rest: str) -> None:
    """%load FILE                 replace this cell with FILE's text, to edit and run

    `service/NAME.lua` comes back as a `%%service NAME` cell and `lualib/NAME.lua` as
    `%%module NAME`, so running the edited cell saves it again."""
    name = rest.strip()
    if not name:
        raise _usage(load)
    path = Path(name).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MagicError(f"%load: no file {name} (paths are relative to the notebook's "
                         f"folder, {Path.cwd()})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MagicError(f"%load: cannot read {name}: {e}") from None
    head = f"-- %load {name}"
    parts = path.with_suffix("").parts
    if path.suffix == ".lua" and len(parts) >= 2 and not path.is_absolute():
        if parts[0] == "service":
            head = f"%%service {'.'.join(parts[1:])}"
        elif parts[0] == "lualib":
            head = f"%%module {'.'.join(parts[1:])}"
    ctx.out.next_input(f"{head}\n{text}")

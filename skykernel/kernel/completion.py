"""Completion, inspection and help: magic names and addresses here, Lua names where the
cells run (the target walks the service's globals and the session's).

Completion knows the cell being written: `local skynet = require "skynet"` earlier in it
makes `skynet.` complete before the cell has run. Names come best first (the calls a
learner uses, then functions, values, constants), with their kind for the front end.
"""

from __future__ import annotations

import re
from typing import Any

from ..remote import parse
from .output import Reply
from .registry import Context
from .target_remote import RemoteTarget

#: Magics whose first argument is an address.
_ADDRESS_ARG = re.compile(
    r"^\s*%%?(use|kill|exit|inject|send|call|upvalues|protocols|restart|hotfix)\s+(\S*)$")
#: Magics that choose where cells run: their bare addresses are the in-process node's.
_CHOOSERS = ("use", "inject")
#: `local NAME = require "MODULE"` (or `NAME = require(...)`) in the cell.
_REQUIRE = re.compile(
    r"""^\s*(?:local\s+)?([A-Za-z_]\w*)\s*=\s*require\s*\(?\s*["']([\w.]+)["']""", re.M)
#: Jupyter's types (JupyterLab shows an icon for each) by Lua kind.
_TYPES = {"function": "function", "table": "module", "keyword": "keyword",
          "string": "instance", "number": "instance", "boolean": "instance",
          "userdata": "instance", "thread": "instance", "magic": "magic", "address": "path"}


def aliases(code: str) -> dict[str, str]:
    """The cell's `local NAME = require "MODULE"` lines: NAME -> MODULE."""
    return {m.group(1): m.group(2) for m in _REQUIRE.finditer(code)}


async def _addresses(ctx: Context, magic: str, prefix: str) -> list[str]:
    targets = ctx.targets
    head, colon, _ = prefix.partition(":")
    if colon and head in targets.remotes.nodes:
        node = targets.remotes.nodes[head]
        answer = await node.command("list", timeout=min(node.client.timeout, 10))
        found = [f"{head}:{r['address']}" for r in parse.parse_list(answer.lines)]
    elif isinstance(ctx.target, RemoteTarget) and magic not in _CHOOSERS:
        answer = await ctx.target.console("list")
        found = [r["address"] for r in parse.parse_list(answer.lines)]
    else:
        node = targets.local.node
        found = [c for s in (node.services() if node is not None else ())
                 for c in (s.address, *s.names)]
        found += [f"{name}:" for name in targets.remotes.nodes]
    return [c for c in found if c.startswith(prefix)]


async def complete(ctx: Context, code: str, cursor_pos: int) -> dict[str, Any]:
    line = code[:cursor_pos].rsplit("\n", 1)[-1]
    named: list[tuple[str, str]] = []
    start = cursor_pos
    m_magic = re.match(r"^\s*(%%?)(\w*)$", line)
    m_address = _ADDRESS_ARG.match(line)
    try:
        if m_magic:
            marks, prefix = m_magic.groups()
            named = [(marks + m.name, "magic") for m in ctx.magics.all()
                     if m.name.startswith(prefix) and m.cell == (marks == "%%")]
            start = cursor_pos - len(prefix) - len(marks)
        elif m_address:
            prefix = m_address.group(2)
            named = [(a, "address") for a in await _addresses(ctx, m_address.group(1), prefix)]
            start = cursor_pos - len(prefix)
        else:
            word = re.search(r"[\w.:]*$", line).group(0)
            named, offset = await ctx.target.complete(word, aliases(code))
            start = cursor_pos - len(word) + offset
    except Exception:  # noqa: BLE001 - completion must never break the kernel
        named = []
    types = [{"start": start, "end": cursor_pos, "text": name,
              "type": _TYPES.get(kind, "instance")} for name, kind in named]
    return {"status": "ok", "matches": [name for name, _ in named], "cursor_start": start,
            "cursor_end": cursor_pos, "metadata": {"_jupyter_types_experimental": types}}


def _word_at(code: str, cursor_pos: int) -> str:
    before = code[:cursor_pos]
    after = re.match(r"[\w]*", code[cursor_pos:]).group(0)
    word = re.search(r"[\w.:]*$", before).group(0) + after
    if not word:  # just after a call's parenthesis: the function being called
        m = re.search(r"([\w.:]+)\s*\(\s*[^()]*$", before)
        word = m.group(1) if m else ""
    return word.rstrip(".:")


async def describe(ctx: Context, word: str, detail: int, code: str = "") -> str | None:
    """What a Lua name is where the cells run, with a cell's source filled in from the
    history when the function was written in a cell."""
    text = await ctx.target.describe(word, detail, aliases(code))
    if text is None:
        return None
    lines = []
    for line in text.split("\n"):
        m = re.fullmatch(r"@@source cell\[(\d+)\] (\d+) (\d+)", line)
        if m:
            source = ctx.history(int(m.group(1))) if ctx.history else None
            if source is None:
                lines.append(f"(the source of cell[{m.group(1)}] is not in this kernel's "
                             "history)")
                continue
            first, last = int(m.group(2)), int(m.group(3))
            lines += ["", *source.split("\n")[first - 1:last]]
        else:
            lines.append(line)
    return "\n".join(lines)


async def inspect(ctx: Context, code: str, cursor_pos: int, detail: int = 0
                  ) -> dict[str, Any]:
    word = _word_at(code, cursor_pos)
    text = None
    if word:
        try:
            if word.startswith("%"):
                text = _magic_help(ctx, word)
            else:
                text = await describe(ctx, word.replace(":", "."), detail, code)
        except Exception:  # noqa: BLE001 - inspection must never break the kernel
            text = None
    if text is None:
        return {"status": "ok", "found": False, "data": {}, "metadata": {}}
    return {"status": "ok", "found": True, "data": {"text/plain": text}, "metadata": {}}


def _magic_help(ctx: Context, word: str) -> str | None:
    cell = word.startswith("%%")
    found = ctx.magics.get(word.lstrip("%"), cell) or ctx.magics.get(word.lstrip("%"), not cell)
    if found is None:
        return None
    return f"{found.usage}\n\n{found.doc}".strip()


async def upvalue_homes_note(target: Any, name: str) -> str | None:
    """For a bare name that is nil where the cells run but is an upvalue in the service:
    where those upvalues live (`%upvalues ADDR NAME`, `NAME?`); else None."""
    if not name.isidentifier():
        return None
    if (await target.printed(f"print({name} == nil)")).strip() != "true":
        return None
    homes = await target.upvalue_homes(name)
    if not homes:
        return None
    return (f"{name} is not a global in {target.label()}: it is an upvalue (a local of the "
            "service's code, which a cell cannot see), held by:\n" + "\n".join(homes))


async def show_help(ctx: Context, name: str, detail: int) -> Reply | None:
    """`name?` / `name??` as a cell: the pager, as IPython shows help."""
    if name.startswith("%"):
        text = _magic_help(ctx, name)
        if text is None:
            raise_error = ctx.magics.unknown(name.lstrip("%"), name.startswith("%%"))
            return ctx.out.error("MagicError", str(raise_error))
    else:
        text = await describe(ctx, name.replace(":", "."), detail)
        if text is None:
            text = await upvalue_homes_note(ctx.target, name)
            if text is None:
                return ctx.out.error("NameError", f"{name} is nil where the cells run "
                                                  f"({ctx.target.label()})")
    ctx.out.page(text)
    return None

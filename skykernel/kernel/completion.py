"""Completion and inspection: magic names and addresses here, Lua names where the cells
run (the target walks the service's globals and the session's)."""

from __future__ import annotations

import re
from typing import Any

from ..remote import parse
from .registry import Context
from .target_remote import RemoteTarget

#: Magics whose first argument is an address.
_ADDRESS_ARG = re.compile(
    r"^\s*%%?(use|kill|exit|inject|send|call|upvalues|protocols|restart|hotfix)\s+(\S*)$")
#: Magics that choose where cells run: their bare addresses are the in-process node's.
_CHOOSERS = ("use", "inject")


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
    matches: list[str] = []
    start = cursor_pos
    m_magic = re.match(r"^\s*(%%?)(\w*)$", line)
    m_address = _ADDRESS_ARG.match(line)
    try:
        if m_magic:
            marks, prefix = m_magic.groups()
            matches = [marks + m.name for m in ctx.magics.all()
                       if m.name.startswith(prefix) and m.cell == (marks == "%%")]
            start = cursor_pos - len(prefix) - len(marks)
        elif m_address:
            prefix = m_address.group(2)
            matches = await _addresses(ctx, m_address.group(1), prefix)
            start = cursor_pos - len(prefix)
        else:
            word = re.search(r"[\w.:]*$", line).group(0)
            names, offset = await ctx.target.complete(word)
            matches = names
            start = cursor_pos - len(word) + offset
    except Exception:  # noqa: BLE001 - completion must never break the kernel
        matches = []
    return {"status": "ok", "matches": matches, "cursor_start": start,
            "cursor_end": cursor_pos, "metadata": {}}


async def inspect(ctx: Context, code: str, cursor_pos: int) -> dict[str, Any]:
    before = code[:cursor_pos]
    after = re.match(r"[\w]*", code[cursor_pos:]).group(0)
    word = (re.search(r"[\w.:]*$", before).group(0) + after).replace(":", ".")
    text = None
    if word:
        try:
            text = await ctx.target.describe(word)
        except Exception:  # noqa: BLE001 - inspection must never break the kernel
            text = None
    if text is None:
        return {"status": "ok", "found": False, "data": {}, "metadata": {}}
    return {"status": "ok", "found": True, "data": {"text/plain": text}, "metadata": {}}

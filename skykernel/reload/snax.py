"""snax hotfix from Python: patch a snaxd service's methods, record it for undo."""

from __future__ import annotations

from typing import Any

from ..node.handle import format_address
from ._lua import lua_str, lua_value, run_in
from .patchlog import patchlog, source_hash


async def hotfix(node, address: int | str, source: str, *args: Any,
                 dry_run: bool = False, lua_args: str = "") -> tuple[list[str], str]:
    """Apply `source` as a snax.hotfix patch; returns (methods changed, what the patch's
    hotfix(...) returned, as text). Raises ReloadError (nothing changed) on a bad patch."""
    handle = node.resolve(address)
    arglist = "".join(f", {lua_value(a)}" for a in args)
    if lua_args.strip():
        arglist += f", {lua_args}"  # Lua expressions, as the magic's line gives them
    chunk = (f"local h = require 'snax.hotfix'\n"
             f"local r = table.pack(h.run({lua_str(source)}, {lua_value(dry_run)}{arglist}))\n"
             f"print(r[1]) print(table.concat(r[2], ' '))\n"
             f"if {lua_value(dry_run)} then print(table.concat(r[3], ' ')) return end\n"
             f"local out = {{}} for i = 3, r.n do out[#out + 1] = tostring(r[i]) end\n"
             f"print(table.concat(out, '\\t'))")
    text = await run_in(node, handle, chunk)
    lines = text.split("\n")
    pid = int(lines[0])
    changed = lines[1].split() if len(lines) > 1 else []
    result = lines[2] if len(lines) > 2 else ""
    if not dry_run:
        patchlog(node).record("hotfix", format_address(handle), node.service(handle).args,
                              source_hash(source), " ".join(changed),
                              undo=("hotfix", handle, pid))
    return changed, result

"""snax hotfix from Python: patch a snaxd service's methods, record it for undo."""

from __future__ import annotations

from typing import Any

from ..luatext import lua_literal, lua_string
from ._lua import Place, place_of, requiring
from .patchlog import source_hash

# A node whose snaxd does not hand its method table to skykernel's hotfix module (real
# skynet) still holds it as the `func` upvalue of its snax dispatch function: `_P.snax.func`.
_FIND_METHODS = """if h.funcs == nil then
	local t = _P.snax and _P.snax.func
	if type(t) == "table" and type(t[1]) == "table" and t[1][2] == "system" then
		h.funcs = t
	end
end
"""


def hotfix_chunk(place: Place, source: str, args: tuple[Any, ...] = (), *,
                 dry_run: bool = False, lua_args: str = "") -> str:
    """The chunk that plans and (unless dry_run) applies a snax.hotfix patch. It prints
    the history id, the snax service's name, the methods changed, then what the patch's
    hotfix(...) returned (dry run: the upvalues it would join)."""
    head, (hotfix,) = requiring(place, "snax.hotfix")
    arglist = "".join(f", {lua_literal(a)}" for a in args)
    if lua_args.strip():
        arglist += f", {lua_args}"  # Lua expressions, as the magic's line gives them
    dry = lua_literal(dry_run)
    return (f"{head}local h = {hotfix}\n{_FIND_METHODS}"
            f"local r = table.pack(h.run({lua_string(source)}, {dry}{arglist}))\n"
            f"print(r[1]) print(tostring(SERVICE_NAME or '?'))\n"
            f"print(table.concat(r[2], ' '))\n"
            f"if {dry} then print(table.concat(r[3], ' ')) return end\n"
            f"local out = {{}} for i = 3, r.n do out[#out + 1] = tostring(r[i]) end\n"
            f"print(table.concat(out, '\\t'))")


async def hotfix(where: Any, address: int | str, source: str, *args: Any,
                 dry_run: bool = False, lua_args: str = "") -> tuple[list[str], str]:
    """Apply `source` as a snax.hotfix patch to the snax service at `address` of `where`
    (the in-process node, or any Place); returns (methods changed, what the patch's
    hotfix(...) returned, as text). Every method and every upvalue join is checked before
    anything changes: ReloadError (nothing changed) on a bad patch."""
    place = place_of(where)
    address = place.resolve(address)
    text = await place.run(address, hotfix_chunk(place, source, args, dry_run=dry_run,
                                                 lua_args=lua_args))
    lines = text.split("\n")
    pid = int(lines[0])
    name = lines[1] if len(lines) > 1 else "?"
    changed = lines[2].split() if len(lines) > 2 else []
    result = "\n".join(lines[3:])
    if not dry_run:
        place.patches.record("hotfix", place.label(address), name, source_hash(source),
                             " ".join(changed), undo=("hotfix", address, pid))
    return changed, result

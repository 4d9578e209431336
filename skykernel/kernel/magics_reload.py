"""Magics of the hot-reload toolkit (docs/reload.md): %%hotfix, %%reload, %restart,
%%sharedata, %patches, %undo. They act on the target's node, in-process or remote (a
target is the toolkit's Place); every change goes into that node's patch log, and so do
handler swaps a plain cell makes in _P / _U, and code-cache clears."""

from __future__ import annotations

import shlex

from ..reload import hotfix as apply_hotfix
from ..reload import reload_module
from ..reload._lua import ReloadError
from ..reload.data import update_data
from ..reload.patchlog import UndoError
from .registry import Context, MagicError, cell_magic, line_magic
from .target import Target


async def _service(ctx: Context, text: str) -> tuple[Target, int | str]:
    """The node and address of a snax service: an address (`NODE:ADDR` too), or a Lua
    expression naming a snax object in the target's session (`ps`)."""
    head, colon, _ = text.partition(":")
    if colon and head and "." not in head:
        found = await ctx.targets.find(text, near=ctx.target)
        return found, found.address
    return ctx.target, await ctx.target.snax_address(text)


@cell_magic
async def hotfix(ctx: Context, rest: str, body: str) -> None:
    """%%hotfix OBJ|ADDR [lua args]  the cell is a snax.hotfix patch for that snax service

    The whole patch is checked (it loads, every method exists, every `local x` joins one
    live upvalue) before any method changes; its hotfix(...) gets the Lua args. On a real
    node the hotfix module travels in the chunk."""
    addr, _, args = rest.strip().partition(" ")
    if not addr:
        raise hotfix.magic.usage_error("the cell is the patch")
    place, address = await _service(ctx, addr)
    try:
        changed, result = await apply_hotfix(place, address, body, lua_args=args)
    except ReloadError as e:
        raise MagicError(f"hotfix refused, nothing changed: {e}") from None
    n = len(place.patches.entries)
    ctx.out.print(f"patch #{n}: {place.label(address)} {' '.join(changed)}"
                  + (f"\nhotfix returned: {result}" if result else ""))


@cell_magic
async def reload(ctx: Context, rest: str, body: str) -> None:
    """%%reload MODULE [in ADDR|everywhere] [--dry-run]  new module version (the cell, or
    the file on disk if the cell is empty)

    The new version is checked first (no top-level side effects, no type changes, no
    ambiguous upvalue); `everywhere` is every Lua service of the target's node that has
    the module loaded."""
    words = shlex.split(rest)
    dry = "--dry-run" in words
    words = [w for w in words if w != "--dry-run"]
    if not words:
        raise reload.magic.usage_error()
    name = words[0]
    place: Target = ctx.target
    address: int | str | None = place.address
    where = words[2:3] if words[1:2] == ["in"] else words[1:2]
    if where == ["everywhere"]:
        address = None
    elif where:
        place = await ctx.targets.find(where[0], near=ctx.target)
        address = place.address
    source = body if body.strip() else None
    try:
        reports = await reload_module(place, address, name, source, dry_run=dry)
    except ReloadError as e:
        raise MagicError(f"reload failed: {e}") from None
    if not reports:
        ctx.out.print(f"no service has {name} loaded")
        return
    ctx.out.print("\n".join(r.describe() for r in reports))
    if any(r.status == "refused" for r in reports):
        raise MagicError(f"reload of {name} refused (nothing changed): "
                         + "; ".join(x for r in reports for x in r.refused))


@line_magic
async def restart(ctx: Context, rest: str) -> None:
    """%restart ADDR [--wait]    reload a service in place (same address, queue kept)

    The in-process node only: skynet has no operation that swaps a service's Lua state
    at its address, and on a remote node this says so."""
    words = rest.split()
    wait = "--wait" in words
    words = [w for w in words if w != "--wait"]
    if not words:
        raise restart.magic.usage_error()
    target = await ctx.targets.find(words[0], near=ctx.target)
    ctx.out.print(await target.restart(target.address, wait=wait))


@cell_magic
async def sharedata(ctx: Context, rest: str, body: str) -> None:
    """%%sharedata NAME [new|update|delete]  the cell builds the data (sharedata, from the
    target)"""
    words = rest.split()
    if not words:
        raise sharedata.magic.usage_error()
    op = words[1] if len(words) > 1 else "update"
    try:
        version = await update_data(ctx.target, ctx.target.address, words[0], body, op)
    except (ReloadError, ValueError) as e:
        raise MagicError(f"sharedata {op} {words[0]} failed: {e}") from None
    await ctx.target.settle()
    ctx.out.print(f"sharedata {words[0]}: {op}" + (f" (version {version})" if version else ""))


@line_magic
async def patches(ctx: Context, rest: str) -> None:
    """%patches [NODE]            the patch log: every change made to the target's node (or
    NODE)"""
    target = await ctx.targets.node(rest, ctx.target)
    log = target.patches
    where = "" if target.node_name == "local" else f"{target.node_name}: "
    ctx.out.print(where + (log.table() if log.entries else "no patches yet"))


@line_magic
async def undo(ctx: Context, rest: str) -> None:
    """%undo [NODE] [N]           revert the last patch (or patch N) of the target's node,
    where possible"""
    words = rest.split()
    node = words.pop(0) if words and words[0] in ctx.targets.names() else ""
    target = await ctx.targets.node(node, ctx.target)
    text = " ".join(words).lstrip("#")
    number = int(text) if text.isdigit() else None
    if text and number is None:
        raise undo.magic.usage_error()
    try:
        patch = await target.patches.undo(target, number)
    except UndoError as e:
        raise MagicError(str(e)) from None
    ctx.out.print(f"undid patch #{patch.number} ({patch.kind} {patch.name} in {patch.target})")

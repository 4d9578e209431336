"""Data hot update from Python: sharedata new/update/delete, recorded in the patch log."""

from __future__ import annotations

from typing import Any

from ..luatext import lua_literal, lua_string
from ._lua import place_of
from .patchlog import source_hash


async def update_data(where: Any, address: int | str, name: str, source: str | None,
                      op: str = "update") -> int | None:
    """Run sharedata.<op>(name, source) from the service at `address` of `where` (the
    in-process node or any Place; any service will do: the data lives in sharedatad).
    `source` is Lua that builds the data (its globals or its returned table), or "@file".
    Returns the new version for an update, when the node's sharedata tells it."""
    if op not in ("new", "update", "delete"):
        raise ValueError(f"sharedata has no operation {op}")
    place = place_of(where)
    address = place.resolve(address)
    args = lua_string(name) if op == "delete" else f"{lua_string(name)}, {lua_literal(source)}"
    out = await place.run(address, f"print(require('skynet.sharedata').{op}({args}))")
    version = out.strip()
    place.patches.record("data", place.label(address), name, source_hash(source),
                         f"sharedata {op}" + (f" -> version {version}"
                                              if op == "update" and version.isdigit() else ""))
    return int(version) if version.isdigit() else None

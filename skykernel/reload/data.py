"""Data hot update from Python: sharedata new/update/delete, recorded in the patch log."""

from __future__ import annotations

from ..node.handle import format_address
from ._lua import lua_str, run_in
from .patchlog import patchlog, source_hash


async def update_data(node, address: int | str, name: str, source: str | None,
                      op: str = "update") -> int | None:
    """Run sharedata.<op>(name, source) from the service at `address` (any service will
    do: the data lives in sharedatad). `source` is Lua that builds the data (its globals
    or its returned table), or "@file". Returns the new version for an update."""
    if op not in ("new", "update", "delete"):
        raise ValueError(f"sharedata has no operation {op}")
    handle = node.resolve(address)
    args = lua_str(name) if op == "delete" else f"{lua_str(name)}, {lua_str(source)}"
    out = await run_in(node, handle,
                       f"print(require('skynet.sharedata').{op}({args}))")
    version = out.strip()
    patchlog(node).record("data", format_address(handle), name, source_hash(source),
                          f"sharedata {op}" + (f" -> version {version}" if op == "update" else ""))
    return int(version) if version.isdigit() else None

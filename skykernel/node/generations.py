"""What the code cache holds, by generation, and who still runs which code.

skynet cannot answer "which services run old code?" or "what would a clear cost?":
it counts nothing. The node can, because every load is tagged (file, generation,
content hash) in `CodeCache` and every `LuaService.chunks` records what it loaded.
This module turns those records into plain data for Lua (`skynet.codecache`), the
debug console and the notebook views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .codecache import digest
from .handle import format_address

if TYPE_CHECKING:
    from .node import Node


@dataclass(frozen=True)
class FileInfo:
    filename: str
    digest: str
    size: int
    bytes: int


@dataclass(frozen=True)
class GenerationInfo:
    number: int
    current: bool
    files: list[FileInfo]
    bytes: int
    services: list[int]


@dataclass(frozen=True)
class StaleChunk:
    """A service runs `filename` as it was at `generation`; the disk now differs."""

    handle: int
    filename: str
    generation: int
    digest: str
    disk_digest: str | None


@dataclass(frozen=True)
class PurgeResult:
    freed: list[int]
    freed_bytes: int
    pinned: dict[int, list[int]] = field(default_factory=dict)


def _live_chunks(node: Node) -> list[tuple[int, Any]]:
    out = []
    for handle, svc in node.handles.services.items():
        if svc.dead:
            continue
        for chunk in getattr(svc, "chunks", {}).values():
            out.append((handle, chunk))
    return out


def holders(node: Node) -> dict[int, set[int]]:
    """generation -> live services holding code the cache shared from it."""
    held: dict[int, set[int]] = {}
    for handle, chunk in _live_chunks(node):
        if chunk.cached:
            held.setdefault(chunk.generation, set()).add(handle)
    return held


def list_generations(node: Node) -> list[GenerationInfo]:
    cache = node.codecache
    held = holders(node)
    out = []
    for number in sorted(cache.generations):
        gen = cache.generations[number]
        files = [FileInfo(c.filename, c.digest, c.size, len(c.bytecode))
                 for c in sorted(gen.chunks.values(), key=lambda c: c.filename)]
        out.append(GenerationInfo(number, number == cache.generation, files, gen.bytes,
                                  sorted(held.get(number, ()))))
    return out


def stale(node: Node) -> list[StaleChunk]:
    """Every (service, file) whose loaded content no longer matches the file on disk."""
    on_disk: dict[str, str | None] = {}
    out = []
    for handle, chunk in sorted(_live_chunks(node), key=lambda hc: (hc[0], hc[1].filename)):
        name = chunk.filename
        if name not in on_disk:
            try:
                with open(name, "rb") as f:
                    on_disk[name] = digest(f.read())
            except OSError:
                on_disk[name] = None
        now = on_disk[name]
        if now != chunk.digest:
            out.append(StaleChunk(handle, name, chunk.generation, chunk.digest, now))
    return out


def purge(node: Node) -> PurgeResult:
    """Free every old generation no live service holds (our extension to skynet)."""
    freed, freed_bytes, kept = node.codecache.purge(holders(node))
    return PurgeResult(freed, freed_bytes, {g: sorted(h) for g, h in kept.items()})


# --- plain tables for Lua (packed with skynet.pack by the node command) ----------------


def _gen_table(g: GenerationInfo) -> dict[str, Any]:
    return {
        "generation": g.number,
        "current": g.current,
        "bytes": g.bytes,
        "files": [{"filename": f.filename, "digest": f.digest, "size": f.size,
                   "bytes": f.bytes} for f in g.files],
        "services": [format_address(h) for h in g.services],
    }


def as_lua(node: Node, op: str) -> Any:
    """The reply of the node command `GENERATIONS op` (a value skynet.pack can carry)."""
    if op == "list":
        return [_gen_table(g) for g in list_generations(node)]
    if op == "stale":
        return [{"address": format_address(s.handle), "filename": s.filename,
                 "generation": s.generation, "digest": s.digest,
                 "disk": s.disk_digest or False} for s in stale(node)]
    if op == "purge":
        r = purge(node)
        return {"freed": r.freed, "bytes": r.freed_bytes,
                "pinned": [{"generation": g, "services": [format_address(h) for h in hs]}
                           for g, hs in sorted(r.pinned.items())]}
    if op == "current":
        return node.codecache.generation
    raise ValueError(f"unknown GENERATIONS op {op}")

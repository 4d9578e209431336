"""The node's code cache (skynet's patched luaL_loadfilex), with generations skynet lacks.

skynet caches every file loaded through `loadfile` by its literal name, process-wide, and
`clear()` starts over without ever freeing the old code. We keep that behaviour and count
it: each clear starts a new generation, each load is tagged (file, generation, content
hash, bytes), and the node can say which services still hold which generation.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from .bytecode import thin
from .luastate import new_state

MODES = (b"ON", b"EXIST", b"OFF")

_COMPILER = b"""
local load, dump = load, string.dump
return function(source, chunkname, strip)
    local f, err = load(source, chunkname, "t")
    if f == nil then return nil, err end
    return dump(f, strip)
end
"""


@dataclass(frozen=True)
class Chunk:
    """One compiled file: what a service's code came from."""

    filename: str
    generation: int
    digest: str
    size: int
    bytecode: bytes = field(repr=False)
    cached: bool = True


@dataclass
class Generation:
    number: int
    chunks: dict[str, Chunk] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(len(c.bytecode) for c in self.chunks.values())


class CodeCacheError(Exception):
    pass


def digest(source: bytes) -> str:
    return hashlib.sha1(source).hexdigest()[:12]


class CodeCache:
    """One per node. Compiles once per file and generation; a hit costs no parsing."""

    def __init__(self, stripped: frozenset[str] = frozenset(), thinned: str | None = None,
                 lua: str | None = None) -> None:
        # Every service carries its own copy of every prototype it loads, so the runtime's
        # own files shed what nobody reads: files under `thinned` lose their locals' names
        # (lines and upvalue names stay, for errors and inject's _U/_P), and the `stripped`
        # leaf modules, which nobody introspects, lose all debug information.
        self.stripped = stripped
        self.thinned = thinned
        self._absent: set[str] = set()
        self._lock = threading.RLock()
        # Bytecode is only good for the Lua version that made it: the node's (`lua`).
        self._compiler = new_state(version=lua, unpack_returned_tuples=False)
        self._compile = self._compiler.execute(_COMPILER)
        self.generation = 1
        self.generations: dict[int, Generation] = {1: Generation(1)}
        self.hits = 0
        self.misses = 0

    @property
    def current(self) -> Generation:
        return self.generations[self.generation]

    def compile(self, source: bytes, filename: str) -> bytes:
        strip = filename in self.stripped
        result = self._compile(source, b"@" + filename.encode(), strip)
        if isinstance(result, tuple):
            raise CodeCacheError(result[1].decode("utf-8", "replace"))
        if not strip and self.thinned and filename.startswith(self.thinned):
            return thin(result)
        return result

    def _read(self, filename: str, cache: bool) -> Chunk:
        if filename in self._absent:
            raise CodeCacheError(f"cannot open {filename}")
        try:
            with open(filename, "rb") as f:
                source = f.read()
        except OSError:
            if self.thinned and filename.startswith(self.thinned):
                self._absent.add(filename)  # the runtime's files do not come and go
            raise CodeCacheError(f"cannot open {filename}") from None
        code = self.compile(source, filename)
        return Chunk(filename, self.generation, digest(source), len(source), code, cache)

    def load(self, filename: str, mode: bytes = b"ON") -> Chunk:
        """What `loadfile` gets in a service whose cache mode is `mode`.

        Workers load at the same time: a hit is one dict read; a miss compiles under the
        lock, so that two services asking for the same file get the same chunk."""
        if mode not in MODES:
            raise CodeCacheError(f"Invalid codecache mode {mode!r}")
        if mode != b"OFF":
            chunk = self.current.chunks.get(filename)
            if chunk is not None:
                self.hits += 1
                return chunk
        with self._lock:
            if mode != b"OFF":
                chunk = self.current.chunks.get(filename)
                if chunk is not None:
                    self.hits += 1
                    return chunk
            self.misses += 1
            chunk = self._read(filename, cache=mode == b"ON")
            if mode == b"ON":
                self.current.chunks[filename] = chunk
        return chunk

    def clear(self) -> int:
        """Start generation N+1; the old ones stay in memory, as in skynet."""
        with self._lock:
            self.generation += 1
            self.generations[self.generation] = Generation(self.generation)
            return self.generation

    def purge(self, pinned: dict[int, set[int]]) -> tuple[list[int], int, dict[int, set[int]]]:
        """Free every old generation no live service holds (our extension).

        `pinned` maps generation -> handles holding code from it. Returns the generations
        freed, the bytes freed, and the generations kept with the services that pin them.
        """
        freed, freed_bytes, kept = [], 0, {}
        for number in sorted(self.generations):
            if number == self.generation:
                continue
            holders = pinned.get(number)
            if holders:
                kept[number] = set(holders)
                continue
            freed_bytes += self.generations.pop(number).bytes
            freed.append(number)
        return freed, freed_bytes, kept

    def close(self) -> None:
        self._compile = None
        self._compiler = None

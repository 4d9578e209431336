"""The patch log: every change made to a running node through skykernel, and its undo.

One log per node (kept beside it, never inside: the node knows nothing of reloads).
Each entry says when, where (target), what source (a hash), and what changed. `undo`
says, for the entries that cannot be reverted, why not.

Revertible: snax hotfix (the old method entries are put back), module reload (every
reference re-pointed back to the old functions), handler swaps found in `_P`/`_U` after
a cell (the old function is put back in its table). Not revertible: a service reload
(the old Lua state is closed), a data update (readers may have acted on it), a
code-cache clear (skynet's clear cannot be taken back either).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..luatext import lua_literal
from ._lua import ReloadError, place_of, requiring

#: Why an entry of this kind cannot be undone.
NOT_UNDOABLE = {
    "restart": "a service reload closed the old Lua state; restart again from the old source",
    "data": "readers may already have acted on the new data; update it again with the old data",
    "codecache": "a code-cache clear cannot be taken back (skynet's cannot either); old "
                 "generations stay until %codecache purge",
    "inject": "this cell changed more than one handler table entry in a way that was not "
              "recorded",
}


class UndoError(Exception):
    """The entry cannot be undone; the message says why."""


def source_hash(source: str | None, path: str | None = None) -> str:
    if source is None and path:
        try:
            source = Path(path).read_text()
        except OSError:
            return "-"
    if source is None:
        return "-"
    return hashlib.sha1(source.encode()).hexdigest()[:12]


@dataclass
class Patch:
    number: int
    kind: str  # hotfix, module, restart, data, codecache, inject
    target: str
    name: str
    source_hash: str
    what: str
    time: float = field(default_factory=time.time)
    undo: tuple[Any, ...] | None = None
    undone: bool = False

    @property
    def revertible(self) -> bool:
        return self.undo is not None and not self.undone

    def row(self) -> tuple[str, ...]:
        state = "undone" if self.undone else ("undoable" if self.undo else "-")
        return (f"#{self.number}", time.strftime("%H:%M:%S", time.localtime(self.time)),
                self.kind, self.target, self.name, self.source_hash, state, self.what)


class PatchLog:
    def __init__(self) -> None:
        self.entries: list[Patch] = []

    def record(self, kind: str, target: str, name: str, source_hash: str, what: str,
               undo: tuple[Any, ...] | None = None) -> Patch:
        patch = Patch(len(self.entries) + 1, kind, target, name, source_hash, what, undo=undo)
        self.entries.append(patch)
        return patch

    def get(self, number: int | None) -> Patch:
        if not self.entries:
            raise UndoError("the patch log is empty")
        if number is None:
            live = [p for p in self.entries if not p.undone]
            if not live:
                raise UndoError("every patch has been undone already")
            return live[-1]
        for p in self.entries:
            if p.number == number:
                return p
        raise UndoError(f"no patch #{number} (patches #1..#{len(self.entries)})")

    def table(self) -> str:
        rows = [("#", "time", "kind", "target", "name", "source", "undo", "what")]
        rows += [p.row() for p in self.entries]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                         for r in rows)

    async def undo(self, where: Any, number: int | None = None) -> Patch:
        """Revert patch `number` (default: the last one not undone) in `where` (the
        in-process node or the Place whose log this is); raises UndoError."""
        patch = self.get(number)
        if patch.undone:
            raise UndoError(f"patch #{patch.number} was undone already")
        if patch.undo is None:
            reason = NOT_UNDOABLE.get(patch.kind, "this kind of change is not recorded for undo")
            raise UndoError(f"patch #{patch.number} ({patch.kind} {patch.name}) cannot be "
                            f"undone: {reason}")
        kind, address, ident = patch.undo
        place = place_of(where)
        module, body = _UNDO[kind]
        head, (lib,) = requiring(place, module)
        try:
            await place.run(address, head + body.format(lib=lib, id=lua_literal(ident)))
        except ReloadError as e:
            raise UndoError(f"patch #{patch.number} cannot be undone: {e}") from None
        except Exception as e:  # noqa: BLE001 - a dead service, a stopped node, a lost link
            raise UndoError(f"patch #{patch.number} cannot be undone: {e}") from None
        patch.undone = True
        return patch


#: How each revertible kind is undone in its service: (Lua module, chunk).
_UNDO = {
    "hotfix": ("snax.hotfix", "print(table.concat({lib}.undo({id}), ' '))"),
    "module": ("skykernel.reload", "print({lib}.undo({id}))"),
    "inject": ("skykernel.swaps", "print({lib}.undo({id}))"),
}


def patchlog(node: Any) -> PatchLog:
    """The node's patch log (`node.patches`), made on first use."""
    if node.patches is None:
        node.patches = PatchLog()
    return node.patches

"""Magics of the hot-reload toolkit (docs/reload.md): %%hotfix, %%reload, %restart,
%%sharedata, %patches, %undo. Every change they make goes into the node's patch log;
so do handler swaps a plain cell makes in _P / _U, and code-cache clears."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from ..node.handle import format_address
from ..node.inject import inject
from ..reload import hotfix, patchlog, reload_module, restart_service
from ..reload._lua import ReloadError
from ..reload.data import update_data
from ..reload.patchlog import UndoError
from ..reload.restart import RestartError
from .magics import MagicError

if TYPE_CHECKING:
    from .kernel import SkynetKernel

_SNAPSHOT = "require('skykernel.swaps').snapshot(_U, _P)"
_DIFF = "print(require('skykernel.swaps').diff(_U, _P))"


class ReloadMagics:
    HELP = {
        "hotfix": "%%hotfix OBJ|ADDR [lua args]  the cell is a snax.hotfix patch for that "
                  "snax service",
        "reload": "%%reload MODULE [in ADDR|everywhere] [--dry-run]  new module version "
                  "(the cell, or the file on disk if the cell is empty)",
        "restart": "%restart ADDR [--wait]    reload a service in place (same address, queue kept)",
        "sharedata": "%%sharedata NAME [new|update|delete]  the cell builds the data",
        "patches": "%patches                   the patch log: every change made to this node",
        "undo": "%undo [N]                  revert the last patch (or patch N) where possible",
    }

    def __init__(self, kernel: SkynetKernel) -> None:
        self.kernel = kernel
        # Handler swaps and code-cache clears are found around each part of a cell.
        kernel.cell_observers.append(self)

    @property
    def node(self) -> Any:
        return self.kernel.node

    def _print(self, text: str) -> None:
        self.kernel.stream("stdout", text if text.endswith("\n") else text + "\n")

    # --- recording what plain cells change --------------------------------------------

    def _note_codecache(self, before: int) -> None:
        node = self.node
        if node is not None and node.codecache.generation != before:
            patchlog(node).record("codecache", "node", "codecache", "-",
                                  f"clear: generation {node.codecache.generation} starts")

    async def before(self, handle: int | None) -> tuple[int, bool]:
        node = self.node
        generation = node.codecache.generation if node is not None else 0
        tracked = (handle is not None and node is not None
                   and await self._quiet(handle, _SNAPSHOT) is not None)
        return generation, tracked

    async def after(self, handle: int | None, token: tuple[int, bool]) -> None:
        generation, tracked = token
        self._note_codecache(generation)
        if tracked and handle is not None and not self.kernel.interrupted:
            out = await self._quiet(handle, _DIFF)
            if out and out.strip():
                pid, _, paths = out.strip().partition("\t")
                patchlog(self.node).record("inject", format_address(handle), "cell", "-",
                                           f"swapped {paths}", undo=("inject", handle, int(pid)))

    async def _quiet(self, handle: int, src: str) -> str | None:
        try:
            result = await inject(self.node, handle, src, returns=False)
        except Exception:  # noqa: BLE001 - tracking must never break a cell
            return None
        return result.output if result.ok else None

    # --- the magics ----------------------------------------------------------------------

    async def cell_hotfix(self, rest: str, body: str) -> None:
        addr, _, args = rest.strip().partition(" ")
        if not addr:
            raise MagicError("usage: %%hotfix ADDR [lua args]  (the cell is the patch)")
        handle = await self._snax_handle(addr)
        try:
            changed, result = await hotfix(self.node, handle, body, lua_args=args)
        except ReloadError as e:
            raise MagicError(f"hotfix refused, nothing changed: {e}") from None
        n = len(patchlog(self.node).entries)
        self._print(f"patch #{n}: {format_address(handle)} {' '.join(changed)}"
                    + (f"\nhotfix returned: {result}" if result else ""))

    async def _snax_handle(self, text: str) -> int:
        """An address, or a Lua expression naming a snax object in the target (`ps`)."""
        if text[:1] in ":." or all(c in "0123456789abcdefABCDEF" for c in text):
            return self.kernel.resolve(text)
        result = await inject(self.node, self.kernel.current_target(),
                              f"local o = {text}\nprint(type(o) == 'table' and o.handle or o)",
                              session=self.kernel.session_key, returns=False)
        out = result.output.strip()
        if not result.ok or not out.isdigit():
            raise MagicError(f"{text} is not a snax object or an address "
                             f"({(result.error or out or 'nil').splitlines()[0]})")
        return int(out)

    async def cell_reload(self, rest: str, body: str) -> None:
        words = shlex.split(rest)
        dry = "--dry-run" in words
        words = [w for w in words if w != "--dry-run"]
        if not words:
            raise MagicError("usage: %%reload MODULE [in ADDR|everywhere] [--dry-run]")
        name, address = words[0], self.kernel.current_target()
        if len(words) >= 3 and words[1] == "in":
            address = None if words[2] == "everywhere" else self.kernel.resolve(words[2])
        source = body if body.strip() else None
        try:
            reports = await reload_module(self.node, address, name, source, dry_run=dry)
        except ReloadError as e:
            raise MagicError(f"reload failed: {e}") from None
        if not reports:
            self._print(f"no service has {name} loaded")
            return
        self._print("\n".join(r.describe() for r in reports))
        if any(r.status == "refused" for r in reports):
            raise MagicError(f"reload of {name} refused (nothing changed): "
                             + "; ".join(x for r in reports for x in r.refused))

    async def line_restart(self, rest: str) -> None:
        words = rest.split()
        wait = "--wait" in words
        words = [w for w in words if w != "--wait"]
        if not words:
            raise MagicError("usage: %restart ADDR [--wait]")
        handle = self.kernel.resolve(words[0])
        try:
            info = await restart_service(self.node, handle, wait=wait)
        except RestartError as e:
            raise MagicError(f"restart refused, the old state keeps running: {e}") from None
        await self.node.settle()
        self._print(f"{format_address(handle)} reloaded in place: {info['queued']} queued "
                    f"message(s) kept, {info['failed']} request(s) in flight failed, state "
                    f"{'carried over' if info['carried'] else 'not carried (no skynet.migrate)'}")

    async def cell_sharedata(self, rest: str, body: str) -> None:
        words = rest.split()
        if not words:
            raise MagicError("usage: %%sharedata NAME [new|update|delete]")
        op = words[1] if len(words) > 1 else "update"
        try:
            version = await update_data(self.node, self.kernel.current_target(), words[0],
                                        body, op)
        except (ReloadError, ValueError) as e:
            raise MagicError(f"sharedata {op} {words[0]} failed: {e}") from None
        await self.node.settle()
        self._print(f"sharedata {words[0]}: {op}" + (f" (version {version})" if version else ""))

    async def line_patches(self, rest: str) -> None:
        log = patchlog(self.node)
        self._print(log.table() if log.entries else "no patches yet")

    async def line_undo(self, rest: str) -> None:
        text = rest.strip().lstrip("#")
        number = int(text) if text.isdigit() else None
        if text and number is None:
            raise MagicError("usage: %undo [N]")
        try:
            patch = await patchlog(self.node).undo(self.node, number)
        except UndoError as e:
            raise MagicError(str(e)) from None
        self._print(f"undid patch #{patch.number} ({patch.kind} {patch.name} in {patch.target})")

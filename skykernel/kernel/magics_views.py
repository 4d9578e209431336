"""Magics that show views: %upvalues, %protocols, %codecache (a widget) and %services
(a widget whose text/plain is the classic table). The data comes from Lua introspection
injected into the target (skykernel.views.probe) or from the node's own records."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..node.handle import format_address
from ..views.probe import ProbeError, node_runner, probe
from .magics import MagicError, Magics, service_rows

if TYPE_CHECKING:
    from ..views.tree import TreeMemory, UpvalueExplorer
    from .kernel import SkynetKernel


class ViewMagics:
    HELP = {
        "upvalues": "%upvalues [ADDR] [EXPR] [-d N]  explore upvalues (default _U and _P), lazily",
        "protocols": "%protocols [ADDR]          protocol dispatch chains down to each handler",
        "codecache": "%codecache [mode X|clear|purge]  generations view (subcommands: text)",
        "services": "%services                  live services table (use / explore buttons)",
    }

    def __init__(self, kernel: SkynetKernel) -> None:
        self.kernel = kernel
        self.memories: dict[tuple[int, str], TreeMemory] = {}
        self.cache_history: list[tuple[str, int]] = []

    @property
    def node(self) -> Any:
        return self.kernel.node

    def _print(self, text: str) -> None:
        self.kernel.stream("stdout", text if text.endswith("\n") else text + "\n")

    def _target(self, rest: str) -> tuple[int, str]:
        """An optional leading address, then the rest."""
        first, _, tail = rest.strip().partition(" ")
        if first and (first[0] in ":." or re.fullmatch(r"[0-9a-fA-F]+", first)):
            try:
                return self.kernel.resolve(first), tail.strip()
            except MagicError:
                if first[0] in ":.":
                    raise
        return self.kernel.current_target(), rest.strip()

    # --- %upvalues -------------------------------------------------------------------

    def explorer(self, handle: int, expr: str = "") -> UpvalueExplorer:
        # Widget modules load on first use: importing ipywidgets costs a fresh kernel
        # about 150 ms before its first reply.
        from ..views.tree import TreeMemory, UpvalueExplorer

        run = node_runner(self.node, handle, session=self.kernel.session_key)

        async def fetch(path: tuple[str, ...], offset: int, limit: int) -> dict[str, Any]:
            return await probe(run, "upvalues", root=expr or None, path=list(path),
                               offset=offset, limit=limit, label=expr)

        memory = self.memories.setdefault((handle, expr), TreeMemory())
        title = f"{format_address(handle)} {expr or '_U, _P'}"
        return UpvalueExplorer(fetch, title=title, memory=memory)

    async def line_upvalues(self, rest: str) -> None:
        depth = 1
        m = re.search(r"(?:^|\s)-d\s*(\d+)\s*$", rest)
        if m:
            depth = min(int(m.group(1)), 4)
            rest = rest[: m.start()]
        handle, expr = self._target(rest)
        view = self.explorer(handle, expr)
        try:
            await view.populate(depth)
        except ProbeError as e:
            raise MagicError(f"%upvalues: {e}") from None
        self.kernel.display(view)

    # --- %protocols ------------------------------------------------------------------

    async def line_protocols(self, rest: str) -> None:
        handle, _ = self._target(rest)
        run = node_runner(self.node, handle, session=self.kernel.session_key)

        async def fetch() -> tuple[dict[str, Any], dict[str, int]]:
            data = await probe(run, "protocols")
            svc = self.node.handles.services.get(handle)
            chunks = getattr(svc, "chunks", {}) if svc is not None else {}
            return data, {f: c.generation for f, c in chunks.items()}

        from ..views.chain import ProtocolChainView

        view = ProtocolChainView(fetch, title=format_address(handle))
        try:
            await view.refresh()
        except ProbeError as e:
            raise MagicError(f"%protocols: {e}") from None
        self.kernel.display(view)

    # --- %codecache ------------------------------------------------------------------

    def _sample(self, label: str | None = None) -> None:
        cache = self.node.codecache
        total = sum(g.bytes for g in cache.generations.values())
        label = label or f"g{cache.generation}"
        if not self.cache_history or self.cache_history[-1] != (label, total):
            self.cache_history.append((label, total))

    def _snapshot(self) -> dict[str, Any]:
        from ..node.generations import list_generations

        self._sample()
        gens = [{"generation": g.number, "current": g.current, "bytes": g.bytes,
                 "files": [{"filename": f.filename, "bytes": f.bytes} for f in g.files],
                 "services": [format_address(h) for h in g.services]}
                for g in list_generations(self.node)]
        return {"generations": gens, "history": list(self.cache_history)}

    def _purge(self) -> str:
        from ..node.generations import purge

        r = purge(self.node)
        self._sample("purge")
        if r.freed:
            text = (f"purged generation{'s' if len(r.freed) > 1 else ''} "
                    f"{', '.join(map(str, r.freed))}: {r.freed_bytes} bytes freed")
        else:
            text = "nothing to purge: 0 bytes freed"
        if r.pinned:
            kept = "; ".join(f"{g} (pinned by {' '.join(format_address(h) for h in hs)})"
                             for g, hs in sorted(r.pinned.items()))
            text += f"; kept {kept}"
        return text

    def _clear(self) -> str:
        number = self.node.codecache.clear()
        self._sample(f"clear g{number}")
        return f"code cache cleared: generation {number} starts"

    async def line_codecache(self, rest: str) -> None:
        words = rest.split()
        if words[:1] == ["purge"]:
            self._print(self._purge())
        elif words[:1] == ["clear"]:
            self._print(self._clear())
        elif words:
            return await Magics.line_codecache(self.kernel.magics, rest)
        else:
            from ..views.codecache import GenerationsView

            self.kernel.display(GenerationsView(self._snapshot, self._purge, self._clear))

    # --- %services -------------------------------------------------------------------

    def _rows(self) -> list[tuple[Any, ...]]:
        return service_rows(self.node)

    def _use(self, handle: int) -> str:
        self.kernel.target = handle
        svc = self.node.handles.services[handle]
        return f"cells now run in {format_address(handle)} ({svc.name})"

    async def _explore(self, handle: int) -> UpvalueExplorer:
        view = self.explorer(handle)
        await view.populate(1)
        return view

    async def line_services(self, rest: str) -> None:
        from ..views.services import ServicesView

        self.kernel.display(ServicesView(self._rows, self._use, self._explore))

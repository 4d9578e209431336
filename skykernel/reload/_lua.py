"""Where reload chunks run (a `Place`), and running them there.

A hot fix is Lua run inside the service it changes. The in-process node runs a chunk
with a debug RUN (`NodePlace`); a node reached through its debug console runs it with
`inject` (the kernel's remote target is a Place too). A Place whose `inline` is true may
lack skykernel's Lua library (real skynet), so chunks for it carry the modules they
`require` (`skykernel.luatext.preload`). Each Place keeps the patch log of its node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..luatext import preload
from ..luatext import require as lua_require
from ..node.inject import inject

if TYPE_CHECKING:
    from .patchlog import PatchLog

#: A service address as a Place knows it: a handle in-process, console text remotely.
Address = int | str


class ReloadError(Exception):
    """A reload step failed in the service; the message is the service's reason."""


@runtime_checkable
class Place(Protocol):
    """A node's services, as the reload toolkit reaches them."""

    #: chunks carry the skykernel Lua modules they use (the node may not have them)
    inline: bool

    @property
    def patches(self) -> PatchLog:
        """The patch log of this node."""
        ...

    def resolve(self, address: Address) -> Address:
        """The address in this Place's own form; raises for one that names nothing."""
        ...

    def label(self, address: Address) -> str:
        """How the patch log names the service."""
        ...

    async def run(self, address: Address, chunk: str) -> str:
        """Run chunk in the service; what it printed, or ReloadError with its error."""
        ...

    async def lua_services(self) -> list[Address]:
        """Every Lua service of the node (for a reload everywhere)."""
        ...


def requiring(place: Place, *modules: str) -> tuple[str, list[str]]:
    """(the preload head a chunk for place needs, a `require` expression per module)."""
    head = preload(modules) if place.inline else ""
    return head, [lua_require(m, inline=place.inline) for m in modules]


def first_line(error: str) -> str:
    """A service's error without its traceback."""
    return error.strip().split("\nstack traceback:")[0].strip()


async def run_in(node: Any, address: int | str, source: str) -> str:
    """Run `source` in a service of the in-process node; what it printed, or ReloadError."""
    result = await inject(node, address, source, returns=False, nils=False)
    if not result.ok:
        raise ReloadError(first_line(result.error or "error"))
    return result.output


class NodePlace:
    """The in-process node as a Place: chunks go in as debug RUN messages."""

    inline = False

    def __init__(self, node: Any) -> None:
        self.node = node

    @property
    def patches(self) -> PatchLog:
        from .patchlog import patchlog

        return patchlog(self.node)

    def resolve(self, address: Address) -> int:
        return self.node.resolve(address)

    def label(self, address: Address) -> str:
        from ..node.handle import format_address

        return format_address(self.resolve(address))

    async def run(self, address: Address, chunk: str) -> str:
        return await run_in(self.node, address, chunk)

    async def lua_services(self) -> list[Address]:
        from ..node.service import LuaService

        return [h for h, s in sorted(self.node.handles.services.items())
                if isinstance(s, LuaService) and not s.dead and s.booted]


def place_of(where: Any) -> Place:
    """A Place as given, or the in-process node `where` as one."""
    if isinstance(where, Place):
        return where
    return NodePlace(where)

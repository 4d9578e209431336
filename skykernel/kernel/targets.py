"""The targets a kernel can reach: the in-process node, the attached remote nodes, and
which service cells run in now.

Addresses in magics: `NODE:ADDR` names a service of an attached node, `local:ADDR` one of
the in-process node. A bare address (`.name`, `:0000000b`, bare hex) names a service of
the node the cells run on, except for `%use` and `%%inject`, which choose where cells run:
for them a bare address is the in-process node's (so `%use .notebook` always comes back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .target import Target, TargetError, Waiter
from .target_local import InProcessNode, LocalTarget

if TYPE_CHECKING:
    from ..node.logger import LogLine
    from ..reload.patchlog import PatchLog
    from ..remote.session import RemoteNode, Remotes
    from .target_remote import RemoteTarget

LOCAL = "local"


class Targets:
    """Where cells run (`current`), and the nodes the kernel can reach."""

    def __init__(self, on_log: Callable[[LogLine], None], waiter: Waiter, session: str,
                 warn: Callable[[str], None], lua: str | None = None) -> None:
        self.local = InProcessNode(on_log, lua)
        self._remotes: Remotes | None = None
        self.waiter = waiter
        self.session = session
        self.warn = warn  # a note to the cell (the target died, the node went away)
        #: remote patch logs by node address (a reconnect keeps them)
        self.logs: dict[str, PatchLog] = {}
        self._current: Target | None = None

    @property
    def remotes(self) -> Remotes:
        """The attached nodes. The remote client loads on first need, not at the kernel's
        start (a fresh kernel answers its first kernel_info sooner)."""
        if self._remotes is None:
            from ..remote.session import Remotes

            self._remotes = Remotes()
        return self._remotes

    # --- the current target ---------------------------------------------------------

    def local_target(self, handle: int) -> LocalTarget:
        return LocalTarget(self.local, handle, self.waiter, self.session)

    def remote_target(self, node: RemoteNode, address: str) -> RemoteTarget:
        from .target_remote import RemoteTarget

        return RemoteTarget(node, address, self.waiter, self.session, self.logs)

    def _default(self) -> LocalTarget:
        if self.local.default is None or not self.local.alive(self.local.default):
            raise TargetError("no target service is alive; use %newservice and %use, or %boot")
        return self.local_target(self.local.default)

    async def current(self) -> Target:
        """The target; a dead local target falls back to the node's default service, a
        detached node's to the in-process node (each with a note)."""
        await self.local.ensure()
        target = self._current
        if target is not None and target.node_name != LOCAL:
            if self.remotes.nodes.get(target.node_name) is getattr(target, "node", None):
                return target
            self._current = target = None
        if isinstance(target, LocalTarget) and target.host.node is not None:
            if self.local.alive(target.handle):
                return target
            default = self._default()
            if default.handle != target.handle:
                self.warn(f"target {target.label()} is gone; cells now run in the default "
                          f"service {default.label()}")
            self._current = default
            return default
        self._current = self._default()
        return self._current

    def use(self, target: Target) -> None:
        self._current = target

    # --- finding services and nodes -------------------------------------------------

    async def find(self, text: str, near: Target | None) -> Target:
        """The target a magic's address names, checked to exist: `NODE:ADDR`,
        `local:ADDR`, or a bare address of the node of `near` (None: the in-process
        node)."""
        text = text.strip()
        if not text:
            raise TargetError("no address given")
        head, colon, rest = text.partition(":")
        if colon and head == LOCAL:
            return await self._local_at(rest)
        from ..remote.session import RemoteError

        try:
            where = self.remotes.split(text)
        except RemoteError as e:
            raise TargetError(str(e)) from None
        if where is not None:
            node, address = where
            return await self.remote_target(node, address).at(address)
        if near is not None:
            return await near.at(text)
        return await self._local_at(text)

    async def _local_at(self, text: str) -> LocalTarget:
        await self.local.ensure()
        return await self._default_or_any().at(text)

    def _default_or_any(self) -> LocalTarget:
        handle = self.local.default if self.local.default is not None else 0
        return self.local_target(handle)

    async def node(self, name: str, near: Target) -> Target:
        """A target on the node called name (`local` or an attached node's name), or the
        node of near for ''."""
        name = name.strip()
        if not name:
            return near
        if name == LOCAL:
            if isinstance(near, LocalTarget):
                return near
            await self.local.ensure()
            return self._default_or_any()
        from ..remote.session import RemoteError

        try:
            node = self.remotes.get(name)
        except RemoteError as e:
            raise TargetError(str(e)) from None
        if getattr(near, "node", None) is node:
            return near
        return self.remote_target(node, ".launcher")

    def names(self) -> list[str]:
        return [LOCAL, *self.remotes.nodes]

    # --- nodes coming and going -----------------------------------------------------

    async def disconnect(self, name: str) -> bool:
        """Detach a node; True when cells ran there (they now run in the local node)."""
        from ..remote.session import RemoteError

        try:
            node = self.remotes.get(name)
        except RemoteError as e:
            raise TargetError(str(e)) from None
        was_current = getattr(self._current, "node", None) is node
        await self.remotes.disconnect(name)
        if was_current:
            self._current = None
        return was_current

    async def boot(self, config: str | None) -> Target:
        """Reboot the in-process node; cells then run in its default service."""
        await self.local.boot(config)
        self._current = self._default()
        return self._current

    async def shutdown(self) -> None:
        if self._remotes is not None:
            await self._remotes.close_all()
        await self.local.shutdown()

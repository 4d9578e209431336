"""A node's debug console as a target: a service of a node in another process, real
skynet or `skynet run`, reached only through the console's line protocol.

Cells and every chunk go as `inject ADDR FILE` (`skykernel.remote`), wrapped so that the
notebook's RUN runs them and its skykernel Lua modules ride inside the chunk. Commands go
as console commands. What a console cannot do is said, with the reason.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..node.inject import InjectResult
from ..reload._lua import Address
from ..remote import parse
from ..remote.session import RemoteError, RemoteNode, remote_address
from .target import ConsoleAnswer, Table, Target, TargetError, Waiter

if TYPE_CHECKING:
    from ..reload.patchlog import PatchLog

CODECACHE_NOTE = (
    "a real skynet node keeps no code-cache generations: it cannot tell which files are "
    "cached, since when, or which service runs which version (skynet counts nothing). "
    "What it can do: `%console NODE clearcache` starts an empty cache; services started "
    "afterwards, and later `require`s of modules not yet loaded, read the files again.")

LOG_NOTE = (
    "NODE writes its log itself (its logger service: stdout or the config's logpath); its "
    "debug console offers no command that reads it back. Lines a cell prints come back "
    "with the cell.")

RESTART_NOTE = (
    "a service reload in place needs the node itself to swap the service's Lua state at its "
    "address, keeping its queue; skynet has no such operation and its debug console no "
    "command for one. What NODE can do: `%%reload MODULE` and `%%hotfix` change code in the "
    "running service, or `%kill` it and `%newservice` it again (a new address)")

_ADDRESS = re.compile(r"^:[0-9a-fA-F]{8}$")


def reset_note(node: RemoteNode) -> str:
    return (f"stopped waiting for {node.name} ({node.address}); the connection was reset "
            "(the command may still be running there)")


class RemoteTarget(Target):
    """A service of an attached node."""

    inline = True

    def __init__(self, node: RemoteNode, address: str, waiter: Waiter, session: str,
                 logs: dict[str, PatchLog]) -> None:
        super().__init__(waiter, session)
        self.node = node
        self._address = address
        self._logs = logs

    # --- who it is ------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self._address

    @property
    def node_name(self) -> str:
        return self.node.name

    def label(self, address: Address | None = None) -> str:
        return f"{self.node.name}:{self._address if address is None else self.resolve(address)}"

    async def about(self) -> str:
        return self.node.address

    def resolve(self, address: Address) -> str:
        if isinstance(address, int):
            return f":{address:08x}"
        try:
            return remote_address(address)
        except RemoteError as e:
            raise TargetError(str(e)) from None

    async def at(self, text: str) -> RemoteTarget:
        address = self.resolve(text)
        # skynet's console answers ping with an error for an unknown address
        answer = await self._command(f"ping {address}", timeout=min(self.node.client.timeout, 10))
        if not answer.ok:
            raise TargetError(f"no service {address} on {self.node.name}: "
                              f"{parse.strip_console_position(answer.text)} "
                              f"(%services {self.node.name} lists them)")
        return RemoteTarget(self.node, address, self.waiter, self.session, self._logs)

    # --- the transport --------------------------------------------------------------

    async def _wait(self, work, left: str | None = None):  # noqa: ANN001, ANN202
        try:
            return await self.waiter.wait(work, left or reset_note(self.node))
        except RemoteError as e:
            raise TargetError(str(e)) from None

    async def _command(self, line: str, timeout: float | None = None):  # noqa: ANN202
        try:
            return await self._wait(self.node.command(line, timeout))
        except ValueError as e:  # a line the console cannot take
            raise TargetError(str(e)) from None

    async def inject(self, source: str, *, address: Address | None = None,
                     session: str | None = None, returns: bool = True,
                     expression: bool = False, nils: bool = True,
                     filename: str | None = None) -> InjectResult:
        where = self._address if address is None else self.resolve(address)
        result, _ = await self._wait(self.node.run(
            where, source, session=session, name=filename, returns=returns,
            expression=expression, nils=nils))
        return result

    async def _run_cell(self, source: str, address: Address, name: str | None
                        ) -> tuple[InjectResult, str]:
        left = ("stopped waiting; the connection was reset (the chunk may still be running "
                "on the node)")
        return await self._wait(self.node.run(self.resolve(address), source,
                                              session=self.session, track=True, repl=True,
                                              name=name), left)

    async def services(self) -> Table:
        header, rows, notes = await self._wait(self.node.services_report())
        return Table(header, rows, notes)

    async def console(self, command: str) -> ConsoleAnswer:
        answer = await self._command(command)
        lines = answer.lines
        text = answer.text
        if not answer.ok:
            text = parse.strip_console_position(text)
            lines = text.split("\n") if text else []
        return ConsoleAnswer(answer.ok, lines, answer.note, text)

    async def newservice(self, args: list[str]) -> str:
        answer = await self.console("start " + " ".join(args))
        first = answer.lines[0].split("\t")[0] if answer.ok and answer.lines else ""
        if not _ADDRESS.match(first):
            raise TargetError(f"newservice {args[0]} failed on {self.node.name}: "
                              f"{answer.text or 'no answer'} (its log says why)")
        return self.label(first)

    async def _ok(self, command: str) -> None:
        answer = await self.console(command)
        if not answer.ok:
            raise TargetError(f"{self.node.name}: `{command}` failed: {answer.text}")

    async def kill(self, address: Address) -> None:
        await self._ok(f"kill {self.resolve(address)}")

    async def exit(self, address: Address) -> None:
        await self._ok(f"exit {self.resolve(address)}")

    async def log(self, n: int) -> str:
        return LOG_NOTE.replace("NODE", self.node.name)

    async def restart(self, address: Address, *, wait: bool) -> str:
        raise TargetError(f"cannot reload {self.label(address)} in place: "
                          + RESTART_NOTE.replace("NODE", self.node.name))

    @property
    def patches(self) -> PatchLog:
        from ..reload.patchlog import PatchLog

        # by the node's address: reconnecting to it (under any name) keeps its log
        return self._logs.setdefault(self.node.address, PatchLog())

    async def lua_services(self) -> list[Address]:
        answer = await self.console("list")
        if not answer.ok:
            raise TargetError(f"{self.node.name}: `list` failed: {answer.text}")
        return [r["address"] for r in parse.parse_list(answer.lines) if r["kind"] == "snlua"]

"""The target: where cells run. One service of one node, behind one interface.

Two implementations: `LocalTarget` (a service of the in-process node, reached with debug
RUN messages, `target_local.py`) and `RemoteTarget` (a service of a node reached through
its debug console, `target_remote.py`). Magics are written once, against this interface;
`%use` only changes which target the kernel holds.

A transport supplies the primitives (`inject`, a cell with its handler swaps, the node's
services and console, starting and stopping services); what is built from them is written
here once: completion, inspection, the views' runner, applying and undoing patches (a
target is the reload toolkit's `Place`). What a node cannot do is said by raising
`TargetError` with the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..luatext import lua_literal, lua_string, preload
from ..luatext import require as lua_require
from ..node.inject import InjectResult
from ..reload._lua import Address, ReloadError, first_line

if TYPE_CHECKING:
    from ..reload.patchlog import PatchLog

T = TypeVar("T")


class TargetError(Exception):
    """The target cannot do what was asked; the message says why and what works."""


class Interrupted(Exception):
    """The stop button ended a wait; the message says what may still be running."""


@dataclass(frozen=True)
class Table:
    """A table to show: header, rows, and notes printed after it."""

    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ConsoleAnswer:
    """A debug-console answer: whether it ended `<CMD OK>`, the lines kept, and for a
    long answer the note saying what was cut (`text` has it where the lines were cut)."""

    ok: bool
    lines: list[str]
    note: str = ""
    cut_text: str | None = None

    @property
    def text(self) -> str:
        return self.cut_text if self.cut_text is not None else "\n".join(self.lines)


class Waiter:
    """The one wait the stop button cancels.

    The kernel's SIGINT handler cancels `current`; `wait` turns that into `Interrupted`.
    Only the outermost wait is registered.
    With `keep_running`, the work itself goes on (a RUN sent to a service: its answer is
    dropped when it comes); without, it is cancelled with the wait (a console command:
    the client resets its connection)."""

    def __init__(self) -> None:
        self.current: asyncio.Future[Any] | None = None
        self.interrupted = False

    async def wait(self, work: Awaitable[T], left: str, *, keep_running: bool = False) -> T:
        if self.current is not None and not self.current.done():
            # a wait inside another (a widget's probe while a cell runs): the stop button
            # ends the outer one
            return await work
        task = asyncio.ensure_future(work)
        waited: asyncio.Future[T] = task
        if keep_running:
            task.add_done_callback(_retrieve)
            waited = asyncio.ensure_future(asyncio.shield(task))
        self.current = waited
        try:
            return await waited
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this request itself is being cancelled, not just the wait
            raise Interrupted(left) from None
        finally:
            if self.current is waited:
                self.current = None


def _retrieve(run: asyncio.Future[Any]) -> None:
    """Nobody may be waiting for a RUN's answer any more (an interrupted cell)."""
    if not run.cancelled():
        run.exception()


def _complete_chunk(word: str, inline: bool, aliases: dict[str, str]) -> str:
    """Names completing word, walked where they live: the session's and the service's;
    aliases are the cell's `local NAME = require "MODULE"` lines, not run yet."""
    head = preload(["skykernel.complete"]) if inline else ""
    return (f"{head}local names, offset = {lua_require('skykernel.complete', inline=inline)}"
            f".names(_ENV, {lua_string(word)}, {lua_literal(aliases)})\n"
            "print(offset) print(names)")


def _describe_chunk(word: str, inline: bool, detail: int, aliases: dict[str, str]) -> str:
    """What word names in the session: its kind, a function's signature and where it is
    defined (detail 1: its source), a value's text."""
    head = preload(["skykernel.complete"]) if inline else ""
    return (f"{head}print({lua_require('skykernel.complete', inline=inline)}"
            f".describe(_ENV, {lua_string(word)}, {int(detail)}, {lua_literal(aliases)}))")


def _hints_chunk(swap_id: int, inline: bool) -> str:
    """Hints about the handler swaps recorded as swap_id (skykernel.hints.swaps)."""
    head = preload(["skykernel.swaps", "skykernel.hints"]) if inline else ""
    swaps = lua_require("skykernel.swaps", inline=inline)
    hints = lua_require("skykernel.hints", inline=inline)
    return f"{head}print({hints}.swaps({swaps}.history[{swap_id}], _ENV))"


def _homes_chunk(name: str, inline: bool) -> str:
    """Where upvalues called name live, from _U and _P (skykernel.hints.homes)."""
    head = preload(["skykernel.hints"]) if inline else ""
    return (f"{head}print({lua_require('skykernel.hints', inline=inline)}"
            f".homes({lua_string(name)}, _U, _P))")


class Target(ABC):
    """One service of one node: cells run there, and magics act on its node."""

    #: Chunks carry the skykernel Lua modules they use (the node may lack them).
    inline: bool = False

    def __init__(self, waiter: Waiter, session: str) -> None:
        self.waiter = waiter
        self.session = session

    # --- who it is ------------------------------------------------------------------

    @property
    @abstractmethod
    def address(self) -> Address:
        """The service, in the form the node's transport takes."""

    @property
    @abstractmethod
    def node_name(self) -> str:
        """`local` for the in-process node, else the name given at %connect."""

    @abstractmethod
    def label(self, address: Address | None = None) -> str:
        """How a service of this node is written in a magic (`:0000000a`, `game1:.agent`)."""

    @abstractmethod
    async def about(self) -> str:
        """A few words on the service, after its label (`notebook`, `127.0.0.1:8000`)."""

    @abstractmethod
    def resolve(self, address: Address) -> Address:
        """An address in this node's own form (the reload toolkit's Place)."""

    @abstractmethod
    async def at(self, text: str) -> Target:
        """The target of another service of the same node, checked to exist."""

    @property
    def node_here(self) -> Any:
        """The in-process node when the target is one of its services, else None: what
        only the in-process node keeps (code-cache generations, live widgets) needs it."""
        return None

    # --- the transport --------------------------------------------------------------

    @abstractmethod
    async def inject(self, source: str, *, address: Address | None = None,
                     session: str | None = None, returns: bool = True,
                     expression: bool = False, nils: bool = True,
                     filename: str | None = None) -> InjectResult:
        """Run source with the notebook's RUN (docs/inject.md) in the service at address
        (default: this one); raises TargetError when it cannot get there."""

    @abstractmethod
    async def _run_cell(self, source: str, address: Address, name: str | None
                        ) -> tuple[InjectResult, str]:
        """A cell, named `name` in its errors (`cell[3]:2:`), as a REPL runs it (RUN's
        `repl`: an expression's value comes back, globals and top-level locals persist in
        the session, its io and display are the notebook's) and the handler swaps it made
        (`id<TAB>paths`, '' for none)."""

    @abstractmethod
    async def services(self) -> Table:
        """The node's services."""

    @abstractmethod
    async def console(self, command: str) -> ConsoleAnswer:
        """One debug-console command on this node."""

    @abstractmethod
    async def newservice(self, args: list[str]) -> str:
        """Start a service (skynet.newservice); the new service's label."""

    @abstractmethod
    async def kill(self, address: Address) -> None:
        """skynet.kill."""

    @abstractmethod
    async def exit(self, address: Address) -> None:
        """Make the service exit (debug EXIT)."""

    @abstractmethod
    async def log(self, n: int) -> str:
        """The node's last n log lines."""

    @abstractmethod
    async def restart(self, address: Address, *, wait: bool) -> str:
        """Reload the service in place; says what happened."""

    async def settle(self) -> None:  # noqa: B027 - most nodes cannot tell: nothing to do
        """Wait until what a change set off in the node has run, where the node can tell."""

    @property
    @abstractmethod
    def patches(self) -> PatchLog:
        """The patch log of this node (every change made to it through this kernel)."""

    @abstractmethod
    async def lua_services(self) -> list[Address]:
        """Every Lua service of the node."""

    # --- written once, for every node -----------------------------------------------

    async def run_cell(self, source: str, address: Address | None = None, *,
                       name: str | None = None) -> InjectResult:
        """Run a notebook cell; the handler swaps it made go into the patch log, with a
        hint for a swap that reads a global where the old handler had an upvalue."""
        where = self.address if address is None else address
        result, swapped = await self._run_cell(source, where, name)
        if swapped:
            ident, _, paths = swapped.partition("\t")
            if ident.isdigit():
                self.patches.record("inject", self.label(where), "cell", "-",
                                    f"swapped {paths}", undo=("inject", where, int(ident)))
                hints = await self._hints(int(ident), where)
                if hints:
                    result = dataclasses.replace(result, hints=(*result.hints, *hints))
        return result

    async def _hints(self, swap_id: int, address: Address) -> list[str]:
        """Hints about a cell's swaps; never an error (a hint must not break a cell)."""
        try:
            text = await self.printed(_hints_chunk(swap_id, self.inline), address)
        except TargetError:
            return []
        label = self.label(address)
        return [h.replace("ADDR", label) for h in text.splitlines() if h.strip()]

    async def upvalue_homes(self, name: str, address: Address | None = None) -> list[str]:
        """Where upvalues called `name` live in the service (`_P.lua.CMD.deposit  upvalue
        1 balance = 10`), found from _U and _P."""
        text = await self.printed(_homes_chunk(name, self.inline), address)
        return [line for line in text.splitlines() if line.strip()]

    async def run(self, address: Address, chunk: str) -> str:
        """Run a chunk in a service of this node; what it printed, or ReloadError with the
        service's error (the reload toolkit's Place)."""
        try:
            result = await self.inject(chunk, address=address, returns=False, nils=False)
        except TargetError as e:
            raise ReloadError(str(e)) from None
        if not result.ok:
            raise ReloadError(first_line(result.error or "error"))
        return result.output

    async def printed(self, chunk: str, address: Address | None = None) -> str:
        """What chunk printed in the session environment; TargetError on a Lua error."""
        result = await self.inject(chunk, address=address, session=self.session,
                                   returns=False)
        if not result.ok:
            raise TargetError(first_line(result.error or result.output or "error"))
        return result.output

    async def complete(self, word: str, aliases: dict[str, str] | None = None
                       ) -> tuple[list[tuple[str, str]], int]:
        """Names that complete `word` (`skynet.ca`, `obj:me`) where the cells run: the
        service's globals and the session's, best first, each with its kind (`function`,
        `table`, `keyword`...); and how far into word they start."""
        chunk = _complete_chunk(word, self.inline, aliases or {})
        first, _, rest = (await self.printed(chunk)).partition("\n")
        names = [tuple(n.split("\t", 1)) if "\t" in n else (n, "") for n in rest.splitlines()]
        return [n for n in names if n[0]], int(first or 0)  # type: ignore[misc]

    async def describe(self, word: str, detail: int = 0,
                       aliases: dict[str, str] | None = None) -> str | None:
        """What `word` names where the cells run (a function's signature and where it is
        defined, with detail 1 its source; a value's text), or None when it is nil."""
        chunk = _describe_chunk(word, self.inline, detail, aliases or {})
        text = (await self.printed(chunk)).rstrip()
        return None if not text or text.split("\n", 1)[0].endswith(" : nil") else text

    def runner(self, address: Address | None = None) -> Any:
        """A views Runner for a service of this node: chunk -> what it printed."""
        from ..views.probe import ProbeError

        async def run(chunk: str) -> str:
            try:
                result = await self.inject(chunk, address=address, session=self.session,
                                           returns=False, filename="probe")
            except TargetError as e:
                raise ProbeError(str(e)) from None
            if not result.ok:
                raise ProbeError(result.error or result.output or "probe failed")
            return result.output

        return run

    async def snax_address(self, text: str) -> Address:
        """An address, or a Lua expression naming a snax object in the session (`ps`)."""
        if text[:1] in ":." or all(c in "0123456789abcdefABCDEF" for c in text):
            return (await self.at(text)).address
        try:
            out = (await self.printed(f"local o = {text}\nprint(type(o) == 'table' and "
                                      "o.handle or o)")).strip()
        except TargetError as e:
            raise TargetError(f"{text} is not a snax object or an address ({e})") from None
        if not out.isdigit():
            raise TargetError(f"{text} is not a snax object or an address ({out or 'nil'})")
        return (await self.at(f":{int(out):08x}")).address

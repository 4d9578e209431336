"""Named remote nodes, and cells carried to them as temp files.

skynet's `inject ADDR FILE` reads FILE on the node's side. On the same host (a loopback
address) a file in the system temp dir is readable by the node as it is; for another host
the user names a directory both sides see (`shared=LOCAL as NODEPATH`). The file is removed
as soon as the answer is in (or the command failed).
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..node.handle import parse_address
from ..node.inject import InjectResult
from . import parse
from .cell import read_reply, wrap
from .client import CONNECT_TIMEOUT, Answer, ConsoleClient, ConsoleError

LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


class RemoteError(Exception):
    """A remote operation cannot be done as asked; the message says what works instead."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def remote_address(text: str) -> str:
    """A console address (`.name`, `:0000000b`, bare hex, a global name) in the form the
    console reads: numbers become `:%08x`, names stay as they are."""
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        raise RemoteError(f"not an address: {text!r}")
    addr = parse_address(text)
    if isinstance(addr, int) and text.startswith(":"):
        return f":{addr:08x}"
    return text  # bare hex stays bare: the console adds the node's harbor


@dataclass
class RemoteNode:
    """One attached node: its name, its console connection, how cells reach its disk."""

    name: str
    client: ConsoleClient
    #: (local dir, the same dir as the node sees it), or None to use the temp dir when local.
    shared: tuple[Path, str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.client.address

    @property
    def same_host(self) -> bool:
        return is_loopback(self.client.host)

    def describe(self) -> str:
        state = "connected" if self.client.connected else "not connected"
        where = "same host" if self.same_host else "another host"
        share = f", shared {self.shared[0]} as {self.shared[1]}" if self.shared else ""
        return f"{self.name}\t{self.address}\t{state} ({where}{share}, timeout " \
               f"{self.client.timeout:g} s)"

    # --- console --------------------------------------------------------------------

    async def command(self, line: str, timeout: float | None = None) -> Answer:
        try:
            return await self.client.command(line, timeout)
        except ConsoleError as e:
            raise RemoteError(f"{self.name}: {e}") from None

    # --- files the node can read -----------------------------------------------------

    def _cell_file(self, text: str) -> tuple[Path, str]:
        """Write text where the node can read it: (local path, path as the node sees it)."""
        if self.shared is not None:
            local_dir, node_dir = self.shared
            fd, name = tempfile.mkstemp(prefix="skykernel-cell-", suffix=".lua",
                                        dir=local_dir)
            node_path = node_dir.rstrip("/") + "/" + os.path.basename(name)
        elif self.same_host:
            fd, name = tempfile.mkstemp(prefix="skykernel-cell-", suffix=".lua")
            node_path = name
        else:
            raise RemoteError(
                f"{self.name} ({self.address}) is on another host: skynet's inject reads the "
                "cell from a file on the node's side, and this kernel cannot write there. "
                "Reconnect with a directory both sides see, e.g. "
                f"`%connect {self.address} as {self.name} shared=/mnt/x as /srv/x` "
                "(local dir as the node's path), or run commands with "
                f"`%console {self.name} call ADDR ...`, which needs no file.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(name, 0o644)  # the node may run as another user
        return Path(name), node_path

    async def inject_text(self, address: str, chunk: str,
                          timeout: float | None = None) -> Answer:
        """`inject ADDR FILE` with chunk in a temp file, removed afterwards."""
        local, node_path = self._cell_file(chunk)
        try:
            if any(c.isspace() for c in node_path):
                raise RemoteError(f"the node-side path {node_path!r} has a space; the console "
                                  "splits commands on spaces")
            answer = await self.command(f"inject {address} {node_path}", timeout)
        finally:
            try:
                local.unlink()
            except OSError:
                pass
        if answer.ok and answer.lines == [f"Can't open {node_path}"]:
            hint = ("the node runs on this host but cannot read the kernel's temp dir (another "
                    "user, a container?); " if self.same_host else "")
            raise RemoteError(
                f"{self.name} could not read the cell's file {node_path}: {hint}connect with "
                f"`shared=LOCALDIR as NODEPATH` naming a directory both sides see")
        return answer

    async def run(self, address: str, source: str, *, session: str | None,
                  name: str | None = None, returns: bool = True, expression: bool = True,
                  nils: bool = True, reset: bool = False, track: bool = False,
                  repl: bool = False, timeout: float | None = None
                  ) -> tuple[InjectResult, str]:
        """Run source in the service at address through the notebook's RUN, carried by a
        wrapped chunk (`cell.wrap`): the result, and the handler swaps the chunk made
        (`track`; '' when none)."""
        wrapped = wrap(source, session=session, name=name, reset=reset, returns=returns,
                       expression=expression, nils=nils, track=track, repl=repl)
        answer = await self.inject_text(address, wrapped.chunk, timeout)
        if not answer.ok:
            # The inject itself failed: a bad address, a dead service, a compile error of
            # the wrapper. The console's position comes first; the rest is skynet's message.
            text = parse.strip_console_position(answer.text)
            result, swaps = read_reply(text, wrapped.marker)
            if result.ok:
                return InjectResult(False, "", text), ""
            return result, swaps
        return read_reply(answer.text, wrapped.marker)

    async def run_cell(self, address: str, source: str, *, session: str,
                       name: str | None = None, timeout: float | None = None
                       ) -> InjectResult:
        """A notebook cell: an expression's value comes back, globals persist per session."""
        result, _ = await self.run(address, source, session=session, name=name,
                                   timeout=timeout)
        return result

    async def services(self) -> tuple[list[str], list[list[str]]]:
        header, rows, _ = await self.services_report()
        return header, rows

    async def services_report(self) -> tuple[list[str], list[list[str]], list[str]]:
        """The services table, and a note for each answer that was too long to keep whole
        (rows of the cut part miss that answer's columns)."""
        lst = await self.command("list")
        mem = await self.command("mem")
        stat = await self.command("stat")
        notes = []
        for what, ans in (("list", lst), ("mem", mem), ("stat", stat)):
            if not ans.ok:
                raise RemoteError(f"{self.name}: `{what}` failed: "
                                  f"{parse.strip_console_position(ans.text)}")
            if ans.cut_lines:
                notes.append(f"`{what}`: {ans.note}")
        return (*parse.services(lst.lines, mem.lines, stat.lines), notes)


class Remotes:
    """The kernel's remote nodes by name."""

    def __init__(self) -> None:
        self.nodes: dict[str, RemoteNode] = {}

    def default_name(self) -> str:
        i = 1
        while f"node{i}" in self.nodes:
            i += 1
        return f"node{i}"

    async def connect(self, host: str, port: int, name: str | None = None, *,
                      shared: tuple[Path, str] | None = None, timeout: float = 60.0
                      ) -> RemoteNode:
        name = name or self.default_name()
        if not name.replace("_", "").replace("-", "").isalnum():
            raise RemoteError(f"a node name is letters, digits, - and _: {name!r}")
        if shared is not None and not shared[0].is_dir():
            raise RemoteError(f"shared directory {shared[0]} does not exist here")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise RemoteError(f"a timeout is a positive number of seconds, not {timeout:g}")
        # The timeout bounds dialling and the greeting too (never more than CONNECT_TIMEOUT).
        client = ConsoleClient(host, port, timeout=timeout,
                               connect_timeout=min(timeout, CONNECT_TIMEOUT))
        node = RemoteNode(name, client, shared)
        try:
            await client.connect()
        except ConsoleError as e:
            raise RemoteError(str(e)) from None
        old = self.nodes.pop(name, None)
        if old is not None:
            await old.client.close()
        self.nodes[name] = node
        return node

    async def disconnect(self, name: str) -> None:
        node = self.get(name)
        del self.nodes[name]
        await node.client.close()

    async def close_all(self) -> None:
        """Drop every node at once (kernel shutdown): connections are aborted rather than
        flushed, so a node that is dead or stopped reading cannot delay the others."""
        nodes = list(self.nodes.values())
        self.nodes.clear()
        await asyncio.gather(*(n.client.close(abort=True, wait=1.0) for n in nodes),
                             return_exceptions=True)

    def get(self, name: str) -> RemoteNode:
        node = self.nodes.get(name)
        if node is None:
            known = ", ".join(self.nodes) or "none (use %connect HOST:PORT as NAME)"
            raise RemoteError(f"no node named {name!r}; connected: {known}")
        return node

    def split(self, text: str) -> tuple[RemoteNode, str] | None:
        """`game1:.agent` -> (node game1, ".agent"); None for a local address.

        `:0000000b`, `.name`, bare hex and global names have no `NODE:` prefix."""
        head, colon, rest = text.strip().partition(":")
        if not colon or not head or "." in head:
            return None
        if not rest:
            raise RemoteError(f"usage: NODE:ADDR, e.g. {head}:.agent or {head}:0000000b")
        return self.get(head), remote_address(rest)

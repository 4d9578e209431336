"""The debug console's network side: a TCP line server on the node's asyncio loop.

The `debug_console` service asks the node (node command `CONSOLE start`) to listen for
it, on the node's asyncio loop (the console came before skynet.socket, node/net/, and the
kernel and remote clients rely on its answers as they are). This side only moves bytes: each line
goes to the service as a `lua` message and its reply goes back on the socket. Every
command runs in Lua, inside the service, as in skynet, so `nc` feels the same.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from typing import TYPE_CHECKING, Any

from .errors import CallError

if TYPE_CHECKING:
    from .node import Node
    from .service import LuaService

LINE_LIMIT = 16 * 1024 * 1024
"""A longer line closes the connection (skynet's readline has no limit; we need one)."""

HEADER_LIMIT = 8192
"""Bytes of HTTP request headers read after a `GET ` line (skynet's httpd limit)."""

_fds = itertools.count(1)


class Console:
    """One listening socket serving one debug_console service."""

    def __init__(self, node: Node, handle: int, sock: socket.socket) -> None:
        self.node = node
        self.handle = handle
        self.sock = sock
        self.server: asyncio.Server | None = None
        self.clients: dict[int, dict[str, Any]] = {}
        self.port: int = sock.getsockname()[1]

    async def serve(self) -> None:
        self.server = await asyncio.start_server(self._client, sock=self.sock, limit=LINE_LIMIT)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        else:
            self.sock.close()

    async def _ask(self, *args: Any) -> tuple[Any, ...]:
        return await self.node.call(self.handle, "lua", *args)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fd = next(_fds)
        peer = writer.get_extra_info("peername")
        stat = {"address": f"{peer[0]}:{peer[1]}" if peer else "?", "read": 0, "write": 0}
        self.clients[fd] = stat
        try:
            (greeting,) = await self._ask("open", fd, stat["address"])
            writer.write(greeting)
            stat["write"] += len(greeting)
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    break  # cut off mid-line: skynet's readline drops the partial line
                except asyncio.LimitOverrunError:
                    writer.write(b"Line too long\n<CMD Error>\n")
                    break
                stat["read"] += len(line)
                line = line[:-1]
                if line.startswith(b"GET "):
                    await _drain_headers(reader)
                try:
                    text, close = await self._ask("line", fd, line)
                except CallError:
                    if self.node.handles.resolve(self.handle) is None:
                        raise  # the service is gone
                    # its handler failed outside the command (a signal, a kill of one of
                    # its tasks): this line gets an error, the console goes on
                    text, close = b"the console failed to run this command\n<CMD Error>\n", False
                writer.write(text)
                stat["write"] += len(text)
                await writer.drain()
                if close:
                    break
        except CallError:
            self.close()  # the service is gone: so is its console
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # the peer went away, or the loop is closing
        finally:
            self.clients.pop(fd, None)
            try:
                self.node.send(self.handle, "lua", "close", fd)
            except CallError:
                pass
            writer.close()


async def _drain_headers(reader: asyncio.StreamReader) -> None:
    """Read an HTTP request's headers so that closing does not reset the reply."""
    total = 0
    while total < HEADER_LIMIT:
        try:
            line = await reader.readuntil(b"\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        total += len(line)
        if line.strip() == b"":
            return


def start(node: Node, handle: int, ip: str, port: int) -> Console:
    """Bind now (so the port is known at once), serve from the node's loop."""
    sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((ip, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    console = Console(node, handle, sock)
    node.consoles.append(console)
    # asked for by a service on a worker thread: the listener lives on the node's loop
    node.call_soon(console.serve)
    return console


def consoles(node: Node) -> list[Console]:
    return list(node.consoles)


def close_all(node: Node) -> None:
    """Stop every console of a node (the node's shutdown should call this)."""
    every, node.consoles = node.consoles, []
    for console in every:
        console.close()


def command(node: Node, svc: LuaService, op: str, *args: Any) -> Any:
    """The node command `CONSOLE op ...` that the debug_console service uses."""
    if op == "start":
        ip, port = args
        return start(node, svc.handle, ip.decode(), int(port)).port
    if op == "netstat":
        rows = []
        for c in consoles(node):
            rows.append({"id": 0, "type": "LISTEN", "address": f":{c.port}",
                         "sock": f"{c.sock.getsockname()}", "service": c.handle})
            for fd, st in c.clients.items():
                rows.append({"id": fd, "type": "TCP", "address": c.handle,
                             "sock": st["address"], "read": st["read"], "write": st["write"]})
        from . import seri
        return seri.pack(rows)
    if op == "stop":
        for c in consoles(node):
            if c.handle == svc.handle:
                c.close()
        return None
    raise ValueError(f"unknown CONSOLE op {op}")


async def run_command(node: Node, line: str) -> str:
    """One console command against this node, answered as the console would answer it.

    The node's own `debug_console none` service (started on first use, listening on
    nothing) runs it, so the answer is exactly what `nc` would show, minus the socket.
    """
    handle = node.handles.names.get(".console")
    if handle is None:
        handle = await node.newservice("debug_console", "none")
        node.handles.bind_name(".console", handle)
    text, _close = await node.call(handle, "lua", "line", 0, line.encode())
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)

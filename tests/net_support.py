"""Helpers for the network tests: a node running on a thread of its own, so a test can be
a plain blocking TCP client of it, and counting the process's open descriptors.

(No tests here: the tests in tests/net/ import it.)
"""

from __future__ import annotations

import asyncio
import os
import socket
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

from conftest import Tree, messages

from skykernel.node.node import Node


def open_sockets() -> set[str]:
    """The sockets this process has open, by identity (`socket:[inode]`). A leak check
    compares sets: a count would also move when an earlier test's socket is collected."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor, for one)
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeThread:
    """A node booted on `start`, its asyncio loop on a thread; the test thread is free
    to block on sockets while the node serves them."""

    def __init__(self, tree: Tree, start: str = "main", config: str = "", **kwargs: Any):
        self.node: Node = tree.node(f'start = "{start}"\n' + config, **kwargs)
        self._seen = threading.Condition()
        self.node.logger.sinks.append(self._on_line)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="test-node-loop")

    def _on_line(self, line: Any) -> None:
        with self._seen:
            self._seen.notify_all()

    def __enter__(self) -> NodeThread:
        self.thread.start()
        self.run(self.node.start(), 60)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.loop.is_closed():
            return  # stopped already (a test that takes a node away)
        try:
            self.run(self.node.shutdown(), 60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
            print("\n".join(str(line) for line in self.node.logger.history))

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, address: int | str, *args: Any, timeout: float = 30) -> tuple[Any, ...]:
        return self.run(self.node.call(address, "lua", *args), timeout)

    def lines(self) -> list[str]:
        return messages(self.node)

    def wait_log(self, pred: str | Callable[[str], bool], timeout: float = 30) -> str:
        """The first log line containing `pred` (or satisfying it); fails after timeout."""
        test = (lambda t: pred in t) if isinstance(pred, str) else pred
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for text in self.lines():
                    if test(text):
                        return text
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line {pred!r} within {timeout} s; log:\n"
                                         + "\n".join(self.lines()[-40:]))
                self._seen.wait(min(left, 0.5))

    def wait_port(self, marker: str = "PORT", timeout: float = 30) -> int:
        """A service logs `PORT <n>`: the port it listens on."""
        line = self.wait_log(lambda t: t.startswith(marker + " "), timeout)
        return int(line.split()[1])


def connect(port: int, timeout: float = 10) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def recv_exact(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def recv_all(s: socket.socket) -> bytes:
    """Until the peer closes."""
    parts = []
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def send_packet(s: socket.socket, payload: bytes) -> None:
    s.sendall(len(payload).to_bytes(2, "big") + payload)


def recv_packet(s: socket.socket) -> bytes:
    size = int.from_bytes(recv_exact(s, 2), "big")
    return recv_exact(s, size)


def wait_until(pred: Callable[[], bool], timeout: float = 30,
               what: str | Callable[[], str] = "") -> None:
    """Poll pred; `what` (or what it returns, read at the timeout) says what failed."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            text = what() if callable(what) else what
            raise AssertionError(f"timed out waiting for {text or pred}")
        time.sleep(0.02)


def small_window_client(port: int) -> socket.socket:
    """A client with a small receive window (set before connecting, so it holds): the
    kernel buffers little, the rest queues in the node."""
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.settimeout(30)
    c.connect(("127.0.0.1", port))
    return c


def accepting_service(on_accept: str) -> str:
    """A service's Lua: it listens on 127.0.0.1 (a free port), starts each connection it
    accepts, as `id`, and runs the Lua `on_accept` there; it logs `PORT <port>` for
    NodeThread.wait_port."""
    body = textwrap.indent(textwrap.dedent(on_accept).strip("\n"), "\t\t")
    return ('local skynet = require "skynet"\n'
            'local socket = require "skynet.socket"\n'
            "skynet.start(function()\n"
            '\tlocal lid, _, port = socket.listen("127.0.0.1", 0)\n'
            "\tsocket.start(lid, function(id)\n"
            "\t\tsocket.start(id)\n"
            f"{body}\n"
            "\tend)\n"
            '\tskynet.error("PORT " .. port)\n'
            "end)\n")

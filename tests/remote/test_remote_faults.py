"""Remote nodes that misbehave: dead, stopped, silent, or answering far too much.

Everything here is real: `skykernel run` nodes in their own processes, the kernel over
ZeroMQ, and, where a node must do what no healthy node does (never greet, answer 10 MB,
send one 20 MB line), a console server on 127.0.0.1 in this process that speaks the debug
console's line protocol. Time bounds are generous; nothing here measures speed.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_client import text
from remote_node import NodeProcess, write_node_tree

from skykernel.remote import parse
from skykernel.remote.client import (
    ANSWER_HEAD,
    ANSWER_TAIL,
    AnswerTooLong,
    CommandTimeout,
    ConsoleClient,
)
from skykernel.remote.session import RemoteError, Remotes


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[Any]:
    procs: list[NodeProcess] = []

    def make() -> NodeProcess:
        root = tmp_path / f"node{len(procs) + 1}"
        root.mkdir()
        write_node_tree(root)
        procs.append(NodeProcess(root))
        return procs[-1]

    try:
        yield make
    finally:
        for p in procs:
            p.kill()  # SIGKILL ends a stopped process too


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    cwd = tmp_path / "kernel"
    cwd.mkdir()
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def run(kc: Any, code: str, timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute; return the reply content and the iopub messages of that request.

    stop_on_error=False: after an error reply ipykernel 7 aborts requests that its shell
    channel thread forwards before its own "stop aborting" note, and on a busy machine the
    next cell can be among them; these tests look at each cell's outcome on its own."""
    msg_id = kc.execute(code, stop_on_error=False)
    reply = _reply_to(kc, msg_id, timeout)
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        outputs.append(msg)
    return reply, outputs


def _reply_to(kc: Any, msg_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]


def _control_reply(kc: Any, msg_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_control_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


# --- shutdown and restart with remote nodes attached ---------------------------------------


@pytest.mark.parametrize("restart", [False, True], ids=["shutdown", "restart"])
def test_shutdown_and_restart_reply_with_live_dead_and_stopped_nodes(
        kernel, node_factory, restart: bool) -> None:
    km, kc = kernel
    live, dead, stopped = node_factory(), node_factory(), node_factory()
    for name, proc in (("live", live), ("dead", dead), ("stopped", stopped)):
        reply, out = run(kc, f"%connect 127.0.0.1:{proc.port} as {name}")
        assert reply["status"] == "ok", (reply, out)
    reply, out = run(kc, "%console live list")
    assert reply["status"] == "ok" and "debug_console" in text(out)
    dead.kill()
    # A stopped process still has its socket: TCP is accepted, nothing ever answers.
    os.kill(stopped.proc.pid, signal.SIGSTOP)
    # a cell left waiting on the stopped node
    kc.execute("%console stopped list", stop_on_error=False)
    kernel_proc = km.provisioner.process

    msg_id = kc.shutdown(restart=restart)
    reply = _control_reply(kc, msg_id, timeout=20)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"] == {"status": "ok", "restart": restart}
    assert kernel_proc.wait(30) == 0  # it exits by itself, cleanly (it used to stay)


# --- a console server on 127.0.0.1 for what no healthy node does --------------------------


class ConsoleServer:
    """Speaks the debug console's line protocol on 127.0.0.1, with answers made to order:

    `text N`: N bytes of 100-byte lines (`000000000 ...`, numbered); `list N`: N bytes of
    `list`-shaped lines; `list`, `mem`, `stat`: a node of 40,000 services (2-3 MB each);
    `line N`: one line of N bytes; `forever`: lines until the client
    hangs up; `hang`: nothing, ever; `echo WORDS`: WORDS. With greet=False it accepts and
    never writes a byte.
    """

    def __init__(self, greet: bool = True) -> None:
        self.greet = greet
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.hung_up = threading.Event()  # a client closed its connection
        self.received: queue.Queue[str] = queue.Queue()  # every command line, in order
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.set()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                if not self.greet:
                    while conn.recv(4096):  # hold it open, say nothing
                        pass
                    self.hung_up.set()
                    return
                conn.sendall(b"Welcome to skynet console\n")
                for raw in conn.makefile("rb"):
                    self.received.put(raw.decode().strip())
                    word, _, arg = raw.decode().strip().partition(" ")
                    if not self._answer(conn, word, arg):
                        break
                self.hung_up.set()
            except OSError:
                self.hung_up.set()  # the client reset the connection mid-answer

    def _answer(self, conn: socket.socket, word: str, arg: str) -> bool:
        if word in ("list", "mem", "stat") and not arg:
            shape = {"list": ":{:08x}\tsnlua svc{} with its launch arguments, long enough\n",
                     "mem": ":{:08x}\t47.60 Kb (snlua svc{} with its launch arguments)\n",
                     "stat": ":{:08x}\tcpu:0.000182\tmessage:{}\tmqlen:0\ttask:0\n"}[word]
            text = "".join(shape.format(i, i) for i in range(40_000))
            conn.sendall(text.encode() + b"<CMD OK>\n")
        elif word in ("text", "list"):
            size, i, chunk = int(arg), 0, []
            while i * 100 < size:
                if word == "text":
                    chunk.append(f"{i:09d} ".ljust(99, ".") + "\n")
                else:
                    chunk.append(f":{i:08x}\tsnlua svc{i}".ljust(99) + "\n")
                i += 1
                if len(chunk) == 1000:
                    conn.sendall("".join(chunk).encode())
                    chunk = []
            conn.sendall("".join(chunk).encode() + b"<CMD OK>\n")
        elif word == "line":
            conn.sendall(b"y" * int(arg) + b"\n<CMD OK>\n")
        elif word == "forever":
            block = ("z" * 99 + "\n").encode() * 1000
            while True:  # about 10 MB/s, until the client hangs up (sendall raises)
                conn.sendall(block)
                time.sleep(0.01)
        elif word == "hang":
            pass
        elif word == "echo":
            conn.sendall(arg.encode() + b"\n<CMD OK>\n")
        else:
            conn.sendall(b"Invalid command\n<CMD Error>\n")
        return True


@pytest.fixture
def server() -> Iterator[ConsoleServer]:
    s = ConsoleServer()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def silent() -> Iterator[ConsoleServer]:
    s = ConsoleServer(greet=False)
    try:
        yield s
    finally:
        s.close()


def _client(port: int, body: Any, timeout: float = 60) -> None:
    async def main() -> None:
        c = ConsoleClient("127.0.0.1", port, timeout=timeout)
        try:
            await asyncio.wait_for(body(c), 120)
        finally:
            await c.close()

    asyncio.run(main())


# --- long answers ------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_10_mb_answer_is_read_whole_and_kept_head_and_tail_with_a_note(server) -> None:
    size = 10_000_000
    total = size // 100

    async def body(c: ConsoleClient) -> None:
        started = time.monotonic()
        answer = await c.command(f"text {size}")
        assert parse.table("text", answer.lines) is None  # plain text, read in linear time
        head = answer.lines[:answer.cut_at]
        tail = answer.lines[answer.cut_at:]
        assert answer.ok and head and tail
        assert head[0].startswith("000000000 ") and tail[-1].startswith(f"{total - 1:09d} ")
        assert len(head) + len(tail) + answer.cut_lines == total  # every line accounted for
        assert answer.cut_bytes == answer.cut_lines * 100
        kept = sum(len(line) + 1 for line in answer.lines)
        assert kept <= ANSWER_HEAD + ANSWER_TAIL
        # the note stands where the lines were cut, and says how much
        lines = answer.text.split("\n")
        assert lines[len(head)] == answer.note
        assert f"[... {answer.cut_lines} lines (" in answer.note
        assert lines[len(head) + 1] == tail[0]
        shaped = parse.table("list", (await c.command(f"list {size}")).lines)
        assert shaped is not None and shaped[0] == ["address", "service"]
        assert shaped[1][0][0] == ":00000000" and shaped[1][0][1].startswith("snlua svc0 ")
        assert time.monotonic() - started < 30  # it used to never return
        assert (await c.command("echo still in step")).lines == ["still in step"]
        assert c.connects == 1

    _client(server.port, body)


def test_a_line_over_the_limit_is_our_error_and_the_next_command_reconnects(server) -> None:
    async def body(c: ConsoleClient) -> None:
        with pytest.raises(AnswerTooLong) as e:
            await c.command("line 20000000")
        message = str(e.value)
        assert "longer than 8.0 MB" in message and "Separator" not in message
        assert "reset" in message and not c.connected
        assert (await c.command("echo next")).lines == ["next"]
        assert c.connects == 2

    _client(server.port, body)


def test_the_timeout_bounds_an_answer_that_never_ends(server) -> None:
    async def body(c: ConsoleClient) -> None:
        with pytest.raises(CommandTimeout, match="within 2 s"):
            await c.command("forever", timeout=2)
        assert not c.connected
        assert (await c.command("echo after")).lines == ["after"]

    _client(server.port, body)
    assert server.hung_up.wait(30)  # the endless answer's connection was closed


# --- a port that accepts and never greets -----------------------------------------------


def test_connect_timeout_bounds_the_greeting(silent) -> None:
    async def main() -> None:
        remotes = Remotes()
        started = time.monotonic()
        with pytest.raises(RemoteError) as e:
            await remotes.connect("127.0.0.1", silent.port, "mute", timeout=2)
        waited = time.monotonic() - started
        assert "accepted the connection but sent no greeting within 2 s" in str(e.value)
        assert waited < 9  # the greeting used to be awaited 10 s whatever the timeout
        assert not remotes.nodes

    asyncio.run(main())
    assert silent.hung_up.wait(30)  # and the half-open connection was closed


# --- the same over the kernel -------------------------------------------------------------


def _interrupt_request(kc: Any) -> None:
    """The protocol's interrupt_request (the kernel then signals itself)."""
    kc.control_channel.send(kc.session.msg("interrupt_request", {}))


def test_console_huge_answers_and_long_lines_in_the_kernel(kernel, server) -> None:
    _, kc = kernel
    reply, out = run(kc, f"%connect 127.0.0.1:{server.port} as big")
    assert reply["status"] == "ok", (reply, out)

    reply, out = run(kc, "%console big text 10000000", timeout=30)  # used to never return
    shown = text(out)
    assert reply["status"] == "ok", reply
    assert shown.startswith("000000000 ") and "\n000099999 " in shown
    assert re.search(r"\n\[\.\.\. \d+ lines \(8\.\d MB\) of this answer cut: the client keeps its "
                     r"first 768 KB and its last 128 KB \.\.\.\]\n\d{9} ", shown)

    reply, out = run(kc, "%console big list 10000000", timeout=30)
    assert reply["status"] == "ok", reply
    assert text(out).startswith("address") and "of this answer cut" in text(out)

    reply, out = run(kc, "%services big", timeout=30)
    assert reply["status"] == "ok", reply
    shown = text(out)
    assert shown.startswith("big (127.0.0.1:") and "\n:00000000  svc0 with its" in shown
    for what in ("list", "mem", "stat"):
        assert f"\n`{what}`: [... " in shown  # each cut answer says so

    reply, out = run(kc, "%console big line 20000000", timeout=30)
    assert reply["status"] == "error"
    assert "longer than 8.0 MB" in reply["evalue"] and "Separator" not in reply["evalue"]
    reply, out = run(kc, "%console big echo recovered")
    assert reply["status"] == "ok" and text(out) == "recovered\n"


def test_an_interrupt_ends_a_console_command_waiting_for_an_answer(kernel, server) -> None:
    _, kc = kernel
    reply, out = run(kc, f"%connect 127.0.0.1:{server.port} as big")
    assert reply["status"] == "ok", (reply, out)
    # the node's timeout (60 s) would end this; the interrupt must end it first
    msg_id = kc.execute("%console big hang", stop_on_error=False)
    while server.received.get(timeout=30) != "hang":
        pass  # now the kernel waits for the answer
    _interrupt_request(kc)
    reply = _reply_to(kc, msg_id, timeout=30)
    assert reply["status"] == "error" and reply["evalue"].startswith(
        "interrupted: stopped waiting for big")
    reply, out = run(kc, "%console big echo again")
    assert reply["status"] == "ok" and text(out) == "again\n", (reply, out)


def test_connect_to_a_port_that_never_greets_obeys_its_timeout(kernel, silent) -> None:
    _, kc = kernel
    reply, out = run(kc, f"%connect 127.0.0.1:{silent.port} as mute timeout=2")
    assert reply["status"] == "error"
    assert reply["evalue"] == (f"127.0.0.1:{silent.port} accepted the connection but sent no "
                               "greeting within 2 s (is a skynet debug_console listening "
                               "there?)")
    reply, out = run(kc, "%nodes")
    assert "no remote nodes" in text(out)


def test_an_interrupt_ends_a_connect_waiting_for_a_greeting(kernel, silent) -> None:
    km, kc = kernel
    msg_id = kc.execute(f"%connect 127.0.0.1:{silent.port} as mute timeout=30",
                        stop_on_error=False)
    assert silent.accepted.wait(30)  # connected: the kernel now waits for the greeting
    km.interrupt_kernel()  # SIGINT, as the stop button sends it
    reply = _reply_to(kc, msg_id, timeout=30)
    assert reply["status"] == "error"
    assert reply["evalue"] == (f"interrupted: %connect 127.0.0.1:{silent.port} stopped; "
                               "nothing was attached")
    assert "Traceback" not in "".join(reply["traceback"])

    assert silent.hung_up.wait(30)  # the half-open connection was closed

    reply, out = run(kc, "return 1 + 1")
    assert reply["status"] == "ok"
    reply, out = run(kc, "%nodes")
    assert "no remote nodes" in text(out)

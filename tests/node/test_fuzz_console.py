"""Property tests for the debug console's line protocol, over real TCP on 127.0.0.1.

One node runs for the module on a thread of its own (its asyncio loop, its Lua states);
the tests talk to its console with plain blocking sockets, as `nc` would. Whatever a
client sends, each complete line gets an answer ending `<CMD OK>` or `<CMD Error>` (a
`GET` line: that answer, then the console closes), nothing hangs, and the node answers
`list` afterwards.

Lines that would legitimately stop the node's own services (`kill`/`exit` of any
address, the debug commands `EXIT`, `TERM`, `LINK`, ...) are left to the console's own
tests; here they are only aimed at a scratch service. Requests to a service that never
answers one (the logger, the node's Python client) are left out too: real skynet's
console waits for ever on `ping 1` as well. `make fuzz` (SKYKERNEL_FUZZ=long) runs many
more examples and 50 clients for 20 s.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skykernel.node import console
from skykernel.node.config import load_config
from skykernel.node.logger import Logger
from skykernel.node.node import Node
from skykernel.node.service import PyService

LONG = os.environ.get("SKYKERNEL_FUZZ") == "long"
SERVICES = Path(__file__).resolve().parents[1] / "services_debug" / "service"
ANSWER_TIMEOUT = 30.0  # seconds: far above any answer, so only a hang trips it
ENDS = (b"<CMD OK>", b"<CMD Error>")


def fuzz_settings(quick: int, long: int) -> settings:
    return settings(max_examples=long if LONG else quick, derandomize=not LONG,
                    database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# --- a node on its own thread --------------------------------------------------------

class NodeThread:
    """A node whose asyncio loop runs on a daemon thread; tests block on sockets."""

    def __init__(self, root: Path) -> None:
        shutil.copytree(SERVICES, root / "service")
        cfg = root / "config"
        cfg.write_text(f'luaservice = "{root}/service/?.lua"\nharbor = 0\n'
                       f'lua_path = "{root}/service/?.lua"\nstart = "idle"\n')
        self.node = Node(load_config(str(cfg)), logger=Logger())
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.run(self.node.start())
        self.cmdsvc: int = self.run(self.node.newservice("cmdsvc"))
        self.run(self.node.newservice("debug_console", 0))
        [line] = [ln.text for ln in self.node.logger.history if "Start debug console" in ln.text]
        self.port = int(line.rsplit(":", 1)[1])
        # Services that never answer a request: a call to one waits for ever, in skynet too.
        handles = self.node.handles
        self.silent = {h for h, svc in handles.services.items() if isinstance(svc, PyService)}
        self.silent_names = {n.encode() for n, h in handles.names.items() if h in self.silent}

    def harmless(self, line: bytes) -> bool:
        """Whether a line neither stops the node's services nor waits for ever by design."""
        words = effective(line).split()
        if words and words[0] in (b"kill", b"exit", b"signal"):
            return False  # signal breaks whatever the service runs, any client's command
        if any(w in line for w in HARMFUL_WORDS):
            return False
        if len(words) > 1 and words[0] in ADDRESS_COMMANDS:
            return words[1] not in self.silent_names and not (readings(words[1]) & self.silent)
        return True

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def stop() -> None:
            console.close_all(self.node)
            await self.node.shutdown()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeThread]:
    nt = NodeThread(tmp_path_factory.mktemp("console_fuzz"))
    try:
        yield nt
        assert_lists(nt)  # after everything, the node still serves
        crashed = [ln.text for ln in nt.node.logger.history if "scheduler error" in ln.text]
        assert crashed == []
    finally:
        nt.close()


class Client:
    """One console connection read line by line, with a timeout on every read."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_TIMEOUT)
        self.file = self.sock.makefile("rb")
        assert self.readline() == b"Welcome to skynet console\n"

    def readline(self) -> bytes:
        try:
            return self.file.readline()
        except TimeoutError:
            raise AssertionError(f"no answer within {ANSWER_TIMEOUT:g} s") from None

    def answer(self) -> list[bytes]:
        """The lines of one answer, up to and including its <CMD ...> line."""
        out = []
        while True:
            got = self.readline()
            assert got.endswith(b"\n"), f"connection closed mid-answer; so far {out}"
            out.append(got[:-1])
            if got[:-1] in ENDS:
                return out

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, line: bytes) -> list[bytes]:
        self.send(line + b"\n")
        return self.answer()

    def closed_by_peer(self) -> bool:
        try:
            return self.readline() == b""
        except ConnectionResetError:
            return False

    def close(self, reset: bool = False) -> None:
        if reset:  # an abrupt close: RST instead of FIN
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.file.close()
        self.sock.close()


def assert_lists(nt: NodeThread) -> None:
    c = Client(nt.port)
    listing = c.cmd(b"list")
    assert listing[-1] == b"<CMD OK>", listing
    assert f":{nt.cmdsvc:08x}\tsnlua cmdsvc".encode() in listing
    c.close()


# --- lines ---------------------------------------------------------------------------

# Commands that stop services or wait for ever, by design: kept out of random lines.
HARMFUL_WORDS = (b"EXIT", b"TERM", b"LINK", b"KILL", b"REMOTEDEBUG", b"block")


def effective(line: bytes) -> bytes:
    """The command the console runs for a line (a GET line's path, slashes as spaces)."""
    if line.startswith(b"GET "):
        m = re.match(rb"GET\s+(\S+)", line)
        return (m.group(1) if m else b"/")[1:].replace(b"/", b" ")
    return line


# Commands whose first argument is an address they send a request to.
ADDRESS_COMMANDS = (b"info", b"ping", b"call", b"dbgcmd", b"task", b"uniqtask", b"killtask",
                    b"trace", b"inject")


def readings(word: bytes) -> set[int]:
    """Every handle the console might read an address word as, generously: `:hex`, bare
    hex, and the hex floats Lua's tonumber also takes (`1.`, `1p0`)."""
    text = word.decode("latin-1").removeprefix(":")
    out = set()
    for parse in (lambda t: int(t, 16), lambda t: int(float.fromhex("0x" + t))):
        try:
            out.add(parse(text))
        except (ValueError, OverflowError):
            pass
    return out


def corpus(svc: int) -> list[bytes]:
    """Valid lines and near misses, aimed at cmdsvc or at addresses nobody holds."""
    lines = ["help", "list", "stat", "mem", "gc", "service", "netstat", "codecache",
             "codecache stale", "purge", "clearcache", "getenv start", "setenv fuzzkey 1",
             "info {a}", "info {a} 1 2", "ping {a}", "ping .cmdsvc", "ping :{a8}",
             "task {a}", "task {a} 3", "uniqtask {a}", "killtask {a} thread:0x0",
             "dbgcmd {a} SUPPORT lua", "dbgcmd {a} PING", "dbgcmd {a} MEM", "dbgcmd {a} GC",
             "dbgcmd {a} STAT", "dbgcmd {a} INFO", "dbgcmd {a} TASK", "dbgcmd {a} NOSUCH",
             "trace {a} on", "trace {a} lua off", "logon {a}", "logoff {a}",
             "signal {a} 1", "inject {a} missing.lua", "inject {a} /", "inject {a} .",
             "call {a} 'echo', 1, {{x=2}}", "call {a} 'get'", "call {a} 'nosuch'",
             "call {a} error('x')", "call {a} ({{}})[1].x", "call {a}", "call {a} +",
             "start nosuchservice", "log nosuchservice", "snax nosuchsnax",
             "GET /list", "GET /ping/{a}", "GET /getenv/start HTTP/1.1", "GET", "GET /",
             "nosuch", "   ", "\r", "list\r", "ping 7777", "info .nosuch", "ping :"]
    return [ln.format(a=f"{svc:x}", a8=f"{svc:08x}").encode() for ln in lines]


TOKENS = [b"list", b"stat", b"mem", b"ping", b"info", b"call", b"dbgcmd", b"task", b"trace",
          b"getenv", b"setenv", b"inject", b"start", b"help", b"codecache", b"GET", b"/",
          b".cmdsvc", b":", b"0", b"-1", b"ffffffff", b"1e999", b"'echo',", b"{", b"}", b"..",
          b"\x00", b"\xff", b"\t", b"\r", b"%s", b"%", b"nil", b"true", b"(", b")", b"\"",
          b"'", b"\\", b"=", b"::", b"SUPPORT", b"PING", b"on", b"off"]


def lines(node: NodeThread) -> st.SearchStrategy[bytes]:
    """One line without its newline: mutated corpus lines, random tokens, junk, long."""
    svc = node.cmdsvc
    base = corpus(svc)
    addr = st.sampled_from([f"{svc:x}".encode(), f":{svc:08x}".encode(), b".cmdsvc",
                            b"7777", b":ffffffff", b".nosuch", b"x"])
    tokens = st.one_of(st.sampled_from(TOKENS), addr, st.binary(max_size=6))

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        w = bytearray(draw(st.sampled_from(base)))
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(w)))
            op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "token"]))
            if op == "flip" and i < len(w):
                w[i] ^= draw(st.integers(1, 255))
            elif op == "insert":
                w[i:i] = draw(st.binary(min_size=1, max_size=6))
            elif op == "delete":
                del w[i:i + draw(st.integers(1, 6))]
            elif op == "cut":
                del w[i:]
            elif op == "token":
                w[i:i] = b" " + draw(tokens) + b" "
        return bytes(w)

    long = st.builds(lambda b, n: (b or b"x") * (n // max(len(b), 1)),
                     st.binary(min_size=1, max_size=8),
                     st.integers(1_000, 4_000_000 if LONG else 200_000))
    line = st.one_of(st.sampled_from(base), mutated(),
                     st.lists(tokens, min_size=1, max_size=8).map(b" ".join),
                     st.binary(max_size=300), long)
    return line.map(lambda b: b.replace(b"\n", b"")).filter(node.harmless)


def check_session(c: Client, batch: list[bytes], pipelined: bool) -> None:
    """Send lines (all in one write, or one by one) and check each one's answer."""
    gets = [i for i, ln in enumerate(batch) if ln.startswith(b"GET ")]
    if gets:  # the lines after a GET line would be its headers, and it closes
        batch = batch[:gets[0] + 1]

    def wire(ln: bytes) -> bytes:  # a GET request ends with a blank line
        return ln + (b"\n\r\n" if ln.startswith(b"GET ") else b"\n")

    if pipelined:
        c.send(b"".join(map(wire, batch)))
    for ln in batch:
        if not pipelined:
            c.send(wire(ln))
        if ln == b"":
            continue  # an empty line answers nothing, as in skynet
        assert c.answer()[-1] in ENDS
        if ln.startswith(b"GET "):
            assert c.closed_by_peer()


# --- properties ----------------------------------------------------------------------

@fuzz_settings(quick=30, long=3_000)
@given(data=st.data())
def test_lines_are_answered(node: NodeThread, data: st.DataObject) -> None:
    batch = data.draw(st.lists(lines(node), min_size=1, max_size=4), label="lines")
    pipelined = data.draw(st.booleans(), label="pipelined")
    c = Client(node.port)
    try:
        check_session(c, batch, pipelined)
    finally:
        c.close()
    assert_lists(node)


@fuzz_settings(quick=20, long=2_000)
@given(data=st.data())
def test_cut_off_clients_leave_the_console_up(node: NodeThread, data: st.DataObject) -> None:
    """Half a line, a line whose answer nobody reads, then a close (FIN or RST)."""
    line = data.draw(lines(node), label="line")
    cut = data.draw(st.integers(0, len(line)), label="cut")
    whole = data.draw(st.booleans(), label="whole line")
    reset = data.draw(st.booleans(), label="reset")
    other = Client(node.port)
    c = Client(node.port)
    c.send(line + b"\n" if whole else line[:cut])
    c.close(reset=reset)
    assert other.cmd(b"list")[-1] == b"<CMD OK>"
    other.close()
    assert_lists(node)


@fuzz_settings(quick=10, long=500)
@given(word=st.sampled_from([b"kill", b"exit"]), form=st.sampled_from(["{:x}", ":{:08x}"]),
       junk=st.lists(st.sampled_from(TOKENS), max_size=3))
def test_kill_and_exit_a_scratch_service(node: NodeThread, word: bytes, form: str,
                                         junk: list[bytes]) -> None:
    """kill and exit, kept out of the random lines, aimed at a service started for them."""
    c = Client(node.port)
    started = c.cmd(b"start idle")
    assert started[-1] == b"<CMD OK>", started
    addr = started[0].split(b"\t")[0].decode()
    handle = int(addr[1:], 16)
    answer = c.cmd(b" ".join([word, form.format(handle).encode(), *junk]))
    assert answer[-1] == b"<CMD OK>", answer
    node.run(node.node.wait_idle())
    assert f"{addr}\tsnlua idle".encode() not in c.cmd(b"list")
    c.close()


def test_a_line_over_the_limit_closes_only_that_connection(node: NodeThread) -> None:
    other = Client(node.port)
    c = Client(node.port)
    # The console answers `Line too long` and closes; closing with our bytes unread
    # may reset the connection before we read that answer, so either ending is fine.
    try:
        c.send(b"x" * (console.LINE_LIMIT + 1))
        assert c.answer() == [b"Line too long", b"<CMD Error>"]
        assert c.closed_by_peer()
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.close()
    assert other.cmd(b"list")[-1] == b"<CMD OK>"
    other.close()


def test_many_clients_at_once(node: NodeThread) -> None:
    """Concurrent clients sending random lines: every answer framed, no error."""
    clients, seconds = (50, 20.0) if LONG else (4, 0.5)
    pool = [ln for ln in corpus(node.cmdsvc) if node.harmless(ln) and not ln.startswith(b"GET")]
    counts = [0] * clients
    errors: list[str] = []

    def work(i: int) -> None:
        rnd = random.Random(i)
        deadline = time.monotonic() + seconds
        try:
            c = Client(node.port)
            while time.monotonic() < deadline:
                ln = bytearray(rnd.choice(pool))
                if rnd.random() < 0.3 and ln:
                    ln[rnd.randrange(len(ln))] = rnd.choice(b" x\x00\xff:.")
                if ln.strip() == b"" or not node.harmless(bytes(ln)):
                    continue
                if c.cmd(bytes(ln))[-1] not in ENDS:
                    errors.append(f"client {i}: bad answer to {bytes(ln)!r}")
                counts[i] += 1
            c.close()
        except Exception as e:  # noqa: BLE001 - every failure is reported below
            errors.append(f"client {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    assert errors == []
    assert all(n > 0 for n in counts)
    print(f"\nconsole soak: {clients} clients, {seconds:g} s, {sum(counts)} lines, 0 errors")
    assert_lists(node)

"""The debug console over real TCP on 127.0.0.1: skynet's line protocol and commands."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from skykernel.node import console
from skykernel.node.node import Node

SERVICES = Path(__file__).resolve().parents[1] / "services_debug" / "service"
CONFIG = 'start = "idle"\nlua_path = "./service/?.lua"\n'


class Client:
    """A console connection, read the way a person reads `nc` output."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        client = cls(r, w)
        assert await r.readline() == b"Welcome to skynet console\n"
        return client

    async def cmd(self, line: str | bytes) -> list[str]:
        """Send one line; return the answer's lines up to and including <CMD ...>."""
        data = line if isinstance(line, bytes) else line.encode()
        self.writer.write(data + b"\n")
        out = []
        while True:
            got = await self.reader.readline()
            assert got, f"connection closed; so far {out}"
            text = got.decode("utf-8", "replace").rstrip("\n")
            out.append(text)
            if text in ("<CMD OK>", "<CMD Error>"):
                return out

    def close(self) -> None:
        self.writer.close()


def assert_ping(answer: list[str]) -> None:
    """ping answers the round trip in centiseconds: a number, whatever the machine's load."""
    assert len(answer) == 2 and answer[1] == "<CMD OK>"
    assert answer[0].isdigit()


def console_port(node: Node) -> int:
    [line] = [ln.text for ln in node.logger.history if "Start debug console at" in ln.text]
    assert line.startswith("Start debug console at 127.0.0.1:")
    return int(line.rsplit(":", 1)[1])


def run(tree, body: Callable[[Node, int, int], Awaitable[None]]) -> Node:
    """Boot, start cmdsvc and debug_console on port 0; body(node, port, cmdsvc)."""
    shutil.copytree(SERVICES, tree.root / "service", dirs_exist_ok=True)
    node = tree.node(CONFIG)

    async def main() -> None:
        await node.start()
        try:
            svc = await node.newservice("cmdsvc")
            await node.newservice("debug_console", 0)
            await asyncio.wait_for(body(node, console_port(node), svc), 30)
        finally:
            console.close_all(node)
            await node.shutdown()

    asyncio.run(main())
    return node


def test_greeting_help_and_unknown_command(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        c = await Client.connect(port)
        help_lines = await c.cmd("help")
        assert help_lines[-1] == "<CMD OK>"
        names = {ln.split("\t")[0] for ln in help_lines[:-1]}
        for name in ("help list stat mem gc info inject call dbgcmd task uniqtask killtask "
                     "clearcache service start log logon logoff kill exit signal ping trace "
                     "getenv setenv netstat codecache purge").split():
            assert name in names, name
        assert await c.cmd("nosuch") == [
            "Invalid command, type help for command list", "", "<CMD Error>"]
        c.close()

    run(tree, body)


def test_list_stat_mem_gc(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        c = await Client.connect(port)
        listing = await c.cmd("list")
        assert f":{svc:08x}\tsnlua cmdsvc" in listing and listing[-1] == "<CMD OK>"
        stat = await c.cmd("stat")
        row = [ln for ln in stat if ln.startswith(f":{svc:08x}")][0]
        assert row.split("\t")[1].startswith("cpu:")
        assert [f.split(":")[0] for f in row.split("\t")[1:]] == ["cpu", "message", "mqlen",
                                                                  "task"]
        mem = await c.cmd("mem")
        row = [ln for ln in mem if ln.startswith(f":{svc:08x}")][0]
        assert row.endswith("Kb (snlua cmdsvc)")
        assert (await c.cmd("gc"))[-1] == "<CMD OK>"
        c.close()

    run(tree, body)


def test_inject_call_and_debug_commands(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        (tree.root / "patch.lua").write_text(
            "print('patching', type(_P.lua.CMD))\n"
            "_P.lua.CMD.get = function() return 'patched' end\n")
        (tree.root / "bad.lua").write_text("error('nope')\n")
        c = await Client.connect(port)
        addr = f"{svc:x}"
        assert await c.cmd(f"inject {addr} patch.lua") == ["patching\ttable", "<CMD OK>"]
        assert await c.cmd(f"call {addr} 'get'") == ["1\tpatched", "n\t1", "<CMD OK>"]
        assert await c.cmd(f"call :{svc:08x} 'echo', 1, {{x=2}}") == [
            "1\t1", "2\tx:2", "n\t2", "<CMD OK>"]
        bad = await c.cmd(f"inject {addr} bad.lua")
        assert "bad.lua:1: nope" in bad[0] and bad[-1] == "<CMD Error>"
        assert await c.cmd(f"inject {addr} missing.lua") == ["Can't open missing.lua",
                                                            "<CMD OK>"]
        assert_ping(await c.cmd(f"ping {addr}"))
        info = await c.cmd(f"info {addr}")
        assert info == ["args\t0", "count\t0", "<CMD OK>"]
        dbg = await c.cmd(f"dbgcmd {addr} SUPPORT lua")
        assert dbg == ["1\ttrue", "n\t1", "<CMD OK>"]
        assert await c.cmd(f"task {addr}") == ["<CMD OK>"]
        assert await c.cmd(f"uniqtask {addr}") == ["<CMD OK>"]
        assert (await c.cmd(f"killtask {addr} thread:0x0"))[-1] == "<CMD OK>"
        assert await c.cmd(f"trace {addr} on") == ["<CMD OK>"]
        assert await c.cmd("getenv start") == ["start\tidle", "<CMD OK>"]
        assert await c.cmd("setenv mykey 12") == ["<CMD OK>"]
        assert await c.cmd("getenv mykey") == ["mykey\t12", "<CMD OK>"]
        assert (await c.cmd("setenv mykey 13"))[-1] == "<CMD Error>"
        # a service that is not there
        assert (await c.cmd("ping 7777"))[-1] == "<CMD Error>"
        assert (await c.cmd("info .nosuch"))[-1] == "<CMD Error>"
        c.close()

    run(tree, body)


def test_call_with_an_expression_that_does_not_compile(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        c = await Client.connect(port)
        out = await c.cmd(f"call {svc:x} 'get' +")
        assert "Invalid arguments" in out[0] and out[-1] == "<CMD Error>"
        out = await c.cmd(f"call {svc:x}")
        assert "need arguments" in out[0] and out[-1] == "<CMD Error>"
        out = await c.cmd(f"call {svc:x} error('x')")
        assert out[-1] == "<CMD Error>"
        assert await c.cmd(f"call {svc:x} 'echo', 9") == ["1\t9", "n\t1", "<CMD OK>"]
        c.close()

    run(tree, body)


def test_start_kill_exit(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        c = await Client.connect(port)
        started = await c.cmd("start idle")
        addr = started[0].split("\t")[0]
        assert started[0] == f"{addr}\tidle" and started[-1] == "<CMD OK>"
        assert await c.cmd("start nosuchservice") == ["Failed", "<CMD OK>"]
        assert f"{addr}\tsnlua idle" in await c.cmd("list")
        assert await c.cmd(f"kill {addr}") == [f"{addr}\tsnlua idle", "<CMD OK>"]
        assert f"{addr}\tsnlua idle" not in await c.cmd("list")
        assert await c.cmd(f"exit {svc:x}") == ["<CMD OK>"]
        await node.wait_idle()
        assert f":{svc:08x}\tsnlua cmdsvc" not in await c.cmd("list")
        c.close()

    run(tree, body)


def test_clearcache_codecache_purge(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        c = await Client.connect(port)
        gens = await c.cmd("codecache")
        assert gens[0].startswith("generation 1\tbytes:") and "current:true" in gens[0]
        assert await c.cmd("clearcache") == ["<CMD OK>"]
        assert node.codecache.generation == 2
        gens = await c.cmd("codecache")
        assert "current:false" in gens[0] and f":{svc:08x}" in gens[0]
        assert gens[1].startswith("generation 2") and "current:true" in gens[1]
        await c.cmd("clearcache")
        purge = await c.cmd("purge")
        assert "freed\t2" in purge and any(ln.startswith("pinned 1\t") for ln in purge)
        assert await c.cmd("codecache stale") == ["<CMD OK>"]
        c.close()

    run(tree, body)


def test_http_get_runs_once_and_closes(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /getenv/start HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n")
        data = await r.read()  # until the console closes
        assert data == b"Welcome to skynet console\nstart\tidle\n<CMD OK>\n"
        w.close()

    run(tree, body)


def test_bad_lines_leave_the_console_up(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        other = await Client.connect(port)
        c = await Client.connect(port)
        # empty lines answer nothing
        c.writer.write(b"\n\n")
        assert_ping(await c.cmd("ping " + f"{svc:x}"))
        # one megabyte on one line
        big = await c.cmd(b"x" * (1 << 20))
        assert big == ["Invalid command, type help for command list", "", "<CMD Error>"]
        # binary
        out = await c.cmd(bytes(range(256)).replace(b"\n", b""))
        assert out[-1] == "<CMD Error>"
        out = await c.cmd(b"list\x00\xff")
        assert out[-1] == "<CMD Error>"
        assert (await c.cmd("list"))[-1] == "<CMD OK>"
        # cut off: half a line, then the socket closes
        c.writer.write(b"lis")
        await c.writer.drain()
        c.close()
        cut = await Client.connect(port)
        cut.writer.write(f"call {svc:x} 'block', 50\n".encode())
        await cut.writer.drain()
        cut.close()
        # the other client never noticed
        assert (await other.cmd("list"))[-1] == "<CMD OK>"
        fresh = await Client.connect(port)
        assert (await fresh.cmd("mem"))[-1] == "<CMD OK>"
        fresh.close()
        other.close()

    run(tree, body)


def test_two_clients_interleave(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        a = await Client.connect(port)
        b = await Client.connect(port)
        slow = asyncio.ensure_future(a.cmd(f"call {svc:x} 'block', 20"))
        assert_ping(await b.cmd(f"ping {svc:x}"))
        assert not slow.done()
        assert await slow == ["1\twoke", "n\t1", "<CMD OK>"]
        net = await b.cmd("netstat")
        assert sum("type:TCP" in ln for ln in net) == 2 and net[-1] == "<CMD OK>"
        a.close()
        b.close()

    run(tree, body)


def test_bind_address_and_port_arguments(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        await node.newservice("debug_console", "127.0.0.1", 0)
        lines = [ln.text for ln in node.logger.history if "Start debug console" in ln.text]
        assert len(lines) == 2
        second = int(lines[1].rsplit(":", 1)[1])
        assert second != port and second > 0
        c = await Client.connect(second)
        assert (await c.cmd("list"))[-1] == "<CMD OK>"
        c.close()

    shutil.copytree(SERVICES, tree.root / "service", dirs_exist_ok=True)
    node = tree.node(CONFIG)

    async def main() -> None:
        await node.start()
        try:
            svc = await node.newservice("cmdsvc")
            await node.newservice("debug_console", 0)
            [line] = [ln.text for ln in node.logger.history if "Start debug console" in ln.text]
            await asyncio.wait_for(body(node, int(line.rsplit(":", 1)[1]), svc), 30)
        finally:
            console.close_all(node)
            await node.shutdown()

    asyncio.run(main())


def test_snax_starts_a_snax_service(tree) -> None:
    async def body(node: Node, port: int, svc: int) -> None:
        c = await Client.connect(port)
        answer = await c.cmd("snax echosnax")
        assert answer[-1] == "<CMD OK>"
        address = answer[0].split("\t")[0]
        assert address.startswith(":")
        handle = int(address[1:], 16)
        assert any(s.handle == handle and s.name == "snaxd" for s in node.services())
        assert (await c.cmd("snax nosuchsnax"))[0] == "Failed"
        c.close()

    run(tree, body)

"""The direct write (skykernel/node/native/directwrite.c): a service's socket.write runs
in C while nothing is queued on the socket, and hands the socket server what it cannot
finish. Whichever half writes, bytes never pass each other and nothing is lost; with
the C switched off (SKYKERNEL_NATIVE=0) every write goes through the server, with the
same results."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Tree
from net_support import NodeThread, accepting_service, connect, recv_exact, small_window_client
from seri_support import c_library

from skykernel.node import native
from skykernel.node.console import run_command
from skykernel.node.luastate import default_version
from skykernel.node.net.server import SocketServer

WAYS = ["c", "python"]


def choose(way: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes from C (skipped where no compiler is), or all through the server."""
    if way == "c":
        c_library(default_version())
    else:
        monkeypatch.setenv(native.ENABLE_ENV, "0")


def count_server_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each write the socket server's Python is asked for (it still makes it)."""
    calls: list[int] = []
    real = SocketServer.send

    def send(self: SocketServer, sid: int, data: bytes, low: bool = False) -> Any:
        calls.append(len(data))
        return real(self, sid, data, low)

    monkeypatch.setattr(SocketServer, "send", send)
    return calls


@pytest.mark.parametrize("way", WAYS)
def test_writes_with_nothing_queued_skip_the_server(tree: Tree,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    way: str) -> None:
    """To a reader that keeps up, every write goes from C: the server's Python is never
    asked. netstat counts the bytes all the same."""
    choose(way, monkeypatch)
    calls = count_server_writes(monkeypatch)
    tree.write({"service/main.lua": accepting_service("""
for i = 1, 200 do
	assert(socket.write(id, string.format("line %03d\\n", i)))
end
skynet.error("WROTE")
""")})
    with NodeThread(tree) as n:
        c = connect(n.wait_port())
        data = recv_exact(c, 200 * 9)
        assert data == b"".join(b"line %03d\n" % i for i in range(1, 201))
        n.wait_log("WROTE")
        netstat = n.run(run_command(n.node, "netstat"))
        assert "write:1.7578125K" in netstat, netstat  # 1,800 bytes, as skynet shows them
        c.close()
    assert len(calls) == (0 if way == "c" else 200)


WRITER = """
local skynet = require "skynet"
local socket = require "skynet.socket"
local id, tag = ...
skynet.start(function()
	id = tonumber(id)
	for i = 1, 256 do
		assert(socket.write(id, string.format("%s%05d", tag, i) .. string.rep(".", 16377) .. "\\n"))
		if i % 8 == 0 then skynet.sleep(1) end
	end
	skynet.error("DONE " .. tag)
end)
"""


@pytest.mark.parametrize("way", WAYS)
def test_two_writers_on_two_workers_keep_their_order(tree: Tree,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     way: str) -> None:
    """Two services write 4 MB each (256 lines of 16 KB) to one socket, on two workers, to a reader
    too slow for them at first: writes go from C, stop part way, queue in the server and
    go from C again, many times over. Every line arrives whole, and each writer's lines
    in the order it wrote them."""
    choose(way, monkeypatch)
    tree.write({"service/writer.lua": WRITER, "service/main.lua": accepting_service("""
skynet.newservice("writer", id, "A")
skynet.newservice("writer", id, "B")
""")})
    with NodeThread(tree, config="thread = 2\n") as n:
        c = small_window_client(n.wait_port())
        data = recv_exact(c, 2 * 256 * 16384)
        n.wait_log("DONE A")
        n.wait_log("DONE B")
        c.close()
    lines = data.split(b"\n")[:-1]
    assert len(lines) == 512
    assert all(len(ln) == 16383 and ln.endswith(b"." * 16377) for ln in lines)
    for tag in (b"A", b"B"):
        assert [int(ln[1:6]) for ln in lines if ln[:1] == tag] == list(range(1, 257))


def test_a_bad_call_is_a_lua_error(tree: Tree) -> None:
    """The C checks what Lua gives it: a key no socket server has, a socket id or data
    of the wrong type are errors the service can catch, not a crash; a socket that does
    not exist goes to the server, which answers false."""
    c_library(default_version())
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local core = require "skynet.core"
skynet.start(function()
	local send, key, lib = core.command("SOCKET", "sender")
	local write = package.loadlib(lib, "luaopen_skykernel_directwrite")()
	skynet.error("stale", pcall(write, key + 1, send, 1, "x"))
	skynet.error("data", pcall(write, key, send, 1, {}))
	skynet.error("id", pcall(write, key, send, "one", "x"))
	skynet.error("nobody", write(key, send, 99, "x"))
	skynet.error("END")
end)
"""})
    lines = [ln for ln in tree.run() if ln.split(" ")[0] in ("stale", "data", "id", "nobody")]
    assert lines[0].startswith("stale false directwrite: no socket server with key ")
    assert lines[1:] == [
        "data false directwrite: bad argument #4 (string expected)",
        "id false directwrite: bad argument #3 (socket id expected)",
        "nobody false",
    ]

"""skynet.socketchannel against small Python servers on 127.0.0.1: order and session
modes, auth, reconnecting, the errors a request raises, replies in parts."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator

import pytest


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def line_server() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """Start a server whose connections are served by `serve(conn)`; returns its port."""
    servers: list[_Server] = []

    def start(serve: Callable[[socket.socket], None]) -> int:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    serve(self.request)
                except OSError:
                    pass

        server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def lines(conn: socket.socket) -> Iterator[str]:
    f = conn.makefile("rb")
    for raw in f:
        yield raw.decode().rstrip("\n")


def upper_server(conn: socket.socket) -> None:
    for text in lines(conn):
        conn.sendall(text.upper().encode() + b"\n")


def test_order_mode(tree, line_server):
    port = line_server(upper_server)
    tree.write({"service/main.lua": f"""
local skynet = require "skynet"
local sc = require "skynet.socketchannel"
skynet.start(function()
	local channel = sc.channel {{ host = "127.0.0.1", port = {port}, nodelay = true }}
	local function readline(sock) return true, sock:readline() end
	skynet.error("ONE", channel:request("hello\\n", readline))
	-- concurrent requests: replies in the order of the requests
	local got, n = {{}}, 0
	local done = coroutine.running()
	for i = 1, 5 do
		skynet.fork(function()
			got[i] = channel:request("r" .. i .. "\\n", readline)
			n = n + 1
			if n == 5 then skynet.wakeup(done) end
		end)
	end
	skynet.wait(done)
	skynet.error("MANY", table.concat(got, ","))
	-- a reply in three parts: the reader says `padding` for the first two
	local k = 0
	local parts = channel:request("a\\nb\\nc\\n", function(sock)
		k = k + 1
		return true, sock:readline(), k < 3
	end)
	skynet.error("PARTS", type(parts), table.concat(parts, ""))
	-- a reader that says no: the request raises its message
	local ok, err = pcall(channel.request, channel, "x\\n", function(sock)
		sock:readline()
		return false, "refused by reader"
	end)
	skynet.error("REFUSED", ok, err)
	channel:close()
	skynet.error("END")
end)
"""})
    out = tree.run()
    assert "ONE HELLO" in out
    assert "MANY R1,R2,R3,R4,R5" in out
    assert "PARTS table ABC" in out
    refused = next(t for t in out if t.startswith("REFUSED"))
    assert refused.startswith("REFUSED false") and "refused by reader" in refused


def test_session_mode_matches_replies_to_sessions(tree, line_server):
    def reverse_server(conn: socket.socket) -> None:
        # answers each batch of three requests in reverse order
        batch: list[str] = []
        for text in lines(conn):
            batch.append(text)
            if len(batch) == 3:
                for item in reversed(batch):
                    session, _, body = item.partition(":")
                    conn.sendall(f"{session}:{body[::-1]}\n".encode())
                batch = []

    port = line_server(reverse_server)
    tree.write({"service/main.lua": f"""
local skynet = require "skynet"
local sc = require "skynet.socketchannel"
skynet.start(function()
	local channel = sc.channel {{
		host = "127.0.0.1", port = {port},
		response = function(sock)
			local l = sock:readline()
			local session, body = l:match("^(%d+):(.*)$")
			return tonumber(session), true, body
		end,
	}}
	local got, n = {{}}, 0
	local done = coroutine.running()
	for i = 1, 3 do
		skynet.fork(function()
			got[i] = channel:request(i .. ":abc" .. i .. "\\n", i)
			n = n + 1
			if n == 3 then skynet.wakeup(done) end
		end)
	end
	skynet.wait(done)
	skynet.error("SESSIONS", table.concat(got, ","))
	channel:close()
	skynet.error("END")
end)
"""})
    out = tree.run()
    assert "SESSIONS 1cba,2cba,3cba" in out


def test_auth_and_reconnect(tree, line_server):
    """The server wants `AUTH s3cret` first and closes each connection after one reply:
    the channel reconnects (and authenticates again) for the next request."""
    connections = []

    def auth_server(conn: socket.socket) -> None:
        connections.append(conn)
        it = lines(conn)
        if next(it, None) != "AUTH s3cret":
            conn.sendall(b"DENIED\n")
            return
        conn.sendall(b"OK\n")
        text = next(it, None)
        if text is not None:
            conn.sendall(text.upper().encode() + b"\n")
        conn.close()

    port = line_server(auth_server)
    tree.write({"service/main.lua": f"""
local skynet = require "skynet"
local sc = require "skynet.socketchannel"
skynet.start(function()
	local auths = 0
	local channel = sc.channel {{
		host = "127.0.0.1", port = {port},
		auth = function(ch)
			auths = auths + 1
			assert(ch:request("AUTH s3cret\\n", function(sock)
				return true, sock:readline()
			end) == "OK")
		end,
	}}
	local function readline(sock) return true, sock:readline() end
	channel:connect(true)
	skynet.error("FIRST", channel:request("one\\n", readline))
	skynet.sleep(20) -- the server closes its end
	skynet.error("SECOND", channel:request("two\\n", readline), auths)
	channel:close()
	skynet.error("END")
end)
"""})
    out = tree.run()
    assert "FIRST ONE" in out
    assert "SECOND TWO 2" in out
    assert len(connections) == 2


def test_connect_failure_and_broken_connection(tree, line_server):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()

    def slam(conn: socket.socket) -> None:
        next(lines(conn), None)
        conn.close()  # the request is read, never answered

    port = line_server(slam)
    tree.write({"service/main.lua": f"""
local skynet = require "skynet"
local sc = require "skynet.socketchannel"
skynet.start(function()
	local function readline(sock) return true, sock:readline() end
	local nowhere = sc.channel {{ host = "127.0.0.1", port = {dead} }}
	local ok, err = pcall(nowhere.request, nowhere, "x\\n", readline)
	skynet.error("NOWHERE", ok, tostring(err), err == sc.error)
	local broken = sc.channel {{ host = "127.0.0.1", port = {port} }}
	ok, err = pcall(broken.request, broken, "x\\n", readline)
	skynet.error("BROKEN", ok, tostring(err))
	broken:close()
	ok, err = pcall(broken.request, broken, "x\\n", readline)
	skynet.error("CLOSED", ok)
	skynet.error("END")
end)
"""})
    out = tree.run()
    assert "NOWHERE false [Error: socket] true" in out
    assert any(t.startswith("Connect failed") and "Connection refused" in t for t in out)
    assert "BROKEN false [Error: socket]" in out
    assert "CLOSED false" in out

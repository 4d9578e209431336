"""http.httpd, http.httpc, http.url, http.sockethelper and http.websocket over real TCP:
Lua servers with Python clients, Lua clients with Python servers, and Lua with Lua."""

from __future__ import annotations

import base64
import hashlib
import http.client
import http.server
import os
import socket
import struct
import threading

import pytest
from net_support import NodeThread, connect, recv_all, recv_exact

# A web server in the shape of skynet's examples/simpleweb: a listener that hands each
# connection to a fork reading one request.
WEB = """
local skynet = require "skynet"
local socket = require "skynet.socket"
local httpd = require "http.httpd"
local sockethelper = require "http.sockethelper"
local urllib = require "http.url"

local function handle(id, addr)
	socket.start(id)
	local code, url, method, header, body = httpd.read_request(sockethelper.readfunc(id), 1000)
	if code then
		if code ~= 200 then
			httpd.write_response(sockethelper.writefunc(id), code)
		else
			local path, query = urllib.parse(url)
			local lines = { "method=" .. method, "path=" .. path }
			if query and query ~= "" then
				local q = urllib.parse_query(query)
				local keys = {}
				for k in pairs(q) do keys[#keys + 1] = k end
				table.sort(keys)
				for _, k in ipairs(keys) do
					local v = q[k]
					v = type(v) == "table" and table.concat(v, "+") or v
					lines[#lines + 1] = k .. "=" .. v
				end
			end
			lines[#lines + 1] = "body=" .. body
			lines[#lines + 1] = "host=" .. tostring(header.host)
			if path == "/chunked" then
				local parts = { "one,", "two,", "three" }
				local i = 0
				httpd.write_response(sockethelper.writefunc(id), 200, function()
					i = i + 1
					return parts[i]
				end, { ["x-kind"] = "chunked" })
			else
				httpd.write_response(sockethelper.writefunc(id), 200, table.concat(lines, "\\n"),
					{ ["x-kind"] = "plain" })
			end
		end
	else
		skynet.error("READ FAILED", url)
	end
	socket.close(id)
end

skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id, addr)
		skynet.fork(handle, id, addr)
	end)
	skynet.error("PORT " .. port)
end)
"""


def test_httpd_serves_python_clients(tree):
    tree.write({"service/main.lua": WEB})
    with NodeThread(tree) as n:
        port = n.wait_port()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/hello%20world?a=1&b=x+y&a=2")
        r = c.getresponse()
        assert r.status == 200 and r.getheader("x-kind") == "plain"
        body = r.read().decode()
        assert body.splitlines() == ["method=GET", "path=/hello world", "a=1+2", "b=x y",
                                     "body=", f"host=127.0.0.1:{port}"]
        c.close()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/form", body=b"payload", headers={"content-type": "text/plain"})
        r = c.getresponse()
        assert "body=payload" in r.read().decode()
        c.close()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/chunked")
        r = c.getresponse()
        assert r.getheader("transfer-encoding") == "chunked"
        assert r.read() == b"one,two,three"
        c.close()


def test_httpd_answers_bad_requests_with_their_codes(tree):
    tree.write({"service/main.lua": WEB})
    with NodeThread(tree) as n:
        port = n.wait_port()

        def raw(request: bytes) -> bytes:
            s = connect(port)
            s.sendall(request)
            data = recv_all(s)
            s.close()
            return data

        assert raw(b"GET / HTTP/2.0\r\nhost: x\r\n\r\n").startswith(b"HTTP/1.1 505 ")
        # a header that goes on past 8 KB without its blank line
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\nx-long: " + b"a" * 9000)
        assert recv_all(s).startswith(b"HTTP/1.1 413 ")
        s.close()
        # a body over the server's limit (1000 bytes)
        assert raw(b"POST / HTTP/1.1\r\ncontent-length: 5000\r\n\r\n").startswith(
            b"HTTP/1.1 413 ")
        assert raw(b"GET / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n").startswith(
            b"HTTP/1.1 501 ")
        assert raw(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        # a chunked request body
        reply = raw(b"POST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
                    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200 ") and b"body=abcde" in reply
        # garbage: read_request fails, the server logs it and closes
        assert raw(b"\x00\x01\x02 nonsense\r\n\r\n") == b""
        assert "READ FAILED" in n.wait_log("READ FAILED")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for part in (b"alpha", b"beta", b"gamma" * 3000):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nx-trailer: yes\r\n\r\n")
            return
        if self.path == "/close":
            # no content-length: the body ends with the connection
            self.send_response(200)
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
            return
        body = f"{self.path}|{self.headers.get('host')}|{self.headers.get('x-mine')}".encode()
        self.send_response(201)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-reply", "r")
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(204)
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length", 0))
        data = self.rfile.read(length)
        body = self.headers.get("content-type", "").encode() + b"|" + data
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def py_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_httpc_against_a_python_server(tree, py_server):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    tree.write({"service/main.lua": f"""
local skynet = require "skynet"
local httpc = require "http.httpc"
skynet.start(function()
	local host = "127.0.0.1:{py_server}"
	local recv = {{}}
	local code, body = httpc.request("GET", host, "/plain?x=1", recv, {{ ["x-mine"] = "m" }})
	skynet.error("GET", code, body, recv["x-reply"])
	skynet.error("POST", httpc.post("http://" .. host, "/form", {{ name = "a b", v = "1&2" }}))
	local code2, body2 = httpc.get(host, "/chunked", recv)
	skynet.error("CHUNKED", code2, #body2, body2:sub(1, 9), recv["x-trailer"])
	skynet.error("CLOSE", httpc.get(host, "/close"))
	local stream = httpc.request_stream("GET", host, "/chunked")
	local pieces = {{}}
	for piece in stream do pieces[#pieces + 1] = #piece end
	skynet.error("STREAM", stream.status, table.concat(pieces, ","))
	skynet.error("HEAD", httpc.head(host, "/plain"))
	local ok, err = pcall(httpc.get, "127.0.0.1:{dead_port}", "/")
	skynet.error("DEAD", ok, tostring(err):match("connect failed") ~= nil)
	ok, err = pcall(httpc.get, "https://" .. host, "/")
	skynet.error("TLS", ok, err)
	skynet.error("END")
end)
"""})
    lines = tree.run()
    assert f"GET 201 /plain?x=1|127.0.0.1:{py_server}|m r" in lines
    assert "POST 200 application/x-www-form-urlencoded|name=a%20b&v=1%262" in lines or \
        "POST 200 application/x-www-form-urlencoded|v=1%262&name=a%20b" in lines
    assert "CHUNKED 200 15009 alphabeta yes" in lines
    assert "CLOSE 200 until the end" in lines
    assert "STREAM 200 5,4,15000,0" in lines
    assert "HEAD 204" in lines
    assert "DEAD false true" in lines
    tls = next(ln for ln in lines if ln.startswith("TLS"))
    assert tls.startswith("TLS false") and "no TLS" in tls


def test_httpc_talks_to_httpd(tree):
    tree.write({"service/web.lua": WEB, "service/main.lua": """
local skynet = require "skynet"
local httpc = require "http.httpc"
skynet.start(function()
	skynet.newservice("web")
end)
""", "service/client.lua": """
local skynet = require "skynet"
local httpc = require "http.httpc"
local port = ...
skynet.start(function()
	local host = "127.0.0.1:" .. port
	local code, body = httpc.request("PUT", host, "/x?k=v", nil, nil, "data")
	skynet.error("PUT", code, (body:gsub("\\n", ";")))
	skynet.error("CHUNKED", httpc.get(host, "/chunked"))
	skynet.error("CLIENT DONE")
end)
"""})
    with NodeThread(tree) as n:
        port = n.wait_port()
        n.run(n.node.newservice("client", str(port)))
        n.wait_log("CLIENT DONE")
        assert n.wait_log("PUT") == (
            f"PUT 200 method=PUT;path=/x;k=v;body=data;host=127.0.0.1:{port}")
        assert n.wait_log("CHUNKED") == "CHUNKED 200 one,two,three"


WS_SERVER = """
local skynet = require "skynet"
local socket = require "skynet.socket"
local websocket = require "http.websocket"

local handle = {}
function handle.connect(id) skynet.error("WS connect") end
function handle.handshake(id, header, url) skynet.error("WS handshake", url) end
function handle.message(id, msg, op)
	skynet.error("WS message", op, #msg)
	if msg == "bye" then
		websocket.close(id, 1000, "done")
	else
		websocket.write(id, "echo:" .. msg, op)
	end
end
function handle.ping(id) skynet.error("WS ping") end
function handle.close(id, code, reason) skynet.error("WS close", code, reason) end
function handle.error(id) skynet.error("WS error") end

skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id, addr)
		skynet.fork(function()
			local ok, err = websocket.accept(id, handle, "ws", addr)
			skynet.error("WS accepted", ok, err)
		end)
	end)
	skynet.error("PORT " .. port)
end)
"""


def _ws_frame(op: int, payload: bytes) -> bytes:
    """A masked client frame, written by hand (RFC 6455), independent of our code."""
    mask = os.urandom(4)
    head = bytes([0x80 | op])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _ws_read(s: socket.socket) -> tuple[int, bytes]:
    b1, b2 = recv_exact(s, 2)
    n = b2 & 0x7F
    if n == 126:
        n = struct.unpack(">H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", recv_exact(s, 8))[0]
    return b1 & 0x0F, recv_exact(s, n) if n else b""


def test_websocket_server_with_a_hand_written_client(tree):
    tree.write({"service/main.lua": WS_SERVER})
    with NodeThread(tree) as n:
        port = n.wait_port()
        s = connect(port)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        assert head.startswith(b"HTTP/1.1 101 ")
        expected = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert b"Sec-WebSocket-Accept: " + expected in head
        s.sendall(_ws_frame(1, b"hello"))
        assert _ws_read(s) == (1, b"echo:hello")
        big = os.urandom(70000)
        s.sendall(_ws_frame(2, big))
        assert _ws_read(s) == (2, b"echo:" + big)
        s.sendall(_ws_frame(9, b"p"))
        assert _ws_read(s) == (10, b"p")  # pong with the ping's payload
        s.sendall(_ws_frame(1, b"bye"))
        op, payload = _ws_read(s)
        assert op == 8 and payload == struct.pack(">H", 1000) + b"done"
        s.close()
        assert n.wait_log("WS handshake") == "WS handshake /chat"
        assert n.wait_log("WS ping") == "WS ping"
        n.wait_log("WS accepted")


def test_websocket_refuses_a_bad_handshake(tree):
    tree.write({"service/main.lua": WS_SERVER})
    with NodeThread(tree) as n:
        port = n.wait_port()
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n")
        assert recv_all(s).startswith(b"HTTP/1.1 426 ")
        s.close()
        assert n.wait_log("WS close") == "WS close nil nil"


def test_websocket_client_to_server_in_lua(tree):
    tree.write({"service/server.lua": WS_SERVER, "service/main.lua": """
local skynet = require "skynet"
skynet.start(function()
	skynet.newservice("server")
end)
""", "service/client.lua": """
local skynet = require "skynet"
local websocket = require "http.websocket"
local port = ...
skynet.start(function()
	local id = websocket.connect("ws://127.0.0.1:" .. port .. "/room")
	websocket.write(id, "hi")
	skynet.error("CLIENT read", websocket.read(id))
	websocket.write(id, string.rep("b", 100000), "binary", 0x12345678)
	skynet.error("CLIENT big", #websocket.read(id))
	websocket.ping(id)
	websocket.write(id, "bye")
	local ok, payload = websocket.read(id)
	skynet.error("CLIENT closed", ok, #payload, websocket.is_close(id))
	local bad = pcall(websocket.connect, "wss://127.0.0.1:" .. port .. "/")
	skynet.error("CLIENT wss", bad)
	skynet.error("CLIENT DONE")
end)
"""})
    with NodeThread(tree) as n:
        port = n.wait_port()
        n.run(n.node.newservice("client", str(port)))
        n.wait_log("CLIENT DONE")
        assert n.wait_log("CLIENT read") == "CLIENT read echo:hi"
        assert n.wait_log("CLIENT big") == "CLIENT big 100005"
        assert n.wait_log("CLIENT closed") == "CLIENT closed false 6 true"
        assert n.wait_log("CLIENT wss") == "CLIENT wss false"
        # the server closed it (after "bye"): its close handler hears no code
        assert n.wait_log("WS close") == "WS close nil nil"

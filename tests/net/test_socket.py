"""skynet.socket over the node's socket server: real TCP and UDP on 127.0.0.1, Lua
services on both ends or a Python client on one, and the faults a server meets."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import pytest
import realskynet
from net_support import (
    NodeThread,
    accepting_service,
    connect,
    free_port,
    open_sockets,
    recv_all,
    recv_exact,
    small_window_client,
    wait_until,
)
from test_directwrite import WAYS, choose

# A Lua server and client in one service: what skynet's own test_socket does.
ROUNDTRIP = """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local lid, ip, port = socket.listen("127.0.0.1", 0)
	skynet.error("listen", type(lid), ip, port > 0)
	socket.start(lid, function(id, addr)
		skynet.error("accept", addr:match("^127%.0%.0%.1:%d+$") ~= nil)
		socket.start(id)
		skynet.fork(function()
			local line = socket.readline(id)
			local n = tonumber(socket.read(id, 2))
			local body = socket.read(id, n)
			socket.write(id, line:upper() .. "|" .. body .. "\\n")
			skynet.error("server block", socket.block(id))
			skynet.error("server rest", socket.readall(id))
			socket.close(id)
		end)
	end)
	local fd, err = socket.open("127.0.0.1", port)
	skynet.error("open", type(fd), err)
	socket.write(fd, "hello\\n05world")
	skynet.error("reply", socket.readline(fd, "\\n"))
	skynet.error("disconnected", socket.disconnected(fd), socket.invalid(fd))
	socket.write(fd, "tail")
	socket.close(fd)
	skynet.error("closed", socket.invalid(fd))
	skynet.sleep(10)
	skynet.error("header", socket.header("\\1\\2"), socket.header("\\0\\0\\1\\0"))
	skynet.error("resolve", socket.resolve("127.0.0.1")[1])
	socket.close(lid)
	skynet.error("END")
end)
"""


def test_listen_accept_open_read_write_close(tree):
    tree.write({"service/main.lua": ROUNDTRIP})
    lines = tree.run()
    assert "listen number 127.0.0.1 true" in lines
    assert "accept true" in lines
    assert "open number nil" in lines
    assert "reply HELLO|world" in lines
    assert "disconnected false false" in lines
    # the server reads what came before the close, then sees the close
    assert "server block true" in lines
    assert "server rest tail" in lines
    assert "closed true" in lines
    assert "header 258 256" in lines
    assert "resolve 127.0.0.1" in lines


def test_port_in_use_and_connection_refused_are_clear_errors(tree):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    tree.write({"service/main.lua": f"""
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local ok, err = pcall(socket.listen, "127.0.0.1", {port})
	skynet.error("listen", ok, err)
	skynet.error("open", socket.open("127.0.0.1", {refused_port}))
	skynet.error("bad", pcall(socket.open, "127.0.0.1", "nope"))
	skynet.error("END")
end)
"""})
    try:
        lines = tree.run()
    finally:
        busy.close()
    listen = next(ln for ln in lines if ln.startswith("listen "))
    assert listen.startswith("listen false ")
    assert f"Listen error: 127.0.0.1:{port}: Address already in use" in listen
    assert "open nil Connection refused" in lines
    bad = next(ln for ln in lines if ln.startswith("bad "))
    assert bad.startswith("bad false ") and "invalid port" in bad


SERVER = """
local skynet = require "skynet"
local socket = require "skynet.socket"
local mode = ...
skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id, addr)
		socket.start(id)
		skynet.fork(function()
			if mode == "read" then
				-- wants 100 bytes; the client sends 5 and resets the connection
				local ok, partial = socket.read(id, 100)
				skynet.error("READ", ok, partial)
				socket.close(id)
			elseif mode == "halfclose" then
				-- the client sends its request and shuts its side: we still answer
				local request = socket.readall(id)
				socket.write(id, "got " .. request)
				socket.close(id)
				skynet.error("ANSWERED", request)
			end
		end)
	end)
	skynet.error("PORT " .. port)
end)
"""


def test_peer_reset_mid_read(tree):
    tree.write({"service/main.lua": SERVER})
    with NodeThread(tree, start="main read") as n:
        port = n.wait_port()
        c = connect(port)
        c.sendall(b"12345")
        time.sleep(0.2)
        # SO_LINGER 0: close sends RST instead of FIN
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        assert n.wait_log("READ") == "READ false 12345"
        error = n.wait_log("socket: error on")
        assert "Connection reset by peer" in error


def test_half_close_is_answered(tree):
    tree.write({"service/main.lua": SERVER})
    with NodeThread(tree, start="main halfclose") as n:
        port = n.wait_port()
        c = connect(port)
        c.sendall(b"question")
        c.shutdown(socket.SHUT_WR)
        assert recv_all(c) == b"got question"
        c.close()
        assert n.wait_log("ANSWERED") == "ANSWERED question"


def test_slow_reader_gets_a_warning_then_all_its_data(tree):
    """A client that does not read: the queue past 1 MB warns (skynet's WARNING, in K),
    then, once drained, the warning callback hears 0; every byte arrives in order."""
    tree.write({"service/main.lua": accepting_service("""
socket.warning(id, function(fd, size)
	skynet.error("WARN", size > 0 and "on" or "off", fd == id, size >= 1024)
end)
local chunk = string.rep("abcdefgh", 8192) -- 64 KB
for i = 1, 192 do
	assert(socket.write(id, chunk))
end
skynet.error("WROTE")
""")})
    with NodeThread(tree) as n:
        c = small_window_client(n.wait_port())
        n.wait_log("WROTE")
        assert n.wait_log("WARN ") == "WARN on true true"  # at least 1 MB, in K
        data = recv_exact(c, 192 * 65536)
        assert data == b"abcdefgh" * (192 * 8192)
        n.wait_log("WARN off true false")
        c.close()


def test_queued_writes_go_out_while_every_worker_is_busy(tree):
    """The workers poll the sockets themselves; with the only worker inside a long
    delivery, the monitor's rounds still send what was queued, as skynet's socket
    thread would: the client has every byte before the delivery ends."""
    tree.write({"service/main.lua": accepting_service("""
local chunk = string.rep("abcdefgh", 8192) -- 64 KB
for i = 1, 64 do
	assert(socket.write(id, chunk))
end
skynet.error("WROTE")
local t = skynet.hpc()
while skynet.hpc() - t < 4e9 do end -- 4 s without a yield
skynet.error("BUSY DONE")
""")})
    with NodeThread(tree, config="thread = 1\n") as n:
        c = connect(n.wait_port())
        n.wait_log("WROTE")
        data = recv_exact(c, 64 * 65536)
        got_all_while_busy = not any("BUSY DONE" in t for t in n.lines())
        assert data == b"abcdefgh" * (64 * 8192)
        assert got_all_while_busy
        n.wait_log("BUSY DONE")
        c.close()


def test_an_idle_node_with_sockets_sleeps(tree):
    """After a burst of round trips an idle worker looks at the sockets without sleeping
    for a moment (a reply that comes soon then costs no wake-up); once nothing comes, it
    sleeps in the poll: the node uses no CPU while nothing happens."""
    tree.write({"service/main.lua": accepting_service("""
skynet.fork(function()
	while true do
		local line = socket.readline(id)
		if not line then break end
		socket.write(id, line .. "\\n")
	end
	socket.close(id)
end)
""")})
    with NodeThread(tree) as n:
        c = connect(n.wait_port())
        for i in range(200):
            c.sendall(b"ping %d\n" % i)
            assert recv_exact(c, len(b"ping %d\n" % i)) == b"ping %d\n" % i
        time.sleep(0.5)
        cpu = time.process_time()
        time.sleep(2.0)
        used = time.process_time() - cpu
        assert used < 0.5, f"an idle node used {used:.2f} s of CPU in 2 s"
        c.close()


def test_default_warning_is_logged(tree):
    tree.write({"service/main.lua": accepting_service("""
for i = 1, 192 do
	socket.write(id, string.rep("z", 65536))
end
""")})
    with NodeThread(tree) as n:
        c = small_window_client(n.wait_port())
        line = n.wait_log("K bytes need to send out")
        assert line.startswith("WARNING: ") and "(fd = " in line
        assert len(recv_exact(c, 192 * 65536)) == 192 * 65536
        c.close()


def test_killed_service_closes_its_sockets_and_nothing_leaks(tree):
    tree.write({"service/holder.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id)
		socket.start(id)
		skynet.fork(function()
			while socket.read(id) do end
		end)
		skynet.error("ACCEPTED")
	end)
	-- and an outgoing connection of its own, to the same listener
	skynet.fork(function()
		local fd = socket.open("127.0.0.1", port)
		skynet.error("OUT", fd ~= nil)
	end)
	skynet.error("PORT " .. port)
end)
""", "service/main.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	-- warm the socket server up, so the descriptors it keeps are counted before
	local lid = socket.listen("127.0.0.1", 0)
	socket.close(lid)
	skynet.error("READY")
end)
"""})
    with NodeThread(tree) as n:
        n.wait_log("READY")
        before = open_sockets()
        holder = n.run(n.node.newservice("holder"))
        port = n.wait_port()
        clients = [connect(port) for _ in range(5)]
        for c in clients:
            c.sendall(b"x")
        wait_until(lambda: sum("ACCEPTED" in t for t in n.lines()) == 6, what="6 accepts")
        n.wait_log("OUT true")
        assert open_sockets() - before
        n.node.kill(holder)
        for c in clients:
            c.settimeout(10)
            assert c.recv(10) == b""  # the node closed its end
            c.close()
        wait_until(lambda: not open_sockets() - before,
                   what=lambda: f"the sockets opened since to close: {open_sockets() - before}")
        assert not [s for s in n.node.net.sockets.values() if s.owner == holder]
        # and the port is free again
        again = socket.socket()
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.close()


def test_service_exit_closes_its_listener(tree):
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function() end)
	skynet.error("PORT " .. port)
	skynet.sleep(20)
	skynet.exit()
end)
"""})
    with NodeThread(tree) as n:
        port = n.wait_port()
        n.wait_log("KILL self")

        def refused() -> bool:
            try:
                connect(port, timeout=2).close()
            except ConnectionRefusedError:
                return True
            except ConnectionResetError:
                pass  # caught the listener as it closed: ask again
            return False

        wait_until(refused, what="the listener to close")


def test_abandon_and_start_moves_a_socket_to_another_service(tree):
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local worker = skynet.newservice("worker")
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id)
		socket.start(id)
		skynet.error("FIRST", socket.read(id, 5))
		socket.abandon(id)
		skynet.call(worker, "lua", id)
	end)
	skynet.error("PORT " .. port)
end)
""", "service/worker.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	skynet.dispatch("lua", function(_, _, id)
		skynet.ret()
		socket.start(id)
		-- the client waits for this: what it sent before would have gone to the old owner
		socket.write(id, "ready\\n")
		local line = socket.readline(id)
		socket.write(id, "worker:" .. line .. "\\n")
		skynet.error("SECOND", line)
		for _, row in ipairs(socket.netstat()) do
			if row.id == id then
				skynet.error("OWNER", row.address == skynet.self())
			end
		end
	end)
end)
"""})
    with NodeThread(tree) as n:
        c = connect(n.wait_port())
        c.sendall(b"first")
        assert n.wait_log("FIRST") == "FIRST first"
        assert recv_exact(c, 6) == b"ready\n"
        c.sendall(b"second\n")
        assert recv_exact(c, len(b"worker:second\n")) == b"worker:second\n"
        assert n.wait_log("OWNER") == "OWNER true"
        c.close()


def test_socket_limit_closes_an_overflowing_socket(tree):
    tree.write({"service/main.lua": accepting_service("""
socket.limit(id, 1000)
skynet.fork(function()
	local line, rest = socket.readline(id)
	skynet.error("LINE", line, rest and #rest)
end)
""")})
    with NodeThread(tree) as n:
        c = connect(n.wait_port())
        c.sendall(b"y" * 5000)  # no newline, more than the limit
        assert "socket buffer overflow" in n.wait_log("socket buffer overflow")
        assert n.wait_log("LINE").startswith("LINE false")
        # closed by the node: an orderly end, or a reset when the kernel still held bytes
        # the node never read (which of the two depends on timing)
        try:
            assert c.recv(10) == b""
        except ConnectionResetError:
            pass
        c.close()


def test_udp(tree):
    port = free_port()
    tree.write({"service/main.lua": f"""
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local server
	server = socket.udp_listen("127.0.0.1", {port}, function(data, from)
		local ip, port = socket.udp_address(from)
		skynet.error("SERVER", data, ip)
		socket.sendto(server, from, "echo:" .. data)
	end)
	for _, row in ipairs(socket.netstat()) do
		if row.id == server then
			skynet.error("LISTED", row.type)
		end
	end
	skynet.error("SERVERID " .. server)
end)
"""})
    with NodeThread(tree) as n:
        n.wait_log("SERVERID")
        assert n.wait_log("LISTED") == "LISTED UDP"
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(10)
        c.sendto(b"ping", ("127.0.0.1", port))
        data, _ = c.recvfrom(100)
        assert data == b"echo:ping"
        assert n.wait_log("SERVER ") == "SERVER ping 127.0.0.1"
        c.close()


# What udp_listen refuses, and a name that does not resolve, on either node: the
# outcome and the start of the error after its position.
UDP_REFUSALS = """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local function try(...)
		local ok, err = pcall(socket.udp_listen, ...)
		skynet.error("LISTEN", ok, ok or (tostring(err):gsub("^[^:]*:%d+: ", "")))
	end
	try(nil, 39001, function() end)
	try("127.0.0.1", 0, function() end)
	local ok, id = pcall(socket.udp, function() end, "127.0.0.1", 0)
	skynet.error("UDP ANY PORT", ok, math.type(id))
	skynet.error("END")
end)
"""
UDP_REFUSED = ["LISTEN false bad argument #1 to 'udp_listen' (string expected, got nil)",
               "LISTEN false udp listen host failed", "UDP ANY PORT true integer"]


def udp_refusals(lines: list[str]) -> list[str]:
    return [ln.split(":")[0] if ln.startswith("LISTEN false udp") else ln
            for ln in lines if ln.startswith(("LISTEN", "UDP"))]


def test_udp_listen_refuses_what_skynet_refuses(tree):
    tree.write({"service/main.lua": UDP_REFUSALS})
    assert udp_refusals(tree.run()) == UDP_REFUSED


def test_udp_listen_refusals_as_on_real_skynet(tree, real_skynet):
    tree.write({"service/main.lua": UDP_REFUSALS})
    lines = realskynet.run(realskynet.write_config(tree.root), real_skynet, cwd=tree.root)
    assert udp_refusals(lines) == UDP_REFUSED


def test_a_name_that_does_not_resolve_is_named_in_the_error(tree):
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	skynet.error("BAD", pcall(socket.udp_listen, "nosuchhost.invalid", 39002, function() end))
	skynet.error("END")
end)
"""})
    bad = next(ln for ln in tree.run() if ln.startswith("BAD "))
    assert bad.startswith("BAD false ")
    assert "udp address nosuchhost.invalid:39002: " in bad
    assert "Unknown error" not in bad  # the resolver's own words, not errno's


def test_udp_dial_between_services(tree):
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local got = {}
	local a
	a = socket.udp(function(data, from)
		got[#got + 1] = data
		if data == "two" then
			skynet.error("GOT", table.concat(got, ","))
			skynet.error("END")
		end
	end, "127.0.0.1", 0)
	skynet.error("A", a)
	skynet.dispatch("lua", function(_, _, port)
		-- connected udp sockets write to their peer
		local b = socket.udp_dial("127.0.0.1", port)
		socket.write(b, "one")
		local c = socket.udp(function() end)
		socket.udp_connect(c, "127.0.0.1", port)
		socket.write(c, "two")
		local peers = {}
		for _, row in ipairs(socket.netstat()) do
			if row.id == b or row.id == c then peers[#peers + 1] = row.peer end
		end
		skynet.error("PEERS", table.concat(peers, " "))
		skynet.ret()
	end)
end)
"""})
    with NodeThread(tree) as n:
        a = int(n.wait_log(lambda t: t.startswith("A ")).split()[1])
        port = n.node.net.sockets[a].sock.getsockname()[1]
        (main,) = [s.handle for s in n.node.services() if s.name == "main"]
        n.call(main, port)
        assert n.wait_log("GOT") == "GOT one,two"
        # a udp socket's default peer is listed, as skynet lists it
        assert n.wait_log("PEERS") == f"PEERS 127.0.0.1:{port} 127.0.0.1:{port}"


def test_netstat_in_the_console_lists_real_sockets(tree):
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id)
		socket.start(id)
		skynet.fork(function() while socket.read(id) do end end)
	end)
	local fd = socket.open("127.0.0.1", port)
	socket.write(fd, "12345")
	skynet.error("PORT " .. port)
end)
"""})
    from skykernel.node.console import run_command

    with NodeThread(tree) as n:
        port = n.wait_port()
        time.sleep(0.2)
        text = n.run(run_command(n.node, "netstat"))
        rows = [ln for ln in text.splitlines() if ln and not ln.startswith("<")]
        assert any("type:LISTEN" in r and f"sock:127.0.0.1:{port}" in r for r in rows), text
        tcp = [r for r in rows if "type:TCP" in r]
        assert len(tcp) == 2, text
        assert any("write:5" in r for r in tcp) and any("read:5" in r for r in tcp), text
        assert all("address::0000000" in r for r in tcp), text
        assert text.rstrip().endswith("<CMD OK>")


def test_onclose_shutdown_close_fd_and_pause(tree):
    """onclose hears the peer's close; shutdown drops a socket at once; close_fd closes
    one nobody holds; a reader that stops reading past 128 KB pauses the socket (skynet's
    `Pause socket`), and reading again resumes it with nothing lost."""
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	local accepted = {}
	socket.start(lid, function(id)
		accepted[#accepted + 1] = id
	end)
	-- onclose
	local a = socket.open("127.0.0.1", port)
	socket.onclose(a, function(id) skynet.error("ONCLOSE", id == a) end)
	while #accepted < 1 do skynet.sleep(1) end
	socket.close_fd(accepted[1]) -- nobody started it: close_fd closes it
	skynet.error("READ AFTER PEER CLOSE", socket.read(a))
	socket.close(a)
	-- shutdown: the peer sees the connection end at once
	local b = socket.open("127.0.0.1", port)
	while #accepted < 2 do skynet.sleep(1) end
	socket.start(accepted[2])
	socket.shutdown(b)
	skynet.error("SHUTDOWN", socket.read(accepted[2]))
	socket.close(b)
	socket.close(accepted[2])
	-- pause: 300 KB arrive while nobody reads
	local c = socket.open("127.0.0.1", port)
	while #accepted < 3 do skynet.sleep(1) end
	local s = accepted[3]
	socket.start(s)
	local chunk = string.rep("p", 1000)
	for i = 1, 300 do socket.write(c, chunk) end
	skynet.sleep(50)
	local got = socket.read(s, 300000)
	skynet.error("ALL", #got, got == string.rep(chunk, 300))
	-- still paused: what comes next waits in the kernel until a read resumes it
	socket.write(c, "tail")
	skynet.error("TAIL", socket.read(s, 4))
	socket.close(c)
	socket.close(s)
	skynet.error("END")
end)
"""})
    out = tree.run()
    assert "ONCLOSE true" in out
    assert "READ AFTER PEER CLOSE false " in out
    assert "SHUTDOWN false " in out
    assert any(t.startswith("Pause socket (") for t in out)
    assert any(t.startswith("Resume socket (") for t in out)
    assert "ALL 300000 true" in out
    assert "TAIL tail" in out



# Writes made while the client does not read (its window is small), in skynet's queues:
# a write that finds nothing queued writes what the kernel takes, and its rest waits
# ahead of everything after it, whatever its priority. An lwrite that finds nothing
# queued counts as a write; one made behind queued writes waits for every write.
BULK = 8 * 1024 * 1024
LWRITES = accepting_service(f"""
local bulk = string.rep("b", {BULK})
local case = skynet.getenv("case")
if case == "write first" then
	socket.write(id, bulk)
	socket.lwrite(id, "LOW")
	socket.write(id, "HIGH")
elseif case == "lwrite first" then
	socket.lwrite(id, bulk)
	socket.write(id, "HIGH")
	socket.lwrite(id, "LOW")
end
skynet.error("WROTE")
""")
# what the client reads after the bulk, per case (the same on real skynet, below)
LWRITE_TAILS = {"write first": b"LOWHIGH", "lwrite first": b"HIGHLOW"}


def read_after_bulk(port: int, n: int, wrote: Callable[[str], object]) -> tuple[bool, bytes]:
    """(whether the bulk came whole, the n bytes after it). The client reads only once
    the service has logged WROTE, so no round can begin to send the bulk's rest between
    its writes (where the order would depend on timing, on skynet as here)."""
    c = small_window_client(port)
    wrote("WROTE")
    data = recv_exact(c, BULK + n)
    c.close()
    return data[:BULK] == b"b" * BULK, data[BULK:]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", LWRITE_TAILS)
def test_lwrite_waits_only_for_writes_queued_before_it(tree, case, way, monkeypatch):
    choose(way, monkeypatch)
    tree.write({"service/main.lua": LWRITES})
    tail = LWRITE_TAILS[case]
    with NodeThread(tree, config=f'case = "{case}"\n') as n:
        assert read_after_bulk(n.wait_port(), len(tail), n.wait_log) == (True, tail)


@pytest.mark.parametrize("case", LWRITE_TAILS)
def test_lwrite_order_as_on_real_skynet(tree, real_skynet, case):
    tree.write({"service/main.lua": LWRITES})
    config = realskynet.write_config(tree.root, f'case = "{case}"\n')
    tail = LWRITE_TAILS[case]
    real = realskynet.RealNode(config, real_skynet, tree.root)
    try:
        port = int(real.wait_log("PORT ").split()[1])
        assert read_after_bulk(port, len(tail), real.wait_log) == (True, tail)
    finally:
        real.stop()

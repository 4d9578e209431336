"""netpack, snax.gateserver and the gate service, with Python clients over real TCP."""

from __future__ import annotations

import socket
import struct
import time

from net_support import (
    NodeThread,
    connect,
    open_sockets,
    recv_packet,
    send_packet,
    wait_until,
)

WATCHDOG = """
local skynet = require "skynet"
local MODE = ...
local gate
local agent = {}
local SOCKET = {}

function SOCKET.open(fd, addr)
	skynet.error("OPEN", fd, addr:match("^127%.0%.0%.1:%d+$") ~= nil)
	local mode = MODE
	if mode == "agent" then
		agent[fd] = skynet.newservice("agent")
		skynet.call(agent[fd], "lua", "start", { gate = gate, client = fd })
	elseif mode == "accept" then
		skynet.call(gate, "lua", "accept", fd)
	end
end

function SOCKET.data(fd, msg)
	skynet.error("DATA", fd, msg)
	if msg == "kick me" then
		skynet.call(gate, "lua", "kick", fd)
	end
end

function SOCKET.close(fd)
	skynet.error("CLOSE", fd)
	local a = agent[fd]
	agent[fd] = nil
	if a then
		skynet.call(gate, "lua", "kick", fd)
		skynet.send(a, "lua", "disconnect")
	end
end

function SOCKET.error(fd, msg)
	skynet.error("ERROR", fd, msg)
end

function SOCKET.warning(fd, size)
	skynet.error("WARNING", fd, size)
end

skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, subcmd, ...)
		if cmd == "socket" then
			SOCKET[subcmd](...)
		elseif cmd == "start" then
			skynet.ret(skynet.pack(skynet.call(gate, "lua", "open", subcmd)))
		end
	end)
	gate = skynet.newservice("gate")
end)
"""

AGENT = """
local skynet = require "skynet"
local socket = require "skynet.socket"
local netpack = require "skynet.netpack"
local fd, gate
skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = skynet.tostring,
	dispatch = function(session, source, msg)
		skynet.ignoreret()
		-- forwarded with no client address: from the gate itself, as in skynet
		assert(session == fd and source == gate)
		socket.write(fd, netpack.pack("echo:" .. msg))
	end,
}
skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, conf)
		if cmd == "start" then
			fd, gate = conf.client, conf.gate
			skynet.call(gate, "lua", "forward", fd)
			skynet.ret()
		elseif cmd == "disconnect" then
			skynet.error("AGENT EXIT", fd)
			skynet.exit()
		end
	end)
end)
"""


def gate_tree(tree, mode: str, conf: str = "") -> None:
    tree.write({
        "service/watchdog.lua": WATCHDOG,
        "service/agent.lua": AGENT,
        "service/main.lua": f"""
local skynet = require "skynet"
skynet.start(function()
	local wd = skynet.newservice("watchdog", "{mode}")
	local addr, port = skynet.call(wd, "lua", "start", {{ port = 0 {conf} }})
	skynet.error("GATE", addr)
	skynet.error("PORT " .. port)
end)
""",
    })


def test_gate_forwards_packets_to_an_agent(tree):
    gate_tree(tree, "agent")
    with NodeThread(tree) as n:
        port = n.wait_port()
        assert n.wait_log("GATE") == "GATE 127.0.0.1"  # skykernel's default address
        c = connect(port)
        n.wait_log("OPEN")
        send_packet(c, b"one")
        assert recv_packet(c) == b"echo:one"
        # several packets in one segment, and one split across segments
        c.sendall(b"\x00\x03two\x00\x05three\x00")
        time.sleep(0.1)
        c.sendall(b"\x04fo")
        time.sleep(0.1)
        c.sendall(b"ur")
        assert [recv_packet(c) for _ in range(3)] == [b"echo:two", b"echo:three", b"echo:four"]
        # a packet of the largest size netpack allows
        big = bytes(range(256)) * 255 + b"x" * 255
        assert len(big) == 65535
        send_packet(c, big[:-10])
        assert recv_packet(c) == b"echo:" + big[:-10]
        c.close()
        n.wait_log("CLOSE")
        n.wait_log("AGENT EXIT")


def test_unforwarded_data_goes_to_the_watchdog_and_kick_closes(tree):
    gate_tree(tree, "accept")
    with NodeThread(tree) as n:
        c = connect(n.wait_port())
        send_packet(c, b"hello watchdog")
        assert n.wait_log("DATA").endswith(" hello watchdog")
        send_packet(c, b"kick me")
        c.settimeout(10)
        assert c.recv(10) == b""  # kicked: the gate closed it
        c.close()


def test_packets_before_accept_wait_for_it(tree):
    """The gate reads nothing of a connection until the watchdog accepts or forwards
    it: what the client sent first is not lost."""
    gate_tree(tree, "later")
    later = ('elseif mode == "later" then\n\t\tskynet.sleep(30)\n'
             '\t\tskynet.call(gate, "lua", "accept", fd)\n\telseif mode == "accept" then')
    tree.write({"service/watchdog.lua": WATCHDOG.replace('elseif mode == "accept" then', later)})
    with NodeThread(tree) as n:
        c = connect(n.wait_port())
        send_packet(c, b"early")
        assert n.wait_log("DATA").endswith(" early")
        c.close()


def test_incomplete_packet_then_close_is_dropped(tree):
    gate_tree(tree, "accept")
    with NodeThread(tree) as n:
        c = connect(n.wait_port())
        c.sendall(b"\xff\xffonly a little of a long packet")
        time.sleep(0.2)
        c.close()
        n.wait_log("CLOSE")
        assert not [t for t in n.lines() if t.startswith("DATA")]
        # the gate still serves the next client
        c2 = connect(n.wait_port())
        send_packet(c2, b"after")
        assert n.wait_log("DATA").endswith(" after")
        c2.close()


def test_oversized_packet_is_refused_by_netpack(tree):
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local netpack = require "skynet.netpack"
skynet.start(function()
	local ok, err = pcall(netpack.pack, string.rep("x", 70000))
	skynet.error("BIG", ok, err)
	local msg, sz = netpack.pack(string.rep("y", 65535))
	skynet.error("MAX", #msg, sz, msg:byte(1), msg:byte(2))
	skynet.error("END")
end)
"""})
    lines = tree.run()
    big = next(ln for ln in lines if ln.startswith("BIG"))
    assert big.startswith("BIG false") and "Invalid size (too long) of data : 70000" in big
    assert "MAX 65537 65537 255 255" in lines


def test_netpack_filter_cases(tree):
    """netpack.filter on socket messages made as the node makes them."""
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local netpack = require "skynet.netpack"
local function data(fd, bytes)
	return string.pack("<BI4I4", 1, fd, #bytes) .. bytes
end
local function show(...)
	local t = table.pack(...)
	local out = {}
	for i = 2, t.n do out[#out + 1] = tostring(t[i]) end
	return table.concat(out, ",")
end
skynet.start(function()
	local q
	local function f(msg)
		local r = table.pack(netpack.filter(q, msg))
		q = r[1]
		return show(table.unpack(r, 1, r.n))
	end
	skynet.error("ONE", f(data(7, "\\0\\3abc")))
	skynet.error("HALF", f(data(7, "\\0")), f(data(7, "\\2h")), f(data(7, "i")))
	skynet.error("MORE", f(data(7, "\\0\\1a\\0\\1b\\0")))
	local popped = {}
	for fd, msg, sz in netpack.pop, q do popped[#popped + 1] = fd .. ":" .. msg .. ":" .. sz end
	skynet.error("POP", table.concat(popped, " "))
	skynet.error("REST", f(data(7, "\\2cd")))
	skynet.error("OPEN", f(string.pack("<BI4I4", 4, 1, 9) .. "127.0.0.1:5"))
	skynet.error("CLOSE", f(string.pack("<BI4I4", 3, 9, 0)))
	skynet.error("ERROR", f(string.pack("<BI4I4", 5, 9, 0) .. "boom"))
	skynet.error("WARNING", f(string.pack("<BI4I4", 7, 9, 2048)))
	skynet.error("END")
end)
"""})
    lines = tree.run()
    assert "ONE data,7,abc,3" in lines
    assert "HALF   data,7,hi,2" in lines
    assert "MORE more" in lines
    assert "POP 7:a:1 7:b:1" in lines
    assert "REST data,7,cd,2" in lines
    assert "OPEN open,9,127.0.0.1:5" in lines
    assert "CLOSE close,9" in lines
    assert "ERROR error,9,boom" in lines
    assert "WARNING warning,9,2048" in lines


def test_a_flood_of_connections_is_bounded(tree):
    """maxclient 10: the gate takes 9 (skynet counts the one it refuses), shuts the rest
    at once; the node keeps serving, and every descriptor comes back."""
    gate_tree(tree, "agent", ", maxclient = 10")
    with NodeThread(tree) as n:
        port = n.wait_port()
        c0 = connect(port)
        send_packet(c0, b"warm")
        assert recv_packet(c0) == b"echo:warm"
        c0.close()
        wait_until(lambda: "AGENT EXIT" in " ".join(n.lines()), what="the first agent to exit")
        before = open_sockets()
        clients = [connect(port) for _ in range(200)]
        served, refused = 0, 0
        for c in clients:
            c.settimeout(20)
            try:
                send_packet(c, b"ping")
                if recv_packet(c) == b"echo:ping":
                    served += 1
            except (ConnectionError, OSError):
                refused += 1
        assert served == 9 and refused == 191, (served, refused)
        # the node still answers
        assert n.call(".launcher", "LIST")
        for c in clients:
            c.close()
        wait_until(lambda: not open_sockets() - before, timeout=60,
                   what=lambda: f"sockets still open: {open_sockets() - before}; the node's: "
                   f"{[(s.id, s.state, s.owner) for s in n.node.net.sockets.values()]}")
        wait_until(lambda: sum(t.startswith("AGENT EXIT") for t in n.lines()) == 10,
                   timeout=60, what="every agent to exit")


def test_gate_close_stops_listening(tree):
    gate_tree(tree, "accept")
    tree.write({"service/main.lua": """
local skynet = require "skynet"
skynet.start(function()
	local wd = skynet.newservice("watchdog", "accept")
	local addr, port = skynet.call(wd, "lua", "start", { port = 0 })
	skynet.error("PORT " .. port)
end)
"""})
    with NodeThread(tree) as n:
        port = n.wait_port()
        gate = next(s.handle for s in n.node.services() if s.name == "gate")
        n.call(gate, "close")

        def refused() -> bool:
            try:
                connect(port, timeout=2).close()
            except ConnectionRefusedError:
                return True
            except ConnectionResetError:
                pass  # caught the listener as it closed: ask again
            return False

        wait_until(refused, what="the gate to stop listening")


def test_client_reset_reaches_the_watchdog(tree):
    gate_tree(tree, "accept")
    with NodeThread(tree) as n:
        c = connect(n.wait_port())
        send_packet(c, b"x")
        n.wait_log("DATA")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        line = n.wait_log(lambda t: t.startswith("ERROR") or t.startswith("CLOSE"))
        assert line.startswith(("ERROR", "CLOSE"))
        if line.startswith("ERROR"):
            assert "Connection reset by peer" in line


def test_slow_client_warns_the_watchdog(tree):
    """An agent writes more than the client reads: the gate tells the watchdog
    `warning fd K`, as skynet's gate does."""
    gate_tree(tree, "agent")
    tree.write({"service/agent.lua": AGENT.replace(
        'socket.write(fd, netpack.pack("echo:" .. msg))',
        'for i = 1, 160 do socket.write(fd, netpack.pack(string.rep("w", 65000))) end')})
    with NodeThread(tree) as n:
        port = n.wait_port()
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.settimeout(30)
        c.connect(("127.0.0.1", port))
        send_packet(c, b"flood me")
        line = n.wait_log("WARNING")
        fd, size = line.split()[1:3]
        assert int(size) >= 1024
        for _ in range(160):
            assert recv_packet(c) == b"w" * 65000
        c.close()

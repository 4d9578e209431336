"""snax.loginserver and snax.msgserver end to end, in the shape of skynet's examples/login:
a login server, a message server, and a client speaking both protocols over TCP. The
same services run on real skynet, so each side is also checked against the other."""

from __future__ import annotations

import realskynet
from net_support import NodeThread, free_port

LOGIND = """
local login = require "snax.loginserver"
local crypt = require "skynet.crypt"
local skynet = require "skynet"

local server = {
	host = "127.0.0.1",
	port = tonumber(skynet.getenv("login_port")),
	multilogin = false,
	name = "login_master",
	instance = 2,
}

local server_list = {}

function server.auth_handler(token)
	-- token: base64(user)@base64(server):base64(password)
	local user, srv, password = token:match("([^@]+)@([^:]+):(.+)")
	user = crypt.base64decode(user)
	srv = crypt.base64decode(srv)
	password = crypt.base64decode(password)
	assert(password == "password", "Invalid password")
	return srv, user
end

function server.login_handler(srv, uid, secret)
	local gameserver = assert(server_list[srv], "Unknown server")
	return skynet.call(gameserver, "lua", "login", uid, secret)
end

local CMD = {}
function CMD.register_gate(srv, address)
	server_list[srv] = address
end

function server.command_handler(command, ...)
	return CMD[command](...)
end

login(server)
"""

GATED = """
local msgserver = require "snax.msgserver"
local crypt = require "skynet.crypt"
local skynet = require "skynet"

local loginservice = tonumber(...)
local server = {}
local users = {}
local internal_id = 0

function server.login_handler(uid, secret)
	internal_id = internal_id + 1
	local username = msgserver.username(uid, internal_id, "sample")
	users[username] = true
	msgserver.login(username, secret)
	return internal_id
end

function server.logout_handler(uid, subid)
	local username = msgserver.username(uid, subid, "sample")
	msgserver.logout(username)
end

function server.kick_handler(uid, subid) end

function server.disconnect_handler(username)
	skynet.error("DISCONNECT", (msgserver.userid(username)))
end

function server.request_handler(username, msg)
	if msg == "fail" then
		error("request fails on purpose")
	end
	return "echo:" .. msg
end

function server.register_handler(name)
	skynet.call(loginservice, "lua", "register_gate", name, skynet.self())
end

msgserver.start(server)
"""

CLIENT = """
local skynet = require "skynet"
local socket = require "skynet.socket"
local crypt = require "skynet.crypt"

local login_port, gate_port = ...

local function line(fd)
	return assert(socket.readline(fd), "login server closed")
end

local function login(user, password)
	local fd = assert(socket.open("127.0.0.1", tonumber(login_port)))
	local challenge = crypt.base64decode(line(fd))
	local clientkey = crypt.randomkey()
	socket.write(fd, crypt.base64encode(crypt.dhexchange(clientkey)) .. "\\n")
	local secret = crypt.dhsecret(crypt.base64decode(line(fd)), clientkey)
	socket.write(fd, crypt.base64encode(crypt.hmac64(challenge, secret)) .. "\\n")
	local token = string.format("%s@%s:%s", crypt.base64encode(user),
		crypt.base64encode("sample"), crypt.base64encode(password))
	socket.write(fd, crypt.base64encode(crypt.desencode(secret, token)) .. "\\n")
	local result = line(fd)
	socket.close(fd)
	local code = tonumber(result:sub(1, 3))
	if code ~= 200 then
		return nil, result
	end
	return secret, crypt.base64decode(result:sub(5))
end

local function packet(fd, text)
	socket.write(fd, string.pack(">s2", text))
end

local function recv(fd)
	local head = socket.read(fd, 2)
	if not head then return nil end
	return socket.read(fd, string.unpack(">I2", head))
end

local function connect_gate(user, subid, secret, index)
	local fd = assert(socket.open("127.0.0.1", tonumber(gate_port)))
	local handshake = string.format("%s@%s#%s:%d", crypt.base64encode(user),
		crypt.base64encode("sample"), crypt.base64encode(subid), index)
	local hmac = crypt.hmac64(crypt.hashkey(handshake), secret)
	packet(fd, handshake .. ":" .. crypt.base64encode(hmac))
	return fd, recv(fd)
end

local function request(fd, text, session)
	packet(fd, text .. string.pack(">I4", session))
	local r = recv(fd)
	local content, ok, s = r:sub(1, -6), r:byte(-5), string.unpack(">I4", r, -4)
	return content, ok, s
end

skynet.start(function()
	skynet.error("BADPASS", login("alice", "wrong"))
	local secret, subid = login("alice", "password")
	skynet.error("LOGIN", secret ~= nil, subid)
	local fd, answer = connect_gate("alice", subid, secret, 1)
	skynet.error("HANDSHAKE", answer)
	skynet.error("REQ", request(fd, "hello", 1))
	skynet.error("REQ", request(fd, "fail", 2))
	socket.close(fd)
	-- a reconnect asks for session 1 again: the cached answer comes back
	local fd2, answer2 = connect_gate("alice", subid, secret, 2)
	skynet.error("RECONNECT", answer2)
	skynet.error("AGAIN", request(fd2, "ignored", 1))
	socket.close(fd2)
	local _, stale = connect_gate("alice", subid, secret, 2)
	skynet.error("STALE", stale)
	local _, bad = connect_gate("alice", subid, "wrongkey", 3)
	skynet.error("BADHMAC", bad)
	local _, nobody = connect_gate("bob", "1", secret, 1)
	skynet.error("NOBODY", nobody)
	skynet.error("CLIENT DONE")
end)
"""

MAIN = """
local skynet = require "skynet"
skynet.start(function()
	local loginserver = skynet.newservice("logind")
	local gate = skynet.newservice("gated", loginserver)
	skynet.call(gate, "lua", "open", {
		address = "127.0.0.1",
		port = tonumber(skynet.getenv("gate_port")),
		maxclient = 64,
		servername = "sample",
	})
	skynet.error("SERVERS UP")
end)
"""

CLIENT_EXPECTED = [
    "BADPASS nil 401 Unauthorized",
    "LOGIN true 1",
    "HANDSHAKE 200 OK",
    "REQ echo:hello 1 1",
    "REQ  0 2",
    "RECONNECT 200 OK",
    "AGAIN echo:hello 1 1",
    "STALE 403 Index Expired",
    "BADHMAC 401 Unauthorized",
    "NOBODY 404 User Not Found",
]


def write_services(tree, login_port: int, gate_port: int) -> str:
    tree.write({"service/logind.lua": LOGIND, "service/gated.lua": GATED,
                "service/client.lua": CLIENT, "service/main.lua": MAIN})
    return f'login_port = "{login_port}"\ngate_port = "{gate_port}"\n'


def client_lines(lines: list[str]) -> list[str]:
    tags = ("BADPASS", "LOGIN", "HANDSHAKE", "REQ", "RECONNECT", "AGAIN", "STALE",
            "BADHMAC", "NOBODY")
    return [t for t in lines if t.split(" ", 1)[0] in tags]


def test_login_and_message_server(tree):
    lp, gp = free_port(), free_port()
    env = write_services(tree, lp, gp)
    with NodeThread(tree, config=env) as n:
        n.wait_log("SERVERS UP")
        n.run(n.node.newservice("client", str(lp), str(gp)))
        n.wait_log("CLIENT DONE")
        assert client_lines(n.lines()) == CLIENT_EXPECTED
        assert any("request fails on purpose" in t for t in n.lines())
        assert "DISCONNECT alice" in n.lines()


def test_our_client_against_real_skynet_servers(tree, real_skynet):
    lp, gp = free_port(), free_port()
    env = write_services(tree, lp, gp)
    proc = realskynet.start(realskynet.write_config(tree.root, env), real_skynet, tree.root)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if "SERVERS UP" in line:
                break
        tree.write({"service/main.lua": 'local skynet = require "skynet"\n'
                                        'skynet.start(function() end)\n'})
        with NodeThread(tree, config=env) as n:
            n.run(n.node.newservice("client", str(lp), str(gp)))
            n.wait_log("CLIENT DONE")
            assert client_lines(n.lines()) == CLIENT_EXPECTED
    finally:
        realskynet.stop(proc)


def test_real_skynet_client_against_our_servers(tree, real_skynet):
    lp, gp = free_port(), free_port()
    env = write_services(tree, lp, gp)
    config = realskynet.write_config(tree.root, start=f"client {lp} {gp}")
    with NodeThread(tree, config=env) as n:
        n.wait_log("SERVERS UP")
        lines = realskynet.run(config, real_skynet, until="CLIENT DONE", cwd=tree.root)
        assert client_lines(lines) == CLIENT_EXPECTED

-- gate: skynet's gate service. Clients connect to the port `open` listens on; each
-- connection is announced to the watchdog (`socket` "open" fd addr), and its netpack
-- packets go to the watchdog (`socket` "data" fd msg) until it is forwarded: then they
-- go straight to an agent as `client` messages (session = fd).
--
-- Commands: open(conf) -> address, port (conf.watchdog defaults to the caller);
-- close; forward(fd, client, agent); accept(fd); kick(fd). The watchdog also hears
-- "close", "error" and "warning" (fd, K bytes waiting) for each connection.

local skynet = require "skynet"
local gateserver = require "snax.gateserver"

local watchdog
-- fd -> { fd, ip, agent, client }
local connection = {}

skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
}

local handler = {}

function handler.open(source, conf)
	watchdog = conf.watchdog or source
	return conf.address, conf.port
end

function handler.message(fd, msg, sz)
	local c = connection[fd]
	local agent = c.agent
	if agent then
		-- as skynet: the agent sees the client address as the source, the fd as session
		skynet.redirect(agent, c.client, "client", fd, msg, sz)
	else
		skynet.send(watchdog, "lua", "socket", "data", fd, skynet.tostring(msg, sz))
	end
end

function handler.connect(fd, addr)
	connection[fd] = { fd = fd, ip = addr }
	skynet.send(watchdog, "lua", "socket", "open", fd, addr)
end

local function unforward(c)
	c.agent = nil
	c.client = nil
end

local function close_fd(fd)
	local c = connection[fd]
	if c then
		unforward(c)
		connection[fd] = nil
	end
end

function handler.disconnect(fd)
	close_fd(fd)
	skynet.send(watchdog, "lua", "socket", "close", fd)
end

function handler.error(fd, msg)
	close_fd(fd)
	skynet.send(watchdog, "lua", "socket", "error", fd, msg)
end

function handler.warning(fd, size)
	skynet.send(watchdog, "lua", "socket", "warning", fd, size)
end

local CMD = {}

function CMD.forward(source, fd, client, address)
	local c = assert(connection[fd], "gate: no connection " .. tostring(fd))
	unforward(c)
	c.client = client or 0
	c.agent = address or source
	gateserver.openclient(fd)
end

function CMD.accept(source, fd)
	local c = assert(connection[fd], "gate: no connection " .. tostring(fd))
	unforward(c)
	gateserver.openclient(fd)
end

function CMD.kick(source, fd)
	gateserver.closeclient(fd)
end

function handler.command(cmd, source, ...)
	local f = assert(CMD[cmd], "gate: unknown command " .. tostring(cmd))
	return f(source, ...)
end

gateserver.start(handler)

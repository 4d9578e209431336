-- snax.gateserver: a listening socket whose connections speak netpack packets
-- (2-byte length, then the data), as skynet's gateserver. A service passes handlers to
-- gateserver.start: message(fd, msg, sz) and connect(fd, addr) are required; open,
-- disconnect, error, warning, command and embed are optional.
--
-- Commands (lua protocol): open(conf) listens on conf.address/conf.port (maxclient,
-- nodelay, backlog), close stops listening; others go to handler.command.

local skynet = require "skynet"
local netpack = require "skynet.netpack"
local driver = require "skynet.socketdriver"

local assert = assert

local gateserver = {}

local listen_id -- the listening socket
local queue -- netpack's queue of whole packets
local maxclient
local client_number = 0
local nodelay = false
local CMD = {}

-- fd -> true (open), false (the peer closed: nothing more will be read); nil: gone
local connection = {}

-- Let a connection's data flow (its packets reach handler.message).
function gateserver.openclient(fd)
	if connection[fd] then
		driver.start(fd)
	end
end

function gateserver.closeclient(fd)
	if connection[fd] ~= nil then
		connection[fd] = nil
		driver.close(fd)
	end
end

function gateserver.start(handler)
	assert(handler.message, "gateserver needs handler.message")
	assert(handler.connect, "gateserver needs handler.connect")

	-- socket.listen's wait, by hand: the listen's address comes as an "init" message
	local listening = {}

	function CMD.open(source, conf)
		assert(not listen_id, "gate is already listening")
		-- skynet listens on 0.0.0.0 when no address is given; skykernel on loopback
		local address = conf.address or "127.0.0.1"
		local port = conf.port
		maxclient = conf.maxclient or 1024
		nodelay = conf.nodelay
		skynet.error("Listen on", address, port)
		listen_id = driver.listen(address, port, conf.backlog)
		listening.co = coroutine.running()
		listening.fd = listen_id
		skynet.wait(listening.co)
		conf.address = listening.addr
		conf.port = listening.port
		listening = nil
		driver.start(listen_id)
		if handler.open then
			return handler.open(source, conf)
		end
	end

	function CMD.close()
		assert(listen_id, "gate is not listening")
		driver.close(listen_id)
	end

	local MSG = {}

	local function dispatch_msg(fd, msg, sz)
		if connection[fd] then
			handler.message(fd, msg, sz)
		else
			skynet.error(string.format("Drop message from fd (%d) : %s", fd, netpack.tostring(msg, sz)))
		end
	end

	MSG.data = dispatch_msg

	-- Several packets came at once. A handler may block: the next packets then go on
	-- in a forked thread, so one slow packet does not hold the others back.
	local function dispatch_queue()
		local fd, msg, sz = netpack.pop(queue)
		if fd then
			skynet.fork(dispatch_queue)
			dispatch_msg(fd, msg, sz)
			for fd2, msg2, sz2 in netpack.pop, queue do
				dispatch_msg(fd2, msg2, sz2)
			end
		end
	end

	MSG.more = dispatch_queue

	function MSG.open(fd, addr)
		client_number = client_number + 1
		if client_number >= maxclient then
			-- over the limit: refused at once (its close still comes, and counts down)
			driver.shutdown(fd)
			return
		end
		if nodelay then
			driver.nodelay(fd)
		end
		connection[fd] = true
		handler.connect(fd, addr)
	end

	function MSG.close(fd)
		if fd ~= listen_id then
			client_number = client_number - 1
			if connection[fd] then
				connection[fd] = false
			end
			if handler.disconnect then
				handler.disconnect(fd)
			end
		else
			listen_id = nil
		end
	end

	function MSG.error(fd, msg)
		if fd == listen_id then
			skynet.error("gateserver accept error:", msg)
		else
			driver.shutdown(fd)
			if handler.error then
				handler.error(fd, msg)
			end
		end
	end

	function MSG.warning(fd, size)
		if handler.warning then
			handler.warning(fd, size)
		end
	end

	function MSG.init(id, addr, port)
		if listening and listening.co and id == listening.fd then
			listening.addr = addr
			listening.port = port
			skynet.wakeup(listening.co)
			listening.co = nil
		end
	end

	skynet.register_protocol {
		name = "socket",
		id = skynet.PTYPE_SOCKET,
		unpack = function(msg, sz)
			return netpack.filter(queue, msg, sz)
		end,
		dispatch = function(_, _, q, kind, ...)
			queue = q
			if kind then
				MSG[kind](...)
			end
		end,
	}

	local function init()
		skynet.dispatch("lua", function(_, address, cmd, ...)
			local f = CMD[cmd]
			if f then
				skynet.ret(skynet.pack(f(address, ...)))
			else
				skynet.ret(skynet.pack(handler.command(cmd, address, ...)))
			end
		end)
	end

	if handler.embed then
		init()
	else
		skynet.start(init)
	end
end

return gateserver

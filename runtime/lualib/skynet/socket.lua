-- skynet.socket: sockets for coroutines, over skynet.socketdriver (skynet's API).
--
-- A socket belongs to the service that opened, listened on or started it: its events
-- come here as `socket` protocol messages and wake the coroutine waiting on it. When
-- the service exits, the node closes what it still owns.

local skynet = require "skynet"
local driver = require "skynet.socketdriver"

local assert, error, type = assert, error, type
local coroutine_running = coroutine.running
local string_format = string.format

-- Past this many unread bytes, a socket whose reader is not waiting for more is paused
-- (the node stops reading it) until the reader comes back.
local BUFFER_LIMIT <const> = 128 * 1024

local socket = {}
-- id -> socket object:
--   id, buffer, connected, connecting (true, then an error message), listen,
--   callback (accept or udp callback), co (the coroutine waiting on it),
--   need (what the reader waits for: bytes, a separator, true = until close),
--   paused, closing (the coroutine closing it), limit, on_warning, protocol, addr, port
local socket_pool = {}
local socket_onclose = {}
local socket_message = {}

local function wakeup(s)
	local co = s.co
	if co then
		s.co = nil
		skynet.wakeup(co)
	end
end

local function pause_socket(s, size)
	if s.paused then
		return
	end
	if size then
		skynet.error(string_format("Pause socket (%d) size : %d", s.id, size))
	else
		skynet.error(string_format("Pause socket (%d)", s.id))
	end
	driver.pause(s.id)
	s.paused = true
end

-- Wait for the socket's next event that concerns the reader.
local function suspend(s)
	assert(not s.co, "socket is already waited on by another coroutine")
	local co = coroutine_running()
	s.co = co
	if s.paused then
		skynet.error(string_format("Resume socket (%d)", s.id))
		driver.start(s.id)
		skynet.wait(co)
		s.paused = nil
	else
		skynet.wait(co)
	end
	-- socket.close waits for a reader to finish with the buffer
	if s.closing then
		skynet.wakeup(s.closing)
	end
end

-- 1 DATA: bytes arrived
socket_message[1] = function(id, size, data)
	local s = socket_pool[id]
	if s == nil then
		skynet.error("socket: drop package from " .. id)
		return
	end
	local sz = driver.push(s.buffer, s.pool, data, size)
	local need = s.need
	local kind = type(need)
	if kind == "number" then
		if sz >= need then
			s.need = nil
			if sz > BUFFER_LIMIT then
				pause_socket(s, sz)
			end
			wakeup(s)
		end
		return
	end
	if s.limit and sz > s.limit then
		skynet.error(string_format("socket buffer overflow: fd=%d size=%d", id, sz))
		driver.close(id)
		return
	end
	if kind == "string" then
		if driver.readline(s.buffer, nil, need) then
			s.need = nil
			if sz > BUFFER_LIMIT then
				pause_socket(s, sz)
			end
			wakeup(s)
		end
	elseif need ~= true and sz > BUFFER_LIMIT then
		-- no reader waits (or readall waits for the close, which a pause would keep away)
		pause_socket(s, sz)
	end
end

-- 2 CONNECT: a connect succeeded, a start took effect, or (ud, addr) a listen's address
socket_message[2] = function(id, ud, addr)
	local s = socket_pool[id]
	if s == nil then
		return
	end
	if not s.connected then
		if s.listen then
			s.addr = addr
			s.port = ud
		end
		s.connected = true
		wakeup(s)
	end
end

-- 3 CLOSE: the peer closed (what was read stays readable), or our close took effect
socket_message[3] = function(id)
	local s = socket_pool[id]
	if s then
		s.connected = false
		wakeup(s)
	else
		driver.close(id)
	end
	local cb = socket_onclose[id]
	if cb then
		socket_onclose[id] = nil
		cb(id)
	end
end

-- 4 ACCEPT: a connection came to a started listener
socket_message[4] = function(id, newid, addr)
	local s = socket_pool[id]
	if s == nil then
		driver.close(newid)
		return
	end
	s.callback(newid, addr)
end

-- 5 ERROR: the connect failed, or the connection broke
socket_message[5] = function(id, _, err)
	local s = socket_pool[id]
	if s == nil then
		driver.shutdown(id)
		skynet.error("socket: error on unknown", id, err)
		return
	end
	if s.callback then
		skynet.error("socket: accept error:", err)
		return
	end
	if s.connected then
		skynet.error("socket: error on", id, err)
	elseif s.connecting then
		s.connecting = err
	end
	s.connected = false
	driver.shutdown(id)
	wakeup(s)
end

-- 6 UDP: a datagram and its sender's address
socket_message[6] = function(id, size, data, address)
	local s = socket_pool[id]
	if s == nil or s.callback == nil then
		skynet.error("socket: drop udp package from " .. id)
		return
	end
	s.callback(data, address)
end

local function default_warning(id, size)
	if socket_pool[id] then
		skynet.error(string_format("WARNING: %d K bytes need to send out (fd = %d)", size, id))
	end
end

-- 7 WARNING: `size` K bytes wait to be sent (0: the queue has drained)
socket_message[7] = function(id, size)
	local s = socket_pool[id]
	if s then
		local warning = s.on_warning or default_warning
		warning(id, size)
	end
end

skynet.register_protocol {
	name = "socket",
	id = skynet.PTYPE_SOCKET,
	unpack = driver.unpack,
	dispatch = function(_, _, t, ...)
		socket_message[t](...)
	end,
}

-- Register a socket object and wait until it is connected (or failed).
local function connect(id, func)
	local buffer
	if func == nil then
		buffer = driver.buffer()
	end
	local s = {
		id = id,
		buffer = buffer,
		pool = buffer and {},
		connected = false,
		connecting = true,
		need = false,
		co = false,
		callback = func,
		protocol = "TCP",
	}
	assert(not socket_onclose[id], "socket has onclose callback")
	local old = socket_pool[id]
	if old and not old.listen then
		error("socket is not closed")
	end
	socket_pool[id] = s
	suspend(s)
	local err = s.connecting
	s.connecting = nil
	if s.connected then
		return id
	end
	socket_pool[id] = nil
	return nil, err
end

function socket.open(addr, port)
	return connect(driver.connect(addr, port))
end

function socket.bind(os_fd)
	return connect(driver.bind(os_fd))
end

function socket.stdin()
	return socket.bind(0)
end

function socket.start(id, func)
	driver.start(id)
	return connect(id, func)
end

function socket.pause(id)
	local s = socket_pool[id]
	if s then
		pause_socket(s)
	end
end

function socket.shutdown(id)
	if socket_pool[id] then
		-- the node closes it now and a CLOSE follows; socket.close(id) forgets it
		driver.shutdown(id)
	end
end

function socket.close_fd(id)
	assert(socket_pool[id] == nil, "Use socket.close instead")
	driver.close(id)
end

function socket.close(id)
	local s = socket_pool[id]
	if s == nil then
		return
	end
	driver.close(id)
	if s.connected then
		s.paused = false -- closing: never resume it
		if s.co then
			-- another coroutine reads it: let it take what is buffered first
			assert(not s.closing)
			s.closing = coroutine_running()
			skynet.wait(s.closing)
		else
			suspend(s)
		end
		s.connected = false
	end
	socket_pool[id] = nil
end

function socket.read(id, sz)
	local s = socket_pool[id]
	assert(s, "socket.read: invalid socket")
	local buffer = s.buffer
	if sz == nil then
		-- whatever is there, or wait for some
		local r = driver.readall(buffer, s.pool)
		if r ~= "" then
			return r
		end
		if not s.connected then
			return false, r
		end
		assert(not s.need)
		s.need = 0
		suspend(s)
		r = driver.readall(buffer, s.pool)
		if r ~= "" then
			return r
		end
		return false, r
	end
	local r = driver.pop(buffer, s.pool, sz)
	if r then
		return r
	end
	if s.closing or not s.connected then
		return false, driver.readall(buffer, s.pool)
	end
	assert(not s.need)
	s.need = sz
	suspend(s)
	r = driver.pop(buffer, s.pool, sz)
	if r then
		return r
	end
	return false, driver.readall(buffer, s.pool)
end

function socket.readall(id)
	local s = socket_pool[id]
	assert(s, "socket.readall: invalid socket")
	if not s.connected then
		local r = driver.readall(s.buffer, s.pool)
		return r ~= "" and r
	end
	assert(not s.need)
	s.need = true
	suspend(s)
	assert(s.connected == false)
	return driver.readall(s.buffer, s.pool)
end

function socket.readline(id, sep)
	sep = sep or "\n"
	local s = socket_pool[id]
	assert(s, "socket.readline: invalid socket")
	local r = driver.readline(s.buffer, s.pool, sep)
	if r then
		return r
	end
	if not s.connected then
		return false, driver.readall(s.buffer, s.pool)
	end
	assert(not s.need)
	s.need = sep
	suspend(s)
	if s.connected then
		return driver.readline(s.buffer, s.pool, sep)
	end
	return false, driver.readall(s.buffer, s.pool)
end

-- Wait until something arrives or the socket closes; true while it is connected.
function socket.block(id)
	local s = socket_pool[id]
	if not s or not s.connected then
		return false
	end
	assert(not s.need)
	s.need = 0
	suspend(s)
	return s.connected
end

socket.write = driver.send
socket.lwrite = driver.lsend
socket.header = driver.header

function socket.invalid(id)
	return socket_pool[id] == nil
end

function socket.disconnected(id)
	local s = socket_pool[id]
	if s then
		return not (s.connected or s.connecting)
	end
end

function socket.listen(host, port, backlog)
	-- (host, port), or "host:port" with no port: the driver reads both
	local id = driver.listen(host, port, backlog)
	local s = {
		id = id,
		connected = false,
		listen = true,
	}
	assert(socket_pool[id] == nil)
	socket_pool[id] = s
	suspend(s)
	return id, s.addr, s.port
end

-- Forget a socket without closing it, so that another service can start it.
function socket.abandon(id)
	local s = socket_pool[id]
	if s then
		s.connected = false
		wakeup(s)
		socket_onclose[id] = nil
		socket_pool[id] = nil
	end
end

-- More unread bytes than `limit` (and no reader waiting for a count) closes the socket.
function socket.limit(id, limit)
	local s = assert(socket_pool[id], "socket.limit: invalid socket")
	s.limit = limit
end

----- UDP

local function create_udp_object(id, cb)
	assert(not socket_pool[id], "socket is not closed")
	socket_pool[id] = {
		id = id,
		connected = true,
		protocol = "UDP",
		callback = cb,
	}
end

function socket.udp(callback, host, port)
	local id = driver.udp(host, port)
	create_udp_object(id, callback)
	return id
end

function socket.udp_connect(id, addr, port, callback)
	local s = socket_pool[id]
	if s then
		assert(s.protocol == "UDP", "socket.udp_connect: not a udp socket")
		if callback then
			s.callback = callback
		end
	else
		create_udp_object(id, callback)
	end
	driver.udp_connect(id, addr, port)
end

function socket.udp_listen(addr, port, callback)
	local id = driver.udp_listen(addr, port)
	create_udp_object(id, callback)
	return id
end

function socket.udp_dial(addr, port, callback)
	local id = driver.udp_dial(addr, port)
	create_udp_object(id, callback)
	return id
end

socket.sendto = driver.udp_send
socket.udp_address = driver.udp_address
socket.netstat = driver.info
socket.resolve = driver.resolve

function socket.warning(id, callback)
	local s = assert(socket_pool[id], "socket.warning: invalid socket")
	s.on_warning = callback
end

function socket.onclose(id, callback)
	socket_onclose[id] = callback
end

return socket

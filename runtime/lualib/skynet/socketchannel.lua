-- skynet.socketchannel: a connection to a server that reconnects by itself and matches
-- replies to requests, as skynet's socketchannel.
--
--   channel = socketchannel.channel { host, port, backup = { ... }, auth = f(channel),
--       response = f(sock) (session mode), nodelay, overload = f(is_overload),
--       socket_read, socket_readline }
--   channel:connect(once)
--   channel:request(req, response, padding) -> the reply
--   channel:response(response), channel:close(), channel:changehost(host, port),
--   channel:changebackup(backup)
--
-- Order mode (no `response` in the description): each request passes a function that
-- reads its reply from the socket; replies come in the order of requests.
-- Session mode: `response(sock)` reads any reply and returns session, ok, data,
-- padding; a request passes its session. A reply with padding = true is one part of a
-- longer one: the parts are gathered into a table.
--
-- When the connection breaks, waiting requests raise socketchannel.error (or the
-- reader's error message); the next request reconnects.

local skynet = require "skynet"
local socket = require "skynet.socket"
local socketdriver = require "skynet.socketdriver"

local assert, error, pcall, type, ipairs, pairs = assert, error, pcall, type, ipairs, pairs
local setmetatable = setmetatable
local table_insert, table_remove = table.insert, table.remove
local coroutine_running = coroutine.running

local socket_channel = {}
local channel = {}
local channel_meta = { __index = channel }

-- The error object a broken connection raises.
local socket_error = setmetatable({}, { __tostring = function() return "[Error: socket]" end })
socket_channel.error = socket_error

-- What a response function reads from: sock:read(n), sock:readline(sep), raising
-- socket_error when the connection is gone.
local channel_socket = {}

local function closing_gc(cs)
	local fd = cs[1]
	cs[1] = false
	if fd then
		socket.shutdown(fd)
	end
end

local channel_socket_meta = { __index = channel_socket, __gc = closing_gc }

function socket_channel.channel(desc)
	local c = {
		__host = assert(desc.host, "socketchannel needs a host"),
		__port = desc.port,
		__backup = desc.backup,
		__auth = desc.auth,
		__response = desc.response, -- session mode
		__request = {}, -- order mode: response functions, in order
		__thread = {}, -- order mode: coroutines in order; session mode: session -> co
		__result = {}, -- co -> ok (or socket_error)
		__result_data = {}, -- co -> reply
		__connecting = {},
		__sock = false,
		__closed = false,
		__authcoroutine = false,
		__nodelay = desc.nodelay,
		__overload_notify = desc.overload,
		__overload = false,
		__socket_meta = channel_socket_meta,
	}
	if desc.socket_read or desc.socket_readline then
		c.__socket_meta = {
			__index = {
				read = desc.socket_read or channel_socket.read,
				readline = desc.socket_readline or channel_socket.readline,
			},
			__gc = closing_gc,
		}
	end
	return setmetatable(c, channel_meta)
end

local function close_channel_socket(self)
	local so = self.__sock
	if so then
		self.__sock = false
		if self.__wait_response then
			skynet.wakeup(self.__wait_response)
			self.__wait_response = nil
		end
		pcall(socket.close, so[1])
	end
end

-- Every waiting request fails with errmsg (or socket_error).
local function wakeup_all(self, errmsg)
	local result, data = self.__result, self.__result_data
	if self.__response then
		for k, co in pairs(self.__thread) do
			self.__thread[k] = nil
			result[co] = socket_error
			data[co] = errmsg
			skynet.wakeup(co)
		end
		return
	end
	for i = 1, #self.__request do
		self.__request[i] = nil
	end
	for i = 1, #self.__thread do
		local co = self.__thread[i]
		self.__thread[i] = nil
		if co then -- false marks the close signal
			result[co] = socket_error
			data[co] = errmsg
			skynet.wakeup(co)
		end
	end
end

local function store_result(self, co, ok, data)
	self.__result[co] = ok
	local parts = self.__result_data[co]
	if ok and parts then
		parts[#parts + 1] = data
	else
		self.__result_data[co] = data
	end
	skynet.wakeup(co)
end

----- session mode: one reader thread matches each reply to its session

local function dispatch_by_session(self)
	local response = self.__response
	while self.__sock do
		local ok, session, result_ok, result_data, padding = pcall(response, self.__sock)
		if ok and session then
			local co = self.__thread[session]
			if co then
				if padding and result_ok then
					-- one part of a long reply: keep gathering
					local parts = self.__result_data[co] or {}
					self.__result_data[co] = parts
					parts[#parts + 1] = result_data
				else
					self.__thread[session] = nil
					store_result(self, co, result_ok, result_data)
				end
				if not self.__sock then
					wakeup_all(self, "channel_closed")
					break
				end
			else
				self.__thread[session] = nil
				skynet.error("socket: unknown session :", session)
			end
		else
			close_channel_socket(self)
			local errmsg
			if session ~= socket_error then
				errmsg = session
			end
			wakeup_all(self, errmsg)
		end
	end
end

----- order mode: the reader runs each request's response function in turn

local function pop_response(self)
	while self.__sock do
		local func, co = table_remove(self.__request, 1), table_remove(self.__thread, 1)
		if func then
			return func, co
		end
		self.__wait_response = coroutine_running()
		skynet.wait(self.__wait_response)
	end
end

local function push_response(self, response, co)
	if self.__response then
		self.__thread[response] = co
		return
	end
	table_insert(self.__request, response)
	table_insert(self.__thread, co)
	if self.__wait_response then
		skynet.wakeup(self.__wait_response)
		self.__wait_response = nil
	end
end

-- A response function may answer in parts (ok, data, padding = true): gather them.
local function get_response(func, sock)
	local ok, data, padding = func(sock)
	if not (ok and padding) then
		return ok, data
	end
	local parts, n = { data }, 1
	repeat
		ok, data, padding = func(sock)
		if not ok then
			return ok, data
		end
		n = n + 1
		parts[n] = data
	until not padding
	return true, parts
end

local function dispatch_by_order(self)
	while self.__sock do
		local func, co = pop_response(self)
		if not co then
			-- the close signal (or the socket went while waiting)
			wakeup_all(self, "channel_closed")
			break
		end
		local sock = self.__sock
		if not sock then
			self.__result[co] = socket_error
			skynet.wakeup(co)
			wakeup_all(self)
			break
		end
		local ok, result_ok, result_data = pcall(get_response, func, sock)
		if ok then
			store_result(self, co, result_ok, result_data)
			if not self.__sock then
				wakeup_all(self, "channel_closed")
				break
			end
		else
			close_channel_socket(self)
			local errmsg
			if result_ok ~= socket_error then
				errmsg = result_ok
			end
			self.__result[co] = socket_error
			self.__result_data[co] = errmsg
			skynet.wakeup(co)
			wakeup_all(self, errmsg)
		end
	end
end

local function autoclose_cb(self, fd)
	local sock = self.__sock
	if self.__wait_response and sock and sock[1] == fd then
		skynet.error("socket closed by peer : ", self.__host, self.__port)
		close_channel_socket(self)
	end
end

local function dispatch_function(self)
	if self.__response then
		return dispatch_by_session
	end
	socket.onclose(self.__sock[1], function(fd)
		autoclose_cb(self, fd)
	end)
	return dispatch_by_order
end

-- Tell an order-mode reader of an old connection to stop.
local function term_dispatch_thread(self)
	if not self.__response and self.__dispatch_thread then
		push_response(self, true, false)
	end
end

----- connecting

local function watch_overload(self, fd)
	local notify = self.__overload_notify
	if not notify then
		return
	end
	local function trigger(id, size)
		if not self.__sock or id ~= self.__sock[1] then
			return
		end
		if size == 0 then
			if self.__overload then
				self.__overload = false
				notify(false)
			end
		elseif not self.__overload then
			self.__overload = true
			notify(true)
		else
			skynet.error(string.format("WARNING: %d K bytes need to send out (fd = %d)", size, id),
				self.__host, self.__port)
		end
	end
	skynet.fork(trigger, fd, 0)
	socket.warning(fd, trigger)
end

local function connect_once(self)
	if self.__closed then
		return false
	end
	local addr_list, addr_set = {}, {}

	local function add_backup()
		for _, addr in ipairs(self.__backup or {}) do
			local host, port
			if type(addr) == "table" then
				host, port = addr.host, addr.port
			else
				host, port = addr, self.__port
			end
			local key = host .. ":" .. tostring(port)
			if not addr_set[key] then
				addr_set[key] = true
				addr_list[#addr_list + 1] = { host = host, port = port }
			end
		end
	end

	local function next_addr()
		local addr = table_remove(addr_list, 1)
		if addr then
			skynet.error("socket: connect to backup host", addr.host, addr.port)
		end
		return addr
	end

	local function try(addr)
		local fd, err = socket.open(addr.host, addr.port)
		if not fd then
			local other = next_addr()
			if other == nil then
				return false, err
			end
			return try(other)
		end
		self.__host, self.__port = addr.host, addr.port
		assert(not self.__sock and not self.__authcoroutine)
		term_dispatch_thread(self)
		if self.__nodelay then
			socketdriver.nodelay(fd)
		end
		watch_overload(self, fd)
		while self.__dispatch_thread do
			-- the old reader has not finished yet
			skynet.yield()
		end
		self.__sock = setmetatable({ fd }, self.__socket_meta)
		self.__dispatch_thread = skynet.fork(function()
			if self.__sock then
				pcall(dispatch_function(self), self)
			end
			self.__dispatch_thread = nil
		end)
		if self.__auth then
			self.__authcoroutine = coroutine_running()
			local ok, message = pcall(self.__auth, self)
			if not ok then
				close_channel_socket(self)
				if message ~= socket_error then
					self.__authcoroutine = false
					skynet.error("socket: auth failed", message)
				end
			end
			self.__authcoroutine = false
			if ok then
				if not self.__sock then
					-- auth changed the host: connect there
					return connect_once(self)
				end
			else
				add_backup() -- auth may have named new backups
				local other = next_addr()
				if other == nil then
					return false, "no more backup host"
				end
				return try(other)
			end
		end
		return true
	end

	add_backup()
	return try({ host = self.__host, port = self.__port })
end

-- Connect, retrying with a growing pause unless `once`.
local function try_connect(self, once)
	local t = 0
	while not self.__closed do
		local ok, err = connect_once(self)
		if ok then
			if not once then
				skynet.error("socket: connect to", self.__host, self.__port)
			end
			return
		elseif once then
			return err
		end
		skynet.error("socket: connect", err)
		if t > 1000 then
			skynet.error("socket: try to reconnect", self.__host, self.__port)
		end
		skynet.sleep(t)
		t = t > 1000 and 0 or t + 100
	end
end

-- true: usable; false: closed (or broke during auth); nil: needs connecting
local function check_connection(self)
	if self.__sock then
		local authco = self.__authcoroutine
		if socket.disconnected(self.__sock[1]) then
			skynet.error("socket: disconnect detected ", self.__host, self.__port)
			close_channel_socket(self)
			if authco and authco == coroutine_running() then
				return false
			end
			return
		end
		if not authco or authco == coroutine_running() then
			return true
		end
	end
	if self.__closed then
		return false
	end
end

local function block_connect(self, once)
	local r = check_connection(self)
	if r ~= nil then
		return r
	end
	local err
	if #self.__connecting > 0 then
		-- another coroutine connects: wait for it
		local co = coroutine_running()
		table_insert(self.__connecting, co)
		skynet.wait(co)
	else
		self.__connecting[1] = true
		err = try_connect(self, once)
		for i = 2, #self.__connecting do
			local co = self.__connecting[i]
			self.__connecting[i] = nil
			skynet.wakeup(co)
		end
		self.__connecting[1] = nil
	end
	r = check_connection(self)
	if r == nil then
		skynet.error("Connect failed", err, self.__host, self.__port)
		error(socket_error)
	end
	return r
end

function channel:connect(once)
	self.__closed = false
	return block_connect(self, once)
end

local function wait_for_response(self, response)
	local co = coroutine_running()
	push_response(self, response, co)
	skynet.wait(co)
	local result = self.__result[co]
	self.__result[co] = nil
	local data = self.__result_data[co]
	self.__result_data[co] = nil
	if result == socket_error then
		error(data or socket_error)
	end
	assert(result, data)
	return data
end

local socket_write, socket_lwrite = socket.write, socket.lwrite

local function sock_err(self)
	close_channel_socket(self)
	wakeup_all(self)
	error(socket_error)
end

function channel:request(request, response, padding)
	assert(block_connect(self, true))
	local fd = self.__sock[1]
	if padding then
		-- a request in parts (a table of strings after the first): low priority writes
		if not socket_lwrite(fd, request) then
			sock_err(self)
		end
		for _, part in ipairs(padding) do
			if not socket_lwrite(fd, part) then
				sock_err(self)
			end
		end
	elseif not socket_write(fd, request) then
		sock_err(self)
	end
	if response == nil then
		return
	end
	return wait_for_response(self, response)
end

function channel:response(response)
	assert(block_connect(self))
	return wait_for_response(self, response)
end

function channel:close()
	if not self.__closed then
		term_dispatch_thread(self)
		self.__closed = true
		close_channel_socket(self)
	end
end

function channel:changehost(host, port)
	self.__host = host
	if port then
		self.__port = port
	end
	if not self.__closed then
		close_channel_socket(self)
	end
end

function channel:changebackup(backup)
	self.__backup = backup
end

channel_meta.__gc = channel.close

local function wrap_read(f)
	return function(self, ...)
		local result = f(self[1], ...)
		if not result then
			error(socket_error)
		end
		return result
	end
end

channel_socket.read = wrap_read(socket.read)
channel_socket.readline = wrap_read(socket.readline)

return socket_channel
